//! `--format github`: GitHub Actions workflow commands, one per finding.

use super::Region;
use crate::finding::{Finding, Severity};
use crate::source::Sources;

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

pub fn render(findings: &[Finding], sources: &Sources) -> String {
    let mut out = String::new();
    for f in findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let r = Region::of(sources, f.primary.span);
        let title = format!("{} {}", f.rule.code, f.rule.name);
        let mut message = format!("{} [{}]", f.message, f.rule.code);
        message.push_str(&format!("\nhelp: {}", f.help_text()));
        out.push_str(&format!(
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&sources.path(f.primary.span.file)),
            r.start.line,
            r.start.column,
            r.end.line,
            r.end.column,
            escape_property(&title),
            escape_data(&message),
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
