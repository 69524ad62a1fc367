//! PIM004 bad-duration: reported by the lowering pass.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM004",
        name: "bad-duration",
        severity: Severity::Error,
        message: "a duration is not a valid ISO 8601 duration",
        help: "write weeks, days, hours, minutes or seconds, e.g. `P90D`, `PT8H`, `PT30M`, `P2W`",
        docs: Docs {
            what: "A duration is not ISO 8601 (`PnW`, `PnD`, `PTnH`, `PTnM`, `PTnS` and their \
combinations), uses years or months, has a decimal fraction (`PT1.5H`), or is zero or \
negative. A fraction is refused with the same length in whole units: \"pimplan takes no \
fractions: write `PT1H30M`\".",
            why: "Years and months have no fixed length, and Microsoft Graph refuses them in \
assignment requests (`P1Y`, `P6M` give `InvalidRoleAssignmentRequest`). A zero duration is \
never what anyone meant. ISO 8601 allows a fraction on the smallest unit, but Graph is sent \
days, hours and minutes, so pimplan asks for whole units rather than round a value silently.",
            example: "groups:\n  - name: prod-db-admins\n    policy:\n      member:\n        eligible_assignment:\n          max_duration: P1Y     # use P365D\n",
            fix: "Use the days form: `P1Y` is `P365D`, `P6M` is `P180D`. Durations are sent to \
Graph in days, hours and minutes only.",
            source: "terraform-provider-azuread issues #1813 and #1464 (P1Y and P6M refused by the \
PIM for Groups API, P365D accepted); ISO 8601-1:2019 §5.5.2.",
        },
        locked: Some(super::UNREADABLE),
    },
    check: Check::Loader,
};
