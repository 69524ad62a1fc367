//! `apply --target graph` against a loopback stand-in for Microsoft Graph.

mod graph_server;

mod common;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use common::{copy_fixture, edit};
use graph_server::{ASSERTION, SECRET, Server, TOKEN};
use serde_json::{Value, json};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn at(now: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(now)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Run pimplan in `dir` against `server`, with the server's clock set to `now`.
fn pimplan(
    server: &Server,
    dir: &Path,
    now: &str,
    args: &[&str],
    extra_env: &[(&str, String)],
) -> Run {
    server.state().now = Some(at(now));
    let mut cmd = Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
    cmd.current_dir(dir)
        .env_remove("PIMPLAN_NOW")
        .env_remove("PIMPLAN_GRAPH_TOKEN")
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(args)
        .args(["--now", now, "--color", "never"])
        .timeout(Duration::from_secs(120));
    for (k, v) in server.env() {
        cmd.env(k, v);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| unreachable!("{e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn example() -> tempfile::TempDir {
    copy_fixture("fixtures/example")
}

fn state(dir: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null)
}

/// (group id, principal id, role, type) of every live schedule on the server, sorted.
fn server_keys(server: &Server) -> Vec<String> {
    let mut keys: Vec<String> = server
        .state()
        .live()
        .into_iter()
        .map(|s| {
            format!(
                "{}/{}/{}/{}",
                s.group_id,
                s.principal_id,
                s.access_id,
                if s.eligible { "eligible" } else { "active" }
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The same for the state file's assignments.
fn state_keys(dir: &Path) -> Vec<String> {
    let mut keys: Vec<String> = state(dir)["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{}/{}/{}/{}",
                a["group_id"].as_str().unwrap_or(""),
                a["principal_id"].as_str().unwrap_or(""),
                a["role"].as_str().unwrap_or(""),
                a["type"].as_str().unwrap_or("")
            )
        })
        .collect();
    keys.sort();
    keys
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
    // Each group's two policies were resolved through the policy assignment and patched.
    let requests = server.state().requests.clone();
    let patches = requests.iter().filter(|r| r.method == "PATCH").count();
    assert!(patches >= 12, "{patches} rule patches");
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
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let text = format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nprincipals:\n  - {{ name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }}\n  - {{ name: approvers, type: group, id: cccccccc-0000-4000-8000-000000000003 }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\n{extra}assignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call, ticket: {{ system: ServiceNow, number: CHG1 }} }}\n  - {{ group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }}\n"
    );
    std::fs::write(tmp.path().join("pimplan.yaml"), text).unwrap_or(());
    tmp
}

fn posts(server: &Server) -> Vec<Value> {
    server
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("ScheduleRequests"))
        .map(|r| r.body.clone())
        .collect()
}

#[test]
fn request_bodies_have_the_documented_shapes() {
    let server = Server::start();
    let ws = small("");
    let dir = ws.path();
    assert_eq!(pimplan(&server, dir, T0, APPLY, &[]).code, 0);
    let bodies = posts(&server);
    // adminAssign, eligibility, afterDateTime, with ticket.
    assert_eq!(
        bodies[0],
        json!({ "accessId": "member", "principalId": "aaaaaaaa-0000-4000-8000-000000000001",
                "groupId": "99999999-0000-4000-8000-000000000009", "action": "adminAssign",
                "scheduleInfo": { "startDateTime": "2026-12-01T00:00:00Z",
                                  "expiration": { "type": "afterDateTime", "endDateTime": "2027-03-01T00:00:00Z" } },
                "justification": "on-call", "ticketInfo": { "ticketNumber": "CHG1", "ticketSystem": "ServiceNow" } })
    );
    // adminAssign, active, afterDuration in days.
    assert_eq!(
        bodies[1],
        json!({ "accessId": "member", "principalId": "bbbbbbbb-0000-4000-8000-000000000002",
                "groupId": "99999999-0000-4000-8000-000000000009", "action": "adminAssign",
                "scheduleInfo": { "startDateTime": "2026-12-01T00:00:00Z",
                                  "expiration": { "type": "afterDuration", "duration": "P30D" } },
                "justification": "migration" })
    );
    let paths: Vec<String> = server
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path.clone())
        .collect();
    assert!(paths.iter().any(
        |p| p == "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleRequests"
    ));
    assert!(
        paths
            .iter()
            .any(|p| p
                == "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleRequests")
    );

    // adminUpdate and adminRemove, ten minutes later.
    let root = dir.join("pimplan.yaml");
    edit(
        &root,
        "end: 2027-03-01T00:00:00Z",
        "end: 2027-03-15T00:00:00Z",
    );
    edit(
        &root,
        "  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n",
        "",
    );
    server.state().requests.clear();
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
    let bodies = posts(&server);
    assert_eq!(
        bodies[0],
        json!({ "accessId": "member", "principalId": "bbbbbbbb-0000-4000-8000-000000000002",
                "groupId": "99999999-0000-4000-8000-000000000009", "action": "adminRemove",
                "justification": "migration" })
    );
    assert_eq!(bodies[1]["action"], "adminUpdate");
    assert_eq!(
        bodies[1]["scheduleInfo"]["expiration"],
        json!({ "type": "afterDateTime", "endDateTime": "2027-03-15T00:00:00Z" })
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
    let patch = |rule: &str| {
        requests
            .iter()
            .find(|r| {
                r.method == "PATCH"
                    && r.path.ends_with(&format!("/rules/{rule}"))
                    && r.path.contains("99999999")
            })
            .map(|r| r.body.clone())
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
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve", "--verbose"],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("throttled (429)"), "{}", run.stderr);
    assert_eq!(server_keys(&server), state_keys(ws.path()));
    assert_eq!(server_keys(&server).len(), 2);
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
            .contains("the state records the 0 change(s) before it"),
        "{}",
        run.stderr
    );
    assert!(server.state().requests.len() < 15);
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

#[test]
fn an_apply_killed_half_way_is_finished_by_the_next_one() {
    let server = Server::start();
    server.state().visibility_delay = Duration::from_millis(400);
    let ws = example();
    let dir = ws.path();
    server.state().now = Some(at(T0));
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
    std::thread::sleep(Duration::from_millis(2500));
    let _ = child.kill();
    let _ = child.wait();
    let recorded = state_keys(dir);
    let live = server_keys(&server);
    assert!(
        recorded.len() < 31,
        "the kill came too late to test anything"
    );
    // The state records only what the service holds; at most the request in flight is missing.
    assert!(
        recorded.iter().all(|k| live.contains(k)),
        "state has entries the service lacks"
    );
    assert!(
        live.len() - recorded.len() <= 1,
        "{} live, {} recorded",
        live.len(),
        recorded.len()
    );
    std::fs::remove_file(dir.join("pimplan.state.json.lock")).unwrap_or(());
    let run = pimplan(&server, dir, T0, APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(server_keys(&server), state_keys(dir));
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
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve", "--verbose"],
        &[],
    );
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
            .contains("only https is allowed, except to loopback"),
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
    // A second import refuses to overwrite the state.
    let again = pimplan(&server, dir, T0, &["import"], &[]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}
