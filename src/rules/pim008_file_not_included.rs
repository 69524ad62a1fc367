//! PIM008 file-not-included: reported by the loader.
use super::{Check, Docs, Rule, RuleMeta};
use crate::finding::Severity;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM008",
        name: "file-not-included",
        severity: Severity::Warning,
        message: "a YAML file in the workspace folder holds pimplan sections, but no include matches it",
        help: "add it to `include:`, or move it out of the workspace folder (or into a hidden folder)",
        docs: Docs {
            what: "A `*.yaml` or `*.yml` file below the root file's folder has a top-level \
`principals:`, `admins:`, `groups:` or `assignments:` key (at the start of a line, quoted or \
not), but neither the root file nor any glob of its `include:` list is that file, so pimplan \
does not read it. The finding points at the file's first such key; the file itself is not \
checked. Left out of the search: hidden files and everything in hidden folders (a name that \
starts with `.`), links that lead out of the workspace folder, the state file, files that are \
not regular files, files that cannot be read or are larger than 64 MiB, and the files of \
another workspace: a folder below that holds a `pimplan.yaml` this workspace does not include \
(an environment of its own, `envs/prod/`) is that workspace's root, with everything below it. \
A file reached again through a link to a folder of the workspace is reported once, by its \
path without the link. When the root file's `include:` cannot be read (a PIM002), what it \
matches is unknown and no file is reported. Other folders (`node_modules/`, `target/`) are searched like any other.",
            why: "A new file of grants that the include list does not match is silently left out: \
its assignments are never made, and if it holds grants that were applied before (a file moved \
to a new folder), the next plan removes them. A warning, not an error: a file that is not read \
never grants anything, and the plan shows every removal; an error would also stop the lint of \
a workspace that keeps examples or scratch files beside it. Make it an error with \
`rules: { PIM008: error }` where a forgotten file must block a commit.",
            example: "# pimplan.yaml\ninclude:\n  - \"assignments/*.yaml\"\n\n# teams/ops.yaml: no include matches it\nassignments:\n  - { group: ops, principal: bob, role: member, type: eligible, duration: P30D }\n",
            fix: "Add a glob that matches the file to `include:`; or, when the file is not meant \
to be read (an example, a draft), move it out of the workspace folder or into a hidden folder \
(`.drafts/`), or silence the finding with `# pimplan: ignore PIM008 why` on the line above \
the key.",
            source: "pimplan's configuration format (README, Configuration: Includes).",
        },
        locked: None,
    },
    check: Check::Loader,
};
