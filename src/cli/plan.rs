//! `pimplan plan`: lint, then the changes that would make the state match the workspace.

use std::io::Write;
use std::path::PathBuf;

use super::RunContext;
use super::output::{PlanFormat, fail, plan_findings, refuse_overwrite, write_out};
use crate::config::model::Target;
use crate::exit::ExitStatus;
use crate::graph::refresh::refresher;
use crate::render::drift::{drift_text, is_drift};
use crate::render::{self};
use crate::state::{self, store};

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
        ..
    } = *options;
    let out_file = options.out_file.as_deref();
    let baseline = options.baseline.as_deref();
    let mut refresher = refresher(false, cx.now());
    let refresh_hook: Option<crate::plan::make::Refresh<'_>> =
        if refresh { Some(&mut refresher) } else { None };
    let run = match crate::plan::make::make_with(
        &cx.root(),
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
    if let Some(lines) = &run.drift {
        let text = drift_text(lines);
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
    let drifted = run
        .drift
        .as_ref()
        .is_some_and(|lines| lines.iter().any(|l| is_drift(l)));
    Ok(if drifted || (detailed && !plan.is_empty()) {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
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
