//! PIM201 assignment-too-short.
use super::{Check, Context, Docs, FIVE_MINUTES, Rule, RuleMeta};
use crate::config::model::Expiry;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM201",
        name: "assignment-too-short",
        severity: Severity::Error,
        message: "the assignment lasts less than 5 minutes",
        help: "make the assignment last at least 5 minutes",
        docs: Docs {
            what: "An assignment's end is less than 5 minutes after its start (`end` − `start`, or \
a `duration` under `PT5M`).",
            why: "PIM for Groups does not create an assignment shorter than 5 minutes; the request \
fails at apply time, half way through a run.",
            example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: eligible\n    start: 2026-12-01T08:00:00Z\n    end: 2026-12-01T08:03:00Z      # 3 minutes\n",
            fix: "Move `end` (or lengthen `duration`) to at least 5 minutes after `start`.",
            source: "Microsoft Learn, groups-assign-member-owner: \"an assignment can't be made for \
less than 5 minutes\"; terraform-provider-azuread refuses an expiration under 5 minutes after \
the start.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let length = match (&a.start, &a.expiry) {
            (_, Expiry::Duration(d)) => d.value.0,
            (Some(start), Expiry::End(end)) => end.value - start.value,
            _ => continue,
        };
        if length > chrono::TimeDelta::zero() && length < FIVE_MINUTES {
            let Some(span) = a.expiry_span() else {
                continue;
            };
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "the assignment lasts {}, less than the 5 minutes the service requires",
                        crate::config::values::describe_length(length)
                    ),
                )
                .label("ends too early")
                .with_secondary_opt(a.start.as_ref().map(|s| s.span), "starts here")
                .with_help("end the assignment at least 5 minutes after it starts"),
            );
        }
    }
}
