//! The plan, apply, state and force-unlock commands (`state list`, `show` and `rm` in
//! `cli_state.rs`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apply::{Fresh, StateExecutor, apply as apply_plan, check_fresh, settle_pending};
use crate::cli::{Arguments, PlanFormat, StateCommand, TargetArg, use_color, write_out};
use crate::clock::Clock;
use crate::config::model::Target;
use crate::exit::ExitStatus;
use crate::plan::Plan;
use crate::plan_run::{PlanRun, early_state_path, make};
use crate::render::human::HumanOptions;
use crate::render::{self};
use crate::state::{self, StateError, store};

pub(crate) fn root(args: &Arguments) -> PathBuf {
    args.config
        .clone()
        .unwrap_or_else(|| PathBuf::from("pimplan.yaml"))
}

fn clock(args: &Arguments) -> miette::Result<Clock> {
    Clock::from_flag(args.now.as_deref()).map_err(|e| miette::miette!("{e}"))
}

/// An error that ends plan or apply: printed, exit status 1.
pub(crate) fn fail(message: impl std::fmt::Display) -> ExitStatus {
    eprintln!("error: {message}");
    ExitStatus::Findings
}

/// The findings of a plan run, for a person.
fn findings_text(run: &PlanRun, args: &Arguments) -> String {
    let mut text = if run.lint.findings.is_empty() {
        String::new()
    } else {
        render::human::render(
            &run.lint.findings,
            &run.lint.loaded.sources,
            HumanOptions {
                color: use_color(args.color),
                width: 100,
            },
            true,
        )
    };
    // What the baseline left out is listed too, as such: it does not stop the plan.
    if let Some(path) = &run.baseline
        && !args.quiet
    {
        let list = crate::baseline::human_list(&run.baselined, &run.lint.loaded.sources, path);
        if !list.is_empty() {
            text.push_str(&list);
            text.push('\n');
        }
    }
    text
}

pub struct PlanOptions<'a> {
    pub out_file: Option<&'a Path>,
    /// `--baseline`: instead of the root file's `baseline:`.
    pub baseline: Option<&'a Path>,
    pub format: PlanFormat,
    pub detailed: bool,
    pub allow_mass_removal: bool,
    pub refresh: bool,
    pub target: Option<TargetArg>,
}

pub fn plan(
    args: &Arguments,
    options: &PlanOptions<'_>,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let &PlanOptions {
        out_file,
        baseline,
        format,
        detailed,
        allow_mass_removal,
        refresh,
        target,
    } = options;
    let clock = clock(args)?;
    let mut refresher = crate::cli_graph::refresher(false, clock.now());
    let refresh_hook: Option<crate::plan_run::Refresh<'_>> =
        if refresh { Some(&mut refresher) } else { None };
    let run = match crate::plan_run::make_with(
        &root(args),
        &clock,
        allow_mass_removal,
        target.map(TargetArg::target),
        baseline,
        refresh_hook,
    ) {
        Ok(run) => run,
        Err(e) => return Ok(fail(e)),
    };
    if let Some(path) = out_file
        && let Some(refused) = crate::cli::refuse_overwrite(
            "the plan",
            path,
            Some(&run.state_path),
            run.lint
                .loaded
                .sources
                .iter()
                .map(|(_, f)| f.path.as_path()),
        )
    {
        return Ok(fail(refused));
    }
    let findings = findings_text(&run, args);
    match format {
        PlanFormat::Human => write_out(out, &findings)?,
        _ => eprint!("{findings}"),
    }
    let Some(plan) = &run.plan else {
        let errors = run
            .lint
            .findings
            .iter()
            .filter(|f| f.severity == crate::finding::Severity::Error)
            .count();
        return Ok(fail(format!(
            "the plan stopped at {errors} error-level finding(s); nothing was planned"
        )));
    };
    if let Some(lines) = &run.drift {
        let text = crate::cli_graph::drift_text(lines);
        match format {
            PlanFormat::Human => write_out(out, &format!("{text}\n"))?,
            _ => eprint!("{text}"),
        }
    }
    // A plan made while an apply runs may be stale at once: said, not refused.
    if let Some(note) = store::lock_note(&run.state_path) {
        match format {
            PlanFormat::Human => write_out(out, &note)?,
            _ => eprint!("{note}"),
        }
    }
    if run.drift.is_none()
        && let Some(note) = run.state.as_ref().and_then(|s| pending_note(&s.state))
    {
        match format {
            PlanFormat::Human => write_out(out, &note)?,
            _ => eprint!("{note}"),
        }
    }
    let text = match format {
        PlanFormat::Human => render::plan::human(plan, use_color(args.color)),
        PlanFormat::Json => render::plan::json(plan),
        PlanFormat::Markdown => render::plan::markdown(plan),
    };
    write_out(out, &text)?;
    if let Some(path) = out_file {
        // The same document as `plan --format json`.
        let text = render::plan::json(plan);
        if let Err(e) = store::write_atomic(path, &text) {
            return Ok(fail(format!(
                "cannot write the plan to `{}`: {e}",
                path.display()
            )));
        }
        if !args.quiet && format == PlanFormat::Human {
            write_out(
                out,
                &format!(
                    "\nSaved the plan to `{}`; apply it with `pimplan apply {}`.\n",
                    path.display(),
                    path.display()
                ),
            )?;
        }
    }
    // `--refresh` exits 2 when the service drifted from the state, as `drift` does.
    let drifted = run
        .drift
        .as_ref()
        .is_some_and(|lines| lines.iter().any(|l| crate::cli_graph::is_drift(l)));
    Ok(if drifted || (detailed && !plan.is_empty()) {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

/// Whether every change of `part` is in `whole`, in the same order.
fn is_part_of(part: &[crate::plan::Change], whole: &[crate::plan::Change]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|c| rest.any(|w| w == c))
}

/// What a plan says of changes an interrupted apply left pending, and of requests the
/// service had not carried out when they were applied.
fn pending_note(st: &state::State) -> Option<String> {
    let waiting: Vec<String> = st
        .assignments
        .iter()
        .filter_map(|a| {
            Some(format!(
                "{} ({})",
                crate::plan::assignment_address(&a.spec),
                a.request_status.as_deref()?
            ))
        })
        .collect();
    let waiting_note = (!waiting.is_empty()).then(|| format!(
        "Note: {} request(s) were taken by the service but not carried out yet when applied ({}): this plan counts them as made. `pimplan apply --target graph`, `plan --refresh` and `drift` read them again.\n\n",
        waiting.len(),
        waiting.join(", ")
    ));
    if st.pending.is_empty() {
        return waiting_note;
    }
    let addresses: Vec<&str> = st
        .pending
        .iter()
        .map(|p| p.change.address.as_str())
        .collect();
    Some(format!(
        "Note: an interrupted apply left {} change(s) pending ({}): whether the service holds them is not known yet, so this plan counts them as not made. `pimplan apply --target graph` checks them against the service before it applies anything; `pimplan plan --refresh` shows what it finds.\n\n{}",
        addresses.len(),
        addresses.join(", "),
        waiting_note.unwrap_or_default()
    ))
}

/// The largest saved plan `apply` and `show` read.
pub use crate::plan::MAX_PLAN_BYTES;

/// `pimplan show PLANFILE`: a saved plan, as `plan` printed it (human), or the saved
/// document (json), or a pull-request comment (markdown). Nothing but the file is read.
pub fn show(
    args: &Arguments,
    plan_file: &Path,
    format: PlanFormat,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let plan = match crate::plan::read_file(plan_file) {
        Ok(plan) => plan,
        Err(e) => return Ok(fail(e)),
    };
    let text = match format {
        PlanFormat::Json => render::plan::json(&plan),
        PlanFormat::Markdown => render::plan::markdown(&plan),
        PlanFormat::Human => {
            let state = match &plan.state.lineage {
                Some(lineage) => format!(
                    "the state of serial {} (lineage {lineage})",
                    plan.state.serial
                ),
                None => "no state (there was none yet)".to_owned(),
            };
            let mut text = format!(
                "Saved plan `{}`, made at {} from {state}.\n\n",
                plan_file.display(),
                plan.created_at.to_rfc3339()
            );
            let findings = render::plan::findings_lines(&plan);
            if !findings.is_empty() {
                text.push_str(&findings);
                text.push('\n');
            }
            text.push_str(&render::plan::human(&plan, use_color(args.color)));
            if !plan.is_empty() && !args.quiet {
                text.push_str(&format!(
                    "\nApply it with `pimplan apply {}`.\n",
                    plan_file.display()
                ));
            }
            text
        }
    };
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}

pub struct ApplyOptions {
    pub plan_file: Option<PathBuf>,
    /// `--baseline`: instead of the root file's `baseline:`.
    pub baseline: Option<PathBuf>,
    pub auto_approve: bool,
    pub allow_mass_removal: bool,
    pub lock_timeout: Duration,
    pub target: Option<TargetArg>,
    pub verbose: bool,
}

fn confirm(out: &mut dyn Write) -> miette::Result<bool> {
    confirm_with(
        out,
        "\nDo you want to apply these changes? Only `yes` is accepted: ",
    )
}

pub(crate) fn confirm_with(out: &mut dyn Write, question: &str) -> miette::Result<bool> {
    write_out(out, question)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| miette::miette!("cannot read the answer: {e}"))?;
    Ok(answer.trim() == "yes")
}

pub fn apply(
    args: &Arguments,
    options: &ApplyOptions,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let clock = clock(args)?;
    let root = root(args);
    let target = options.target.map(TargetArg::target);
    let saved: Option<Plan> = match &options.plan_file {
        None => None,
        Some(path) => match crate::plan::read_file(path) {
            Ok(plan) => Some(plan),
            Err(e) => return Ok(fail(format!("{e}; nothing was applied"))),
        },
    };
    // A saved plan is applied with the baseline it was made with, unless `--baseline` names
    // another: what the reviewer saw listed as baselined stays so.
    let baseline: Option<PathBuf> = options.baseline.clone().or_else(|| {
        let recorded = saved.as_ref()?.baseline.as_deref()?;
        let root_dir = root.parent().unwrap_or_else(|| Path::new(""));
        Some(crate::plan_run::recorded_baseline_path(recorded, root_dir))
    });
    // Lock before planning: nobody may change the state between the plan and its apply. The
    // state's path comes from a first look at the root file, so the workspace is read once.
    let Some(state_path) = early_state_path(&root) else {
        // The root file is missing or does not parse: show why.
        return match make(
            &root,
            &clock,
            options.allow_mass_removal,
            target,
            baseline.as_deref(),
        ) {
            Ok(run) => {
                write_out(out, &findings_text(&run, args))?;
                Ok(fail("the workspace could not be read; nothing was applied"))
            }
            Err(e) => Ok(fail(e)),
        };
    };
    let command = match &options.plan_file {
        Some(p) => format!("pimplan apply {}", p.display()),
        None => "pimplan apply".to_owned(),
    };
    let _lock = match store::lock(&state_path, options.lock_timeout, &command) {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(e)),
    };
    let mut run = match make(
        &root,
        &clock,
        options.allow_mass_removal,
        target,
        baseline.as_deref(),
    ) {
        Ok(run) => run,
        Err(e) => return Ok(fail(e)),
    };
    write_out(out, &findings_text(&run, args))?;
    let Some(ws) = run.lint.loaded.workspace.as_ref() else {
        return Ok(fail("the workspace could not be read; nothing was applied"));
    };
    let mut graph_executor = None;
    if target.unwrap_or_else(|| ws.settings.target()) == Target::Graph {
        match crate::cli_graph::executor(ws, options.verbose, clock.now()) {
            Ok(executor) => graph_executor = Some(executor),
            Err(e) => {
                return Ok(fail(format!(
                    "cannot sign in to Microsoft Graph, where this apply sends its changes: {e}.\n  Either give credentials for the tenant (PIMPLAN_GRAPH_TOKEN, or AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE), or pass `--target state` (or `target: state` in pimplan.yaml) to only record the changes in the state file.\n  Nothing was planned, sent or written."
                )));
            }
        }
    }
    // A saved plan must have been made for where this apply sends.
    if let (Some(saved_target), Some(plan)) = (
        saved.as_ref().and_then(|s| s.target.as_ref()),
        run.plan.as_ref(),
    ) && plan.target.as_ref() != Some(saved_target)
    {
        return Ok(fail(StateError::Stale(format!(
            "it was made for {}, and this apply goes to {}",
            saved_target.describe(),
            plan.target
                .as_ref()
                .map_or_else(String::new, crate::plan::Destination::describe)
        ))));
    }
    // A saved plan must have been made from the state as it is now, or as an interrupted
    // apply of the same plan left it; checked before anything is settled or written.
    let mut fresh = Fresh::Same;
    if let (Some(saved), Some(current), Some(plan)) = (&saved, &run.state, &run.plan) {
        match check_fresh(saved, current, plan) {
            Ok(f) => fresh = f,
            Err(e) => return Ok(fail(e)),
        }
    }
    let mut settled = false;
    // Changes an interrupted apply left pending, and requests the service had not carried
    // out, are checked against the service and the state records what it holds, before
    // anything is planned from it (a state-only apply leaves waiting requests as they are).
    if let Some(st) = run.state.as_ref().map(|s| &s.state)
        && st.unsettled()
        && (graph_executor.is_some() || !st.pending.is_empty())
    {
        let pending = &st.pending;
        let addresses: Vec<&str> = pending.iter().map(|p| p.change.address.as_str()).collect();
        let Some(executor) = graph_executor.as_mut() else {
            return Ok(fail(format!(
                "the state has {} change(s) left pending by an interrupted apply to Microsoft Graph ({}); run `pimplan apply --target graph`, which checks them against the service first; nothing was applied",
                pending.len(),
                addresses.join(", ")
            )));
        };
        let Some(current) = run.state.as_ref() else {
            return Ok(fail("the state could not be read; nothing was applied"));
        };
        match settle_pending(&state_path, current, executor) {
            Ok(lines) => {
                let (interrupted, requests): (Vec<String>, Vec<String>) =
                    lines.into_iter().partition(|l| l.starts_with("  ?"));
                if !interrupted.is_empty() {
                    write_out(
                        out,
                        &format!(
                            "Checked {} change(s) left pending by an interrupted apply against the service, and recorded what it holds:\n{}\n\n",
                            interrupted.len(),
                            interrupted.join("\n")
                        ),
                    )?;
                }
                if !requests.is_empty() {
                    write_out(
                        out,
                        &format!(
                            "Read again {} request(s) the service had not carried out, and recorded what it holds:\n{}\n\n",
                            requests.len(),
                            requests.join("\n")
                        ),
                    )?;
                }
            }
            Err(e) => return Ok(fail(format!("{e}; nothing was applied"))),
        }
        run = match make(
            &root,
            &clock,
            options.allow_mass_removal,
            target,
            baseline.as_deref(),
        ) {
            Ok(run) => run,
            Err(e) => return Ok(fail(e)),
        };
        settled = true;
    }
    let current = run.state.take();
    let (Some(plan), Some(current)) = (run.plan.as_ref(), current) else {
        return Ok(fail(
            "the plan stopped at error-level findings; nothing was applied",
        ));
    };
    let plan = match &saved {
        Some(saved) if saved.changes == plan.changes => saved,
        // The interrupted apply had made some of the saved plan's changes: the rest, all of
        // them approved with the saved plan, are still to do. (The interrupted apply was of
        // this plan, or the plan was made while its changes were pending.)
        Some(saved)
            if (settled || fresh == Fresh::Continued)
                && is_part_of(&plan.changes, &saved.changes) =>
        {
            write_out(
                out,
                &format!(
                    "{} change(s) of the saved plan were made by the interrupted apply; the other {} are applied.\n\n",
                    saved.changes.len() - plan.changes.len(),
                    plan.changes.len()
                ),
            )?;
            plan
        }
        Some(saved) => {
            let which = crate::plan::changes_differ(&saved.changes, &plan.changes);
            return Ok(fail(StateError::Stale(if which.is_empty() {
                "the changes it would make now differ from the saved ones".to_owned()
            } else {
                format!("the changes it would make now differ from the saved ones: {which}")
            })));
        }
        None => plan,
    };
    write_out(out, &render::plan::human(plan, use_color(args.color)))?;
    if plan.is_empty() {
        return Ok(ExitStatus::Success);
    }
    if saved.is_none() && !options.auto_approve {
        if !std::io::stdin().is_terminal() {
            return Ok(fail(
                "refusing to apply without confirmation: there is no terminal to ask on; pass `--auto-approve`, or apply a saved plan",
            ));
        }
        if !confirm(out)? {
            write_out(out, "Apply cancelled; nothing was changed.\n")?;
            return Ok(ExitStatus::Findings);
        }
    }
    let mut state_executor = StateExecutor;
    let executor: &mut dyn crate::apply::Executor = match graph_executor.as_mut() {
        Some(graph) => {
            let missing = graph.missing_ids(plan);
            if !missing.is_empty() {
                return Ok(fail(format!(
                    "applying to Microsoft Graph needs object ids: {}; add `id:` to them; nothing was sent",
                    missing.join(", ")
                )));
            }
            graph
        }
        None => &mut state_executor,
    };
    let carrying = saved.as_ref().map(crate::apply::carrying);
    let mode = if args.quiet {
        crate::progress::Mode::Off
    } else if std::io::stderr().is_terminal() && !options.verbose {
        crate::progress::Mode::Bar
    } else {
        crate::progress::Mode::Lines
    };
    let mut progress = crate::progress::Progress::new(plan.changes.len(), mode);
    let applied = apply_plan(
        plan,
        carrying,
        &state_path,
        current,
        executor,
        clock.now(),
        &mut |done| progress.step(done),
    );
    progress.finish();
    match applied {
        Ok(n) => {
            let serial = state::read(&state_path)
                .map(|s| s.state.serial)
                .unwrap_or_default();
            write_out(
                out,
                &format!(
                    "\nApply complete: {n} change(s) recorded in `{}` (serial {serial}).\n",
                    state_path.display()
                ),
            )?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Ok(fail(e)),
    }
}

/// The state file named by the root file. Only the root file is read: `state` and
/// `force-unlock` need no more, and must work while other files of the workspace are broken.
fn state_path(args: &Arguments) -> Result<PathBuf, String> {
    let root = root(args);
    if !root.is_file() {
        // What `lint` and `plan` say of it: a folder, a FIFO or a device is not a root file.
        let kind = std::fs::metadata(&root)
            .ok()
            .and_then(|m| crate::fs::kind_of(m.file_type()));
        return Err(match kind {
            Some(kind) => crate::load::LoadError::Read {
                path: root.clone(),
                source: crate::fs::ReadError::NotAFile(kind),
            }
            .to_string(),
            None => format!(
                "no workspace root file at `{}`; give the root file with `-c PATH`",
                root.display()
            ),
        });
    }
    early_state_path(&root).ok_or_else(|| {
        format!(
            "the root file `{}` could not be read, or its `state:` names no usable state file; run `pimplan lint`, which says why",
            root.display()
        )
    })
}

pub fn state(
    args: &Arguments,
    cmd: &StateCommand,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let path = match state_path(args) {
        Ok(p) => p,
        Err(e) => return Ok(fail(e)),
    };
    match cmd {
        StateCommand::AcceptEdit { auto_approve } => accept_edit(&path, *auto_approve, out),
        StateCommand::List { filter, format } => {
            crate::cli_state::list(&path, filter.as_deref(), *format, out)
        }
        StateCommand::Show { address } => crate::cli_state::show(&path, address, out),
        StateCommand::Rm {
            addresses,
            auto_approve,
        } => crate::cli_state::rm(&path, addresses, *auto_approve, out),
    }
}

/// The most lines of difference `state accept-edit` shows.
const MAX_DIFF_LINES: usize = 400;

/// `state accept-edit`: a state changed by hand is checked like any other (only its checksum
/// is not), what changed against the backup is shown, and, once confirmed, it is written
/// again under the lock with the next serial and a new checksum. The backup stays the state
/// before the last apply, so that the edit can still be undone from it.
fn accept_edit(path: &Path, auto_approve: bool, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    let _lock = match store::lock(path, Duration::ZERO, "pimplan state accept-edit") {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(e)),
    };
    match state::read(path) {
        Ok(loaded) if !loaded.exists() => {
            return Ok(fail(format!(
                "no state at `{}`; nothing to accept",
                path.display()
            )));
        }
        Ok(loaded) => {
            let why = match loaded.text.as_deref().map(state::check_seal) {
                Some(state::Seal::Absent) => {
                    "it was written by an older pimplan, before states carried a checksum; it gets one on its next write"
                }
                _ => "its content matches its checksum",
            };
            write_out(
                out,
                &format!(
                    "The state `{}` has not been changed by hand: {why}. Nothing to accept.
",
                    path.display()
                ),
            )?;
            return Ok(ExitStatus::Success);
        }
        Err(StateError::Edited { .. }) => {}
        Err(e) => return Ok(fail(e)),
    }
    let mut loaded = match state::read_with(path, false) {
        Ok(s) => s,
        Err(e) => return Ok(fail(format!("{e}; nothing was accepted"))),
    };
    // What would be written, against the backup, both without their checksums (and the
    // serial as it is now): what the edit and the applies since the backup changed.
    let target = store::state_target(path).unwrap_or_else(|_| path.to_path_buf());
    let backup = store::backup_path(&target);
    let now = loaded.state.to_json_unsealed();
    // The backup is pimplan's own file beside the state (apply replaces a link there): a link
    // in its place is not followed, so the diff cannot print a file from anywhere else.
    let linked = std::fs::symlink_metadata(&backup).is_ok_and(|m| m.file_type().is_symlink());
    let read = if linked {
        Err(crate::fs::ReadError::Io(std::io::Error::other(
            "it is a symbolic link, which pimplan does not follow for a backup; the next apply replaces it",
        )))
    } else {
        crate::fs::read_bounded_text(&backup, state::MAX_STATE_BYTES)
    };
    let text = match read {
        Ok(before) => {
            let before = state::unsealed(&before);
            let diff = similar::TextDiff::configure()
                .timeout(Duration::from_secs(5))
                .diff_lines(&before, &now);
            let mut lines: Vec<String> = diff
                .unified_diff()
                .context_radius(2)
                .header(&backup.display().to_string(), &path.display().to_string())
                .to_string()
                .lines()
                .map(str::to_owned)
                .collect();
            if lines.is_empty() {
                "It reads the same as its backup.
"
                .to_owned()
            } else {
                let more = lines.len().saturating_sub(MAX_DIFF_LINES);
                lines.truncate(MAX_DIFF_LINES);
                if more > 0 {
                    lines.push(format!("… and {more} more line(s)"));
                }
                format!(
                    "What changed against `{}` (the state before the last apply, so the changes of that apply show too):

{}
",
                    backup.display(),
                    lines.join("\n")
                )
            }
        }
        Err(e) if e.is_not_found() => format!(
            "There is no backup (`{}`) to compare it with.
",
            backup.display()
        ),
        Err(e) => format!(
            "The backup `{}` cannot be read ({e}).
",
            backup.display()
        ),
    };
    write_out(
        out,
        &format!(
            "The state `{}` was changed by something other than pimplan.
{text}",
            path.display()
        ),
    )?;
    if !auto_approve {
        if !std::io::stdin().is_terminal() {
            return Ok(fail(
                "refusing to accept the edit without confirmation: there is no terminal to ask on; pass `--auto-approve`",
            ));
        }
        if !confirm_with(
            out,
            "\nDo you want pimplan to use the state as it is now? Only `yes` is accepted: ",
        )? {
            write_out(
                out,
                "Nothing was accepted; the state was not changed.
",
            )?;
            return Ok(ExitStatus::Findings);
        }
    }
    // An accepted edit starts a state no saved plan was made from: an interrupted apply's
    // plan may not continue on it (see `check_fresh`), so its marker goes.
    let dropped = loaded.state.applying.take().is_some();
    if let Err(e) = store::write_state(path, &mut loaded.state) {
        return Ok(fail(e));
    }
    if dropped {
        write_out(
            out,
            "The saved plan an interrupted apply was carrying out no longer applies to this state; make a new plan.\n",
        )?;
    }
    write_out(
        out,
        &format!(
            "Accepted: `{}` is serial {} now, with a new checksum.
",
            path.display(),
            loaded.state.serial
        ),
    )?;
    Ok(ExitStatus::Success)
}

pub fn force_unlock(
    args: &Arguments,
    force: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let path = match state_path(args) {
        Ok(p) => p,
        Err(e) => return Ok(fail(e)),
    };
    match store::force_unlock(&path, force) {
        Ok(Some(released)) => {
            let holder = released.holder.map_or_else(
                || "an unknown holder (unreadable lock file)".to_owned(),
                |h| h.to_string(),
            );
            write_out(
                out,
                &format!("Released the lock held by {holder} ({}).\n", released.why),
            )?;
            Ok(ExitStatus::Success)
        }
        Ok(None) => {
            write_out(
                out,
                &format!("The state `{}` is not locked.\n", path.display()),
            )?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Ok(fail(e)),
    }
}
