//! Integration tests over the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{Run, copy_fixture, json, manifest};

const NOW: &str = "2026-12-01T00:00:00Z";

/// A run of `pimplan` in the project folder, with the fixed clock.
#[must_use]
struct Pimplan {
    cmd: Command,
}

impl Pimplan {
    fn new(args: &[&str]) -> Self {
        let mut cmd = Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
        cmd.current_dir(manifest())
            .env_remove("PIMPLAN_NOW")
            .env_remove("NO_COLOR")
            .args(args)
            .args(["--now", NOW]);
        Pimplan { cmd }
    }

    fn in_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    fn run(mut self) -> Run {
        let out = self
            .cmd
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap_or_else(|e| unreachable!("{e}"));
        Run::of(&out)
    }
}

#[test]
fn example_workspace_lints_clean() {
    let run = Pimplan::new(&["lint", "fixtures/example"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("no findings in 10 files"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_three_minute_assignment_fails_with_pim201_at_its_line() {
    let tmp = copy_fixture("fixtures/example");
    let file = tmp.path().join("assignments/data/prod-db.yaml");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(text.contains("end: 2027-02-15T08:00:00Z"));
    std::fs::write(
        &file,
        text.replace("end: 2027-02-15T08:00:00Z", "end: 2026-12-01T08:03:00Z"),
    )
    .unwrap_or(());
    let line = text
        .lines()
        .position(|l| l.contains("end: 2027-02-15T08:00:00Z"))
        .unwrap_or(0)
        + 1;
    let run = Pimplan::new(&["lint", "--format", "json"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let doc = json(&run.stdout);
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    let pim201: Vec<_> = findings.iter().filter(|f| f["code"] == "PIM201").collect();
    assert_eq!(pim201.len(), 1, "{findings:#?}");
    assert_eq!(pim201[0]["file"], "assignments/data/prod-db.yaml");
    assert_eq!(pim201[0]["line"], line);
    assert_eq!(pim201[0]["column"], 10);
    // The human output names the rule at that place too.
    let human = Pimplan::new(&["lint"]).in_dir(tmp.path()).run();
    assert!(
        human
            .stdout
            .contains(&format!("assignments/data/prod-db.yaml:{line}:10]")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("PIM201(assignment-too-short)"));
}

/// PIM509 labels the owners it counted (issue 12, point 4): the standing owners as one label
/// over the list, and each active owner assignment that adds a principal; the primary label
/// gives the split.
#[test]
fn too_many_owners_labels_the_owners_it_counted() {
    let run = Pimplan::new(&["lint", "--format", "json"])
        .in_dir(&manifest().join("fixtures/rules/PIM509/fires"))
        .run();
    let doc = json(&run.stdout);
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    let pim509: Vec<_> = findings.iter().filter(|f| f["code"] == "PIM509").collect();
    assert_eq!(pim509.len(), 2, "{findings:#?}");
    let labels = |f: &serde_json::Value| {
        f["labels"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                format!(
                    "{}:{}: {}",
                    l["line"],
                    l["column"],
                    l["message"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(pim509[0]), ["8:7: 101 standing owners, counted"]);
    let platform = labels(pim509[1]);
    assert_eq!(platform.len(), 42, "{platform:#?}");
    assert_eq!(platform[0], "23:7: 60 standing owners, counted");
    assert_eq!(platform[1], "31:35: active owner `u061`, counted");
    assert_eq!(platform[41], "71:35: active owner `u101`, counted");
    let human = Pimplan::new(&["lint"])
        .in_dir(&manifest().join("fixtures/rules/PIM509/fires"))
        .run();
    assert!(
        human
            .stdout
            .contains("101 owners counted: 60 standing, 41 by active owner assignments"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("101 owners counted, all standing"));
}

/// The root file's path prints the way the included files' do (issue 12, point 4): `.`,
/// `./` and `--config ./pimplan.yaml` give `pimplan.yaml` beside `sub/a.yaml`, not
/// `./pimplan.yaml`; a folder given with `./` keeps it on every file.
#[test]
fn the_root_file_and_included_files_print_alike() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("sub")).unwrap_or(());
    std::fs::write(
        ws.join("pimplan.yaml"),
        "version: 1\ninclude:\n  - \"sub/*.yaml\"\ngroups:\n  - name: ops\n    owners: [ghost1]\n",
    )
    .unwrap_or(());
    std::fs::write(
        ws.join("sub/a.yaml"),
        "groups:\n  - name: db\n    owners: [ghost2]\n",
    )
    .unwrap_or(());
    let files = |dir: &Path, args: &[&str]| {
        let mut all = vec!["lint", "--format", "json"];
        all.extend_from_slice(args);
        let run = Pimplan::new(&all).in_dir(dir).run();
        let doc = json(&run.stdout);
        let human = Pimplan::new(&all[..1].iter().chain(args).copied().collect::<Vec<_>>())
            .in_dir(dir)
            .run();
        let found: Vec<String> = doc["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| f["file"].as_str().unwrap_or_default().to_owned())
            .collect();
        for f in &found {
            assert!(
                human.stdout.contains(&format!("[{f}:")),
                "{f}: {}",
                human.stdout
            );
        }
        found
    };
    for args in [&[][..], &["."], &["./"], &["--config", "./pimplan.yaml"]] {
        assert_eq!(files(&ws, args), ["pimplan.yaml", "sub/a.yaml"], "{args:?}");
    }
    assert_eq!(
        files(tmp.path(), &["ws"]),
        ["ws/pimplan.yaml", "ws/sub/a.yaml"]
    );
    assert_eq!(
        files(tmp.path(), &["./ws"]),
        ["./ws/pimplan.yaml", "./ws/sub/a.yaml"]
    );
}

#[test]
fn missing_root_file_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let run = Pimplan::new(&["lint"]).in_dir(tmp.path()).run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no workspace root file at `pimplan.yaml`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn bad_now_is_a_usage_error() {
    let mut cmd = Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
    let out = cmd
        .current_dir(manifest())
        .args(["lint", "fixtures/example", "--now", "2026-12-01T00:00:00"])
        .output()
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("with an offset"));
}

/// Where 2 means "changes" or "drift", an error must not: those commands fail with 1.
#[test]
fn errors_of_plan_apply_drift_are_1_and_of_lint_2() {
    let code = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
        cmd.current_dir(manifest().join("fixtures/example"))
            .env_remove("PIMPLAN_NOW")
            .args(args)
            .output()
            .map_or(-1, |o| o.status.code().unwrap_or(-1))
    };
    for args in [
        &["plan", "--detailed-exitcode", "--now", "garbage"][..],
        &["plan", "--detailed-exitcode", "--no-such-flag"],
        &["--now", "garbage", "drift"],
        &["apply", "--now", "garbage"],
        &["import", "--now", "garbage"],
        &["state", "list", "--bogus"],
        &["-c", "plan", "force-unlock", "--bogus"],
    ] {
        assert_eq!(code(args), 1, "{args:?}");
    }
    for args in [
        &["lint", "--now", "garbage"][..],
        &["lint", "--no-such-flag"],
        &["explain", "PIM999"],
        &["no-such-command"],
    ] {
        assert_eq!(code(args), 2, "{args:?}");
    }
}

/// Include globs are taken relative to the workspace folder, whatever its name holds. (A
/// file name that is not UTF-8, or a link to nothing, leaves the workspace incomplete:
/// `tests/include_walk.rs`.)
#[test]
fn includes_survive_odd_folder_and_file_names() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let ws = tmp.path().join("ws[1]");
    std::fs::create_dir_all(ws.join("as")).unwrap_or(());
    std::fs::write(
        ws.join("pimplan.yaml"),
        "version: 1\ninclude: [\"as/*.yaml\"]\nprincipals:\n  - { name: bob, type: user, licenses: [entra_id_p2] }\ngroups:\n  - { name: g1 }\n",
    )
    .unwrap_or(());
    std::fs::write(
        ws.join("as/a.yaml"),
        "assignments:\n  - { group: g1, principal: bob, role: member, type: active, permanent: true, justification: x }\n",
    )
    .unwrap_or(());
    // A hidden file is not matched by `*`, as in a shell (an editor's swap file, a draft).
    std::fs::write(ws.join("as/.draft.yaml"), "not: [yaml").unwrap_or(());
    let run = Pimplan::new(&["lint", "--format", "github"])
        .in_dir(&ws)
        .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("title=PIM205"), "{}", run.stdout);
    assert!(!run.stdout.contains(".draft.yaml"), "{}", run.stdout);
}

#[test]
fn now_comes_from_the_environment_too() {
    // At 2027-02-10 alice's prod-db assignment (ends 2027-02-15) expires within 14 days.
    let mut cmd = Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
    let out = cmd
        .current_dir(manifest())
        .env("PIMPLAN_NOW", "2027-02-10T00:00:00Z")
        .args(["lint", "fixtures/example", "--format", "json"])
        .output()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(doc["now"], "2027-02-10T00:00:00+00:00");
    assert!(
        doc["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["code"] == "PIM207"))
    );
}

#[test]
fn lint_files_reports_only_those_files() {
    let tmp = copy_fixture("fixtures/example");
    for rel in [
        "assignments/data/prod-db.yaml",
        "assignments/data/finance.yaml",
    ] {
        let file = tmp.path().join(rel);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        std::fs::write(&file, text.replacen("type: eligible", "type: elegible", 1)).unwrap_or(());
    }
    let all = Pimplan::new(&["lint", "--format", "json"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(
        json(&all.stdout)["findings"].as_array().map(Vec::len),
        Some(2)
    );
    let one = Pimplan::new(&["lint", "--format", "json", "assignments/data/finance.yaml"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(one.code, 1);
    let findings = json(&one.stdout)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["file"], "assignments/data/finance.yaml");
    let clean = Pimplan::new(&["lint", "groups/tier0.yaml"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    // A new file that duplicates an old assignment: the finding sits at the old one, with the
    // new one as its second place, and a pre-commit run on the new file still reports it.
    std::fs::write(
        tmp.path().join("assignments/platform/again.yaml"),
        "assignments:\n  - { group: dev-sandbox-admins, principal: alice, role: member, type: eligible, duration: P180D, justification: Sandbox maintenance }\n",
    )
    .unwrap_or(());
    let dup = Pimplan::new(&[
        "lint",
        "--format",
        "json",
        "assignments/platform/again.yaml",
    ])
    .in_dir(tmp.path())
    .run();
    assert_eq!(dup.code, 1, "{}", dup.stdout);
    assert!(
        json(&dup.stdout)["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["code"] == "PIM103"),
        "{}",
        dup.stdout
    );
    std::fs::remove_file(tmp.path().join("assignments/platform/again.yaml")).unwrap_or(());
    // A file that cannot be read stops the workspace rules: a pre-commit run on another file
    // must not pass as clean, so it is reported wherever it is.
    let tier0 = tmp.path().join("groups/tier0.yaml");
    let text = std::fs::read_to_string(&tier0).unwrap_or_default();
    std::fs::write(&tier0, format!("{text}notes: x\n")).unwrap_or(());
    let other = Pimplan::new(&["lint", "--format", "json", "assignments/data/finance.yaml"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(other.code, 1);
    let files: Vec<String> = json(&other.stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} {}",
                f["file"].as_str().unwrap_or(""),
                f["code"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        files.contains(&"groups/tier0.yaml PIM002".to_owned()),
        "{files:?}"
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let tmp = copy_fixture("fixtures/example");
    let file = tmp.path().join("assignments/data/prod-db.yaml");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    // Ends in 10 days: a PIM207 warning.
    std::fs::write(
        &file,
        text.replace("end: 2027-01-31T00:00:00Z", "end: 2026-12-11T00:00:00Z"),
    )
    .unwrap_or(());
    let run = Pimplan::new(&["lint"]).in_dir(tmp.path()).run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("PIM207"));
    let denied = Pimplan::new(&["lint", "--deny-warnings"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(denied.code, 1);
    // `rules:` can switch the rule off for the workspace.
    let root = tmp.path().join("pimplan.yaml");
    let root_text = std::fs::read_to_string(&root).unwrap_or_default();
    std::fs::write(
        &root,
        root_text.replace("rules:\n", "rules:\n  expiring-soon: off\n"),
    )
    .unwrap_or(());
    let off = Pimplan::new(&["lint", "--deny-warnings"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(off.code, 0, "{}", off.stdout);
    assert!(!off.stdout.contains("PIM207"));
}

#[test]
fn github_format_prints_workflow_commands() {
    let run = Pimplan::new(&["lint", "fixtures/rules/PIM201/fires", "--format", "github"]).run();
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with(
            "::error file=fixtures/rules/PIM201/fires/pimplan.yaml,line=12,col=10,endLine=12,endColumn=30,title=PIM201::PIM201 assignment-too-short: "
        ),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("%0Ahelp: "));
}

#[test]
fn github_format_keeps_file_order_and_titles_with_the_code_alone() {
    // Line 7 expires within 14 days (PIM207, a warning); line 8 names an unknown principal
    // (an error). File order puts the warning first.
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::write(
        tmp.path().join("pimplan.yaml"),
        "version: 1\nprincipals:\n  - { name: u0, type: user, licenses: [entra_id_p2] }\n\
         groups:\n  - name: ops\nassignments:\n\
         \x20 - { group: ops, principal: u0, role: member, type: eligible, end: 2026-12-10T00:00:00Z, justification: x }\n\
         \x20 - { group: ops, principal: ghost, role: owner, type: eligible, duration: P30D, justification: x }\n",
    )
    .unwrap_or(());
    let run = Pimplan::new(&["lint", "--format", "github"])
        .in_dir(tmp.path())
        .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with("::warning file=pimplan.yaml,line=7,"),
        "{}",
        run.stdout
    );
    assert!(
        lines[1].starts_with("::error file=pimplan.yaml,line=8,"),
        "{}",
        run.stdout
    );
    for line in &lines {
        let title = line
            .split_once(",title=")
            .and_then(|(_, rest)| rest.split_once("::"))
            .map(|(title, _)| title);
        let code = title.unwrap_or_default();
        assert!(
            code.len() == 6
                && code.starts_with("PIM")
                && code[3..].bytes().all(|b| b.is_ascii_digit()),
            "the title must be the rule code alone: {line}"
        );
        assert!(
            line.contains(&format!("::{code} ")),
            "the message starts with the code and the rule's name: {line}"
        );
    }
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let schema_path = manifest().join("../shared/data/sarif-schema-2.1.0.json");
    let schema_text = std::fs::read_to_string(&schema_path).unwrap_or_else(|e| {
        unreachable!(
            "the official SARIF schema must sit beside the clone at {}: {e}",
            schema_path.display()
        )
    });
    let schema = json(&schema_text);
    let validator = jsonschema::draft4::new(&schema).unwrap_or_else(|e| unreachable!("{e}"));
    for dir in [
        "fixtures/rules/PIM102/fires",
        "fixtures/bad/many-errors-one-file",
        "fixtures/example",
    ] {
        let run = Pimplan::new(&["lint", dir, "--format", "sarif"]).run();
        let doc = json(&run.stdout);
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{dir}: {errors:#?}");
        assert_eq!(doc["version"], "2.1.0");
        let rules = doc["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .map(Vec::len);
        assert_eq!(rules, Some(pimplan::rules::REGISTRY.len()));
    }
    // A result carries its location and the second place.
    let run = Pimplan::new(&["lint", "fixtures/bad/years-duration", "--format", "sarif"]).run();
    let doc = json(&run.stdout);
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "PIM004");
    assert_eq!(result["level"], "error");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(8), Some(46))
    );
}

#[test]
fn rules_lists_every_rule_and_explain_documents_each() {
    let run = Pimplan::new(&["rules"]).run();
    assert_eq!(run.code, 0);
    for rule in pimplan::rules::REGISTRY {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(rule.code))
            .unwrap_or_default();
        assert!(
            line.contains(rule.name) && line.contains(rule.severity.as_str()),
            "{line}"
        );
        for selector in [rule.code, rule.name] {
            let explain = Pimplan::new(&["explain", selector]).run();
            assert_eq!(explain.code, 0);
            for section in [
                "What it checks",
                "Why it matters",
                "Example",
                "How to fix",
                "Source",
            ] {
                assert!(explain.stdout.contains(section), "{selector}: {section}");
            }
        }
    }
    let unknown = Pimplan::new(&["explain", "PIM999"]).run();
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("unknown rule `PIM999`"));
    let typo = Pimplan::new(&["explain", "asignment-too-short"]).run();
    assert!(
        typo.stderr.contains("did you mean `assignment-too-short`?"),
        "{}",
        typo.stderr
    );
}

#[test]
fn schema_file_is_fresh() {
    let run = Pimplan::new(&["schema"]).run();
    assert_eq!(run.code, 0);
    let path = manifest().join("schemas/pimplan.schema.json");
    if std::env::var_os("PIMPLAN_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &run.stdout).unwrap_or(());
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == run.stdout,
        "schemas/pimplan.schema.json is stale: run `PIMPLAN_UPDATE_SCHEMA=1 cargo test --test cli schema_file_is_fresh`"
    );
}

#[test]
fn example_and_passing_fixtures_validate_against_the_schema() {
    let schema = json(
        &std::fs::read_to_string(manifest().join("schemas/pimplan.schema.json"))
            .unwrap_or_default(),
    );
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| unreachable!("{e}"));
    let mut files = Vec::new();
    let mut stack = vec![manifest().join("fixtures/example")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 10);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        // YAML 1.2 core schema, as editors read it: `off` and `yes` are strings.
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        let value: serde_json::Value = serde_saphyr::from_str_with_options(&text, options)
            .unwrap_or_else(|e| unreachable!("{}: {e}", file.display()));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

/// A1 (privilege-paths.md): the facts the privilege graph rests on. The workspace that uses
/// every new key (fixtures/rules/PIM511/passes) lints clean and validates against the schema,
/// and `pimplan schema` describes each key.
#[test]
fn the_privilege_path_facts_are_in_the_schema() {
    let dir = manifest().join("fixtures/rules/PIM511/passes");
    let lint = Pimplan::new(&["lint"]).in_dir(&dir).run();
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    assert!(lint.stdout.contains("no findings"), "{}", lint.stdout);

    let run = Pimplan::new(&["schema"]).run();
    assert_eq!(run.code, 0);
    let schema = json(&run.stdout);
    let defs = &schema["$defs"];
    let props = |def: &str| defs[def]["properties"].clone();
    for (where_, key) in [
        ("File", "paths"),
        ("PathsSettings", "tier0"),
        ("PathsSettings", "tier0_azure"),
        ("PathsSettings", "eligible_reset_protection"),
        ("AdministrativeUnit", "restricted_management"),
        ("AdministrativeUnit", "members"),
        ("Principal", "owners"),
        ("Group", "members"),
        ("Group", "azure_roles"),
        ("EntraRoleGrant", "type"),
        ("EntraRoleGrant", "approval"),
        ("EntraRoleGrant", "mfa"),
        ("AzureRole", "scope"),
    ] {
        let found = if where_ == "File" {
            schema["properties"][key].is_object()
        } else {
            props(where_)[key].is_object()
        };
        assert!(found, "the schema has no `{key}` in {where_}");
    }
    // Long and short form of `entra_roles`, mixed.
    let forms = defs["EntraRole"]["anyOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(forms.len(), 2, "{}", defs["EntraRole"]);

    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| unreachable!("{e}"));
    let text = std::fs::read_to_string(dir.join("pimplan.yaml")).unwrap_or_default();
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let value: serde_json::Value =
        serde_saphyr::from_str_with_options(&text, options).unwrap_or_else(|e| unreachable!("{e}"));
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Hostile inputs: each is refused with a finding at a place, quickly, without a panic.
#[test]
fn alias_bomb_and_deep_nesting_are_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let mut bomb = String::from(
        "version: 1\ngroups:\n  - name: a\n    owners: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("  - name: a{i}\n    owners: &a{i} [{refs}]\n"));
    }
    let deep = format!(
        "version: 1\ngroups: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    for (name, text) in [("bomb", bomb), ("deep", deep)] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap_or(());
        std::fs::write(dir.join("pimplan.yaml"), text).unwrap_or(());
        let started = Instant::now();
        let run = Pimplan::new(&["lint", "--format", "json"])
            .in_dir(&dir)
            .run();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            started.elapsed()
        );
        assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
        let doc = json(&run.stdout);
        let codes: Vec<_> = doc["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f["code"].clone())
            .collect();
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c == "PIM001" || c == "PIM002"),
            "{name}: {codes:?}"
        );
        assert!(
            doc["findings"][0]["line"].as_u64().is_some_and(|l| l >= 2),
            "{name}"
        );
    }
}

#[test]
fn readme_lists_every_rule_and_the_two_commands() {
    let readme = std::fs::read_to_string(manifest().join("README.md")).unwrap_or_default();
    for rule in pimplan::rules::REGISTRY {
        let row = format!(
            "| {} | {} | {} |",
            rule.code,
            rule.name,
            rule.severity.as_str()
        );
        assert!(readme.contains(&row), "README lacks the row `{row}`");
    }
    let ci = std::fs::read_to_string(manifest().join(".ci/run")).unwrap_or_default();
    let test_command = ci.lines().last().unwrap_or_default();
    assert!(
        readme.contains(test_command),
        "README must give `{test_command}`"
    );
    assert!(
        readme.contains("cargo run --locked -- lint fixtures/example --now 2026-12-01T00:00:00Z")
    );
}

/// The words of a usage line: flags, value names and command names, without brackets,
/// `|`, `...` or punctuation.
fn usage_words(line: &str) -> Vec<&str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether the README usage `segment` shows `arg`: a flag by its long or short form, a
/// positional by its value name.
fn usage_shows(words: &[&str], arg: &clap::Arg) -> bool {
    if arg.is_positional() {
        let names: Vec<String> = arg.get_value_names().map_or_else(
            || vec![arg.get_id().as_str().to_uppercase()],
            |v| v.iter().map(|n| n.as_str().to_owned()).collect(),
        );
        return names.iter().all(|n| words.contains(&n.as_str()));
    }
    let long = arg.get_long().map(|l| format!("--{l}"));
    let short = arg.get_short().map(|s| format!("-{s}"));
    [long, short]
        .iter()
        .flatten()
        .any(|f| words.contains(&f.as_str()))
}

/// The README's usage block (the first `text` block under `## Usage`) lists every command
/// and every flag of the binary: the global flags on its first line, each command's own
/// on the command's line (`state list | state show KEY` are segments of one line).
#[test]
fn readme_usage_lists_every_command_and_flag() {
    use clap::CommandFactory;
    let readme = std::fs::read_to_string(manifest().join("README.md")).unwrap_or_default();
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## Usage")
        .skip_while(|l| *l != "```text")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert!(!block.is_empty(), "README lacks the usage block");
    let segments: Vec<&str> = block[1..].iter().flat_map(|l| l.split(" | ")).collect();
    let mut missing = Vec::new();
    let root = pimplan::cli::Arguments::command();
    let first = usage_words(block[0]);
    for arg in root.get_arguments() {
        let id = arg.get_id().as_str();
        if !arg.is_hide_set() && !matches!(id, "help" | "version") && !usage_shows(&first, arg) {
            missing.push(format!("global {id}"));
        }
    }
    let mut commands: Vec<(Vec<String>, &clap::Command)> = Vec::new();
    for sub in root.get_subcommands().filter(|c| !c.is_hide_set()) {
        if sub.has_subcommands() {
            for inner in sub.get_subcommands().filter(|c| !c.is_hide_set()) {
                let path = vec![sub.get_name().to_owned(), inner.get_name().to_owned()];
                commands.push((path, inner));
            }
        } else {
            commands.push((vec![sub.get_name().to_owned()], sub));
        }
    }
    for (path, cmd) in commands {
        if path.last().is_some_and(|n| n == "help") {
            continue;
        }
        let shown: Vec<Vec<&str>> = segments
            .iter()
            .map(|s| usage_words(s))
            .filter(|w| w.len() >= path.len() && w.iter().zip(&path).all(|(a, b)| a == b))
            .collect();
        if shown.is_empty() {
            missing.push(format!("command `{}`", path.join(" ")));
            continue;
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || arg.is_global_set() || matches!(id, "help" | "version") {
                continue;
            }
            if !shown.iter().any(|w| usage_shows(w, arg)) {
                missing.push(format!("`{}` flag {id}", path.join(" ")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README's usage block lacks: {missing:#?}"
    );
}

/// `(code, name, severity)` of the README's "Rules beyond the catalog" table: rules the
/// catalog lacks, or whose severity an issue changed.
fn rules_beyond_the_catalog() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(manifest().join("README.md")).unwrap_or_default();
    let mut rows = Vec::new();
    let mut lines = readme
        .lines()
        .skip_while(|l| !(l.starts_with('#') && l.ends_with("Rules beyond the catalog")))
        .skip(1)
        .skip_while(|l| !l.starts_with('|'));
    for line in lines.by_ref().take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 && cells[1].starts_with("PIM") && cells[1].len() == 6 {
            rows.push((
                cells[1].to_owned(),
                cells[2].to_owned(),
                cells[3].to_owned(),
            ));
        }
    }
    rows
}

/// The registry and the catalog (`rules.md` of the specification) agree:
/// every code there is implemented with the same name and default severity, and nothing else,
/// but what README.md lists under "Rules beyond the catalog" (a rule added, or a severity
/// changed, by an issue).
#[test]
fn registry_matches_the_rules_catalog() {
    let path = manifest().join("../shared/spec/rules.md");
    let catalog = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        unreachable!(
            "the specification must sit beside the clone at {}: {e}",
            path.display()
        )
    });
    let mut expected = Vec::new();
    for line in catalog.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with("PIM") || cells[1].len() != 6 {
            continue;
        }
        expected.push((
            cells[1].to_owned(),
            cells[2].to_owned(),
            cells[3].to_owned(),
        ));
    }
    let beyond = rules_beyond_the_catalog();
    assert!(
        beyond.iter().any(|(code, _, _)| code == "PIM106"),
        "README lacks the table of rules beyond the catalog: {beyond:?}"
    );
    expected.retain(|(code, _, _)| !beyond.iter().any(|(c, _, _)| c == code));
    expected.extend(beyond);
    expected.sort();
    let mut actual: Vec<(String, String, String)> = pimplan::rules::REGISTRY
        .iter()
        .map(|r| {
            (
                r.code.to_owned(),
                r.name.to_owned(),
                r.severity.as_str().to_owned(),
            )
        })
        .collect();
    actual.sort();
    assert!(
        expected.len() >= 48,
        "catalog rows found: {}",
        expected.len()
    );
    assert_eq!(actual, expected);
}

/// The README shows what `fixtures/insecure` produces; this keeps it true.
/// `PIMPLAN_UPDATE_README=1 cargo test --test cli readme_shows` rewrites the block.
#[test]
fn readme_shows_the_insecure_workspace_output() {
    let run = Pimplan::new(&["lint", "fixtures/insecure", "--color", "never"]).run();
    assert_eq!(run.code, 1);
    for family in ["PIM3", "PIM4", "PIM5", "PIM6"] {
        assert!(
            run.stdout.contains(&format!("(pimplan explain {family}")),
            "no {family}xx finding"
        );
    }
    let block = format!(
        "<!-- insecure-output:start -->\n```text\n{}```\n<!-- insecure-output:end -->",
        run.stdout
    );
    let path = manifest().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(start), Some(end)) = (
        readme.find("<!-- insecure-output:start -->"),
        readme.find("<!-- insecure-output:end -->"),
    ) else {
        unreachable!("README lacks the insecure-output markers");
    };
    let current = &readme[start..end + "<!-- insecure-output:end -->".len()];
    if std::env::var_os("PIMPLAN_UPDATE_README").is_some() {
        std::fs::write(&path, readme.replace(current, &block)).unwrap_or(());
        return;
    }
    assert!(
        current == block,
        "README's insecure output is stale: PIMPLAN_UPDATE_README=1 cargo test --test cli readme_shows"
    );
}

/// A workspace with 30 unknown principals (errors) and 30 assignments ending within 14 days
/// (warnings).
fn sixty_findings() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let mut text = String::from("version: 1\nprincipals:\n");
    for i in 0..30 {
        text.push_str(&format!(
            "  - {{ name: u{i}, type: user, licenses: [entra_id_p2] }}\n"
        ));
    }
    text.push_str("groups:\n  - name: ops\nassignments:\n");
    for i in 0..30 {
        text.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, end: 2026-12-10T00:00:00Z, justification: x }}\n  - {{ group: ops, principal: ghost{i}, role: owner, type: eligible, duration: P30D, justification: x }}\n"
        ));
    }
    std::fs::write(tmp.path().join("pimplan.yaml"), text).unwrap_or(());
    tmp
}

#[test]
fn github_format_respects_annotation_limits_and_writes_the_summary() {
    let ws = sixty_findings();
    let summary = ws.path().join("summary.md");
    let mut cmd = Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
    let out = cmd
        .current_dir(ws.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["lint", "--format", "github", "--now", NOW])
        .output()
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let count = |prefix: &str| stdout.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("::error "), 10, "{stdout}");
    assert_eq!(count("::warning "), 10, "{stdout}");
    assert_eq!(count("::notice "), 1, "{stdout}");
    assert!(
        stdout.contains("::notice title=pimplan::40 more findings not shown as annotations"),
        "{stdout}"
    );
    // The annotations shown keep the file order (a warning, then an error, line by line),
    // and the notice that counts the rest comes last.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("::warning "), "{stdout}");
    assert!(lines[1].starts_with("::error "), "{stdout}");
    assert!(
        lines[lines.len() - 1].starts_with("::notice title=pimplan::"),
        "{stdout}"
    );
    let line_of = |l: &str| {
        l.split_once(",line=")
            .and_then(|(_, rest)| rest.split_once(','))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .unwrap_or_default()
    };
    let numbers: Vec<usize> = lines[..lines.len() - 1]
        .iter()
        .map(|l| line_of(l))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    let md = std::fs::read_to_string(&summary).unwrap_or_default();
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| error ") || l.starts_with("| warning "))
            .count(),
        60,
        "{md}"
    );
    assert!(md.starts_with("### pimplan lint\n\n30 errors, 30 warnings, 0 infos"));
}

#[test]
fn a_baseline_never_hides_a_file_that_cannot_be_read() {
    let ws = copy_fixture("fixtures/bad/ignore-cannot-hide-an-unread-file");
    let dir = ws.path();
    let write = Pimplan::new(&["lint", "--write-baseline", "b.json"])
        .in_dir(dir)
        .run();
    assert_eq!(write.code, 0, "{}{}", write.stdout, write.stderr);
    // The PIM007 about the refused ignore and the five findings on the entries that did
    // read are recorded; the PIM002 is not.
    assert!(
        write.stdout.contains("recorded 6 finding(s)"),
        "{}",
        write.stdout
    );
    let run = Pimplan::new(&["lint", "--baseline", "b.json", "--format", "json"])
        .in_dir(dir)
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let codes: Vec<String> = json(&run.stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(codes, ["PIM002"]);
}

#[test]
fn a_baseline_hides_old_findings_and_not_new_ones() {
    let ws = sixty_findings();
    let dir = ws.path();
    let write = Pimplan::new(&["lint", "--write-baseline", "pimplan.baseline.json"])
        .in_dir(dir)
        .run();
    assert_eq!(write.code, 0, "{}{}", write.stdout, write.stderr);
    assert!(write.stdout.contains("recorded 60 finding(s)"));
    let clean = Pimplan::new(&["lint", "--baseline", "pimplan.baseline.json"])
        .in_dir(dir)
        .run();
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    assert!(
        clean
            .stdout
            .contains("60 finding(s) left out by the baseline")
    );

    // Entries move (new lines above), one new bad assignment arrives: only it fails.
    let path = dir.join("pimplan.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = text.replace(
        "assignments:\n",
        "assignments:\n  # reordered in review\n\n",
    ) + "  - { group: ops, principal: intruder, role: member, type: active, duration: P30D, justification: x }\n";
    std::fs::write(&path, text).unwrap_or(());
    let run = Pimplan::new(&[
        "lint",
        "--baseline",
        "pimplan.baseline.json",
        "--format",
        "json",
    ])
    .in_dir(dir)
    .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let findings = json(&run.stdout)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["code"], "PIM101");
    assert!(
        findings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("intruder"))
    );
}

#[test]
fn sarif_fingerprints_survive_moved_lines() {
    let ws = sixty_findings();
    let dir = ws.path();
    let fingerprints = |dir: &Path| -> Vec<String> {
        let run = Pimplan::new(&["lint", "--format", "sarif"])
            .in_dir(dir)
            .run();
        let mut fps: Vec<String> = json(&run.stdout)["runs"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                r["partialFingerprints"]["pimplan/v1"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        fps.sort();
        fps
    };
    let before = fingerprints(dir);
    assert_eq!(before.len(), 60);
    let mut unique = before.clone();
    unique.dedup();
    assert_eq!(unique.len(), 60, "fingerprints must tell findings apart");
    let path = dir.join("pimplan.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, text.replace("groups:\n", "# a comment\n\ngroups:\n")).unwrap_or(());
    assert_eq!(fingerprints(dir), before);
}

/// Generated documents are checked in and must match what the code generates.
/// `PIMPLAN_UPDATE_DOCS=1 cargo test --test cli generated_docs_are_fresh` rewrites them.
#[test]
fn generated_docs_are_fresh() {
    let mut expected: Vec<(PathBuf, String)> = pimplan::rules::REGISTRY
        .iter()
        .map(|r| {
            (
                manifest().join(format!("docs/rules/{}.md", r.code)),
                pimplan::render::rule_docs::markdown(r),
            )
        })
        .collect();
    expected.push((
        manifest().join("docs/rules/README.md"),
        pimplan::render::rule_docs::index(),
    ));
    expected.push((manifest().join("docs/pimplan.1"), pimplan::cli::man_page()));
    let update = std::env::var_os("PIMPLAN_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (path, text) in &expected {
        if update {
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap_or(());
            std::fs::write(path, text).unwrap_or(());
        }
        if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    // No page for a rule that does not exist.
    for entry in std::fs::read_dir(manifest().join("docs/rules"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "README.md" && !expected.iter().any(|(p, _)| p.ends_with(&name)) {
            stale.push(format!("{name} (no such rule)"));
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated docs: {stale:#?}; run PIMPLAN_UPDATE_DOCS=1 cargo test --test cli generated_docs_are_fresh"
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = Pimplan::new(&["completions", shell]).run();
        assert_eq!(run.code, 0, "{shell}");
        assert!(
            run.stdout.contains("pimplan") && run.stdout.contains("force-unlock"),
            "{shell}"
        );
    }
}

/// Issue 12, point 1: three structure errors in two files and five rule findings in a third
/// come out of one run of the binary; the plan is still refused, and writes nothing.
#[test]
fn every_finding_comes_out_in_one_run_and_the_plan_is_still_refused() {
    let ws = copy_fixture("fixtures/bad/every-finding-in-one-run");
    let dir = ws.path();
    let run = Pimplan::new(&["lint", "--format", "json"])
        .in_dir(dir)
        .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let mut codes: Vec<String> = json(&run.stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "PIM002", "PIM002", "PIM002", "PIM101", "PIM103", "PIM205", "PIM510", "PIM609"
        ]
    );
    let plan = Pimplan::new(&["plan", "--out", "p.json"]).in_dir(dir).run();
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(!dir.join("p.json").exists());
    assert!(!dir.join("pimplan.state.json").exists());
}

/// A file no include matches is shown for its PIM008, but it is not a file that was checked:
/// the summary counts the two files read, not the three strays.
#[test]
fn stray_files_are_not_counted_as_checked() {
    let run = Pimplan::new(&["lint", "fixtures/rules/PIM008/fires", "--format", "json"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(json(&run.stdout)["summary"]["files"], 2, "{}", run.stdout);
    let human = Pimplan::new(&["lint", "fixtures/rules/PIM008/fires"]).run();
    assert!(
        human.stdout.contains("3 warnings, 0 infos in 2 files"),
        "{}",
        human.stdout
    );
}

/// A link to a folder of the workspace (here to the workspace folder itself) names a stray
/// file again under another path: it is one file, reported once (PIM008).
#[cfg(unix)]
#[test]
fn a_stray_reached_through_a_link_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let ws = tmp.path();
    std::fs::write(
        ws.join("pimplan.yaml"),
        "version: 1\nprincipals:\n  - { name: bob, type: user, licenses: [entra_id_p2] }\n",
    )
    .unwrap_or(());
    std::fs::write(ws.join("extra.yaml"), "groups:\n  - name: ops\n").unwrap_or(());
    std::os::unix::fs::symlink(".", ws.join("again")).unwrap_or(());
    let run = Pimplan::new(&["lint", "--format", "json"]).in_dir(ws).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let found: Vec<String> = json(&run.stdout)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{}: {}",
                f["file"].as_str().unwrap_or_default(),
                f["line"],
                f["column"],
                f["code"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(found, ["extra.yaml:1:1: PIM008"], "{}", run.stdout);
}

/// A `key: value` item of a block list where text belongs is one PIM002 at the item, with
/// the shape's message: the "inside `{ }` or `[ ]`" and "quote the value" advice is for a
/// colon inside brackets, and the item written over is no second error ("cannot
/// deserialize null").
#[test]
fn a_pair_in_a_block_list_is_one_error_without_bracket_advice() {
    let run = Pimplan::new(&["lint", "fixtures/rules/PIM002/fires", "--format", "json"]).run();
    let doc = json(&run.stdout);
    let here: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| {
                    f["file"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("pair-in-block-list.yaml"))
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(here.len(), 1, "{}", run.stdout);
    let message = here[0]["message"].as_str().unwrap_or_default();
    let help = here[0]["help"].as_str().unwrap_or_default();
    assert!(
        !message.contains("inside") && !help.contains("quote"),
        "{message} / {help}"
    );
}

/// No value where a name belongs (`name: ~`) is said in the workspace's words, not with the
/// YAML crate's "use Option<String>".
#[test]
fn a_null_name_is_said_without_the_parsers_words() {
    let run = Pimplan::new(&["lint", "fixtures/rules/PIM002/fires", "--format", "json"]).run();
    let doc = json(&run.stdout);
    let messages: Vec<String> = doc["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|f| {
            f["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("null-name.yaml"))
        })
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        messages,
        ["expected a name or text here, found no value (`~`, `null` or nothing)"],
        "{}",
        run.stdout
    );
}
