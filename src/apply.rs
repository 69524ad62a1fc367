//! Apply: walk a plan's changes through an [`Executor`], recording each in the state as it
//! succeeds, so that a failure or a kill half way leaves a state that tells the truth.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};

use crate::drift::{DriftItem, PendingOutcome, RequestOutcome};
use crate::plan::end::{End, change_end, end_of};
use crate::plan::{Action, Change, Plan, Reason, Subject};
use crate::state::backend::StateLock;
use crate::state::document::{encode_entries, encode_next, next_serial};
use crate::state::{
    AssignmentRecord, AssignmentSpec, LoadedState, Pending, PolicyRecord, PolicySpec, State,
    StateError, Tracked,
};

/// What a target reports of a change it carried out, for the state to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub request_id: Option<String>,
    pub schedule_id: Option<String>,
    /// When the schedule starts and ends as the service reports it (the `scheduleInfo` of
    /// its answer, or the schedule read back); `None` when it did not say, and the state
    /// records what was computed.
    pub starts_at: Option<DateTime<FixedOffset>>,
    pub ends_at: Option<DateTime<FixedOffset>>,
    /// The request's status when the service took it without carrying it out yet
    /// (`PendingApproval`, `Granted`, …): recorded, and read again by the next run.
    pub request_status: Option<String>,
}

/// What the target says now of a request it had taken but not carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestCheck {
    /// Carried out: the grant is there.
    Done(Applied),
    /// Still waiting, with this status.
    Waiting(String),
    /// Ended without granting anything (`Denied`, `Failed`, `Canceled`, …), with this status.
    Ended(String),
}

/// What a target holds of a change that may or may not have taken effect (a request that
/// failed, timed out, or was in flight when the process was killed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// All of it.
    Done(Applied),
    /// None of it.
    NotDone,
    /// A replace stopped between its two requests: the old assignment is gone, the new one
    /// is not there.
    OnlyRemoved,
    /// A policy with some of its rules patched: the settings the service holds.
    Policy(BTreeMap<String, String>),
}

/// Where changes go. The state executor records them only; the Graph executor sends
/// requests to Microsoft Graph first.
pub trait Executor {
    /// Whether the target is outside the state file, so that a change must be marked
    /// pending in the state before it is sent, and read back when its outcome is unknown.
    fn remote(&self) -> bool;
    /// Carry out one change in the target. The state is updated by the caller afterwards.
    fn execute(&mut self, change: &Change) -> Result<Applied, ExecError>;
    /// Read what the target holds of `change`, sent by an apply whose clock said `started_at`.
    fn observe(
        &mut self,
        change: &Change,
        started_at: DateTime<FixedOffset>,
    ) -> Result<Observed, ExecError>;
    /// Read the request of `record`, which the service had not carried out yet (see
    /// `AssignmentRecord::request_status`). A target without a service has nothing to read.
    fn check_request(&mut self, record: &AssignmentRecord) -> Result<RequestCheck, ExecError> {
        Ok(RequestCheck::Waiting(
            record.request_status.clone().unwrap_or_default(),
        ))
    }
    /// The longest one request to the target takes: a change is sent only while the state's
    /// lock is known to outlive it by [`send_margin`] (see [`apply`]). A target without a
    /// service sends nothing.
    fn request_timeout(&self) -> Duration {
        Duration::ZERO
    }
    /// Make every request take at most `cap` from now on (a remote state's lease says how
    /// long: [`StateLock::max_request_timeout`]). A target without a service sends nothing.
    fn cap_request_timeout(&mut self, _cap: Duration) {}
    /// Check `gate` before every request from now on (`None`: no more): the state's lock
    /// must be known to outlive each one ([`StateLock::send_gate`]), its retries, read-backs
    /// and polls too. A target without a service sends nothing.
    fn gate_sends(&mut self, _gate: Option<crate::state::backend::SendGate>) {}
}

/// How much longer than a request's timeout the state's lock must be known to stay held
/// when the request is sent, where the lock names no margin of its own
/// ([`StateLock::send_margin`]: a lease's scales with it, `azure::graph_budget`).
pub const SEND_MARGIN: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    pub message: String,
    /// What the target holds of the change, when the failure itself tells (the service
    /// refused the request); `None` when it may have taken effect (a 500, a timeout, a
    /// connection lost), so that it must be read back.
    pub known: Option<Box<Observed>>,
}

/// `--target state`: the state file is the target; nothing else is called.
pub struct StateExecutor;

impl Executor for StateExecutor {
    fn remote(&self) -> bool {
        false
    }

    fn execute(&mut self, _change: &Change) -> Result<Applied, ExecError> {
        Ok(Applied::default())
    }

    fn observe(
        &mut self,
        _change: &Change,
        _started_at: DateTime<FixedOffset>,
    ) -> Result<Observed, ExecError> {
        Err(ExecError {
            known: None,
            message: "the state target has no service to read; changes left pending by an apply to Microsoft Graph are checked by `pimplan apply --target graph`".to_owned(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("applying {address} failed: {source}\n  {outcome}")]
    Change {
        address: String,
        done: usize,
        source: Box<ExecError>,
        /// What the state now records of it.
        outcome: String,
    },
    #[error("cannot check the changes left pending by an interrupted apply: {0}")]
    Pending(ExecError),
    /// Changes left pending by an apply to Microsoft Graph, met by an apply that does not
    /// go there: only the service can say whether they were made.
    #[error(
        "the state has {} change(s) left pending by an interrupted apply to Microsoft Graph ({}); run `pimplan apply --target graph`, which checks them against the service first; nothing was applied",
        .0.len(),
        .0.join(", ")
    )]
    PendingElsewhere(Vec<String>),
}

/// What an apply did: how many changes it recorded, and the serial of the state it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub changes: usize,
    pub serial: u64,
}

/// A saved plan must have been made for where this apply sends (`fresh` is the plan made
/// now, for this apply's destination).
pub fn check_target(saved: &Plan, fresh: &Plan) -> Result<(), StateError> {
    match &saved.target {
        Some(then) if fresh.target.as_ref() != Some(then) => Err(StateError::Stale(format!(
            "it was made for {}, and this apply goes to {}",
            then.describe(),
            fresh
                .target
                .as_ref()
                .map_or_else(String::new, crate::plan::Destination::describe)
        ))),
        _ => Ok(()),
    }
}

/// Whether the state must be settled ([`settle_pending`]) before anything is planned from
/// it: changes an interrupted apply left pending always, requests the service had not
/// carried out only for an apply to Microsoft Graph (a state-only apply leaves them as they
/// are). Pending changes met by an apply that does not go to the service are an error.
pub fn needs_settling(st: &State, to_graph: bool) -> Result<bool, ApplyError> {
    if !st.unsettled() {
        return Ok(false);
    }
    if to_graph {
        return Ok(true);
    }
    if st.pending.is_empty() {
        // Only requests still waiting: a state-only apply leaves them as they are.
        return Ok(false);
    }
    Err(ApplyError::PendingElsewhere(
        st.pending
            .iter()
            .map(|p| p.change.address.clone())
            .collect(),
    ))
}

/// How a saved plan meets the plan made now from the state as it is (see [`reconcile`]).
#[derive(Debug, PartialEq)]
pub enum Reconciled<'a> {
    /// The same changes: the saved plan is applied, as it was approved.
    Saved(&'a Plan),
    /// An interrupted apply had made `made` of the saved plan's changes: the rest, the plan
    /// made now, all of them approved with the saved plan, are still to do.
    Rest { plan: &'a Plan, made: usize },
}

/// The plan an apply of the saved plan `saved` carries out, given the plan made now.
/// `continued`: the state was settled before planning, or descends from the saved plan's
/// state through an interrupted apply of it ([`Fresh::Continued`]); only then may the plan
/// made now be a part of the saved one. Any other difference makes the saved plan stale.
pub fn reconcile<'a>(
    saved: &'a Plan,
    fresh: &'a Plan,
    continued: bool,
) -> Result<Reconciled<'a>, StateError> {
    if saved.changes == fresh.changes {
        return Ok(Reconciled::Saved(saved));
    }
    // (The interrupted apply was of this plan, or the plan was made while its changes were
    // pending.)
    if continued && is_part_of(&fresh.changes, &saved.changes) {
        return Ok(Reconciled::Rest {
            plan: fresh,
            made: saved.changes.len() - fresh.changes.len(),
        });
    }
    let which = crate::plan::changes_differ(&saved.changes, &fresh.changes);
    Err(StateError::Stale(if which.is_empty() {
        "the changes it would make now differ from the saved ones".to_owned()
    } else {
        format!("the changes it would make now differ from the saved ones: {which}")
    }))
}

/// Whether every change of `part` is in `whole`, in the same order.
fn is_part_of(part: &[Change], whole: &[Change]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|c| rest.any(|w| w == c))
}

/// How a saved plan stands to the state it meets (see [`check_fresh`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    /// The state is the one the plan was made from.
    Same,
    /// The state descends from the one the plan was made from through applies of this same
    /// plan that stopped before their end (see [`State::applying`]): what they made is no
    /// longer to do, the rest of the plan is.
    Continued,
}

/// The fingerprint of a saved plan: the SHA-256 of the plan as pimplan reads it (so that
/// the file's layout does not count, and every field that does is covered).
pub fn plan_checksum(plan: &Plan) -> String {
    crate::state::checksum(&serde_json::to_string(plan).unwrap_or_default())
}

/// What an apply of the saved plan `plan` writes into the state while it runs.
pub fn carrying(plan: &Plan) -> crate::state::Applying {
    crate::state::Applying {
        plan: plan_checksum(plan),
        from_serial: plan.state.serial,
    }
}

/// Check that a saved plan was made from the workspace as it is now, and from the state as
/// it is now or as an interrupted apply of this same plan left it ([`Fresh::Continued`]:
/// the caller must then accept only the plan's own changes, in its order).
pub fn check_fresh(plan: &Plan, current: &LoadedState, now: &Plan) -> Result<Fresh, StateError> {
    if !(crate::plan::OLDEST_FORMAT_VERSION..=crate::plan::FORMAT_VERSION)
        .contains(&plan.format_version)
    {
        return Err(StateError::Stale(format!(
            "it has format version {}, this pimplan reads {} to {}",
            plan.format_version,
            crate::plan::OLDEST_FORMAT_VERSION,
            crate::plan::FORMAT_VERSION
        )));
    }
    if plan.workspace_checksum != now.workspace_checksum {
        let which = crate::plan::files_changed(&plan.workspace_files, &now.workspace_files);
        return Err(StateError::Stale(if which.is_empty() {
            "the workspace files changed since".to_owned()
        } else {
            format!("the workspace files changed since: {which}")
        }));
    }
    let lineage = current.exists().then(|| current.state.lineage.clone());
    let applying = current.state.applying.as_ref();
    // Written by an apply of this plan (one made before there was a state: its apply gave
    // the state its lineage).
    if current.exists()
        && current.state.serial > plan.state.serial
        && applying == Some(&carrying(plan))
        && (plan.state.lineage.is_none() || plan.state.lineage == lineage)
    {
        return Ok(Fresh::Continued);
    }
    if plan.state.lineage != lineage {
        return Err(StateError::Stale(match (&plan.state.lineage, &lineage) {
            (None, Some(now)) => format!(
                "it was made when there was no state yet, and there is one now (lineage `{now}`, serial {})",
                current.state.serial
            ),
            (Some(then), None) => {
                format!("it was made for the state of lineage `{then}`, and there is no state now")
            }
            (then, now) => format!(
                "it was made for another state (lineage `{}` then, `{}` now)",
                then.as_deref().unwrap_or_default(),
                now.as_deref().unwrap_or_default()
            ),
        }));
    }
    // The version the backend gave the bytes moves with every write (a blob's ETag), even
    // one of the same bytes; a plan of format 2 did not record it.
    let version_moved = match (&plan.state.version, &current.version) {
        (Some(then), Some(now)) => then != now,
        _ => false,
    };
    let versions = match (&plan.state.version, &current.version) {
        (Some(then), Some(now)) if version_moved => format!("; version `{then}` then, `{now}` now"),
        (Some(then), None) => format!("; version `{then}` then, none now"),
        _ => String::new(),
    };
    if plan.state.serial == current.state.serial
        && plan.state.checksum == current.checksum()
        && !version_moved
    {
        return Ok(Fresh::Same);
    }
    let by = match applying {
        Some(a) if *a != carrying(plan) => ", by an interrupted apply of another saved plan",
        _ => "",
    };
    Err(StateError::Stale(
        if plan.state.serial == current.state.serial {
            if plan.state.checksum == current.checksum() {
                format!(
                    "the state was written again since (serial {} then and now, the same content{versions}{by})",
                    plan.state.serial
                )
            } else {
                format!(
                    "the state changed since (serial {} then and now, its content differs{versions}{by})",
                    plan.state.serial
                )
            }
        } else {
            format!(
                "the state changed since (serial {} then, {} now{versions}{by})",
                plan.state.serial, current.state.serial
            )
        },
    ))
}

/// The record of `spec` applied at `now` with the end `end` (see [`end_of`]): the start and
/// end the service reported when it did, else the ones computed.
fn record_assignment(
    spec: &AssignmentSpec,
    end: End,
    applied: Applied,
    now: DateTime<FixedOffset>,
) -> AssignmentRecord {
    let starts_at = applied
        .starts_at
        .or_else(|| {
            spec.start
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        })
        .unwrap_or(now);
    let ends_at = if spec.permanent {
        None
    } else {
        applied.ends_at.or_else(|| end.at(starts_at))
    };
    AssignmentRecord {
        key: spec.key(),
        spec: spec.clone(),
        applied_at: now,
        starts_at,
        ends_at,
        request_id: applied.request_id,
        schedule_id: applied.schedule_id,
        request_status: applied.request_status,
        service: None,
    }
}

/// When the schedule `change` makes, sent at `now`, ends (`None`: never, or nothing to make).
pub fn planned_end(change: &Change, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    change_end(change, now).at(now)
}

/// The state during an apply: entries by key, so that recording a change costs the same
/// whatever the size of the state.
struct Ledger {
    header: State,
    assignments: BTreeMap<String, AssignmentRecord>,
    policies: BTreeMap<String, PolicyRecord>,
    /// For an apply to the state alone, what the service holds (which it does not change);
    /// `None` when the entries are what the service holds (a ledger of a Graph apply starts
    /// from [`State::service_view`]).
    service: Option<State>,
    /// The apply's clock (an apply to the state alone: what has ended by now is not listed
    /// as still to remove in the service).
    now: Option<DateTime<FixedOffset>>,
}

impl Ledger {
    /// A ledger of an apply to the state alone: entries as recorded, and what the service
    /// holds kept beside them.
    fn state_only(state: State, now: DateTime<FixedOffset>) -> Self {
        let service = state.service_view();
        Ledger {
            service: Some(service),
            now: Some(now),
            ..Ledger::new(state)
        }
    }

    /// Mark the entries with what the service holds: all of it for a Graph apply (the
    /// changes it is not sure of are pending), what it held before for an apply to the state
    /// alone.
    fn mark_service(&mut self) {
        match &self.service {
            Some(service) => {
                let mut removed =
                    State::keep_service(service, &mut self.assignments, &mut self.policies);
                // An entry that left the state because its schedule ended is gone in the
                // service too: nothing to remove there.
                let ended: std::collections::HashSet<&str> =
                    self.header.ended.iter().map(|e| e.key.as_str()).collect();
                removed.retain(|r| {
                    !ended.contains(r.key.as_str())
                        && r.ends_at.is_none_or(|e| self.now.is_none_or(|now| e > now))
                });
                self.header.removed = removed;
            }
            None => {
                // (Its removals to send were put back as entries by `service_view`.)
                for a in self.assignments.values_mut() {
                    a.set_held(crate::state::Held::Same);
                }
                for p in self.policies.values_mut() {
                    p.set_held(crate::state::Held::Same);
                }
            }
        }
    }

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
            service: None,
            now: None,
        }
    }

    fn into_state(mut self) -> State {
        self.mark_service();
        State {
            assignments: self.assignments.into_values().collect(),
            policies: self.policies.into_values().collect(),
            ..self.header
        }
    }

    /// Make the state show `change` as done.
    fn record(&mut self, change: &Change, mut applied: Applied, now: DateTime<FixedOffset>) {
        // An ended schedule leaves the state; one still declared is remembered as ended, so
        // that the next plan does not grant it again.
        if let (Action::Remove, Some(Reason::Expired { .. }), Some(b)) =
            (change.action, &change.reason, change.assignment_before())
        {
            self.assignments.remove(&b.key);
            self.header.ended.retain(|e| e.key != b.key);
            if change.assignment_after().is_some() {
                self.header.ended.push(b.clone());
            }
            return;
        }
        match &change.subject {
            // Nothing was sent: the new values, and the times the service still holds.
            Subject::Assignment {
                before: Some(b),
                after: Some(spec),
            } if change.sends_nothing() => {
                self.assignments.remove(&b.key);
                self.assignments.insert(
                    spec.key(),
                    AssignmentRecord {
                        key: spec.key(),
                        spec: spec.clone(),
                        ..b.clone()
                    },
                );
            }
            Subject::Assignment { before, after } => {
                if let Some(b) = before {
                    self.assignments.remove(&b.key);
                    // Nothing was sent (only ids were added): the service's ids stay.
                    if applied == Applied::default() {
                        applied = Applied {
                            request_id: b.request_id.clone(),
                            schedule_id: b.schedule_id.clone(),
                            request_status: b.request_status.clone(),
                            ..Applied::default()
                        };
                    }
                }
                if let Some(spec) = after {
                    let end = end_of(spec, before.as_ref(), now);
                    let key = spec.key();
                    // Granted again: no longer ended.
                    if !self.header.ended.is_empty() {
                        self.header.ended.retain(|e| e.key != key);
                    }
                    self.assignments
                        .insert(key, record_assignment(spec, end, applied, now));
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
                            service: None,
                        },
                    );
                }
            }
        }
    }

    /// Make the state show what the target holds of `change`; what that was.
    fn observed(
        &mut self,
        change: &Change,
        observed: Observed,
        now: DateTime<FixedOffset>,
    ) -> PendingOutcome {
        match observed {
            Observed::Done(applied) => {
                self.record(change, applied, now);
                PendingOutcome::Done
            }
            Observed::NotDone => PendingOutcome::NotDone,
            Observed::OnlyRemoved => {
                if let Some(b) = change.assignment_before() {
                    self.assignments.remove(&b.key);
                }
                PendingOutcome::OnlyRemoved
            }
            Observed::Policy(settings) => {
                if let Subject::Policy {
                    before,
                    after: Some(spec),
                } = &change.subject
                {
                    if let Some(b) = before {
                        self.policies.remove(&b.key);
                    }
                    let spec = PolicySpec {
                        settings,
                        ..spec.clone()
                    };
                    self.policies.insert(
                        spec.key(),
                        PolicyRecord {
                            key: spec.key(),
                            spec,
                            applied_at: now,
                            service: None,
                        },
                    );
                }
                PendingOutcome::PartlyDone
            }
        }
    }

    fn write(&mut self, lock: &mut dyn StateLock) -> Result<(), StateError> {
        self.mark_service();
        let name = lock.describe();
        let text = encode_entries(
            Path::new(&name),
            &mut self.header,
            &self.assignments,
            &self.policies,
        )?;
        lock.put(text.as_bytes())
    }
}

/// Pause between changes, for the crash tests (`PIMPLAN_TEST_STEP_DELAY_MS`).
fn step_delay() -> Option<Duration> {
    std::env::var("PIMPLAN_TEST_STEP_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// How many changes to send between two writes of the state: as many as keeps writing to
/// about a tenth of the run (a large state takes long to write), and at least one.
struct Pacer {
    changes: u32,
    change_time: Duration,
    write_time: Duration,
}

impl Pacer {
    fn batch(&self) -> usize {
        if self.changes == 0 || self.change_time.is_zero() {
            return 1;
        }
        let per_change = self.change_time / self.changes;
        let n = (self.write_time * 9).as_nanos() / per_change.as_nanos().max(1);
        usize::try_from(n).unwrap_or(usize::MAX).clamp(1, 100_000)
    }
}

/// Apply `plan` to the state under `lock` (`current` read under it), one change at a time.
/// Returns how many changes were applied and the serial written. With no changes, nothing is written.
///
/// What is on disk is always the truth, or says where it is not known: the changes done so
/// far are recorded, and, for a remote target, the changes about to be sent are marked
/// pending *before* they are sent. A kill at any moment therefore leaves a state whose
/// records the service holds, and whose pending entries are the only ones it may or may
/// not hold; [`settle`] resolves them by reading the service. A change that fails is read
/// back at once, so that a request the service carried out before failing (a 500 after the
/// fact, a timeout) is recorded as done. A change is sent only while the lock is known to
/// stay held for the executor's request timeout and its margin more
/// ([`StateLock::send_margin`], else [`SEND_MARGIN`]; checked by
/// [`StateLock::ensure_valid_for`] and on every request by the executor's send gate).
///
/// `saved`: what the state records while the apply runs of the saved plan it carries out
/// ([`carrying`]), `None` without a plan file; cleared when the apply gets to its end.
/// `progress` hears how many changes are made after each one.
pub fn apply(
    plan: &Plan,
    saved: Option<crate::state::Applying>,
    lock: &mut dyn StateLock,
    current: LoadedState,
    executor: &mut dyn Executor,
    now: DateTime<FixedOffset>,
    progress: &mut dyn FnMut(usize),
) -> Result<ApplyOutcome, ApplyError> {
    let outcome = apply_under(plan, saved, lock, current, executor, now, progress);
    // The gate set below holds the lock's lease: no request after the apply checks it.
    executor.gate_sends(None);
    outcome
}

/// Hold every request `executor` sends from now on to `lock` (until `gate_sends(None)`): a
/// lock that lapses by itself (a remote state's lease) caps how long a request may take, and
/// each request (its retries, read-backs and polls too) is sent only while the lock is known
/// to outlive that by the margin: checked where it is sent.
/// Returns how long the lock must be known to stay held when a request is sent.
fn hold_requests_to(lock: &dyn StateLock, executor: &mut dyn Executor) -> Duration {
    if let Some(cap) = lock.max_request_timeout() {
        executor.cap_request_timeout(cap);
    }
    let send_within = executor.request_timeout() + lock.send_margin().unwrap_or(SEND_MARGIN);
    executor.gate_sends(lock.send_gate(send_within));
    send_within
}

fn apply_under(
    plan: &Plan,
    saved: Option<crate::state::Applying>,
    lock: &mut dyn StateLock,
    current: LoadedState,
    executor: &mut dyn Executor,
    now: DateTime<FixedOffset>,
    progress: &mut dyn FnMut(usize),
) -> Result<ApplyOutcome, ApplyError> {
    let changes = &plan.changes;
    if changes.is_empty() {
        return Ok(ApplyOutcome {
            changes: 0,
            serial: current.state.serial,
        });
    }
    // A serial that cannot grow is refused before anything, the backup too, is written.
    next_serial(Path::new(&lock.describe()), current.state.serial)?;
    if let Some(text) = &current.text {
        lock.keep_backup(text.as_bytes())?;
    }
    let send_within = hold_requests_to(lock, executor);
    let remote = executor.remote();
    // A Graph apply starts from what the service holds (its plan was made from that), and
    // so sends what applies to the state alone recorded; an apply to the state alone keeps
    // what the service holds beside what it records.
    let mut ledger = if remote {
        Ledger::new(current.state.service_view())
    } else {
        Ledger::state_only(current.state, now)
    };
    // From the first write on, the state says which saved plan it is the apply of (or none).
    ledger.header.applying = saved;
    let delay = step_delay();
    let mut pacer = Pacer {
        changes: 0,
        change_time: Duration::ZERO,
        write_time: Duration::ZERO,
    };
    let pending = |c: &Change| Pending {
        started_at: now,
        change: c.clone(),
    };
    let mut batch_end = 0;
    for (done, change) in changes.iter().enumerate() {
        if done == batch_end {
            batch_end = done.saturating_add(pacer.batch()).min(changes.len());
            ledger.header.pending = if remote {
                changes[done..batch_end]
                    .iter()
                    .filter(|c| c.touches_service())
                    .map(pending)
                    .collect()
            } else {
                Vec::new()
            };
            if done > 0 || !ledger.header.pending.is_empty() {
                let started = Instant::now();
                ledger.write(lock)?;
                pacer.write_time = started.elapsed();
            }
        }
        let started = Instant::now();
        if !change.touches_service() {
            ledger.record(change, Applied::default(), now);
        } else {
            lock.ensure_valid_for(send_within)?;
            match executor.execute(change) {
                Ok(applied) => {
                    ledger.record(change, applied, now);
                    if let Some(i) = ledger
                        .header
                        .pending
                        .iter()
                        .position(|p| p.change == *change)
                    {
                        ledger.header.pending.remove(i);
                    }
                }
                Err(mut source) => {
                    // The rest of the batch was never sent.
                    ledger.header.pending.clear();
                    let known = source.known.take().map(|k| Ok(*k));
                    let outcome = if remote {
                        match known.unwrap_or_else(|| executor.observe(change, now)) {
                            Ok(observed) => format!(
                                "It is {}, and the state records that and the {done} change(s) before it.",
                                ledger.observed(change, observed, now)
                            ),
                            Err(e) => {
                                ledger.header.pending.push(pending(change));
                                format!(
                                    "Whether it took effect could not be read back ({e}); the state records the {done} change(s) before it and marks this one pending, to be checked against the service by the next `pimplan apply --target graph`."
                                )
                            }
                        }
                    } else {
                        format!("The state records the {done} change(s) before it.")
                    };
                    ledger.write(lock)?;
                    return Err(ApplyError::Change {
                        address: change.address.clone(),
                        done,
                        source: Box::new(source),
                        outcome,
                    });
                }
            }
        }
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        pacer.changes = pacer.changes.saturating_add(1);
        pacer.change_time += started.elapsed();
        progress(done + 1);
    }
    ledger.header.pending.clear();
    ledger.header.applying = None;
    ledger.write(lock)?;
    Ok(ApplyOutcome {
        changes: changes.len(),
        serial: ledger.header.serial,
    })
}

/// Check every pending change of `state` (see [`State::pending`]) against the target, and
/// read again every request the service had not carried out yet
/// (`AssignmentRecord::request_status`): the state as the target has it, with no pending
/// entries, and what was found of each ([`DriftItem::Pending`], [`DriftItem::Request`]).
/// Nothing is written; a failed read leaves the caller's state as it was.
pub fn settle(
    state: &State,
    executor: &mut dyn Executor,
) -> Result<(State, Vec<DriftItem>), ExecError> {
    // Read against what the service is known to hold: what a state-only apply recorded but
    // never sent is not taken as held (the next plan for Graph sends it).
    let mut ledger = Ledger::new(state.service_view());
    let pending = std::mem::take(&mut ledger.header.pending);
    let mut lines = Vec::new();
    for p in &pending {
        let observed = executor.observe(&p.change, p.started_at)?;
        let outcome = ledger.observed(&p.change, observed, p.started_at);
        lines.push(DriftItem::Pending {
            address: p.change.address.clone(),
            outcome,
        });
    }
    // Requests the service had taken but not carried out: read each again.
    let waiting: Vec<String> = ledger
        .assignments
        .values()
        .filter(|a| a.request_status.is_some())
        .map(|a| a.key.clone())
        .collect();
    for key in waiting {
        let Some(mut record) = ledger.assignments.remove(&key) else {
            continue;
        };
        let address = crate::plan::assignment_address(&record.spec);
        let request_id = record.request_id.clone().unwrap_or_default();
        let mut found = |outcome| {
            lines.push(DriftItem::Request {
                address: address.clone(),
                request_id: request_id.clone(),
                outcome,
            });
        };
        match executor.check_request(&record)? {
            RequestCheck::Done(applied) => {
                found(RequestOutcome::Provisioned);
                record.request_status = None;
                record.request_id = applied.request_id.or(record.request_id);
                record.schedule_id = applied.schedule_id.or(record.schedule_id);
                // The service starts it when it carries it out: its times, not the ones
                // computed when the request was sent.
                if let Some(start) = applied.starts_at {
                    record.starts_at = start;
                }
                if applied.starts_at.is_some() || applied.ends_at.is_some() {
                    record.ends_at = applied.ends_at;
                }
                ledger.assignments.insert(key, record);
            }
            RequestCheck::Waiting(status) => {
                found(RequestOutcome::Waiting(status.clone()));
                record.request_status = Some(status);
                ledger.assignments.insert(key, record);
            }
            RequestCheck::Ended(status) => found(RequestOutcome::Ended(status)),
        }
    }
    Ok((ledger.into_state(), lines))
}

/// [`settle`] the state under `lock` (`current` read under it) and write the result, keeping
/// the state before as the backup. What was found of each pending change and request.
pub fn settle_pending(
    lock: &mut dyn StateLock,
    current: &LoadedState,
    executor: &mut dyn Executor,
) -> Result<Vec<DriftItem>, ApplyError> {
    let name = lock.describe();
    next_serial(Path::new(&name), current.state.serial)?;
    // Its reads are requests under the lock too: held to the same rule as an apply's.
    let _ = hold_requests_to(lock, executor);
    let settled = settle(&current.state, executor);
    executor.gate_sends(None);
    let (mut state, lines) = settled.map_err(ApplyError::Pending)?;
    if let Some(text) = &current.text {
        lock.keep_backup(text.as_bytes())?;
    }
    let text = encode_next(Path::new(&name), &mut state)?;
    lock.put(text.as_bytes())?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(group: &str) -> Change {
        Change {
            action: Action::Create,
            reason: None,
            address: format!("policy {group} (member)"),
            subject: Subject::Policy {
                before: None,
                after: None,
            },
        }
    }

    fn plan(groups: &[&str]) -> Plan {
        Plan {
            format_version: crate::plan::FORMAT_VERSION,
            created_at: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .unwrap_or_else(|e| unreachable!("{e}")),
            state: crate::plan::StateRef {
                lineage: None,
                serial: 0,
                checksum: String::new(),
                version: None,
            },
            workspace_checksum: String::new(),
            workspace_files: BTreeMap::new(),
            target: None,
            changes: groups.iter().map(|g| policy(g)).collect(),
            findings: Vec::new(),
            baseline: None,
            baselined: Vec::new(),
            privilege_delta: None,
        }
    }

    /// A lock known to stay held for `left`, keeping what is put.
    struct Lease {
        left: Duration,
        holder: crate::state::backend::LockInfo,
        puts: usize,
        /// What the lock caps a request's timeout at (a remote state's 40 s).
        cap: Option<Duration>,
    }

    impl StateLock for Lease {
        fn holder(&self) -> &crate::state::backend::LockInfo {
            &self.holder
        }
        fn describe(&self) -> String {
            "lease".to_owned()
        }
        fn get(&mut self) -> Result<Option<crate::state::backend::Snapshot>, StateError> {
            Ok(None)
        }
        fn put(&mut self, _bytes: &[u8]) -> Result<(), StateError> {
            self.puts += 1;
            Ok(())
        }
        fn keep_backup(&mut self, _bytes: &[u8]) -> Result<(), StateError> {
            Ok(())
        }
        fn ensure_valid_for(&self, needed: Duration) -> Result<(), StateError> {
            if needed <= self.left {
                Ok(())
            } else {
                Err(StateError::Locked(format!(
                    "the lease has {:?} left, {needed:?} needed",
                    self.left
                )))
            }
        }
        fn max_request_timeout(&self) -> Option<Duration> {
            self.cap
        }
    }

    /// A service whose requests take up to `timeout`, counting what it was sent.
    struct Service {
        sent: usize,
        timeout: Duration,
    }

    impl Executor for Service {
        fn remote(&self) -> bool {
            true
        }
        fn execute(&mut self, _change: &Change) -> Result<Applied, ExecError> {
            self.sent += 1;
            Ok(Applied::default())
        }
        fn observe(
            &mut self,
            _change: &Change,
            _started_at: DateTime<FixedOffset>,
        ) -> Result<Observed, ExecError> {
            Ok(Observed::NotDone)
        }
        fn request_timeout(&self) -> Duration {
            self.timeout
        }
        fn cap_request_timeout(&mut self, cap: Duration) {
            self.timeout = self.timeout.min(cap);
        }
    }

    /// The Graph send rule: a change is sent only while the lock outlives the request by
    /// the margin; otherwise the apply stops before sending, its pending markers written.
    #[test]
    fn a_change_is_sent_only_while_the_lock_outlives_its_request() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let run_with = |left: Duration, timeout: u64, cap: Option<u64>| {
            let mut lock = Lease {
                left,
                holder: crate::state::backend::LockInfo::this_process("test"),
                puts: 0,
                cap: cap.map(Duration::from_secs),
            };
            let mut service = Service {
                sent: 0,
                timeout: Duration::from_secs(timeout),
            };
            let current = LoadedState {
                state: State::new(),
                text: None,
                version: None,
            };
            let result = apply(
                &plan(&["a", "b"]),
                None,
                &mut lock,
                current,
                &mut service,
                now,
                &mut |_| {},
            );
            (
                result.map(|o| o.changes).map_err(|e| e.to_string()),
                service.sent,
                lock.puts,
            )
        };
        let run = |left| run_with(left, 40, None);
        let (done, sent, puts) = run(Duration::from_secs(50));
        assert_eq!((done, sent), (Ok(2), 2));
        assert!(puts >= 2, "the pending markers and the end: {puts}");
        let (stopped, sent, puts) = run(Duration::from_secs(49));
        assert_eq!(sent, 0);
        assert_eq!(puts, 1, "only the pending markers were written");
        assert!(
            stopped.as_ref().is_err_and(|e| e.contains("50s needed")),
            "{stopped:?}"
        );
        // Graph's 60 s timeout under a lock that caps it at 40 s (a remote state's lease):
        // 50 s of lease is enough; without the cap it is not (70 s needed).
        let (done, sent, _) = run_with(Duration::from_secs(50), 60, Some(40));
        assert_eq!((done, sent), (Ok(2), 2));
        let (stopped, sent, _) = run_with(Duration::from_secs(50), 60, None);
        assert_eq!(sent, 0);
        assert!(
            stopped.as_ref().is_err_and(|e| e.contains("70s needed")),
            "{stopped:?}"
        );
    }

    #[test]
    fn reconcile_takes_the_saved_plan_its_rest_or_calls_it_stale() {
        let saved = plan(&["a", "b", "c"]);
        let same = plan(&["a", "b", "c"]);
        let rest = plan(&["b", "c"]);
        let other = plan(&["b", "d"]);
        assert_eq!(
            reconcile(&saved, &same, false).ok(),
            Some(Reconciled::Saved(&saved))
        );
        assert_eq!(
            reconcile(&saved, &rest, true).ok(),
            Some(Reconciled::Rest {
                plan: &rest,
                made: 1
            })
        );
        // The rest of a plan is taken only after an interrupted apply of it.
        assert!(matches!(
            reconcile(&saved, &rest, false),
            Err(StateError::Stale(_))
        ));
        let stale = reconcile(&saved, &other, true)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(stale.contains("differ from the saved ones: "), "{stale}");
    }

    #[test]
    fn settling_needs_the_service_for_pending_changes_only() {
        let mut st = State::new();
        assert!(matches!(needs_settling(&st, true), Ok(false)));
        st.pending.push(crate::state::Pending {
            change: policy("a"),
            started_at: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .unwrap_or_else(|e| unreachable!("{e}")),
        });
        assert!(matches!(needs_settling(&st, true), Ok(true)));
        let elsewhere = needs_settling(&st, false).err().map(|e| e.to_string());
        assert_eq!(
            elsewhere.as_deref(),
            Some(
                "the state has 1 change(s) left pending by an interrupted apply to Microsoft Graph (policy a (member)); run `pimplan apply --target graph`, which checks them against the service first; nothing was applied"
            )
        );
    }
}
