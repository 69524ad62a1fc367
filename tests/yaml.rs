//! Issue 16, points 6 and 9: YAML budgets fit real files and say what they are; YAML tags
//! are refused (PIM002), never read as plain text.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Run, json, run, workspace_with};
use serde_json::Value;

const NOW: &str = "2026-12-01T00:00:00Z";

const ROOT: &str = "version: 1\ninclude:\n  - \"principals.yaml\"\n";

fn lint(dir: &Path) -> Run {
    run(dir, NOW, &["lint", "--format", "json"])
}

fn findings(run: &Run) -> Vec<Value> {
    json(&run.stdout)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A workspace whose root includes `principals.yaml` holding `text`.
fn with_file(text: &str) -> tempfile::TempDir {
    let ws = workspace_with(ROOT);
    std::fs::write(ws.path().join("principals.yaml"), text).unwrap_or(());
    ws
}

/// `n` users as a tenant export lists them, one flow mapping a line: 101 bytes and 12 YAML
/// events each.
fn principals(n: usize) -> String {
    let mut text = String::with_capacity(n * 110 + 16);
    text.push_str("principals:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ name: u{i:06}, type: user, id: {i:08x}-0000-4000-8000-{i:012x}, licenses: [entra_id_p2] }}\n"
        ));
    }
    text
}

/// (line, column) of the first occurrence of `needle` in `text`, 1-based.
fn place(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| unreachable!("{needle}"));
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------
// Point 6: budgets.

#[test]
fn a_100000_principal_file_lints() {
    let text = principals(100_000);
    // A real tenant export of this size is 7.6 to 15 MB; this one has the README's shape.
    assert!(text.len() > 7_600_000, "{}", text.len());
    let ws = with_file(&text);
    let started = Instant::now();
    let run = lint(ws.path());
    let took = started.elapsed();
    let found = findings(&run);
    let unread: Vec<_> = found
        .iter()
        .filter(|f| f["code"] == "PIM001" || f["code"] == "PIM002")
        .collect();
    assert!(unread.is_empty(), "{unread:#?}");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(took < Duration::from_secs(90), "lint took {took:?}");
}

fn run_human(dir: &Path) -> String {
    let r = run(dir, NOW, &["lint"]);
    format!("{}{}", r.stdout, r.stderr)
}

#[test]
fn too_many_aliases_names_the_limit_in_a_sentence() {
    // 200 anchors, each used 6 times: 1,200 aliases, within every other alias limit.
    let mut text = String::from("principals:\n");
    for i in 0..200 {
        text.push_str(&format!(
            "  - {{ name: &n{i} user{i}, type: &t{i} user, licenses: [&l{i} entra_id_p2] }}\n"
        ));
    }
    for i in 0..200 {
        for _ in 0..2 {
            text.push_str(&format!(
                "  - {{ name: *n{i}, type: *t{i}, licenses: [*l{i}] }}\n"
            ));
        }
    }
    let ws = with_file(&text);
    let run = lint(ws.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = findings(&run);
    let f = found
        .iter()
        .find(|f| f["code"] == "PIM001")
        .unwrap_or_else(|| unreachable!("{found:#?}"));
    assert_eq!(f["file"], "principals.yaml");
    assert_eq!(
        f["message"],
        "this file uses more than 1,000 aliases (`*name`; pimplan's limit for one file); write the repeated values out instead of using anchors and aliases (`&name`, `*name`), or split the file into several files listed under `include:`"
    );
    // At the 1,001st alias: three to a line of uses, which start on line 202.
    let line = 201 + 1_001_usize.div_ceil(3);
    assert_eq!(f["line"].as_u64(), Some(line as u64), "{f:#?}");
}

/// Aliases that expand a small file far beyond its size (each use of `*o` replays 2,000
/// names) are refused quickly and in bounded memory (500 MiB of address space): the node
/// budget, one node per byte of the file, counts the nodes aliases replay. (pimplan's format
/// has no list that holds lists, so the exponential "billion laughs" cannot get past the
/// first alias; the unit tests in `source::yaml` feed it, and nesting 10,000 deep, to a type
/// that would read them.)
#[test]
fn an_alias_expansion_is_refused_quickly_in_bounded_memory() {
    let names: Vec<String> = (0..2_000).map(|i| format!("u{i}")).collect();
    let mut text = format!(
        "principals:
  - {{ name: u0, type: user, licenses: &o [{}] }}
groups:
",
        names.join(", ")
    );
    for i in 0..60 {
        text.push_str(&format!("  - {{ name: g{i}, owners: *o }}\n"));
    }
    let ws = with_file(&text);
    let bin = assert_cmd::cargo::cargo_bin("pimplan");
    let started = Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 512000; exec '{}' lint --format json --now {NOW} --color never",
            bin.display()
        ))
        .current_dir(ws.path())
        .output()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let took = started.elapsed();
    let run = Run::of(&out);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = findings(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f["code"], "PIM001");
    assert_eq!(f["file"], "principals.yaml");
    let limit = text.len() + 1_024;
    let limit = format!("{},{:03}", limit / 1_000, limit % 1_000);
    assert_eq!(
        f["message"],
        format!(
            "this file has more than {limit} YAML nodes, counting those its aliases (`*name`) repeat (pimplan's limit for a file of this size); write the repeated values out instead of using anchors and aliases (`&name`, `*name`), or split the file into several files listed under `include:`"
        )
    );
    // At the alias being replayed when the budget ran out: one of the `owners: *o`.
    let line = f["line"].as_u64().unwrap_or(0);
    assert!((4..=63).contains(&line), "{f:#?}");
    // The human output says the same, never the YAML crate's Debug text.
    let human = run_human(ws.path());
    assert!(
        human.contains("YAML nodes, counting those its aliases") && !human.contains("Nodes {"),
        "{human}"
    );
}

/// The file-size cap names itself and says how to split (a sparse file: nothing is written).
#[test]
fn a_file_over_the_size_cap_says_the_cap_and_how_to_split() {
    let ws = with_file("");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(ws.path().join("principals.yaml"))
        .unwrap_or_else(|e| unreachable!("{e}"));
    file.set_len(64 * 1024 * 1024 + 1).unwrap_or(());
    drop(file);
    let run = lint(ws.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = findings(&run);
    let f = found
        .iter()
        .find(|f| f["file"] == "principals.yaml")
        .unwrap_or_else(|| unreachable!("{found:#?}"));
    assert_eq!(f["code"], "PIM001");
    let said = format!("{} {}", f["message"], f["help"]);
    assert!(
        said.contains("64 MiB")
            && said.contains("split it into several files listed under `include:`"),
        "{said}"
    );
}

// ---------------------------------------------------------------------------------------
// Point 9: tags.

/// Each tag form, where it is written: the finding is PIM002 at the tag.
#[test]
fn every_tag_is_refused_at_its_place() {
    let cases: &[(&str, &str)] = &[
        // A custom tag on a value.
        ("  - name: !include foo.yaml\n    type: user\n", "!include"),
        // A Python object constructor on a list.
        (
            "  - name: a\n    type: user\n    licenses: !!python/object:os.system [ls]\n",
            "!!python/object:os.system",
        ),
        // A CloudFormation-style tag on a key.
        ("  - !Ref name: a\n    type: user\n", "!Ref"),
        // Binary data, which the YAML crate would decode.
        ("  - name: !!binary YWxpY2U=\n    type: user\n", "!!binary"),
        // A tag on a mapping.
        ("  - !!map\n    name: a\n    type: user\n", "!!map"),
        // A tag on a flow mapping and in flow.
        ("  - !x { name: a, type: user }\n", "!x"),
        ("  - { name: a, type: !!str user }\n", "!!str"),
        // The core-schema tags, even where they agree with what pimplan reads.
        (
            "  - name: a\n    type: user\n    emergency_access: !!bool true\n",
            "!!bool",
        ),
        ("  - name: !!null\n    type: user\n", "!!null"),
        (
            "  - name: a\n    type: user\n    licenses: !!seq [x]\n",
            "!!seq",
        ),
        // The non-specific tag and a verbatim one.
        ("  - name: ! a\n    type: user\n", "! a"),
        (
            "  - name: !<tag:yaml.org,2002:str> a\n    type: user\n",
            "!<tag:yaml.org,2002:str>",
        ),
    ];
    for (body, tag) in cases {
        let text = format!("principals:\n{body}");
        let ws = with_file(&text);
        let run = lint(ws.path());
        assert_eq!(run.code, 1, "{text}\n{}{}", run.stdout, run.stderr);
        let found = findings(&run);
        assert_eq!(found.len(), 1, "{text}\n{found:#?}");
        let f = &found[0];
        let (line, column) = place(&text, tag);
        assert_eq!(f["code"], "PIM002", "{text}\n{f:#?}");
        assert_eq!(f["file"], "principals.yaml", "{text}");
        assert_eq!(
            (f["line"].as_u64(), f["column"].as_u64()),
            (Some(line as u64), Some(column as u64)),
            "{text}\n{f:#?}"
        );
        let message = f["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("pimplan does not interpret YAML tags"),
            "{message}"
        );
    }
}

/// The root file too; every tag of a file is pointed at, and the file is unread.
#[test]
fn every_tag_of_a_file_is_labelled_and_the_file_is_unread() {
    let ws = workspace_with(
        "version: 1\nprincipals:\n  - name: !include alice.yaml\n    type: user\n  - name: bob\n    type: !Ref user\n",
    );
    let run = lint(ws.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = findings(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f["code"], "PIM002");
    assert_eq!(f["file"], "pimplan.yaml");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(3), Some(11))
    );
    let labels = f["labels"].as_array().cloned().unwrap_or_default();
    assert_eq!(labels.len(), 1, "{labels:#?}");
    assert_eq!(
        (labels[0]["line"].as_u64(), labels[0]["column"].as_u64()),
        (Some(6), Some(11))
    );
    let help = f["help"].as_str().unwrap_or_default();
    assert!(
        help.contains("2 YAML tags") && help.contains("nothing else in this file is checked"),
        "{help}"
    );
}

/// A `!` that is not a tag: in quoted and plain text, block scalars and comments.
#[test]
fn exclamation_marks_that_are_not_tags_are_fine() {
    let ws = with_file(
        "# !important: not a tag!\nprincipals:\n  - name: \"!alice\"   # ! nor this\n    type: user\n    upn: 'a!b@contoso.com'\n    licenses: [entra_id_p2, \"! x\"]\n  - name: bob!\n    type: user\n    licenses: [entra_id_p2]\n",
    );
    let run = lint(ws.path());
    let found = findings(&run);
    assert!(
        found
            .iter()
            .all(|f| f["code"] != "PIM001" && f["code"] != "PIM002"),
        "{found:#?}"
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

// ---------------------------------------------------------------------------------------
// Issue 12, point 5: parser errors point at the cause.

/// The one finding of a workspace whose `principals.yaml` holds `text`.
fn the_finding(text: &str) -> Value {
    let ws = with_file(text);
    let run = lint(ws.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = findings(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0].clone()
}

/// `line:column: message` of a finding's primary place and of each secondary label.
fn places(f: &Value) -> Vec<String> {
    let mut out = vec![format!(
        "{}:{}: {}",
        f["line"],
        f["column"],
        f["code"].as_str().unwrap_or_default()
    )];
    for l in f["labels"].as_array().cloned().unwrap_or_default() {
        out.push(format!(
            "{}:{}: {}",
            l["line"],
            l["column"],
            l["message"].as_str().unwrap_or_default()
        ));
    }
    out
}

fn help(f: &Value) -> &str {
    f["help"].as_str().unwrap_or_default()
}

#[test]
fn an_unclosed_list_is_reported_at_its_bracket_with_more_keys_after_it() {
    let text = "principals:\n  - name: erin\n    type: user\n    licenses: [entra_id_p2, entra_id_governance\n  - name: frank\n    type: user\n";
    let f = the_finding(text);
    assert_eq!(
        places(&f),
        ["4:15: PIM001", "5:3: expected `]` before this"],
        "{f:#?}"
    );
    assert_eq!(
        f["message"],
        "this `[` is never closed: the list it opens has no `]`"
    );
    assert!(
        help(&f).starts_with("add `]` after the last item of the list"),
        "{f:#?}"
    );
    assert!(!help(&f).contains("tab"), "{f:#?}");
}

#[test]
fn an_unclosed_list_is_reported_at_its_bracket_at_the_end_of_the_file() {
    let text = "principals:\n  - name: gina\n    type: user\n    licenses: [entra_id_p2, entra_id_governance\n";
    let f = the_finding(text);
    assert_eq!(
        places(&f),
        ["4:15: PIM001", "4:47: the file ends here"],
        "{f:#?}"
    );
    assert!(
        help(&f).starts_with("add `]` after the last item of the list"),
        "{f:#?}"
    );
    assert!(!help(&f).contains("tab"), "{f:#?}");
}

#[test]
fn an_unclosed_outer_mapping_is_reported_at_the_outer_brace() {
    let outer = "groups:\n  - name: db\n    policy: {member: {activation: {max_duration: PT8H}}\n  - name: web\n";
    let f = the_finding(outer);
    assert_eq!(
        places(&f),
        ["3:13: PIM001", "4:3: expected `}` before this"],
        "{f:#?}"
    );
    let at_end = the_finding(
        "groups:\n  - name: db\n    policy: {member: {activation: {max_duration: PT8H}}\n",
    );
    assert_eq!(
        places(&at_end),
        ["3:13: PIM001", "3:55: the file ends here"],
        "{at_end:#?}"
    );
    assert!(
        help(&at_end).starts_with("add `}` after the last item of the mapping"),
        "{at_end:#?}"
    );
}

#[test]
fn a_colon_in_an_unquoted_value_says_quote_the_value() {
    // Rejected by the parser: a `: ` after a key's value, inside `{ }` and in a block.
    let flow = the_finding(
        "assignments:\n  - {group: ops, principal: b: c, role: member, type: eligible, duration: P90D, justification: x}\n",
    );
    assert_eq!(places(&flow), ["2:30: PIM001"], "{flow:#?}");
    assert!(
        help(&flow).starts_with("quote the value: write `\"b: c\"`"),
        "{flow:#?}"
    );
    let block =
        the_finding("assignments:\n  - group: ops\n    justification: see: ticket 42 # why\n");
    assert_eq!(places(&block), ["3:23: PIM001"], "{block:#?}");
    assert!(
        help(&block).starts_with("quote the value: write `\"see: ticket 42\"`"),
        "{block:#?}"
    );
    // Read as a `key: value` pair where text belongs: the file is valid YAML, so PIM002.
    for (text, at, quoted) in [
        (
            "assignments:\n  - group: ops\n    justification: {see: ticket 42}\n",
            "3:20: PIM002",
            "\"{see: ticket 42}\"",
        ),
        (
            "assignments:\n  - {group: ops, principal: [a: b], role: member}\n",
            "2:29: PIM002",
            "\"[a: b]\"",
        ),
        (
            "principals:\n  - {name: hana, type: user, licenses: [x, y: z]}\n",
            "2:44: PIM002",
            "\"y: z\"",
        ),
    ] {
        let f = the_finding(text);
        assert_eq!(places(&f), [at], "{f:#?}");
        assert!(
            help(&f).starts_with(&format!("quote the value: write `{quoted}`")),
            "{f:#?}"
        );
    }
}

#[test]
fn a_comma_in_an_unquoted_value_in_braces_says_quote_the_value() {
    let f = the_finding(
        "assignments:\n  - {group: ops, principal: bob, justification: ticket 42, see wiki}\n",
    );
    assert_eq!(places(&f), ["2:60: PIM002"], "{f:#?}");
    assert_eq!(
        f["message"],
        "unknown key `see wiki`: inside `{ }`, a `,` ends a value"
    );
    assert!(
        help(&f).starts_with(
            "quote the value if the comma belongs to it: write `\"ticket 42, see wiki\"`"
        ),
        "{f:#?}"
    );
    // A misspelt key after a complete value is no comma problem.
    let typo = the_finding("principals:\n  - {name: a, tipe: user}\n");
    assert!(help(&typo).starts_with("did you mean `type`?"), "{typo:#?}");
}

#[test]
fn a_colon_or_comma_the_parser_accepts_is_no_finding() {
    let ws = with_file(
        "principals:\n  - {name: alice, type: user, licenses: [entra_id_p2], upn: a:b@contoso.com}\n  - name: bob\n    type: user\n    upn: \"bob: b@contoso.com\"\n    licenses: [entra_id_p2, \"x, y: z\"]\n",
    );
    let run = lint(ws.path());
    let found = findings(&run);
    assert!(
        found
            .iter()
            .all(|f| f["code"] != "PIM001" && f["code"] != "PIM002"),
        "{found:#?}"
    );
}

#[test]
fn a_mismatched_bracket_says_which_closes_it() {
    let f = the_finding("principals:\n  - {name: a, type: user]\n");
    assert_eq!(places(&f), ["2:5: PIM001"], "{f:#?}");
    assert_eq!(f["message"], "this `{` is closed by `]`");
    assert!(
        help(&f).starts_with("close this `{` with `}`, not `]`, or open it with `[`"),
        "{f:#?}"
    );
}

#[test]
fn only_a_tab_gets_the_tab_advice() {
    let tab = the_finding("principals:\n\t- name: a\n");
    assert_eq!(places(&tab), ["2:1: PIM001"], "{tab:#?}");
    assert!(
        help(&tab).starts_with("indent with spaces, never tabs"),
        "{tab:#?}"
    );
    for text in [
        "principals:\n  - name: \"abc\n",
        "principals:\n  - {name: a, type: user]\n",
        "principals:\n  - {name: a, type: user}\n---\nx: 1\n",
        "principals:\n  - name: erin\n    licenses: [entra_id_p2\n  - name: frank\n",
    ] {
        let f = the_finding(text);
        assert_eq!(f["code"], "PIM001", "{f:#?}");
        assert!(!help(&f).contains("tab"), "{text}: {f:#?}");
    }
}
