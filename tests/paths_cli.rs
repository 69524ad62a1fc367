//! `pimplan paths` through the binary on `fixtures/paths/example/` (privilege-paths §A.9,
//! §A.14 A4–A7, A16, A17): every output format snapshotted, the JSON validated against
//! `schemas/paths.schema.json`, the DOT rendered by Graphviz (`tests/common/graphviz.rs`), names
//! that DOT, Graphviz, XML and Mermaid give a meaning kept exactly, name
//! resolution, `--class`, `--at` and `--from state`.
//!
//! The fixture, computed by hand (Security Administrator is held by `sec-ops`):
//! - svc-pipeline: Privileged Role Administrator grants any role → `no-approval-no-mfa`, 2 hops;
//! - owen: a standing owner (`owners:`) adds himself → `no-approval-no-mfa`, 3 hops;
//! - judy: eligible owner, owner activation needs MFA only → `no-approval`, 3 hops;
//! - frank, gina: eligible members, member activation needs dave|erin → `approval`, 2 hops;
//! - grace: eligible member from 2026-12-05 → "not yet in effect" at 2026-12-01;
//! - tomas: Helpdesk Administrator @ emea-au, which declares no members → a note.

mod common;

use std::error::Error;
use std::path::Path;

use common::graphviz::{self, Dot, Svg, SvgNode};
use common::{Run, copy_fixture, json, manifest, run, workspace_with};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const NOW: &str = "2026-12-01T00:00:00Z";
const FIXTURE: &str = "fixtures/paths/example";
const ROLE: &str = "Security Administrator";

fn paths(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["paths"];
    all.extend_from_slice(args);
    run(dir, NOW, &all)
}

/// `paths ARGS` on a fresh copy of the fixture; it must exit 0.
fn on_fixture(args: &[&str]) -> Result<String> {
    let dir = copy_fixture(FIXTURE);
    let out = paths(dir.path(), args);
    if out.code != 0 {
        return Err(format!("paths {args:?} exited {}: {}", out.code, out.stderr).into());
    }
    Ok(out.stdout)
}

/// `name class` per listed principal (or reached node) of a JSON document.
fn classes(doc: &serde_json::Value) -> Vec<String> {
    let list = doc
        .get("principals")
        .or_else(|| doc.get("reached"))
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|e| {
            let who = e.get("principal").or_else(|| e.get("node"));
            format!(
                "{} {}",
                who.and_then(|w| w["name"].as_str()).unwrap_or("?"),
                e["class"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// The JSON with the tool's version left out, for a snapshot that survives a release.
fn without_version(text: &str) -> String {
    text.replace(
        &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"version\": \"[version]\"",
    )
}

#[test]
fn human_table_lists_each_principal_with_its_best_class_and_path() -> Result {
    let out = on_fixture(&[ROLE])?;
    insta::assert_snapshot!("human", out);
    // The headline counts what the table lists (A4).
    assert!(out.starts_with(
        "Security Administrator (tier 0) — 5 principals can reach it: 3 without approval (2 of them without MFA), 0 standing"
    ));
    assert!(out.contains("not yet in effect: grace"));
    Ok(())
}

#[test]
fn markdown_dot_and_mermaid_snapshots() -> Result {
    insta::assert_snapshot!("markdown", on_fixture(&[ROLE, "--format", "markdown"])?);
    insta::assert_snapshot!("dot", on_fixture(&[ROLE, "--format", "dot"])?);
    insta::assert_snapshot!("mermaid", on_fixture(&[ROLE, "--format", "mermaid"])?);
    insta::assert_snapshot!("tier0", on_fixture(&["--tier0"])?);
    insta::assert_snapshot!("principal", on_fixture(&["--principal", "judy"])?);
    Ok(())
}

#[test]
fn json_snapshot_and_its_summary_is_cumulative() -> Result {
    let text = on_fixture(&[ROLE, "--format", "json"])?;
    insta::assert_snapshot!("json", without_version(&text));
    let doc = json(&text);
    assert_eq!(
        classes(&doc),
        [
            "svc-pipeline no-approval-no-mfa",
            "owen no-approval-no-mfa",
            "judy no-approval",
            "frank approval",
            "gina approval"
        ]
    );
    // A5: `no_approval` counts the entries of class no-approval or better.
    assert_eq!(doc["summary"]["no_approval"], 3);
    assert_eq!(doc["summary"]["no_approval_no_mfa"], 2);
    assert_eq!(doc["summary"]["approval"], 2);
    assert_eq!(doc["target"]["tier"], 0);
    Ok(())
}

fn schema() -> Result<jsonschema::Validator> {
    let text = std::fs::read_to_string(manifest().join("schemas/paths.schema.json"))?;
    Ok(jsonschema::validator_for(&json(&text)).map_err(|e| e.to_string())?)
}

#[test]
fn every_query_validates_against_the_checked_in_schema() -> Result {
    let validator = schema()?;
    let queries: [&[&str]; 5] = [
        &[ROLE],
        &["--group", "sec-ops"],
        &["--principal", "owen"],
        &["--tier0"],
        &[ROLE, "--class", "standing"],
    ];
    for q in queries {
        let mut args = q.to_vec();
        args.extend(["--format", "json"]);
        let doc = json(&on_fixture(&args)?);
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "paths {q:?}: {errors:?}");
    }
    // The schema is not vacuous: a document without its summary, or with an unknown
    // class, is refused.
    let mut doc = json(&on_fixture(&[ROLE, "--format", "json"])?);
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("summary");
    }
    assert!(!validator.is_valid(&doc));
    let mut doc = json(&on_fixture(&[ROLE, "--format", "json"])?);
    doc["principals"][0]["class"] = "dangerous".into();
    assert!(!validator.is_valid(&doc));
    Ok(())
}

#[test]
fn dot_renders_with_graphviz_for_every_query() -> Result {
    let tmp = tempfile::tempdir()?;
    let queries: [&[&str]; 4] = [
        &[ROLE],
        &["--group", "sec-ops"],
        &["--principal", "judy"],
        &["--tier0"],
    ];
    let mut files = Vec::new();
    let mut dots = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let mut args = q.to_vec();
        args.extend(["--format", "dot"]);
        let file = tmp.path().join(format!("{i}.dot"));
        let dot = on_fixture(&args)?;
        std::fs::write(&file, &dot)?;
        files.push(file);
        dots.push(dot);
    }
    let svgs = graphviz::render(&files)?;
    for ((q, dot), text) in queries.iter().zip(&dots).zip(&svgs) {
        let svg = Svg::parse(text)?;
        graphviz::drawn_as_declared(dot, &svg).map_err(|e| format!("{q:?}: {e}"))?;
        assert_eq!(svg.graph, "pimplan_paths", "{q:?}");
        assert!(!svg.edges.is_empty(), "{q:?}: {dot}");
    }
    // The role query draws its five principals, the two sec-ops nodes, the two roles.
    let role = Svg::parse(&svgs[0])?;
    assert_eq!(role.nodes.len(), 9, "{:?}", role.nodes);
    assert_eq!(
        role.node("n2").map(SvgNode::text).as_deref(),
        Some("Security Administrator · tier 0")
    );
    // What Graphviz refuses fails with its own words; an edge to an undeclared node draws
    // a node the DOT does not declare.
    let bad = tmp.path().join("bad.dot");
    std::fs::write(
        &bad,
        "digraph pimplan_paths {\n  n0 [label=\"a\"];\n  n0 -> ;\n}\n",
    )?;
    let err = graphviz::render(std::slice::from_ref(&bad))
        .err()
        .ok_or("Graphviz rendered a syntax error")?;
    assert!(err.contains("syntax error in line 3"), "{err}");
    let undeclared = "digraph pimplan_paths {\n  n0 [label=\"a\"];\n  n0 -> n1 [label=\"x\"];\n}\n";
    std::fs::write(&bad, undeclared)?;
    let svg = Svg::parse(&graphviz::render(std::slice::from_ref(&bad))?[0])?;
    assert!(graphviz::drawn_as_declared(undeclared, &svg).is_err());
    Ok(())
}

/// A principal, an approver and a group whose names hold what DOT, Graphviz's labels, XML
/// and Mermaid give a meaning: quotes, backslashes (`\N` is the node's name in a Graphviz
/// label), a line break, `<` `>` `{` `|`, entities of both (`&amp;`, `#quot;`), a Mermaid
/// directive, a backtick, a control character and non-ASCII text.
const ODD_PRINCIPAL: &str = "o'brien \"ops\" \\N \\\\ <b>{x|y}</b> & &amp; #quot; 🔑 Zoë\nsecond line %%{init: {}}%% \u{7}end";
const ODD_APPROVER: &str = "<lead|\"dave\"> #1 & \\co";
const ODD_GROUP: &str = "grp \"q\" \\ {a|b} <i>ü</i> #35; &lt; `tick` 名前";

fn odd_workspace() -> Result<String> {
    let q = |s: &str| serde_json::to_string(s);
    let (p, a, g) = (q(ODD_PRINCIPAL)?, q(ODD_APPROVER)?, q(ODD_GROUP)?);
    Ok(format!(
        "version: 1
rules: {{ PIM801: off, PIM802: off, PIM803: off, PIM804: off, PIM807: off }}
principals:
  - {{ name: {p}, type: user, licenses: [entra_id_p2] }}
  - {{ name: {a}, type: user, licenses: [entra_id_p2] }}
groups:
  - name: {g}
    role_assignable: true
    type: security
    entra_roles: [Global Administrator]
    policy:
      member:
        activation:
          max_duration: PT2H
          require: [mfa]
          approval: {{ required: true, approvers: [{a}] }}
assignments:
  - {{ group: {g}, principal: {p}, role: member, type: eligible, duration: P30D, justification: rota }}
"
    ))
}

/// The labels pimplan means to show, in node order, a control character as `\u{7}`.
fn odd_labels() -> [String; 3] {
    [
        format!("{ODD_PRINCIPAL} (user)").replace('\u{7}', "\\u{7}"),
        format!("{ODD_GROUP} · member"),
        "Global Administrator · tier 0".to_owned(),
    ]
}

#[test]
fn odd_names_survive_graphviz_exactly() -> Result {
    let dir = workspace_with(&odd_workspace()?);
    let out = paths(dir.path(), &["Global Administrator", "--format", "dot"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dot = out.stdout;
    // One statement a line: the line break in the name is written `\n`.
    assert_eq!(Dot::of(&dot).nodes, ["n0", "n1", "n2"], "{dot}");
    assert!(
        dot.contains(r#"\"ops\" \\N \\\\ <b>{x|y}</b> &amp; &amp;amp; #quot;"#),
        "{dot}"
    );
    assert!(dot.contains(r"Zoë\nsecond line"), "{dot}");
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("odd.dot");
    std::fs::write(&file, &dot)?;
    // Graphviz draws each name as it is (the SVG parses as XML, so no control character got
    // into it), the principal's on two lines.
    let svg = Svg::parse(&graphviz::render(&[file])?[0])?;
    graphviz::drawn_as_declared(&dot, &svg)?;
    let texts: Vec<String> = svg.nodes.iter().map(SvgNode::text).collect();
    assert_eq!(texts, odd_labels());
    assert_eq!(svg.nodes[0].lines.len(), 2, "{:?}", svg.nodes[0]);
    let edge = svg
        .edges
        .iter()
        .find(|e| e.title == "n0->n1")
        .ok_or("no edge n0->n1")?;
    assert_eq!(
        edge.text(),
        format!("eligible member · approval: {ODD_APPROVER} · mfa")
    );
    Ok(())
}

/// A quoted Mermaid label decoded as Mermaid does: `#name;` and `#NNN;` (base 10) are
/// characters, `<br>` a line break. Anything else Mermaid would read as syntax, markup or
/// an entity is an error.
fn mermaid_text(label: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = label;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("<br>") {
            out.push('\n');
            rest = after;
        } else if c == '#' {
            let (code, after) = rest[1..]
                .split_once(';')
                .ok_or(format!("a bare # in {label}"))?;
            out.push(match code {
                "quot" => '"',
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                n => n
                    .parse::<u32>()
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or(format!("#{code}; in {label}"))?,
            });
            rest = after;
        } else if "\"|<>&`%".contains(c) || c.is_control() {
            return Err(format!("a raw {c:?} in {label}"));
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

#[test]
fn odd_names_survive_mermaid_as_entity_codes() -> Result {
    let dir = workspace_with(&odd_workspace()?);
    let out = paths(dir.path(), &["Global Administrator", "--format", "mermaid"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mermaid = out.stdout;
    let lines: Vec<&str> = mermaid.lines().collect();
    assert_eq!(lines[0], "flowchart LR", "{mermaid}");
    // Three node lines, each `  nI` + a shape around one quoted label.
    let mut labels = Vec::new();
    for (i, line) in lines[1..4].iter().enumerate() {
        let rest = line
            .strip_prefix(&format!("  n{i}"))
            .ok_or(format!("not node n{i}: {line}"))?;
        let (open, inner, close) = match rest.split_once('"').zip(rest.rsplit_once('"')) {
            Some(((open, _), (_, close))) => (
                open,
                &rest[open.len() + 1..rest.len() - close.len() - 1],
                close,
            ),
            None => return Err(format!("no quoted label: {line}").into()),
        };
        assert!(
            matches!((open, close), ("[", "]") | ("([", "])") | ("{{", "}}")),
            "{line}"
        );
        labels.push(mermaid_text(inner)?);
    }
    assert_eq!(labels, odd_labels());
    // The principal's line, exactly as Mermaid's docs spell the codes.
    assert_eq!(
        lines[1],
        "  n0[\"o'brien #quot;ops#quot; \\N \\\\ #lt;b#gt;{x#124;y}#lt;/b#gt; #amp; #amp;amp; #35;quot; 🔑 Zoë<br>second line #37;#37;{init: {}}#37;#37; \\u{7}end (user)\"]"
    );
    // The edges' labels, between `|`s, decode to their words and the approver's name.
    let edge = lines
        .iter()
        .find(|l| l.starts_with("  n0 -.->|"))
        .ok_or(format!("no edge from n0: {mermaid}"))?;
    let label = edge
        .strip_prefix("  n0 -.->|\"")
        .and_then(|l| l.strip_suffix("\"| n1"))
        .ok_or(format!("edge: {edge}"))?;
    assert_eq!(
        mermaid_text(label)?,
        format!("eligible member · approval: {ODD_APPROVER} · mfa")
    );
    Ok(())
}

#[test]
fn class_filter_keeps_only_that_class_or_worse_for_the_defender() -> Result {
    let doc = json(&on_fixture(&[
        ROLE,
        "--class",
        "no-approval",
        "--format",
        "json",
    ])?);
    assert_eq!(
        classes(&doc),
        [
            "svc-pipeline no-approval-no-mfa",
            "owen no-approval-no-mfa",
            "judy no-approval"
        ]
    );
    assert_eq!(doc["query"]["class"], "no-approval");
    let doc = json(&on_fixture(&[
        ROLE, "--class", "standing", "--format", "json",
    ])?);
    assert_eq!(classes(&doc), Vec::<String>::new());
    Ok(())
}

#[test]
fn at_counts_an_assignment_that_starts_later() -> Result {
    // A17: grace is absent now, and listed (not "not yet") an hour after her start.
    let now = json(&on_fixture(&[ROLE, "--format", "json"])?);
    assert!(!classes(&now).contains(&"grace approval".to_owned()));
    assert_eq!(now["not_yet_in_effect"][0]["principal"], "grace");
    let later = json(&on_fixture(&[
        ROLE,
        "--at",
        "2026-12-05T01:00:00Z",
        "--format",
        "json",
    ])?);
    assert!(classes(&later).contains(&"grace approval".to_owned()));
    assert_eq!(later["not_yet_in_effect"], serde_json::json!([]));
    // `--now` stays the run's clock in the output.
    assert_eq!(later["now"], "2026-12-01T00:00:00+00:00");
    Ok(())
}

#[test]
fn bad_at_is_a_usage_error() {
    let dir = copy_fixture(FIXTURE);
    let out = paths(dir.path(), &[ROLE, "--at", "tomorrow"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--at `tomorrow`"), "{}", out.stderr);
}

#[test]
fn from_state_after_an_apply_equals_from_files() -> Result {
    let dir = copy_fixture(FIXTURE);
    let files = json(&paths(dir.path(), &["--tier0", "--format", "json"]).stdout);
    // Before any apply the state holds no assignment: only the facts' paths remain.
    let before = paths(
        dir.path(),
        &["--tier0", "--from", "state", "--format", "json"],
    );
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert_eq!(
        classes(&json(&before.stdout)),
        ["svc-pipeline standing", "owen no-approval-no-mfa"]
    );
    let applied = run(dir.path(), NOW, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let state = json(
        &paths(
            dir.path(),
            &["--tier0", "--from", "state", "--format", "json"],
        )
        .stdout,
    );
    assert_eq!(classes(&state), classes(&files));
    assert_eq!(state["summary"], files["summary"]);
    Ok(())
}

const AMBIGUOUS: &str = "version: 1\nprincipals:\n  - { name: alice, type: user, licenses: [entra_id_p2] }\ngroups:\n  - name: Security Administrator\n    role_assignable: true\n    entra_roles: [Global Administrator]\nassignments:\n  - group: Security Administrator\n    principal: alice\n    role: member\n    type: eligible\n    duration: P30D\n    justification: on call\n";

#[test]
fn a_name_that_is_a_role_and_a_group_needs_a_flag() {
    let dir = workspace_with(AMBIGUOUS);
    let out = paths(dir.path(), &[ROLE]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        common::flat(&out.stderr).contains("use --role/--group/--principal"),
        "{}",
        out.stderr
    );
    // With a flag each reading answers.
    let group = paths(dir.path(), &["--group", ROLE, "--format", "json"]);
    assert_eq!(group.code, 0, "{}", group.stderr);
    assert_eq!(classes(&json(&group.stdout)), ["alice no-approval-no-mfa"]);
    let role = paths(dir.path(), &["--role", ROLE, "--format", "json"]);
    assert_eq!(role.code, 0, "{}", role.stderr);
    assert_eq!(json(&role.stdout)["target"]["kind"], "entra_role");
}

#[test]
fn an_unknown_name_is_a_usage_error_with_a_suggestion() {
    let dir = copy_fixture(FIXTURE);
    let out = paths(dir.path(), &["Security Adminstrator"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        common::flat(&out.stderr).contains("did you mean `Security Administrator`?"),
        "{}",
        out.stderr
    );
    let out = paths(dir.path(), &["--group", "sec-opz"]);
    assert_eq!(out.code, 2);
    assert!(common::flat(&out.stderr).contains("did you mean `sec-ops`?"));
    // No target at all.
    assert_eq!(paths(dir.path(), &[]).code, 2);
}

#[test]
fn lint_errors_that_do_not_stop_loading_still_compute() -> Result {
    // An assignment of an undeclared principal is an error; the rest loads.
    let dir = copy_fixture(FIXTURE);
    let text = std::fs::read_to_string(dir.path().join("assignments.yaml"))?;
    std::fs::write(
        dir.path().join("assignments.yaml"),
        format!(
            "{text}\n  - group: sec-ops\n    principal: nobody\n    role: member\n    type: eligible\n    duration: P30D\n    justification: x\n"
        ),
    )?;
    assert_eq!(run(dir.path(), NOW, &["lint"]).code, 1);
    let out = paths(dir.path(), &[ROLE, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("lint reports"), "{}", out.stderr);
    assert!(classes(&json(&out.stdout)).contains(&"frank approval".to_owned()));
    // Clean, it says nothing on stderr.
    let clean = copy_fixture(FIXTURE);
    assert_eq!(paths(clean.path(), &[ROLE]).stderr, "");
    Ok(())
}

#[test]
fn a_workspace_that_cannot_load_fails_as_plan_does() {
    let dir = workspace_with("version: 1\ngroups: [\n");
    let plan = run(dir.path(), NOW, &["plan"]);
    let out = paths(dir.path(), &[ROLE]);
    assert_eq!(out.code, plan.code, "{}", out.stderr);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
}

/// A principal whose name is HTML and holds a `|`: eligible for a group that holds Global
/// Administrator.
const HOSTILE: &str = "version: 1
rules: { PIM801: off, PIM802: off, PIM803: off, PIM804: off, PIM807: off }
principals:
  - { name: dave, type: user, licenses: [entra_id_p2] }
  - { name: \"<img src=x onerror=alert(1)>|`x`\", type: user, licenses: [entra_id_p2] }
groups:
  - name: tenant-admins
    role_assignable: true
    type: security
    entra_roles: [Global Administrator]
    policy:
      member:
        activation:
          max_duration: PT2H
          require: [mfa, justification]
          approval: { required: true, approvers: [dave] }
assignments:
  - { group: tenant-admins, principal: \"<img src=x onerror=alert(1)>|`x`\", role: member, type: eligible, duration: P30D, justification: rota }
";

/// The cell separators of a Markdown table row: `|` not escaped as `\|`.
fn separators(row: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in row.chars() {
        if c == '|' && !escaped {
            n += 1;
        }
        escaped = c == '\\' && !escaped;
    }
    n
}

#[test]
fn markdown_escapes_names_so_a_pr_comment_gets_no_html_and_keeps_its_table() -> Result {
    let dir = workspace_with(HOSTILE);
    for args in [
        &["Global Administrator", "--format", "markdown"][..],
        &[
            "--principal",
            "<img src=x onerror=alert(1)>|`x`",
            "--format",
            "markdown",
        ],
        &["--group", "tenant-admins", "--format", "markdown"],
    ] {
        let out = paths(dir.path(), args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let md = &out.stdout;
        assert!(!md.contains("<img"), "{md}");
        assert!(
            md.contains("&lt;img src=x onerror=alert(1)&gt;&#124;&#96;x&#96;"),
            "{md}"
        );
        // Every row of the table has as many cells as its header.
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert!(rows.len() >= 3, "{md}");
        let head = separators(rows[0]);
        for row in &rows {
            assert_eq!(separators(row), head, "{row}");
        }
    }
    Ok(())
}

/// `paths:` naming one Entra and one Azure tier-0 role with a typo each, and a spelt
/// `Exchange Administrator` and `owner` (Azure names compare without regard to case).
const MISSPELT_TIER0: &str = "version: 1
rules: { PIM801: off, PIM802: off, PIM803: off, PIM804: off, PIM807: off, PIM610: off }
paths:
  tier0:
    - Global Administrator
    - Privileged Role Administrator
    - Privileged Authentication Administrator
    - Partner Tier2 Support
    - Security Adminstrator
    - Exchange Administrator
  tier0_azure:
    - { role: Ownr, scope: / }
    - { role: owner, scope: /subscriptions/s1 }
principals:
  - { name: dave, type: user, licenses: [entra_id_p2] }
groups:
  - name: ops
    role_assignable: true
    type: security
    entra_roles: [Global Administrator]
assignments:
  - { group: ops, principal: dave, role: member, type: active, duration: P30D, justification: rota }
";

#[test]
fn a_misspelt_tier0_role_is_a_finding_at_its_span_and_no_target() -> Result {
    let dir = workspace_with(MISSPELT_TIER0);
    let lint = run(dir.path(), NOW, &["lint", "--format", "json"]);
    let doc = json(&lint.stdout);
    let pim002: Vec<String> = doc["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|f| f["code"] == "PIM002")
        .map(|f| {
            format!(
                "{}:{} {}",
                f["line"],
                f["column"],
                f["help"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(pim002.len(), 2, "{pim002:?}");
    assert!(
        pim002[0].starts_with("9:7 did you mean `Security Administrator`?"),
        "{pim002:?}"
    );
    assert!(
        pim002[1].starts_with("12:15 did you mean `Owner`?"),
        "{pim002:?}"
    );
    let out = paths(dir.path(), &["--tier0", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let roles = json(&out.stdout)["target"]["roles"].clone();
    let names: Vec<&str> = roles
        .as_array()
        .map(|r| r.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    assert!(!names.contains(&"Security Adminstrator"), "{names:?}");
    assert!(names.contains(&"Exchange Administrator"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("Ownr")), "{names:?}");
    let human = paths(dir.path(), &["--tier0"]);
    assert!(
        human.stdout.starts_with("Tier 0 (5 roles)"),
        "{}",
        human.stdout
    );
    Ok(())
}

/// az-owners holds Owner at the root (tier 0 by default) and az-readers Reader there (not
/// tier 0); no group holds an Entra role.
const AZURE_TIER0: &str = "version: 1
rules: { PIM801: off, PIM802: off, PIM803: off, PIM804: off, PIM807: off, PIM610: off }
principals:
  - { name: olga, type: user, licenses: [entra_id_p2] }
  - { name: rita, type: user, licenses: [entra_id_p2] }
groups:
  - name: az-owners
    type: security
    azure_roles: [{ role: Owner, scope: / }]
  - name: az-readers
    type: security
    azure_roles: [{ role: Reader, scope: / }]
assignments:
  - { group: az-owners, principal: olga, role: member, type: active, duration: P30D, justification: rota }
  - { group: az-readers, principal: rita, role: member, type: active, duration: P30D, justification: rota }
";

#[test]
fn tier0_counts_the_tier0_azure_roles_the_rules_count() -> Result {
    let dir = workspace_with(AZURE_TIER0);
    let out = paths(dir.path(), &["--tier0", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = json(&out.stdout);
    assert_eq!(classes(&doc), ["olga standing"]);
    assert_eq!(doc["principals"][0]["role"], "Owner @ /");
    let roles = doc["target"]["roles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(roles.contains(&"Owner @ /".into()), "{roles:?}");
    assert!(
        !roles
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.starts_with("Reader")))
    );
    Ok(())
}

#[test]
fn from_state_without_a_state_file_says_it_reads_an_empty_state() -> Result {
    // cli.md gives `paths` no status of its own and `plan` reads an absent state as empty
    // (the first plan creates everything): so does `paths --from state`, and it says so.
    let dir = copy_fixture(FIXTURE);
    let out = paths(dir.path(), &["--tier0", "--from", "state"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said = common::flat(&out.stderr);
    assert!(said.contains("there is no state file at"), "{}", out.stderr);
    assert!(said.contains("pimplan.state.json"), "{}", out.stderr);
    // With the state file there, or from the files, nothing is said.
    let applied = run(dir.path(), NOW, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert_eq!(
        paths(dir.path(), &["--tier0", "--from", "state"]).stderr,
        ""
    );
    let fresh = copy_fixture(FIXTURE);
    assert_eq!(paths(fresh.path(), &["--tier0"]).stderr, "");
    Ok(())
}

#[test]
fn at_in_the_past_gives_the_same_reach_from_the_files_and_from_the_state() -> Result {
    // The fixture's assignments have no `start` but grace's: applied at NOW, they are in
    // effect from NOW on both sides, and not before it on either.
    let dir = copy_fixture(FIXTURE);
    let applied = run(dir.path(), NOW, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let later = "2026-12-03T00:00:00Z";
    let reach = |from: &str, at: &str| -> Result<(Vec<String>, serde_json::Value)> {
        let out = run(
            dir.path(),
            later,
            &[
                "paths", "--tier0", "--from", from, "--at", at, "--format", "json",
            ],
        );
        if out.code != 0 {
            return Err(out.stderr.into());
        }
        let doc = json(&out.stdout);
        Ok((classes(&doc), doc["summary"].clone()))
    };
    let before_apply = "2026-11-30T00:00:00Z";
    let (files, files_summary) = reach("files", before_apply)?;
    let (state, state_summary) = reach("state", before_apply)?;
    assert_eq!(files, state);
    assert_eq!(files_summary, state_summary);
    assert!(!files.iter().any(|c| c.starts_with("frank")), "{files:?}");
    // After the apply, before the run's now: frank is in effect on both sides.
    let after_apply = "2026-12-01T12:00:00Z";
    let (files, _) = reach("files", after_apply)?;
    let (state, _) = reach("state", after_apply)?;
    assert_eq!(files, state);
    assert!(files.contains(&"frank approval".to_owned()), "{files:?}");
    Ok(())
}
