//! The command line: clap arguments (`arguments.rs`, nothing else sees clap), turned into one
//! command run with one [`RunContext`]. Each command is a file of its own and none imports
//! another: what they share is in `output.rs` and `workspace.rs`, or below `cli`.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

use crate::clock::Clock;
use crate::exit::ExitStatus;

pub mod apply;
pub mod arguments;
pub mod docs;
pub mod drift;
pub mod import;
pub mod init;
pub mod lint;
pub mod output;
pub mod paths;
pub mod plan;
pub mod show;
pub mod state;
pub mod workspace;

pub use arguments::{Arguments, Command, man_page};

/// What every command gets from the global flags, built once per run.
pub struct RunContext {
    /// `-c`, or the root file found for a command that reads a workspace.
    pub config: Option<PathBuf>,
    /// The one clock of the run (`--now`, or the system clock read once).
    pub clock: Clock,
    /// Whether human output is coloured (`--color`, `NO_COLOR`, a terminal).
    pub color: bool,
    /// `--quiet`.
    pub quiet: bool,
}

impl RunContext {
    /// The workspace root file: `-c`, else `./pimplan.yaml`.
    pub fn root(&self) -> PathBuf {
        workspace::root(self.config.as_deref())
    }

    pub fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.clock.now()
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
        Command::Lint(_) => "lint",
        Command::Plan(_) => "plan",
        Command::Apply(_) => "apply",
        Command::Drift(_) => "drift",
        Command::Import(_) => "import",
        Command::Show(_) => "show",
        Command::Paths(_) => "paths",
        Command::State(_) => "state",
        Command::ForceUnlock(_) => "force-unlock",
        _ => "other",
    }
}

/// The subcommand of arguments clap refused: the first word that names one, skipping the
/// values of global flags.
fn subcommand_in(args: impl Iterator<Item = String>) -> Option<String> {
    let names = arguments::subcommand_names();
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

/// Run one parsed command, writing its output to `out`. Errors that stop the command are
/// returned as miette reports (exit status 2).
pub fn run(args: Arguments, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    // A remote state with `auth: entra` signs in as Microsoft Graph does.
    crate::graph::storage_token::register();
    let mut config = args.config;
    if let Some(name) = workspace_command(&args.command) {
        let lint_files = match &args.command {
            Command::Lint(lint) => Some(lint.files.as_slice()),
            _ => None,
        };
        match workspace::locate_root(config.as_deref(), lint_files) {
            Ok(Some(root)) => config = Some(root),
            Ok(None) => {}
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(crate::exit::for_error(Some(name)));
            }
        }
    }
    // A bad `PIMPLAN_CA_FILE` stops every command that may reach a service, before any
    // request: it is never ignored.
    if let Some(name) = workspace_command(&args.command)
        && let Err(message) = crate::http::check_ca_file()
    {
        eprintln!("error: {message}");
        return Ok(crate::exit::for_error(Some(name)));
    }
    // Only the commands that read the clock refuse a bad `--now`.
    let clock = if reads_clock(&args.command) {
        Clock::from_flag(args.now.as_deref()).map_err(|e| miette::miette!("{e}"))?
    } else {
        Clock::system()
    };
    let cx = RunContext {
        config,
        clock,
        color: output::use_color(args.color.into()),
        quiet: args.quiet,
    };
    match args.command {
        Command::Rules => docs::rules(out),
        Command::Explain(a) => docs::explain(&a.code, out),
        Command::Schema => docs::schema(out),
        Command::Init(a) => init::run(&cx, a.dir.as_deref(), out),
        Command::Lint(a) => lint::run(&cx, &a.into(), out),
        Command::Plan(a) => plan::run(&cx, &a.into(), out),
        Command::Apply(a) => apply::run(&cx, &a.into(), out),
        Command::Show(a) => show::run(&cx, &a.plan_file, a.format.into(), out),
        Command::State(a) => state::run(&cx, &a.command.into(), a.verbose, out),
        Command::ForceUnlock(a) => {
            state::force_unlock(&cx, a.lock_id.as_deref(), a.force, a.verbose, out)
        }
        Command::Paths(a) => paths::run(&cx, &a.into(), out),
        Command::Drift(a) => drift::run(&cx, a.verbose, out),
        Command::Import(a) => import::run(&cx, &a.into(), out),
        Command::Completions(a) => output::print(out, &arguments::completions(a.shell)),
        Command::Man => output::print(out, &man_page()),
    }
}

/// Whether `command` reads the clock (and so refuses a bad `--now`).
fn reads_clock(command: &Command) -> bool {
    matches!(
        command,
        Command::Lint(_)
            | Command::Plan(_)
            | Command::Apply(_)
            | Command::Drift(_)
            | Command::Import(_)
            | Command::Paths(_)
    )
}

/// The name of a command that reads a workspace, or `None`.
fn workspace_command(command: &Command) -> Option<&'static str> {
    match command {
        Command::Lint(_)
        | Command::Plan(_)
        | Command::Apply(_)
        | Command::Drift(_)
        | Command::Import(_)
        | Command::Paths(_)
        | Command::State(_)
        | Command::ForceUnlock(_) => Some(command_name(command)),
        _ => None,
    }
}
