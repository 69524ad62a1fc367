//! Long runs show progress (issue 13 point 5), through the binary: without a terminal an
//! apply prints plain progress lines on stderr, `-q` prints none; a request that takes long
//! says so while it waits; a network failure names the host and what pimplan was doing.

mod common;
mod graph_server;

use std::time::Duration;

use chrono::TimeDelta;
use common::{Run, eligible_workspace};
use graph_server::{Server, two_grants};

const T0: &str = "2026-12-01T00:00:00Z";

/// The progress lines of `stderr`.
fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("pimplan: applied "))
        .collect()
}

/// A workspace of `n` eligible users with object ids (group `ops` has one too), for Graph.
fn graph_workspace(n: usize) -> tempfile::TempDir {
    let mut text = String::from(
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\nprincipals:\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ name: u{i}, type: user, id: 00000000-0000-4000-a000-{i:012}, licenses: [entra_id_p2] }}\n"
        ));
    }
    text.push_str(
        "groups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [u0]\nassignments:\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
        ));
    }
    common::workspace_with(&text)
}

#[test]
fn an_apply_without_a_terminal_prints_a_line_at_each_tenth_and_none_with_q() {
    let ws = eligible_workspace(60);
    let run = common::run(ws.path(), T0, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines = progress_lines(&run.stderr);
    assert_eq!(lines.len(), 10, "{}", run.stderr);
    let total = lines[0]
        .split_whitespace()
        .nth(4)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(total, "62", "{}", lines[0]); // 60 assignments, 2 policies
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.contains(&format!("of 62 changes ({}", i + 1)),
            "{line}"
        );
        assert!(line.contains(" changes/s"), "{line}");
    }
    assert!(
        lines[9].starts_with("pimplan: applied 62 of 62 changes (100%)"),
        "{}",
        lines[9]
    );
    assert!(lines[0].contains("s left"), "{}", lines[0]);
    // Progress goes to stderr: stdout keeps the plan and the result.
    assert!(!run.stdout.contains("pimplan: applied"), "{}", run.stdout);
    assert!(run.stdout.contains("Apply complete: 62 change(s)"));

    let quiet_ws = eligible_workspace(60);
    let quiet = common::run(quiet_ws.path(), T0, &["apply", "--auto-approve", "-q"]);
    assert_eq!(quiet.code, 0, "{}{}", quiet.stdout, quiet.stderr);
    assert!(quiet.stdout.contains("Apply complete: 62 change(s)"));
    assert_eq!(quiet.stderr, "", "-q prints no progress");
}

#[test]
fn a_graph_apply_prints_progress_lines_and_q_silences_them() {
    let server = Server::start();
    let ws = graph_workspace(50);
    let run = graph_server::pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines = progress_lines(&run.stderr);
    assert_eq!(lines.len(), 10, "{}", run.stderr);
    assert!(
        lines[9].starts_with("pimplan: applied 52 of 52 changes (100%)"),
        "{}",
        run.stderr
    );
    // A small apply prints no tenths (nor a line, when it takes less than 10 s).
    let small = two_grants();
    let server = Server::start();
    let run = graph_server::pimplan(
        &server,
        small.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(progress_lines(&run.stderr).is_empty(), "{}", run.stderr);

    let server = Server::start();
    let ws = graph_workspace(50);
    let quiet = graph_server::pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve", "-q"],
    );
    assert_eq!(quiet.code, 0, "{}{}", quiet.stdout, quiet.stderr);
    assert!(progress_lines(&quiet.stderr).is_empty(), "{}", quiet.stderr);
}

#[test]
fn a_slow_answer_is_announced_while_pimplan_waits() {
    let server = Server::start();
    let ws = two_grants();
    server.state().slow_post = Some((1, Duration::from_millis(1500)));
    let out = server.run(
        ws.path(),
        T0,
        TimeDelta::zero(),
        &["apply", "--target", "graph", "--auto-approve", "-q"],
        &[("PIMPLAN_TEST_WAIT_NOTICE_MS", "400".to_owned())],
    );
    let run = Run::of(&out);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let host = server.base.trim_start_matches("http://");
    let waiting: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("pimplan: still waiting for "))
        .collect();
    assert!(!waiting.is_empty(), "{}", run.stderr);
    assert!(
        waiting[0].starts_with(&format!(
            "pimplan: still waiting for {host} (creating assignment ops/alice (member, eligible)), "
        )),
        "{}",
        waiting[0]
    );
    assert!(waiting[0].ends_with(" s so far"), "{}", waiting[0]);
    // Only the slow request is announced: the second one answers at once.
    assert!(
        waiting.iter().all(|l| l.contains("ops/alice")),
        "{}",
        run.stderr
    );

    // An answer as fast as usual says nothing.
    let server = Server::start();
    let ws = two_grants();
    let out = server.run(
        ws.path(),
        T0,
        TimeDelta::zero(),
        &["apply", "--target", "graph", "--auto-approve", "-q"],
        &[("PIMPLAN_TEST_WAIT_NOTICE_MS", "400".to_owned())],
    );
    let run = Run::of(&out);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("still waiting"), "{}", run.stderr);
}

#[test]
fn a_network_failure_names_the_host_and_what_pimplan_was_doing() {
    let server = Server::start();
    let ws = two_grants();
    {
        let mut s = server.state();
        s.reset_post_after_doing_it = Some(1);
        s.down_after_reset = 1; // the read-back
    }
    let run = graph_server::pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let host = server.base.trim_start_matches("http://");
    let flat = common::flat(&run.stderr);
    assert!(
        flat.contains(&format!(
            "to {host} while creating assignment ops/alice (member, eligible):"
        )),
        "{flat}"
    );
    assert!(
        flat.contains(&format!(
            "to {host} while reading back assignment ops/alice (member, eligible):"
        )),
        "{flat}"
    );
}

#[test]
fn a_sign_in_that_finds_no_one_names_the_host() {
    // A port nothing listens on: the token endpoint does not answer.
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| unreachable!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    drop(listener);
    let server = Server::start();
    let ws = two_grants();
    let out = server.run(
        ws.path(),
        T0,
        TimeDelta::zero(),
        &["import"],
        &[(
            "AZURE_AUTHORITY_HOST",
            format!("http://127.0.0.1:{port}/auth"),
        )],
    );
    let run = Run::of(&out);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let flat = common::flat(&run.stderr);
    assert!(
        flat.contains(&format!(
            "the token endpoint 127.0.0.1:{port} did not answer while signing in to tenant 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11"
        )),
        "{flat}"
    );
}

#[test]
fn an_apply_that_fails_halfway_prints_its_progress_then_the_error() {
    let server = Server::start();
    let ws = graph_workspace(50);
    server.state().fail_post = Some(30);
    let run = graph_server::pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // The lines so far, then the error, which counts what the state records; no progress
    // line after it, and none counting more than was done.
    let lines = progress_lines(&run.stderr);
    assert_eq!(lines.len(), 5, "{}", run.stderr);
    assert!(
        lines[4].starts_with("pimplan: applied 26 of 52 changes (50%)"),
        "{}",
        run.stderr
    );
    let error = run.stderr.find("error: applying assignment").unwrap_or(0);
    let last = run.stderr.rfind("pimplan: applied").unwrap_or(usize::MAX);
    assert!(last < error, "{}", run.stderr);
    assert!(
        common::flat(&run.stderr[error..])
            .contains("the state records that and the 31 change(s) before it"),
        "{}",
        run.stderr
    );
}
