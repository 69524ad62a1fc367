//! PIM206 exceeds-max-duration.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::values::{describe_length, format_duration};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM206",
        name: "exceeds-max-duration",
        severity: Severity::Error,
        message: "the assignment is longer than the policy's maximum duration",
        help: "shorten the assignment to the policy's `max_duration`, or raise the maximum in the policy",
        docs: Docs {
            what: "A time-bound assignment lasts longer (`end` − `start`) than the group's policy \
allows for that role and type: `eligible_assignment.max_duration` (default `P365D`) or \
`active_assignment.max_duration` (default `P180D`). The policy line is labelled when the \
workspace sets it.",
            why: "The service refuses the request (`RoleAssignmentRequestPolicyValidationFailed`, \
ExpirationRule), so the apply would stop half way.",
            example: "groups:\n  - name: prod-db-admins\n    policy:\n      member:\n        eligible_assignment: { max_duration: P90D }\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P180D }\n",
            fix: "End the assignment within the maximum (and renew it later), or raise \
`max_duration` in the policy.",
            source: "Microsoft Learn, groups-role-settings (\"Expire eligible/active assignments \
after\"); Graph overview for PIM for Groups (\"violation of the expiration rule\", 400).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (Some(end), Some(span)) = (a.effective_end(cx.now), a.expiry_span()) else {
            continue;
        };
        let Some((group, policy)) = cx.assignment_policy(a) else {
            continue;
        };
        if policy.allow_permanent.value {
            continue;
        }
        let length = end - a.effective_start(cx.now);
        let max = policy.max_duration.value.0;
        if length > max {
            let mut f = Finding::new(
                &RULE,
                span,
                format!(
                    "the {} {} assignment lasts {}, longer than the {} allowed",
                    a.kind.value,
                    a.role.value,
                    describe_length(length),
                    describe_length(max)
                ),
            )
            .label("too long");
            f = match policy.max_duration.span {
                Some(s) => f.with_secondary(s, "the policy's maximum"),
                None => f.with_secondary(
                    group.name.span,
                    format!(
                        "this group's policy keeps Microsoft's default maximum, {} (`{}`)",
                        describe_length(max),
                        format_duration(policy.max_duration.value)
                    ),
                ),
            };
            out.push(f.with_help(format!(
                "end the assignment within {} of its start",
                describe_length(max)
            )));
        }
    }
}
