//! What the commands share to say things: writing to the output, colour, refusing to write
//! over a file that must be kept, failing, asking, and the findings of a plan run.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::exit::ExitStatus;
use crate::plan_run::PlanRun;
use crate::render::{self, human::HumanOptions};

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// How `plan` and `show` print a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

pub fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Why `what` may not be written to `out`: it would replace the state (or its backup or lock)
/// at `state`, or one of the workspace's `files`. An output path is the user's to choose, but
/// never one that loses a grant or a declaration.
pub fn refuse_overwrite<'a>(
    what: &str,
    out: &Path,
    state: Option<&Path>,
    files: impl IntoIterator<Item = &'a Path>,
) -> Option<String> {
    let refuse = |whose: String| {
        Some(format!(
            "refusing to write {what} to `{}`: that is {whose}; choose another path; nothing was written",
            out.display()
        ))
    };
    if let Some(state) = state {
        let kept = [
            ("the state file", state.to_path_buf()),
            (
                "the state's backup",
                crate::state::store::backup_path(state),
            ),
            ("the state's lock", crate::state::store::lock_path(state)),
        ];
        for (whose, kept) in kept {
            if crate::fs::would_replace(out, &kept) {
                return refuse(format!("{whose} `{}`", kept.display()));
            }
        }
    }
    for file in files {
        if crate::fs::would_replace(out, file) {
            return refuse(format!("the workspace file `{}`", file.display()));
        }
    }
    None
}

pub fn write_out(out: &mut dyn Write, text: &str) -> miette::Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| miette::miette!("cannot write output: {e}"))
}

/// Write `text`, and succeed: the whole of the commands that only print.
pub fn print(out: &mut dyn Write, text: &str) -> miette::Result<ExitStatus> {
    write_out(out, text)?;
    Ok(ExitStatus::Success)
}

/// An error that ends a command that reads or writes the state: printed, exit status 1.
pub fn fail(message: impl std::fmt::Display) -> ExitStatus {
    eprintln!("error: {message}");
    ExitStatus::Findings
}

/// Ask `question`; only `yes` is a yes.
pub fn confirm_with(out: &mut dyn Write, question: &str) -> miette::Result<bool> {
    write_out(out, question)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| miette::miette!("cannot read the answer: {e}"))?;
    Ok(answer.trim() == "yes")
}

/// The findings of a plan run, for a person (`plan` and `apply` print them alike).
pub fn plan_findings(run: &PlanRun, color: bool, quiet: bool) -> String {
    let mut text = if run.lint.findings.is_empty() {
        String::new()
    } else {
        render::human::render(
            &run.lint.findings,
            &run.lint.loaded.sources,
            HumanOptions { color, width: 100 },
            true,
        )
    };
    // What the baseline left out is listed too, as such: it does not stop the plan.
    if let Some(path) = &run.baseline
        && !quiet
    {
        let list = crate::baseline::human_list(&run.baselined, &run.lint.loaded.sources, path);
        if !list.is_empty() {
            text.push_str(&list);
            text.push('\n');
        }
    }
    text
}
