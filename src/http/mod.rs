//! What pimplan's HTTP requests may go to. Every endpoint a user can name (the Graph, the
//! token authority, GitHub's OIDC provider, and any endpoint to come) is parsed by
//! [`Endpoint::parse`], the one place that decides where a credential may be sent.

mod endpoint;

pub use endpoint::{Endpoint, EndpointError};
