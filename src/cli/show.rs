//! `pimplan show PLANFILE`: a saved plan, read back.

use std::io::Write;
use std::path::Path;

use super::RunContext;
use super::output::{PlanFormat, fail, write_out};
use crate::exit::ExitStatus;
use crate::render;

/// `pimplan show PLANFILE`: a saved plan, as `plan` printed it (human), or the saved
/// document (json), or a pull-request comment (markdown). Nothing but the file is read.
pub fn run(
    cx: &RunContext,
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
            text.push_str(&render::plan::human(&plan, cx.color));
            if !plan.is_empty() && !cx.quiet {
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
