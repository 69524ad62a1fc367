//! The remote state's backend (`src/state/azure/backend.rs`) against Azurite, through the
//! library's seam (`StateBackend`, `StateLock`): reads without a lease, the lease as the
//! lock (one holder, waits, the holder named), renewals, writes fenced by the lease id and
//! `If-Match`, a broken lease and an out-of-band write stopping the writer, the snapshot
//! before the first write, refused credentials said without the key, a killed holder's
//! lease lapsing by itself, and the credential read from the environment.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command. One Azurite runs for the whole binary.

mod common;

use std::error::Error;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::azurite::{self, TestContainer};
use pimplan::config::model::{AzureBlobLocation, StorageAuth};
use pimplan::state::StateError;
use pimplan::state::azure::{
    AzureBlob, AzureLock, Conditions, Credential, LockRecord, Metadata, SharedKey, open_backend,
};
use pimplan::state::backend::{LockInfo, StateBackend, StateLock, Unlock};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const KEY: &str = "prod/pimplan.state.json";

fn location(c: &TestContainer) -> AzureBlobLocation {
    AzureBlobLocation {
        account: azurite::ACCOUNT.to_owned(),
        container: c.name.clone(),
        key: KEY.to_owned(),
        endpoint: c.server.endpoint_url(),
        auth: StorageAuth::SharedKey,
        snapshot: true,
    }
}

fn backend(c: &TestContainer) -> Result<AzureBlob> {
    Ok(AzureBlob::with_credential(
        &location(c),
        azurite::shared_key()?,
    )?)
}

fn holder(command: &str) -> LockInfo {
    LockInfo::this_process(command)
}

/// The error of a call that must fail.
fn failed<T>(result: std::result::Result<T, StateError>) -> Result<StateError> {
    match result {
        Ok(_) => Err("expected an error, got success".into()),
        Err(e) => Ok(e),
    }
}

/// A well-formed key (64 bytes, base64) that is not the account's.
fn wrong_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([7u8; 64])
}

/// The metadata of the state blob now (read without the lease).
fn metadata(c: &TestContainer) -> Result<Metadata> {
    Ok(c.client.get_properties(KEY, None)?.metadata)
}

#[test]
fn no_blob_an_empty_blob_and_a_missing_container() -> Result {
    let c = azurite::container("state-empty")?;
    let b = backend(&c)?;
    assert_eq!(b.get()?, None, "no blob is no state");
    c.client.put_blob(
        KEY,
        b"",
        "application/json",
        &Metadata::new(),
        Conditions::default(),
    )?;
    assert_eq!(
        b.get()?,
        None,
        "an empty blob (a lock's placeholder) is no state"
    );
    assert!(b.lock_note().is_none());
    let mut gone = location(&c);
    gone.container = "no-such-container".to_owned();
    let missing = AzureBlob::with_credential(&gone, azurite::shared_key()?)?;
    let error = failed(missing.get())?;
    assert!(
        matches!(&error, StateError::ContainerNotFound { container, .. } if container == "no-such-container"),
        "{error:?}"
    );
    assert!(error.to_string().contains("no-such-container"), "{error}");
    assert!(
        error.to_string().contains("404 ContainerNotFound"),
        "{error}"
    );
    Ok(())
}

#[test]
fn writes_under_the_lease_round_trip_keep_the_record_and_are_fenced() -> Result {
    let c = azurite::container("state-round-trip")?;
    let b = backend(&c)?;
    let me = holder("pimplan apply");
    let mut lock = b.lock_blob(me.clone(), Duration::ZERO)?;
    assert_eq!(lock.lease_id(), me.id, "the lease id is the lock's id");
    // The placeholder was created to be leased; the holder is in its metadata.
    let props = c.client.get_properties(KEY, None)?;
    assert_eq!(props.content_length, 0);
    let record = LockRecord::of(&props.metadata).ok_or("no pimplanlock record")?;
    assert_eq!(
        (record.info.id.as_str(), record.info.pid),
        (me.id.as_str(), me.pid)
    );
    assert!(b.lock_note().is_some_and(|n| n.contains("pimplan apply")));
    assert_eq!(lock.get()?, None);
    let mut etags = vec![lock.etag().to_owned()];
    for text in ["one", "two", "three"] {
        lock.put(text.as_bytes())?;
        etags.push(lock.etag().to_owned());
        // B6: the record survives every write (Put Blob replaces the metadata).
        assert!(LockRecord::of(&metadata(&c)?).is_some(), "after {text}");
    }
    etags.dedup();
    assert_eq!(etags.len(), 4, "every write is a new version: {etags:?}");
    let seen = b.get()?.ok_or("no state")?;
    assert_eq!(
        (seen.bytes.as_slice(), seen.version.as_str()),
        (&b"three"[..], lock.etag())
    );
    // Another writer without the lease is refused while it is held.
    assert!(
        c.client
            .put_blob(
                KEY,
                b"x",
                "application/json",
                &Metadata::new(),
                Conditions::default()
            )
            .is_err()
    );
    drop(lock);
    // Released: no record, no lease, the state as written.
    let props = c.client.get_properties(KEY, None)?;
    assert!(
        !props.metadata.contains_key("pimplanlock"),
        "{:?}",
        props.metadata
    );
    assert!(b.lock_note().is_none());
    assert_eq!(b.get()?.map(|s| s.bytes), Some(b"three".to_vec()));
    assert!(b.force_unlock(Unlock::Checked)?.is_none(), "not locked");
    // A write before a read under the lock is refused, as for a local state.
    let mut again = b.lock_blob(holder("pimplan import"), Duration::ZERO)?;
    assert!(matches!(
        failed(again.put(b"x"))?,
        StateError::Changed { .. }
    ));
    Ok(())
}

#[test]
fn a_second_lock_waits_then_fails_naming_the_holder() -> Result {
    let c = azurite::container("state-second")?;
    let b = backend(&c)?;
    let first = holder("pimplan apply");
    let lock = b.lock_blob(first.clone(), Duration::ZERO)?;
    let started = Instant::now();
    let error = failed(b.lock_blob(holder("pimplan apply"), Duration::from_secs(1)))?;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let text = error.to_string();
    assert!(matches!(error, StateError::Locked(_)), "{error:?}");
    for part in [
        first.user.as_str(),
        first.host.as_str(),
        &first.pid.to_string(),
        first.since.as_str(),
        "`pimplan apply`",
        &format!("lock id {}", first.id),
        &format!(
            "run `pimplan force-unlock {}` if that run is gone; the lease expires by itself within 60 s",
            first.id
        ),
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    // Released while another waits: the waiter gets it.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(lock);
    });
    let started = Instant::now();
    let second = b.lock_blob(holder("pimplan apply"), Duration::from_secs(30))?;
    assert!(started.elapsed() >= Duration::from_millis(1000));
    releaser.join().map_err(|_| "the releasing thread failed")?;
    assert_ne!(second.lease_id(), first.id);
    Ok(())
}

#[test]
fn twenty_lockers_at_once_exactly_one_holds() -> Result {
    let c = azurite::container("state-race")?;
    let b = Arc::new(backend(&c)?);
    let start = Arc::new(Barrier::new(20));
    let done = Arc::new(Barrier::new(20));
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let (b, start, done) = (b.clone(), start.clone(), done.clone());
            std::thread::spawn(move || {
                start.wait();
                let got = b.lock_blob(holder("pimplan apply"), Duration::ZERO);
                // Every lock is held until all have tried.
                done.wait();
                got.map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut won = 0;
    for t in threads {
        match t.join().map_err(|_| "a locking thread failed")? {
            Ok(()) => won += 1,
            Err(e) => assert!(e.contains("is locked by"), "{e}"),
        }
    }
    assert_eq!(won, 1);
    Ok(())
}

#[test]
fn the_lease_is_renewed_in_the_background() -> Result {
    let c = azurite::container("state-renew")?;
    let b = backend(&c)?.with_lease_seconds(15);
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    // 15 s lease, renewed every 3.75 s: after 20 s it is still held, by renewals only.
    std::thread::sleep(Duration::from_secs(20));
    assert!(lock.renewals() >= 4, "{} renewals", lock.renewals());
    assert!(
        lock.valid_for() > Duration::from_secs(5),
        "{:?}",
        lock.valid_for()
    );
    lock.ensure_valid_for(Duration::from_secs(10))?;
    // Longer than the lease can be known held for: refused, said as a lost lease.
    let error = failed(lock.ensure_valid_for(Duration::from_secs(50)))?;
    assert!(
        error.to_string().starts_with("lost the state lease"),
        "{error}"
    );
    lock.put(b"after 20 s")?;
    assert_eq!(b.get()?.map(|s| s.bytes), Some(b"after 20 s".to_vec()));
    Ok(())
}

#[test]
fn a_broken_lease_stops_the_next_check_and_the_next_write() -> Result {
    let c = azurite::container("state-break")?;
    let b = backend(&c)?;
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    lock.put(b"one")?;
    lock.ensure_valid_for(Duration::from_secs(50))?;
    // force-unlock without --force names the holder and breaks nothing.
    let refused = failed(b.force_unlock(Unlock::Checked))?;
    let text = refused.to_string();
    assert!(
        text.contains("force-unlock --force") && text.contains("still runs on this machine"),
        "{text}"
    );
    lock.ensure_valid_for(Duration::from_secs(50))?;
    // --force breaks the lease whoever holds it, a running holder too (it is fenced off).
    let released = b.force_unlock(Unlock::Force)?.ok_or("nothing released")?;
    assert_eq!(released.why, "--force: its lease was broken");
    assert_eq!(
        released.holder.map(|h| h.id),
        Some(lock.lease_id().to_owned())
    );
    let error = failed(lock.ensure_valid_for(Duration::from_secs(50)))?;
    assert!(matches!(&error, StateError::LeaseLost { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("lost the state lease"),
        "{error}"
    );
    let error = failed(lock.put(b"two"))?;
    assert!(
        error.to_string().starts_with("lost the state lease"),
        "{error}"
    );
    assert_eq!(b.get()?.map(|s| s.bytes), Some(b"one".to_vec()));
    // A second lock is free to take it.
    drop(b.lock_blob(holder("pimplan apply"), Duration::ZERO)?);
    Ok(())
}

#[test]
fn a_broken_lease_found_by_the_write_itself() -> Result {
    let c = azurite::container("state-break-put")?;
    let b = backend(&c)?;
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    c.client.break_lease(KEY, Some(0))?;
    let error = failed(lock.put(b"two"))?;
    assert!(matches!(&error, StateError::LeaseLost { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("LeaseNotPresentWithBlobOperation"),
        "{error}"
    );
    // Lost for good.
    assert!(failed(lock.ensure_valid_for(Duration::from_secs(1))).is_ok());
    assert_eq!(b.get()?, None);
    Ok(())
}

#[test]
fn an_out_of_band_write_stops_the_next_write_as_changed() -> Result {
    let c = azurite::container("state-changed")?;
    let b = backend(&c)?;
    let me = holder("pimplan apply");
    let mut lock = b.lock_blob(me.clone(), Duration::ZERO)?;
    lock.get()?;
    lock.put(b"one")?;
    let fenced_on = lock.etag().to_owned();
    // Someone breaks the lease, writes the blob, and leases it again with the same id
    // (what a renewal after expiry does on Azurite, Azure/Azurite#2352): the lease id
    // fence passes, If-Match does not.
    c.client.break_lease(KEY, Some(0))?;
    c.client.put_blob(
        KEY,
        b"hand",
        "application/json",
        &Metadata::new(),
        Conditions::default(),
    )?;
    c.client.acquire_lease(
        KEY,
        pimplan::state::azure::LeaseDuration::Seconds(60),
        Some(&me.id),
        Conditions::default(),
    )?;
    let error = failed(lock.put(b"two"))?;
    assert!(
        matches!(&error, StateError::RemoteChanged { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("the remote state") && text.contains("changed under this apply"),
        "{text}"
    );
    assert!(text.contains(&fenced_on), "{text}");
    assert_eq!(b.get()?.map(|s| s.bytes), Some(b"hand".to_vec()));
    Ok(())
}

#[test]
fn the_first_write_of_a_lock_snapshots_the_state_before_it() -> Result {
    let c = azurite::container("state-snapshot")?;
    let b = backend(&c)?;
    {
        // The first state: an empty placeholder is not snapshotted.
        let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
        lock.get()?;
        lock.put(b"serial 1")?;
        assert!(lock.snapshots().is_empty());
        // Nor is this lock's own first write, when it writes again: the backup is the
        // blob as read under the lease (empty here), never a version the lock wrote.
        lock.put(b"serial 1 again")?;
        assert!(lock.snapshots().is_empty(), "{:?}", lock.snapshots());
        lock.put(b"serial 1")?;
    }
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    lock.keep_backup(b"serial 1")?;
    lock.put(b"serial 2")?;
    lock.put(b"serial 3")?;
    assert_eq!(lock.snapshots().len(), 1, "one snapshot per lock");
    let taken = lock.snapshots()[0].clone();
    drop(lock);
    let listed: Vec<_> = c
        .client
        .list_blobs(Some(KEY))?
        .into_iter()
        .filter_map(|i| i.snapshot)
        .collect();
    assert_eq!(listed, vec![taken.clone()]);
    let kept = c.client.get_blob(KEY, Some(&taken), None)?;
    assert_eq!(kept.bytes, b"serial 1");
    assert_eq!(b.get()?.map(|s| s.bytes), Some(b"serial 3".to_vec()));
    // Without `snapshot`, none.
    let mut plain = location(&c);
    plain.snapshot = false;
    let b = AzureBlob::with_credential(&plain, azurite::shared_key()?)?;
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    lock.keep_backup(b"serial 3")?;
    lock.put(b"serial 4")?;
    assert!(lock.snapshots().is_empty());
    Ok(())
}

#[test]
fn a_wrong_key_is_refused_credentials_without_the_key() -> Result {
    let c = azurite::container("state-wrong-key")?;
    let wrong = &wrong_key();
    let b = AzureBlob::with_credential(
        &location(&c),
        Credential::SharedKey(SharedKey::new(azurite::ACCOUNT, wrong)?),
    )?;
    for error in [
        failed(b.get())?,
        failed(
            b.lock_blob(holder("pimplan apply"), Duration::ZERO)
                .map(|_| ()),
        )?,
    ] {
        assert!(
            matches!(&error, StateError::CredentialsRefused { status: 403, .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.starts_with("storage rejected the credentials (403 "),
            "{text}"
        );
        assert!(text.contains("AZURE_STORAGE_KEY"), "{text}");
        for secret in [wrong, azurite::KEY] {
            assert!(!text.contains(secret), "{text}");
            assert!(!format!("{error:?}").contains(secret));
        }
    }
    Ok(())
}

#[test]
fn a_killed_holders_lease_lapses_by_itself() -> Result {
    let c = azurite::container("state-killed")?;
    let b = backend(&c)?.with_lease_seconds(15);
    let mut lock: AzureLock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    lock.put(b"complete")?;
    // As after SIGKILL: nothing released, nothing renewed.
    lock.abandon();
    let error = failed(
        b.lock_blob(holder("pimplan apply"), Duration::ZERO)
            .map(|_| ()),
    )?;
    assert!(error.to_string().contains("is locked by"), "{error}");
    let started = Instant::now();
    let mut next = b.lock_blob(holder("pimplan apply"), Duration::from_secs(40))?;
    let waited = started.elapsed();
    assert!(waited <= Duration::from_secs(20), "{waited:?}");
    assert_eq!(next.get()?.map(|s| s.bytes), Some(b"complete".to_vec()));
    next.put(b"next")?;
    Ok(())
}

#[test]
fn the_holder_names_its_github_actions_run() -> Result {
    let record = LockRecord {
        info: holder("pimplan apply"),
        github_run_id: Some("42".to_owned()),
        github_server_url: Some("https://github.com".to_owned()),
        github_repository: Some("contoso/pim".to_owned()),
    };
    let back = LockRecord::decode(&record.encode()).ok_or("the record does not decode")?;
    assert!(
        back.to_string()
            .ends_with(" in GitHub Actions run https://github.com/contoso/pim/actions/runs/42"),
        "{back}"
    );
    assert!(LockRecord::decode("not base64 json").is_none());
    Ok(())
}

#[test]
fn a_remote_lock_caps_graph_requests_at_40_seconds() -> Result {
    let c = azurite::container("state-timeout")?;
    let b = backend(&c)?;
    assert_eq!(b.max_request_timeout(), Some(Duration::from_secs(40)));
    let lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    assert_eq!(lock.max_request_timeout(), Some(Duration::from_secs(40)));
    Ok(())
}

/// The environment of a child run of this test binary ([`child_open_backend`]).
const CHILD: &str = "PIMPLAN_TEST_AZURE_STATE_CHILD";

/// What `open_backend` makes of the environment it runs in, run as a child process (the
/// environment is the process's: a test cannot change it for itself alone).
fn open_in_child(
    c: &TestContainer,
    auth: &str,
    endpoint: &str,
    env: &[(&str, &str)],
) -> Result<String> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args([
        "--ignored",
        "--exact",
        "child_open_backend",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(CHILD, format!("{auth}|{endpoint}|{}", c.name))
    .env_remove("AZURE_STORAGE_KEY")
    .env_remove("AZURE_STORAGE_SAS_TOKEN")
    .env_remove("PIMPLAN_STORAGE_TOKEN")
    .env_remove("AZURE_TENANT_ID")
    .env_remove("AZURE_CLIENT_ID")
    .env_remove("PIMPLAN_TEST_LEASE_SECONDS");
    for var in [
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "PIMPLAN_GRAPH_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .ok_or_else(|| {
            format!(
                "the child said nothing: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    Ok(line.to_owned())
}

/// Run only as a child of [`open_backend_reads_its_credential_from_the_environment`].
#[test]
#[ignore = "run by open_backend_reads_its_credential_from_the_environment in a child process"]
fn child_open_backend() -> Result {
    let spec = std::env::var(CHILD)?;
    let mut parts = spec.split('|');
    let (auth, endpoint, container) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let location = AzureBlobLocation {
        account: azurite::ACCOUNT.to_owned(),
        container: container.to_owned(),
        key: KEY.to_owned(),
        endpoint: endpoint.to_owned(),
        auth: match auth {
            "sas" => StorageAuth::Sas,
            "entra" => StorageAuth::Entra,
            _ => StorageAuth::SharedKey,
        },
        snapshot: true,
    };
    // As the command line does at start: `auth: entra` signs in as Graph does.
    pimplan::graph::storage_token::register();
    let result = open_backend(&location).and_then(|b| b.get());
    match result {
        Ok(state) => println!("RESULT ok {}", state.map_or(0, |s| s.bytes.len())),
        Err(e) => println!("RESULT err {e}"),
    }
    Ok(())
}

#[test]
fn open_backend_reads_its_credential_from_the_environment() -> Result {
    let c = azurite::container("state-env")?;
    c.client.put_blob(
        KEY,
        b"12345",
        "application/json",
        &Metadata::new(),
        Conditions::default(),
    )?;
    let endpoint = c.server.endpoint_url();
    assert_eq!(
        open_in_child(
            &c,
            "shared_key",
            &endpoint,
            &[("AZURE_STORAGE_KEY", azurite::KEY)]
        )?,
        "ok 5"
    );
    let missing = open_in_child(&c, "shared_key", &endpoint, &[])?;
    assert!(
        missing.starts_with("err ") && missing.contains("AZURE_STORAGE_KEY is not set"),
        "{missing}"
    );
    let sas = azurite::account_sas("rwc")?;
    assert_eq!(
        open_in_child(
            &c,
            "sas",
            &endpoint,
            &[("AZURE_STORAGE_SAS_TOKEN", sas.as_query())]
        )?,
        "ok 5"
    );
    let missing = open_in_child(&c, "sas", &endpoint, &[])?;
    assert!(
        missing.contains("AZURE_STORAGE_SAS_TOKEN is not set"),
        "{missing}"
    );
    let missing = open_in_child(&c, "entra", &endpoint, &[])?;
    assert!(missing.contains("PIMPLAN_STORAGE_TOKEN"), "{missing}");
    // A Graph token is not a storage token.
    let graph = open_in_child(
        &c,
        "entra",
        &endpoint,
        &[("PIMPLAN_GRAPH_TOKEN", "graph-token-value")],
    )?;
    assert!(graph.contains("set PIMPLAN_STORAGE_TOKEN"), "{graph}");
    assert!(!graph.contains("graph-token-value"), "{graph}");
    // Plain http only to this machine.
    let remote = open_in_child(
        &c,
        "shared_key",
        "http://contosopimstate.blob.core.windows.net",
        &[("AZURE_STORAGE_KEY", azurite::KEY)],
    )?;
    assert!(remote.contains("plain http"), "{remote}");
    // A wrong key: refused, the key not shown.
    let wrong = &wrong_key();
    let refused = open_in_child(&c, "shared_key", &endpoint, &[("AZURE_STORAGE_KEY", wrong)])?;
    assert!(
        refused.contains("storage rejected the credentials (403"),
        "{refused}"
    );
    assert!(!refused.contains(wrong), "{refused}");
    Ok(())
}

/// A loopback proxy in front of Azurite that can fail the next Put Blob (of the blob
/// itself, not a lease or metadata call) in one of two ways, as design B.10 B13/B14 ask:
/// forward it whole and drop the answer (the write is committed, its writer never hears),
/// or forward half its body and hang up (Azurite keeps the old blob: uploads are
/// all-or-nothing). Every other request is passed on, one per connection.
mod proxy {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fault {
        None,
        DropAnswer,
        CutBody,
    }

    pub struct Proxy {
        pub port: u16,
        fault: Arc<Mutex<Fault>>,
        /// `METHOD target` of every request seen.
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Proxy {
        pub fn start(upstream: u16) -> std::io::Result<Proxy> {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let port = listener.local_addr()?.port();
            let fault = Arc::new(Mutex::new(Fault::None));
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (f, s) = (fault.clone(), seen.clone());
            std::thread::spawn(move || {
                for client in listener.incoming().map_while(Result::ok) {
                    let (f, s) = (f.clone(), s.clone());
                    std::thread::spawn(move || {
                        let _ = serve(client, upstream, &f, &s);
                    });
                }
            });
            Ok(Proxy { port, fault, seen })
        }

        /// Fail the next Put Blob so.
        pub fn fail_next_put(&self, fault: Fault) {
            *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
        }

        pub fn blob_puts(&self) -> usize {
            self.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|r| is_blob_put(r))
                .count()
        }
    }

    fn is_blob_put(request: &str) -> bool {
        request.starts_with("PUT ") && !request.contains("comp=") && !request.contains("restype=")
    }

    /// The head's lines without `Connection` and `Keep-Alive`, with `Connection: close`.
    fn closing(head: &str) -> String {
        let mut out: Vec<&str> = head
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .filter(|l| {
                let name = l
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                name != "connection" && name != "keep-alive"
            })
            .collect();
        out.push("Connection: close");
        format!("{}\r\n\r\n", out.join("\r\n"))
    }

    fn serve(
        client: TcpStream,
        upstream: u16,
        fault: &Mutex<Fault>,
        seen: &Mutex<Vec<String>>,
    ) -> std::io::Result<()> {
        let mut reader = BufReader::new(client.try_clone()?);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let first = head.lines().next().unwrap_or("").to_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let request = first
            .rsplit_once(' ')
            .map_or(first.as_str(), |(r, _)| r)
            .to_owned();
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.clone());
        let this = if is_blob_put(&request) {
            std::mem::replace(
                &mut *fault.lock().unwrap_or_else(|p| p.into_inner()),
                Fault::None,
            )
        } else {
            Fault::None
        };
        let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
        up.write_all(closing(&head).as_bytes())?;
        if this == Fault::CutBody {
            up.write_all(&body[..body.len() / 2])?;
            up.flush()?;
            let _ = up.shutdown(std::net::Shutdown::Both);
            let _ = client.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        up.write_all(&body)?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer)?;
        if this == Fault::DropAnswer {
            let _ = client.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(answer.len(), |p| p + 4);
        let (answer_head, answer_body) = answer.split_at(split);
        let mut out = client;
        out.write_all(closing(&String::from_utf8_lossy(answer_head)).as_bytes())?;
        out.write_all(answer_body)?;
        out.flush()
    }
}

/// The backend of `c`'s blob through `proxy`.
fn proxied(c: &TestContainer, proxy: &proxy::Proxy) -> Result<AzureBlob> {
    let mut at = location(c);
    at.endpoint = format!("http://127.0.0.1:{}/{}", proxy.port, azurite::ACCOUNT);
    Ok(AzureBlob::with_credential(&at, azurite::shared_key()?)?)
}

#[test]
fn a_write_whose_answer_was_lost_is_read_back_and_taken() -> Result {
    let c = azurite::container("state-lost-answer")?;
    let proxy = proxy::Proxy::start(c.server.port)?;
    let b = proxied(&c, &proxy)?;
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    lock.put(b"one")?;
    let puts = proxy.blob_puts();
    proxy.fail_next_put(proxy::Fault::DropAnswer);
    lock.put(b"two")?;
    assert_eq!(proxy.blob_puts(), puts + 1, "written once, not again");
    let now = c.client.get_blob(KEY, None, None)?;
    assert_eq!(
        (now.bytes.as_slice(), now.etag.as_str()),
        (&b"two"[..], lock.etag())
    );
    // Fenced on the version it found: the next write goes through.
    lock.put(b"three")?;
    assert_eq!(b.get()?.map(|s| s.bytes), Some(b"three".to_vec()));
    Ok(())
}

#[test]
fn a_cut_upload_leaves_the_old_state_and_is_written_once_more() -> Result {
    let c = azurite::container("state-cut-upload")?;
    let proxy = proxy::Proxy::start(c.server.port)?;
    let b = proxied(&c, &proxy)?;
    let mut lock = b.lock_blob(holder("pimplan apply"), Duration::ZERO)?;
    lock.get()?;
    lock.put(&vec![b'1'; 200_000])?;
    let before = c.client.get_blob(KEY, None, None)?.etag;
    assert_eq!(before, lock.etag());
    let puts = proxy.blob_puts();
    proxy.fail_next_put(proxy::Fault::CutBody);
    let second = vec![b'2'; 200_000];
    lock.put(&second)?;
    assert_eq!(proxy.blob_puts(), puts + 2, "the cut write, then once more");
    let now = c.client.get_blob(KEY, None, None)?;
    assert_eq!(now.bytes, second);
    assert_eq!(now.etag, lock.etag());
    Ok(())
}

/// A token endpoint on loopback that records each request's form and answers a token.
fn token_endpoint() -> Result<(u16, Arc<std::sync::Mutex<Vec<String>>>)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(std::result::Result::ok) {
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let (mut first, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if first.is_empty() {
                    first = line.trim().to_owned();
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            record
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(format!("{first} {}", String::from_utf8_lossy(&body)));
            let answer =
                r#"{"token_type":"Bearer","expires_in":3600,"access_token":"storage-token-value"}"#;
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    Ok((port, seen))
}

#[test]
fn entra_signs_in_as_for_graph_but_for_storage() -> Result {
    let c = azurite::container("state-entra")?;
    let (port, seen) = token_endpoint()?;
    let authority = format!("http://127.0.0.1:{port}");
    let result = open_in_child(
        &c,
        "entra",
        &c.server.endpoint_url(),
        &[
            ("AZURE_TENANT_ID", "contoso-tenant"),
            ("AZURE_CLIENT_ID", "pimplan-app"),
            ("AZURE_CLIENT_SECRET", "client-secret-value"),
            ("AZURE_AUTHORITY_HOST", &authority),
        ],
    )?;
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(seen.len(), 1, "one sign-in: {seen:?}");
    assert!(
        seen[0].starts_with("POST /contoso-tenant/oauth2/v2.0/token "),
        "{seen:?}"
    );
    assert!(
        seen[0].contains("scope=https%3A%2F%2Fstorage.azure.com%2F.default"),
        "{seen:?}"
    );
    assert!(seen[0].contains("client_id=pimplan-app"), "{seen:?}");
    // Azurite over http checks no bearer token; whatever it answered, no secret is shown.
    for secret in ["client-secret-value", "storage-token-value"] {
        assert!(!result.contains(secret), "{result}");
    }
    Ok(())
}
