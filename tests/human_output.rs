//! Output stays fast (issue 16, point 5): the default, human format is linear in the number
//! of findings. It used to find each snippet by scanning its file from the first byte, once
//! per label: 10,000 findings took 40 s, 60,000 never finished.

mod common;

use std::time::{Duration, Instant};

use common::{run, workspace_with};

const T0: &str = "2026-12-01T00:00:00Z";

/// 20,000 unknown owners of one group, one finding each, every one shown in its file with
/// its own line number. Linear, this takes a few seconds in a debug build on a loaded
/// machine; the quadratic renderer took minutes for a quarter of it.
#[test]
fn twenty_thousand_findings_render_in_seconds() {
    let n = 20_000;
    let mut text = String::from("version: 1\ngroups:\n  - name: ops\n    owners:\n");
    for i in 0..n {
        text.push_str(&format!("      - ghost{i}\n"));
    }
    let ws = workspace_with(&text);
    let started = Instant::now();
    let out = run(ws.path(), T0, &["lint"]);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        took < Duration::from_secs(60),
        "human output of {n} findings took {took:?}"
    );
    assert_eq!(out.stdout.matches("PIM101(unknown-reference)").count(), n);
    // The last owner is on line n + 4, and miette shows it there, with its neighbours.
    let last = format!("pimplan.yaml:{}:9]", n + 4);
    assert!(out.stdout.contains(&last), "no `{last}`");
    let tail: String = out
        .stdout
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        tail.contains(&format!("{} │       - ghost{}", n + 4, n - 1)),
        "{tail}"
    );
    assert!(
        out.stdout
            .ends_with("pimplan: 20001 errors, 0 warnings, 0 infos in 1 file\n"),
        "{tail}"
    );
}

/// A finding past column 65,535 (a generated flow map) renders: miette's graphical handler
/// panicked there ("Formatting argument out of range"). The long line is shown cut around
/// the value, `…` for what is left out; the header keeps the file's line and column.
#[test]
fn a_finding_on_a_very_long_line_is_shown_cut_around_its_value() {
    let pad = " ".repeat(70_000);
    let text = format!("version: 1\ngroups:\n  - {{name: ops,{pad}owners: [ghost]}}\n");
    let ws = workspace_with(&text);
    let out = run(ws.path(), T0, &["lint"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let column = "  - {name: ops,".len() + 70_000 + "owners: [".len() + 1;
    let shown = format!(
        "   ╭─[pimplan.yaml:3:{column}]\n \
         2 │ groups:\n \
         3 │ …{}owners: [ghost]}}\n   \
         ·{}──┬──\n   \
         ·{}╰── no principal has this name\n   \
         ╰────\n",
        " ".repeat(51),
        " ".repeat(62),
        " ".repeat(64),
    );
    assert!(out.stdout.contains(&shown), "{}", out.stdout);
    assert!(
        out.stdout.lines().all(|l| l.chars().count() < 200),
        "{}",
        out.stdout
    );
}

/// The human report's `file:line:column` counts characters, as the JSON output does: a line
/// with `ü` and `é` before the value gives the same column in both (issue 12, point 4).
#[test]
fn human_and_json_columns_agree_after_multi_byte_characters() {
    let ws = workspace_with(
        "version: 1\n\
         groups:\n\
         \x20 - { name: grüße-für-rené, owners: [ghost] }\n\
         \x20 - name: db\n\
         \x20   owners: [ghöst, ghost]\n",
    );
    let human = run(ws.path(), T0, &["lint"]);
    let json = run(ws.path(), T0, &["lint", "--format", "json"]);
    let parsed = common::json(&json.stdout);
    let findings = parsed["findings"].as_array().cloned().unwrap_or_default();
    assert!(findings.len() >= 2, "{}", json.stdout);
    let mut columns = Vec::new();
    for f in &findings {
        let place = format!(
            "[{}:{}:{}]",
            f["file"].as_str().unwrap_or_default(),
            f["line"],
            f["column"]
        );
        assert!(
            human.stdout.contains(&place),
            "no `{place}` in\n{}",
            human.stdout
        );
        columns.push((f["line"].as_u64(), f["column"].as_u64()));
    }
    // The owner after `grüße-für-rené` is at its character column (byte column 42).
    assert!(columns.contains(&(Some(3), Some(38))), "{columns:?}");
    // And after `ghöst, ` on line 5 (byte column 22).
    assert!(columns.contains(&(Some(5), Some(21))), "{columns:?}");
}
