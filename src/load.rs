//! The loader: reads the root file, expands its `include:` globs, parses every file and
//! lowers them into one workspace. Problems in the files are findings; only a missing or
//! unreadable root file is an error (exit status 2).

use std::path::{Component, Path, PathBuf};

use crate::config::lower::{ParsedFile, lower};
use crate::config::model::Workspace;
use crate::config::raw::RawFile;
use crate::finding::Finding;
use crate::rules::{
    pim001_yaml_syntax, pim002_invalid_config, pim003_duplicate_key, pim006_include_matched_nothing,
};
use crate::source::yaml::{self, Spanned, YamlError, YamlErrorKind};
use crate::source::{FileId, SourceFile, Sources, Span, join_display};

/// A file larger than this is refused (PIM001) before it is parsed.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no workspace root file at `{}`", path.display())]
    RootMissing { path: PathBuf },
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Everything read for one run.
pub struct Loaded {
    pub sources: Sources,
    pub root: FileId,
    /// The folder of the root file: include globs and the state path are relative to it.
    pub root_dir: PathBuf,
    /// `None` when the root file itself could not be parsed.
    pub workspace: Option<Workspace>,
    pub findings: Vec<Finding>,
    /// Files whose content could not be read at all (a syntax error, a duplicate or unknown
    /// key, a value of the wrong type): the workspace is incomplete without them.
    pub unread: Vec<FileId>,
}

fn yaml_finding(e: YamlError) -> Finding {
    match e.kind {
        YamlErrorKind::Syntax | YamlErrorKind::Limit => {
            Finding::new(&pim001_yaml_syntax::RULE, e.span, e.message).label("here")
        }
        YamlErrorKind::DuplicateKey { key, first } => {
            Finding::new(&pim003_duplicate_key::RULE, e.span, e.message)
                .label(format!("`{key}` again"))
                .with_secondary_opt(first, "first written here")
                .with_help(format!("keep one `{key}` and delete the other"))
        }
        YamlErrorKind::UnknownField { field, expected } => {
            let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            let help = crate::finding::spelling_help(&field, &expected, "allowed here:");
            Finding::new(&pim002_invalid_config::RULE, e.span, e.message)
                .label("unknown key")
                .with_help(help)
        }
        YamlErrorKind::MissingField { .. } => {
            Finding::new(&pim002_invalid_config::RULE, e.span, e.message).label("in this entry")
        }
        YamlErrorKind::Tag { others } => {
            let mut finding = Finding::new(&pim002_invalid_config::RULE, e.span, e.message)
                .label("a YAML tag")
                .with_help(if others.is_empty() {
                    "remove the tag and write the value itself; quote a value that must be read as text".to_owned()
                } else {
                    format!(
                        "this file has {} YAML tags; remove every one and write the values themselves; quote a value that must be read as text",
                        others.len() + 1
                    )
                });
            for span in others.into_iter().take(9) {
                finding = finding.with_secondary(span, "another tag");
            }
            finding
        }
        YamlErrorKind::Shape => Finding::new(&pim002_invalid_config::RULE, e.span, e.message)
            .label("here")
            .with_help("see `pimplan schema` for the shape of each section"),
    }
}

/// One file, read and parsed: its text, what is wrong with it, and its raw content.
struct ReadFile {
    file: SourceFile,
    findings: Vec<Finding>,
    raw: Option<RawFile>,
}

/// Read and parse the file that will be `id` in the sources; decoding problems are PIM001,
/// YAML problems PIM001/PIM002/PIM003.
fn read_and_parse(id: FileId, path: PathBuf) -> Result<ReadFile, LoadError> {
    let bytes = std::fs::read(&path).map_err(|source| LoadError::Io {
        path: path.clone(),
        source,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let (text, problem) = if bytes.len() > MAX_FILE_BYTES {
        (
            String::new(),
            Some((
                0,
                format!(
                    "the file is larger than {} MiB, pimplan's limit for one workspace file",
                    MAX_FILE_BYTES >> 20
                ),
                "split it into several files listed under `include:`",
            )),
        )
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(e) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some((
                    e.valid_up_to(),
                    "the file is not valid UTF-8".to_owned(),
                    "save the file as UTF-8 text",
                )),
            ),
        }
    };
    let file = SourceFile::new(path, text);
    let mut findings = Vec::new();
    let raw = match &problem {
        Some((offset, message, help)) => {
            findings.push(
                Finding::new(
                    &pim001_yaml_syntax::RULE,
                    Span::new(id, *offset, *offset),
                    message.clone(),
                )
                .label("here")
                .with_help(*help),
            );
            None
        }
        None => match yaml::parse::<RawFile>(id, &file) {
            Ok(raw) => Some(raw.unwrap_or_default()),
            Err(e) => {
                findings.push(yaml_finding(e));
                None
            }
        },
    };
    if raw.is_none() {
        for f in &mut findings {
            f.help = Some(format!(
                "{}; until this is fixed, nothing in this file is checked, and no rule looks at the rest of the workspace",
                f.help_text()
            ));
        }
    }
    Ok(ReadFile {
        file,
        findings,
        raw,
    })
}

/// Read and parse `paths` (file ids `first`, `first + 1`, …) on all cores, in order.
fn read_all(first: u32, paths: Vec<PathBuf>) -> Result<Vec<ReadFile>, LoadError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads <= 1 || paths.len() < 4 {
        return paths
            .into_iter()
            .enumerate()
            .map(|(i, p)| read_and_parse(FileId(first + u32::try_from(i).unwrap_or(u32::MAX)), p))
            .collect();
    }
    let chunk = paths.len().div_ceil(threads);
    let indexed: Vec<(u32, PathBuf)> = paths
        .into_iter()
        .enumerate()
        .map(|(i, p)| (first + u32::try_from(i).unwrap_or(u32::MAX), p))
        .collect();
    let results: Vec<Result<Vec<ReadFile>, LoadError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = indexed
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(id, p)| read_and_parse(FileId(*id), p.clone()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(LoadError::Io {
                        path: PathBuf::new(),
                        source: std::io::Error::other("a reader thread failed"),
                    })
                })
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// Whether a glob could reach above the root folder (`..`, an absolute path, a drive).
fn escapes_root(pattern: &str) -> bool {
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

/// Expand the root file's include globs: sorted, without duplicates or the root itself.
fn expand_includes(
    includes: &[Spanned<String>],
    root_dir: &Path,
    root_path: &Path,
    findings: &mut Vec<Finding>,
) -> Vec<PathBuf> {
    let canonical_root = std::fs::canonicalize(if root_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root_dir
    })
    .ok();
    let canonical_root_file = std::fs::canonicalize(root_path).ok();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for pattern in includes {
        if escapes_root(&pattern.value) {
            findings.push(
                Finding::new(
                    &pim002_invalid_config::RULE,
                    pattern.span,
                    format!("include `{}` points outside the workspace folder", pattern.value),
                )
                .label("outside the workspace")
                .with_help("a workspace cannot read files above its root file's folder; move the files below it"),
            );
            continue;
        }
        // The folder is literal text, not part of the pattern: `ws[1]/` must not match `ws1/`.
        let Some(dir) = root_dir.to_str() else {
            findings.push(
                Finding::new(
                    &pim002_invalid_config::RULE,
                    pattern.span,
                    "the workspace folder's path is not UTF-8 text, so no include can match",
                )
                .label("cannot be matched")
                .with_help("move the workspace to a folder whose path is UTF-8 text"),
            );
            continue;
        };
        let full = join_display(
            Path::new(&glob::Pattern::escape(dir)),
            Path::new(&pattern.value),
        );
        // Hidden files are left out below, by name: glob's own check stops the process on a
        // file name that is not UTF-8.
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let hidden_allowed = pattern
            .value
            .split('/')
            .any(|p| p.starts_with('.') && p != "." && p != "..");
        let paths = match glob::glob_with(&full.to_string_lossy(), options) {
            Ok(paths) => paths,
            Err(e) => {
                findings.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        pattern.span,
                        format!("include `{}` is not a valid glob: {}", pattern.value, e.msg),
                    )
                    .label("invalid glob"),
                );
                continue;
            }
        };
        // Below the workspace folder (whose own name may start with a dot), a name that
        // does is hidden.
        let clean = |p: &Path| -> PathBuf {
            p.components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect()
        };
        let base = clean(root_dir);
        let hidden = |p: &Path| {
            let p = clean(p);
            p.strip_prefix(&base).unwrap_or(&p).components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c.starts_with('.') && c != ".."
            })
        };
        let mut matched: Vec<PathBuf> = Vec::new();
        for p in paths.filter_map(Result::ok) {
            if !hidden_allowed && hidden(&p) {
                continue;
            }
            if p.is_file() {
                matched.push(p);
            } else if p.is_symlink() && !p.exists() {
                // A link to nothing: a file meant to be part of the workspace is missing.
                findings.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        pattern.span,
                        format!(
                            "include `{}` matches `{}`, a link to nothing",
                            pattern.value,
                            p.display()
                        ),
                    )
                    .label("a broken link matches")
                    .with_help("restore the file the link points to, or remove the link"),
                );
            }
        }
        matched.sort();
        let mut any = false;
        for path in matched {
            let canonical = std::fs::canonicalize(&path).ok();
            if canonical.is_some() && canonical == canonical_root_file {
                any = true;
                continue;
            }
            let inside = match (&canonical, &canonical_root) {
                (Some(c), Some(r)) => c.starts_with(r),
                _ => false,
            };
            if !inside {
                findings.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        pattern.span,
                        format!("include `{}` reaches `{}`, outside the workspace folder", pattern.value, path.display()),
                    )
                    .label("outside the workspace")
                    .with_help("a link leads out of the workspace; a workspace cannot read files above its root"),
                );
                continue;
            }
            any = true;
            if seen.insert(canonical.unwrap_or_else(|| path.clone())) {
                out.push(path);
            }
        }
        if !any {
            findings.push(
                Finding::new(
                    &pim006_include_matched_nothing::RULE,
                    pattern.span,
                    format!("include `{}` matches no file", pattern.value),
                )
                .label("matches nothing"),
            );
        }
    }
    out
}

/// Load the workspace whose root file is `root_path`.
pub fn load(root_path: &Path) -> Result<Loaded, LoadError> {
    if !root_path.is_file() {
        return Err(LoadError::RootMissing {
            path: root_path.to_path_buf(),
        });
    }
    let root_dir = root_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut sources = Sources::default();
    let mut findings = Vec::new();
    let first = read_and_parse(FileId(0), root_path.to_path_buf())?;
    let root = sources.add(first.file);
    findings.extend(first.findings);
    let Some(root_raw) = first.raw else {
        return Ok(Loaded {
            sources,
            root,
            root_dir,
            workspace: None,
            findings,
            unread: vec![root],
        });
    };
    // The include list is lowered with the settings; read it from the raw root first.
    let includes: Vec<_> = root_raw
        .include
        .as_ref()
        .map(|i| i.value.clone())
        .unwrap_or_default();
    let mut parsed = vec![ParsedFile {
        id: root,
        raw: root_raw,
    }];
    let paths = expand_includes(&includes, &root_dir, root_path, &mut findings);
    let mut unread = Vec::new();
    for read in read_all(1, paths)? {
        let id = sources.add(read.file);
        findings.extend(read.findings);
        match read.raw {
            Some(raw) => parsed.push(ParsedFile { id, raw }),
            None => unread.push(id),
        }
    }
    let workspace = lower(root, parsed, &mut findings);
    Ok(Loaded {
        sources,
        root,
        root_dir,
        workspace: Some(workspace),
        findings,
        unread,
    })
}
