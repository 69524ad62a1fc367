//! The PIM8xx rules on the privilege graph (issue 14, point 5): the graph is built only when
//! such a rule runs, and their findings are silenced and baselined at the span of the edge
//! that opens the path, like every rule's.

mod common;

use std::error::Error;

use chrono::DateTime;
use common::{copy_fixture, edit, json, manifest, run};
use pimplan::rules::{Context, Index, REGISTRY, check_all};

const NOW: &str = "2026-12-01T00:00:00Z";

fn codes(stdout: &str) -> Vec<String> {
    json(stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_graph_is_built_only_when_a_graph_rule_runs() -> Result<(), Box<dyn Error>> {
    let loaded = pimplan::load::load(&manifest().join("fixtures/rules/PIM801/fires/pimplan.yaml"))?;
    let ws = loaded.workspace.as_ref().ok_or("no workspace")?;
    let cx = Context {
        workspace: ws,
        index: Index::new(ws),
        sources: &loaded.sources,
        now: DateTime::parse_from_rfc3339(NOW)?,
        applied: Default::default(),
        graph: std::cell::OnceCell::new(),
    };
    let others = check_all(&cx, |r| !r.code.starts_with("PIM8"));
    assert!(others.iter().all(|f| !f.code().starts_with("PIM8")));
    assert!(cx.graph.get().is_none(), "built without a PIM8xx rule");
    let all = check_all(&cx, |_| true);
    assert!(cx.graph.get().is_some());
    assert_eq!(all.iter().filter(|f| f.code() == "PIM801").count(), 6);
    assert!(REGISTRY.iter().any(|r| r.code == "PIM807"));
    Ok(())
}

#[test]
fn without_any_role_the_graph_is_not_built() -> Result<(), Box<dyn Error>> {
    let dir = common::workspace_with(
        "version: 1\nprincipals:\n  - { name: u1, type: user, licenses: [entra_id_p2] }\n",
    );
    let loaded = pimplan::load::load(&dir.path().join("pimplan.yaml"))?;
    let ws = loaded.workspace.as_ref().ok_or("no workspace")?;
    let cx = Context {
        workspace: ws,
        index: Index::new(ws),
        sources: &loaded.sources,
        now: DateTime::parse_from_rfc3339(NOW)?,
        applied: Default::default(),
        graph: std::cell::OnceCell::new(),
    };
    assert!(!cx.roles_declared());
    check_all(&cx, |_| true);
    assert!(
        cx.graph.get().is_none(),
        "built for a workspace without roles"
    );
    Ok(())
}

#[test]
fn an_ignore_at_the_opening_edge_silences_pim801() {
    let dir = copy_fixture("fixtures/rules/PIM801/fires");
    let before = run(dir.path(), NOW, &["lint", "--format", "json"]);
    assert_eq!(before.code, 1, "{}", before.stderr);
    assert_eq!(
        codes(&before.stdout)
            .iter()
            .filter(|c| *c == "PIM801")
            .count(),
        6
    );
    edit(
        &dir.path().join("pimplan.yaml"),
        "justification: identity work }",
        "justification: identity work }  # pimplan: ignore PIM801 reviewed in CHG-7",
    );
    let after = run(dir.path(), NOW, &["lint", "--format", "json"]);
    let got = codes(&after.stdout);
    assert_eq!(got.iter().filter(|c| *c == "PIM801").count(), 5, "{got:?}");
    assert!(
        !got.iter().any(|c| c == "PIM007"),
        "the ignore is used: {got:?}"
    );
}

#[test]
fn a_baseline_keeps_known_graph_findings_out() {
    let dir = copy_fixture("fixtures/rules/PIM801/fires");
    let write = run(
        dir.path(),
        NOW,
        &["lint", "--write-baseline", "baseline.json"],
    );
    assert!(
        dir.path().join("baseline.json").is_file(),
        "{}",
        write.stderr
    );
    let after = run(
        dir.path(),
        NOW,
        &["lint", "--format", "json", "--baseline", "baseline.json"],
    );
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    assert!(!codes(&after.stdout).iter().any(|c| c == "PIM801"));
}

#[test]
fn explain_pim801_documents_the_rule() {
    let out = run(&manifest(), NOW, &["explain", "PIM801"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for section in [
        "What it checks",
        "Why it matters",
        "Example",
        "How to fix",
        "Source",
        "tier0-path-without-approval",
        "CISA",
    ] {
        assert!(
            out.stdout.contains(section),
            "lacks {section}: {}",
            out.stdout
        );
    }
}

/// ann (Helpdesk Administrator) can reset eve, an eligible member of role-assignable
/// ga-admins (Global Administrator): the contested case of privilege-paths §A.4.
const CONTESTED_RESET: &str = "version: 1
rules: { PIM801: off, PIM802: off, PIM803: off, PIM807: off }
principals:
  - { name: ann, type: user, licenses: [entra_id_p2] }
  - { name: eve, type: user, licenses: [entra_id_p2] }
  - { name: dave, type: user, licenses: [entra_id_p2] }
admins:
  - { principal: ann, role: Helpdesk Administrator }
groups:
  - name: ga-admins
    role_assignable: true
    entra_roles: [Global Administrator]
    policy:
      member:
        activation:
          require: [mfa, justification]
          approval: { required: true, approvers: [dave] }
assignments:
  - { group: ga-admins, principal: eve, role: member, type: eligible, duration: P30D, justification: x }
";

/// The PIM804 findings of a lint of `dir`: (line, message, help).
fn pim804(dir: &std::path::Path) -> Vec<(u64, String, String)> {
    let out = run(dir, NOW, &["lint", "--format", "json"]);
    json(&out.stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "PIM804")
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or(0),
                f["message"].as_str().unwrap_or("").to_owned(),
                f["help"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn pim804_on_the_contested_reset_says_what_settles_it() {
    // Under the default (unprotected) it is a finding, and it says why and what to do.
    let dir = common::workspace_with(CONTESTED_RESET);
    let found = pim804(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, message, help) = &found[0];
    assert_eq!(*line, 8);
    assert!(
        message
            .contains("by resetting the password of an eligible member of a role-assignable group"),
        "{message}"
    );
    assert!(
        help.contains("`paths.eligible_reset_protection: protected`"),
        "{help}"
    );
    assert!(help.contains("cisagov/ScubaGear#2072"), "{help}");
    // Protected, the path is gone and so is the finding.
    let protected = common::workspace_with(&CONTESTED_RESET.replace(
        "version: 1\n",
        "version: 1\npaths: { eligible_reset_protection: protected }\n",
    ));
    assert_eq!(pim804(protected.path()), Vec::new());
    // A path that is no reset of an eligible member keeps the rule's own help.
    let other = copy_fixture("fixtures/rules/PIM804/fires");
    let found = pim804(other.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(!found[0].1.contains("resetting"), "{found:?}");
    assert!(
        !found[0].2.contains("eligible_reset_protection"),
        "{found:?}"
    );
}
