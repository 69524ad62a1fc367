//! Writing the state safely: atomic replace, a backup of the state before an apply, and a
//! lock so that two applies cannot interleave.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{State, StateError};
use crate::clock::Clock;

/// Write `text` to `path` so that a reader sees either the old file or the new one, never a
/// part: a temporary file in the same folder, flushed to disk, renamed over the target, and
/// the folder flushed so the rename itself survives a crash.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where the state before an apply is kept.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".backup");
    PathBuf::from(name)
}

/// Keep `text` (the state as it was before this apply) as the backup.
pub fn write_backup(path: &Path, text: &str) -> Result<(), StateError> {
    let backup = backup_path(path);
    write_atomic(&backup, text).map_err(|source| StateError::Write {
        path: backup,
        source,
    })
}

/// Write the next serial of `state`.
pub fn write_state(path: &Path, state: &mut State) -> Result<(), StateError> {
    state.serial += 1;
    state.written_by = format!("pimplan {}", env!("CARGO_PKG_VERSION"));
    state.normalise();
    write_atomic(path, &state.to_json()).map_err(|source| StateError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The state as written, borrowing its entries (already in key order).
#[derive(Serialize)]
struct View<'a> {
    format_version: u32,
    lineage: &'a str,
    serial: u64,
    written_by: &'a str,
    assignments: Vec<&'a super::AssignmentRecord>,
    policies: Vec<&'a super::PolicyRecord>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pending: &'a [super::Pending],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ended: &'a [super::AssignmentRecord],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    removed: &'a [super::AssignmentRecord],
}

/// Write the next serial of a state kept as maps by key (as apply keeps it), without
/// copying the entries.
pub fn write_entries(
    path: &Path,
    header: &mut State,
    assignments: &std::collections::BTreeMap<String, super::AssignmentRecord>,
    policies: &std::collections::BTreeMap<String, super::PolicyRecord>,
) -> Result<(), StateError> {
    header.serial += 1;
    header.written_by = format!("pimplan {}", env!("CARGO_PKG_VERSION"));
    header.ended.sort_by(|a, b| a.key.cmp(&b.key));
    let view = View {
        format_version: header.format_version,
        lineage: &header.lineage,
        serial: header.serial,
        written_by: &header.written_by,
        assignments: assignments.values().collect(),
        policies: policies.values().collect(),
        pending: &header.pending,
        ended: &header.ended,
        removed: &header.removed,
    };
    let mut text = serde_json::to_string_pretty(&view).unwrap_or_default();
    text.push('\n');
    write_atomic(path, &text).map_err(|source| StateError::Write {
        path: path.to_path_buf(),
        source,
    })
}

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

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (process {} of {} on {}) since {}",
            self.command, self.pid, self.user, self.host, self.since
        )
    }
}

pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The held lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    pub info: LockInfo,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown host".to_owned())
}

fn read_lock(path: &Path) -> Option<LockInfo> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// Take the lock of the state at `state`, waiting up to `timeout` for another holder.
pub fn lock(state: &Path, timeout: Duration, command: &str) -> Result<Lock, StateError> {
    let path = lock_path(state);
    let info = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        pid: std::process::id(),
        host: host_name(),
        user: std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown user".to_owned()),
        since: Clock::system().now().to_rfc3339(),
        command: command.to_owned(),
    };
    // The lock appears with its content complete: written to a private file first, then
    // linked into place, which fails if a lock exists (an atomic test-and-set).
    let text = serde_json::to_string_pretty(&info).unwrap_or_default();
    let mut pending = path.as_os_str().to_owned();
    pending.push(format!(".{}", info.id));
    let pending = PathBuf::from(pending);
    write_atomic(&pending, &text).map_err(|source| StateError::Write {
        path: pending.clone(),
        source,
    })?;
    let started = Instant::now();
    loop {
        let linked = std::fs::hard_link(&pending, &path);
        match linked {
            Ok(()) => {
                let _ = std::fs::remove_file(&pending);
                remove_stale_temporaries(state);
                return Ok(Lock { path, info });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if started.elapsed() >= timeout {
                    let _ = std::fs::remove_file(&pending);
                    let holder = read_lock(&path).map_or_else(
                        || "another pimplan (the lock file is unreadable)".to_owned(),
                        |h| h.to_string(),
                    );
                    return Err(StateError::Locked(format!(
                        "the state `{}` is locked by {holder}; wait for it to finish (`--lock-timeout`), or, if it is no longer running, run `pimplan force-unlock`",
                        state.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(source) => {
                let _ = std::fs::remove_file(&pending);
                return Err(StateError::Write { path, source });
            }
        }
    }
}

/// Temporary files a killed writer left beside the state and its backup (`write_atomic`
/// names them `.NAME.tmp-PID`). Called with the lock held, so no other pimplan is writing.
fn remove_stale_temporaries(state: &Path) {
    let dir = match state.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = state.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let ours = format!("tmp-{}", std::process::id());
    let prefixes = [format!(".{name}.tmp-"), format!(".{name}.backup.tmp-")];
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| file.starts_with(p.as_str())) && !file.ends_with(&ours) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Remove a lock left by a process that no longer runs. Returns who held it, if anyone.
pub fn force_unlock(state: &Path) -> Result<Option<LockInfo>, StateError> {
    let path = lock_path(state);
    if !path.exists() {
        return Ok(None);
    }
    let info = read_lock(&path);
    std::fs::remove_file(&path).map_err(|source| StateError::Write { path, source })?;
    Ok(info.or(Some(LockInfo {
        id: String::new(),
        pid: 0,
        host: String::new(),
        user: String::new(),
        since: String::new(),
        command: "unknown (unreadable lock file)".to_owned(),
    })))
}
