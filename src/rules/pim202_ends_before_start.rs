//! PIM202 ends-before-start.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Expiry;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM202",
        name: "ends-before-start",
        severity: Severity::Error,
        message: "the assignment ends at or before its start",
        help: "put `end` after `start`",
        docs: Docs {
            what: "An assignment's `end` is at or before its `start`.",
            why: "Such a schedule cannot exist; usually two dates were swapped or a year was \
mistyped, and the grant meant to last months would be refused at apply time.",
            example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: eligible\n    start: 2027-01-01T00:00:00Z\n    end: 2026-01-01T00:00:00Z      # a year before the start\n",
            fix: "Correct the dates so that `end` follows `start`.",
            source: "Microsoft Graph `requestSchedule` / `expirationPattern`: the end of a schedule \
follows its start.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (Some(start), Expiry::End(end)) = (&a.start, &a.expiry) else {
            continue;
        };
        if end.value <= start.value {
            let what = if end.value == start.value {
                "at"
            } else {
                "before"
            };
            out.push(
                Finding::new(
                    &RULE,
                    end.span,
                    format!("the assignment ends {what} its start"),
                )
                .label("this end")
                .with_secondary(start.span, "is not after this start"),
            );
        }
    }
}
