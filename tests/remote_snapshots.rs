//! `state snapshots` and `state restore SNAPSHOT` (issue 15 point 6; design remote-state.md
//! B.6 invariant 6, B.10 B20), a push to an empty remote (point 3), and `-v` logging every
//! storage request without a secret (point 7, B19): through the binary, the state a blob on
//! Azurite reached through the fault proxy, as tests/remote_state.rs runs it; and a local
//! state's one snapshot, its `backup`.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command.

mod common;

use std::path::Path;

use common::azurite::{KEY, account_sas};
use common::blob_proxy::{Entry, Proxied};
use common::remote::{
    Auth, BLOB, NOW, Result, command_as, is_put_blob, no_secret, proxied, run, state_yaml_with,
    summary, workspace, workspace_with,
};
use common::{Run, eligible_workspace, flat};

/// Rewrite the workspace in `dir` to `n` eligible users, its state still the test's blob
/// (`auth`).
fn set_users(dir: &Path, p: &Proxied, n: usize, auth: &str) -> Result {
    let text = std::fs::read_to_string(eligible_workspace(n).path().join("pimplan.yaml"))?;
    std::fs::write(
        dir.join("pimplan.yaml"),
        format!(
            "{text}{}",
            state_yaml_with(&p.container.name, &p.proxy.endpoint_url(), auth)
        ),
    )?;
    Ok(())
}

/// `state snapshots --format json`, parsed.
fn snapshots_json(dir: &Path) -> Result<serde_json::Value> {
    let listed = run(dir, &["state", "snapshots", "--format", "json"])?;
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    Ok(serde_json::from_str(&listed.stdout)?)
}

/// The ids `state snapshots --format json` lists, in its order.
fn ids(listed: &serde_json::Value) -> Vec<String> {
    listed["snapshots"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The state the blob holds, through `state pull`.
fn pulled(dir: &Path) -> Result<serde_json::Value> {
    let out = run(dir, &["state", "pull"])?;
    assert_eq!(out.code, 0, "{}", out.stderr);
    Ok(serde_json::from_str(&out.stdout)?)
}

/// The users of a state's assignments, sorted.
fn users(state: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = state["assignments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["key"].as_str())
                .filter_map(|k| k.split("name:").nth(2))
                .map(|u| u.split('/').next().unwrap_or(u).to_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// B20: after two applies the blob has two more snapshots, newest first, each with the
/// serial it holds; restoring the older one writes its entries as the next serial (never
/// its own), under the lease and fenced, the state before snapshotted first; a plan saved
/// before the restore is then stale.
#[test]
fn two_applies_add_two_snapshots_and_restoring_one_writes_the_next_serial() -> Result {
    let p = proxied("b20")?;
    let dir = workspace(&p, 2)?;
    let first = run(dir.path(), &["apply", "--auto-approve"])?;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let before = ids(&snapshots_json(dir.path())?);
    for n in [3, 4] {
        set_users(dir.path(), &p, n, "shared_key")?;
        let applied = run(dir.path(), &["apply", "--auto-approve"])?;
        assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    }
    let listed = snapshots_json(dir.path())?;
    let after = ids(&listed);
    assert_eq!(after.len(), before.len() + 2, "{listed}");
    // Newest first: the time stamps of the snapshots taken, descending.
    let mut sorted = after.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(after, sorted, "{listed}");
    // Each serial listed is the one its bytes hold; the older holds the first apply's state.
    for s in listed["snapshots"].as_array().into_iter().flatten() {
        let id = s["id"].as_str().unwrap_or_default();
        let bytes = p.container.client.get_blob(BLOB, Some(id), None)?.bytes;
        let held: serde_json::Value = serde_json::from_slice(&bytes)?;
        assert_eq!(s["serial"], held["serial"], "{listed}");
        assert_eq!(s["lineage"], held["lineage"], "{listed}");
        assert_eq!(s["size"].as_u64(), Some(bytes.len() as u64), "{listed}");
    }
    let older = after.get(1).ok_or("no second snapshot")?.clone();
    let kept: serde_json::Value =
        serde_json::from_slice(&p.container.client.get_blob(BLOB, Some(&older), None)?.bytes)?;
    assert_eq!(users(&kept), ["u0", "u1"], "{kept}");
    let human = run(dir.path(), &["state", "snapshots"])?;
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human
            .stdout
            .contains(&format!("{older}  serial {}", kept["serial"])),
        "{}",
        human.stdout
    );

    // A plan saved now, from the state of four users (a fifth to add).
    set_users(dir.path(), &p, 5, "shared_key")?;
    let elsewhere = tempfile::tempdir()?;
    let saved = elsewhere.path().join("p.json");
    let saved = saved.to_string_lossy().into_owned();
    let plan = run(dir.path(), &["plan", "--out", &saved])?;
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let now = pulled(dir.path())?;

    // Without a terminal, a restore asks for `--auto-approve` and writes nothing.
    p.proxy.clear();
    let asked = run(dir.path(), &["state", "restore", &older])?;
    assert_eq!(asked.code, 1, "{}{}", asked.stdout, asked.stderr);
    assert!(
        flat(&asked.stderr).contains("--auto-approve"),
        "{}",
        asked.stderr
    );
    assert!(
        !p.proxy.log().iter().any(is_put_blob),
        "{}",
        summary(&p.proxy.log())
    );

    p.proxy.clear();
    let restored = run(dir.path(), &["state", "restore", &older, "--auto-approve"])?;
    assert_eq!(restored.code, 0, "{}{}", restored.stdout, restored.stderr);
    let serial = now["serial"].as_u64().ok_or("no serial")? + 1;
    let said = flat(&restored.stdout);
    // What it changes is shown: the users the snapshot lacks are removed.
    assert!(said.contains("- assignment ops/u2"), "{said}");
    assert!(said.contains("- assignment ops/u3"), "{said}");
    assert!(said.contains(&format!("as serial {serial}")), "{said}");
    assert!(said.contains("stale"), "{said}");
    let state = pulled(dir.path())?;
    assert_eq!(state["serial"].as_u64(), Some(serial), "{state}");
    assert_eq!(state["lineage"], now["lineage"]);
    assert_eq!(state["assignments"], kept["assignments"]);
    assert_eq!(state["policies"], kept["policies"]);
    // Under the lease: the state before snapshotted first, then one write, fenced twice.
    let log = p.proxy.log();
    let all = summary(&log);
    let acquire = log
        .iter()
        .position(|e| e.lease_action.as_deref() == Some("acquire") && e.status == Some(201))
        .ok_or(format!("no lease:\n{all}"))?;
    let snapshot = log
        .iter()
        .position(|e| e.comp().as_deref() == Some("snapshot"))
        .ok_or(format!("the state before was not snapshotted:\n{all}"))?;
    let writes: Vec<&Entry> = log.iter().filter(|e| is_put_blob(e)).collect();
    assert_eq!(writes.len(), 1, "{all}");
    let write = log.iter().position(is_put_blob).unwrap_or(0);
    assert!(acquire < snapshot && snapshot < write, "{all}");
    assert!(
        writes[0].lease_id.is_some() && writes[0].if_match.is_some(),
        "{all}"
    );
    // The state before is the newest snapshot now.
    let again = snapshots_json(dir.path())?;
    assert_eq!(ids(&again).len(), after.len() + 1, "{again}");
    assert_eq!(again["snapshots"][0]["serial"], now["serial"], "{again}");

    // The plan saved before the restore is stale, and nothing is written.
    p.proxy.clear();
    let stale = run(dir.path(), &["apply", &saved])?;
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(flat(&stale.stderr).contains("stale"), "{}", stale.stderr);
    assert!(
        !p.proxy.log().iter().any(is_put_blob),
        "{}",
        summary(&p.proxy.log())
    );

    // An unknown id: exit 1 naming it and how to list them; nothing written.
    p.proxy.clear();
    let unknown = "2020-01-01T00:00:00.0000000Z";
    let out = run(dir.path(), &["state", "restore", unknown, "--auto-approve"])?;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = flat(&out.stderr);
    assert!(said.contains(unknown), "{said}");
    assert!(said.contains("pimplan state snapshots"), "{said}");
    assert!(
        !p.proxy.log().iter().any(is_put_blob),
        "{}",
        summary(&p.proxy.log())
    );
    Ok(())
}

/// Point 3 and the lineage rule: a push to an empty remote does not claim a backup; a
/// snapshot of another lineage is refused without `--force` (nothing written), restored
/// with it as the next serial.
#[test]
fn a_snapshot_of_another_lineage_is_refused_unless_forced() -> Result {
    let p = proxied("lineage")?;
    let dir = workspace(&p, 2)?;
    // Two local states of their own lineages, to push.
    let mut files = Vec::new();
    for n in [1, 3] {
        let local = eligible_workspace(n);
        let applied = common::run(local.path(), NOW, &["apply", "--auto-approve"]);
        assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
        let file = tempfile::NamedTempFile::new()?;
        std::fs::copy(local.path().join("pimplan.state.json"), file.path())?;
        files.push(file);
    }
    let a = files[0].path().to_string_lossy().into_owned();
    let b = files[1].path().to_string_lossy().into_owned();

    let pushed = run(dir.path(), &["state", "push", &a])?;
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    let said = flat(&pushed.stdout);
    assert!(said.contains("there was no state before"), "{said}");
    assert!(!said.contains("kept"), "{said}");
    let lineage_a = pulled(dir.path())?["lineage"].clone();

    let forced = run(dir.path(), &["state", "push", &b, "--force"])?;
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert!(
        flat(&forced.stdout).contains("kept in a snapshot of the blob"),
        "{}",
        forced.stdout
    );
    let now = pulled(dir.path())?;
    assert_ne!(now["lineage"], lineage_a);
    let listed = snapshots_json(dir.path())?;
    let snap = ids(&listed).first().ok_or("no snapshot")?.clone();
    assert_eq!(listed["snapshots"][0]["lineage"], lineage_a, "{listed}");

    p.proxy.clear();
    let refused = run(dir.path(), &["state", "restore", &snap, "--auto-approve"])?;
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    let said = flat(&refused.stderr);
    assert!(said.contains("another state"), "{said}");
    assert!(said.contains("--force"), "{said}");
    assert!(said.contains("nothing was written"), "{said}");
    assert!(
        !p.proxy.log().iter().any(is_put_blob),
        "{}",
        summary(&p.proxy.log())
    );
    assert_eq!(pulled(dir.path())?, now);

    let restored = run(
        dir.path(),
        &["state", "restore", &snap, "--auto-approve", "--force"],
    )?;
    assert_eq!(restored.code, 0, "{}{}", restored.stdout, restored.stderr);
    let state = pulled(dir.path())?;
    assert_eq!(state["lineage"], lineage_a);
    assert_eq!(
        state["serial"].as_u64(),
        now["serial"].as_u64().map(|s| s + 1),
        "{state}"
    );
    Ok(())
}

/// A local state's one snapshot is its backup, `backup`: listed with its serial (or "no
/// snapshots"), restored as the next serial, the state before kept as the backup in turn.
#[test]
fn a_local_state_restores_its_backup() -> Result {
    let dir = eligible_workspace(2);
    let none = common::run(dir.path(), NOW, &["state", "snapshots"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(none.stdout.contains("no snapshots"), "{}", none.stdout);
    let first = common::run(dir.path(), NOW, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    // A third user, and the first one's duration changed.
    let text = std::fs::read_to_string(eligible_workspace(3).path().join("pimplan.yaml"))?;
    std::fs::write(
        dir.path().join("pimplan.yaml"),
        text.replacen("duration: P90D", "duration: P30D", 1),
    )?;
    // An hour later: a change right after an apply is PIM701.
    let second = common::run(
        dir.path(),
        "2026-12-01T01:00:00Z",
        &["apply", "--auto-approve"],
    );
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let backup = common::json(&std::fs::read_to_string(
        dir.path().join("pimplan.state.json.backup"),
    )?);
    let before = common::state(dir.path());

    let listed = common::run(dir.path(), NOW, &["state", "snapshots", "--format", "json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = common::json(&listed.stdout);
    assert_eq!(ids(&listed), ["backup"], "{listed}");
    assert_eq!(
        listed["snapshots"][0]["serial"], backup["serial"],
        "{listed}"
    );

    let unknown = common::run(
        dir.path(),
        NOW,
        &["state", "restore", "nope", "--auto-approve"],
    );
    assert_eq!(unknown.code, 1, "{}{}", unknown.stdout, unknown.stderr);
    let said = flat(&unknown.stderr);
    assert!(
        said.contains("`nope`") && said.contains("state snapshots"),
        "{said}"
    );
    assert_eq!(common::state(dir.path()), before);

    let restored = common::run(
        dir.path(),
        NOW,
        &["state", "restore", "backup", "--auto-approve"],
    );
    assert_eq!(restored.code, 0, "{}{}", restored.stdout, restored.stderr);
    let said = &restored.stdout;
    assert!(said.contains("- assignment ops/u2"), "{said}");
    assert!(said.contains("~ assignment ops/u0"), "{said}");
    assert!(!said.contains("ops/u1"), "{said}");
    let state = common::state(dir.path());
    assert_eq!(
        state["serial"].as_u64(),
        before["serial"].as_u64().map(|s| s + 1),
        "{state}"
    );
    assert_eq!(state["assignments"], backup["assignments"]);
    assert_eq!(users(&state), ["u0", "u1"]);
    // The state before the restore is the backup now.
    let kept = common::json(&std::fs::read_to_string(
        dir.path().join("pimplan.state.json.backup"),
    )?);
    assert_eq!(kept, before);

    // A state that cannot be read is replaced only with `--force`, the unreadable bytes
    // kept as the backup; the serial then follows the snapshot's.
    std::fs::write(dir.path().join("pimplan.state.json"), "not a state")?;
    let refused = common::run(
        dir.path(),
        NOW,
        &["state", "restore", "backup", "--auto-approve"],
    );
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    let said = flat(&refused.stderr);
    assert!(
        said.contains("cannot be read") && said.contains("--force"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pimplan.state.json"))?,
        "not a state"
    );
    let forced = common::run(
        dir.path(),
        NOW,
        &["state", "restore", "backup", "--auto-approve", "--force"],
    );
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    let state = common::state(dir.path());
    assert_eq!(state["assignments"], before["assignments"]);
    assert_eq!(
        state["serial"].as_u64(),
        before["serial"].as_u64().map(|s| s + 1),
        "{state}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pimplan.state.json.backup"))?,
        "not a state"
    );
    Ok(())
}

/// The SAS signature in `token` (`sig=`), as sent and decoded.
fn sig_of(token: &str) -> Vec<String> {
    let sig = token
        .split('&')
        .find_map(|pair| pair.strip_prefix("sig="))
        .unwrap_or_default()
        .to_owned();
    let decoded = sig
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    vec![sig, decoded]
}

/// Run pimplan with `auth`; every output is checked for `secrets`.
fn run_as(dir: &Path, auth: Auth<'_>, secrets: &[String], args: &[&str]) -> Result<Run> {
    let out = Run::of(&command_as(dir, auth, args).output()?);
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !text.contains(secret.as_str()),
                "{args:?} shows a secret on {what}: {text}"
            );
        }
    }
    no_secret(&format!("{args:?}"), &out.stdout)?;
    no_secret(&format!("{args:?}"), &out.stderr)?;
    Ok(out)
}

/// B19: with `-v`, apply, `state snapshots` and `state restore` log each storage request
/// (method, path, status, the kind of authorization) on stderr, and neither the account
/// key nor the SAS signature appears in any output, in the state, or in the blob's
/// snapshots; once with Shared Key, once with a SAS.
#[test]
fn verbose_logs_every_storage_request_and_no_secret() -> Result {
    let sas = account_sas("rwdlac")?;
    let token = sas.as_query().to_owned();
    let mut secrets = vec![KEY.to_owned(), token.clone()];
    secrets.extend(sig_of(&token));
    for (name, auth, kind) in [
        ("b19key", Auth::Key(KEY), "shared_key"),
        ("b19sas", Auth::Sas(&token), "sas"),
    ] {
        let p = proxied(name)?;
        let dir = workspace_with(&p, 2, kind)?;
        let mut logged = String::new();
        for n in [2, 3] {
            set_users(dir.path(), &p, n, kind)?;
            let applied = run_as(
                dir.path(),
                auth,
                &secrets,
                &["apply", "--auto-approve", "-v"],
            )?;
            assert_eq!(
                applied.code, 0,
                "{kind}: {}{}",
                applied.stdout, applied.stderr
            );
            logged.push_str(&applied.stderr);
        }
        let listed = run_as(dir.path(), auth, &secrets, &["state", "snapshots", "-v"])?;
        assert_eq!(listed.code, 0, "{kind}: {}", listed.stderr);
        logged.push_str(&listed.stderr);
        let id = listed
            .stdout
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next())
            .ok_or(format!("{kind}: no snapshot listed: {}", listed.stdout))?
            .to_owned();
        let restored = run_as(
            dir.path(),
            auth,
            &secrets,
            &["state", "restore", &id, "--auto-approve", "-v"],
        )?;
        assert_eq!(
            restored.code, 0,
            "{kind}: {}{}",
            restored.stdout, restored.stderr
        );
        logged.push_str(&restored.stderr);
        let planned = run_as(dir.path(), auth, &secrets, &["plan", "-v"])?;
        assert_eq!(planned.code, 0, "{kind}: {}", planned.stderr);
        assert!(
            planned.stderr.contains("storage: GET "),
            "{kind}: plan -v logs no read: {}",
            planned.stderr
        );
        logged.push_str(&planned.stderr);
        let unlocked = run_as(dir.path(), auth, &secrets, &["force-unlock", "-v"])?;
        assert_eq!(unlocked.code, 0, "{kind}: {}", unlocked.stderr);
        logged.push_str(&unlocked.stderr);

        // The log lines are there: each kind of request, with its status and the kind of
        // authorization, redacted.
        let shown = match auth {
            Auth::Key(_) => "(Authorization: SharedKey devstoreaccount1:[redacted])",
            Auth::Sas(_) => "(SAS [redacted])",
        };
        for wanted in [
            "storage: GET ",
            "storage: PUT ",
            "storage: HEAD ",
            "comp=lease",
            "comp=snapshot",
            "comp=list",
            "snapshot=",
        ] {
            assert!(
                logged.contains(wanted),
                "{kind}: no `{wanted}` in:\n{logged}"
            );
        }
        let lines: Vec<&str> = logged
            .lines()
            .filter(|l| l.starts_with("storage: "))
            .collect();
        assert!(lines.len() > 10, "{kind}:\n{logged}");
        for line in &lines {
            if !line.contains("busy") {
                assert!(
                    line.contains(" -> ") && line.ends_with(shown),
                    "{kind}: {line}"
                );
            }
        }
        // Nor in what was stored: the state, every snapshot and the metadata.
        let client = &p.container.client;
        let mut stored =
            String::from_utf8_lossy(&client.get_blob(BLOB, None, None)?.bytes).into_owned();
        for item in client.list_blobs(Some(BLOB))? {
            stored.push_str(&format!("{:?}", item.metadata));
            let blob = client.get_blob(BLOB, item.snapshot.as_deref(), None)?;
            stored.push_str(&String::from_utf8_lossy(&blob.bytes));
        }
        for secret in secrets.iter().filter(|s| s.len() >= 8) {
            assert!(
                !stored.contains(secret.as_str()),
                "{kind}: the blob holds a secret"
            );
        }
        no_secret("the blob", &stored)?;
    }
    Ok(())
}
