//! The command line as clap reads it, and nothing else: each command's arguments become the
//! plain request its command file takes, here, so that no command body sees a clap type.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use super::apply::ApplyRequest;
use super::import::ImportRequest;
use super::lint::{LintFormat as Lint, LintRequest};
use super::output::{Color, PlanFormat as Plan};
use super::paths::{PathsFormat as Paths, PathsFrom, PathsRequest, PathsTarget};
use super::plan::PlanRequest;
use super::state::{StateFormat as List, StateRequest};
use crate::config::model::Target;

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
    Init(InitArgs),
    /// Parse the workspace and run every rule.
    Lint(LintArgs),
    /// List every rule with its code, name and default severity.
    Rules,
    /// Print one rule's documentation.
    Explain(ExplainArgs),
    /// Print the JSON Schema of the configuration.
    Schema,
    /// Lint, then show the changes that would make the state match the workspace.
    Plan(PlanArgs),
    /// Apply a saved plan, or plan and apply after confirmation.
    ///
    /// Each change is recorded in the state as it succeeds. With `--target graph`, changes are
    /// marked pending in the state before they are sent; changes an interrupted apply left
    /// pending are checked against Microsoft Graph, and recorded as the service holds them,
    /// before anything is planned.
    Apply(ApplyArgs),
    /// Print a plan saved with `plan --out`: its changes, its findings, what it was made from.
    Show(ShowArgs),
    /// Inspect the state, forget entries, accept a hand edit, pull and push the state, or
    /// migrate it to another place, list its snapshots and restore one.
    State(StateArgs),
    /// Release the state lock left by a pimplan that no longer runs.
    ///
    /// A holder on this machine is checked: its lock is released if its process is gone, and
    /// refused while it runs, even with `--force`. A holder on another machine, or an
    /// unreadable lock file, needs `--force`.
    ForceUnlock(ForceUnlockArgs),
    /// Who can reach a role or a group's membership, or what a principal can reach.
    ///
    /// Each principal is listed once, in the best (most dangerous) class of any of its
    /// paths (standing, no-approval-no-mfa, no-approval, approval), with the shortest path of
    /// that class, the gates on each edge and where each edge is declared. Assignments count
    /// while in effect at `--now`, or at `--at`. Computes even when lint reports errors that
    /// do not stop the workspace from loading, and exits 0 when it did.
    Paths(PathsArgs),
    /// Compare the state with Microsoft Graph and show changes made outside pimplan.
    Drift(DriftArgs),
    /// Read the groups' schedules and policies from Microsoft Graph into a new state.
    Import(ImportArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    #[command(hide = true)]
    Man,
}

// The argument structs carry no doc comment of their own: the variant's is the command's help.

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder of the new workspace (created if missing) [default: the current folder].
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Report only findings in these files; a directory names the workspace (its pimplan.yaml).
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Leave out the findings recorded in this baseline (see `--write-baseline`)
    /// [default: `baseline:` in pimplan.yaml].
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record every current finding in FILE, to adopt pimplan and fail only on new ones.
    #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
    pub write_baseline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule code (`PIM201`) or name (`assignment-too-short`).
    pub code: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Save the plan, for `pimplan apply PLANFILE`.
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Leave out the lint findings recorded in this baseline [default: `baseline:` in
    /// pimplan.yaml].
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Exit 0 with no changes, 2 with changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Allow a plan that removes more than `plan.max_removal_ratio` of the assignments (PIM703).
    #[arg(long)]
    pub allow_mass_removal: bool,
    /// Read the live schedules and policies from Microsoft Graph first, and show what
    /// changed outside pimplan.
    #[arg(long)]
    pub refresh: bool,
    /// Where the changes would go: the state file alone, or Microsoft Graph then the
    /// state [default: state, unless `target:` in pimplan.yaml says otherwise].
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    /// Log every request to Microsoft Graph (`--refresh`) and to a remote state's storage
    /// (method, path, status; the token, key or SAS is redacted) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out`; refused if the state or the workspace changed since.
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
    /// Apply without asking (needed without a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Leave out the lint findings recorded in this baseline [default: `baseline:` in
    /// pimplan.yaml].
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Allow a plan that removes more than `plan.max_removal_ratio` of the assignments (PIM703).
    #[arg(long)]
    pub allow_mass_removal: bool,
    /// How long to wait for another pimplan's lock on the state (`30s`, `2m`; default 0).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_wait)]
    pub lock_timeout: std::time::Duration,
    /// Where changes go: the state file alone (nothing is sent), or Microsoft Graph then
    /// the state [default: state, unless `target:` in pimplan.yaml says otherwise].
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    /// Log every request to Microsoft Graph and to a remote state's storage (method, path,
    /// status; the token, key or SAS is redacted) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").args(["target", "role", "group", "principal", "tier0"])))]
pub struct PathsArgs {
    /// A directory role's display name, else a group name, else a principal name.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// Who can reach this directory role.
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,
    /// Who can reach this group's membership.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// What this principal can reach.
    #[arg(long, value_name = "NAME")]
    pub principal: Option<String>,
    /// Who can reach any tier-0 role (`paths.tier0`), each with the role it reaches best.
    #[arg(long)]
    pub tier0: bool,
    /// List only paths of this class or a more dangerous one.
    #[arg(long, value_enum, default_value_t = ClassArg::Any)]
    pub class: ClassArg,
    /// Build the graph from the workspace's files, or from the assignments and policies the
    /// state records.
    #[arg(long, value_enum, default_value_t = FromArg::Files)]
    pub from: FromArg,
    /// Count the assignments in effect at this time instead of `--now` (RFC 3339 with offset).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = PathsFormat::Human)]
    pub format: PathsFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClassArg {
    Any,
    NoApproval,
    NoApprovalNoMfa,
    Standing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FromArg {
    Files,
    State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PathsFormat {
    Human,
    Json,
    Markdown,
    Dot,
    Mermaid,
}

impl From<PathsArgs> for PathsRequest {
    fn from(a: PathsArgs) -> Self {
        let target = if a.tier0 {
            Some(PathsTarget::Tier0)
        } else {
            a.role
                .map(PathsTarget::Role)
                .or(a.group.map(PathsTarget::Group))
                .or(a.principal.map(PathsTarget::Principal))
                .or(a.target.map(PathsTarget::Name))
        };
        PathsRequest {
            target,
            class: match a.class {
                ClassArg::Any => crate::paths::PathClass::Approval,
                ClassArg::NoApproval => crate::paths::PathClass::NoApproval,
                ClassArg::NoApprovalNoMfa => crate::paths::PathClass::NoApprovalNoMfa,
                ClassArg::Standing => crate::paths::PathClass::Standing,
            },
            from: match a.from {
                FromArg::Files => PathsFrom::Files,
                FromArg::State => PathsFrom::State,
            },
            at: a.at,
            format: match a.format {
                PathsFormat::Human => Paths::Human,
                PathsFormat::Json => Paths::Json,
                PathsFormat::Markdown => Paths::Markdown,
                PathsFormat::Dot => Paths::Dot,
                PathsFormat::Mermaid => Paths::Mermaid,
            },
        }
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `plan --out`.
    #[arg(value_name = "PLANFILE")]
    pub plan_file: PathBuf,
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The holder's lock id, as the "locked" message shows it: release the lock held by that
    /// id, whoever and wherever the holder is (you vouch for it with the id; a remote lease
    /// is released by it), except a local holder checked to run on this machine. Another id
    /// is refused and nothing is changed.
    #[arg(value_name = "LOCK_ID")]
    pub lock_id: Option<String>,
    /// The holder runs on another machine and is known to be gone (or the lock file is
    /// unreadable): release its lock (break a remote state's lease) all the same. Never
    /// releases a local holder running here.
    #[arg(long, conflicts_with = "lock_id")]
    pub force: bool,
    /// Log every request to a remote state's storage (the key, SAS or token is redacted)
    /// to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
    /// Log every request to a remote state's storage (method, path, status, the kind of
    /// authorization; the key, SAS or token is redacted) to stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Log every request to Microsoft Graph and to a remote state's storage (the token,
    /// key or SAS is redacted) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Import only these groups (object ids); default: every group of the workspace with an `id`.
    #[arg(long = "group", value_name = "ID")]
    pub groups: Vec<String>,
    /// Also write the YAML that declares what was imported.
    #[arg(long, value_name = "FILE")]
    pub generate_config: Option<PathBuf>,
    /// Log every request to Microsoft Graph and to a remote state's storage (the token,
    /// key or SAS is redacted) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// The man page of the whole command line.
pub fn man_page() -> String {
    let mut out = Vec::new();
    if clap_mangen::Man::new(Arguments::command())
        .render(&mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The completions of the whole command line for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Arguments::command(), "pimplan", &mut buffer);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// The names of the subcommands, as typed.
pub fn subcommand_names() -> Vec<String> {
    Arguments::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
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
    /// Print the state's bytes as they are (`pimplan state pull > FILE`), local or remote.
    Pull,
    /// Replace the state by a state file, under the lock: refused when it is another state
    /// (lineage), older (a lower serial) or the same serial with other content, unless
    /// `--force`; the file must be a valid state, its checksum checked. The state before is
    /// kept as the backup.
    Push {
        /// The state file to push (`state pull` writes one).
        file: std::path::PathBuf,
        /// Push another lineage, a lower serial or the same serial with other content; it is
        /// written as the next serial of the state it replaces, so that the serial never goes
        /// back and every plan saved before is stale.
        #[arg(long)]
        force: bool,
    },
    /// Move the state to another place: a blob in Azure Storage (`azurerm://…`) or a local
    /// file.
    ///
    /// Under both locks, the state (which must be valid; changes an interrupted apply left
    /// pending move with it) is written to the target, read back and compared by SHA-256;
    /// then a local state file is renamed `NAME.migrated` and the YAML to put under `state:`
    /// in pimplan.yaml is printed (pimplan.yaml is not edited). Refused when the target
    /// holds the same state at a serial not below this one, or another state unless
    /// `--force`.
    Migrate {
        /// `azurerm://ACCOUNT/CONTAINER/KEY`, or the path of a local state file below the
        /// root file's folder.
        #[arg(long, value_name = "TARGET")]
        to: String,
        /// The Blob service's URL, for an `azurerm://` target (Azurite:
        /// `http://127.0.0.1:10000/devstoreaccount1`) [default: `https://ACCOUNT.blob.core.windows.net`].
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// How requests to an `azurerm://` target are authorized: `entra`, `shared_key`
        /// (`AZURE_STORAGE_KEY`) or `sas` (`AZURE_STORAGE_SAS_TOKEN`) [default: entra].
        #[arg(long, value_name = "AUTH")]
        auth: Option<String>,
        /// Replace another state (another lineage, or something that is no state) at the
        /// target; its version before is kept as the target's backup.
        #[arg(long)]
        force: bool,
        /// How long to wait for another pimplan's lock on the state or the target (`30s`,
        /// `2m`; default 0).
        #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_wait)]
        lock_timeout: std::time::Duration,
    },
    /// The kept earlier versions of the state, newest first, each with the id `state
    /// restore` takes, its size, and the serial and lineage its first lines hold (read for
    /// the newest 50): a remote state's blob snapshots (one per apply or other write that
    /// changed it, with `snapshot: true`), a local state's backup (`backup`). No lock is
    /// taken.
    Snapshots {
        #[arg(long, value_enum, default_value_t = StateFormat::Human)]
        format: StateFormat,
    },
    /// Restore a snapshot (`state snapshots` lists them) under the lock: it must be a valid
    /// state of the same lineage; it is written as the next serial of the state, so that
    /// every plan saved before is stale; the state before is kept as the backup.
    Restore {
        /// The snapshot's id as `state snapshots` prints it (`backup` for a local state).
        snapshot: String,
        /// Restore without asking (needed where there is no terminal to ask on).
        #[arg(long)]
        auto_approve: bool,
        /// Restore a snapshot of another lineage, or over a state that cannot be read.
        #[arg(long)]
        force: bool,
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

impl From<TargetArg> for Target {
    fn from(t: TargetArg) -> Self {
        match t {
            TargetArg::State => Target::State,
            TargetArg::Graph => Target::Graph,
        }
    }
}

impl From<ColorChoice> for Color {
    fn from(c: ColorChoice) -> Self {
        match c {
            ColorChoice::Auto => Color::Auto,
            ColorChoice::Always => Color::Always,
            ColorChoice::Never => Color::Never,
        }
    }
}

impl From<LintFormat> for Lint {
    fn from(f: LintFormat) -> Self {
        match f {
            LintFormat::Human => Lint::Human,
            LintFormat::Json => Lint::Json,
            LintFormat::Sarif => Lint::Sarif,
            LintFormat::Github => Lint::Github,
        }
    }
}

impl From<PlanFormat> for Plan {
    fn from(f: PlanFormat) -> Self {
        match f {
            PlanFormat::Human => Plan::Human,
            PlanFormat::Json => Plan::Json,
            PlanFormat::Markdown => Plan::Markdown,
        }
    }
}

impl From<StateFormat> for List {
    fn from(f: StateFormat) -> Self {
        match f {
            StateFormat::Human => List::Human,
            StateFormat::Json => List::Json,
        }
    }
}

impl From<LintArgs> for LintRequest {
    fn from(a: LintArgs) -> Self {
        LintRequest {
            files: a.files,
            format: a.format.into(),
            deny_warnings: a.deny_warnings,
            baseline: a.baseline,
            write_baseline: a.write_baseline,
        }
    }
}

impl From<PlanArgs> for PlanRequest {
    fn from(a: PlanArgs) -> Self {
        PlanRequest {
            out_file: a.out,
            baseline: a.baseline,
            format: a.format.into(),
            detailed: a.detailed_exitcode,
            allow_mass_removal: a.allow_mass_removal,
            refresh: a.refresh,
            target: a.target.map(Target::from),
            verbose: a.verbose,
        }
    }
}

impl From<ApplyArgs> for ApplyRequest {
    fn from(a: ApplyArgs) -> Self {
        ApplyRequest {
            plan_file: a.plan_file,
            baseline: a.baseline,
            auto_approve: a.auto_approve,
            allow_mass_removal: a.allow_mass_removal,
            lock_timeout: a.lock_timeout,
            target: a.target.map(Target::from),
            verbose: a.verbose,
        }
    }
}

impl From<StateCommand> for StateRequest {
    fn from(c: StateCommand) -> Self {
        match c {
            StateCommand::List { filter, format } => StateRequest::List {
                filter,
                format: format.into(),
            },
            StateCommand::Show { address } => StateRequest::Show { address },
            StateCommand::Rm {
                addresses,
                auto_approve,
            } => StateRequest::Rm {
                addresses,
                auto_approve,
            },
            StateCommand::AcceptEdit { auto_approve } => StateRequest::AcceptEdit { auto_approve },
            StateCommand::Pull => StateRequest::Pull,
            StateCommand::Push { file, force } => StateRequest::Push { file, force },
            StateCommand::Migrate {
                to,
                endpoint,
                auth,
                force,
                lock_timeout,
            } => StateRequest::Migrate {
                to,
                endpoint,
                auth,
                force,
                lock_timeout,
            },
            StateCommand::Snapshots { format } => StateRequest::Snapshots {
                format: format.into(),
            },
            StateCommand::Restore {
                snapshot,
                auto_approve,
                force,
            } => StateRequest::Restore {
                snapshot,
                auto_approve,
                force,
            },
        }
    }
}

impl From<ImportArgs> for ImportRequest {
    fn from(a: ImportArgs) -> Self {
        ImportRequest {
            groups: a.groups,
            generate_config: a.generate_config,
            verbose: a.verbose,
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
