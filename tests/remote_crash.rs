//! The remote state under kills, waits and races, through the binary against Azurite (issue
//! 15 points 4, 5 and 8; design remote-state.md B.6, B.10 checks B7, B8 and B10):
//!
//! - B10: `apply --target graph` against the Graph stand-in, the state on a blob, SIGKILLed
//!   at random moments; the blob always holds a true state and the killed run's lease; the
//!   next apply with `--lock-timeout` takes the lease once it lapses, by itself, and settles
//!   what was pending without sending anything twice.
//! - B7: an apply with `--lock-timeout` waits for the holder (said once), then applies; and
//!   takes the lease of a killed holder once it lapses.
//! - B8: many applies at once with `--lock-timeout 0s`: exactly one applies.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command.

mod common;
mod graph_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::azurite::{self, KEY, TestContainer};
use common::blob_proxy::Entry;
use common::remote::{
    BLOB, NOW, Result, command, finish, finish_within, proxied, run, spawn_apply, state_yaml,
    summary, wait_for, workspace,
};
use common::{Run, eligible_workspace, flat};
use graph_server::{Server, state_keys};
use pimplan::state::azure::LockRecord;
use pimplan::state::azure::client::{Conditions, LeaseState, Metadata};
use serde_json::Value;

const GROUP: &str = "99999999-0000-4000-8000-000000000009";
const MEMBER_ELIGIBLE: &str = "member/eligible";

/// The object id of user `i`.
fn user_id(i: usize) -> String {
    format!("aaaaaaaa-0000-4000-8000-{:012}", i + 1)
}

/// The key (`group/principal/role/type`, as [`state_keys`] and [`Server::keys`] make them)
/// of user `i`'s eligibility.
fn key(i: usize) -> String {
    format!("{GROUP}/{}/{MEMBER_ELIGIBLE}", user_id(i))
}

/// A workspace of 30 licensed users with object ids, the first `n` eligible for `ops`.
fn graph_root(n: usize) -> String {
    let mut text = String::from(
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\nprincipals:\n",
    );
    for i in 0..30 {
        text.push_str(&format!(
            "  - {{ name: u{i}, type: user, id: {}, licenses: [entra_id_p2] }}\n",
            user_id(i)
        ));
    }
    text.push_str(&format!(
        "groups:\n  - name: ops\n    id: {GROUP}\n    owners: [u0]\nassignments:\n"
    ));
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }}\n"
        ));
    }
    text
}

/// A folder holding `root` with its state on `container`'s blob (straight to Azurite).
fn on_blob(root: &str, container: &TestContainer) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("pimplan.yaml"),
        format!(
            "{root}{}",
            state_yaml(&container.name, &container.server.endpoint_url())
        ),
    )?;
    Ok(dir)
}

/// pimplan against `server` with the state's key, a 15-second lease.
fn graph_command(server: &Server, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = command(dir, KEY, args);
    cmd.envs(server.env())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PIMPLAN_TEST_SETTLE_MS", "30")
        .env("PIMPLAN_TEST_LEASE_SECONDS", "15");
    cmd
}

const APPLY_GRAPH: &[&str] = &["apply", "--target", "graph", "--auto-approve"];

/// A fresh stand-in that holds what `base` holds (its schedules, requests and policies),
/// with no request recorded yet.
fn seeded(base: &Server) -> Server {
    let server = Server::start();
    {
        let from = base.state();
        let mut to = server.state();
        to.now = from.now;
        to.schedules = from.schedules.clone();
        to.schedule_requests = from.schedule_requests.clone();
        to.policies = from.policies.clone();
    }
    server
}

/// A fresh container whose blob holds `bytes`.
fn seeded_blob(bytes: &[u8]) -> Result<TestContainer> {
    let container = azurite::container("b10")?;
    container.client.put_blob(
        BLOB,
        bytes,
        "application/json",
        &Metadata::new(),
        Conditions::default(),
    )?;
    Ok(container)
}

/// The blob's state as JSON.
fn blob_state(container: &TestContainer) -> Result<Value> {
    let blob = container.client.get_blob(BLOB, None, None)?;
    Ok(serde_json::from_slice(&blob.bytes)?)
}

/// The keys of the assignments the pending changes of `state` would make.
fn pending_keys(state: &Value) -> Vec<String> {
    let mut keys: Vec<String> = state["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("after"))
        .map(|a| {
            format!(
                "{}/{}/{}/{}",
                a["group_id"].as_str().unwrap_or(""),
                a["principal_id"].as_str().unwrap_or(""),
                a["role"].as_str().unwrap_or(""),
                a["type"].as_str().unwrap_or("")
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The schedule requests `server` was sent, by principal id.
fn posts_by_principal(server: &Server) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for body in server.post_bodies() {
        let p = body["principalId"].as_str().unwrap_or("").to_owned();
        *n.entry(p).or_insert(0) += 1;
    }
    n
}

/// Wait (at most 30 s) until `container`'s blob is leased; fails if `child` ends first.
fn wait_leased(container: &TestContainer, child: &mut Child) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let props = container.client.get_properties(BLOB, None)?;
        if props.lease.state == LeaseState::Leased {
            return Ok(());
        }
        if child.try_wait()?.is_some() {
            return Err("the apply ended before it held the lease".into());
        }
        if Instant::now() > deadline {
            return Err("the apply took no lease within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The serial an apply says it wrote (`… (serial N).`).
fn reported_serial(stdout: &str) -> Option<u64> {
    let at = stdout.rfind("(serial ")?;
    let digits: String = stdout[at + "(serial ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// One killed run kept for its recovery: what it needs and what the kill left.
struct Killed {
    run: usize,
    pid: u32,
    container: TestContainer,
    server: Server,
    dir: tempfile::TempDir,
}

/// The recovery of a killed run: `apply --target graph --lock-timeout 65s`, started while
/// the killed run's lease is still held. It must wait for the lease by itself (said once,
/// naming the killed process), take it within 65 s, settle what was pending, send nothing
/// twice, and leave the state equal to the stand-in's grants.
fn recover(k: &Killed, all: &[String]) -> Result<Duration> {
    let run = k.run;
    let started = Instant::now();
    let child = graph_command(
        &k.server,
        k.dir.path(),
        &[APPLY_GRAPH, &["--lock-timeout", "65s"]].concat(),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()?;
    let out = finish_within(child, Duration::from_secs(120))?;
    let took = started.elapsed();
    let said = format!("{}{}", out.stdout, out.stderr);
    if out.code != 0 {
        return Err(format!("run {run}: the recovery failed: {said}").into());
    }
    if took > Duration::from_secs(65 + 20) {
        return Err(format!("run {run}: the recovery took {took:?}").into());
    }
    let waiting = flat(&out.stderr);
    if waiting.matches("is locked by").count() != 1
        || !waiting.contains(&format!("process {} ", k.pid))
        || !waiting.contains("waiting up to 1 min 5 s")
        || !waiting.contains("took the lock on the state after waiting")
    {
        return Err(format!(
            "run {run}: the recovery did not say once that it waits for process {}: {}",
            k.pid, out.stderr
        )
        .into());
    }
    let st = blob_state(&k.container)?;
    if st.get("pending").is_some_and(|p| !p.is_null()) {
        return Err(format!("run {run}: still pending after the recovery: {st}").into());
    }
    let recorded = state_keys(&st, false);
    if recorded != k.server.keys(false) || recorded != all {
        return Err(format!(
            "run {run}: the state is not what the stand-in grants: {recorded:?} vs {:?}",
            k.server.keys(false)
        )
        .into());
    }
    let sent = posts_by_principal(&k.server);
    if sent.values().any(|n| *n != 1) || sent.len() != 24 {
        return Err(format!("run {run}: requests sent twice or missing: {sent:?}").into());
    }
    let props = k.container.client.get_properties(BLOB, None)?;
    if props.lease.state == LeaseState::Leased {
        return Err(format!("run {run}: the recovery kept the lease").into());
    }
    Ok(took)
}

/// B10: kill a Graph apply on the remote state at random moments (24 runs, each on a fresh
/// copy: a container seeded with the base state, a stand-in holding the base grants).
#[test]
fn an_apply_to_graph_killed_at_random_points_leaves_a_true_remote_state() -> Result {
    let test_started = Instant::now();
    // The base: six users applied to a stand-in, the state on a blob.
    let base_server = Server::start();
    // The service's clock is pimplan's `--now` (the stand-ins seeded from it share it).
    base_server.state().now = Some(graph_server::at(NOW));
    let base_container = azurite::container("b10base")?;
    let base_dir = on_blob(&graph_root(6), &base_container)?;
    let applied = Run::of(&graph_command(&base_server, base_dir.path(), APPLY_GRAPH).output()?);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let base_bytes = base_container.client.get_blob(BLOB, None, None)?.bytes;
    let base: Value = serde_json::from_slice(&base_bytes)?;
    let base_serial = base["serial"].as_u64().unwrap_or_default();
    let base_keys = state_keys(&base, false);
    assert_eq!(base_keys, (0..6).map(key).collect::<Vec<_>>());
    let grown = graph_root(30);
    // The plan: 24 creates, u6 to u29 in the order the plan makes them.
    std::fs::write(
        base_dir.path().join("pimplan.yaml"),
        format!(
            "{grown}{}",
            state_yaml(&base_container.name, &base_container.server.endpoint_url())
        ),
    )?;
    let plan = Run::of(
        &graph_command(
            &base_server,
            base_dir.path(),
            &["plan", "--target", "graph", "--format", "json"],
        )
        .output()?,
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let plan: Value = serde_json::from_str(&plan.stdout)?;
    let order: Vec<String> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let name = c["after"]["principal"].as_str().unwrap_or("");
            let i: usize = name.trim_start_matches('u').parse().unwrap_or(usize::MAX);
            if i < 30 { key(i) } else { String::new() }
        })
        .collect();
    assert_eq!(order.len(), 24, "{plan}");
    assert!(order.iter().all(|k| !k.is_empty()), "{plan}");
    let prefix = |k: usize| -> Vec<String> {
        let mut keys: Vec<String> = base_keys.iter().chain(&order[..k]).cloned().collect();
        keys.sort();
        keys
    };
    let all = prefix(24);

    // How long a whole apply takes here, from its lease on: the window the kills fall in.
    let calibration = {
        let container = seeded_blob(&base_bytes)?;
        let server = seeded(&base_server);
        let dir = on_blob(&grown, &container)?;
        let mut child = graph_command(&server, dir.path(), APPLY_GRAPH)
            .env("PIMPLAN_TEST_STEP_DELAY_MS", "20")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        wait_leased(&container, &mut child)?;
        let leased = Instant::now();
        let out = finish(child)?;
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert_eq!(state_keys(&blob_state(&container)?, false), all);
        assert_eq!(server.keys(false), all);
        leased.elapsed()
    };
    let window = u64::try_from(calibration.as_millis())
        .unwrap_or(u64::MAX)
        .max(50);

    let mut seen_partial = 0;
    let mut outcomes = Vec::new();
    let mut recoveries = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for run in 0..24 {
        let container = seeded_blob(&base_bytes)?;
        let server = seeded(&base_server);
        let dir = on_blob(&grown, &container)?;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(seed % window);
        let mut child = graph_command(&server, dir.path(), APPLY_GRAPH)
            .env("PIMPLAN_TEST_STEP_DELAY_MS", "20")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        wait_leased(&container, &mut child)?;
        let started = Instant::now();
        let mut ended = false;
        while started.elapsed() < wait {
            if child.try_wait()?.is_some() {
                ended = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();

        // The blob parses as a state, and pimplan reads it (its checksum holds).
        let now = blob_state(&container)
            .map_err(|e| format!("run {run}: the blob is no state after a kill: {e}"))?;
        let listed = run_graph(&server, dir.path(), &["state", "list"])?;
        assert_eq!(
            listed.code, 0,
            "run {run}: pimplan refuses the blob: {}{}",
            listed.stdout, listed.stderr
        );
        assert_eq!(now["lineage"], base["lineage"], "run {run}");
        let serial = now["serial"].as_u64().unwrap_or_default();
        assert!(serial >= base_serial, "run {run}: serial {serial}");
        // Recorded: the base and the first k changes; pending: the next ones, in plan order.
        let recorded = state_keys(&now, false);
        let Some(k) = (0..=24).find(|k| prefix(*k) == recorded) else {
            unreachable!(
                "run {run}: the state is not the base and a prefix of the plan: {recorded:?}"
            )
        };
        let pending = pending_keys(&now);
        let mut next: Vec<String> = order[k..(k + pending.len()).min(24)].to_vec();
        next.sort();
        assert_eq!(
            pending, next,
            "run {run}: the pending changes are not the next ones of the plan"
        );
        assert!(
            serial - base_serial <= k as u64 + 1,
            "run {run}: more writes than changes: serial {serial}, {k} changes"
        );
        // What the service holds: all that is recorded, and nothing neither recorded nor pending.
        let live = server.keys(false);
        graph_server::assert_state_true_to_service(
            &recorded,
            &pending,
            &live,
            &format!("run {run}"),
        );
        // The killed run never released its lease, nor cleared its record.
        let props = container.client.get_properties(BLOB, None)?;
        if ended || k == 24 {
            // It finished before the kill, or was killed while it unlocked after its last
            // write (clearing its record, releasing): all applied.
            assert_eq!(k, 24, "run {run}");
            assert!(pending.is_empty(), "run {run}");
            outcomes.push(format!("{k}+0{}", if ended { " (ended)" } else { "" }));
            continue;
        }
        assert_eq!(
            props.lease.state,
            LeaseState::Leased,
            "run {run}: the killed run's lease is gone"
        );
        let holder = LockRecord::of(&props.metadata).map(|r| r.info.pid);
        assert_eq!(holder, Some(pid), "run {run}: the lease's record");
        let half_way = (k > 0 && k < 24) || !pending.is_empty();
        outcomes.push(format!("{k}+{}", pending.len()));
        if k > 0 && k < 24 {
            seen_partial += 1;
        }
        // The recovery starts at once, while the lease is still held, and runs alongside
        // the next kills.
        if half_way && recoveries.len() < 6 {
            let killed = Killed {
                run,
                pid,
                container,
                server,
                dir,
            };
            let all = all.clone();
            recoveries.push(std::thread::spawn(move || {
                recover(&killed, &all).map_err(|e| e.to_string())
            }));
        }
    }
    assert!(
        seen_partial >= 5,
        "only {seen_partial} runs were killed half way; the test did not test"
    );
    assert!(
        recoveries.len() >= 4,
        "only {} runs left something to recover",
        recoveries.len()
    );
    for r in recoveries {
        match r.join() {
            Ok(Ok(took)) => assert!(took < Duration::from_secs(85), "{took:?}"),
            Ok(Err(e)) => unreachable!("{e}"),
            Err(_) => unreachable!("a recovery thread panicked"),
        }
    }
    eprintln!(
        "B10: {window} ms per whole apply; recorded+pending after each kill: {}; the test took {:?}",
        outcomes.join(" "),
        test_started.elapsed()
    );
    Ok(())
}

fn run_graph(server: &Server, dir: &Path, args: &[&str]) -> Result<Run> {
    Ok(Run::of(&graph_command(server, dir, args).output()?))
}

/// The serial of the state on `p`'s blob.
fn serial_of(client: &pimplan::state::azure::BlobClient) -> Result<u64> {
    let blob = client.get_blob(BLOB, None, None)?;
    let st: Value = serde_json::from_slice(&blob.bytes)?;
    Ok(st["serial"].as_u64().unwrap_or_default())
}

/// The workspace of `p` grown to `n` eligible users (the same blob).
fn grow(dir: &Path, p: &common::blob_proxy::Proxied, n: usize) -> Result {
    let text = std::fs::read_to_string(eligible_workspace(n).path().join("pimplan.yaml"))?;
    std::fs::write(
        dir.join("pimplan.yaml"),
        format!(
            "{text}{}",
            state_yaml(&p.container.name, &p.proxy.endpoint_url())
        ),
    )?;
    Ok(())
}

/// B7, second half: an apply with `--lock-timeout 2m` started while another holds the lease
/// waits, says once whom for, and applies after the first ends: both exit 0, each wrote
/// (the serial grew twice), no write was refused (no 412).
#[test]
fn an_apply_with_a_lock_timeout_waits_for_the_holder_then_applies() -> Result {
    let p = proxied("b7wait")?;
    let first_dir = workspace(&p, 4)?;
    // The second has a fifth user: its plan, made under the lease once it is free, is that.
    let second_dir = workspace(&p, 4)?;
    grow(second_dir.path(), &p, 5)?;
    let first = spawn_apply(first_dir.path(), 500)?;
    let pid = first.id();
    wait_for(&p, "holder metadata", |log| {
        log.iter()
            .any(|e| e.comp().as_deref() == Some("metadata") && e.status == Some(200))
    })?;
    let waited = Instant::now();
    let second = command(
        second_dir.path(),
        KEY,
        &["apply", "--auto-approve", "--lock-timeout", "2m"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()?;
    let first = finish(first)?;
    let second = finish_within(second, Duration::from_secs(150))?;
    let took = waited.elapsed();
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert!(
        took > Duration::from_secs(1),
        "the second did not wait: {took:?}"
    );
    // Whom it waits for, once (not at every retry), then that it has the lock.
    common::assert_waited_once_for(&second.stderr, pid);
    // Both wrote: the second's serial is past the first's, and the blob holds it.
    let one = reported_serial(&first.stdout).ok_or(first.stdout.clone())?;
    let two = reported_serial(&second.stdout).ok_or(second.stdout.clone())?;
    assert!(two > one, "{one} then {two}");
    assert_eq!(serial_of(&p.container.client)?, two);
    let listed = run(second_dir.path(), &["state", "list"])?;
    assert!(listed.stdout.contains("ops/u4"), "{}", listed.stdout);
    let log = p.proxy.log();
    assert!(
        !log.iter().any(|e: &Entry| e.status == Some(412)),
        "a write was refused:\n{}",
        summary(&log)
    );
    Ok(())
}

/// B7 with a killed holder: its 15-second lease lapses by itself, and an apply with
/// `--lock-timeout 30s` started meanwhile takes it then, saying it waited.
#[test]
fn an_apply_with_a_lock_timeout_takes_a_killed_holders_lease_once_it_lapses() -> Result {
    let p = proxied("b7kill")?;
    let dir = workspace(&p, 6)?;
    let mut holder = command(dir.path(), KEY, &["apply", "--auto-approve"])
        .env("PIMPLAN_TEST_STEP_DELAY_MS", "500")
        .env("PIMPLAN_TEST_LEASE_SECONDS", "15")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = holder.id();
    wait_for(&p, "a first Put Blob under the lease", |log| {
        log.iter()
            .any(|e| common::remote::is_put_blob(e) && e.lease_id.is_some() && e.status.is_some())
    })?;
    let _ = holder.kill();
    let _ = holder.wait();
    let killed = Instant::now();
    let props = p.container.client.get_properties(BLOB, None)?;
    assert_eq!(props.lease.state, LeaseState::Leased);
    let next = command(
        dir.path(),
        KEY,
        &["apply", "--auto-approve", "--lock-timeout", "30s"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()?;
    let next = finish_within(next, Duration::from_secs(60))?;
    let took = killed.elapsed();
    assert_eq!(next.code, 0, "{}{}", next.stdout, next.stderr);
    // It got the lease after it lapsed (15 s from the last renewal), within its 30 s.
    assert!(
        took > Duration::from_secs(5) && took < Duration::from_secs(30),
        "{took:?}"
    );
    let said = flat(&next.stderr);
    assert_eq!(said.matches("is locked by").count(), 1, "{}", next.stderr);
    assert!(said.contains(&format!("process {pid} ")), "{said}");
    assert!(said.contains("waiting up to 30 s"), "{said}");
    assert!(said.contains("expires by itself within 60 s"), "{said}");
    assert!(
        said.contains("took the lock on the state after waiting"),
        "{said}"
    );
    let listed = run(dir.path(), &["state", "list"])?;
    for u in 0..6 {
        assert!(
            listed.stdout.contains(&format!("ops/u{u}")),
            "{}",
            listed.stdout
        );
    }
    Ok(())
}

/// How many applies race in B8.
const RACERS: usize = 50;

/// B8: many applies at once with `--lock-timeout 0s` on one blob: exactly one applies, every
/// other exits 1 at once naming the holder; the blob's serial grew by one apply's writes.
#[test]
fn applies_racing_for_the_lease_one_wins_the_others_name_it() -> Result {
    let container = azurite::container("b8")?;
    let one = std::fs::read_to_string(eligible_workspace(1).path().join("pimplan.yaml"))?;
    let dir = on_blob(&one, &container)?;
    let yaml = state_yaml(&container.name, &container.server.endpoint_url());
    let first = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let before = serial_of(&container.client)?;
    let root = std::fs::read_to_string(eligible_workspace(3).path().join("pimplan.yaml"))?;
    std::fs::write(dir.path().join("pimplan.yaml"), format!("{root}{yaml}"))?;
    // What one apply of that plan writes, alone, on a copy of the blob.
    let alone = azurite::container("b8alone")?;
    let bytes = container.client.get_blob(BLOB, None, None)?.bytes;
    alone.client.put_blob(
        BLOB,
        &bytes,
        "application/json",
        &Metadata::new(),
        Conditions::default(),
    )?;
    let alone_dir = on_blob(&root, &alone)?;
    let solo = run(alone_dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(solo.code, 0, "{}{}", solo.stdout, solo.stderr);
    let writes = serial_of(&alone.client)? - before;
    assert!(writes >= 1);

    // The winner holds the lease a few seconds (a pause after each change), so that every
    // racer, however late the loaded machine starts it, meets it: one that came after the
    // winner's end would find nothing left to do and win too.
    let started = Instant::now();
    let children: Vec<Child> = (0..RACERS)
        .map(|_| {
            command(
                dir.path(),
                KEY,
                &["apply", "--auto-approve", "--lock-timeout", "0s"],
            )
            .env("PIMPLAN_TEST_STEP_DELAY_MS", "3000")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let waiters: Vec<_> = children
        .into_iter()
        .map(|c| {
            std::thread::spawn(move || {
                finish_within(c, Duration::from_secs(60))
                    .map(|r| (r, Instant::now()))
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut runs = Vec::new();
    let mut ends = Vec::new();
    for w in waiters {
        match w.join() {
            Ok(Ok((r, end))) => {
                runs.push(r);
                ends.push(end);
            }
            Ok(Err(e)) => unreachable!("a racer hung or failed to run: {e}"),
            Err(_) => unreachable!("a waiting thread panicked"),
        }
    }
    let took = started.elapsed();
    let winners: Vec<usize> = (0..RACERS).filter(|&i| runs[i].code == 0).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        runs.iter().map(|r| r.code).collect::<Vec<_>>()
    );
    let winner = pids[winners[0]];
    for (i, r) in runs.iter().enumerate() {
        if i == winners[0] {
            continue;
        }
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        let said = flat(&r.stderr);
        assert!(said.contains("is locked by"), "{said}");
        assert!(
            said.contains(&format!("process {winner} ")),
            "racer {i} does not name the holder {winner}: {said}"
        );
        assert!(!said.contains("waiting up to"), "{said}");
        // It failed at once, while the winner still held the lease.
        assert!(
            ends[i] < ends[winners[0]],
            "racer {i} ended after the winner"
        );
    }
    assert_eq!(serial_of(&container.client)?, before + writes);
    let props = container.client.get_properties(BLOB, None)?;
    assert_ne!(props.lease.state, LeaseState::Leased);
    eprintln!("B8: {RACERS} racers took {took:?}");
    Ok(())
}
