//! PIM207 expiring-soon.
use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, TimeDelta};

use super::{Check, Context, Docs, FIVE_MINUTES, PlanContext, Rule, RuleMeta};
use crate::config::model::Expiry;
use crate::finding::{Finding, Severity};
use crate::plan::end::end_of;
use crate::state::AssignmentRecord;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM207",
        name: "expiring-soon",
        severity: Severity::Warning,
        message: "the assignment ends within 14 days",
        help: "renew or extend the assignment if the access is still needed, or remove it",
        docs: Docs {
            what: "An assignment ends within 14 days of now. A `duration` counts from the first \
apply: once applied, its end is the one the state records, and `pimplan plan` checks that end.",
            why: "PIM starts sending expiry notices 14 days before the end. Deciding in the files, \
under review, whether to extend beats an outage or an ad-hoc extension in the portal.",
            example: "# with --now 2026-12-01T00:00:00Z\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, end: 2026-12-10T00:00:00Z }\n",
            fix: "Move `end` later if the access is still needed; delete the entry if it is not. \
To accept the end as it is, silence it in place: `# pimplan: ignore PIM207 leaves the team`.",
            source: "Microsoft Learn, groups-renew-extend and pim-email-notifications: notices \
within 14 days before expiry, 1 day before, and at expiry.",
        },
        locked: None,
    },
    check: Check::WorkspaceAndPlan(check, check_recorded),
};

const NOTICE_PERIOD: TimeDelta = TimeDelta::days(14);

fn soon(end: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> bool {
    end >= now + FIVE_MINUTES && end <= now + NOTICE_PERIOD
}

fn finding(
    span: crate::source::Span,
    end: DateTime<FixedOffset>,
    now: DateTime<FixedOffset>,
    how: &str,
) -> Finding {
    Finding::new(
        &RULE,
        span,
        format!(
            "the assignment ends in {}, at {}{how}",
            crate::config::values::describe_length(end - now),
            end.to_rfc3339()
        ),
    )
    .label("ends soon")
}

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (Some(end), Some(span)) = (a.effective_end(cx.now), a.expiry_span()) else {
            continue;
        };
        if soon(end, cx.now) {
            out.push(finding(span, end, cx.now, ""));
        }
    }
}

/// At plan time: an applied `duration` ends where its first apply put it (the state records
/// it), which the files alone cannot tell. Only ends the workspace check did not see.
fn check_recorded(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    // What each declared assignment is recorded as: the change's `before` (the entry it
    // replaces or updates, found by names when ids were added), else the entry by key.
    if !cx
        .desired
        .assignments
        .iter()
        .any(|(_, a)| matches!(a.expiry, Expiry::Duration(_)))
    {
        return;
    }
    let recorded: HashMap<&str, &AssignmentRecord> = cx
        .state
        .assignments
        .iter()
        .map(|r| (r.key.as_str(), r))
        .collect();
    let changed: HashMap<String, &AssignmentRecord> = cx
        .changes
        .iter()
        .filter_map(|c| Some((c.assignment_after()?.key(), c.assignment_before()?)))
        .collect();
    for (spec, a) in &cx.desired.assignments {
        let Expiry::Duration(d) = &a.expiry else {
            continue;
        };
        let key = spec.key();
        let Some(record) = changed
            .get(&key)
            .or_else(|| recorded.get(key.as_str()))
            .copied()
        else {
            continue;
        };
        let Some(end) = end_of(spec, Some(record), cx.now).at(cx.now) else {
            continue;
        };
        if a.effective_end(cx.now) != Some(end) && soon(end, cx.now) {
            out.push(finding(
                d.span,
                end,
                cx.now,
                " (the end its first apply gave the duration, as the state records it)",
            ));
        }
    }
}
