//! `apply --target graph` against a loopback stand-in for Microsoft Graph.

mod graph_server;

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::TimeDelta;
use common::{Run, copy_fixture, edit, state, workspace_with};
use graph_server::{ASSERTION, SECRET, Server, TOKEN, at};
use serde_json::{Value, json};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];
const APPLY_VERBOSE: &[&str] = &["apply", "--target", "graph", "--auto-approve", "--verbose"];

/// Run pimplan in `dir` against `server`, with the server's clock set to `now`.
fn pimplan(
    server: &Server,
    dir: &Path,
    now: &str,
    args: &[&str],
    extra_env: &[(&str, String)],
) -> Run {
    Run::of(&server.run(dir, now, TimeDelta::zero(), args, extra_env))
}

fn example() -> tempfile::TempDir {
    copy_fixture("fixtures/example")
}

/// (group id, principal id, role, type) of every live schedule on the server, sorted.
fn server_keys(server: &Server) -> Vec<String> {
    server.keys(false)
}

/// The same for the state file's assignments.
fn state_keys(dir: &Path) -> Vec<String> {
    graph_server::state_keys(&state(dir), false)
}

#[test]
fn apply_the_example_to_graph_then_plan_is_no_changes() {
    let server = Server::start();
    server.state().visibility_delay = Duration::from_millis(150);
    let ws = example();
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(server_keys(&server).len(), 31);
    assert_eq!(server_keys(&server), state_keys(ws.path()));
    // Each policy that differs from Microsoft's defaults was resolved through the policy
    // assignment and updated in one PATCH of the whole policy.
    let requests = server.state().requests.clone();
    let patches: Vec<_> = requests.iter().filter(|r| r.method == "PATCH").collect();
    assert!(patches.len() >= 9, "{} policy patches", patches.len());
    assert!(
        patches
            .iter()
            .all(|r| !r.path.contains("/rules/") && r.body["rules"].is_array())
    );
    let plan = pimplan(
        &server,
        ws.path(),
        T0,
        &["plan", "--detailed-exitcode"],
        &[],
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."));
}

fn small(extra: &str) -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nprincipals:\n  - {{ name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }}\n  - {{ name: approvers, type: group, id: cccccccc-0000-4000-8000-000000000003 }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\n{extra}assignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call, ticket: {{ system: ServiceNow, number: CHG1 }} }}\n  - {{ group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }}\n"
    ))
}

fn posts(server: &Server) -> Vec<Value> {
    schedule_posts(server).into_iter().map(|(_, b)| b).collect()
}

/// (collection, body) of every POST to a schedule request collection, in order.
fn schedule_posts(server: &Server) -> Vec<(String, Value)> {
    server.schedule_posts()
}

const ALICE: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const BOB: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const OPS: &str = "99999999-0000-4000-8000-000000000009";

/// The one POST the last run sent for `principal`.
fn post_for(server: &Server, principal: &str) -> (String, Value) {
    let mut found: Vec<(String, Value)> = schedule_posts(server)
        .into_iter()
        .filter(|(_, b)| b["principalId"] == principal)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap_or_default()
}

/// The request the first apply of `small("")` sent for `principal`.
fn first_apply_post_for(principal: &str) -> (String, Value) {
    let server = Server::start();
    let ws = small("");
    assert_eq!(pimplan(&server, ws.path(), T0, APPLY, &[]).code, 0);
    post_for(&server, principal)
}

/// `small("")` applied at T0, and the server's request log cleared.
fn applied_small(server: &Server) -> tempfile::TempDir {
    let ws = small("");
    let run = pimplan(server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    server.state().requests.clear();
    ws
}

#[test]
fn admin_assign_of_an_eligibility_has_the_documented_body() {
    // afterDateTime, with justification and ticket; no start declared, so no startDateTime
    // (the service starts it when it processes the request, as terraform leaves it).
    assert_eq!(
        first_apply_post_for(ALICE),
        (
            "eligibilityScheduleRequests".to_owned(),
            json!({ "accessId": "member", "principalId": ALICE, "groupId": OPS, "action": "adminAssign",
                    "scheduleInfo": { "expiration": { "type": "afterDateTime", "endDateTime": "2027-03-01T00:00:00Z" } },
                    "justification": "on-call", "ticketInfo": { "ticketNumber": "CHG1", "ticketSystem": "ServiceNow" } })
        )
    );
}

#[test]
fn admin_assign_of_an_active_assignment_has_the_documented_body() {
    // afterDuration, in days, counted by the service from when it processes the request.
    assert_eq!(
        first_apply_post_for(BOB),
        (
            "assignmentScheduleRequests".to_owned(),
            json!({ "accessId": "member", "principalId": BOB, "groupId": OPS, "action": "adminAssign",
                    "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "P30D" } },
                    "justification": "migration" })
        )
    );
}

#[test]
fn a_permanent_assignment_is_sent_with_no_expiration() {
    let server = Server::start();
    let ws =
        small("    policy:\n      member:\n        active_assignment: { allow_permanent: true }\n");
    edit(
        &ws.path().join("pimplan.yaml"),
        "type: active, duration: P30D",
        "type: active, permanent: true",
    );
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        post_for(&server, BOB),
        (
            "assignmentScheduleRequests".to_owned(),
            json!({ "accessId": "member", "principalId": BOB, "groupId": OPS, "action": "adminAssign",
                    "scheduleInfo": { "expiration": { "type": "noExpiration" } },
                    "justification": "migration" })
        )
    );
}

#[test]
fn admin_update_has_the_documented_body() {
    let server = Server::start();
    let ws = applied_small(&server);
    let dir = ws.path();
    edit(
        &dir.join("pimplan.yaml"),
        "end: 2027-03-01T00:00:00Z",
        "end: 2027-03-15T00:00:00Z",
    );
    let run = pimplan(&server, dir, "2026-12-01T00:10:00Z", APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(schedule_posts(&server).len(), 1);
    assert_eq!(
        post_for(&server, ALICE),
        (
            "eligibilityScheduleRequests".to_owned(),
            json!({ "accessId": "member", "principalId": ALICE, "groupId": OPS, "action": "adminUpdate",
                    "scheduleInfo": { "expiration": { "type": "afterDateTime", "endDateTime": "2027-03-15T00:00:00Z" } },
                    "justification": "on-call", "ticketInfo": { "ticketNumber": "CHG1", "ticketSystem": "ServiceNow" } })
        )
    );
    assert_eq!(server_keys(&server), state_keys(dir));
}

#[test]
fn admin_remove_has_the_documented_body() {
    let server = Server::start();
    let ws = applied_small(&server);
    let dir = ws.path();
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n",
        "",
    );
    let run = pimplan(
        &server,
        dir,
        "2026-12-01T00:10:00Z",
        &[
            "apply",
            "--target",
            "graph",
            "--auto-approve",
            "--allow-mass-removal",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(schedule_posts(&server).len(), 1);
    // No scheduleInfo, as Terraform and the Entra-roles docs send it.
    assert_eq!(
        post_for(&server, BOB),
        (
            "assignmentScheduleRequests".to_owned(),
            json!({ "accessId": "member", "principalId": BOB, "groupId": OPS, "action": "adminRemove",
                    "justification": "migration" })
        )
    );
    assert_eq!(server_keys(&server), state_keys(dir));
}

#[test]
fn policy_patches_carry_the_rule_type_and_target() {
    let server = Server::start();
    let ws = small(
        "    policy:\n      member:\n        activation:\n          max_duration: PT2H\n          require: [mfa, justification]\n          approval: { required: true, approvers: [approvers, bob] }\n        eligible_assignment: { max_duration: P180D }\n        active_assignment: { allow_permanent: true }\n",
    );
    let dir = ws.path();
    edit(
        &dir.join("pimplan.yaml"),
        "type: active, duration: P30D",
        "type: active, permanent: true",
    );
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let requests = server.state().requests.clone();
    // One PATCH of the whole policy, holding the changed rules.
    let patch = |rule: &str| {
        requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.contains("99999999"))
            .flat_map(|r| r.body["rules"].as_array().cloned().unwrap_or_default())
            .find(|r| r["id"] == rule)
            .unwrap_or(Value::Null)
    };
    let target = |level: &str, caller: &str| json!({ "caller": caller, "operations": ["All"], "level": level, "inheritableSettings": [], "enforcedSettings": [] });
    assert_eq!(
        patch("Expiration_EndUser_Assignment"),
        json!({ "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_EndUser_Assignment",
                "isExpirationRequired": true, "maximumDuration": "PT2H", "target": target("Assignment", "EndUser") })
    );
    assert_eq!(
        patch("Enablement_EndUser_Assignment")["enabledRules"],
        json!(["MultiFactorAuthentication", "Justification"])
    );
    let approval = patch("Approval_EndUser_Assignment");
    assert_eq!(
        approval["@odata.type"],
        "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule"
    );
    assert_eq!(approval["setting"]["approvalMode"], "SingleStage");
    assert_eq!(
        approval["setting"]["approvalStages"][0]["primaryApprovers"],
        json!([{ "@odata.type": "#microsoft.graph.groupMembers", "groupId": "cccccccc-0000-4000-8000-000000000003" },
               { "@odata.type": "#microsoft.graph.singleUser", "userId": "bbbbbbbb-0000-4000-8000-000000000002" }])
    );
    assert_eq!(
        patch("Expiration_Admin_Assignment"),
        json!({ "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_Admin_Assignment",
                "isExpirationRequired": false, "target": target("Assignment", "Admin") })
    );
    // The permanent active assignment went through because the policy was patched first.
    let permanent = posts(&server)
        .into_iter()
        .find(|b| b["principalId"] == "bbbbbbbb-0000-4000-8000-000000000002")
        .unwrap_or_default();
    assert_eq!(
        permanent["scheduleInfo"]["expiration"],
        json!({ "type": "noExpiration" })
    );
    // The policy was found through the policy assignment, filtered by group and role.
    assert!(requests.iter().any(|r| r.path == "/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '99999999-0000-4000-8000-000000000009' and scopeType eq 'Group' and roleDefinitionId eq 'member'"));
}

#[test]
fn a_429_storm_is_waited_out() {
    let server = Server::start();
    {
        let mut s = server.state();
        s.throttle = 8; // eight 429s in a row, on the first request
        s.retry_after = 0;
    }
    let ws = small("");
    let run = pimplan(&server, ws.path(), T0, APPLY_VERBOSE, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("throttled (429)"), "{}", run.stderr);
    // Why, as Microsoft asks clients to log.
    assert!(
        run.stderr
            .contains("x-ms-throttle-scope: Tenant_Application/ReadWrite/test-tenant/test-app"),
        "{}",
        run.stderr
    );
    assert_eq!(server_keys(&server), state_keys(ws.path()));
    assert_eq!(server_keys(&server).len(), 2);
}

#[test]
fn a_principal_pim_does_not_know_yet_is_tried_again() {
    let server = Server::start();
    server.state().subject_not_found = 2;
    let ws = small("");
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(schedule_posts(&server).len(), 4, "two refused, two made");
    assert_eq!(server_keys(&server), state_keys(ws.path()));
}

fn sign_ins(server: &Server) -> usize {
    server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count()
}

#[test]
fn a_token_is_renewed_before_it_expires_and_after_a_401() {
    let server = Server::start();
    {
        let mut s = server.state();
        s.token_lifetime = Some(2); // renewed after one second
        s.visibility_delay = Duration::from_millis(700);
    }
    let ws = small("");
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        sign_ins(&server) >= 2,
        "signed in {} time(s)",
        sign_ins(&server)
    );

    // A token refused before its time: one new sign-in, and the request goes through.
    let server = Server::start();
    server.state().refuse_token_once = true;
    let ws = small("");
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(sign_ins(&server), 2);
    assert_eq!(server_keys(&server), state_keys(ws.path()));
}

#[test]
fn retries_are_bounded() {
    let server = Server::start();
    server.state().throttle = 100;
    let ws = small("");
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("Microsoft Graph answered 429 TooManyRequests"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("It is not done (the service does not hold it), and the state records that and the 0 change(s) before it"),
        "{}",
        run.stderr
    );
    assert!(server.state().requests.len() < 15, "{}", run.stderr);
}

#[test]
fn a_500_mid_apply_stops_with_the_service_error_and_a_true_state() {
    let server = Server::start();
    server.state().fail_post = Some(2);
    let ws = small("");
    let dir = ws.path();
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("applying assignment ops/bob (member, active) failed: Microsoft Graph answered 500 InternalServerError: Something went wrong."), "{}", run.stderr);
    assert_eq!(server_keys(&server).len(), 1);
    assert_eq!(server_keys(&server), state_keys(dir));
    // The next apply finishes the job.
    server.state().fail_post = None;
    let again = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(server_keys(&server).len(), 2);
    assert_eq!(server_keys(&server), state_keys(dir));
}

#[test]
fn an_assignment_that_already_exists_is_verified_and_taken_as_done() {
    let server = Server::start();
    let ws = small("");
    let dir = ws.path();
    assert_eq!(pimplan(&server, dir, T0, APPLY, &[]).code, 0);
    // The state is lost (or an earlier run was killed after the request): apply again.
    std::fs::remove_file(dir.join("pimplan.state.json")).unwrap_or(());
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(server_keys(&server), state_keys(dir));
}

/// `plan --refresh` finds no drift and nothing to do.
fn assert_in_sync(server: &Server, dir: &Path) {
    let refresh = pimplan(server, dir, T0, &["plan", "--refresh"], &[]);
    assert!(
        refresh.stdout.contains("No drift") && refresh.stdout.contains("No changes."),
        "{}{}",
        refresh.stdout,
        refresh.stderr
    );
}

/// `group/principal/role/type` of the schedule a POST body asks for.
fn key_of(collection: &str, body: &Value) -> String {
    format!(
        "{}/{}/{}/{}",
        body["groupId"].as_str().unwrap_or(""),
        body["principalId"].as_str().unwrap_or(""),
        body["accessId"].as_str().unwrap_or(""),
        if collection.starts_with("eligibility") {
            "eligible"
        } else {
            "active"
        }
    )
}

/// The same for the assignments a state's pending changes would make.
fn pending_keys(dir: &Path) -> Vec<String> {
    state(dir)["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("after"))
        .filter(|a| a.get("principal").is_some())
        .map(|a| {
            format!(
                "{}/{}/{}/{}",
                a["group_id"].as_str().unwrap_or(""),
                a["principal_id"].as_str().unwrap_or(""),
                a["role"].as_str().unwrap_or(""),
                a["type"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Apply the example to `server` and kill pimplan while its fifth schedule request is in
/// flight: carried out by the service, never answered. Returns the key of that request.
fn kill_while_the_fifth_request_is_in_flight(server: &Server, dir: &Path) -> String {
    {
        let mut s = server.state();
        s.visibility_delay = Duration::from_millis(50);
        s.hang_post = Some(5);
        s.now = Some(at(T0));
    }
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pimplan"));
    cmd.current_dir(dir)
        .args(["apply", "--target", "graph", "--auto-approve", "--now", T0])
        .env("NO_PROXY", "127.0.0.1");
    for (k, v) in server.env() {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let waited = std::time::Instant::now();
    while !server.state().hung {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the fifth request never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100)); // the schedule becomes readable meanwhile
    let _ = child.kill();
    let _ = child.wait();
    server.state().hang_post = None;
    let posts = schedule_posts(server);
    assert_eq!(posts.len(), 5);
    key_of(&posts[4].0, &posts[4].1)
}

#[test]
fn an_apply_killed_while_a_request_is_in_flight_leaves_a_true_state() {
    let server = Server::start();
    let ws = example();
    let dir = ws.path();
    let in_flight = kill_while_the_fifth_request_is_in_flight(&server, dir);

    // What the state says is what the service holds: every recorded assignment is there,
    // and what is there and not recorded is marked pending (the request in flight).
    let (recorded, live, pending) = (state_keys(dir), server_keys(&server), pending_keys(dir));
    assert!(
        live.contains(&in_flight) && pending.contains(&in_flight),
        "{pending:?}"
    );
    assert!(!recorded.contains(&in_flight));
    graph_server::assert_state_true_to_service(&recorded, &pending, &live, "after the kill");
    assert_eq!(live.len(), 5);

    // A plan says so; drift reads it back without calling it drift.
    let plan = pimplan(&server, dir, T0, &["plan"], &[]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("Note: an interrupted apply left"),
        "{}",
        plan.stdout
    );
    let drift = pimplan(&server, dir, T0, &["drift"], &[]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("Interrupted apply:")
            && drift.stdout.contains(": done (the service holds it)")
            && drift.stdout.contains("No drift"),
        "{}",
        drift.stdout
    );

    // The lock of the killed run is released by hand. An apply to the state alone refuses;
    // the next apply to Graph checks the pending change first, records it without sending
    // it again, and finishes the job.
    let unlock = pimplan(&server, dir, T0, &["force-unlock"], &[]);
    assert_eq!(unlock.code, 0, "{}{}", unlock.stdout, unlock.stderr);
    let to_state = pimplan(
        &server,
        dir,
        T0,
        &["apply", "--target", "state", "--auto-approve"],
        &[],
    );
    assert_eq!(to_state.code, 1);
    assert!(
        to_state
            .stderr
            .contains("left pending by an interrupted apply to Microsoft Graph"),
        "{}",
        to_state.stderr
    );
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("left pending by an interrupted apply against the service"),
        "{}",
        run.stdout
    );
    assert_eq!(server_keys(&server), state_keys(dir));
    assert_eq!(server_keys(&server).len(), 31);
    assert!(state(dir).get("pending").is_none());
    let sent = schedule_posts(&server)
        .iter()
        .filter(|(c, b)| key_of(c, b) == in_flight)
        .count();
    assert_eq!(sent, 1, "the request in flight was sent again");
    assert_in_sync(&server, dir);
}

#[test]
fn a_saved_plan_is_finished_after_an_interrupted_apply() {
    let server = Server::start();
    let ws = example();
    let dir = ws.path();
    let in_flight = kill_while_the_fifth_request_is_in_flight(&server, dir);
    // The plan, saved while the change in flight is pending, still counts it as to do.
    // (How many changes are pending depends on how fast the state is written against how
    // fast requests are answered: at least the one in flight.)
    let plan = pimplan(
        &server,
        dir,
        T0,
        &["plan", "--target", "graph", "--out", "saved.json"],
        &[],
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(pimplan(&server, dir, T0, &["force-unlock"], &[]).code, 0);
    let run = pimplan(
        &server,
        dir,
        T0,
        &["apply", "saved.json", "--target", "graph"],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("change(s) of the saved plan were made by the interrupted apply"),
        "{}",
        run.stdout
    );
    assert_eq!(server_keys(&server), state_keys(dir));
    assert_eq!(server_keys(&server).len(), 31);
    let sent = schedule_posts(&server)
        .iter()
        .filter(|(c, b)| key_of(c, b) == in_flight)
        .count();
    assert_eq!(sent, 1, "the request in flight was sent again");
}

#[test]
fn a_500_after_the_service_did_it_is_recorded_as_done() {
    let server = Server::start();
    server.state().fail_post_after_doing_it = Some(2);
    let ws = small("");
    let dir = ws.path();
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("500 InternalServerError")
            && run
                .stderr
                .contains("It is done (the service holds it), and the state records that"),
        "{}",
        run.stderr
    );
    assert_eq!(server_keys(&server).len(), 2);
    assert_eq!(server_keys(&server), state_keys(dir));
    // Nothing is left to do, so nothing is sent again.
    server.state().requests.clear();
    let again = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(schedule_posts(&server).is_empty());
}

#[test]
fn a_replace_cut_between_its_two_requests_records_the_removal() {
    let server = Server::start();
    let ws = applied_small(&server);
    let dir = ws.path();
    // alice becomes an owner: the member eligibility is removed, then the owner one made;
    // the second request fails.
    edit(
        &dir.join("pimplan.yaml"),
        "principal: alice, role: member",
        "principal: alice, role: owner",
    );
    server.state().fail_post = Some(4);
    // (One of two assignments replaced is a mass removal, PIM703.)
    const APPLY_ALL: &[&str] = &[
        "apply",
        "--target",
        "graph",
        "--auto-approve",
        "--allow-mass-removal",
    ];
    let run = pimplan(&server, dir, "2026-12-01T00:10:00Z", APPLY_ALL, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("half done (the old assignment is removed in the service, the new one is not made), and the state records that"),
        "{}",
        run.stderr
    );
    assert_eq!(server_keys(&server), state_keys(dir));
    assert_eq!(server_keys(&server).len(), 1);
    server.state().fail_post = None;
    let again = pimplan(&server, dir, "2026-12-01T00:10:00Z", APPLY_ALL, &[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(server_keys(&server), state_keys(dir));
    assert!(server_keys(&server).contains(&format!("{OPS}/{ALICE}/owner/eligible")));
}

/// A policy update is one request: when it fails, the service holds the policy as it was,
/// the state says so, and the next apply sends the whole change again in one request.
#[test]
fn a_failed_policy_update_changes_nothing_and_is_sent_again_whole() {
    let server = Server::start();
    server.state().fail_patch = Some(1);
    let ws = small(
        "    policy:\n      member:\n        activation: { max_duration: PT2H, require: [mfa, justification] }\n        eligible_assignment: { max_duration: P180D }\n",
    );
    let dir = ws.path();
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("applying policy ops (member) failed"),
        "{}",
        run.stderr
    );
    // The state holds the policy as the service has it: unchanged.
    let recorded = state(dir)["policies"][0]["settings"].clone();
    assert_eq!(recorded["activation.max_duration"], "PT8H", "{recorded}");
    assert_eq!(
        recorded["activation.require"], "justification",
        "{recorded}"
    );
    let drift = pimplan(&server, dir, T0, &["drift"], &[]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    // The next apply sends the three changed rules, in one PATCH of the policy.
    server.state().requests.clear();
    let again = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let patches: Vec<Vec<String>> = server
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| {
            r.body["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x["id"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        patches,
        [[
            "Expiration_EndUser_Assignment",
            "Enablement_EndUser_Assignment",
            "Expiration_Admin_Eligibility"
        ]],
        "one PATCH with the rules still to change"
    );
    assert_in_sync(&server, dir);
}

#[test]
fn target_graph_in_the_root_file_makes_graph_the_default() {
    let server = Server::start();
    let ws = small("");
    let dir = ws.path();
    edit(
        &dir.join("pimplan.yaml"),
        "version: 1\n",
        "version: 1\ntarget: graph\n",
    );
    let run = pimplan(&server, dir, T0, &["apply", "--auto-approve"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(schedule_posts(&server).len(), 2);
    assert_eq!(server_keys(&server), state_keys(dir));
    // `--target state` still overrides it: nothing is sent.
    edit(
        &dir.join("pimplan.yaml"),
        "end: 2027-03-01T00:00:00Z",
        "end: 2027-03-15T00:00:00Z",
    );
    server.state().requests.clear();
    let run = pimplan(
        &server,
        dir,
        "2026-12-01T00:10:00Z",
        &["apply", "--auto-approve", "--target", "state"],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(server.state().requests.is_empty());
}

/// What is recorded is what the service will hold, so a clean apply reads back clean: a
/// duration with seconds (Graph keeps minutes), approvers while approval is off (Graph keeps
/// none).
#[test]
fn policy_values_are_recorded_as_the_service_holds_them() {
    let server = Server::start();
    let ws = small(
        "    policy:\n      member:\n        activation:\n          max_duration: PT1H0M30S\n          approval: { required: false, approvers: [bob] }\n",
    );
    let dir = ws.path();
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let drift = pimplan(&server, dir, T0, &["drift"], &[]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert_in_sync(&server, dir);
}

/// An approver whose object id is corrected keeps its name: the policy still changes, and
/// the service is told.
#[test]
fn an_approver_whose_id_changes_is_sent_again() {
    let server = Server::start();
    let ws = small(
        "    policy:\n      member:\n        activation:\n          require: [mfa, justification]\n          approval: { required: true, approvers: [approvers, bob] }\n",
    );
    let dir = ws.path();
    assert_eq!(pimplan(&server, dir, T0, APPLY, &[]).code, 0);
    edit(
        &dir.join("pimplan.yaml"),
        "id: cccccccc-0000-4000-8000-000000000003",
        "id: dddddddd-0000-4000-8000-000000000004",
    );
    let plan = pimplan(&server, dir, T0, &["plan"], &[]);
    assert!(
        plan.stdout.contains("~ policy ops (member)")
            && plan.stdout.contains("dddddddd-0000-4000-8000-000000000004"),
        "{}",
        plan.stdout
    );
    server.state().requests.clear();
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let approval = server
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .flat_map(|r| r.body["rules"].as_array().cloned().unwrap_or_default())
        .find(|r| r["id"] == "Approval_EndUser_Assignment")
        .unwrap_or_default();
    assert_eq!(
        approval["setting"]["approvalStages"][0]["primaryApprovers"][0],
        json!({ "@odata.type": "#microsoft.graph.groupMembers", "groupId": "dddddddd-0000-4000-8000-000000000004" })
    );
    assert_in_sync(&server, dir);
}

#[test]
fn a_retry_after_longer_than_pimplan_waits_fails_at_once() {
    let server = Server::start();
    {
        let mut s = server.state();
        s.throttle = 1;
        s.retry_after = 3600;
    }
    let ws = small("");
    let started = std::time::Instant::now();
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("429 TooManyRequests"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "it waited");
}

/// `import --generate-config` into a workspace that declares nothing: the YAML it writes
/// lints clean and plans "No changes." (approvers and principals the workspace did not know
/// are declared under names of their own).
#[test]
fn import_into_an_empty_workspace_writes_yaml_that_plans_clean() {
    let server = Server::start();
    let source = example();
    assert_eq!(pimplan(&server, source.path(), T0, APPLY, &[]).code, 0);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    std::fs::write(
        dir.join("pimplan.yaml"),
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\ninclude: [imported.yaml]\n",
    )
    .unwrap_or(());
    let run = pimplan(
        &server,
        dir,
        T0,
        &[
            "import",
            "--group",
            "3d2e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6",
            "--generate-config",
            "imported.yaml",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let yaml = std::fs::read_to_string(dir.join("imported.yaml")).unwrap_or_default();
    let lint = pimplan(&server, dir, T0, &["lint"], &[]);
    assert_eq!(lint.code, 0, "{}{}\n{yaml}", lint.stdout, lint.stderr);
    let plan = pimplan(&server, dir, T0, &["plan", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{}{}\n{yaml}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("No changes."),
        "{}\n{yaml}",
        plan.stdout
    );
}

#[test]
fn missing_object_ids_are_refused_before_any_request() {
    let server = Server::start();
    let ws = small("");
    edit(
        &ws.path().join("pimplan.yaml"),
        "id: aaaaaaaa-0000-4000-8000-000000000001, ",
        "",
    );
    let run = pimplan(&server, ws.path(), T0, APPLY, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("principal `alice` has no `id`")
            && run.stderr.contains("nothing was sent"),
        "{}",
        run.stderr
    );
    assert!(server.state().requests.is_empty());
    assert!(!ws.path().join("pimplan.state.json").exists());
}

#[test]
fn the_token_and_secret_never_appear_in_output() {
    let server = Server::start();
    server.state().throttle = 1;
    let ws = small("");
    let run = pimplan(&server, ws.path(), T0, APPLY_VERBOSE, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Bearer [redacted]"), "{}", run.stderr);
    for secret in [TOKEN, SECRET] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
        assert!(
            !std::fs::read_to_string(ws.path().join("pimplan.state.json"))
                .unwrap_or_default()
                .contains(secret)
        );
    }
    // A wrong secret: a clear error, still without the secret.
    let ws = small("");
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        APPLY,
        &[("AZURE_CLIENT_SECRET", "wrong-secret-value".to_owned())],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("signing in failed: 401 invalid_client"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-secret-value"));
}

#[test]
fn workload_identity_federation_and_a_ready_token_sign_in() {
    let server = Server::start();
    let ws = small("");
    let token_file = ws.path().join("oidc.jwt");
    std::fs::write(&token_file, ASSERTION).unwrap_or(());
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        APPLY,
        &[
            ("AZURE_CLIENT_SECRET", String::new()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let ws = small("");
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        APPLY,
        &[
            ("AZURE_CLIENT_ID", String::new()),
            ("PIMPLAN_GRAPH_TOKEN", TOKEN.to_owned()),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let server = Server::start();
    let ws = small("");
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        APPLY,
        &[(
            "PIMPLAN_GRAPH_URL",
            "http://graph.example.com/v1.0".to_owned(),
        )],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("only https is allowed, except to a loopback host"),
        "{}",
        run.stderr
    );
    assert!(server.state().requests.is_empty());
}

#[test]
fn refresh_and_drift_show_changes_made_outside_pimplan() {
    let server = Server::start();
    let ws = example();
    let dir = ws.path();
    assert_eq!(pimplan(&server, dir, T0, APPLY, &[]).code, 0);
    let clean = pimplan(
        &server,
        dir,
        T0,
        &["plan", "--refresh", "--detailed-exitcode"],
        &[],
    );
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean
            .stdout
            .contains("No drift: the service matches the state.")
            && clean.stdout.contains("No changes."),
        "{}",
        clean.stdout
    );
    assert_eq!(pimplan(&server, dir, T0, &["drift"], &[]).code, 0);

    // Someone removes bob's eligibility through another tool, and edits a policy in the portal.
    {
        let mut s = server.state();
        s.schedules.retain(|x| {
            !(x.principal_id == "1d8c1f0f-5a8b-4f8d-8e55-4a4d6b1c3b21"
                && x.group_id == "3d2e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6")
        });
        for ((group, role), (_, rules)) in s.policies.iter_mut() {
            if group == "5f4a6b7c-8d9e-4fa0-b1c2-d3e4f5a6b7c8"
                && role == "member"
                && let Some(rule) = rules.get_mut("Expiration_EndUser_Assignment")
            {
                rule["maximumDuration"] = json!("PT12H");
            }
        }
    }
    let later = "2026-12-01T01:00:00Z";
    let drift = pimplan(&server, dir, later, &["drift"], &[]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains(
            "  - assignment prod-db-admins/bob (member, eligible): removed in the service"
        ),
        "{}",
        drift.stdout
    );
    assert!(drift.stdout.contains("  ~ policy prod-k8s-operators (member): activation.max_duration is PT12H in the service, PT4H recorded"), "{}", drift.stdout);
    let plan = pimplan(
        &server,
        dir,
        later,
        &["plan", "--refresh", "--detailed-exitcode"],
        &[],
    );
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("  + assignment prod-db-admins/bob (member, eligible)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("activation.max_duration: PT12H -> PT4H"),
        "{}",
        plan.stdout
    );
    // Drift alone makes `plan --refresh` exit 2, as `drift` does.
    let plain = pimplan(&server, dir, later, &["plan", "--refresh"], &[]);
    assert_eq!(plain.code, 2, "{}{}", plain.stdout, plain.stderr);
    // Without --refresh the plan trusts the state.
    assert_eq!(
        pimplan(&server, dir, later, &["plan", "--detailed-exitcode"], &[]).code,
        0
    );
}

#[test]
fn import_adopts_a_tenant_in_one_step() {
    let server = Server::start();
    // Fill the service through one workspace...
    let source = example();
    assert_eq!(pimplan(&server, source.path(), T0, APPLY, &[]).code, 0);
    // Besides, someone has an activation of an eligibility, and a membership through a group:
    // neither is an assignment pimplan manages.
    {
        let mut s = server.state();
        let mut extra = s.schedules[0].clone();
        extra.id = "activation".to_owned();
        extra.eligible = false;
        extra.activated = true;
        extra.principal_id = "eeeeeeee-0000-4000-8000-00000000000e".to_owned();
        s.schedules.push(extra.clone());
        extra.id = "through-group".to_owned();
        extra.activated = false;
        extra.through_group = true;
        extra.eligible = true;
        s.schedules.push(extra);
    }
    // ...and adopt it from a copy that declares the principals and groups but no assignments.
    let ws = example();
    let dir = ws.path();
    std::fs::remove_dir_all(dir.join("assignments")).unwrap_or(());
    std::fs::create_dir_all(dir.join("assignments")).unwrap_or(());
    let run = pimplan(
        &server,
        dir,
        T0,
        &["import", "--generate-config", "assignments/imported.yaml"],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Imported 31 assignment(s)"),
        "{}",
        run.stdout
    );
    let plan = pimplan(&server, dir, T0, &["plan", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    // One group by id, into a fresh state.
    std::fs::remove_file(dir.join("pimplan.state.json")).unwrap_or(());
    let group = "3d2e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6";
    let one = pimplan(&server, dir, T0, &["import", "--group", group], &[]);
    assert_eq!(one.code, 0, "{}{}", one.stdout, one.stderr);
    let expected = server_keys(&server)
        .iter()
        .filter(|k| k.starts_with(group) && !k.contains("eeeeeeee"))
        .count();
    assert!(
        one.stdout.contains(&format!(
            "Imported {expected} assignment(s) and 2 policy setting block(s) from 1 group(s)"
        )),
        "{}",
        one.stdout
    );
    assert!(state_keys(dir).iter().all(|k| k.starts_with(group)));
    // A second import refuses to overwrite the state.
    let again = pimplan(&server, dir, T0, &["import"], &[]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

/// `import` makes the state under its lock, as `apply` writes it: while another pimplan
/// holds the lock it fails at once with the lock error and writes nothing; once the lock is
/// gone the same import makes the state, and leaves no lock behind.
#[test]
fn import_takes_the_state_lock() {
    let server = Server::start();
    let source = example();
    assert_eq!(pimplan(&server, source.path(), T0, APPLY, &[]).code, 0);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    std::fs::write(
        dir.join("pimplan.yaml"),
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\ninclude: [imported.yaml]\n",
    )
    .unwrap_or(());
    let lock = dir.join("pimplan.state.json.lock");
    let holder = json!({
        "id": "x", "pid": 4242, "host": "build-agent-7", "user": "deploy",
        "since": "2026-12-01T00:00:00Z", "command": "pimplan apply",
    });
    std::fs::write(&lock, holder.to_string()).unwrap_or(());
    let args = [
        "import",
        "--group",
        "3d2e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6",
        "--generate-config",
        "imported.yaml",
    ];
    let locked = pimplan(&server, dir, T0, &args, &[]);
    assert_eq!(locked.code, 1, "{}{}", locked.stdout, locked.stderr);
    assert!(
        locked
            .stderr
            .contains("error: the state `pimplan.state.json` is locked by")
            && locked.stderr.contains("build-agent-7")
            && locked
                .stderr
                .contains("run `pimplan force-unlock x` if that run is gone"),
        "{}",
        locked.stderr
    );
    assert!(!dir.join("pimplan.state.json").exists());
    assert!(!dir.join("imported.yaml").exists());
    assert!(lock.exists(), "the other pimplan's lock was removed");

    std::fs::remove_file(&lock).unwrap_or(());
    let run = pimplan(&server, dir, T0, &args, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(dir.join("pimplan.state.json").is_file());
    assert!(dir.join("imported.yaml").is_file());
    assert!(!lock.exists(), "import left its lock behind");
}
