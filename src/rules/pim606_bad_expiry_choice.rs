//! PIM606 bad-expiry-choice.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::values::quote_duration;
use crate::finding::{Finding, Severity};

/// The "Expire eligible/active assignments after" choices the portal offers, in days.
pub const PORTAL_DAYS: [i64; 5] = [15, 30, 90, 180, 365];

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM606",
        name: "bad-expiry-choice",
        severity: Severity::Warning,
        message: "an assignment `max_duration` is not one the portal offers",
        help: "use P15D, P30D, P90D, P180D or P365D",
        docs: Docs {
            what: "A policy's `eligible_assignment.max_duration` or `active_assignment.max_duration` \
is not one of P15D, P30D, P90D, P180D, P365D.",
            why: "The portal offers only these five values, and the Terraform provider accepts only \
them; other values are not confirmed to be accepted by the service, so the apply may fail or \
the setting may be shown wrongly in the portal.",
            example: "eligible_assignment: { max_duration: P60D }\n",
            fix: "Round to a value the portal offers (P60D → P90D or P30D).",
            source: "terraform-provider-azuread group_role_management_policy validation (the \
portal's dropdown values); not listed in Microsoft's documentation (UNVERIFIED by Microsoft).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            for (which, policy) in [("eligible", &role.eligible), ("active", &role.active)] {
                let d = &policy.max_duration;
                let Some(span) = d.span else { continue };
                let secs = d.value.0.num_seconds();
                if secs % 86_400 == 0 && PORTAL_DAYS.contains(&(secs / 86_400)) {
                    continue;
                }
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        format!(
                            "{which} assignment maximum {} is not a portal choice",
                            quote_duration(cx.sources.text(span), d.value)
                        ),
                    )
                    .label("not P15D, P30D, P90D, P180D or P365D"),
                );
            }
        }
    }
}
