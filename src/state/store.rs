//! The local state file's machinery, behind `local::LocalFile`: atomic replace through a
//! link, a backup of the state before an apply, and a lock so that two applies cannot
//! interleave. (`write_atomic` also writes plan files, baselines and generated YAML.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StateError;
pub use super::backend::{LockInfo, Released};
use super::backend::{Unlock, host_name};

/// Where a write to `path` goes: `path` itself, or, when it is a symbolic link, the file the
/// link leads to (followed to the end), so that a linked state is written through its link
/// and the link stays. A link whose target does not exist is a `NotFound` error naming it.
pub fn through_links(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                let target = std::fs::read_link(path).unwrap_or_default();
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "it is a symbolic link to `{}`, which does not exist",
                        target.display()
                    ),
                )
            } else {
                e
            }
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// [`through_links`] for the state at `path`, as a state error.
pub fn state_target(path: &Path) -> Result<PathBuf, StateError> {
    through_links(path).map_err(|source| match super::dangling_link(path) {
        Some((link, target)) => StateError::DanglingLink {
            path: path.to_path_buf(),
            link,
            target,
        },
        None => StateError::Read {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Write `text` to `path` so that a reader sees either the old file or the new one, never a
/// part: a temporary file in the same folder, flushed to disk, renamed over the target, and
/// the folder flushed so the rename itself survives a crash. A symbolic link at `path` is
/// replaced, not followed: only the state, whose path was checked to stay in the workspace
/// (`config::state_file`), is written through its link ([`write_through`]); a link planted
/// where a backup, a saved plan or a baseline goes must not lead the write elsewhere. The
/// temporary is created new (never opened through a link left under its name).
pub fn write_atomic(path: &Path, text: impl AsRef<[u8]>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(text.as_ref())?;
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

/// [`write_atomic`] to the file the state's `path` leads to ([`through_links`]): a linked
/// state is written through its link, and the link stays.
pub fn write_through(path: &Path, text: impl AsRef<[u8]>) -> std::io::Result<()> {
    write_atomic(&through_links(path)?, text)
}

/// Where the state before an apply is kept.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".backup");
    PathBuf::from(name)
}

/// Keep `text` (the state as it was before this apply) as the backup, beside the file the
/// state's path leads to.
pub fn write_backup(path: &Path, text: impl AsRef<[u8]>) -> Result<(), StateError> {
    let backup = backup_path(&state_target(path)?);
    write_atomic(&backup, text).map_err(|source| StateError::Write {
        path: backup,
        source,
    })
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

/// The text of a lock file (a few hundred bytes; bounded, so that a FIFO or device put in its
/// place neither blocks nor floods).
fn read_lock_text(path: &Path) -> Option<String> {
    crate::fs::read_bounded_text(path, LOCK_CAP).ok()
}

/// The largest lock file pimplan reads (see [`read_lock_text`]).
const LOCK_CAP: u64 = 1 << 16;

fn read_lock(path: &Path) -> Option<LockInfo> {
    read_lock_text(path).and_then(|t| serde_json::from_str(&t).ok())
}

/// Take the lock of the state at `state`, waiting up to `timeout` for another holder. The
/// lock is beside the file the state's path leads to (a linked state is locked where it is,
/// whichever link names it). A holder on this machine whose process is gone is named as such
/// in the error, and, with a `timeout`, its lock is taken over once the timeout has passed
/// (see [`take_over`]); without one it stays, so that a second apply still fails at once.
/// `info` names the holder (`LockInfo::this_process`).
pub fn lock_as(state: &Path, timeout: Duration, info: LockInfo) -> Result<Lock, StateError> {
    let state = &state_target(state)?;
    let path = lock_path(state);
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
    let mut takeovers = 0;
    // The holder last said to be waited for (its lock id, if the lock file was readable).
    let mut announced: Option<Option<String>> = None;
    loop {
        let linked = std::fs::hard_link(&pending, &path);
        match linked {
            Ok(()) => {
                let _ = std::fs::remove_file(&pending);
                if announced.is_some() {
                    super::backend::say_waited(started.elapsed());
                }
                remove_stale_temporaries(state);
                return Ok(Lock { path, info });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if started.elapsed() >= timeout {
                    let held = read_lock_text(&path);
                    let holder = held.as_deref().and_then(|t| serde_json::from_str(t).ok());
                    let gone = holder.as_ref().is_some_and(is_gone_here);
                    // The holder is gone: with a timeout, its lock is taken over (a few
                    // times at most: each lock taken in between belongs to a live pimplan).
                    if let (true, false, Some(held), Some(holder)) =
                        (gone, timeout.is_zero(), &held, &holder)
                        && takeovers < 3
                    {
                        takeovers += 1;
                        match take_over(&path, &pending, held, holder) {
                            Ok(_) => continue,
                            Err(source) => {
                                let _ = std::fs::remove_file(&pending);
                                return Err(StateError::Write { path, source });
                            }
                        }
                    }
                    let _ = std::fs::remove_file(&pending);
                    return Err(StateError::Locked(locked_message(
                        state,
                        holder.as_ref(),
                        gone,
                    )));
                }
                // Said once per holder, not at every look.
                let holder = read_lock(&path);
                let id = holder.as_ref().map(|h| h.id.clone());
                if announced.is_none() || (id.is_some() && announced.as_ref() != Some(&id)) {
                    super::backend::say_waiting(
                        &state.display().to_string(),
                        &holder.as_ref().map_or_else(
                            || "another pimplan (the lock file is unreadable)".to_owned(),
                            ToString::to_string,
                        ),
                        timeout,
                        "the lock of a holder gone from this machine is taken over when the wait is over",
                    );
                    announced = Some(id);
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

/// Whether the holder of a lock ran on this machine and no longer runs.
pub(crate) fn is_gone_here(holder: &LockInfo) -> bool {
    holder.host == host_name() && liveness(holder.pid, &holder.since) == Liveness::Gone
}

fn locked_message(state: &Path, holder: Option<&LockInfo>, gone: bool) -> String {
    match holder {
        Some(h) if gone => format!(
            "the state `{}` is locked by {h}, which no longer runs on this machine; run `pimplan force-unlock` to release its lock, or pass `--lock-timeout` (e.g. `--lock-timeout 10s`) to take the lock over once that time has passed",
            state.display()
        ),
        Some(h) => format!(
            "the state `{}` is locked by {h}; wait for it to finish (`--lock-timeout`), or run `pimplan force-unlock {}` if that run is gone",
            state.display(),
            h.id
        ),
        None => format!(
            "the state `{}` is locked by another pimplan (the lock file is unreadable); wait for it to finish (`--lock-timeout`), or, if it is no longer running, run `pimplan force-unlock`",
            state.display()
        ),
    }
}

/// Remove the lock at `path`, found to hold `held` (the text of `holder`, whose process is
/// gone), so that the caller can take the lock as usual (the hard link of `pending`, which
/// only one pimplan wins). Waiters that all found the same dead lock must not remove more
/// than it: one of them may already have removed it and taken the lock, and a late one would
/// remove that live lock. So the removal is claimed first, by hard-linking `pending` as
/// `LOCK.takeover-<id of the dead lock>`, which exactly one waiter can do while the claim
/// stands; the claimant reads the lock again and removes it only if it is still the dead one
/// (nothing else removes a dead holder's lock but `force-unlock`). `Ok(true)`: removed.
/// `Ok(false)`: another waiter claimed it, or the lock had changed.
fn take_over(path: &Path, pending: &Path, held: &str, holder: &LockInfo) -> std::io::Result<bool> {
    let mut claim = path.as_os_str().to_owned();
    claim.push(format!(".takeover-{}", holder.id));
    let claim = PathBuf::from(claim);
    match std::fs::hard_link(pending, &claim) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    }
    let still = read_lock_text(path).as_deref() == Some(held);
    let removed = still && std::fs::remove_file(path).is_ok();
    let _ = std::fs::remove_file(&claim);
    Ok(removed)
}

/// Temporary files a killed pimplan left beside the state, its backup and its lock, found by
/// name. `write_atomic` names its temporaries `.NAME.tmp-PID`; `lock` writes `NAME.lock.ID`
/// before linking it as the lock (through `.NAME.lock.ID.tmp-PID`), and a takeover claims
/// the removal of a dead lock as `NAME.lock.takeover-ID`. Called with the lock held, so no
/// other pimplan writes the state or its backup; a pimplan waiting for the lock keeps its own
/// files, so those are removed only when their process is gone.
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
    let lock_tmp = format!(".{name}.lock.");
    let lock_file = format!("{name}.lock.");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let stale = if prefixes.iter().any(|p| file.starts_with(p.as_str())) {
            !file.ends_with(&ours)
        } else if let Some(rest) = file.strip_prefix(&lock_tmp) {
            // `.NAME.lock.ID.tmp-PID`: gone when PID is.
            rest.rsplit_once(".tmp-")
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| pid != std::process::id() && process_gone(pid))
        } else if let Some(rest) = file.strip_prefix(&lock_file) {
            // `NAME.lock.ID` and `NAME.lock.takeover-ID`: gone when the pimplan they name is.
            let named = match rest.strip_prefix("takeover-") {
                Some(_) => true,
                None => uuid::Uuid::parse_str(rest).is_ok(),
            };
            named && read_lock(&entry.path()).is_none_or(|h| is_gone_here(&h))
        } else {
            false
        };
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` of this machine is known not to run (no `/proc`: not known).
fn process_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// What `plan` says of a held lock: a plan made while an apply runs may be stale at once.
/// `None` when the state is not locked.
pub fn lock_note(state: &Path) -> Option<String> {
    let path = lock_path(&through_links(state).ok()?);
    if !path.exists() {
        return None;
    }
    Some(match read_lock(&path) {
        Some(h) if is_gone_here(&h) => format!(
            "Note: the state is locked by {h}, which no longer runs on this machine; `pimplan force-unlock` releases the lock.\n\n"
        ),
        Some(h) => format!(
            "Note: the state is locked by {h}: while it runs this plan may be stale, and a saved plan is refused once it has changed the state; plan again when it has finished.\n\n"
        ),
        None => "Note: the state is locked by another pimplan (the lock file is unreadable): while it runs this plan may be stale; plan again when it has finished.\n\n".to_owned(),
    })
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

/// Release a lock as `how` says. [`Unlock::Id`]: the lock whose id that is, whoever and
/// wherever its holder (the user vouches for it with the id); another id, or an unreadable
/// lock file, is refused. Otherwise never the lock of a running apply (two applies would
/// then send at once): a holder on this machine is checked: gone, the lock is released;
/// running, it is refused, even with `--force`. A holder on another machine (or one this
/// platform cannot check, or an unreadable lock file) is released only with
/// [`Unlock::Force`]: the caller knows it is gone. `Ok(None)`: there was no lock.
pub fn force_unlock(state: &Path, how: Unlock<'_>) -> Result<Option<Released>, StateError> {
    let force = how == Unlock::Force;
    let state = &state_target(state)?;
    let path = lock_path(state);
    let text = match crate::fs::read_bounded_text(&path, LOCK_CAP) {
        Ok(t) => Some(t),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(_) => None,
    };
    let info: Option<LockInfo> = text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    // A holder checked to run on this machine keeps its lock, even given its id: a local
    // lock fences no write (unlike a remote lease), so two applies would send at once.
    let running_here =
        |h: &LockInfo| h.host == host_name() && liveness(h.pid, &h.since) == Liveness::Alive;
    let why = match (&info, how) {
        (Some(h), Unlock::Id(id)) if h.id == id && !running_here(h) => "its lock id was given",
        (Some(h), Unlock::Id(id)) if h.id != id => {
            return Err(super::backend::id_mismatch(id, &h.to_string(), Some(&h.id)));
        }
        (None, Unlock::Id(id)) => {
            return Err(super::backend::id_mismatch(
                id,
                &format!(
                    "another pimplan (the lock file `{}` is unreadable)",
                    path.display()
                ),
                None,
            ));
        }
        (None, _) if force => "--force: the lock file could not be read",
        (None, _) => {
            return Err(StateError::Unchecked {
                message: format!(
                    "the lock file `{}` cannot be read, so who holds it is unknown; if no pimplan is running against this state, run `pimplan force-unlock --force`",
                    path.display()
                ),
                id: None,
            });
        }
        (Some(h), _) if h.host == host_name() => match liveness(h.pid, &h.since) {
            Liveness::Gone => "its process no longer runs",
            Liveness::Alive => {
                return Err(StateError::Locked(format!(
                    "the state `{}` is locked by {h}, which is still running on this machine; wait for it to finish, or stop it and run `pimplan force-unlock` again. A running apply's lock is never released, not even with --force or its lock id: a local lock fences no write, so two applies would send at once",
                    state.display()
                )));
            }
            Liveness::Unknown if force => "--force: its process could not be checked here",
            Liveness::Unknown => {
                return Err(StateError::Unchecked {
                    message: format!(
                        "the state `{}` is locked by {h}; this platform gives pimplan no way to check whether process {} still runs. If it does not, run `pimplan force-unlock {}` (its lock id) or `pimplan force-unlock --force`",
                        state.display(),
                        h.pid,
                        h.id
                    ),
                    id: Some(h.id.clone()),
                });
            }
        },
        (Some(_), _) if force => "--force: its machine was said to be gone",
        (Some(h), _) => {
            return Err(StateError::Unchecked {
                message: format!(
                    "the state `{}` is locked by {h}, on another machine, where pimplan cannot check whether it still runs. If it is known to be gone (the runner or machine stopped), run `pimplan force-unlock {}` (its lock id) or `pimplan force-unlock --force`; releasing the lock of an apply that still runs lets two applies send at once",
                    state.display(),
                    h.id
                ),
                id: Some(h.id.clone()),
            });
        }
    };
    // The lock may have changed hands while it was checked (its holder finished, another
    // apply took it): only the lock that was checked is removed.
    if read_lock_text(&path) != text {
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

    fn info(id: &str, pid: u32) -> LockInfo {
        LockInfo {
            id: id.to_owned(),
            pid,
            host: host_name(),
            user: "u".to_owned(),
            since: chrono::Utc::now().to_rfc3339(),
            command: "pimplan apply".to_owned(),
        }
    }

    /// Two waiters found the same dead lock. The first takes it over and holds the lock; the
    /// second, late with what it found, must not remove the first one's live lock, whether
    /// it comes after the first one's claim is gone or while it still stands.
    #[test]
    fn a_late_waiter_never_removes_the_lock_another_took_over() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let lock = dir.path().join("s.json.lock");
        let dead = serde_json::to_string(&info("dead", 0)).unwrap_or_default();
        std::fs::write(&lock, &dead)?;
        let holder = info("dead", 0);
        let (a, b) = (
            dir.path().join("s.json.lock.a"),
            dir.path().join("s.json.lock.b"),
        );
        let a_text = serde_json::to_string(&info("a", std::process::id())).unwrap_or_default();
        std::fs::write(&a, &a_text)?;
        std::fs::write(&b, "b")?;
        // While a claim on the dead lock stands, nobody else removes it.
        let claim = dir.path().join("s.json.lock.takeover-dead");
        std::fs::write(&claim, "someone")?;
        assert!(!take_over(&lock, &b, &dead, &holder)?);
        assert_eq!(std::fs::read_to_string(&lock)?, dead);
        std::fs::remove_file(&claim)?;
        // A takes it over and links its own lock.
        assert!(take_over(&lock, &a, &dead, &holder)?);
        std::fs::hard_link(&a, &lock)?;
        // B, late: A's lock stays.
        assert!(!take_over(&lock, &b, &dead, &holder)?);
        assert_eq!(std::fs::read_to_string(&lock)?, a_text);
        assert!(!claim.exists());
        Ok(())
    }

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
