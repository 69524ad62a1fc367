//! The state in a local file: [`LocalFile`], the file itself (written through a symbolic link
//! at its path), its `.lock` taken by a hard link, its `.backup`, and the temporaries a
//! killed pimplan left (see `store.rs`, which does the work).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::backend::{
    KeptVersion, LOCAL_BACKUP_ID, LockInfo, Released, Snapshot, StateBackend, StateLock, Unlock,
    sha256_hex,
};
use super::{MAX_STATE_BYTES, StateError, dangling_link, store};

/// The state in the file at `path` (as the root file's `state:` names it).
#[derive(Debug, Clone)]
pub struct LocalFile {
    path: PathBuf,
}

impl LocalFile {
    pub fn new(path: PathBuf) -> Self {
        LocalFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The bytes of the state at `path` (links followed); `None` when there is no file, an error
/// when a link on the way leads nowhere or the path names no state file.
pub fn read_file(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match crate::fs::read_bounded(path, MAX_STATE_BYTES) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_not_found() => match dangling_link(path) {
            Some((link, target)) => Err(StateError::DanglingLink {
                path: path.to_path_buf(),
                link,
                target,
            }),
            None => Ok(None),
        },
        Err(crate::fs::ReadError::Io(source)) => Err(StateError::Read {
            path: path.to_path_buf(),
            source,
        }),
        Err(e @ crate::fs::ReadError::NotAFile(_)) => Err(StateError::Refused {
            path: path.to_path_buf(),
            detail: format!("{e}; `state:` in the root file must name a state file"),
        }),
        Err(e @ crate::fs::ReadError::TooLarge { .. }) => Err(StateError::Refused {
            path: path.to_path_buf(),
            detail: format!(
                "{e}, the most pimplan reads as a state (a million assignments take about 700 MiB); `state:` in the root file must name a state file"
            ),
        }),
    }
}

fn snapshot(bytes: Vec<u8>) -> Snapshot {
    let version = sha256_hex(&bytes);
    Snapshot { bytes, version }
}

impl StateBackend for LocalFile {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn get(&self) -> Result<Option<Snapshot>, StateError> {
        Ok(read_file(&self.path)?.map(snapshot))
    }

    fn lock(&self, holder: LockInfo, wait: Duration) -> Result<Box<dyn StateLock>, StateError> {
        let lock = store::lock_as(&self.path, wait, holder)?;
        Ok(Box::new(LocalLock {
            path: self.path.clone(),
            lock,
            read: None,
        }))
    }

    fn force_unlock(&self, how: Unlock<'_>) -> Result<Option<Released>, StateError> {
        store::force_unlock(&self.path, how)
    }

    fn lock_note(&self) -> Option<String> {
        store::lock_note(&self.path)
    }

    /// The one kept version, the backup beside the file the state's path leads to (as
    /// every write keeps it), named `backup`.
    fn snapshots(&self) -> Result<Vec<KeptVersion>, StateError> {
        Ok(read_file(&self.backup())?
            .map(|bytes| KeptVersion {
                id: LOCAL_BACKUP_ID.to_owned(),
                size: bytes.len() as u64,
            })
            .into_iter()
            .collect())
    }

    fn read_snapshot(&self, id: &str) -> Result<Option<Vec<u8>>, StateError> {
        if id != LOCAL_BACKUP_ID {
            return Ok(None);
        }
        read_file(&self.backup())
    }
}

impl LocalFile {
    /// The backup file (see [`store::write_backup`]).
    fn backup(&self) -> PathBuf {
        store::backup_path(&store::state_target(&self.path).unwrap_or_else(|_| self.path.clone()))
    }
}

/// What the file was when this lock last read or wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// The SHA-256 of its bytes; `None`: there was no file.
    version: Option<String>,
    /// Its size, modification time and inode then: while they stay, the file is taken as
    /// unchanged without reading it again (a large state takes long to read).
    stat: Option<Stat>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn stat(path: &Path) -> Option<Stat> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stat {
        len: m.len(),
        modified: m.modified().ok(),
        inode,
    })
}

/// The held lock of a [`LocalFile`]: released when dropped.
#[derive(Debug)]
pub struct LocalLock {
    path: PathBuf,
    lock: store::Lock,
    /// `None` until the state is read under the lock.
    read: Option<Seen>,
}

impl LocalLock {
    /// The file the state's path leads to (as written: through its links).
    fn target(&self) -> PathBuf {
        store::through_links(&self.path).unwrap_or_else(|_| self.path.clone())
    }

    /// Refuse a write when the file is no longer what this lock read or last wrote.
    fn check_unchanged(&self) -> Result<(), StateError> {
        let changed = |detail: &str| StateError::Changed {
            path: self.path.clone(),
            detail: detail.to_owned(),
        };
        let Some(seen) = &self.read else {
            return Err(changed(
                "it was to be written before it was read under the lock",
            ));
        };
        let target = self.target();
        let now = stat(&target);
        if now.is_some() && now == seen.stat {
            return Ok(());
        }
        let version = read_file(&self.path)?.map(|b| sha256_hex(&b));
        if version == seen.version {
            return Ok(());
        }
        Err(changed(match (&seen.version, &version) {
            (None, Some(_)) => "it was created by another writer",
            (Some(_), None) => "it was removed",
            _ => "its content is not what this pimplan read or last wrote",
        }))
    }
}

impl StateLock for LocalLock {
    fn holder(&self) -> &LockInfo {
        &self.lock.info
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn get(&mut self) -> Result<Option<Snapshot>, StateError> {
        // Looked at before it is read: a change in between makes the look differ, so that
        // the next write reads the file again rather than trust it.
        let before = stat(&self.target());
        let read = read_file(&self.path)?.map(snapshot);
        self.read = Some(Seen {
            version: read.as_ref().map(|s| s.version.clone()),
            stat: before,
        });
        Ok(read)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        self.check_unchanged()?;
        store::write_through(&self.path, bytes).map_err(|source| StateError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.read = Some(Seen {
            version: Some(sha256_hex(bytes)),
            stat: stat(&self.target()),
        });
        Ok(())
    }

    fn keep_backup(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        store::write_backup(&self.path, bytes)
    }

    fn ensure_valid_for(&self, _needed: Duration) -> Result<(), StateError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(dir: &Path) -> Result<(LocalFile, Box<dyn StateLock>), StateError> {
        let file = LocalFile::new(dir.join("s.json"));
        let lock = file.lock(LockInfo::this_process("test"), Duration::ZERO)?;
        Ok((file, lock))
    }

    /// Writes under the lock follow one another: each is fenced on the one before, and the
    /// state as read.
    #[test]
    fn a_put_after_the_read_and_after_its_own_put_is_taken()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("s.json"), "one")?;
        let (file, mut lock) = locked(dir.path())?;
        let read = lock.get()?.map(|s| s.bytes);
        assert_eq!(read.as_deref(), Some(&b"one"[..]));
        lock.put(b"two")?;
        lock.put(b"three")?;
        assert_eq!(std::fs::read(file.path())?, b"three");
        // A state that does not exist yet is created.
        let empty = tempfile::tempdir()?;
        let (_, mut lock) = locked(empty.path())?;
        assert_eq!(lock.get()?, None);
        lock.put(b"new")?;
        Ok(())
    }

    /// Something else wrote the state while the lock was held: the write is refused and the
    /// file keeps what the other writer wrote.
    #[test]
    fn a_put_over_a_state_changed_under_the_lock_is_refused()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.json");
        std::fs::write(&path, "one")?;
        let (_, mut lock) = locked(dir.path())?;
        lock.get()?;
        std::fs::write(&path, "hand edit, longer")?;
        let refused = lock.put(b"two");
        assert!(
            matches!(&refused, Err(StateError::Changed { detail, .. }) if detail.contains("not what this pimplan read")),
            "{refused:?}"
        );
        assert_eq!(std::fs::read(&path)?, b"hand edit, longer");
        // Created by another writer after an empty read; and never read at all.
        let empty = tempfile::tempdir()?;
        let (_, mut lock) = locked(empty.path())?;
        lock.get()?;
        std::fs::write(empty.path().join("s.json"), "other")?;
        assert!(matches!(lock.put(b"x"), Err(StateError::Changed { .. })));
        let other = tempfile::tempdir()?;
        let (_, mut lock) = locked(other.path())?;
        assert!(matches!(lock.put(b"x"), Err(StateError::Changed { .. })));
        Ok(())
    }
}
