//! B22, the Graph send rule under a remote lock (design remote-state.md B.5): `apply --target
//! graph` with its state on Azurite, reached through the fault proxy, against the Graph
//! stand-in. A Graph request is started only while the lease is known valid for the request
//! timeout + the margin. The lease is shortened to 15 s (`PIMPLAN_TEST_LEASE_SECONDS`), and the
//! rule scales with it: timeout 2/3 of the lease, margin 1/6 (10 s + 2.5 s of 15 s; 40 s + 10 s
//! of the real 60 s), so the test checks the rule pimplan runs, not a looser one. And `auth:
//! entra` signing in for storage with the Graph variables, against the https emulator.
//!
//! What is measured, from the logs of the proxy and the stand-in (one clock, this process's):
//! for every Graph request the apply sends (the schedule requests and their read-backs), the
//! last renewal the proxy answered 200 before it arrived; (that renewal's arrival at the proxy
//! + the lease) − the request's arrival at the stand-in must be ≥ timeout + margin.

mod common;
mod graph_server;

use std::error::Error;
use std::time::{Duration, Instant};

use common::azurite::KEY;
use common::blob_proxy::{self, Entry, Fault, Match, Proxied, Rule};
use common::{Run, flat};
use graph_server::{Recorded, Server, two_grants};

type Result<T = ()> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const NOW: &str = "2026-12-01T00:00:00Z";
const LEASE: Duration = Duration::from_secs(15);
/// Timeout + margin under a 15-s lease: 10 s + 2.5 s.
const NEEDED: Duration = Duration::from_millis(12_500);
/// How long the stand-in holds the first schedule request: less than the 10-s timeout.
const HOLD: Duration = Duration::from_secs(8);

/// The stand-in, a proxied container, and a workspace of two grants whose state is that
/// container's blob.
fn setup(name: &str) -> Result<(Server, Proxied, tempfile::TempDir)> {
    let server = Server::start();
    let p = blob_proxy::proxied(name)?;
    let dir = two_grants();
    let root = dir.path().join("pimplan.yaml");
    let text = std::fs::read_to_string(&root)?;
    std::fs::write(
        &root,
        format!(
            "{text}state:\n  backend: azurerm\n  account: devstoreaccount1\n  container: {}\n  key: prod.json\n  endpoint: \"{}\"\n  auth: shared_key\n",
            p.container.name,
            p.proxy.endpoint_url()
        ),
    )?;
    server.state().slow_post = Some((1, HOLD));
    Ok((server, p, dir))
}

fn apply(server: &Server, dir: &std::path::Path) -> Run {
    Run::of(&server.run(
        dir,
        NOW,
        chrono::TimeDelta::zero(),
        &["apply", "--target", "graph", "--auto-approve"],
        &[
            ("AZURE_STORAGE_KEY", KEY.to_owned()),
            ("PIMPLAN_TEST_LEASE_SECONDS", "15".to_owned()),
        ],
    ))
}

fn is_post(r: &Recorded) -> bool {
    r.method == "POST" && r.path.contains("ScheduleRequests")
}

fn summary(log: &[Entry]) -> String {
    log.iter()
        .map(|e| {
            format!(
                "{} at {:?}",
                e.summary(),
                e.received.duration_since(log[0].received)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every request at `requests` must have arrived while the lease was known valid for
/// [`NEEDED`]: counted from the send of the last renewal (or the acquire) the proxy
/// answered 200 before it.
fn check_rule(requests: &[Instant], log: &[Entry]) -> Result {
    let all = summary(log);
    for (i, at) in requests.iter().enumerate() {
        let granted = log
            .iter()
            .filter(|e| {
                matches!(e.lease_action.as_deref(), Some("renew" | "acquire"))
                    && matches!(e.status, Some(200 | 201))
                    && e.answered.is_some_and(|a| a <= *at)
            })
            .map(|e| e.received)
            .max()
            .ok_or(format!("no lease granted before request {i}:\n{all}"))?;
        let known = (granted + LEASE).saturating_duration_since(*at);
        if known < NEEDED {
            return Err(format!(
                "request {i} started with {known:?} of known lease validity, less than {NEEDED:?}:\n{all}"
            )
            .into());
        }
    }
    Ok(())
}

/// Renewals that arrive late (each held 1.5 s by the proxy) while the stand-in holds the
/// first request 8 s: the apply renews before each request, finds the lease valid for long
/// enough, and sends both; each within the rule.
fn delayed_renewals() -> Result {
    let (server, p, dir) = setup("b22-delayed")?;
    p.proxy.fault(Rule::always(
        Match::lease("renew"),
        Fault::delay(Duration::from_millis(1500)),
    ));
    let run = apply(&server, dir.path());
    let log = p.proxy.log();
    assert_eq!(
        run.code,
        0,
        "{}{}\n{}",
        run.stdout,
        run.stderr,
        summary(&log)
    );
    let posts: Vec<Instant> = server
        .state()
        .requests
        .iter()
        .filter(|r| is_post(r))
        .map(|r| r.at)
        .collect();
    assert_eq!(posts.len(), 2, "{}", summary(&log));
    // The renewals were late indeed, and the second request came after the hold.
    assert!(
        log.iter()
            .any(|e| e.lease_action.as_deref() == Some("renew")
                && e.fault.as_deref().is_some_and(|f| f.starts_with("delay"))),
        "{}",
        summary(&log)
    );
    assert!(posts[1].duration_since(posts[0]) >= HOLD);
    // Each request the apply sent (the schedule requests and their read-backs) within the
    // rule.
    let sent: Vec<Instant> = server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/v1.0") && r.at >= posts[0])
        .map(|r| r.at)
        .collect();
    assert!(sent.len() > posts.len(), "no read-back was sent");
    check_rule(&sent, &log)
}

/// Renewals that fail (the proxy answers 500, or holds them past the renewal's own timeout)
/// from the first request on: while the stand-in holds it, the lease's known validity runs
/// down; the apply stops before its next request, exit 1 "lost the state lease", and no Graph
/// request follows.
fn failing_renewals(name: &str, fault: Fault) -> Result {
    let (server, p, dir) = setup(name)?;
    // Once the first schedule request has arrived (and is held), every renewal fails.
    let (run, first) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                let first = server
                    .state()
                    .requests
                    .iter()
                    .find(|r| is_post(r))
                    .map(|r| r.at);
                if let Some(at) = first {
                    p.proxy
                        .fault(Rule::always(Match::lease("renew"), fault.clone()));
                    return Some(at);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            None
        });
        let run = apply(&server, dir.path());
        (run, watcher.join().ok().flatten())
    });
    let log = p.proxy.log();
    assert_eq!(
        run.code,
        1,
        "{}{}\n{}",
        run.stdout,
        run.stderr,
        summary(&log)
    );
    let said = flat(&run.stderr);
    assert!(said.contains("lost the state lease"), "{said}");
    let requests = server.state().requests.clone();
    let posts: Vec<Instant> = requests
        .iter()
        .filter(|r| is_post(r))
        .map(|r| r.at)
        .collect();
    assert_eq!(
        posts.len(),
        1,
        "a request was sent after the renewals failed: {said}"
    );
    let first = first.ok_or("the first request never came")?;
    // Not even the held request's read-back (`GET …Schedules/{id}`, part of the same
    // change) is sent: every request is held to the rule where it is sent.
    let late: Vec<&str> = requests
        .iter()
        .filter(|r| r.at > first && r.path.starts_with("/v1.0"))
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        late.is_empty(),
        "Graph requests after the renewals failed: {late:?}"
    );
    // Renewals were tried and refused while it was held.
    assert!(
        log.iter()
            .any(|e| e.lease_action.as_deref() == Some("renew") && e.fault.is_some()),
        "{}",
        summary(&log)
    );
    check_rule(&posts, &log)
}

/// The three cases run at once (each on its own stand-in, proxy and container): the test
/// takes about as long as the slowest, some 15 s.
#[test]
fn a_graph_request_starts_only_while_the_lease_outlives_it_by_the_margin() -> Result {
    let cases: Vec<(&str, std::thread::JoinHandle<Result>)> = vec![
        ("delayed renewals", std::thread::spawn(delayed_renewals)),
        (
            "renewals answered 500",
            std::thread::spawn(|| {
                failing_renewals("b22-500", Fault::fail_with(500, "InternalError", None))
            }),
        ),
        (
            "renewals held past their timeout",
            std::thread::spawn(|| {
                failing_renewals("b22-late", Fault::delay(Duration::from_secs(20)))
            }),
        ),
    ];
    let mut failed = Vec::new();
    for (what, case) in cases {
        match case.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed.push(format!("{what}: {e}")),
            Err(_) => failed.push(format!("{what}: panicked")),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    Ok(())
}

/// `auth: entra` with no ready token (issue 15 point 1): the storage token comes from the
/// Graph sign-in's own variables (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET`), asked of the token endpoint for `https://storage.azure.com` — the
/// stand-in issues it as Entra does, a JWT for that audience, which Azurite's OAuth mode
/// checks — and the Graph token for Graph: the apply reaches both with one sign-in's secret.
#[test]
fn auth_entra_signs_in_for_storage_with_the_graph_variables() -> Result {
    let secure = common::azurite::https_server()?;
    let container = common::azurite::https_container("entra-signin")?;
    let server = Server::start();
    let dir = two_grants();
    let root = dir.path().join("pimplan.yaml");
    let text = std::fs::read_to_string(&root)?;
    std::fs::write(
        &root,
        format!(
            "{text}{}",
            common::remote::state_yaml_with(&container, &secure.server.endpoint_url(), "entra")
        ),
    )?;
    let tenant = "5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11";
    let env = [
        ("AZURE_TENANT_ID", tenant.to_owned()),
        ("PIMPLAN_CA_FILE", secure.ca.to_string_lossy().into_owned()),
    ];
    let run = |args: &[&str]| {
        Run::of(&server.run(dir.path(), NOW, chrono::TimeDelta::zero(), args, &env))
    };
    let applied = run(&["apply", "--target", "graph", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert!(!applied.stdout.contains(graph_server::SECRET));
    assert!(!applied.stderr.contains(graph_server::SECRET));
    let scopes: Vec<String> = server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .filter_map(|r| {
            r.raw_body
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope="))
                .map(str::to_owned)
        })
        .collect();
    assert!(
        scopes.iter().any(|s| s.contains("storage.azure.com")),
        "no storage token asked for: {scopes:?}"
    );
    assert_eq!(
        server.post_bodies().len(),
        2,
        "the two grants were not made"
    );
    // The blob holds them: a plan against it has nothing to do.
    let plan = run(&["plan", "--target", "graph"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    Ok(())
}
