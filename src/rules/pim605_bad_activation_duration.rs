//! PIM605 bad-activation-duration.
use chrono::TimeDelta;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::values::quote_duration;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM605",
        name: "bad-activation-duration",
        severity: Severity::Error,
        message: "activation `max_duration` is under 30 minutes or over 24 hours",
        help: "choose an activation maximum from `PT30M` to `PT24H`",
        docs: Docs {
            what: "An activation `max_duration` is shorter than 30 minutes or longer than 24 hours.",
            why: "The service accepts activation maximums from half an hour to a day; a value \
outside that range is refused when the policy is applied.",
            example: "activation: { max_duration: P2D }\n",
            fix: "Use a value from `PT30M` to `PT24H` (in 30-minute steps, see PIM611).",
            source: "Microsoft Learn, groups-role-settings (activation maximum duration 1–24 \
hours); a Microsoft reply in MicrosoftDocs/azure-docs#51581 gives 0.5 hours as the minimum; \
terraform-provider-azuread accepts PT30M to PT23H30M or P1D.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

pub const MIN: TimeDelta = TimeDelta::minutes(30);
pub const MAX: TimeDelta = TimeDelta::hours(24);

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            let d = &role.activation.max_duration;
            let Some(span) = d.span else { continue };
            if d.value.0 < MIN || d.value.0 > MAX {
                let side = if d.value.0 < MIN {
                    "under 30 minutes"
                } else {
                    "over 24 hours"
                };
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        format!(
                            "activation maximum {} is {side}",
                            quote_duration(cx.sources.text(span), d.value)
                        ),
                    )
                    .label("out of range"),
                );
            }
        }
    }
}
