//! The lint command: which files, which findings (baseline), which format.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::RunContext;
use super::output::{refuse_overwrite, write_out};
use super::workspace::workspace_and_files;
use crate::baseline;
use crate::exit::ExitStatus;
use crate::finding::{Finding, Severity};
use crate::identity::{Identities, relative_path};
use crate::lint::{LintRun, lint as lint_workspace};
use crate::render::{self, human::HumanOptions};

/// How `lint` prints its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Json,
    Sarif,
    Github,
}

/// What `pimplan lint` was asked.
pub struct LintRequest {
    pub files: Vec<PathBuf>,
    pub format: LintFormat,
    pub deny_warnings: bool,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
}

/// Keep the findings located in `only` (canonical paths), and those of files that could not
/// be read; warn about named files that are not part of the workspace.
fn in_files(
    run: &LintRun,
    only: &[PathBuf],
    given: &[PathBuf],
    root: &Path,
    quiet: bool,
) -> Vec<Finding> {
    // Each loaded file's canonical path once, and which of them were named.
    let loaded: Vec<(crate::source::FileId, PathBuf)> = run
        .loaded
        .sources
        .iter()
        .filter_map(|(id, file)| Some((id, std::fs::canonicalize(&file.path).ok()?)))
        .collect();
    let named_ids: std::collections::HashSet<crate::source::FileId> = loaded
        .iter()
        .filter(|(_, path)| only.contains(path))
        .map(|(id, _)| *id)
        .collect();
    if !quiet {
        for (named, path) in given.iter().filter(|f| !f.is_dir()).zip(only) {
            if !loaded.iter().any(|(_, p)| p == path) {
                eprintln!(
                    "pimplan: `{}` is not part of the workspace `{}` (no include: glob matches it); nothing to check there",
                    named.display(),
                    root.display()
                );
            }
        }
    }
    // A file that could not be read stopped the workspace rules, so the named files were
    // not fully checked either: what stopped them is reported wherever it is.
    let unread = |f: &Finding| f.locked && run.loaded.unread.contains(&f.primary.span.file);
    // A finding about a named file counts wherever it points: a duplicate the named file
    // brings is reported at the older definition, with the new one as its second place.
    let touches = |f: &Finding| {
        std::iter::once(&f.primary)
            .chain(&f.secondary)
            .any(|l| named_ids.contains(&l.span.file))
    };
    run.findings
        .iter()
        .filter(|f| unread(f) || touches(f))
        .cloned()
        .collect()
}

fn write_summary(findings: &[Finding], run: &LintRun) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let summary = render::github::summary_markdown(findings, &run.loaded.sources);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(summary.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "pimplan: cannot write the job summary `{}`: {e}",
            PathBuf::from(&path).display()
        );
    }
}

pub fn run(
    cx: &RunContext,
    options: &LintRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let (root, only) = workspace_and_files(cx.config.as_deref(), &options.files)?;
    let run = match lint_workspace(&root, &cx.clock) {
        Ok(run) => run,
        Err(e) => {
            // The root file cannot be read: said as every other command says it.
            eprintln!("error: {e}");
            return Ok(crate::exit::for_error(Some("lint")));
        }
    };
    let mut findings = match &only {
        None => run.findings.clone(),
        Some(only) => in_files(&run, only, &options.files, &root, cx.quiet),
    };
    let sources = &run.loaded.sources;
    // Identities cost a pass over the workspace: only when a finding needs one.
    let identities = if findings.is_empty() {
        Identities::new(None)
    } else {
        Identities::new(run.loaded.workspace.as_ref())
    };
    let fingerprints: Vec<String> = findings
        .iter()
        .map(|f| identities.fingerprint(sources, &run.loaded.root_dir, f))
        .collect();

    if let Some(path) = options.write_baseline.as_deref() {
        let state = run
            .loaded
            .workspace
            .as_ref()
            .and_then(|ws| ws.settings.state_location(&run.loaded.root_dir).ok())
            .and_then(|location| location.local_path().map(std::path::Path::to_path_buf));
        if let Some(refused) = refuse_overwrite(
            "the baseline",
            path,
            state.as_deref(),
            sources.iter().map(|(_, f)| f.path.as_path()),
        ) {
            return Err(miette::miette!("{refused}"));
        }
        let entries = findings
            .iter()
            .zip(&fingerprints)
            .filter(|(f, _)| !f.locked)
            .map(|(f, fp)| baseline::Entry {
                code: f.rule.code.to_owned(),
                file: relative_path(sources, &run.loaded.root_dir, f.primary.span.file),
                subject: identities.subject(sources, f),
                fingerprint: fp.clone(),
            })
            .collect();
        let n = baseline::write(path, entries).map_err(|e| miette::miette!("{e}"))?;
        write_out(
            out,
            &format!(
                "pimplan: recorded {n} finding(s) in the baseline `{}`\n",
                path.display()
            ),
        )?;
        return Ok(ExitStatus::Success);
    }
    let mut fingerprints = fingerprints;
    let mut baselined = Vec::new();
    let baseline_path = baseline::chosen(options.baseline.as_deref(), &run.loaded);
    if let Some(path) = &baseline_path {
        let base = baseline::read(path).map_err(|e| miette::miette!("{e}"))?;
        let split = baseline::split(&base, findings, fingerprints);
        findings = split.kept;
        fingerprints = split.fingerprints;
        baselined = split.baselined;
    }

    let mut text = match options.format {
        LintFormat::Human => render::human::render(
            &findings,
            sources,
            HumanOptions {
                color: cx.color,
                width: 100,
            },
            cx.quiet,
        ),
        LintFormat::Json => render::json::render_with(
            &findings,
            baseline_path.as_ref().map(|_| baselined.as_slice()),
            sources,
            &cx.now().to_rfc3339(),
        ),
        LintFormat::Sarif => render::sarif::render(&findings, sources, &fingerprints),
        LintFormat::Github => {
            write_summary(&findings, &run);
            render::github::render(&findings, sources)
        }
    };
    if let Some(path) = &baseline_path
        && options.format == LintFormat::Human
        && !cx.quiet
    {
        text.push_str(&baseline::human_list(&baselined, sources, path));
    }
    write_out(out, &text)?;
    let errors = findings.iter().any(|f| f.severity == Severity::Error);
    let warnings = findings.iter().any(|f| f.severity == Severity::Warning);
    Ok(if errors || (options.deny_warnings && warnings) {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}
