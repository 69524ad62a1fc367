//! `pimplan apply`: a saved plan, or a plan made now and confirmed, carried out change by
//! change under the state's lock.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RunContext;
use super::output::{confirm_with, fail, plan_findings, write_out};
use super::workspace::early_backend;
use crate::apply::{
    Fresh, Reconciled, StateExecutor, apply as apply_plan, check_fresh, check_target,
    needs_settling, reconcile, settle_pending,
};
use crate::config::model::Target;
use crate::exit::ExitStatus;
use crate::graph::session::executor;
use crate::plan::Plan;
use crate::plan_run::{StateSource, make};
use crate::render;
use crate::state::backend::LockInfo;

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
        Some(crate::plan_run::recorded_baseline_path(recorded, root_dir))
    });
    // Lock before planning: nobody may change the state between the plan and its apply. The
    // state's backend comes from a first look at the root file, so the workspace is read once.
    let Some(backend) = early_backend(&root, options.verbose) else {
        // The root file is missing or does not parse: show why.
        return match make(
            &root,
            None,
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
    let mut lock = match backend.lock(LockInfo::this_process(&command), options.lock_timeout) {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(e)),
    };
    // The state is read under the lock: what every write of this apply is fenced on.
    let mut run = match make(
        &root,
        Some(StateSource::Locked(lock.as_mut())),
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
    if let (Some(saved), Some(plan)) = (&saved, &run.plan)
        && let Err(e) = check_target(saved, plan)
    {
        return Ok(fail(e));
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
    // anything is planned from it.
    if let Some(current) = run.state.as_ref() {
        match needs_settling(&current.state, graph_executor.is_some()) {
            Ok(false) => {}
            Err(e) => return Ok(fail(e)),
            Ok(true) => {
                // Settling needs the service: `needs_settling` said so only with one.
                let Some(executor) = graph_executor.as_mut() else {
                    return Ok(fail("the state could not be settled; nothing was applied"));
                };
                match settle_pending(lock.as_mut(), current, executor) {
                    Ok(items) => write_out(out, &render::drift::settled_text(&items))?,
                    Err(e) => return Ok(fail(format!("{e}; nothing was applied"))),
                }
                run = match make(
                    &root,
                    Some(StateSource::Locked(lock.as_mut())),
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
        }
    }
    let current = run.state.take();
    let (Some(plan), Some(current)) = (run.plan.as_ref(), current) else {
        return Ok(fail(
            "the plan stopped at error-level findings; nothing was applied",
        ));
    };
    let plan = match &saved {
        None => plan,
        Some(saved) => match reconcile(saved, plan, settled || fresh == Fresh::Continued) {
            Ok(Reconciled::Saved(saved)) => saved,
            Ok(Reconciled::Rest { plan, made }) => {
                write_out(
                    out,
                    &format!(
                        "{made} change(s) of the saved plan were made by the interrupted apply; the other {} are applied.\n\n",
                        plan.changes.len()
                    ),
                )?;
                plan
            }
            Err(e) => return Ok(fail(e)),
        },
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
        lock.as_mut(),
        current,
        executor,
        clock.now(),
        &mut |done| progress.step(done),
    );
    progress.finish();
    match applied {
        Ok(done) => {
            write_out(
                out,
                &format!(
                    "\nApply complete: {} change(s) recorded in `{}` (serial {}).\n",
                    done.changes,
                    backend.describe(),
                    done.serial
                ),
            )?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Ok(fail(e)),
    }
}
