//! PIM701 change-too-soon.
use super::{Check, Docs, FIVE_MINUTES, PlanContext, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::plan::{Action, Reason};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM701",
        name: "change-too-soon",
        severity: Severity::Error,
        message: "the plan would remove or change an assignment less than 5 minutes after it was applied",
        help: "plan again after the time the finding names",
        docs: Docs {
            what: "The plan removes, updates or replaces an assignment that was applied less than 5 \
minutes ago (its `applied_at` in the state). The help names the earliest time the change may \
be made.",
            why: "PIM for Groups does not remove or change a schedule within 5 minutes of creating \
it; the request would fail half way through an apply. Reporting it at plan time keeps the run \
all-or-nothing.",
            example: "# applied at 08:00, removed from the files, planned at 08:03\n",
            fix: "Wait until the time given and plan again.",
            source: "Microsoft Learn, groups-assign-member-owner (an assignment can't be removed \
within 5 minutes of being made); terraform-provider-azuread acceptance tests wait 5 min 15 s \
before destroy or update.",
        },
        locked: None,
    },
    check: Check::Plan(check),
};

fn check(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    for change in cx.changes {
        if !matches!(
            change.action,
            Action::Remove | Action::Update | Action::Replace
        ) || matches!(change.reason, Some(Reason::Expired { .. }))
            || change.sends_nothing()
        {
            continue;
        }
        let Some(before) = change.assignment_before() else {
            continue;
        };
        let earliest = before.applied_at + FIVE_MINUTES;
        if cx.now >= earliest {
            continue;
        }
        let verb = match change.action {
            Action::Remove => "removed",
            Action::Replace => "replaced",
            _ => "changed",
        };
        out.push(
            Finding::new(
                &RULE,
                cx.span_of(change),
                format!("{} was applied less than 5 minutes ago", change.address),
            )
            .label(format!("applied at {}", before.applied_at.to_rfc3339()))
            .with_help(format!(
                "it can be {verb} from {}; run the plan again then",
                earliest.to_rfc3339()
            )),
        );
    }
}
