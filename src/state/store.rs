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
    #[serde(skip_serializing_if = "Option::is_none")]
    applying: &'a Option<super::Applying>,
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
        applying: &header.applying,
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

/// Whether the process that took a lock on this machine still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    Alive,
    Gone,
    /// No `/proc` (not Linux): pimplan cannot tell without platform calls it does not make
    /// (`unsafe_code` is forbidden).
    Unknown,
}

/// Whether process `pid`, which took a lock at `since`, still runs: `/proc/PID/stat` on
/// Linux. A zombie is gone; so is a process that started after the lock was taken (the pid
/// was reused by another process). Start time: boot time (`btime` of `/proc/stat`) plus the
/// start in clock ticks, at USER_HZ = 100 (the kernel's fixed user-space tick on every
/// mainstream architecture).
fn liveness(pid: u32, since: &str) -> Liveness {
    if !Path::new("/proc/self/stat").exists() {
        return Liveness::Unknown;
    }
    if pid == 0 {
        return Liveness::Gone;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Liveness::Gone;
    };
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X") | Some(&"x")) {
        return Liveness::Gone;
    }
    let started = fields
        .get(19) // field 22 of stat(5), `starttime`
        .and_then(|t| t.parse::<i64>().ok())
        .zip(boot_time())
        .map(|(ticks, boot)| boot + ticks / 100);
    let taken = chrono::DateTime::parse_from_rfc3339(since)
        .ok()
        .map(|t| t.timestamp());
    match (started, taken) {
        // A few seconds' allowance for the tick and boot time rounding.
        (Some(started), Some(taken)) if started > taken + 5 => Liveness::Gone,
        _ => Liveness::Alive,
    }
}

fn boot_time() -> Option<i64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
}

/// Why `force-unlock` released a lock.
#[derive(Debug)]
pub struct Released {
    /// The holder (`None`: the lock file could not be read).
    pub holder: Option<LockInfo>,
    pub why: &'static str,
}

/// Release a lock whose holder no longer runs, never that of a running apply (two applies
/// would then send at once). A holder on this machine is checked: gone, the lock is
/// released; running, it is refused, even with `force`. A holder on another machine (or one
/// this platform cannot check, or an unreadable lock file) is released only with `force`:
/// the caller knows it is gone. `Ok(None)`: there was no lock.
pub fn force_unlock(state: &Path, force: bool) -> Result<Option<Released>, StateError> {
    let path = lock_path(state);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => None,
    };
    let info: Option<LockInfo> = text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let why = match &info {
        None if force => "--force: the lock file could not be read",
        None => {
            return Err(StateError::Locked(format!(
                "the lock file `{}` cannot be read, so who holds it is unknown; if no pimplan is running against this state, run `pimplan force-unlock --force`",
                path.display()
            )));
        }
        Some(h) if h.host == host_name() => match liveness(h.pid, &h.since) {
            Liveness::Gone => "its process no longer runs",
            Liveness::Alive => {
                return Err(StateError::Locked(format!(
                    "the state `{}` is locked by {h}, which is still running on this machine; wait for it to finish, or stop it and run `pimplan force-unlock` again. A running apply's lock is never released, not even with --force: two applies would send at once",
                    state.display()
                )));
            }
            Liveness::Unknown if force => "--force: its process could not be checked here",
            Liveness::Unknown => {
                return Err(StateError::Locked(format!(
                    "the state `{}` is locked by {h}; this platform gives pimplan no way to check whether process {} still runs. If it does not, run `pimplan force-unlock --force`",
                    state.display(),
                    h.pid
                )));
            }
        },
        Some(_) if force => "--force: its machine was said to be gone",
        Some(h) => {
            return Err(StateError::Locked(format!(
                "the state `{}` is locked by {h}, on another machine, where pimplan cannot check whether it still runs. If it is known to be gone (the runner or machine stopped), run `pimplan force-unlock --force`; releasing the lock of an apply that still runs lets two applies send at once",
                state.display()
            )));
        }
    };
    // The lock may have changed hands while it was checked (its holder finished, another
    // apply took it): only the lock that was checked is removed.
    if std::fs::read_to_string(&path).ok() != text {
        return Err(StateError::Locked(format!(
            "the lock of `{}` changed while it was checked; run `pimplan force-unlock` again",
            state.display()
        )));
    }
    std::fs::remove_file(&path).map_err(|source| StateError::Write { path, source })?;
    Ok(Some(Released { holder: info, why }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let pid = std::process::id();
        let now = chrono::Utc::now().to_rfc3339();
        assert_eq!(liveness(pid, &now), Liveness::Alive);
        // The lock was taken long before this process started: another process held it.
        assert_eq!(liveness(pid, "2000-01-01T00:00:00Z"), Liveness::Gone);
        assert_eq!(liveness(0, &now), Liveness::Gone);
        assert_eq!(liveness(u32::MAX, &now), Liveness::Gone);
    }
}
