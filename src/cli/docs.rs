//! The commands that print pimplan's own documentation: `rules`, `explain`, `schema`
//! (`completions` and `man` are made from the clap definitions, in `arguments.rs`).

use std::io::Write;

use super::output::{print, write_out};
use crate::exit::ExitStatus;
use crate::finding::did_you_mean;
use crate::rules::{self, REGISTRY};

/// `pimplan rules`.
pub fn rules(out: &mut dyn Write) -> miette::Result<ExitStatus> {
    print(out, &rules_table())
}

/// `pimplan explain CODE`.
pub fn explain(code: &str, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    match rules::find(code) {
        Some(rule) => {
            write_out(out, &explanation(rule))?;
            Ok(ExitStatus::Success)
        }
        None => {
            let hint = did_you_mean(code, rules::selectors()).map_or_else(
                || " (`pimplan rules` lists every rule)".to_owned(),
                |c| format!("; did you mean `{c}`?"),
            );
            eprintln!("error: unknown rule `{code}`{hint}");
            Ok(ExitStatus::Failure)
        }
    }
}

/// `pimplan schema`.
pub fn schema(out: &mut dyn Write) -> miette::Result<ExitStatus> {
    print(out, &crate::schema::schema_json())
}

/// One line per rule, each column as wide as its widest cell.
pub fn rules_table() -> String {
    let name_width = REGISTRY.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let severity_width = REGISTRY
        .iter()
        .map(|r| r.severity.as_str().len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for rule in REGISTRY {
        text.push_str(&format!(
            "{}  {:<name_width$}  {:<severity_width$}  {}\n",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.message
        ));
    }
    text
}

/// What, why, example, fix, source.
pub fn explanation(rule: &rules::Rule) -> String {
    let d = &rule.docs;
    let indent = |text: &str| {
        text.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "{code} {name} ({severity})\n\n{message}\n\nWhat it checks\n{what}\n\nWhy it matters\n{why}\n\nExample\n{example}\nHow to fix\n{fix}\n\nSource\n{source}\n\n{silencing}\n",
        code = rule.code,
        name = rule.name,
        severity = rule.severity,
        message = rule.message,
        what = indent(d.what).trim_end(),
        why = indent(d.why).trim_end(),
        example = indent(d.example),
        fix = indent(d.fix).trim_end(),
        source = indent(d.source).trim_end(),
        silencing = crate::render::rule_docs::silencing(rule),
    )
}
