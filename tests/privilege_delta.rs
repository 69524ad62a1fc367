//! The privilege delta of `plan` (issue 14 point 4, privilege-paths §A.10, A12–A15) and the
//! plan-time rule PIM705, through the binary: a base workspace applied to the state, then
//! one edit, then `plan`.

mod common;

use std::error::Error;
use std::path::Path;

use common::{Run, edit, flat, json, run, workspace_with};

const T0: &str = "2026-12-01T00:00:00Z";
/// Past PIM701's five minutes after the apply.
const T1: &str = "2026-12-01T01:00:00Z";

/// tenant-admins holds Global Administrator: member activation needs approval, owner
/// activation MFA only. frank is an eligible member, alice an active (standing) member.
/// The lint-time path rules (PIM801–PIM807) are off: they judge this workspace as it is
/// (their fixtures do that); these tests are about what a change does to it.
const BASE: &str = "version: 1
rules: { PIM801: off, PIM802: off, PIM803: off, PIM804: off, PIM807: off }
principals:
  - { name: dave, type: user, licenses: [entra_id_p2] }
  - { name: erin, type: user, licenses: [entra_id_p2] }
  - { name: judy, type: user, licenses: [entra_id_p2] }
  - { name: frank, type: user, licenses: [entra_id_p2] }
  - { name: alice, type: user, licenses: [entra_id_p2] }
groups:
  - name: tenant-admins
    role_assignable: true
    type: security
    owners: [dave]
    entra_roles: [Global Administrator]
    policy:
      member:
        activation:
          max_duration: PT2H
          require: [mfa, justification]
          approval: { required: true, approvers: [dave, erin] }
      owner:
        activation:
          max_duration: PT1H
          require: [mfa, justification]
assignments:
  - { group: tenant-admins, principal: frank, role: member, type: eligible, duration: P30D, justification: rota }
  - { group: tenant-admins, principal: alice, role: member, type: active, duration: P60D, justification: migration }
";

const JUDY: &str = "  - { group: tenant-admins, principal: judy, role: owner, type: eligible, duration: P30D, justification: rota }\n";

/// The base workspace, applied to the state at T0.
fn applied() -> Result<tempfile::TempDir, Box<dyn Error>> {
    let ws = workspace_with(BASE);
    let out = run(ws.path(), T0, &["apply", "--auto-approve"]);
    if out.code != 0 {
        return Err(format!("apply failed: {}{}", out.stdout, out.stderr).into());
    }
    Ok(ws)
}

fn append(dir: &Path, text: &str) -> Result<(), Box<dyn Error>> {
    let path = dir.join("pimplan.yaml");
    let mut all = std::fs::read_to_string(&path)?;
    all.push_str(text);
    std::fs::write(path, all)?;
    Ok(())
}

fn plan(dir: &Path, format: &str) -> Run {
    // One removal of the two assignments is more than PIM703 allows by default.
    run(
        dir,
        T1,
        &["plan", "--allow-mass-removal", "--format", format],
    )
}

/// The target of this name in the JSON delta.
fn target<'a>(delta: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    delta["targets"]
        .as_array()?
        .iter()
        .find(|t| t["target"]["name"] == name)
}

#[test]
fn an_eligible_owner_without_owner_approval_gains_global_administrator()
-> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    append(ws.path(), JUDY)?;

    let human = plan(ws.path(), "human");
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(
        human
            .stdout
            .contains("Privilege delta (who can reach privileged roles after this plan):"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("Global Administrator  tier 0   +1 principal (1 without approval)"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains(
        "Privilege delta: this change lets 1 more principal reach Global Administrator, 1 of them without approval.\n\nPlan: 1 to add, 0 to change, 0 to remove."
    ), "{}", human.stdout);
    // PIM705, at judy's assignment; before the plan alice (standing) and dave (a standing
    // owner, owner activation without approval) already reach it without approval.
    let all = flat(&format!("{}{}", human.stdout, human.stderr));
    assert!(all.contains("PIM705"), "{all}");
    assert!(
        all.contains("the plan lets 1 more principal reach `Global Administrator` without approval (2 → 3 in class no-approval or better), caused by `assignment tenant-admins/judy (owner, eligible)`"),
        "{all}"
    );
    assert!(all.contains("pimplan.yaml:28:40"), "{all}");

    let out = plan(ws.path(), "json");
    let doc = json(&out.stdout);
    let delta = &doc["privilege_delta"];
    assert_eq!(delta["summary"]["tier0_gained_without_approval"], 1);
    assert_eq!(delta["summary"]["tier0_gained"], 1);
    assert_eq!(delta["summary"]["principals_gained"], 1);
    assert_eq!(delta["summary"]["principals_lost"], 0);
    let ga = target(delta, "Global Administrator").ok_or("no Global Administrator target")?;
    assert_eq!(ga["target"]["kind"], "entra_role");
    assert_eq!(ga["target"]["tier"], 0);
    // Before: alice (standing), dave (standing owner who adds herself), frank (approval).
    assert_eq!(
        ga["before"],
        serde_json::json!({"any": 3, "no_approval": 2, "no_approval_no_mfa": 2, "standing": 1})
    );
    assert_eq!(
        ga["after"],
        serde_json::json!({"any": 4, "no_approval": 3, "no_approval_no_mfa": 2, "standing": 1})
    );
    assert_eq!(ga["gained"][0]["principal"], "judy");
    assert_eq!(ga["gained"][0]["class"], "no-approval");
    assert_eq!(ga["gained"][0]["hops"], 3);
    assert_eq!(
        ga["gained"][0]["caused_by"],
        serde_json::json!(["assignment/name:tenant-admins/name:judy/owner/eligible"])
    );
    assert_eq!(ga["lost"], serde_json::json!([]));
    // Held through Global Administrator, the other roles are not listed again.
    assert_eq!(delta["targets"].as_array().map(Vec::len), Some(1));
    let findings = doc["findings"].as_array().ok_or("no findings")?;
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "PIM705" && f["line"] == 28)
    );

    // The saved plan carries it, and `show` renders it.
    let saved = run(ws.path(), T1, &["plan", "--out", "p.json"]);
    assert_eq!(saved.code, 0, "{}{}", saved.stdout, saved.stderr);
    let file = json(&std::fs::read_to_string(ws.path().join("p.json"))?);
    assert_eq!(file["privilege_delta"], doc["privilege_delta"]);
    let shown = run(ws.path(), T1, &["show", "p.json"]);
    assert!(
        shown.stdout.contains("+1 principal (1 without approval)"),
        "{}",
        shown.stdout
    );
    Ok(())
}

#[test]
fn owner_approval_keeps_the_gain_out_of_pim705() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    // Approval on the owner activation too: judy gains, but only through an approval.
    edit(
        &ws.path().join("pimplan.yaml"),
        "          max_duration: PT1H\n          require: [mfa, justification]\n",
        "          max_duration: PT1H\n          require: [mfa, justification]\n          approval: { required: true, approvers: [dave, erin] }\n",
    );
    append(ws.path(), JUDY)?;
    let out = plan(ws.path(), "json");
    let doc = json(&out.stdout);
    let ga = target(&doc["privilege_delta"], "Global Administrator").ok_or("no target")?;
    assert_eq!(ga["gained"][0]["class"], "approval");
    assert_eq!(
        doc["privilege_delta"]["summary"]["tier0_gained_without_approval"],
        0
    );
    let findings = doc["findings"].as_array().ok_or("no findings")?;
    assert!(
        !findings.iter().any(|f| f["code"] == "PIM705"),
        "{findings:?}"
    );
    let human = plan(ws.path(), "human");
    assert!(
        human.stdout.contains("+1 principal (0 without approval)"),
        "{}",
        human.stdout
    );
    assert!(!flat(&human.stderr).contains("PIM705"), "{}", human.stderr);
    Ok(())
}

#[test]
fn removing_a_standing_member_is_lost() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    edit(
        &ws.path().join("pimplan.yaml"),
        "  - { group: tenant-admins, principal: alice, role: member, type: active, duration: P60D, justification: migration }\n",
        "",
    );
    let out = plan(ws.path(), "json");
    let doc = json(&out.stdout);
    let delta = &doc["privilege_delta"];
    let ga = target(delta, "Global Administrator").ok_or("no target")?;
    assert_eq!(ga["gained"], serde_json::json!([]));
    assert_eq!(ga["lost"][0]["principal"], "alice");
    assert_eq!(ga["lost"][0]["class"], "standing");
    assert_eq!(
        ga["lost"][0]["caused_by"],
        serde_json::json!(["assignment/name:tenant-admins/name:alice/member/active"])
    );
    assert_eq!(delta["summary"]["principals_lost"], 1);
    assert_eq!(delta["summary"]["tier0_gained"], 0);
    let findings = doc["findings"].as_array().ok_or("no findings")?;
    assert!(!findings.iter().any(|f| f["code"] == "PIM705"));
    let human = plan(ws.path(), "human");
    assert!(human.stdout.contains("-1 principal"), "{}", human.stdout);
    assert!(
        human.stdout.contains("    - alice  standing"),
        "{}",
        human.stdout
    );
    Ok(())
}

#[test]
fn dropping_member_approval_changes_the_class_and_fires_pim705() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    edit(
        &ws.path().join("pimplan.yaml"),
        "          approval: { required: true, approvers: [dave, erin] }\n",
        "          approval: { required: false }\n",
    );
    let out = plan(ws.path(), "json");
    let doc = json(&out.stdout);
    let ga = target(&doc["privilege_delta"], "Global Administrator").ok_or("no target")?;
    let changed = &ga["class_changed"][0];
    assert_eq!(changed["principal"], "frank");
    assert_eq!(changed["class_before"], "approval");
    assert_eq!(changed["class_after"], "no-approval");
    assert_eq!(
        changed["caused_by"],
        serde_json::json!(["policy/name:tenant-admins/member"])
    );
    assert_eq!(ga["gained"], serde_json::json!([]));
    // frank gains nothing new, but now reaches it without approval: the summary and the
    // headline count him.
    assert_eq!(
        doc["privilege_delta"]["summary"]["tier0_gained_without_approval"],
        1
    );
    let human = plan(ws.path(), "human");
    assert!(
        human.stdout.contains(
            "Privilege delta: this change lets 1 principal reach Global Administrator without approval that needed it before.\n"
        ),
        "{}",
        human.stdout
    );
    // The Markdown says the same sentence (one list of headline sentences for both).
    let markdown = plan(ws.path(), "markdown");
    assert!(
        markdown.stdout.contains(
            "⚠ this change lets **1** principal reach **Global Administrator** without approval that needed it before\n"
        ),
        "{}",
        markdown.stdout
    );
    // At the policy's approval setting.
    let findings = doc["findings"].as_array().ok_or("no findings")?;
    let pim705 = findings
        .iter()
        .find(|f| f["code"] == "PIM705")
        .ok_or("no PIM705")?;
    assert_eq!(pim705["line"], 20, "{pim705}");
    Ok(())
}

#[test]
fn a_plan_without_changes_has_no_delta() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    let human = plan(ws.path(), "human");
    assert_eq!(
        human.stdout,
        "Target: the state file only: nothing is sent to Microsoft Graph.\n\nNo changes. The state matches the workspace.\n"
    );
    let markdown = plan(ws.path(), "markdown");
    assert_eq!(
        markdown.stdout,
        "### pimplan plan\n\n**Target:** the state file only: nothing is sent to Microsoft Graph\n\nNo changes. The state matches the workspace.\n"
    );
    let out = plan(ws.path(), "json");
    assert!(!out.stdout.contains("privilege_delta"), "{}", out.stdout);
    let saved = run(ws.path(), T1, &["plan", "--out", "p.json"]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    assert!(!std::fs::read_to_string(ws.path().join("p.json"))?.contains("privilege_delta"));
    Ok(())
}

#[test]
fn markdown_headline_then_a_details_table_per_role() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    append(ws.path(), JUDY)?;
    let out = plan(ws.path(), "markdown");
    let md = &out.stdout;
    let headline = "⚠ this change lets **1** more principal reach **Global Administrator**, **1** of them without approval";
    let at = md.find(headline).ok_or_else(|| md.clone())?;
    let details = md
        .find("<details><summary>Global Administrator (tier 0): +1 −0 ~0</summary>")
        .ok_or_else(|| md.clone())?;
    assert!(at < details, "{md}");
    assert!(md.contains("| `+` | judy | `no-approval` |"), "{md}");
    Ok(())
}

#[test]
fn delta_snapshots() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    append(ws.path(), JUDY)?;
    insta::assert_snapshot!("privilege_delta_human", plan(ws.path(), "human").stdout);
    insta::assert_snapshot!(
        "privilege_delta_markdown",
        plan(ws.path(), "markdown").stdout
    );
    Ok(())
}

#[test]
fn markdown_delta_escapes_names_so_a_pr_comment_gets_no_html() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    let name = "<img src=x onerror=alert(1)>|`x`";
    append(
        ws.path(),
        &format!(
            "  - {{ group: tenant-admins, principal: \"{name}\", role: owner, type: eligible, duration: P30D, justification: rota }}\n"
        ),
    )?;
    edit(
        &ws.path().join("pimplan.yaml"),
        "  - { name: alice,",
        &format!(
            "  - {{ name: \"{name}\", type: user, licenses: [entra_id_p2] }}\n  - {{ name: alice,"
        ),
    );
    let out = plan(ws.path(), "markdown");
    let md = &out.stdout;
    assert!(md.contains("#### Privilege delta"), "{md}{}", out.stderr);
    let escaped = "&lt;img src=x onerror=alert(1)&gt;&#124;&#96;x&#96;";
    let delta = &md[md.find("#### Privilege delta").unwrap_or(0)
        ..md.find("#### Findings").unwrap_or(md.len())];
    assert!(!delta.contains("<img"), "{delta}");
    // The changes table and the delta's table: the name escaped, each row five or three cells.
    let gained = delta
        .lines()
        .find(|l| l.starts_with("| `+` |"))
        .ok_or_else(|| delta.to_owned())?;
    assert!(gained.contains(escaped), "{gained}");
    assert_eq!(gained.matches('|').count(), 6, "{gained}");
    let change = md
        .lines()
        .find(|l| l.starts_with("| `+` | assignment"))
        .ok_or_else(|| md.clone())?;
    assert!(change.contains(escaped), "{change}");
    assert_eq!(change.matches('|').count(), 4, "{change}");
    Ok(())
}

#[test]
fn the_delta_words_a_path_as_pimplan_paths_does() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    append(ws.path(), JUDY)?;
    let paths = run(ws.path(), T1, &["paths", "Global Administrator"]);
    assert_eq!(paths.code, 0, "{}", paths.stderr);
    let line = paths
        .stdout
        .lines()
        .find_map(|l| l.find("judy ─").map(|at| &l[at..]))
        .ok_or_else(|| paths.stdout.clone())?;
    assert!(line.contains("─eligible owner"), "{line}");
    let human = plan(ws.path(), "human");
    assert!(human.stdout.contains(line), "{line}\n{}", human.stdout);
    let markdown = plan(ws.path(), "markdown");
    assert!(
        markdown
            .stdout
            .contains(&line.replace('[', "&#91;").replace(']', "&#93;")),
        "{line}\n{}",
        markdown.stdout
    );
    Ok(())
}

/// With the PIM8xx rules on (as warnings, so the plan goes on) lint builds the files' graph
/// and the plan takes it as the delta's "after" side instead of building it again: the delta
/// is the one the plan computes on its own (the rules off, nothing built in lint).
#[test]
fn the_delta_is_the_same_with_the_graph_lint_built() -> Result<(), Box<dyn Error>> {
    let ws = applied()?;
    append(ws.path(), JUDY)?;
    let own = json(&plan(ws.path(), "json").stdout);
    let root = ws.path().join("pimplan.yaml");
    let text = std::fs::read_to_string(&root)?.replace(
        "rules: { PIM801: off, PIM802: off, PIM803: off, PIM804: off, PIM807: off }",
        "rules: { PIM801: warning, PIM802: warning, PIM803: warning, PIM804: warning, PIM807: warning }",
    );
    std::fs::write(&root, text)?;
    let out = plan(ws.path(), "json");
    // The rules ran on the files (and found what they judge in them).
    assert!(out.stdout.contains("PIM80"), "{}{}", out.stdout, out.stderr);
    let reused = json(&out.stdout);
    assert!(own["privilege_delta"]["targets"].is_array(), "{own}");
    assert_eq!(own["privilege_delta"], reused["privilege_delta"]);
    Ok(())
}
