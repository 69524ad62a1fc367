//! `apply --target graph` across the end of a schedule: time passing never sends
//! `adminAssign` again; a changed end or duration does (issue 11, point 14).

mod graph_server;

mod common;

use std::path::Path;

use chrono::TimeDelta;
use common::{Run, edit, state, workspace_with};
use graph_server::{Server, at};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];

/// Run pimplan in `dir` against `server`, with the server's clock set to `now`, and return
/// the run and the bodies of the schedule requests it posted.
fn pimplan(server: &Server, dir: &Path, now: &str, args: &[&str]) -> (Run, Vec<Value>) {
    server.state().requests.clear();
    let out = server.run(dir, now, TimeDelta::zero(), args, &[]);
    let posts = server.post_bodies();
    (Run::of(&out), posts)
}

fn count(st: &Value, list: &str) -> usize {
    st[list].as_array().map_or(0, Vec::len)
}

const ALICE: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const BOB: &str = "bbbbbbbb-0000-4000-8000-000000000002";

/// alice eligible until a fixed end, bob active for a duration counted from the apply.
fn workspace() -> tempfile::TempDir {
    workspace_with(
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\nprincipals:\n  - { name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }\n  - { name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-01-15T00:00:00Z, justification: on-call }\n  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n",
    )
}

fn assigns(posts: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = posts
        .iter()
        .filter(|b| b["action"] == "adminAssign")
        .map(|b| b["principalId"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_ended_schedule_is_not_assigned_again_until_its_times_change() {
    let server = Server::start();
    let ws = workspace();
    let dir = ws.path();
    let (first, posts) = pimplan(&server, dir, T0, APPLY);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(assigns(&posts), [ALICE, BOB]);
    assert_eq!(server.state().live().len(), 2);

    // Both schedules end in the service (bob's on 2026-12-31, alice's on 2027-01-15).
    let later = "2027-01-20T00:00:00Z";
    server.state().now = Some(at(later));
    assert_eq!(server.state().live().len(), 0);
    let (run, posts) = pimplan(&server, dir, later, APPLY);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(posts.is_empty(), "nothing may be sent: {posts:#?}");
    assert!(run.stdout.contains("not granted again"), "{}", run.stdout);
    let st = state(dir);
    assert_eq!(count(&st, "assignments"), 0, "{st}");
    assert_eq!(count(&st, "ended"), 2, "{st}");

    // Nor by any later apply.
    let (run, posts) = pimplan(&server, dir, "2027-02-01T00:00:00Z", APPLY);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(posts.is_empty(), "nothing may be sent: {posts:#?}");
    assert!(run.stdout.contains("PIM203"), "{}", run.stdout);
    assert_eq!(server.state().live().len(), 0);

    // A new end and a new duration grant them again, with adminAssign.
    let root = dir.join("pimplan.yaml");
    edit(
        &root,
        "end: 2027-01-15T00:00:00Z",
        "end: 2027-04-01T00:00:00Z",
    );
    edit(&root, "duration: P30D", "duration: P60D");
    let now = "2027-02-01T00:00:00Z";
    let (run, posts) = pimplan(&server, dir, now, APPLY);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(assigns(&posts), [ALICE, BOB], "{posts:#?}");
    assert_eq!(server.state().live().len(), 2);
    let st = state(dir);
    assert_eq!(count(&st, "assignments"), 2, "{st}");
    assert_eq!(count(&st, "ended"), 0, "{st}");
}

/// Schedules that ended, dropped by an apply to the state alone, are not listed as still to
/// remove in the service: they are gone there too.
#[test]
fn an_end_recorded_by_a_state_only_apply_leaves_nothing_to_remove_in_the_service() {
    let server = Server::start();
    let ws = workspace();
    let dir = ws.path();
    let (first, _) = pimplan(&server, dir, T0, APPLY);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    // Both ends have passed (bob's duration on 2026-12-31, alice's end on 2027-01-15).
    let later = "2027-01-20T00:00:00Z";
    let (run, posts) = pimplan(
        &server,
        dir,
        later,
        &["apply", "--target", "state", "--auto-approve"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(posts.is_empty(), "{posts:#?}");
    let st = state(dir);
    assert_eq!(count(&st, "ended"), 2, "{st}");
    assert_eq!(count(&st, "removed"), 0, "{st}");
    let (list, _) = pimplan(&server, dir, later, &["state", "list"]);
    assert!(!list.stdout.contains("removed:"), "{}", list.stdout);
    let (plan, _) = pimplan(
        &server,
        dir,
        later,
        &["plan", "--target", "graph", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}
