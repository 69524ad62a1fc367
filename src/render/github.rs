//! `--format github`: GitHub Actions workflow commands, one per finding, within GitHub's
//! annotation limits (10 errors, 10 warnings and 10 notices a step; 50 a job), in the
//! findings' order (file, line, column, as the README documents). The title is the rule
//! code alone (`title=PIM201`); the message starts with the code and the rule's name. The
//! first 10 of each severity are shown; what does not fit is counted in one notice, printed
//! last, and the whole list goes to the job summary (`$GITHUB_STEP_SUMMARY`) as Markdown.

use super::{Region, docs_pointer, plural, totals};
use crate::finding::{Finding, Severity};
use crate::source::Sources;

/// Annotations GitHub shows per step and severity.
pub const PER_SEVERITY: usize = 10;

/// Escape the message part of a workflow command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (`file=`, `title=`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(f: &Finding) -> &'static str {
    match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

fn annotation(f: &Finding, sources: &Sources) -> String {
    let r = Region::of(sources, f.primary.span);
    let message = format!(
        "{} {}: {}\nhelp: {}",
        f.rule.code,
        f.rule.name,
        f.message,
        f.help_text()
    );
    format!(
        "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
        command(f),
        escape_property(&sources.path(f.primary.span.file)),
        r.start.line,
        r.start.column,
        r.end.line,
        r.end.column,
        escape_property(f.rule.code),
        escape_data(&message),
    )
}

/// Annotations of `severity` that fit in a step (notices share their limit with the
/// overflow notice).
fn room(severity: Severity) -> usize {
    match severity {
        Severity::Info => PER_SEVERITY - 1,
        Severity::Error | Severity::Warning => PER_SEVERITY,
    }
}

/// The workflow commands for `findings` (already sorted by file, line, column), in that
/// order: the first that fit of each severity, then one notice counting the rest.
pub fn render(findings: &[Finding], sources: &Sources) -> String {
    let mut out = String::new();
    let (mut errors, mut warnings, mut infos) = (0, 0, 0);
    let mut left_out = 0;
    for f in findings {
        let shown = match f.severity {
            Severity::Error => &mut errors,
            Severity::Warning => &mut warnings,
            Severity::Info => &mut infos,
        };
        if *shown < room(f.severity) {
            *shown += 1;
            out.push_str(&annotation(f, sources));
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        out.push_str(&format!(
            "::notice title=pimplan::{} not shown as annotations (GitHub shows 10 of each severity per step); the job summary lists all {}\n",
            plural(left_out, "more finding"),
            findings.len()
        ));
    }
    out
}

/// Every finding as a Markdown table, for `$GITHUB_STEP_SUMMARY`.
pub fn summary_markdown(findings: &[Finding], sources: &Sources) -> String {
    let (errors, warnings, infos) = totals(findings);
    let mut out = format!(
        "### pimplan lint\n\n{}, {}, {}\n\n",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(infos, "info")
    );
    if findings.is_empty() {
        return out;
    }
    out.push_str("| severity | code | place | message |\n| --- | --- | --- | --- |\n");
    for f in findings {
        let r = Region::of(sources, f.primary.span);
        out.push_str(&format!(
            "| {} | `{}` {} | `{}:{}:{}` | {} (help: {}; `{}`) |\n",
            f.severity,
            f.rule.code,
            f.rule.name,
            sources.path(f.primary.span.file),
            r.start.line,
            r.start.column,
            f.message.replace('|', "\\|"),
            f.help_text().replace('|', "\\|"),
            docs_pointer(f.rule.code),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
