//! `pimplan plan`: lint, then the changes that would make the state match the workspace.

use std::io::Write;
use std::path::PathBuf;

use super::RunContext;
use super::output::{PlanFormat, fail, plan_findings, refuse_overwrite, write_out};
use super::workspace::early_backend;
use crate::config::model::Target;
use crate::config::model::Workspace;
use crate::drift::DriftItem;
use crate::exit::ExitStatus;
use crate::graph::refresh::refresher;
use crate::plan_run::StateSource;
use crate::render::drift::{drift_text, pending_note};
use crate::render::{self};
use crate::state::{State, store};

/// What `pimplan plan` was asked.
pub struct PlanRequest {
    pub out_file: Option<PathBuf>,
    /// `--baseline`: instead of the root file's `baseline:`.
    pub baseline: Option<PathBuf>,
    pub format: PlanFormat,
    pub detailed: bool,
    pub allow_mass_removal: bool,
    pub refresh: bool,
    pub target: Option<Target>,
    /// `-v`: log the requests to Microsoft Graph (`--refresh`) and to a remote state's storage.
    pub verbose: bool,
}

pub fn run(
    cx: &RunContext,
    options: &PlanRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let PlanRequest {
        format,
        detailed,
        allow_mass_removal,
        refresh,
        target,
        verbose,
        ..
    } = *options;
    let out_file = options.out_file.as_deref();
    let baseline = options.baseline.as_deref();
    // The plan driver's refresh hook takes lines of text: what the refresh found is kept
    // here as data, and the driver gets it in words.
    let mut refresh_service = refresher(verbose, cx.now());
    let mut found: Option<Vec<DriftItem>> = None;
    let mut refresher = |ws: &Workspace, st: &State| {
        let (live, items) = refresh_service(ws, st)?;
        let lines = items.iter().map(render::drift::line).collect();
        found = Some(items);
        Ok((live, lines))
    };
    let refresh_hook: Option<crate::plan_run::Refresh<'_>> =
        if refresh { Some(&mut refresher) } else { None };
    let root = cx.root();
    let backend = early_backend(&root, verbose);
    let source = backend.as_deref().map(StateSource::Backend);
    let run = match crate::plan_run::make_with(
        &root,
        source,
        &cx.clock,
        allow_mass_removal,
        target,
        baseline,
        refresh_hook,
    ) {
        Ok(run) => run,
        Err(e) => return Ok(fail(e)),
    };
    if let Some(path) = out_file
        && let Some(refused) = refuse_overwrite(
            "the plan",
            path,
            run.state_location
                .as_ref()
                .and_then(crate::config::model::StateLocation::local_path),
            run.lint
                .loaded
                .sources
                .iter()
                .map(|(_, f)| f.path.as_path()),
        )
    {
        return Ok(fail(refused));
    }
    let findings = plan_findings(&run, cx.color, cx.quiet);
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
    let drift = run.drift.as_ref().and(found.as_deref());
    if let Some(items) = drift {
        let text = drift_text(items);
        match format {
            PlanFormat::Human => write_out(out, &format!("{text}\n"))?,
            _ => eprint!("{text}"),
        }
    }
    // A plan made while an apply runs may be stale at once: said, not refused.
    let note = match (&backend, &run.state_location) {
        (Some(backend), _) => backend.lock_note(),
        (None, Some(location)) => super::workspace::open_backend(location, verbose).lock_note(),
        (None, None) => None,
    };
    if let Some(note) = note {
        match format {
            PlanFormat::Human => write_out(out, &note)?,
            _ => eprint!("{note}"),
        }
    }
    if drift.is_none()
        && let Some(note) = run.state.as_ref().and_then(|s| pending_note(&s.state))
    {
        match format {
            PlanFormat::Human => write_out(out, &note)?,
            _ => eprint!("{note}"),
        }
    }
    let text = match format {
        PlanFormat::Human => render::plan::human(plan, cx.color),
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
        if !cx.quiet && format == PlanFormat::Human {
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
    let drifted = drift.is_some_and(|items| items.iter().any(DriftItem::is_drift));
    Ok(if drifted || (detailed && !plan.is_empty()) {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
