//! pimplan: Microsoft Entra PIM for Groups as code.
//!
//! The pipeline runs one way: `source` (files, spans, YAML) → `config` (raw serde shape,
//! lowering, typed model) → `rules` (findings; `rules::selection` resolves `rules:`) →
//! `suppress` → `render`. `lint` and `plan_run` drive the stages, `cli` drives them. The
//! modules form layers, and none imports a layer above it (the order is in `tests/layers.rs`).
pub mod apply;
pub mod baseline;
pub mod cli;
pub mod clock;
pub mod config;
pub mod drift;
pub mod entra_roles;
pub mod exit;
pub mod finding;
pub mod fs;
pub mod graph;
pub mod http;
pub mod identity;
pub mod init;
pub mod licenses;
pub mod lint;
pub mod load;
pub mod paths;
pub mod plan;
pub mod plan_run;
pub mod progress;
pub mod render;
pub mod rule_meta;
pub mod rules;
pub mod schema;
pub mod source;
pub mod state;
pub mod suppress;
