//! PIM611 activation-off-grid.
use super::{Check, Context, Docs, Rule, RuleMeta, pim605_bad_activation_duration as range};
use crate::config::values::quote_duration;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM611",
        name: "activation-off-grid",
        severity: Severity::Warning,
        message: "activation `max_duration` is not a whole number of 30-minute steps",
        help: "round the activation maximum to a multiple of 30 minutes",
        docs: Docs {
            what: "An activation `max_duration` within 30 minutes to 24 hours is not a multiple of \
30 minutes (`PT45M`, `PT1H10M`). Values out of range are PIM605's.",
            why: "The portal and known clients offer only 30-minute steps; other values are not \
confirmed to be accepted, and a later edit in the portal would silently round them.",
            example: "activation: { max_duration: PT45M }\n",
            fix: "Use `PT30M`, `PT1H`, `PT1H30M`, … `PT24H`.",
            source: "terraform-provider-azuread (PT30M … PT23H30M in 30-minute steps, or P1D); \
domain notes §17.1: lint to the 30-minute grid.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            let d = &role.activation.max_duration;
            let Some(span) = d.span else { continue };
            if d.value.0 < range::MIN || d.value.0 > range::MAX {
                continue;
            }
            if d.value.0.num_seconds() % 1_800 != 0 {
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        format!(
                            "activation maximum {} is off the 30-minute grid",
                            quote_duration(cx.sources.text(span), d.value)
                        ),
                    )
                    .label("not a multiple of 30 minutes"),
                );
            }
        }
    }
}
