//! Microsoft Graph: the executor that applies plans to PIM for Groups, the refresh that
//! compares the state with the service, and the import that reads the service into a new state.
pub mod bodies;
pub mod client;
pub mod executor;
pub mod facts;
pub mod import;
pub mod read;
pub mod refresh;
pub mod session;
pub mod storage_token;
