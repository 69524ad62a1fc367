//! `pimplan apply`: a saved plan, or a plan made now and confirmed, carried out change by
//! change under the state's lock.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RunContext;
use super::output::{confirm_with, fail, plan_findings, write_out};
use crate::apply::{Fresh, StateExecutor, apply as apply_plan, check_fresh, settle_pending};
use crate::config::model::Target;
use crate::exit::ExitStatus;
use crate::graph::refresh::executor;
use crate::plan::Plan;
use crate::plan::make::{early_state_path, make};
use crate::render;
use crate::state::{self, StateError, store};

/// What `pimplan apply` was asked.
pub struct ApplyRequest {
    pub plan_file: Option<PathBuf>,
    /// `--baseline`: instead of the root file's `baseline:`.
    pub baseline: Option<PathBuf>,
    pub auto_approve: bool,
    pub allow_mass_removal: bool,
    pub lock_timeout: Duration,
    pub target: Option<Target>,
    pub verbose: bool,
}

/// Whether every change of `part` is in `whole`, in the same order.
fn is_part_of(part: &[crate::plan::Change], whole: &[crate::plan::Change]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|c| rest.any(|w| w == c))
}

fn confirm(out: &mut dyn Write) -> miette::Result<bool> {
    confirm_with(
        out,
        "\nDo you want to apply these changes? Only `yes` is accepted: ",
    )
}

pub fn run(
    cx: &RunContext,
    options: &ApplyRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let clock = &cx.clock;
    let root = cx.root();
    let target = options.target;
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
        Some(crate::plan::make::recorded_baseline_path(
            recorded, root_dir,
        ))
    });
    // Lock before planning: nobody may change the state between the plan and its apply. The
    // state's path comes from a first look at the root file, so the workspace is read once.
    let Some(state_path) = early_state_path(&root) else {
        // The root file is missing or does not parse: show why.
        return match make(
            &root,
            clock,
            options.allow_mass_removal,
            target,
            baseline.as_deref(),
        ) {
            Ok(run) => {
                write_out(out, &plan_findings(&run, cx.color, cx.quiet))?;
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
        clock,
        options.allow_mass_removal,
        target,
        baseline.as_deref(),
    ) {
        Ok(run) => run,
        Err(e) => return Ok(fail(e)),
    };
    write_out(out, &plan_findings(&run, cx.color, cx.quiet))?;
    let Some(ws) = run.lint.loaded.workspace.as_ref() else {
        return Ok(fail("the workspace could not be read; nothing was applied"));
    };
    let mut graph_executor = None;
    if target.unwrap_or_else(|| ws.settings.target()) == Target::Graph {
        match executor(ws, options.verbose, clock.now()) {
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
            Ok(items) => write_out(out, &render::drift::settled_text(&items))?,
            Err(e) => return Ok(fail(format!("{e}; nothing was applied"))),
        }
        run = match make(
            &root,
            clock,
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
    write_out(out, &render::plan::human(plan, cx.color))?;
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
    let mode = if cx.quiet {
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
