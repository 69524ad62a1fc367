//! The fixture table: every rule has `fixtures/rules/<CODE>/fires/` and `passes/`, and
//! every bad-input case has `fixtures/bad/<case>/`. Each is a workspace (`pimplan.yaml`
//! plus any included files) with an `expected` file listing every finding as
//! `file:line:col: CODE`, file relative to the fixture folder. Nothing else may fire.
//! All fixtures are linted at 2026-12-01T00:00:00Z.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use pimplan::clock::Clock;
use pimplan::lint::lint;
use pimplan::rules::REGISTRY;

const NOW: &str = "2026-12-01T00:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn clock() -> Clock {
    Clock::fixed(DateTime::parse_from_rfc3339(NOW).unwrap_or_default())
}

/// `file:line:col: CODE` for every finding of the workspace at `dir`.
fn findings(dir: &Path) -> Vec<String> {
    let run = match lint(&dir.join("pimplan.yaml"), &clock()) {
        Ok(run) => run,
        Err(e) => return vec![format!("load error: {e}")],
    };
    let sources = &run.loaded.sources;
    let mut lines: Vec<String> = run
        .findings
        .iter()
        .map(|f| {
            let at = sources.line_col(f.primary.span);
            let path = sources
                .get(f.primary.span.file)
                .map(|s| {
                    s.path
                        .strip_prefix(dir)
                        .unwrap_or(&s.path)
                        .to_string_lossy()
                        .replace('\\', "/")
                })
                .unwrap_or_default();
            format!("{path}:{}:{}: {}", at.line, at.column, f.rule.code)
        })
        .collect();
    lines.sort();
    lines
}

fn expected(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("expected")).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn case_dirs(folder: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root().join(folder))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path.join("pimplan.yaml").is_file() {
            dirs.push(path);
        } else if path.is_dir() {
            for sub in ["fires", "passes"] {
                if path.join(sub).is_dir() {
                    dirs.push(path.join(sub));
                }
            }
        }
    }
    dirs.sort();
    dirs
}

#[test]
fn every_rule_has_a_firing_and_a_passing_fixture() {
    let mut missing = Vec::new();
    // Plan-time rules (PIM7xx) look at a state and a plan; tests/plan_apply.rs covers them.
    for rule in REGISTRY
        .iter()
        .filter(|r| !matches!(r.check, pimplan::rules::Check::Plan(_)))
    {
        let base = root().join("fixtures/rules").join(rule.code);
        for sub in ["fires", "passes"] {
            if !base.join(sub).join("pimplan.yaml").is_file() {
                missing.push(format!("{}/{sub}", rule.code));
            }
        }
        let fires = expected(&base.join("fires"));
        if !fires
            .iter()
            .any(|l| l.ends_with(&format!(": {}", rule.code)))
        {
            missing.push(format!(
                "{}/fires/expected does not name {}",
                rule.code, rule.code
            ));
        }
    }
    assert!(missing.is_empty(), "missing fixtures: {missing:#?}");
}

#[test]
fn fixtures_report_exactly_what_they_expect() {
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut dirs = case_dirs("fixtures/rules");
    dirs.extend(case_dirs("fixtures/bad"));
    dirs.push(root().join("fixtures/insecure"));
    {
        for dir in dirs {
            checked += 1;
            let got = findings(&dir);
            let want = expected(&dir);
            if got != want {
                failures.push(format!(
                    "{}:\n  expected: {want:#?}\n  got:      {got:#?}",
                    dir.strip_prefix(root()).unwrap_or(&dir).display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= 2 * REGISTRY.len(),
        "only {checked} fixtures found"
    );
}

#[test]
fn the_example_workspace_is_clean() {
    assert_eq!(
        findings(&root().join("fixtures/example")),
        Vec::<String>::new()
    );
}
