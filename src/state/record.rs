//! What the state records of one entry: the assignment or policy as declared (the spec), as
//! recorded after apply (the record), and its key. A leaf of `state`: the plan's changes
//! ([`super::change`]) point at these.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::config::model::{AssignmentType, Role};

fn reference(name: &str, id: Option<&str>) -> String {
    id.map_or_else(|| format!("name:{name}"), |id| format!("id:{id}"))
}

/// The state key of an assignment: object ids when the workspace gives them, else names.
pub fn assignment_key(
    group: &str,
    group_id: Option<&str>,
    principal: &str,
    principal_id: Option<&str>,
    role: Role,
    kind: AssignmentType,
) -> String {
    format!(
        "assignment/{}/{}/{role}/{kind}",
        reference(group, group_id),
        reference(principal, principal_id)
    )
}

/// What the workspace declares for one assignment: the values a plan compares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentSpec {
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    pub role: Role,
    #[serde(rename = "type")]
    pub kind: AssignmentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<String>,
    /// `emergency_access` of the principal when it was declared (PIM704 protects it even
    /// after the principal is gone from the files).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency_access: bool,
}

impl AssignmentSpec {
    /// Object ids when the workspace gives them, else names: renaming a handle whose id is
    /// set changes nothing.
    pub fn key(&self) -> String {
        assignment_key(
            &self.group,
            self.group_id.as_deref(),
            &self.principal,
            self.principal_id.as_deref(),
            self.role,
            self.kind,
        )
    }

    /// What the service holds of the grant: without the names of objects whose ids are
    /// known (renaming a handle is no change), and without pimplan's own marks.
    pub fn service_view(&self) -> AssignmentSpec {
        let mut v = self.clone();
        if v.group_id.is_some() {
            v.group.clear();
        }
        if v.principal_id.is_some() {
            v.principal.clear();
        }
        v.emergency_access = false;
        v
    }

    /// Whether `self` (declared) differs from `recorded` in anything the state keeps: the
    /// service's view, the object ids, or the emergency-access mark.
    pub fn differs_from(&self, recorded: &AssignmentSpec) -> bool {
        self.service_view() != recorded.service_view()
            || self.group_id != recorded.group_id
            || self.principal_id != recorded.principal_id
            || self.emergency_access != recorded.emergency_access
    }

    /// Whether the two declare the same times: `start`, `end`, `duration` and `permanent`
    /// (what decides when the schedule ends).
    pub fn same_times(&self, other: &AssignmentSpec) -> bool {
        self.start == other.start
            && self.end == other.end
            && self.duration == other.duration
            && self.permanent == other.permanent
    }

    /// The key by names only, to recognise an entry whose ids were added or changed.
    pub fn name_key(&self) -> (String, String, Role, AssignmentType) {
        (
            self.group.clone(),
            self.principal.clone(),
            self.role,
            self.kind,
        )
    }

    /// (group, principal): an assignment whose role or type changes is replaced.
    pub fn pair(&self) -> (String, String) {
        (
            self.group_id
                .clone()
                .unwrap_or_else(|| format!("name:{}", self.group)),
            self.principal_id
                .clone()
                .unwrap_or_else(|| format!("name:{}", self.principal)),
        )
    }

    /// Attributes as shown in a plan, in a fixed order. Ids and flags that do not describe
    /// the grant itself are left out.
    pub fn attributes(&self) -> BTreeMap<&'static str, String> {
        let mut a = BTreeMap::new();
        a.insert("group", self.group.clone());
        a.insert("principal", self.principal.clone());
        a.insert("role", self.role.to_string());
        a.insert("type", self.kind.to_string());
        let mut opt = |k, v: &Option<String>| {
            if let Some(v) = v {
                a.insert(k, v.clone());
            }
        };
        opt("group_id", &self.group_id);
        opt("principal_id", &self.principal_id);
        opt("start", &self.start);
        opt("end", &self.end);
        opt("duration", &self.duration);
        opt("justification", &self.justification);
        opt("ticket_system", &self.ticket_system);
        opt("ticket_number", &self.ticket_number);
        if self.permanent {
            a.insert("permanent", "true".to_owned());
        }
        if self.emergency_access {
            a.insert("emergency_access", "true".to_owned());
        }
        a
    }
}

/// An assignment as recorded after apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    pub key: String,
    #[serde(flatten)]
    pub spec: AssignmentSpec,
    pub applied_at: DateTime<FixedOffset>,
    /// When the schedule starts and ends in the service (`start`, or the apply time; `end`,
    /// or start + duration; none when permanent).
    pub starts_at: DateTime<FixedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<FixedOffset>>,
    /// With `--target graph`: the id of the schedule request that made or last changed the
    /// assignment, and the schedule it created (`{groupId}_{role}_{guid}`), for an auditor to
    /// find them in the tenant's PIM history. Never used to address anything: a schedule's id
    /// changes on every update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// With `--target graph`: the status of `request_id` when the service had taken the
    /// request but not carried it out yet (`Granted`, `PendingApproval`, `PendingProvisioning`,
    /// …); absent once it is provisioned. The next `apply --target graph`, `plan --refresh`
    /// and `drift` read the request again (see `apply::settle`); removing such an entry
    /// cancels the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_status: Option<String>,
    /// What the service was last known to hold of this entry, when that is not the entry
    /// itself (an apply to the state alone recorded it): see [`Held`]. Absent: the entry
    /// itself when it carries a request or schedule id (a Graph apply or `import` wrote it),
    /// else nothing is known to be in the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Held<AssignmentRecord>>,
}

/// What the service is known to hold of a state entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held<T> {
    /// What the entry records.
    Same,
    /// Nothing: an apply to the state alone recorded it, and it was never sent.
    None,
    /// An older version, recorded before an apply to the state alone changed the entry.
    Was(Box<T>),
}

/// A state entry that records what the service is known to hold of it.
pub trait Tracked: Clone {
    /// What the service is known to hold of this entry.
    fn held(&self) -> Held<Self>;
    /// Record what the service holds of this entry.
    fn set_held(&mut self, held: Held<Self>);

    /// The entry as the service holds it, if it holds it.
    fn in_service(&self) -> Option<Self> {
        let mut r = match self.held() {
            Held::Same => self.clone(),
            Held::None => return None,
            Held::Was(old) => *old,
        };
        r.set_held(Held::Same);
        Some(r)
    }
}

impl Tracked for AssignmentRecord {
    /// See [`AssignmentRecord::service`].
    fn held(&self) -> Held<AssignmentRecord> {
        match &self.service {
            Some(h) => h.clone(),
            None if self.request_id.is_some() || self.schedule_id.is_some() => Held::Same,
            None => Held::None,
        }
    }

    /// Record what the service holds: left out only where the entry's ids say it (so that
    /// the entries of a Graph apply read as before), written out otherwise.
    fn set_held(&mut self, held: Held<AssignmentRecord>) {
        self.service = None;
        if held != Held::Same || self.held() != Held::Same {
            self.service = Some(held);
        }
    }
}

impl AssignmentRecord {
    /// Whether `self` and `other` record the same grant at the same times.
    pub(super) fn same_grant(&self, other: &AssignmentRecord) -> bool {
        self.key == other.key
            && self.spec == other.spec
            && self.starts_at == other.starts_at
            && self.ends_at == other.ends_at
    }
}

/// A group's policy for one role, flattened to `setting -> value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySpec {
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    pub role: Role,
    pub settings: BTreeMap<String, String>,
}

impl PolicySpec {
    /// Whether the policies differ (a group renamed while its id is known does not count).
    pub fn differs_from(&self, recorded: &PolicySpec) -> bool {
        self.settings != recorded.settings
            || self.group_id != recorded.group_id
            || (self.group_id.is_none() && self.group != recorded.group)
    }

    pub fn key(&self) -> String {
        format!(
            "policy/{}/{}",
            self.group_id
                .as_deref()
                .map_or_else(|| format!("name:{}", self.group), |id| format!("id:{id}")),
            self.role
        )
    }

    pub fn attributes(&self) -> BTreeMap<&str, String> {
        self.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub key: String,
    #[serde(flatten)]
    pub spec: PolicySpec,
    pub applied_at: DateTime<FixedOffset>,
    /// What the service was last known to hold of this policy, when that is not the entry
    /// (see [`Held`]). Absent: not known (policy entries carry no ids to tell a Graph apply
    /// from an apply to the state alone, so an entry of an older pimplan is sent again by
    /// the next Graph apply; sending a policy again changes nothing that is right already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Held<PolicyRecord>>,
}

impl Tracked for PolicyRecord {
    /// See [`PolicyRecord::service`].
    fn held(&self) -> Held<PolicyRecord> {
        self.service.clone().unwrap_or(Held::None)
    }

    fn set_held(&mut self, held: Held<PolicyRecord>) {
        self.service = (held != Held::None).then_some(held);
    }
}
