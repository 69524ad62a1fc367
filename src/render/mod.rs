//! Renderers: findings in, text out. One file per format; nothing here decides anything.
pub mod drift;
pub mod github;
pub mod human;
pub mod import_yaml;
pub mod json;
pub mod markdown;
pub mod paths;
pub mod paths_diagram;
pub mod plan;
pub mod rule_docs;
pub mod sarif;

use crate::finding::Finding;
use crate::source::{LineCol, Sources, Span};

/// Where a span starts and ends, 1-based, as every format prints it.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub start: LineCol,
    pub end: LineCol,
}

impl Region {
    pub fn of(sources: &Sources, span: Span) -> Self {
        let start = sources.line_col(span);
        let end = sources
            .get(span.file)
            .map_or(start, |f| f.line_col(span.end as usize));
        Region { start, end }
    }
}

/// How a reader finds a rule's documentation.
pub fn docs_pointer(code: &str) -> String {
    format!("pimplan explain {code}")
}

/// Totals for summary lines.
pub fn totals(findings: &[Finding]) -> (usize, usize, usize) {
    use crate::finding::Severity;
    findings
        .iter()
        .fold((0, 0, 0), |(e, w, i), f| match f.severity {
            Severity::Error => (e + 1, w, i),
            Severity::Warning => (e, w + 1, i),
            Severity::Info => (e, w, i + 1),
        })
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
