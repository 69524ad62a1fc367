//! The loader: reads the root file, expands its `include:` globs, parses every file and
//! lowers them into one workspace. Problems in the files are findings; only a missing or
//! unreadable root file is an error (exit status 2).

use std::path::{Path, PathBuf};

use crate::config::lower::{ParsedFile, lower};
use crate::config::model::Workspace;
use crate::config::raw::RawFile;
use crate::finding::Finding;
use crate::rules::{
    pim001_yaml_syntax, pim002_invalid_config, pim003_duplicate_key,
    pim006_include_matched_nothing, pim008_file_not_included,
};
use crate::source::recover::Skipped;
use crate::source::yaml::{self, Spanned, SyntaxCause, YamlError, YamlErrorKind};
use crate::source::{FileId, SourceFile, Sources, Span, include};

/// A file larger than this is refused (PIM001) before it is parsed.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no workspace root file at `{}`", path.display())]
    RootMissing { path: PathBuf },
    #[error("cannot read the root file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: crate::fs::ReadError,
    },
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
    /// Files whose content could not be read, wholly (a syntax error) or in part (an entry
    /// with a duplicate or unknown key, or a value of the wrong type, left out): the
    /// workspace is incomplete without them. The root file is here too when a file its
    /// includes mean could not be read (or reached). What was left out, and what it named,
    /// is the workspace's `left_out`.
    pub unread: Vec<FileId>,
    /// YAML files in the workspace folder that hold pimplan sections but that no include
    /// matches (PIM008): in the sources only so that the finding can point into them; they
    /// are not part of the workspace and nothing else looks at them.
    pub not_included: Vec<FileId>,
}

fn yaml_finding(e: YamlError) -> Finding {
    match e.kind {
        YamlErrorKind::Syntax { cause } => syntax_finding(e.span, e.message, cause),
        YamlErrorKind::Limit => Finding::new(&pim001_yaml_syntax::RULE, e.span, e.message)
            .label("here")
            .with_help("see `pimplan explain PIM001` for pimplan's limits on one file"),
        YamlErrorKind::DuplicateKey { key, first } => {
            Finding::new(&pim003_duplicate_key::RULE, e.span, e.message)
                .label(format!("`{key}` again"))
                .with_secondary_opt(first, "first written here")
                .with_help(format!("keep one `{key}` and delete the other"))
        }
        YamlErrorKind::UnknownField { field, expected } => {
            let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            let help = unknown_state_key_help(&field, &expected).unwrap_or_else(|| {
                crate::finding::spelling_help(&field, &expected, "allowed here:")
            });
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
        YamlErrorKind::ColonInFlowValue { value } => {
            Finding::new(&pim002_invalid_config::RULE, e.span, e.message)
                .label("read as a `key: value` pair")
                .with_help(format!("quote the value: write `{}`", yaml::quoted(&value)))
        }
        YamlErrorKind::CommaInFlowValue { field, value } => {
            Finding::new(&pim002_invalid_config::RULE, e.span, e.message)
                .label(format!("`{field}` is read as a key"))
                .with_help(format!(
                    "quote the value if the comma belongs to it: write `{}`",
                    yaml::quoted(&value)
                ))
        }
        YamlErrorKind::Shape => Finding::new(&pim002_invalid_config::RULE, e.span, e.message)
            .label("here")
            .with_help("see `pimplan schema` for the shape of each section"),
    }
}

/// The help for an unknown key of a remote `state:` mapping that a user may think belongs
/// there: a secret (which never lives in the YAML) or the lease's length (which is fixed).
fn unknown_state_key_help(field: &str, expected: &[&str]) -> Option<String> {
    let mut keys = expected.to_vec();
    keys.sort_unstable();
    let mut state = crate::config::raw::REMOTE_STATE_KEYS;
    state.sort_unstable();
    if keys != state {
        return None;
    }
    let allowed = crate::config::raw::REMOTE_STATE_KEYS.join(", ");
    let name = field.to_ascii_lowercase();
    let secret = [
        "sas",
        "secret",
        "token",
        "password",
        "connection",
        "credential",
        "sig",
    ]
    .iter()
    .any(|w| name.contains(w))
        || (name.contains("key") && name != "key");
    if secret {
        return Some(format!(
            "secrets never live in YAML: set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN in the environment (with `auth: shared_key` or `auth: sas`), or sign in with Microsoft Entra ID (`auth: entra`, the default); allowed here: {allowed}"
        ));
    }
    if name.contains("lease") {
        return Some(format!(
            "the lease is fixed at 60 s: an apply renews it while it runs, and a killed run's lease lapses by itself within 60 s; allowed here: {allowed}"
        ));
    }
    None
}

/// PIM001 for a file that is not valid YAML, labelled and helped by what caused it.
fn syntax_finding(span: Span, message: String, cause: SyntaxCause) -> Finding {
    let finding = Finding::new(&pim001_yaml_syntax::RULE, span, message);
    match cause {
        SyntaxCause::UnclosedBracket {
            bracket,
            stopped,
            at_end,
        } => {
            let close = yaml::closer(bracket);
            let what = if bracket == '{' { "mapping" } else { "list" };
            let (label, help) = if at_end {
                (
                    "the file ends here".to_owned(),
                    format!("add `{close}` after the last item of the {what}"),
                )
            } else {
                (
                    format!("expected `{close}` before this"),
                    format!(
                        "add `{close}` after the last item of the {what}, before the marked line"
                    ),
                )
            };
            let finding = finding.label(format!("`{bracket}` opened here, never closed"));
            // A file that is only the bracket ends at the bracket: one label says it.
            if stopped.start == span.start {
                finding.with_help(help)
            } else {
                finding.with_secondary(stopped, label).with_help(help)
            }
        }
        SyntaxCause::MismatchedBracket { bracket, found } => {
            let close = yaml::closer(bracket);
            finding
                .label(format!("`{bracket}` opened here"))
                .with_help(format!(
                    "close this `{bracket}` with `{close}`, not `{found}`, or open it with `{}`",
                    if found == '}' { '{' } else { '[' }
                ))
        }
        SyntaxCause::ColonInValue { value } => finding
            .label("this `:` starts another key")
            .with_help(format!("quote the value: write `{}`", yaml::quoted(&value))),
        SyntaxCause::Tab => finding
            .label("a tab")
            .with_help("indent with spaces, never tabs"),
        SyntaxCause::SecondDocument => finding.label("a second document").with_help(
            "move everything after the `---` into its own file, listed under `include:`",
        ),
        SyntaxCause::Utf8 => finding
            .label("here")
            .with_help("save the file as UTF-8 text"),
        SyntaxCause::Other => finding.label("here"),
    }
}

/// One file, read and parsed: its text, what is wrong with it, and its raw content.
struct ReadFile {
    file: SourceFile,
    findings: Vec<Finding>,
    raw: Option<RawFile>,
    /// The parts left out of `raw` after structure errors.
    skipped: Vec<Skipped>,
}

/// Read and parse the file that will be `id` in the sources; decoding problems are PIM001,
/// YAML problems PIM001/PIM002/PIM003. The file is read through [`crate::fs::read_bounded`]:
/// something that is not a regular file, or larger than [`MAX_FILE_BYTES`], is refused
/// before it is read. An included file that cannot be read is a PIM001 on it; the root file
/// (`root`) an error.
fn read_and_parse(id: FileId, path: PathBuf, root: bool) -> Result<ReadFile, LoadError> {
    const UTF8_HELP: &str = "save the file as UTF-8 text";
    let (bytes, problem) = match crate::fs::read_bounded(&path, MAX_FILE_BYTES as u64) {
        Ok(bytes) => (bytes, None),
        Err(crate::fs::ReadError::TooLarge { .. }) => (
            Vec::new(),
            Some((
                0,
                format!(
                    "the file is larger than {} MiB, pimplan's limit for one workspace file",
                    MAX_FILE_BYTES >> 20
                ),
                "split it into several files listed under `include:`",
            )),
        ),
        Err(e) if root && e.is_not_found() => return Err(LoadError::RootMissing { path }),
        Err(source) if root => return Err(LoadError::Read { path, source }),
        Err(e) => (
            Vec::new(),
            Some((
                0,
                format!("the file cannot be read: {e}"),
                "give pimplan read access to the file, or narrow the include glob that matches it",
            )),
        ),
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let (text, problem) = match problem {
        Some(problem) => (String::new(), Some(problem)),
        None => match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(e) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some((
                    e.valid_up_to(),
                    "the file is not valid UTF-8".to_owned(),
                    UTF8_HELP,
                )),
            ),
        },
    };
    let file = SourceFile::new(path, text);
    let mut findings = Vec::new();
    let mut skipped = Vec::new();
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
        None => {
            let read = yaml::parse_all::<RawFile>(id, &file);
            findings.extend(read.errors.into_iter().map(yaml_finding));
            skipped = read.skipped;
            read.value.map(Option::unwrap_or_default)
        }
    };
    if raw.is_none()
        && let Some(last) = findings.last_mut()
    {
        // The last error is the one that stopped the reading (a syntax error, or one past
        // what can be left out): say what that means for the rest of the file.
        last.help = Some(format!(
            "{}; until this is fixed, nothing else in this file is checked (the rest of the workspace is, but no name is reported as undefined: this file may define it)",
            last.help_text()
        ));
    }
    Ok(ReadFile {
        file,
        findings,
        raw,
        skipped,
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
            .map(|(i, p)| {
                read_and_parse(
                    FileId(first + u32::try_from(i).unwrap_or(u32::MAX)),
                    p,
                    false,
                )
            })
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
                        .map(|(id, p)| read_and_parse(FileId(*id), p.clone(), false))
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

/// The root file's include globs, expanded.
struct Expanded {
    /// The files to read: sorted, without duplicates or the root itself.
    paths: Vec<PathBuf>,
    /// The real paths of those files.
    canonical: std::collections::HashSet<PathBuf>,
    /// False when something a glob could mean cannot be read (the workspace is then
    /// incomplete).
    complete: bool,
}

/// Expand the root file's include globs. Everything a glob could mean that cannot be read is
/// a finding on its entry.
fn expand_includes(
    includes: &[Spanned<String>],
    root_dir: &Path,
    root_path: &Path,
    findings: &mut Vec<Finding>,
) -> Expanded {
    let canonical_root = std::fs::canonicalize(if root_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root_dir
    });
    let canonical_root_file = std::fs::canonicalize(root_path).ok();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut complete = true;
    for pattern in includes {
        let refuse = |message: String, label: &str, help: &str| {
            Finding::new(&pim002_invalid_config::RULE, pattern.span, message)
                .label(label)
                .with_help(format!(
                    "{help}; until then the workspace is incomplete: no name is reported as undefined (what cannot be read may define it) and no plan is made"
                ))
        };
        if include::escapes_root(&pattern.value) {
            complete = false;
            findings.push(refuse(
                format!("include `{}` points outside the workspace folder", pattern.value),
                "outside the workspace",
                "a workspace cannot read files above its root file's folder; move the files below it",
            ));
            continue;
        }
        let canonical_root = match &canonical_root {
            Ok(root) => root,
            Err(e) => {
                complete = false;
                findings.push(refuse(
                    format!(
                        "include `{}` cannot be matched: the workspace folder `{}` cannot be resolved: {e}",
                        pattern.value,
                        root_dir.display()
                    ),
                    "cannot be matched",
                    "give pimplan access to the workspace folder",
                ));
                continue;
            }
        };
        let expansion = include::expand(&include::Disk, &pattern.value, root_dir, canonical_root);
        let (matched, problems) = match expansion {
            include::Expansion::Invalid(msg) => {
                complete = false;
                findings.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        pattern.span,
                        format!("include `{}` is not a valid glob: {msg}", pattern.value),
                    )
                    .label("invalid glob"),
                );
                continue;
            }
            include::Expansion::Walked { files, problems } => (files, problems),
        };
        for problem in &problems {
            findings.push(refuse(
                format!("include `{}` {}", pattern.value, problem.message()),
                problem.label(),
                problem.help(),
            ));
        }
        let unreadable = !problems.is_empty();
        complete &= !unreadable;
        // A glob that matched only what cannot be read is reported as that, not as PIM006.
        let mut any = unreadable;
        for path in matched {
            let canonical = std::fs::canonicalize(&path).ok();
            if canonical.is_some() && canonical == canonical_root_file {
                any = true;
                continue;
            }
            let inside = canonical
                .as_ref()
                .is_some_and(|c| c.starts_with(canonical_root));
            if !inside {
                complete = false;
                findings.push(refuse(
                    format!("include `{}` reaches `{}`, outside the workspace folder", pattern.value, path.display()),
                    "outside the workspace",
                    "a link leads out of the workspace; a workspace cannot read files above its root",
                ));
                any = true;
                continue;
            }
            any = true;
            if seen.insert(canonical.unwrap_or_else(|| path.clone())) {
                out.push(path);
            }
        }
        if !any {
            // A path without wildcards names one file: if it is not there, what it held is
            // not read and a plan would remove it, so that is an error, not a warning.
            let literal = !pattern.value.contains(['*', '?', '[']);
            let finding = if literal {
                Finding::new(
                    &pim006_include_matched_nothing::RULE,
                    pattern.span,
                    format!("include `{}` names no file", pattern.value),
                )
                .label("no such file")
                .with_help("an include without wildcards names one file, which must exist: correct the path (it is relative to the folder of the root file) or remove the entry")
                .with_severity(crate::finding::Severity::Error)
            } else {
                Finding::new(
                    &pim006_include_matched_nothing::RULE,
                    pattern.span,
                    format!("include `{}` matches no file", pattern.value),
                )
                .label("matches nothing")
            };
            findings.push(finding);
        }
    }
    Expanded {
        paths: out,
        canonical: seen,
        complete,
    }
}

/// Load the workspace whose root file is `root_path`.
pub fn load(root_path: &Path) -> Result<Loaded, LoadError> {
    let root_dir = root_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut sources = Sources::default();
    let mut findings = Vec::new();
    // The root file's path joined as the included files' are (`.` and `./pimplan.yaml` print
    // `pimplan.yaml`, as `sub/a.yaml` prints without `./`), so every file prints the same way.
    let shown_root = root_path.file_name().map_or_else(
        || root_path.to_path_buf(),
        |name| crate::source::join_display(&root_dir, Path::new(name)),
    );
    let first = read_and_parse(FileId(0), shown_root, true)?;
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
            not_included: Vec::new(),
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
        skipped: first.skipped,
    }];
    let Expanded {
        paths,
        canonical: included,
        complete,
    } = expand_includes(&includes, &root_dir, root_path, &mut findings);
    let matched: std::collections::HashSet<PathBuf> = paths.iter().cloned().collect();
    // Files an include means but that could not be read leave the workspace incomplete
    // like a file that does not parse: the root file, whose include list names them,
    // stands for them.
    let mut unread = if complete && parsed[0].skipped.is_empty() {
        Vec::new()
    } else {
        vec![root]
    };
    let mut unknown = !complete;
    for read in read_all(1, paths)? {
        let id = sources.add(read.file);
        findings.extend(read.findings);
        match read.raw {
            Some(raw) => {
                if !read.skipped.is_empty() {
                    unread.push(id);
                }
                parsed.push(ParsedFile {
                    id,
                    raw,
                    skipped: read.skipped,
                });
            }
            None => {
                unknown = true;
                unread.push(id);
            }
        }
    }
    let workspace = lower(root, parsed, unknown, &mut findings);
    let state_span = workspace
        .settings
        .state
        .as_ref()
        .map_or(Span::new(root, 0, 0), |s| s.span);
    for e in workspace.settings.state_problems(&root_dir) {
        findings.push(
            Finding::new(
                &pim002_invalid_config::RULE,
                e.span().unwrap_or(state_span),
                e.to_string(),
            )
            .label(e.label())
            .with_help(e.help()),
        );
    }
    if let Some(Err(e)) = workspace.settings.baseline_file(&root_dir) {
        let span = workspace
            .settings
            .baseline
            .as_ref()
            .map_or(Span::new(root, 0, 0), |s| s.span);
        findings.push(
            Finding::new(&pim002_invalid_config::RULE, span, e.to_string())
                .label(e.label())
                .with_help(e.help()),
        );
    }
    // Every other YAML file of the folder that holds a pimplan section: PIM008.
    let mut known = included;
    known.extend(std::fs::canonicalize(root_path));
    if let Ok(state) = workspace.settings.state_location(&root_dir)
        && let Some(path) = state.local_path()
    {
        known.extend(std::fs::canonicalize(path));
    }
    let mut not_included = Vec::new();
    // An `include:` that could not be read (already reported) matches what it matches: no
    // file can be told to be left out by it.
    let strays = if workspace.left_out.settings.contains("include") {
        Vec::new()
    } else {
        not_included_files(&root_dir, root_path, &matched, &known)
    };
    for (file, sections) in strays {
        let id = sources.add_extra(file);
        let Some(file) = sources.get(id) else {
            continue;
        };
        let names: Vec<String> = sections
            .iter()
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        let first = sections.first().map_or(0..0, |(_, at)| at.clone());
        let root_name = root_path.file_name().map_or_else(
            || "the root file".to_owned(),
            |n| format!("`{}`", n.to_string_lossy()),
        );
        findings.push(
            Finding::new(
                &pim008_file_not_included::RULE,
                Span::new(id, first.start, first.end),
                format!(
                    "`{}` holds {} but no include matches it, so pimplan does not read it",
                    file.display_path(),
                    join_words(&names)
                ),
            )
            .label("not read: no include matches this file")
            .with_help(format!(
                "add it to `include:` in {root_name}, or move it out of the workspace folder (or into a hidden folder)"
            )),
        );
        not_included.push(id);
    }
    Ok(Loaded {
        sources,
        root,
        root_dir,
        workspace: Some(workspace),
        findings,
        unread,
        not_included,
    })
}

/// `a`, `a and b`, `a, b and c`.
fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A pimplan section a file holds: its name and the byte range of its key.
type Section = (&'static str, std::ops::Range<usize>);

/// The top-level keys that make a YAML file a pimplan file.
const SECTIONS: [&str; 4] = ["principals", "admins", "groups", "assignments"];

/// The pimplan sections a file's text holds, with the byte range of each key, found without
/// parsing: a line that starts (at column 0) with one of [`SECTIONS`], bare or quoted,
/// followed by optional blanks and a `:`.
fn sections_in(text: &str) -> Vec<Section> {
    let mut found: Vec<Section> = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let at = start;
        start += line.len();
        let (quote, rest) = match line.as_bytes().first() {
            Some(q @ (b'"' | b'\'')) => (Some(*q as char), &line[1..]),
            _ => (None, line),
        };
        for name in SECTIONS {
            let Some(after) = rest.strip_prefix(name) else {
                continue;
            };
            let after = match quote {
                Some(q) => match after.strip_prefix(q) {
                    Some(after) => after,
                    None => continue,
                },
                None => after,
            };
            if after.trim_start_matches([' ', '\t']).starts_with(':')
                && !found.iter().any(|(n, _)| *n == name)
            {
                let len = name.len() + if quote.is_some() { 2 } else { 0 };
                found.push((name, at..at + len));
            }
        }
    }
    found
}

/// The YAML files below `root_dir` that hold a pimplan section but are neither in `matched`
/// (as the include walk names them) nor, by real path, in `known` (the included files, the
/// root file and the state file). The walk is the include walk's, of `**/*`: hidden files and
/// folders are left out, each real folder is walked once, and a folder reached through a link
/// that leads out of the workspace is not entered; a file whose link leads out is skipped.
/// A folder below that holds a `pimplan.yaml` this workspace does not include is another
/// workspace's root and is left out with everything below it; a file reached through a link
/// to a folder of the workspace is reported once, by its path without the link.
/// What the walk cannot read, and a file that cannot be read or is larger than
/// [`MAX_FILE_BYTES`], is skipped: it is not part of the workspace, and whether it holds
/// grants cannot be told. Only files that no include matched are read.
fn not_included_files(
    root_dir: &Path,
    root_path: &Path,
    matched: &std::collections::HashSet<PathBuf>,
    known: &std::collections::HashSet<PathBuf>,
) -> Vec<(SourceFile, Vec<Section>)> {
    let Ok(canonical_root) = std::fs::canonicalize(if root_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root_dir
    }) else {
        return Vec::new();
    };
    let include::Expansion::Walked { files, .. } =
        include::expand(&include::Disk, "**/*", root_dir, &canonical_root)
    else {
        return Vec::new();
    };
    let root_name = root_path.file_name();
    let mut out = Vec::new();
    // A link to a folder of the workspace (even to the workspace folder itself) names a
    // file again under another path: each real file is reported once, by the path that
    // goes through no link when there is one.
    let is_yaml = |path: &Path| {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    };
    let direct: std::collections::HashSet<PathBuf> = files
        .iter()
        .filter(|path| is_yaml(path) && !matched.contains(*path))
        .filter_map(|path| {
            let canonical = std::fs::canonicalize(path).ok()?;
            let plain = canonical_root.join(path.strip_prefix(root_dir).ok()?);
            (canonical == plain).then_some(canonical)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for path in files {
        if !is_yaml(&path) || matched.contains(&path) {
            continue;
        }
        // The root file, as the walk names it, without a look at the disk.
        if path.parent() == Some(root_dir) && path.file_name() == root_name {
            continue;
        }
        let Ok(canonical) = std::fs::canonicalize(&path) else {
            continue;
        };
        if known.contains(&canonical) || !canonical.starts_with(&canonical_root) {
            continue;
        }
        let through_link =
            canonical_root.join(path.strip_prefix(root_dir).unwrap_or(&path)) != canonical;
        if another_workspace(&canonical, &canonical_root, known)
            || (through_link && direct.contains(&canonical))
            || !seen.insert(canonical)
        {
            continue;
        }
        let Ok(bytes) = crate::fs::read_bounded(&path, MAX_FILE_BYTES as u64) else {
            continue;
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let text = String::from_utf8_lossy(bytes).into_owned();
        let sections = sections_in(&text);
        if !sections.is_empty() {
            out.push((SourceFile::new(path, text), sections));
        }
    }
    out
}

/// Whether `file` (a real path below `root`) is in a folder below `root` that holds a
/// `pimplan.yaml` this workspace does not include: that folder is the root of another
/// workspace (an environment of its own, `envs/prod/`), and its files are that workspace's,
/// not strays of this one.
fn another_workspace(file: &Path, root: &Path, known: &std::collections::HashSet<PathBuf>) -> bool {
    file.ancestors()
        .skip(1)
        .take_while(|dir| *dir != root && dir.starts_with(root))
        .map(|dir| dir.join("pimplan.yaml"))
        .any(|other| other.is_file() && !known.contains(&other))
}

#[cfg(test)]
mod tests {
    use super::sections_in;

    #[test]
    fn sections_are_top_level_keys_bare_or_quoted() {
        let text = "# assignments: a comment\nassignments_old: x\n  groups: nested\n\"groups' : mismatched\nstages: [a]\r\n'admins' :\r\n  - x\n\"groups\":\nadmins: again\nprincipals:";
        let found: Vec<(&str, &str)> = sections_in(text)
            .into_iter()
            .map(|(name, at)| (name, &text[at]))
            .collect();
        assert_eq!(
            found,
            [
                ("admins", "'admins'"),
                ("groups", "\"groups\""),
                ("principals", "principals")
            ]
        );
        assert!(sections_in("version: 1\nrules: {}\n").is_empty());
    }
}
