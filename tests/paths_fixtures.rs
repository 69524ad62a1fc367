//! The `pimplan paths` fixture set (privilege-paths §A.13 items 1, 2 and 5; acceptance A8,
//! A9, A17), through the real binary at 2026-12-01T00:00:00Z:
//!
//! - `fixtures/paths/E01-…/` … `E19-…/`: one minimal workspace per edge kind;
//! - `fixtures/paths/golden/<letter>-…/`: the golden scenarios (a)–(k), each with a README.md
//!   holding its hand computation ((e) has one workspace per `eligible_reset_protection`);
//! - `fixtures/paths/example/`: the workspace of tests/paths_cli.rs.
//!
//! Every folder below `fixtures/paths/` that holds a `pimplan.yaml` is a fixture and must hold
//! an `expected.json`: `{"about": "…", "runs": [{"args": [...], …}]}`. Each run is
//! `pimplan paths ARGS --format json`, compared exactly on what decides reach and nothing
//! that only decorates it: the `summary`, the listed `principals` (or, for `--principal`,
//! the `reached` nodes by key) each with `class`, `hops`, `flags` and the edge codes of its
//! witness path, one code per hop (the edge out of a hub is the second half of the hop into
//! it and is left out), `not_yet_in_effect` (principal and start) and the `notes`. Ids,
//! spans and the rendered text are left out: the snapshots of tests/paths_cli.rs cover them.
//! `lint_errors` is present only when lint reports error-level findings (the `note: lint
//! reports N …` line on stderr); any other stderr fails the run.
//!
//! Each expected.json was written by hand from the design's edge semantics before the binary
//! ran. `PIMPLAN_UPDATE_PATHS=1` rewrites the ones that differ from the binary's output (that
//! run still fails, listing them): check every changed line against the design before
//! committing it.
//!
//! The same runs, and `--tier0` on every fixture, in `--format dot` must render with real
//! Graphviz (tests/common/graphviz.rs: one drawn node per node statement, one drawn edge per
//! edge statement, edges exactly when the run lists someone) and in `--format mermaid` must
//! start with `flowchart LR`.

mod common;

use std::error::Error;
use std::path::{Path, PathBuf};

use common::{copy_fixture, graphviz, manifest, run};
use serde_json::{Map, Value, json};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const NOW: &str = "2026-12-01T00:00:00Z";
const ROOT: &str = "fixtures/paths";
const UPDATE: &str = "PIMPLAN_UPDATE_PATHS";

/// Every fixture folder (one holding a `pimplan.yaml`) below `dir`, sorted.
fn fixture_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("pimplan.yaml").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for s in subs {
        fixture_dirs(&s, out);
    }
}

fn fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    fixture_dirs(&manifest().join(ROOT), &mut out);
    out
}

/// The fixture's path below the manifest (`fixtures/paths/E01-active-member`).
fn relative(dir: &Path) -> String {
    dir.strip_prefix(manifest())
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_expected(dir: &Path) -> Result<Value> {
    let path = dir.join("expected.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: no expected.json ({e})", relative(dir)))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", relative(dir)))?)
}

/// The runs of an expected.json, each with its `args`.
fn runs(expected: &Value) -> Result<Vec<(Vec<String>, &Value)>> {
    let list = expected["runs"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or("expected.json has no `runs`")?;
    list.iter()
        .map(|r| {
            let args = r["args"]
                .as_array()
                .ok_or("a run has no `args`")?
                .iter()
                .map(|a| {
                    a.as_str()
                        .map(str::to_owned)
                        .ok_or("an arg is not a string")
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((args, r))
        })
        .collect()
}

/// `pimplan paths ARGS --format FORMAT` in `dir`: its stdout, and the number of error-level
/// lint findings it noted on stderr. Any other exit or stderr is an error.
fn paths(dir: &Path, args: &[String], format: &str) -> Result<(String, u64)> {
    let mut all = vec!["paths"];
    all.extend(args.iter().map(String::as_str));
    all.extend(["--format", format]);
    let out = run(dir, NOW, &all);
    if out.code != 0 {
        return Err(format!("paths {args:?} exited {}: {}", out.code, out.stderr).into());
    }
    let lint_errors = match out.stderr.trim() {
        "" => 0,
        text => text
            .strip_prefix("note: lint reports ")
            .and_then(|t| t.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
            .ok_or_else(|| format!("paths {args:?} wrote to stderr: {text}"))?,
    };
    Ok((out.stdout, lint_errors))
}

/// The part of a `paths --format json` document that the fixtures compare (module docs).
fn projection(doc: &Value, lint_errors: u64) -> Result<Value> {
    let (list, who) = if doc.get("principals").is_some() {
        ("principals", "principal")
    } else {
        ("reached", "node")
    };
    let entries = doc[list]
        .as_array()
        .ok_or(format!("no `{list}` list"))?
        .iter()
        .map(|e| {
            let name = match who {
                "principal" => &e["principal"]["name"],
                _ => &e["node"]["key"],
            };
            let hops_codes: Vec<Value> = e["path"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|step| !step["from"].as_str().unwrap_or("").starts_with("hub:"))
                .map(|step| step["code"].clone())
                .collect();
            if e["hops"].as_u64() != Some(hops_codes.len() as u64) {
                return Err(format!("{name}: {} hops but {hops_codes:?}", e["hops"]));
            }
            Ok(json!({
                who: name,
                "class": e["class"],
                "hops": e["hops"],
                "flags": e["flags"],
                "path": hops_codes,
            }))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let not_yet: Vec<Value> = doc["not_yet_in_effect"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| json!({"principal": n["principal"], "from": n["from"]}))
        .collect();
    let notes: Vec<Value> = doc["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n["text"].clone())
        .collect();
    let mut out = Map::new();
    out.insert("summary".to_owned(), doc["summary"].clone());
    out.insert(list.to_owned(), Value::Array(entries));
    out.insert("not_yet_in_effect".to_owned(), Value::Array(not_yet));
    out.insert("notes".to_owned(), Value::Array(notes));
    if lint_errors > 0 {
        out.insert("lint_errors".to_owned(), json!(lint_errors));
    }
    Ok(Value::Object(out))
}

/// A run of expected.json without what is not output (`args`, `about`).
fn wanted(run: &Value) -> Value {
    let mut run = run.clone();
    if let Some(obj) = run.as_object_mut() {
        obj.shift_remove("args");
        obj.shift_remove("about");
    }
    run
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[test]
fn every_edge_kind_and_golden_scenario_has_a_fixture() {
    let root = manifest().join(ROOT);
    let names: Vec<String> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    for kind in pimplan::paths::EdgeKind::ALL {
        let n: u32 = kind.code()[1..].parse().unwrap_or(0);
        let prefix = format!("E{n:02}-{}", kind.name());
        if !names.contains(&prefix) {
            missing.push(prefix);
        }
    }
    let golden: Vec<String> = std::fs::read_dir(root.join("golden"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for letter in 'a'..='k' {
        match golden.iter().find(|d| d.starts_with(&format!("{letter}-"))) {
            Some(d) if root.join("golden").join(d).join("README.md").is_file() => {}
            Some(d) => missing.push(format!("golden/{d}/README.md")),
            None => missing.push(format!("golden/{letter}-…")),
        }
    }
    // Every fixture folder holds its expected answer.
    for dir in fixtures() {
        if !dir.join("expected.json").is_file() {
            missing.push(format!("{}/expected.json", relative(&dir)));
        }
    }
    assert!(missing.is_empty(), "missing: {missing:#?}");
}

/// An edge-kind fixture (`E07-nested-active`) must use its edge: some witness path of some
/// run takes it.
fn uses_its_edge(dir: &Path, expected: &Value) -> Option<String> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let n: u32 = name.strip_prefix('E')?.get(..2)?.parse().ok()?;
    let code = format!("E{n}");
    let used = expected["runs"].as_array()?.iter().any(|r| {
        ["principals", "reached"].iter().any(|list| {
            r[*list].as_array().is_some_and(|l| {
                l.iter().any(|e| {
                    e["path"]
                        .as_array()
                        .is_some_and(|p| p.contains(&json!(code)))
                })
            })
        })
    });
    (!used).then(|| format!("{name}: no expected path takes {code}"))
}

#[test]
fn fixtures_give_exactly_their_expected_reach() -> Result {
    let update = std::env::var_os(UPDATE).is_some();
    let mut failures = Vec::new();
    let all = fixtures();
    assert!(all.len() >= 19 + 12, "only {} fixtures found", all.len());
    for dir in &all {
        let name = relative(dir);
        let mut expected = match read_expected(dir) {
            Ok(e) => e,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        let work = copy_fixture(&name);
        let mut changed = false;
        let mut updated_runs = Vec::new();
        for (args, want) in runs(&expected)? {
            let got = match paths(work.path(), &args, "json")
                .and_then(|(text, errors)| projection(&common::json(&text), errors))
            {
                Ok(got) => got,
                Err(e) => {
                    failures.push(format!("{name} {args:?}: {e}"));
                    continue;
                }
            };
            if got != wanted(want) {
                changed = true;
                failures.push(format!(
                    "{name}: paths {args:?}\n  expected: {}\n  got:      {}",
                    pretty(&wanted(want)),
                    pretty(&got)
                ));
            }
            let mut run = Map::new();
            run.insert("args".to_owned(), json!(args));
            if let Some(about) = want.get("about") {
                run.insert("about".to_owned(), about.clone());
            }
            if let Value::Object(g) = got {
                run.extend(g);
            }
            updated_runs.push(Value::Object(run));
        }
        if let Some(e) = uses_its_edge(dir, &expected) {
            failures.push(e);
        }
        if update && changed {
            expected["runs"] = Value::Array(updated_runs);
            std::fs::write(dir.join("expected.json"), pretty(&expected) + "\n")?;
        }
    }
    assert!(
        failures.is_empty(),
        "{} (PIMPLAN_UPDATE_PATHS=1 rewrites expected.json; check each change by hand)",
        failures.join("\n")
    );
    Ok(())
}

/// Whether a run of expected.json lists anyone (or, for `--principal`, anything).
fn lists_some(run: &Value) -> bool {
    ["principals", "reached"]
        .iter()
        .any(|l| run[*l].as_array().is_some_and(|a| !a.is_empty()))
}

/// The runs drawn for a fixture: each run of its expected.json, and `--tier0` when no run is
/// that query; each with whether it lists anyone (then the diagram has edges).
fn drawn_runs(work: &Path, expected: &Value) -> Result<Vec<(Vec<String>, bool)>> {
    let mut out: Vec<(Vec<String>, bool)> = runs(expected)?
        .into_iter()
        .map(|(args, want)| (args, lists_some(want)))
        .collect();
    let tier0 = vec!["--tier0".to_owned()];
    if !out.iter().any(|(args, _)| *args == tier0) {
        let (text, _) = paths(work, &tier0, "json")?;
        let some = lists_some(&common::json(&text));
        out.push((tier0, some));
    }
    Ok(out)
}

#[test]
fn every_fixture_renders_dot_with_graphviz_and_mermaid() -> Result {
    let tmp = tempfile::tempdir()?;
    // Each DOT file, its text, its run, and whether the run lists anyone.
    let mut files = Vec::new();
    let mut drawn = Vec::new();
    let mut failures = Vec::new();
    for dir in fixtures() {
        let name = relative(&dir);
        let Ok(expected) = read_expected(&dir) else {
            continue;
        };
        let work = copy_fixture(&name);
        for (i, (args, some)) in drawn_runs(work.path(), &expected)?.into_iter().enumerate() {
            let (dot, _) = paths(work.path(), &args, "dot")?;
            let file = tmp
                .path()
                .join(format!("{}-{i}.dot", name.replace('/', "_")));
            std::fs::write(&file, &dot)?;
            files.push(file);
            drawn.push((format!("{name} {args:?}"), dot, some));
            let (mermaid, _) = paths(work.path(), &args, "mermaid")?;
            let has_edges = mermaid
                .lines()
                .any(|l| l.contains("-->") || l.contains("-.->"));
            if !mermaid.starts_with("flowchart LR\n") || has_edges != some {
                failures.push(format!("{name} {args:?}: mermaid is\n{mermaid}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every fixture is drawn at least for `--tier0`.
    assert!(files.len() > fixtures().len(), "{} DOT files", files.len());
    let svgs = graphviz::render(&files)?;
    assert_eq!(svgs.len(), files.len());
    for ((run, dot, some), text) in drawn.iter().zip(&svgs) {
        let svg = graphviz::Svg::parse(text).map_err(|e| format!("{run}: {e}"))?;
        if let Err(e) = graphviz::drawn_as_declared(dot, &svg) {
            failures.push(format!("{run}: {e}\n{dot}"));
        }
        if !dot.contains("\n  rankdir=LR;\n") {
            failures.push(format!("{run}: no rankdir=LR\n{dot}"));
        }
        if svg.graph != "pimplan_paths" || svg.edges.is_empty() == *some {
            failures.push(format!(
                "{run}: graph `{}` with {} edges, lists someone: {some}",
                svg.graph,
                svg.edges.len()
            ));
        }
        // Every node but a hub (a point) shows its label.
        for node in &svg.nodes {
            let hub = dot.lines().any(|l| {
                l.trim_start().starts_with(&format!("{} [", node.title))
                    && l.contains("shape=point")
            });
            if !hub && node.text().trim().is_empty() {
                failures.push(format!("{run}: node {} is drawn without text", node.title));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
