//! PIM603 single-approver.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM603",
        name: "single-approver",
        severity: Severity::Info,
        message: "approval has exactly one approver",
        help: "add a second approver",
        docs: Docs {
            what: "An activation policy that requires approval lists exactly one approver (a name \
listed twice counts once).",
            why: "A request expires after 24 hours without a decision. With one approver, a \
holiday or a sick day blocks every activation; Microsoft recommends two or more.",
            example: "activation: { approval: { required: true, approvers: [dave] } }\n",
            fix: "Add a second approver, or an approver group.",
            source: "Microsoft Learn, groups-role-settings and groups-approval-workflow: at least \
one approver, two or more recommended; approvers have 24 hours to act.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            let a = &role.activation;
            let distinct: std::collections::HashSet<&str> =
                a.approvers.value.iter().map(|p| p.value.as_str()).collect();
            if !a.approval_required.value || distinct.len() != 1 {
                continue;
            }
            let Some(span) = a.approvers.span else {
                continue;
            };
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!("`{}` is the only approver", a.approvers.value[0].value),
                )
                .label("one approver"),
            );
        }
    }
}
