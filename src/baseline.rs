//! Baselines: adopt pimplan on an existing workspace and fail only on new findings.
//!
//! `lint --write-baseline FILE` records every current finding by rule, file and the entry it
//! is about (see `identity.rs`), not by line; `lint --baseline FILE` leaves out the findings
//! recorded there, each recorded finding matching at most one current one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub code: String,
    /// Relative to the workspace root folder.
    pub file: String,
    pub subject: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub format_version: u32,
    pub findings: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read the baseline `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: crate::fs::ReadError,
    },
    #[error("`{}` is not a pimplan baseline: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
    #[error("cannot write the baseline `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A baseline larger than this is refused before it is read: a finding takes about 250
/// bytes, so this holds a million findings.
pub const MAX_BYTES: u64 = 256 << 20;

pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
    let text =
        crate::fs::read_bounded_text(path, MAX_BYTES).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let baseline: Baseline = serde_json::from_str(&text).map_err(|e| BaselineError::Invalid {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    if baseline.format_version != FORMAT_VERSION {
        return Err(BaselineError::Invalid {
            path: path.to_path_buf(),
            detail: format!(
                "format version {} (this pimplan reads {FORMAT_VERSION})",
                baseline.format_version
            ),
        });
    }
    Ok(baseline)
}

pub fn write(path: &Path, mut entries: Vec<Entry>) -> Result<usize, BaselineError> {
    entries.sort_by(|a, b| {
        (&a.file, &a.code, &a.subject, &a.fingerprint).cmp(&(
            &b.file,
            &b.code,
            &b.subject,
            &b.fingerprint,
        ))
    });
    let count = entries.len();
    let baseline = Baseline {
        format_version: FORMAT_VERSION,
        findings: entries,
    };
    let mut text = serde_json::to_string_pretty(&baseline).unwrap_or_default();
    text.push('\n');
    crate::state::store::write_atomic(path, &text).map_err(|source| BaselineError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(count)
}

/// Which of `fingerprints` (one per current finding) the baseline covers.
pub fn covered(baseline: &Baseline, fingerprints: &[String]) -> Vec<bool> {
    let mut left: HashMap<&str, usize> = HashMap::new();
    for e in &baseline.findings {
        *left.entry(e.fingerprint.as_str()).or_default() += 1;
    }
    fingerprints
        .iter()
        .map(|fp| match left.get_mut(fp.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .collect()
}

/// Which baseline a run uses: `--baseline` (relative to the working folder) wins, else the
/// root file's `baseline:` (relative to the root file's folder). A `baseline:` that leads
/// out of the workspace is a PIM002 of the load, which stops the run: none is used here.
pub fn chosen(flag: Option<&Path>, loaded: &crate::load::Loaded) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        loaded
            .workspace
            .as_ref()?
            .settings
            .baseline_file(&loaded.root_dir)?
            .ok()
    })
}

/// The findings a baseline leaves out, and the others.
pub struct Split {
    /// What still counts, in the order given.
    pub kept: Vec<crate::finding::Finding>,
    /// The fingerprint of each kept finding.
    pub fingerprints: Vec<String>,
    /// What the baseline covers: listed as baselined, never failing a run.
    pub baselined: Vec<crate::finding::Finding>,
}

/// Splits `findings` (with their `fingerprints`) by `baseline`. A baseline silences as an
/// ignore comment does: never a locked finding (a file or value that could not be read),
/// whatever the baseline holds.
pub fn split(
    baseline: &Baseline,
    findings: Vec<crate::finding::Finding>,
    fingerprints: Vec<String>,
) -> Split {
    let covered = covered(baseline, &fingerprints);
    let mut split = Split {
        kept: Vec::new(),
        fingerprints: Vec::new(),
        baselined: Vec::new(),
    };
    for ((finding, fingerprint), covered) in findings.into_iter().zip(fingerprints).zip(covered) {
        if covered && !finding.locked {
            split.baselined.push(finding);
        } else {
            split.kept.push(finding);
            split.fingerprints.push(fingerprint);
        }
    }
    split
}

/// Leaves out of `run.findings` what the baseline at `path` covers, and returns it, each
/// finding with the entry it is about (`assignment ops/mei/member/eligible`, `group ops`):
/// what `plan` and `apply` do with the lint findings before errors stop them.
pub fn apply_to_run(
    run: &mut crate::lint::LintRun,
    path: &Path,
) -> Result<Vec<(crate::finding::Finding, String)>, BaselineError> {
    let base = read(path)?;
    if run.findings.is_empty() {
        return Ok(Vec::new());
    }
    let identities = crate::identity::Identities::new(run.loaded.workspace.as_ref());
    let findings = std::mem::take(&mut run.findings);
    let fingerprints = findings
        .iter()
        .map(|f| identities.fingerprint(&run.loaded.sources, &run.loaded.root_dir, f))
        .collect();
    let split = split(&base, findings, fingerprints);
    run.findings = split.kept;
    Ok(split
        .baselined
        .into_iter()
        .map(|f| {
            let subject = identities.subject(&run.loaded.sources, &f);
            (f, subject)
        })
        .collect())
}

/// The entry a change of the plan makes or alters, as [`apply_to_run`] names what a
/// finding is about; `None` for a removal (nothing is made from the workspace's entry).
pub fn changed_subject(change: &crate::plan::Change) -> Option<String> {
    use crate::plan::Subject;
    match &change.subject {
        Subject::Assignment { after: Some(a), .. } => Some(format!(
            "assignment {}/{}/{}/{}",
            a.group, a.principal, a.role, a.kind
        )),
        Subject::Policy { after: Some(p), .. } => Some(format!("group {}", p.group)),
        _ => None,
    }
}

/// The baselined findings, for a person: one line each, after the findings that count.
pub fn human_list(
    baselined: &[crate::finding::Finding],
    sources: &crate::source::Sources,
    path: &Path,
) -> String {
    if baselined.is_empty() {
        return String::new();
    }
    let mut text = format!(
        "pimplan: {} finding(s) left out by the baseline `{}` (recorded when pimplan was adopted; they do not fail this run):\n",
        baselined.len(),
        path.display()
    );
    for f in baselined {
        let at = sources.line_col(f.primary.span);
        text.push_str(&format!(
            "  {}:{}:{}: {} ({}, baselined) {}\n",
            sources.path(f.primary.span.file),
            at.line,
            at.column,
            f.rule.code,
            f.severity.as_str(),
            f.message
        ));
    }
    text
}
