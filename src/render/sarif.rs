//! `--format sarif`: SARIF 2.1.0, as GitHub code scanning reads it.

use serde_json::{Value, json};

use super::Region;
use crate::finding::{Finding, Severity};
use crate::rules::{REGISTRY, Rule};
use crate::source::{Sources, Span};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule_descriptor(rule: &Rule) -> Value {
    let d = &rule.docs;
    let markdown = format!(
        "{}\n\n**Why.** {}\n\n**Example.**\n\n```yaml\n{}```\n\n**Fix.** {}\n\n**Source.** {}\n",
        d.what, d.why, d.example, d.fix, d.source
    );
    json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": { "text": rule.message },
        "fullDescription": { "text": d.what },
        "help": { "text": format!("{} ({})", rule.help, super::docs_pointer(rule.code)), "markdown": markdown },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": { "tags": ["pim", "security"] },
    })
}

fn physical(sources: &Sources, span: Span) -> Value {
    let r = Region::of(sources, span);
    json!({
        "artifactLocation": { "uri": sources.path(span.file) },
        "region": {
            "startLine": r.start.line,
            "startColumn": r.start.column,
            "endLine": r.end.line,
            "endColumn": r.end.column,
        }
    })
}

/// `fingerprints` holds one stable fingerprint per finding (see `identity.rs`).
pub fn render(findings: &[Finding], sources: &Sources, fingerprints: &[String]) -> String {
    let rules: Vec<Value> = REGISTRY.iter().map(|r| rule_descriptor(r)).collect();
    let results: Vec<Value> = findings
        .iter()
        .zip(fingerprints)
        .map(|(f, fingerprint)| {
            let index = REGISTRY
                .iter()
                .position(|r| r.code == f.rule.code)
                .unwrap_or(0);
            let related: Vec<Value> = f
                .secondary
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    json!({
                        "id": i + 1,
                        "physicalLocation": physical(sources, l.span),
                        "message": { "text": l.message },
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": f.rule.code,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{}\nhelp: {}", f.message, f.help_text()) },
                "locations": [ { "physicalLocation": physical(sources, f.primary.span) } ],
                "partialFingerprints": { "pimplan/v1": fingerprint },
            });
            if !related.is_empty()
                && let Some(o) = result.as_object_mut()
            {
                o.insert("relatedLocations".into(), Value::Array(related));
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "pimplan",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned());
    out.push('\n');
    out
}
