//! PIM005 bad-timestamp: reported by the lowering pass.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM005",
        name: "bad-timestamp",
        severity: Severity::Error,
        message: "a timestamp is not RFC 3339 with an offset",
        help: "write the date, time and offset, e.g. `2026-12-01T08:00:00Z` or `2026-12-01T09:00:00+01:00`",
        docs: Docs {
            what: "A `start` or `end` is not an RFC 3339 timestamp, or has no UTC offset.",
            why: "A time without an offset means different instants on a laptop in Sydney and a CI \
runner in UTC. An access grant must end at the same moment wherever the plan is made, so \
pimplan never guesses the zone.",
            example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: eligible\n    end: 2027-06-01T08:00:00     # no offset\n",
            fix: "Add `Z` for UTC or the offset of the zone meant, e.g. `+02:00`.",
            source: "RFC 3339 §5.6; Microsoft Graph `requestSchedule.startDateTime` and \
`expirationPattern.endDateTime` are ISO 8601 instants in UTC.",
        },
        locked: Some(super::UNREADABLE),
    },
    check: Check::Loader,
};
