//! PIM505 group-active-in-role-assignable.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, PrincipalType, Role};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM505",
        name: "group-active-in-role-assignable",
        severity: Severity::Error,
        message: "a group is an active member of a role-assignable group",
        help: "make the group an eligible member instead, or assign its members directly",
        docs: Docs {
            what: "A principal of `type: group` has an active member assignment on a \
role-assignable group, or is one of its standing members (`members:`).",
            why: "Role-assignable groups cannot have groups as (active) members: nesting would \
hand an Entra role to everyone in the nested group without control. A group can only be an \
eligible member.",
            example: "groups:\n  - { name: prod-db-admins, role_assignable: true }\nassignments:\n  - { group: prod-db-admins, principal: oncall-sre, role: member, type: active, duration: P30D, justification: x }\n",
            fix: "Use `type: eligible` for the group, or assign the people directly.",
            source: "Microsoft Learn, concept-pim-for-groups and groups-concept: a group can't be \
an active member of a role-assignable group; it can be an eligible member.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        if a.kind.value != AssignmentType::Active || a.role.value != Role::Member {
            continue;
        }
        let Some(group) = cx.group(&a.group.value) else {
            continue;
        };
        if !group.is_role_assignable() {
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
                a.kind.span,
                format!(
                    "group `{}` cannot be an active member of role-assignable `{}`",
                    a.principal.value, group.name.value
                ),
            )
            .label("active")
            .with_secondary_opt(
                group.role_assignable.as_ref().map(|r| r.span),
                "role-assignable",
            ),
        );
    }
    // A standing member is as active as an active assignment.
    for (group, member) in cx
        .standing_group_members()
        .filter(|(g, _)| g.is_role_assignable())
    {
        out.push(
            Finding::new(
                &RULE,
                member.span,
                format!(
                    "group `{}` cannot be a standing member of role-assignable `{}`",
                    member.value, group.name.value
                ),
            )
            .label("a group")
            .with_secondary_opt(
                group.role_assignable.as_ref().map(|r| r.span),
                "role-assignable",
            ),
        );
    }
}
