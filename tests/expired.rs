//! Time passing never grants again and never turns an unchanged workspace red (issue 11,
//! point 14), over the real binary with `--now` moving forward across an end.

mod common;

use std::path::Path;

use common::{Run, edit, state, workspace_with};
use serde_json::Value;

const T0: &str = "2026-12-01T00:00:00Z";

fn pimplan(dir: &Path, now: &str, args: &[&str]) -> Run {
    common::run(dir, now, args)
}

fn count(st: &Value, list: &str) -> usize {
    st[list].as_array().map_or(0, Vec::len)
}

/// One licensed user, eligible for `ops` with `timing` (YAML flow entries).
fn workspace(timing: &str) -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\nprincipals:\n  - {{ name: alice, type: user, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\nassignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, {timing}, justification: rota }}\n"
    ))
}

fn all(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn a_duration_that_ended_is_dropped_and_not_restarted() {
    let ws = workspace("duration: P7D");
    let dir = ws.path();
    let first = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}", all(&first));

    // Eight days later the schedule has ended: the plan drops it, it does not grant it.
    let later = "2026-12-09T00:00:00Z";
    let plan = pimplan(dir, later, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", all(&plan));
    assert!(
        plan.stdout
            .contains("  - assignment ops/alice (member, eligible)  # ended 2026-12-08T00:00:00+00:00; still declared, not granted again"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("0 to add"), "{}", plan.stdout);
    let apply = pimplan(dir, later, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", all(&apply));
    let st = state(dir);
    assert_eq!(count(&st, "assignments"), 0, "{st}");
    assert_eq!(count(&st, "ended"), 1, "{st}");
    assert_eq!(st["ended"][0]["ends_at"], "2026-12-08T00:00:00Z");

    // The next plans, days later, do not start it again: no change, and a PIM203 warning at
    // the duration (line 7, column 77).
    for now in [later, "2026-12-20T00:00:00Z"] {
        let again = pimplan(dir, now, &["plan", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{}", all(&again));
        assert!(again.stdout.contains("No changes."), "{}", again.stdout);
        assert!(
            again.stdout.contains("PIM203") && again.stdout.contains("pimplan.yaml:7:77"),
            "{}",
            again.stdout
        );
        assert!(
            again.stdout.contains("not granted again"),
            "{}",
            again.stdout
        );
    }
    // An apply sends nothing and keeps the memory.
    let idle = pimplan(dir, "2026-12-20T00:00:00Z", &["apply", "--auto-approve"]);
    assert_eq!(idle.code, 0, "{}", all(&idle));
    assert_eq!(count(&state(dir), "assignments"), 0);

    // A new duration grants it again, counted from that apply.
    edit(&dir.join("pimplan.yaml"), "duration: P7D", "duration: P14D");
    let regrant = pimplan(dir, "2026-12-20T00:00:00Z", &["plan"]);
    assert_eq!(regrant.code, 0, "{}", all(&regrant));
    assert!(
        regrant
            .stdout
            .contains("  + assignment ops/alice (member, eligible)"),
        "{}",
        regrant.stdout
    );
    let apply = pimplan(dir, "2026-12-20T00:00:00Z", &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", all(&apply));
    let st = state(dir);
    assert_eq!(count(&st, "assignments"), 1, "{st}");
    assert_eq!(count(&st, "ended"), 0, "{st}");
    assert_eq!(st["assignments"][0]["ends_at"], "2027-01-03T00:00:00Z");
}

#[test]
fn a_past_end_is_a_warning_and_never_created() {
    let ws = workspace("end: 2026-12-10T00:00:00Z");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let later = "2026-12-11T00:00:00Z";

    // Lint: a warning that says what to do, exit 0 (the pull request stays green).
    let lint = pimplan(dir, later, &["lint"]);
    assert_eq!(lint.code, 0, "{}", all(&lint));
    assert!(
        lint.stdout.contains("PIM203(already-expired)")
            && lint.stdout.contains("0 errors, 1 warning"),
        "{}",
        lint.stdout
    );
    assert!(
        lint.stdout
            .contains("it is not granted again; remove the entry, or give it"),
        "{}",
        lint.stdout
    );

    let plan = pimplan(dir, later, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", all(&plan));
    assert!(plan.stdout.contains("0 to add"), "{}", plan.stdout);
    assert!(plan.stdout.contains("not granted again"), "{}", plan.stdout);
    assert_eq!(pimplan(dir, later, &["apply", "--auto-approve"]).code, 0);
    assert_eq!(count(&state(dir), "assignments"), 0);
    let again = pimplan(dir, later, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", all(&again));

    // A new end grants it again.
    edit(
        &dir.join("pimplan.yaml"),
        "end: 2026-12-10T00:00:00Z",
        "end: 2027-01-10T00:00:00Z",
    );
    let regrant = pimplan(dir, later, &["plan"]);
    assert!(
        regrant
            .stdout
            .contains("  + assignment ops/alice (member, eligible)"),
        "{}",
        all(&regrant)
    );
    assert_eq!(pimplan(dir, later, &["apply", "--auto-approve"]).code, 0);
    let st = state(dir);
    assert_eq!(count(&st, "assignments"), 1, "{st}");
    assert_eq!(count(&st, "ended"), 0, "{st}");
}

#[test]
fn an_end_in_the_past_is_never_created_in_a_fresh_workspace() {
    let ws = workspace("end: 2026-11-01T00:00:00Z");
    let dir = ws.path();
    let plan = pimplan(dir, T0, &["plan"]);
    assert_eq!(plan.code, 0, "{}", all(&plan));
    assert!(
        !plan.stdout.contains("assignment ops/alice"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("PIM203"), "{}", plan.stdout);
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    assert_eq!(count(&state(dir), "assignments"), 0);
}

#[test]
fn an_ended_entry_removed_from_the_files_is_forgotten() {
    let ws = workspace("duration: P7D");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let later = "2026-12-09T00:00:00Z";
    assert_eq!(pimplan(dir, later, &["apply", "--auto-approve"]).code, 0);
    assert_eq!(count(&state(dir), "ended"), 1);
    edit(
        &dir.join("pimplan.yaml"),
        "  - { group: ops, principal: alice, role: member, type: eligible, duration: P7D, justification: rota }\n",
        "",
    );
    let apply = pimplan(dir, later, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", all(&apply));
    assert!(
        apply.stdout.contains("only dropped from the state"),
        "{}",
        apply.stdout
    );
    let st = state(dir);
    assert_eq!(count(&st, "ended"), 0, "{st}");
    // Declared again later, it is a new grant.
    edit(
        &dir.join("pimplan.yaml"),
        "assignments:\n",
        "assignments:\n  - { group: ops, principal: alice, role: member, type: eligible, duration: P7D, justification: rota }\n",
    );
    let plan = pimplan(dir, later, &["plan"]);
    assert!(
        plan.stdout
            .contains("  + assignment ops/alice (member, eligible)"),
        "{}",
        all(&plan)
    );
}

#[test]
fn an_old_state_without_ended_still_reads() {
    let ws = workspace("duration: P7D");
    let dir = ws.path();
    assert_eq!(pimplan(dir, T0, &["apply", "--auto-approve"]).code, 0);
    let st = state(dir);
    assert!(st.get("ended").is_none(), "{st}");
    let plan = pimplan(
        dir,
        "2026-12-02T00:00:00Z",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 0, "{}", all(&plan));
}

/// An end 10 minutes away becoming 3 minutes away is no error while nothing is sent; a change
/// that would send it is still refused (PIM204 at plan time).
#[test]
fn an_approaching_end_is_no_error_until_a_change_would_send_it() {
    let ws = workspace("end: 2026-12-01T00:10:00Z");
    let dir = ws.path();
    let first = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}", all(&first));
    let close = "2026-12-01T00:07:00Z";
    let lint = pimplan(dir, close, &["lint"]);
    assert_eq!(lint.code, 0, "{}", all(&lint));
    assert!(!lint.stdout.contains("PIM204"), "{}", lint.stdout);
    let plan = pimplan(dir, close, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", all(&plan));

    // Changing the justification would send an adminUpdate the service refuses.
    edit(
        &dir.join("pimplan.yaml"),
        "justification: rota",
        "justification: on call",
    );
    let changed = pimplan(dir, close, &["plan"]);
    assert_eq!(changed.code, 1, "{}", all(&changed));
    assert!(
        changed.stdout.contains("PIM204") && changed.stdout.contains("pimplan.yaml:7:72"),
        "{}",
        changed.stdout
    );
    let apply = pimplan(dir, close, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", all(&apply));
    assert_eq!(
        state(dir)["assignments"][0]["justification"],
        "rota",
        "nothing may be recorded"
    );
}

/// A start that has passed is PIM208 only while the assignment is not applied: the plan asks
/// the state it reads anyway, as lint reads it, and the two agree.
#[test]
fn a_passed_start_is_pim208_in_lint_and_plan_only_until_applied() {
    let timing = "start: 2026-12-01T01:00:00Z, duration: P7D";
    let later = "2026-12-02T00:00:00Z";
    let applied = workspace(timing);
    let dir = applied.path();
    let first = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}", all(&first));
    let not_applied = workspace(timing);
    for (ws, fires) in [(&applied, false), (&not_applied, true)] {
        for command in ["lint", "plan"] {
            let run = pimplan(ws.path(), later, &[command]);
            assert_eq!(
                run.stdout.contains("PIM208"),
                fires,
                "{command}: {}",
                all(&run)
            );
        }
    }
}
