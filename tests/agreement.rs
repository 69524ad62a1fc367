//! What the binary tells a user agrees with itself (issue 13 point 6): `rules` aligns its
//! columns, one spelling of "license", no project-internal words, one way to find the
//! workspace root file and one error when there is none.

mod common;

use std::path::Path;

use common::{Run, workspace_with};

const NOW: &str = "2026-12-01T00:00:00Z";

/// `pimplan ARGS` in `dir`, without the host's clock or credentials.
fn pimplan(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
    for k in common::HOST_ENV {
        cmd.env_remove(k);
    }
    let out = cmd
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env("COLUMNS", "100")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap_or_else(|e| unreachable!("{e}"));
    Run::of(&out)
}

/// The byte offsets where the columns after the code start: name, severity, message.
fn column_starts(line: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut previous_space = 0;
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b' ' {
            previous_space += 1;
        } else {
            if previous_space >= 2 && starts.len() < 3 {
                starts.push(i);
            }
            previous_space = 0;
        }
    }
    starts
}

#[test]
fn rules_aligns_its_columns() {
    let run = pimplan(&common::manifest(), &["rules"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), pimplan::rules::REGISTRY.len());
    let first = column_starts(lines[0]);
    assert_eq!(first.len(), 3, "{}", lines[0]);
    for (line, rule) in lines.iter().zip(pimplan::rules::REGISTRY) {
        assert_eq!(column_starts(line), first, "misaligned: {line}");
        assert_eq!(&line[first[0]..first[0] + rule.name.len()], rule.name);
        let severity = rule.severity.as_str();
        assert_eq!(&line[first[1]..first[1] + severity.len()], severity);
        assert_eq!(&line[first[2]..], rule.message);
    }
    insta::assert_snapshot!(run.stdout);
}

/// Every text the binary prints about itself: `--help` of every command, `rules`, `explain`
/// of every rule, the schema; and the generated rule pages.
fn user_facing_texts() -> Vec<(String, String)> {
    use clap::CommandFactory;
    let here = common::manifest();
    let mut texts = Vec::new();
    let mut commands = vec![vec!["--help".to_owned()]];
    let root = pimplan::cli::Arguments::command();
    for sub in root.get_subcommands() {
        commands.push(vec![sub.get_name().to_owned(), "--help".to_owned()]);
        for inner in sub.get_subcommands() {
            commands.push(vec![
                sub.get_name().to_owned(),
                inner.get_name().to_owned(),
                "--help".to_owned(),
            ]);
        }
    }
    commands.push(vec!["rules".to_owned()]);
    commands.push(vec!["schema".to_owned()]);
    for rule in pimplan::rules::REGISTRY {
        commands.push(vec!["explain".to_owned(), rule.code.to_owned()]);
    }
    for args in commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = pimplan(&here, &args);
        assert_eq!(run.code, 0, "pimplan {args:?}: {}", run.stderr);
        texts.push((format!("pimplan {}", args.join(" ")), run.stdout));
    }
    for entry in std::fs::read_dir(here.join("docs/rules"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        texts.push((entry.path().display().to_string(), text));
    }
    texts
}

#[test]
fn user_facing_text_spells_license_one_way_and_has_no_internal_words() {
    let texts = user_facing_texts();
    assert!(texts.len() > 100, "only {} texts", texts.len());
    let mut found = Vec::new();
    for (whence, text) in &texts {
        let lower = text.to_lowercase();
        if lower.contains("licence") {
            found.push(format!("{whence}: licence"));
        }
        let words: Vec<&str> = lower
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .map(|w| w.trim_end_matches('.'))
            .collect();
        for internal in ["seed", "seeds", "contract", "config.md", "spec", "issue"] {
            if words.contains(&internal) {
                found.push(format!("{whence}: {internal}"));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
    let all: String = texts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(all.contains("license"), "no text says license at all");
}

const CLEAN: &str = "version: 1\nprincipals:\n  - { name: alice, type: user, licenses: [entra_id_p2] }\ngroups:\n  - name: ops\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, duration: P30D, justification: x }\n";

#[test]
fn every_command_finds_the_root_file_in_this_folder_or_above() {
    // The finding shows that the parent's file was read, not merely that something was found.
    let ws = workspace_with(&CLEAN.replace(", licenses: [entra_id_p2]", ""));
    let deep = ws.path().join("teams/ops");
    std::fs::create_dir_all(&deep).unwrap_or(());
    let lint = pimplan(&deep, &["lint", "--now", NOW, "--color", "never"]);
    assert_eq!(lint.code, 1, "{}{}", lint.stdout, lint.stderr);
    assert!(
        lint.stdout.contains("../../pimplan.yaml:7:30") && lint.stdout.contains("PIM301"),
        "{}",
        lint.stdout
    );
    // A root file in the current folder wins over one above it.
    std::fs::write(deep.join("pimplan.yaml"), CLEAN).unwrap_or(());
    let near = pimplan(&deep, &["lint", "--now", NOW, "--color", "never"]);
    assert_eq!(near.code, 0, "{}{}", near.stdout, near.stderr);
    std::fs::remove_file(deep.join("pimplan.yaml")).unwrap_or(());

    std::fs::write(ws.path().join("pimplan.yaml"), CLEAN).unwrap_or(());
    let plan = pimplan(&deep, &["plan", "--now", NOW, "--color", "never"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("+ assignment ops/alice"),
        "{}",
        plan.stdout
    );
    let apply = pimplan(&deep, &["apply", "--auto-approve", "--now", NOW, "-q"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    // The state went beside the root file, not into the current folder.
    assert!(ws.path().join("pimplan.state.json").is_file());
    assert!(!deep.join("pimplan.state.json").exists());
    let list = pimplan(&deep, &["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("alice"), "{}", list.stdout);
    let unlock = pimplan(&deep, &["force-unlock"]);
    assert!(
        !unlock.stderr.contains("no workspace root file"),
        "{}",
        unlock.stderr
    );
}

/// Every command that reads a workspace, as a user would type it.
const WORKSPACE_COMMANDS: &[&[&str]] = &[
    &["lint"],
    &["plan"],
    &["apply", "--auto-approve"],
    &["drift"],
    &["import"],
    &["state", "list"],
    &["state", "show", "x"],
    &["state", "rm", "x", "--auto-approve"],
    &["state", "accept-edit", "--auto-approve"],
    &["force-unlock"],
    &["paths", "--tier0"],
];

#[test]
fn the_missing_root_error_reads_the_same_for_every_command() {
    let empty = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    for (extra, expected) in [
        (
            &[][..],
            "error: no workspace root file at `pimplan.yaml` in this folder or any folder above it; give the root file with `-c PATH`\n",
        ),
        (
            &["-c", "teams/root.yaml"][..],
            "error: no workspace root file at `teams/root.yaml`; give the root file with `-c PATH`\n",
        ),
    ] {
        for command in WORKSPACE_COMMANDS {
            let args: Vec<&str> = command.iter().chain(extra).copied().collect();
            let run = pimplan(empty.path(), &args);
            assert_eq!(run.stderr, expected, "pimplan {args:?}");
            assert_eq!(run.stdout, "", "pimplan {args:?}");
            // lint's usage and I/O errors are 2; for the others 2 means changes or drift.
            let code = if command[0] == "lint" { 2 } else { 1 };
            assert_eq!(run.code, code, "pimplan {args:?}");
        }
    }
}

#[test]
fn a_root_file_that_is_a_folder_is_refused_in_the_same_words_by_every_command() {
    let ws = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::create_dir(ws.path().join("teams")).unwrap_or(());
    for command in WORKSPACE_COMMANDS {
        let args: Vec<&str> = command.iter().chain(&["-c", "teams"]).copied().collect();
        let run = pimplan(ws.path(), &args);
        assert_eq!(
            run.stderr,
            "error: cannot read the root file `teams`: it is a folder, not a regular file\n",
            "pimplan {args:?}"
        );
        assert_eq!(run.stdout, "", "pimplan {args:?}");
        let code = if command[0] == "lint" { 2 } else { 1 };
        assert_eq!(run.code, code, "pimplan {args:?}");
    }
}

#[test]
fn the_help_of_the_global_flags_names_every_command_that_reads_them() {
    let empty = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let help = common::flat(&pimplan(empty.path(), &["--help"]).stdout);
    // `init -q` leaves out the next steps, `show -q` the hint to apply: said in the help.
    let init = pimplan(empty.path(), &["init", "-q"]);
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    assert!(!init.stdout.contains("Next steps"), "{}", init.stdout);
    assert!(
        help.contains("Less output: lint and plan print no summary line and no list of baselined findings, apply no progress, init no next steps, show no hint to apply"),
        "{help}"
    );
    // `show` colors its human output as plan does.
    assert!(
        help.contains("When to color the human output of lint, plan, apply and show"),
        "{help}"
    );
}
