//! PIM402 admin-scoped-to-au.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::AdminScope;
use crate::entra_roles;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM402",
        name: "admin-scoped-to-au",
        severity: Severity::Warning,
        message: "a group-managing role is scoped to an administrative unit",
        help: "assign the role at directory scope for PIM for Groups management",
        docs: Docs {
            what: "An admin holds a role that manages groups (Groups Administrator, User \
Administrator, Directory Writers, Identity Governance Administrator, Privileged Role \
Administrator, Global Administrator) scoped to an administrative unit.",
            why: "Microsoft says the roles that manage PIM for Groups should be assigned at \
directory scope. An AU-scoped assignment does not count for managing PIM (PIM401 ignores it), \
yet lets its holder change the membership of the unit's groups outside PIM.",
            example: "admins:\n  - principal: tomas\n    role: Groups Administrator\n    scope: administrative_unit\n    administrative_unit: emea-au\n",
            fix: "Assign the role at directory scope to those who manage PIM groups, or keep the \
AU-scoped role and keep PIM-managed groups out of that unit.",
            source: "Microsoft Learn, groups-assign-member-owner / groups-role-settings: \"these \
role assignments should be directory-scoped (not administrative unit-scoped)\".",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for admin in &cx.workspace.admins {
        let Some(scope) = &admin.scope else { continue };
        if scope.value != AdminScope::AdministrativeUnit {
            continue;
        }
        if entra_roles::find(&admin.role.value).is_some_and(|r| r.manages_groups()) {
            out.push(
                Finding::new(
                    &RULE,
                    scope.span,
                    format!(
                        "`{}` holds {} scoped to an administrative unit",
                        admin.principal.value, admin.role.value
                    ),
                )
                .label("should be directory")
                .with_secondary(admin.role.span, "manages groups"),
            );
        }
    }
}
