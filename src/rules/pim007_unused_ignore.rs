//! PIM007 unused-ignore: reported by the suppression pass (`suppress.rs`).
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM007",
        name: "unused-ignore",
        severity: Severity::Warning,
        message: "a `# pimplan: ignore` comment silences nothing or gives no reason",
        help: "remove the comment, or name the code it should silence and say why",
        docs: Docs {
            what: "A `# pimplan: ignore CODE reason` comment silences no finding (on its own line \
or the line right below), names an unknown rule, gives no reason, has passed its \
`until=YYYY-MM-DD` date, or names a finding that cannot be silenced (PIM001–PIM005, which \
mean part of the workspace was not read, and PIM704). An ignore of a rule that did not run \
(switched off in `rules:`, or a plan-time rule during `lint`) is not judged, and neither \
are ignores while part of the workspace could not be read (an entry left out after PIM002 or \
PIM003, a file with a syntax error): the rule may not have seen what the ignore silences, and \
deleting it on that advice would drop a reviewed suppression. An ignore without a reason \
is reported all the same.",
            why: "Suppressions outlive the problems they hid. A stale ignore can silence a new, real \
finding on the same line later; an ignore without a reason cannot be reviewed; an expired one \
must come back to a person.",
            example: "assignments:\n  # pimplan: ignore PIM207\n  - group: prod-db-admins     # nothing here expires soon, and no reason\n",
            fix: "Delete the comment, or write `# pimplan: ignore PIMnnn [until=YYYY-MM-DD] why` \
directly above or on the line of the finding.",
            source: "pimplan convention, after ruff's RUF100 (unused-noqa).",
        },
        locked: None,
    },
    check: Check::Loader,
};
