//! Apply: walk a plan's changes through an [`Executor`], recording each in the state as it
//! succeeds, so that a failure or a kill half way leaves a state that tells the truth.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};

use crate::plan::{Change, Plan, Subject};
use crate::state::store::{write_backup, write_entries};
use crate::state::{
    AssignmentRecord, AssignmentSpec, LoadedState, PolicyRecord, State, StateError,
};

/// Where changes go. The state executor records them only; the Graph executor (a later
/// step) sends requests to Microsoft Graph first.
pub trait Executor {
    /// Carry out one change in the target. The state is updated by the caller afterwards.
    fn execute(&mut self, change: &Change) -> Result<(), ExecError>;
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    pub message: String,
}

/// `--target state`: the state file is the target; nothing else is called.
pub struct StateExecutor;

impl Executor for StateExecutor {
    fn execute(&mut self, _change: &Change) -> Result<(), ExecError> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "applying {address} failed: {source}; the state records the {done} change(s) before it"
    )]
    Change {
        address: String,
        done: usize,
        source: ExecError,
    },
}

/// Check that a saved plan was made from the state and workspace as they are now.
pub fn check_fresh(
    plan: &Plan,
    current: &LoadedState,
    workspace_checksum: &str,
) -> Result<(), StateError> {
    if plan.format_version != crate::plan::FORMAT_VERSION {
        return Err(StateError::Stale(format!(
            "it has format version {}, this pimplan writes {}",
            plan.format_version,
            crate::plan::FORMAT_VERSION
        )));
    }
    let lineage = current.exists().then(|| current.state.lineage.clone());
    if plan.state.lineage != lineage {
        return Err(StateError::Stale(
            "it was made for another state (lineage differs)".to_owned(),
        ));
    }
    if plan.state.serial != current.state.serial || plan.state.checksum != current.checksum() {
        return Err(StateError::Stale(format!(
            "the state changed since (serial {} then, {} now)",
            plan.state.serial, current.state.serial
        )));
    }
    if plan.workspace_checksum != workspace_checksum {
        return Err(StateError::Stale(
            "the workspace files changed since".to_owned(),
        ));
    }
    Ok(())
}

fn record_assignment(spec: &AssignmentSpec, now: DateTime<FixedOffset>) -> AssignmentRecord {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    let starts_at = parse(&spec.start).unwrap_or(now);
    let ends_at = if spec.permanent {
        None
    } else {
        parse(&spec.end).or_else(|| {
            spec.duration
                .as_deref()
                .and_then(|d| crate::config::values::parse_duration(d).ok())
                .and_then(|d| starts_at.checked_add_signed(d.0))
        })
    };
    AssignmentRecord {
        key: spec.key(),
        spec: spec.clone(),
        applied_at: now,
        starts_at,
        ends_at,
    }
}

/// The state during an apply: entries by key, so that recording a change costs the same
/// whatever the size of the state.
struct Ledger {
    header: State,
    assignments: BTreeMap<String, AssignmentRecord>,
    policies: BTreeMap<String, PolicyRecord>,
}

impl Ledger {
    fn new(mut state: State) -> Self {
        let assignments = std::mem::take(&mut state.assignments)
            .into_iter()
            .map(|a| (a.key.clone(), a))
            .collect();
        let policies = std::mem::take(&mut state.policies)
            .into_iter()
            .map(|p| (p.key.clone(), p))
            .collect();
        Ledger {
            header: state,
            assignments,
            policies,
        }
    }

    /// Make the state show `change` as done.
    fn record(&mut self, change: &Change, now: DateTime<FixedOffset>) {
        match &change.subject {
            Subject::Assignment { before, after } => {
                if let Some(b) = before {
                    self.assignments.remove(&b.key);
                }
                if let Some(spec) = after {
                    self.assignments
                        .insert(spec.key(), record_assignment(spec, now));
                }
            }
            Subject::Policy { before, after } => {
                if let Some(b) = before {
                    self.policies.remove(&b.key);
                }
                if let Some(spec) = after {
                    let key = spec.key();
                    self.policies.insert(
                        key.clone(),
                        PolicyRecord {
                            key,
                            spec: spec.clone(),
                            applied_at: now,
                        },
                    );
                }
            }
        }
    }

    fn write(&mut self, path: &Path) -> Result<(), StateError> {
        write_entries(path, &mut self.header, &self.assignments, &self.policies)
    }
}

/// Pause between changes, for the crash tests (`PIMPLAN_TEST_STEP_DELAY_MS`).
fn step_delay() -> Option<Duration> {
    std::env::var("PIMPLAN_TEST_STEP_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// Apply `plan` to the state at `path` (whose lock the caller holds), one change at a time.
/// Returns how many changes were applied. With no changes, nothing is written.
pub fn apply(
    plan: &Plan,
    path: &Path,
    current: LoadedState,
    executor: &mut dyn Executor,
    now: DateTime<FixedOffset>,
) -> Result<usize, ApplyError> {
    if plan.changes.is_empty() {
        return Ok(0);
    }
    if let Some(text) = &current.text {
        write_backup(path, text)?;
    }
    let mut ledger = Ledger::new(current.state);
    let delay = step_delay();
    // The state is written after each change, unless writing it costs more than the changes:
    // a large state is written at most every nine write-durations, so that writing stays
    // about a tenth of the run. What is on disk is always a prefix of the plan, and after a
    // failure everything done so far is written before the error is returned.
    let mut next_write = Instant::now();
    let mut unwritten = false;
    for (done, change) in plan.changes.iter().enumerate() {
        if change.touches_service()
            && let Err(source) = executor.execute(change)
        {
            if unwritten {
                ledger.write(path)?;
            }
            return Err(ApplyError::Change {
                address: change.address.clone(),
                done,
                source,
            });
        }
        ledger.record(change, now);
        unwritten = true;
        let last = done + 1 == plan.changes.len();
        if last || Instant::now() >= next_write {
            let started = Instant::now();
            ledger.write(path)?;
            unwritten = false;
            next_write = Instant::now() + started.elapsed() * 9;
        }
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
    }
    Ok(plan.changes.len())
}
