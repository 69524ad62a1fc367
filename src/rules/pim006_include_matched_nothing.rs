//! PIM006 include-matched-nothing: reported by the loader.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM006",
        name: "include-matched-nothing",
        severity: Severity::Warning,
        message: "an `include:` glob matches no file",
        help: "correct the glob (it is relative to the folder of the root file) or remove it",
        docs: Docs {
            what: "A glob in the root file's `include:` list matches no file. A warning for a \
glob with wildcards; an error for a path without any (`teams/ops.yaml`), which names one file \
that must exist.",
            why: "A glob that matches nothing usually means a moved folder or a typo: the \
assignments you think are managed are not read at all, and a later plan would remove them.",
            example: "include:\n  - \"asignments/*.yaml\"   # the folder is `assignments`\n",
            fix: "Fix the glob so that it matches the files you mean, or delete it.",
            source: "pimplan's configuration format (README, Configuration: Includes).",
        },
        locked: None,
    },
    check: Check::Loader,
};
