//! The remote state through the binary, shared by the tests that run it against Azurite
//! through the fault proxy (tests/remote_state.rs, tests/remote_snapshots.rs): a workspace
//! whose `state:` is the test's blob, pimplan run with the emulator's key, and every output
//! checked for the key (B19); tests/remote_crash.rs kills, waits and races on it.

use std::error::Error;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::azurite::KEY;
use super::blob_proxy::{self, Entry, Proxied};
use super::{HOST_ENV, Run, eligible_workspace};

pub type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

pub const BLOB: &str = "prod/pimplan.state.json";
pub const NOW: &str = "2026-12-01T00:00:00Z";

/// The `state:` mapping of a workspace on `container` at `endpoint` (`auth: shared_key`).
pub fn state_yaml(container: &str, endpoint: &str) -> String {
    state_yaml_with(container, endpoint, "shared_key")
}

/// [`state_yaml`] with `auth: AUTH`.
pub fn state_yaml_with(container: &str, endpoint: &str, auth: &str) -> String {
    format!(
        "state:\n  backend: azurerm\n  account: devstoreaccount1\n  container: {container}\n  key: {BLOB}\n  endpoint: \"{endpoint}\"\n  auth: {auth}\n"
    )
}

/// A workspace of `n` eligible users whose state is the test's blob, through its proxy.
pub fn workspace(p: &Proxied, n: usize) -> Result<tempfile::TempDir> {
    workspace_with(p, n, "shared_key")
}

/// [`workspace`] with `auth: AUTH`.
pub fn workspace_with(p: &Proxied, n: usize, auth: &str) -> Result<tempfile::TempDir> {
    workspace_of(
        n,
        &state_yaml_with(&p.container.name, &p.proxy.endpoint_url(), auth),
    )
}

/// A workspace of `n` eligible users whose root file ends with `state` (a `state:` mapping).
pub fn workspace_of(n: usize, state: &str) -> Result<tempfile::TempDir> {
    let dir = eligible_workspace(n);
    let root = dir.path().join("pimplan.yaml");
    let text = std::fs::read_to_string(&root)?;
    std::fs::write(&root, format!("{text}{state}"))?;
    Ok(dir)
}

/// How a run's storage requests are authorized: the variable it is given.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    /// `AZURE_STORAGE_KEY`.
    Key(&'a str),
    /// `AZURE_STORAGE_SAS_TOKEN`.
    Sas(&'a str),
}

/// pimplan in `dir` with `args`, its storage credential `key` (`AZURE_STORAGE_KEY`).
pub fn command(dir: &Path, key: &str, args: &[&str]) -> Command {
    command_as(dir, Auth::Key(key), args)
}

/// pimplan in `dir` with `args`, given `auth` alone of the storage credentials.
pub fn command_as(dir: &Path, auth: Auth<'_>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimplan"));
    for k in HOST_ENV {
        cmd.env_remove(k);
    }
    cmd.env_remove("AZURE_STORAGE_SAS_TOKEN")
        .env_remove("AZURE_STORAGE_KEY")
        .env_remove("PIMPLAN_TEST_LEASE_SECONDS")
        .env_remove("AZURE_STORAGE_CONNECTION_STRING")
        .current_dir(dir);
    match auth {
        Auth::Key(key) => cmd.env("AZURE_STORAGE_KEY", key),
        Auth::Sas(token) => cmd.env("AZURE_STORAGE_SAS_TOKEN", token),
    };
    cmd.args(args)
        .args(["--now", NOW, "--color", "never"])
        .stdin(Stdio::null());
    cmd
}

/// B19: no output may hold the key (or its URL-encoded form).
pub fn no_secret(what: &str, text: &str) -> Result {
    let encoded = KEY
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    for secret in [KEY, &KEY[..20], &encoded] {
        if text.contains(secret) {
            return Err(format!("{what} shows the account key: {text}").into());
        }
    }
    Ok(())
}

/// Run pimplan in `dir` with the emulator's key; the output is checked for the key.
pub fn run(dir: &Path, args: &[&str]) -> Result<Run> {
    run_with(dir, KEY, args)
}

pub fn run_with(dir: &Path, key: &str, args: &[&str]) -> Result<Run> {
    let out = Run::of(&command(dir, key, args).output()?);
    no_secret(&format!("{args:?}"), &out.stdout)?;
    no_secret(&format!("{args:?}"), &out.stderr)?;
    Ok(out)
}

/// `apply --auto-approve` in the background, `delay_ms` after each change.
pub fn spawn_apply(dir: &Path, delay_ms: u64) -> Result<Child> {
    Ok(command(dir, KEY, &["apply", "--auto-approve"])
        .env("PIMPLAN_TEST_STEP_DELAY_MS", delay_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// Wait for `child` (at most 60 s) and return what it did.
pub fn finish(child: Child) -> Result<Run> {
    finish_within(child, Duration::from_secs(60))
}

/// Wait for `child` at most `limit` (then it is killed and the test fails) and return what
/// it did; its output is checked for the key. Its output is read while it runs, so that a
/// full pipe never holds it up.
pub fn finish_within(mut child: Child, limit: Duration) -> Result<Run> {
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("pimplan did not end within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    no_secret("pimplan", &stdout)?;
    no_secret("pimplan", &stderr)?;
    Ok(Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    })
}

/// Wait until `pred` holds of the proxy's log (at most 30 s).
pub fn wait_for(p: &Proxied, what: &str, pred: impl Fn(&[Entry]) -> bool) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pred(&p.proxy.log()) {
        if Instant::now() > deadline {
            return Err(format!("no {what} in 30 s:\n{}", summary(&p.proxy.log())).into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

pub fn summary(log: &[Entry]) -> String {
    log.iter()
        .map(Entry::summary)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A write of the blob itself (Put Blob: `PUT` without `comp=`).
pub fn is_put_blob(e: &Entry) -> bool {
    e.method == "PUT" && e.comp().is_none() && e.path.ends_with(BLOB)
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

pub fn proxied(name: &str) -> Result<Proxied> {
    Ok(blob_proxy::proxied(name)?)
}
