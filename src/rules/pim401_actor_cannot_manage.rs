//! PIM401 actor-cannot-manage.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AdminScope, AssignmentType, Role};
use crate::entra_roles;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM401",
        name: "actor-cannot-manage",
        severity: Severity::Error,
        message: "the actor holds no role that may manage this group",
        help: "give the actor a role that may manage the group (at directory scope), or make it a standing owner",
        docs: Docs {
            what: "The `actor` (the identity that applies changes) may not manage PIM for this \
group. A role-assignable group needs Privileged Role Administrator or Global Administrator at \
directory scope (an `admins:` entry, or an active or standing membership (`members:`) of a group whose \
`entra_roles` include it as an active role), or standing ownership of the group (`owners:`). Any other group also accepts \
Directory Writers, Groups Administrator, Identity Governance Administrator or User \
Administrator. Roles scoped to an administrative unit do not count (PIM402), and neither does a \
role the group is only eligible for (`type: eligible`): it is not held until activated, and an \
apply does not activate roles.",
            why: "Every request of the apply would fail with an authorisation error, half way \
through a run; better to learn it from the pull request.",
            example: "actor: svc-pim-pipeline\nadmins:\n  - { principal: svc-pim-pipeline, role: Groups Administrator }\ngroups:\n  - name: prod-db-admins\n    role_assignable: true          # needs Privileged Role Administrator\n",
            fix: "Assign the actor Privileged Role Administrator (for role-assignable groups) or \
Groups Administrator at directory scope, record it under `admins:`, or add the actor to the \
group's `owners:`.",
            source: "Microsoft Learn, \"Assign eligibility for a group in Privileged Identity \
Management\" (groups-assign-member-owner, \
https://learn.microsoft.com/entra/id-governance/privileged-identity-management/groups-assign-member-owner): \
for role-assignable groups Global Administrator, Privileged Role Administrator or an owner of \
the group; for other groups Global Administrator, Directory Writer, Groups Administrator, \
Identity Governance Administrator, User Administrator or an owner; role assignments scoped at \
directory level, not administrative unit level. Microsoft Learn, groups-role-settings: the \
same split for a group's role settings (role-assignable groups at least Privileged Role \
Administrator). pimplan also counts Privileged Role Administrator for the other groups. \
The role names are the display names of Microsoft Learn, \"Microsoft \
Entra built-in roles\" (permissions-reference; `Directory Writers` there).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(actor) = &cx.workspace.settings.actor else {
        return;
    };
    // What could not be read may give the actor a role: then its rights are not known.
    if cx.principal(&actor.value).is_none() || cx.workspace.left_out.may_give_roles_to(&actor.value)
    {
        return;
    }
    let roles = cx.index.admins_by_principal.get(actor.value.as_str());
    // Roles the actor holds as an active or standing member of a group they are given to
    // (`entra_roles`). An eligible role is not held until activated, and an apply activates
    // nothing: it does not count.
    let standing = cx
        .workspace
        .groups
        .iter()
        .filter(|g| g.members.iter().any(|m| m.value == actor.value));
    let group_roles: Vec<&str> = cx
        .workspace
        .assignments
        .iter()
        .filter(|a| {
            a.principal.value == actor.value
                && a.role.value == Role::Member
                && a.kind.value == AssignmentType::Active
        })
        .filter_map(|a| cx.group(&a.group.value))
        .chain(standing)
        .flat_map(|g| g.active_entra_roles().map(|r| r.role.value.as_str()))
        .collect();
    for group in &cx.workspace.groups {
        let role_assignable = group.is_role_assignable();
        let is_owner = group.owners.iter().any(|o| o.value == actor.value);
        let has_role = roles.into_iter().flatten().any(|admin| {
            admin.scope() == AdminScope::Directory
                && entra_roles::find(&admin.role.value)
                    .is_some_and(|r| r.may_manage(role_assignable))
        });
        let has_group_role = group_roles
            .iter()
            .any(|r| entra_roles::find(r).is_some_and(|r| r.may_manage(role_assignable)));
        if is_owner || has_role || has_group_role {
            continue;
        }
        let needed = if role_assignable {
            "Privileged Role Administrator or Global Administrator"
        } else {
            "Groups Administrator, User Administrator, Identity Governance Administrator, Directory Writers, Privileged Role Administrator or Global Administrator"
        };
        let kind = if role_assignable {
            "role-assignable group"
        } else {
            "group"
        };
        out.push(
            Finding::new(
                &RULE,
                group.name.span,
                format!(
                    "the actor `{}` may not manage the {kind} `{}`",
                    actor.value, group.name.value
                ),
            )
            .label("cannot be managed by the actor")
            .with_secondary(actor.span, "applies the changes")
            .with_help(format!(
                "give `{}` {needed} at directory scope, or add it to the group's `owners:`",
                actor.value
            )),
        );
    }
}
