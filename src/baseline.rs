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
