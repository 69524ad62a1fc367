//! PIM105 eligible-and-active.
use std::collections::HashMap;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{Assignment, AssignmentType};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM105",
        name: "eligible-and-active",
        severity: Severity::Warning,
        message: "a principal is both eligible and active for the same group and role",
        help: "keep one of the two: eligible for just-in-time access, active for standing access",
        docs: Docs {
            what: "One principal has an eligible and an active assignment for the same group and \
role.",
            why: "The active assignment gives the access at all times, so the eligible one (with its \
MFA, justification and approval on activation) protects nothing. Usually one of the two is a \
leftover.",
            example: "assignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P90D }\n  - { group: prod-db-admins, principal: alice, role: member, type: active, duration: P30D }\n",
            fix: "Remove the active assignment to keep access just-in-time, or the eligible one if \
standing access is intended (and time-bound).",
            source: "Microsoft Learn, PIM for Groups (concept-pim-for-groups): eligible members \
activate to become active; an active member needs no activation.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut eligible: HashMap<(&str, &str, _), &Assignment> = HashMap::new();
    for a in cx
        .workspace
        .assignments
        .iter()
        .filter(|a| a.kind.value == AssignmentType::Eligible)
    {
        eligible
            .entry((
                a.group.value.as_str(),
                a.principal.value.as_str(),
                a.role.value,
            ))
            .or_insert(a);
    }
    for a in cx
        .workspace
        .assignments
        .iter()
        .filter(|a| a.kind.value == AssignmentType::Active)
    {
        if let Some(e) = eligible.get(&(
            a.group.value.as_str(),
            a.principal.value.as_str(),
            a.role.value,
        )) {
            out.push(
                Finding::new(
                    &RULE,
                    a.kind.span,
                    format!(
                        "`{}` is both eligible and active {} of `{}`",
                        a.principal.value, a.role.value, a.group.value
                    ),
                )
                .label("active here")
                .with_secondary(e.kind.span, "eligible here"),
            );
        }
    }
}
