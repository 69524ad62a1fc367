//! A change to one state entry: what a plan proposes and an interrupted apply leaves pending
//! in the state. It lives with the records it points at, so the state does not import the
//! plan; [`crate::plan`] re-exports it.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::record::{AssignmentRecord, AssignmentSpec, PolicyRecord, PolicySpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Remove,
    /// Remove, then create: a change of role or type cannot be made in place.
    Replace,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Remove => "-",
            Action::Replace => "-/+",
        }
    }
}

/// Why a change is what it is, when that is not obvious from the diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reason {
    /// The recorded schedule ended at `ended_at`: it is gone in the service. A `remove` only
    /// drops it from the state (with `after`, the declaration that stays ended: the state
    /// remembers it in `ended`); a `create` grants it again because the declaration's
    /// start, end or duration changed.
    Expired { ended_at: DateTime<FixedOffset> },
    /// Role or type changed, which the service cannot update in place.
    RoleOrTypeChanged,
    /// The object ids of the group or principal changed.
    IdsChanged,
    /// An apply to the state alone recorded it; Microsoft Graph never got it.
    NotSent,
}

/// What a change is about: before (as recorded) and after (as declared).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "object")]
#[allow(clippy::large_enum_variant)] // a few hundred bytes per change; boxing buys nothing here
pub enum Subject {
    Assignment {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<AssignmentRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<AssignmentSpec>,
    },
    Policy {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<PolicyRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<PolicySpec>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// A human name for the object: `assignment prod-db-admins/alice (member, eligible)`.
    pub address: String,
    #[serde(flatten)]
    pub subject: Subject,
}

impl Change {
    /// Attributes before and after, by name, for rendering.
    pub fn attributes(&self) -> (BTreeMap<&str, String>, BTreeMap<&str, String>) {
        match &self.subject {
            Subject::Assignment { before, after } => (
                before
                    .as_ref()
                    .map(|b| b.spec.attributes())
                    .unwrap_or_default(),
                after
                    .as_ref()
                    .map(AssignmentSpec::attributes)
                    .unwrap_or_default(),
            ),
            Subject::Policy { before, after } => (
                before
                    .as_ref()
                    .map(|b| b.spec.attributes())
                    .unwrap_or_default(),
                after
                    .as_ref()
                    .map(PolicySpec::attributes)
                    .unwrap_or_default(),
            ),
        }
    }

    /// Whether the change does something in the service (an expired entry only leaves the state).
    pub fn touches_service(&self) -> bool {
        !(self.action == Action::Remove && matches!(self.reason, Some(Reason::Expired { .. })))
    }

    /// An update that sends nothing to the service: only object ids were added where there
    /// were none (or dropped from the files), or the emergency-access mark changed. The state records the new values and
    /// keeps the times the service holds.
    pub fn sends_nothing(&self) -> bool {
        match (&self.subject, self.action) {
            (
                Subject::Assignment {
                    before: Some(b),
                    after: Some(a),
                },
                Action::Update,
            ) => {
                // Added where there was none, or dropped from the files: the object is the
                // same (a Graph apply refuses to run without the id anyway).
                let added = |old: &Option<String>, new: &Option<String>| {
                    old.is_none() || new.is_none() || old == new
                };
                added(&b.spec.group_id, &a.group_id)
                    && added(&b.spec.principal_id, &a.principal_id)
                    && {
                        // Compare with the ids and names as the service knows them now.
                        let mut old = b.spec.clone();
                        old.group_id.clone_from(&a.group_id);
                        old.principal_id.clone_from(&a.principal_id);
                        old.service_view() == a.service_view()
                    }
            }
            _ => false,
        }
    }

    pub fn assignment_before(&self) -> Option<&AssignmentRecord> {
        match &self.subject {
            Subject::Assignment { before, .. } => before.as_ref(),
            Subject::Policy { .. } => None,
        }
    }

    pub fn assignment_after(&self) -> Option<&AssignmentSpec> {
        match &self.subject {
            Subject::Assignment { after, .. } => after.as_ref(),
            Subject::Policy { .. } => None,
        }
    }
}

pub fn assignment_address(spec: &AssignmentSpec) -> String {
    format!(
        "assignment {}/{} ({}, {})",
        spec.group, spec.principal, spec.role, spec.kind
    )
}

pub fn policy_address(spec: &PolicySpec) -> String {
    format!("policy {} ({})", spec.group, spec.role)
}
