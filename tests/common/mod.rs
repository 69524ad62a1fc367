//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod azurite;
pub mod blob_proxy;
pub mod graph;
pub mod graphviz;
pub mod remote;

use std::path::{Path, PathBuf};

pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap_or(());
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or(0);
        }
    }
}

/// A copy of a folder of the project (e.g. `fixtures/example`) in a fresh temporary folder.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    copy_dir(&manifest().join(name), tmp.path());
    tmp
}

/// Replace the first `from` in a file; the test fails if the file lacks it.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(text.contains(from), "{} lacks `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap_or(());
}

/// The state file of the workspace in `dir` as JSON (null when there is none).
pub fn state(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// Replace the state file of the workspace in `dir` by `state`, as a test's hand edit, and
/// accept the edit through the binary (`pimplan state accept-edit`), which records its
/// checksum; the test fails if pimplan refuses it.
pub fn write_state(dir: &Path, state: &serde_json::Value) {
    let text = serde_json::to_string_pretty(state).unwrap_or_default();
    std::fs::write(dir.join("pimplan.state.json"), text).unwrap_or(());
    let accepted = run(
        dir,
        "2026-12-01T00:00:00Z",
        &["state", "accept-edit", "--auto-approve"],
    );
    assert_eq!(
        accepted.code, 0,
        "the edited state was not accepted: {}{}",
        accepted.stdout, accepted.stderr
    );
}

/// A fresh temporary folder holding `pimplan.yaml` with `text`.
pub fn workspace_with(text: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::write(tmp.path().join("pimplan.yaml"), text).unwrap_or(());
    tmp
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| unreachable!("not JSON ({e}): {text}"))
}

/// The variables that would point a test's pimplan at a real tenant or change its clock:
/// every runner removes them.
pub const HOST_ENV: &[&str] = &[
    "PIMPLAN_NOW",
    "PIMPLAN_TEST_STEP_DELAY_MS",
    "PIMPLAN_TEST_WAIT_NOTICE_MS",
    "PIMPLAN_TEST_SETTLE_MS",
    "PIMPLAN_GRAPH_TOKEN",
    "PIMPLAN_GRAPH_URL",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
];

/// Run pimplan (state target, no credentials) in `dir` at `now`.
pub fn run(dir: &Path, now: &str, args: &[&str]) -> Run {
    run_bounded(dir, now, args, std::time::Duration::from_secs(120), None)
}

/// [`run`], killed after `time` (which fails the test), its address space limited to
/// `memory_kib` when given (a runaway read then dies instead of filling the machine).
pub fn run_bounded(
    dir: &Path,
    now: &str,
    args: &[&str],
    time: std::time::Duration,
    memory_kib: Option<u64>,
) -> Run {
    let bin = assert_cmd::cargo::cargo_bin("pimplan");
    let mut cmd = assert_cmd::Command::new("sh");
    let limit = memory_kib.map_or(String::new(), |k| format!("ulimit -v {k}; "));
    cmd.current_dir(dir)
        .arg("-c")
        .arg(format!("{limit}exec \"$0\" \"$@\""))
        .arg(bin)
        .args(args)
        .args(["--now", now, "--color", "never"])
        .timeout(time);
    for k in HOST_ENV {
        cmd.env_remove(k);
    }
    match cmd.output() {
        Ok(out) => Run::of(&out),
        Err(e) => unreachable!("pimplan {args:?} did not finish within {time:?}: {e}"),
    }
}

/// `text` on one line: miette wraps its messages to the terminal's width.
pub fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `pimplan apply --auto-approve EXTRA…` in `dir` at `now`, in the background, pausing
/// `delay_ms` after each change (`PIMPLAN_TEST_STEP_DELAY_MS`), its output piped.
pub fn spawn_apply(dir: &Path, now: &str, extra: &[&str], delay_ms: u64) -> std::process::Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pimplan"));
    for k in HOST_ENV {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir)
        .env("PIMPLAN_TEST_STEP_DELAY_MS", delay_ms.to_string())
        .args(["apply", "--auto-approve"])
        .args(extra)
        .args(["--now", now, "--color", "never"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| unreachable!("{e}"))
}

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(out: &std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A workspace of `n` licensed users, each eligible for the group `ops`.
pub fn eligible_workspace(n: usize) -> tempfile::TempDir {
    let mut text = String::from("version: 1\nprincipals:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ name: u{i}, type: user, licenses: [entra_id_p2] }}\n"
        ));
    }
    text.push_str("groups:\n  - name: ops\n    owners: [u0]\nassignments:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
        ));
    }
    workspace_with(&text)
}

/// The host name pimplan records in its lock (Linux).
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// A live process of this machine (`sleep 60`), to hold a lock in a test; see [`stop`].
pub fn sleeper() -> std::process::Child {
    std::process::Command::new("sleep")
        .arg("60")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| unreachable!("{e}"))
}

pub fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// What a pimplan that waited for the lock of process `pid` says on stderr: whom it waits
/// for, once (not at every retry), then that it has the lock.
pub fn assert_waited_once_for(stderr: &str, pid: u32) {
    let said = flat(stderr);
    assert_eq!(said.matches("is locked by").count(), 1, "{stderr}");
    assert!(said.contains(&format!("(process {pid} ")), "{said}");
    assert!(
        said.contains("waiting up to 2 min for it to finish"),
        "{said}"
    );
    assert!(
        said.contains("took the lock on the state after waiting"),
        "{said}"
    );
}
