//! The modules of `src/` form layers: a module names (`crate::x`, in `use` lines or in paths)
//! only modules of its own layer or of the layers below. No module imports a layer above it.
//! The layer order is written once, here (it follows `design/layout.md`); a module not in it,
//! or a name of a module of a higher layer, fails the test, so the circles that were broken
//! cannot come back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules of `src/`, lowest layer first. A module may import from its own layer
/// and the layers below. Names not in `src/` yet are where the proposal puts them.
const LAYERS: &[&[&str]] = &[
    &[
        "rule_meta",
        "suggest",
        "fs",
        "clock",
        "exit",
        "source",
        "entra_roles",
        "http",
        "licenses",
        "progress",
    ],
    &["finding"],
    &["config", "load", "schema"],
    &["state", "identity"],
    &["paths"],
    &["plan", "drift"],
    &["rules", "suppress"],
    &["lint", "plan_run", "apply", "baseline", "init"],
    &["graph"],
    &["render"],
    &["cli"],
];

/// The named exception: `config` and `load` may name the loader rules (`rules::pim00N_*`),
/// which are declarations only.
fn excepted(from: &str, to: &str, item: &str) -> bool {
    matches!(from, "config" | "load") && to == "rules" && item.starts_with("pim00")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every `crate::x::item` (and each item of `crate::x::{a, b::c}`) in `text`, comment lines
/// left out, as `(x, item)`; `item` is empty when the path names `x` alone.
fn references(text: &str) -> Vec<(String, String)> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `foo_crate::`, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c}`: each item names a module (nested groups are not used in src/).
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let item = item.trim();
                let module = ident_at(item);
                if !module.is_empty() {
                    let tail = item[module.len()..].trim_start_matches("::");
                    out.push((module.to_owned(), ident_at(tail).to_owned()));
                }
            }
            continue;
        }
        let module = ident_at(rest);
        if module.is_empty() {
            continue;
        }
        let after = &rest[module.len()..];
        let Some(tail) = after.strip_prefix("::") else {
            out.push((module.to_owned(), String::new()));
            continue;
        };
        if let Some(group) = tail.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                out.push((module.to_owned(), ident_at(item).to_owned()));
            }
        } else {
            out.push((module.to_owned(), ident_at(tail).to_owned()));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Module-level edges of `src/`: from each top-level module to the modules it names, with
/// the places (file:line is enough to find them with grep; the file is named).
fn edges() -> Result<BTreeMap<(String, String), BTreeSet<String>>, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files).map_err(|e| format!("cannot list src/: {e}"))?;
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let from = match rel.split_once('/') {
            Some((dir, _)) => dir.to_owned(),
            None => rel.trim_end_matches(".rs").to_owned(),
        };
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{rel}: {e}"))?;
        for (to, item) in references(&text) {
            if to != from && !excepted(&from, &to, &item) {
                edges
                    .entry((from.clone(), to))
                    .or_default()
                    .insert(rel.clone());
            }
        }
    }
    Ok(edges)
}

#[test]
fn no_module_imports_a_layer_above_it() -> Result<(), String> {
    let edges = edges()?;
    let mut problems = Vec::new();
    for ((from, to), files) in &edges {
        let (Some(low), Some(high)) = (layer_of(to), layer_of(from)) else {
            for m in [from, to] {
                if layer_of(m).is_none() {
                    problems.push(format!(
                        "module `{m}` is in no layer: add it to LAYERS in tests/layers.rs"
                    ));
                }
            }
            continue;
        };
        if low > high {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            problems.push(format!(
                "`{from}` (layer {}) imports `{to}` (layer {}), a layer above it, in {}",
                high + 1,
                low + 1,
                files.join(", ")
            ));
        }
    }
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The two circles broken first stay broken, whatever the table says.
#[test]
fn finding_and_state_stay_below_rules_and_plan() -> Result<(), String> {
    let edges = edges()?;
    for (from, to) in [
        ("finding", "rules"),
        ("state", "plan"),
        ("rule_meta", "rules"),
    ] {
        if let Some(files) = edges.get(&(from.to_owned(), to.to_owned())) {
            return Err(format!("`{from}` imports `{to}` again, in {files:?}"));
        }
    }
    Ok(())
}

#[test]
fn references_reads_use_lines_groups_and_paths() {
    let text = "use crate::rules::{self, pim002_invalid_config,\n};\n\
                // use crate::plan::Change;\n\
                let x = crate::fs::read_bounded(p);\n\
                use crate::{state::Change, plan};\n";
    let refs = references(text);
    let pairs: Vec<(&str, &str)> = refs.iter().map(|(m, i)| (m.as_str(), i.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("rules", "self"),
            ("rules", "pim002_invalid_config"),
            ("fs", "read_bounded"),
            ("state", "Change"),
            ("plan", ""),
        ]
    );
}

/// The files of `src/cli/` that are no command: the clap definitions, the dispatch, and what
/// the commands share.
const CLI_SHARED: &[&str] = &["mod", "arguments", "output", "workspace"];

/// Code lines of `text` (comment lines left out), string literals blanked, so that a word in
/// a message or a doc comment is not taken for a name.
fn code_only(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut in_string = false;
        let mut escaped = false;
        for c in line.chars() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
                out.push(' ');
            } else {
                if c == '"' {
                    in_string = true;
                }
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Whether `word` occurs in `code` as a whole identifier.
fn names_word(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The modules `code` names under `prefix` (`super::`, `cli::` as in `crate::cli::`), each item of a
/// `{a, b::c}` group too.
fn modules_under(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(
                inner
                    .split(',')
                    .map(|i| ident_at(i.trim()).to_owned())
                    .filter(|i| !i.is_empty()),
            );
        } else {
            out.push(ident_at(rest).to_owned());
        }
    }
    out
}

/// What is wrong with the command-layer file `name` (`src/cli/NAME.rs`) of text `text`:
/// naming clap or the argument types, or another command file.
fn cli_file_problems(name: &str, text: &str, commands: &[String]) -> Vec<String> {
    if matches!(name, "mod" | "arguments") {
        return Vec::new();
    }
    let code = code_only(text);
    let mut problems = Vec::new();
    for word in [
        "clap",
        "clap_complete",
        "clap_mangen",
        "arguments",
        "Arguments",
    ] {
        if names_word(&code, word) {
            problems.push(format!(
                "src/cli/{name}.rs names `{word}`: only cli/mod.rs and cli/arguments.rs see the clap types; take a plain request instead"
            ));
        }
    }
    for prefix in ["super::", "cli::"] {
        for module in modules_under(&code, prefix) {
            if module != name && commands.contains(&module) {
                problems.push(format!(
                    "src/cli/{name}.rs names the command file `{module}` ({prefix}{module}): command files never import each other; move what they share to cli/output.rs, cli/workspace.rs or below cli"
                ));
            }
        }
    }
    problems.dedup();
    problems
}

#[test]
fn cli_command_files_see_no_clap_and_not_each_other() -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let mut files = Vec::new();
    rust_files(&dir, &mut files).map_err(|e| format!("cannot list src/cli/: {e}"))?;
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| Some(f.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    let commands: Vec<String> = names
        .iter()
        .filter(|n| !CLI_SHARED.contains(&n.as_str()))
        .cloned()
        .collect();
    if commands.len() < 5 {
        return Err(format!("src/cli/ holds only {names:?}"));
    }
    let mut problems = Vec::new();
    for (file, name) in files.iter().zip(&names) {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?;
        problems.extend(cli_file_problems(name, &text, &commands));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn cli_file_problems_finds_clap_arguments_and_other_commands() {
    let commands: Vec<String> = ["plan", "apply", "state"].map(str::to_owned).to_vec();
    let clean = "use super::RunContext;\nuse super::output::{fail, write_out};\n\
                 // the clap arguments, super::plan\n\
                 let m = \"a clap of arguments from super::plan\";\n";
    assert!(cli_file_problems("apply", clean, &commands).is_empty());
    for bad in [
        "use clap::Args;\n",
        "fn f(a: &super::arguments::PlanArgs) {}\n",
        "fn f(a: &crate::cli::Arguments) {}\n",
        "use super::plan::findings;\n",
        "use super::{output, state::list};\n",
        "let x = crate::cli::plan::run;\n",
    ] {
        assert_eq!(
            cli_file_problems("apply", bad, &commands).len(),
            1,
            "not caught: {bad}"
        );
    }
    // A file names itself, and mod.rs and arguments.rs may name clap.
    assert!(cli_file_problems("apply", "use super::apply::x;\n", &commands).is_empty());
    assert!(cli_file_problems("arguments", "use clap::Parser;\n", &commands).is_empty());
}
