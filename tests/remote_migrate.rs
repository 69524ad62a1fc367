//! `pimplan state migrate --to …` through the binary against Azurite (issue 15 point 6;
//! design remote-state.md B.7, acceptance B3): a local state moved to a blob, checked byte
//! for byte, the local file set aside as `.migrated`, the printed YAML making the workspace
//! plan against the blob with no changes; then what is refused (a newer or equal remote,
//! another lineage without `--force`, a lease held by another, a bad `--to`), each leaving
//! the local state untouched. `AZURE_STORAGE_KEY` is the emulator's key; no output shows it.
//!
//! Azurite must be installed (`npm ci --prefix tests/azurite --no-audit --no-fund`); when it
//! is not, these tests fail with that command.

mod common;

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use common::azurite::{self, TestContainer};
use common::blob_proxy::{self, Fault, Match, Rule};
use common::remote::{NOW, listing, run};
use common::{eligible_workspace, flat};
use pimplan::config::model::{AzureBlobLocation, StorageAuth};
use pimplan::state::azure::AzureBlob;
use pimplan::state::backend::{LockInfo, sha256_hex};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const BLOB: &str = "prod.json";
const STATE: &str = "pimplan.state.json";

/// `--to azurerm://devstoreaccount1/CONTAINER/prod.json` and the flags Azurite needs.
fn to_args(c: &TestContainer) -> Vec<String> {
    vec![
        "state".to_owned(),
        "migrate".to_owned(),
        "--to".to_owned(),
        format!("azurerm://{}/{}/{BLOB}", azurite::ACCOUNT, c.name),
        "--endpoint".to_owned(),
        c.server.endpoint_url(),
        "--auth".to_owned(),
        "shared_key".to_owned(),
    ]
}

fn migrate(dir: &Path, c: &TestContainer, extra: &[&str]) -> Result<common::Run> {
    migrate_via(dir, c, &c.server.endpoint_url(), extra)
}

/// [`migrate`] with `endpoint` as `--endpoint` (the fault proxy's).
fn migrate_via(
    dir: &Path,
    c: &TestContainer,
    endpoint: &str,
    extra: &[&str],
) -> Result<common::Run> {
    let mut args = to_args(c);
    args[5] = endpoint.to_owned();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(dir, &args)
}

/// The blob's bytes now (none: no blob, or the lock's empty placeholder).
fn remote(c: &TestContainer) -> Option<Vec<u8>> {
    c.client
        .get_blob(BLOB, None, None)
        .ok()
        .map(|b| b.bytes)
        .filter(|b| !b.is_empty())
}

/// `apply --auto-approve` of the workspace in `dir`, on its local state; its bytes.
fn applied(dir: &Path) -> Result<Vec<u8>> {
    let out = run(dir, &["apply", "--auto-approve"])?;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    Ok(std::fs::read(dir.join(STATE))?)
}

/// The lines from `state:` to the end of the migration's output: the YAML it printed.
fn printed_yaml(stdout: &str) -> Result<String> {
    let start = stdout
        .lines()
        .position(|l| l.starts_with("state:"))
        .ok_or(format!("no `state:` YAML in: {stdout}"))?;
    let mut yaml: String = stdout
        .lines()
        .skip(start)
        .map(|l| format!("{l}\n"))
        .collect();
    yaml.truncate(yaml.trim_end().len());
    yaml.push('\n');
    Ok(yaml)
}

/// B3: the example, applied to a local state, moved to the blob: the blob holds the local
/// bytes (same SHA-256), the local file is `pimplan.state.json.migrated` (no lock file
/// left), and the YAML printed, put in pimplan.yaml in place of `state:`, makes `plan
/// --detailed-exitcode` read the blob and find no changes. A second migration of the same
/// state (the file put back) is refused as newer or equal, changing nothing.
#[test]
fn b3_the_example_moves_to_the_blob_byte_for_byte_and_plans_with_no_changes() -> Result {
    let c = azurite::container("migrate-b3")?;
    let ws = common::copy_fixture("fixtures/example");
    let dir = ws.path();
    let local = applied(dir)?;
    let before = listing(dir)?;
    assert!(before.contains(&STATE.to_owned()), "{before:?}");

    let out = migrate(dir, &c, &[])?;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let blob = remote(&c).ok_or("the blob holds no state")?;
    assert_eq!(sha256_hex(&blob), sha256_hex(&local));
    assert_eq!(blob, local);
    assert!(out.stdout.contains(&sha256_hex(&local)), "{}", out.stdout);
    // The local file is set aside as it was; nothing else changed (no lock file left).
    let mut expected: Vec<String> = before
        .iter()
        .map(|n| {
            if n == STATE {
                format!("{STATE}.migrated")
            } else {
                n.clone()
            }
        })
        .collect();
    expected.sort();
    assert_eq!(listing(dir)?, expected);
    assert_eq!(std::fs::read(dir.join(format!("{STATE}.migrated")))?, local);

    // The YAML printed is the mapping with the endpoint and auth given; pimplan.yaml was not
    // edited.
    let yaml = printed_yaml(&out.stdout)?;
    assert_eq!(
        yaml,
        format!(
            "state:\n  backend: azurerm\n  account: devstoreaccount1\n  container: {}\n  key: {BLOB}\n  endpoint: {}\n  auth: shared_key\n",
            c.name,
            c.server.endpoint_url()
        )
    );
    let root = dir.join("pimplan.yaml");
    let original = std::fs::read_to_string(&root)?;
    assert!(original.contains("state: pimplan.state.json\n"));
    common::edit(&root, "state: pimplan.state.json\n", &yaml);
    let plan = run(dir, &["plan", "--detailed-exitcode"])?;
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    // Read from the blob: no local state came back.
    assert!(!dir.join(STATE).exists());

    // The same state again (the file put back, pimplan.yaml as it was): refused, nothing
    // changed on either side.
    std::fs::write(&root, &original)?;
    std::fs::rename(dir.join(format!("{STATE}.migrated")), dir.join(STATE))?;
    let again = migrate(dir, &c, &[])?;
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    let said = flat(&again.stderr);
    assert!(
        said.contains("the remote state is newer or equal (serial"),
        "{said}"
    );
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(std::fs::read(dir.join(STATE))?, local);
    assert_eq!(listing(dir)?, before);
    assert_eq!(remote(&c), Some(local));
    Ok(())
}

/// A blob holding another state (another lineage) is not replaced without `--force`; with
/// it, the blob holds the local bytes and its version before is kept as a snapshot.
#[test]
fn another_lineage_is_replaced_only_with_force() -> Result {
    let c = azurite::container("migrate-lineage")?;
    let first = eligible_workspace(2);
    let first_bytes = applied(first.path())?;
    let out = migrate(first.path(), &c, &[])?;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let other = eligible_workspace(3);
    let other_bytes = applied(other.path())?;
    let before = listing(other.path())?;
    let refused = migrate(other.path(), &c, &[])?;
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    let said = flat(&refused.stderr);
    assert!(said.contains("another state (lineage"), "{said}");
    assert!(said.contains("--force"), "{said}");
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(remote(&c), Some(first_bytes.clone()));
    assert_eq!(listing(other.path())?, before);
    assert_eq!(std::fs::read(other.path().join(STATE))?, other_bytes);

    let forced = migrate(other.path(), &c, &["--force"])?;
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert_eq!(remote(&c), Some(other_bytes));
    assert!(!other.path().join(STATE).exists());
    let snapshots: Vec<_> = c
        .client
        .list_blobs(Some(BLOB))?
        .into_iter()
        .filter_map(|b| b.snapshot)
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    let kept = c.client.get_blob(BLOB, Some(&snapshots[0]), None)?;
    assert_eq!(kept.bytes, first_bytes);
    Ok(())
}

/// A state with a change an interrupted apply left pending is still a valid state: it moves
/// as it is, its pending marker with it. And back: with the blob as `state:`, `--to PATH`
/// writes the same bytes to a local file and leaves the blob as it is.
#[test]
fn a_pending_change_moves_with_the_state_and_it_comes_back_to_a_file() -> Result {
    let c = azurite::container("migrate-pending")?;
    let ws = eligible_workspace(2);
    let dir = ws.path();
    applied(dir)?;
    let mut st = common::state(dir);
    let first = st["assignments"][0].clone();
    st["pending"] = serde_json::json!([{
        "started_at": NOW,
        "action": "remove",
        "address": "assignment ops/u0 (member, eligible)",
        "object": "assignment",
        "before": first,
    }]);
    common::write_state(dir, &st);
    let local = std::fs::read(dir.join(STATE))?;

    let out = migrate(dir, &c, &[])?;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("1 change(s) an interrupted apply left pending moved with it"),
        "{}",
        out.stdout
    );
    assert_eq!(remote(&c), Some(local.clone()));

    // The blob as the workspace's state, then back to a local file.
    let root = dir.join("pimplan.yaml");
    let text = std::fs::read_to_string(&root)?;
    std::fs::write(&root, format!("{text}{}", printed_yaml(&out.stdout)?))?;
    let listed = run(dir, &["state", "list"])?;
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    assert!(
        listed.stdout.contains("pending: assignment ops/u0"),
        "{}",
        listed.stdout
    );
    let back = run(dir, &["state", "migrate", "--to", "back.json"])?;
    assert_eq!(back.code, 0, "{}{}", back.stdout, back.stderr);
    assert_eq!(std::fs::read(dir.join("back.json"))?, local);
    assert_eq!(printed_yaml(&back.stdout)?, "state: back.json\n");
    assert!(back.stdout.contains("was left as it is"), "{}", back.stdout);
    assert_eq!(remote(&c), Some(local));
    assert!(!dir.join("back.json.migrated").exists());
    Ok(())
}

/// A write the service refuses (403 on the fenced Put Blob): exit 1, the error says the
/// target is untouched; the local state is untouched (not renamed, no lock file).
#[test]
fn a_refused_write_leaves_both_sides_as_they_were_and_says_so() -> Result {
    let p = blob_proxy::proxied("migrate-refused")?;
    p.proxy.fault(Rule::always(
        Match::put_blob().header("x-ms-lease-id"),
        Fault::fail_with(403, "AuthorizationPermissionMismatch", None),
    ));
    let ws = eligible_workspace(2);
    let local = applied(ws.path())?;
    let before = listing(ws.path())?;
    let out = migrate_via(ws.path(), &p.container, &p.proxy.endpoint_url(), &[])?;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = flat(&out.stderr);
    assert!(said.contains("cannot write the state to"), "{said}");
    assert!(
        said.contains("403 AuthorizationPermissionMismatch"),
        "{said}"
    );
    assert!(
        said.contains("the local state is untouched, and the target is untouched"),
        "{said}"
    );
    assert_eq!(remote(&p.container), None);
    assert_eq!(listing(ws.path())?, before);
    assert_eq!(std::fs::read(ws.path().join(STATE))?, local);
    Ok(())
}

/// A write whose answer is lost (Azurite committed it): read back, it holds the local
/// bytes, so the migration ends well.
#[test]
fn a_lost_answer_is_read_back_and_the_migration_ends_well() -> Result {
    let p = blob_proxy::proxied("migrate-lost")?;
    p.proxy.fault(Rule::once(
        Match::put_blob().header("x-ms-lease-id"),
        Fault::DropResponseAfterCommit,
    ));
    let ws = eligible_workspace(2);
    let local = applied(ws.path())?;
    let out = migrate_via(ws.path(), &p.container, &p.proxy.endpoint_url(), &[])?;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(remote(&p.container), Some(local.clone()));
    assert_eq!(
        std::fs::read(ws.path().join(format!("{STATE}.migrated")))?,
        local
    );
    let faulted = p.proxy.log().iter().filter(|e| e.fault.is_some()).count();
    assert_eq!(faulted, 1, "the fault did not fire");
    Ok(())
}

/// A blob whose lease another holds: refused at once, naming the holder; the local state is
/// untouched and the blob was not written. With `--lock-timeout` the migration waits for the
/// lease to be released.
#[test]
fn a_lease_held_by_another_is_named_and_nothing_changes() -> Result {
    let c = azurite::container("migrate-leased")?;
    let ws = eligible_workspace(2);
    let local = applied(ws.path())?;
    let before = listing(ws.path())?;
    let location = AzureBlobLocation {
        account: azurite::ACCOUNT.to_owned(),
        container: c.name.clone(),
        key: BLOB.to_owned(),
        endpoint: c.server.endpoint_url(),
        auth: StorageAuth::SharedKey,
        snapshot: true,
    };
    let blob = AzureBlob::with_credential(&location, azurite::shared_key()?)?;
    let mut holder = LockInfo::this_process("pimplan apply");
    holder.user = "release-bot".to_owned();
    holder.host = "ci-runner-7".to_owned();
    holder.pid = 4242;
    let held = blob.lock_blob(holder, Duration::ZERO)?;

    let out = migrate(ws.path(), &c, &[])?;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = flat(&out.stderr);
    for part in [
        "locked by",
        "release-bot",
        "ci-runner-7",
        "4242",
        "pimplan apply",
    ] {
        assert!(said.contains(part), "{part}: {said}");
    }
    assert!(said.contains("the local state is untouched"), "{said}");
    assert_eq!(remote(&c), None, "the blob was written");
    assert_eq!(listing(ws.path())?, before);
    assert_eq!(std::fs::read(ws.path().join(STATE))?, local);

    // With `--lock-timeout`, it waits for the holder to finish, then migrates.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        drop(held);
    });
    let waited = migrate(ws.path(), &c, &["--lock-timeout", "30s"])?;
    let _ = releaser.join();
    assert_eq!(waited.code, 0, "{}{}", waited.stdout, waited.stderr);
    assert_eq!(remote(&c), Some(local));
    Ok(())
}

/// A `--to` that names no usable target is refused (exit 1, as every `state` error) saying what is wrong,
/// as lint says it of `state:`; nothing is read or written.
#[test]
fn a_bad_target_is_refused_with_what_is_wrong() -> Result {
    let ws = eligible_workspace(2);
    let local = applied(ws.path())?;
    let before = listing(ws.path())?;
    let cases: &[(&[&str], &str)] = &[
        (
            &["--to", "azurerm://devstoreaccount1/AB/prod.json"],
            "the container `AB` of `--to` is not a container name (3–63 lowercase characters",
        ),
        (
            &["--to", "azurerm://devstoreaccount1/ctr"],
            "`--to azurerm://devstoreaccount1/ctr` names no key",
        ),
        (
            &["--to", "azurerm://acct/ctr/k", "--auth", "shared-key"],
            "`--auth shared-key` is not a way to authorize requests to storage",
        ),
        (
            &[
                "--to",
                "azurerm://acct/ctr/k",
                "--endpoint",
                "http://storage.example/x",
            ],
            "plain http to storage.example",
        ),
        (
            &["--to", "other.json", "--endpoint", "http://127.0.0.1:1/x"],
            "`--endpoint` is for a remote target",
        ),
        (
            &["--to", "../outside.json"],
            "points outside the workspace folder",
        ),
        (&["--to", STATE], "is where the state is already"),
        (
            &["--to", "./pimplan.state.json"],
            "is where the state is already",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["state", "migrate"];
        args.extend_from_slice(extra);
        let out = run(ws.path(), &args)?;
        assert_eq!(out.code, 1, "{extra:?}: {}{}", out.stdout, out.stderr);
        let said = flat(&out.stderr);
        assert!(said.contains(expected), "{extra:?}: {said}");
        assert!(!said.contains("panicked"), "{extra:?}: {said}");
        assert_eq!(listing(ws.path())?, before, "{extra:?}");
        assert_eq!(std::fs::read(ws.path().join(STATE))?, local, "{extra:?}");
    }
    Ok(())
}
