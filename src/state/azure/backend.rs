//! The state in a blob of Azure Blob Storage, locked by a lease (design/remote-state.md
//! B.5, B.6): [`AzureBlob`] reads without a lease; [`AzureLock`] holds a 60-second lease,
//! renews it on a thread of its own every quarter of it, and fences every write twice, by
//! the lease id and by `If-Match` on the ETag it last read or wrote.
//!
//! - **Lock.** Acquire Lease with the holder's id as the proposed lease id; a missing blob
//!   is created empty first with `If-None-Match: *`; a lease held by another waits with
//!   backoff up to the lock timeout, then names the holder from the blob's `pimplanlock`
//!   metadata (base64 JSON of [`LockInfo`] and the GitHub Actions run, when there is one).
//!   Once held, the record is written into the metadata with the lease.
//! - **Renewal.** The lease is known valid until the *send* time of its last successful
//!   renewal plus its length (conservative: the service started counting later). It is
//!   lost, for good, once fewer than 5 seconds of that are left, or when the service says
//!   it is broken or held by another: a renewal that succeeds after that (Azurite#2352
//!   lets one through after expiry) does not bring it back. Before each request to
//!   Microsoft Graph ([`StateLock::ensure_valid_for`]) the lease is renewed at once, so a
//!   lease broken since the last renewal stops the apply before the request, and the
//!   request is sent only while the lease is known to outlive its timeout and margin.
//! - **Write.** The first write of a lock snapshots the blob (`snapshot: true`, a non-empty
//!   blob): the remote `.backup`. Then Put Blob with the lease id, `If-Match`, the metadata
//!   (Put Blob replaces it) and `Content-MD5`. 412 `ConditionNotMet` is "the remote state
//!   changed"; a lease refusal is "lost the state lease"; no answer (a 5xx, a timeout, a cut
//!   connection) is read back under the lease: its own bytes are taken as written, the
//!   previous version (same ETag) is written once more, anything else stops.
//! - **Unlock** (drop): the renewals stop, the record is cleared from the metadata and the
//!   lease released. A killed pimplan does none of this: its lease lapses by itself within
//!   its length (60 s), the blob still holding the last complete state (Put Blob is
//!   all-or-nothing).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::client::{
    BlobClient, Conditions, ErrorCode, LeaseDuration, LeaseState, LeaseStatus, Log, Metadata,
    StorageError,
};
use super::{Credential, describe, graph_budget};
use crate::config::model::AzureBlobLocation;
use crate::http::Endpoint;
use crate::state::StateError;
use crate::state::backend::{
    KeptVersion, LockInfo, Released, Snapshot, StateBackend, StateLock, Unlock,
};

/// How long a lease lasts: fixed (design B.4), the Graph send rule depends on it.
pub const LEASE_SECONDS: u32 = 60;
/// The metadata entry that names the holder.
pub const LOCK_METADATA: &str = "pimplanlock";
/// Once the lease is known valid for less than this, it is taken as lost.
const LOST_MARGIN: Duration = Duration::from_secs(5);
/// The longest one read or write of the state takes, whole (a large state on a slow link).
const DATA_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest one lease or metadata call takes: well within a quarter of the lease.
const LEASE_TIMEOUT: Duration = Duration::from_secs(10);
const CONTENT_TYPE: &str = "application/json";
/// How long a lease held without a lock record is looked at again for the record its
/// holder writes just after taking it (a client that is not pimplan never writes one).
const RECORD_WAIT: Duration = Duration::from_secs(3);
/// What a locked message ends with: any finite lease (15 to 60 s) ends by itself.
const EXPIRES: &str = "the lease expires by itself within 60 s";

/// The lease length `PIMPLAN_TEST_LEASE_SECONDS` asks for (tests only: 15 to 60), else
/// [`LEASE_SECONDS`].
fn lease_seconds_from_env() -> Result<u32, String> {
    match std::env::var("PIMPLAN_TEST_LEASE_SECONDS") {
        Err(_) => Ok(LEASE_SECONDS),
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(s) if (15..=LEASE_SECONDS).contains(&s) => Ok(s),
            _ => Err(format!(
                "PIMPLAN_TEST_LEASE_SECONDS is `{text}`; a lease lasts 15 to 60 whole seconds"
            )),
        },
    }
}

/// The holder as the blob's metadata records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockRecord {
    #[serde(flatten)]
    pub info: LockInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_server_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_repository: Option<String>,
}

impl LockRecord {
    /// `info`, with the GitHub Actions run of this process when there is one.
    pub fn new(info: LockInfo) -> LockRecord {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        LockRecord {
            info,
            github_run_id: var("GITHUB_RUN_ID"),
            github_server_url: var("GITHUB_SERVER_URL"),
            github_repository: var("GITHUB_REPOSITORY"),
        }
    }

    /// The metadata value: base64 of the JSON (metadata values are ASCII).
    pub fn encode(&self) -> String {
        STANDARD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(value: &str) -> Option<LockRecord> {
        let bytes = STANDARD.decode(value.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The record in `metadata`, if it has a readable one.
    pub fn of(metadata: &Metadata) -> Option<LockRecord> {
        metadata.get(LOCK_METADATA).and_then(|v| Self::decode(v))
    }
}

impl std::fmt::Display for LockRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.info)?;
        match (
            &self.github_run_id,
            &self.github_server_url,
            &self.github_repository,
        ) {
            (Some(id), Some(server), Some(repo)) => write!(
                f,
                " in GitHub Actions run {}/{repo}/actions/runs/{id}",
                server.trim_end_matches('/')
            ),
            (Some(id), _, _) => write!(f, " in GitHub Actions run {id}"),
            _ => Ok(()),
        }
    }
}

/// How a holder is named: its record, or what is known without one.
fn holder_text(record: Option<&LockRecord>) -> String {
    record.map_or_else(
        || {
            "an unknown client (the lease carries no pimplan lock record in the blob's metadata)"
                .to_owned()
        },
        ToString::to_string,
    )
}

/// The state blob and how its errors are told.
#[derive(Clone)]
struct Target {
    describe: String,
    container: String,
    key: String,
    /// What to check when the service refuses the credentials (a variable's name, never a
    /// value).
    hint: String,
    /// Whether requests carry a Microsoft Entra token (whose identity a data role names);
    /// a key or SAS that lacks a permission is a refused credential.
    bearer: bool,
}

impl Target {
    fn unavailable(&self, detail: String) -> StateError {
        StateError::Unavailable {
            state: self.describe.clone(),
            detail,
        }
    }

    /// A failed call as a state error: refused credentials, a missing role or container
    /// are said as such; anything else with the service's answer (never a secret).
    fn error(&self, error: &StorageError) -> StateError {
        if let Some(blob) = error.blob() {
            let refused = blob.code.credentials_refused()
                || (!self.bearer && blob.code == ErrorCode::AuthorizationPermissionMismatch);
            if refused {
                return StateError::CredentialsRefused {
                    state: self.describe.clone(),
                    status: blob.status,
                    code: blob.code.to_string(),
                    hint: self.hint.clone(),
                };
            }
            match blob.code {
                ErrorCode::AuthorizationPermissionMismatch => {
                    return StateError::PermissionMissing {
                        state: self.describe.clone(),
                        container: self.container.clone(),
                    };
                }
                ErrorCode::ContainerNotFound => {
                    return StateError::ContainerNotFound {
                        state: self.describe.clone(),
                        container: self.container.clone(),
                    };
                }
                _ => {}
            }
        }
        self.unavailable(error.to_string())
    }

    fn lease_lost(&self, detail: String) -> StateError {
        StateError::LeaseLost {
            state: self.describe.clone(),
            detail,
        }
    }
}

/// Whether the service refused a call because the lease is not (or no longer) this one's.
fn lease_refused(error: &StorageError) -> bool {
    matches!(
        error.code(),
        Some(
            ErrorCode::LeaseIdMismatchWithBlobOperation
                | ErrorCode::LeaseNotPresentWithBlobOperation
                | ErrorCode::LeaseIdMismatchWithLeaseOperation
                | ErrorCode::LeaseNotPresentWithLeaseOperation
                | ErrorCode::LeaseIsBrokenAndCannotBeRenewed
                | ErrorCode::LeaseIdMissing
                | ErrorCode::LeaseLost
        )
    )
}

/// Whether a write may or may not have happened: no answer, an answer that cannot be used,
/// a server error, or bytes the service found damaged on the way (`Md5Mismatch`: not
/// written, which the read-back shows).
fn outcome_unknown(error: &StorageError) -> bool {
    match error {
        StorageError::Transport { .. } | StorageError::Unreadable { .. } => true,
        StorageError::Blob(b) => b.status >= 500 || b.code == ErrorCode::Md5Mismatch,
        StorageError::Config(_) => false,
    }
}

fn credential_hint(location: &AzureBlobLocation, credential: &Credential) -> String {
    match credential {
        Credential::SharedKey(_) => format!(
            "check AZURE_STORAGE_KEY: it must be key1 or key2 of the storage account `{}` as `az storage account keys list` shows it (a clock more than 15 minutes off is refused too)",
            location.account
        ),
        Credential::Sas(_) => format!(
            "check AZURE_STORAGE_SAS_TOKEN: it must be a SAS of the storage account `{}`, not expired, allowing read, write and create on blobs (`sp=rwc` at least)",
            location.account
        ),
        Credential::Bearer(_) => "check the Microsoft Entra token (PIMPLAN_STORAGE_TOKEN, or the sign-in of AZURE_TENANT_ID and AZURE_CLIENT_ID): it must be for `https://storage.azure.com`, unexpired, and this machine's clock within 15 minutes".to_owned(),
    }
}

/// The state in a blob of Azure Blob Storage.
pub struct AzureBlob {
    target: Target,
    /// Reads and writes of the state (a long timeout).
    data: Arc<BlobClient>,
    /// Lease and metadata calls (a short one).
    lease: Arc<BlobClient>,
    lease_seconds: u32,
    snapshot: bool,
}

impl std::fmt::Debug for AzureBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBlob")
            .field("state", &self.target.describe)
            .field("client", &self.data)
            .finish_non_exhaustive()
    }
}

impl AzureBlob {
    /// The blob at `location`, its requests authorized by `credential`; the endpoint must be
    /// https, or http to this machine. The lease lasts 60 s (`PIMPLAN_TEST_LEASE_SECONDS`,
    /// tests only, shortens it).
    pub fn with_credential(
        location: &AzureBlobLocation,
        credential: Credential,
    ) -> Result<AzureBlob, StateError> {
        Self::build(location, credential, None)
    }

    /// As [`AzureBlob::with_credential`], each request logged to `log` (no secret is part
    /// of a line).
    pub fn with_credential_logged(
        location: &AzureBlobLocation,
        credential: Credential,
        log: Log,
    ) -> Result<AzureBlob, StateError> {
        Self::build(location, credential, Some(log))
    }

    fn build(
        location: &AzureBlobLocation,
        credential: Credential,
        log: Option<Log>,
    ) -> Result<AzureBlob, StateError> {
        let target = Target {
            describe: describe(location),
            container: location.container.clone(),
            key: location.key.clone(),
            hint: credential_hint(location, &credential),
            bearer: matches!(credential, Credential::Bearer(_)),
        };
        let endpoint = Endpoint::base("the state's endpoint", &location.endpoint)
            .map_err(|e| target.unavailable(e.to_string()))?;
        let lease_seconds = lease_seconds_from_env().map_err(|e| target.unavailable(e))?;
        let client = |timeout| {
            let c = BlobClient::new(
                endpoint.clone(),
                &location.account,
                &location.container,
                credential.clone(),
                timeout,
            );
            Arc::new(match &log {
                Some(log) => c.with_log(log.clone()),
                None => c,
            })
        };
        Ok(AzureBlob {
            data: client(DATA_TIMEOUT),
            lease: client(LEASE_TIMEOUT),
            target,
            lease_seconds,
            snapshot: location.snapshot,
        })
    }

    /// The lease length, 15 to 60 s (tests shorten it).
    pub fn with_lease_seconds(mut self, seconds: u32) -> AzureBlob {
        self.lease_seconds = seconds.clamp(15, LEASE_SECONDS);
        self
    }

    pub fn lease_seconds(&self) -> u32 {
        self.lease_seconds
    }

    /// The holder named by the blob's metadata, read without the lease. A pimplan writes
    /// its record just after it took the lease: with `settle`, a lease found held without
    /// one is looked at again for a moment ([`RECORD_WAIT`]), so that a loser of a race
    /// names the winner rather than "an unknown client".
    fn holder_now(&self, settle: bool) -> Option<LockRecord> {
        let started = Instant::now();
        loop {
            let props = self.lease.get_properties(&self.target.key, None).ok()?;
            if let Some(record) = LockRecord::of(&props.metadata) {
                return Some(record);
            }
            let held = matches!(props.lease.state, LeaseState::Leased);
            if !settle || !held || started.elapsed() >= RECORD_WAIT {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn locked(&self) -> StateError {
        let holder = self.holder_now(true);
        StateError::Locked(format!(
            "the state `{}` is locked by {}; wait for it to finish (`--lock-timeout`, e.g. `--lock-timeout 2m`), or run `pimplan force-unlock {}` if that run is gone; {EXPIRES}",
            self.target.describe,
            holder_text(holder.as_ref()),
            holder.as_ref().map_or("--force", |r| r.info.id.as_str()),
        ))
    }

    /// Take the lease for `holder`, waiting up to `wait` while another holds it: see the
    /// module's documentation.
    pub fn lock_blob(&self, holder: LockInfo, wait: Duration) -> Result<AzureLock, StateError> {
        let key = &self.target.key;
        // The lease id is the lock's id (so a record names the lease that goes with it).
        let lease_id = if uuid::Uuid::parse_str(&holder.id).is_ok() {
            holder.id.clone()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let started = Instant::now();
        let mut created = false;
        let mut pause = Duration::from_millis(200);
        // The holder last said to be waited for (its lock id, if its record was readable).
        let mut announced: Option<Option<String>> = None;
        let granted = loop {
            let sent = Instant::now();
            let acquired = self.lease.acquire_lease(
                key,
                LeaseDuration::Seconds(self.lease_seconds),
                Some(&lease_id),
                Conditions::default(),
            );
            let error = match acquired {
                Ok(_) => {
                    if announced.is_some() {
                        crate::state::backend::say_waited(started.elapsed());
                    }
                    break sent;
                }
                Err(e) => e,
            };
            match error.code() {
                Some(ErrorCode::BlobNotFound) if !created => {
                    created = true;
                    // An empty placeholder to lease: created only if there is still no
                    // blob (another pimplan may have just made one, which is as good).
                    match self.data.put_blob(
                        key,
                        b"",
                        CONTENT_TYPE,
                        &Metadata::new(),
                        Conditions::create_only(),
                    ) {
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.code(),
                                Some(ErrorCode::BlobAlreadyExists | ErrorCode::LeaseIdMissing)
                            ) => {}
                        Err(e) => return Err(self.target.error(&e)),
                    }
                }
                Some(
                    ErrorCode::LeaseAlreadyPresent | ErrorCode::LeaseIsBreakingAndCannotBeAcquired,
                ) => {
                    let left = wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(self.locked());
                    }
                    // Said once per holder: at the first refusal, and again only when
                    // another pimplan took the lease in between.
                    let holder = self.holder_now(announced.is_none());
                    let id = holder.as_ref().map(|r| r.info.id.clone());
                    if announced.is_none() || (id.is_some() && announced.as_ref() != Some(&id)) {
                        crate::state::backend::say_waiting(
                            &self.target.describe,
                            &holder_text(holder.as_ref()),
                            wait,
                            "a lease whose holder is gone expires by itself within 60 s",
                        );
                        announced = Some(id);
                    }
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                _ => return Err(self.target.error(&error)),
            }
        };
        let keeper = Arc::new(LeaseKeeper {
            id: lease_id,
            period: Duration::from_secs(u64::from(self.lease_seconds)),
            clock: Mutex::new(LeaseClock {
                valid_until: granted + Duration::from_secs(u64::from(self.lease_seconds)),
                lost: None,
                renewals: 0,
                last_error: None,
            }),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let record = LockRecord::new(holder.clone());
        // The holder is written into the metadata, the rest of it kept.
        let recorded = self
            .lease
            .get_properties(key, Some(&keeper.id))
            .and_then(|props| {
                let mut base = props.metadata;
                base.remove(LOCK_METADATA);
                let mut metadata = base.clone();
                metadata.insert(LOCK_METADATA.to_owned(), record.encode());
                let etag = self.lease.set_metadata(
                    key,
                    &metadata,
                    Conditions::fenced(&keeper.id, &props.etag),
                )?;
                Ok((base, metadata, etag, props.content_length))
            });
        let (base, metadata, etag, len) = match recorded {
            Ok(r) => r,
            Err(e) => {
                let _ = self.lease.release_lease(key, &keeper.id);
                return Err(self.target.error(&e));
            }
        };
        let renewer = {
            let renewing = keeper.clone();
            let client = self.lease.clone();
            let key = key.clone();
            std::thread::Builder::new()
                .name("pimplan-lease".to_owned())
                .spawn(move || renewing.renew_until_stopped(&client, &key))
                .map_err(|e| {
                    let _ = self.lease.release_lease(&self.target.key, &keeper.id);
                    self.target
                        .unavailable(format!("cannot start the lease's renewals: {e}"))
                })?
        };
        Ok(AzureLock {
            holder,
            target: self.target.clone(),
            data: self.data.clone(),
            lease_client: self.lease.clone(),
            lease: keeper,
            renewer: Some(renewer),
            base_metadata: base,
            metadata,
            etag,
            read: false,
            len,
            snapshot: self.snapshot,
            backup_done: false,
            snapshots: Vec::new(),
            abandoned: false,
        })
    }
}

impl StateBackend for AzureBlob {
    fn describe(&self) -> String {
        self.target.describe.clone()
    }

    fn get(&self) -> Result<Option<Snapshot>, StateError> {
        match self.data.get_blob(&self.target.key, None, None) {
            Ok(blob) if blob.bytes.is_empty() => Ok(None),
            Ok(blob) => Ok(Some(Snapshot {
                bytes: blob.bytes,
                version: blob.etag,
            })),
            Err(e) if e.code() == Some(&ErrorCode::BlobNotFound) => Ok(None),
            Err(e) => Err(self.target.error(&e)),
        }
    }

    fn lock(&self, holder: LockInfo, wait: Duration) -> Result<Box<dyn StateLock>, StateError> {
        Ok(Box::new(self.lock_blob(holder, wait)?))
    }

    /// [`Unlock::Id`]: the lease is released by that id when it is the holder's (the lock
    /// record's id, which is its lease id, or the lease id of a holder without a record),
    /// whoever and wherever the holder is; another id is refused and nothing changes.
    /// [`Unlock::Checked`]: only the lease of a holder on this machine whose process is gone
    /// is released (by its id); any other is named, with how to end it. [`Unlock::Force`]:
    /// the lease is broken at once, whoever holds it: an apply that still runs is fenced off
    /// by the service and stops at its next write or request ("lost the state lease").
    fn force_unlock(&self, how: Unlock<'_>) -> Result<Option<Released>, StateError> {
        let key = &self.target.key;
        let props = match self.lease.get_properties(key, None) {
            Ok(p) => p,
            Err(e) if e.code() == Some(&ErrorCode::BlobNotFound) => return Ok(None),
            Err(e) => return Err(self.target.error(&e)),
        };
        if !matches!(props.lease.state, LeaseState::Leased | LeaseState::Breaking) {
            return Ok(None);
        }
        let record = LockRecord::of(&props.metadata);
        if let Unlock::Id(id) = how {
            let mismatch = || {
                crate::state::backend::id_mismatch(
                    id,
                    &holder_text(record.as_ref()),
                    record.as_ref().map(|r| r.info.id.as_str()),
                )
            };
            // A lease id is a GUID: anything else names no lease.
            if uuid::Uuid::parse_str(id).is_err() {
                return Err(mismatch());
            }
            return match self.lease.release_lease(key, id) {
                Ok(()) => Ok(Some(Released {
                    holder: record.map(|r| r.info),
                    why: "its lock id was given: its lease was released",
                })),
                Err(e) if lease_refused(&e) => Err(mismatch()),
                Err(e) => Err(self.target.error(&e)),
            };
        }
        let force = how == Unlock::Force;
        let gone_here = record
            .as_ref()
            .is_some_and(|r| crate::state::store::is_gone_here(&r.info));
        if gone_here && let Some(r) = &record {
            let released = self.lease.release_lease(key, &r.info.id).is_ok()
                || self.lease.break_lease(key, Some(0)).is_ok();
            if released {
                return Ok(Some(Released {
                    holder: record.map(|r| r.info),
                    why: "its process no longer runs",
                }));
            }
        }
        let here = record
            .as_ref()
            .is_some_and(|r| r.info.host == crate::state::backend::host_name());
        let by_id = record.as_ref().map_or_else(
            || "`pimplan force-unlock --force`, which breaks the lease".to_owned(),
            |r| format!("`pimplan force-unlock {}`", r.info.id),
        );
        if !force && here {
            return Err(StateError::Locked(format!(
                "the state `{}` is locked by {}, which still runs on this machine; wait for it to finish, or run {by_id} (or `pimplan force-unlock --force`, which breaks the lease; the apply then stops at its next write or request to Microsoft Graph)",
                self.target.describe,
                holder_text(record.as_ref())
            )));
        }
        if !force {
            return Err(StateError::Unchecked {
                message: format!(
                    "the state `{}` is locked by {}; pimplan cannot check from here whether it still runs. If it is gone (a killed run, a cancelled job), {EXPIRES}; to end it now, run {by_id} (or `pimplan force-unlock --force`, which breaks the lease; an apply that still runs then stops at its next write or request to Microsoft Graph)",
                    self.target.describe,
                    holder_text(record.as_ref())
                ),
                id: record.as_ref().map(|r| r.info.id.clone()),
            });
        }
        self.lease
            .break_lease(key, Some(0))
            .map_err(|e| self.target.error(&e))?;
        Ok(Some(Released {
            holder: record.map(|r| r.info),
            why: "--force: its lease was broken",
        }))
    }

    fn lock_note(&self) -> Option<String> {
        let props = self.lease.get_properties(&self.target.key, None).ok()?;
        if props.lease.status != LeaseStatus::Locked {
            return None;
        }
        Some(format!(
            "Note: the state is locked by {}: while it runs this plan may be stale, and a saved plan is refused once it has changed the state; plan again when it has finished.\n\n",
            holder_text(LockRecord::of(&props.metadata).as_ref())
        ))
    }

    fn max_request_timeout(&self) -> Option<Duration> {
        Some(graph_budget(Duration::from_secs(u64::from(self.lease_seconds))).0)
    }

    /// The blob's snapshots (List Blobs with `include=snapshots,metadata`, the key as
    /// prefix), newest first: their time stamps sort as they were taken.
    fn snapshots(&self) -> Result<Vec<KeptVersion>, StateError> {
        let items = self
            .data
            .list_blobs(Some(&self.target.key))
            .map_err(|e| self.target.error(&e))?;
        let mut kept: Vec<KeptVersion> = items
            .into_iter()
            .filter(|item| item.name == self.target.key)
            .filter_map(|item| {
                Some(KeptVersion {
                    id: item.snapshot?,
                    size: item.content_length.unwrap_or(0),
                })
            })
            .collect();
        kept.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(kept)
    }

    fn read_snapshot(&self, id: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.snapshot_bytes(id, None)
    }

    fn read_snapshot_start(&self, id: &str, len: u64) -> Result<Option<Vec<u8>>, StateError> {
        self.snapshot_bytes(id, Some(len))
    }
}

impl AzureBlob {
    /// Get Blob of the snapshot `id` (its first `len` bytes only, when given); `None`: no
    /// such snapshot.
    fn snapshot_bytes(&self, id: &str, len: Option<u64>) -> Result<Option<Vec<u8>>, StateError> {
        let key = &self.target.key;
        let read = match len {
            Some(len) => self.data.get_blob_start(key, Some(id), len),
            None => self.data.get_blob(key, Some(id), None),
        };
        match read {
            Ok(blob) => Ok(Some(blob.bytes)),
            Err(e) if e.code() == Some(&ErrorCode::BlobNotFound) => Ok(None),
            Err(e) => Err(self.target.error(&e)),
        }
    }
}

/// What is known of the lease held.
#[derive(Debug)]
struct LeaseClock {
    /// The send time of the last successful acquire or renew, plus the lease's length.
    valid_until: Instant,
    /// Why it is lost, for good.
    lost: Option<String>,
    renewals: u64,
    /// The last failed renewal, while renewals fail.
    last_error: Option<String>,
}

/// The lease of an [`AzureLock`], shared with its renewal thread.
struct LeaseKeeper {
    id: String,
    period: Duration,
    clock: Mutex<LeaseClock>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// A lock's state stays usable after a thread panicked holding it (nothing here panics).
fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum Renewed {
    Yes,
    /// Failed, may work when tried again.
    Failed,
    Lost,
}

impl LeaseKeeper {
    /// Why the lease is lost, if it is: said by the service, or known valid for less than
    /// [`LOST_MARGIN`] (then lost for good).
    fn lost(&self) -> Option<String> {
        let mut clock = guard(&self.clock);
        if clock.lost.is_none() && Instant::now() + LOST_MARGIN >= clock.valid_until {
            clock.lost = Some(format!(
                "it was not renewed in time (the last renewal that succeeded was sent more than {} s ago{})",
                (self.period - LOST_MARGIN).as_secs(),
                clock
                    .last_error
                    .as_ref()
                    .map(|e| format!("; the renewals fail: {e}"))
                    .unwrap_or_default()
            ));
        }
        clock.lost.clone()
    }

    fn set_lost(&self, why: String) {
        let mut clock = guard(&self.clock);
        if clock.lost.is_none() {
            clock.lost = Some(why);
        }
    }

    /// How long the lease is known to stay held.
    fn valid_for(&self) -> Duration {
        guard(&self.clock)
            .valid_until
            .saturating_duration_since(Instant::now())
    }

    /// Renew once.
    fn renew(&self, client: &BlobClient, key: &str) -> Renewed {
        if self.lost().is_some() {
            return Renewed::Lost;
        }
        let sent = Instant::now();
        match client.renew_lease(key, &self.id) {
            // A renewal answered with another lease id renewed no lease of ours (the service
            // names the lease it holds; an emulator has been seen to renew a lapsed lease
            // whatever the id): lost, as a refused one.
            Ok(lease) if !lease.id.eq_ignore_ascii_case(&self.id) => {
                self.set_lost(format!(
                    "the storage service renewed a lease of another id (`{}`, this pimplan's is `{}`): another holds it",
                    lease.id, self.id
                ));
                Renewed::Lost
            }
            Ok(_) => {
                let mut clock = guard(&self.clock);
                if clock.lost.is_none() {
                    clock.valid_until = clock.valid_until.max(sent + self.period);
                    clock.renewals += 1;
                    clock.last_error = None;
                    Renewed::Yes
                } else {
                    Renewed::Lost
                }
            }
            Err(e) if lease_refused(&e) || e.code() == Some(&ErrorCode::BlobNotFound) => {
                self.set_lost(format!(
                    "the storage service refused to renew it ({}): it was broken (`pimplan force-unlock --force`?) or has expired and another may hold it",
                    e.code().map(ToString::to_string).unwrap_or_default()
                ));
                Renewed::Lost
            }
            Err(e) => {
                guard(&self.clock).last_error = Some(e.to_string());
                Renewed::Failed
            }
        }
    }

    /// The renewal thread: every quarter of the lease, sooner after a failure, until told
    /// to stop or the lease is lost.
    fn renew_until_stopped(&self, client: &BlobClient, key: &str) {
        let every = self.period / 4;
        let mut failures = 0u32;
        loop {
            let wait = if failures == 0 {
                every
            } else {
                every.min(Duration::from_millis(500) * (1 << failures.min(4)))
            };
            let stopped = {
                let stop = guard(&self.stop);
                let (stop, _) = self
                    .wake
                    .wait_timeout_while(stop, wait, |s| !*s)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *stop
            };
            if stopped {
                return;
            }
            match self.renew(client, key) {
                Renewed::Yes => failures = 0,
                Renewed::Failed => failures += 1,
                Renewed::Lost => return,
            }
        }
    }
}

/// The held lease of an [`AzureBlob`]: released when dropped.
pub struct AzureLock {
    holder: LockInfo,
    target: Target,
    data: Arc<BlobClient>,
    lease_client: Arc<BlobClient>,
    lease: Arc<LeaseKeeper>,
    renewer: Option<JoinHandle<()>>,
    /// The blob's metadata without the lock record (kept when the lock ends).
    base_metadata: Metadata,
    /// With it: sent with every write, as Put Blob replaces the metadata.
    metadata: Metadata,
    /// The version every write is fenced on: the one last read or written under the lease.
    etag: String,
    /// Whether the state was read under the lease (a write before is refused).
    read: bool,
    /// The blob's length as last read or written.
    len: u64,
    snapshot: bool,
    /// Whether the remote `.backup` was seen to: taken, or not needed (an empty blob). Once
    /// set, no later write snapshots: the backup is the blob as read under the lease, never
    /// a version this lock wrote itself.
    backup_done: bool,
    /// The snapshots this lock took (their time stamps).
    snapshots: Vec<String>,
    abandoned: bool,
}

impl std::fmt::Debug for AzureLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureLock")
            .field("state", &self.target.describe)
            .field("holder", &self.holder)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

impl AzureLock {
    /// The lease id (the holder's lock id).
    pub fn lease_id(&self) -> &str {
        &self.lease.id
    }

    /// How many renewals succeeded.
    pub fn renewals(&self) -> u64 {
        guard(&self.lease.clock).renewals
    }

    /// How long the lease is known to stay held (zero once lost).
    pub fn valid_for(&self) -> Duration {
        if self.lease.lost().is_some() {
            Duration::ZERO
        } else {
            self.lease.valid_for()
        }
    }

    /// The ETag the next write is fenced on.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// The snapshots taken under this lock, oldest first.
    pub fn snapshots(&self) -> &[String] {
        &self.snapshots
    }

    /// What a kill leaves (for tests): the lease held, renewed no more, neither its record
    /// cleared nor released. It lapses by itself.
    pub fn abandon(mut self) {
        self.stop_renewing();
        self.abandoned = true;
    }

    fn stop_renewing(&mut self) {
        *guard(&self.lease.stop) = true;
        self.lease.wake.notify_all();
        if let Some(thread) = self.renewer.take() {
            let _ = thread.join();
        }
    }

    fn lost_error(&self) -> Option<StateError> {
        self.lease.lost().map(|why| self.target.lease_lost(why))
    }

    /// A refused write or snapshot as a state error: the blob changed, or the lease is lost.
    fn fence_error(&self, error: &StorageError, fenced_on: &str) -> Option<StateError> {
        if error.code() == Some(&ErrorCode::ConditionNotMet) {
            return Some(StateError::RemoteChanged {
                state: self.target.describe.clone(),
                etag: fenced_on.to_owned(),
                detail: String::new(),
            });
        }
        if error.code() == Some(&ErrorCode::BlobNotFound) {
            return Some(StateError::RemoteChanged {
                state: self.target.describe.clone(),
                etag: fenced_on.to_owned(),
                detail: "; the blob was deleted".to_owned(),
            });
        }
        if lease_refused(error) {
            let why = format!(
                "the storage service refused the write ({}): the lease was broken (`pimplan force-unlock --force`?) or has expired",
                error.code().map(ToString::to_string).unwrap_or_default()
            );
            self.lease.set_lost(why.clone());
            return Some(self.target.lease_lost(why));
        }
        None
    }

    /// The first write's snapshot (the remote `.backup`), once per lock, of a non-empty blob.
    fn snapshot_once(&mut self) -> Result<(), StateError> {
        if !self.snapshot || self.backup_done {
            return Ok(());
        }
        if self.len == 0 {
            // Nothing to keep; and the next write must not snapshot this lock's own write.
            self.backup_done = true;
            return Ok(());
        }
        let etag = self.etag.clone();
        match self
            .data
            .snapshot(&self.target.key, Conditions::fenced(&self.lease.id, &etag))
        {
            Ok(taken) => {
                self.snapshots.push(taken);
                self.backup_done = true;
                Ok(())
            }
            Err(e) => Err(self
                .fence_error(&e, &etag)
                .unwrap_or_else(|| self.target.error(&e))),
        }
    }

    fn wrote(&mut self, etag: String, bytes: &[u8]) {
        self.etag = etag;
        self.len = bytes.len() as u64;
    }
}

impl StateLock for AzureLock {
    fn holder(&self) -> &LockInfo {
        &self.holder
    }

    fn describe(&self) -> String {
        self.target.describe.clone()
    }

    fn get(&mut self) -> Result<Option<Snapshot>, StateError> {
        let blob = match self
            .data
            .get_blob(&self.target.key, None, Some(&self.lease.id))
        {
            Ok(blob) => blob,
            Err(e) => {
                if lease_refused(&e) {
                    let why = format!(
                        "the storage service refused to read under it ({})",
                        e.code().map(ToString::to_string).unwrap_or_default()
                    );
                    self.lease.set_lost(why.clone());
                    return Err(self.target.lease_lost(why));
                }
                return Err(self.target.error(&e));
            }
        };
        self.etag = blob.etag.clone();
        self.len = blob.bytes.len() as u64;
        self.read = true;
        if blob.bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(Snapshot {
            bytes: blob.bytes,
            version: blob.etag,
        }))
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        if !self.read {
            return Err(StateError::Changed {
                path: self.target.describe.clone().into(),
                detail: "it was to be written before it was read under the lock".to_owned(),
            });
        }
        if let Some(lost) = self.lost_error() {
            return Err(lost);
        }
        self.snapshot_once()?;
        let key = self.target.key.clone();
        let mut tried_again = false;
        loop {
            let previous = self.etag.clone();
            let written = self.data.put_blob(
                &key,
                bytes,
                CONTENT_TYPE,
                &self.metadata,
                Conditions::fenced(&self.lease.id, &previous),
            );
            let error = match written {
                Ok(etag) => {
                    self.wrote(etag, bytes);
                    return Ok(());
                }
                Err(e) => e,
            };
            if let Some(refused) = self.fence_error(&error, &previous) {
                return Err(refused);
            }
            if !outcome_unknown(&error) {
                return Err(self.target.error(&error));
            }
            // No usable answer: what the blob holds now says whether it was written.
            match self.data.get_blob(&key, None, Some(&self.lease.id)) {
                Ok(blob) if blob.bytes == bytes => {
                    self.wrote(blob.etag, bytes);
                    return Ok(());
                }
                Ok(blob) if blob.etag == previous && !tried_again => tried_again = true,
                Ok(blob) if blob.etag == previous => {
                    return Err(self.target.unavailable(format!(
                        "the write failed twice, the state unchanged (ETag {previous}): {error}; nothing more was sent"
                    )));
                }
                Ok(blob) => {
                    return Err(StateError::RemoteChanged {
                        state: self.target.describe.clone(),
                        etag: previous,
                        detail: format!(
                            "; after a write that got no answer ({error}) it holds other bytes, ETag {}",
                            blob.etag
                        ),
                    });
                }
                Err(read) => {
                    if let Some(refused) = self.fence_error(&read, &previous) {
                        return Err(refused);
                    }
                    return Err(self.target.unavailable(format!(
                        "a write got no answer ({error}) and reading the state back failed ({read}): whether it was written is not known; nothing more was sent"
                    )));
                }
            }
        }
    }

    /// The snapshot of the blob as read under the lease (`snapshot: true`), taken now if
    /// the first write has not taken it yet: the remote `.backup`.
    fn keep_backup(&mut self, _bytes: &[u8]) -> Result<(), StateError> {
        if let Some(lost) = self.lost_error() {
            return Err(lost);
        }
        self.snapshot_once()
    }

    /// Renews the lease first: see inside.
    fn ensure_valid_for(&self, needed: Duration) -> Result<(), StateError> {
        // Renewed now, before the request: a lease broken since the last renewal is found
        // here, and the request has the lease's whole length ahead.
        valid_for(&self.lease, &self.lease_client, &self.target, needed, true)
    }

    fn send_gate(&self, needed: Duration) -> Option<crate::state::backend::SendGate> {
        let (keeper, client, target) = (
            self.lease.clone(),
            self.lease_client.clone(),
            self.target.clone(),
        );
        // Renewed only when what is known falls short: a poll every few 100 ms must not
        // renew each time.
        Some(Arc::new(move || {
            valid_for(&keeper, &client, &target, needed, false)
        }))
    }

    fn max_request_timeout(&self) -> Option<Duration> {
        Some(graph_budget(self.lease.period).0)
    }

    fn send_margin(&self) -> Option<Duration> {
        Some(graph_budget(self.lease.period).1)
    }
}

/// Whether the lease of `keeper` is known to stay held for `needed` more: lost for good, or
/// known valid for less after a renewal (`renew_first`: always renewed first; otherwise
/// only when what is known falls short), is the error that stops the sender.
fn valid_for(
    keeper: &LeaseKeeper,
    client: &BlobClient,
    target: &Target,
    needed: Duration,
    renew_first: bool,
) -> Result<(), StateError> {
    let lost = || keeper.lost().map(|why| target.lease_lost(why));
    if let Some(lost) = lost() {
        return Err(lost);
    }
    if renew_first || keeper.valid_for() < needed {
        // A renewal that fails without a word from the service (no answer) leaves what is
        // known.
        let _ = keeper.renew(client, &target.key);
        if let Some(lost) = lost() {
            return Err(lost);
        }
    }
    let left = keeper.valid_for();
    if left >= needed {
        return Ok(());
    }
    let failing = guard(&keeper.clock)
        .last_error
        .clone()
        .map(|e| format!("; its renewals fail: {e}"))
        .unwrap_or_default();
    Err(target.lease_lost(format!(
        "it is known to be held for {:.1} s more, less than the {:.1} s a request to Microsoft Graph may take with its margin{failing}",
        left.as_secs_f64(),
        needed.as_secs_f64()
    )))
}

impl Drop for AzureLock {
    /// The renewals stop, then the record is cleared from the metadata and the lease
    /// released (released even when clearing fails: the lease is the lock).
    fn drop(&mut self) {
        self.stop_renewing();
        if self.abandoned {
            return;
        }
        let key = &self.target.key;
        let _ = self.lease_client.set_metadata(
            key,
            &self.base_metadata,
            Conditions::lease(&self.lease.id),
        );
        let _ = self.lease_client.release_lease(key, &self.lease.id);
    }
}
