//! The documented recovery works (issue 16, point 7): a saved plan whose apply was cut off
//! (a connection reset after the service did a change, a kill) applies again to finish the
//! job, sending nothing twice, and only then: a state another apply changed, an edited
//! workspace or another plan's interrupted apply still make it stale. Through the real binary
//! against the stand-in. Also the saved plan's bounded read (point 4) and `state:` outside
//! the workspace folder (point 4).

mod common;
mod graph_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use common::{Run, edit, state, workspace_with};
use graph_server::{Server, state_keys};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];
const PLAN_OUT: &[&str] = &["plan", "--target", "graph", "--out", "p.json"];
const APPLY_SAVED: &[&str] = &["apply", "p.json", "--target", "graph"];

/// Four new eligibilities, in the order the plan makes them (by address).
const NEW: &str = "  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n  - { group: ops, principal: carol, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n  - { group: ops, principal: dave, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n  - { group: ops, principal: erin, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n";

/// One group, bob its owner and active member; `extra` assignment lines after his.
fn root_file(extra: &str) -> String {
    let mut principals = String::new();
    for (i, name) in ["alice", "bob", "carol", "dave", "erin"].iter().enumerate() {
        principals.push_str(&format!(
            "  - {{ name: {name}, type: user, id: aaaaaaaa-0000-4000-8000-00000000000{}, licenses: [entra_id_p2] }}\n",
            i + 1
        ));
    }
    format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nprincipals:\n{principals}groups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - {{ group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }}\n{extra}"
    )
}

fn pimplan(server: &Server, dir: &Path, args: &[&str]) -> Run {
    Run::of(&server.run(dir, T0, TimeDelta::zero(), args, &[]))
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// The schedule requests sent so far, by principal id.
fn posts_by_principal(server: &Server) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for body in server.post_bodies() {
        let p = body["principalId"].as_str().unwrap_or("").to_owned();
        *n.entry(p).or_insert(0) += 1;
    }
    n
}

/// bob applied; the four new eligibilities planned into `p.json`; that plan applied with a
/// reset after the service made the second of them (carol) and the read-back lost too, so
/// carol is pending. Returns the workspace.
fn cut_apply(server: &Server) -> tempfile::TempDir {
    let ws = workspace_with(&root_file(""));
    let dir = ws.path();
    ok(&pimplan(server, dir, APPLY));
    std::fs::write(dir.join("pimplan.yaml"), root_file(NEW)).unwrap_or(());
    ok(&pimplan(server, dir, PLAN_OUT));
    cut(server, dir, "p.json");
    ws
}

/// Apply the saved plan `file`, cut by a reset after the service made its second change
/// (the third schedule request of the test: bob's was the first).
fn cut(server: &Server, dir: &Path, file: &str) {
    {
        let mut s = server.state();
        s.reset_post_after_doing_it = Some(3);
        s.down_after_reset = 1; // the read-back
    }
    let run = pimplan(server, dir, &["apply", file, "--target", "graph"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("marks this one pending"),
        "{}",
        run.stderr
    );
    let st = state(dir);
    assert_eq!(st["pending"].as_array().map_or(0, Vec::len), 1, "{st}");
    assert!(st["applying"]["plan"].is_string(), "{st}");
    let list = pimplan(server, dir, &["state", "list"]);
    assert!(
        list.stdout.contains("applying: the saved plan ")
            && list
                .stdout
                .contains("applying the same plan file again finishes it"),
        "{}",
        list.stdout
    );
    // The service made it; the state does not claim it.
    assert_eq!(server.keys(false).len(), 3);
    assert_eq!(state_keys(&st, false).len(), 2);
}

#[test]
fn a_saved_plan_cut_by_a_reset_is_finished_by_applying_it_again() {
    let server = Server::start();
    let ws = cut_apply(&server);
    let dir = ws.path();
    let again = pimplan(&server, dir, APPLY_SAVED);
    ok(&again);
    assert!(
        again.stdout.contains("Checked 1 change(s) left pending")
            && again.stdout.contains(
                "2 change(s) of the saved plan were made by the interrupted apply; the other 2 are applied."
            ),
        "{}",
        again.stdout
    );
    let st = state(dir);
    assert_eq!(server.keys(false), state_keys(&st, false));
    assert_eq!(server.keys(false).len(), 5);
    assert!(
        st.get("pending").is_none() && st.get("applying").is_none(),
        "{st}"
    );
    let sent = posts_by_principal(&server);
    assert!(sent.values().all(|n| *n == 1), "sent twice: {sent:?}");
    assert_eq!(sent.len(), 5);
    // Finished: the same plan again is stale, as any plan already applied.
    let third = pimplan(&server, dir, APPLY_SAVED);
    assert_eq!(third.code, 1, "{}{}", third.stdout, third.stderr);
    assert!(
        third.stderr.contains("the saved plan is stale"),
        "{}",
        third.stderr
    );
}

#[test]
fn a_saved_plan_is_stale_once_another_apply_changed_the_state_in_between() {
    let server = Server::start();
    let ws = cut_apply(&server);
    let dir = ws.path();
    // Someone finishes the job with an apply of their own.
    ok(&pimplan(&server, dir, APPLY));
    assert_eq!(server.keys(false).len(), 5);
    server.state().requests.clear();
    let serial = state(dir)["serial"].clone();
    let run = pimplan(&server, dir, APPLY_SAVED);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("the saved plan is stale: the state changed since"),
        "{}",
        run.stderr
    );
    assert!(server.post_bodies().is_empty());
    assert_eq!(state(dir)["serial"], serial);
}

#[test]
fn a_saved_plan_is_stale_once_the_workspace_was_edited_after_its_cut_apply() {
    let server = Server::start();
    let ws = cut_apply(&server);
    let dir = ws.path();
    let before = state(dir);
    edit(
        &dir.join("pimplan.yaml"),
        "groups:\n",
        "# reviewed again\ngroups:\n",
    );
    server.state().requests.clear();
    let run = pimplan(&server, dir, APPLY_SAVED);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the workspace files changed since"),
        "{}",
        run.stderr
    );
    // Refused before anything was settled, written or sent.
    assert_eq!(state(dir), before);
    assert!(server.state().requests.is_empty());
}

#[test]
fn a_saved_plan_is_stale_after_another_plans_cut_apply() {
    let server = Server::start();
    let ws = workspace_with(&root_file(""));
    let dir = ws.path();
    ok(&pimplan(&server, dir, APPLY));
    // Two plans from the same state: the second differs only in its last change (erin).
    std::fs::write(dir.join("pimplan.yaml"), root_file(NEW)).unwrap_or(());
    ok(&pimplan(
        &server,
        dir,
        &["plan", "--target", "graph", "--out", "p1.json"],
    ));
    let other = NEW.replacen(
        "principal: erin, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call",
        "principal: erin, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: audit",
        1,
    );
    std::fs::write(dir.join("pimplan.yaml"), root_file(&other)).unwrap_or(());
    ok(&pimplan(
        &server,
        dir,
        &["plan", "--target", "graph", "--out", "p2.json"],
    ));
    cut(&server, dir, "p2.json");
    // Back to the files of the first plan: its changes left to do are a part of it, but
    // the state is the work of another plan.
    std::fs::write(dir.join("pimplan.yaml"), root_file(NEW)).unwrap_or(());
    let before = state(dir);
    server.state().requests.clear();
    let run = pimplan(&server, dir, &["apply", "p1.json", "--target", "graph"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("by an interrupted apply of another saved plan"),
        "{}",
        run.stderr
    );
    assert_eq!(state(dir), before);
    assert!(server.state().requests.is_empty());
    // The plan that was cut finishes.
    std::fs::write(dir.join("pimplan.yaml"), root_file(&other)).unwrap_or(());
    ok(&pimplan(
        &server,
        dir,
        &["apply", "p2.json", "--target", "graph"],
    ));
    assert_eq!(server.keys(false), state_keys(&state(dir), false));
}

/// An apply to the state alone has nothing pending (the state is its target), but a kill
/// half way leaves a part of the plan recorded: the same saved plan finishes it, also when
/// it was made before there was a state.
#[test]
fn a_saved_plan_killed_half_way_to_the_state_is_finished_by_applying_it_again() {
    let ws = workspace_with(&root_file(NEW));
    let dir = ws.path();
    let plan = common::run(dir, T0, &["plan", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pimplan"));
    cmd.current_dir(dir)
        .args(["apply", "p.json", "--now", T0])
        .env("PIMPLAN_TEST_STEP_DELAY_MS", "400")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| unreachable!("{e}"));
    let started = Instant::now();
    while !dir.join("pimplan.state.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no state written"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    let st = state(dir);
    // The group's policies, then the five assignments.
    let total =
        common::json(&std::fs::read_to_string(dir.join("p.json")).unwrap_or_default())["changes"]
            .as_array()
            .map_or(0, Vec::len);
    let count = |st: &serde_json::Value| {
        st["assignments"].as_array().map_or(0, Vec::len)
            + st["policies"].as_array().map_or(0, Vec::len)
    };
    let recorded = count(&st);
    assert!((1..total).contains(&recorded), "not killed half way: {st}");
    assert!(st["applying"]["plan"].is_string(), "{st}");
    let unlock = common::run(dir, T0, &["force-unlock"]);
    assert_eq!(unlock.code, 0, "{}{}", unlock.stdout, unlock.stderr);
    let again = common::run(dir, T0, &["apply", "p.json"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains(&format!(
            "{recorded} change(s) of the saved plan were made by the interrupted apply"
        )),
        "{}",
        again.stdout
    );
    let st = state(dir);
    assert_eq!(count(&st), total, "{st}");
    assert!(st.get("applying").is_none(), "{st}");
}

/// `pimplan` in `dir` with a time bound far above what a refusal takes.
fn bounded(dir: &Path, args: &[&str]) -> (Run, Duration) {
    let mut cmd = assert_cmd::Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--now", T0, "--color", "never"])
        .timeout(Duration::from_secs(30));
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| unreachable!("{e}"));
    (Run::of(&out), started.elapsed())
}

#[test]
fn a_plan_file_that_is_no_regular_file_or_too_large_is_refused_at_once() {
    let ws = workspace_with(&root_file(""));
    let dir = ws.path();
    let fifo = dir.join("plan.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()));
    // Sparse: claims 2 GiB, costs nothing on disk; refused from its size, before any read.
    let big = dir.join("big.json");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(2 << 30))
        .unwrap_or(());
    for (file, why) in [
        ("/dev/zero", "it is a character device, not a regular file"),
        ("plan.fifo", "it is a FIFO (named pipe), not a regular file"),
        (".", "it is a folder, not a regular file"),
        ("big.json", "it is larger than 1 GiB"),
    ] {
        let (run, took) = bounded(dir, &["apply", file]);
        assert_eq!(run.code, 1, "{file}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains(&format!("cannot read the plan `{file}`: {why}")),
            "{file}: {}",
            run.stderr
        );
        assert!(took < Duration::from_secs(20), "{file}: took {took:?}");
        assert!(!dir.join("pimplan.state.json").exists());
    }
}

#[test]
fn a_state_outside_the_workspace_folder_is_refused() {
    let outside = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let target = outside.path().join("stolen.json");
    let cases = [
        "/dev/zero".to_owned(),
        target.display().to_string(),
        "../stolen.json".to_owned(),
        "sub/../../stolen.json".to_owned(),
        "out/stolen.json".to_owned(),
        "linked.json".to_owned(),
    ];
    for value in &cases {
        let ws = workspace_with(&root_file(NEW).replacen(
            "groups:\n",
            &format!("state: \"{value}\"\ngroups:\n"),
            1,
        ));
        let dir = ws.path();
        std::os::unix::fs::symlink(outside.path(), dir.join("out")).unwrap_or(());
        std::os::unix::fs::symlink(&target, dir.join("linked.json")).unwrap_or(());
        let (lint, _) = bounded(dir, &["lint"]);
        assert_eq!(lint.code, 1, "{value}: {}{}", lint.stdout, lint.stderr);
        assert!(
            lint.stdout.contains("PIM002") && lint.stdout.contains("outside the workspace"),
            "{value}: {}",
            lint.stdout
        );
        for args in [
            &["apply", "--auto-approve"][..],
            &["plan"],
            &["state", "list"],
            &["force-unlock"],
        ] {
            let (run, took) = bounded(dir, args);
            assert_eq!(
                run.code, 1,
                "{value} {args:?}: {}{}",
                run.stdout, run.stderr
            );
            assert!(took < Duration::from_secs(20), "{value} {args:?}");
        }
        assert!(!target.exists(), "{value}: written outside");
        assert_eq!(
            std::fs::read_dir(outside.path())
                .map(Iterator::count)
                .unwrap_or(0),
            0,
            "{value}"
        );
    }
    // The default state name, linked out of the folder, is refused the same way.
    let ws = workspace_with(&root_file(NEW));
    let dir = ws.path();
    std::os::unix::fs::symlink(&target, dir.join("pimplan.state.json")).unwrap_or(());
    let (apply, _) = bounded(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("outside the workspace"),
        "{}",
        apply.stdout
    );
    assert!(!target.exists());
    // A state below the folder, in a subfolder or through a link that stays inside, works.
    let ws =
        workspace_with(&root_file(NEW).replacen("groups:\n", "state: st/s.json\ngroups:\n", 1));
    let dir = ws.path();
    std::fs::create_dir(dir.join("real")).unwrap_or(());
    std::os::unix::fs::symlink("real", dir.join("st")).unwrap_or(());
    let (apply, _) = bounded(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert!(dir.join("real/s.json").is_file());
}

#[test]
fn a_saved_plan_is_stale_once_its_cut_state_was_edited_and_accepted() {
    let server = Server::start();
    let ws = cut_apply(&server);
    let dir = ws.path();
    // Someone edits the state an interrupted apply left, and accepts the edit.
    let mut st = state(dir);
    if let Some(obj) = st.as_object_mut() {
        obj.remove("checksum");
    }
    std::fs::write(
        dir.join("pimplan.state.json"),
        serde_json::to_string(&st).unwrap_or_default(),
    )
    .unwrap_or(());
    let accepted = pimplan(&server, dir, &["state", "accept-edit", "--auto-approve"]);
    ok(&accepted);
    assert!(
        accepted
            .stdout
            .contains("no longer applies to this state; make a new plan"),
        "{}",
        accepted.stdout
    );
    assert!(state(dir).get("applying").is_none());
    server.state().requests.clear();
    let run = pimplan(&server, dir, APPLY_SAVED);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the saved plan is stale"),
        "{}",
        run.stderr
    );
    assert!(server.state().requests.is_empty());
}
