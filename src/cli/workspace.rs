//! Where the workspace is: the root file every workspace command reads, the files `lint`
//! reports on, and the state the root file names.

use std::path::{Path, PathBuf};

use super::output::fail;
use crate::config::model::{StateLocation, Workspace};
use crate::exit::ExitStatus;
use crate::plan_run::early_state_location;
use crate::state::backend::StateBackend;

/// The workspace root file: `-c`, else `./pimplan.yaml`.
pub fn root(config: Option<&Path>) -> PathBuf {
    config.map_or_else(|| PathBuf::from("pimplan.yaml"), Path::to_path_buf)
}

/// The root file every workspace command reads, found the same way for all of them: `-c`
/// wins; `lint DIR` names `DIR/pimplan.yaml` (`lint_files` are lint's arguments); otherwise
/// the nearest `pimplan.yaml` in the current folder or a folder above it, as git and cargo
/// find theirs. `Ok(None)` leaves the choice to the command (`lint` given several folders
/// says why it refuses them). The error reads the same for every command.
pub fn locate_root(
    config: Option<&Path>,
    lint_files: Option<&[PathBuf]>,
) -> Result<Option<PathBuf>, String> {
    let given = match (config, lint_files) {
        (Some(c), _) => Some(c.to_path_buf()),
        (None, Some(files)) => {
            let dirs: Vec<&PathBuf> = files.iter().filter(|p| p.is_dir()).collect();
            match dirs.as_slice() {
                [] => None,
                [dir] => Some(dir.join("pimplan.yaml")),
                _ => return Ok(None),
            }
        }
        (None, None) => None,
    };
    // Whatever exists is the loader's to read or refuse (a folder, a FIFO, a device).
    if let Some(root) = given {
        return if root.exists() {
            Ok(Some(root))
        } else {
            Err(format!(
                "no workspace root file at `{}`; give the root file with `-c PATH`",
                root.display()
            ))
        };
    }
    let here =
        std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
    for (up, dir) in here.ancestors().enumerate() {
        if dir.join("pimplan.yaml").exists() {
            // Relative to the current folder, as the user would type it.
            let mut root = PathBuf::new();
            for _ in 0..up {
                root.push("..");
            }
            root.push("pimplan.yaml");
            return Ok(Some(root));
        }
    }
    Err("no workspace root file at `pimplan.yaml` in this folder or any folder above it; give the root file with `-c PATH`".to_owned())
}

/// The workspace root file and, when files are named, the files to report on.
///
/// `-c` wins; otherwise a directory argument names the workspace (`DIR/pimplan.yaml`);
/// otherwise `./pimplan.yaml`.
pub fn workspace_and_files(
    config: Option<&Path>,
    files: &[PathBuf],
) -> miette::Result<(PathBuf, Option<Vec<PathBuf>>)> {
    let (dirs, plain): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|p| p.is_dir());
    if dirs.len() > 1 {
        miette::bail!(
            "lint one workspace at a time: {} directories given",
            dirs.len()
        );
    }
    let root = match (config, dirs.first()) {
        (Some(c), _) => c.to_path_buf(),
        (None, Some(dir)) => dir.join("pimplan.yaml"),
        (None, None) => PathBuf::from("pimplan.yaml"),
    };
    if plain.is_empty() {
        return Ok((root, None));
    }
    let mut only = Vec::new();
    for f in plain {
        let canonical = std::fs::canonicalize(f)
            .map_err(|e| miette::miette!("cannot read `{}`: {e}", f.display()))?;
        only.push(canonical);
    }
    Ok((root, Some(only)))
}

/// Where the state named by the root file is. Only the root file is read: `state` and
/// `force-unlock` need no more, and must work while other files of the workspace are broken.
pub fn state_location(root: &Path) -> Result<StateLocation, String> {
    if !root.is_file() {
        // What `lint` and `plan` say of it: a folder, a FIFO or a device is not a root file.
        let kind = std::fs::metadata(root)
            .ok()
            .and_then(|m| crate::fs::kind_of(m.file_type()));
        return Err(match kind {
            Some(kind) => crate::load::LoadError::Read {
                path: root.to_path_buf(),
                source: crate::fs::ReadError::NotAFile(kind),
            }
            .to_string(),
            None => format!(
                "no workspace root file at `{}`; give the root file with `-c PATH`",
                root.display()
            ),
        });
    }
    early_state_location(root).ok_or_else(|| {
        format!(
            "the root file `{}` could not be read, or its `state:` names no usable state; run `pimplan lint`, which says why",
            root.display()
        )
    })
}

/// The backend of the state the root file names, from a first look at the root file (the one
/// backend of a command: built here, passed down as `&dyn StateBackend`); `None` when the
/// root file cannot be read or its `state:` is refused, which the lint says why.
/// `verbose` (`-v`): its storage requests are logged ([`storage_log`]).
pub fn early_backend(root: &Path, verbose: bool) -> Option<Box<dyn StateBackend>> {
    early_state_location(root).map(|location| open_backend(&location, verbose))
}

/// The backend of the state named by the root file, as [`state_location`] finds it.
pub fn state_backend(root: &Path, verbose: bool) -> Result<Box<dyn StateBackend>, String> {
    state_location(root).map(|location| open_backend(&location, verbose))
}

/// The backend of the state at `location`, its storage requests logged when `verbose`.
pub fn open_backend(location: &StateLocation, verbose: bool) -> Box<dyn StateBackend> {
    crate::state::backend::open_logged(location, storage_log(verbose))
}

/// What `-v` logs a remote state's storage requests to: stderr, each line after `storage: `
/// (as Graph's after `graph: `). The client's lines name the method, the path with
/// pimplan's own parameters, the status and the kind of authorization, never a secret.
pub fn storage_log(verbose: bool) -> Option<crate::state::azure::client::Log> {
    verbose.then(|| {
        let log: crate::state::azure::client::Log =
            std::sync::Arc::new(|line: &str| eprintln!("storage: {line}"));
        log
    })
}

/// Run `f` on the workspace of `root` with where the state is and its backend (its
/// storage requests logged when `verbose`); a workspace that does not read fails the
/// command.
pub fn with_workspace(
    root: &Path,
    verbose: bool,
    f: impl FnOnce(&Workspace, &StateLocation, &dyn StateBackend) -> miette::Result<ExitStatus>,
) -> miette::Result<ExitStatus> {
    let loaded = match crate::load::load(root) {
        Ok(l) => l,
        Err(e) => return Ok(fail(e)),
    };
    let Some(ws) = loaded.workspace.as_ref() else {
        return Ok(fail("the workspace could not be read; run `pimplan lint`"));
    };
    match ws.settings.state_location(&loaded.root_dir) {
        Ok(location) => {
            let backend = open_backend(&location, verbose);
            f(ws, &location, backend.as_ref())
        }
        Err(e) => Ok(fail(format!("{e}; run `pimplan lint`"))),
    }
}
