//! Reading what Microsoft Graph answers (issue 11, points 4–6): enum values in any case,
//! expirations pimplan does not know, request statuses other than `Provisioned`, cancelling
//! a request not carried out, and removals of something already gone.

mod graph_server;

mod common;

use std::path::Path;

use common::{Run, copy_fixture, edit, state};
use graph_server::{ALICE, BOB, BOB_LINE, Server, pimplan, two_grants};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";
/// Ten minutes later: past the service's five-minute rule for removals.
const T1: &str = "2026-12-01T00:10:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];
/// The same, removing one of two assignments (more than PIM703 allows by default).
const APPLY_REMOVAL: &[&str] = &[
    "apply",
    "--target",
    "graph",
    "--auto-approve",
    "--allow-mass-removal",
];

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// Declare only bob's assignment from now on.
fn drop_alice(dir: &Path) {
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n",
        "",
    );
}

/// The state's record for `principal`, or null.
fn record(dir: &Path, principal: &str) -> Value {
    state(dir)["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["principal_id"] == principal)
        .cloned()
        .unwrap_or(Value::Null)
}

/// (path after the PIM prefix, body) of every POST to a schedule request collection or to
/// a request's `cancel`, in order.
fn posts(server: &Server) -> Vec<(String, Value)> {
    server.schedule_posts()
}

fn principal_of_first_post(server: &Server) -> String {
    posts(server)
        .first()
        .and_then(|(_, b)| b["principalId"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn docs_cased_schedules_are_found_by_import_drift_and_refresh() {
    let server = Server::start();
    let source = copy_fixture("fixtures/example");
    ok(&pimplan(&server, source.path(), T0, APPLY));
    // The stand-in prints `Direct` and `Assigned`, as Microsoft's v1.0 list examples do.
    let refresh = pimplan(
        &server,
        source.path(),
        T0,
        &["plan", "--refresh", "--detailed-exitcode"],
    );
    ok(&refresh);
    assert!(
        refresh
            .stdout
            .contains("No drift: the service matches the state.")
            && refresh.stdout.contains("No changes."),
        "{}",
        refresh.stdout
    );
    let drift = pimplan(&server, source.path(), T0, &["drift"]);
    ok(&drift);
    // Import into a copy that declares no assignments finds all 31.
    let ws = copy_fixture("fixtures/example");
    let dir = ws.path();
    std::fs::remove_dir_all(dir.join("assignments")).unwrap_or(());
    std::fs::create_dir_all(dir.join("assignments")).unwrap_or(());
    let import = pimplan(
        &server,
        dir,
        T0,
        &["import", "--generate-config", "assignments/imported.yaml"],
    );
    ok(&import);
    assert!(
        import.stdout.contains("Imported 31 assignment(s)"),
        "{}",
        import.stdout
    );
}

#[test]
fn an_unknown_expiration_type_is_an_error_naming_the_schedule() {
    let server = Server::start();
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    let id = record(dir, ALICE)["schedule_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty());
    server
        .state()
        .odd_expiration
        .insert(id.clone(), "notSpecified".to_owned());
    // Never read as permanent (a `~` to "never"), nor as absent (a `-`): an error.
    for args in [&["drift"][..], &["plan", "--refresh"][..]] {
        let run = pimplan(&server, dir, T1, args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(&id) && run.stderr.contains("notSpecified"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stdout.contains("removed in the service"),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains("never"), "{}", run.stdout);
    }
    // Import writes no state from it.
    std::fs::remove_file(dir.join("pimplan.state.json")).unwrap_or(());
    let import = pimplan(&server, dir, T1, &["import"]);
    assert_eq!(import.code, 1, "{}{}", import.stdout, import.stderr);
    assert!(import.stderr.contains(&id), "{}", import.stderr);
    assert!(!dir.join("pimplan.state.json").exists());
}

#[test]
fn a_request_answered_failed_or_denied_fails_the_change_and_is_proposed_again() {
    for status in ["Failed", "Denied"] {
        let server = Server::start();
        server.state().request_statuses.push_back(status.to_owned());
        let ws = two_grants();
        let dir = ws.path();
        let run = pimplan(&server, dir, T0, APPLY);
        assert_eq!(run.code, 1, "{status}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(&format!("with status {status}")),
            "{status}: {}",
            run.stderr
        );
        let failed = principal_of_first_post(&server);
        assert!(record(dir, &failed).is_null(), "{status}: {}", state(dir));
        assert!(state(dir)["pending"].is_null(), "{status}: {}", state(dir));
        assert!(server.state().live().is_empty());
        // The next plan proposes it again, and the next apply makes it.
        let plan = pimplan(&server, dir, T0, &["plan", "--detailed-exitcode"]);
        assert_eq!(plan.code, 2, "{status}: {}{}", plan.stdout, plan.stderr);
        let who = if failed == ALICE { "alice" } else { "bob" };
        assert!(
            plan.stdout.contains(&format!("  + assignment ops/{who}")),
            "{status}: {}",
            plan.stdout
        );
        ok(&pimplan(&server, dir, T0, APPLY));
        assert!(!record(dir, ALICE).is_null() && !record(dir, BOB).is_null());
        assert_eq!(server.state().live().len(), 2);
    }
}

#[test]
fn a_request_not_yet_provisioned_is_recorded_as_waiting_and_settled_later() {
    let server = Server::start();
    {
        let mut s = server.state();
        s.request_statuses.push_back("PendingApproval".to_owned());
        s.request_statuses.push_back("Granted".to_owned());
    }
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    let (a, b) = (record(dir, ALICE), record(dir, BOB));
    let mut statuses = [
        a["request_status"].as_str().unwrap_or_default().to_owned(),
        b["request_status"].as_str().unwrap_or_default().to_owned(),
    ];
    statuses.sort();
    assert_eq!(statuses, ["Granted", "PendingApproval"], "{}", state(dir));
    assert!(server.state().live().is_empty());
    let plan = pimplan(&server, dir, T0, &["plan", "--detailed-exitcode"]);
    ok(&plan);
    assert!(
        plan.stdout
            .contains("2 request(s) were taken by the service but not carried out yet"),
        "{}",
        plan.stdout
    );
    // Nothing is sent again while the service has not carried them out; drift is no drift.
    server.state().requests.clear();
    let again = pimplan(&server, dir, T0, APPLY);
    ok(&again);
    assert!(
        again
            .stdout
            .contains("is still PendingApproval in the service"),
        "{}",
        again.stdout
    );
    assert!(posts(&server).is_empty(), "{:?}", posts(&server));
    let drift = pimplan(&server, dir, T0, &["drift"]);
    ok(&drift);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    // The service carries them out; the next apply records them as done, with no POST.
    {
        let mut s = server.state();
        let ids: Vec<String> = s.waiting.keys().cloned().collect();
        assert_eq!(ids.len(), 2);
        for id in ids {
            assert!(s.provision(&id));
        }
        s.requests.clear();
    }
    let settle = pimplan(&server, dir, T0, APPLY);
    ok(&settle);
    assert!(
        settle
            .stdout
            .contains("is provisioned now; recorded as done"),
        "{}",
        settle.stdout
    );
    assert!(posts(&server).is_empty(), "{:?}", posts(&server));
    for p in [ALICE, BOB] {
        let r = record(dir, p);
        assert!(r["request_status"].is_null(), "{r}");
        assert!(r["schedule_id"].is_string(), "{r}");
    }
    let clean = pimplan(
        &server,
        dir,
        T0,
        &["plan", "--refresh", "--detailed-exitcode"],
    );
    ok(&clean);
    assert!(clean.stdout.contains("No drift"), "{}", clean.stdout);
}

#[test]
fn a_request_denied_while_waiting_is_dropped_and_proposed_again() {
    let server = Server::start();
    server
        .state()
        .request_statuses
        .push_back("PendingApproval".to_owned());
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    let waiting = principal_of_first_post(&server);
    {
        let mut s = server.state();
        let ids: Vec<String> = s.waiting.keys().cloned().collect();
        for id in ids {
            s.waiting.remove(&id);
            if let Some(r) = s.schedule_requests.get_mut(&id) {
                r["status"] = serde_json::json!("Denied");
            }
        }
    }
    let drift = pimplan(&server, dir, T0, &["drift"]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("ended Denied"), "{}", drift.stdout);
    let who = if waiting == ALICE { "alice" } else { "bob" };
    let plan = pimplan(&server, dir, T0, &["plan", "--refresh"]);
    assert!(
        plan.stdout.contains(&format!("  + assignment ops/{who}")),
        "{}",
        plan.stdout
    );
}

#[test]
fn removing_a_request_not_yet_provisioned_cancels_it() {
    let server = Server::start();
    server
        .state()
        .request_statuses
        .push_back("PendingApproval".to_owned());
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    // The plan sends alice's eligibility first: hers is the waiting one.
    assert_eq!(
        principal_of_first_post(&server),
        ALICE,
        "{:?}",
        posts(&server)
    );
    let id = record(dir, ALICE)["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty());
    server.state().requests.clear();
    drop_alice(dir);
    let run = pimplan(&server, dir, T1, APPLY_REMOVAL);
    ok(&run);
    assert_eq!(
        posts(&server),
        vec![(
            format!("eligibilityScheduleRequests/{id}/cancel"),
            Value::Null
        )]
    );
    assert!(record(dir, ALICE).is_null(), "{}", state(dir));
    let s = server.state();
    assert!(s.waiting.is_empty());
    assert_eq!(s.schedule_requests[&id]["status"], "Revoked");
}

/// Apply `two_grants()` at T0, then remove alice's schedule out of band (or not), and apply
/// without alice at T1.
fn remove_alice(missing_as_400: bool, gone: bool) -> (Server, tempfile::TempDir, Run) {
    let server = Server::start();
    server.state().missing_removal_as_400 = missing_as_400;
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    {
        let mut s = server.state();
        if gone {
            s.schedules.retain(|x| x.principal_id != ALICE);
        } else {
            s.removal_says_missing = 1;
        }
        s.requests.clear();
    }
    drop_alice(dir);
    let run = pimplan(&server, dir, T1, APPLY_REMOVAL);
    (server, ws, run)
}

#[test]
fn a_removal_answered_not_found_is_done_when_the_schedule_is_gone() {
    for as_400 in [false, true] {
        let (server, ws, run) = remove_alice(as_400, true);
        ok(&run);
        assert!(record(ws.path(), ALICE).is_null(), "{}", state(ws.path()));
        assert_eq!(posts(&server).len(), 1);
    }
}

#[test]
fn a_removal_answered_not_found_is_not_done_while_the_schedule_is_listed() {
    for as_400 in [false, true] {
        let (server, ws, run) = remove_alice(as_400, false);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("still lists schedule"),
            "{}",
            run.stderr
        );
        assert!(!record(ws.path(), ALICE).is_null(), "{}", state(ws.path()));
        // The service answers truly next time: the removal goes through.
        ok(&pimplan(&server, ws.path(), T1, APPLY_REMOVAL));
        assert!(record(ws.path(), ALICE).is_null());
        assert!(
            server
                .state()
                .live()
                .iter()
                .all(|s| s.principal_id != ALICE)
        );
    }
}

#[test]
fn a_request_provisioned_since_is_removed_with_admin_remove() {
    let server = Server::start();
    server
        .state()
        .request_statuses
        .push_back("PendingProvisioning".to_owned());
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    assert_eq!(principal_of_first_post(&server), ALICE);
    {
        let mut s = server.state();
        let ids: Vec<String> = s.waiting.keys().cloned().collect();
        for id in ids {
            assert!(s.provision(&id));
        }
    }
    drop_alice(dir);
    // Ten minutes after it was provisioned, past the five-minute rule.
    server.state().requests.clear();
    let run = pimplan(&server, dir, "2026-12-01T00:20:00Z", APPLY_REMOVAL);
    ok(&run);
    let sent = posts(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "eligibilityScheduleRequests");
    assert_eq!(sent[0].1["action"], "adminRemove");
    assert!(record(dir, ALICE).is_null());
    assert!(
        server
            .state()
            .live()
            .iter()
            .all(|s| s.principal_id != ALICE)
    );
}

/// A request carried out an hour after it was sent: the service counts bob's `P30D` from
/// then, and the state records the service's times, so drift is clean.
#[test]
fn a_request_carried_out_later_records_the_times_the_service_gives_it() {
    const T1: &str = "2026-12-01T01:00:00Z";
    let server = Server::start();
    {
        let mut s = server.state();
        s.request_statuses.push_back("Provisioned".to_owned()); // alice
        s.request_statuses.push_back("Granted".to_owned()); // bob
    }
    let ws = two_grants();
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    assert_eq!(
        record(dir, BOB)["request_status"],
        "Granted",
        "{}",
        state(dir)
    );
    {
        let mut s = server.state();
        s.now = Some(graph_server::at(T1));
        let ids: Vec<String> = s.waiting.keys().cloned().collect();
        for id in ids {
            assert!(s.provision(&id));
        }
    }
    ok(&pimplan(&server, dir, T1, APPLY));
    assert_eq!(
        record(dir, BOB)["ends_at"],
        "2026-12-31T01:00:00Z",
        "{}",
        state(dir)
    );
    let drift = pimplan(&server, dir, T1, &["drift"]);
    ok(&drift);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
}

/// Checking a waiting request before a Graph apply does not take what a state-only apply
/// recorded as sent: the apply still sends it.
#[test]
fn a_graph_apply_after_a_waiting_request_still_sends_what_a_state_only_apply_recorded() {
    let server = Server::start();
    server
        .state()
        .request_statuses
        .push_back("Granted".to_owned());
    let ws = two_grants();
    let dir = ws.path();
    edit(&dir.join("pimplan.yaml"), BOB_LINE, "");
    ok(&pimplan(&server, dir, T0, APPLY));
    assert_eq!(
        record(dir, ALICE)["request_status"],
        "Granted",
        "{}",
        state(dir)
    );
    edit(
        &dir.join("pimplan.yaml"),
        "justification: on-call }\n",
        &format!("justification: on-call }}\n{BOB_LINE}"),
    );
    ok(&pimplan(
        &server,
        dir,
        T0,
        &["apply", "--target", "state", "--auto-approve"],
    ));
    assert_eq!(record(dir, BOB)["service"], "none", "{}", state(dir));
    server.state().requests.clear();
    let run = pimplan(&server, dir, T0, APPLY);
    ok(&run);
    let sent: Vec<(String, Value)> = posts(&server);
    assert!(
        sent.iter()
            .any(|(_, b)| b["principalId"] == BOB && b["action"] == "adminAssign"),
        "{}{sent:?}",
        run.stdout
    );
    assert!(record(dir, BOB)["service"].is_null(), "{}", state(dir));
}
