//! PIM103 duplicate-assignment.
use std::collections::HashMap;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Assignment;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM103",
        name: "duplicate-assignment",
        severity: Severity::Error,
        message: "two assignments share group, principal, role and type",
        help: "merge the two entries into one",
        docs: Docs {
            what: "Two assignments have the same (group, principal, role, type): the identity of a \
PIM schedule.",
            why: "The service holds one schedule per principal, group and role of each type; a \
second create fails with `RoleAssignmentExists`. Two entries with different ends also leave \
the reader unsure which end is real.",
            example: "assignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P30D }\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P90D }\n",
            fix: "Keep one entry with the end you mean.",
            source: "Azure REST privileged-role common errors (`RoleAssignmentExists`: \"The Role \
assignment already exists.\"); co-native-ab/pimctl#51 for groups.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut first: HashMap<_, &Assignment> = HashMap::with_capacity(cx.workspace.assignments.len());
    for a in &cx.workspace.assignments {
        match first.get(&a.key()) {
            Some(earlier) => out.push(
                Finding::new(
                    &RULE,
                    a.principal.span,
                    format!(
                        "`{}` is assigned {} {} of `{}` twice",
                        a.principal.value, a.kind.value, a.role.value, a.group.value
                    ),
                )
                .label("second assignment")
                .with_secondary(earlier.principal.span, "first assignment"),
            ),
            None => {
                first.insert(a.key(), a);
            }
        }
    }
}
