//! Adopting pimplan: one baseline for `lint`, `plan` and `apply` (`baseline:` in the root
//! file, or `--baseline`), over the real binary with a fixed clock.

mod common;

use std::path::Path;

use common::{Run, copy_fixture, json, workspace_with};
use serde_json::Value;

const NOW: &str = "2026-12-01T00:00:00Z";

fn pimplan(dir: &Path, args: &[&str]) -> Run {
    common::run(dir, NOW, args)
}

/// A workspace as a team has it when it adopts pimplan: `u1` holds a permanent active
/// assignment the policy does not allow (PIM205, an error) and that is standing access
/// (PIM510, a warning).
const ADOPTED: &str = "version: 1
principals:
  - { name: u0, type: user, licenses: [entra_id_p2] }
  - { name: u1, type: user, licenses: [entra_id_p2] }
  - { name: u2, type: user, licenses: [entra_id_p2] }
groups:
  - name: ops
    owners: [u0]
assignments:
  - { group: ops, principal: u0, role: member, type: eligible, duration: P90D, justification: rota }
  - { group: ops, principal: u1, role: member, type: active, permanent: true, justification: legacy }
";

/// [`ADOPTED`] as it was applied before pimplan checked it (the state holds `u1`'s
/// assignment), with its findings recorded in `pimplan.baseline.json`, which the root file
/// names when `in_root_file`.
fn adopted(in_root_file: bool) -> tempfile::TempDir {
    let ws =
        workspace_with(&ADOPTED.replace("version: 1\n", "version: 1\nrules: { PIM205: off }\n"));
    let before = pimplan(ws.path(), &["apply", "--auto-approve"]);
    assert_eq!(before.code, 0, "{}{}", before.stdout, before.stderr);
    std::fs::write(ws.path().join("pimplan.yaml"), ADOPTED).unwrap_or(());
    assert_eq!(state_keys(ws.path()).len(), 2);
    let write = pimplan(
        ws.path(),
        &["lint", "--write-baseline", "pimplan.baseline.json"],
    );
    assert_eq!(write.code, 0, "{}{}", write.stdout, write.stderr);
    assert!(
        write.stdout.contains("recorded 2 finding(s)"),
        "{}",
        write.stdout
    );
    if in_root_file {
        common::edit(
            &ws.path().join("pimplan.yaml"),
            "version: 1\n",
            "version: 1\nbaseline: pimplan.baseline.json\n",
        );
    }
    ws
}

fn append(dir: &Path, text: &str) {
    let path = dir.join("pimplan.yaml");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, old + text).unwrap_or(());
}

fn codes(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect()
}

fn state_keys(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default();
    if text.is_empty() {
        return Vec::new();
    }
    json(&text)["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["key"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn without_a_baseline_the_findings_of_the_adopted_workspace_fail_lint_plan_and_apply() {
    let ws = workspace_with(ADOPTED);
    let dir = ws.path();
    assert_eq!(pimplan(dir, &["lint"]).code, 1);
    let plan = pimplan(dir, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr
            .contains("the plan stopped at 1 error-level finding(s)")
    );
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(state_keys(dir).is_empty());
}

#[test]
fn baseline_in_the_root_file_makes_lint_green_and_lists_what_it_left_out() {
    let ws = adopted(true);
    let run = pimplan(ws.path(), &["lint"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stdout);

    let run = pimplan(ws.path(), &["lint", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let doc = json(&run.stdout);
    assert!(codes(&doc["findings"]).is_empty(), "{}", run.stdout);
    assert_eq!(codes(&doc["baselined"]), ["PIM205", "PIM510"]);
    assert_eq!(doc["baselined"][0]["file"], "pimplan.yaml");
    assert_eq!(doc["baselined"][0]["line"], 12);
    assert_eq!(doc["baselined"][0]["column"], 73);

    // Without a baseline, the JSON document has no `baselined`, as before.
    let plain = workspace_with("version: 1\n");
    let run = pimplan(plain.path(), &["lint", "--format", "json"]);
    assert!(
        json(&run.stdout).get("baselined").is_none(),
        "{}",
        run.stdout
    );
}

const NEW_ELIGIBLE: &str = "  - { group: ops, principal: u2, role: member, type: eligible, duration: P30D, justification: rota }\n";

#[test]
fn baseline_in_the_root_file_lets_plan_and_apply_go_and_lists_what_it_left_out() {
    let ws = adopted(true);
    let dir = ws.path();
    append(dir, NEW_ELIGIBLE);
    let plan = pimplan(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.starts_with(
            "pimplan: 2 finding(s) left out by the baseline `pimplan.baseline.json` (recorded when pimplan was adopted; they do not fail this run):\n  pimplan.yaml:12:73: PIM205 (error, baselined) `u1` may not have a permanent active member assignment on `ops`\n  pimplan.yaml:12:73: PIM510 (warning, baselined) `u1` holds permanent active member of `ops`\n"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to remove."),
        "{}",
        plan.stdout
    );
    // Another format keeps stdout for the document (which lists them too, see
    // `the_plan_document_and_show_list_what_the_baseline_left_out`): the lines go to stderr.
    let md = pimplan(dir, &["plan", "--format", "markdown"]);
    assert_eq!(md.code, 0, "{}{}", md.stdout, md.stderr);
    assert!(
        md.stderr.contains("PIM205 (error, baselined)"),
        "{}",
        md.stderr
    );

    // A saved plan applies the same way.
    let save = pimplan(dir, &["plan", "--out", "tfplan.json"]);
    assert_eq!(save.code, 0, "{}{}", save.stdout, save.stderr);
    let apply = pimplan(dir, &["apply", "tfplan.json"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("PIM205 (error, baselined)"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("Apply complete: 1 change(s)"),
        "{}",
        apply.stdout
    );
    assert_eq!(state_keys(dir).len(), 3);
    let again = pimplan(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

#[test]
fn a_baselined_error_lets_no_change_to_its_entry_through() {
    // The entry it is about is changed: the finding counts again and stops the plan.
    let ws = adopted(true);
    let dir = ws.path();
    common::edit(
        &dir.join("pimplan.yaml"),
        "justification: legacy",
        "justification: legacy access extended",
    );
    let plan = pimplan(dir, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr
            .contains("the plan stopped at 1 error-level finding(s)"),
        "{}",
        plan.stderr
    );
    let flat = common::flat(&plan.stdout);
    assert!(
        flat.contains("the baseline records this finding, but this plan would change `assignment ops/u1 (member, active)`, which it is about"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("PIM205 (error, baselined)"),
        "{}",
        plan.stdout
    );
    // The warning about it stays baselined: warnings do not stop a plan.
    assert!(
        plan.stdout.contains("PIM510 (warning, baselined)"),
        "{}",
        plan.stdout
    );
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    let recorded = read_state(dir);
    assert!(
        recorded.contains("\"justification\": \"legacy\""),
        "{recorded}"
    );

    // Never applied: the plan would create it.
    let ws = workspace_with(ADOPTED);
    let dir = ws.path();
    let write = pimplan(dir, &["lint", "--write-baseline", "pimplan.baseline.json"]);
    assert_eq!(write.code, 0, "{}{}", write.stdout, write.stderr);
    let plan = pimplan(dir, &["plan", "--baseline", "pimplan.baseline.json"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        common::flat(&plan.stdout)
            .contains("this plan would change `assignment ops/u1 (member, active)`"),
        "{}",
        plan.stdout
    );
    let apply = pimplan(
        dir,
        &[
            "apply",
            "--auto-approve",
            "--baseline",
            "pimplan.baseline.json",
        ],
    );
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(state_keys(dir).is_empty());
}

fn read_state(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default()
}

#[test]
fn the_baseline_flag_works_on_plan_and_apply_and_wins_over_the_root_file() {
    let ws = adopted(false);
    let dir = ws.path();
    assert_eq!(pimplan(dir, &["plan"]).code, 1);
    let plan = pimplan(dir, &["plan", "--baseline", "pimplan.baseline.json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("left out by the baseline `pimplan.baseline.json`"),
        "{}",
        plan.stdout
    );
    // The root file names a baseline that records nothing; the flag's is used.
    std::fs::write(
        dir.join("empty.json"),
        "{ \"format_version\": 1, \"findings\": [] }\n",
    )
    .unwrap_or(());
    common::edit(
        &dir.join("pimplan.yaml"),
        "version: 1\n",
        "version: 1\nbaseline: empty.json\n",
    );
    append(dir, NEW_ELIGIBLE);
    assert_eq!(pimplan(dir, &["lint"]).code, 1);
    assert_eq!(pimplan(dir, &["apply", "--auto-approve"]).code, 1);
    assert_eq!(state_keys(dir).len(), 2);
    let lint = pimplan(dir, &["lint", "--baseline", "pimplan.baseline.json"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    let apply = pimplan(
        dir,
        &[
            "apply",
            "--auto-approve",
            "--baseline",
            "pimplan.baseline.json",
        ],
    );
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert_eq!(state_keys(dir).len(), 3);
}

#[test]
fn a_new_finding_still_fails_lint_plan_and_apply() {
    let ws = adopted(true);
    let dir = ws.path();
    append(
        dir,
        "  - { group: ops, principal: u2, role: member, type: active, permanent: true, justification: new }\n",
    );
    let lint = pimplan(dir, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 1, "{}", lint.stdout);
    let doc = json(&lint.stdout);
    assert_eq!(codes(&doc["findings"]), ["PIM205", "PIM510"]);
    assert_eq!(doc["findings"][0]["line"], 13);
    assert_eq!(codes(&doc["baselined"]), ["PIM205", "PIM510"]);
    let plan = pimplan(dir, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr
            .contains("the plan stopped at 1 error-level finding(s)"),
        "{}",
        plan.stderr
    );
    assert!(plan.stdout.contains("`u2` may not have a permanent active"));
    assert!(plan.stdout.contains("PIM205 (error, baselined) `u1`"));
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert_eq!(state_keys(dir).len(), 2);
}

#[test]
fn a_baseline_never_lets_plan_or_apply_past_a_file_that_cannot_be_read() {
    let ws = copy_fixture("fixtures/bad/ignore-cannot-hide-an-unread-file");
    let dir = ws.path();
    // Every finding's fingerprint in the baseline, the PIM002 about what could not be read
    // too (as a hand-edited baseline could hold it).
    let sarif = pimplan(dir, &["lint", "--format", "sarif"]);
    let doc = json(&sarif.stdout);
    let entries: Vec<Value> = doc["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            serde_json::json!({
                "code": r["ruleId"],
                "file": "pimplan.yaml",
                "subject": "",
                "fingerprint": r["partialFingerprints"]["pimplan/v1"],
            })
        })
        .collect();
    assert!(
        codes(&Value::Array(
            entries
                .iter()
                .map(|e| serde_json::json!({ "code": e["code"] }))
                .collect()
        ))
        .contains(&"PIM002".to_owned())
    );
    let baseline = serde_json::json!({ "format_version": 1, "findings": entries });
    std::fs::write(dir.join("b.json"), baseline.to_string()).unwrap_or(());
    append(dir, "baseline: b.json\n");

    let lint = pimplan(dir, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 1, "{}", lint.stdout);
    assert_eq!(codes(&json(&lint.stdout)["findings"]), ["PIM002"]);
    let plan = pimplan(dir, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("PIM002"), "{}", plan.stdout);
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(!dir.join("pimplan.state.json").exists());
}

#[test]
fn a_baseline_the_root_file_names_must_be_there_and_inside_the_workspace() {
    let ws = workspace_with(ADOPTED);
    let dir = ws.path();
    append(dir, "baseline: missing.json\n");
    let lint = pimplan(dir, &["lint"]);
    assert_eq!(lint.code, 2, "{}{}", lint.stdout, lint.stderr);
    assert!(
        lint.stderr
            .contains("cannot read the baseline `missing.json`"),
        "{}",
        lint.stderr
    );
    let plan = pimplan(dir, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr
            .contains("cannot read the baseline `missing.json`"),
        "{}",
        plan.stderr
    );

    let ws = workspace_with("version: 1\nbaseline: ../elsewhere.json\n");
    let plan = pimplan(ws.path(), &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("`baseline: ../elsewhere.json` points outside the workspace folder"),
        "{}",
        plan.stdout
    );
}

#[test]
fn the_plan_document_and_show_list_what_the_baseline_left_out() {
    let ws = adopted(true);
    let dir = ws.path();
    append(dir, NEW_ELIGIBLE);
    // The JSON document: `baseline` and `baselined`, in the shape of `findings`.
    let plan = pimplan(dir, &["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let doc = json(&plan.stdout);
    assert!(codes(&doc["findings"]).is_empty(), "{}", plan.stdout);
    assert_eq!(doc["baseline"], "pimplan.baseline.json", "{}", plan.stdout);
    assert_eq!(codes(&doc["baselined"]), ["PIM205", "PIM510"]);
    assert_eq!(doc["baselined"][0]["severity"], "error");
    assert_eq!(doc["baselined"][0]["file"], "pimplan.yaml");
    assert_eq!(doc["baselined"][0]["line"], 12);
    assert_eq!(doc["baselined"][0]["column"], 73);
    // The pull-request comment.
    let md = pimplan(dir, &["plan", "--format", "markdown"]);
    assert_eq!(md.code, 0, "{}{}", md.stdout, md.stderr);
    assert!(
        md.stdout.contains("#### Baselined findings\n\n2 findings left out by the baseline `pimplan.baseline.json` (recorded when pimplan was adopted; they do not fail the plan)\n\n| severity | code | place | message |\n| --- | --- | --- | --- |\n| error | `PIM205` permanent-not-allowed | `pimplan.yaml:12:73` | `u1` may not have a permanent active member assignment on `ops`"),
        "{}",
        md.stdout
    );
    // The saved plan is that document; `show` lists them in each format.
    let save = pimplan(dir, &["plan", "--out", "tfplan.json"]);
    assert_eq!(save.code, 0, "{}{}", save.stdout, save.stderr);
    let saved = json(&std::fs::read_to_string(dir.join("tfplan.json")).unwrap_or_default());
    assert_eq!(codes(&saved["baselined"]), ["PIM205", "PIM510"]);
    let show = pimplan(dir, &["show", "tfplan.json"]);
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    assert!(
        show.stdout.contains("2 findings left out by the baseline `pimplan.baseline.json` (recorded when pimplan was adopted; they did not fail the plan):\n  pimplan.yaml:12:73: PIM205 (error, baselined) `u1` may not have a permanent active member assignment on `ops`\n  pimplan.yaml:12:73: PIM510 (warning, baselined) `u1` holds permanent active member of `ops`\n"),
        "{}",
        show.stdout
    );
    let show_md = pimplan(dir, &["show", "tfplan.json", "--format", "markdown"]);
    assert_eq!(show_md.stdout, md.stdout);

    // Without a baseline, the plan document has neither, as before.
    let plain = workspace_with("version: 1\n");
    let run = pimplan(plain.path(), &["plan", "--format", "json"]);
    let doc = json(&run.stdout);
    assert!(
        doc.get("baselined").is_none() && doc.get("baseline").is_none(),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plan_made_with_the_baseline_flag_is_applied_with_it_from_any_folder() {
    let ws = adopted(false);
    let dir = ws.path();
    append(dir, NEW_ELIGIBLE);
    let save = pimplan(
        dir,
        &[
            "plan",
            "--baseline",
            "pimplan.baseline.json",
            "--out",
            "tfplan.json",
        ],
    );
    assert_eq!(save.code, 0, "{}{}", save.stdout, save.stderr);
    // `apply PLANFILE` without `--baseline`, from a subfolder (the root file found above):
    // the plan's baseline is used again, as the reviewer saw it.
    std::fs::create_dir(dir.join("sub")).unwrap_or(());
    let apply = common::run(&dir.join("sub"), NOW, &["apply", "../tfplan.json"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("PIM205 (error, baselined)"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("Apply complete: 1 change(s)"),
        "{}",
        apply.stdout
    );
    assert_eq!(state_keys(dir).len(), 3);
}
