//! PIM205 permanent-not-allowed.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Expiry;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM205",
        name: "permanent-not-allowed",
        severity: Severity::Error,
        message: "a permanent assignment where the group's policy requires an end",
        help: "give the assignment an `end` or `duration`, or allow permanent assignments in the policy",
        docs: Docs {
            what: "An assignment is `permanent: true`, but the group's policy for that role and \
type sets `allow_permanent: false` (the default for a newly onboarded group). The policy line \
is labelled when the workspace sets it.",
            why: "The service refuses the request (`RoleAssignmentRequestPolicyValidationFailed`, \
ExpirationRule). Permanent access is what PIM exists to avoid.",
            example: "groups:\n  - name: prod-db-admins\n    policy:\n      member:\n        eligible_assignment: { allow_permanent: false }\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, permanent: true }\n",
            fix: "Replace `permanent: true` with an `end` or a `duration` within the policy's \
`max_duration`; or, if permanent access is really intended, set `allow_permanent: true` in \
the policy and have that change reviewed. For a principal marked `emergency_access: true` \
(a break-glass account) the help gives Microsoft's emergency-access advice instead: keep the \
account out of PIM-managed groups and give it a direct, permanent, active Global Administrator \
assignment, so that no expiry, activation or group change can lock it out.",
            source: "Microsoft Learn, groups-role-settings (\"Allow permanent eligible/active \
assignment\"); Graph `Expiration_Admin_Eligibility` / `Expiration_Admin_Assignment` \
`isExpirationRequired`; terraform-provider-azuread#1450; for break-glass accounts, Microsoft \
Learn, \"Manage emergency access accounts in Microsoft Entra ID\" (make the Global \
Administrator role assignment active permanent rather than eligible), \
https://learn.microsoft.com/entra/identity/role-based-access-control/security-emergency-access.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

/// The help for an `emergency_access` principal: Microsoft's advice for break-glass accounts
/// ("Manage emergency access accounts in Microsoft Entra ID"), not an expiry.
const EMERGENCY_HELP: &str = "`emergency_access` marks a break-glass account: Microsoft advises \
a permanent, active Global Administrator assignment for it, not an eligible or time-bound one; \
keep it out of PIM-managed groups, give it that role directly, not through a group, and remove \
this assignment";

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let Expiry::Permanent(span) = a.expiry else {
            continue;
        };
        let Some((group, policy)) = cx.assignment_policy(a) else {
            continue;
        };
        if policy.allow_permanent.value {
            continue;
        }
        let mut f = Finding::new(
            &RULE,
            span,
            format!(
                "`{}` may not have a permanent {} {} assignment on `{}`",
                a.principal.value, a.kind.value, a.role.value, a.group.value
            ),
        )
        .label("permanent");
        f = match policy.allow_permanent.span {
            Some(s) => f.with_secondary(s, "the policy forbids permanent assignments here"),
            None => f.with_secondary(
                group.name.span,
                "this group's policy keeps Microsoft's default: permanent not allowed",
            ),
        };
        let emergency = cx
            .principal(&a.principal.value)
            .is_some_and(|p| p.is_emergency_access());
        out.push(f.with_help(if emergency {
            // A time-bound membership would lock the break-glass account out when it ends.
            EMERGENCY_HELP.to_owned()
        } else {
            format!(
                "replace `permanent: true` with an `end` or a `duration` of at most {} (`{}`)",
                crate::config::values::describe_length(policy.max_duration.value.0),
                crate::config::values::format_duration(policy.max_duration.value)
            )
        }));
    }
}
