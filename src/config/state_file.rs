//! Where the state file is: the one place that turns the root file's `state:` into a path,
//! for the loader (which reports a bad one), the planner, `apply`'s early lock and the
//! commands that read only the root file.
//!
//! The state is written by every apply, so a `state:` that leads out of the workspace
//! folder would let a change to `pimplan.yaml` (a pull request) make an apply write
//! anywhere (`/etc/…`, `../../other/…`, `/dev/zero`). It is refused, as an include outside
//! the folder is: an absolute path, a `..`, or a path that a link leads outside.

use std::path::{Path, PathBuf};

use super::model::{Settings, StateLocation};

/// Which file of the root file's settings a path names: the state (`state:`) or the
/// baseline (`baseline:`). Both are kept below the workspace folder by the same test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingsFile {
    State,
    Baseline,
}

impl SettingsFile {
    /// The root file's key.
    pub fn key(self) -> &'static str {
        match self {
            SettingsFile::State => "state",
            SettingsFile::Baseline => "baseline",
        }
    }

    fn what(self) -> &'static str {
        match self {
            SettingsFile::State => "the state file",
            SettingsFile::Baseline => "the baseline",
        }
    }
}

/// Why `state:` (or `baseline:`) cannot name its file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatePathError {
    #[error("`{}: {value}` names no file", .file.key())]
    NoFile { file: SettingsFile, value: String },
    #[error("`{}: {value}` points outside the workspace folder", .file.key())]
    Outside { file: SettingsFile, value: String },
    #[error("{} `{}` leads through a link to `{}`, outside the workspace folder", .file.what(), path.display(), reached.display())]
    Link {
        file: SettingsFile,
        path: PathBuf,
        reached: PathBuf,
    },
    #[error("{} `{}` cannot be resolved: its links go round in a loop, or its path goes through something that is not a folder", .file.what(), .path.display())]
    Unresolved { file: SettingsFile, path: PathBuf },
}

impl StatePathError {
    /// What is wrong, in a few words (the label at `state:`).
    pub fn label(&self) -> &'static str {
        match self {
            StatePathError::NoFile { .. } => "names no file",
            StatePathError::Outside { .. } | StatePathError::Link { .. } => "outside the workspace",
            StatePathError::Unresolved { .. } => "cannot be resolved",
        }
    }
}

impl Settings {
    /// The state file of a workspace whose root file is in `root_dir`: see [`state_file`].
    pub fn state_file(&self, root_dir: &Path) -> Result<PathBuf, StatePathError> {
        state_file(root_dir, self.state.as_ref().map(|s| s.value.as_str()))
    }

    /// Where the state of a workspace whose root file is in `root_dir` is: see
    /// [`state_location`].
    pub fn state_location(&self, root_dir: &Path) -> Result<StateLocation, StatePathError> {
        state_location(root_dir, self.state.as_ref().map(|s| s.value.as_str()))
    }

    /// The baseline the root file names (`baseline:`), if it names one: see [`below_root`].
    pub fn baseline_file(&self, root_dir: &Path) -> Option<Result<PathBuf, StatePathError>> {
        self.baseline
            .as_ref()
            .map(|b| below_root(root_dir, SettingsFile::Baseline, &b.value))
    }
}

/// The state file named by `state` (the root file's `state:`, `None` for the default),
/// relative to the root file's folder `root_dir`, or why it is refused.
pub fn state_file(root_dir: &Path, state: Option<&str>) -> Result<PathBuf, StatePathError> {
    below_root(
        root_dir,
        SettingsFile::State,
        state.unwrap_or(Settings::DEFAULT_STATE),
    )
}

/// Where the state named by `state` (the root file's `state:`, `None` for the default) is,
/// for the root file in `root_dir`: the file [`state_file`] resolves.
pub fn state_location(
    root_dir: &Path,
    state: Option<&str>,
) -> Result<StateLocation, StatePathError> {
    state_file(root_dir, state).map(StateLocation::Local)
}

/// The file `value` names for the setting `file`, relative to the root file's folder
/// `root_dir`, or why it is refused: it must stay below that folder.
pub fn below_root(
    root_dir: &Path,
    file: SettingsFile,
    value: &str,
) -> Result<PathBuf, StatePathError> {
    let relative = Path::new(value);
    // The same test as an include glob's: an absolute path, a drive or a `..`.
    if crate::source::include::escapes_root(value) {
        return Err(StatePathError::Outside {
            file,
            value: value.to_owned(),
        });
    }
    if value.ends_with('/') || relative.file_name().is_none() {
        return Err(StatePathError::NoFile {
            file,
            value: value.to_owned(),
        });
    }
    let path = root_dir.join(relative);
    let base = if root_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root_dir
    };
    // The root folder is there (the root file was read from it); if it cannot be resolved,
    // nothing below it can be either, and reading the file reports why.
    if let Ok(root) = std::fs::canonicalize(base) {
        match resolve(&path, 0) {
            Some(reached) if reached.starts_with(&root) => {}
            Some(reached) => {
                return Err(StatePathError::Link {
                    file,
                    reached,
                    path,
                });
            }
            None => return Err(StatePathError::Unresolved { file, path }),
        }
    }
    Ok(path)
}

/// Where `path` leads when it is opened or created: the part that exists resolved (links
/// followed, a link to nothing too, since writing through it creates its target), then the
/// names that do not exist yet. `None` when that cannot be told (a loop of links, a `..`
/// after a folder that does not exist): the caller refuses it.
fn resolve(path: &Path, depth: u32) -> Option<PathBuf> {
    if depth > 40 {
        return None;
    }
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return Some(canonical);
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = std::fs::read_link(path).ok()?;
        let parent = path.parent()?;
        return resolve(&parent.join(target), depth + 1);
    }
    let name = path.file_name()?;
    let parent = match path.parent()? {
        p if p.as_os_str().is_empty() => Path::new("."),
        p => p,
    };
    Some(resolve(parent, depth + 1)?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_path_below_the_folder_is_taken_and_one_above_is_refused() -> Result {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        assert_eq!(state_file(root, None)?, root.join("pimplan.state.json"));
        assert_eq!(state_file(root, Some("s/x.json"))?, root.join("s/x.json"));
        for bad in [
            "/dev/zero",
            "/etc/pimplan.json",
            "../x.json",
            "a/../../x.json",
        ] {
            assert_eq!(
                state_file(root, Some(bad)),
                Err(StatePathError::Outside {
                    file: SettingsFile::State,
                    value: bad.to_owned()
                }),
                "{bad}"
            );
        }
        for bad in ["", ".", "dir/"] {
            assert_eq!(
                state_file(root, Some(bad)),
                Err(StatePathError::NoFile {
                    file: SettingsFile::State,
                    value: bad.to_owned()
                }),
                "{bad}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_link_that_leads_outside_is_refused_even_to_nothing() -> Result {
        let outside = tempfile::tempdir()?;
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path(), root.join("out"))?;
        std::os::unix::fs::symlink(outside.path().join("gone.json"), root.join("dangling.json"))?;
        std::os::unix::fs::symlink("sub/real.json", root.join("inside.json"))?;
        std::fs::create_dir(root.join("sub"))?;
        for bad in ["out/pimplan.state.json", "dangling.json"] {
            assert!(
                matches!(
                    state_file(root, Some(bad)),
                    Err(StatePathError::Link { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            state_file(root, Some("inside.json"))?,
            root.join("inside.json")
        );
        Ok(())
    }
}
