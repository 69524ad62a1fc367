//! The init command: a first workspace, and what to do next.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::RunContext;
use super::output::write_out;
use crate::exit::ExitStatus;
use crate::init;
use crate::init::in_dir;

fn is_here(dir: &Path) -> bool {
    dir.as_os_str().is_empty() || dir == Path::new(".")
}

/// `path` (absolute) as the user would type it from the current folder: `../pimplan.yaml`.
fn relative_to_here(path: &Path) -> String {
    let Some(here) = std::env::current_dir()
        .ok()
        .and_then(|d| std::fs::canonicalize(d).ok())
    else {
        return path.display().to_string();
    };
    if let Ok(below) = path.strip_prefix(&here) {
        return below.display().to_string();
    }
    let folder = path.parent().unwrap_or(path);
    for (up, dir) in here.ancestors().enumerate() {
        if dir == folder {
            let mut shown = PathBuf::new();
            for _ in 0..up {
                shown.push("..");
            }
            shown.push(path.file_name().unwrap_or_default());
            return shown.display().to_string();
        }
    }
    path.display().to_string()
}

/// What to run next, with `dir` spelled as the user gave it (nothing for the current folder).
pub fn next_steps(dir: &Path) -> String {
    let here = is_here(dir);
    let shown = dir.display().to_string();
    let (lint, config, hook_args, action_config) = if here {
        (
            "pimplan lint".to_owned(),
            String::new(),
            String::new(),
            String::new(),
        )
    } else {
        let root = dir.join(init::ROOT_FILE).display().to_string();
        (
            format!("pimplan lint {shown}"),
            format!(" -c {root}"),
            format!("\n               args: [{shown}]"),
            format!("\n         with:\n           config: {root}"),
        )
    };
    let plan = format!("pimplan{config} plan");
    let apply = format!("pimplan{config} apply");
    let width = lint.len().max(plan.len()).max(apply.len());
    format!(
        "Next steps:
  1. Put your tenant, people and groups in {root}; `pimplan explain CODE` tells what a finding means.
  2. {lint:<width$}  check the workspace (exit 1 on an error-level finding)
     {plan:<width$}  see what an apply would change
     {apply:<width$}  record it in the state file (`target: graph` sends it to Microsoft Graph)
  3. Lint before every commit, with pre-commit (.pre-commit-config.yaml):
       repos:
         - repo: https://github.com/your-org/pimplan   # pimplan's repository
           rev: v0.1.0                                 # a tag or commit of it
           hooks:
             - id: pimplan-lint{hook_args}
  4. Lint and plan every pull request with the GitHub Action (see its docs/github-actions.md):
       - uses: your-org/pimplan@v0.1.0{action_config}
  After upgrading pimplan, `pimplan schema > {schema}` refreshes the editor's schema.
",
        root = in_dir(dir, init::ROOT_FILE).display(),
        schema = in_dir(dir, init::SCHEMA_FILE).display(),
    )
}

pub fn run(cx: &RunContext, dir: Option<&Path>, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    let dir = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let enclosing = init::enclosing_root(&dir);
    let dir_was_there = dir.exists();
    let written = init::write(&dir).map_err(|e| miette::miette!("{e}"))?;
    // Inside another workspace: its `include:` must not read the new root file as one of
    // its own files (a second `version:` and `state:` would fail its lint).
    let mut note = String::new();
    if let Some(enclosing) = &enclosing {
        let root = in_dir(&dir, init::ROOT_FILE);
        let shown = relative_to_here(enclosing);
        if init::reads(enclosing, &root) {
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            if !dir_was_there {
                // Only when empty: nothing but what this run wrote was in it.
                let _ = std::fs::remove_dir(&dir);
            }
            miette::bail!(
                "refusing to initialise a workspace in `{}`: it is inside the workspace of `{shown}`, whose `include:` would read `{}` as one of its own files (and fail its lint: `version` and `state` belong to its root file alone); give a folder outside it or one its `include:` does not match, or add the principals, groups and assignments to that workspace; nothing was written",
                dir.display(),
                root.display()
            );
        }
        note = format!(
            "\nNote: `{}` is inside the workspace of `{shown}`, which leaves it out (its `include:` does not match it): they are separate workspaces, each with its own state.\n",
            dir.display()
        );
    }
    let mut text = format!("Created a pimplan workspace in `{}`:\n", dir.display());
    let shown: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    let width = shown.iter().map(String::len).max().unwrap_or(0);
    for (path, shown) in written.iter().zip(&shown) {
        let what = if path.ends_with(init::ROOT_FILE) {
            "the root file: one principal, one group with its policy, one eligible assignment"
        } else {
            "its JSON Schema, which the root file's first line names for your editor"
        };
        text.push_str(&format!("  {shown:<width$}  {what}\n"));
    }
    text.push_str(&note);
    if !cx.quiet {
        text.push('\n');
        text.push_str(&next_steps(&dir));
    }
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}
