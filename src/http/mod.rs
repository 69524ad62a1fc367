//! What pimplan's HTTP requests may go to. Every endpoint a user can name (the Graph, the
//! token authority, GitHub's OIDC provider, and any endpoint to come) is parsed by
//! [`Endpoint::parse`], the one place that decides where a credential may be sent; every
//! request goes through the one [`agent`], and waits as long as `Retry-After` asks
//! ([`retry_after_seconds`]).

mod agent;
mod endpoint;

pub use agent::{CA_FILE_VAR, agent, check_ca_file, retry_after_seconds, transport_detail};
pub use endpoint::{Endpoint, EndpointError};
