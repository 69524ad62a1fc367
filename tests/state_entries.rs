//! `state list`, `state show` and `state rm` in the plan's terms (issue 13 point 2), over
//! the real binary with a fixed clock.

mod common;

use std::path::Path;

use common::{Run, json, this_host, workspace_with};

const T0: &str = "2026-12-01T00:00:00Z";
const STATE: &str = "pimplan.state.json";

fn pimplan(dir: &Path, args: &[&str]) -> Run {
    common::run(dir, T0, args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// One group, `sre-prod`, with two assignments of `mei` (member and owner) and one of `ana`,
/// so `sre-prod/mei` names two entries and `sre-prod/ana` one; applied to the state.
fn applied() -> tempfile::TempDir {
    let ws = workspace_with(
        "version: 1
principals:
  - { name: mei, type: user, licenses: [entra_id_p2] }
  - { name: ana, type: user, licenses: [entra_id_p2] }
groups:
  - name: sre-prod
    owners: [ana]
assignments:
  - { group: sre-prod, principal: mei, role: member, type: eligible, duration: P90D, justification: rota }
  - { group: sre-prod, principal: mei, role: owner, type: eligible, duration: P90D, justification: rota }
  - { group: sre-prod, principal: ana, role: member, type: eligible, duration: P90D, justification: rota }
",
    );
    let run = pimplan(ws.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    ws
}

const ADDRESSES: [&str; 5] = [
    "assignment sre-prod/ana (member, eligible)",
    "assignment sre-prod/mei (member, eligible)",
    "assignment sre-prod/mei (owner, eligible)",
    "policy sre-prod (member)",
    "policy sre-prod (owner)",
];

#[test]
fn state_list_prints_the_plans_addresses_with_their_keys() {
    let ws = applied();
    let dir = ws.path();
    // The addresses are the plan's: a plan from an empty state creates each of them.
    let fresh =
        workspace_with(&std::fs::read_to_string(dir.join("pimplan.yaml")).unwrap_or_default());
    let plan = pimplan(fresh.path(), &["plan"]);
    for address in ADDRESSES {
        assert!(
            plan.stdout.contains(&format!("+ {address}\n")),
            "{address}: {}",
            plan.stdout
        );
    }
    let list = pimplan(dir, &["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    insta::assert_snapshot!("state_list", list.stdout);

    // The filter keeps the entries whose address contains it.
    let mei = pimplan(dir, &["state", "list", "sre-prod/mei"]);
    assert_eq!(mei.code, 0, "{}", mei.stderr);
    let lines: Vec<&str> = mei.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", mei.stdout);
    assert!(lines[0].starts_with("assignment sre-prod/mei (member, eligible)  assignment/name:sre-prod/name:mei/member/eligible  applied 2026-12-01T00:00:00+00:00  ends 2027-03-01T00:00:00+00:00"), "{}", mei.stdout);
    assert!(
        lines[1].starts_with("assignment sre-prod/mei (owner, eligible)"),
        "{}",
        mei.stdout
    );
    let policies = pimplan(dir, &["state", "list", "policy "]);
    assert_eq!(policies.stdout.lines().count(), 2, "{}", policies.stdout);
    assert!(
        policies
            .stdout
            .lines()
            .all(|l| l.starts_with("policy sre-prod ("))
    );
    let none = pimplan(dir, &["state", "list", "bob"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert_eq!(none.stdout, "");
    assert!(
        none.stderr
            .contains("no entry's address contains `bob` (5 entries"),
        "{}",
        none.stderr
    );

    // JSON: the same entries, filtered the same way.
    let listed = pimplan(dir, &["state", "list", "--format", "json"]);
    let all = json(&listed.stdout);
    let lineage = all["lineage"].as_str().unwrap_or("no lineage");
    insta::assert_snapshot!("state_list_json", listed.stdout.replace(lineage, "LINEAGE"));
    assert_eq!(all["format_version"], 1);
    assert_eq!(all["exists"], true);
    assert_eq!(all["serial"], 3);
    assert!(all["lineage"].is_string(), "{all}");
    let addresses: Vec<&str> = all["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["address"].as_str())
        .collect();
    assert_eq!(addresses, ADDRESSES);
    let first = &all["entries"][0];
    assert_eq!(
        first["key"],
        "assignment/name:sre-prod/name:ana/member/eligible"
    );
    assert_eq!(first["object"], "assignment");
    assert_eq!(first["ends_at"], "2027-03-01T00:00:00Z");
    assert_eq!(all["entries"][3]["object"], "policy");
    assert_eq!(all["entries"][3]["key"], "policy/name:sre-prod/member");
    let filtered = json(&pimplan(dir, &["state", "list", "ana", "--format", "json"]).stdout);
    assert_eq!(
        filtered["entries"].as_array().map(Vec::len),
        Some(1),
        "{filtered}"
    );
    assert_eq!(filtered["entries"][0]["address"], ADDRESSES[0]);
}

#[test]
fn state_show_takes_an_address_a_unique_short_form_or_the_key() {
    let ws = applied();
    let dir = ws.path();
    for query in [
        "assignment sre-prod/ana (member, eligible)",
        "sre-prod/ana (member, eligible)",
        "sre-prod/ana",
        "assignment sre-prod/ana",
        "assignment/name:sre-prod/name:ana/member/eligible",
    ] {
        let show = pimplan(dir, &["state", "show", query]);
        assert_eq!(show.code, 0, "{query}: {}", show.stderr);
        let entry = json(&show.stdout);
        assert_eq!(entry["address"], ADDRESSES[0], "{query}");
        assert_eq!(
            entry["key"],
            "assignment/name:sre-prod/name:ana/member/eligible"
        );
        assert_eq!(entry["duration"], "P90D");
    }
    insta::assert_snapshot!(
        "state_show",
        pimplan(dir, &["state", "show", "sre-prod/ana"]).stdout
    );
    let policy = json(&pimplan(dir, &["state", "show", "policy sre-prod (owner)"]).stdout);
    assert_eq!(policy["key"], "policy/name:sre-prod/owner");
    assert!(policy["settings"].is_object(), "{policy}");

    // Ambiguous: the candidates, and no entry.
    let two = pimplan(dir, &["state", "show", "sre-prod/mei"]);
    assert_eq!(two.code, 1, "{}", two.stdout);
    assert_eq!(two.stdout, "");
    insta::assert_snapshot!("state_show_ambiguous", two.stderr);
    let policies = pimplan(dir, &["state", "show", "sre-prod"]);
    assert_eq!(policies.code, 1);
    assert!(
        policies.stderr.contains("`sre-prod` names 2 entries")
            && policies.stderr.contains("policy sre-prod (member)")
            && policies.stderr.contains("policy sre-prod (owner)"),
        "{}",
        policies.stderr
    );
    // Unknown: said so, with the nearest name.
    let unknown = pimplan(dir, &["state", "show", "sre-prod/ann"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("error: no entry `sre-prod/ann` in the state"),
        "{}",
        unknown.stderr
    );
    let misspelt = pimplan(dir, &["state", "show", "policy sre-prod (ownr)"]);
    assert!(
        misspelt
            .stderr
            .contains("did you mean `policy sre-prod (owner)`?"),
        "{}",
        misspelt.stderr
    );
}

#[test]
fn state_rm_forgets_entries_that_the_next_plan_creates_again() {
    let ws = applied();
    let dir = ws.path();
    let state = dir.join(STATE);
    let backup = dir.join(format!("{STATE}.backup"));
    let before = read(&state);
    let backup_before = read(&backup);
    let unchanged = |what: &str| {
        assert_eq!(read(&state), before, "{what}: the state was changed");
        assert_eq!(
            read(&backup),
            backup_before,
            "{what}: the backup was written"
        );
    };

    // Nothing is removed unless every address names one entry.
    for args in [
        &["state", "rm", "sre-prod/bob", "--auto-approve"][..],
        &[
            "state",
            "rm",
            "sre-prod/ana",
            "sre-prod/mei",
            "--auto-approve",
        ],
    ] {
        let run = pimplan(dir, args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains("nothing was removed"), "{}", run.stderr);
        unchanged(&format!("{args:?}"));
    }
    let bare = pimplan(dir, &["state", "rm"]);
    assert_eq!(bare.code, 1, "{}", bare.stderr);
    // Without a terminal to ask on, only with `--auto-approve` (as `state accept-edit`).
    let unasked = pimplan(dir, &["state", "rm", "sre-prod/ana"]);
    assert_eq!(unasked.code, 1);
    assert!(
        unasked.stderr.contains("pass `--auto-approve`"),
        "{}",
        unasked.stderr
    );
    unchanged("no confirmation");
    // Another pimplan holds the lock (this test's process, alive on this machine): refused.
    let lock = dir.join(format!("{STATE}.lock"));
    let holder = serde_json::json!({
        "id": "x", "pid": std::process::id(), "host": this_host(), "user": "deploy",
        "since": chrono::Utc::now().to_rfc3339(), "command": "pimplan apply",
    });
    std::fs::write(&lock, holder.to_string()).unwrap_or(());
    let locked = pimplan(dir, &["state", "rm", "sre-prod/ana", "--auto-approve"]);
    assert_eq!(locked.code, 1, "{}", locked.stdout);
    assert!(
        locked.stderr.contains("is locked by `pimplan apply`")
            && locked.stderr.contains("nothing was removed"),
        "{}",
        locked.stderr
    );
    unchanged("locked");
    assert!(lock.exists(), "the other pimplan's lock was removed");
    std::fs::remove_file(&lock).unwrap_or(());

    let rm = pimplan(
        dir,
        &[
            "state",
            "rm",
            "sre-prod/mei (member, eligible)",
            "policy sre-prod (owner)",
            "assignment/name:sre-prod/name:mei/member/eligible",
            "--auto-approve",
        ],
    );
    assert_eq!(rm.code, 0, "{}{}", rm.stdout, rm.stderr);
    insta::assert_snapshot!("state_rm", rm.stdout);
    assert!(!lock.exists(), "the lock was left behind");
    // The state before is the backup; the state is the next serial, and still verifies.
    assert_eq!(read(&backup), before);
    let after = common::state(dir);
    assert_eq!(after["serial"], 4);
    assert_eq!(after["assignments"].as_array().map(Vec::len), Some(2));
    assert_eq!(after["policies"].as_array().map(Vec::len), Some(1));
    let list = pimplan(dir, &["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        !list.stdout.contains("sre-prod/mei (member")
            && !list.stdout.contains("policy sre-prod (owner)")
            && list.stdout.contains("sre-prod/mei (owner, eligible)"),
        "{}",
        list.stdout
    );
    // The next plan creates them again, and nothing else.
    let plan = common::run(
        dir,
        "2026-12-01T01:00:00Z",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("+ assignment sre-prod/mei (member, eligible)\n")
            && plan.stdout.contains("+ policy sre-prod (owner)\n")
            && plan
                .stdout
                .contains("Plan: 2 to add, 0 to change, 0 to remove."),
        "{}",
        plan.stdout
    );
    // Gone: a second rm of the same entry removes nothing.
    let again = pimplan(
        dir,
        &["state", "rm", "policy sre-prod (owner)", "--auto-approve"],
    );
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("no entry `policy sre-prod (owner)`"),
        "{}",
        again.stderr
    );
    assert_eq!(common::state(dir)["serial"], 4);
}

#[test]
fn state_rm_without_a_state_removes_nothing() {
    let ws = workspace_with("version: 1\n");
    let run = pimplan(
        ws.path(),
        &["state", "rm", "sre-prod/mei", "--auto-approve"],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("nothing to remove"), "{}", run.stderr);
    assert!(!ws.path().join(STATE).exists());
    assert!(!ws.path().join(format!("{STATE}.backup")).exists());
}

#[test]
fn state_show_without_a_state_says_there_is_none() {
    let ws = workspace_with("version: 1\n");
    let run = pimplan(ws.path(), &["state", "show", "sre-prod/mei"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("no state at"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing to show"), "{}", run.stderr);
    assert!(!ws.path().join(STATE).exists());
}

#[test]
fn state_rm_refuses_an_entry_with_a_change_left_pending() {
    let ws = applied();
    let dir = ws.path();
    let mut st = common::state(dir);
    let ana = st["assignments"][0].clone();
    assert_eq!(ana["principal"], "ana", "{st}");
    st["pending"] = serde_json::json!([{
        "started_at": T0,
        "action": "remove",
        "address": ADDRESSES[0],
        "object": "assignment",
        "before": ana,
    }]);
    common::write_state(dir, &st);
    let before = read(&dir.join(STATE));
    let run = pimplan(dir, &["state", "rm", "sre-prod/ana", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "`assignment sre-prod/ana (member, eligible)` has a change an interrupted apply left pending"
        ) && run.stderr.contains("nothing was removed"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&dir.join(STATE)), before);
    // Entries without a pending change are forgotten as usual.
    let other = pimplan(
        dir,
        &["state", "rm", "policy sre-prod (owner)", "--auto-approve"],
    );
    assert_eq!(other.code, 0, "{}{}", other.stdout, other.stderr);
    assert_eq!(
        common::state(dir)["pending"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn an_address_two_entries_share_is_ambiguous_and_never_the_first_one_found() {
    // Group `a/b` with `c`, and group `a` with `b/c`: both are `assignment a/b/c (member,
    // eligible)`.
    let ws = workspace_with(
        "version: 1
principals:
  - { name: c, type: user, licenses: [entra_id_p2] }
  - { name: b/c, type: user, licenses: [entra_id_p2] }
groups:
  - { name: a/b, owners: [c] }
  - { name: a, owners: [c] }
assignments:
  - { group: a/b, principal: c, role: member, type: eligible, duration: P90D, justification: x }
  - { group: a, principal: b/c, role: member, type: eligible, duration: P90D, justification: x }
",
    );
    let dir = ws.path();
    let apply = pimplan(dir, &["apply", "--auto-approve", "-q"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let before = read(&dir.join(STATE));
    let expected = "`assignment a/b/c (member, eligible)` names 2 entries of the state:
    assignment a/b/c (member, eligible)  assignment/name:a/b/name:c/member/eligible
    assignment a/b/c (member, eligible)  assignment/name:a/name:b/c/member/eligible
  give the key of the one meant (their addresses are alike)";
    let show = pimplan(
        dir,
        &["state", "show", "assignment a/b/c (member, eligible)"],
    );
    assert_eq!(show.code, 1, "{}{}", show.stdout, show.stderr);
    assert_eq!(show.stdout, "");
    assert!(show.stderr.contains(expected), "{}", show.stderr);
    let rm = pimplan(
        dir,
        &[
            "state",
            "rm",
            "--auto-approve",
            "assignment a/b/c (member, eligible)",
        ],
    );
    assert_eq!(rm.code, 1, "{}{}", rm.stdout, rm.stderr);
    assert!(rm.stderr.contains(expected), "{}", rm.stderr);
    assert_eq!(read(&dir.join(STATE)), before, "nothing was removed");
    // The key names one.
    let rm = pimplan(
        dir,
        &[
            "state",
            "rm",
            "--auto-approve",
            "assignment/name:a/name:b/c/member/eligible",
        ],
    );
    assert_eq!(rm.code, 0, "{}{}", rm.stdout, rm.stderr);
    let list = pimplan(dir, &["state", "list", "--format", "json"]);
    let keys: Vec<String> = json(&list.stdout)["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["key"].as_str().map(str::to_owned))
        .filter(|k| k.starts_with("assignment/"))
        .collect();
    assert_eq!(keys, ["assignment/name:a/b/name:c/member/eligible"]);
}

/// An apply at a time with a fraction of a second (the system clock's) is listed to the
/// second, as the plan prints times, not with nine digits of nanoseconds.
#[test]
fn state_list_prints_times_to_the_second() {
    let ws = workspace_with(&read(&applied().path().join("pimplan.yaml")));
    let dir = ws.path();
    let run = common::run(
        dir,
        "2026-12-01T09:30:15.657997755Z",
        &["apply", "--auto-approve"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let list = pimplan(dir, &["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout
            .contains("applied 2026-12-01T09:30:15+00:00  ends "),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains(".657"), "{}", list.stdout);
}

/// The state file of `dir` as its bytes.
fn bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join(STATE)).unwrap_or_default()
}

/// A copy of the workspace in `dir`, its state with it.
fn copy(dir: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    common::copy_dir(dir, to.path());
    to
}

/// Apply the workspace of `dir` an hour on with `line` (an assignment) removed: one more
/// serial, and a content that differs by which.
fn apply_without(dir: &Path, line: &str) {
    common::edit(&dir.join("pimplan.yaml"), line, "");
    // An hour on: PIM701 lets the removal through.
    let run = common::run(
        dir,
        "2026-12-01T01:00:00Z",
        &["apply", "--auto-approve", "--allow-mass-removal"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

const MEI_OWNER: &str = "  - { group: sre-prod, principal: mei, role: owner, type: eligible, duration: P90D, justification: rota }\n";
const ANA_MEMBER: &str = "  - { group: sre-prod, principal: ana, role: member, type: eligible, duration: P90D, justification: rota }\n";

/// B21: `state pull` prints the state's bytes as they are; `state push` of them again
/// writes nothing; a newer state of the same lineage is written as it is, the state before
/// kept as the backup.
#[test]
fn state_pull_prints_the_bytes_and_push_takes_a_newer_state()
-> Result<(), Box<dyn std::error::Error>> {
    let ws = applied();
    let dir = ws.path();
    let pulled = pimplan(dir, &["state", "pull"]);
    assert_eq!(pulled.code, 0, "{}", pulled.stderr);
    assert_eq!(pulled.stdout.as_bytes(), bytes(dir));
    let elsewhere = tempfile::tempdir()?;
    let file = elsewhere.path().join("pulled.json");
    std::fs::write(&file, &pulled.stdout)?;
    let file_arg = file.to_string_lossy().into_owned();
    let same = pimplan(dir, &["state", "push", &file_arg]);
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(
        same.stdout.contains("nothing was written"),
        "{}",
        same.stdout
    );
    assert_eq!(bytes(dir), pulled.stdout.as_bytes());

    // A copy moves on by one apply; its state pushed here is taken as it is.
    let ahead = copy(dir);
    apply_without(ahead.path(), MEI_OWNER);
    let newer = ahead.path().join(STATE).to_string_lossy().into_owned();
    let pushed = pimplan(dir, &["state", "push", &newer]);
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    assert_eq!(bytes(dir), bytes(ahead.path()));
    assert_eq!(read(&dir.join("pimplan.state.json.backup")), pulled.stdout);
    let serial = json(&read(&ahead.path().join(STATE)))["serial"].clone();
    assert!(
        pushed.stdout.contains(&format!("now serial {serial})")),
        "{}",
        pushed.stdout
    );
    // The state pushed is the state: the copy's workspace plans nothing against it.
    std::fs::copy(ahead.path().join("pimplan.yaml"), dir.join("pimplan.yaml"))?;
    let plan = common::run(
        dir,
        "2026-12-01T01:00:00Z",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    // No state: nothing to pull.
    let empty = workspace_with("version: 1\n");
    let none = pimplan(empty.path(), &["state", "pull"]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("nothing to pull"), "{}", none.stderr);
    assert!(!empty.path().join(STATE).exists());
    Ok(())
}

/// B21: Terraform's rules. Another lineage, a lower serial, and the same serial with other
/// content are refused without `--force` (the state untouched); with it, the file is
/// written as the next serial of the state it replaces, so the serial never goes back. A
/// file that is not a valid state (a broken checksum) is refused even with `--force`.
#[test]
fn state_push_refuses_another_lineage_an_older_serial_and_a_diverged_one()
-> Result<(), Box<dyn std::error::Error>> {
    let ws = applied();
    let dir = ws.path();
    let at_one = copy(dir);
    let diverged = copy(dir);
    apply_without(dir, MEI_OWNER);
    apply_without(diverged.path(), ANA_MEMBER);
    let other = applied();
    let before = bytes(dir);
    let serial = |d: &Path| {
        json(&read(&d.join(STATE)))["serial"]
            .as_u64()
            .unwrap_or_default()
    };
    let (old, now) = (serial(at_one.path()), serial(dir));
    let serial_before = now;
    assert!(old < now && serial(diverged.path()) == now);
    let cases = [
        (
            at_one.path().join(STATE),
            format!("it is older than the state (serial {old}, the state's is {now})"),
        ),
        (
            diverged.path().join(STATE),
            format!("it has the state's serial ({now}) with other content"),
        ),
        (
            other.path().join(STATE),
            "it is another state (lineage".to_owned(),
        ),
    ];
    for (file, why) in &cases {
        let arg = file.to_string_lossy().into_owned();
        let refused = pimplan(dir, &["state", "push", &arg]);
        assert_eq!(
            refused.code, 1,
            "{why}: {}{}",
            refused.stdout, refused.stderr
        );
        let flat = common::flat(&refused.stderr);
        assert!(flat.contains(why.as_str()), "{why}: {flat}");
        assert!(flat.contains("pass `--force`"), "{flat}");
        assert!(flat.contains("nothing was written"), "{flat}");
        assert_eq!(bytes(dir), before, "{why}");
    }
    // A hand-edited file (its checksum no longer matches) is no state to push.
    let edited = tempfile::tempdir()?;
    let edited_file = edited.path().join("edited.json");
    let lineage = json(&read(&dir.join(STATE)))["lineage"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    std::fs::write(
        &edited_file,
        read(&dir.join(STATE)).replace(&lineage, "1b4e28ba-2fa1-41d2-883f-0016d3cca427"),
    )?;
    let arg = edited_file.to_string_lossy().into_owned();
    for force in [false, true] {
        let mut args = vec!["state", "push", arg.as_str()];
        if force {
            args.push("--force");
        }
        let refused = pimplan(dir, &args);
        assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
        assert!(
            common::flat(&refused.stderr).contains("is not a state as pimplan wrote it"),
            "{}",
            refused.stderr
        );
        assert_eq!(bytes(dir), before);
    }
    // Forced: the other lineage's state becomes the next serial here, sealed, and reads.
    let arg = other.path().join(STATE).to_string_lossy().into_owned();
    let forced = pimplan(dir, &["state", "push", &arg, "--force"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert!(
        forced.stdout.contains("as the next serial"),
        "{}",
        forced.stdout
    );
    let pushed_now = json(&read(&dir.join(STATE)));
    let theirs = json(&read(&other.path().join(STATE)));
    assert_eq!(pushed_now["serial"], serial(dir));
    assert_eq!(serial(dir), serial_before + 1);
    assert_eq!(pushed_now["lineage"], theirs["lineage"]);
    assert_eq!(pushed_now["assignments"], theirs["assignments"]);
    assert_eq!(
        read(&dir.join("pimplan.state.json.backup")).as_bytes(),
        before
    );
    let list = pimplan(dir, &["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    // A lower serial, forced, does not take the serial back either.
    let arg = at_one.path().join(STATE).to_string_lossy().into_owned();
    let forced = pimplan(dir, &["state", "push", &arg, "--force"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert_eq!(serial(dir), serial_before + 2);
    Ok(())
}
