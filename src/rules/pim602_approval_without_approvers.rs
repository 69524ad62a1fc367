//! PIM602 approval-without-approvers.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM602",
        name: "approval-without-approvers",
        severity: Severity::Error,
        message: "approval is required but no approver is given",
        help: "list at least one approver (two or more recommended) under `approval.approvers`",
        docs: Docs {
            what: "An activation policy sets `approval.required: true` and lists no approvers.",
            why: "PIM for Groups has no default approvers (unlike Entra roles, where Privileged \
Role Administrators approve by default): the service refuses the setting, or every activation \
waits for an approval nobody can give.",
            example: "groups:\n  - name: prod-db-admins\n    policy:\n      member:\n        activation: { approval: { required: true } }\n",
            fix: "Add approvers (users or groups from `principals`).",
            source: "Microsoft Learn, groups-role-settings: when approval is required at least one \
approver must be selected; there are no default approvers for groups.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            let a = &role.activation;
            let (true, Some(span)) = (a.approval_required.value, a.approval_required.span) else {
                continue;
            };
            if a.approvers.value.is_empty() {
                out.push(
                    Finding::new(&RULE, span, "approval is required but there is no approver")
                        .label("nobody can approve")
                        .with_secondary_opt(a.approvers.span, "empty list"),
                );
            }
        }
    }
}
