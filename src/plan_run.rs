//! The plan run: lint alongside the state read, refresh, diff, the plan-time rules and
//! their suppression pass. It drives the stages below it (`lint`, `plan`, `rules`,
//! `suppress`, `state`); the plan itself is data (`plan`).

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::thread::{Scope, ScopedJoinHandle};

use chrono::{DateTime, FixedOffset};

use crate::clock::Clock;
use crate::config::model::{StateLocation, Target, Workspace};
use crate::finding::{Finding, Severity};
use crate::lint::{LintRun, lint_with};
use crate::load::LoadError;
use crate::plan::{
    Change, Destination, FORMAT_VERSION, Plan, PlanFinding, StateRef, desired, diff, mark_not_sent,
};
use crate::rules::{self, PlanContext};
use crate::source::{FileId, SourceFile, Span};
use crate::state::backend::{StateBackend, StateLock};
use crate::state::{self, LoadedState, State, StateError};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("refreshing from the service failed: {0}")]
    Refresh(String),
    #[error("no state at {0}; run `pimplan import`")]
    NoState(String),
    #[error(transparent)]
    StatePath(#[from] crate::config::state_file::StatePathError),
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
}

/// Reads the live service and returns the state as the service has it, with a line per
/// out-of-band change (`plan --refresh`).
pub type Refresh<'a> = &'a mut dyn FnMut(
    &crate::config::model::Workspace,
    &state::State,
) -> Result<(state::State, Vec<String>), String>;

/// Everything a plan run produced.
pub struct PlanRun {
    /// The lint run, its findings extended with the plan-time ones (sorted).
    pub lint: LintRun,
    /// Where the state is; `None` when the root file's `state:` is refused (a finding says
    /// why) or the workspace could not be read.
    pub state_location: Option<StateLocation>,
    /// `None` when lint errors stopped the run before the state was read.
    pub state: Option<LoadedState>,
    /// `None` when an error-level finding stopped the plan.
    pub plan: Option<Plan>,
    /// Out-of-band changes found by a refresh (`None` without `--refresh`).
    pub drift: Option<Vec<String>>,
    /// The baseline used (`--baseline`, else the root file's `baseline:`), if any.
    pub baseline: Option<PathBuf>,
    /// The lint findings it left out: they do not stop the plan (and are not in `lint`).
    pub baselined: Vec<crate::finding::Finding>,
}

impl PlanRun {
    /// A run stopped before the plan: by lint errors (before the state is read), or by a
    /// baselined error about what the plan would change.
    fn without_plan(
        lint: LintRun,
        state_location: Option<StateLocation>,
        state: Option<LoadedState>,
        drift: Option<Vec<String>>,
        baseline: Option<PathBuf>,
        baselined: Vec<Finding>,
    ) -> Self {
        PlanRun {
            lint,
            state_location,
            state,
            plan: None,
            drift,
            baseline,
            baselined,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.lint
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error)
    }
}

/// Fingerprint of the workspace: every file's path (relative to the root file's folder, so
/// that how `-c` was spelled does not matter) and bytes, in load order. (Call it before the
/// state file joins the sources.)
pub fn workspace_checksum(lint: &LintRun) -> String {
    let mut all = String::new();
    for (path, sum) in file_checksums(lint) {
        all.push_str(&path);
        all.push('\0');
        all.push_str(&sum);
        all.push('\0');
    }
    state::checksum(&all)
}

/// Every workspace file's path (relative to the root file's folder) and fingerprint, in
/// load order.
fn file_checksums(lint: &LintRun) -> Vec<(String, String)> {
    // `./ws/a.yaml` and `ws/a.yaml` are one file.
    let clean = |p: &Path| -> PathBuf {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect()
    };
    let root_dir = clean(&lint.loaded.root_dir);
    lint.loaded
        .sources
        .iter()
        .map(|(_, file)| {
            let path = clean(&file.path);
            let relative = path.strip_prefix(&root_dir).unwrap_or(&path);
            (
                relative.to_string_lossy().replace('\\', "/"),
                state::checksum(&file.text),
            )
        })
        .collect()
}

/// The fingerprint of each workspace file, by path: what a stale plan names as changed.
pub fn workspace_files(lint: &LintRun) -> BTreeMap<String, String> {
    file_checksums(lint).into_iter().collect()
}

/// How a plan names its baseline: relative to the root file's folder when inside it (as
/// `baseline:` is written), else its full path, so that `apply PLANFILE` finds it from any
/// folder.
fn recorded_baseline(path: &Path, root_dir: &Path) -> String {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let root_dir = if root_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root_dir
    };
    let root = std::fs::canonicalize(root_dir).unwrap_or_else(|_| root_dir.to_path_buf());
    full.strip_prefix(&root)
        .unwrap_or(&full)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Where `apply PLANFILE` finds the baseline `recorded` in the plan, for the root file in
/// `root_dir`.
pub fn recorded_baseline_path(recorded: &str, root_dir: &Path) -> PathBuf {
    root_dir.join(recorded)
}

/// The findings of a plan run as the plan carries them.
fn carried_findings(lint: &LintRun, findings: &[crate::finding::Finding]) -> Vec<PlanFinding> {
    let sources = &lint.loaded.sources;
    findings
        .iter()
        .map(|f| {
            let at = sources.line_col(f.primary.span);
            PlanFinding {
                code: f.rule.code.to_owned(),
                name: f.rule.name.to_owned(),
                severity: f.severity.as_str().to_owned(),
                message: f.message.clone(),
                help: f.help_text().to_owned(),
                file: sources.path(f.primary.span.file),
                line: at.line,
                column: at.column,
            }
        })
        .collect()
}

/// Where the root file says the state is, if the root file parses and its `state:` is taken
/// (else the lint reports why). The root file is read with the loader's bounds: a FIFO or
/// `/dev/zero` is left to the lint to refuse.
pub fn early_state_location(root: &Path) -> Option<crate::config::model::StateLocation> {
    let text = crate::fs::read_bounded_text(root, crate::load::MAX_FILE_BYTES as u64).ok()?;
    let file = SourceFile::new(root.to_path_buf(), text);
    let raw: crate::config::raw::RawFile = crate::source::yaml::parse(FileId(0), &file).ok()??;
    let dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
    crate::config::state_file::state_location(&dir, raw.state.as_ref()).ok()
}

/// Where a plan run reads the state: its backend, without the lock (`plan`), or under the
/// lock the caller holds (`apply`), which fixes the version its writes are fenced on.
pub enum StateSource<'a> {
    Backend(&'a dyn StateBackend),
    Locked(&'a mut dyn StateLock),
}

impl StateSource<'_> {
    fn read(self) -> Result<LoadedState, StateError> {
        match self {
            StateSource::Backend(backend) => state::read_from(backend),
            StateSource::Locked(lock) => state::read_locked(lock, true),
        }
    }
}

/// The span of `"key": "<key>"` in the state file's text.
fn state_entry_span(id: FileId, text: &str, key: &str) -> Option<Span> {
    let quoted = serde_json::to_string(key).ok()?;
    let needle = format!("\"key\": {quoted}");
    let at = text.find(&needle)? + "\"key\": ".len();
    Some(Span::new(id, at, at + quoted.len()))
}

/// [`make_with`] without a refresh.
pub fn make(
    root: &Path,
    source: Option<StateSource<'_>>,
    clock: &Clock,
    allow_mass_removal: bool,
    target: Option<Target>,
    baseline: Option<&Path>,
) -> Result<PlanRun, PlanError> {
    make_with(
        root,
        source,
        clock,
        allow_mass_removal,
        target,
        baseline,
        None,
    )
}

/// Where the changes of a plan for `ws` go: `target` (the command line) or the root file's.
pub fn destination(ws: &Workspace, target: Option<Target>) -> Destination {
    match target.unwrap_or_else(|| ws.settings.target()) {
        Target::State => Destination::State,
        Target::Graph => Destination::Graph {
            // The sign-in takes AZURE_TENANT_ID first (`graph::client::from_env`).
            tenant: std::env::var("AZURE_TENANT_ID")
                .ok()
                .filter(|t| !t.is_empty())
                .or_else(|| ws.settings.tenant_id.as_ref().map(|t| t.value.clone()))
                .or_else(|| ws.settings.tenant_domain.as_ref().map(|t| t.value.clone())),
        },
    }
}

/// `target`: where the changes go, when the command line says (else the root file's
/// `target:`). A plan for Microsoft Graph is made from what the service is known to hold
/// ([`state::State::service_view`]), so that it sends what applies to the state alone only
/// recorded; a plan for the state alone from what the state records.
///
/// `baseline` (`--baseline`, else the root file's `baseline:`) leaves out the lint findings it
/// records, as `lint --baseline` does: they do not stop the plan. Locked findings (what could
/// not be read) are never left out, nor are the plan's own findings (PIM7xx), which compare
/// the workspace with the state: a baseline records what `lint` found. A baselined error
/// about an assignment or a group's policy that the plan would create or change counts
/// again and stops the plan: a baseline keeps what was there, it lets no change through.
///
/// `source`: where the state is read, alongside the lint (`None`: the root file's `state:`
/// could not be read early; the lint says why).
pub fn make_with(
    root: &Path,
    source: Option<StateSource<'_>>,
    clock: &Clock,
    allow_mass_removal: bool,
    target: Option<Target>,
    baseline: Option<&Path>,
    refresh: Option<Refresh<'_>>,
) -> Result<PlanRun, PlanError> {
    std::thread::scope(|scope| {
        let early = EarlyRead::start(scope, source);
        run_plan(
            early,
            root,
            clock,
            allow_mass_removal,
            target,
            baseline,
            refresh,
        )
    })
}

/// [`make_with`], with the state read started.
fn run_plan(
    early: EarlyRead<'_, '_>,
    root: &Path,
    clock: &Clock,
    allow_mass_removal: bool,
    target: Option<Target>,
    baseline: Option<&Path>,
    refresh: Option<Refresh<'_>>,
) -> Result<PlanRun, PlanError> {
    let mut lint = lint_with(root, clock, &|location| early.applied_keys(location))?;
    let baseline = crate::baseline::chosen(baseline, &lint.loaded);
    let (baselined, subjects) = leave_out_baselined(&mut lint, baseline.as_deref())?;
    let Some(ws) = lint.loaded.workspace.as_ref() else {
        return Ok(PlanRun::without_plan(
            lint, None, None, None, baseline, baselined,
        ));
    };
    let location = ws.settings.state_location(&lint.loaded.root_dir);
    if lint.findings.iter().any(|f| f.severity == Severity::Error) {
        return Ok(PlanRun::without_plan(
            lint,
            location.ok(),
            None,
            None,
            baseline,
            baselined,
        ));
    }
    // (A refused `state:` is an error-level finding above; this is for the record.)
    let location = location?;
    let state_name = state::backend::describe(&location);
    let loaded_state = early.state(&location)?;
    let destination = destination(ws, target);
    let to_graph = matches!(destination, Destination::Graph { .. });
    let (refreshed, drift) = state_to_compare(ws, &loaded_state, &state_name, to_graph, refresh)?;
    let diff_state = refreshed.as_ref().unwrap_or(&loaded_state.state);
    let now = clock.now();
    let checksum = workspace_checksum(&lint);
    let files = workspace_files(&lint);
    let desired = desired(ws);
    let mut changes = diff(&desired, diff_state, now);
    if to_graph {
        mark_not_sent(&mut changes, &loaded_state.state);
    }
    let (revived, baselined) = revive_baselined(&changes, baselined, &subjects);
    if !revived.is_empty() {
        lint.findings.extend(revived);
        crate::lint::sort(&lint.loaded.sources, &mut lint.findings);
        let state = Some(loaded_state);
        return Ok(PlanRun::without_plan(
            lint,
            Some(location),
            state,
            drift,
            baseline,
            baselined,
        ));
    }

    // Findings about entries no longer in the files point into the state file.
    let state_file = StateFile::of(&loaded_state, lint.loaded.sources.len());
    let entry = |key: &str| state_file.entry_span(key);
    let after_graph = lint.graph.take();
    let privilege_delta = privilege_delta(ws, &desired, diff_state, &changes, now, after_graph);
    let cx = PlanContext {
        changes: &changes,
        desired: &desired,
        workspace: ws,
        state: diff_state,
        now,
        allow_mass_removal,
        state_entry: &entry,
        plan_span: plan_span(ws, lint.loaded.root),
        privilege_delta: privilege_delta.as_ref(),
    };
    let plan_findings = rules::check_plan(&cx, |r| lint.selection.enabled(r));
    // The state file joins the sources only when a finding points into it.
    if state_file.pointed_at(&plan_findings) {
        lint.loaded.sources.add_extra(SourceFile::new(
            PathBuf::from(&state_name),
            state_file.text.to_owned(),
        ));
    }
    let plan_findings = suppress_plan_findings(&lint, now, plan_findings);
    let stopped = plan_findings.iter().any(|f| f.severity == Severity::Error);
    lint.findings.extend(plan_findings);
    crate::lint::sort(&lint.loaded.sources, &mut lint.findings);
    let plan = (!stopped).then(|| Plan {
        format_version: FORMAT_VERSION,
        created_at: now,
        state: state_ref(&loaded_state),
        workspace_checksum: checksum,
        workspace_files: files,
        target: Some(destination),
        changes,
        findings: carried_findings(&lint, &lint.findings),
        baseline: baseline
            .as_deref()
            .map(|p| recorded_baseline(p, &lint.loaded.root_dir)),
        baselined: carried_findings(&lint, &baselined),
        privilege_delta,
    });
    Ok(PlanRun {
        lint,
        state_location: Some(location),
        state: Some(loaded_state),
        plan,
        drift,
        baseline,
        baselined,
    })
}

/// The plan's privilege delta: the reach of the privileged roles with the state's grants
/// (`state`, the one the plan compares with) against the files', the facts from the files on
/// both sides (privilege-paths §A.10). `None` for a plan without changes.
fn privilege_delta(
    ws: &Workspace,
    desired: &crate::plan::Desired<'_>,
    state: &State,
    changes: &[Change],
    now: DateTime<FixedOffset>,
    after_graph: Option<crate::paths::PrivilegeGraph>,
) -> Option<crate::paths::PrivilegeDelta> {
    // PIMPLAN_BENCH_NO_DELTA: for bench/run.sh only (the "plan, no delta" row, A19's ratio),
    // the one place it is read; not a setting, undocumented for users.
    if changes.is_empty() || std::env::var_os("PIMPLAN_BENCH_NO_DELTA").is_some() {
        return None;
    }
    let before = crate::paths::Grants::from_state(state);
    let after = desired.grants(now);
    crate::paths::privilege_delta(&crate::paths::delta::DeltaInput {
        workspace: ws,
        before: &before,
        after: &after,
        changes,
        at: now,
        after_graph,
        options: crate::paths::BuildOptions {
            eligible_reset_protection: match ws.settings.paths.eligible_reset_protection() {
                crate::config::model::ResetProtection::Unprotected => {
                    crate::paths::ResetProtection::Unprotected
                }
                crate::config::model::ResetProtection::Protected => {
                    crate::paths::ResetProtection::Protected
                }
            },
        },
    })
}

/// The state read started before the lint, on a thread of its own: the state of a large
/// tenant takes as long to read as a good part of the workspace. Its backend comes from a
/// first look at the root file (the lint reads it again, properly). Joined by the first that
/// needs it: the lint's question for the applied assignments, or the plan.
struct EarlyRead<'scope, 'env> {
    thread: RefCell<Option<ScopedJoinHandle<'scope, StateRead>>>,
    read: OnceCell<Option<StateRead>>,
    _env: std::marker::PhantomData<&'env ()>,
}

/// What reading the state gave.
type StateRead = Result<LoadedState, StateError>;

impl<'scope, 'env> EarlyRead<'scope, 'env> {
    fn start(scope: &'scope Scope<'scope, 'env>, source: Option<StateSource<'env>>) -> Self {
        let thread = source.map(|source| scope.spawn(move || source.read()));
        EarlyRead {
            thread: RefCell::new(thread),
            read: OnceCell::new(),
            _env: std::marker::PhantomData,
        }
    }

    fn joined(&self) -> Option<&StateRead> {
        self.read
            .get_or_init(|| self.thread.take().and_then(|h| h.join().ok()))
            .as_ref()
    }

    /// The applied assignments of the state, for the lint: from this read, else read from
    /// `location` now; none when it cannot be read.
    fn applied_keys(&self, location: &StateLocation) -> HashSet<String> {
        match self.joined() {
            Some(read) => read
                .as_ref()
                .map(|s| s.state.assignment_keys())
                .unwrap_or_default(),
            None => state::applied_keys(location),
        }
    }

    /// The state: this read's, else read from `location` now.
    fn state(self, location: &StateLocation) -> Result<LoadedState, StateError> {
        self.joined();
        match self.read.into_inner().flatten() {
            Some(read) => read,
            None => state::read_from(state::backend::open(location).as_ref()),
        }
    }
}

/// Leave out of `lint` the findings the baseline at `path` records; they come back with
/// the subject each is about.
fn leave_out_baselined(
    lint: &mut LintRun,
    path: Option<&Path>,
) -> Result<(Vec<Finding>, Vec<String>), PlanError> {
    Ok(match path {
        Some(path) => crate::baseline::apply_to_run(lint, path)?
            .into_iter()
            .unzip(),
        None => (Vec::new(), Vec::new()),
    })
}

/// The state the plan compares the workspace with, when it is not the state as recorded:
/// the service's (`--refresh`, with the drift found), or what the service is known to hold
/// (a plan for Microsoft Graph while the state records changes not sent).
fn state_to_compare(
    ws: &Workspace,
    loaded: &LoadedState,
    name: &str,
    to_graph: bool,
    refresh: Option<Refresh<'_>>,
) -> Result<(Option<State>, Option<Vec<String>>), PlanError> {
    match refresh {
        Some(_) if !loaded.exists() => Err(PlanError::NoState(name.to_owned())),
        Some(refresh) => {
            // The service is compared with what it is known to hold.
            let (live, lines) =
                refresh(ws, &loaded.state.service_view()).map_err(PlanError::Refresh)?;
            Ok((Some(live), Some(lines)))
        }
        None if to_graph && loaded.state.has_unsent() => {
            Ok((Some(loaded.state.service_view()), None))
        }
        None => Ok((None, None)),
    }
}

/// A baseline keeps what was there when pimplan was adopted; it does not let a change
/// through: a baselined error about an entry this plan would make or alter counts again,
/// and stops the plan like any error. Returns those (with a help that says so) and the
/// findings that stay baselined.
fn revive_baselined(
    changes: &[Change],
    baselined: Vec<Finding>,
    subjects: &[String],
) -> (Vec<Finding>, Vec<Finding>) {
    let changed: HashMap<String, &str> = changes
        .iter()
        .filter_map(|c| Some((crate::baseline::changed_subject(c)?, c.address.as_str())))
        .collect();
    let mut revived = Vec::new();
    let mut kept = Vec::new();
    for (finding, subject) in baselined.into_iter().zip(subjects) {
        match changed.get(subject) {
            Some(address) if finding.severity == Severity::Error => {
                let help = format!(
                    "the baseline records this finding, but this plan would change `{address}`, which it is about: a baseline keeps what was there when pimplan was adopted and lets no change through; {}",
                    finding.help_text()
                );
                revived.push(finding.with_help(help));
            }
            _ => kept.push(finding),
        }
    }
    (revived, kept)
}

/// The state file as plan findings point into it: the id it gets if it joins the sources
/// (after the `files` workspace files), and its text.
struct StateFile<'a> {
    id: Option<FileId>,
    text: &'a str,
}

impl<'a> StateFile<'a> {
    fn of(loaded: &'a LoadedState, files: usize) -> Self {
        StateFile {
            id: loaded
                .text
                .as_ref()
                .map(|_| FileId(u32::try_from(files).unwrap_or(u32::MAX))),
            text: loaded.text.as_deref().unwrap_or_default(),
        }
    }

    fn entry_span(&self, key: &str) -> Option<Span> {
        self.id.and_then(|id| state_entry_span(id, self.text, key))
    }

    /// Whether a finding points into the state file.
    fn pointed_at(&self, findings: &[Finding]) -> bool {
        self.id.is_some_and(|id| {
            findings
                .iter()
                .any(|f| f.primary.span.file == id || f.secondary.iter().any(|l| l.span.file == id))
        })
    }
}

/// Where a finding about the plan as a whole points: the root file's `state:`, else its top.
fn plan_span(ws: &Workspace, root: FileId) -> Span {
    ws.settings
        .state
        .as_ref()
        .map_or(Span::new(root, 0, 0), |s| s.span)
}

/// Plan-time findings about assignments still in the files can be silenced in place, like
/// any other; the lint pass left their ignores alone. Then `rules:` sets their severities.
fn suppress_plan_findings(
    lint: &LintRun,
    now: DateTime<FixedOffset>,
    findings: Vec<Finding>,
) -> Vec<Finding> {
    let ran =
        |r: &rules::Rule| matches!(r.check, rules::Check::Plan(_)) && lint.selection.enabled(r);
    let quiet: Vec<_> = lint
        .loaded
        .unread
        .iter()
        .chain(&lint.loaded.not_included)
        .copied()
        .collect();
    lint.selection.apply(crate::suppress::apply(
        &lint.loaded.sources,
        now.date_naive(),
        findings,
        &crate::suppress::Pass {
            ran: &ran,
            unread: &quiet,
            report_malformed: false,
            text: &lint.text,
        },
    ))
}

/// The state a plan was made against, for `apply` to check it is still the one.
fn state_ref(loaded: &LoadedState) -> StateRef {
    StateRef {
        lineage: loaded.exists().then(|| loaded.state.lineage.clone()),
        serial: loaded.state.serial,
        checksum: loaded.checksum(),
        version: loaded.version.clone(),
    }
}
