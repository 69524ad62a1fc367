//! `pimplan init`: the files of a first workspace — a root file that lints clean and plans
//! (one principal, one group with its policy, one assignment) and the JSON Schema its first
//! line names for the editor, so that the modeline works outside pimplan's repository.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The root file `init` writes.
pub const ROOT_FILE: &str = "pimplan.yaml";
/// The schema `init` writes beside it, named by the root file's modeline.
pub const SCHEMA_FILE: &str = "pimplan.schema.json";

/// The root file of a new workspace. Its assignment runs for a `duration`, not to a date,
/// so that it lints clean whenever `init` runs.
pub const ROOT_TEXT: &str = r#"# yaml-language-server: $schema=pimplan.schema.json
# A pimplan workspace: Microsoft Entra PIM for Groups as code.
# `pimplan lint` checks it, `pimplan plan` shows what would change, `pimplan apply` makes it so.
version: 1
# Where pimplan records what it applied. Changes go to this file alone until the root file
# says `target: graph` (with the tenant's id): nothing is sent to Microsoft Graph before then.
state: pimplan.state.json
# tenant:
#   id: 00000000-0000-0000-0000-000000000000
#   domain: contoso.com
# target: graph

principals:
  # Everyone an assignment, an owner or an approver names. `id:` (the object id) is needed
  # to apply to Microsoft Graph.
  - name: alice
    type: user
    upn: alice@contoso.com
    licenses: [entra_id_p2]

groups:
  - name: platform-admins
    type: security
    owners: [alice]
    policy:
      member:
        activation:
          max_duration: PT4H
          require: [mfa, justification]
        eligible_assignment: { max_duration: P180D }

assignments:
  # Eligible: alice activates the membership when she needs it, for at most four hours.
  - group: platform-admins
    principal: alice
    role: member
    type: eligible
    duration: P90D
    justification: platform on-call rota
"#;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{}", exists(.paths))]
    Exists { paths: Vec<PathBuf> },
    #[error("cannot create the folder `{}`: {source}; nothing was written", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}; nothing was written", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn exists(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
    let (what, it) = if names.len() == 1 {
        ("is already there", "move it away")
    } else {
        ("are already there", "move them away")
    };
    format!(
        "refusing to initialise a workspace: {} {what}, and `pimplan init` never overwrites a file; {it} or give another folder (`pimplan init DIR`); nothing was written",
        names.join(" and ")
    )
}

/// `name` in `dir`, as a person would type it: no `./` for the current folder.
pub fn in_dir(dir: &Path, name: &str) -> PathBuf {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        PathBuf::from(name)
    } else {
        dir.join(name)
    }
}

/// The files `init` writes into `dir`, with their text, in writing order.
pub fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    vec![
        (in_dir(dir, SCHEMA_FILE), crate::schema::schema_json()),
        (in_dir(dir, ROOT_FILE), ROOT_TEXT.to_owned()),
    ]
}

/// The root file of the workspace `dir` would be inside: the nearest `pimplan.yaml` in a
/// folder above `dir` (not in `dir` itself), found as `lint` finds its root file.
pub fn enclosing_root(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    // `dir` may not exist yet: look from the nearest folder that does.
    let mut from = absolute.as_path();
    while !from.is_dir() {
        from = from.parent()?;
    }
    let from = std::fs::canonicalize(from).ok()?;
    let start = if from == std::fs::canonicalize(&absolute).unwrap_or_default() {
        from.parent()?
    } else {
        from.as_path()
    };
    start
        .ancestors()
        .map(|d| d.join(ROOT_FILE))
        .find(|root| root.exists())
}

/// Whether the workspace of `enclosing` reads `file` as one of its own (its `include:`
/// matches it).
pub fn reads(enclosing: &Path, file: &Path) -> bool {
    let Ok(file) = std::fs::canonicalize(file) else {
        return false;
    };
    crate::load::load(enclosing).is_ok_and(|loaded| {
        loaded
            .sources
            .iter()
            .any(|(_, f)| std::fs::canonicalize(&f.path).is_ok_and(|p| p == file))
    })
}

/// Whether something (a file, a folder, a link, even one to nothing) has the name `path`.
fn taken(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Writes the files of a new workspace into `dir` (created if missing) and returns their
/// paths. Nothing is written when any of them is there already; each file is created anew
/// (never through a name that appeared meanwhile), and a failure removes what was written.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let files = files(dir);
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(path, _)| path.clone())
        .filter(|p| taken(p))
        .collect();
    if !paths.is_empty() {
        return Err(InitError::Exists { paths });
    }
    std::fs::create_dir_all(dir).map_err(|source| InitError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (path, text) in &files {
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
        if let Err(source) = created {
            // A file this run created is removed; one that appeared meanwhile is not ours.
            if source.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = std::fs::remove_file(path);
            }
            for done in &written {
                let _ = std::fs::remove_file(done);
            }
            return Err(InitError::Write {
                path: path.clone(),
                source,
            });
        }
        written.push(path.clone());
    }
    Ok(written)
}
