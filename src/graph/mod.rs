//! Microsoft Graph: the executor that applies plans to PIM for Groups.
pub mod bodies;
pub mod client;
pub mod executor;
pub mod import;
pub mod read;
pub mod refresh;
