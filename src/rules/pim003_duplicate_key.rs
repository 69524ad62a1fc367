//! PIM003 duplicate-key: reported by the YAML layer.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM003",
        name: "duplicate-key",
        severity: Severity::Error,
        message: "a mapping repeats a key",
        help: "remove one of the two keys",
        docs: Docs {
            what: "A YAML mapping has the same key twice. Both places are labelled.",
            why: "YAML forbids duplicate keys, but many parsers silently keep the last one. In a \
review, `type: eligible` followed further down by `type: active` reads as eligible while the \
tool would grant standing access.",
            example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    type: eligible\n    role: member\n    type: active          # the second `type`\n    end: 2027-06-01T08:00:00Z\n",
            fix: "Keep the key you mean and delete the other.",
            source: "YAML 1.2.2 specification, §3.2.1.1: the keys of a mapping are unique.",
        },
        locked: Some(super::UNREADABLE),
    },
    check: Check::Loader,
};
