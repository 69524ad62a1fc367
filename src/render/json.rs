//! `--format json`: one stable object, documented in the README (format version 1).

use serde_json::{Value, json};

use super::{Region, docs_pointer, totals};
use crate::finding::Finding;
use crate::source::{Sources, Span};

/// Version of the JSON shape; grows only when a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

fn place(sources: &Sources, span: Span) -> Value {
    let r = Region::of(sources, span);
    json!({
        "file": sources.path(span.file),
        "line": r.start.line,
        "column": r.start.column,
        "end_line": r.end.line,
        "end_column": r.end.column,
    })
}

pub fn render(findings: &[Finding], sources: &Sources, now: &str) -> String {
    render_with(findings, None, sources, now)
}

/// One finding as the JSON document lists it.
fn item(f: &Finding, sources: &Sources) -> Value {
    let mut item = json!({
        "code": f.rule.code,
        "name": f.rule.name,
        "severity": f.severity,
        "message": f.message,
        "help": f.help_text(),
        "docs": docs_pointer(f.rule.code),
    });
    if let (Some(obj), Value::Object(at)) = (item.as_object_mut(), place(sources, f.primary.span)) {
        obj.extend(at);
        obj.insert(
            "labels".into(),
            Value::Array(
                f.secondary
                    .iter()
                    .map(|l| {
                        let mut v = place(sources, l.span);
                        if let Some(o) = v.as_object_mut() {
                            o.insert("message".into(), Value::String(l.message.clone()));
                        }
                        v
                    })
                    .collect(),
            ),
        );
    }
    item
}

/// The document, with `baselined`: the findings a baseline left out, when one was used.
pub fn render_with(
    findings: &[Finding],
    baselined: Option<&[Finding]>,
    sources: &Sources,
    now: &str,
) -> String {
    let (errors, warnings, infos) = totals(findings);
    let items: Vec<Value> = findings.iter().map(|f| item(f, sources)).collect();
    let mut doc = json!({
        "format_version": FORMAT_VERSION,
        "tool": { "name": "pimplan", "version": env!("CARGO_PKG_VERSION") },
        "now": now,
        "summary": { "errors": errors, "warnings": warnings, "infos": infos, "files": sources.checked() },
        "findings": items,
    });
    if let (Some(baselined), Some(obj)) = (baselined, doc.as_object_mut()) {
        obj.insert(
            "baselined".into(),
            Value::Array(baselined.iter().map(|f| item(f, sources)).collect()),
        );
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned());
    out.push('\n');
    out
}
