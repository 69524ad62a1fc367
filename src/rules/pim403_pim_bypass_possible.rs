//! PIM403 pim-bypass-possible.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AdminScope, GroupType};
use crate::entra_roles::{self, Bypass};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM403",
        name: "pim-bypass-possible",
        severity: Severity::Warning,
        message: "someone can change the group's membership outside PIM",
        help: "make the group role-assignable, or remove the role that can bypass PIM",
        docs: Docs {
            what: "Someone can change a group's membership through the Groups API, outside PIM: an \
Exchange, SharePoint, Teams or Yammer Administrator exists (an `admins:` entry, or a group granted to someone, \
by an assignment or as a standing member, whose `entra_roles` include it, active or eligible: an eligible role \
is a step away) and the group is a Microsoft 365 group that is not \
role-assignable; or an admin holds a group-managing role scoped to an administrative unit \
(reported once per such admin, at its unit, since which groups the unit holds is not \
declared).",
            why: "Changes made outside PIM are not just-in-time, not approved and not in the files: \
the state pimplan plans against drifts, and a member added by such an admin has standing \
access nobody reviewed.",
            example: "admins:\n  - { principal: erin, role: Teams Administrator }\ngroups:\n  - name: finance-app-owners\n    type: microsoft365          # not role-assignable: Exchange, SharePoint, Teams and Yammer admins can edit members\n",
            fix: "For sensitive groups use role-assignable groups, which only Privileged Role \
Administrators, Global Administrators and owners can manage. Otherwise accept the risk \
explicitly (`# pimplan: ignore PIM403 <why>`) and watch for drift.",
            source: "Microsoft Learn, concept-pim-for-groups and groups-assign-member-owner: \
\"other roles can manage groups through the Groups API and so override PIM changes\", e.g. \
Exchange Administrators for non-role-assignable Microsoft 365 groups, and administrative \
unit-scoped admins. Microsoft Learn, \"Microsoft Entra built-in roles\" (permissions \
reference, https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference): \
Exchange Administrator, SharePoint Administrator, Teams Administrator and Yammer Administrator \
(the Yammer Administrator entry: \"Create, manage, and restore Microsoft 365 Groups, but not \
role-assignable groups\") each \
hold \
`microsoft.directory/groups.unified/members/update`, \"Update members of Microsoft 365 groups, \
excluding role-assignable groups\".",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let ws = cx.workspace;
    let bypasses = |role: &str| {
        entra_roles::find(role).is_some_and(|r| r.bypass == Bypass::NonRoleAssignableM365Groups)
    };
    // Who holds such a role: an admin entry, or the members of a group the role is given to
    // (`entra_roles`, active or eligible: activating it is up to the member) when the files
    // grant that group to anyone (an assignment or a standing member).
    let exchange = ws
        .admins
        .iter()
        .find(|a| bypasses(&a.role.value))
        .map(|a| {
            (
                a.role.value.as_str(),
                a.role.span,
                format!("`{}` holds this role", a.principal.value),
            )
        })
        .or_else(|| {
            ws.groups.iter().find_map(|g| {
                let role = g.entra_roles.iter().find(|r| bypasses(&r.role.value))?;
                let verb = if role.is_active() {
                    "hold"
                } else {
                    "are eligible for"
                };
                (!g.members.is_empty()
                    || ws.assignments.iter().any(|a| a.group.value == g.name.value))
                .then(|| {
                    (
                        role.role.value.as_str(),
                        role.role.span,
                        format!("the members of `{}` {verb} this role", g.name.value),
                    )
                })
            })
        });
    if let Some((role, role_span, holder)) = exchange {
        for group in &ws.groups {
            if group.kind() != GroupType::Microsoft365 || group.is_role_assignable() {
                continue;
            }
            let span = group.kind.as_ref().map_or(group.name.span, |k| k.span);
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "{} administrators can change the members of `{}` outside PIM",
                        role.trim_end_matches(" Administrator"),
                        group.name.value
                    ),
                )
                .label("a Microsoft 365 group that is not role-assignable")
                .with_secondary(role_span, holder.clone()),
            );
        }
    }
    for admin in &ws.admins {
        if admin.scope() != AdminScope::AdministrativeUnit {
            continue;
        }
        if !entra_roles::find(&admin.role.value).is_some_and(|r| r.manages_groups()) {
            continue;
        }
        let Some(au) = &admin.administrative_unit else {
            continue;
        };
        out.push(
            Finding::new(
                &RULE,
                au.span,
                format!(
                    "`{}` can change the members of groups in `{}` outside PIM",
                    admin.principal.value, au.value
                ),
            )
            .label("groups in this unit")
            .with_help("keep PIM-managed groups out of this administrative unit, or make them role-assignable"),
        );
    }
}
