//! The state commands: `state list`, `state show` and `state rm` (the state's entries under
//! the addresses the plan prints), `state accept-edit` (a local file only), `state pull` and
//! `state push` (any backend), and `force-unlock`. The state is read
//! and written through `crate::state` and its store (lock, backup, seal), never as a file here.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use miette::IntoDiagnostic;
use serde_json::json;

use super::RunContext;
use super::output::{confirm_with, fail, write_out};
use super::workspace::{open_backend, state_backend, state_location};
use crate::config::model::StateLocation;
use crate::exit::ExitStatus;
use crate::finding::did_you_mean;
use crate::state::backend::{LockInfo, StateBackend, Unlock};
use crate::state::entries::{self, Entry, Object, Unresolved};
use crate::state::{self, LoadedState, State, StateError, store};

/// What `pimplan state …` was asked.
pub enum StateRequest {
    List {
        filter: Option<String>,
        format: StateFormat,
    },
    Show {
        address: String,
    },
    Rm {
        addresses: Vec<String>,
        auto_approve: bool,
    },
    AcceptEdit {
        auto_approve: bool,
    },
    Pull,
    Push {
        file: std::path::PathBuf,
        force: bool,
    },
    Migrate {
        to: String,
        endpoint: Option<String>,
        auth: Option<String>,
        force: bool,
        lock_timeout: Duration,
    },
    Snapshots {
        format: StateFormat,
    },
    Restore {
        snapshot: String,
        auto_approve: bool,
        force: bool,
    },
}

/// How `state list` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFormat {
    Human,
    Json,
}

/// `verbose` (`-v`): log each request to a remote state's storage.
pub fn run(
    cx: &RunContext,
    request: &StateRequest,
    verbose: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let location = match state_location(&cx.root()) {
        Ok(l) => l,
        Err(e) => return Ok(fail(e)),
    };
    let backend = open_backend(&location, verbose);
    let backend = backend.as_ref();
    match request {
        StateRequest::AcceptEdit { auto_approve } => match location.local_path() {
            Some(path) => accept_edit(path, backend, *auto_approve, out),
            None => Ok(fail(format!(
                "`state accept-edit` works on a local state file only (it shows the edit against the `.backup` beside it), and the state is `{}`; to change a remote state, `pimplan state pull > FILE`, edit FILE, then `pimplan state push FILE`, which checks it",
                backend.describe()
            ))),
        },
        StateRequest::List { filter, format } => list(backend, filter.as_deref(), *format, out),
        StateRequest::Pull => pull(backend, out),
        StateRequest::Push { file, force } => push(&location, backend, file, *force, out),
        StateRequest::Snapshots { format } => snapshots(backend, *format, out),
        StateRequest::Restore {
            snapshot,
            auto_approve,
            force,
        } => restore(&location, backend, snapshot, *auto_approve, *force, out),
        StateRequest::Show { address } => show(backend, address, out),
        StateRequest::Migrate {
            to,
            endpoint,
            auth,
            force,
            lock_timeout,
        } => {
            let root = cx.root();
            let dir = root.parent().unwrap_or(Path::new(""));
            migrate(
                &location,
                backend,
                dir,
                to,
                endpoint.as_deref(),
                auth.as_deref(),
                *force,
                *lock_timeout,
                verbose,
                out,
            )
        }
        StateRequest::Rm {
            addresses,
            auto_approve,
        } => rm(&location, backend, addresses, *auto_approve, out),
    }
}

/// The most lines of difference `state accept-edit` shows.
const MAX_DIFF_LINES: usize = 400;

/// `state accept-edit`: a state changed by hand is checked like any other (only its checksum
/// is not), what changed against the backup is shown, and, once confirmed, it is written
/// again under the lock with the next serial and a new checksum. The backup stays the state
/// before the last apply, so that the edit can still be undone from it. `path`: the state's
/// file, beside which the backup is.
fn accept_edit(
    path: &Path,
    backend: &dyn StateBackend,
    auto_approve: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let mut lock = match backend.lock(
        LockInfo::this_process("pimplan state accept-edit"),
        Duration::ZERO,
    ) {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(e)),
    };
    match state::read_locked(lock.as_mut(), true) {
        Ok(loaded) if !loaded.exists() => {
            return Ok(fail(format!(
                "no state at `{}`; nothing to accept",
                path.display()
            )));
        }
        Ok(loaded) => {
            let why = match loaded.text.as_deref().map(state::check_seal) {
                Some(state::Seal::Absent) => {
                    "it was written by an older pimplan, before states carried a checksum; it gets one on its next write"
                }
                _ => "its content matches its checksum",
            };
            write_out(
                out,
                &format!(
                    "The state `{}` has not been changed by hand: {why}. Nothing to accept.
",
                    path.display()
                ),
            )?;
            return Ok(ExitStatus::Success);
        }
        Err(StateError::Edited { .. }) => {}
        Err(e) => return Ok(fail(e)),
    }
    let mut loaded = match state::read_locked(lock.as_mut(), false) {
        Ok(s) => s,
        Err(e) => return Ok(fail(format!("{e}; nothing was accepted"))),
    };
    // What would be written, against the backup, both without their checksums (and the
    // serial as it is now): what the edit and the applies since the backup changed.
    let target = store::state_target(path).unwrap_or_else(|_| path.to_path_buf());
    let backup = store::backup_path(&target);
    let now = loaded.state.to_json_unsealed();
    // The backup is pimplan's own file beside the state (apply replaces a link there): a link
    // in its place is not followed, so the diff cannot print a file from anywhere else.
    let linked = std::fs::symlink_metadata(&backup).is_ok_and(|m| m.file_type().is_symlink());
    let read = if linked {
        Err(crate::fs::ReadError::Io(std::io::Error::other(
            "it is a symbolic link, which pimplan does not follow for a backup; the next apply replaces it",
        )))
    } else {
        crate::fs::read_bounded_text(&backup, state::MAX_STATE_BYTES)
    };
    let text = match read {
        Ok(before) => {
            let before = state::unsealed(&before);
            let diff = similar::TextDiff::configure()
                .timeout(Duration::from_secs(5))
                .diff_lines(&before, &now);
            let mut lines: Vec<String> = diff
                .unified_diff()
                .context_radius(2)
                .header(&backup.display().to_string(), &path.display().to_string())
                .to_string()
                .lines()
                .map(str::to_owned)
                .collect();
            if lines.is_empty() {
                "It reads the same as its backup.
"
                .to_owned()
            } else {
                let more = lines.len().saturating_sub(MAX_DIFF_LINES);
                lines.truncate(MAX_DIFF_LINES);
                if more > 0 {
                    lines.push(format!("… and {more} more line(s)"));
                }
                format!(
                    "What changed against `{}` (the state before the last apply, so the changes of that apply show too):

{}
",
                    backup.display(),
                    lines.join("\n")
                )
            }
        }
        Err(e) if e.is_not_found() => format!(
            "There is no backup (`{}`) to compare it with.
",
            backup.display()
        ),
        Err(e) => format!(
            "The backup `{}` cannot be read ({e}).
",
            backup.display()
        ),
    };
    write_out(
        out,
        &format!(
            "The state `{}` was changed by something other than pimplan.
{text}",
            path.display()
        ),
    )?;
    if !auto_approve {
        if !std::io::stdin().is_terminal() {
            return Ok(fail(
                "refusing to accept the edit without confirmation: there is no terminal to ask on; pass `--auto-approve`",
            ));
        }
        if !confirm_with(
            out,
            "\nDo you want pimplan to use the state as it is now? Only `yes` is accepted: ",
        )? {
            write_out(
                out,
                "Nothing was accepted; the state was not changed.
",
            )?;
            return Ok(ExitStatus::Findings);
        }
    }
    // An accepted edit starts a state no saved plan was made from: an interrupted apply's
    // plan may not continue on it (see `check_fresh`), so its marker goes.
    let dropped = loaded.state.applying.take().is_some();
    if let Err(e) = state::write_locked(lock.as_mut(), &mut loaded.state) {
        return Ok(fail(e));
    }
    if dropped {
        write_out(
            out,
            "The saved plan an interrupted apply was carrying out no longer applies to this state; make a new plan.\n",
        )?;
    }
    write_out(
        out,
        &format!(
            "Accepted: `{}` is serial {} now, with a new checksum.
",
            path.display(),
            loaded.state.serial
        ),
    )?;
    Ok(ExitStatus::Success)
}

/// `pimplan force-unlock [LOCK_ID] [--force]`. Without either, a holder that cannot be
/// checked is released only once a person at a terminal answers `yes`.
pub fn force_unlock(
    cx: &RunContext,
    lock_id: Option<&str>,
    force: bool,
    verbose: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let backend = match state_backend(&cx.root(), verbose) {
        Ok(b) => b,
        Err(e) => return Ok(fail(e)),
    };
    let how = match (lock_id, force) {
        (Some(id), _) => Unlock::Id(id),
        (None, true) => Unlock::Force,
        (None, false) => Unlock::Checked,
    };
    let mut released = backend.force_unlock(how);
    if let Err(StateError::Unchecked { message, id }) = &released
        && std::io::stdin().is_terminal()
    {
        write_out(out, &format!("{message}\n"))?;
        if !confirm_with(out, "\nIs that holder gone? Only `yes` releases its lock: ")? {
            write_out(out, "Nothing was released.\n")?;
            return Ok(ExitStatus::Findings);
        }
        // By the id shown, when there is one: a lock another pimplan took meanwhile is
        // not the one confirmed, and stays.
        let id = id.clone();
        released = match id.as_deref() {
            Some(id) => backend.force_unlock(Unlock::Id(id)),
            None => backend.force_unlock(Unlock::Force),
        }
        .map(|r| {
            r.map(|mut r| {
                r.why = "`yes` at the prompt: its holder was said to be gone";
                r
            })
        });
    }
    match released {
        Ok(Some(released)) => {
            let holder = released.holder.map_or_else(
                || "an unknown holder (unreadable lock file)".to_owned(),
                |h| h.to_string(),
            );
            write_out(
                out,
                &format!("Released the lock held by {holder} ({}).\n", released.why),
            )?;
            Ok(ExitStatus::Success)
        }
        Ok(None) => {
            write_out(
                out,
                &format!("The state `{}` is not locked.\n", backend.describe()),
            )?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Ok(fail(e)),
    }
}

/// Version of `state list --format json`.
const LIST_FORMAT_VERSION: u32 = 1;

fn read(backend: &dyn StateBackend) -> Result<LoadedState, ExitStatus> {
    state::read_from(backend).map_err(fail)
}

/// `state list [FILTER] [--format human|json]`: each assignment and policy with its address
/// (as the plan prints it) and key, then what waits for the service. FILTER keeps the
/// entries whose address contains it.
fn list(
    backend: &dyn StateBackend,
    filter: Option<&str>,
    format: StateFormat,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let loaded = match read(backend) {
        Ok(l) => l,
        Err(status) => return Ok(status),
    };
    let st = &loaded.state;
    let keep = |address: &str| filter.is_none_or(|f| address.contains(f));
    let all = entries::entries(st);
    let shown: Vec<&Entry> = all.iter().filter(|e| keep(&e.address)).collect();
    let removed: Vec<(String, &str)> = st
        .removed
        .iter()
        .map(|r| (crate::plan::assignment_address(&r.spec), r.key.as_str()))
        .filter(|(address, _)| keep(address))
        .collect();
    let pending: Vec<&state::Pending> = st
        .pending
        .iter()
        .filter(|p| keep(&p.change.address))
        .collect();
    let text = match format {
        StateFormat::Json => list_json(backend, &loaded, &shown, &removed, &pending),
        StateFormat::Human => {
            let mut text = String::new();
            if !loaded.exists() {
                text.push_str(&format!("no state yet at `{}`\n", backend.describe()));
            }
            let width = shown.iter().map(|e| e.address.len()).max().unwrap_or(0);
            let key_width = shown.iter().map(|e| e.key.len()).max().unwrap_or(0);
            for e in &shown {
                text.push_str(&format!(
                    "{:<width$}  {:<key_width$}  {}\n",
                    e.address,
                    e.key,
                    recorded(st, e)
                ));
            }
            for e in &shown {
                if let Some(a) = st.assignment(&e.key)
                    && let Some(status) = &a.request_status
                {
                    text.push_str(&format!(
                        "waiting: {}  request {} was {status} when last read; not carried out yet\n",
                        e.address,
                        a.request_id.as_deref().unwrap_or("(no id)")
                    ));
                }
            }
            for (address, key) in &removed {
                text.push_str(&format!(
                    "removed: {address}  {key}  removed by an apply to the state alone, still in Microsoft Graph\n"
                ));
            }
            for p in &pending {
                text.push_str(&format!(
                    "pending: {}  sent by an apply at {}, not known whether the service holds it\n",
                    p.change.address,
                    when(&p.started_at)
                ));
            }
            if filter.is_none()
                && let Some(a) = &st.applying
            {
                text.push_str(&format!(
                    "applying: the saved plan {} (made from serial {}) stopped before its end; applying the same plan file again finishes it\n",
                    a.plan, a.from_serial
                ));
            }
            if let Some(f) = filter
                && shown.is_empty()
                && removed.is_empty()
                && pending.is_empty()
                && loaded.exists()
            {
                eprintln!(
                    "note: no entry's address contains `{f}` ({} entries in the state; `pimplan state list` shows them all)",
                    all.len()
                );
            }
            text
        }
    };
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}

/// When an entry was applied and, for an assignment, when it ends.
fn recorded(st: &State, entry: &Entry) -> String {
    match entry.object {
        Object::Assignment => st.assignment(&entry.key).map_or_else(String::new, |a| {
            let ends = a
                .ends_at
                .map_or_else(|| "permanent".to_owned(), |e| format!("ends {}", when(&e)));
            format!("applied {}  {ends}", when(&a.applied_at))
        }),
        Object::Policy => st
            .policy(&entry.key)
            .map_or_else(String::new, |p| format!("applied {}", when(&p.applied_at))),
    }
}

fn list_json(
    backend: &dyn StateBackend,
    loaded: &LoadedState,
    shown: &[&Entry],
    removed: &[(String, &str)],
    pending: &[&state::Pending],
) -> String {
    let st = &loaded.state;
    let entries: Vec<serde_json::Value> = shown
        .iter()
        .map(|e| {
            let mut v = json!({
                "address": e.address,
                "key": e.key,
                "object": e.object.as_str(),
            });
            if let Some(o) = v.as_object_mut() {
                match e.object {
                    Object::Assignment => {
                        if let Some(a) = st.assignment(&e.key) {
                            o.insert("applied_at".into(), json!(a.applied_at));
                            o.insert("ends_at".into(), json!(a.ends_at));
                            if let Some(status) = &a.request_status {
                                o.insert("request_status".into(), json!(status));
                            }
                        }
                    }
                    Object::Policy => {
                        if let Some(p) = st.policy(&e.key) {
                            o.insert("applied_at".into(), json!(p.applied_at));
                        }
                    }
                }
            }
            v
        })
        .collect();
    let value = json!({
        "format_version": LIST_FORMAT_VERSION,
        "state": backend.describe(),
        "exists": loaded.exists(),
        "lineage": loaded.exists().then_some(&st.lineage),
        "serial": st.serial,
        "entries": entries,
        "removed": removed
            .iter()
            .map(|(address, key)| json!({ "address": address, "key": key }))
            .collect::<Vec<_>>(),
        "pending": pending
            .iter()
            .map(|p| json!({ "address": p.change.address, "started_at": p.started_at }))
            .collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Why `query` names no single entry, in words.
fn unresolved(all: &[Entry], query: &str, why: &Unresolved) -> String {
    match why {
        Unresolved::Unknown => {
            let names = all
                .iter()
                .flat_map(|e| [e.address.as_str(), e.key.as_str()]);
            let hint = did_you_mean(query, names)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            format!(
                "no entry `{query}` in the state{hint} (`pimplan state list` shows every address and key)"
            )
        }
        Unresolved::Ambiguous(named) => {
            // Entries whose addresses are alike are told apart by their keys.
            let alike = |address: &str| named.iter().filter(|(a, _)| a == address).count() > 1;
            let lines: Vec<String> = named
                .iter()
                .map(|(address, key)| {
                    if alike(address) {
                        format!("    {address}  {key}")
                    } else {
                        format!("    {address}")
                    }
                })
                .collect();
            let give = if named.iter().any(|(a, _)| alike(a)) {
                "give the key of the one meant (their addresses are alike)"
            } else {
                "give the whole address (or the key) of the one meant"
            };
            format!(
                "`{query}` names {} entries of the state:\n{}\n  {give}",
                named.len(),
                lines.join("\n")
            )
        }
    }
}

/// `state show ADDRESS`: everything recorded for the entry, as JSON, its address first.
fn show(
    backend: &dyn StateBackend,
    query: &str,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let loaded = match read(backend) {
        Ok(l) => l,
        Err(status) => return Ok(status),
    };
    if !loaded.exists() {
        return Ok(fail(format!(
            "no state at `{}`; nothing to show (`pimplan apply` or `pimplan import` makes one)",
            backend.describe()
        )));
    }
    let st = &loaded.state;
    let all = entries::entries(st);
    let entry = match entries::resolve(&all, query) {
        Ok(e) => e,
        Err(why) => return Ok(fail(unresolved(&all, query, &why))),
    };
    let record = match entry.object {
        Object::Assignment => st.assignment(&entry.key).map(serde_json::to_value),
        Object::Policy => st.policy(&entry.key).map(serde_json::to_value),
    }
    .and_then(Result::ok);
    let mut value = json!({ "address": entry.address });
    if let (Some(o), Some(serde_json::Value::Object(fields))) = (value.as_object_mut(), record) {
        o.extend(fields);
    }
    write_out(
        out,
        &format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
    )?;
    Ok(ExitStatus::Success)
}

/// `state rm ADDRESS… [--auto-approve]`: forget entries, so that the next plan creates them
/// again. Under the state's lock (refused at once while another pimplan holds it, like
/// `state accept-edit`); every address must name one entry, or nothing is written; once
/// confirmed, the state before is kept as the backup and the next serial is written, sealed.
fn rm(
    location: &StateLocation,
    backend: &dyn StateBackend,
    queries: &[String],
    auto_approve: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let mut lock = match backend.lock(LockInfo::this_process("pimplan state rm"), Duration::ZERO) {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(format!("{e}; nothing was removed"))),
    };
    let loaded = match state::read_locked(lock.as_mut(), true) {
        Ok(l) => l,
        Err(e) => return Ok(fail(e)),
    };
    if !loaded.exists() {
        return Ok(fail(format!(
            "no state at `{}`; nothing to remove",
            backend.describe()
        )));
    }
    let st = &loaded.state;
    let all = entries::entries(st);
    let mut chosen: Vec<&Entry> = Vec::new();
    let mut problems = Vec::new();
    for query in queries {
        match entries::resolve(&all, query) {
            Ok(e) if st.pending.iter().any(|p| p.change.address == e.address) => {
                problems.push(format!(
                    "`{}` has a change an interrupted apply left pending; run `pimplan apply --target graph`, which checks it against the service first",
                    e.address
                ));
            }
            Ok(e) => {
                if !chosen.contains(&e) {
                    chosen.push(e);
                }
            }
            Err(why) => problems.push(unresolved(&all, query, &why)),
        }
    }
    if !problems.is_empty() {
        return Ok(fail(format!(
            "{}\nnothing was removed",
            problems.join("\n")
        )));
    }
    let lines: String = chosen
        .iter()
        .map(|e| format!("  - {}  {}\n", e.address, e.key))
        .collect();
    if !auto_approve {
        if !std::io::stdin().is_terminal() {
            return Ok(fail(
                "refusing to remove entries from the state without confirmation: there is no terminal to ask on; pass `--auto-approve`; nothing was removed",
            ));
        }
        write_out(
            out,
            &format!(
                "pimplan will forget these entries of `{}` (the next plan creates them again):\n{lines}",
                backend.describe()
            ),
        )?;
        if !confirm_with(
            out,
            "\nDo you want to remove them from the state? Only `yes` is accepted: ",
        )? {
            write_out(out, "Nothing was removed; the state was not changed.\n")?;
            return Ok(ExitStatus::Findings);
        }
    }
    let mut changed = st.clone();
    let keys: Vec<&str> = chosen.iter().map(|e| e.key.as_str()).collect();
    entries::forget(&mut changed, &keys);
    // The state no longer descends from a saved plan's state through applies of that plan
    // alone: an interrupted apply's plan may not continue on it (see `check_fresh`).
    let dropped = changed.applying.take().is_some();
    if let Err(e) = state::replace_locked(lock.as_mut(), &loaded, &mut changed) {
        return Ok(fail(format!("{e}; nothing was removed")));
    }
    let mut text = format!(
        "Removed {} entr{} from `{}` (now serial {}; {}):\n{lines}The next plan creates {} again.\n",
        chosen.len(),
        if chosen.len() == 1 { "y" } else { "ies" },
        backend.describe(),
        changed.serial,
        kept_before(location),
        if chosen.len() == 1 { "it" } else { "them" },
    );
    if dropped {
        text.push_str("The saved plan an interrupted apply was carrying out no longer applies to this state; make a new plan.\n");
    }
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}

/// `state pull`: the state's bytes, as they are, on stdout.
fn pull(backend: &dyn StateBackend, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    match backend.pull() {
        Ok(Some(bytes)) => {
            out.write_all(&bytes).into_diagnostic()?;
            out.flush().into_diagnostic()?;
            Ok(ExitStatus::Success)
        }
        Ok(None) => Ok(fail(format!(
            "no state at `{}`; nothing to pull",
            backend.describe()
        ))),
        Err(e) => Ok(fail(e)),
    }
}

/// `state push FILE [--force]`: see [`crate::state::push_locked`].
fn push(
    location: &StateLocation,
    backend: &dyn StateBackend,
    file: &Path,
    force: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let bytes = match crate::fs::read_bounded(file, state::MAX_STATE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Ok(fail(format!(
                "cannot read `{}`: {e}; nothing was pushed",
                file.display()
            )));
        }
    };
    let holder = LockInfo::this_process("pimplan state push");
    match backend.push(file, bytes, force, holder, Duration::ZERO) {
        Ok(state::Pushed::Same) => {
            write_out(
                out,
                &format!(
                    "`{}` is the state `{}` already; nothing was written.\n",
                    file.display(),
                    backend.describe()
                ),
            )?;
            Ok(ExitStatus::Success)
        }
        Ok(state::Pushed::Written {
            serial,
            renumbered,
            replaced,
        }) => {
            let how = if renumbered {
                " as the next serial of the state it replaced"
            } else {
                ""
            };
            // Only a state that was there is kept: an empty remote, a missing file has none.
            let kept = if replaced {
                format!("; {}", kept_before(location))
            } else {
                "; there was no state before".to_owned()
            };
            write_out(
                out,
                &format!(
                    "Pushed `{}` to `{}`{how} (now serial {serial}){kept}.\n",
                    file.display(),
                    backend.describe()
                ),
            )?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Ok(fail(e)),
    }
}

/// `state migrate --to TARGET [--endpoint URL] [--auth AUTH] [--force]`: see
/// [`crate::state::migrate`]. `dir`: the root file's folder, which a local target stays
/// below. A bad target is refused before anything is read; every failure exits 1, as every
/// `state` command's error does (`exit::for_error`).
#[allow(clippy::too_many_arguments)]
fn migrate(
    location: &StateLocation,
    backend: &dyn StateBackend,
    dir: &Path,
    to: &str,
    endpoint: Option<&str>,
    auth: Option<&str>,
    force: bool,
    wait: Duration,
    verbose: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let target = match crate::config::state_file::migrate_target(dir, to, endpoint, auth) {
        Ok(target) => target,
        Err(problems) => {
            for p in &problems {
                eprintln!("error: invalid target: {p}\n  help: {}", p.help());
            }
            return Ok(crate::exit::for_error(Some("state")));
        }
    };
    let same_file = match (target.local_path(), location.local_path()) {
        (Some(a), Some(b)) => matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        ),
        _ => false,
    };
    if same_file || state::backend::describe(&target) == backend.describe() {
        eprintln!(
            "error: `--to {to}` is where the state is already (`{}`); name another place",
            backend.describe()
        );
        return Ok(crate::exit::for_error(Some("state")));
    }
    let remote = target.local_path().is_none();
    // The backup beside a local state (where it is before the state is renamed).
    let backup = location.local_path().map(|path| {
        store::backup_path(&store::state_target(path).unwrap_or_else(|_| path.to_path_buf()))
    });
    let target_backend = open_backend(&target, verbose);
    let holder = LockInfo::this_process("pimplan state migrate");
    let yaml =
        crate::config::state_file::state_yaml(&target, dir, endpoint.is_some(), auth.is_some());
    let put_this = format!(
        "Put this in pimplan.yaml, in place of its `state:` if it has one (pimplan.yaml was not edited); `pimplan plan` then reads the state there:\n\n{yaml}"
    );
    let migrated = match state::migrate::migrate(
        backend,
        location.local_path(),
        target_backend.as_ref(),
        remote,
        force,
        &holder,
        wait,
    ) {
        Ok(m) => m,
        Err(e @ state::migrate::MigrateError::SetAside { .. }) => {
            let status = fail(e);
            write_out(out, &put_this)?;
            return Ok(status);
        }
        Err(e) => return Ok(fail(e)),
    };
    let mut text = format!(
        "Migrated the state `{}` (lineage {}, serial {}) to `{}`: written, read back and checked (SHA-256 {}).\n",
        migrated.source, migrated.lineage, migrated.serial, migrated.target, migrated.sha256
    );
    match &migrated.replaced {
        Some(Some(lineage)) => text.push_str(&format!(
            "It replaced another state there (lineage {lineage}, `--force`), kept as the target's backup.\n"
        )),
        Some(None) => text.push_str(
            "It replaced what was there, which was no valid state (`--force`), kept as the target's backup.\n",
        ),
        None => {}
    }
    if migrated.pending > 0 {
        text.push_str(&format!(
            "{} change(s) an interrupted apply left pending moved with it: the next `pimplan apply --target graph` checks them against Microsoft Graph first.\n",
            migrated.pending
        ));
    }
    match (&migrated.set_aside, location.local_path()) {
        (Some(aside), Some(path)) => {
            text.push_str(&format!(
                "The local file `{}` is now `{}`, so that nothing applies to it any more.\n",
                path.display(),
                aside.display()
            ));
            if let Some(backup) = backup.filter(|b| b.exists()) {
                text.push_str(&format!(
                    "Its backup `{}` (the state before its last apply) stays where it is; remove it when it is no longer needed.\n",
                    backup.display()
                ));
            }
        }
        _ => text.push_str(&format!(
            "The state `{}` was left as it is; remove it when the new place is in use.\n",
            migrated.source
        )),
    }
    text.push('\n');
    text.push_str(&put_this);
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}

/// How many snapshots `state snapshots` reads the lineage and serial of (the newest): each
/// costs a request, of the snapshot's first [`HEAD_BYTES`] only.
const READ_SNAPSHOTS: usize = 50;
/// How much of a snapshot is read for its lineage and serial (its first lines).
const HEAD_BYTES: u64 = 1024;
/// Version of `state snapshots --format json`.
const SNAPSHOTS_FORMAT_VERSION: u32 = 1;

/// `state snapshots [--format human|json]`: the kept earlier versions of the state, newest
/// first, each with its id, size, and the lineage and serial its first lines show (the
/// newest [`READ_SNAPSHOTS`]). Read without the lock.
fn snapshots(
    backend: &dyn StateBackend,
    format: StateFormat,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let kept = match backend.snapshots() {
        Ok(k) => k,
        Err(e) => return Ok(fail(e)),
    };
    let mut rows = Vec::new();
    for (i, k) in kept.iter().enumerate() {
        let head = if i < READ_SNAPSHOTS && k.size > 0 {
            match backend.read_snapshot_start(&k.id, HEAD_BYTES) {
                Ok(start) => start.as_deref().and_then(state::document::head),
                Err(e) => return Ok(fail(e)),
            }
        } else {
            None
        };
        rows.push((k, head));
    }
    let text = match format {
        StateFormat::Json => {
            let value = json!({
                "format_version": SNAPSHOTS_FORMAT_VERSION,
                "state": backend.describe(),
                "serials_read": READ_SNAPSHOTS,
                "snapshots": rows.iter().map(|(k, head)| json!({
                    "id": k.id,
                    "size": k.size,
                    "lineage": head.as_ref().map(|(l, _)| l),
                    "serial": head.as_ref().map(|(_, s)| s),
                })).collect::<Vec<_>>(),
            });
            let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push('\n');
            text
        }
        StateFormat::Human if rows.is_empty() => {
            format!("no snapshots of the state `{}`\n", backend.describe())
        }
        StateFormat::Human => {
            let width = rows.iter().map(|(k, _)| k.id.len()).max().unwrap_or(0);
            let mut text = format!(
                "Snapshots of the state `{}`, newest first (`pimplan state restore ID` restores one):\n",
                backend.describe()
            );
            for (k, head) in &rows {
                let facts = head.as_ref().map_or_else(
                    || "serial ?".to_owned(),
                    |(lineage, serial)| format!("serial {serial}  lineage {lineage}"),
                );
                text.push_str(&format!("{:<width$}  {facts}  {} bytes\n", k.id, k.size));
            }
            if rows.len() > READ_SNAPSHOTS {
                text.push_str(&format!(
                    "(the serial is read for the newest {READ_SNAPSHOTS} only)\n"
                ));
            }
            text
        }
    };
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}

/// `state restore SNAPSHOT [--auto-approve] [--force]`: under the state's lock (refused at
/// once while another pimplan holds it, like `state rm`), the snapshot is checked (see
/// [`state::restore_prepare`]), what it changes is shown and, once confirmed, it is written
/// as the next serial, the state before kept as the backup.
fn restore(
    location: &StateLocation,
    backend: &dyn StateBackend,
    id: &str,
    auto_approve: bool,
    force: bool,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let mut lock = match backend.lock(
        LockInfo::this_process("pimplan state restore"),
        Duration::ZERO,
    ) {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(format!("{e}; nothing was restored"))),
    };
    let kept = match backend.snapshots() {
        Ok(k) => k,
        Err(e) => return Ok(fail(format!("{e}; nothing was restored"))),
    };
    let unknown = || {
        let hint = did_you_mean(id, kept.iter().map(|k| k.id.as_str()))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        fail(format!(
            "no snapshot `{id}` of the state `{}`{hint} (`pimplan state snapshots` lists them); nothing was restored",
            backend.describe()
        ))
    };
    if !kept.iter().any(|k| k.id == id) {
        return Ok(unknown());
    }
    let bytes = match backend.read_snapshot(id) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(unknown()),
        Err(e) => return Ok(fail(format!("{e}; nothing was restored"))),
    };
    let mut restore = match state::restore_prepare(lock.as_mut(), id, bytes, force) {
        Ok(r) => r,
        Err(e) => return Ok(fail(e)),
    };
    let empty = State::new();
    let before = restore.current.as_ref().unwrap_or(&empty);
    let changes = entries::changes(before, &restore.restored);
    let lines: String = if changes.is_empty() {
        "  (no entry changes)\n".to_owned()
    } else {
        changes
            .iter()
            .map(|(how, e)| {
                let sign = match how {
                    entries::Changed::Added => '+',
                    entries::Changed::Removed => '-',
                    entries::Changed::Modified => '~',
                };
                format!("  {sign} {}  {}\n", e.address, e.key)
            })
            .collect()
    };
    let now = match &restore.current {
        Some(s) => format!("serial {}", s.serial),
        None if restore.replaces() => "a state that cannot be read".to_owned(),
        None => "no state".to_owned(),
    };
    write_out(
        out,
        &format!(
            "Restoring the snapshot `{id}` (serial {}) of `{}` (now {now}) changes these entries (+ added, - removed, ~ changed):\n{lines}",
            restore.snapshot_serial,
            backend.describe()
        ),
    )?;
    if !auto_approve {
        if !std::io::stdin().is_terminal() {
            return Ok(fail(
                "refusing to restore a snapshot without confirmation: there is no terminal to ask on; pass `--auto-approve`; nothing was restored",
            ));
        }
        if !confirm_with(
            out,
            "\nDo you want to replace the state by this snapshot? Only `yes` is accepted: ",
        )? {
            write_out(out, "Nothing was restored; the state was not changed.\n")?;
            return Ok(ExitStatus::Findings);
        }
    }
    let serial = match state::restore_write(lock.as_mut(), &mut restore) {
        Ok(serial) => serial,
        Err(e) => return Ok(fail(format!("{e}; nothing was restored"))),
    };
    let kept = if restore.replaces() {
        kept_before(location)
    } else {
        "there was no state before".to_owned()
    };
    let mut text = format!(
        "Restored the snapshot `{id}` to `{}` as serial {serial} ({kept}); every plan saved before is stale.\n",
        backend.describe()
    );
    if restore.dropped_applying {
        text.push_str("The snapshot recorded a saved plan an interrupted apply was carrying out; it does not continue on the restored state: make a new plan.\n");
    }
    write_out(out, &text)?;
    Ok(ExitStatus::Success)
}

/// Where a write that changes what the state records keeps the state before it.
fn kept_before(location: &StateLocation) -> String {
    match location {
        StateLocation::Local(path) => format!(
            "the state before is kept in `{}`",
            store::backup_path(&store::state_target(path).unwrap_or_else(|_| path.clone()))
                .display()
        ),
        StateLocation::AzureBlob(blob) if blob.snapshot => {
            "the state before is kept in a snapshot of the blob".to_owned()
        }
        StateLocation::AzureBlob(_) => {
            "the state before is not kept: the root file says `snapshot: false`".to_owned()
        }
    }
}

/// A time as the list prints it: to the second, with its offset, as the plan prints times.
fn when(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
