//! PIM203 already-expired.
use std::collections::{HashMap, HashSet};

use super::{Check, Context, Docs, PlanContext, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM203",
        name: "already-expired",
        severity: Severity::Warning,
        message: "the assignment has already ended",
        help: "remove the expired assignment, or give it a new end",
        docs: Docs {
            what: "An assignment's end is at or before now (the clock of the run, `--now` or the \
system clock). At plan time also: a `duration` without `start` whose schedule the state \
records as ended.",
            why: "An entry that stays in the files after its end misleads every reader about who \
has access. Expired assignments are gone in the service (visible for up to 30 days as \
expired). A warning, not an error: time passing must not turn an unrelated pull request red, \
and nothing is sent for it. The plan reports the entry as ended, drops it from the state \
(remembering it under `ended`) and never creates it again while its `start`, `end` and \
`duration` stay as they are; changing one of them grants it again.",
            example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: eligible\n    end: 2025-06-01T00:00:00Z      # in the past\n",
            fix: "Delete the entry, or grant it again with a new `end` in the future (or a new \
`start` or `duration`).",
            source: "Microsoft Learn, groups-renew-extend: expired assignments must be renewed; \
Graph refuses an expiration in the past.",
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
        if end <= cx.now {
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!("the assignment ended at {}", end.to_rfc3339()),
                )
                .label("in the past")
                .with_help(format!(
                    "it is now {}: it is not granted again; remove the entry, or give it a new end in the future",
                    cx.now.to_rfc3339()
                )),
            );
        }
    }
}

/// Plan time: a declared assignment that the state records as ended with the same times (a
/// `duration` without `start`, whose end the files cannot show). The plan does not create it.
pub fn check_ended(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    if cx.state.ended.is_empty() {
        return;
    }
    let recorded: HashSet<&str> = cx
        .state
        .assignments
        .iter()
        .map(|a| a.key.as_str())
        .collect();
    let ended: HashMap<&str, &crate::state::AssignmentRecord> =
        cx.state.ended.iter().map(|e| (e.key.as_str(), e)).collect();
    for (spec, a) in &cx.desired.assignments {
        // An end the files show is the workspace check's.
        if a.effective_end(cx.now).is_none_or(|end| end <= cx.now) {
            continue;
        }
        let key = spec.key();
        if recorded.contains(key.as_str()) {
            continue;
        }
        let (Some(e), Some(span)) = (
            ended.get(key.as_str()).filter(|e| e.spec.same_times(spec)),
            a.expiry_span(),
        ) else {
            continue;
        };
        let end = e.ends_at.map_or_else(String::new, |t| t.to_rfc3339());
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "the assignment ended at {end} (applied {}, counted from {}); it is not granted again",
                    e.applied_at.to_rfc3339(),
                    e.starts_at.to_rfc3339()
                ),
            )
            .label("ended")
            .with_help(
                "remove the entry, or give it a new `start`, `end` or `duration` to grant it again",
            ),
        );
    }
}
