//! The remote state end to end through the binary (issue 15; design remote-state.md B.5–B.8,
//! B.10): a workspace whose `state:` is an `azurerm` blob on Azurite, reached through the
//! fault proxy (tests/common/blob_proxy.rs), whose log shows every request pimplan made.
//! `AZURE_STORAGE_KEY` is the emulator's key; no output and no state may show it.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command.

mod common;

use std::path::Path;

use common::azurite::{self, KEY};
use common::blob_proxy::{Entry, Fault, Match, Rule};
use common::remote::{
    BLOB, Result, command, finish, is_put_blob, listing, no_secret, proxied, run, run_with,
    spawn_apply, state_yaml, state_yaml_with, summary, wait_for, workspace, workspace_of,
};
use common::{Run, eligible_workspace, flat};

/// B5 and B4: an apply through the proxy takes the lease, marks it, snapshots nothing yet
/// (a new blob) or the old version, writes fenced by lease id AND If-Match, clears the mark
/// and releases; the blob then holds the state; the workspace folder is untouched; a plan
/// reads without a lease and says what a local state would.
#[test]
fn apply_writes_the_blob_under_the_lease_fenced_and_nothing_locally() -> Result {
    let p = proxied("b5")?;
    let dir = workspace(&p, 3)?;
    let before = listing(dir.path())?;

    let applied = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let log = p.proxy.log();
    let all = summary(&log);

    // The first Acquire Lease finds no blob (404); the one after the creation takes it.
    let acquire = log
        .iter()
        .position(|e| e.lease_action.as_deref() == Some("acquire") && e.status == Some(201))
        .ok_or(format!("no lease acquired:\n{all}"))?;
    let release = log
        .iter()
        .rposition(|e| e.lease_action.as_deref() == Some("release"))
        .ok_or(format!("no lease release:\n{all}"))?;
    assert!(acquire < release, "{all}");
    assert_eq!(log[release].status, Some(200), "{all}");
    // Nothing after the release.
    assert_eq!(release, log.len() - 1, "{all}");
    // A missing blob is first created empty, only if it still is missing (`If-None-Match:
    // *`), before the lease can be taken on it; every other write is under the lease.
    let create = log
        .iter()
        .position(is_put_blob)
        .ok_or(format!("no Put Blob:\n{all}"))?;
    assert!(create < acquire, "{all}");
    assert_eq!(log[create].if_none_match.as_deref(), Some("*"), "{all}");
    assert_eq!(log[create].body_len, 0, "{all}");
    let puts: Vec<usize> = (0..log.len())
        .filter(|&i| i != create && is_put_blob(&log[i]))
        .collect();
    assert!(!puts.is_empty(), "no Put Blob under the lease:\n{all}");
    for &i in &puts {
        let e = &log[i];
        assert!(
            acquire < i && i < release,
            "a write outside the lease:\n{all}"
        );
        assert!(
            e.lease_id.is_some(),
            "#{} lacks x-ms-lease-id:\n{all}",
            e.seq
        );
        assert!(e.if_match.is_some(), "#{} lacks If-Match:\n{all}", e.seq);
        assert!(
            e.status.is_some_and(|s| s < 300),
            "#{} was refused:\n{all}",
            e.seq
        );
    }
    // Every metadata write and every snapshot is inside the lease, with its id.
    let metadata: Vec<usize> = (0..log.len())
        .filter(|&i| log[i].method == "PUT" && log[i].comp().as_deref() == Some("metadata"))
        .collect();
    assert!(
        metadata.len() >= 2,
        "the holder is not set and cleared:\n{all}"
    );
    for &i in &metadata {
        assert!(acquire < i && i < release, "{all}");
        assert!(log[i].lease_id.is_some(), "{all}");
    }
    let first_put = puts[0];
    assert!(
        metadata[0] < first_put,
        "the holder is set after the write:\n{all}"
    );
    assert!(
        *metadata.last().unwrap_or(&0) > *puts.last().unwrap_or(&0),
        "the holder is not cleared after the last write:\n{all}"
    );
    // The last metadata write clears the holder: it sends no x-ms-meta- header.
    let last_meta = &log[*metadata.last().unwrap_or(&0)];
    assert!(
        !last_meta
            .headers
            .iter()
            .any(|(k, _)| k.to_ascii_lowercase().starts_with("x-ms-meta-")),
        "the last metadata write still names a holder:\n{:?}",
        last_meta.headers
    );
    // The blob was empty when read under the lease: no remote `.backup` (a snapshot of the
    // apply's own first write would be no backup at all).
    assert!(
        !log.iter().any(|e| e.comp().as_deref() == Some("snapshot")),
        "a snapshot of a blob that was empty when read:\n{all}"
    );
    // Nothing was written in the workspace folder: no state, lock or backup file.
    assert_eq!(listing(dir.path())?, before);

    // The blob holds a valid state, with the applied entries; state pull prints it.
    let pulled = run(dir.path(), &["state", "pull"])?;
    assert_eq!(pulled.code, 0, "{}", pulled.stderr);
    let state: serde_json::Value = serde_json::from_str(&pulled.stdout)?;
    no_secret("the state", &pulled.stdout)?;
    assert!(pulled.stdout.contains("u2"), "{}", pulled.stdout);
    assert!(state.is_object(), "{state}");
    let listed = run(dir.path(), &["state", "list"])?;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    for u in ["u0", "u1", "u2"] {
        assert!(listed.stdout.contains(u), "{}", listed.stdout);
    }

    // A second apply (a fourth user) snapshots the blob as read, once, under the lease and
    // before its first write: the remote `.backup` holds the first apply's state.
    let root = dir.path().join("pimplan.yaml");
    let four = std::fs::read_to_string(eligible_workspace(4).path().join("pimplan.yaml"))?;
    std::fs::write(
        &root,
        format!(
            "{four}{}",
            state_yaml(&p.container.name, &p.proxy.endpoint_url())
        ),
    )?;
    p.proxy.clear();
    let again = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let log = p.proxy.log();
    let all = summary(&log);
    let snapshots: Vec<usize> = (0..log.len())
        .filter(|&i| log[i].comp().as_deref() == Some("snapshot"))
        .collect();
    assert_eq!(snapshots.len(), 1, "one snapshot per apply:\n{all}");
    let snap = &log[snapshots[0]];
    assert!(snap.lease_id.is_some() && snap.if_match.is_some(), "{all}");
    let first_write = log
        .iter()
        .position(is_put_blob)
        .ok_or(format!("no write:\n{all}"))?;
    assert!(snapshots[0] < first_write, "{all}");
    let taken = snap
        .upstream_header("x-ms-snapshot")
        .ok_or(format!("no x-ms-snapshot in the answer:\n{all}"))?;
    let kept = p.container.client.get_blob(BLOB, Some(taken), None)?;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&kept.bytes)?,
        state,
        "the snapshot is not the first apply's state"
    );
    assert_eq!(listing(dir.path())?, before);

    // B4: a plan reads without a lease and finds nothing to do.
    p.proxy.clear();
    let plan = run(dir.path(), &["plan"])?;
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let log = p.proxy.log();
    assert!(
        log.iter()
            .all(|e| e.lease_action.is_none() && e.method != "PUT" && e.method != "DELETE"),
        "plan wrote or leased:\n{}",
        summary(&log)
    );
    assert_eq!(listing(dir.path())?, before);
    Ok(())
}

/// B4: a plan on an empty remote state says what a plan on a missing local state says.
#[test]
fn plan_on_the_remote_state_is_the_plan_of_a_local_state() -> Result {
    let p = proxied("b4")?;
    let dir = workspace(&p, 2)?;
    let local = eligible_workspace(2);
    let remote = run(dir.path(), &["plan"])?;
    let here = run(local.path(), &["plan"])?;
    assert_eq!(remote.code, here.code, "{}{}", remote.stdout, remote.stderr);
    assert_eq!(remote.stdout, here.stdout);
    assert!(
        p.proxy.log().iter().all(|e| e.lease_action.is_none()),
        "{}",
        summary(&p.proxy.log())
    );
    assert_eq!(listing(dir.path())?, ["pimplan.yaml"]);
    Ok(())
}

/// B7: two applies at once: one applies, the other exits 1 naming the holder's user, host
/// and pid.
#[test]
fn two_applies_at_once_one_applies_the_other_names_the_holder() -> Result {
    let p = proxied("b7")?;
    let dir = workspace(&p, 4)?;
    let first = spawn_apply(dir.path(), 400)?;
    let pid = first.id();
    wait_for(&p, "lease acquire", |log| {
        log.iter()
            .any(|e| e.lease_action.as_deref() == Some("acquire") && e.status == Some(201))
    })?;
    // The holder is marked before the second starts.
    wait_for(&p, "holder metadata", |log| {
        log.iter()
            .any(|e| e.comp().as_deref() == Some("metadata") && e.status == Some(200))
    })?;
    let second = run(dir.path(), &["apply", "--auto-approve"])?;
    let first = finish(first)?;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(second.code, 1, "{}{}", second.stdout, second.stderr);
    let said = flat(&second.stderr);
    assert!(said.contains("locked by"), "{said}");
    assert!(said.contains(&pid.to_string()), "no pid {pid}: {said}");
    assert!(said.contains(&common::this_host()), "no host: {said}");
    if let Ok(user) = std::env::var("USER") {
        assert!(said.contains(&user), "no user {user}: {said}");
    }
    Ok(())
}

/// B11: `force-unlock --force` from another process breaks the lease mid-apply; the apply
/// exits 1 "lost the state lease", and nothing is written after the break: a write already
/// on its way is refused by the service (412), and the apply sends none after it.
#[test]
fn a_lease_broken_mid_apply_stops_it_with_no_write_accepted_after() -> Result {
    let p = proxied("b11")?;
    let dir = workspace(&p, 6)?;
    let apply = spawn_apply(dir.path(), 500)?;
    wait_for(&p, "a first Put Blob", |log| {
        log.iter().any(|e| is_put_blob(e) && e.status.is_some())
    })?;
    let unlock = run(dir.path(), &["force-unlock", "--force"])?;
    assert_eq!(unlock.code, 0, "{}{}", unlock.stdout, unlock.stderr);
    let applied = finish(apply)?;
    assert_eq!(applied.code, 1, "{}{}", applied.stdout, applied.stderr);
    assert!(
        flat(&applied.stderr).contains("lost the state lease"),
        "{}",
        applied.stderr
    );
    let log = p.proxy.log();
    let all = summary(&log);
    let broken = log
        .iter()
        .position(|e| e.lease_action.as_deref() == Some("break"))
        .ok_or(format!("no lease break:\n{all}"))?;
    // The apply learns of the break from its next renewal or write: a write it sends in
    // between is the service's to refuse (the lease id no longer holds), and it stops there.
    let late: Vec<&Entry> = log[broken..].iter().filter(|e| is_put_blob(e)).collect();
    assert!(
        late.len() <= 1,
        "the apply went on writing after the break:\n{all}"
    );
    assert!(
        late.iter().all(|e| e.status == Some(412)),
        "a write after the break was accepted:\n{all}"
    );
    // The break came mid-apply: the blob holds a state written under the lease, not all.
    assert!(
        log[..broken].iter().any(is_put_blob),
        "the break came before any write:\n{all}"
    );
    Ok(())
}

/// B16: a saved plan made before another apply changed the blob is refused, naming the
/// version it was made from.
#[test]
fn a_stale_saved_plan_is_refused_naming_the_version() -> Result {
    let p = proxied("b16")?;
    let dir = workspace(&p, 2)?;
    let elsewhere = tempfile::tempdir()?;
    let saved = elsewhere.path().join("p.json");
    let saved = saved.to_string_lossy().into_owned();
    let plan = run(dir.path(), &["plan", "--out", &saved])?;
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let applied = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    p.proxy.clear();
    let stale = run(dir.path(), &["apply", &saved])?;
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    let said = flat(&stale.stderr);
    assert!(said.contains("stale"), "{said}");
    assert!(said.contains("serial 3"), "names no version: {said}");
    let log = p.proxy.log();
    assert!(
        !log.iter().any(is_put_blob),
        "a stale plan wrote:\n{}",
        summary(&log)
    );

    // On an existing state: a plan saved at one serial is refused once another command
    // (here `state rm`) has written the blob, naming both versions' serial.
    let plan = run(dir.path(), &["plan", "--out", &saved])?;
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let removed = run(dir.path(), &["state", "rm", "ops/u0", "--auto-approve"])?;
    assert_eq!(removed.code, 0, "{}{}", removed.stdout, removed.stderr);
    p.proxy.clear();
    let stale = run(dir.path(), &["apply", &saved])?;
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    let said = flat(&stale.stderr);
    assert!(said.contains("stale"), "{said}");
    assert!(said.contains("serial"), "names no version: {said}");
    let log = p.proxy.log();
    assert!(
        !log.iter().any(is_put_blob),
        "a stale plan wrote:\n{}",
        summary(&log)
    );
    Ok(())
}

/// B17/B19: a wrong key is refused by the service (403 AuthenticationFailed), said as such,
/// and neither key is printed.
#[test]
fn a_wrong_key_is_named_403_authentication_failed_and_not_printed() -> Result {
    let p = proxied("b17")?;
    let dir = workspace(&p, 2)?;
    // Another valid base64 key of the same length.
    let wrong =
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==";
    for args in [
        vec!["plan"],
        vec!["apply", "--auto-approve"],
        vec!["state", "list"],
    ] {
        let out = run_with(dir.path(), wrong, &args)?;
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, 1, "{args:?}: {all}");
        let said = flat(&all);
        // Azure answers a bad Shared Key signature 403 AuthenticationFailed; Azurite 3.37
        // answers 403 AuthorizationFailure (both are "credentials refused" to pimplan).
        assert!(said.contains("403"), "{args:?}: {said}");
        assert!(
            said.contains("AuthenticationFailed") || said.contains("AuthorizationFailure"),
            "{args:?}: {said}"
        );
        assert!(said.contains("AZURE_STORAGE_KEY"), "{args:?}: {said}");
        assert!(!all.contains(wrong) && !all.contains(&wrong[..20]), "{all}");
        assert!(!all.contains("panicked"), "{all}");
    }
    assert_eq!(listing(dir.path())?, ["pimplan.yaml"]);
    // Nothing was written to the container.
    assert!(
        !p.proxy.log().iter().any(|e| e.status == Some(201)),
        "{}",
        summary(&p.proxy.log())
    );
    Ok(())
}

/// B17 as Azure says it: the service's 403 AuthenticationFailed (injected by the proxy, as
/// Azure answers a bad signature) is named with its code and the variable to check.
#[test]
fn azures_authentication_failed_is_named_with_its_code() -> Result {
    let p = proxied("b17az")?;
    let dir = workspace(&p, 2)?;
    p.proxy.fault(Rule::always(
        Match::any(),
        Fault::fail_with(403, "AuthenticationFailed", None),
    ));
    let out = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = flat(&out.stderr);
    assert!(said.contains("403 AuthenticationFailed"), "{said}");
    assert!(said.contains("AZURE_STORAGE_KEY"), "{said}");
    assert_eq!(listing(dir.path())?, ["pimplan.yaml"]);
    Ok(())
}

/// B13/B14 at the binary level: a fenced write whose answer is lost after Azurite committed
/// it, and one whose upload is cut half way, are read back under the lease; the apply ends
/// well, and the blob then holds the whole state (plan: no changes; state show reads it).
#[test]
fn a_lost_answer_and_a_cut_upload_are_read_back_and_the_apply_ends_well() -> Result {
    for (name, fault) in [
        ("b13", Fault::DropResponseAfterCommit),
        ("b14", Fault::cut_request_body(0.5)),
    ] {
        let p = proxied(name)?;
        let dir = workspace(&p, 2)?;
        p.proxy.fault(Rule::once(
            Match::put_blob().header("x-ms-lease-id"),
            fault.clone(),
        ));
        let applied = run(dir.path(), &["apply", "--auto-approve"])?;
        let log = p.proxy.log();
        let all = summary(&log);
        assert_eq!(
            applied.code, 0,
            "{fault:?}: {}{}\n{all}",
            applied.stdout, applied.stderr
        );
        assert!(
            log.iter().any(|e| e.fault.is_some()),
            "{fault:?} never applied:\n{all}"
        );
        // Every write under the lease stayed fenced, the one sent again too.
        for e in log
            .iter()
            .filter(|e| is_put_blob(e) && e.lease_id.is_some())
        {
            assert!(e.if_match.is_some(), "#{} lacks If-Match:\n{all}", e.seq);
        }
        let plan = run(dir.path(), &["plan"])?;
        assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
        assert!(
            plan.stdout.contains("No changes"),
            "{fault:?}: {}",
            plan.stdout
        );
        let shown = run(dir.path(), &["state", "show", "ops/u1"])?;
        assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
        assert!(shown.stdout.contains("u1"), "{}", shown.stdout);
        assert_eq!(listing(dir.path())?, ["pimplan.yaml"]);
    }
    Ok(())
}

/// B15: the "locked" message names the holder's lock id and how to use it; `force-unlock`
/// with another id is refused naming the holder's, and changes nothing (the apply goes on
/// holding its lease); with the holder's id the lease is released by that id (Release Lease,
/// never Break), and the apply that held it stops "lost the state lease" with no write
/// accepted after.
/// (`--force` breaking the lease is B11 above.)
#[test]
fn force_unlock_by_the_holders_id_releases_its_lease_and_another_id_changes_nothing() -> Result {
    let p = proxied("b15")?;
    let dir = workspace(&p, 8)?;
    let apply = spawn_apply(dir.path(), 400)?;
    wait_for(&p, "holder metadata", |log| {
        log.iter()
            .any(|e| e.comp().as_deref() == Some("metadata") && e.status == Some(200))
    })?;
    let locked = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(locked.code, 1, "{}{}", locked.stdout, locked.stderr);
    let said = flat(&locked.stderr);
    let id = said
        .split_once("lock id ")
        .and_then(|(_, rest)| rest.split(')').next())
        .ok_or(format!("no lock id: {said}"))?
        .to_owned();
    let acquired = p
        .proxy
        .log()
        .iter()
        .find(|e| e.lease_action.as_deref() == Some("acquire") && e.status == Some(201))
        .and_then(|e| e.header("x-ms-proposed-lease-id").map(str::to_owned))
        .ok_or("no acquire")?;
    assert_eq!(
        id, acquired,
        "the message names another id than the lease's"
    );
    assert!(
        said.contains(&format!(
            "run `pimplan force-unlock {id}` if that run is gone; the lease expires by itself within 60 s"
        )),
        "{said}"
    );

    let wrong = run(
        dir.path(),
        &["force-unlock", "0b8f4d2a-0000-4c3e-9d3f-6f1c1f7e2b7a"],
    )?;
    assert_eq!(wrong.code, 1, "{}{}", wrong.stdout, wrong.stderr);
    let said = flat(&wrong.stderr);
    assert!(
        said.contains("lock id does not match: the state is locked by")
            && said.contains(&format!("(id {id})")),
        "{said}"
    );
    let all = summary(&p.proxy.log());
    assert!(
        !p.proxy.log().iter().any(|e| {
            e.lease_action.as_deref() == Some("break")
                || (e.lease_action.as_deref() == Some("release") && e.status == Some(200))
        }),
        "a wrong id ended the lease:\n{all}"
    );
    // The apply still holds it: the next holder check names it again.
    let still = run(dir.path(), &["apply", "--auto-approve"])?;
    assert!(
        flat(&still.stderr).contains(&format!("lock id {id}")),
        "{}",
        still.stderr
    );

    let released = run(dir.path(), &["force-unlock", &id])?;
    assert_eq!(released.code, 0, "{}{}", released.stdout, released.stderr);
    assert!(
        released.stdout.contains("its lock id was given"),
        "{}",
        released.stdout
    );
    let applied = finish(apply)?;
    assert_eq!(applied.code, 1, "{}{}", applied.stdout, applied.stderr);
    assert!(
        flat(&applied.stderr).contains("lost the state lease"),
        "{}",
        applied.stderr
    );
    let log = p.proxy.log();
    let all = summary(&log);
    assert!(
        !log.iter()
            .any(|e| e.lease_action.as_deref() == Some("break")),
        "the lease was broken, not released by its id:\n{all}"
    );
    let release = log
        .iter()
        .position(|e| {
            e.lease_action.as_deref() == Some("release")
                && e.status == Some(200)
                && e.lease_id.as_deref() == Some(id.as_str())
        })
        .ok_or(format!("no release by the holder's id:\n{all}"))?;
    // The lease id fences every write: one sent after the release is refused by the
    // service, and none is accepted.
    let late: Vec<&Entry> = log[release..]
        .iter()
        .filter(|e| is_put_blob(e) && e.status.is_some_and(|s| s < 300))
        .collect();
    assert!(
        late.is_empty(),
        "a write was accepted after the release:\n{all}"
    );
    Ok(())
}

/// A workspace of `n` eligible users whose state is `container` on the https emulator,
/// authorized with a Microsoft Entra token (`auth: entra`).
fn bearer_workspace(container: &str, n: usize) -> Result<tempfile::TempDir> {
    let secure = azurite::https_server()?;
    workspace_of(
        n,
        &state_yaml_with(container, &secure.server.endpoint_url(), "entra"),
    )
}

/// pimplan in `dir` with `token` as `PIMPLAN_STORAGE_TOKEN` and `ca` as `PIMPLAN_CA_FILE`
/// (no account key anywhere); no output may show the token.
fn run_bearer(dir: &Path, token: &str, ca: &Path, args: &[&str]) -> Result<Run> {
    let mut cmd = command(dir, KEY, args);
    cmd.env_remove("AZURE_STORAGE_KEY")
        .env("PIMPLAN_STORAGE_TOKEN", token)
        .env("PIMPLAN_CA_FILE", ca);
    let out = Run::of(&cmd.output()?);
    for text in [&out.stdout, &out.stderr] {
        // The token's payload (its middle part) is what would show if any part did.
        let payload = token.split('.').nth(1).unwrap_or(token);
        if text.contains(token) || text.contains(payload) {
            return Err(format!("{args:?} shows the token: {text}").into());
        }
    }
    Ok(out)
}

/// B18: bearer auth over https. Azurite runs `--oauth basic` with a certificate signed by a
/// CA made at test time; pimplan trusts it only through `PIMPLAN_CA_FILE`. With a storage
/// token (audience https://storage.azure.com) the apply writes the blob under the lease and
/// `state list|show` read it; a token for another audience is refused 403 without the token
/// shown; another CA is a TLS error that names PIMPLAN_CA_FILE; a missing file is refused
/// before any request, naming the variable and the path.
#[test]
fn bearer_auth_over_https_trusts_pimplan_ca_file_and_names_a_refused_token() -> Result {
    let secure = azurite::https_server()?;
    let container = azurite::https_container("b18")?;
    let dir = bearer_workspace(&container, 2)?;
    let token = azurite::test_jwt("https://storage.azure.com");

    let applied = run_bearer(dir.path(), &token, &secure.ca, &["apply", "--auto-approve"])?;
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert_eq!(
        listing(dir.path())?,
        ["pimplan.yaml"],
        "a local file was written"
    );
    let listed = run_bearer(dir.path(), &token, &secure.ca, &["state", "list"])?;
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    assert!(listed.stdout.contains("ops/u1"), "{}", listed.stdout);
    let shown = run_bearer(dir.path(), &token, &secure.ca, &["state", "show", "ops/u1"])?;
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    let pulled = run_bearer(dir.path(), &token, &secure.ca, &["state", "pull"])?;
    assert_eq!(pulled.code, 0, "{}{}", pulled.stdout, pulled.stderr);
    let state: serde_json::Value = serde_json::from_str(&pulled.stdout)?;
    assert!(
        state["serial"].as_u64().is_some_and(|s| s >= 1) && state["lineage"].is_string(),
        "{}",
        pulled.stdout
    );
    // Planned again on the written blob: nothing to do.
    let plan = run_bearer(dir.path(), &token, &secure.ca, &["plan"])?;
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);

    // A token for Microsoft Graph, not storage: refused 403, the token never shown.
    let graph_token = azurite::test_jwt("https://graph.microsoft.com");
    let refused = run_bearer(dir.path(), &graph_token, &secure.ca, &["state", "list"])?;
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    let said = flat(&refused.stderr);
    assert!(said.contains("403"), "{said}");

    // Another CA: the server's certificate is not trusted; the error names the variable.
    let untrusted = run_bearer(dir.path(), &token, &secure.other_ca, &["state", "list"])?;
    assert_eq!(
        untrusted.code, 1,
        "{}{}",
        untrusted.stdout, untrusted.stderr
    );
    let said = flat(&untrusted.stderr);
    assert!(
        said.contains("TLS") && said.contains("PIMPLAN_CA_FILE"),
        "{said}"
    );

    // A missing or bad file: refused before any request, naming the variable and path.
    let missing = dir.path().join("no-such-ca.pem");
    let bad = run_bearer(dir.path(), &token, &missing, &["state", "list"])?;
    assert_eq!(bad.code, 1, "{}{}", bad.stdout, bad.stderr);
    let said = flat(&bad.stderr);
    assert!(
        said.contains("PIMPLAN_CA_FILE") && said.contains("no-such-ca.pem"),
        "{said}"
    );
    let not_pem = tempfile::NamedTempFile::new()?;
    std::fs::write(not_pem.path(), "not a certificate\n")?;
    let bad = run_bearer(
        dir.path(),
        &token,
        not_pem.path(),
        &["apply", "--auto-approve"],
    )?;
    assert_eq!(bad.code, 1, "{}{}", bad.stdout, bad.stderr);
    assert!(
        flat(&bad.stderr).contains("holds no certificate"),
        "{}",
        bad.stderr
    );
    Ok(())
}

/// A renewal the service answers naming another lease id renewed no lease of this apply's:
/// the apply stops as for a refused renewal, "lost the state lease", and writes nothing more
/// (an emulator has been seen to grant a late renewal whatever the id; the service names the
/// lease it holds in `x-ms-lease-id`).
#[test]
fn a_renewal_answered_with_another_lease_id_stops_the_apply() -> Result {
    let p = proxied("renew-id")?;
    let dir = workspace(&p, 4)?;
    let other = "5c0ffee0-0000-4000-8000-000000000001";
    p.proxy.fault(Rule::always(
        Match::lease("renew"),
        Fault::replace_answer_header("x-ms-lease-id", other),
    ));
    let child = command(dir.path(), KEY, &["apply", "--auto-approve"])
        .env("PIMPLAN_TEST_STEP_DELAY_MS", "2500")
        .env("PIMPLAN_TEST_LEASE_SECONDS", "15")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let applied = finish(child)?;
    assert_eq!(applied.code, 1, "{}{}", applied.stdout, applied.stderr);
    let said = flat(&applied.stderr);
    assert!(said.contains("lost the state lease"), "{said}");
    assert!(said.contains(other), "names not the other lease: {said}");
    let log = p.proxy.log();
    let all = summary(&log);
    let renewed = log
        .iter()
        .position(|e| e.lease_action.as_deref() == Some("renew") && e.status == Some(200))
        .ok_or(format!("no renewal:\n{all}"))?;
    // The apply learns of it from the renewal's answer; a write already on its way may
    // still be sent, but none after the one that follows the renewal.
    let late = log[renewed..].iter().filter(|e| is_put_blob(e)).count();
    assert!(late <= 1, "the apply went on writing:\n{all}");
    Ok(())
}
