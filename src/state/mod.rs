//! The state file: what pimplan last applied, per assignment and group policy.
//!
//! JSON with a format version, a `lineage` (fixed when the state is created) and a `serial`
//! (grows on every write), like terraform's, sealed by a `checksum` of the rest of the file.
//! Reading refuses a newer format, a corrupt file or one changed by hand with a clear error
//! (`document.rs`, the same for every backend); where the bytes live is a
//! `backend::StateBackend` (`local.rs`: the file, written atomically, with a backup, under a
//! lock), and every write goes through its `StateLock`.

pub mod azure;
pub mod backend;
pub mod change;
pub mod document;
pub mod entries;
pub mod local;
pub mod migrate;
pub mod record;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

pub use record::{
    AssignmentRecord, AssignmentSpec, Held, PolicyRecord, PolicySpec, Tracked, assignment_key,
};

/// The state format this pimplan writes. Version 2 carries a `checksum`; version 1 (older
/// pimplans) carries none, is read as before and gets one on its next write.
pub const FORMAT_VERSION: u32 = 2;

/// The largest state file pimplan reads: a state of a million assignments is about 700 MiB (100,000 take 66 MiB),
/// so this leaves room for tenants several times that, and still refuses at once what no
/// state can be (`/dev/zero`, a runaway file).
pub const MAX_STATE_BYTES: u64 = 2 << 30;

/// The whole state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    pub lineage: String,
    pub serial: u64,
    /// The pimplan version that wrote it.
    #[serde(default)]
    pub written_by: String,
    #[serde(default)]
    pub assignments: Vec<AssignmentRecord>,
    #[serde(default)]
    pub policies: Vec<PolicyRecord>,
    /// Changes an apply to a service had sent, or was about to send, when the state was last
    /// written: whether they took effect is unknown until the service is read. The next
    /// `apply --target graph` checks each against the service and records what it finds
    /// before it plans; `drift` and `plan --refresh` do the same in memory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// Assignments whose schedule ended while still declared, as they were recorded: the
    /// plan dropped them from `assignments` and does not grant them again while the
    /// declaration keeps the same `start`, `end` and `duration` (a `duration` without a
    /// `start` would otherwise count again from the next apply). `ends_at` is when each
    /// ended. An entry goes when its declaration is removed or changed in those times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended: Vec<AssignmentRecord>,
    /// Assignments an apply to the state alone removed from the state that the service still
    /// holds: the next `apply --target graph` removes them there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<AssignmentRecord>,
    /// The saved plan an apply was carrying out when it wrote this state and stopped before
    /// its end (a failure, a kill): the same plan file may be applied again to finish it (see
    /// `apply::check_fresh`). Every apply writes its own (none without a plan file) and a
    /// finished one clears it, so a state that has it descends from the plan's state through
    /// applies of that plan alone (and reads of the service that settled them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applying: Option<Applying>,
}

/// See [`State::applying`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applying {
    /// The SHA-256 of the saved plan, as pimplan reads it (`apply::plan_checksum`).
    pub plan: String,
    /// The serial of the state the plan was made from.
    pub from_serial: u64,
}

/// A change whose outcome is not known: see [`State::pending`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The `--now` of the apply that sent it (durations are counted from it).
    pub started_at: DateTime<FixedOffset>,
    #[serde(flatten)]
    pub change: change::Change,
}

impl State {
    /// The keys of the assignments it records.
    pub fn assignment_keys(&self) -> std::collections::HashSet<String> {
        self.assignments.iter().map(|a| a.key.clone()).collect()
    }

    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            written_by: String::new(),
            assignments: Vec::new(),
            policies: Vec::new(),
            pending: Vec::new(),
            ended: Vec::new(),
            removed: Vec::new(),
            applying: None,
        }
    }

    /// Whether an apply to the state alone recorded something the service does not hold.
    pub fn has_unsent(&self) -> bool {
        !self.removed.is_empty()
            || self.assignments.iter().any(|a| a.held() != Held::Same)
            || self.policies.iter().any(|p| p.held() != Held::Same)
    }

    /// The state as the service is known to hold it: each entry as last sent, the entries
    /// never sent left out, the removals never sent put back. What a plan for Microsoft
    /// Graph is made from.
    pub fn service_view(&self) -> State {
        let mut assignments: BTreeMap<String, AssignmentRecord> = BTreeMap::new();
        for a in self
            .assignments
            .iter()
            .filter_map(AssignmentRecord::in_service)
        {
            assignments.entry(a.key.clone()).or_insert(a);
        }
        for a in &self.removed {
            let mut a = a.clone();
            a.set_held(Held::Same);
            assignments.entry(a.key.clone()).or_insert(a);
        }
        let policies: BTreeMap<String, PolicyRecord> = self
            .policies
            .iter()
            .filter_map(PolicyRecord::in_service)
            .map(|p| (p.key.clone(), p))
            .collect();
        State {
            assignments: assignments.into_values().collect(),
            policies: policies.into_values().collect(),
            removed: Vec::new(),
            ..self.clone()
        }
    }

    /// After an apply to the state alone: mark each entry with what the service holds,
    /// `service` being [`State::service_view`] from before, which such an apply does not
    /// change.
    pub fn keep_service(
        service: &State,
        assignments: &mut BTreeMap<String, AssignmentRecord>,
        policies: &mut BTreeMap<String, PolicyRecord>,
    ) -> Vec<AssignmentRecord> {
        let mut removed = Vec::new();
        for s in &service.assignments {
            match assignments.get_mut(&s.key) {
                Some(a) if a.same_grant(s) => {
                    a.request_id.clone_from(&s.request_id);
                    a.schedule_id.clone_from(&s.schedule_id);
                    a.set_held(Held::Same);
                }
                Some(a) => a.set_held(Held::Was(Box::new(s.clone()))),
                None => removed.push(s.clone()),
            }
        }
        let held: std::collections::HashSet<&str> =
            service.assignments.iter().map(|s| s.key.as_str()).collect();
        for a in assignments.values_mut() {
            if !held.contains(a.key.as_str()) {
                a.set_held(Held::None);
            }
        }
        let service_policies: BTreeMap<&str, &PolicyRecord> = service
            .policies
            .iter()
            .map(|p| (p.key.as_str(), p))
            .collect();
        for p in policies.values_mut() {
            match service_policies.get(p.key.as_str()).copied() {
                Some(s) if s.spec == p.spec => p.set_held(Held::Same),
                Some(s) => p.set_held(Held::Was(Box::new(s.clone()))),
                None => p.set_held(Held::None),
            }
        }
        removed
    }

    pub fn assignment(&self, key: &str) -> Option<&AssignmentRecord> {
        self.assignments.iter().find(|a| a.key == key)
    }

    /// Whether anything in the state waits for the service: changes left pending by an
    /// interrupted apply, or requests the service had not carried out yet.
    pub fn unsettled(&self) -> bool {
        !self.pending.is_empty() || self.assignments.iter().any(|a| a.request_status.is_some())
    }

    pub fn policy(&self, key: &str) -> Option<&PolicyRecord> {
        self.policies.iter().find(|p| p.key == key)
    }

    /// Sort entries by key, so the file is deterministic.
    pub fn normalise(&mut self) {
        self.assignments.sort_by(|a, b| a.key.cmp(&b.key));
        self.policies.sort_by(|a, b| a.key.cmp(&b.key));
        self.ended.sort_by(|a, b| a.key.cmp(&b.key));
        self.removed.sort_by(|a, b| a.key.cmp(&b.key));
    }

    /// The state as pimplan writes it, sealed by its checksum (see [`seal`]).
    pub fn to_json(&self) -> String {
        seal(self.to_json_unsealed())
    }

    /// The state's JSON without its checksum: what the checksum covers.
    pub fn to_json_unsealed(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the state file `{}` is corrupt: {detail}; it was not changed (restore it from `{}.backup` or version control)", path.display(), path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("the state file `{}` has format version {found}, newer than this pimplan understands ({FORMAT_VERSION}); upgrade pimplan; the file was not changed", path.display())]
    FutureVersion { path: PathBuf, found: u64 },
    /// The content does not match the `checksum` pimplan wrote with it.
    #[error("the state file `{}` was changed by something other than pimplan (a hand edit?): {detail}; it was not used or changed. If the change is deliberate, run `pimplan state accept-edit`, which shows what changed against `{}.backup` and records a new checksum; if not, restore it from `{}.backup` or version control", path.display(), path.display(), path.display())]
    Edited { path: PathBuf, detail: String },
    /// Not a regular file, or larger than [`MAX_STATE_BYTES`].
    #[error("cannot read the state file `{}`: {detail}", path.display())]
    Refused { path: PathBuf, detail: String },
    /// A symbolic link (the state, or a folder on its path) whose target does not exist.
    #[error("the state file `{}` cannot be found: `{}` is a symbolic link to `{}`, which does not exist. pimplan does not start a new state behind a broken link (a new lineage would plan every grant as new); fix the link, or remove it to start a new state", path.display(), link.display(), target.display())]
    DanglingLink {
        path: PathBuf,
        link: PathBuf,
        target: PathBuf,
    },
    /// The serial cannot grow any more.
    #[error("the state file `{}` has serial {}, the largest there is: the next write would wrap it around, so nothing was written (a hand edit? restore it from `{}.backup` or version control)", path.display(), u64::MAX, path.display())]
    SerialExhausted { path: PathBuf },
    #[error("cannot write the state file `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Locked(String),
    /// `force-unlock` without an id found a holder it cannot check (another machine, an
    /// unreadable record): released only with `--force`, or once a person confirms (then by
    /// `id`, the holder's lock id when it is known, so that only the holder shown is released).
    #[error("{message}")]
    Unchecked { message: String, id: Option<String> },
    /// Under the lock, the state is no longer what this pimplan read or last wrote:
    /// something else wrote it.
    #[error("the state file `{}` changed while this pimplan held its lock: {detail}; nothing more was written (or sent). Something other than pimplan wrote it: find out what, and plan again", path.display())]
    Changed { path: PathBuf, detail: String },
    #[error("the saved plan is stale: {0}; run plan again")]
    Stale(String),
    /// A remote state whose backend cannot be set up or reached (no credential in the
    /// environment, a refused endpoint); `detail` never holds a secret.
    #[error("the state `{state}` cannot be used: {detail}")]
    Unavailable { state: String, detail: String },
    /// The lease of a remote state ended under this pimplan (broken by `force-unlock
    /// --force`, expired, not renewed in time): nothing more may be written or sent.
    #[error(
        "lost the state lease of `{state}`: {detail}; nothing more was written to the state or sent to Microsoft Graph. Run the apply again (with `--lock-timeout`): it takes the lease again and checks what was left pending"
    )]
    LeaseLost { state: String, detail: String },
    /// A fenced write of a remote state found another version than the one this pimplan
    /// read or last wrote (412 `ConditionNotMet`): something else wrote it.
    #[error(
        "the remote state `{state}` changed under this apply (ETag {etag} is no longer its version{detail}); nothing more was written or sent to Microsoft Graph. Something other than this pimplan wrote it: find out what, and plan again"
    )]
    RemoteChanged {
        state: String,
        etag: String,
        detail: String,
    },
    /// The storage service refused the key, SAS or token itself (403 `AuthenticationFailed`
    /// or `AuthorizationFailure`); `hint` names the variable to check, never its value.
    #[error("storage rejected the credentials ({status} {code}) for the state `{state}`: {hint}")]
    CredentialsRefused {
        state: String,
        status: u16,
        code: String,
        hint: String,
    },
    /// The identity is known but lacks the data role (403 `AuthorizationPermissionMismatch`).
    #[error(
        "the identity lacks Storage Blob Data Contributor (403 AuthorizationPermissionMismatch) on the container `{container}` of the state `{state}`: grant it that role on the container (it reads, writes and leases the state blob; a management role such as Owner or Contributor is not enough)"
    )]
    PermissionMissing { state: String, container: String },
    /// 404 `ContainerNotFound`: pimplan creates the blob, never its container.
    #[error(
        "the container `{container}` of the state `{state}` was not found (404 ContainerNotFound): create it (`az storage container create --name {container} --account-name ACCOUNT --auth-mode login`) or correct `container:` under `state:` in pimplan.yaml"
    )]
    ContainerNotFound { state: String, container: String },
    /// `state push` refused the file (see [`push_locked`]).
    #[error("refusing to push `{}` to the state `{state}`: {why}; nothing was written", file.display())]
    PushRefused {
        file: PathBuf,
        state: String,
        why: String,
    },
    /// `state restore` refused the snapshot (see [`restore_prepare`]).
    #[error(
        "refusing to restore the snapshot `{snapshot}` of the state `{state}`: {why}; nothing was written"
    )]
    RestoreRefused {
        snapshot: String,
        state: String,
        why: String,
    },
}

/// A state as read from disk, with its bytes (for the plan checksum and finding spans).
#[derive(Debug, Clone)]
pub struct LoadedState {
    pub state: State,
    /// `None` when no state file exists yet.
    pub text: Option<String>,
    /// The version its backend gave the bytes (the blob's ETag, the SHA-256 of a local
    /// file); `None` when there is no state yet, or it was not read through a backend.
    pub version: Option<String>,
}

impl LoadedState {
    /// A short fingerprint of the file's bytes ("absent" when there is none).
    pub fn checksum(&self) -> String {
        self.text
            .as_deref()
            .map_or_else(|| "absent".to_owned(), checksum)
    }

    pub fn exists(&self) -> bool {
        self.text.is_some()
    }
}

pub fn checksum(text: &str) -> String {
    digest(&[text])
}

/// The SHA-256 of the parts, one after the other, in lower-case hex.
fn digest(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// How a state's JSON ends (`serde_json::to_string_pretty` of an object, and a newline).
const BODY_END: &str = "\n}\n";
/// The checksum, the last member of the file: `,\n  "checksum": "sha256:HEX"\n}\n`.
const SEAL_START: &str = ",\n  \"checksum\": \"sha256:";
const SEAL_END: &str = "\"\n}\n";

/// `text`, a state's JSON as pimplan writes it, with its checksum added as the last member:
/// the SHA-256 of `text` itself. So the checksum covers the file's bytes but its own line,
/// costs one pass over them (no second serialisation, no JSON tree) and a reader finds it at
/// the end without parsing.
pub fn seal(mut text: String) -> String {
    let hex = digest(&[&text]);
    if let Some(body) = text.strip_suffix(BODY_END) {
        let n = body.len();
        text.truncate(n);
        text.push_str(SEAL_START);
        text.push_str(&hex);
        text.push_str(SEAL_END);
    }
    text
}

/// `text` without its checksum, as it was sealed (the text itself when it has none).
pub fn unsealed(text: &str) -> String {
    match text.rfind(SEAL_START) {
        Some(start) if text[start..].ends_with(SEAL_END) => format!("{}{BODY_END}", &text[..start]),
        _ => text.to_owned(),
    }
}

/// What a state's checksum says of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    /// The file carries no checksum (written by a pimplan older than format 2).
    Absent,
    /// The content is what pimplan wrote.
    Valid,
    /// The content was changed since: why it does not match.
    Broken(String),
}

/// Check the checksum that ends `text` (see [`seal`]).
pub fn check_seal(text: &str) -> Seal {
    let Some(start) = text.rfind(SEAL_START) else {
        return Seal::Absent;
    };
    let Some(hex) = text[start + SEAL_START.len()..].strip_suffix(SEAL_END) else {
        return Seal::Broken(
            "its checksum is no longer the last member of the file, where pimplan writes it"
                .to_owned(),
        );
    };
    if digest(&[&text[..start], BODY_END]) == hex {
        Seal::Valid
    } else {
        Seal::Broken("its content does not match its checksum".to_owned())
    }
}

/// The first symbolic link on `path` (itself, or a folder it goes through) whose target does
/// not exist, with that target.
pub fn dangling_link(path: &Path) -> Option<(PathBuf, PathBuf)> {
    path.ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .find_map(|p| {
            let link = std::fs::symlink_metadata(p).ok()?;
            (link.file_type().is_symlink() && std::fs::metadata(p).is_err())
                .then(|| (p.to_path_buf(), std::fs::read_link(p).unwrap_or_default()))
        })
}

/// Read the state at `path` (links followed), checking its checksum; a missing file is an
/// empty state with a fresh lineage, a broken link an error.
pub fn read(path: &Path) -> Result<LoadedState, StateError> {
    read_with(path, true)
}

/// The keys of the assignments the state at `location` records as applied (what lint asks
/// for PIM208 and PIM204); none when it is missing or cannot be read: plan and apply report
/// a bad state file.
pub fn applied_keys(
    location: &crate::config::model::StateLocation,
) -> std::collections::HashSet<String> {
    read_from(backend::open(location).as_ref())
        .map(|s| s.state.assignment_keys())
        .unwrap_or_default()
}

/// [`read`], checking the checksum only if `verify` (`state accept-edit` reads an edited
/// state to accept it; every other check applies).
pub fn read_with(path: &Path, verify: bool) -> Result<LoadedState, StateError> {
    let bytes = local::read_file(path)?;
    document::decoded(path, bytes, verify)
}

/// The state `backend` holds, read without its lock, checking its checksum; none yet is an
/// empty state with a fresh lineage.
pub fn read_from(backend: &dyn backend::StateBackend) -> Result<LoadedState, StateError> {
    let snapshot = backend.get()?;
    let version = snapshot.as_ref().map(|s| s.version.clone());
    let mut loaded = document::decoded(
        Path::new(&backend.describe()),
        snapshot.map(|s| s.bytes),
        true,
    )?;
    loaded.version = version;
    Ok(loaded)
}

/// The state read under `lock` (the version its writes are fenced on), checking its
/// checksum only if `verify` (see [`read_with`]).
pub fn read_locked(
    lock: &mut dyn backend::StateLock,
    verify: bool,
) -> Result<LoadedState, StateError> {
    let snapshot = lock.get()?;
    let version = snapshot.as_ref().map(|s| s.version.clone());
    let mut loaded = document::decoded(
        Path::new(&lock.describe()),
        snapshot.map(|s| s.bytes),
        verify,
    )?;
    loaded.version = version;
    Ok(loaded)
}

/// Write the next serial of `state` under `lock`, in the current format (an older state is
/// upgraded).
pub fn write_locked(
    lock: &mut dyn backend::StateLock,
    state: &mut State,
) -> Result<(), StateError> {
    let text = document::encode_next(Path::new(&lock.describe()), state)?;
    lock.put(text.as_bytes())
}

/// What `state push` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The file holds the state's own bytes: nothing was written.
    Same,
    /// Written, now `serial`; `renumbered`: as the next serial of the state it replaced
    /// (`--force` over another lineage, or a serial not above the state's), not as the file
    /// had it; `replaced`: there was a state before, which was kept as the backup.
    Written {
        serial: u64,
        renumbered: bool,
        replaced: bool,
    },
}

/// `bytes` (from `file`) as a state offered to replace the one there (`state push`,
/// `state restore`): it must be a valid state, its checksum verified; `refuse` says why
/// not, `edited_hint` how to get a good one.
fn decode_offered(
    file: &Path,
    bytes: Vec<u8>,
    refuse: &dyn Fn(String) -> StateError,
    edited_hint: &str,
) -> Result<LoadedState, StateError> {
    document::decode(file, bytes, true).map_err(|e| match e {
        StateError::Edited { detail, .. } => refuse(format!(
            "it is not a state as pimplan wrote it: {detail}{edited_hint}"
        )),
        StateError::Corrupt { detail, .. } => {
            refuse(format!("it is not a valid pimplan state: {detail}"))
        }
        other => other,
    })
}

/// `state push`: replace the state under `lock` by `bytes`, read from `file`, which must be a
/// valid state (its checksum verified). Terraform's rules: refused, unless `force`, when it is
/// another state (its lineage), an older one (a lower serial), or the same serial with other
/// content. Written as it is when its serial is above the state's (or there is no state, or
/// the state cannot be read and `force` says to replace it); a forced push over a state that
/// can be read is written as that state's next serial, so that the serial never goes back
/// and every plan saved from an earlier state is stale. The state before is kept as the
/// backup.
pub fn push_locked(
    lock: &mut dyn backend::StateLock,
    file: &Path,
    bytes: Vec<u8>,
    force: bool,
) -> Result<Pushed, StateError> {
    let name = lock.describe();
    let refuse = |why: String| StateError::PushRefused {
        file: file.to_path_buf(),
        state: name.clone(),
        why,
    };
    let pushed = decode_offered(
        file,
        bytes,
        &refuse,
        "; push a file `pimplan state pull` wrote",
    )?;
    let current = lock.get()?;
    let current_bytes = current.as_ref().map(|s| s.bytes.clone());
    let current = current.map(|s| document::decode(Path::new(&name), s.bytes, true));
    let as_is = pushed.state.serial;
    let mut renumbered = false;
    let (text, serial) = match current {
        None => (pushed.text.unwrap_or_default(), as_is),
        Some(Err(e)) if !force => {
            return Err(refuse(format!(
                "the state there cannot be read ({e}); pass `--force` to replace it"
            )));
        }
        Some(Err(_)) => (pushed.text.unwrap_or_default(), as_is),
        Some(Ok(now)) => {
            let (then, now_state) = (&pushed.state, &now.state);
            let why = if then.lineage != now_state.lineage {
                Some(format!(
                    "it is another state (lineage `{}`, the state's is `{}`)",
                    then.lineage, now_state.lineage
                ))
            } else if then.serial < now_state.serial {
                Some(format!(
                    "it is older than the state (serial {}, the state's is {})",
                    then.serial, now_state.serial
                ))
            } else if then.serial == now_state.serial {
                if pushed.text == now.text {
                    return Ok(Pushed::Same);
                }
                Some(format!(
                    "it has the state's serial ({}) with other content",
                    then.serial
                ))
            } else {
                None
            };
            match why {
                None => (pushed.text.unwrap_or_default(), as_is),
                Some(why) if !force => {
                    return Err(refuse(format!(
                        "{why}; pass `--force` to replace the state with it"
                    )));
                }
                Some(_) => {
                    renumbered = true;
                    let mut state = pushed.state;
                    state.serial = now_state.serial;
                    let text = document::encode_next(Path::new(&name), &mut state)?;
                    (text, state.serial)
                }
            }
        }
    };
    if let Some(before) = &current_bytes {
        lock.keep_backup(before)?;
    }
    lock.put(text.as_bytes())?;
    Ok(Pushed::Written {
        serial,
        renumbered,
        replaced: current_bytes.is_some(),
    })
}

/// A `state restore` ready to write (see [`restore_prepare`]).
#[derive(Debug)]
pub struct Restore {
    /// The state there now; `None` when there is none, or it cannot be read (`force`).
    pub current: Option<State>,
    /// The snapshot's own serial.
    pub snapshot_serial: u64,
    /// What [`restore_write`] writes: the snapshot's entries, under the serial before the
    /// one it is written as.
    pub restored: State,
    /// Whether the snapshot carried the marker of an interrupted apply, which a restored
    /// state does not keep.
    pub dropped_applying: bool,
    /// The bytes there now, kept as the backup before the write.
    current_bytes: Option<Vec<u8>>,
}

impl Restore {
    /// Whether there was a state (readable or not), which the write keeps as the backup.
    pub fn replaces(&self) -> bool {
        self.current_bytes.is_some()
    }
}

/// `state restore SNAPSHOT`, up to the write: the snapshot `id`'s `bytes` must be a valid
/// state, its checksum verified (as `state push` checks a file); another lineage than the
/// state's, or a state there that cannot be read, is refused unless `force`. The snapshot is
/// written as the next serial of the state there (never its own), so that the serial never
/// goes back and every plan saved before is stale; without the marker of an interrupted
/// apply (no saved plan continues on a restored state).
pub fn restore_prepare(
    lock: &mut dyn backend::StateLock,
    id: &str,
    bytes: Vec<u8>,
    force: bool,
) -> Result<Restore, StateError> {
    let name = lock.describe();
    let refuse = |why: String| StateError::RestoreRefused {
        snapshot: id.to_owned(),
        state: name.clone(),
        why,
    };
    let snapshot = decode_offered(
        Path::new(&format!("{name} (snapshot {id})")),
        bytes,
        &refuse,
        "",
    )?;
    let current_bytes = lock.get()?.map(|s| s.bytes);
    let current = match &current_bytes {
        None => None,
        Some(bytes) => match document::decode(Path::new(&name), bytes.clone(), true) {
            Ok(now) => Some(now.state),
            Err(e) if !force => {
                return Err(refuse(format!(
                    "the state there cannot be read ({e}); pass `--force` to replace it"
                )));
            }
            Err(_) => None,
        },
    };
    if let Some(now) = &current
        && now.lineage != snapshot.state.lineage
        && !force
    {
        return Err(refuse(format!(
            "it is another state (lineage `{}`, the state's is `{}`); pass `--force` to restore it all the same",
            snapshot.state.lineage, now.lineage
        )));
    }
    let snapshot_serial = snapshot.state.serial;
    let mut restored = snapshot.state;
    restored.serial = current
        .as_ref()
        .map_or(snapshot_serial, |now| now.serial.max(snapshot_serial));
    let dropped_applying = restored.applying.take().is_some();
    Ok(Restore {
        current,
        snapshot_serial,
        restored,
        dropped_applying,
        current_bytes,
    })
}

/// Write a prepared [`Restore`] under `lock`: the next serial is checked first, then the
/// state there is kept as the backup (a snapshot of the blob), then the restored state is
/// written, sealed, fenced as every write. Returns its serial.
pub fn restore_write(
    lock: &mut dyn backend::StateLock,
    restore: &mut Restore,
) -> Result<u64, StateError> {
    let text = document::encode_next(Path::new(&lock.describe()), &mut restore.restored)?;
    if let Some(before) = &restore.current_bytes {
        lock.keep_backup(before)?;
    }
    lock.put(text.as_bytes())?;
    Ok(restore.restored.serial)
}

/// Replace `before` (the state as read under `lock`) by `state`: the next serial is checked
/// first, then `before` is kept as the backup, as every write that changes what the state
/// records does, then `state` is written, sealed.
pub fn replace_locked(
    lock: &mut dyn backend::StateLock,
    before: &LoadedState,
    state: &mut State,
) -> Result<(), StateError> {
    document::next_serial(Path::new(&lock.describe()), before.state.serial)?;
    if let Some(text) = &before.text {
        lock.keep_backup(text.as_bytes())?;
    }
    write_locked(lock, state)
}
