//! The state's integrity (issue 16, point 8, and the state read of point 4), through the real
//! binary: a checksum refuses hand edits until `state accept-edit` accepts them, impossible
//! versions and serials are refused, a linked state is written through its link, a broken
//! link is an error, a killed pimplan's lock files are cleaned and its lock taken over, `plan`
//! says when the state is locked, and a device or FIFO is never read as a state.

mod common;

use std::path::Path;
use std::process::{Child, Command as Process};
use std::time::{Duration, Instant};

use common::{Run, edit, eligible_workspace as workspace, sleeper, state, stop, this_host};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";
const STATE: &str = "pimplan.state.json";
const LOCK: &str = "pimplan.state.json.lock";

fn pimplan(dir: &Path, args: &[&str]) -> Run {
    common::run(dir, T0, args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Declare one more user and assignment in the workspace of [`workspace`].
fn add_user(dir: &Path, n: usize) {
    edit(
        &dir.join("pimplan.yaml"),
        "groups:",
        &format!("  - {{ name: u{n}, type: user, licenses: [entra_id_p2] }}\ngroups:"),
    );
    let mut text = read(&dir.join("pimplan.yaml"));
    text.push_str(&format!(
        "  - {{ group: ops, principal: u{n}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
    ));
    std::fs::write(dir.join("pimplan.yaml"), text).unwrap_or(());
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

fn refused(run: &Run, message: &str) {
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
}

/// The pid of a process that has ended.
fn dead_pid() -> u32 {
    let mut child = Process::new("true")
        .spawn()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let pid = child.id();
    let _ = child.wait();
    pid
}

/// A lock file's content: `pid` on this machine since `since`.
fn lock_text(id: &str, pid: u32, since: &str) -> String {
    serde_json::json!({
        "id": id, "pid": pid, "host": this_host(), "user": "deploy", "since": since,
        "command": "pimplan apply",
    })
    .to_string()
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339()
}

#[test]
fn a_hand_edit_is_refused_until_accepted_deliberately() {
    let ws = workspace(2);
    let dir = ws.path();
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let st = state(dir);
    assert_eq!(st["format_version"], 2);
    assert!(
        st["checksum"]
            .as_str()
            .is_some_and(|c| c.starts_with("sha256:")),
        "{st}"
    );
    // A second apply keeps a backup to compare with.
    add_user(dir, 2);
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let serial = state(dir)["serial"].as_u64().unwrap_or(0);

    let path = dir.join(STATE);
    edit(
        &path,
        "\"justification\": \"rota\"",
        "\"justification\": \"rota, edited\"",
    );
    let edited = read(&path);
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"][..],
        &["state", "list"][..],
    ] {
        let run = pimplan(dir, args);
        refused(&run, "was changed by something other than pimplan");
        assert!(
            run.stderr
                .contains("its content does not match its checksum")
                && run.stderr.contains("pimplan state accept-edit"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(read(&path), edited, "{args:?} changed the state");
    }
    // Accepting asks first; with no terminal, it needs --auto-approve.
    refused(
        &pimplan(dir, &["state", "accept-edit"]),
        "pass `--auto-approve`",
    );
    assert_eq!(read(&path), edited);
    let accept = pimplan(dir, &["state", "accept-edit", "--auto-approve"]);
    ok(&accept);
    assert!(
        accept.stdout.contains("What changed against")
            && accept
                .stdout
                .contains("-      \"justification\": \"rota\",")
            && accept
                .stdout
                .contains("+      \"justification\": \"rota, edited\","),
        "{}",
        accept.stdout
    );
    assert_eq!(state(dir)["serial"].as_u64(), Some(serial + 1));
    assert!(!dir.join(LOCK).exists());
    // Accepted: read again, and the plan (past the five-minute rule) puts the declared
    // justification back.
    let plan = common::run(dir, "2026-12-01T00:10:00Z", &["plan"]);
    ok(&plan);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to remove."),
        "{}",
        plan.stdout
    );
    let again = pimplan(dir, &["state", "accept-edit", "--auto-approve"]);
    ok(&again);
    assert!(
        again.stdout.contains("Nothing to accept"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_state_without_its_checksum_is_refused_but_an_older_format_is_read_and_upgraded() {
    let ws = workspace(1);
    let dir = ws.path();
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let path = dir.join(STATE);
    let sealed = read(&path);
    let start = sealed
        .rfind(",\n  \"checksum\"")
        .unwrap_or_else(|| unreachable!("no checksum: {sealed}"));
    let stripped = format!("{}\n}}\n", &sealed[..start]);
    // The checksum removed: refused, since format 2 always has one.
    std::fs::write(&path, &stripped).unwrap_or(());
    refused(&pimplan(dir, &["plan"]), "but no checksum");
    // The format turned back to 1 with the checksum kept: the checksum no longer matches.
    std::fs::write(
        &path,
        sealed.replacen("\"format_version\": 2", "\"format_version\": 1", 1),
    )
    .unwrap_or(());
    refused(
        &pimplan(dir, &["plan"]),
        "its content does not match its checksum",
    );
    // A state of an older pimplan (format 1, no checksum) is read as before...
    let old = stripped.replacen("\"format_version\": 2", "\"format_version\": 1", 1);
    std::fs::write(&path, &old).unwrap_or(());
    let plan = pimplan(dir, &["plan", "--detailed-exitcode"]);
    ok(&plan);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    let accept = pimplan(dir, &["state", "accept-edit", "--auto-approve"]);
    ok(&accept);
    assert!(
        accept.stdout.contains("written by an older pimplan"),
        "{}",
        accept.stdout
    );
    assert_eq!(read(&path), old, "accept-edit rewrote an older state");
    // ...and upgraded by its next write.
    add_user(dir, 1);
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let st = state(dir);
    assert_eq!(st["format_version"], 2);
    assert!(st["checksum"].is_string(), "{st}");
    assert_eq!(st["assignments"].as_array().map(Vec::len), Some(2));
}

#[test]
fn format_version_zero_is_refused() {
    let ws = workspace(1);
    let dir = ws.path();
    let text = "{ \"format_version\": 0, \"lineage\": \"1b4e28ba-2fa1-41d2-883f-0016d3cca427\", \"serial\": 1 }";
    std::fs::write(dir.join(STATE), text).unwrap_or(());
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        refused(&pimplan(dir, args), "`format_version` is 0");
        assert_eq!(read(&dir.join(STATE)), text);
    }
}

#[test]
fn a_serial_that_would_wrap_is_refused_before_anything_is_written() {
    let ws = workspace(1);
    let dir = ws.path();
    let text = format!(
        "{{ \"format_version\": 1, \"lineage\": \"1b4e28ba-2fa1-41d2-883f-0016d3cca427\", \"serial\": {} }}",
        u64::MAX
    );
    std::fs::write(dir.join(STATE), &text).unwrap_or(());
    // Reading it is fine (plan, state list); writing the next serial is not.
    ok(&pimplan(dir, &["plan"]));
    refused(
        &pimplan(dir, &["apply", "--auto-approve"]),
        "has serial 18446744073709551615, the largest there is",
    );
    assert_eq!(read(&dir.join(STATE)), text);
    assert!(!dir.join("pimplan.state.json.backup").exists());
    assert!(!dir.join(LOCK).exists());
}

#[test]
fn a_linked_state_is_written_through_its_link_with_its_backup_and_lock_beside_the_target() {
    let ws = workspace(1);
    let dir = ws.path();
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let store = dir.join("store");
    std::fs::create_dir(&store).unwrap_or(());
    std::fs::rename(dir.join(STATE), store.join("kept.json")).unwrap_or(());
    std::os::unix::fs::symlink("store/kept.json", dir.join(STATE)).unwrap_or(());
    let serial = state(dir)["serial"].as_u64().unwrap_or(0);
    assert!(serial > 0);

    // A lock beside the target is the state's lock.
    let foreign = serde_json::json!({
        "id": "x", "pid": 4242, "host": "ci-runner-7", "user": "deploy",
        "since": "2026-11-30T23:00:00+00:00", "command": "pimplan apply",
    })
    .to_string();
    std::fs::write(store.join("kept.json.lock"), &foreign).unwrap_or(());
    add_user(dir, 1);
    refused(
        &pimplan(dir, &["apply", "--auto-approve"]),
        "process 4242 of deploy on ci-runner-7",
    );
    ok(&pimplan(dir, &["force-unlock", "--force"]));
    assert!(!store.join("kept.json.lock").exists());

    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let link = std::fs::symlink_metadata(dir.join(STATE));
    assert!(
        link.is_ok_and(|m| m.file_type().is_symlink()),
        "the link was replaced"
    );
    let kept: Value = common::json(&read(&store.join("kept.json")));
    assert_eq!(kept["serial"].as_u64(), Some(serial + 1));
    assert_eq!(kept["assignments"].as_array().map(Vec::len), Some(2));
    assert!(store.join("kept.json.backup").exists());
    assert!(!dir.join("pimplan.state.json.backup").exists());
    assert!(!store.join("kept.json.lock").exists() && !dir.join(LOCK).exists());
    let leftovers: Vec<String> = [dir, store.as_path()]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    ok(&pimplan(dir, &["plan"]));
}

#[test]
fn a_dangling_link_is_an_error_not_a_new_state() {
    let ws = workspace(1);
    let dir = ws.path();
    std::os::unix::fs::symlink("gone.json", dir.join(STATE)).unwrap_or(());
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"][..],
        &["state", "list"][..],
    ] {
        let run = pimplan(dir, args);
        refused(
            &run,
            "is a symbolic link to `gone.json`, which does not exist",
        );
        assert!(run.stderr.contains("fix the link"), "{}", run.stderr);
    }
    assert!(!dir.join("gone.json").exists());
    assert!(!dir.join(LOCK).exists());
    // A folder on the way that is a broken link counts too.
    edit(
        &dir.join("pimplan.yaml"),
        "version: 1\n",
        "version: 1\nstate: st/pimplan.state.json\n",
    );
    std::os::unix::fs::symlink("missing-folder", dir.join("st")).unwrap_or(());
    refused(
        &pimplan(dir, &["plan"]),
        "is a symbolic link to `missing-folder`, which does not exist",
    );
}

#[cfg(target_os = "linux")]
#[test]
fn lock_files_of_a_killed_pimplan_are_cleaned_and_a_waiters_are_kept() {
    let ws = workspace(1);
    let dir = ws.path();
    let dead = dead_pid();
    let (a, b, c) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    // A killed pimplan's lock-taking file, its temporary, and a takeover claim.
    let pending = dir.join(format!("{LOCK}.{a}"));
    std::fs::write(&pending, lock_text(&a, dead, &now_text())).unwrap_or(());
    let temporary = dir.join(format!(".{LOCK}.{b}.tmp-{dead}"));
    std::fs::write(&temporary, "{ \"id\": ").unwrap_or(());
    let claim = dir.join(format!("{LOCK}.takeover-{b}"));
    std::fs::write(&claim, lock_text(&b, dead, &now_text())).unwrap_or(());
    // A pimplan that still waits for the lock keeps its file.
    let waiter = sleeper();
    let waiting = dir.join(format!("{LOCK}.{c}"));
    std::fs::write(&waiting, lock_text(&c, waiter.id(), &now_text())).unwrap_or(());
    let run = pimplan(dir, &["apply", "--auto-approve"]);
    stop(waiter);
    ok(&run);
    assert!(!pending.exists(), "the killed pimplan's lock file is left");
    assert!(!temporary.exists(), "its temporary is left");
    assert!(!claim.exists(), "its takeover claim is left");
    assert!(waiting.exists(), "a waiting pimplan's file was removed");
}

/// An apply, in the background, waiting for the lock up to `timeout`.
fn spawn_apply(dir: &Path, timeout: &str, delay_ms: u64) -> Child {
    common::spawn_apply(dir, T0, &["--lock-timeout", timeout], delay_ms)
}

/// Wait for `child`, at most `limit`.
fn finish(mut child: Child, limit: Duration) -> Run {
    let started = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if started.elapsed() > limit {
            stop(child);
            unreachable!("pimplan did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run::of(
        &child
            .wait_with_output()
            .unwrap_or_else(|e| unreachable!("{e}")),
    )
}

#[cfg(target_os = "linux")]
#[test]
fn a_dead_holder_is_reported_and_its_lock_taken_over_after_the_timeout() {
    let ws = workspace(1);
    let dir = ws.path();
    let dead = lock_text("dead-holder", dead_pid(), &now_text());
    std::fs::write(dir.join(LOCK), &dead).unwrap_or(());
    // Without a timeout, the lock stays and the error says its holder is gone.
    let run = pimplan(dir, &["apply", "--auto-approve"]);
    refused(&run, "which no longer runs on this machine");
    assert!(
        run.stderr.contains("pimplan force-unlock") && run.stderr.contains("--lock-timeout"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&dir.join(LOCK)), dead);
    assert!(!dir.join(STATE).exists());
    // With one, it is taken over once the time has passed.
    let started = Instant::now();
    let run = pimplan(dir, &["apply", "--auto-approve", "--lock-timeout", "1s"]);
    ok(&run);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(!dir.join(LOCK).exists());
    assert_eq!(state(dir)["assignments"].as_array().map(Vec::len), Some(1));
}

#[cfg(target_os = "linux")]
#[test]
fn two_waiters_never_both_take_over_a_dead_lock() {
    let ws = workspace(8);
    let dir = ws.path();
    std::fs::write(
        dir.join(LOCK),
        lock_text("dead-holder", dead_pid(), &now_text()),
    )
    .unwrap_or(());
    // Both wait a second, then find the holder gone; the apply that wins takes several
    // seconds (8 changes, 500 ms each), so the other finds it holding the lock.
    let first = spawn_apply(dir, "1s", 500);
    let second = spawn_apply(dir, "1s", 500);
    let runs = [
        finish(first, Duration::from_secs(60)),
        finish(second, Duration::from_secs(60)),
    ];
    let won: Vec<&Run> = runs.iter().filter(|r| r.code == 0).collect();
    let lost: Vec<&Run> = runs.iter().filter(|r| r.code != 0).collect();
    assert_eq!(
        won.len(),
        1,
        "{}",
        runs.iter()
            .map(|r| format!("{}: {}{}", r.code, r.stdout, r.stderr))
            .collect::<String>()
    );
    assert!(
        lost.iter()
            .all(|r| r.stderr.contains("is locked by `pimplan apply`")
                && !r.stderr.contains("no longer runs")),
        "{}",
        lost.iter().map(|r| r.stderr.clone()).collect::<String>()
    );
    assert!(!dir.join(LOCK).exists());
    assert_eq!(state(dir)["assignments"].as_array().map(Vec::len), Some(8));
}

#[cfg(target_os = "linux")]
#[test]
fn plan_notes_a_held_lock_without_failing() {
    let ws = workspace(1);
    let dir = ws.path();
    let holder = sleeper();
    std::fs::write(dir.join(LOCK), lock_text("x", holder.id(), &now_text())).unwrap_or(());
    let human = pimplan(dir, &["plan"]);
    let json = pimplan(dir, &["plan", "--format", "json"]);
    stop(holder);
    ok(&human);
    assert!(
        human
            .stdout
            .contains("Note: the state is locked by `pimplan apply` (process")
            && human.stdout.contains("this plan may be stale"),
        "{}",
        human.stdout
    );
    ok(&json);
    let _ = common::json(&json.stdout);
    assert!(
        json.stderr.contains("Note: the state is locked by"),
        "{}",
        json.stderr
    );
    std::fs::write(dir.join(LOCK), lock_text("x", dead_pid(), &now_text())).unwrap_or(());
    let gone = pimplan(dir, &["plan"]);
    ok(&gone);
    assert!(
        gone.stdout.contains("which no longer runs on this machine"),
        "{}",
        gone.stdout
    );
    std::fs::remove_file(dir.join(LOCK)).unwrap_or(());
    let free = pimplan(dir, &["plan"]);
    assert!(!free.stdout.contains("locked"), "{}", free.stdout);
}

#[cfg(target_os = "linux")]
#[test]
fn a_device_or_fifo_as_state_is_refused_at_once() {
    let ws = workspace(1);
    let dir = ws.path();
    // `/dev/zero` reached through a link in the workspace (a `state:` outside the workspace
    // folder is refused on its own), and a FIFO, which would block a plain read forever.
    std::os::unix::fs::symlink("/dev/zero", dir.join(STATE)).unwrap_or(());
    let made = Process::new("mkfifo")
        .arg(dir.join("pipe.json"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(made);
    let base = read(&dir.join("pimplan.yaml"));
    for (name, message) in [
        (STATE, "a character device, not a regular file"),
        ("pipe.json", "a FIFO (named pipe), not a regular file"),
    ] {
        std::fs::write(
            dir.join("pimplan.yaml"),
            base.replacen("version: 1\n", &format!("version: 1\nstate: {name}\n"), 1),
        )
        .unwrap_or(());
        for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
            let started = Instant::now();
            let run = pimplan(dir, args);
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} {args:?} took {:?}",
                started.elapsed()
            );
            assert_eq!(run.code, 1, "{name} {args:?}: {}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains(message)
                    || (name == STATE && run.stdout.contains("outside the workspace")),
                "{name} {args:?}: {}",
                run.stderr
            );
        }
    }
}

/// Only the state is written through its link (its path was checked to stay in the
/// workspace): a link planted where pimplan writes anything else (the state's backup, a
/// saved plan, a baseline) is replaced, never followed, so a pull request that adds
/// `pimplan.state.json.backup -> /somewhere` cannot make an apply write outside the folder.
#[test]
fn links_planted_beside_the_state_are_replaced_not_written_through() {
    let ws = workspace(1);
    let dir = ws.path();
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let outside = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let names = ["pimplan.state.json.backup", "plan.json", "baseline.json"];
    for name in names {
        std::fs::write(outside.path().join(name), "precious").unwrap_or(());
        std::os::unix::fs::symlink(outside.path().join(name), dir.join(name)).unwrap_or(());
    }
    add_user(dir, 1);
    ok(&pimplan(dir, &["plan", "--out", "plan.json"]));
    ok(&pimplan(dir, &["apply", "plan.json", "--auto-approve"]));
    ok(&pimplan(
        dir,
        &["lint", "--write-baseline", "baseline.json"],
    ));
    for name in names {
        assert_eq!(read(&outside.path().join(name)), "precious", "{name}");
        let meta = std::fs::symlink_metadata(dir.join(name));
        assert!(meta.is_ok_and(|m| m.file_type().is_file()), "{name}");
    }
}

/// `force-unlock` reads the lock bounded too: a FIFO or a device in its place is an
/// unreadable lock (released only with `--force`), not a read that blocks or floods.
#[test]
fn force_unlock_reads_a_fifo_or_device_lock_at_once() {
    let ws = workspace(1);
    let dir = ws.path();
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let fifo = Process::new("mkfifo")
        .arg(dir.join(LOCK))
        .status()
        .is_ok_and(|s| s.success());
    assert!(fifo);
    let started = Instant::now();
    refused(&pimplan(dir, &["force-unlock"]), "cannot be read");
    ok(&pimplan(dir, &["force-unlock", "--force"]));
    assert!(!dir.join(LOCK).exists());
    std::os::unix::fs::symlink("/dev/zero", dir.join(LOCK)).unwrap_or(());
    refused(&pimplan(dir, &["force-unlock"]), "cannot be read");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A state path whose links go round in a loop is refused as what it is, not as a path
/// "outside the workspace folder"; and the commands that read only the root file (`state`,
/// `force-unlock`) do not say the root file could not be read when it was, only its
/// `state:` refused.
#[test]
fn a_loop_of_links_as_state_is_named_as_a_loop() {
    let ws = workspace(1);
    let dir = ws.path();
    std::os::unix::fs::symlink("b.json", dir.join(STATE)).unwrap_or(());
    std::os::unix::fs::symlink(STATE, dir.join("b.json")).unwrap_or(());
    let run = pimplan(dir, &["plan"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("go round in a loop"), "{all}");
    assert!(!all.contains("outside the workspace"), "{all}");
    for args in [&["state", "list"][..], &["force-unlock"]] {
        let run = pimplan(dir, args);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("`state:`"), "{}", run.stderr);
    }
}

/// `state accept-edit` prints a diff against the backup: a link planted as the backup is not
/// followed, so the diff never shows a file from outside the workspace (a secret in a CI
/// log); apply replaces such a link with the real backup.
#[test]
fn accept_edit_does_not_show_a_file_a_planted_backup_link_leads_to() {
    let ws = workspace(1);
    let dir = ws.path();
    ok(&pimplan(dir, &["apply", "--auto-approve"]));
    let outside = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "AZURE_CLIENT_SECRET=hunter2-from-elsewhere\n").unwrap_or(());
    std::os::unix::fs::symlink(&secret, dir.join("pimplan.state.json.backup")).unwrap_or(());
    edit(&dir.join(STATE), "\"serial\": 3", "\"serial\": 4");
    let run = pimplan(dir, &["state", "accept-edit", "--auto-approve"]);
    ok(&run);
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
    assert!(run.stdout.contains("link"), "{}", run.stdout);
}

/// A second apply with `--lock-timeout` waits for a live holder of the local lock, says once
/// (not at every look) whom it waits for and then that it has the lock, and applies.
#[test]
fn a_waiting_apply_says_once_whom_it_waits_for() {
    let ws = workspace(4);
    let dir = ws.path();
    let first = spawn_apply(dir, "0s", 400);
    let pid = first.id();
    let started = Instant::now();
    while !dir.join(LOCK).exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "no lock taken");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = spawn_apply(dir, "2m", 0);
    let first = finish(first, Duration::from_secs(60));
    let second = finish(second, Duration::from_secs(60));
    ok(&first);
    ok(&second);
    common::assert_waited_once_for(&second.stderr, pid);
    assert!(!dir.join(LOCK).exists());
}
