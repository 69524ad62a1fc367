//! A Microsoft Entra token for the storage account, from the same sign-in as Graph's
//! (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, GitHub Actions' OIDC or
//! `AZURE_FEDERATED_TOKEN_FILE`): the Graph client's sign-in, asked for the scope
//! `https://storage.azure.com/.default`, renewed before it expires.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::graph::client::{Client, Credential, sign_in_credential, sign_in_endpoints};
use crate::state::azure::TokenSource;

/// Make this sign-in the one `auth: entra` uses when no `PIMPLAN_STORAGE_TOKEN` is given (the
/// state module cannot name Graph's client; see `state::azure::set_entra_sign_in`).
pub fn register() {
    crate::state::azure::set_entra_sign_in(|| {
        StorageSignIn::from_env().map(|s| Arc::new(s) as Arc<dyn TokenSource>)
    });
}

/// The resource a storage token is for.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The longest one sign-in request takes.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(30);

/// Storage tokens from the environment's sign-in, asked for at the first request.
pub struct StorageSignIn {
    client: Mutex<Client>,
}

impl StorageSignIn {
    /// The sign-in of the environment, or why there is none (the variables to set; the
    /// tenant comes from `AZURE_TENANT_ID` only: the state is read before the workspace).
    pub fn from_env() -> Result<StorageSignIn, String> {
        let credential = sign_in_credential(None).map_err(|e| {
            format!(
                "`auth: entra` needs a token for https://storage.azure.com: set PIMPLAN_STORAGE_TOKEN, or AZURE_TENANT_ID and AZURE_CLIENT_ID with a secret or a federated token, as for Microsoft Graph ({e})"
            )
        })?;
        if matches!(credential, Credential::Token(_)) {
            return Err(
                "set PIMPLAN_STORAGE_TOKEN: a ready Graph token is not a storage token".to_owned(),
            );
        }
        let endpoints = sign_in_endpoints().map_err(|e| e.to_string())?;
        let client = Client::new(endpoints, credential, SIGN_IN_TIMEOUT).with_scope(STORAGE_SCOPE);
        Ok(StorageSignIn {
            client: Mutex::new(client),
        })
    }
}

impl TokenSource for StorageSignIn {
    fn token(&self) -> Result<String, String> {
        self.client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .access_token()
            .map_err(|e| e.to_string())
    }
}
