//! `state migrate --to TARGET`: move the state from where `state:` says it is (normally a
//! local file) to another backend (design/remote-state.md B.7), written once for every pair
//! of backends through [`StateBackend`] and [`StateLock`]:
//!
//! 1. the source's lock is taken and its state read and checked (parsed, its checksum
//!    verified). A state with changes an interrupted apply left pending is still a valid
//!    state: it moves as it is, its pending markers with it, and the next `apply --target
//!    graph` on the target checks them against the service as it would have here;
//! 2. the target's lock is taken (a blob's lease: the lock creates an empty placeholder where
//!    there is no blob yet, so that the write below is fenced as every write is);
//! 3. a state at the target is compared: the same lineage at a serial not below the source's
//!    is refused (it already is this state, or a later version of it), another lineage (or
//!    something that is no state) is refused unless `force`; otherwise the source's bytes
//!    are written as they are, fenced (the target's version before is kept as its backup: a
//!    blob's snapshot, a local file's `.backup`);
//! 4. the target is read back under its lock and the SHA-256 of its bytes compared with the
//!    source's;
//! 5. still under the source's lock, a local source file is renamed to
//!    `NAME.migrated` ([`migrated_path`]); its `.backup` stays where it is. A remote source is
//!    left as it is.
//!
//! Nothing else is written at the source. On any failure the source is untouched and the
//! error says what the target holds: what it held before, or exactly the source's bytes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::backend::{LockInfo, StateBackend, StateLock, sha256_hex};
use super::{StateError, document};

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// How messages name the source and the target.
    pub source: String,
    pub target: String,
    pub lineage: String,
    pub serial: u64,
    /// The SHA-256 of the bytes moved, as the target was read back.
    pub sha256: String,
    /// Changes an interrupted apply left pending, moved with the state.
    pub pending: usize,
    /// `--force` replaced another state at the target: its lineage (`None`: it was no
    /// valid state).
    pub replaced: Option<Option<String>>,
    /// Where the local source file went (`NAME.migrated`); `None` for a remote source.
    pub set_aside: Option<PathBuf>,
}

/// What the target holds after a failed write.
fn after_failed_write(
    lock: &mut dyn StateLock,
    before: Option<&[u8]>,
    bytes: &[u8],
) -> &'static str {
    match lock.get() {
        Ok(Some(now)) if now.bytes == bytes => {
            "the target holds exactly the local state's bytes (the write took effect)"
        }
        Ok(now) if now.as_ref().map(|s| s.bytes.as_slice()) == before => {
            "the target is untouched (it holds what it held before)"
        }
        Ok(_) => "the target holds other bytes: something else wrote it",
        Err(_) => {
            "whether the target was written is not known (it holds either what it held before or exactly the local state's bytes; `pimplan state pull` with the target as `state:` shows which)"
        }
    }
}

/// Why a migration stopped. Every message says that the source is untouched and what the
/// target holds.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The source's lock, or its state, could not be had (locked, corrupt, edited, …).
    #[error("{0}; nothing was migrated or changed")]
    Source(StateError),
    #[error(
        "no state at `{0}`; nothing to migrate (`pimplan apply` or `pimplan import` makes one)"
    )]
    NoState(String),
    #[error(
        "`{}` is in the way of the local state's rename after the migration; move it away first; nothing was migrated or changed", .0.display()
    )]
    InTheWay(PathBuf),
    /// The target's lock could not be had.
    #[error(
        "{0}; nothing was migrated: the local state is untouched and the target was not written"
    )]
    TargetLock(StateError),
    /// The target holds a state the migration may not replace.
    #[error("refusing to migrate the state to `{target}`: {why}; nothing was changed")]
    Refused { target: String, why: String },
    /// The write failed; `outcome`: what the target holds now.
    #[error(
        "cannot write the state to `{target}`: {error}; the local state is untouched, and {outcome}"
    )]
    Write {
        target: String,
        error: StateError,
        outcome: &'static str,
    },
    /// The target, read back, is not what was written (or could not be read back).
    #[error(
        "the state written to `{target}` does not read back as written: {detail}; the local state is untouched (not renamed)"
    )]
    Verify { target: String, detail: String },
    /// Everything was moved and checked, but the local file could not be renamed.
    #[error(
        "the target `{}` holds exactly the local state (serial {}, SHA-256 {}, read back and checked), but renaming `{}` to `{}` failed: {source}; rename it yourself, so that no one applies to it any more", .migrated.target, .migrated.serial, .migrated.sha256, .from.display(), .to.display()
    )]
    SetAside {
        migrated: Box<Migrated>,
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}

/// Where a local state file goes once migrated: `NAME.migrated` beside it.
pub fn migrated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".migrated");
    PathBuf::from(name)
}

/// Move the state of `source` to `target`, see the module's documentation; `source_file`:
/// the source's file when it is local (renamed at the end); `force`: replace another
/// lineage (or something that is no state) at the target; `remote`: the target is remote
/// (how a refusal names the state there). Both locks are taken for `holder`, each waiting
/// up to `wait` for another holder.
pub fn migrate(
    source: &dyn StateBackend,
    source_file: Option<&Path>,
    target: &dyn StateBackend,
    remote: bool,
    force: bool,
    holder: &LockInfo,
    wait: Duration,
) -> Result<Migrated, MigrateError> {
    let mut source_lock = source
        .lock(holder.clone(), wait)
        .map_err(MigrateError::Source)?;
    let snapshot = source_lock
        .get()
        .map_err(MigrateError::Source)?
        .ok_or_else(|| MigrateError::NoState(source.describe()))?;
    let bytes = snapshot.bytes;
    let from = document::decode(Path::new(&source.describe()), bytes.clone(), true)
        .map_err(MigrateError::Source)?
        .state;
    let set_aside = source_file.map(migrated_path);

    let name = target.describe();
    let mut lock = target
        .lock(holder.clone(), wait)
        .map_err(MigrateError::TargetLock)?;
    let refused = |why: String| MigrateError::Refused {
        target: name.clone(),
        why,
    };
    let before = lock.get().map_err(MigrateError::TargetLock)?;
    let mut replaced = None;
    if let Some(before) = &before {
        match document::decode(Path::new(&name), before.bytes.clone(), true) {
            Ok(there) if there.state.lineage == from.lineage => {
                if there.state.serial >= from.serial {
                    return Err(refused(format!(
                        "the {} is newer or equal (serial {} ≥ {}): it is this state (lineage `{}`) already, or a later version of it",
                        if remote {
                            "remote state"
                        } else {
                            "state there"
                        },
                        there.state.serial,
                        from.serial,
                        from.lineage
                    )));
                }
            }
            Ok(there) if !force => {
                return Err(refused(format!(
                    "it holds another state (lineage `{}`, the local state's is `{}`); pass `--force` to replace it (its version now is kept as the target's backup)",
                    there.state.lineage, from.lineage
                )));
            }
            Ok(there) => replaced = Some(Some(there.state.lineage)),
            Err(e) if !force => {
                return Err(refused(format!(
                    "it holds something that is not a valid state ({e}); pass `--force` to replace it"
                )));
            }
            Err(_) => replaced = Some(None),
        }
    }
    // Checked before anything is written, after what the target holds (which says more).
    if let Some(aside) = &set_aside
        && std::fs::symlink_metadata(aside).is_ok()
    {
        return Err(MigrateError::InTheWay(aside.clone()));
    }
    let before_bytes = before.map(|b| b.bytes);
    if let Some(kept) = &before_bytes {
        lock.keep_backup(kept)
            .map_err(|error| MigrateError::Write {
                target: name.clone(),
                error,
                outcome: "the target is untouched (it holds what it held before)",
            })?;
    }
    if let Err(error) = lock.put(&bytes) {
        let outcome = after_failed_write(lock.as_mut(), before_bytes.as_deref(), &bytes);
        return Err(MigrateError::Write {
            target: name,
            error,
            outcome,
        });
    }
    let verify = |detail: String| MigrateError::Verify {
        target: name.clone(),
        detail,
    };
    let sha256 = sha256_hex(&bytes);
    match lock.get() {
        Ok(Some(back)) if sha256_hex(&back.bytes) == sha256 => {}
        Ok(Some(back)) => {
            return Err(verify(format!(
                "it holds other bytes (SHA-256 {}, the local state's is {sha256}): something else wrote it",
                sha256_hex(&back.bytes)
            )));
        }
        Ok(None) => return Err(verify("it holds no state".to_owned())),
        Err(e) => {
            return Err(verify(format!(
                "reading it back failed ({e}); it should hold exactly the local state's bytes (SHA-256 {sha256})"
            )));
        }
    }
    drop(lock);

    let migrated = Migrated {
        source: source.describe(),
        target: name,
        lineage: from.lineage.clone(),
        serial: from.serial,
        sha256,
        pending: from.pending.len(),
        replaced,
        set_aside: set_aside.clone(),
    };
    if let (Some(file), Some(aside)) = (source_file, &set_aside)
        && let Err(source) = std::fs::rename(file, aside)
    {
        return Err(MigrateError::SetAside {
            migrated: Box::new(migrated),
            from: file.to_path_buf(),
            to: aside.clone(),
            source,
        });
    }
    // The source's lock is released only now: no apply wrote the local file between its read
    // and its rename.
    drop(source_lock);
    Ok(migrated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::local::LocalFile;
    use crate::state::{State, write_locked};

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    fn holder() -> LockInfo {
        LockInfo::this_process("test")
    }

    /// A new state of its own lineage written at `path`, at serial 1; its bytes.
    fn state_at(path: &Path) -> std::result::Result<Vec<u8>, Box<dyn std::error::Error>> {
        let file = LocalFile::new(path.to_path_buf());
        let mut lock = file.lock(holder(), Duration::ZERO)?;
        lock.get()?;
        write_locked(lock.as_mut(), &mut State::new())?;
        drop(lock);
        Ok(std::fs::read(path)?)
    }

    fn refused(result: std::result::Result<Migrated, MigrateError>) -> String {
        match result {
            Ok(m) => format!("migrated: {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Between two local files (the same code as to a blob): moved byte for byte and the
    /// source set aside; the same state again is newer or equal; another lineage needs
    /// `force`, and its version before is kept as the target's backup; no state, or a
    /// `.migrated` in the way, changes nothing.
    #[test]
    fn a_local_state_moves_and_what_is_refused_changes_nothing() -> Result {
        let dir = tempfile::tempdir()?;
        let (from, to) = (dir.path().join("a.json"), dir.path().join("b.json"));
        let source = LocalFile::new(from.clone());
        let target = LocalFile::new(to.clone());
        // One move from a.json to b.json, forced or not.
        let attempt = |force| {
            migrate(
                &source,
                Some(&from),
                &target,
                false,
                force,
                &holder(),
                Duration::ZERO,
            )
        };
        let none = attempt(false);
        assert!(refused(none).contains("no state at"));
        assert!(!to.exists());

        let bytes = state_at(&from)?;
        let moved = attempt(false)?;
        assert_eq!(std::fs::read(&to)?, bytes);
        assert_eq!(moved.sha256, sha256_hex(&bytes));
        assert_eq!((moved.serial, moved.pending, moved.replaced), (1, 0, None));
        let aside = migrated_path(&from);
        assert_eq!(moved.set_aside.as_deref(), Some(aside.as_path()));
        assert!(!from.exists());
        assert_eq!(std::fs::read(&aside)?, bytes);

        // The same state again: refused, the file put back stays.
        std::fs::rename(&aside, &from)?;
        let again = refused(attempt(true));
        assert!(
            again.contains("the state there is newer or equal (serial 1 ≥ 1)"),
            "{again}"
        );
        assert_eq!(std::fs::read(&from)?, bytes);

        // Another lineage: refused without force, replaced with it.
        let other = dir.path().join("c.json");
        let other_bytes = state_at(&other)?;
        let other_source = LocalFile::new(other.clone());
        let no = refused(migrate(
            &other_source,
            Some(&other),
            &target,
            false,
            false,
            &holder(),
            Duration::ZERO,
        ));
        assert!(no.contains("another state (lineage"), "{no}");
        assert!(other.exists());
        let forced = migrate(
            &other_source,
            Some(&other),
            &target,
            false,
            true,
            &holder(),
            Duration::ZERO,
        )?;
        assert!(matches!(forced.replaced, Some(Some(_))));
        assert_eq!(std::fs::read(&to)?, other_bytes);
        assert_eq!(std::fs::read(dir.path().join("b.json.backup"))?, bytes);

        // A target that is no state: refused without force.
        std::fs::write(&to, "not a state")?;
        let bad = refused(attempt(false));
        assert!(bad.contains("not a valid state"), "{bad}");
        assert_eq!(std::fs::read(&to)?, b"not a state");

        // A `.migrated` in the way: nothing is written.
        std::fs::remove_file(&to)?;
        std::fs::write(&aside, "older")?;
        let in_the_way = refused(attempt(false));
        assert!(in_the_way.contains("is in the way"), "{in_the_way}");
        assert!(!to.exists());
        assert_eq!(std::fs::read(&from)?, bytes);
        Ok(())
    }
}
