//! PIM001 yaml-syntax: reported by the loader when a file cannot be read as YAML.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM001",
        name: "yaml-syntax",
        severity: Severity::Error,
        message: "the file is not valid YAML",
        help: "fix the YAML at the marked place",
        docs: Docs {
            what: "The file could not be parsed as YAML: a syntax error, tabs used for indentation, \
a second document (`---`), invalid UTF-8, or a file that exceeds pimplan's safety budgets (larger than 64 MiB, more than \
64 levels of nesting, more than 1,000 aliases or anchors, an anchor used more than 100 times, or \
an alias expansion that would replay more than 100,000 events). The node and event budgets grow \
with the file (one node per byte), so no file is refused for holding many entries. The finding \
points at the cause where pimplan can tell it, and its help says what to do about that cause: a \
`{` or `[` that is never closed is reported at the bracket (with the line where the parser gave \
up, or the end of the file, marked too), not at the later line where the parser stopped; a `{` \
closed by `]` (or `[` by `}`) is reported at the opening bracket; a `: ` \
inside an unquoted value (`justification: see: ticket 42`, `{principal: b: c}`) is reported at \
that colon, with the value quoted as the fix; only a tab gets the advice about tabs. (A `: ` \
inside `{ }` or `[ ]` that YAML does accept, as a `key: value` pair where text belongs, is \
PIM002, with the same advice.)",
            why: "A file that cannot be read cannot be checked. pimplan refuses it instead of guessing, \
and the budgets stop crafted input (a \"billion laughs\" alias bomb, 10,000 nested lists) from \
exhausting memory in a pre-commit hook or CI job.",
            example: "assignments:\n\t- group: prod-db-admins   # a tab indents this line\n\
principals:\n  - name: alice\n    licenses: [entra_id_p2     # this `[` is never closed\n    type: user\n",
            fix: "Correct the YAML at the reported line and column. Close every `{` with `}` and \
every `[` with `]`. Quote a value that holds `: ` (`\"see: ticket 42\"`) or, inside `{ }` or `[ ]`, a \
comma. Indent with spaces. Keep one document in a file. Save the file as UTF-8. Do not use anchors and aliases to multiply content. A file over a budget can be split \
into several files listed under `include:`.",
            source: "YAML 1.2.2 specification (tabs are not allowed for indentation, §6.1); \
pimplan's own safety limits.",
        },
        locked: Some(super::UNREADABLE),
    },
    check: Check::Loader,
};
