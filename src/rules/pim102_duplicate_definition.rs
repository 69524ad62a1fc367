//! PIM102 duplicate-definition.
use std::collections::HashMap;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::source::yaml::Spanned;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM102",
        name: "duplicate-definition",
        severity: Severity::Error,
        message: "a name is defined twice",
        help: "rename or remove one of the two definitions",
        docs: Docs {
            what: "A principal, group, administrative unit or policy template name is defined \
twice, in one file or in two. Both places are labelled.",
            why: "Every other section refers to these names. With two definitions, which one an \
assignment or approver list means depends on file order, and a reviewer reading one file \
cannot see the other.",
            example: "# principals/people.yaml\nprincipals:\n  - name: alice\n    type: user\n# principals/contractors.yaml\nprincipals:\n  - name: alice            # defined again\n    type: user\n",
            fix: "Give each entry its own name, or delete the copy.",
            source: "pimplan's configuration format (README, Configuration): \"A name defined twice (in one \
file or two) is an error that points at both places.\"",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn duplicates<'a>(
    what: &str,
    names: impl Iterator<Item = &'a Spanned<String>>,
    out: &mut Vec<Finding>,
) {
    let mut first: HashMap<&str, &Spanned<String>> = HashMap::new();
    for name in names {
        match first.get(name.value.as_str()) {
            Some(earlier) => out.push(
                Finding::new(
                    &RULE,
                    name.span,
                    format!("{what} `{}` is defined twice", name.value),
                )
                .label("defined again here")
                .with_secondary(earlier.span, "first defined here"),
            ),
            None => {
                first.insert(&name.value, name);
            }
        }
    }
}

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let ws = cx.workspace;
    duplicates("principal", ws.principals.iter().map(|p| &p.name), out);
    duplicates("group", ws.groups.iter().map(|g| &g.name), out);
    duplicates(
        "administrative unit",
        ws.administrative_units.iter().map(|a| &a.name),
        out,
    );
    duplicates("policy template", ws.templates.iter().map(|t| &t.name), out);
}
