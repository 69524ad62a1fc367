//! PIM404 app-only-actor-needs-mfa.
use std::collections::HashSet;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{PrincipalType, Requirement};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM404",
        name: "app-only-actor-needs-mfa",
        severity: Severity::Error,
        message: "the policy requires MFA on assignment, which an app-only actor cannot satisfy",
        help: "drop `mfa` from `active_assignment.require` (or `eligible_assignment.require`), or apply with an interactive user",
        docs: Docs {
            what: "The `actor` is a service principal, and a group's policy requires MFA when an \
admin creates an assignment (`active_assignment.require: [mfa]`, or \
`eligible_assignment.require: [mfa]`, the `Enablement_Admin_Eligibility` rule) for a role \
that has assignments of that type in the workspace.",
            why: "An application signs in without a person, so it can never complete MFA: every \
assignment request of that type for that group and role fails with `MfaRule`, in the middle of an \
apply.",
            example: "actor: svc-pim-pipeline              # a service_principal\ngroups:\n  - name: prod-db-admins\n    policy:\n      member:\n        active_assignment: { require: [mfa, justification] }\n",
            fix: "Remove `mfa` from `active_assignment.require` for groups managed by the \
pipeline (protect activation with MFA instead), or apply those changes as an interactive user.",
            source: "Microsoft Learn, groups-role-settings (\"Require Azure MFA on active \
assignment\": the admin must pass MFA); Azure REST common errors (`MfaRule`); EasyPIM#113 \
(app-only creation blocked by MFA in the policy).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(actor) = &cx.workspace.settings.actor else {
        return;
    };
    if !cx
        .principal(&actor.value)
        .is_some_and(|p| p.is(PrincipalType::ServicePrincipal))
    {
        return;
    }
    let mut seen = HashSet::new();
    for a in &cx.workspace.assignments {
        if !seen.insert((a.group.value.as_str(), a.role.value, a.kind.value)) {
            continue;
        }
        let Some((group, policy)) = cx.assignment_policy(a) else {
            continue;
        };
        let Some(mfa) = policy
            .require
            .value
            .iter()
            .find(|r| r.value == Requirement::Mfa)
        else {
            continue;
        };
        out.push(
            Finding::new(
                &RULE,
                mfa.span,
                format!(
                    "{} {} assignments on `{}` require MFA, and the actor `{}` is an application",
                    a.kind.value, a.role.value, group.name.value, actor.value
                ),
            )
            .label(format!("MFA on {} assignment", a.kind.value))
            .with_secondary(actor.span, "a service principal applies the changes")
            .with_secondary(
                a.kind.span,
                format!("an {} assignment the actor must create", a.kind.value),
            ),
        );
    }
}
