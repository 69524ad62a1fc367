//! Object ids a Graph apply needs are a lint finding (PIM106, issue 11 point 11): an error
//! with `target: graph`, so the pull request shows it and the apply sends nothing;
//! information for a state-only workspace that gives some ids.

mod graph_server;

mod common;

use std::path::Path;

use chrono::TimeDelta;
use common::{Run, edit, json, workspace_with};
use graph_server::Server;
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";

fn pimplan(server: &Server, dir: &Path, args: &[&str]) -> Run {
    Run::of(&server.run(dir, T0, TimeDelta::zero(), args, &[]))
}

/// `target: graph` (or not), everything with an id but alice.
fn workspace(target: &str) -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\n{target}tenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nprincipals:\n  - {{ name: alice, type: user, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, duration: P30D, justification: rota }}\n"
    ))
}

fn pim106(lint: &Run) -> Vec<Value> {
    json(&lint.stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "PIM106")
        .cloned()
        .collect()
}

#[test]
fn with_target_graph_a_missing_id_is_an_error_in_lint_and_nothing_is_sent() {
    let server = Server::start();
    let ws = workspace("target: graph\n");
    let dir = ws.path();
    let lint = pimplan(&server, dir, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 1, "{}{}", lint.stdout, lint.stderr);
    let found = pim106(&lint);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["severity"], "error");
    assert_eq!(found[0]["line"], 5, "at alice's definition: {found:#?}");
    assert!(
        found[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("principal `alice` has no object id")),
        "{found:#?}"
    );
    // The apply stops at the finding, before any request.
    let apply = pimplan(&server, dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(apply.stdout.contains("PIM106"), "{}", apply.stdout);
    assert!(server.state().requests.is_empty());
    assert!(!dir.join("pimplan.state.json").exists());

    // With the id, lint is clean of it and the apply goes through.
    edit(
        &dir.join("pimplan.yaml"),
        "name: alice, type: user,",
        "name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001,",
    );
    let lint = pimplan(&server, dir, &["lint", "--format", "json"]);
    assert!(pim106(&lint).is_empty(), "{}", lint.stdout);
    let apply = pimplan(&server, dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert_eq!(server.state().live().len(), 1);
}

#[test]
fn without_target_graph_a_missing_id_is_information() {
    let server = Server::start();
    let ws = workspace("");
    let lint = pimplan(&server, ws.path(), &["lint", "--format", "json"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    let found = pim106(&lint);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["severity"], "info");
}
