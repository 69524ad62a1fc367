//! PIM002 invalid-config: reported by the loader and the lowering pass.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM002",
        name: "invalid-config",
        severity: Severity::Error,
        message: "the configuration does not match pimplan's format",
        help: "see `pimplan schema` or the configuration reference for the keys and values allowed here",
        docs: Docs {
            what: "A key is unknown (with a \"did you mean\" for typos), a value has the wrong type \
or spelling (`elegible` for `eligible`, a number where a name belongs), a required key is \
missing, `version` is not 1, an assignment does not give exactly one of `end`, `duration` and \
`permanent: true`, a YAML tag is written (`!include x`, `!!str 1`: pimplan gives tags no \
meaning, so none is accepted), a root-file key appears in an included file, an `include:` glob reaches \
outside the workspace folder, or a service principal is named as an approver (approvers are \
users or groups; pointed at the approver, with the principal's `type:` labelled), or a `: ` \
inside `{ }` or `[ ]` made a `key: value` pair where text belongs (`justification: {see: ticket \
42}`, `licenses: [x, y: z]`) or a `,` inside `{ }` cut a value short (`{justification: \
ticket 42, see wiki}` reads a key `see wiki`); for both the help gives the value quoted. Every \
such error of every file is reported in one run, each key's own: the entry that holds one \
(a principal, group, admin, assignment, template, `rules:` line, or a top-level key such as \
`tenant`) is left out, the rest of the file and the workspace are still checked, and what \
the left-out entry defines is not reported as undefined (PIM101), nor is what depends on it \
(an assignment to a left-out group). A file with a syntax error, a YAML tag, an alias, or \
more than 100 such errors is not read past its first one.",
            why: "An unknown key that is silently ignored is a rule that silently does not apply: \
`approvl: {required: true}` would leave activation without approval. pimplan refuses what it \
does not understand.",
            example: "assignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: elegible        # did you mean `eligible`?\n    end: 2027-06-01T08:00:00Z\n",
            fix: "Use the spelling the help suggests, or remove the key. Quote text that holds `: `, \
or a comma inside `{ }` (`justification: \"see: ticket 42, wiki\"`). `pimplan schema` prints the \
JSON Schema of the format; point your editor at it for completion. A role name that is not \
a Microsoft Entra built-in role (a custom role) is the one PIM002 that may be silenced \
(`# pimplan: ignore PIM002 custom role`): every other one means part of a file was not read.",
            source: "pimplan's configuration format (README, Configuration).",
        },
        locked: Some(super::UNREADABLE),
    },
    check: Check::Loader,
};
