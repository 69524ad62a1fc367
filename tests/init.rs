//! `pimplan init [DIR]`: a first workspace in one command, over the real binary.

mod common;

use std::path::Path;

use common::{Run, json};

const NOW: &str = "2026-12-01T00:00:00Z";

fn pimplan(dir: &Path, args: &[&str]) -> Run {
    common::run(dir, NOW, args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The root file validates against the schema written beside it, read as an editor reads
/// YAML (1.2 core schema), and its first line names that schema by a path relative to it.
fn editor_accepts(dir: &Path) {
    let root = read(&dir.join("pimplan.yaml"));
    assert_eq!(
        root.lines().next(),
        Some("# yaml-language-server: $schema=pimplan.schema.json")
    );
    let schema = json(&read(&dir.join("pimplan.schema.json")));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| unreachable!("{e}"));
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let value: serde_json::Value =
        serde_saphyr::from_str_with_options(&root, options).unwrap_or_else(|e| unreachable!("{e}"));
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn init_writes_a_workspace_that_lints_clean_and_plans() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    let init = pimplan(dir, &["init"]);
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    insta::assert_snapshot!(init.stdout);
    // The schema is `pimplan schema`'s, so the modeline works without pimplan's repository.
    let schema = pimplan(dir, &["schema"]);
    assert_eq!(read(&dir.join("pimplan.schema.json")), schema.stdout);
    editor_accepts(dir);

    let lint = pimplan(dir, &["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    assert_eq!(lint.stdout, "pimplan: no findings in 1 file\n");
    // Clean whenever it is written: the assignment runs for a duration, not to a date.
    let later = common::run(dir, "2031-06-01T00:00:00Z", &["lint"]);
    assert_eq!(later.code, 0, "{}", later.stdout);
    let plan = pimplan(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("+ assignment platform-admins/alice (member, eligible)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to remove."),
        "{}",
        plan.stdout
    );
    // The next steps it printed work as written.
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
}

#[test]
fn init_into_a_new_folder_names_it_in_the_next_steps() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    let init = pimplan(dir, &["init", "infra/pim"]);
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    insta::assert_snapshot!(init.stdout);
    editor_accepts(&dir.join("infra/pim"));
    let lint = pimplan(dir, &["lint", "infra/pim"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    let plan = pimplan(dir, &["-c", "infra/pim/pimplan.yaml", "plan"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("Plan: 3 to add"), "{}", plan.stdout);
}

#[test]
fn init_never_overwrites_a_file_and_writes_nothing_when_one_is_there() {
    let names = ["pimplan.yaml", "pimplan.schema.json"];
    for (i, there) in names.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let dir = tmp.path();
        std::fs::write(dir.join(there), "mine\n").unwrap_or(());
        let init = pimplan(dir, &["init"]);
        assert_eq!(init.code, 2, "{}{}", init.stdout, init.stderr);
        assert!(init.stdout.is_empty(), "{}", init.stdout);
        assert!(
            common::flat(&init.stderr).contains(&format!(
                "refusing to initialise a workspace: `{there}` is already there, and `pimplan init` never overwrites a file"
            )),
            "{}",
            init.stderr
        );
        assert!(
            common::flat(&init.stderr).contains("nothing was written"),
            "{}",
            init.stderr
        );
        assert_eq!(read(&dir.join(there)), "mine\n");
        let other = names[1 - i];
        assert!(!dir.join(other).exists(), "{other} was written");
    }

    // Both there: both named. A link to nothing counts as there (writing would follow it).
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("pimplan.yaml"), "mine\n").unwrap_or(());
    std::os::unix::fs::symlink(dir.join("elsewhere.json"), dir.join("pimplan.schema.json"))
        .unwrap_or(());
    let init = pimplan(dir, &["init"]);
    assert_eq!(init.code, 2, "{}{}", init.stdout, init.stderr);
    assert!(
        common::flat(&init.stderr)
            .contains("`pimplan.schema.json` and `pimplan.yaml` are already there"),
        "{}",
        init.stderr
    );
    assert!(!dir.join("elsewhere.json").exists());
    assert_eq!(read(&dir.join("pimplan.yaml")), "mine\n");
}

#[test]
fn init_inside_a_workspace_whose_include_would_read_it_is_refused() {
    let ws = common::workspace_with(
        "version: 1\ninclude: [\"teams/**/*.yaml\"]\nprincipals:\n  - { name: u0, type: user, licenses: [entra_id_p2] }\n",
    );
    let teams = ws.path().join("teams");
    std::fs::create_dir(&teams).unwrap_or(());
    let init = pimplan(&teams, &["init", "new"]);
    assert_eq!(init.code, 2, "{}{}", init.stdout, init.stderr);
    assert!(
        common::flat(&init.stderr).contains(
            "refusing to initialise a workspace in `new`: it is inside the workspace of `../pimplan.yaml`, whose `include:` would read `new/pimplan.yaml` as one of its own files"
        ),
        "{}",
        init.stderr
    );
    assert!(
        common::flat(&init.stderr).contains("nothing was written"),
        "{}",
        init.stderr
    );
    // Nothing is left behind, not even the folder, and the enclosing workspace still lints.
    assert!(!teams.join("new").exists());
    let lint = pimplan(ws.path(), &["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);

    // A folder its include does not match is a separate workspace: written, and said so.
    let init = pimplan(ws.path(), &["init", "other"]);
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    assert!(
        init.stdout.contains("Note: `other` is inside the workspace of `pimplan.yaml`, which leaves it out (its `include:` does not match it): they are separate workspaces, each with its own state."),
        "{}",
        init.stdout
    );
    let lint = pimplan(ws.path(), &["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    let lint = pimplan(&ws.path().join("other"), &["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
}
