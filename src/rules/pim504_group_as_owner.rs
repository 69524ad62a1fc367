//! PIM504 group-as-owner.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{PrincipalType, Role};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM504",
        name: "group-as-owner",
        severity: Severity::Error,
        message: "a group is made owner of a group",
        help: "make the group's members owners individually, or make the group an eligible member",
        docs: Docs {
            what: "A principal of `type: group` is assigned the `owner` role of a group, or listed \
in a group's standing `owners:`.",
            why: "A group cannot own a group in Microsoft Entra ID: only users (and service \
principals) can be owners. The request fails at apply time.",
            example: "assignments:\n  - { group: prod-db-admins, principal: oncall-sre, role: owner, type: eligible, duration: P90D, justification: x }\n",
            fix: "Assign ownership to the people who need it, one assignment each.",
            source: "Microsoft Learn, Entra service limits (entra-service-limits include): a group \
can't be a group owner; at most 100 owners per group.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let is_group = |name: &str| {
        cx.principal(name)
            .is_some_and(|p| p.is(PrincipalType::Group))
    };
    for a in &cx.workspace.assignments {
        if a.role.value == Role::Owner && is_group(&a.principal.value) {
            out.push(
                Finding::new(
                    &RULE,
                    a.role.span,
                    format!(
                        "group `{}` cannot own `{}`",
                        a.principal.value, a.group.value
                    ),
                )
                .label("owner")
                .with_secondary(a.principal.span, "a group"),
            );
        }
    }
    for group in &cx.workspace.groups {
        for owner in group.owners.iter().filter(|o| is_group(&o.value)) {
            out.push(
                Finding::new(
                    &RULE,
                    owner.span,
                    format!("group `{}` cannot own `{}`", owner.value, group.name.value),
                )
                .label("a group as owner"),
            );
        }
    }
}
