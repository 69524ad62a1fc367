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
