//! Where changes go (`--target`), without Microsoft Graph: what plan and apply say, the
//! default, and what the state records for a later apply to Graph.

mod common;

use std::path::Path;

use common::{Run, edit, json, state, workspace_with};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";
const TENANT: &str = "5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11";
const TO_STATE: &str = "the state file only: nothing is sent to Microsoft Graph";

/// Run pimplan in `dir` with no Graph credentials at all.
fn pimplan(dir: &Path, args: &[&str]) -> Run {
    pimplan_at(dir, T0, args)
}

fn pimplan_at(dir: &Path, now: &str, args: &[&str]) -> Run {
    common::run(dir, now, args)
}

fn workspace() -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\ntenant: {{ id: {TENANT} }}\nprincipals:\n  - {{ name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }}\n  - {{ group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }}\n"
    ))
}

#[test]
fn apply_help_shows_that_state_is_the_default() {
    let ws = workspace();
    for command in ["apply", "plan"] {
        let run = pimplan(ws.path(), &[command, "--help"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let flat = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("[default: state, unless `target:` in pimplan.yaml says otherwise]"),
            "{command}: {flat}"
        );
    }
}

#[test]
fn plan_names_the_target_in_every_format() {
    let ws = workspace();
    let dir = ws.path();
    // The default: the state alone.
    let human = pimplan(dir, &["plan"]);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(
        human.stdout.starts_with(&format!("Target: {TO_STATE}.\n")),
        "{}",
        human.stdout
    );
    let plan = json(&pimplan(dir, &["plan", "--format", "json"]).stdout);
    assert_eq!(plan["target"]["kind"], "state");
    assert_eq!(plan["target"]["description"], TO_STATE);
    let md = pimplan(dir, &["plan", "--format", "markdown"]).stdout;
    assert!(md.contains(&format!("**Target:** {TO_STATE}\n")), "{md}");

    // Microsoft Graph, with the tenant of the root file, by flag and by the root file. A
    // plan needs no credentials.
    let graph = format!("Microsoft Graph, tenant {TENANT}");
    for (args, root) in [(&["--target", "graph"][..], false), (&[][..], true)] {
        if root {
            edit(
                &dir.join("pimplan.yaml"),
                "version: 1\n",
                "version: 1\ntarget: graph\n",
            );
        }
        let with = |extra: &[&str]| {
            let mut a = vec!["plan"];
            a.extend_from_slice(extra);
            a.extend_from_slice(args);
            pimplan(dir, &a)
        };
        let human = with(&[]);
        assert!(
            human.stdout.starts_with(&format!("Target: {graph}.\n")),
            "{}",
            human.stdout
        );
        let plan = json(&with(&["--format", "json"]).stdout);
        assert_eq!(plan["target"]["kind"], "graph");
        assert_eq!(plan["target"]["tenant"], TENANT);
        assert_eq!(plan["target"]["description"], graph.as_str());
        let md = with(&["--format", "markdown"]).stdout;
        assert!(md.contains(&format!("**Target:** {graph}\n")), "{md}");
    }
}

#[test]
fn apply_to_the_state_says_so() {
    let ws = workspace();
    let run = pimplan(ws.path(), &["apply", "--auto-approve", "--target", "state"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("Target: {TO_STATE}.")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_graph_apply_without_credentials_fails_and_writes_nothing() {
    let ws = workspace();
    let dir = ws.path();
    let run = pimplan(dir, &["apply", "--auto-approve", "--target", "graph"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("cannot sign in to Microsoft Graph")
            && run.stderr.contains("PIMPLAN_GRAPH_TOKEN")
            && run.stderr.contains("`--target state`")
            && run.stderr.contains("Nothing was planned, sent or written"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("will make these changes"),
        "{}",
        run.stdout
    );
    let left: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["pimplan.yaml".to_owned()], "files written");
}

#[test]
fn drift_and_refresh_without_a_state_fail_and_say_to_import() {
    let ws = workspace();
    let dir = ws.path();
    for args in [&["drift"][..], &["plan", "--refresh"]] {
        let run = pimplan(dir, args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "no state at {}; run `pimplan import`",
                dir.join("pimplan.state.json").display()
            )) || run
                .stderr
                .contains("no state at ./pimplan.state.json; run `pimplan import`")
                || run
                    .stderr
                    .contains("no state at pimplan.state.json; run `pimplan import`"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stdout.contains("No drift"), "{}", run.stdout);
    }
}

/// A state-only apply records what the service holds beside what it records: the plan for
/// the state shows nothing to do, the plan for Graph everything not sent yet, with why.
#[test]
fn a_state_only_apply_leaves_the_changes_to_send_to_graph() {
    let ws = workspace();
    let dir = ws.path();
    let first = pimplan(dir, &["apply", "--auto-approve", "--target", "state"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let to_state = pimplan(dir, &["plan", "--target", "state", "--detailed-exitcode"]);
    assert_eq!(to_state.code, 0, "{}{}", to_state.stdout, to_state.stderr);
    let to_graph = pimplan(dir, &["plan", "--target", "graph", "--detailed-exitcode"]);
    assert_eq!(to_graph.code, 2, "{}{}", to_graph.stdout, to_graph.stderr);
    assert_eq!(
        to_graph
            .stdout
            .matches("# recorded by a state-only apply, not yet sent")
            .count(),
        4,
        "two assignments and the two policies: {}",
        to_graph.stdout
    );
    assert!(
        to_graph
            .stdout
            .contains("Plan: 4 to add, 0 to change, 0 to remove."),
        "{}",
        to_graph.stdout
    );
    let plan = json(&pimplan(dir, &["plan", "--target", "graph", "--format", "json"]).stdout);
    let reasons: Vec<&Value> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["reason"]["kind"])
        .collect();
    assert!(reasons.iter().all(|r| *r == "not_sent"), "{reasons:?}");
    // The state says the service holds none of them.
    let st = state(dir);
    for a in st["assignments"].as_array().into_iter().flatten() {
        assert_eq!(a["service"], "none", "{a}");
    }
    // Removing one in the files and applying to the state: the plan for Graph no longer
    // creates it, and the state lists nothing as still to remove (the service never had it).
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n",
        "",
    );
    let later = "2026-12-01T00:10:00Z";
    let removed = pimplan_at(
        dir,
        later,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "state",
            "--allow-mass-removal",
        ],
    );
    assert_eq!(removed.code, 0, "{}{}", removed.stdout, removed.stderr);
    assert!(state(dir).get("removed").is_none(), "{}", state(dir));
    let to_graph = pimplan_at(dir, later, &["plan", "--target", "graph"]);
    assert!(
        to_graph
            .stdout
            .contains("Plan: 3 to add, 0 to change, 0 to remove."),
        "{}",
        to_graph.stdout
    );
}

/// A state of an older pimplan (no `service`): an assignment without request or schedule id
/// was never sent; one with ids was.
#[test]
fn an_old_state_reads_and_entries_without_ids_are_to_send() {
    let ws = workspace();
    let dir = ws.path();
    assert_eq!(
        pimplan(dir, &["apply", "--auto-approve", "--target", "state"]).code,
        0
    );
    let mut st = state(dir);
    let mut with_ids = false;
    for a in st["assignments"].as_array_mut().into_iter().flatten() {
        if let Some(o) = a.as_object_mut() {
            o.remove("service");
            if !with_ids {
                o.insert("request_id".into(), "r-1".into());
                o.insert("schedule_id".into(), "s-1".into());
                with_ids = true;
            }
        }
    }
    for p in st["policies"].as_array_mut().into_iter().flatten() {
        if let Some(o) = p.as_object_mut() {
            o.insert("service".into(), "same".into());
        }
    }
    common::write_state(dir, &st);
    let to_state = pimplan(dir, &["plan", "--target", "state", "--detailed-exitcode"]);
    assert_eq!(to_state.code, 0, "{}{}", to_state.stdout, to_state.stderr);
    let to_graph = pimplan(dir, &["plan", "--target", "graph"]);
    assert_eq!(to_graph.code, 0, "{}{}", to_graph.stdout, to_graph.stderr);
    assert!(
        to_graph
            .stdout
            .contains("Plan: 1 to add, 0 to change, 0 to remove.")
            && to_graph
                .stdout
                .contains("# recorded by a state-only apply, not yet sent"),
        "{}",
        to_graph.stdout
    );
}

/// A saved plan is for one target: its changes were made from what that target holds.
#[test]
fn a_saved_plan_is_applied_only_to_its_target() {
    let ws = workspace();
    let dir = ws.path();
    let saved = pimplan(dir, &["plan", "--target", "graph", "--out", "saved.plan"]);
    assert_eq!(saved.code, 0, "{}{}", saved.stdout, saved.stderr);
    let run = pimplan(dir, &["apply", "saved.plan", "--target", "state"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the saved plan is stale: it was made for Microsoft Graph, tenant {TENANT}, and this apply goes to {TO_STATE}"
        )),
        "{}",
        run.stderr
    );
    assert!(!dir.join("pimplan.state.json").exists());
}
