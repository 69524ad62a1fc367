//! PIM204 ends-too-soon.
use super::{Check, Context, Docs, FIVE_MINUTES, PlanContext, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::plan::Action;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM204",
        name: "ends-too-soon",
        severity: Severity::Error,
        message: "the assignment ends less than 5 minutes from now",
        help: "set an end at least 5 minutes in the future",
        docs: Docs {
            what: "An assignment that would be sent to the service ends in the future but less \
than 5 minutes after now: one not applied yet (not in the state file), or, at plan time, an \
applied one the plan creates again, updates or replaces. An applied assignment that does not \
change is not sent, so the clock approaching its end is no finding.",
            why: "The service refuses a schedule that would last less than 5 minutes from the \
moment it is created, so the apply would fail; and an assignment about to end should not be \
created at all.",
            example: "# with --now 2026-12-01T08:00:00Z\nassignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: active\n    end: 2026-12-01T08:02:00Z\n",
            fix: "Move `end` later, or remove the entry.",
            source: "Microsoft Learn, groups-assign-member-owner (5-minute minimum); \
terraform-provider-azuread refuses an expiration less than 5 minutes in the future.",
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
        // Only where the end comes from a fixed time; a duration from now is PIM201's.
        if a.start.is_none() && !matches!(a.expiry, crate::config::model::Expiry::End(_)) {
            continue;
        }
        // Applied and unchanged, nothing is sent: the clock alone must not make it an
        // error. A change to it is checked at plan time (`check_changes`).
        if cx.is_applied(a) {
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

/// Plan time: a change to an applied assignment that would send an end less than 5 minutes
/// away (the workspace check leaves applied assignments alone).
pub fn check_changes(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    for change in cx.changes {
        if !matches!(
            change.action,
            Action::Create | Action::Update | Action::Replace
        ) || change.assignment_before().is_none()
            || change.sends_nothing()
        {
            continue;
        }
        let Some(spec) = change.assignment_after() else {
            continue;
        };
        let Some(end) = crate::plan::end::change_end(change, cx.now).at(cx.now) else {
            continue;
        };
        if end <= cx.now || end >= cx.now + FIVE_MINUTES {
            continue;
        }
        let key = spec.key();
        let span = cx
            .desired
            .assignments
            .iter()
            .find(|(s, _)| s.key() == key)
            .and_then(|(_, a)| a.expiry_span())
            .unwrap_or_else(|| cx.span_of(change));
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "the plan would send {} with an end {} seconds from now",
                    change.address,
                    (end - cx.now).num_seconds()
                ),
            )
            .label("too soon")
            .with_help(format!(
                "it is now {}; the service refuses it: end at least 5 minutes later, or leave the entry unchanged",
                cx.now.to_rfc3339()
            )),
        );
    }
}
