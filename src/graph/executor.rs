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
use crate::apply::{Applied, ExecError, Executor, Observed, planned_end};
use crate::config::model::{PrincipalType, Workspace};
use crate::plan::{Action, Change, Plan, Reason, Subject};
use crate::state::{AssignmentSpec, PolicySpec};

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
        known: refused.then_some(if_refused),
    }
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
        let (_, list) = self.client.send("GET", &path.replace(' ', "%20"), None)?;
        Ok(list["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| parse_schedule(s, spec.kind, group))
            .find(|s| s.role == spec.role))
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

    fn assign(&mut self, spec: &AssignmentSpec, action: &str) -> Result<Applied, ExecError> {
        let Some(body) = schedule_request(spec, action, self.now) else {
            return Err(ExecError {
                message: format!(
                    "it has no end, duration or `permanent: true` that reads (end {:?}, duration {:?}); nothing was sent",
                    spec.end, spec.duration
                ),
                known: Some(Observed::NotDone),
            });
        };
        match self.post_request(spec, &body) {
            Ok(request) => {
                let applied = applied(&request);
                if let Some(id) = &applied.schedule_id {
                    // The service took it: failing to read it back does not undo it.
                    self.wait_visible(spec, id).map_err(|e| ExecError {
                        message: e.to_string(),
                        known: Some(Observed::Done(applied.clone())),
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
                        return Ok(Applied {
                            request_id: None,
                            schedule_id: s.id,
                        });
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
            Ok(request) => Ok(applied(&request)),
            // Already gone (removed by an earlier, interrupted run, or out of band).
            // (Not any 404: a wrong endpoint, or a principal PIM does not know yet, is no
            // proof that the grant is gone.)
            Err(e) if e.code() == Some("RoleAssignmentDoesNotExist") => Ok(Applied::default()),
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
            known: Some(Observed::NotDone),
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
                known: Some(Observed::Policy(held)),
            })
        }
    }
}

/// The ids a schedule request's response names.
fn applied(request: &Value) -> Applied {
    let id = |k: &str| request[k].as_str().map(str::to_owned);
    Applied {
        request_id: id("id"),
        schedule_id: id("targetScheduleId"),
    }
}

/// What a change asks of the service, read from the plan the same way for sending it and for
/// reading it back.
enum Step<'a> {
    Assign(&'a AssignmentSpec),
    Update(&'a AssignmentSpec),
    Remove(&'a AssignmentSpec),
    /// Remove the first, then assign the second.
    Swap(&'a AssignmentSpec, &'a AssignmentSpec),
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
                (Action::Update, Some(_), Some(a)) => Step::Update(a),
                (Action::Remove, Some(b), _) if !expired => Step::Remove(&b.spec),
                (Action::Replace, Some(b), Some(a)) => Step::Swap(&b.spec, a),
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

    fn execute(&mut self, change: &Change) -> Result<Applied, ExecError> {
        match step(change) {
            Step::Assign(a) => self.assign(a, "adminAssign"),
            Step::Update(a) => self.assign(a, "adminUpdate"),
            Step::Remove(b) => self.remove(b),
            Step::Swap(b, a) => self.remove(b).and_then(|_| {
                self.assign(a, "adminAssign").map_err(|mut e| {
                    // The removal went through.
                    if e.known == Some(Observed::NotDone) {
                        e.known = Some(Observed::OnlyRemoved);
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
        let found = |s: &LiveSchedule| {
            Observed::Done(Applied {
                request_id: None,
                schedule_id: s.id.clone(),
            })
        };
        let observed = match step(change) {
            Step::Assign(a) => self
                .find_schedule(a)
                .map(|s| s.as_ref().map_or(Observed::NotDone, found)),
            Step::Update(a) => self.find_schedule(a).map(|s| match s {
                Some(s) if same_end(s.end, planned_end(a, started_at)) => found(&s),
                _ => Observed::NotDone,
            }),
            Step::Remove(b) => self.find_schedule(b).map(|s| {
                if s.is_some() {
                    Observed::NotDone
                } else {
                    Observed::Done(Applied::default())
                }
            }),
            Step::Swap(b, a) => self.find_schedule(a).and_then(|new| match new {
                Some(s) => Ok(found(&s)),
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
}
