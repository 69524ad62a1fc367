//! The remote state in Azure Blob Storage: a small signed client of the Blob service on
//! the `ureq` stack every other pimplan request uses (design/remote-state.md B.3).
//!
//! Why not the official `azure_storage_blob` crate: it signs with Microsoft Entra tokens and
//! SAS URLs only (no Shared Key, so no plain Azurite; Azure/azure-sdk-for-rust#2789, #2975),
//! and it brings an async runtime (`tokio`, `reqwest`) into a blocking program. The seven
//! calls the state needs (Get Blob, Get Blob Properties, Put Blob, Set Blob Metadata, Lease
//! Blob, Snapshot Blob, List Blobs) are a few hundred lines here, tested against Azurite.
//!
//! - [`backend`]: [`AzureBlob`], the state's backend: reads without a lease, a 60-second
//!   lease as the lock (renewed in the background), writes fenced by the lease id and
//!   `If-Match`; [`open_backend`] reads its credential from the environment;
//! - [`client`]: the calls, their conditions (`If-Match`, `If-None-Match: *`, the lease
//!   id), retries of throttled answers, typed errors from `x-ms-error-code`;
//! - [`shared_key`]: the Shared Key signature;
//! - [`Credential`]: Shared Key, a SAS token or a bearer token. No secret is ever part of a
//!   `Debug`, a `Display`, an error or a log line.

pub mod backend;
pub mod client;
pub mod shared_key;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use backend::{AzureBlob, AzureLock, LockRecord};

pub use client::{
    Blob, BlobClient, BlobError, BlobItem, BlobProperties, Conditions, ErrorCode, Lease,
    LeaseDuration, LeaseInfo, LeaseState, LeaseStatus, Metadata, StorageError,
};
pub use shared_key::{KeyError, SharedKey};

use crate::config::model::{AzureBlobLocation, StorageAuth};
use crate::state::StateError;
use crate::state::backend::StateBackend;

/// How messages name a state blob: its URL (never with a SAS token).
pub fn describe(location: &AzureBlobLocation) -> String {
    format!(
        "{}/{}/{}",
        location.endpoint, location.container, location.key
    )
}

/// The longest one request to Microsoft Graph takes while a remote state is locked: its
/// lease lasts 60 s, and a request is only sent while the lease is known to outlive it by
/// `apply::SEND_MARGIN` (10 s): 40 + 10 < 60 (design/remote-state.md B.5).
pub const GRAPH_TIMEOUT: Duration = Duration::from_secs(40);

/// [`GRAPH_TIMEOUT`] for a lease of `lease_seconds` (60 in use; the tests shorten it with
/// `PIMPLAN_TEST_LEASE_SECONDS`): two thirds of the lease, so that the request and its
/// margin (a quarter of it, `apply::send_margin`) fit in a lease just renewed: 40 + 10 < 60,
/// 10 + 2.5 < 15. A fixed 40 s would leave a shortened lease unable to cover any request.
pub fn graph_timeout(lease_seconds: u32) -> Duration {
    GRAPH_TIMEOUT * lease_seconds.min(backend::LEASE_SECONDS) / backend::LEASE_SECONDS
}

/// The backend of the state blob at `location`, its credential read from the environment
/// ([`credential_from_env`]).
pub fn open_backend(location: &AzureBlobLocation) -> Result<Box<dyn StateBackend>, StateError> {
    let credential = credential_from_env(location)?;
    Ok(Box::new(AzureBlob::with_credential(location, credential)?))
}

/// A variable's value, when it is set to something.
fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The credential `auth:` names, from the environment: `AZURE_STORAGE_KEY` (shared_key),
/// `AZURE_STORAGE_SAS_TOKEN` (sas), or for entra `PIMPLAN_STORAGE_TOKEN`, else a token for
/// `https://storage.azure.com` from the Graph sign-in's variables (`AZURE_TENANT_ID`,
/// `AZURE_CLIENT_ID` and a secret or a federated token), asked for at the first request.
/// A missing variable is named; no value is ever part of an error.
pub fn credential_from_env(location: &AzureBlobLocation) -> Result<Credential, StateError> {
    let unavailable = |detail: String| StateError::Unavailable {
        state: describe(location),
        detail,
    };
    match location.auth {
        StorageAuth::SharedKey => {
            let key = env("AZURE_STORAGE_KEY").ok_or_else(|| {
                unavailable(format!(
                    "AZURE_STORAGE_KEY is not set; `auth: shared_key` reads the key of the storage account `{}` from it (key1 or key2, `az storage account keys list`)",
                    location.account
                ))
            })?;
            SharedKey::new(&location.account, &key)
                .map(Credential::SharedKey)
                .map_err(|e| unavailable(e.to_string()))
        }
        StorageAuth::Sas => {
            let token = env("AZURE_STORAGE_SAS_TOKEN").ok_or_else(|| {
                unavailable(
                    "AZURE_STORAGE_SAS_TOKEN is not set; `auth: sas` reads a SAS token of the storage account from it (read, write and create on blobs)"
                        .to_owned(),
                )
            })?;
            Ok(Credential::Sas(SasToken::new(&token)))
        }
        StorageAuth::Entra => {
            if let Some(token) = env("PIMPLAN_STORAGE_TOKEN") {
                return Ok(Credential::Bearer(Arc::new(FixedToken::new(&token))));
            }
            let sign_in = ENTRA_SIGN_IN.get().ok_or_else(|| {
                unavailable(
                    "`auth: entra` needs PIMPLAN_STORAGE_TOKEN here: this program did not set up the Microsoft Entra sign-in"
                        .to_owned(),
                )
            })?;
            Ok(Credential::Bearer(sign_in().map_err(unavailable)?))
        }
    }
}

/// How `auth: entra` signs in when no ready token is given: a Microsoft Entra sign-in that
/// renews its token. The sign-in is Microsoft Graph's client (`graph::storage_token`), a layer
/// above the state, so the state cannot name it: the command line sets it at start
/// ([`set_entra_sign_in`]), as the one place that knows both.
pub type EntraSignIn = fn() -> Result<Arc<dyn TokenSource>, String>;

static ENTRA_SIGN_IN: OnceLock<EntraSignIn> = OnceLock::new();

/// Set how `auth: entra` signs in (once; a second call keeps the first).
pub fn set_entra_sign_in(sign_in: EntraSignIn) {
    let _ = ENTRA_SIGN_IN.set(sign_in);
}

/// Where a bearer token for `https://storage.azure.com` comes from: a ready one
/// ([`FixedToken`], `PIMPLAN_STORAGE_TOKEN`) or, later, a Microsoft Entra sign-in that
/// renews it. Asked before every request.
pub trait TokenSource: Send + Sync {
    /// A valid token, or why there is none (a message without the token).
    fn token(&self) -> Result<String, String>;
}

/// A token given ready.
pub struct FixedToken(String);

impl FixedToken {
    pub fn new(token: &str) -> FixedToken {
        FixedToken(token.trim().to_owned())
    }
}

impl TokenSource for FixedToken {
    fn token(&self) -> Result<String, String> {
        Ok(self.0.clone())
    }
}

/// A SAS token (`sv=…&sig=…`, with or without its leading `?`), appended to every request's
/// query.
#[derive(Clone)]
pub struct SasToken(String);

impl SasToken {
    pub fn new(token: &str) -> SasToken {
        SasToken(token.trim().trim_start_matches('?').to_owned())
    }

    pub fn as_query(&self) -> &str {
        &self.0
    }
}

/// How requests to the Blob service are authorized.
#[derive(Clone)]
pub enum Credential {
    /// `AZURE_STORAGE_KEY`: each request signed with the account key.
    SharedKey(SharedKey),
    /// `AZURE_STORAGE_SAS_TOKEN`.
    Sas(SasToken),
    /// A Microsoft Entra token for `https://storage.azure.com`.
    Bearer(Arc<dyn TokenSource>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SharedKey(key) => write!(f, "{key:?}"),
            Credential::Sas(_) => f.write_str("Sas([redacted])"),
            Credential::Bearer(_) => f.write_str("Bearer([redacted])"),
        }
    }
}

impl Credential {
    /// How a log line names the authorization: the kind, never the value.
    pub fn shown(&self) -> String {
        match self {
            Credential::SharedKey(key) => {
                format!("Authorization: SharedKey {}:[redacted]", key.account())
            }
            Credential::Sas(_) => "SAS [redacted]".to_owned(),
            Credential::Bearer(_) => "Authorization: Bearer [redacted]".to_owned(),
        }
    }
}
