//! PIM204 ends-too-soon.
use super::{Check, Context, Docs, FIVE_MINUTES, Rule};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    code: "PIM204",
    name: "ends-too-soon",
    severity: Severity::Error,
    message: "the assignment ends less than 5 minutes from now",
    help: "set an end at least 5 minutes in the future",
    docs: Docs {
        what: "An assignment's end is in the future but less than 5 minutes after now.",
        why: "The service refuses a schedule that would last less than 5 minutes from the \
moment it is created, so the apply would fail; and an assignment about to end should not be \
created at all.",
        example: "# with --now 2026-12-01T08:00:00Z\nassignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: active\n    end: 2026-12-01T08:02:00Z\n",
        fix: "Move `end` later, or remove the entry.",
        source: "Microsoft Learn, groups-assign-member-owner (5-minute minimum); \
terraform-provider-azuread refuses an expiration less than 5 minutes in the future.",
    },
    locked: None,
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (Some(end), Some(span)) = (a.effective_end(cx.now), a.expiry_span()) else {
            continue;
        };
        // Only where the end comes from a fixed time; a duration from now is PIM201's.
        if a.start.is_none() && !matches!(a.expiry, crate::config::model::Expiry::End(_)) {
            continue;
        }
        if end > cx.now && end < cx.now + FIVE_MINUTES {
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "the assignment ends {} seconds from now",
                        (end - cx.now).num_seconds()
                    ),
                )
                .label("too soon")
                .with_help(format!(
                    "it is now {}; end at least 5 minutes later",
                    cx.now.to_rfc3339()
                )),
            );
        }
    }
}
