//! PIM604 approvers-all-requesters.
use std::collections::HashSet;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, Role};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM604",
        name: "approvers-all-requesters",
        severity: Severity::Warning,
        message: "every approver is also eligible for the same group and role",
        help: "add an approver who is not eligible for this group and role",
        docs: Docs {
            what: "Approval is required, and every approver also holds an eligible assignment for \
the same group and role.",
            why: "Nobody approves their own request, so each such request can only be approved by \
the others; a lone approver who is also eligible can never activate, and approvers who are \
all requesters approve each other's elevation, which defeats the separation approval was for.",
            example: "groups:\n  - name: prod-db-admins\n    policy:\n      member:\n        activation: { approval: { required: true, approvers: [alice, bob] } }\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P90D, justification: x }\n  - { group: prod-db-admins, principal: bob, role: member, type: eligible, duration: P90D, justification: x }\n",
            fix: "Add at least one approver who is not eligible (a security lead, an approver \
group), or remove the approvers' own eligibility.",
            source: "Microsoft Learn, groups-approval-workflow: requesters cannot approve their \
own requests.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [Role::Member, Role::Owner] {
            let a = &group.policy.role(role).activation;
            if !a.approval_required.value || a.approvers.value.is_empty() {
                continue;
            }
            let eligible: HashSet<&str> = cx
                .assignments_of(&group.name.value)
                .iter()
                .filter(|x| x.role.value == role && x.kind.value == AssignmentType::Eligible)
                .map(|x| x.principal.value.as_str())
                .collect();
            if a.approvers
                .value
                .iter()
                .all(|p| eligible.contains(p.value.as_str()))
            {
                let span = a.approvers.span.unwrap_or(group.name.span);
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        format!("every approver of {role} activation on `{}` is also an eligible {role}", group.name.value),
                    )
                    .label("all of them can request")
                    .with_secondary(group.name.span, "this group"),
                );
            }
        }
    }
}
