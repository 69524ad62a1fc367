//! State, plan and apply, over the real binary with a fixed clock.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Run, copy_fixture, edit, json, state};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";

/// Run pimplan in `dir` at the time `now`. `plan` and `apply` go to the state file alone
/// unless the test says `--target` (these tests have no Microsoft Graph).
fn pimplan(dir: &Path, now: &str, args: &[&str]) -> Run {
    common::run(dir, now, args)
}

fn example() -> tempfile::TempDir {
    copy_fixture("fixtures/example")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A small workspace: `n` licensed users eligible for one group, and optional extra YAML.
fn small(n: usize, extra_principals: &str, extra_assignments: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let mut text = String::from("version: 1\nprincipals:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ name: u{i}, type: user, licenses: [entra_id_p2] }}\n"
        ));
    }
    text.push_str(extra_principals);
    text.push_str("groups:\n  - name: ops\n    owners: [u0]\nassignments:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
        ));
    }
    text.push_str(extra_assignments);
    std::fs::write(tmp.path().join("pimplan.yaml"), text).unwrap_or(());
    tmp
}

#[test]
fn apply_then_plan_is_no_changes_and_edits_show_their_symbols() {
    let ws = example();
    let dir = ws.path();
    let first = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("Plan: 43 to add, 0 to change, 0 to remove."),
        "{}",
        first.stdout
    );
    // One write per change at most (a large state is written less often).
    let serial = state(dir)["serial"].as_u64().unwrap_or(0);
    assert!((1..=43).contains(&serial), "serial {serial}");
    assert_eq!(state(dir)["assignments"].as_array().map(Vec::len), Some(31));

    let again = pimplan(dir, T0, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."));

    // An edit of each kind, ten minutes later (past the five-minute rule).
    edit(
        &dir.join("assignments/data/prod-db.yaml"),
        "end: 2027-02-15T08:00:00Z",
        "end: 2027-02-20T08:00:00Z",
    );
    edit(
        &dir.join("assignments/data/finance.yaml"),
        "principal: olivia, role: owner",
        "principal: olivia, role: member",
    );
    edit(
        &dir.join("assignments/data/finance.yaml"),
        "  - { group: finance-app-owners, principal: mallory, role: member, type: active, duration: P45D, justification: Quarter-end reporting }\n",
        "",
    );
    edit(
        &dir.join("assignments/platform/sandbox.yaml"),
        "assignments:\n",
        "assignments:\n  - { group: dev-sandbox-admins, principal: judy, role: member, type: eligible, duration: P30D, justification: Demo week }\n",
    );
    edit(
        &dir.join("groups/tier1.yaml"),
        "activation: { max_duration: PT8H }",
        "activation: { max_duration: PT6H }",
    );
    let t1 = "2026-12-01T00:10:00Z";
    let plan = pimplan(dir, t1, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    let out = &plan.stdout;
    assert!(out.contains("  ~ assignment prod-db-admins/alice (member, eligible)\n      end: 2027-02-15T08:00:00Z -> 2027-02-20T08:00:00Z"), "{out}");
    assert!(
        out.contains("-/+ assignment finance-app-owners/olivia (member, eligible)"),
        "{out}"
    );
    assert!(out.contains("      role: owner -> member"), "{out}");
    assert!(
        out.contains("  - assignment finance-app-owners/mallory (member, active)"),
        "{out}"
    );
    assert!(
        out.contains("  + assignment dev-sandbox-admins/judy (member, eligible)"),
        "{out}"
    );
    assert!(
        out.contains(
            "  ~ policy dev-sandbox-admins (member)\n      activation.max_duration: PT8H -> PT6H"
        ),
        "{out}"
    );
    assert!(
        out.contains("Plan: 2 to add, 2 to change, 2 to remove."),
        "{out}"
    );

    let applied = pimplan(dir, t1, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let after = read(&dir.join("pimplan.state.json"));
    let new_serial = json(&after)["serial"].as_u64().unwrap_or(0);
    assert!(
        new_serial > serial && new_serial <= serial + 5,
        "serial {new_serial}"
    );
    // The backup is the state before this apply.
    let backup = json(&read(&dir.join("pimplan.state.json.backup")));
    assert_eq!(backup["serial"].as_u64(), Some(serial));

    // The same apply again changes nothing, not even the serial.
    let idle = pimplan(dir, "2026-12-01T00:20:00Z", &["apply", "--auto-approve"]);
    assert_eq!(idle.code, 0, "{}{}", idle.stdout, idle.stderr);
    assert!(idle.stdout.contains("No changes."));
    assert_eq!(read(&dir.join("pimplan.state.json")), after);
    let plan = pimplan(
        dir,
        "2026-12-01T00:20:00Z",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 0);
}

#[test]
fn a_saved_plan_applies_however_the_workspace_was_named() {
    let ws = example();
    let dir = ws.path();
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        unreachable!("a temporary folder has a parent")
    };
    let name = name.to_string_lossy();
    let root = format!("./{name}/pimplan.yaml");
    let out = format!("{name}/saved.plan");
    let saved = pimplan(parent, T0, &["-c", &root, "plan", "--out", &out]);
    assert_eq!(saved.code, 0, "{}{}", saved.stdout, saved.stderr);
    let run = pimplan(dir, T0, &["apply", "saved.plan"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
}

#[test]
fn a_saved_plan_is_refused_once_the_state_moved_on() {
    let ws = example();
    let dir = ws.path();
    let saved = pimplan(dir, T0, &["plan", "--out", "first.plan"]);
    assert_eq!(saved.code, 0, "{}{}", saved.stdout, saved.stderr);
    assert!(dir.join("first.plan").is_file());
    // Someone else applies first.
    let other = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(other.code, 0);
    let before = read(&dir.join("pimplan.state.json"));
    let stale = pimplan(dir, T0, &["apply", "first.plan"]);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains("plan is stale") && stale.stderr.contains("run plan again"),
        "{}",
        stale.stderr
    );
    assert_eq!(read(&dir.join("pimplan.state.json")), before);

    // A fresh saved plan applies without asking.
    edit(
        &dir.join("groups/tier1.yaml"),
        "activation: { max_duration: PT8H }",
        "activation: { max_duration: PT6H }",
    );
    let fresh = pimplan(dir, T0, &["plan", "--out", "second.plan"]);
    assert_eq!(fresh.code, 0);
    let applied = pimplan(dir, T0, &["apply", "second.plan"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    // And a saved plan whose workspace changed since is refused.
    edit(
        &dir.join("groups/tier1.yaml"),
        "activation: { max_duration: PT6H }",
        "activation: { max_duration: PT5H }",
    );
    let third = pimplan(dir, T0, &["plan", "--out", "third.plan"]);
    assert_eq!(third.code, 0);
    edit(
        &dir.join("groups/tier1.yaml"),
        "activation: { max_duration: PT5H }",
        "activation: { max_duration: PT4H }",
    );
    let changed = pimplan(dir, T0, &["apply", "third.plan"]);
    assert_eq!(changed.code, 1);
    assert!(
        changed.stderr.contains("the workspace files changed since"),
        "{}",
        changed.stderr
    );
}

#[test]
fn removing_within_five_minutes_is_pim701_then_allowed() {
    let ws = small(4, "", "");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: u3, role: member, type: eligible, duration: P90D, justification: rota }\n",
        "",
    );
    let early = pimplan(dir, "2026-12-01T00:03:00Z", &["plan", "--format", "json"]);
    assert_eq!(early.code, 1, "{}{}", early.stdout, early.stderr);
    assert!(
        early.stderr.contains("PIM701(change-too-soon)"),
        "{}",
        early.stderr
    );
    assert!(
        early
            .stderr
            .contains("it can be removed from 2026-12-01T00:05:00+00:00"),
        "{}",
        early.stderr
    );
    assert!(
        early.stderr.contains("pimplan.state.json:"),
        "the finding points into the state: {}",
        early.stderr
    );
    let later = pimplan(
        dir,
        "2026-12-01T00:06:00Z",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(later.code, 2, "{}{}", later.stdout, later.stderr);
    assert!(
        later
            .stdout
            .contains("  - assignment ops/u3 (member, eligible)"),
        "{}",
        later.stdout
    );
    assert!(
        later
            .stdout
            .contains("Plan: 0 to add, 0 to change, 1 to remove.")
    );
}

#[test]
fn a_plan_time_finding_on_a_declared_assignment_can_be_silenced_in_place() {
    let ws = small(4, "", "");
    let dir = ws.path();
    let root = dir.join("pimplan.yaml");
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let line = "  - { group: ops, principal: u2, role: member, type: eligible, duration: P90D, justification: rota }\n";
    edit(&root, line, &line.replace("P90D", "P60D"));
    let early = "2026-12-01T00:03:00Z";
    let refused = pimplan(dir, early, &["plan"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains("PIM701(change-too-soon)"),
        "{}",
        refused.stdout
    );
    edit(
        &root,
        &line.replace("P90D", "P60D"),
        &format!(
            "  # pimplan: ignore PIM701 the change waits for the next scheduled run\n{}",
            line.replace("P90D", "P60D")
        ),
    );
    // lint does not judge a plan-time ignore; the plan uses it.
    let lint = pimplan(dir, early, &["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    assert!(!lint.stdout.contains("PIM007"), "{}", lint.stdout);
    let silenced = pimplan(dir, early, &["plan"]);
    assert_eq!(silenced.code, 0, "{}{}", silenced.stdout, silenced.stderr);
    assert!(!silenced.stdout.contains("PIM701"), "{}", silenced.stdout);
    // Once the change is no longer too soon, the plan says the ignore silences nothing.
    let later = pimplan(dir, "2026-12-01T00:10:00Z", &["plan"]);
    assert_eq!(later.code, 0, "{}{}", later.stdout, later.stderr);
    assert!(
        later
            .stdout
            .contains("the ignore of PIM701 silences nothing"),
        "{}",
        later.stdout
    );
}

/// Object ids say which object in Entra a handle names: a rename is nothing, another id is
/// another object (a replace, which the guards on removals see), and ids added to entries
/// made without them change nothing in the service, so the state keeps the service's times.
#[test]
fn object_ids_decide_what_a_change_is() {
    let ws = example();
    let dir = ws.path();
    // The break-glass account gets a grant to protect.
    let sandbox = dir.join("assignments/platform/sandbox.yaml");
    std::fs::write(
        &sandbox,
        read(&sandbox)
            + "  - { group: dev-sandbox-admins, principal: breakglass-01, role: member, type: eligible, duration: P30D, justification: break-glass drill }  # pimplan: ignore PIM301 licensed outside these files\n",
    )
    .unwrap_or(());
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let t = "2026-12-01T00:02:00Z"; // within five minutes of the apply: PIM701 would fire
    let people = dir.join("principals/people.yaml");
    let files = [
        "assignments/platform/sandbox.yaml",
        "assignments/platform/k8s.yaml",
        "assignments/data/prod-db.yaml",
    ];

    // Renaming alice (her id stays) is no change.
    edit(&people, "  - name: alice\n", "  - name: alicia\n");
    for f in files {
        let path = dir.join(f);
        let text = read(&path).replace("principal: alice", "principal: alicia");
        std::fs::write(&path, text).unwrap_or(());
    }
    let renamed = pimplan(dir, t, &["plan", "--detailed-exitcode"]);
    assert_eq!(renamed.code, 0, "{}{}", renamed.stdout, renamed.stderr);
    assert!(renamed.stdout.contains("No changes."), "{}", renamed.stdout);

    // Another id for the break-glass account is another object: its grant would be removed.
    edit(
        &people,
        "id: fb6af7e7-3869-476b-8033-282b4fa2190f",
        "id: 00000000-3869-476b-8033-282b4fa2190f",
    );
    let other = pimplan(
        dir,
        "2026-12-02T00:00:00Z",
        &["plan", "--allow-mass-removal"],
    );
    assert_eq!(other.code, 1, "{}{}", other.stdout, other.stderr);
    assert!(
        other.stdout.contains("PIM704(protected-principal-removed)"),
        "{}",
        other.stdout
    );
    edit(
        &people,
        "id: 00000000-3869-476b-8033-282b4fa2190f",
        "id: fb6af7e7-3869-476b-8033-282b4fa2190f",
    );

    // Ids added where there were none: recorded, with the times the service holds.
    let bob_id = "    id: 1d8c1f0f-5a8b-4f8d-8e55-4a4d6b1c3b21\n";
    edit(&people, bob_id, "");
    assert_eq!(
        pimplan(
            dir,
            "2026-12-03T00:00:00Z",
            &["apply", "--auto-approve", "--allow-mass-removal"]
        )
        .code,
        0
    );
    let ends = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = state(dir)["assignments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["principal"] == "bob")
            .map(|a| format!("{} {}", a["starts_at"], a["ends_at"]))
            .collect();
        v.sort();
        v
    };
    let before = ends(dir);
    edit(
        &people,
        "    upn: bob@contoso.com\n",
        &format!("    upn: bob@contoso.com\n{bob_id}"),
    );
    let soon = "2026-12-20T00:01:00Z";
    let added = pimplan(dir, soon, &["apply", "--auto-approve"]);
    assert_eq!(added.code, 0, "{}{}", added.stdout, added.stderr);
    assert!(
        added.stdout.contains("object ids changed"),
        "{}",
        added.stdout
    );
    assert_eq!(ends(dir), before, "the service's times are kept");
}

#[test]
fn an_update_shows_added_values_and_the_emergency_mark_as_old_to_new() {
    let ws = small(2, "", "");
    let dir = ws.path();
    let root = dir.join("pimplan.yaml");
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    edit(
        &root,
        "principal: u1, role: member, type: eligible, duration: P90D, justification: rota }",
        "principal: u1, role: member, type: eligible, duration: P90D, justification: rota, ticket: { system: Jira, number: X-1 } }",
    );
    edit(
        &root,
        "  - { name: u0, type: user, licenses: [entra_id_p2] }",
        "  - { name: u0, type: user, licenses: [entra_id_p2], emergency_access: true }",
    );
    let run = pimplan(dir, "2026-12-01T00:10:00Z", &["plan"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for line in [
        "ticket_number: (none) -> X-1",
        "ticket_system: (none) -> Jira",
        "emergency_access: (none) -> true",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
}

/// A name defined twice (PIM102, silenced here): the first definition is the one every
/// rule checked, and the one the plan grants.
#[test]
fn the_first_of_two_definitions_is_the_one_granted() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    std::fs::write(
        dir.join("pimplan.yaml"),
        "version: 1\nprincipals:\n  - { name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }\n  - { name: alice, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }  # pimplan: ignore PIM102 being migrated\ngroups:\n  - { name: ops, id: 99999999-0000-4000-8000-000000000009, owners: [alice] }\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, duration: P90D, justification: rota }\n",
    )
    .unwrap_or(());
    let run = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        state(dir)["assignments"][0]["principal_id"],
        "aaaaaaaa-0000-4000-8000-000000000001"
    );
}

#[test]
fn the_same_instant_written_another_way_is_no_change() {
    let ws = small(
        1,
        "",
        "  - { group: ops, principal: u0, role: member, type: active, end: 2027-04-01T00:00:00+01:00, justification: cover }\n",
    );
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    edit(
        &dir.join("pimplan.yaml"),
        "end: 2027-04-01T00:00:00+01:00",
        "end: 2027-03-31T23:00:00Z",
    );
    let run = pimplan(dir, T0, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

#[test]
fn mass_removal_is_refused_unless_allowed() {
    let ws = small(8, "", "");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let root = dir.join("pimplan.yaml");
    for i in 5..8 {
        edit(
            &root,
            &format!(
                "  - {{ group: ops, principal: u{i}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
            ),
            "",
        );
    }
    let t = "2026-12-02T00:00:00Z";
    let refused = pimplan(dir, t, &["plan"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stdout
            .contains("the plan removes 3 of 8 assignments (38%), more than the 25% allowed"),
        "{}",
        refused.stdout
    );
    let allowed = pimplan(
        dir,
        t,
        &["plan", "--allow-mass-removal", "--detailed-exitcode"],
    );
    assert_eq!(allowed.code, 2, "{}{}", allowed.stdout, allowed.stderr);
    let before = read(&dir.join("pimplan.state.json"));
    let apply_refused = pimplan(dir, t, &["apply", "--auto-approve"]);
    assert_eq!(apply_refused.code, 1);
    assert_eq!(read(&dir.join("pimplan.state.json")), before);
    assert_eq!(
        pimplan(dir, t, &["apply", "--auto-approve", "--allow-mass-removal"]).code,
        0
    );
    // A configured ratio applies too.
    edit(
        &root,
        "version: 1\n",
        "version: 1\nplan: { max_removal_ratio: 0.5 }\n",
    );
    edit(
        &root,
        "  - { group: ops, principal: u4, role: member, type: eligible, duration: P90D, justification: rota }\n",
        "",
    );
    assert_eq!(pimplan(dir, "2026-12-03T00:00:00Z", &["plan"]).code, 0);
}

#[test]
fn emergency_access_assignments_are_never_removed() {
    let ws = small(
        8,
        "  - { name: breakglass, type: user, licenses: [entra_id_p2], emergency_access: true }\n",
        "  - { group: ops, principal: breakglass, role: member, type: active, duration: P90D, justification: break-glass }\n",
    );
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: breakglass, role: member, type: active, duration: P90D, justification: break-glass }\n",
        "",
    );
    for extra in [&[][..], &["--allow-mass-removal"][..]] {
        let mut args = vec!["plan"];
        args.extend_from_slice(extra);
        let run = pimplan(dir, "2026-12-02T00:00:00Z", &args);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("PIM704(protected-principal-removed)"),
            "{}",
            run.stdout
        );
    }
    // Nor can the rule be switched off.
    edit(
        &dir.join("pimplan.yaml"),
        "version: 1\n",
        "version: 1\nrules: { PIM704: off }\n",
    );
    let run = pimplan(dir, "2026-12-02T00:00:00Z", &["plan"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("PIM704 cannot be switched off or given another severity"),
        "{}",
        run.stdout
    );
}

#[test]
fn removing_the_last_active_owner_warns() {
    let ws = small(
        2,
        "",
        "  - { group: ops, principal: u1, role: owner, type: active, duration: P30D, justification: owner }\n",
    );
    let dir = ws.path();
    // The group's only owner is the active assignment once the standing owner goes.
    edit(&dir.join("pimplan.yaml"), "    owners: [u0]\n", "");
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    // Made eligible: a replace, which removes the active grant; the finding names that one.
    edit(
        &dir.join("pimplan.yaml"),
        "role: owner, type: active",
        "role: owner, type: eligible",
    );
    let replaced = pimplan(
        dir,
        "2026-12-02T00:00:00Z",
        &["plan", "--allow-mass-removal"],
    );
    assert!(
        replaced
            .stdout
            .contains("assignment ops/u1 (owner, active) is the last owner of `ops`"),
        "{}",
        replaced.stdout
    );
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: u1, role: owner, type: eligible, duration: P30D, justification: owner }\n",
        "",
    );
    let run = pimplan(
        dir,
        "2026-12-02T00:00:00Z",
        &["plan", "--allow-mass-removal"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("PIM702(last-owner-removed)"),
        "{}",
        run.stdout
    );
}

#[test]
fn apply_needs_a_terminal_or_auto_approve() {
    let ws = example();
    let run = pimplan(ws.path(), T0, &["apply"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(!ws.path().join("pimplan.state.json").exists());
    assert!(!ws.path().join("pimplan.state.json.lock").exists());
}

#[test]
fn bad_state_files_are_refused_and_left_alone() {
    for (name, content, message) in [
        (
            "corrupt",
            "{ \"format_version\": 1, \"lineage\": ",
            "is corrupt",
        ),
        (
            "future",
            "{ \"format_version\": 99, \"lineage\": \"x\", \"serial\": 1 }",
            "newer than this pimplan understands",
        ),
        (
            "policy key",
            "{ \"format_version\": 1, \"lineage\": \"1b4e28ba-2fa1-41d2-883f-0016d3cca427\", \"serial\": 1, \"policies\": [{ \"key\": \"policy/id:deadbeef/member\", \"group\": \"ops\", \"role\": \"member\", \"settings\": {}, \"applied_at\": \"2026-12-01T00:00:00Z\" }] }",
            "policy entry `policy/id:deadbeef/member` does not match its values",
        ),
        (
            "twice",
            "{ \"format_version\": 1, \"lineage\": \"1b4e28ba-2fa1-41d2-883f-0016d3cca427\", \"serial\": 1, \"policies\": [{ \"key\": \"policy/name:ops/member\", \"group\": \"ops\", \"role\": \"member\", \"settings\": {}, \"applied_at\": \"2026-12-01T00:00:00Z\" }, { \"key\": \"policy/name:ops/member\", \"group\": \"ops\", \"role\": \"member\", \"settings\": {}, \"applied_at\": \"2026-12-01T00:00:00Z\" }] }",
            "appears twice",
        ),
    ] {
        let ws = example();
        let path = ws.path().join("pimplan.state.json");
        std::fs::write(&path, content).unwrap_or(());
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"][..],
            &["state", "list"][..],
        ] {
            let run = pimplan(ws.path(), T0, args);
            assert_eq!(run.code, 1, "{name} {args:?}: {}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains(message),
                "{name} {args:?}: {}",
                run.stderr
            );
            assert_eq!(read(&path), content, "{name}: the state was changed");
            assert!(!ws.path().join("pimplan.state.json.backup").exists());
        }
    }
    // A state folder that cannot be written: here a file stands where the folder should be
    // (root may write anywhere, so permissions alone would not stop this test's user).
    let ws = example();
    std::fs::write(ws.path().join("state"), "a file, not a folder").unwrap_or(());
    edit(
        &ws.path().join("pimplan.yaml"),
        "state: pimplan.state.json",
        "state: state/pimplan.state.json",
    );
    let run = pimplan(ws.path(), T0, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("state/pimplan.state.json"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&ws.path().join("state")), "a file, not a folder");
}

#[test]
fn state_list_and_show() {
    let ws = small(2, "", "");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let list = pimplan(dir, T0, &["state", "list"]);
    assert_eq!(list.code, 0);
    let key = "assignment/name:ops/name:u1/member/eligible";
    assert!(
        list.stdout.contains(&format!(
            "assignment ops/u1 (member, eligible)  {key}  applied 2026-12-01T00:00:00+00:00  ends 2027-03-01T00:00:00+00:00"
        )),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("policy/name:ops/owner"));
    let show = pimplan(dir, T0, &["state", "show", key]);
    assert_eq!(show.code, 0);
    let entry = json(&show.stdout);
    assert_eq!(entry["principal"], "u1");
    assert_eq!(entry["duration"], "P90D");
    let missing = pimplan(
        dir,
        T0,
        &[
            "state",
            "show",
            "assignment/name:ops/name:u9/member/eligible",
        ],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("did you mean"),
        "{}",
        missing.stderr
    );
}

#[test]
fn plan_formats() {
    let ws = small(1, "", "");
    let dir = ws.path();
    let run = pimplan(dir, T0, &["plan", "--format", "json"]);
    assert_eq!(run.code, 0);
    let plan = json(&run.stdout);
    assert_eq!(plan["format_version"], 3);
    assert_eq!(plan["summary"]["add"], 3);
    assert_eq!(plan["state"]["lineage"], Value::Null);
    let change = plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["object"] == "assignment"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(change["action"], "create");
    assert_eq!(change["after"]["principal"], "u0");
    assert_eq!(change["diff"]["duration"]["after"], "P90D");
    let md = pimplan(dir, T0, &["plan", "--format", "markdown"]);
    assert!(
        md.stdout
            .starts_with("### pimplan plan\n\n**Target:** the state file only: nothing is sent to Microsoft Graph\n\n**Plan: 3 to add, 0 to change, 0 to remove.**"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("| `+` | assignment ops/u0 (member, eligible) |"),
        "{}",
        md.stdout
    );
}

#[test]
fn a_stale_lock_names_its_holder_until_force_unlock() {
    let ws = small(1, "", "");
    let dir = ws.path();
    let lock = r#"{"id":"x","pid":4242,"host":"ci-runner-7","user":"deploy","since":"2026-11-30T23:00:00+00:00","command":"pimplan apply"}"#;
    std::fs::write(dir.join("pimplan.state.json.lock"), lock).unwrap_or(());
    let run = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is locked by `pimplan apply` (process 4242 of deploy on ci-runner-7, lock id x) since 2026-11-30T23:00:00+00:00"), "{}", run.stderr);
    assert!(!dir.join("pimplan.state.json").exists());
    // The killed holder also left a half-written temporary file: the next apply clears it.
    let leftover = dir.join(".pimplan.state.json.tmp-4242");
    std::fs::write(&leftover, "{ \"format_version\": 1, \"lin").unwrap_or(());
    // Its machine is another: released only when said to be gone.
    assert_eq!(pimplan(dir, T0, &["force-unlock"]).code, 1);
    let unlock = pimplan(dir, T0, &["force-unlock", "--force"]);
    assert_eq!(unlock.code, 0);
    assert!(unlock.stdout.contains("Released the lock held by"));
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    assert!(!leftover.exists());
}

fn spawn_apply(dir: &Path, delay_ms: u64) -> std::process::Child {
    common::spawn_apply(dir, T0, &["--target", "state"], delay_ms)
}

#[test]
fn two_applies_at_once_one_wins_the_other_meets_the_lock() {
    let ws = small(10, "", "");
    let dir = ws.path();
    let a = spawn_apply(dir, 40);
    let b = spawn_apply(dir, 40);
    let (a, b) = (
        a.wait_with_output().unwrap_or_else(|e| unreachable!("{e}")),
        b.wait_with_output().unwrap_or_else(|e| unreachable!("{e}")),
    );
    let codes = (a.status.code(), b.status.code());
    assert!(
        matches!(codes, (Some(0), Some(1)) | (Some(1), Some(0))),
        "{codes:?}"
    );
    let loser = if a.status.code() == Some(1) { &a } else { &b };
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert!(stderr.contains("is locked by `pimplan apply`"), "{stderr}");
    let st = state(dir);
    assert_eq!(st["policies"].as_array().map(Vec::len), Some(2));
    assert_eq!(st["assignments"].as_array().map(Vec::len), Some(10));
    assert!(!dir.join("pimplan.state.json.lock").exists());
}

#[test]
fn an_apply_killed_at_random_points_leaves_a_true_state() {
    let base_ws = small(6, "", "");
    let dir = base_ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    // Grow the workspace to 30 users: 24 creates, applied with a pause after each write.
    let mut text = read(&dir.join("pimplan.yaml"));
    let mut people = String::new();
    let mut assigned = String::new();
    for i in 6..30 {
        people.push_str(&format!(
            "  - {{ name: u{i}, type: user, licenses: [entra_id_p2] }}\n"
        ));
        assigned.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
        ));
    }
    text = text.replace("groups:\n", &format!("{people}groups:\n"));
    text.push_str(&assigned);
    std::fs::write(dir.join("pimplan.yaml"), &text).unwrap_or(());
    let base_state = read(&dir.join("pimplan.state.json"));
    let base: Value = json(&base_state);
    let base_serial = base["serial"].as_u64().unwrap_or_default();
    let plan = json(&pimplan(dir, T0, &["plan", "--format", "json"]).stdout);
    let changes = plan["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 24);
    let expected_principals = |k: usize| -> Vec<String> {
        let mut p: Vec<String> = base["assignments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["principal"].as_str().map(str::to_owned))
            .chain(
                changes[..k]
                    .iter()
                    .filter_map(|c| c["after"]["principal"].as_str().map(str::to_owned)),
            )
            .collect();
        p.sort();
        p
    };

    let mut seen_partial = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for run in 0..24 {
        // A fresh copy of the workspace and its state for every run.
        let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let d = tmp.path();
        std::fs::write(d.join("pimplan.yaml"), &text).unwrap_or(());
        std::fs::write(d.join("pimplan.state.json"), &base_state).unwrap_or(());
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(seed % 700);
        let mut child = spawn_apply(d, 20);
        let started = Instant::now();
        while started.elapsed() < wait {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();

        let now_text = read(&d.join("pimplan.state.json"));
        let now: Value = serde_json::from_str(&now_text).unwrap_or_else(|e| {
            unreachable!("run {run}: the state does not parse after a kill: {e}")
        });
        let serial = now["serial"].as_u64().unwrap_or_default();
        assert!(serial >= base_serial, "run {run}");
        let mut principals: Vec<String> = now["assignments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["principal"].as_str().map(str::to_owned))
            .collect();
        principals.sort();
        // The state holds exactly the first k changes of the plan, for some k.
        let k = (0..=changes.len()).find(|k| expected_principals(*k) == principals);
        let Some(k) = k else {
            unreachable!("run {run}: the state is not a prefix of the plan: {principals:?}")
        };
        assert!(
            (serial - base_serial) as usize <= k,
            "run {run}: more writes than changes"
        );
        assert_eq!(now["lineage"], base["lineage"], "run {run}");
        // The backup, when written, is the state before the apply.
        let backup = d.join("pimplan.state.json.backup");
        if backup.exists() {
            assert_eq!(
                read(&backup),
                base_state,
                "run {run}: the backup is not the state before"
            );
        } else {
            assert_eq!(k, 0, "run {run}: changes recorded without a backup");
        }
        if k > 0 && k < changes.len() {
            seen_partial += 1;
        }
    }
    assert!(
        seen_partial >= 5,
        "only {seen_partial} runs were killed half way; the test did not test"
    );
}

#[test]
fn expired_entries_are_dropped_and_not_created_again() {
    let ws = small(3, "", "");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: u2, role: member, type: eligible, duration: P90D, justification: rota }\n",
        "",
    );
    // 91 days later every P90D schedule has ended in the service.
    let later = "2027-03-02T00:00:00Z";
    let run = pimplan(dir, later, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("  - assignment ops/u0 (member, eligible)  # ended 2027-03-01T00:00:00+00:00; still declared, not granted again"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  - assignment ops/u2 (member, eligible)  # ended 2027-03-01T00:00:00+00:00; only dropped from the state"),
        "{}",
        run.stdout
    );
    // Dropping expired entries is not a mass removal, and the five-minute rule does not apply.
    assert_eq!(pimplan(dir, later, &["apply", "--auto-approve"]).code, 0);
    let st = state(dir);
    assert_eq!(st["assignments"].as_array().map(Vec::len), Some(0));
    assert_eq!(st["ended"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        pimplan(dir, later, &["plan", "--detailed-exitcode"]).code,
        0
    );
}

#[test]
fn multi_line_values_are_diffed_line_by_line() {
    let ws = small(1, "", "");
    let dir = ws.path();
    edit(
        &dir.join("pimplan.yaml"),
        "justification: rota }\n",
        "justification: \"rota\\nweek 1: Mon-Fri\\napproved by CAB\" }\n",
    );
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    edit(
        &dir.join("pimplan.yaml"),
        "week 1: Mon-Fri",
        "week 1: Mon-Sun",
    );
    let run = pimplan(dir, "2026-12-01T00:10:00Z", &["plan"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("      justification:\n          rota\n        - week 1: Mon-Fri\n        + week 1: Mon-Sun\n          approved by CAB\n"),
        "{}",
        run.stdout
    );
}

/// The serial an apply reports is the one it wrote, on the first apply and on the next.
#[test]
fn apply_reports_the_serial_it_wrote() {
    let ws = small(2, "", "");
    let dir = ws.path();
    let first = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let serial = state(dir)["serial"].as_u64().unwrap_or_default();
    assert!(serial > 0, "{}", first.stdout);
    assert!(
        first.stdout.contains(&format!(
            "change(s) recorded in `pimplan.state.json` (serial {serial})."
        )),
        "{}",
        first.stdout
    );
    edit(
        &dir.join("pimplan.yaml"),
        "principal: u1, role: member, type: eligible, duration: P90D",
        "principal: u1, role: member, type: eligible, duration: P30D",
    );
    let second = pimplan(dir, "2026-12-01T00:10:00Z", &["apply", "--auto-approve"]);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    // An apply may write the state more than once on its way: the last serial counts.
    let next = state(dir)["serial"].as_u64().unwrap_or_default();
    assert!(next > serial, "{}", second.stdout);
    assert!(
        second.stdout.contains(&format!(
            "change(s) recorded in `pimplan.state.json` (serial {next})."
        )),
        "{}",
        second.stdout
    );
}
