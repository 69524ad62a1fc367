//! pimplan: Microsoft Entra PIM for Groups as code.
//!
//! The pipeline runs one way: `source` (files, spans, YAML) → `config` (raw serde shape,
//! lowering, typed model) → `rules` (findings) → `suppress` → `render`. `cli` drives it.
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
pub mod plan;
pub mod progress;
pub mod render;
pub mod rule_meta;
pub mod rules;
pub mod schema;
pub mod source;
pub mod state;
pub mod suppress;
