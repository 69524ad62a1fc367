//! PIM609 missing-justification.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{Requirement, requires};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM609",
        name: "missing-justification",
        severity: Severity::Error,
        message: "the policy requires a justification and the assignment has none",
        help: "add `justification:` to the assignment",
        docs: Docs {
            what: "An assignment has no `justification`, and the group's policy requires one when \
an admin makes an assignment of its type (`active_assignment.require` contains \
`justification`, Microsoft's default; or `eligible_assignment.require` does, which is not the \
default).",
            why: "The service refuses the request (`RoleAssignmentRequestPolicyValidationFailed`, \
JustificationRule) in the middle of an apply; and a reason recorded with the grant is what an \
auditor asks for.",
            example: "assignments:\n  - { group: ops, principal: alice, role: member, type: active, duration: P30D }\n",
            fix: "Say why the access is granted in `justification:`.",
            source: "Microsoft Learn, groups-role-settings (\"Require justification on active \
assignment\", on by default); Azure REST common errors (JustificationRule).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        if a.justification
            .as_ref()
            .is_some_and(|j| !j.value.trim().is_empty())
        {
            continue;
        }
        let Some((group, policy)) = cx.assignment_policy(a) else {
            continue;
        };
        if !requires(&policy.require.value, Requirement::Justification) {
            continue;
        }
        let f = Finding::new(
            &RULE,
            a.kind.span,
            format!(
                "{} {} of `{}` for `{}` needs a justification",
                a.kind.value, a.role.value, group.name.value, a.principal.value
            ),
        )
        .label("no justification");
        out.push(match policy.require.span {
            Some(s) => f.with_secondary(s, "the policy requires it"),
            None => f.with_secondary(
                group.name.span,
                "this group's policy keeps Microsoft's default: justification required",
            ),
        });
    }
}
