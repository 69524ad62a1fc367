//! Answers that cannot be read are not answers (issue 16, point 1): a 200 whose body is
//! empty, cut off, not JSON or without its `value` list leaves the outcome unknown, through
//! the real binary against the stand-in.

mod common;
mod graph_server;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use common::{Run, edit, state};
use graph_server::{ALICE, ALICE_LINE, BadRead, Server, pimplan, two_grants};

const T0: &str = "2026-12-01T00:00:00Z";
const T1: &str = "2026-12-01T00:10:00Z";
const APPLY: &[&str] = &[
    "apply",
    "--target",
    "graph",
    "--auto-approve",
    "--allow-mass-removal",
];

/// Every 200 that is not an answer, bar the trickle (tested apart, with a short timeout).
const UNREADABLE: [BadRead; 4] = [
    BadRead::Empty,
    BadRead::Cut,
    BadRead::Malformed,
    BadRead::NoValue,
];

fn alice_live(server: &Server) -> bool {
    server
        .state()
        .live()
        .iter()
        .any(|s| s.principal_id == ALICE)
}

/// A removal that failed before the service did it, read back through an answer that
/// cannot be read: never recorded as done. The next apply checks it and removes it.
#[test]
fn a_removal_read_back_through_an_unreadable_answer_stays_pending() {
    for bad in UNREADABLE {
        let server = Server::start();
        let ws = two_grants();
        let dir = ws.path();
        let first = pimplan(&server, dir, T0, APPLY);
        assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
        edit(&dir.join("pimplan.yaml"), ALICE_LINE, "");
        {
            let mut s = server.state();
            s.fail_post = Some(3); // the removal: a 500, nothing done
            s.bad_reads.push_back(bad);
        }
        let run = pimplan(&server, dir, T1, APPLY);
        assert_eq!(run.code, 1, "{bad:?}: {}{}", run.stdout, run.stderr);
        assert!(alice_live(&server), "{bad:?}");
        let st = state(dir);
        let pending = st["pending"].as_array().map_or(0, Vec::len);
        assert_eq!(pending, 1, "{bad:?}: the removal must stay pending: {st}");
        let plan = pimplan(&server, dir, T1, &["plan"]);
        assert!(
            !plan.stdout.contains("No changes."),
            "{bad:?}: {}",
            plan.stdout
        );
        // The next apply reads it again (readable now), finds alice still there, removes her.
        let again = pimplan(&server, dir, T1, APPLY);
        assert_eq!(again.code, 0, "{bad:?}: {}{}", again.stdout, again.stderr);
        assert!(!alice_live(&server), "{bad:?}: {}", again.stdout);
        assert!(state(dir).get("pending").is_none(), "{}", state(dir));
    }
}

/// `drift` whose read comes back unreadable fails; it never reports phantom removals.
#[test]
fn drift_through_an_unreadable_answer_is_an_error_not_a_removal() {
    for bad in UNREADABLE {
        let server = Server::start();
        let ws = two_grants();
        let dir = ws.path();
        let first = pimplan(&server, dir, T0, APPLY);
        assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
        server.state().bad_reads.push_back(bad);
        let drift = pimplan(&server, dir, T0, &["drift"]);
        assert_eq!(drift.code, 1, "{bad:?}: {}{}", drift.stdout, drift.stderr);
        assert!(
            !drift.stdout.contains("removed in the service"),
            "{bad:?}: {}",
            drift.stdout
        );
        assert!(
            drift.stderr.contains("not known"),
            "{bad:?}: {}",
            drift.stderr
        );
    }
}

/// What a trickling answer gets: `PIMPLAN_GRAPH_TIMEOUT`, short here so the test is quick.
const SHORT_TIMEOUT: (&str, &str) = ("PIMPLAN_GRAPH_TIMEOUT", "2");

fn pimplan_short(server: &Server, dir: &Path, now: &str, args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let out = server.run(
        dir,
        now,
        TimeDelta::zero(),
        args,
        &[(SHORT_TIMEOUT.0, SHORT_TIMEOUT.1.to_owned())],
    );
    (Run::of(&out), started.elapsed())
}

/// A grant the service made, answered with a 201 that trickles past the timeout: a timeout,
/// not a success without ids. pimplan reads the schedules back, records what the service
/// holds, stops, and the next apply makes the rest without sending the grant again.
#[test]
fn an_answer_that_trickles_past_the_timeout_is_a_timeout_not_a_success() {
    let server = Server::start();
    let ws = two_grants();
    let dir = ws.path();
    // Alice's eligibility (the first schedule request) is made, and its answer trickles.
    server.state().trickle_post = Some(1);
    let (run, took) = pimplan_short(&server, dir, T0, APPLY);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(alice_live(&server));
    assert!(run.stderr.contains("not known"), "{}", run.stderr);
    // The outcome was not known, so pimplan read the schedules back at once: alice is
    // recorded from what the service holds (its schedule, no request id: the answer was
    // never read), and the apply stopped there.
    let st = state(dir);
    let alice = st["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["key"].as_str().is_some_and(|k| k.contains(ALICE)))
        .cloned()
        .unwrap_or_default();
    assert!(
        alice["schedule_id"].is_string() && alice.get("request_id").is_none(),
        "alice must be recorded from the read-back, not from the trickled answer: {st}"
    );
    assert_eq!(st["assignments"].as_array().map_or(0, Vec::len), 1, "{st}");
    // The next apply reads alice's schedule, records it, and sends nothing for her again.
    let (again, _) = pimplan_short(&server, dir, T0, APPLY);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let st = state(dir);
    assert!(st.get("pending").is_none(), "{st}");
    assert_eq!(server.keys(false), graph_server::state_keys(&st, false));
    let to_alice = server
        .post_bodies()
        .iter()
        .filter(|b| b["principalId"].as_str() == Some(ALICE))
        .count();
    assert_eq!(to_alice, 1, "alice's grant was sent again");
}

/// `drift` whose read trickles past the timeout is an error naming the unknown outcome.
#[test]
fn drift_through_a_trickling_read_is_an_error() {
    let server = Server::start();
    let ws = two_grants();
    let dir = ws.path();
    let first = pimplan(&server, dir, T0, APPLY);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    server.state().bad_reads.push_back(BadRead::Trickle);
    let (drift, took) = pimplan_short(&server, dir, T0, &["drift"]);
    assert_eq!(drift.code, 1, "{}{}", drift.stdout, drift.stderr);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        !drift.stdout.contains("removed in the service"),
        "{}",
        drift.stdout
    );
}

#[test]
fn a_timeout_that_is_not_whole_seconds_is_refused_before_anything_is_sent() {
    let server = Server::start();
    let ws = two_grants();
    let dir = ws.path();
    for bad in ["0", "1.5", "ten", "3601"] {
        let out = server.run(
            dir,
            T0,
            TimeDelta::zero(),
            APPLY,
            &[("PIMPLAN_GRAPH_TIMEOUT", bad.to_owned())],
        );
        let run = Run::of(&out);
        assert_eq!(run.code, 1, "{bad}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("PIMPLAN_GRAPH_TIMEOUT"),
            "{bad}: {}",
            run.stderr
        );
    }
    assert!(server.state().requests.is_empty());
}
