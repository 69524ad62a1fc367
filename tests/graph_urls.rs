//! Secrets go only where they should (issue 16, point 3), and the federated token file is
//! read bounded (point 4): endpoint URLs are parsed with a real URL parser and checked
//! against the host the HTTP client connects to; userinfo, plain http to another machine and
//! URLs the parsers read differently are refused before any request; a paging link to
//! another origin is not followed. Through the real binary, against the loopback stand-in
//! and listeners that record every connection.

mod common;
mod graph_server;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use common::{Run, workspace_with};
use graph_server::{SECRET, Server, TOKEN};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];

fn small() -> tempfile::TempDir {
    workspace_with(
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\nprincipals:\n  - { name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }\n  - { name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }\n  - { name: carol, type: user, id: cccccccc-0000-4000-8000-000000000003, licenses: [entra_id_p2] }\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n  - { group: ops, principal: carol, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n",
    )
}

fn pimplan(server: &Server, dir: &Path, args: &[&str], extra_env: &[(&str, String)]) -> Run {
    Run::of(&server.run(dir, T0, TimeDelta::zero(), args, extra_env))
}

/// A listener on 127.0.0.1 that counts the connections made to it (and answers none).
struct Recorder {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| unreachable!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                seen.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Recorder { port, connections }
    }

    fn connections(&self) -> usize {
        // A connection in flight has had time to be accepted by the time a run ends.
        std::thread::sleep(Duration::from_millis(100));
        self.connections.load(Ordering::SeqCst)
    }
}

/// The run failed before anything was sent anywhere, saying `needle`, and no secret shows.
fn refused(server: &Server, run: &Run, needle: &str) {
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(needle), "{}", run.stderr);
    assert!(
        server.state().requests.is_empty(),
        "{:?}",
        server.state().requests
    );
    for secret in [SECRET, TOKEN] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
}

/// `http://127.0.0.1:1@127.0.0.1:<port>/`: a loopback address in the userinfo, the real host
/// behind the `@`. Refused before the token request (with the client secret) is made: the
/// real host hears nothing.
#[test]
fn userinfo_in_an_endpoint_is_refused_before_any_request() {
    let server = Server::start();
    let ws = small();
    for name in ["AZURE_AUTHORITY_HOST", "PIMPLAN_GRAPH_URL"] {
        let real = Recorder::start();
        let trick = format!("http://127.0.0.1:1@127.0.0.1:{}/", real.port);
        let run = pimplan(&server, ws.path(), APPLY, &[(name, trick)]);
        refused(&server, &run, name);
        assert!(run.stderr.contains("userinfo"), "{}", run.stderr);
        assert!(run.stderr.contains("`user:pass@`"), "{}", run.stderr);
        assert_eq!(
            real.connections(),
            0,
            "{name}: something was sent to the real host"
        );
    }
    // The same for a ready token (PIMPLAN_GRAPH_TOKEN), which goes to the Graph only.
    let real = Recorder::start();
    let trick = format!("http://127.0.0.1:1@127.0.0.1:{}/v1.0", real.port);
    let run = pimplan(
        &server,
        ws.path(),
        APPLY,
        &[
            ("PIMPLAN_GRAPH_URL", trick),
            ("PIMPLAN_GRAPH_TOKEN", TOKEN.to_owned()),
        ],
    );
    refused(&server, &run, "userinfo");
    assert_eq!(real.connections(), 0);
}

/// The other refusals, each stating the rule, each before any request.
#[test]
fn endpoints_break_no_rule_before_anything_is_sent() {
    let server = Server::start();
    let ws = small();
    let real = Recorder::start();
    let port = real.port;
    for (name, url, says) in [
        (
            "AZURE_AUTHORITY_HOST",
            "http://10.255.255.1/".to_owned(),
            "only https is allowed, except to a loopback host (127.0.0.0/8, ::1 or localhost)",
        ),
        (
            "PIMPLAN_GRAPH_URL",
            "http://graph.example.com/v1.0".to_owned(),
            "plain http to graph.example.com",
        ),
        (
            "PIMPLAN_GRAPH_URL",
            format!("ftp://127.0.0.1:{port}/"),
            "is ftp, not https",
        ),
        (
            "AZURE_AUTHORITY_HOST",
            format!("https://user:hunter2@127.0.0.1:{port}/"),
            "userinfo",
        ),
        (
            "AZURE_AUTHORITY_HOST",
            format!("http://127.0.0.1\\@127.0.0.1:{port}/"),
            "read differently by URL parsers",
        ),
        (
            "AZURE_AUTHORITY_HOST",
            format!("http://127.1:{port}/"),
            "read differently by URL parsers",
        ),
        (
            "PIMPLAN_GRAPH_URL",
            format!("https:///127.0.0.1:{port}/v1.0"),
            "read differently by URL parsers",
        ),
        (
            "PIMPLAN_GRAPH_URL",
            "graph.microsoft.com".to_owned(),
            "is not a URL",
        ),
        (
            "PIMPLAN_GRAPH_URL",
            format!("http://127.0.0.1:{port}/v1.0?x=1"),
            "query",
        ),
    ] {
        let run = pimplan(&server, ws.path(), APPLY, &[(name, url.clone())]);
        refused(&server, &run, name);
        assert!(run.stderr.contains(says), "{url}: {}", run.stderr);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    }
    // A password written with `#`, `/` or `?` unencoded makes the URL unreadable (the
    // parser stops the authority there); the refusal still does not print it.
    for cut in ['#', '/', '?'] {
        let url = format!("https://me:hun{cut}ter2@127.0.0.1:{port}/");
        let run = pimplan(&server, ws.path(), APPLY, &[("AZURE_AUTHORITY_HOST", url)]);
        refused(&server, &run, "AZURE_AUTHORITY_HOST");
        assert!(!run.stderr.contains("ter2"), "{}", run.stderr);
    }
    // GitHub's OIDC request URL, which receives the request token, follows the same rule.
    let mut env = server.actions_env();
    env.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        format!("http://127.0.0.1:1@127.0.0.1:{port}/oidc/token?api-version=2.0"),
    ));
    let run = pimplan(&server, ws.path(), APPLY, &env);
    refused(&server, &run, "ACTIONS_ID_TOKEN_REQUEST_URL");
    assert!(run.stderr.contains("userinfo"), "{}", run.stderr);
    assert_eq!(real.connections(), 0);
}

/// Graph pages a long list through `@odata.nextLink`: followed on the same endpoint (every
/// page read), refused when it leads to another origin, which never hears the token.
#[test]
fn paging_links_are_followed_only_on_the_graph_endpoint() {
    let server = Server::start();
    let ws = small();
    let run = pimplan(&server, ws.path(), APPLY, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // One schedule per page: the refresh reads both pages of the eligible list and finds no
    // change (a page left unread would show carol or alice as removed outside pimplan).
    server.state().page_size = Some(1);
    server.state().requests.clear();
    let run = pimplan(
        &server,
        ws.path(),
        &["plan", "--target", "graph", "--refresh"],
        &[],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    let skips = server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.contains("$skiptoken="))
        .count();
    assert!(skips >= 1, "{:?}", server.state().requests);

    let other = Recorder::start();
    let link = format!(
        "http://127.0.0.1:{}/v1.0/identityGovernance/privilegedAccess/group/eligibilitySchedules?$skiptoken=1",
        other.port
    );
    server.state().foreign_next_link = Some(link);
    let run = pimplan(
        &server,
        ws.path(),
        &["plan", "--target", "graph", "--refresh"],
        &[],
    );
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("@odata.nextLink"), "{}", run.stderr);
    assert!(run.stderr.contains("not followed"), "{}", run.stderr);
    assert_eq!(other.connections(), 0, "the token went to another origin");
}

/// `AZURE_FEDERATED_TOKEN_FILE` naming a FIFO or /dev/zero: refused at once, naming the
/// variable (it used to block forever, or grow without end).
#[test]
fn the_federated_token_file_is_read_bounded() {
    let server = Server::start();
    let ws = small();
    let fifo = ws.path().join("token.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()));
    let big = ws.path().join("big.jwt");
    std::fs::write(&big, vec![b'a'; 65 << 10]).unwrap_or(());
    for (file, says) in [
        (
            fifo.display().to_string(),
            "a FIFO (named pipe), not a regular file",
        ),
        (
            "/dev/zero".to_owned(),
            "a character device, not a regular file",
        ),
        (big.display().to_string(), "larger than 64 KiB"),
    ] {
        let started = Instant::now();
        let run = pimplan(
            &server,
            ws.path(),
            APPLY,
            &[
                ("AZURE_CLIENT_SECRET", String::new()),
                ("AZURE_FEDERATED_TOKEN_FILE", file.clone()),
            ],
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{file}");
        assert_ne!(run.code, 0, "{file}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("AZURE_FEDERATED_TOKEN_FILE") && run.stderr.contains(says),
            "{file}: {}",
            run.stderr
        );
        let token_requests = server
            .state()
            .requests
            .iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .count();
        assert_eq!(token_requests, 0);
    }
}
