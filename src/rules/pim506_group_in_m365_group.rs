//! PIM506 group-in-m365-group.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{GroupType, PrincipalType, Role};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM506",
        name: "group-in-m365-group",
        severity: Severity::Error,
        message: "a group is a member of a Microsoft 365 group",
        help: "assign the group's members directly",
        docs: Docs {
            what: "A principal of `type: group` is assigned membership (eligible or active) of a \
Microsoft 365 group, or is one of its standing members (`members:`).",
            why: "Microsoft 365 groups do not support nested groups: the request fails, or the \
nested members never get the access.",
            example: "groups:\n  - { name: finance-app-owners, type: microsoft365 }\nassignments:\n  - { group: finance-app-owners, principal: oncall-sre, role: member, type: eligible, duration: P90D, justification: x }\n",
            fix: "Assign the people directly, or use a security group if nesting is needed.",
            source: "Microsoft Learn, Entra service limits (nested groups): nesting is not \
supported in Microsoft 365 groups.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        if a.role.value != Role::Member {
            continue;
        }
        let Some(group) = cx.group(&a.group.value) else {
            continue;
        };
        if group.kind() != GroupType::Microsoft365 {
            continue;
        }
        if !cx
            .principal(&a.principal.value)
            .is_some_and(|p| p.is(PrincipalType::Group))
        {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                a.principal.span,
                format!(
                    "group `{}` cannot be a member of the Microsoft 365 group `{}`",
                    a.principal.value, group.name.value
                ),
            )
            .label("a group")
            .with_secondary_opt(group.kind.as_ref().map(|k| k.span), "a Microsoft 365 group"),
        );
    }
    for (group, member) in cx
        .standing_group_members()
        .filter(|(g, _)| g.kind() == GroupType::Microsoft365)
    {
        out.push(
            Finding::new(
                &RULE,
                member.span,
                format!(
                    "group `{}` cannot be a member of the Microsoft 365 group `{}`",
                    member.value, group.name.value
                ),
            )
            .label("a group")
            .with_secondary_opt(group.kind.as_ref().map(|k| k.span), "a Microsoft 365 group"),
        );
    }
}
