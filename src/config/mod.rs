//! The configuration: raw serde shape, typed model, and the lowering between them.
pub mod lower;
pub mod model;
pub mod raw;
pub mod state_file;
pub mod values;
