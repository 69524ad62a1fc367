//! Signing in to Microsoft Graph: a fresh GitHub Actions OIDC assertion for every sign-in,
//! an expired assertion in AZURE_FEDERATED_TOKEN_FILE refused before it is sent, and the
//! token's scope following PIMPLAN_GRAPH_URL. Against the loopback stand-in, whose token
//! endpoint judges assertions by their `exp` like Entra (AADSTS700024).

mod graph_server;

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Run, copy_fixture, workspace_with};
use graph_server::{OIDC_REQUEST_TOKEN, Server, TOKEN, assertion};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY_VERBOSE: &[&str] = &["apply", "--target", "graph", "--auto-approve", "--verbose"];
const AUDIENCE: &str = "api://AzureADTokenExchange";

/// Run pimplan in `dir` against `server` (schedules' clock at `T0`), outside GitHub Actions
/// unless `extra_env` says otherwise.
fn pimplan(server: &Server, dir: &Path, args: &[&str], extra_env: &[(&str, String)]) -> Run {
    Run::of(&server.run(dir, T0, TimeDelta::zero(), args, extra_env))
}

fn small() -> tempfile::TempDir {
    workspace_with(
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\nprincipals:\n  - { name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }\n  - { name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call, ticket: { system: ServiceNow, number: CHG1 } }\n  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n",
    )
}

/// The form of every token request, in order.
fn token_requests(server: &Server) -> Vec<String> {
    server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .map(|r| r.raw_body.clone())
        .collect()
}

fn form_value(form: &str, key: &str) -> String {
    form.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(|v| {
            v.replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%2E", ".")
        })
        .unwrap_or_default()
}

fn oidc_requests(server: &Server) -> Vec<String> {
    server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/oidc/token"))
        .map(|r| r.path.clone())
        .collect()
}

fn graph_requests(server: &Server) -> usize {
    server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/v1.0/"))
        .count()
}

fn federated_file(dir: &Path, iat: i64, exp: i64) -> (&'static str, String) {
    let file = dir.join("oidc.jwt");
    std::fs::write(&file, assertion(AUDIENCE, iat, exp)).unwrap_or(());
    ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string())
}

#[test]
fn a_long_apply_in_github_actions_gets_a_fresh_assertion_at_every_sign_in() {
    let server = Server::start();
    {
        let mut s = server.state();
        // Tokens renewed every second; each assertion valid two seconds from its issue, so
        // one kept from an earlier sign-in is refused (AADSTS700024) a few renewals later.
        s.token_lifetime = Some(2);
        s.assertion_lifetime = Some(2);
        s.visibility_delay = Duration::from_millis(250);
    }
    let ws = copy_fixture("fixtures/example");
    let run = pimplan(&server, ws.path(), APPLY_VERBOSE, &server.actions_env());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(server.state().live().len(), 31);
    let tokens = token_requests(&server);
    assert!(tokens.len() >= 4, "signed in {} time(s)", tokens.len());
    // One OIDC request per sign-in, with the audience Entra expects appended to the URL's
    // own query string; every sign-in presented a different assertion.
    let oidc = oidc_requests(&server);
    assert_eq!(oidc.len(), tokens.len(), "{oidc:?}");
    assert!(
        oidc.iter()
            .all(|p| p == "/oidc/token?api-version=2.0&audience=api://AzureADTokenExchange"),
        "{oidc:?}"
    );
    let mut assertions: Vec<String> = tokens
        .iter()
        .map(|f| form_value(f, "client_assertion"))
        .collect();
    assertions.sort();
    assertions.dedup();
    assert_eq!(assertions.len(), tokens.len());
    // The request token, the assertions and the access token never appear in the output.
    assert!(
        run.stderr
            .contains("GitHub Actions OIDC token request, Authorization: Bearer [redacted]"),
        "{}",
        run.stderr
    );
    for secret in assertions
        .iter()
        .map(String::as_str)
        .chain([OIDC_REQUEST_TOKEN, TOKEN])
    {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
}

#[test]
fn the_oidc_request_url_may_lack_a_query_and_a_wrong_request_token_fails_clearly() {
    let server = Server::start();
    let ws = small();
    let mut env = server.actions_env();
    env[1].1 = format!("{}/oidc/token", server.base);
    let run = pimplan(&server, ws.path(), APPLY_VERBOSE, &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        oidc_requests(&server),
        ["/oidc/token?audience=api://AzureADTokenExchange"]
    );

    // A job without `id-token: write` (here: a request token GitHub does not know).
    let server = Server::start();
    let ws = small();
    let mut env = server.actions_env();
    env[2].1 = "not-the-request-token-5555".to_owned();
    let run = pimplan(&server, ws.path(), APPLY_VERBOSE, &env);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("GitHub Actions' OIDC provider answered 401")
            && run.stderr.contains("id-token: write"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-the-request-token-5555"));
    assert_eq!(graph_requests(&server), 0);
    assert!(token_requests(&server).is_empty());
}

#[test]
fn an_expired_assertion_in_the_file_fails_before_anything_is_sent() {
    let server = Server::start();
    let ws = small();
    // The real clock, not `--now`: an assertion's validity is Entra's, by its own clock.
    let now = Utc::now().timestamp();
    let file = federated_file(ws.path(), now - 900, now - 600);
    let run = pimplan(
        &server,
        ws.path(),
        APPLY_VERBOSE,
        &[("AZURE_CLIENT_SECRET", String::new()), file.clone()],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let expired_at = DateTime::from_timestamp(now - 600, 0)
        .unwrap_or_default()
        .to_rfc3339();
    assert!(
        run.stderr.contains(&format!(
            "the assertion in AZURE_FEDERATED_TOKEN_FILE `{}` expired at {expired_at}",
            file.1
        )) && run.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL")
            && run.stderr.contains("refresh the file"),
        "{}",
        run.stderr
    );
    assert!(server.state().requests.is_empty(), "something was sent");

    // A valid one signs in (the file is read again at every sign-in).
    let ws = small();
    let file = federated_file(ws.path(), now, now + 600);
    let run = pimplan(
        &server,
        ws.path(),
        APPLY_VERBOSE,
        &[("AZURE_CLIENT_SECRET", String::new()), file],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_file_assertion_that_expires_during_a_long_apply_stops_it_at_the_next_sign_in() {
    let server = Server::start();
    {
        let mut s = server.state();
        s.token_lifetime = Some(2);
        s.visibility_delay = Duration::from_millis(250);
    }
    let ws = copy_fixture("fixtures/example");
    let now = Utc::now().timestamp();
    let file = federated_file(ws.path(), now, now + 3);
    let run = pimplan(
        &server,
        ws.path(),
        APPLY_VERBOSE,
        &[("AZURE_CLIENT_SECRET", String::new()), file],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("expired at"), "{}", run.stderr);
    // Every sign-in that was sent carried a valid assertion: none was refused.
    assert!(!token_requests(&server).is_empty());
    assert!(
        !run.stderr.contains("AADSTS700024: Client assertion"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_token_scope_follows_the_graph_endpoint() {
    let server = Server::start();
    let ws = small();
    let run = pimplan(&server, ws.path(), APPLY_VERBOSE, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let tokens = token_requests(&server);
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        form_value(&tokens[0], "scope"),
        format!("{}/.default", server.base)
    );
}
