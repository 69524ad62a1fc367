//! `docs/rules/PIMnnn.md`: each rule's documentation as Markdown, generated from its
//! declaration (the same text `pimplan explain` prints), checked fresh by a test.

use crate::rules::{Check, REGISTRY, Rule};

pub fn markdown(rule: &Rule) -> String {
    let d = &rule.docs;
    let stage = match rule.check {
        Check::Loader => "while the files are read",
        Check::Workspace(_) => "by `pimplan lint` (and before every plan)",
        Check::Plan(_) => "by `pimplan plan` and `pimplan apply`",
        Check::WorkspaceAndPlan(..) => {
            "by `pimplan lint` (and before every plan), and by `pimplan plan` and `pimplan apply` for what the state records"
        }
    };
    let file = format!(
        "{}_{}",
        rule.code.to_lowercase(),
        rule.name.replace('-', "_")
    );
    format!(
        "# {code} {name}\n\n<!-- generated from src/rules/{file}.rs; do not edit -->\n\n\
         Default severity: **{severity}**. Reported {stage}.\n\n> {message}\n\n\
         ## What it checks\n\n{what}\n\n## Why it matters\n\n{why}\n\n## Example\n\n```yaml\n{example}```\n\n\
         ## How to fix\n\n{fix}\n\n## Source\n\n{source}\n\n{silencing}\n",
        code = rule.code,
        name = rule.name,
        severity = rule.severity,
        message = rule.message,
        what = d.what,
        why = d.why,
        example = d.example,
        fix = d.fix,
        source = d.source,
        silencing = silencing(rule),
    )
}

/// Whether and how a finding of `rule` can be silenced.
pub fn silencing(rule: &Rule) -> String {
    match rule.locked {
        Some(why) => format!(
            "A finding of {code} cannot be silenced in place, switched off or given another \
             severity in `rules:`: {why}.",
            code = rule.code
        ),
        None => format!(
            "Silence one occurrence with `# pimplan: ignore {code} <reason>`; change the \
             severity for the workspace with `rules: {{ {code}: warning }}` in `pimplan.yaml`.",
            code = rule.code
        ),
    }
}

/// `docs/rules/README.md`: every rule with a link to its page.
pub fn index() -> String {
    let mut out = String::from(
        "# pimplan rules\n\n<!-- generated from src/rules/; do not edit -->\n\n| code | name | severity | message |\n| --- | --- | --- | --- |\n",
    );
    for rule in REGISTRY {
        out.push_str(&format!(
            "| [{code}]({code}.md) | {} | {} | {} |\n",
            rule.name,
            rule.severity,
            rule.message.replace('|', "\\|"),
            code = rule.code
        ));
    }
    out
}
