//! PIM612 roles-need-role-assignable.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM612",
        name: "roles-need-role-assignable",
        severity: Severity::Error,
        message: "a group holds Entra roles but is not role-assignable",
        help: "set `role_assignable: true` (only possible when the group is created)",
        docs: Docs {
            what: "A group lists `entra_roles` (directory roles it holds or is eligible for) but is not \
`role_assignable: true`. An eligible role needs a role-assignable group as much as an active one; \
`azure_roles` do not.",
            why: "Only role-assignable groups can be assigned Entra roles. The flag is set when a \
group is created and cannot be changed, so the declaration describes a group that cannot \
exist.",
            example: "groups:\n  - name: sec-ops-responders\n    entra_roles: [Security Administrator]\n",
            fix: "Declare the group `role_assignable: true` (a new group, created by a Privileged \
Role Administrator), or remove `entra_roles`.",
            source: "Microsoft Learn, groups-concept (role-assignable groups): a group must be \
created with isAssignableToRole to be assigned a role; the property cannot be changed later.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        let Some(first) = group.entra_roles.first() else {
            continue;
        };
        if group.is_role_assignable() {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                first.role.span,
                format!(
                    "`{}` {} {} but is not role-assignable",
                    group.name.value,
                    if first.is_active() {
                        "holds"
                    } else {
                        "is eligible for"
                    },
                    first.role.value
                ),
            )
            .label("an Entra role")
            .with_secondary_opt(
                group.role_assignable.as_ref().map(|r| r.span),
                "not role-assignable",
            ),
        );
    }
}
