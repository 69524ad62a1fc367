//! The command line: clap arguments, turned into one command run with one clock.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit::ExitStatus;
use crate::finding::did_you_mean;
use crate::rules::{self, REGISTRY};

#[derive(Debug, Parser)]
#[command(
    name = "pimplan",
    version,
    about = "Microsoft Entra PIM for Groups as code: lint, plan, apply"
)]
pub struct Arguments {
    /// The workspace root file, for the commands that read a workspace [default: the nearest
    /// `pimplan.yaml` in this folder or a folder above it].
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The time rules, plans and applies use as "now" (RFC 3339 with offset); the commands
    /// that read no clock ignore it.
    #[arg(long, global = true, env = "PIMPLAN_NOW", value_name = "RFC3339")]
    pub now: Option<String>,
    /// When to color the human output of lint, plan, apply and show (`NO_COLOR` is honoured
    /// with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Less output: lint and plan print no summary line and no list of baselined findings,
    /// apply no progress, init no next steps, show no hint to apply.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a first workspace (pimplan.yaml and its JSON Schema) into DIR.
    ///
    /// The root file holds one principal, one group with its policy and one assignment; it
    /// lints clean and plans, and its first line names the schema written beside it, for your
    /// editor. Never overwrites a file: nothing is written when either file is there.
    Init {
        /// The folder of the new workspace (created if missing) [default: the current folder].
        dir: Option<PathBuf>,
    },
    /// Parse the workspace and run every rule.
    Lint {
        /// Report only findings in these files; a directory names the workspace (its pimplan.yaml).
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
        /// Exit 1 on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Leave out the findings recorded in this baseline (see `--write-baseline`)
        /// [default: `baseline:` in pimplan.yaml].
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Record every current finding in FILE, to adopt pimplan and fail only on new ones.
        #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
        write_baseline: Option<PathBuf>,
    },
    /// List every rule with its code, name and default severity.
    Rules,
    /// Print one rule's documentation.
    Explain {
        /// Rule code (`PIM201`) or name (`assignment-too-short`).
        code: String,
    },
    /// Print the JSON Schema of the configuration.
    Schema,
    /// Lint, then show the changes that would make the state match the workspace.
    Plan {
        /// Save the plan, for `pimplan apply PLANFILE`.
        #[arg(long, value_name = "PLANFILE")]
        out: Option<PathBuf>,
        /// Leave out the lint findings recorded in this baseline [default: `baseline:` in
        /// pimplan.yaml].
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
        format: PlanFormat,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Allow a plan that removes more than `plan.max_removal_ratio` of the assignments (PIM703).
        #[arg(long)]
        allow_mass_removal: bool,
        /// Read the live schedules and policies from Microsoft Graph first, and show what
        /// changed outside pimplan.
        #[arg(long)]
        refresh: bool,
        /// Where the changes would go: the state file alone, or Microsoft Graph then the
        /// state [default: state, unless `target:` in pimplan.yaml says otherwise].
        #[arg(long, value_enum)]
        target: Option<TargetArg>,
    },
    /// Apply a saved plan, or plan and apply after confirmation.
    ///
    /// Each change is recorded in the state as it succeeds. With `--target graph`, changes are
    /// marked pending in the state before they are sent; changes an interrupted apply left
    /// pending are checked against Microsoft Graph, and recorded as the service holds them,
    /// before anything is planned.
    Apply {
        /// A plan saved with `plan --out`; refused if the state or the workspace changed since.
        #[arg(value_name = "PLANFILE")]
        plan_file: Option<PathBuf>,
        /// Apply without asking (needed without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Leave out the lint findings recorded in this baseline [default: `baseline:` in
        /// pimplan.yaml].
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Allow a plan that removes more than `plan.max_removal_ratio` of the assignments (PIM703).
        #[arg(long)]
        allow_mass_removal: bool,
        /// How long to wait for another pimplan's lock on the state (`30s`, `2m`; default 0).
        #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_wait)]
        lock_timeout: std::time::Duration,
        /// Where changes go: the state file alone (nothing is sent), or Microsoft Graph then
        /// the state [default: state, unless `target:` in pimplan.yaml says otherwise].
        #[arg(long, value_enum)]
        target: Option<TargetArg>,
        /// Log every Graph request (method, path, status; the token is redacted) to stderr.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Print a plan saved with `plan --out`: its changes, its findings, what it was made from.
    Show {
        /// A plan saved with `plan --out`.
        #[arg(value_name = "PLANFILE")]
        plan_file: PathBuf,
        #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
        format: PlanFormat,
    },
    /// Inspect the state, forget entries, or accept a hand edit.
    #[command(subcommand)]
    State(StateCommand),
    /// Release the state lock left by a pimplan that no longer runs.
    ///
    /// A holder on this machine is checked: its lock is released if its process is gone, and
    /// refused while it runs, even with `--force`. A holder on another machine, or an
    /// unreadable lock file, needs `--force`.
    ForceUnlock {
        /// The holder runs on another machine and is known to be gone (or the lock file is
        /// unreadable): release its lock all the same. Never releases a holder running here.
        #[arg(long)]
        force: bool,
    },
    /// Compare the state with Microsoft Graph and show changes made outside pimplan.
    Drift {
        /// Log every Graph request (the token is redacted).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Read the groups' schedules and policies from Microsoft Graph into a new state.
    Import {
        /// Import only these groups (object ids); default: every group of the workspace with an `id`.
        #[arg(long = "group", value_name = "ID")]
        groups: Vec<String>,
        /// Also write the YAML that declares what was imported.
        #[arg(long, value_name = "FILE")]
        generate_config: Option<PathBuf>,
        /// Log every Graph request (the token is redacted).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(hide = true)]
    Man,
}

/// The man page of the whole command line.
pub fn man_page() -> String {
    use clap::CommandFactory;
    let mut out = Vec::new();
    if clap_mangen::Man::new(Arguments::command())
        .render(&mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// One line per recorded assignment and policy: its address, as `plan` prints it, and
    /// its key.
    List {
        /// Only the entries whose address contains this text (`sre-prod/`, `policy `).
        filter: Option<String>,
        #[arg(long, value_enum, default_value_t = StateFormat::Human)]
        format: StateFormat,
    },
    /// Everything recorded for one entry.
    Show {
        /// The entry's address as `plan` and `state list` print it (`assignment
        /// sre-prod/mei (member, eligible)`), a short form that names one entry only
        /// (`sre-prod/mei`, `policy sre-prod`), or its key.
        address: String,
    },
    /// Forget entries: the next plan creates them again. Under the state's lock; the state
    /// before is kept as the backup.
    Rm {
        /// The entries, as `state show` takes them.
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// Forget them without asking (needed where there is no terminal to ask on).
        #[arg(long)]
        auto_approve: bool,
    },
    /// Accept a state file changed by hand: show what changed against its backup, then
    /// record a new checksum (the next serial; the backup is left as it is).
    AcceptEdit {
        /// Accept without asking (needed where there is no terminal to ask on).
        #[arg(long)]
        auto_approve: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    State,
    Graph,
}

impl TargetArg {
    pub fn target(self) -> crate::config::model::Target {
        match self {
            TargetArg::State => crate::config::model::Target::State,
            TargetArg::Graph => crate::config::model::Target::Graph,
        }
    }
}

/// `30s`, `2m`, `500ms`, or a number of seconds.
fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map_or((t, "s"), |i| (&t[..i], &t[i..]));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like `30s` or `2m`"))?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "s" => Ok(std::time::Duration::from_secs(n)),
        "m" => Ok(std::time::Duration::from_secs(n * 60)),
        _ => Err(format!("`{text}` is not a duration like `30s` or `2m`")),
    }
}

/// Run pimplan with the process arguments; returns the exit status.
pub fn main() -> ExitStatus {
    let args = match Arguments::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                crate::exit::for_error(subcommand_in(std::env::args().skip(1)).as_deref())
            } else {
                ExitStatus::Success
            };
        }
    };
    let command = command_name(&args.command);
    let mut stdout = std::io::stdout().lock();
    match run(args, &mut stdout) {
        Ok(status) => status,
        Err(report) => {
            eprintln!("{report:?}");
            crate::exit::for_error(Some(command))
        }
    }
}

/// The subcommand's name as typed on the command line.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Lint { .. } => "lint",
        Command::Plan { .. } => "plan",
        Command::Apply { .. } => "apply",
        Command::Drift { .. } => "drift",
        Command::Import { .. } => "import",
        Command::Show { .. } => "show",
        Command::State(_) => "state",
        Command::ForceUnlock { .. } => "force-unlock",
        _ => "other",
    }
}

/// The subcommand of arguments clap refused: the first word that names one, skipping the
/// values of global flags.
fn subcommand_in(args: impl Iterator<Item = String>) -> Option<String> {
    use clap::CommandFactory;
    let cmd = Arguments::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if matches!(a.as_str(), "-c" | "--config" | "--now" | "--color") {
            args.next();
        } else if names.contains(&a) {
            return Some(a);
        }
    }
    None
}

pub(crate) fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Why `what` may not be written to `out`: it would replace the state (or its backup or lock)
/// at `state`, or one of the workspace's `files`. An output path is the user's to choose, but
/// never one that loses a grant or a declaration.
pub(crate) fn refuse_overwrite<'a>(
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

pub(crate) fn write_out(out: &mut dyn Write, text: &str) -> miette::Result<()> {
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

/// Run one parsed command, writing its output to `out`. Errors that stop the command are
/// returned as miette reports (exit status 2).
pub fn run(mut args: Arguments, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    if let Some(name) = workspace_command(&args.command) {
        match locate_root(&args) {
            Ok(Some(root)) => args.config = Some(root),
            Ok(None) => {}
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(crate::exit::for_error(Some(name)));
            }
        }
    }
    match &args.command {
        Command::Rules => {
            write_out(out, &rules_table())?;
            Ok(ExitStatus::Success)
        }
        Command::Explain { code } => match rules::find(code) {
            Some(rule) => {
                write_out(out, &explain(rule))?;
                Ok(ExitStatus::Success)
            }
            None => {
                let hint = did_you_mean(code, rules::selectors()).map_or_else(
                    || " (`pimplan rules` lists every rule)".to_owned(),
                    |c| format!("; did you mean `{c}`?"),
                );
                eprintln!("error: unknown rule `{code}`{hint}");
                Ok(ExitStatus::Failure)
            }
        },
        Command::Init { dir } => crate::cli_init::init(&args, dir.as_deref(), out),
        Command::Schema => {
            write_out(out, &crate::schema::schema_json())?;
            Ok(ExitStatus::Success)
        }
        Command::Plan {
            out: plan_out,
            baseline,
            format,
            detailed_exitcode,
            allow_mass_removal,
            refresh,
            target,
        } => crate::cli_plan::plan(
            &args,
            &crate::cli_plan::PlanOptions {
                out_file: plan_out.as_deref(),
                baseline: baseline.as_deref(),
                format: *format,
                detailed: *detailed_exitcode,
                allow_mass_removal: *allow_mass_removal,
                refresh: *refresh,
                target: *target,
            },
            out,
        ),
        Command::Apply {
            plan_file,
            auto_approve,
            baseline,
            allow_mass_removal,
            lock_timeout,
            target,
            verbose,
        } => crate::cli_plan::apply(
            &args,
            &crate::cli_plan::ApplyOptions {
                plan_file: plan_file.clone(),
                baseline: baseline.clone(),
                auto_approve: *auto_approve,
                allow_mass_removal: *allow_mass_removal,
                lock_timeout: *lock_timeout,
                target: *target,
                verbose: *verbose,
            },
            out,
        ),
        Command::Show { plan_file, format } => {
            crate::cli_plan::show(&args, plan_file, *format, out)
        }
        Command::State(cmd) => crate::cli_plan::state(&args, cmd, out),
        Command::ForceUnlock { force } => crate::cli_plan::force_unlock(&args, *force, out),
        Command::Drift { verbose } => crate::cli_graph::drift(&args, *verbose, out),
        Command::Import {
            groups,
            generate_config,
            verbose,
        } => crate::cli_graph::import(
            &args,
            &crate::cli_graph::ImportOptions {
                groups,
                generate_config: generate_config.as_deref(),
                verbose: *verbose,
            },
            out,
        ),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut buffer = Vec::new();
            clap_complete::generate(*shell, &mut Arguments::command(), "pimplan", &mut buffer);
            write_out(out, &String::from_utf8_lossy(&buffer))?;
            Ok(ExitStatus::Success)
        }
        Command::Man => {
            write_out(out, &man_page())?;
            Ok(ExitStatus::Success)
        }
        Command::Lint {
            files,
            format,
            deny_warnings,
            baseline,
            write_baseline,
        } => crate::cli_lint::lint(
            &args,
            &crate::cli_lint::LintOptions {
                files,
                format: *format,
                deny_warnings: *deny_warnings,
                baseline: baseline.as_deref(),
                write_baseline: write_baseline.as_deref(),
            },
            out,
        ),
    }
}

/// The name of a command that reads a workspace, or `None`.
fn workspace_command(command: &Command) -> Option<&'static str> {
    match command {
        Command::Lint { .. }
        | Command::Plan { .. }
        | Command::Apply { .. }
        | Command::Drift { .. }
        | Command::Import { .. }
        | Command::State(_)
        | Command::ForceUnlock { .. } => Some(command_name(command)),
        _ => None,
    }
}

/// The root file every workspace command reads, found the same way for all of them: `-c`
/// wins; `lint DIR` names `DIR/pimplan.yaml`; otherwise the nearest `pimplan.yaml` in the
/// current folder or a folder above it, as git and cargo find theirs. `Ok(None)` leaves the
/// choice to the command (`lint` given several folders says why it refuses them). The error
/// reads the same for every command.
fn locate_root(args: &Arguments) -> Result<Option<PathBuf>, String> {
    let given = match (&args.config, &args.command) {
        (Some(c), _) => Some(c.clone()),
        (None, Command::Lint { files, .. }) => {
            let dirs: Vec<&PathBuf> = files.iter().filter(|p| p.is_dir()).collect();
            match dirs.as_slice() {
                [] => None,
                [dir] => Some(dir.join("pimplan.yaml")),
                _ => return Ok(None),
            }
        }
        (None, _) => None,
    };
    // Whatever exists is the loader's to read or refuse (a folder, a FIFO, a device).
    if let Some(root) = given {
        return if root.exists() {
            Ok(Some(root))
        } else {
            Err(format!(
                "no workspace root file at `{}`; give the root file with `-c PATH`",
                root.display()
            ))
        };
    }
    let here =
        std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
    for (up, dir) in here.ancestors().enumerate() {
        if dir.join("pimplan.yaml").exists() {
            // Relative to the current folder, as the user would type it.
            let mut root = PathBuf::new();
            for _ in 0..up {
                root.push("..");
            }
            root.push("pimplan.yaml");
            return Ok(Some(root));
        }
    }
    Err("no workspace root file at `pimplan.yaml` in this folder or any folder above it; give the root file with `-c PATH`".to_owned())
}

/// The workspace root file and, when files are named, the files to report on.
///
/// `-c` wins; otherwise a directory argument names the workspace (`DIR/pimplan.yaml`);
/// otherwise `./pimplan.yaml`.
pub(crate) fn workspace_and_files(
    config: Option<&Path>,
    files: &[PathBuf],
) -> miette::Result<(PathBuf, Option<Vec<PathBuf>>)> {
    let (dirs, plain): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|p| p.is_dir());
    if dirs.len() > 1 {
        miette::bail!(
            "lint one workspace at a time: {} directories given",
            dirs.len()
        );
    }
    let root = match (config, dirs.first()) {
        (Some(c), _) => c.to_path_buf(),
        (None, Some(dir)) => dir.join("pimplan.yaml"),
        (None, None) => PathBuf::from("pimplan.yaml"),
    };
    if plain.is_empty() {
        return Ok((root, None));
    }
    let mut only = Vec::new();
    for f in plain {
        let canonical = std::fs::canonicalize(f)
            .map_err(|e| miette::miette!("cannot read `{}`: {e}", f.display()))?;
        only.push(canonical);
    }
    Ok((root, Some(only)))
}

/// `pimplan rules`: one line per rule, each column as wide as its widest cell.
pub fn rules_table() -> String {
    let name_width = REGISTRY.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let severity_width = REGISTRY
        .iter()
        .map(|r| r.severity.as_str().len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for rule in REGISTRY {
        text.push_str(&format!(
            "{}  {:<name_width$}  {:<severity_width$}  {}\n",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.message
        ));
    }
    text
}

/// `pimplan explain`: what, why, example, fix, source.
pub fn explain(rule: &rules::Rule) -> String {
    let d = &rule.docs;
    let indent = |text: &str| {
        text.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "{code} {name} ({severity})\n\n{message}\n\nWhat it checks\n{what}\n\nWhy it matters\n{why}\n\nExample\n{example}\nHow to fix\n{fix}\n\nSource\n{source}\n\n{silencing}\n",
        code = rule.code,
        name = rule.name,
        severity = rule.severity,
        message = rule.message,
        what = indent(d.what).trim_end(),
        why = indent(d.why).trim_end(),
        example = indent(d.example),
        fix = indent(d.fix).trim_end(),
        source = indent(d.source).trim_end(),
        silencing = crate::render::rule_docs::silencing(rule),
    )
}
