//! `apply --target graph`: each planned change becomes the matching PIM for Groups request.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::bodies::{
    policy_rules, remove_request, requests_path, rule_settings, schedule_request, schedules_path,
};
use super::client::{Client, GraphError};
use super::read::{LiveSchedule, find_policy, parse_schedule, policy_settings, settings_of};
use crate::apply::{Applied, ExecError, Executor, Observed, RequestCheck, planned_end};
use crate::config::model::{PrincipalType, Workspace};
use crate::plan::end::{End, change_end};
use crate::plan::{Action, Change, Plan, Reason, Subject};
use crate::state::{AssignmentRecord, AssignmentSpec, PolicySpec};

pub struct GraphExecutor {
    pub client: Client,
    now: DateTime<FixedOffset>,
    /// Approver name -> (kind, object id), from the workspace.
    approvers: HashMap<String, (PrincipalType, String)>,
    /// How long to wait for a new schedule to become readable.
    pub visibility_timeout: Duration,
    /// How long to keep trying a request whose principal or group PIM does not know yet.
    pub replication_timeout: Duration,
}

/// A failed request whose outcome is not known: it must be read back.
fn exec(e: GraphError) -> ExecError {
    ExecError {
        message: e.to_string(),
        known: None,
    }
}

/// A failed request, and what the service holds when it refused it (a 4xx answer, 429
/// included, means the request was not carried out).
fn failed(e: GraphError, if_refused: Observed) -> ExecError {
    let refused = e.status().is_some_and(|s| (400..500).contains(&s));
    ExecError {
        message: e.to_string(),
        known: refused.then(|| Box::new(if_refused)),
    }
}

/// What a schedule request's `status` says, compared without regard to case (Microsoft's
/// pages list `Provisioned`, `Granted`, `PendingApproval`, `PendingProvisioning`,
/// `PendingScheduleCreation`, `ScheduleCreated`, `Failed`, `Denied`, `Canceled`, `Revoked`, …).
#[derive(Debug, PartialEq, Eq)]
enum Status {
    /// Carried out.
    Done,
    /// Taken, not carried out yet.
    Waiting,
    /// Anything else: nothing was done (`Failed`, `Denied`, `Canceled`, an unknown status,
    /// or none).
    NotDone,
}

fn status_of(request: &Value, removal: bool) -> Status {
    let status = request["status"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match status.as_str() {
        "provisioned" | "schedulecreated" => Status::Done,
        // An `adminRemove` that went through; a grant that is revoked is no grant.
        "revoked" if removal => Status::Done,
        "granted" => Status::Waiting,
        s if s.starts_with("pending") => Status::Waiting,
        _ => Status::NotDone,
    }
}

/// The status as the service spelt it, for messages and the state.
fn status_text(request: &Value) -> String {
    request["status"]
        .as_str()
        .map_or_else(|| "no status".to_owned(), str::to_owned)
}

/// The id of the request of a recorded assignment the service had not carried out yet.
fn waiting(b: &AssignmentRecord) -> Option<&str> {
    b.request_status.as_ref().and(b.request_id.as_deref())
}

/// Principals with object ids, by name (approvers are resolved through it).
pub fn principal_ids(ws: &Workspace) -> HashMap<String, (PrincipalType, String)> {
    ws.principals
        .iter()
        .filter_map(|p| {
            Some((
                p.name.value.clone(),
                (p.kind()?, p.id.as_ref()?.value.clone()),
            ))
        })
        .collect()
}

/// Every object id the plan needs; an apply with one missing is refused before any request.
pub fn missing_ids(
    plan: &Plan,
    approvers: &HashMap<String, (PrincipalType, String)>,
) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    fn need(missing: &mut Vec<String>, what: String) {
        if !missing.contains(&what) {
            missing.push(what);
        }
    }
    fn spec_ids(missing: &mut Vec<String>, s: &AssignmentSpec) {
        if s.group_id.is_none() {
            need(missing, format!("group `{}` has no `id`", s.group));
        }
        if s.principal_id.is_none() {
            need(missing, format!("principal `{}` has no `id`", s.principal));
        }
    }
    for change in plan.changes.iter().filter(|c| c.touches_service()) {
        match &change.subject {
            Subject::Assignment { before, after } => {
                if let Some(b) = before
                    .as_ref()
                    .filter(|_| matches!(change.action, Action::Remove | Action::Replace))
                {
                    spec_ids(&mut missing, &b.spec);
                }
                if let Some(a) = after {
                    spec_ids(&mut missing, a);
                }
            }
            Subject::Policy { after: Some(p), .. } => {
                if p.group_id.is_none() {
                    need(&mut missing, format!("group `{}` has no `id`", p.group));
                }
                for name in p
                    .settings
                    .get("activation.approval.approvers")
                    .map(|v| v.split(", "))
                    .into_iter()
                    .flatten()
                {
                    if name != "none" && !approvers.contains_key(name) {
                        need(&mut missing, format!("approver `{name}` has no `id`"));
                    }
                }
            }
            Subject::Policy { .. } => {}
        }
    }
    missing
}

impl GraphExecutor {
    pub fn new(
        client: Client,
        now: DateTime<FixedOffset>,
        approvers: HashMap<String, (PrincipalType, String)>,
    ) -> Self {
        GraphExecutor {
            client,
            now,
            approvers,
            visibility_timeout: Duration::from_secs(300),
            replication_timeout: Duration::from_secs(150),
        }
    }

    /// The schedule of (group, principal, role) of this kind, if the service has one that
    /// is pimplan's (direct and, when active, admin-assigned).
    fn find_schedule(&mut self, spec: &AssignmentSpec) -> Result<Option<LiveSchedule>, GraphError> {
        let group = spec.group_id.as_deref().unwrap_or_default();
        let path = format!(
            "{}?$filter=groupId eq '{group}' and principalId eq '{}'",
            schedules_path(spec.kind),
            spec.principal_id.as_deref().unwrap_or_default()
        );
        let path = path.replace(' ', "%20");
        let (_, list) = self.client.send("GET", &path, None)?;
        let role = spec.role.to_string();
        for s in super::client::values(&list, &path)?.iter().filter(|s| {
            s["accessId"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(&role))
        }) {
            // A schedule whose expiration cannot be read is an error, never "permanent"
            // nor "absent".
            if let Some(s) = parse_schedule(s, spec.kind, group)? {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    /// The schedule request `id` as the service holds it now.
    fn request(&mut self, spec: &AssignmentSpec, id: &str) -> Result<Value, GraphError> {
        let path = format!("{}/{id}", requests_path(spec.kind));
        self.client.send("GET", &path, None).map(|(_, v)| v)
    }

    /// Cancel request `id`, which the service had not carried out (terraform-provider-azuread
    /// does the same for `Granted`/`Pending*`): an `adminRemove` would find no schedule, and
    /// the request would grant it later all the same.
    fn cancel(&mut self, spec: &AssignmentSpec, id: &str) -> Result<Applied, ExecError> {
        let path = format!("{}/{id}/cancel", requests_path(spec.kind));
        match self.client.send("POST", &path, None) {
            Ok(_) => Ok(Applied::default()),
            // Refused: the request may have been carried out, or ended, meanwhile.
            Err(e) => match self.request(spec, id) {
                Ok(r) => match status_of(&r, false) {
                    Status::Done => self.remove(spec),
                    Status::NotDone => Ok(Applied::default()),
                    Status::Waiting => Err(failed(e, Observed::NotDone)),
                },
                Err(_) => Err(exec(e)),
            },
        }
    }

    /// A new schedule may not be readable at once: poll it, with a bound.
    fn wait_visible(&mut self, spec: &AssignmentSpec, schedule_id: &str) -> Result<(), GraphError> {
        let path = format!("{}/{schedule_id}", schedules_path(spec.kind));
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match self.client.send("GET", &path, None) {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.status() == Some(404) && started.elapsed() < self.visibility_timeout =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// POST a schedule request; a principal or group created moments ago may not have
    /// reached PIM yet (`SubjectNotFound`, for up to a minute or two): try again, with a bound.
    fn post_request(&mut self, spec: &AssignmentSpec, body: &Value) -> Result<Value, GraphError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match self
                .client
                .send("POST", requests_path(spec.kind), Some(body))
            {
                Err(e)
                    if e.code() == Some("SubjectNotFound")
                        && started.elapsed() < self.replication_timeout =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(15));
                }
                other => return other.map(|(_, v)| v),
            }
        }
    }

    fn assign(
        &mut self,
        spec: &AssignmentSpec,
        action: &str,
        end: End,
    ) -> Result<Applied, ExecError> {
        let Some(body) = schedule_request(spec, action, end, self.now) else {
            return Err(ExecError {
                message: format!(
                    "it has no end, duration or `permanent: true` that reads (end {:?}, duration {:?}); nothing was sent",
                    spec.end, spec.duration
                ),
                known: Some(Box::new(Observed::NotDone)),
            });
        };
        match self.post_request(spec, &body) {
            Ok(request) => {
                let mut applied = applied(&request, spec);
                match status_of(&request, false) {
                    Status::Done => {}
                    // Taken, not carried out: recorded as waiting, and read again next run.
                    Status::Waiting => {
                        applied.request_status = Some(status_text(&request));
                        return Ok(applied);
                    }
                    Status::NotDone => {
                        return Err(ExecError {
                            message: format!(
                                "Microsoft Graph answered the {action} request {} with status {}; nothing was granted",
                                applied.request_id.as_deref().unwrap_or("(no id)"),
                                status_text(&request)
                            ),
                            known: Some(Box::new(Observed::NotDone)),
                        });
                    }
                }
                if let Some(id) = &applied.schedule_id {
                    // The service took it: failing to read it back does not undo it.
                    self.wait_visible(spec, id).map_err(|e| ExecError {
                        message: e.to_string(),
                        known: Some(Box::new(Observed::Done(applied.clone()))),
                    })?;
                }
                Ok(applied)
            }
            // Created by an earlier, interrupted run: verify, and take it as done.
            Err(e) if e.code() == Some("RoleAssignmentExists") && action == "adminAssign" => {
                // It may be too new to be listed yet: look again for a while.
                let started = Instant::now();
                let mut pause = Duration::from_millis(100);
                loop {
                    if let Some(s) = self.find_schedule(spec).map_err(exec)? {
                        return Ok(found(&s));
                    }
                    if started.elapsed() >= self.visibility_timeout {
                        return Err(exec(e));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
            Err(e) => Err(failed(e, Observed::NotDone)),
        }
    }

    fn remove(&mut self, spec: &AssignmentSpec) -> Result<Applied, ExecError> {
        match self.post_request(spec, &remove_request(spec)) {
            Ok(request) => match status_of(&request, true) {
                Status::Done => Ok(applied(&request, spec)),
                // Taken, not carried out: whether the grant is gone is read back.
                Status::Waiting => Err(ExecError {
                    message: format!(
                        "Microsoft Graph answered the removal with status {}",
                        status_text(&request)
                    ),
                    known: None,
                }),
                Status::NotDone => Err(ExecError {
                    message: format!(
                        "Microsoft Graph answered the removal with status {}; nothing was removed",
                        status_text(&request)
                    ),
                    known: Some(Box::new(Observed::NotDone)),
                }),
            },
            // Already gone (removed by an earlier, interrupted run, or out of band)? The
            // service says so with `RoleAssignmentDoesNotExist` or a 404, but neither is proof
            // (a wrong endpoint, a principal PIM does not know yet): the schedules are read.
            Err(e) if e.status() == Some(404) || e.code() == Some("RoleAssignmentDoesNotExist") => {
                match self.find_schedule(spec) {
                    Ok(None) => Ok(Applied::default()),
                    Ok(Some(s)) => Err(ExecError {
                        message: format!(
                            "{e}; but the service still lists schedule {}, so it is not taken as removed",
                            s.id.as_deref().unwrap_or("(no id)")
                        ),
                        known: Some(Box::new(Observed::NotDone)),
                    }),
                    Err(read) => Err(ExecError {
                        message: format!("{e}; reading the schedules to confirm failed: {read}"),
                        known: None,
                    }),
                }
            }
            Err(e) => Err(failed(e, Observed::NotDone)),
        }
    }

    /// Every object id `plan` needs that the workspace does not give.
    pub fn missing_ids(&self, plan: &Plan) -> Vec<String> {
        missing_ids(plan, &self.approvers)
    }

    /// The group's policy for the role as the service holds it, in pimplan's settings.
    fn policy_now(&mut self, spec: &PolicySpec) -> Result<BTreeMap<String, String>, GraphError> {
        let names = self.approver_names();
        policy_settings(
            &mut self.client,
            spec.group_id.as_deref().unwrap_or_default(),
            spec.role,
            &names,
        )
    }

    /// Approver object id -> name, to read approvers back as the files name them.
    fn approver_names(&self) -> HashMap<String, String> {
        self.approvers
            .iter()
            .map(|(name, (_, id))| (id.clone(), name.clone()))
            .collect()
    }

    /// Update the group's policy for the role as ONE consistent change: look the policy up
    /// afresh (its id changes with each modification, so one found earlier is never used),
    /// send every rule that must change in one `PATCH /policies/roleManagementPolicies/{id}`
    /// with `{"rules": [...]}` (each rule's `target` copied from the service), so that the
    /// service never sees a combination it refuses between two rules (MFA and an
    /// authentication context), then read the policy back.
    fn patch_policy(
        &mut self,
        spec: &PolicySpec,
        before: Option<&BTreeMap<String, String>>,
    ) -> Result<Applied, ExecError> {
        // Until the PATCH is sent nothing changes; a refused PATCH changes nothing either
        // (the update is one request: the service takes all of it or none).
        let unchanged = |e: GraphError| ExecError {
            message: e.to_string(),
            known: Some(Box::new(Observed::NotDone)),
        };
        let group = spec.group_id.as_deref().unwrap_or_default();
        let not_found = || GraphError::Service {
            status: 404,
            code: "PolicyNotFound".to_owned(),
            message: format!("no {} policy assignment for group {group}", spec.role),
        };
        let (policy_id, policy) = find_policy(&mut self.client, group, spec.role)
            .map_err(unchanged)?
            .ok_or_else(not_found)
            .map_err(unchanged)?;
        let names = self.approver_names();
        let live = settings_of(&policy, &names);
        let approvers = &self.approvers;
        let rules = policy_rules(&spec.settings, &|name| approvers.get(name).cloned())
            .map_err(|e| unchanged(GraphError::Config(e)))?;
        let mut changed = Vec::new();
        for (rule_id, mut body) in rules {
            // A rule goes when the plan changes it, or when the service holds something else
            // (a rule changed out of band could otherwise clash with the ones sent).
            let keys = rule_settings(&rule_id);
            let same_as = |held: &BTreeMap<String, String>| {
                keys.iter().all(|k| held.get(k) == spec.settings.get(k))
            };
            if before.is_none_or(same_as) && same_as(&live) {
                continue;
            }
            // The rule's own target goes back unchanged (domain.md §14); a policy without
            // the rule is not one pimplan understands, and nothing is guessed.
            let Some(target) = policy["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["id"] == rule_id.as_str())
                .map(|r| r["target"].clone())
            else {
                return Err(unchanged(GraphError::Service {
                    status: 404,
                    code: "RuleNotFound".to_owned(),
                    message: format!("policy {policy_id} has no rule `{rule_id}`"),
                }));
            };
            if let Some(o) = body.as_object_mut() {
                o.insert("target".into(), target);
            }
            changed.push(body);
        }
        if changed.is_empty() {
            return Ok(Applied::default());
        }
        self.client
            .send(
                "PATCH",
                &format!("/policies/roleManagementPolicies/{policy_id}"),
                Some(&serde_json::json!({ "rules": changed })),
            )
            .map_err(|e| failed(e, Observed::NotDone))?;
        // Read it back (through the policy assignment again: the id has changed).
        let held = self.policy_now(spec).map_err(|e| ExecError {
            message: format!("the policy was updated, but reading it back failed: {e}"),
            known: None,
        })?;
        let wrong: Vec<&String> = spec
            .settings
            .keys()
            .filter(|k| held.get(*k) != spec.settings.get(*k))
            .collect();
        if wrong.is_empty() {
            Ok(Applied::default())
        } else {
            let list: Vec<String> = wrong
                .iter()
                .map(|k| {
                    format!(
                        "{k} is {} in the service",
                        held.get(*k).map_or("missing", String::as_str)
                    )
                })
                .collect();
            Err(ExecError {
                message: format!(
                    "the service accepted the policy update but holds other values: {}",
                    list.join("; ")
                ),
                known: Some(Box::new(Observed::Policy(held))),
            })
        }
    }
}

/// The ids a schedule request's response names, and the start and end it reports (its
/// `scheduleInfo`, as the service stored it: a past start moved to when it was processed).
fn applied(request: &Value, spec: &AssignmentSpec) -> Applied {
    let id = |k: &str| request[k].as_str().map(str::to_owned);
    let times = parse_schedule(request, spec.kind, "").ok().flatten();
    Applied {
        request_id: id("id"),
        schedule_id: id("targetScheduleId"),
        starts_at: times.as_ref().and_then(|t| t.start),
        ends_at: times.and_then(|t| t.end),
        request_status: None,
    }
}

/// A schedule the service holds, as what a change made.
fn found(s: &LiveSchedule) -> Applied {
    Applied {
        request_id: None,
        schedule_id: s.id.clone(),
        starts_at: s.start,
        ends_at: s.end,
        request_status: None,
    }
}

/// What a change asks of the service, read from the plan the same way for sending it and for
/// reading it back.
enum Step<'a> {
    Assign(&'a AssignmentSpec),
    Update(&'a AssignmentSpec),
    /// Remove; with the id of its request when the service had not carried it out (the
    /// request is cancelled instead).
    Remove(&'a AssignmentSpec, Option<&'a str>),
    /// Remove the first (cancelling its request when not carried out), then assign the second.
    Swap(&'a AssignmentSpec, Option<&'a str>, &'a AssignmentSpec),
    Policy(&'a PolicySpec, Option<&'a BTreeMap<String, String>>),
    Nothing,
}

fn step(change: &Change) -> Step<'_> {
    match &change.subject {
        Subject::Assignment { before, after } => {
            let expired = matches!(change.reason, Some(Reason::Expired { .. }));
            match (change.action, before, after) {
                (Action::Create, _, Some(a)) => Step::Assign(a),
                // Ids added, or the emergency-access mark: nothing changes in the service.
                (Action::Update, Some(_), Some(_)) if change.sends_nothing() => Step::Nothing,
                // A request not carried out cannot be updated: it is cancelled and made anew.
                (Action::Update, Some(b), Some(a)) if waiting(b).is_some() => {
                    Step::Swap(&b.spec, waiting(b), a)
                }
                (Action::Update, Some(_), Some(a)) => Step::Update(a),
                (Action::Remove, Some(b), _) if !expired => Step::Remove(&b.spec, waiting(b)),
                (Action::Replace, Some(b), Some(a)) => Step::Swap(&b.spec, waiting(b), a),
                _ => Step::Nothing,
            }
        }
        Subject::Policy {
            before,
            after: Some(spec),
        } => Step::Policy(spec, before.as_ref().map(|b| &b.spec.settings)),
        // A policy no longer declared stops being managed; the service keeps it.
        Subject::Policy { after: None, .. } => Step::Nothing,
    }
}

/// Whether two schedule ends are the same, give or take the minutes between a request and
/// the service's clock.
fn same_end(a: Option<DateTime<FixedOffset>>, b: Option<DateTime<FixedOffset>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() <= chrono::TimeDelta::minutes(5),
        (None, None) => true,
        _ => false,
    }
}

impl Executor for GraphExecutor {
    fn remote(&self) -> bool {
        true
    }

    fn request_timeout(&self) -> Duration {
        self.client.timeout
    }

    fn cap_request_timeout(&mut self, cap: Duration) {
        let timeout = self.client.timeout.min(cap);
        self.client.set_timeout(timeout);
    }

    fn gate_sends(&mut self, gate: Option<crate::state::backend::SendGate>) {
        self.client.set_gate(gate);
    }

    fn execute(&mut self, change: &Change) -> Result<Applied, ExecError> {
        let verb = match change.action {
            crate::plan::Action::Create => "creating",
            crate::plan::Action::Update => "updating",
            crate::plan::Action::Remove => "removing",
            crate::plan::Action::Replace => "replacing",
        };
        self.client.doing = format!("{verb} {}", change.address);
        match step(change) {
            Step::Assign(a) => self.assign(a, "adminAssign", change_end(change, self.now)),
            Step::Update(a) => self.assign(a, "adminUpdate", change_end(change, self.now)),
            Step::Remove(b, None) => self.remove(b),
            Step::Remove(b, Some(id)) => self.cancel(b, id),
            Step::Swap(b, request, a) => match request {
                Some(id) => self.cancel(b, id),
                None => self.remove(b),
            }
            .and_then(|_| {
                self.assign(a, "adminAssign", change_end(change, self.now))
                    .map_err(|mut e| {
                        // The removal went through.
                        if e.known.as_deref() == Some(&Observed::NotDone) {
                            e.known = Some(Box::new(Observed::OnlyRemoved));
                        }
                        e
                    })
            }),
            Step::Policy(spec, before) => self.patch_policy(spec, before),
            Step::Nothing => Ok(Applied::default()),
        }
    }

    fn observe(
        &mut self,
        change: &Change,
        started_at: DateTime<FixedOffset>,
    ) -> Result<Observed, ExecError> {
        self.client.doing = format!("reading back {}", change.address);
        let observed = match step(change) {
            Step::Assign(a) => self.find_schedule(a).map(|s| {
                s.as_ref()
                    .map_or(Observed::NotDone, |s| Observed::Done(found(s)))
            }),
            Step::Update(a) => self.find_schedule(a).map(|s| match s {
                Some(s) if same_end(s.end, planned_end(change, started_at)) => {
                    Observed::Done(found(&s))
                }
                _ => Observed::NotDone,
            }),
            // A cancelled request: done once it has ended (or, carried out meanwhile, once its
            // schedule is gone).
            Step::Remove(b, Some(id)) => {
                self.request(b, id)
                    .and_then(|r| match status_of(&r, false) {
                        Status::NotDone => Ok(Observed::Done(Applied::default())),
                        Status::Waiting => Ok(Observed::NotDone),
                        Status::Done => self.find_schedule(b).map(|s| {
                            if s.is_some() {
                                Observed::NotDone
                            } else {
                                Observed::Done(Applied::default())
                            }
                        }),
                    })
            }
            Step::Remove(b, None) => self.find_schedule(b).map(|s| {
                if s.is_some() {
                    Observed::NotDone
                } else {
                    Observed::Done(Applied::default())
                }
            }),
            Step::Swap(b, _, a) => self.find_schedule(a).and_then(|new| match new {
                Some(s) => Ok(Observed::Done(found(&s))),
                None => self.find_schedule(b).map(|old| {
                    if old.is_some() {
                        Observed::NotDone
                    } else {
                        Observed::OnlyRemoved
                    }
                }),
            }),
            Step::Policy(spec, before) => self.policy_now(spec).map(|live| {
                let holds = |k: &String| live.get(k) == spec.settings.get(k);
                if live.is_empty() {
                    Observed::NotDone
                } else if spec.settings.keys().all(holds) {
                    Observed::Done(Applied::default())
                } else if before.is_some_and(|b| b.iter().all(|(k, v)| live.get(k) == Some(v))) {
                    Observed::NotDone
                } else {
                    Observed::Policy(live)
                }
            }),
            Step::Nothing => Ok(Observed::Done(Applied::default())),
        };
        observed.map_err(exec)
    }

    fn check_request(&mut self, record: &AssignmentRecord) -> Result<RequestCheck, ExecError> {
        let Some(id) = record.request_id.as_deref() else {
            return Err(ExecError {
                message: format!(
                    "{} is recorded as waiting ({}) without a request id to read",
                    crate::plan::assignment_address(&record.spec),
                    record.request_status.as_deref().unwrap_or_default()
                ),
                known: None,
            });
        };
        let request = self.request(&record.spec, id).map_err(exec)?;
        Ok(match status_of(&request, false) {
            // Carried out since: the schedule's own times (the service starts it when it
            // carries the request out, and counts a duration from then).
            Status::Done => {
                let mut done = applied(&request, &record.spec);
                if let Some(schedule) = self.find_schedule(&record.spec).map_err(exec)? {
                    done.schedule_id = schedule.id.or(done.schedule_id);
                    done.starts_at = schedule.start;
                    done.ends_at = schedule.end;
                }
                RequestCheck::Done(done)
            }
            Status::Waiting => RequestCheck::Waiting(status_text(&request)),
            Status::NotDone => RequestCheck::Ended(status_text(&request)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_statuses_are_read_without_regard_to_case() {
        let of = |s: &str, removal| status_of(&json!({ "status": s }), removal);
        for s in ["Provisioned", "provisioned", "ScheduleCreated"] {
            assert_eq!(of(s, false), Status::Done, "{s}");
        }
        for s in [
            "Granted",
            "PendingApproval",
            "PendingProvisioning",
            "PendingScheduleCreation",
            "PendingAdminDecision",
        ] {
            assert_eq!(of(s, false), Status::Waiting, "{s}");
        }
        for s in ["Failed", "Denied", "Canceled", "Revoked", "SomethingNew"] {
            assert_eq!(of(s, false), Status::NotDone, "{s}");
        }
        assert_eq!(of("Revoked", true), Status::Done);
        assert_eq!(of("Provisioned", true), Status::Done);
        assert_eq!(status_of(&json!({}), false), Status::NotDone);
    }
}
