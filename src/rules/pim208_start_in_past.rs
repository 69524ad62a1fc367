//! PIM208 start-in-past.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM208",
        name: "start-in-past",
        severity: Severity::Info,
        message: "the assignment starts in the past and is not applied yet",
        help: "the service starts it when it is applied; set `start` to that time, or leave `start` out",
        docs: Docs {
            what: "An assignment that is not yet applied (not recorded in the state file) has a \
`start` before now.",
            why: "The service clamps a past start to the moment the request completes, so the \
schedule it holds will not match the files: the reader believes the access began earlier than \
it did, and a duration counted from the written start ends earlier than the service's.",
            example: "# with --now 2026-12-01T00:00:00Z\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, start: 2026-11-01T00:00:00Z, end: 2027-03-01T00:00:00Z }\n",
            fix: "Remove `start` (the assignment starts when applied) or set it in the future.",
            source: "Microsoft Graph, privilegedaccessgroup-post-eligibilityschedulerequests \
example 1: a request for a past start returns a start equal to the completion time.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let Some(start) = &a.start else { continue };
        if cx.is_applied(a) {
            continue;
        }
        if start.value < cx.now {
            out.push(
                Finding::new(
                    &RULE,
                    start.span,
                    format!(
                        "the assignment starts at {}, before now",
                        start.value.to_rfc3339()
                    ),
                )
                .label("in the past")
                .with_help(format!(
                    "it is now {}; the service will start it when it is applied",
                    cx.now.to_rfc3339()
                )),
            );
        }
    }
}
