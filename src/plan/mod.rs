//! The plan: the diff between the workspace and the state, as data.
//!
//! `plan()` is pure: workspace, state and "now" in, [`Plan`] out, with no printing. The
//! renderers in `render/plan_*.rs` turn it into text; `apply` walks the same changes.

pub mod desired;
pub mod end;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::source::Span;
pub use crate::state::change::{
    Action, Change, Reason, Subject, assignment_address, policy_address,
};
use crate::state::{AssignmentRecord, AssignmentSpec, PolicyRecord, PolicySpec, State};
pub use desired::{Desired, desired};

/// Version of the plan file and of `plan --format json` (one document). Version 2 added the
/// findings, the per-file fingerprints, the summary and the diff of each change; version 3
/// the state's `version` (a blob's ETag, a local file's SHA-256). A plan file
/// of version 1 is refused with "plan again" (a plan file lives for one review).
pub const FORMAT_VERSION: u32 = 3;

/// The oldest saved plan this pimplan still reads: version 2 is version 3 without the
/// state's `version` (whose check it then skips).
pub const OLDEST_FORMAT_VERSION: u32 = 2;

/// The largest saved plan pimplan reads: a plan of 100,000 new assignments is about 90 MB
/// (about 860 bytes a change with its diff, twice that for a change that also carries what
/// the state recorded), so this fits a tenant of several hundred thousand assignments, and
/// refuses a file that is not a plan before it fills the memory.
pub const MAX_PLAN_BYTES: u64 = 1 << 30;

/// Where a plan's changes go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Destination {
    /// The state file alone.
    State,
    /// Microsoft Graph, then the state; `tenant` as configured (id or domain), if it is.
    Graph {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant: Option<String>,
    },
}

impl Destination {
    /// Where the changes go, in words.
    pub fn describe(&self) -> String {
        match self {
            Destination::State => {
                "the state file only: nothing is sent to Microsoft Graph".to_owned()
            }
            Destination::Graph { tenant: Some(t) } => format!("Microsoft Graph, tenant {t}"),
            Destination::Graph { tenant: None } => {
                "Microsoft Graph, the tenant of the sign-in (no `tenant.id` in pimplan.yaml)"
                    .to_owned()
            }
        }
    }
}

/// Which state a plan was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    /// `None` when there was no state file yet.
    pub lineage: Option<String>,
    pub serial: u64,
    pub checksum: String,
    /// The version the state's backend gave the bytes read: the blob's ETag, the SHA-256 of
    /// a local file (`None`: no state yet, or a plan of format 2, which did not record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A finding the lint and the plan-time rules reported when the plan was made (warnings and
/// infos: an error stops the plan), as the plan carries it to reviewers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFinding {
    pub code: String,
    pub name: String,
    pub severity: String,
    pub message: String,
    pub help: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub created_at: DateTime<FixedOffset>,
    pub state: StateRef,
    /// Fingerprint of every workspace file (paths and bytes).
    pub workspace_checksum: String,
    /// The fingerprint of each workspace file, by its path relative to the root file's
    /// folder: what a stale plan names as changed.
    #[serde(default)]
    pub workspace_files: BTreeMap<String, String>,
    /// Where the changes go (absent in plans of older pimplans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Destination>,
    pub changes: Vec<Change>,
    /// What lint and the plan-time rules reported when the plan was made.
    #[serde(default)]
    pub findings: Vec<PlanFinding>,
    /// The baseline the plan was made with (`--baseline`, else the root file's `baseline:`),
    /// as it was named: `apply PLANFILE` uses it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The lint findings that baseline left out: listed to reviewers as baselined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baselined: Vec<PlanFinding>,
    /// What the plan does to who can reach the privileged roles (privilege-paths §A.10):
    /// `None` for a plan without changes, or when no privileged role's reach changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privilege_delta: Option<crate::paths::PrivilegeDelta>,
}

/// Why a saved plan cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the plan `{}`: {source}; give the file `pimplan plan --out` wrote", path.display())]
    Read {
        path: std::path::PathBuf,
        source: crate::fs::ReadError,
    },
    #[error("`{}` is not a pimplan plan: {why}", path.display())]
    NotAPlan {
        path: std::path::PathBuf,
        why: String,
    },
    #[error("the plan `{}` has format version {found}, and this pimplan reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}; make the plan again with `pimplan plan --out`", path.display())]
    Version {
        path: std::path::PathBuf,
        found: u64,
    },
}

/// Read a plan `plan --out` saved (a FIFO, a device or a folder is refused before it is
/// read, and nothing larger than [`MAX_PLAN_BYTES`] is read).
pub fn read_file(path: &std::path::Path) -> Result<Plan, PlanFileError> {
    let text = crate::fs::read_bounded_text(path, MAX_PLAN_BYTES).map_err(|source| {
        PlanFileError::Read {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let not_a_plan = |why: String| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        why,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not_a_plan(e.to_string()))?;
    match value.get("format_version").map(serde_json::Value::as_u64) {
        Some(Some(v))
            if (u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION)).contains(&v) => {}
        Some(Some(found)) => {
            return Err(PlanFileError::Version {
                path: path.to_path_buf(),
                found,
            });
        }
        _ => return Err(not_a_plan("it has no `format_version`".to_owned())),
    }
    serde_json::from_value(value).map_err(|e| not_a_plan(e.to_string()))
}

/// How the changes a plan would make now (`now`) differ from a saved plan's (`saved`), in
/// words, naming at most five objects: "`assignment a/b (member, eligible)` is no longer
/// planned (+), `policy a (member)` is planned differently".
pub fn changes_differ(saved: &[Change], now: &[Change]) -> String {
    let mut parts = Vec::new();
    for change in saved.iter().filter(|c| !now.contains(c)) {
        let same_object = now
            .iter()
            .any(|n| n.address == change.address && !saved.contains(n));
        parts.push(if same_object {
            format!("`{}` is planned differently", change.address)
        } else {
            format!(
                "`{}` ({}) is no longer planned",
                change.address,
                change.action.symbol()
            )
        });
    }
    for change in now
        .iter()
        .filter(|c| !saved.contains(c) && !saved.iter().any(|s| s.address == c.address))
    {
        parts.push(format!(
            "`{}` ({}) is planned now",
            change.address,
            change.action.symbol()
        ));
    }
    let more = parts.len().saturating_sub(5);
    parts.truncate(5);
    if more > 0 {
        parts.push(format!("and {more} more"));
    }
    parts.join(", ")
}

/// What differs between the workspace files a plan was made from (`then`) and the files
/// now (`now`), in words: "`groups/a.yaml` changed, `b.yaml` added".
pub fn files_changed(then: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> String {
    let mut parts = Vec::new();
    for (path, sum) in now {
        match then.get(path) {
            Some(old) if old == sum => {}
            Some(_) => parts.push(format!("`{path}` changed")),
            None => parts.push(format!("`{path}` added")),
        }
    }
    for path in then.keys().filter(|p| !now.contains_key(*p)) {
        parts.push(format!("`{path}` removed"));
    }
    parts.join(", ")
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// (to add, to change, to remove); a replace counts as one add and one remove.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.changes
            .iter()
            .fold((0, 0, 0), |(a, c, r), ch| match ch.action {
                Action::Create => (a + 1, c, r),
                Action::Update => (a, c + 1, r),
                Action::Remove => (a, c, r + 1),
                Action::Replace => (a + 1, c, r + 1),
            })
    }
}

/// Order in which changes run: policies that allow what assignments need first, then
/// removals before additions, and policies of groups no longer declared last.
fn order(change: &Change) -> (u8, String) {
    let rank = match (&change.subject, change.action) {
        (Subject::Policy { .. }, Action::Create | Action::Update) => 0,
        (Subject::Assignment { .. }, Action::Remove) => 1,
        (Subject::Assignment { .. }, Action::Replace) => 2,
        (Subject::Assignment { .. }, Action::Update) => 3,
        (Subject::Assignment { .. }, Action::Create) => 4,
        (Subject::Policy { .. }, _) => 5,
    };
    (rank, change.address.clone())
}

/// Whether a declared assignment grants nothing now: its end (`end`, or `start` +
/// `duration`) is past, or the state records it as ended with the same times (a `duration`
/// without `start`, which would otherwise count again from the next apply).
fn ended_declaration(
    spec: &AssignmentSpec,
    recorded: &HashSet<&str>,
    ended: &HashMap<&str, &AssignmentRecord>,
    now: DateTime<FixedOffset>,
) -> bool {
    if end::end_of(spec, None, now)
        .at(now)
        .is_some_and(|end| end <= now)
    {
        return true;
    }
    let key = spec.key();
    !recorded.contains(key.as_str())
        && ended
            .get(key.as_str())
            .is_some_and(|e| e.spec.same_times(spec))
}

/// The changes that make the state match the workspace.
pub fn diff(desired: &Desired<'_>, state: &State, now: DateTime<FixedOffset>) -> Vec<Change> {
    let mut changes = Vec::new();
    let declared: HashMap<String, &AssignmentSpec> = desired
        .assignments
        .iter()
        .map(|(spec, _)| (spec.key(), spec))
        .collect();
    let recorded: HashSet<&str> = state.assignments.iter().map(|a| a.key.as_str()).collect();
    let ended: HashMap<&str, &AssignmentRecord> =
        state.ended.iter().map(|e| (e.key.as_str(), e)).collect();
    // Time passing never grants again: a declaration that has ended is not created.
    let granting: Vec<&AssignmentSpec> = desired
        .assignments
        .iter()
        .map(|(spec, _)| spec)
        .filter(|spec| !ended_declaration(spec, &recorded, &ended, now))
        .collect();
    let wanted: HashMap<String, &AssignmentSpec> =
        granting.iter().map(|spec| (spec.key(), *spec)).collect();
    let mut matched_desired: HashSet<String> = HashSet::new();
    let mut unmatched_state: Vec<&AssignmentRecord> = Vec::new();

    for record in &state.assignments {
        let expired = record.ends_at.is_some_and(|end| end <= now);
        let ended_at = record.ends_at.unwrap_or(now);
        // Ended while still declared with the same times: dropped from the state and
        // remembered as ended (the declared spec rides along for the apply to see).
        let dropped = |spec: Option<&AssignmentSpec>| Change {
            action: Action::Remove,
            reason: Some(Reason::Expired { ended_at }),
            address: assignment_address(&record.spec),
            subject: Subject::Assignment {
                before: Some(record.clone()),
                after: spec.cloned(),
            },
        };
        match wanted.get(&record.key) {
            Some(spec) => {
                matched_desired.insert(record.key.clone());
                if expired && spec.same_times(&record.spec) {
                    changes.push(dropped(Some(spec)));
                } else if expired {
                    // A new start, end or duration grants it again.
                    changes.push(Change {
                        action: Action::Create,
                        reason: Some(Reason::Expired { ended_at }),
                        address: assignment_address(spec),
                        subject: Subject::Assignment {
                            before: Some(record.clone()),
                            after: Some((*spec).clone()),
                        },
                    });
                } else if spec.differs_from(&record.spec) {
                    changes.push(Change {
                        action: Action::Update,
                        reason: None,
                        address: assignment_address(spec),
                        subject: Subject::Assignment {
                            before: Some(record.clone()),
                            after: Some((*spec).clone()),
                        },
                    });
                }
            }
            None if expired => changes.push(dropped(declared.get(&record.key).copied())),
            None => unmatched_state.push(record),
        }
    }
    // Ended entries whose declaration is gone are forgotten.
    for record in state
        .ended
        .iter()
        .filter(|e| !declared.contains_key(&e.key) && !recorded.contains(e.key.as_str()))
    {
        changes.push(Change {
            action: Action::Remove,
            reason: Some(Reason::Expired {
                ended_at: record.ends_at.unwrap_or(now),
            }),
            address: assignment_address(&record.spec),
            subject: Subject::Assignment {
                before: Some(record.clone()),
                after: None,
            },
        });
    }

    // Ids added or changed: the same names, role and type.
    let mut by_names: HashMap<_, &AssignmentSpec> = HashMap::new();
    for &spec in &granting {
        if !matched_desired.contains(&spec.key()) {
            by_names.insert(spec.name_key(), spec);
        }
    }
    unmatched_state.retain(|record| match by_names.remove(&record.spec.name_key()) {
        Some(spec) => {
            matched_desired.insert(spec.key());
            // An id that was known and is now another one names another object in Entra:
            // the old grant is removed and a new one made, and the plan says so (so that
            // the guards on removals see it). Ids added where there were none change
            // nothing in the service.
            let changed = |old: &Option<String>, new: &Option<String>| {
                old.is_some() && new.is_some() && old != new
            };
            let replaced = changed(&record.spec.group_id, &spec.group_id)
                || changed(&record.spec.principal_id, &spec.principal_id);
            changes.push(Change {
                action: if replaced {
                    Action::Replace
                } else {
                    Action::Update
                },
                reason: Some(Reason::IdsChanged),
                address: assignment_address(spec),
                subject: Subject::Assignment {
                    before: Some((*record).clone()),
                    after: Some(spec.clone()),
                },
            });
            false
        }
        None => true,
    });

    // What is left pairs up per (group, principal): a role or type change is a replace.
    let mut new_by_pair: BTreeMap<(String, String), Vec<&AssignmentSpec>> = BTreeMap::new();
    for &spec in &granting {
        if !matched_desired.contains(&spec.key()) {
            new_by_pair.entry(spec.pair()).or_default().push(spec);
        }
    }
    let mut old_by_pair: BTreeMap<(String, String), Vec<&AssignmentRecord>> = BTreeMap::new();
    for record in unmatched_state {
        old_by_pair
            .entry(record.spec.pair())
            .or_default()
            .push(record);
    }
    for (pair, olds) in old_by_pair {
        let mut news = new_by_pair.remove(&pair).unwrap_or_default().into_iter();
        for old in olds {
            match news.next() {
                Some(spec) => changes.push(Change {
                    action: Action::Replace,
                    reason: Some(Reason::RoleOrTypeChanged),
                    address: assignment_address(spec),
                    subject: Subject::Assignment {
                        before: Some(old.clone()),
                        after: Some(spec.clone()),
                    },
                }),
                None => changes.push(Change {
                    action: Action::Remove,
                    reason: None,
                    address: assignment_address(&old.spec),
                    subject: Subject::Assignment {
                        before: Some(old.clone()),
                        after: None,
                    },
                }),
            }
        }
        for spec in news {
            changes.push(create(spec));
        }
    }
    for spec in new_by_pair.into_values().flatten() {
        changes.push(create(spec));
    }

    // Policies.
    let wanted_policies: HashMap<String, &PolicySpec> = desired
        .policies
        .iter()
        .map(|(spec, _)| (spec.key(), spec))
        .collect();
    for record in &state.policies {
        match wanted_policies.get(&record.key) {
            Some(spec) if spec.differs_from(&record.spec) => changes.push(Change {
                action: Action::Update,
                reason: None,
                address: policy_address(spec),
                subject: Subject::Policy {
                    before: Some(record.clone()),
                    after: Some((*spec).clone()),
                },
            }),
            Some(_) => {}
            None => changes.push(Change {
                action: Action::Remove,
                reason: None,
                address: policy_address(&record.spec),
                subject: Subject::Policy {
                    before: Some(record.clone()),
                    after: None,
                },
            }),
        }
    }
    let recorded: HashSet<&str> = state.policies.iter().map(|p| p.key.as_str()).collect();
    for (spec, _) in &desired.policies {
        if !recorded.contains(spec.key().as_str()) {
            changes.push(Change {
                action: Action::Create,
                reason: None,
                address: policy_address(spec),
                subject: Subject::Policy {
                    before: None,
                    after: Some(spec.clone()),
                },
            });
        }
    }
    changes.sort_by_cached_key(order);
    changes
}

/// Mark the changes of a plan for Microsoft Graph (made from [`State::service_view`]) that an
/// apply to the state alone has recorded already: they are still to send.
pub fn mark_not_sent(changes: &mut [Change], state: &State) {
    let assignments: HashMap<&str, &AssignmentRecord> = state
        .assignments
        .iter()
        .map(|a| (a.key.as_str(), a))
        .collect();
    let policies: HashMap<&str, &PolicyRecord> =
        state.policies.iter().map(|p| (p.key.as_str(), p)).collect();
    let removed: HashSet<&str> = state.removed.iter().map(|r| r.key.as_str()).collect();
    for change in changes.iter_mut().filter(|c| c.reason.is_none()) {
        let recorded = match &change.subject {
            Subject::Assignment {
                after: Some(spec), ..
            } => assignments
                .get(spec.key().as_str())
                .is_some_and(|r| !spec.differs_from(&r.spec)),
            Subject::Assignment {
                before: Some(b),
                after: None,
            } => removed.contains(b.key.as_str()),
            Subject::Policy {
                after: Some(spec), ..
            } => policies
                .get(spec.key().as_str())
                .is_some_and(|r| !spec.differs_from(&r.spec)),
            _ => false,
        };
        if recorded {
            change.reason = Some(Reason::NotSent);
        }
    }
}

fn create(spec: &AssignmentSpec) -> Change {
    Change {
        action: Action::Create,
        reason: None,
        address: assignment_address(spec),
        subject: Subject::Assignment {
            before: None,
            after: Some(spec.clone()),
        },
    }
}

/// Where a plan-time finding about a change points: the declared assignment when there is
/// one, else its entry in the state file.
pub fn change_span(
    change: &Change,
    desired: &Desired<'_>,
    state_entry: impl Fn(&str) -> Option<Span>,
) -> Option<Span> {
    if let Some(span) = change
        .assignment_after()
        .and_then(|after| desired.span_of(&after.key()))
    {
        return Some(span);
    }
    change.assignment_before().and_then(|b| state_entry(&b.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_changed_names_each_changed_added_and_removed_file() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
                .collect()
        };
        let then = map(&[("a.yaml", "1"), ("b.yaml", "2"), ("c.yaml", "3")]);
        let now = map(&[("a.yaml", "1"), ("b.yaml", "9"), ("d.yaml", "4")]);
        assert_eq!(
            files_changed(&then, &now),
            "`b.yaml` changed, `d.yaml` added, `c.yaml` removed"
        );
        assert_eq!(files_changed(&then, &then), "");
    }

    fn policy(group: &str, action: Action) -> Change {
        Change {
            action,
            reason: None,
            address: format!("policy {group} (member)"),
            subject: Subject::Policy {
                before: None,
                after: None,
            },
        }
    }

    #[test]
    fn changes_differ_names_what_is_gone_new_or_different() {
        let saved = vec![
            policy("a", Action::Create),
            policy("b", Action::Create),
            policy("c", Action::Create),
        ];
        let now = vec![
            policy("a", Action::Create),
            policy("b", Action::Update),
            policy("d", Action::Remove),
        ];
        assert_eq!(
            changes_differ(&saved, &now),
            "`policy b (member)` is planned differently, `policy c (member)` (+) is no longer planned, `policy d (member)` (-) is planned now"
        );
        assert_eq!(changes_differ(&saved, &saved), "");
    }
}
