//! `pimplan import`: the groups' schedules and policies, read from Microsoft Graph into a
//! new state (and, if asked, the YAML that declares them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::RunContext;
use super::output::{fail, refuse_overwrite, write_out};
use super::workspace::with_workspace;
use crate::config::model::Workspace;
use crate::exit::ExitStatus;
use crate::graph::import::{group_ids, import};
use crate::graph::session::client;
use crate::render;
use crate::state::backend::{LockInfo, StateBackend};
use crate::state::store;

/// What `pimplan import` was asked.
pub struct ImportRequest {
    pub groups: Vec<String>,
    pub generate_config: Option<PathBuf>,
    pub verbose: bool,
}

pub fn run(
    cx: &RunContext,
    options: &ImportRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let root = cx.root();
    let now = cx.now();
    with_workspace(&root, options.verbose, |ws, location, backend| {
        if let Some(file) = options.generate_config.as_deref()
            && let Some(refused) = refuse_overwrite(
                "the generated YAML",
                file,
                location.local_path(),
                [root.as_path()],
            )
        {
            return Ok(fail(refused));
        }
        import_into(ws, location.local_path(), backend, now, options, out)
    })
}

/// `path`: the file of a local state (`None`: a remote one, which only its backend sees).
fn import_into(
    ws: &Workspace,
    path: Option<&Path>,
    backend: &dyn StateBackend,
    now: DateTime<FixedOffset>,
    options: &ImportRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    // The state is made under its lock, as an apply writes it: no other pimplan may make
    // or change it between the look below and the write.
    let mut lock = match backend.lock(LockInfo::this_process("pimplan import"), Duration::ZERO) {
        Ok(lock) => lock,
        Err(e) => return Ok(fail(e)),
    };
    let exists = || {
        Ok(fail(format!(
            "`{}` already exists; import writes a new state (move the old one away first)",
            backend.describe()
        )))
    };
    // (Whatever is at the path counts, a folder too.)
    if path.is_some_and(Path::exists) {
        return exists();
    }
    // Read under the lock, so that the write below is fenced on there being none.
    match lock.get() {
        Ok(None) => {}
        Ok(Some(_)) => return exists(),
        Err(e) => return Ok(fail(e)),
    }
    let group_ids = group_ids(ws, &options.groups);
    if group_ids.is_empty() {
        return Ok(fail(
            "no group to import: give groups an `id:` in the workspace, or pass `--group ID`",
        ));
    }
    let mut c = match client(ws, options.verbose) {
        Ok(c) => c,
        Err(e) => return Ok(fail(e)),
    };
    let mut imported = match import(&mut c, ws, &group_ids, now) {
        Ok(imported) => imported,
        Err(e) => return Ok(fail(e)),
    };
    // Made before the state is written, which puts its assignments in key order: the
    // file lists them as they were read.
    let yaml = options
        .generate_config
        .as_deref()
        .map(|file| (file, render::import_yaml::render(&imported, now)));
    let st = &mut imported.state;
    if let Err(e) = crate::state::write_locked(lock.as_mut(), st) {
        return Ok(fail(e));
    }
    let mut report = format!(
        "Imported {} assignment(s) and {} policy setting block(s) from {} group(s) into `{}`.\n",
        st.assignments.len(),
        st.policies.len(),
        imported.groups_read,
        backend.describe()
    );
    if let Some((file, yaml)) = yaml {
        if let Err(e) = store::write_atomic(file, &yaml) {
            return Ok(fail(format!("cannot write `{}`: {e}", file.display())));
        }
        report.push_str(&format!(
            "Wrote the YAML that declares them to `{}`; make sure an `include:` glob matches it.\n",
            file.display()
        ));
    }
    write_out(out, &report)?;
    Ok(ExitStatus::Success)
}
