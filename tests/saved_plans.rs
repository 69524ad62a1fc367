//! What reviewers see is complete (issue 13, point 1): `plan --format json|markdown` carry the
//! plan's findings, the file `plan --out` writes is the same document as `plan --format json`,
//! `pimplan show PLANFILE` prints a saved plan in the three formats, a path that is not a
//! regular file is refused at once, and a stale plan names what changed. Through the binary.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Run, edit, json, run, run_bounded};

const T0: &str = "2026-12-01T00:00:00Z";
/// An hour after the first apply: no plan-time rule sees a change too soon.
const T1: &str = "2026-12-01T01:00:00Z";

const ROOT: &str = "version: 1\ninclude: [\"groups/*.yaml\"]\nprincipals:\n  - { name: mei, type: user, licenses: [entra_id_p2] }\n  - { name: ola, type: user, licenses: [entra_id_p2] }\n";
const GROUP: &str = "groups:\n  - name: sre-prod\n    owners: [ola]\nassignments:\n  - { group: sre-prod, principal: ola, role: member, type: eligible, duration: P90D, justification: rota }\n";
/// Ends ten days after T1: PIM207 (expiring soon) warns.
const EXPIRING: &str = "  - { group: sre-prod, principal: mei, role: member, type: eligible, end: 2026-12-11T01:00:00Z, justification: on call }\n";

/// A workspace with sre-prod and ola applied at T0; `extra` assignments added after.
fn applied(extra: &str) -> tempfile::TempDir {
    let ws = common::workspace_with(ROOT);
    let dir = ws.path();
    std::fs::create_dir_all(dir.join("groups")).unwrap_or(());
    std::fs::write(dir.join("groups/sre.yaml"), GROUP).unwrap_or(());
    let first = run(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    if !extra.is_empty() {
        std::fs::write(dir.join("groups/sre.yaml"), format!("{GROUP}{extra}")).unwrap_or(());
    }
    ws
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// `text` with the state's lineage and checksum (random per run) replaced by placeholders.
fn redacted(text: &str, dir: &Path) -> String {
    let st = common::state(dir);
    let mut out = text.to_owned();
    if let Some(lineage) = st["lineage"].as_str() {
        out = out.replace(lineage, "[lineage]");
    }
    let saved = std::fs::read_to_string(dir.join("p.json")).unwrap_or_default();
    if let Some(sum) = serde_json::from_str::<serde_json::Value>(&saved)
        .ok()
        .as_ref()
        .and_then(|p| p["state"]["checksum"].as_str())
    {
        out = out.replace(sum, "[state checksum]");
    }
    out
}

#[test]
fn plan_json_and_markdown_carry_the_findings_and_the_saved_plan_is_the_json() {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    let saved = run(dir, T1, &["plan", "--out", "p.json"]);
    ok(&saved);
    let as_json = run(dir, T1, &["plan", "--format", "json"]);
    ok(&as_json);
    let file = std::fs::read_to_string(dir.join("p.json")).unwrap_or_default();
    assert_eq!(file, as_json.stdout, "`plan --out` wrote another document");
    let plan = json(&file);
    assert_eq!(plan["format_version"], 3);
    // The version of the state the plan was made from: a local state's is its SHA-256.
    assert_eq!(plan["state"]["version"], plan["state"]["checksum"]);
    assert_eq!(plan["summary"]["add"], 1);
    let findings = plan["findings"].as_array().cloned().unwrap_or_default();
    assert_eq!(findings.len(), 1, "{file}");
    assert_eq!(findings[0]["code"], "PIM207");
    assert_eq!(findings[0]["severity"], "warning");
    assert_eq!(findings[0]["file"], "groups/sre.yaml");
    assert_eq!(findings[0]["line"], 6);
    assert_eq!(findings[0]["column"], 75);
    assert_eq!(
        plan["changes"][0]["diff"]["end"]["after"],
        "2026-12-11T01:00:00Z"
    );
    insta::assert_snapshot!("plan_json_with_a_finding", redacted(&file, dir));

    let md = run(dir, T1, &["plan", "--format", "markdown"]);
    ok(&md);
    assert!(
        md.stdout.contains(
            "| warning | `PIM207` expiring-soon | `groups/sre.yaml:6:75` | the assignment ends in 10 days"
        ),
        "{}",
        md.stdout
    );
    insta::assert_snapshot!("plan_markdown_with_a_finding", md.stdout);
}

#[test]
fn markdown_of_a_plan_without_changes_still_lists_its_findings() {
    let ws = applied("");
    let dir = ws.path();
    // Ten days before ola's recorded end (90 days from T0): PIM207 on the state's end.
    let md = run(
        dir,
        "2027-02-19T00:00:00Z",
        &["plan", "--format", "markdown"],
    );
    ok(&md);
    assert!(md.stdout.contains("No changes."), "{}", md.stdout);
    assert!(
        md.stdout.contains("| warning | `PIM207` expiring-soon |"),
        "{}",
        md.stdout
    );
}

#[test]
fn show_prints_a_saved_plan_in_three_formats() {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    let file = std::fs::read_to_string(dir.join("p.json")).unwrap_or_default();
    // Later, and with the workspace changed: `show` reads the file alone.
    edit(&dir.join("groups/sre.yaml"), "on call", "pager");
    let later = "2026-12-05T00:00:00Z";

    let human = run(dir, later, &["show", "p.json"]);
    ok(&human);
    assert!(
        human
            .stdout
            .contains("groups/sre.yaml:6:75: warning[PIM207]: the assignment ends in 10 days"),
        "{}",
        human.stdout
    );
    insta::assert_snapshot!("show_human", redacted(&human.stdout, dir));

    let as_json = run(dir, later, &["show", "p.json", "--format", "json"]);
    ok(&as_json);
    assert_eq!(
        as_json.stdout, file,
        "`show --format json` is the saved document"
    );
    insta::assert_snapshot!("show_json", redacted(&as_json.stdout, dir));

    let md = run(dir, later, &["show", "p.json", "--format", "markdown"]);
    ok(&md);
    insta::assert_snapshot!("show_markdown", md.stdout);
}

#[test]
fn show_refuses_a_path_that_is_no_regular_file_at_once() {
    let ws = applied("");
    let dir = ws.path();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("plan.fifo"))
        .status();
    assert!(made.is_ok_and(|s| s.success()));
    for (file, why) in [
        ("plan.fifo", "it is a FIFO (named pipe), not a regular file"),
        ("/dev/zero", "it is a character device, not a regular file"),
        ("groups", "it is a folder, not a regular file"),
    ] {
        let started = Instant::now();
        let refused = run_bounded(
            dir,
            T1,
            &["show", file],
            Duration::from_secs(20),
            Some(1 << 20),
        );
        assert_eq!(
            refused.code, 1,
            "{file}: {}{}",
            refused.stdout, refused.stderr
        );
        assert!(
            refused
                .stderr
                .contains(&format!("cannot read the plan `{file}`: {why}")),
            "{file}: {}",
            refused.stderr
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{file}");
    }
}

#[test]
fn a_plan_of_the_previous_format_is_refused_with_plan_again() {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    edit(
        &dir.join("p.json"),
        "\"format_version\": 3",
        "\"format_version\": 1",
    );
    let before = std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default();
    for args in [&["show", "p.json"][..], &["apply", "p.json"][..]] {
        let refused = run(dir, T1, args);
        assert_eq!(
            refused.code, 1,
            "{args:?}: {}{}",
            refused.stdout, refused.stderr
        );
        assert!(
            refused.stderr.contains(
                "the plan `p.json` has format version 1, and this pimplan reads versions 2 to 3; make the plan again with `pimplan plan --out`"
            ),
            "{args:?}: {}",
            refused.stderr
        );
    }
    let after = std::fs::read_to_string(dir.join("pimplan.state.json")).unwrap_or_default();
    assert_eq!(before, after);
}

#[test]
fn a_stale_plan_names_the_workspace_files_that_changed() {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    edit(&dir.join("groups/sre.yaml"), "on call", "pager");
    std::fs::write(
        dir.join("groups/more.yaml"),
        "principals:\n  - { name: ana, type: user, licenses: [entra_id_p2] }\n",
    )
    .unwrap_or(());
    let stale = run(dir, T1, &["apply", "p.json"]);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains(
            "the saved plan is stale: the workspace files changed since: `groups/more.yaml` added, `groups/sre.yaml` changed; run plan again"
        ),
        "{}",
        stale.stderr
    );
    // The edit undone, the file removed: the plan applies.
    edit(&dir.join("groups/sre.yaml"), "pager", "on call");
    std::fs::remove_file(dir.join("groups/more.yaml")).unwrap_or(());
    ok(&run(dir, T1, &["apply", "p.json"]));
}

#[test]
fn a_stale_plan_names_the_serial_or_the_lineage() {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    let serial = common::state(dir)["serial"].as_u64().unwrap_or_default();
    // Someone else applies first.
    ok(&run(dir, T1, &["apply", "--auto-approve"]));
    let now = common::state(dir)["serial"].as_u64().unwrap_or_default();
    assert!(now > serial);
    let version =
        json(&std::fs::read_to_string(dir.join("p.json")).unwrap_or_default())["state"]["version"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    let now_version = {
        use sha2::Digest;
        let bytes = std::fs::read(dir.join("pimplan.state.json")).unwrap_or_default();
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let stale = run(dir, T1, &["apply", "p.json"]);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains(&format!(
            "the saved plan is stale: the state changed since (serial {serial} then, {now} now; version `{version}` then, `{now_version}` now); run plan again"
        )),
        "{}",
        stale.stderr
    );

    // A plan made before there was a state, once another apply made one.
    let fresh = common::workspace_with(ROOT);
    let dir = fresh.path();
    std::fs::create_dir_all(dir.join("groups")).unwrap_or(());
    std::fs::write(dir.join("groups/sre.yaml"), GROUP).unwrap_or(());
    ok(&run(dir, T0, &["plan", "--out", "p.json"]));
    ok(&run(dir, T0, &["apply", "--auto-approve"]));
    let st = common::state(dir);
    let stale = run(dir, T0, &["apply", "p.json"]);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains(&format!(
            "the saved plan is stale: it was made when there was no state yet, and there is one now (lineage `{}`, serial {})",
            st["lineage"].as_str().unwrap_or_default(),
            st["serial"]
        )),
        "{}",
        stale.stderr
    );
}

#[test]
fn a_stale_plan_names_the_changes_that_differ_now() {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    // The same workspace and state, after mei's end: the plan would no longer create it.
    let stale = run(dir, "2026-12-12T00:00:00Z", &["apply", "p.json"]);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains(
            "the saved plan is stale: the changes it would make now differ from the saved ones: `assignment sre-prod/mei (member, eligible)` (+) is no longer planned; run plan again"
        ),
        "{}",
        stale.stderr
    );
}

/// B16: a saved plan records the version of the state it was made from (a blob's ETag, a
/// local file's SHA-256), and `apply PLANFILE` refuses it as stale when that moved, naming
/// both versions; the state is left as it was.
#[test]
fn a_saved_plan_whose_state_version_moved_is_stale() -> Result<(), Box<dyn std::error::Error>> {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    let plan = json(&std::fs::read_to_string(dir.join("p.json"))?);
    let version = plan["state"]["version"]
        .as_str()
        .ok_or("the saved plan records no state version")?
        .to_owned();
    assert_eq!(version.len(), 64, "{version}");
    // As if the blob had been written again with the same bytes: only its version moved.
    edit(
        &dir.join("p.json"),
        &format!("\"version\": \"{version}\""),
        "\"version\": \"0x8DD0000000000AB\"",
    );
    let before = std::fs::read_to_string(dir.join("pimplan.state.json"))?;
    let refused = run(dir, T1, &["apply", "p.json"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    let flat = common::flat(&refused.stderr);
    assert!(flat.contains("the saved plan is stale"), "{flat}");
    assert!(
        flat.contains(&format!(
            "version `0x8DD0000000000AB` then, `{version}` now"
        )),
        "{flat}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pimplan.state.json"))?,
        before
    );
    Ok(())
}

/// A plan saved by the pimplan before (format 2, no state version) is still applied: its
/// state is checked by lineage, serial and checksum as it was.
#[test]
fn a_plan_of_format_2_without_a_state_version_still_applies()
-> Result<(), Box<dyn std::error::Error>> {
    let ws = applied(EXPIRING);
    let dir = ws.path();
    ok(&run(dir, T1, &["plan", "--out", "p.json"]));
    let mut plan = json(&std::fs::read_to_string(dir.join("p.json"))?);
    plan["format_version"] = serde_json::json!(2);
    if let Some(state) = plan["state"].as_object_mut() {
        state.remove("version");
    }
    std::fs::write(dir.join("p.json"), serde_json::to_string_pretty(&plan)?)?;
    let applied = run(dir, T1, &["apply", "p.json"]);
    ok(&applied);
    assert!(
        applied.stdout.contains("Apply complete"),
        "{}",
        applied.stdout
    );
    Ok(())
}
