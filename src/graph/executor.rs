//! `apply --target graph`: each planned change becomes the matching PIM for Groups request.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::bodies::{
    policy_rules, remove_request, requests_path, rule_settings, schedule_request, schedules_path,
};
use super::client::{Client, GraphError};
use crate::apply::{ExecError, Executor};
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
}

fn exec(e: GraphError) -> ExecError {
    ExecError {
        message: e.to_string(),
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
        }
    }

    /// The schedule of (group, principal, role) of this kind, if the service has one.
    fn find_schedule(&mut self, spec: &AssignmentSpec) -> Result<Option<Value>, GraphError> {
        let path = format!(
            "{}?$filter=groupId eq '{}' and principalId eq '{}'",
            schedules_path(spec.kind),
            spec.group_id.as_deref().unwrap_or_default(),
            spec.principal_id.as_deref().unwrap_or_default()
        );
        let (_, list) = self.client.send("GET", &path.replace(' ', "%20"), None)?;
        Ok(list["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["accessId"] == spec.role.to_string() && s["memberType"] != "group")
            .cloned())
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

    fn assign(&mut self, spec: &AssignmentSpec, action: &str) -> Result<(), GraphError> {
        let body = schedule_request(spec, action, self.now);
        match self
            .client
            .send("POST", requests_path(spec.kind), Some(&body))
        {
            Ok((_, request)) => {
                if let Some(id) = request["targetScheduleId"].as_str().map(str::to_owned) {
                    self.wait_visible(spec, &id)?;
                }
                Ok(())
            }
            // Created by an earlier, interrupted run: verify, and take it as done.
            Err(e) if e.code() == Some("RoleAssignmentExists") && action == "adminAssign" => {
                // It may be too new to be listed yet: look again for a while.
                let started = Instant::now();
                let mut pause = Duration::from_millis(100);
                loop {
                    if self.find_schedule(spec)?.is_some() {
                        return Ok(());
                    }
                    if started.elapsed() >= self.visibility_timeout {
                        return Err(e);
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
            Err(e) => Err(e),
        }
    }

    fn remove(&mut self, spec: &AssignmentSpec) -> Result<(), GraphError> {
        match self.client.send(
            "POST",
            requests_path(spec.kind),
            Some(&remove_request(spec)),
        ) {
            Ok(_) => Ok(()),
            // Already gone (removed by an earlier, interrupted run, or out of band).
            Err(e) if e.status() == Some(404) || e.code() == Some("RoleAssignmentDoesNotExist") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Resolve the group's policy for the role (never cached: ids change) and patch the
    /// rules whose settings changed, copying each rule's `target` back.
    fn patch_policy(
        &mut self,
        spec: &PolicySpec,
        before: Option<&BTreeMap<String, String>>,
    ) -> Result<(), GraphError> {
        let group = spec.group_id.as_deref().unwrap_or_default();
        let path = format!(
            "/policies/roleManagementPolicyAssignments?$filter=scopeId eq '{group}' and scopeType eq 'Group' and roleDefinitionId eq '{}'",
            spec.role
        );
        let (_, assignments) = self.client.send("GET", &path.replace(' ', "%20"), None)?;
        let policy_id = assignments["value"][0]["policyId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| GraphError::Service {
                status: 404,
                code: "PolicyNotFound".to_owned(),
                message: format!("no {} policy assignment for group {group}", spec.role),
            })?;
        let (_, policy) = self.client.send(
            "GET",
            &format!("/policies/roleManagementPolicies/{policy_id}?$expand=rules"),
            None,
        )?;
        let approvers = &self.approvers;
        let rules = policy_rules(&spec.settings, &|name| approvers.get(name).cloned())
            .map_err(GraphError::Config)?;
        for (rule_id, mut body) in rules {
            if let Some(before) = before
                && rule_settings(rule_id)
                    .iter()
                    .all(|k| before.get(*k) == spec.settings.get(*k))
            {
                continue;
            }
            let target = policy["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["id"] == rule_id)
                .map(|r| r["target"].clone())
                .unwrap_or(Value::Null);
            if let Some(o) = body.as_object_mut() {
                o.insert("target".into(), target);
            }
            self.client.send(
                "PATCH",
                &format!("/policies/roleManagementPolicies/{policy_id}/rules/{rule_id}"),
                Some(&body),
            )?;
        }
        Ok(())
    }
}

impl Executor for GraphExecutor {
    fn execute(&mut self, change: &Change) -> Result<(), ExecError> {
        match &change.subject {
            Subject::Assignment { before, after } => {
                let expired = matches!(change.reason, Some(Reason::Expired { .. }));
                match (change.action, before, after) {
                    (Action::Create, _, Some(a)) => self.assign(a, "adminAssign").map_err(exec),
                    (Action::Update, Some(b), Some(a))
                        if b.spec.principal_id != a.principal_id
                            && b.spec.principal_id.is_some() =>
                    {
                        self.remove(&b.spec)
                            .and_then(|()| self.assign(a, "adminAssign"))
                            .map_err(exec)
                    }
                    (Action::Update, Some(b), Some(a)) => {
                        let mut b_service = b.spec.clone();
                        b_service.group_id.clone_from(&a.group_id);
                        b_service.principal_id.clone_from(&a.principal_id);
                        b_service.emergency_access = a.emergency_access;
                        if b_service == *a {
                            return Ok(()); // only ids were added: nothing changes in the service
                        }
                        self.assign(a, "adminUpdate").map_err(exec)
                    }
                    (Action::Remove, Some(b), _) if !expired => self.remove(&b.spec).map_err(exec),
                    (Action::Replace, Some(b), Some(a)) => self
                        .remove(&b.spec)
                        .and_then(|()| self.assign(a, "adminAssign"))
                        .map_err(exec),
                    _ => Ok(()),
                }
            }
            Subject::Policy {
                before,
                after: Some(spec),
            } => self
                .patch_policy(spec, before.as_ref().map(|b| &b.spec.settings))
                .map_err(exec),
            // A policy no longer declared stops being managed; the service keeps it.
            Subject::Policy { after: None, .. } => Ok(()),
        }
    }
}
