//! PIM509 too-many-owners.
use std::collections::HashSet;

use super::{Check, Context, Docs, Rule};
use crate::config::model::{AssignmentType, Role};
use crate::finding::{Finding, Severity};

/// Owners a group may have.
pub const LIMIT: usize = 100;

pub static RULE: Rule = Rule {
    code: "PIM509",
    name: "too-many-owners",
    severity: Severity::Error,
    message: "a group would have more than 100 owners",
    help: "reduce the standing owners and active owner assignments to 100 or fewer",
    docs: Docs {
        what: "A group's standing `owners:` plus its active owner assignments name more than 100 \
distinct principals.",
        why: "A group can have at most 100 owners; assignments past the limit fail at apply \
time. That many owners also means nobody really owns the group.",
        example: "groups:\n  - name: all-hands\n    owners: [u1, u2, …, u101]\n",
        fix: "Make most of them eligible owners (activated when needed) or members.",
        source: "Microsoft Learn, Entra service limits include: at most 100 owners per group.",
    },
    locked: None,
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        let mut owners: HashSet<&str> = group.owners.iter().map(|o| o.value.as_str()).collect();
        for a in cx.assignments_of(&group.name.value) {
            if a.role.value == Role::Owner && a.kind.value == AssignmentType::Active {
                owners.insert(&a.principal.value);
            }
        }
        if owners.len() > LIMIT {
            out.push(
                Finding::new(
                    &RULE,
                    group.name.span,
                    format!(
                        "`{}` would have {} owners, over the limit of {LIMIT}",
                        group.name.value,
                        owners.len()
                    ),
                )
                .label("too many owners"),
            );
        }
    }
}
