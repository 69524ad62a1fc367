//! Expanding the root file's `include:` globs into the files they mean.
//!
//! The walk is pimplan's own, over `std::fs::read_dir`, with `glob::Pattern` matching one
//! path component at a time. The `glob` crate's walker skips what it cannot read (a folder
//! it cannot list, a name that is not UTF-8) and follows a link back up forever; the general
//! walkers (`walkdir`, `ignore`) stop only at a link to an ancestor and walk the whole tree
//! whatever the glob. Here:
//!
//! - only the folders the glob can match into are listed (`groups/*.yaml` never lists
//!   `assignments/`), and a component without wildcards is looked up, not listed;
//! - each real folder is walked once for each point of the glob it is reached at, so a
//!   link back up (`a -> .` under `**`) or many links to one folder cost one visit;
//! - everything the glob could mean that cannot be read is a [`Problem`], reported on the
//!   include entry: a folder that cannot be listed, a name that is not UTF-8, a link to
//!   nothing, a match that is not a regular file, a folder reached outside the workspace.
//!
//! The matching is the `glob` crate's, unchanged: case-sensitive, `*` within one component,
//! `**` a whole component matching any number of folders, and a glob ending in `**` matching
//! folders only (so no file).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::join_display;

/// One component of a glob.
enum Part {
    /// `**`: any number of folders, none included.
    Any,
    /// One name; `literal` when it has no wildcards, so it can be looked up directly.
    Name {
        pattern: glob::Pattern,
        literal: Option<String>,
    },
}

/// A glob split into components. A state of the walk is the sorted set of the indices of
/// the parts still to match (`parts.len()` once a whole path matched).
struct Glob {
    parts: Vec<Part>,
    /// A component of the glob names a leading dot, so hidden names may match.
    hidden_allowed: bool,
}

const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    // Hidden names are left out by the walk itself (see `hidden_allowed`).
    require_literal_leading_dot: false,
};

/// What one name does to a state.
struct Step {
    next: Vec<usize>,
    /// A named part (not only a `**`) took the name.
    named: bool,
}

impl Glob {
    fn new(text: &str) -> Result<Glob, glob::PatternError> {
        // The whole glob first, for the crate's own errors (`a**`, an unclosed `[`).
        glob::Pattern::new(text)?;
        let mut parts = Vec::new();
        for c in text.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if c == "**" {
                if !matches!(parts.last(), Some(Part::Any)) {
                    parts.push(Part::Any);
                }
            } else {
                let literal = (!c.contains(['*', '?', '['])).then(|| c.to_owned());
                parts.push(Part::Name {
                    pattern: glob::Pattern::new(c)?,
                    literal,
                });
            }
        }
        let hidden_allowed = text
            .split('/')
            .any(|p| p.starts_with('.') && p != "." && p != "..");
        Ok(Glob {
            parts,
            hidden_allowed,
        })
    }

    /// Whether any file can match: not with no parts, nor when the glob ends in `**`.
    fn can_match_files(&self) -> bool {
        matches!(self.parts.last(), Some(Part::Name { .. }))
    }

    /// `state` with every `**` also matching no folder.
    fn closure(&self, mut state: Vec<usize>) -> Vec<usize> {
        let mut i = 0;
        while let Some(&at) = state.get(i) {
            if matches!(self.parts.get(at), Some(Part::Any)) {
                state.push(at + 1);
            }
            i += 1;
        }
        state.sort_unstable();
        state.dedup();
        state
    }

    fn start(&self) -> Vec<usize> {
        self.closure(vec![0])
    }

    fn step(&self, state: &[usize], name: &str) -> Step {
        let mut next = Vec::new();
        let mut named = false;
        for &i in state {
            match self.parts.get(i) {
                Some(Part::Any) => next.push(i),
                Some(Part::Name { pattern, .. }) if pattern.matches_with(name, OPTIONS) => {
                    next.push(i + 1);
                    named = true;
                }
                _ => {}
            }
        }
        Step {
            next: self.closure(next),
            named,
        }
    }

    /// A file reached in `state` is a match.
    fn matches_file(&self, state: &[usize]) -> bool {
        state.contains(&self.parts.len())
    }

    /// Something below a folder reached in `state` could match.
    fn goes_deeper(&self, state: &[usize]) -> bool {
        state.iter().any(|&i| i < self.parts.len())
    }

    /// The names to look up in a folder reached in `state`, when every part still open is
    /// a name without wildcards (else the folder is listed).
    fn literal_names(&self, state: &[usize]) -> Option<Vec<&str>> {
        let mut names = Vec::new();
        for &i in state {
            match self.parts.get(i) {
                Some(Part::Name {
                    literal: Some(name),
                    ..
                }) => names.push(name.as_str()),
                Some(_) => return None,
                None => {}
            }
        }
        names.sort_unstable();
        names.dedup();
        Some(names)
    }
}

/// Something an include glob could mean that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A folder whose entries cannot be listed.
    CannotList { dir: PathBuf, error: String },
    /// An entry whose type cannot be read (a link that cannot be followed, a path too long).
    CannotLook { path: PathBuf, error: String },
    /// A name that is not UTF-8 text (shown with replacement characters).
    NotUtf8 { path: PathBuf },
    /// A link whose target does not exist.
    BrokenLink { path: PathBuf },
    /// A match that is a FIFO, a device, a socket.
    NotAFile { path: PathBuf, kind: &'static str },
    /// A folder the glob would walk into that resolves outside the workspace folder.
    FolderOutside { path: PathBuf },
}

impl Problem {
    /// The sentence that follows "include `GLOB` ".
    pub fn message(&self) -> String {
        match self {
            Problem::CannotList { dir, error } => {
                format!("cannot list the folder `{}`: {error}", dir.display())
            }
            Problem::CannotLook { path, error } => {
                format!("cannot look at `{}`: {error}", path.display())
            }
            Problem::NotUtf8 { path } => format!(
                "could match `{}`, whose name is not UTF-8 text",
                path.display()
            ),
            Problem::BrokenLink { path } => {
                format!("matches `{}`, a link to nothing", path.display())
            }
            Problem::NotAFile { path, kind } => {
                format!("matches `{}`, {kind}, not a regular file", path.display())
            }
            Problem::FolderOutside { path } => format!(
                "reaches the folder `{}`, outside the workspace folder",
                path.display()
            ),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Problem::CannotList { .. } => "a folder that cannot be listed",
            Problem::CannotLook { .. } => "a path that cannot be read",
            Problem::NotUtf8 { .. } => "a name that is not UTF-8",
            Problem::BrokenLink { .. } => "a broken link matches",
            Problem::NotAFile { .. } => "not a regular file",
            Problem::FolderOutside { .. } => "outside the workspace",
        }
    }

    pub fn help(&self) -> &'static str {
        match self {
            Problem::CannotList { .. } | Problem::CannotLook { .. } => {
                "give pimplan read access to it, or move it out of the workspace folder"
            }
            Problem::NotUtf8 { .. } => {
                "rename it using UTF-8 text (pimplan names files in its output as text), or move it out of the workspace folder"
            }
            Problem::BrokenLink { .. } => "restore the file the link points to, or remove the link",
            Problem::NotAFile { .. } => {
                "include only regular files: remove it, or narrow the glob so that it does not match it"
            }
            Problem::FolderOutside { .. } => {
                "a link leads out of the workspace; a workspace cannot read files above its root"
            }
        }
    }
}

/// How the walk reads the file system: the real one, or a stand-in in the unit tests.
pub trait FileSystem {
    /// The names in `dir` (`.` for the empty path), in any order.
    fn list(&self, dir: &Path) -> std::io::Result<Vec<std::io::Result<OsString>>>;
}

/// The file system of the machine.
pub struct Disk;

impl FileSystem for Disk {
    fn list(&self, dir: &Path) -> std::io::Result<Vec<std::io::Result<OsString>>> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        Ok(std::fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect())
    }
}

/// A folder still to walk: its path as displayed, its real path, and the glob's state there.
struct Pending {
    path: PathBuf,
    canonical: PathBuf,
    state: Vec<usize>,
}

/// The files below `root_dir` (whose real path is `canonical_root`) that `glob` matches,
/// in walk order, and what it could mean but cannot be read.
fn walk(
    fs: &dyn FileSystem,
    glob: &Glob,
    root_dir: &Path,
    canonical_root: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if !glob.can_match_files() {
        return files;
    }
    let start = glob.start();
    let mut seen: HashSet<(PathBuf, Vec<usize>)> = HashSet::new();
    seen.insert((canonical_root.to_path_buf(), start.clone()));
    let mut stack = vec![Pending {
        path: root_dir.to_path_buf(),
        canonical: canonical_root.to_path_buf(),
        state: start,
    }];
    while let Some(dir) = stack.pop() {
        let mut names: Vec<OsString> = match glob.literal_names(&dir.state) {
            Some(literal) => literal
                .into_iter()
                .map(OsString::from)
                .filter(|name| {
                    // Looked up, not listed: a name that is not there is no problem.
                    std::fs::symlink_metadata(join_display(&dir.path, Path::new(name)))
                        .map_or_else(|e| e.kind() != std::io::ErrorKind::NotFound, |_| true)
                })
                .collect(),
            None => match fs.list(&dir.path) {
                Ok(entries) => {
                    let mut names = Vec::new();
                    for entry in entries {
                        match entry {
                            Ok(name) => names.push(name),
                            Err(e) => problems.push(Problem::CannotList {
                                dir: dir.path.clone(),
                                error: e.to_string(),
                            }),
                        }
                    }
                    names
                }
                Err(e) => {
                    problems.push(Problem::CannotList {
                        dir: if dir.path.as_os_str().is_empty() {
                            PathBuf::from(".")
                        } else {
                            dir.path.clone()
                        },
                        error: e.to_string(),
                    });
                    continue;
                }
            },
        };
        names.sort();
        let mut below = Vec::new();
        for name in names {
            let lossy = name.to_string_lossy();
            if !glob.hidden_allowed && lossy.starts_with('.') {
                continue;
            }
            let step = glob.step(&dir.state, &lossy);
            if step.next.is_empty() {
                continue;
            }
            let path = join_display(&dir.path, Path::new(&name));
            let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink());
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) if is_link => {
                    // A link that cannot be followed: reported where its name is meant, and,
                    // unless it leads to nothing, wherever a folder could go on with the glob
                    // (a chain past the kernel's limit, a folder that may not be entered: it
                    // may hold files the glob means).
                    let not_found = e.kind() == std::io::ErrorKind::NotFound;
                    if step.named
                        || glob.matches_file(&step.next)
                        || (!not_found && glob.goes_deeper(&step.next))
                    {
                        problems.push(if not_found {
                            Problem::BrokenLink { path }
                        } else {
                            Problem::CannotLook {
                                path,
                                error: e.to_string(),
                            }
                        });
                    }
                    continue;
                }
                Err(e) => {
                    problems.push(Problem::CannotLook {
                        path,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            let wanted = if meta.is_dir() {
                glob.goes_deeper(&step.next)
            } else {
                glob.matches_file(&step.next)
            };
            if !wanted {
                continue;
            }
            if name.to_str().is_none() {
                problems.push(Problem::NotUtf8 { path });
                continue;
            }
            if !meta.is_dir() {
                match crate::fs::kind_of(meta.file_type()) {
                    None => files.push(path),
                    Some(kind) => problems.push(Problem::NotAFile { path, kind }),
                }
                continue;
            }
            let canonical = if is_link {
                match std::fs::canonicalize(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        problems.push(Problem::CannotLook {
                            path,
                            error: e.to_string(),
                        });
                        continue;
                    }
                }
            } else {
                dir.canonical.join(&name)
            };
            if !canonical.starts_with(canonical_root) {
                problems.push(Problem::FolderOutside { path });
                continue;
            }
            if seen.insert((canonical.clone(), step.next.clone())) {
                below.push(Pending {
                    path,
                    canonical,
                    state: step.next,
                });
            }
        }
        stack.extend(below.into_iter().rev());
    }
    files
}

/// Whether a glob could reach above the root folder (`..`, an absolute path, a drive).
pub fn escapes_root(pattern: &str) -> bool {
    let p = Path::new(pattern);
    p.is_absolute()
        || pattern.starts_with('/')
        || pattern.starts_with('\\')
        || p.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::Prefix(_) | Component::RootDir
            )
        })
}

/// What one glob means below the workspace folder.
pub enum Expansion {
    /// The glob is not valid; the message says why.
    Invalid(String),
    /// The matching regular files (sorted) and what the glob could mean but cannot be read.
    Walked {
        files: Vec<PathBuf>,
        problems: Vec<Problem>,
    },
}

/// Expand `pattern` below `root_dir`, whose real path is `canonical_root`.
pub fn expand(
    fs: &dyn FileSystem,
    pattern: &str,
    root_dir: &Path,
    canonical_root: &Path,
) -> Expansion {
    let glob = match Glob::new(pattern) {
        Ok(glob) => glob,
        Err(e) => return Expansion::Invalid(e.msg.to_owned()),
    };
    let mut problems = Vec::new();
    let mut files = walk(fs, &glob, root_dir, canonical_root, &mut problems);
    files.sort();
    problems.dedup();
    Expansion::Walked { files, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    fn names(files: &[PathBuf], root: &Path) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                f.strip_prefix(root)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    fn walked(
        fs: &dyn FileSystem,
        pattern: &str,
        root: &Path,
    ) -> std::result::Result<(Vec<String>, Vec<Problem>), Box<dyn std::error::Error>> {
        let canonical = std::fs::canonicalize(root)?;
        match expand(fs, pattern, root, &canonical) {
            Expansion::Walked { files, problems } => Ok((names(&files, root), problems)),
            Expansion::Invalid(e) => Err(e.into()),
        }
    }

    /// The disk, except that listing one folder fails, as it does for a folder without
    /// read permission (which root can list all the same).
    struct Unlistable(PathBuf);

    impl FileSystem for Unlistable {
        fn list(&self, dir: &Path) -> std::io::Result<Vec<std::io::Result<OsString>>> {
            if dir == self.0 {
                return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
            }
            Disk.list(dir)
        }
    }

    #[test]
    fn a_folder_that_cannot_be_listed_is_a_problem_not_an_empty_folder() -> Result {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        std::fs::create_dir_all(root.join("as/locked"))?;
        std::fs::write(root.join("as/a.yaml"), "")?;
        std::fs::write(root.join("as/locked/b.yaml"), "")?;
        let fs = Unlistable(root.join("as/locked"));
        let (files, problems) = walked(&fs, "as/**/*.yaml", root)?;
        assert_eq!(files, ["as/a.yaml"]);
        assert!(
            matches!(&problems[..], [Problem::CannotList { dir, .. }] if dir == &root.join("as/locked")),
            "{problems:?}"
        );
        // A glob that never goes into the folder does not list it.
        let (files, problems) = walked(&fs, "as/*.yaml", root)?;
        assert_eq!((files, problems), (vec!["as/a.yaml".to_owned()], vec![]));
        Ok(())
    }

    #[test]
    fn matching_is_the_glob_crates() -> Result {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        for f in [
            "a.yaml",
            "x/b.yaml",
            "x/y/c.yaml",
            "x/.h.yaml",
            ".d/e.yaml",
            "A.YAML",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap_or(root))?;
            std::fs::write(path, "")?;
        }
        let cases: [(&str, &[&str]); 8] = [
            ("*.yaml", &["a.yaml"]),
            ("**/*.yaml", &["a.yaml", "x/b.yaml", "x/y/c.yaml"]),
            ("x/**/*.yaml", &["x/b.yaml", "x/y/c.yaml"]),
            ("x/*", &["x/b.yaml"]),
            ("x/**", &[]),
            ("**/.h.yaml", &["x/.h.yaml"]),
            ("./x/y/c.yaml", &["x/y/c.yaml"]),
            ("[a]*.yaml", &["a.yaml"]),
        ];
        for (pattern, want) in cases {
            let (files, problems) = walked(&Disk, pattern, root)?;
            assert_eq!(files, want, "{pattern}");
            assert!(problems.is_empty(), "{pattern}: {problems:?}");
            // The same as the glob crate's own walk, its files less the hidden ones.
            let hidden_allowed = Glob::new(pattern)?.hidden_allowed;
            let mut by_glob: Vec<String> = Vec::new();
            let full = format!(
                "{}/{pattern}",
                glob::Pattern::escape(&root.to_string_lossy())
            );
            for path in glob::glob_with(&full, OPTIONS)? {
                let path = path?;
                let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
                let hidden = rel
                    .split('/')
                    .any(|c| c.starts_with('.') && c != "." && c != "..");
                if path.is_file() && (hidden_allowed || !hidden) {
                    by_glob.push(rel.trim_start_matches("./").to_owned());
                }
            }
            by_glob.sort();
            assert_eq!(files, by_glob, "{pattern}: not the glob crate's matches");
        }
        assert!(matches!(
            expand(&Disk, "a**/x", root, root),
            Expansion::Invalid(_)
        ));
        Ok(())
    }
}
