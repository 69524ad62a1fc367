//! PIM510 permanent-active.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, Expiry};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM510",
        name: "permanent-active",
        severity: Severity::Warning,
        message: "a permanent active assignment",
        help: "make it eligible, or give it an end; only break-glass accounts should hold standing access",
        docs: Docs {
            what: "An active assignment is `permanent: true` for a principal that is not marked \
`emergency_access: true`.",
            why: "Microsoft recommends zero permanent active assignments except emergency-access \
(break-glass) accounts: standing access is what PIM exists to remove.",
            example: "assignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: active, permanent: true, justification: x }\n",
            fix: "Make the assignment eligible (activated when needed) or time-bound. For a \
break-glass account, mark the principal `emergency_access: true`.",
            source: "Microsoft Learn, pim-deployment-plan: no permanent active assignments except \
emergency-access accounts.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (AssignmentType::Active, Expiry::Permanent(span)) = (a.kind.value, &a.expiry) else {
            continue;
        };
        if cx
            .principal(&a.principal.value)
            .is_some_and(|p| p.is_emergency_access())
        {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                *span,
                format!(
                    "`{}` holds permanent active {} of `{}`",
                    a.principal.value, a.role.value, a.group.value
                ),
            )
            .label("standing access"),
        );
    }
}
