//! Where the state is: the one place that turns the root file's `state:` into a
//! [`StateLocation`], for the loader (which reports a bad one), the planner, `apply`'s early
//! lock and the commands that read only the root file.
//!
//! A local state is written by every apply, so a `state:` that leads out of the workspace
//! folder would let a change to `pimplan.yaml` (a pull request) make an apply write
//! anywhere (`/etc/…`, `../../other/…`, `/dev/zero`). It is refused, as an include outside
//! the folder is: an absolute path, a `..`, or a path that a link leads outside.
//!
//! A remote state (`state: { backend: azurerm, … }` or `azurerm://ACCOUNT/CONTAINER/KEY`)
//! is checked against Azure's naming rules, and its endpoint against the rule every endpoint
//! a credential goes to follows (`http::endpoint`): a mistake is a lint finding, not a
//! request to a wrong place.

use std::path::{Path, PathBuf};

use super::model::{AzureBlobLocation, Settings, StateLocation, StorageAuth};
use super::raw::{RawRemoteState, RawState};
use crate::source::Span;
use crate::source::yaml::Spanned;

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
    /// A remote state's setting is refused: `span` is the key or value at fault (`None`:
    /// the `state:` value as a whole).
    #[error("{message}")]
    Remote {
        message: String,
        label: String,
        help: String,
        span: Option<Span>,
    },
}

impl StatePathError {
    /// What is wrong, in a few words (the label at `state:`).
    pub fn label(&self) -> &str {
        match self {
            StatePathError::NoFile { .. } => "names no file",
            StatePathError::Outside { .. } | StatePathError::Link { .. } => "outside the workspace",
            StatePathError::Unresolved { .. } => "cannot be resolved",
            StatePathError::Remote { label, .. } => label,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &str {
        match self {
            StatePathError::Remote { help, .. } => help,
            StatePathError::NoFile { file, .. }
            | StatePathError::Outside { file, .. }
            | StatePathError::Link { file, .. }
            | StatePathError::Unresolved { file, .. } => match file {
                SettingsFile::State => {
                    "every apply writes the state, so it must stay below the root file's folder (a change to pimplan.yaml must not make an apply write anywhere else); give a path below it, e.g. the default `pimplan.state.json`, or a remote state (`backend: azurerm`)"
                }
                SettingsFile::Baseline => {
                    "the baseline decides which findings fail a run, so it is kept with the workspace, as the state is; give a path below the root file's folder, e.g. `pimplan.baseline.json`"
                }
            },
        }
    }

    /// Where it points, when finer than the setting as a whole.
    pub fn span(&self) -> Option<Span> {
        match self {
            StatePathError::Remote { span, .. } => *span,
            _ => None,
        }
    }
}

impl Settings {
    /// Where the state of a workspace whose root file is in `root_dir` is: see
    /// [`state_location`].
    pub fn state_location(&self, root_dir: &Path) -> Result<StateLocation, StatePathError> {
        state_location(root_dir, self.state.as_ref())
    }

    /// Every problem of `state:` (none when [`Settings::state_location`] takes it), for the
    /// loader to report them all.
    pub fn state_problems(&self, root_dir: &Path) -> Vec<StatePathError> {
        match locate(root_dir, self.state.as_ref()) {
            Ok(_) => Vec::new(),
            Err(problems) => problems,
        }
    }

    /// The baseline the root file names (`baseline:`), if it names one: see [`below_root`].
    pub fn baseline_file(&self, root_dir: &Path) -> Option<Result<PathBuf, StatePathError>> {
        self.baseline
            .as_ref()
            .map(|b| below_root(root_dir, SettingsFile::Baseline, &b.value))
    }
}

/// The local state file named by `state` (a path; `None` for the default), relative to the
/// root file's folder `root_dir`, or why it is refused.
pub fn state_file(root_dir: &Path, state: Option<&str>) -> Result<PathBuf, StatePathError> {
    below_root(
        root_dir,
        SettingsFile::State,
        state.unwrap_or(Settings::DEFAULT_STATE),
    )
}

/// Where the state named by `state` (the root file's `state:`, `None` for the default) is,
/// for the root file in `root_dir`: a local file ([`state_file`]) or a blob, or the first
/// reason it is refused.
pub fn state_location(
    root_dir: &Path,
    state: Option<&Spanned<RawState>>,
) -> Result<StateLocation, StatePathError> {
    locate(root_dir, state).map_err(|mut problems| problems.swap_remove(0))
}

/// [`state_location`], with every reason it is refused (never an empty list).
fn locate(
    root_dir: &Path,
    state: Option<&Spanned<RawState>>,
) -> Result<StateLocation, Vec<StatePathError>> {
    match state.map(|s| (&s.value, s.span)) {
        None => state_file(root_dir, None)
            .map(StateLocation::Local)
            .map_err(|e| vec![e]),
        Some((RawState::Text(text), span)) => match text.strip_prefix(SHORTHAND) {
            Some(rest) => shorthand(rest, span),
            None => state_file(root_dir, Some(text))
                .map(StateLocation::Local)
                .map_err(|e| vec![e]),
        },
        Some((RawState::Remote(remote), span)) => mapping(remote, span),
    }
}

/// How the string form names a blob: `azurerm://ACCOUNT/CONTAINER/KEY`.
pub const SHORTHAND: &str = "azurerm://";

/// Where a remote state's settings were written: the root file's `state:`, or the flags of
/// `state migrate` (`--to`, `--endpoint`, `--auth`). The checks are the same; only the
/// messages name the setting as it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Yaml,
    Flags,
}

/// One setting of a remote state as written: its key (for messages), value and span.
struct Field {
    name: &'static str,
    value: String,
    span: Span,
    origin: Origin,
}

impl Field {
    fn of(name: &'static str, value: &Spanned<String>) -> Self {
        Field {
            name,
            value: value.value.clone(),
            span: value.span,
            origin: Origin::Yaml,
        }
    }

    /// How a message names the setting and its value.
    fn shown(&self) -> String {
        match (self.origin, self.name) {
            (Origin::Yaml, name) => format!("`state.{name}: {}`", self.value),
            (Origin::Flags, "endpoint") => format!("`--endpoint {}`", self.value),
            (Origin::Flags, name) => format!("the {name} `{}` of `--to`", self.value),
        }
    }
}

fn problem(message: String, label: &str, help: &str, span: Span) -> StatePathError {
    StatePathError::Remote {
        message,
        label: label.to_owned(),
        help: help.to_owned(),
        span: Some(span),
    }
}

/// `state: azurerm://ACCOUNT/CONTAINER/KEY` (`rest`: after the scheme), with the mapping's
/// defaults; every problem points at the value.
fn shorthand(rest: &str, span: Span) -> Result<StateLocation, Vec<StatePathError>> {
    shorthand_with(rest, span, Origin::Yaml, None, StorageAuth::Entra)
}

/// [`shorthand`], with an endpoint and a way to authorize given beside it (`state migrate`'s
/// `--endpoint` and `--auth`).
fn shorthand_with(
    rest: &str,
    span: Span,
    origin: Origin,
    endpoint: Option<Field>,
    auth: StorageAuth,
) -> Result<StateLocation, Vec<StatePathError>> {
    let mut parts = rest.splitn(3, '/');
    let mut next = |name| Field {
        name,
        value: parts.next().unwrap_or_default().to_owned(),
        span,
        origin,
    };
    let (account, container, key) = (next("account"), next("container"), next("key"));
    if let Some(missing) = [&account, &container, &key]
        .into_iter()
        .find(|f| f.value.is_empty())
    {
        let written = match origin {
            Origin::Yaml => "state:",
            Origin::Flags => "--to",
        };
        return Err(vec![problem(
            format!("`{written} {SHORTHAND}{rest}` names no {}", missing.name),
            &format!("no {}", missing.name),
            "write `azurerm://ACCOUNT/CONTAINER/KEY` (e.g. `azurerm://contosopimstate/pimplan-state/prod/pimplan.state.json`), or the mapping form with `backend: azurerm`",
            span,
        )]);
    }
    blob(account, container, key, endpoint, auth, true)
}

/// Where `state migrate --to TARGET` moves the state, for the root file in `root_dir`:
/// `azurerm://ACCOUNT/CONTAINER/KEY`, with `endpoint` (`--endpoint`) and `auth` (`--auth`)
/// for the mapping's optional keys, checked as `state:` is; or a path, a local state file
/// below the root file's folder (as `state: PATH`). Every problem is returned.
pub fn migrate_target(
    root_dir: &Path,
    to: &str,
    endpoint: Option<&str>,
    auth: Option<&str>,
) -> Result<StateLocation, Vec<StatePathError>> {
    // No file holds the flags: a span is required, none is shown.
    let span = Span::new(crate::source::FileId(0), 0, 0);
    let flag = |name: &'static str, value: &str| Field {
        name,
        value: value.to_owned(),
        span,
        origin: Origin::Flags,
    };
    let Some(rest) = to.strip_prefix(SHORTHAND) else {
        if let Some(given) = [("--endpoint", endpoint), ("--auth", auth)]
            .into_iter()
            .find_map(|(name, v)| v.map(|_| name))
        {
            return Err(vec![StatePathError::Remote {
                message: format!(
                    "`{given}` is for a remote target, and `--to {to}` names a local state file"
                ),
                label: "not a remote target".to_owned(),
                help: "give `--to azurerm://ACCOUNT/CONTAINER/KEY` for a blob in Azure Storage, or leave out `--endpoint` and `--auth` for a local file".to_owned(),
                span: None,
            }]);
        }
        return state_file(root_dir, Some(to))
            .map(StateLocation::Local)
            .map_err(|e| vec![e]);
    };
    let auth = match auth {
        None => StorageAuth::Entra,
        Some(a) => storage_auth(&flag("auth", a)).map_err(|e| vec![e])?,
    };
    shorthand_with(
        rest,
        span,
        Origin::Flags,
        endpoint.map(|e| flag("endpoint", e)),
        auth,
    )
}

/// The lines to put in the root file for the state at `location` (the root file in
/// `root_dir`), as [`state_location`] reads them back: `state: PATH` for a local file, the
/// mapping (`backend: azurerm`, …) for a blob, with `endpoint:` and `auth:` only when
/// `with_endpoint` and `with_auth` say they were given (their defaults otherwise).
pub fn state_yaml(
    location: &StateLocation,
    root_dir: &Path,
    with_endpoint: bool,
    with_auth: bool,
) -> String {
    match location {
        StateLocation::Local(path) => {
            let relative = path.strip_prefix(root_dir).unwrap_or(path);
            format!("state: {}\n", yaml_scalar(&relative.to_string_lossy()))
        }
        StateLocation::AzureBlob(blob) => {
            let mut text = format!(
                "state:\n  backend: azurerm\n  account: {}\n  container: {}\n  key: {}\n",
                yaml_scalar(&blob.account),
                yaml_scalar(&blob.container),
                yaml_scalar(&blob.key)
            );
            if with_endpoint {
                text.push_str(&format!("  endpoint: {}\n", yaml_scalar(&blob.endpoint)));
            }
            if with_auth {
                let auth = match blob.auth {
                    StorageAuth::Entra => "entra",
                    StorageAuth::SharedKey => "shared_key",
                    StorageAuth::Sas => "sas",
                };
                text.push_str(&format!("  auth: {auth}\n"));
            }
            text
        }
    }
}

/// `value` as a YAML string: plain where it cannot be read as anything else, else quoted
/// (a JSON string is a YAML double-quoted one).
fn yaml_scalar(value: &str) -> String {
    let plain = value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-' | ':'))
        && !value.ends_with(':')
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        value.to_owned()
    } else {
        serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
    }
}

/// `state.auth` (or `--auth`): how requests to storage are authorized.
fn storage_auth(field: &Field) -> Result<StorageAuth, StatePathError> {
    match field.value.as_str() {
        "entra" => Ok(StorageAuth::Entra),
        "shared_key" => Ok(StorageAuth::SharedKey),
        "sas" => Ok(StorageAuth::Sas),
        other => Err(problem(
            format!(
                "{} is not a way to authorize requests to storage",
                match field.origin {
                    Origin::Yaml => format!("`state.auth: {other}`"),
                    Origin::Flags => format!("`--auth {other}`"),
                }
            ),
            "unknown `auth`",
            &crate::finding::spelling_help(
                other,
                &["entra", "shared_key", "sas"],
                "expected one of",
            ),
            field.span,
        )),
    }
}

/// `state: { backend: azurerm, … }`; `span`: the mapping, where a missing key is reported.
fn mapping(raw: &RawRemoteState, span: Span) -> Result<StateLocation, Vec<StatePathError>> {
    let mut problems = Vec::new();
    match &raw.backend {
        None => problems.push(problem(
            "missing required key `backend` in `state:`".to_owned(),
            "no `backend`",
            "add `backend: azurerm` (a blob in Azure Blob Storage), or give `state:` a path for a local state file",
            span,
        )),
        Some(b) if b.value == "azurerm" => {}
        Some(b) => problems.push(problem(
            format!("`state.backend: {}` is not a backend pimplan has", b.value),
            "unknown backend",
            &crate::finding::spelling_help(&b.value, &["azurerm"], "expected one of"),
            b.span,
        )),
    }
    let mut required = |name: &'static str, value: &Option<Spanned<String>>| match value {
        Some(v) => Some(Field::of(name, v)),
        None => {
            problems.push(problem(
                format!("missing required key `{name}` in `state:`"),
                &format!("no `{name}`"),
                match name {
                    "account" => "add `account:`, the storage account's name (e.g. `account: contosopimstate`)",
                    "container" => "add `container:`, the blob container (e.g. `container: pimplan-state`)",
                    _ => "add `key:`, the blob's name in the container (e.g. `key: prod/pimplan.state.json`)",
                },
                span,
            ));
            None
        }
    };
    let account = required("account", &raw.account);
    let container = required("container", &raw.container);
    let key = required("key", &raw.key);
    let auth = match &raw.auth {
        None => Some(StorageAuth::Entra),
        Some(a) => match storage_auth(&Field::of("auth", a)) {
            Ok(auth) => Some(auth),
            Err(e) => {
                problems.push(e);
                None
            }
        },
    };
    let endpoint = raw.endpoint.as_ref().map(|e| Field::of("endpoint", e));
    let snapshot = raw.snapshot.as_ref().is_none_or(|s| s.value);
    let (Some(account), Some(container), Some(key), Some(auth)) = (account, container, key, auth)
    else {
        // The names given are still checked, so that one run reports every problem.
        for (name, f) in [
            ("account", &raw.account),
            ("container", &raw.container),
            ("key", &raw.key),
        ] {
            if let Some(f) = f
                && let Err(e) = check_name(&Field::of(name, f))
            {
                problems.push(e);
            }
        }
        if let Some(e) = endpoint.as_ref().and_then(|e| base_url(e).err()) {
            problems.push(e);
        }
        return Err(problems);
    };
    match blob(account, container, key, endpoint, auth, snapshot) {
        Ok(location) if problems.is_empty() => Ok(location),
        Ok(_) => Err(problems),
        Err(more) => {
            problems.extend(more);
            Err(problems)
        }
    }
}

/// A blob location from its settings, each checked; every problem is returned.
fn blob(
    account: Field,
    container: Field,
    key: Field,
    endpoint: Option<Field>,
    auth: StorageAuth,
    snapshot: bool,
) -> Result<StateLocation, Vec<StatePathError>> {
    let problems: Vec<StatePathError> = [&account, &container, &key]
        .into_iter()
        .filter_map(|f| check_name(f).err())
        .chain(endpoint.as_ref().and_then(|e| base_url(e).err()))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let endpoint = match &endpoint {
        Some(e) => base_url(e).map_err(|e| vec![e])?,
        None => format!("https://{}.blob.core.windows.net", account.value),
    };
    Ok(StateLocation::AzureBlob(AzureBlobLocation {
        account: account.value,
        container: container.value,
        key: key.value,
        endpoint,
        auth,
        snapshot,
    }))
}

/// `state.endpoint` under the rule of every endpoint a credential goes to, without a
/// trailing `/`.
fn base_url(endpoint: &Field) -> Result<String, StatePathError> {
    let name = match endpoint.origin {
        Origin::Yaml => "state.endpoint",
        Origin::Flags => "--endpoint",
    };
    crate::http::Endpoint::base(name, &endpoint.value)
        .map(|e| e.as_str().to_owned())
        .map_err(|e| {
            problem(
                e.to_string(),
                "not a usable endpoint",
                "give the Blob service's https URL (default `https://ACCOUNT.blob.core.windows.net`, so `endpoint:` can be left out), or plain http to this machine only (Azurite: `http://127.0.0.1:10000/devstoreaccount1`)",
                endpoint.span,
            )
        })
}

/// Azure's rule for a storage account's name, a container's or a blob's (`field.name`).
fn check_name(field: &Field) -> Result<(), StatePathError> {
    let v = field.value.as_str();
    let (ok, what, rule, example) = match field.name {
        "account" => (
            (3..=24).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "a storage account name",
            "3–24 lowercase letters and digits",
            "contosopimstate",
        ),
        "container" => (
            (3..=63).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-')
                && !v.contains("--"),
            "a container name",
            "3–63 lowercase characters: letters, digits and single hyphens, starting and ending with a letter or digit",
            "pimplan-state",
        ),
        _ => (
            (1..=1024).contains(&v.chars().count())
                && !v.ends_with('/')
                && !v.ends_with('.')
                && !v.chars().any(char::is_control),
            "a blob name",
            "1–1024 characters without control characters, not ending with `/` or `.`",
            "prod/pimplan.state.json",
        ),
    };
    if ok {
        return Ok(());
    }
    Err(problem(
        format!("{} is not {what} ({rule})", field.shown()),
        &format!("not {what}"),
        &format!(
            "Azure Storage allows {rule}; e.g. `{}: {example}`",
            field.name
        ),
        field.span,
    ))
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

    fn at<T>(value: T) -> Spanned<T> {
        Spanned::new(value, Span::new(crate::source::FileId(0), 0, 0))
    }

    fn remote(endpoint: Option<&str>, auth: Option<&str>) -> Spanned<RawState> {
        let text = |v: &str| Some(at(v.to_owned()));
        at(RawState::Remote(Box::new(RawRemoteState {
            backend: text("azurerm"),
            account: text("acct"),
            container: text("ctr"),
            key: text("prod/pimplan.state.json"),
            endpoint: endpoint.and_then(text),
            auth: auth.and_then(text),
            snapshot: None,
        })))
    }

    /// B1, B2: the mapping with its defaults, and the shorthand, name the same blob; an
    /// endpoint given keeps no trailing `/`.
    #[test]
    fn a_remote_state_mapping_and_its_shorthand_are_the_same_blob() -> Result {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        let expected = StateLocation::AzureBlob(AzureBlobLocation {
            account: "acct".to_owned(),
            container: "ctr".to_owned(),
            key: "prod/pimplan.state.json".to_owned(),
            endpoint: "https://acct.blob.core.windows.net".to_owned(),
            auth: StorageAuth::Entra,
            snapshot: true,
        });
        assert_eq!(state_location(root, Some(&remote(None, None)))?, expected);
        let short = at(RawState::Text(
            "azurerm://acct/ctr/prod/pimplan.state.json".to_owned(),
        ));
        assert_eq!(state_location(root, Some(&short))?, expected);
        let azurite = state_location(
            root,
            Some(&remote(
                Some("http://127.0.0.1:10000/devstoreaccount1/"),
                Some("shared_key"),
            )),
        )?;
        let StateLocation::AzureBlob(blob) = azurite else {
            return Err("not a blob".into());
        };
        assert_eq!(blob.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(blob.auth, StorageAuth::SharedKey);
        // Plain http elsewhere, and a query (where a SAS token would go), are refused.
        for bad in [
            "http://contoso.example/x",
            "https://acct.blob.core.windows.net/?sv=1&sig=2",
            "ftp://127.0.0.1/",
        ] {
            let refused = state_location(root, Some(&remote(Some(bad), None)));
            assert!(
                matches!(&refused, Err(StatePathError::Remote { message, .. }) if message.contains("state.endpoint")),
                "{bad}: {refused:?}"
            );
        }
        Ok(())
    }

    /// `state migrate --to`: the shorthand with `--endpoint` and `--auth` is the mapping
    /// with those keys, and the YAML printed for it reads back as the same location; a bad
    /// one says what is wrong in the flags' words.
    #[test]
    fn a_migrate_target_is_checked_as_state_is_and_its_yaml_reads_back() -> Result {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        let target = migrate_target(
            root,
            "azurerm://acct/ctr/prod/pimplan.state.json",
            Some("http://127.0.0.1:10000/devstoreaccount1/"),
            Some("shared_key"),
        )
        .map_err(|e| format!("{e:?}"))?;
        let mapping = state_location(
            root,
            Some(&remote(
                Some("http://127.0.0.1:10000/devstoreaccount1"),
                Some("shared_key"),
            )),
        )?;
        assert_eq!(target, mapping);
        assert_eq!(
            state_yaml(&target, root, true, true),
            "state:\n  backend: azurerm\n  account: acct\n  container: ctr\n  key: prod/pimplan.state.json\n  endpoint: http://127.0.0.1:10000/devstoreaccount1\n  auth: shared_key\n"
        );
        assert_eq!(
            state_yaml(&target, root, false, false),
            "state:\n  backend: azurerm\n  account: acct\n  container: ctr\n  key: prod/pimplan.state.json\n"
        );
        let local = migrate_target(root, "s/x.json", None, None).map_err(|e| format!("{e:?}"))?;
        assert_eq!(local, StateLocation::Local(root.join("s/x.json")));
        assert_eq!(state_yaml(&local, root, false, false), "state: s/x.json\n");
        assert_eq!(yaml_scalar("a b: #c"), "\"a b: #c\"");
        assert_eq!(yaml_scalar("123"), "\"123\"");
        assert_eq!(yaml_scalar("true"), "\"true\"");
        for (to, endpoint, auth, said) in [
            (
                "azurerm://Acct/ctr/k",
                None,
                None,
                "the account `Acct` of `--to` is not",
            ),
            (
                "azurerm://acct//k",
                None,
                None,
                "`--to azurerm://acct//k` names no container",
            ),
            (
                "azurerm://acct/ctr/k",
                None,
                Some("key"),
                "`--auth key` is not",
            ),
            ("azurerm://acct/ctr/k", Some("ftp://x/"), None, "--endpoint"),
            (
                "x.json",
                None,
                Some("sas"),
                "`--auth` is for a remote target",
            ),
            (
                "../x.json",
                None,
                None,
                "points outside the workspace folder",
            ),
        ] {
            let problems = migrate_target(root, to, endpoint, auth)
                .err()
                .ok_or(format!("{to} was taken"))?;
            assert!(
                problems.iter().any(|p| p.to_string().contains(said)),
                "{to}: {problems:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn azure_names_are_checked_by_azures_rules() {
        let field = |name, value: &str| Field {
            name,
            value: value.to_owned(),
            span: Span::new(crate::source::FileId(0), 0, 0),
            origin: Origin::Yaml,
        };
        for ok in ["abc", "contosopimstate", "a1b2c3d4e5f6g7h8i9j0k1l2"] {
            assert!(check_name(&field("account", ok)).is_ok(), "{ok}");
        }
        for bad in ["ab", "Contoso", "con-toso", "a1b2c3d4e5f6g7h8i9j0k1l2x"] {
            assert!(check_name(&field("account", bad)).is_err(), "{bad}");
        }
        let long = "a".repeat(63);
        for ok in ["abc", "a-b", "pimplan-state-2", long.as_str()] {
            assert!(check_name(&field("container", ok)).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(64);
        for bad in ["AB", "ab", "-abc", "abc-", "a--b", "a_b", too_long.as_str()] {
            assert!(check_name(&field("container", bad)).is_err(), "{bad}");
        }
        let key = "k".repeat(1024);
        for ok in ["x", "prod/pimplan.state.json", "é", key.as_str()] {
            assert!(check_name(&field("key", ok)).is_ok(), "{ok}");
        }
        let too_long = "k".repeat(1025);
        for bad in ["", "prod/", "state.", "a\nb", too_long.as_str()] {
            assert!(check_name(&field("key", bad)).is_err(), "{bad}");
        }
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
