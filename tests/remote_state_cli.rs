//! A workspace whose `state:` is remote (issue 15 points 1 and 2): lint reads it, and every
//! command that needs the state goes through its backend. The endpoint here is a closed
//! loopback port (127.0.0.1:9, discard, never listened on in the tests), so no command can
//! reach a service: each fails cleanly (exit 1, the blob's URL named, no secret, no panic)
//! and writes nothing in the workspace (no lock, no backup, no state file).

mod common;

use std::error::Error;
use std::path::Path;

use common::{HOST_ENV, Run, eligible_workspace};

type Result = std::result::Result<(), Box<dyn Error>>;

/// An account key as Azurite's is shaped (base64), that no output may show.
const KEY: &str = "c2VjcmV0LWtleS10aGF0LW11c3QtbmV2ZXItYmUtcHJpbnRlZA==";
const SAS: &str = "sv=2024-11-04&ss=b&srt=sco&sp=rwdlac&sig=c2lnLW5ldmVyLXByaW50ZWQ%3D";
const BLOB: &str = "http://127.0.0.1:9/devstoreaccount1/pimplan-state/prod/pimplan.state.json";

fn run(dir: &Path, args: &[&str]) -> std::result::Result<Run, Box<dyn Error>> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pimplan"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--now", "2026-12-01T00:00:00Z", "--color", "never"])
        .env("AZURE_STORAGE_KEY", KEY)
        .env("AZURE_STORAGE_SAS_TOKEN", SAS)
        .stdin(std::process::Stdio::null());
    for k in HOST_ENV {
        cmd.env_remove(k);
    }
    Ok(Run::of(&cmd.output()?))
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> std::result::Result<Vec<String>, Box<dyn Error>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// A workspace of two eligible users with `state` as its `state:` lines.
fn workspace(state: &str) -> std::result::Result<tempfile::TempDir, Box<dyn Error>> {
    let dir = eligible_workspace(2);
    let root = dir.path().join("pimplan.yaml");
    let text = std::fs::read_to_string(&root)?;
    std::fs::write(&root, format!("{text}{state}"))?;
    Ok(dir)
}

#[test]
fn every_command_on_an_unreachable_remote_state_fails_cleanly_and_writes_nothing() -> Result {
    let dir = workspace(
        "state:\n  backend: azurerm\n  account: devstoreaccount1\n  container: pimplan-state\n  key: prod/pimplan.state.json\n  endpoint: http://127.0.0.1:9/devstoreaccount1\n  auth: shared_key\n",
    )?;
    let before = listing(dir.path())?;
    assert_eq!(before, ["pimplan.yaml"]);

    let lint = run(dir.path(), &["lint"])?;
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);

    // A file to push, outside the workspace.
    let elsewhere = tempfile::tempdir()?;
    let pushed = elsewhere.path().join("pushed.json");
    std::fs::write(&pushed, "{}")?;
    let pushed = pushed.to_string_lossy().into_owned();
    let plan_out = elsewhere.path().join("p.json");
    let plan_out = plan_out.to_string_lossy().into_owned();
    let commands: Vec<Vec<&str>> = vec![
        vec!["plan"],
        vec!["plan", "--out", &plan_out],
        vec!["plan", "--refresh"],
        vec!["apply", "--auto-approve"],
        vec!["apply", "--auto-approve", "--target", "graph"],
        vec!["drift"],
        vec!["import", "--group", "00000000-0000-0000-0000-000000000001"],
        vec!["state", "list"],
        vec!["state", "list", "--format", "json"],
        vec!["state", "show", "ops"],
        vec!["state", "rm", "ops/u0", "--auto-approve"],
        vec!["state", "accept-edit", "--auto-approve"],
        vec!["state", "pull"],
        vec!["state", "push", &pushed],
        vec!["state", "push", &pushed, "--force"],
        vec!["state", "migrate", "--to", "local.json"],
        vec!["force-unlock", "--force"],
        vec!["state", "snapshots"],
        vec!["state", "snapshots", "--format", "json"],
        vec![
            "state",
            "restore",
            "2026-12-01T00:00:00.0000000Z",
            "--auto-approve",
        ],
        vec![
            "state",
            "restore",
            "backup",
            "--auto-approve",
            "--force",
            "-v",
        ],
        vec!["plan", "-v"],
    ];
    for args in &commands {
        let out = run(dir.path(), args)?;
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, 1, "{args:?}: {all}");
        assert!(!all.contains("panicked"), "{args:?}: {all}");
        let flat = common::flat(&all);
        assert!(
            flat.contains(BLOB) || flat.contains("local state file only"),
            "{args:?} does not name the blob: {all}"
        );
        for secret in [KEY, SAS, "c2lnLW5ldmVyLXByaW50ZWQ"] {
            assert!(!all.contains(secret), "{args:?} shows a secret: {all}");
        }
        assert_eq!(
            listing(dir.path())?,
            before,
            "{args:?} wrote in the workspace"
        );
    }
    // The plan was not saved either: there was no state to plan from.
    assert!(!Path::new(&plan_out).exists());
    Ok(())
}

/// `state accept-edit` compares a local file with the `.backup` beside it: on a remote
/// state it says so and what to do instead.
#[test]
fn accept_edit_on_a_remote_state_says_it_is_for_local_files() -> Result {
    let dir = workspace("state: azurerm://contosopimstate/pimplan-state/prod.json\n")?;
    let out = run(dir.path(), &["state", "accept-edit", "--auto-approve"])?;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let flat = common::flat(&out.stderr);
    assert!(flat.contains("local state file only"), "{flat}");
    assert!(
        flat.contains("https://contosopimstate.blob.core.windows.net/pimplan-state/prod.json"),
        "{flat}"
    );
    assert!(flat.contains("state push"), "{flat}");
    Ok(())
}

/// B1: lint takes the mapping and the shorthand, and points at what it refuses with the
/// words the design gives.
#[test]
fn lint_explains_what_a_remote_state_cannot_hold() -> Result {
    let shorthand = workspace("state: azurerm://acct/ctr/prod.json\n")?;
    let lint = run(shorthand.path(), &["lint"])?;
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);

    let cases = [
        (
            "  sas_token: abc\n",
            "7:3",
            vec![
                "unknown key `sas_token`",
                "secrets never live in YAML: set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN",
            ],
        ),
        (
            "  account_key: abc\n",
            "7:3",
            vec!["unknown key `account_key`", "AZURE_STORAGE_KEY"],
        ),
        (
            "  lease_seconds: 30\n",
            "7:3",
            vec!["unknown key `lease_seconds`", "the lease is fixed at 60 s"],
        ),
        (
            "  endpoint: http://10.1.2.3/devstoreaccount1\n",
            "7:13",
            vec!["plain http to 10.1.2.3", "loopback"],
        ),
    ];
    for (extra, at, words) in cases {
        let dir = common::workspace_with(&format!(
            "version: 1\nstate:\n  backend: azurerm\n  account: acct\n  container: ctr\n  key: prod.json\n{extra}"
        ));
        let lint = run(dir.path(), &["lint"])?;
        assert_eq!(lint.code, 1, "{extra}: {}{}", lint.stdout, lint.stderr);
        let flat = common::flat(&lint.stdout);
        assert!(flat.contains("PIM002"), "{extra}: {flat}");
        assert!(
            flat.contains(&format!("pimplan.yaml:{at}")),
            "{extra}: not at {at}: {flat}"
        );
        for w in words {
            assert!(flat.contains(w), "{extra}: no `{w}`: {flat}");
        }
    }
    let dir = common::workspace_with(
        "version: 1\nstate:\n  backend: azurerm\n  account: acct\n  container: AB\n  key: prod.json\n",
    );
    let lint = run(dir.path(), &["lint"])?;
    assert_eq!(lint.code, 1);
    let flat = common::flat(&lint.stdout);
    assert!(flat.contains("pimplan.yaml:5:14"), "{flat}");
    assert!(flat.contains("3–63 lowercase characters"), "{flat}");
    Ok(())
}
