//! PIM610 role-group-activation-without-mfa.
use super::{Check, Context, Docs, Rule};
use crate::config::model::{AssignmentType, Requirement, Role, requires};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    code: "PIM610",
    name: "role-group-activation-without-mfa",
    severity: Severity::Warning,
    message: "a role-assignable group's activation requires neither MFA nor an authentication context",
    help: "add `mfa` to `activation.require`, or set an `authentication_context`",
    docs: Docs {
        what: "A role-assignable group has eligible assignments of a role (member or owner) \
whose activation requires neither `mfa` nor an `authentication_context`. Roles nobody is \
eligible for are not reported.",
        why: "Activating membership of a role-assignable group grants Entra roles. Without MFA \
at activation, a stolen password is enough to elevate.",
        example: "groups:\n  - name: prod-db-admins\n    role_assignable: true\n    policy:\n      member:\n        activation: { require: [justification] }\n",
        fix: "Require `mfa`, or better an authentication context whose Conditional Access \
policy demands a phishing-resistant authentication strength.",
        source: "Microsoft Learn, groups-role-settings (On activation, require Azure MFA or a \
Conditional Access authentication context) and pim-deployment-plan (recommended settings: \
MFA on activation).",
    },
    locked: None,
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in cx
        .workspace
        .groups
        .iter()
        .filter(|g| g.is_role_assignable())
    {
        for role in [Role::Member, Role::Owner] {
            let a = &group.policy.role(role).activation;
            if requires(&a.require.value, Requirement::Mfa)
                || a.authentication_context.value.is_some()
            {
                continue;
            }
            let eligible = cx
                .assignments_of(&group.name.value)
                .iter()
                .any(|x| x.role.value == role && x.kind.value == AssignmentType::Eligible);
            if !eligible {
                continue;
            }
            let span = a.require.span.unwrap_or(group.name.span);
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "{role} activation of role-assignable `{}` needs no MFA",
                        group.name.value
                    ),
                )
                .label("no MFA or authentication context"),
            );
        }
    }
}
