//! The fault proxy (tests/common/blob_proxy.rs) in front of Azurite, with the remote
//! state's Blob client: what Azurite really does when an upload is cut, when the answer
//! to a committed write is lost, when a renewal arrives after the lease expired, and how
//! the client meets a busy or timed-out service (design remote-state.md B.2, B.5, B13,
//! B14, B22). And the proxy itself: it changes nothing on the way (a Shared Key signature
//! still verifies), answers like Azure when told to fail, logs what the backend tests
//! assert on, and listens on 127.0.0.1 only.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command.

mod common;

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::azurite;
use common::blob_proxy::{self, BlobProxy, Entry, Fault, Match, Rule, ms};
use pimplan::state::azure::{
    Conditions, Credential, ErrorCode, LeaseDuration, LeaseState, Metadata, SharedKey, StorageError,
};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const BLOB: &str = "prod/pimplan.state.json";
const JSON: &str = "application/json";
const ID_A: &str = "7a1d2c1e-3b1a-4c55-9a8e-00000000000a";
const ID_B: &str = "7a1d2c1e-3b1a-4c55-9a8e-00000000000b";

fn none() -> Metadata {
    Metadata::new()
}

/// A state-sized body: 1 MiB of JSON-ish bytes, different for each `tag`.
fn big(tag: u8) -> Vec<u8> {
    let mut bytes = vec![b'a' + tag % 26; 1 << 20];
    bytes[0] = b'{';
    bytes[(1 << 20) - 1] = b'}';
    bytes
}

fn refused<T: std::fmt::Debug>(
    result: std::result::Result<T, StorageError>,
) -> Result<(u16, ErrorCode)> {
    match result {
        Ok(v) => Err(format!("expected an error answer, got {v:?}").into()),
        Err(StorageError::Blob(e)) => Ok((e.status, e.code)),
        Err(e) => Err(format!("expected an error answer, got {e}").into()),
    }
}

/// The call failed without an answer (the client cannot know whether it was done).
fn no_answer<T: std::fmt::Debug>(result: std::result::Result<T, StorageError>) -> Result<String> {
    match result {
        Err(e @ StorageError::Transport { .. }) => Ok(e.to_string()),
        other => Err(format!("expected a transport error, got {other:?}").into()),
    }
}

/// `ok VALUE`, or the status and error code of the answer, or the error.
fn said<T: std::fmt::Display>(result: std::result::Result<T, StorageError>) -> String {
    match result {
        Ok(v) => format!("ok {v}").trim_end().to_owned(),
        Err(StorageError::Blob(e)) => format!("{} {}", e.status, e.code),
        Err(e) => e.to_string(),
    }
}

fn summary(log: &[Entry]) -> String {
    log.iter()
        .map(Entry::summary)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The entries of `log` that match `m`'s method and `comp=` (for assertions).
fn puts_of_blob(log: &[Entry]) -> Vec<&Entry> {
    log.iter()
        .filter(|e| e.method == "PUT" && e.comp().is_none() && e.header("x-ms-blob-type").is_some())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The proxy itself

/// A loopback server that records the raw bytes of one request (head and
/// `Content-Length` body) per exchange and answers each with `answer`, on one connection.
fn recorder(
    answer: &'static [u8],
    exchanges: usize,
) -> Result<(String, std::thread::JoinHandle<Vec<Vec<u8>>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/acct", listener.local_addr()?);
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut left = exchanges;
        while left > 0 {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            let Ok(mut writer) = stream.try_clone() else {
                break;
            };
            let mut reader = BufReader::new(stream);
            // The proxy opens one upstream connection per request.
            let mut raw = Vec::new();
            let mut length = 0usize;
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                raw.extend_from_slice(&line);
                let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
                if let Some(v) = text.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == b"\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                break;
            }
            raw.extend_from_slice(&body);
            seen.push(raw);
            let _ = writer.write_all(answer);
            left -= 1;
        }
        seen
    });
    Ok((url, handle))
}

/// Read one answer of `reader`: the head and a chunked body, as raw bytes.
fn read_chunked_answer(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(
                format!("the answer ended early: {}", String::from_utf8_lossy(&raw)).into(),
            );
        }
        raw.extend_from_slice(&line);
        if raw.ends_with(b"\r\n0\r\n\r\n") {
            return Ok(raw);
        }
    }
}

#[test]
fn requests_and_answers_pass_byte_for_byte_on_a_kept_alive_connection() -> Result {
    const ANSWER: &[u8] = b"HTTP/1.1 201 Created\r\nETag: \"0x8D1\"\r\nx-ms-Request-Id: r1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let (upstream, server) = recorder(ANSWER, 2)?;
    let proxy = BlobProxy::start(&upstream)?;
    assert_eq!(
        proxy.endpoint_url(),
        format!("http://127.0.0.1:{}/acct", proxy.addr().port())
    );
    let host = proxy.addr().to_string();
    // Odd header case and order, a Host naming the proxy, a query and a binary body.
    let mut first = format!(
        "PUT /acct/ctr/prod/a%20b.json?comp=lease&x=%2F HTTP/1.1\r\nHost: {host}\r\nX-MS-Lease-Action: acquire\r\nauthorization: SharedKey devstoreaccount1:c2lnbmF0dXJl\r\nIf-Match: \"0x8D0\"\r\nx-ms-date: Tue, 01 Dec 2026 10:00:00 GMT\r\nContent-Length: 6\r\n\r\n"
    )
    .into_bytes();
    first.extend_from_slice(b"\x00\x01\r\n\xffz");
    let second = format!(
        "GET /acct/ctr/prod/a%20b.json HTTP/1.1\r\nHost: {host}\r\nx-ms-version: 2025-11-05\r\n\r\n"
    )
    .into_bytes();
    let mut stream = TcpStream::connect(proxy.addr())?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    stream.write_all(&first)?;
    assert_eq!(read_chunked_answer(&mut reader)?, ANSWER);
    // The same connection carries the next request.
    stream.write_all(&second)?;
    assert_eq!(read_chunked_answer(&mut reader)?, ANSWER);
    drop(stream);
    let seen = server.join().map_err(|_| "the recorder failed")?;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], first, "{}", String::from_utf8_lossy(&seen[0]));
    assert_eq!(seen[1], second, "{}", String::from_utf8_lossy(&seen[1]));
    let log = proxy.log();
    assert_eq!(log.len(), 2, "{}", summary(&log));
    let e = &log[0];
    assert_eq!(
        (e.method.as_str(), e.path.as_str(), e.query.as_str()),
        ("PUT", "/acct/ctr/prod/a%20b.json", "comp=lease&x=%2F")
    );
    assert_eq!(e.comp().as_deref(), Some("lease"));
    assert_eq!(e.query_param("x").as_deref(), Some("/"));
    assert_eq!(e.lease_action.as_deref(), Some("acquire"));
    assert_eq!(e.if_match.as_deref(), Some("\"0x8D0\""));
    assert_eq!(
        (e.body_len, e.status, e.upstream_status),
        (6, Some(201), Some(201))
    );
    assert_eq!(e.upstream_header("etag"), Some("\"0x8D1\""));
    // The signature is not kept, only the scheme.
    assert_eq!(e.header("authorization"), Some("SharedKey"));
    assert!(!format!("{log:?}").contains("c2lnbmF0dXJl"));
    assert!(e.answered.is_some_and(|a| a >= e.received));
    Ok(())
}

#[test]
fn a_shared_key_request_through_the_proxy_verifies_and_a_wrong_key_still_fails() -> Result {
    let p = blob_proxy::proxied("through")?;
    let etag = p.client.put_blob(
        BLOB,
        b"{\"serial\":1}",
        JSON,
        &none(),
        Conditions::create_only(),
    )?;
    let blob = p.client.get_blob(BLOB, None, None)?;
    assert_eq!(
        (blob.bytes.as_slice(), &blob.etag),
        (&b"{\"serial\":1}"[..], &etag)
    );
    let lease = p.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    assert_eq!(lease.id, ID_A);
    let listed = p.client.list_blobs(Some("prod/"))?;
    assert_eq!(listed.len(), 1);
    p.client.release_lease(BLOB, ID_A)?;
    // Azurite does check the signature behind the proxy: another key is refused.
    let wrong = blob_proxy::client(
        &p.proxy,
        &p.container.name,
        Credential::SharedKey(SharedKey::new(
            azurite::ACCOUNT,
            "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==",
        )?),
    )?;
    let (status, code) = refused(wrong.get_blob(BLOB, None, None))?;
    assert_eq!(status, 403, "{code}");
    assert!(code.credentials_refused(), "{code}");
    let log = p.proxy.log();
    let statuses: Vec<Option<u16>> = log.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            Some(201),
            Some(200),
            Some(201),
            Some(200),
            Some(200),
            Some(403)
        ],
        "{}",
        summary(&log)
    );
    assert!(log.iter().all(|e| e.fault.is_none() && e.error.is_none()));
    assert!(
        log.iter().all(|e| e
            .path
            .starts_with(&format!("/devstoreaccount1/{}", p.container.name))),
        "{}",
        summary(&log)
    );
    Ok(())
}

#[test]
fn the_proxy_listens_on_127_0_0_1_only() -> Result {
    let p = BlobProxy::start(&azurite::server()?.endpoint_url())?;
    assert_eq!(p.addr().ip(), std::net::Ipv4Addr::LOCALHOST);
    // 127.0.0.2 is this machine too (all of 127/8 is loopback on Linux): a socket bound
    // there (or to every address) answers, the proxy's must not.
    let control = TcpListener::bind("127.0.0.2:0")?;
    let probe = |port: u16| {
        TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 2], port)),
            Duration::from_secs(2),
        )
    };
    probe(control.local_addr()?.port())
        .map_err(|e| format!("the probe itself does not reach 127.0.0.2: {e}"))?;
    assert!(
        probe(p.addr().port()).is_err(),
        "the proxy answers on 127.0.0.2"
    );
    // And it refuses an upstream off this machine.
    assert!(BlobProxy::start("http://192.0.2.1:10000/devstoreaccount1").is_err());
    assert!(BlobProxy::start("https://127.0.0.1:10000/devstoreaccount1").is_err());
    Ok(())
}

#[test]
fn a_fault_hits_only_the_requests_it_matches_and_only_as_often_as_asked() -> Result {
    let p = blob_proxy::proxied("matching")?;
    p.proxy.fault(Rule::once(
        Match::lease("renew"),
        Fault::fail_with(409, "LeaseIsBrokenAndCannotBeRenewed", None),
    ));
    let etag = p
        .client
        .put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only())?;
    p.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    // A fenced Put Blob and Set Metadata are not renewals.
    let etag = p.client.put_blob(
        BLOB,
        b"{\"a\":1}",
        JSON,
        &none(),
        Conditions::fenced(ID_A, &etag),
    )?;
    p.client
        .set_metadata(BLOB, &none(), Conditions::fenced(ID_A, &etag))?;
    assert_eq!(
        refused(p.client.renew_lease(BLOB, ID_A))?,
        (409, ErrorCode::LeaseIsBrokenAndCannotBeRenewed)
    );
    // Used up: the next renewal reaches Azurite.
    assert_eq!(p.client.renew_lease(BLOB, ID_A)?.id, ID_A);
    let log = p.proxy.log();
    let faulted: Vec<&Entry> = log.iter().filter(|e| e.fault.is_some()).collect();
    assert_eq!(faulted.len(), 1, "{}", summary(&log));
    assert_eq!(faulted[0].lease_action.as_deref(), Some("renew"));
    assert_eq!(
        faulted[0].upstream_status, None,
        "a synthetic answer is not forwarded"
    );
    p.proxy.clear();
    assert!(p.proxy.log().is_empty());
    p.client.release_lease(BLOB, ID_A)?;
    assert_eq!(p.proxy.log().len(), 1);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Azurite's behaviour under faults (the basis of B13, B14, B22)

/// B14's basis: an upload cut half way leaves the old bytes and the old ETag, and a retry
/// on the old ETag then succeeds.
#[test]
fn a_cut_upload_leaves_the_old_bytes_and_etag() -> Result {
    let p = blob_proxy::proxied("cut")?;
    let old = big(0);
    let etag = p
        .client
        .put_blob(BLOB, &old, JSON, &none(), Conditions::create_only())?;
    p.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    p.proxy
        .fault(Rule::once(Match::put_blob(), Fault::cut_request_body(0.5)));
    let new = big(1);
    let error =
        no_answer(
            p.client
                .put_blob(BLOB, &new, JSON, &none(), Conditions::fenced(ID_A, &etag)),
        )?;
    // Give Azurite time to do whatever it does with half a body.
    std::thread::sleep(Duration::from_millis(500));
    let blob = p.container.client.get_blob(BLOB, None, None)?;
    assert!(blob.bytes == old, "the blob changed: {error}");
    assert_eq!(blob.etag, etag);
    assert_eq!(blob.lease.state, LeaseState::Leased);
    let log = p.proxy.log();
    let cut = puts_of_blob(&log);
    let cut = cut.last().ok_or("no Put Blob logged")?;
    assert_eq!(cut.fault.as_deref(), Some("cut_request_body(0.5)"));
    assert_eq!(
        (cut.status, cut.upstream_status),
        (None, None),
        "{}",
        summary(&log)
    );
    assert_eq!(cut.body_len, 1 << 20);
    assert!(
        cut.error
            .as_deref()
            .is_some_and(|e| e.contains("cut after 524288 of 1048576")),
        "{cut:?}"
    );
    // The retry on the old ETag goes through.
    let etag2 = p
        .client
        .put_blob(BLOB, &new, JSON, &none(), Conditions::fenced(ID_A, &etag))?;
    assert_ne!(etag2, etag);
    assert!(p.container.client.get_blob(BLOB, None, None)?.bytes == new);
    Ok(())
}

/// B13's basis: Azurite commits the write, the client never hears: the blob holds the new
/// bytes and a new ETag (the one of the lost answer) although the call failed.
#[test]
fn a_lost_answer_after_a_commit_leaves_the_new_bytes_and_a_new_etag() -> Result {
    let p = blob_proxy::proxied("dropped")?;
    let etag = p.client.put_blob(
        BLOB,
        b"{\"serial\":1}",
        JSON,
        &none(),
        Conditions::create_only(),
    )?;
    p.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    p.proxy.fault(Rule::once(
        Match::put_blob(),
        Fault::DropResponseAfterCommit,
    ));
    let new = b"{\"serial\":2}";
    let error =
        no_answer(
            p.client
                .put_blob(BLOB, new, JSON, &none(), Conditions::fenced(ID_A, &etag)),
        )?;
    let log = p.proxy.log();
    let puts = puts_of_blob(&log);
    let dropped = puts.last().ok_or("no Put Blob logged")?;
    assert_eq!(dropped.fault.as_deref(), Some("drop_response_after_commit"));
    assert_eq!((dropped.status, dropped.upstream_status), (None, Some(201)));
    let lost_etag = dropped
        .upstream_header("etag")
        .ok_or("Azurite's answer had no ETag")?;
    let blob = p.container.client.get_blob(BLOB, None, None)?;
    assert_eq!(blob.bytes, new, "{error}");
    assert_ne!(blob.etag, etag);
    assert_eq!(blob.etag, lost_etag);
    // So a retry on the old ETag is refused: the backend must read before it retries.
    assert_eq!(
        refused(
            p.client
                .put_blob(BLOB, new, JSON, &none(), Conditions::fenced(ID_A, &etag))
        )?,
        (412, ErrorCode::ConditionNotMet)
    );
    // The lease is still held by the writer.
    p.client.renew_lease(BLOB, ID_A)?;
    Ok(())
}

/// The client retries 503 `ServerBusy` after `Retry-After` (the log shows two requests,
/// the second after the wait), and does not retry 500 `OperationTimedOut` (outcome
/// unknown: for the backend to find out).
#[test]
fn a_busy_service_is_retried_after_retry_after_and_a_timeout_is_not() -> Result {
    let p = blob_proxy::proxied("busy")?;
    let etag = p
        .client
        .put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only())?;
    p.proxy.clear();
    p.proxy
        .fault(Rule::once(Match::put_blob(), Fault::server_busy(1)));
    let started = Instant::now();
    let etag2 = p.client.put_blob(
        BLOB,
        b"{\"a\":1}",
        JSON,
        &none(),
        Conditions {
            if_match: Some(&etag),
            ..Conditions::default()
        },
    )?;
    assert!(started.elapsed() >= Duration::from_secs(1));
    let log = p.proxy.log();
    assert_eq!(log.len(), 2, "{}", summary(&log));
    let (busy, ok) = (&log[0], &log[1]);
    assert_eq!(
        (busy.status, busy.upstream_status, busy.fault.as_deref()),
        (Some(503), None, Some("fail_with(503 ServerBusy)"))
    );
    assert_eq!((ok.status, ok.upstream_status), (Some(201), Some(201)));
    assert_eq!(ok.if_match.as_deref(), Some(etag.as_str()));
    let answered = busy.answered.ok_or("the busy answer has no time")?;
    let waited = ms(answered, ok.received);
    assert!(
        waited >= 990,
        "retried after {waited} ms, Retry-After was 1 s"
    );
    assert!(waited < 5000, "retried after {waited} ms");
    assert_eq!(ok.upstream_header("etag"), Some(etag2.as_str()));

    p.proxy.clear();
    p.proxy
        .fault(Rule::once(Match::put_blob(), Fault::operation_timed_out()));
    let result = p.client.put_blob(
        BLOB,
        b"{\"a\":2}",
        JSON,
        &none(),
        Conditions {
            if_match: Some(&etag2),
            ..Conditions::default()
        },
    );
    match &result {
        Err(StorageError::Blob(e)) => {
            assert_eq!((e.status, e.code.as_str()), (500, "OperationTimedOut"));
            // The message is read from Azure's XML body, without the request id.
            assert_eq!(
                e.message,
                "Operation could not be completed within the specified time."
            );
        }
        other => return Err(format!("expected 500 OperationTimedOut, got {other:?}").into()),
    }
    assert_eq!(p.proxy.log().len(), 1, "{}", summary(&p.proxy.log()));
    // Nothing reached Azurite.
    assert_eq!(p.container.client.get_blob(BLOB, None, None)?.etag, etag2);
    Ok(())
}

/// What Azurite does with a renewal that arrives after its 15-s lease expired (design B.2
/// and Azure/Azurite#2352), three blobs at once so that the test waits once (~17 s):
/// - A, untouched since: the renewal is granted (Azure does the same: an expired lease can
///   be renewed while the blob was not modified or leased again);
/// - B, overwritten by someone else after the expiry: Azurite still grants it (Azure
///   refuses), so only `If-Match` fences the late writer, and it does;
/// - C, renewed with an id that was never its lease's.
#[test]
fn a_renewal_delayed_past_the_lease_expiry() -> Result {
    let p = blob_proxy::proxied("late-renew")?;
    let direct = &p.container.client;
    let (a, b, c) = ("a.json", "b.json", "c.json");
    let mut etags = Vec::new();
    for blob in [a, b, c] {
        etags.push(direct.put_blob(blob, b"{}", JSON, &none(), Conditions::create_only())?);
    }
    let acquired = Instant::now();
    for blob in [a, b, c] {
        direct.acquire_lease(
            blob,
            LeaseDuration::Seconds(15),
            Some(ID_A),
            Conditions::default(),
        )?;
    }
    let delay = Duration::from_secs(17);
    p.proxy
        .fault(Rule::always(Match::lease("renew"), Fault::delay(delay)));
    let (renew_a, renew_b, renew_c, intruder) = std::thread::scope(|s| {
        let ra = s.spawn(|| p.client.renew_lease(a, ID_A));
        let rb = s.spawn(|| p.client.renew_lease(b, ID_A));
        let rc = s.spawn(|| p.client.renew_lease(c, ID_B));
        // After the expiry (15 s) and before the renewals arrive (17 s), someone writes B
        // without a lease (an expired lease holds nobody off).
        std::thread::sleep(Duration::from_millis(15_800).saturating_sub(acquired.elapsed()));
        let props = direct.get_properties(b, None);
        let intruder =
            direct.put_blob(b, b"{\"intruder\":1}", JSON, &none(), Conditions::default());
        (ra.join(), rb.join(), rc.join(), (props, intruder))
    });
    let (props, intruder) = intruder;
    assert_eq!(props?.lease.state, LeaseState::Expired);
    let intruder_etag = intruder?;
    let log = p.proxy.log();
    let renewals: Vec<&Entry> = log
        .iter()
        .filter(|e| e.lease_action.as_deref() == Some("renew"))
        .collect();
    assert_eq!(renewals.len(), 3, "{}", summary(&log));
    for r in &renewals {
        let answered = r
            .answered
            .ok_or(format!("a renewal without an answer: {r:?}"))?;
        // Sent at once, held 17 s: it reached Azurite ≥ 2 s after the lease ended.
        assert!(ms(acquired, r.received) < 1500, "{}", r.summary());
        assert!(ms(r.received, answered) >= 17_000, "{}", r.summary());
    }
    let renew_a = renew_a.map_err(|_| "renew a")?;
    let renew_b = renew_b.map_err(|_| "renew b")?;
    let renew_c = renew_c.map_err(|_| "renew c")?;
    let lease_of = |blob: &str| {
        direct
            .get_properties(blob, None)
            .map(|p| format!("{:?}", p.lease.state))
            .unwrap_or_else(|e| e.to_string())
    };
    let fenced_write = |blob: &str, etag: &str| {
        said(direct.put_blob(
            blob,
            b"{\"late\":1}",
            JSON,
            &none(),
            Conditions::fenced(ID_A, etag),
        ))
    };
    let facts = [
        // A, untouched: the late renewal is granted, the lease holds again and the holder's
        // fenced write goes through.
        format!("A renew: {}", said(renew_a.map(|l| l.id))),
        format!("A lease: {}", lease_of(a)),
        format!(
            "A fenced write: {}",
            fenced_write(a, &etags[0]).split(' ').next().unwrap_or("")
        ),
        // B, written by another after the expiry: Azurite 3.37.0 reset the lease on that
        // write (its BlobWriteLeaseSyncer), so the late renewal is refused as Azure does;
        // the late writer is stopped either way.
        format!("B renew: {}", said(renew_b.map(|l| l.id))),
        format!("B lease: {}", lease_of(b)),
        format!("B fenced write: {}", fenced_write(b, &etags[1])),
        // C, renewed with an id that never held it (ID_B).
        format!("C renew: {}", said(renew_c.map(|l| l.id))),
        format!("C lease: {}", lease_of(c)),
    ];
    assert_eq!(
        facts,
        [
            format!("A renew: ok {ID_A}"),
            "A lease: Leased".to_owned(),
            "A fenced write: ok".to_owned(),
            "B renew: 409 LeaseIdMismatchWithLeaseOperation".to_owned(),
            "B lease: Available".to_owned(),
            // If-Match is judged first: the writer learns the blob changed.
            "B fenced write: 412 ConditionNotMet".to_owned(),
            // Azurite's divergence: the expired lease is renewed for its old id whatever id
            // the renewal names (Azure answers 409 LeaseIdMismatchWithLeaseOperation). A
            // renewal's answer must be checked for the renewer's own id.
            format!("C renew: ok {ID_A}"),
            "C lease: Leased".to_owned(),
        ]
    );
    assert_eq!(direct.get_blob(b, None, None)?.etag, intruder_etag);
    Ok(())
}

/// The log shows what B5 and B11 assert on: the lease id of every lease call and write,
/// the proposed id of the acquire, and `If-Match` with the ETag of the write before.
#[test]
fn the_log_records_lease_ids_and_if_match_of_fenced_writes() -> Result {
    let p = blob_proxy::proxied("fenced-log")?;
    let mut etag = p
        .client
        .put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only())?;
    p.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    let mut meta = Metadata::new();
    meta.insert("pimplanlock".to_owned(), "e30=".to_owned());
    etag = p
        .client
        .set_metadata(BLOB, &meta, Conditions::fenced(ID_A, &etag))?;
    let mut sent = Vec::new();
    for serial in 1..=2 {
        sent.push(etag.clone());
        etag = p.client.put_blob(
            BLOB,
            format!("{{\"serial\":{serial}}}").as_bytes(),
            JSON,
            &meta,
            Conditions::fenced(ID_A, &etag),
        )?;
    }
    p.client.release_lease(BLOB, ID_A)?;
    let log = p.proxy.log();
    let shape: Vec<(String, Option<String>, Option<String>)> = log
        .iter()
        .map(|e| (e.method.clone(), e.comp(), e.lease_action.clone()))
        .collect();
    let want = |m: &str, comp: Option<&str>, action: Option<&str>| {
        (
            m.to_owned(),
            comp.map(str::to_owned),
            action.map(str::to_owned),
        )
    };
    assert_eq!(
        shape,
        [
            want("PUT", None, None),
            want("PUT", Some("lease"), Some("acquire")),
            want("PUT", Some("metadata"), None),
            want("PUT", None, None),
            want("PUT", None, None),
            want("PUT", Some("lease"), Some("release")),
        ],
        "{}",
        summary(&log)
    );
    assert_eq!(log[0].if_none_match.as_deref(), Some("*"));
    assert_eq!(log[0].lease_id, None);
    assert_eq!(log[1].header("x-ms-proposed-lease-id"), Some(ID_A));
    assert_eq!(log[1].header("x-ms-lease-duration"), Some("60"));
    for (write, etag) in log[3..5].iter().zip(&sent) {
        assert_eq!(write.lease_id.as_deref(), Some(ID_A), "{}", write.summary());
        assert_eq!(write.if_match.as_deref(), Some(etag.as_str()));
        assert_eq!(write.header("x-ms-meta-pimplanlock"), Some("e30="));
        assert_eq!(write.status, Some(201));
    }
    // Each write's If-Match is the ETag Azurite gave the write before.
    for pair in log[2..5].windows(2) {
        assert_eq!(pair[0].upstream_header("etag"), pair[1].if_match.as_deref());
    }
    assert_eq!(log[5].lease_id.as_deref(), Some(ID_A));
    assert!(log.windows(2).all(|w| w[0].received <= w[1].received));
    Ok(())
}

/// A held request reaches Azurite late; a held answer leaves Azurite at once and reaches
/// the client late: the log tells them apart (B22 measures lease validity from the
/// renewal's send). A SAS works through the proxy, and its signature is not in the log.
#[test]
fn held_requests_and_held_answers_are_timed_and_a_sas_is_not_logged() -> Result {
    let p = blob_proxy::proxied("held")?;
    p.client
        .put_blob(BLOB, b"{}", JSON, &none(), Conditions::create_only())?;
    p.client.acquire_lease(
        BLOB,
        LeaseDuration::Seconds(60),
        Some(ID_A),
        Conditions::default(),
    )?;
    let hold = Duration::from_millis(700);
    p.proxy.clear();
    p.proxy
        .fault(Rule::once(Match::lease("renew"), Fault::delay(hold)));
    p.proxy.fault(Rule::once(
        Match::lease("renew"),
        Fault::delay_response(hold),
    ));
    p.client.renew_lease(BLOB, ID_A)?;
    p.client.renew_lease(BLOB, ID_A)?;
    let log = p.proxy.log();
    assert_eq!(log.len(), 2, "{}", summary(&log));
    let times = |e: &Entry| -> Result<(u128, u128)> {
        let forwarded = e.forwarded.ok_or("not forwarded")?;
        let answered = e.answered.ok_or("not answered")?;
        Ok((ms(e.received, forwarded), ms(forwarded, answered)))
    };
    let (late_send, _) = times(&log[0])?;
    assert_eq!(log[0].fault.as_deref(), Some("delay(700 ms)"));
    assert!(
        late_send >= 700,
        "{}: sent after {late_send} ms",
        log[0].summary()
    );
    let (send, late_answer) = times(&log[1])?;
    assert_eq!(log[1].fault.as_deref(), Some("delay_response(700 ms)"));
    assert!(send < 300, "{}: sent after {send} ms", log[1].summary());
    assert!(
        late_answer >= 700,
        "{}: answered {late_answer} ms after",
        log[1].summary()
    );
    assert_eq!(
        (log[1].status, log[1].upstream_status),
        (Some(200), Some(200))
    );

    let sas = azurite::account_sas("rwdlac")?;
    let query = sas.as_query().to_owned();
    let signature = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("sig="))
        .ok_or("the SAS has no sig")?
        .to_owned();
    let with_sas = blob_proxy::client(&p.proxy, &p.container.name, Credential::Sas(sas))?;
    p.proxy.clear();
    assert_eq!(with_sas.get_blob(BLOB, None, None)?.bytes, b"{}");
    let log = p.proxy.log();
    assert_eq!(log.len(), 1);
    assert!(log[0].query.contains("sig=[redacted]"), "{}", log[0].query);
    assert!(!format!("{log:?}").contains(&signature));
    assert_eq!(log[0].query_param("sp").as_deref(), Some("rwdlac"));
    Ok(())
}
