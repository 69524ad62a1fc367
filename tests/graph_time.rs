//! What start and end `apply --target graph` sends, and what end the state records
//! (issue 11, points 3 and 13), against the Graph stand-in: the service starts a schedule
//! when it processes the request and counts a duration from there.

mod graph_server;

mod common;

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Run, edit, workspace_with};
use graph_server::{Server, at};
use serde_json::{Value, json};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];
const REFRESH: &[&str] = &["plan", "--refresh", "--detailed-exitcode"];
const BOB: &str = "bbbbbbbb-0000-4000-8000-000000000002";

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Run pimplan in `dir` with `--now now`, the service's clock `ahead` of it.
fn pimplan_ahead(server: &Server, dir: &Path, now: &str, ahead: TimeDelta, args: &[&str]) -> Run {
    Run::of(&server.run(dir, now, ahead, args, &[]))
}

fn pimplan(server: &Server, dir: &Path, now: &str, args: &[&str]) -> Run {
    pimplan_ahead(server, dir, now, TimeDelta::zero(), args)
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// One group, bob's active membership as `bob` says (`duration: P30D` and the like).
fn workspace(bob: &str) -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nprincipals:\n  - {{ name: bob, type: user, id: {BOB}, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - {{ group: ops, principal: bob, role: member, type: active, {bob}, justification: migration }}\n"
    ))
}

/// The bodies of the schedule requests the server was sent, in order.
fn posts(server: &Server) -> Vec<Value> {
    server.post_bodies()
}

/// bob's schedule as the server holds it: (start, end).
fn served(server: &Server) -> (String, Option<String>) {
    let s = server.state();
    let live = s.live();
    assert_eq!(live.len(), 1, "{live:?}");
    (utc(live[0].start), live[0].end.map(utc))
}

/// bob's entry in the state: (starts_at, ends_at), in UTC.
fn recorded(dir: &Path) -> (String, Option<String>) {
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    let a = &state["assignments"][0];
    let t = |v: &Value| v.as_str().map(|t| utc(at(t)));
    (t(&a["starts_at"]).unwrap_or_default(), t(&a["ends_at"]))
}

/// `drift` and `plan --refresh` both find nothing.
fn clean(server: &Server, dir: &Path, now: &str) {
    let drift = pimplan(server, dir, now, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    let plan = pimplan(server, dir, now, REFRESH);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("No drift") && plan.stdout.contains("No changes."),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_duration_with_a_past_start_is_sent_as_its_end_and_refreshes_clean() {
    let server = Server::start();
    let ws = workspace("start: 2026-11-30T00:00:00Z, duration: P30D");
    let dir = ws.path();
    let now = "2026-12-01T08:51:00Z";
    ok(&pimplan(&server, dir, now, APPLY));
    // The end the files mean, as a moment: the service would count a duration from when it
    // processes the request, not from the past start. The past start is not sent.
    assert_eq!(
        posts(&server),
        vec![json!({ "accessId": "member", "principalId": BOB,
                     "groupId": "99999999-0000-4000-8000-000000000009", "action": "adminAssign",
                     "scheduleInfo": { "expiration": { "type": "afterDateTime", "endDateTime": "2026-12-30T00:00:00Z" } },
                     "justification": "migration" })]
    );
    let end = Some("2026-12-30T00:00:00Z".to_owned());
    assert_eq!(served(&server), (now.to_owned(), end.clone()));
    // The start the service reports (it moved the past one to when it processed it).
    assert_eq!(recorded(dir), (now.to_owned(), end));
    clean(&server, dir, now);
    clean(&server, dir, "2026-12-02T00:00:00Z");
}

#[test]
fn a_start_ahead_of_the_clock_is_sent_and_kept() {
    let server = Server::start();
    let ws = workspace("start: 2026-12-05T00:00:00Z, duration: P10D");
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    assert_eq!(
        posts(&server)[0]["scheduleInfo"],
        json!({ "startDateTime": "2026-12-05T00:00:00Z",
                "expiration": { "type": "afterDateTime", "endDateTime": "2026-12-15T00:00:00Z" } })
    );
    let times = (
        "2026-12-05T00:00:00Z".to_owned(),
        Some("2026-12-15T00:00:00Z".to_owned()),
    );
    assert_eq!(served(&server), times);
    assert_eq!(recorded(dir), times);
    clean(&server, dir, T0);
}

#[test]
fn a_duration_without_start_records_the_services_end_and_is_never_extended() {
    let server = Server::start();
    let ws = workspace("duration: P30D");
    let dir = ws.path();
    // A long apply: the service's clock is 10 minutes past the run's `--now`.
    let ahead = TimeDelta::minutes(10);
    ok(&pimplan_ahead(&server, dir, T0, ahead, APPLY));
    let body = &posts(&server)[0];
    assert_eq!(
        body["scheduleInfo"],
        json!({ "expiration": { "type": "afterDuration", "duration": "P30D" } }),
        "no startDateTime, as terraform sends it: {body}"
    );
    let service = (
        "2026-12-01T00:10:00Z".to_owned(),
        Some("2026-12-31T00:10:00Z".to_owned()),
    );
    assert_eq!(served(&server), service);
    assert_eq!(
        recorded(dir),
        service,
        "the state records what the service reports"
    );
    let later = "2026-12-01T01:00:00Z";
    clean(&server, dir, later);
    // A second refresh and apply changes nothing, in the state or in the service.
    server.state().requests.clear();
    let plan = pimplan(
        &server,
        dir,
        later,
        &[
            "plan",
            "--refresh",
            "--target",
            "graph",
            "--out",
            "refresh.plan",
        ],
    );
    ok(&plan);
    ok(&pimplan(
        &server,
        dir,
        later,
        &[
            "apply",
            "refresh.plan",
            "--target",
            "graph",
            "--auto-approve",
        ],
    ));
    assert!(posts(&server).is_empty(), "{:?}", posts(&server));
    assert_eq!(served(&server), service);
    assert_eq!(recorded(dir), service);
}

#[test]
fn an_update_of_only_the_justification_keeps_the_end() {
    let server = Server::start();
    let ws = workspace("duration: P30D");
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    let end = Some("2026-12-31T00:00:00Z".to_owned());
    assert_eq!(recorded(dir).1, end);
    edit(
        &dir.join("pimplan.yaml"),
        "justification: migration",
        "justification: migration phase 2",
    );
    let day = "2026-12-02T00:00:00Z";
    for format in ["human", "markdown", "json"] {
        let plan = pimplan(&server, dir, day, &["plan", "--format", format]);
        ok(&plan);
        assert!(plan.stdout.contains("phase 2"), "{}", plan.stdout);
        let moved = match format {
            "human" => plan.stdout.contains("end:"),
            "markdown" => plan.stdout.contains("`end`"),
            _ => {
                let js: Value = serde_json::from_str(&plan.stdout).unwrap_or(Value::Null);
                assert!(js["changes"][0]["diff"].is_object(), "{}", plan.stdout);
                js["changes"][0]["diff"].get("end").is_some()
            }
        };
        assert!(!moved, "the end does not move: {}", plan.stdout);
    }
    server.state().requests.clear();
    ok(&pimplan(&server, dir, day, APPLY));
    let body = &posts(&server)[0];
    assert_eq!(body["action"], "adminUpdate");
    assert_eq!(
        body["scheduleInfo"],
        json!({ "expiration": { "type": "afterDateTime", "endDateTime": "2026-12-31T00:00:00Z" } }),
        "the recorded end, not a fresh 30 days: {body}"
    );
    assert_eq!(recorded(dir).1, end);
    assert_eq!(served(&server).1, end);
    clean(&server, dir, day);
}

#[test]
fn an_update_of_the_duration_shows_the_end_moving() {
    let server = Server::start();
    let ws = workspace("duration: P30D");
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    edit(
        &dir.join("pimplan.yaml"),
        "duration: P30D",
        "duration: P60D",
    );
    let day = "2026-12-02T00:00:00Z";
    let line =
        "end:      2026-12-31T00:00:00Z -> 60 days from the apply (about 2027-01-31T00:00:00Z)";
    let plan = pimplan(&server, dir, day, &["plan"]);
    ok(&plan);
    assert!(plan.stdout.contains(line), "{}", plan.stdout);
    let md = pimplan(&server, dir, day, &["plan", "--format", "markdown"]);
    assert!(
        md.stdout.contains(
            "`end`: 2026-12-31T00:00:00Z → 60 days from the apply (about 2027-01-31T00:00:00Z)"
        ),
        "{}",
        md.stdout
    );
    let js = pimplan(&server, dir, day, &["plan", "--format", "json"]);
    let js: Value = serde_json::from_str(&js.stdout).unwrap_or(Value::Null);
    assert_eq!(
        js["changes"][0]["diff"]["end"],
        json!({ "before": "2026-12-31T00:00:00Z",
                "after": "60 days from the apply (about 2027-01-31T00:00:00Z)" })
    );
    server.state().requests.clear();
    ok(&pimplan(&server, dir, day, APPLY));
    assert_eq!(
        posts(&server)[0]["scheduleInfo"],
        json!({ "expiration": { "type": "afterDuration", "duration": "P60D" } })
    );
    let end = Some("2027-01-31T00:00:00Z".to_owned());
    assert_eq!(recorded(dir).1, end);
    assert_eq!(served(&server).1, end);
    clean(&server, dir, day);
}

#[test]
fn an_applied_duration_ending_soon_is_reported_at_plan_time() {
    let server = Server::start();
    let ws = workspace("duration: P30D");
    let dir = ws.path();
    ok(&pimplan(&server, dir, T0, APPLY));
    // 20 days on, the recorded end is 10 days away; the files alone say "30 days from now".
    let later = "2026-12-21T00:00:00Z";
    let lint = pimplan(&server, dir, later, &["lint"]);
    ok(&lint);
    assert!(!lint.stdout.contains("PIM207"), "{}", lint.stdout);
    let plan = pimplan(&server, dir, later, &["plan"]);
    ok(&plan);
    assert!(
        plan.stdout.contains("PIM207")
            && plan
                .stdout
                .contains("the assignment ends in 10 days, at 2026-12-31T00:00:00+00:00"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
}
