//! `force-unlock` never lets two applies send at once: a holder on this machine is checked
//! (`/proc`), and only a holder on another machine or an unreadable lock needs `--force`.

mod common;

use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::{Run, eligible_workspace as workspace, sleeper, stop, this_host};

const T0: &str = "2026-12-01T00:00:00Z";
const LOCK: &str = "pimplan.state.json.lock";

fn pimplan(dir: &Path, args: &[&str]) -> Run {
    common::run(dir, T0, args)
}

fn write_lock(dir: &Path, pid: u32, host: &str, since: &str) {
    let lock = serde_json::json!({
        "id": "x", "pid": pid, "host": host, "user": "deploy", "since": since,
        "command": "pimplan apply",
    });
    std::fs::write(dir.join(LOCK), lock.to_string()).unwrap_or(());
}

#[cfg(target_os = "linux")]
#[test]
fn a_running_apply_on_this_machine_keeps_its_lock_even_with_force() {
    let ws = workspace(40);
    let dir = ws.path();
    let bin = assert_cmd::cargo::cargo_bin("pimplan");
    let apply = Process::new(bin)
        .current_dir(dir)
        .env("PIMPLAN_TEST_STEP_DELAY_MS", "1000")
        .args(["apply", "--auto-approve", "--now", T0, "--color", "never"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let started = Instant::now();
    while !dir.join(LOCK).exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(dir.join(LOCK).exists(), "the apply took no lock");
    // Its own lock id does not release it either: a local lock fences no write.
    let held: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(LOCK)).unwrap_or_default())
            .unwrap_or_default();
    let id = held["id"].as_str().unwrap_or_default().to_owned();
    assert!(!id.is_empty(), "no id in the lock: {held}");
    for args in [
        &["force-unlock"][..],
        &["force-unlock", "--force"],
        &["force-unlock", &id],
    ] {
        let run = pimplan(dir, args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("which is still running on this machine")
                && run.stderr.contains("not even with --force"),
            "{}",
            run.stderr
        );
        assert!(dir.join(LOCK).exists());
    }
    // Killed, its lock is stale: released without --force.
    stop(apply);
    let run = pimplan(dir, &["force-unlock"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("(its process no longer runs)"),
        "{}",
        run.stdout
    );
    assert!(!dir.join(LOCK).exists());
}

#[cfg(target_os = "linux")]
#[test]
fn a_local_holder_is_released_when_its_process_is_gone_or_its_pid_was_reused() {
    let ws = workspace(1);
    let dir = ws.path();
    let child = sleeper();
    let pid = child.id();
    write_lock(dir, pid, &this_host(), &chrono::Utc::now().to_rfc3339());
    let run = pimplan(dir, &["force-unlock", "--force"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("(process {pid} of deploy on")),
        "{}",
        run.stderr
    );
    // The same pid, but the lock is older than the process: another process held it.
    write_lock(dir, pid, &this_host(), "2026-11-30T23:00:00+00:00");
    let run = pimplan(dir, &["force-unlock"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!dir.join(LOCK).exists());
    // The holder ended: released without --force.
    write_lock(dir, pid, &this_host(), &chrono::Utc::now().to_rfc3339());
    stop(child);
    let run = pimplan(dir, &["force-unlock"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!dir.join(LOCK).exists());
}

#[test]
fn a_holder_on_another_machine_or_an_unreadable_lock_needs_force() {
    let ws = workspace(1);
    let dir = ws.path();
    // A live pid of this machine, recorded by another: its process here says nothing.
    let child = sleeper();
    write_lock(dir, child.id(), "ci-runner-7", "2026-11-30T23:00:00+00:00");
    let run = pimplan(dir, &["force-unlock"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("on another machine")
            && run.stderr.contains("pimplan force-unlock --force"),
        "{}",
        run.stderr
    );
    assert!(dir.join(LOCK).exists());
    let run = pimplan(dir, &["force-unlock", "--force"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("on ci-runner-7"), "{}", run.stdout);
    assert!(!dir.join(LOCK).exists());
    stop(child);

    std::fs::write(dir.join(LOCK), "{ \"id\": ").unwrap_or(());
    let run = pimplan(dir, &["force-unlock"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("cannot be read"), "{}", run.stderr);
    assert!(dir.join(LOCK).exists());
    let run = pimplan(dir, &["force-unlock", "--force"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!dir.join(LOCK).exists());
    let run = pimplan(dir, &["force-unlock"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("is not locked"), "{}", run.stdout);
}

/// B15 on a local state: `force-unlock LOCK_ID` with the holder's id releases its lock,
/// wherever the holder runs (the id vouches for it); another id is refused with the holder
/// and its id named, and nothing changes. The "locked" message shows the id to give.
#[test]
fn force_unlock_with_the_holders_id_releases_it_and_another_id_changes_nothing() {
    let ws = workspace(1);
    let dir = ws.path();
    let id = "6f1c1f7e-2b7a-4c3e-9d3f-0b8f4d2a5c11";
    let lock = serde_json::json!({
        "id": id, "pid": 4242, "host": "ci-runner-7", "user": "deploy",
        "since": "2026-11-30T23:00:00+00:00", "command": "pimplan apply",
    });
    std::fs::write(dir.join(LOCK), lock.to_string()).unwrap_or(());
    let before = std::fs::read(dir.join(LOCK)).unwrap_or_default();

    // The lock's message names the id and the command that releases it.
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    let said = common::flat(&apply.stderr);
    assert!(
        said.contains(&format!("lock id {id}"))
            && said.contains(&format!(
                "run `pimplan force-unlock {id}` if that run is gone"
            )),
        "{said}"
    );

    let wrong = pimplan(
        dir,
        &["force-unlock", "0b8f4d2a-0000-4c3e-9d3f-6f1c1f7e2b7a"],
    );
    assert_eq!(wrong.code, 1, "{}{}", wrong.stdout, wrong.stderr);
    let said = common::flat(&wrong.stderr);
    assert!(
        said.contains("lock id does not match: the state is locked by")
            && said.contains("on ci-runner-7")
            && said.contains(&format!("(id {id})")),
        "{said}"
    );
    assert_eq!(
        std::fs::read(dir.join(LOCK)).unwrap_or_default(),
        before,
        "a wrong id changed the lock"
    );

    let released = pimplan(dir, &["force-unlock", id]);
    assert_eq!(released.code, 0, "{}{}", released.stdout, released.stderr);
    assert!(
        released.stdout.contains("on ci-runner-7")
            && released.stdout.contains("its lock id was given"),
        "{}",
        released.stdout
    );
    assert!(!dir.join(LOCK).exists());
    // The state is free: an apply takes the lock and ends well.
    let apply = pimplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
}

/// `force-unlock` on a terminal (a pty, through util-linux `script`) asks before it
/// releases a holder it cannot check: anything but `yes` releases nothing (exit 1); `yes`
/// releases the lock shown, by its id. Without a terminal it refuses (the tests above).
#[cfg(target_os = "linux")]
#[test]
fn force_unlock_on_a_terminal_asks_before_releasing_a_holder_it_cannot_check() {
    use std::io::Write;
    let ws = workspace(1);
    let dir = ws.path();
    let lock = serde_json::json!({
        "id": "6f1c1f7e-2b7a-4c3e-9d3f-0b8f4d2a5c11", "pid": 4242, "host": "ci-runner-7",
        "user": "deploy", "since": "2026-11-30T23:00:00+00:00", "command": "pimplan apply",
    });
    std::fs::write(dir.join(LOCK), lock.to_string()).unwrap_or(());
    let bin = assert_cmd::cargo::cargo_bin("pimplan");
    let on_a_terminal = |answer: &str| -> (i32, String) {
        let mut child = Process::new("script")
            .current_dir(dir)
            .args(["-qec"])
            .arg(format!("'{}' force-unlock --color never", bin.display()))
            .arg("/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| unreachable!("util-linux `script` is needed for this test: {e}"));
        let mut stdin = child.stdin.take();
        if let Some(input) = stdin.as_mut() {
            let _ = input.write_all(format!("{answer}\n").as_bytes());
            let _ = input.flush();
        }
        // The answer stays readable until pimplan ends (an early end of input would end
        // `script` first).
        let started = Instant::now();
        while child.try_wait().ok().flatten().is_none()
            && started.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(stdin);
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| unreachable!("{e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, said) = on_a_terminal("no");
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("Is that holder gone?") && said.contains("Nothing was released"),
        "{said}"
    );
    assert!(dir.join(LOCK).exists());
    let (code, said) = on_a_terminal("yes");
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("on ci-runner-7") && said.contains("`yes` at the prompt"),
        "{said}"
    );
    assert!(!dir.join(LOCK).exists());
}
