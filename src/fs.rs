//! Reading the files a user names, with bounds: a path that is not a regular file (a FIFO that
//! would block forever, `/dev/zero` that never ends, a folder) is refused before anything is
//! read, and no read takes more than its cap, whatever the file's size claims or becomes.

use std::io::Read;
use std::path::Path;

/// Why a bounded read gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed; `NotFound` arrives here, for callers that treat it apart.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The path names something other than a regular file (after following links).
    #[error("it is {0}, not a regular file")]
    NotAFile(&'static str),
    /// The file holds more than the cap.
    #[error("it is larger than {}", size_text(*.cap))]
    TooLarge { cap: u64 },
}

impl ReadError {
    /// Whether the file simply does not exist (a dangling link counts: see [`read_bounded`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// `cap` bytes as people say it: "64 MiB", "1 GiB", "512 KiB", or bytes.
pub fn size_text(cap: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if cap >= unit && cap.is_multiple_of(unit) {
            return format!("{} {name}", cap / unit);
        }
    }
    format!("{cap} bytes")
}

/// What a file type is, in words, when it is not a regular file (`None` for a regular file).
pub fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a folder")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// Read the regular file at `path` (links followed), at most `cap` bytes. The type is checked
/// before the file is opened (so a FIFO never blocks the open) and again on the open handle
/// (so a file swapped in between is caught); the size is checked from the metadata and then
/// enforced on the read itself, so a file that grows or lies is still cut off at `cap + 1`.
pub fn read_bounded(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path)?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(ReadError::NotAFile(kind));
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge { cap });
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(ReadError::NotAFile(kind));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(cap)).unwrap_or(0));
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text; text that is not UTF-8 is an `InvalidData` error.
pub fn read_bounded_text(path: &Path, cap: u64) -> Result<String, ReadError> {
    let bytes = read_bounded(path, cap)?;
    String::from_utf8(bytes).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        ))
    })
}

/// `path` with its folder resolved (links followed, `..` gone), the last name as written: where a
/// write to `path` lands when it replaces what is there. `None` when the folder does not exist.
fn placed(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

/// Whether writing to `out` would replace `kept` (or the file `kept` leads to): the check a
/// command makes before it writes an output file the user named, so that `--out` cannot be
/// pointed at the state or a workspace file.
pub fn would_replace(out: &Path, kept: &Path) -> bool {
    let Some(out) = placed(out) else {
        return false;
    };
    placed(kept).is_some_and(|k| k == out)
        || std::fs::canonicalize(kept).is_ok_and(|k| k == out)
        || std::fs::canonicalize(&out)
            .is_ok_and(|o| std::fs::canonicalize(kept).is_ok_and(|k| k == o))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_regular_file_within_the_cap_is_read() -> Result {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello")?;
        assert_eq!(read_bounded(&path, 5)?, b"hello");
        assert!(matches!(
            read_bounded(&path, 4),
            Err(ReadError::TooLarge { cap: 4 })
        ));
        Ok(())
    }

    #[test]
    fn devices_folders_and_fifos_are_refused_without_blocking() -> Result {
        let dir = tempfile::tempdir()?;
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 1 << 20),
            Err(ReadError::NotAFile("a character device"))
        ));
        assert!(matches!(
            read_bounded(dir.path(), 1 << 20),
            Err(ReadError::NotAFile("a folder"))
        ));
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
        assert!(made.success());
        assert!(matches!(
            read_bounded(&fifo, 1 << 20),
            Err(ReadError::NotAFile("a FIFO (named pipe)"))
        ));
        Ok(())
    }

    #[test]
    fn a_dangling_link_reads_as_not_found() -> Result {
        let dir = tempfile::tempdir()?;
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link)?;
        assert!(matches!(read_bounded(&link, 10), Err(e) if e.is_not_found()));
        Ok(())
    }

    #[test]
    fn an_output_path_that_names_a_kept_file_is_caught() -> Result {
        let dir = tempfile::tempdir()?;
        let state = dir.path().join("pimplan.state.json");
        std::fs::write(&state, "{}")?;
        std::fs::create_dir(dir.path().join("sub"))?;
        assert!(would_replace(
            &dir.path().join("sub/../pimplan.state.json"),
            &state
        ));
        std::os::unix::fs::symlink(&state, dir.path().join("link"))?;
        assert!(would_replace(&state, &dir.path().join("link")));
        assert!(!would_replace(&dir.path().join("plan.json"), &state));
        assert!(!would_replace(&dir.path().join("gone/plan.json"), &state));
        Ok(())
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text(1 << 30), "1 GiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
