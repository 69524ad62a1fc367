//! PIM207 expiring-soon.
use chrono::TimeDelta;

use super::{Check, Context, Docs, FIVE_MINUTES, Rule};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    code: "PIM207",
    name: "expiring-soon",
    severity: Severity::Warning,
    message: "the assignment ends within 14 days",
    help: "renew or extend the assignment if the access is still needed, or remove it",
    docs: Docs {
        what: "An assignment ends within 14 days of now.",
        why: "PIM starts sending expiry notices 14 days before the end. Deciding in the files, \
under review, whether to extend beats an outage or an ad-hoc extension in the portal.",
        example: "# with --now 2026-12-01T00:00:00Z\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, end: 2026-12-10T00:00:00Z }\n",
        fix: "Move `end` later if the access is still needed; delete the entry if it is not. \
To accept the end as it is, silence it in place: `# pimplan: ignore PIM207 leaves the team`.",
        source: "Microsoft Learn, groups-renew-extend and pim-email-notifications: notices \
within 14 days before expiry, 1 day before, and at expiry.",
    },
    locked: None,
    check: Check::Workspace(check),
};

const NOTICE_PERIOD: TimeDelta = TimeDelta::days(14);

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (Some(end), Some(span)) = (a.effective_end(cx.now), a.expiry_span()) else {
            continue;
        };
        if end >= cx.now + FIVE_MINUTES && end <= cx.now + NOTICE_PERIOD {
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "the assignment ends in {}, at {}",
                        crate::config::values::describe_length(end - cx.now),
                        end.to_rfc3339()
                    ),
                )
                .label("ends soon"),
            );
        }
    }
}
