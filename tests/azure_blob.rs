//! The Blob client of the remote state (`src/state/azure/`) against Azurite, one row of
//! design/remote-state.md B.2 per test where the client can make it: conditional writes,
//! leases, metadata, snapshots, the 404s, a 20-way race, and the credentials (Shared Key,
//! SAS, a wrong key) with no secret in any error, `Debug` or log line.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command. One Azurite runs for the whole binary.

mod common;

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::azurite::{self, TestContainer};
use pimplan::http::Endpoint;
use pimplan::state::azure::{
    BlobClient, Conditions, Credential, ErrorCode, FixedToken, LeaseDuration, LeaseState,
    LeaseStatus, Metadata, SasToken, SharedKey, StorageError,
};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const BLOB: &str = "prod/pimplan.state.json";
const JSON: &str = "application/json";
const ID_A: &str = "6f1d2c1e-3b1a-4c55-9a8e-000000000001";
const ID_B: &str = "6f1d2c1e-3b1a-4c55-9a8e-000000000002";

fn none() -> Metadata {
    Metadata::new()
}

/// The status and code of a failed call; the test fails when the call succeeded.
fn refused<T: std::fmt::Debug>(
    result: std::result::Result<T, StorageError>,
) -> Result<(u16, ErrorCode)> {
    match result {
        Ok(v) => Err(format!("expected an error answer, got {v:?}").into()),
        Err(StorageError::Blob(e)) => Ok((e.status, e.code)),
        Err(e) => Err(format!("expected an error answer, got {e}").into()),
    }
}

fn put(
    c: &TestContainer,
    bytes: &[u8],
    conditions: Conditions<'_>,
) -> std::result::Result<String, StorageError> {
    c.client.put_blob(BLOB, bytes, JSON, &none(), conditions)
}

#[test]
fn azurite_runs_in_memory_on_loopback_with_telemetry_off() -> Result {
    let server = azurite::server()?;
    assert!(azurite::ARGS.contains(&"--disableTelemetry"));
    assert!(
        server.cmdline.iter().any(|a| a == "--disableTelemetry"),
        "{:?}",
        server.cmdline
    );
    for flag in [
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "127.0.0.1",
    ] {
        assert!(
            server.cmdline.iter().any(|a| a == flag),
            "{flag}: {:?}",
            server.cmdline
        );
    }
    assert!(server.port > 0 && server.pid > 0);
    Ok(())
}

#[test]
fn create_only_then_409_blob_already_exists() -> Result {
    let c = azurite::container("create-only")?;
    let etag = put(&c, b"{}", Conditions::create_only())?;
    assert!(!etag.is_empty());
    assert_eq!(
        refused(put(&c, b"{\"x\":1}", Conditions::create_only()))?,
        (409, ErrorCode::BlobAlreadyExists)
    );
    // The first write stands.
    let blob = c.client.get_blob(BLOB, None, None)?;
    assert_eq!((blob.bytes.as_slice(), blob.etag), (&b"{}"[..], etag));
    Ok(())
}

#[test]
fn if_match_writes_on_the_current_etag_only() -> Result {
    let c = azurite::container("if-match")?;
    let first = put(&c, b"1", Conditions::create_only())?;
    let second = put(
        &c,
        b"2",
        Conditions {
            if_match: Some(&first),
            ..Conditions::default()
        },
    )?;
    assert_ne!(first, second);
    assert_eq!(
        refused(put(
            &c,
            b"3",
            Conditions {
                if_match: Some(&first),
                ..Conditions::default()
            }
        ))?,
        (412, ErrorCode::ConditionNotMet)
    );
    assert_eq!(c.client.get_blob(BLOB, None, None)?.bytes, b"2");
    // Lease calls honour the conditions too.
    assert_eq!(
        refused(c.client.acquire_lease(
            BLOB,
            LeaseDuration::Seconds(60),
            Some(ID_A),
            Conditions {
                if_match: Some(&first),
                ..Conditions::default()
            }
        ))?,
        (412, ErrorCode::ConditionNotMet)
    );
    Ok(())
}

#[test]
fn leases_last_15_to_60_seconds_and_one_holder_at_a_time() -> Result {
    let c = azurite::container("lease")?;
    put(&c, b"{}", Conditions::create_only())?;
    let short = c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(10),
        Some(ID_A),
        Conditions::default(),
    );
    assert_eq!(refused(short)?, (400, ErrorCode::InvalidHeaderValue));
    let lease = c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    assert_eq!(lease.id, ID_A);
    let other = c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_B),
        Conditions::default(),
    );
    assert_eq!(refused(other)?, (409, ErrorCode::LeaseAlreadyPresent));
    // The same id again is granted (idempotent), and renewing works.
    assert_eq!(
        c.client
            .acquire_lease(
                BLOB,
                LeaseDuration::Seconds(60),
                Some(ID_A),
                Conditions::default()
            )?
            .id,
        ID_A
    );
    assert_eq!(c.client.renew_lease(BLOB, ID_A)?.id, ID_A);
    let props = c.client.get_properties(BLOB, None)?;
    assert_eq!(
        (props.lease.state, props.lease.status),
        (LeaseState::Leased, LeaseStatus::Locked)
    );
    assert_eq!(props.lease.duration.as_deref(), Some("fixed"));
    // Released, another holder gets it at once.
    c.client.release_lease(BLOB, ID_A)?;
    assert_eq!(
        c.client
            .acquire_lease(
                BLOB,
                LeaseDuration::Seconds(15),
                Some(ID_B),
                Conditions::default()
            )?
            .id,
        ID_B
    );
    Ok(())
}

#[test]
fn a_leased_blob_is_written_only_with_its_lease_and_read_without() -> Result {
    let c = azurite::container("fenced")?;
    let etag = put(&c, b"old", Conditions::create_only())?;
    let lease = c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    assert_eq!(
        refused(put(&c, b"x", Conditions::default()))?,
        (412, ErrorCode::LeaseIdMissing)
    );
    assert_eq!(
        refused(put(&c, b"x", Conditions::lease(ID_B)))?,
        (412, ErrorCode::LeaseIdMismatchWithBlobOperation)
    );
    // Reads need no lease (plan, drift).
    let read = c.client.get_blob(BLOB, None, None)?;
    assert_eq!((read.bytes.as_slice(), &read.etag), (&b"old"[..], &etag));
    assert_eq!(read.lease.state, LeaseState::Leased);
    // Both fences: the lease and the ETag.
    let etag = lease.etag.unwrap_or(etag);
    let next = put(&c, b"new", Conditions::fenced(ID_A, &etag))?;
    assert_eq!(
        refused(put(&c, b"again", Conditions::fenced(ID_A, &etag)))?,
        (412, ErrorCode::ConditionNotMet)
    );
    put(&c, b"newer", Conditions::fenced(ID_A, &next))?;
    // Put Blob keeps the lease.
    assert_eq!(
        c.client.get_properties(BLOB, None)?.lease.state,
        LeaseState::Leased
    );
    assert_eq!(c.client.get_blob(BLOB, None, Some(ID_A))?.bytes, b"newer");
    Ok(())
}

#[test]
fn metadata_survives_set_and_is_dropped_by_a_put_that_does_not_resend_it() -> Result {
    let c = azurite::container("metadata")?;
    put(&c, b"{}", Conditions::create_only())?;
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    let lock = Metadata::from([("pimplanlock".to_owned(), "eyJpZCI6MX0=".to_owned())]);
    assert_eq!(
        refused(c.client.set_metadata(BLOB, &lock, Conditions::default()))?,
        (412, ErrorCode::LeaseIdMissing)
    );
    let etag = c
        .client
        .set_metadata(BLOB, &lock, Conditions::lease(ID_A))?;
    let props = c.client.get_properties(BLOB, None)?;
    assert_eq!(props.metadata, lock);
    assert_eq!(props.etag, etag);
    // Put Blob replaces the metadata: without it, it is gone; re-sent, it stays.
    let etag = c
        .client
        .put_blob(BLOB, b"1", JSON, &none(), Conditions::fenced(ID_A, &etag))?;
    assert!(c.client.get_properties(BLOB, None)?.metadata.is_empty());
    c.client
        .put_blob(BLOB, b"2", JSON, &lock, Conditions::fenced(ID_A, &etag))?;
    assert_eq!(c.client.get_blob(BLOB, None, None)?.metadata, lock);
    Ok(())
}

#[test]
fn snapshots_keep_old_versions_and_are_listed() -> Result {
    let c = azurite::container("snapshots")?;
    let meta = Metadata::from([("pimplanlineage".to_owned(), "L1".to_owned())]);
    let etag = c
        .client
        .put_blob(BLOB, b"v1", JSON, &meta, Conditions::create_only())?;
    c.client
        .put_blob("other.json", b"x", JSON, &none(), Conditions::create_only())?;
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    let first = c.client.snapshot(BLOB, Conditions::lease(ID_A))?;
    let etag = c
        .client
        .put_blob(BLOB, b"v2", JSON, &meta, Conditions::fenced(ID_A, &etag))?;
    let second = c.client.snapshot(BLOB, Conditions::default())?;
    c.client
        .put_blob(BLOB, b"v3", JSON, &meta, Conditions::fenced(ID_A, &etag))?;
    assert_ne!(first, second);
    let listed = c.client.list_blobs(Some("prod/"))?;
    let snapshots: Vec<_> = listed.iter().filter_map(|b| b.snapshot.clone()).collect();
    assert_eq!(snapshots, vec![first.clone(), second.clone()], "{listed:?}");
    assert!(listed.iter().all(|b| b.name == BLOB));
    assert_eq!(listed.iter().filter(|b| b.snapshot.is_none()).count(), 1);
    assert!(listed.iter().all(|b| b.metadata == meta), "{listed:?}");
    assert_eq!(c.client.get_blob(BLOB, Some(&first), None)?.bytes, b"v1");
    assert_eq!(c.client.get_blob(BLOB, Some(&second), None)?.bytes, b"v2");
    assert_eq!(c.client.get_blob(BLOB, None, None)?.bytes, b"v3");
    assert_eq!(c.client.list_blobs(None)?.len(), 4);
    Ok(())
}

#[test]
fn a_broken_lease_fences_its_old_holder() -> Result {
    let c = azurite::container("break")?;
    let etag = put(&c, b"{}", Conditions::create_only())?;
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    // Break needs no lease id: force-unlock works whoever holds it.
    assert_eq!(c.client.break_lease(BLOB, Some(0))?, 0);
    assert_eq!(
        c.client.get_properties(BLOB, None)?.lease.state,
        LeaseState::Broken
    );
    assert_eq!(
        refused(put(&c, b"zombie", Conditions::fenced(ID_A, &etag)))?,
        (412, ErrorCode::LeaseNotPresentWithBlobOperation)
    );
    assert_eq!(
        refused(c.client.renew_lease(BLOB, ID_A))?,
        (409, ErrorCode::LeaseIsBrokenAndCannotBeRenewed)
    );
    // The next holder takes it.
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_B),
        Conditions::default(),
    )?;
    put(&c, b"next", Conditions::fenced(ID_B, &etag))?;
    Ok(())
}

#[test]
fn an_expired_lease_fences_a_zombie_writer() -> Result {
    let c = azurite::container("expiry")?;
    let etag = put(&c, b"{}", Conditions::create_only())?;
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(15),
        Some(ID_A),
        Conditions::default(),
    )?;
    std::thread::sleep(Duration::from_secs(17));
    let props = c.client.get_properties(BLOB, None)?;
    assert_eq!(
        (props.lease.state, props.lease.status),
        (LeaseState::Expired, LeaseStatus::Unlocked)
    );
    assert_eq!(
        refused(put(&c, b"zombie", Conditions::fenced(ID_A, &etag)))?,
        (412, ErrorCode::LeaseNotPresentWithBlobOperation)
    );
    // Without a lease on it, anyone may lease it again.
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_B),
        Conditions::default(),
    )?;
    Ok(())
}

#[test]
fn a_missing_blob_and_a_missing_container_are_told_apart() -> Result {
    let c = azurite::container("missing")?;
    assert_eq!(
        refused(c.client.get_blob(BLOB, None, None))?,
        (404, ErrorCode::BlobNotFound)
    );
    assert_eq!(
        refused(c.client.get_properties(BLOB, None))?,
        (404, ErrorCode::BlobNotFound)
    );
    assert_eq!(
        refused(c.client.acquire_lease(
            BLOB,
            LeaseDuration::Seconds(60),
            Some(ID_A),
            Conditions::default()
        ))?,
        (404, ErrorCode::BlobNotFound)
    );
    let nowhere = azurite::client(c.server, "no-such-container", azurite::shared_key()?)?;
    assert_eq!(
        refused(nowhere.get_blob(BLOB, None, None))?,
        (404, ErrorCode::ContainerNotFound)
    );
    assert_eq!(
        refused(nowhere.get_properties(BLOB, None))?,
        (404, ErrorCode::ContainerNotFound)
    );
    assert_eq!(
        refused(nowhere.put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only()))?,
        (404, ErrorCode::ContainerNotFound)
    );
    let e = nowhere
        .get_blob(BLOB, None, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("no-such-container/prod/pimplan.state.json")
            && e.contains("404 ContainerNotFound"),
        "{e}"
    );
    Ok(())
}

#[test]
fn of_twenty_concurrent_writes_on_one_etag_exactly_one_wins() -> Result {
    let c = azurite::container("race")?;
    let etag = put(&c, b"0", Conditions::create_only())?;
    let outcomes: Vec<std::result::Result<String, StorageError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (c, etag) = (&c, &etag);
                scope.spawn(move || {
                    let body = format!("{i}");
                    put(
                        c,
                        body.as_bytes(),
                        Conditions {
                            if_match: Some(etag),
                            ..Conditions::default()
                        },
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StorageError::Config("a writer panicked".to_owned())))
            })
            .collect()
    });
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let lost = outcomes
        .iter()
        .filter(|o| {
            o.as_ref().err().and_then(StorageError::code) == Some(&ErrorCode::ConditionNotMet)
        })
        .count();
    assert_eq!((won, lost), (1, 19), "{outcomes:?}");
    Ok(())
}

/// Every text a caller could print: the `Debug` and `Display` of the error, plus the log.
fn texts(
    client: &BlobClient,
    result: std::result::Result<impl std::fmt::Debug, StorageError>,
    log: &Mutex<Vec<String>>,
) -> Vec<String> {
    let mut all = vec![format!("{client:?}"), format!("{result:?}")];
    if let Err(e) = &result {
        all.push(e.to_string());
    }
    all.extend(log.lock().map(|l| l.clone()).unwrap_or_default());
    all
}

fn logged(client: BlobClient) -> (BlobClient, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let client = client.with_log(Arc::new(move |line: &str| {
        if let Ok(mut l) = sink.lock() {
            l.push(line.to_owned());
        }
    }));
    (client, lines)
}

#[test]
fn a_wrong_key_is_refused_with_403_and_no_key_is_ever_shown() -> Result {
    let c = azurite::container("wrong-key")?;
    // base64 of "pimplan-test-not-the-account-key" (a value that appears nowhere else).
    let wrong = "cGltcGxhbi10ZXN0LW5vdC10aGUtYWNjb3VudC1rZXk=";
    let (client, log) = logged(c.client_with(Credential::SharedKey(SharedKey::new(
        azurite::ACCOUNT,
        wrong,
    )?))?);
    // Azure answers a bad signature with 403 AuthenticationFailed; Azurite 3.37.0 with 403
    // AuthorizationFailure (its AuthenticationMiddlewareFactory, when no authenticator
    // passes). Both read as "the credentials were refused".
    let result = client.get_blob(BLOB, None, None);
    let code = result
        .as_ref()
        .err()
        .and_then(StorageError::blob)
        .map(|e| (e.status, e.code.clone()));
    assert_eq!(code, Some((403, ErrorCode::AuthorizationFailure)));
    assert!(code.is_some_and(|(_, c)| c.credentials_refused()));
    let all = texts(&client, result, &log);
    assert!(
        all.iter()
            .any(|t| t.contains("403") && t.contains("AuthorizationFailure")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|t| t.contains("SharedKey devstoreaccount1:[redacted]")),
        "{all:#?}"
    );
    for secret in [wrong, azurite::KEY, "pimplan-test-not"] {
        assert!(
            all.iter().all(|t| !t.contains(secret)),
            "{secret} in {all:#?}"
        );
    }
    // The right key, with the same log, shows no key either.
    let (client, log) = logged(c.client_with(azurite::shared_key()?)?);
    let all = texts(
        &client,
        client.put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only()),
        &log,
    );
    assert!(all.iter().all(|t| !t.contains(azurite::KEY)), "{all:#?}");
    Ok(())
}

#[test]
fn a_sas_token_works_and_its_signature_is_never_shown() -> Result {
    let c = azurite::container("sas")?;
    let sas = azurite::account_sas("rwdlac")?;
    let sig = sas
        .as_query()
        .rsplit("sig=")
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(sig.len() > 20);
    let (client, log) = logged(c.client_with(Credential::Sas(sas))?);
    let etag = client.put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only())?;
    client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    client.put_blob(BLOB, b"[]", JSON, &none(), Conditions::fenced(ID_A, &etag))?;
    assert_eq!(client.get_blob(BLOB, None, None)?.bytes, b"[]");
    let all = texts(&client, client.get_blob("missing", None, None), &log);
    assert!(all.iter().any(|t| t.contains("SAS [redacted]")), "{all:#?}");
    assert!(all.iter().all(|t| !t.contains(&sig)), "{all:#?}");
    // A forged signature: refused, and not shown either.
    let forged = "sv=2019-12-12&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00%3A00%3A00Z&sig=Zm9yZ2VkLXNpZ25hdHVyZS12YWx1ZQ%3D%3D";
    let (client, log) = logged(c.client_with(Credential::Sas(SasToken::new(forged)))?);
    let result = client.get_blob(BLOB, None, None);
    assert_eq!(refused(client.get_blob(BLOB, None, None))?.0, 403);
    let all = texts(&client, result, &log);
    assert!(all.iter().all(|t| !t.contains("Zm9yZ2Vk")), "{all:#?}");
    Ok(())
}

#[test]
fn no_secret_in_a_transport_error() -> Result {
    // Nothing listens on port 1 of this machine.
    let endpoint = Endpoint::base("endpoint", "http://127.0.0.1:1/devstoreaccount1")?;
    let secret_sig = "c2VjcmV0LXNhcy1zaWduYXR1cmU";
    for credential in [
        Credential::Sas(SasToken::new(&format!(
            "?sv=2019-12-12&sp=r&sig={secret_sig}"
        ))),
        Credential::Bearer(Arc::new(FixedToken::new("eyJ.secret-bearer-token.x"))),
        Credential::SharedKey(SharedKey::new(
            azurite::ACCOUNT,
            "c2VjcmV0LWtleS1ieXRlcw==",
        )?),
    ] {
        let shown = format!("{credential:?}");
        let (client, log) = logged(BlobClient::new(
            endpoint.clone(),
            azurite::ACCOUNT,
            "c",
            credential,
            Duration::from_secs(5),
        ));
        let result = client.get_blob(BLOB, None, None);
        assert!(
            matches!(result, Err(StorageError::Transport { .. })),
            "{result:?}"
        );
        let mut all = texts(&client, result, &log);
        all.push(shown);
        assert!(all.iter().any(|t| t.contains("[redacted]")), "{all:#?}");
        for secret in [secret_sig, "secret-bearer-token", "c2VjcmV0LWtleS1ieXRlcw"] {
            assert!(
                all.iter().all(|t| !t.contains(secret)),
                "{secret} in {all:#?}"
            );
        }
    }
    Ok(())
}

/// A loopback stand-in that answers each request (one per connection) with the next of
/// `answers` and gives back the requests it got (head and body as text).
fn stand_in(answers: Vec<String>) -> Result<(Endpoint, std::thread::JoinHandle<Vec<String>>)> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                break;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as many body bytes as it announces.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            seen.push(String::from_utf8_lossy(&request).to_string());
            let _ = stream.write_all(answer.as_bytes());
        }
        seen
    });
    Ok((
        Endpoint::base("endpoint", &format!("http://127.0.0.1:{port}/acct"))?,
        handle,
    ))
}

fn answer(status: &str, headers: &[&str], body: &str) -> String {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

#[test]
fn a_busy_answer_is_tried_again_and_a_bearer_token_is_sent_but_never_logged() -> Result {
    let (endpoint, server) = stand_in(vec![
        answer(
            "503 Service Unavailable",
            &["x-ms-error-code: ServerBusy", "Retry-After: 1"],
            "",
        ),
        answer("201 Created", &["ETag: \"0x2\""], ""),
    ])?;
    let token = "eyJ0eXAiOiJKV1QifQ.pimplan-test-token.sig";
    let (client, log) = logged(BlobClient::new(
        endpoint,
        "acct",
        "ctr",
        Credential::Bearer(Arc::new(FixedToken::new(token))),
        Duration::from_secs(10),
    ));
    let etag = client.put_blob(
        BLOB,
        b"hello",
        JSON,
        &none(),
        Conditions::fenced(ID_A, "\"0x1\""),
    )?;
    assert_eq!(etag, "\"0x2\"");
    let requests = server.join().unwrap_or_default();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        let head = request.to_ascii_lowercase();
        assert!(
            head.starts_with("put /acct/ctr/prod/pimplan.state.json http/1.1"),
            "{request}"
        );
        for header in [
            format!("authorization: Bearer {token}"),
            "x-ms-version: 2025-11-05".to_owned(),
            "x-ms-blob-type: BlockBlob".to_owned(),
            format!("x-ms-lease-id: {ID_A}"),
            "if-match: \"0x1\"".to_owned(),
            // MD5("hello")
            "content-md5: XUFAKrxLKna5cZ2REBfFkg==".to_owned(),
        ] {
            assert!(
                head.contains(&header.to_ascii_lowercase()),
                "{header} not in {request}"
            );
        }
        assert!(request.ends_with("\r\n\r\nhello"), "{request}");
    }
    let lines = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("busy (503); trying again in 1000 ms")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Authorization: Bearer [redacted]")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("pimplan-test-token")),
        "{lines:#?}"
    );
    assert!(!format!("{client:?}").contains("pimplan-test-token"));
    Ok(())
}

#[test]
fn a_service_busy_for_longer_than_the_retries_is_an_error_answer() -> Result {
    let busy = answer(
        "503 Service Unavailable",
        &["x-ms-error-code: ServerBusy", "Retry-After: 0"],
        "",
    );
    let (endpoint, server) = stand_in(vec![busy.clone(), busy])?;
    let mut client = BlobClient::new(
        endpoint,
        "acct",
        "ctr",
        azurite::shared_key()?,
        Duration::from_secs(10),
    );
    client.max_retries = 1;
    assert_eq!(
        refused(client.get_properties(BLOB, None))?,
        (503, ErrorCode::ServerBusy)
    );
    assert_eq!(server.join().unwrap_or_default().len(), 2);
    Ok(())
}

#[test]
fn bytes_that_do_not_match_their_content_md5_are_not_the_blob() -> Result {
    // MD5("hello"), sent with other bytes.
    let (endpoint, _server) = stand_in(vec![answer(
        "200 OK",
        &["ETag: \"0x1\"", "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="],
        "hellO",
    )])?;
    let client = BlobClient::new(
        endpoint,
        "acct",
        "ctr",
        azurite::shared_key()?,
        Duration::from_secs(10),
    );
    let result = client.get_blob(BLOB, None, None);
    assert!(
        matches!(&result, Err(StorageError::Unreadable { detail, .. }) if detail.contains("Content-MD5")),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn names_that_need_encoding_are_signed_as_sent() -> Result {
    let c = azurite::container("encoding")?;
    let name = "team a/prod+1/état=ok.json";
    let etag = c
        .client
        .put_blob(name, b"{}", JSON, &none(), Conditions::create_only())?;
    c.client.acquire_lease(
        name,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    c.client
        .put_blob(name, b"[]", JSON, &none(), Conditions::fenced(ID_A, &etag))?;
    assert_eq!(c.client.get_blob(name, None, None)?.bytes, b"[]");
    let listed = c.client.list_blobs(Some("team a/"))?;
    assert_eq!(
        listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        vec![name]
    );
    Ok(())
}

#[test]
fn of_twenty_concurrent_acquires_exactly_one_gets_the_lease() -> Result {
    let c = azurite::container("acquire-race")?;
    put(&c, b"{}", Conditions::create_only())?;
    let ids: Vec<String> = (0..20)
        .map(|i| format!("6f1d2c1e-3b1a-4c55-9a8e-{i:012}"))
        .collect();
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let c = &c;
                scope.spawn(move || {
                    c.client.acquire_lease(
                        BLOB,
                        LeaseDuration::Seconds(60),
                        Some(id),
                        Conditions::default(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StorageError::Config("an acquirer panicked".to_owned()))
                })
            })
            .collect()
    });
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let lost = outcomes
        .iter()
        .filter(|o| {
            o.as_ref().err().and_then(StorageError::code) == Some(&ErrorCode::LeaseAlreadyPresent)
        })
        .count();
    assert_eq!((won, lost), (1, 19), "{outcomes:?}");
    Ok(())
}

#[test]
fn a_breaking_lease_still_fences_others_and_lets_its_holder_write() -> Result {
    let c = azurite::container("breaking")?;
    let etag = put(&c, b"{}", Conditions::create_only())?;
    c.client.acquire_lease(
        BLOB,
        LeaseDuration::Infinite,
        Some(ID_A),
        Conditions::default(),
    )?;
    assert_eq!(
        c.client
            .get_properties(BLOB, None)?
            .lease
            .duration
            .as_deref(),
        Some("infinite")
    );
    assert_eq!(c.client.break_lease(BLOB, Some(30))?, 30);
    assert_eq!(
        c.client.get_properties(BLOB, None)?.lease.state,
        LeaseState::Breaking
    );
    put(&c, b"holder", Conditions::fenced(ID_A, &etag))?;
    let other = c.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_B),
        Conditions::default(),
    );
    assert_eq!(refused(other)?, (409, ErrorCode::LeaseAlreadyPresent));
    // Breaking it again with period 0 ends it now.
    c.client.break_lease(BLOB, Some(0))?;
    assert_eq!(
        c.client.get_properties(BLOB, None)?.lease.state,
        LeaseState::Broken
    );
    Ok(())
}
