//! Where the state's bytes live, and the lock that keeps two writers apart: the seam a second
//! backend (a blob in Azure Storage) slots into beside the local file (`local.rs`).
//!
//! A backend moves bytes only. The JSON, the serial, the lineage and the checksum stay in the
//! state module (`document.rs`), written once for every backend, as terraform's
//! `remote/state.go` does the bookkeeping once for every `Client`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StateError;
use crate::config::model::StateLocation;

/// The state's bytes as read, and the version they had: what a write under the lock is
/// fenced on (the blob's ETag; the SHA-256 of a local file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub bytes: Vec<u8>,
    pub version: String,
}

/// A kept earlier version of the state, as `state snapshots` lists it: a snapshot of the
/// state's blob, or a local state's backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptVersion {
    /// What `state restore` takes: the blob snapshot's time stamp, or `backup`.
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The id of a local state's one kept version, its backup file.
pub const LOCAL_BACKUP_ID: &str = "backup";

/// Where a state lives.
pub trait StateBackend: Send + Sync {
    /// How messages name it: the path of a local state as it was given.
    fn describe(&self) -> String;
    /// The state as it is now, read without the lock (`plan`, `drift`, `state list|show`);
    /// `None` when there is none yet.
    fn get(&self) -> Result<Option<Snapshot>, StateError>;
    /// Take the lock for `holder`, waiting up to `wait` for another holder to finish.
    fn lock(&self, holder: LockInfo, wait: Duration) -> Result<Box<dyn StateLock>, StateError>;
    /// Release a lock as `how` says (see [`Unlock`] and each backend). `Ok(None)`: there
    /// was no lock.
    fn force_unlock(&self, how: Unlock<'_>) -> Result<Option<Released>, StateError>;
    /// What `plan` says of a held lock (a plan made while an apply runs may be stale at
    /// once); `None` when the state is not locked.
    fn lock_note(&self) -> Option<String>;
    /// The longest a request to a service may take while this state's lock is held
    /// (`None`: no limit of the state's own). A remote state's lease lasts 60 s, so its
    /// backend says 40 s: a request is only sent while the lease is known to outlive it by
    /// [`StateLock::send_margin`] (10 s), and 40 + 10 < 60 (design/remote-state.md B.5). A
    /// test lease shortened by `PIMPLAN_TEST_LEASE_SECONDS` scales both (`azure::graph_budget`).
    fn max_request_timeout(&self) -> Option<Duration> {
        None
    }
    /// `state pull`: the state's bytes as they are, read without the lock; `None` when there
    /// is none yet.
    fn pull(&self) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.get()?.map(|s| s.bytes))
    }
    /// `state snapshots`: the kept earlier versions of the state (each write's "state
    /// before"), newest first, read without the lock.
    fn snapshots(&self) -> Result<Vec<KeptVersion>, StateError>;
    /// The bytes of the kept version `id` (as [`StateBackend::snapshots`] names it), read
    /// without the lock (a kept version never changes); `None` when there is none by that id.
    fn read_snapshot(&self, id: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// The first `len` bytes of the kept version `id` (the whole of a shorter one): enough
    /// to read its lineage and serial. By default the whole, cut.
    fn read_snapshot_start(&self, id: &str, len: u64) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.read_snapshot(id)?.map(|mut bytes| {
            bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
            bytes
        }))
    }
    /// `state push`: replace the state by `bytes` (read from `file`) under the lock, taken
    /// for `holder` within `wait`; see [`super::push_locked`] for what is refused. Written
    /// once for every backend, through its lock's fenced [`StateLock::put`].
    fn push(
        &self,
        file: &std::path::Path,
        bytes: Vec<u8>,
        force: bool,
        holder: LockInfo,
        wait: Duration,
    ) -> Result<super::Pushed, StateError> {
        let mut lock = self.lock(holder, wait)?;
        super::push_locked(lock.as_mut(), file, bytes, force)
    }
}

/// The held lock of a state; dropping it releases the lock. `Send`, so that a plan run reads
/// the state under it on a thread of its own while the workspace is read.
pub trait StateLock: Send {
    fn holder(&self) -> &LockInfo;
    /// How messages name the state (as [`StateBackend::describe`]).
    fn describe(&self) -> String;
    /// The state as it is now, read under the lock: the version every [`StateLock::put`]
    /// is fenced on. `None` when there is none yet.
    fn get(&mut self) -> Result<Option<Snapshot>, StateError>;
    /// Replace the state by `bytes`, refused when it is no longer the version read (or last
    /// put) under this lock; then `bytes` is that version.
    fn put(&mut self, bytes: &[u8]) -> Result<(), StateError>;
    /// Keep `bytes` (the state before an apply) as the backup.
    fn keep_backup(&mut self, bytes: &[u8]) -> Result<(), StateError>;
    /// Whether the lock is known to stay held for `needed` more: checked before each request
    /// to a service, so that none is in flight past the lock that covers it. A local lock
    /// never lapses.
    fn ensure_valid_for(&self, needed: Duration) -> Result<(), StateError>;
    /// As [`StateBackend::max_request_timeout`]: what `apply` caps its executor's request
    /// timeout at while it holds this lock.
    fn max_request_timeout(&self) -> Option<Duration> {
        None
    }
    /// How much longer than a request's timeout this lock must be known to stay held when
    /// the request is sent (`None`: `apply::SEND_MARGIN`). A lease shortened for tests
    /// shortens it in proportion, with [`StateLock::max_request_timeout`].
    fn send_margin(&self) -> Option<Duration> {
        None
    }
    /// A check of [`StateLock::ensure_valid_for`]`(needed)` that the code sending requests
    /// under this lock can hold and call before each request it sends (a retry, a read-back
    /// and a poll too, not only a change's first request). `None`: a lock that never lapses.
    fn send_gate(&self, _needed: Duration) -> Option<SendGate> {
        None
    }
}

/// See [`StateLock::send_gate`]: `Err` means send nothing more.
pub type SendGate = std::sync::Arc<dyn Fn() -> Result<(), StateError> + Send + Sync>;

/// Who holds the lock, written into the lock file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub since: String,
    pub command: String,
}

impl LockInfo {
    /// This process, running `command`, from now on (by the system clock: when a lock was
    /// taken is a fact about this machine, not the plan's `--now`).
    pub fn this_process(command: &str) -> Self {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: host_name(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown user".to_owned()),
            since: crate::clock::Clock::system().now().to_rfc3339(),
            command: command.to_owned(),
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (process {} of {} on {}, lock id {}) since {}",
            self.command, self.pid, self.user, self.host, self.id, self.since
        )
    }
}

/// What a pimplan waiting for another's lock on the state says, on stderr, once per holder
/// (not at every retry): whom it waits for and how long it will. `holder` is the holder as
/// its lock names it; `expires` what ends a holder that is gone, if anything does by itself.
pub fn say_waiting(state: &str, holder: &str, timeout: Duration, expires: &str) {
    crate::progress::say(&format!(
        "pimplan: the state `{state}` is locked by {holder}; waiting up to {} for it to finish ({expires})",
        seconds(timeout)
    ));
}

/// What a pimplan that waited for the lock says once it holds it.
pub fn say_waited(waited: Duration) {
    crate::progress::say(&format!(
        "pimplan: took the lock on the state after waiting {}",
        seconds(waited)
    ));
}

/// `12 s`, `2 min 5 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// The name of this machine, as a lock records it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown host".to_owned())
}

/// What `force-unlock` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock<'a> {
    /// Release only a holder checked to be gone. One that cannot be checked (another
    /// machine, an unreadable record) is [`StateError::Unchecked`]: the caller may ask
    /// whether it is gone and then [`Unlock::Force`].
    Checked,
    /// `--force`: the caller says the holder is gone where that cannot be checked.
    Force,
    /// `force-unlock LOCK_ID`: release the lock whose id this is (the id the "locked"
    /// message shows), whoever and wherever its holder is: the user vouches for it with the
    /// id. Another id is refused and nothing is changed.
    Id(&'a str),
}

/// The refusal of `force-unlock LOCK_ID` whose id is not the holder's.
pub fn id_mismatch(given: &str, holder: &str, id: Option<&str>) -> StateError {
    StateError::Locked(format!(
        "lock id does not match: the state is locked by {holder} (id {}), not by `{given}`; nothing was changed",
        id.unwrap_or("unknown")
    ))
}

/// Why `force-unlock` released a lock.
#[derive(Debug)]
pub struct Released {
    /// The holder (`None`: the lock could not be read).
    pub holder: Option<LockInfo>,
    pub why: &'static str,
}

/// The backend of the state at `location`. A remote backend that cannot be set up (no
/// credential in the environment, a bad endpoint) is one whose every operation fails with
/// why, so that the command that needs the state says it where it reads or writes.
pub fn open(location: &StateLocation) -> Box<dyn StateBackend> {
    open_logged(location, None)
}

/// [`open`], each request to a storage service logged to `log` when given (`-v`; no
/// secret is part of a line). A local state makes no request.
pub fn open_logged(
    location: &StateLocation,
    log: Option<super::azure::client::Log>,
) -> Box<dyn StateBackend> {
    match location {
        StateLocation::Local(path) => Box::new(super::local::LocalFile::new(path.clone())),
        StateLocation::AzureBlob(blob) => match super::azure::open_backend_logged(blob, log) {
            Ok(backend) => backend,
            Err(error) => Box::new(Unavailable {
                describe: super::azure::describe(blob),
                // Said once: an `Unavailable` already names the state.
                detail: match error {
                    StateError::Unavailable { detail, .. } => detail,
                    other => other.to_string(),
                },
                max_request_timeout: Some(super::azure::GRAPH_TIMEOUT),
            }),
        },
    }
}

/// How messages name the state at `location` (as its backend's [`StateBackend::describe`]),
/// without setting a backend up.
pub fn describe(location: &StateLocation) -> String {
    match location {
        StateLocation::Local(path) => path.display().to_string(),
        StateLocation::AzureBlob(blob) => super::azure::describe(blob),
    }
}

/// A backend that could not be set up: every operation fails with why.
struct Unavailable {
    describe: String,
    detail: String,
    max_request_timeout: Option<Duration>,
}

impl Unavailable {
    fn error(&self) -> StateError {
        StateError::Unavailable {
            state: self.describe.clone(),
            detail: self.detail.clone(),
        }
    }
}

impl StateBackend for Unavailable {
    fn describe(&self) -> String {
        self.describe.clone()
    }
    fn get(&self) -> Result<Option<Snapshot>, StateError> {
        Err(self.error())
    }
    fn lock(&self, _: LockInfo, _: Duration) -> Result<Box<dyn StateLock>, StateError> {
        Err(self.error())
    }
    fn force_unlock(&self, _: Unlock<'_>) -> Result<Option<Released>, StateError> {
        Err(self.error())
    }
    fn lock_note(&self) -> Option<String> {
        None
    }
    fn snapshots(&self) -> Result<Vec<KeptVersion>, StateError> {
        Err(self.error())
    }
    fn read_snapshot(&self, _: &str) -> Result<Option<Vec<u8>>, StateError> {
        Err(self.error())
    }
    fn max_request_timeout(&self) -> Option<Duration> {
        self.max_request_timeout
    }
}

/// The SHA-256 of `bytes` in lower-case hex: the version of a local state.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}
