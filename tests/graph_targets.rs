//! Between targets nothing is lost: what an apply to the state alone recorded, an apply to
//! Microsoft Graph sends (against the loopback stand-in); `plan --refresh` reads the live
//! policies the state does not record yet.

mod graph_server;

mod common;

use std::path::Path;

use common::{edit, state, workspace_with};
use graph_server::{Server, pimplan};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";
const T1: &str = "2026-12-01T00:10:00Z";
const TENANT: &str = "5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11";
const NOT_SENT: &str = "# recorded by a state-only apply, not yet sent";

const ALICE_MEMBER: &str = "  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n";
const BOB_MEMBER: &str = "  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n";

fn small(policy: &str) -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\ntarget: graph\ntenant: {{ id: {TENANT} }}\nprincipals:\n  - {{ name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\n{policy}assignments:\n{ALICE_MEMBER}{BOB_MEMBER}"
    ))
}

fn server_keys(server: &Server) -> Vec<String> {
    server.keys(true)
}

fn state_keys(dir: &Path) -> Vec<String> {
    graph_server::state_keys(&state(dir), true)
}

/// `action principal role` of every schedule request sent, in order.
fn sent(server: &Server) -> Vec<String> {
    server
        .post_bodies()
        .iter()
        .map(|b| {
            format!(
                "{} {} {}",
                b["action"].as_str().unwrap_or(""),
                &b["principalId"].as_str().unwrap_or("")[..1],
                b["accessId"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_graph_apply_sends_what_state_only_applies_recorded() {
    let server = Server::start();
    let ws = small("");
    let dir = ws.path();
    let first = pimplan(&server, dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains(&format!("Target: Microsoft Graph, tenant {TENANT}.")),
        "{}",
        first.stdout
    );
    assert_eq!(sent(&server).len(), 2);

    // An update (alice's end), a removal (bob) and a create (alice as owner), recorded in
    // the state alone.
    let yaml = dir.join("pimplan.yaml");
    edit(
        &yaml,
        "end: 2027-03-01T00:00:00Z",
        "end: 2027-03-15T00:00:00Z",
    );
    edit(
        &yaml,
        BOB_MEMBER,
        "  - { group: ops, principal: alice, role: owner, type: eligible, end: 2027-03-01T00:00:00Z, justification: rota }\n",
    );
    server.state().requests.clear();
    let to_state = pimplan(
        &server,
        dir,
        T1,
        &[
            "apply",
            "--auto-approve",
            "--allow-mass-removal",
            "--target",
            "state",
        ],
    );
    assert_eq!(to_state.code, 0, "{}{}", to_state.stdout, to_state.stderr);
    assert!(
        to_state
            .stdout
            .contains("Target: the state file only: nothing is sent to Microsoft Graph."),
        "{}",
        to_state.stdout
    );
    assert!(server.state().requests.is_empty(), "sent to the service");
    assert_eq!(state(dir)["removed"].as_array().map(Vec::len), Some(1));
    let list = pimplan(&server, dir, T1, &["state", "list"]);
    assert!(
        list.stdout.contains("removed: assignment ops/bob (member, active)  assignment/id:99999999-0000-4000-8000-000000000009/id:bbbbbbbb-0000-4000-8000-000000000002/member/active  removed by an apply to the state alone, still in Microsoft Graph"),
        "{}",
        list.stdout
    );

    // For the state nothing is left; for Graph all three, each saying why. Drift compares
    // the service with what it was sent, so none of this is drift.
    let for_state = pimplan(
        &server,
        dir,
        T1,
        &["plan", "--target", "state", "--detailed-exitcode"],
    );
    assert_eq!(
        for_state.code, 0,
        "{}{}",
        for_state.stdout, for_state.stderr
    );
    let for_graph = pimplan(&server, dir, T1, &["plan", "--allow-mass-removal"]);
    assert_eq!(
        for_graph.code, 0,
        "{}{}",
        for_graph.stdout, for_graph.stderr
    );
    assert_eq!(
        for_graph.stdout.matches(NOT_SENT).count(),
        3,
        "{}",
        for_graph.stdout
    );
    assert!(
        for_graph
            .stdout
            .contains("Plan: 1 to add, 1 to change, 1 to remove."),
        "{}",
        for_graph.stdout
    );
    let drift = pimplan(&server, dir, T1, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);

    // The Graph apply sends exactly those three, and the state is what the service holds.
    server.state().requests.clear();
    let to_graph = pimplan(
        &server,
        dir,
        T1,
        &[
            "apply",
            "--auto-approve",
            "--allow-mass-removal",
            "--target",
            "graph",
        ],
    );
    assert_eq!(to_graph.code, 0, "{}{}", to_graph.stdout, to_graph.stderr);
    let mut requests = sent(&server);
    requests.sort();
    assert_eq!(
        requests,
        vec![
            "adminAssign a owner",
            "adminRemove b member",
            "adminUpdate a member"
        ]
    );
    assert_eq!(server_keys(&server), state_keys(dir));
    assert_eq!(server_keys(&server).len(), 2);
    let st = state(dir);
    assert!(st.get("removed").is_none(), "{st}");
    for a in st["assignments"].as_array().into_iter().flatten() {
        assert!(a.get("service").is_none(), "{a}");
    }
    let refresh = pimplan(&server, dir, T1, &["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("No drift") && refresh.stdout.contains("No changes."),
        "{}{}",
        refresh.stdout,
        refresh.stderr
    );

    // A second Graph apply has nothing to send.
    server.state().requests.clear();
    let again = pimplan(&server, dir, T1, &["apply", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(sent(&server).is_empty(), "{:?}", sent(&server));
}

/// A state-only apply changed alice's end, and the files changed it back: the service never
/// saw the change, so a Graph apply sends nothing for alice and the state records what the
/// service holds again.
#[test]
fn a_change_undone_before_it_was_sent_is_not_sent() {
    let server = Server::start();
    let ws = small("");
    let dir = ws.path();
    assert_eq!(
        pimplan(&server, dir, T0, &["apply", "--auto-approve"]).code,
        0
    );
    let yaml = dir.join("pimplan.yaml");
    edit(
        &yaml,
        "end: 2027-03-01T00:00:00Z",
        "end: 2027-03-15T00:00:00Z",
    );
    let to_state = pimplan(
        &server,
        dir,
        T1,
        &["apply", "--auto-approve", "--target", "state"],
    );
    assert_eq!(to_state.code, 0, "{}{}", to_state.stdout, to_state.stderr);
    edit(
        &yaml,
        "end: 2027-03-15T00:00:00Z",
        "end: 2027-03-01T00:00:00Z",
    );
    edit(
        &yaml,
        "justification: migration",
        "justification: migration 2",
    );
    server.state().requests.clear();
    let to_graph = pimplan(&server, dir, T1, &["apply", "--auto-approve"]);
    assert_eq!(to_graph.code, 0, "{}{}", to_graph.stdout, to_graph.stderr);
    assert_eq!(sent(&server), vec!["adminUpdate b member"]);
    assert_eq!(server_keys(&server), state_keys(dir));
    let for_state = pimplan(
        &server,
        dir,
        T1,
        &["plan", "--target", "state", "--detailed-exitcode"],
    );
    assert_eq!(
        for_state.code, 0,
        "{}{}",
        for_state.stdout, for_state.stderr
    );
}

#[test]
fn refresh_reads_the_live_policy_the_state_does_not_record() {
    let server = Server::start();
    let ws =
        small("    policy:\n      member:\n        activation:\n          max_duration: PT3H\n");
    let dir = ws.path();
    let first = pimplan(&server, dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    // A state that records the assignments but not the policies (the tenant holds PT3H).
    let mut st = state(dir);
    if let Some(o) = st.as_object_mut() {
        o.insert("policies".into(), Value::Array(Vec::new()));
    }
    common::write_state(dir, &st);
    edit(&dir.join("pimplan.yaml"), "PT3H", "PT5H");
    let plain = pimplan(&server, dir, T1, &["plan"]);
    assert!(
        plain.stdout.contains("  + policy ops (member)"),
        "{}",
        plain.stdout
    );
    let refresh = pimplan(&server, dir, T1, &["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("  ~ policy ops (member)")
            && refresh
                .stdout
                .contains("activation.max_duration: PT3H -> PT5H")
            && !refresh.stdout.contains("+ policy"),
        "{}{}",
        refresh.stdout,
        refresh.stderr
    );
}
