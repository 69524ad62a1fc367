//! PIM203 already-expired.
use super::{Check, Context, Docs, Rule};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    code: "PIM203",
    name: "already-expired",
    severity: Severity::Error,
    message: "the assignment has already ended",
    help: "remove the expired assignment, or give it a new end",
    docs: Docs {
        what: "An assignment's end is at or before now (the clock of the run, `--now` or the \
system clock).",
        why: "An expired schedule cannot be created, and an entry that stays in the files after \
its end misleads every reader about who has access. Expired assignments are gone in the \
service (visible for up to 30 days as expired).",
        example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: eligible\n    end: 2025-06-01T00:00:00Z      # in the past\n",
        fix: "Delete the entry, or renew it with a new `end` in the future.",
        source: "Microsoft Learn, groups-renew-extend: expired assignments must be renewed; \
Graph refuses an expiration in the past.",
    },
    locked: None,
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (Some(end), Some(span)) = (a.effective_end(cx.now), a.expiry_span()) else {
            continue;
        };
        if end <= cx.now {
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!("the assignment ended at {}", end.to_rfc3339()),
                )
                .label("in the past")
                .with_help(format!(
                    "it is now {}: remove the entry, or set an end in the future",
                    cx.now.to_rfc3339()
                )),
            );
        }
    }
}
