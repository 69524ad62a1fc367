//! What a refresh finds when it compares the state with the service, as data: the changes
//! made outside pimplan (drift), and what it learnt of changes an interrupted apply left
//! pending and of requests the service had not carried out. `render/drift.rs` says it in
//! words; whether a finding is drift (and so changes the exit status of `drift` and
//! `plan --refresh`) is [`DriftItem::is_drift`], decided here and nowhere else.

use chrono::{DateTime, FixedOffset};

use crate::config::model::{AssignmentType, Role};

/// An assignment as the drift names it: its group and principal by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRef {
    pub group: String,
    pub principal: String,
    pub role: Role,
    pub kind: AssignmentType,
}

/// What the service was found to hold of a change an interrupted apply left pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingOutcome {
    /// The service holds it.
    Done,
    /// The service does not hold it.
    NotDone,
    /// The old assignment is removed in the service, the new one is not made.
    OnlyRemoved,
    /// The service holds some of the policy's rules.
    PartlyDone,
}

/// The few words an apply's error and the drift text say of it.
impl std::fmt::Display for PendingOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PendingOutcome::Done => "done (the service holds it)",
            PendingOutcome::NotDone => "not done (the service does not hold it)",
            PendingOutcome::OnlyRemoved => {
                "half done (the old assignment is removed in the service, the new one is not made)"
            }
            PendingOutcome::PartlyDone => "partly done (the service holds some of its rules)",
        })
    }
}

/// What became of a request the service had taken but not carried out yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Carried out now: recorded as done.
    Provisioned,
    /// Still in this status: not granted yet.
    Waiting(String),
    /// Ended in this status without granting: dropped from the state.
    Ended(String),
}

/// One finding of a refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriftItem {
    /// A change an interrupted apply left pending, checked against the service.
    Pending {
        address: String,
        outcome: PendingOutcome,
    },
    /// A request the service had not carried out when it was applied, read again.
    Request {
        address: String,
        request_id: String,
        outcome: RequestOutcome,
    },
    /// Recorded in the state, gone from the service.
    RemovedInService { assignment: AssignmentRef },
    /// The service's end of an assignment is not the recorded one.
    EndDiffers {
        assignment: AssignmentRef,
        service: Option<DateTime<FixedOffset>>,
        recorded: Option<DateTime<FixedOffset>>,
    },
    /// In the service, not in the state.
    MadeOutside { assignment: AssignmentRef },
    /// A policy setting the service holds otherwise than the state records.
    PolicyDiffers {
        group: String,
        role: Role,
        setting: String,
        service: String,
        recorded: Option<String>,
    },
    /// A fact the privilege graph rests on (a group's role-assignability, kind, owners or
    /// members; an admin's directory roles; a user's licences) that the directory holds
    /// otherwise than the files declare: `subject` (`group ops`, `principal alice`), the
    /// `fact` (`owners`), and each side in words.
    FactDiffers {
        subject: String,
        fact: String,
        service: String,
        files: String,
    },
    /// A group the files declare (with its id) that the directory does not have (404).
    GroupGone { group: String },
    /// Facts not checked: the app may not read them (403); the permission they need.
    FactUnchecked { facts: String, permission: String },
    /// Facts the service does not show whole, so not checked: `why` says what it leaves out.
    FactNotShown { facts: String, why: String },
}

impl DriftItem {
    /// Whether this is a change made outside pimplan. A pending change checked, or a
    /// request still waiting or carried out now, is not; a request that ended without
    /// granting is (what the state recorded is gone).
    pub fn is_drift(&self) -> bool {
        match self {
            DriftItem::Pending { .. }
            | DriftItem::FactUnchecked { .. }
            | DriftItem::FactNotShown { .. } => false,
            DriftItem::Request { outcome, .. } => match outcome {
                RequestOutcome::Provisioned | RequestOutcome::Waiting(_) => false,
                RequestOutcome::Ended(_) => true,
            },
            DriftItem::RemovedInService { .. }
            | DriftItem::EndDiffers { .. }
            | DriftItem::MadeOutside { .. }
            | DriftItem::PolicyDiffers { .. }
            | DriftItem::FactDiffers { .. }
            | DriftItem::GroupGone { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_and_waiting_requests_are_not_drift_an_ended_request_is() {
        let pending = DriftItem::Pending {
            address: "a".into(),
            outcome: PendingOutcome::Done,
        };
        let request = |outcome| DriftItem::Request {
            address: "a".into(),
            request_id: "r".into(),
            outcome,
        };
        assert!(!pending.is_drift());
        assert!(!request(RequestOutcome::Provisioned).is_drift());
        assert!(!request(RequestOutcome::Waiting("PendingProvisioning".into())).is_drift());
        assert!(request(RequestOutcome::Ended("Failed".into())).is_drift());
        let removed = DriftItem::RemovedInService {
            assignment: AssignmentRef {
                group: "g".into(),
                principal: "p".into(),
                role: Role::Member,
                kind: AssignmentType::Eligible,
            },
        };
        assert!(removed.is_drift());
    }
}
