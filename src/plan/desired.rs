//! What the workspace declares, as state specs: the "after" side of every plan.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, SecondsFormat};

use crate::config::model::AssignmentType;
use crate::config::model::{
    Assignment, Expiry, Group, Notifications, Principal, Role, RolePolicy, Workspace,
};
use crate::config::values::{format_duration, format_minutes, parse_duration};
use crate::paths::{Grant, Grants, SpanOf};
use crate::source::Span;
use crate::state::{AssignmentSpec, PolicySpec, State};

/// The declared assignments and policies, each with where it is written.
pub struct Desired<'w> {
    pub assignments: Vec<(AssignmentSpec, &'w Assignment)>,
    pub policies: Vec<(PolicySpec, &'w Group)>,
    spans: HashMap<String, Span>,
}

impl Desired<'_> {
    /// Where the assignment with this state key is declared (its `principal:` value).
    pub fn span_of(&self, key: &str) -> Option<Span> {
        self.spans.get(key).copied()
    }

    /// The files' side of the privilege graph: the desired assignments (in effect as
    /// `Grant::declared` counts them from `now`), the policies, and where each is declared.
    pub fn grants(&self, now: DateTime<FixedOffset>) -> Grants<'_> {
        Grants {
            assignments: self
                .assignments
                .iter()
                .map(|(spec, _)| Grant::declared(spec, now))
                .collect(),
            policies: self.policies.iter().map(|(p, _)| p).collect(),
            span_of: self,
        }
    }

    /// [`Self::grants`] for a time other than `now` (`paths --at`): an assignment without
    /// `start` is in effect from when `state` records it applied, or from `now` if it does
    /// not ([`Grant::declared_applied`]), as the state's side counts it.
    pub fn grants_applied(&self, now: DateTime<FixedOffset>, state: &State) -> Grants<'_> {
        let applied: HashMap<&str, DateTime<FixedOffset>> = state
            .assignments
            .iter()
            .map(|r| (r.key.as_str(), r.starts_at))
            .collect();
        Grants {
            assignments: self
                .assignments
                .iter()
                .map(|(spec, _)| {
                    Grant::declared_applied(spec, applied.get(spec.key().as_str()).copied(), now)
                })
                .collect(),
            policies: self.policies.iter().map(|(p, _)| p).collect(),
            span_of: self,
        }
    }
}

impl SpanOf for Desired<'_> {
    fn span_of(&self, key: &str) -> Option<Span> {
        Desired::span_of(self, key)
    }
}

/// A time as the state records it: in UTC, so that `2027-04-01T00:00:00+01:00` rewritten as
/// `2027-03-31T23:00:00Z` is the same time, not a change.
fn timestamp(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A setting that is a set of names: sorted, without repeats, `none` when empty.
pub fn list(items: impl IntoIterator<Item = String>) -> String {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// A role policy flattened to `setting -> value`, in the spelling of the configuration.
/// `id_of` gives a principal's object id: approvers are also compared by id, so that an
/// approver whose id is corrected is a change, though the name stays.
pub fn policy_settings(
    p: &RolePolicy,
    id_of: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut s = activation_gates(p);
    let a = &p.activation;
    // Durations in the form Graph holds them (minutes), so that a clean apply reads back
    // as no drift.
    s.insert(
        "activation.max_duration".to_owned(),
        format_minutes(a.max_duration.value),
    );
    // Without approval the service keeps no approvers.
    let approver_ids = if a.approval_required.value {
        list(
            a.approvers
                .value
                .iter()
                .map(|p| id_of(&p.value).unwrap_or_else(|| format!("name:{}", p.value))),
        )
    } else {
        "none".to_owned()
    };
    s.insert("activation.approval.approver_ids".to_owned(), approver_ids);
    for (name, policy) in [
        ("eligible_assignment", &p.eligible),
        ("active_assignment", &p.active),
    ] {
        s.insert(
            format!("{name}.allow_permanent"),
            policy.allow_permanent.value.to_string(),
        );
        let max = if policy.allow_permanent.value {
            "none".to_owned()
        } else {
            format_minutes(policy.max_duration.value)
        };
        s.insert(format!("{name}.max_duration"), max);
    }
    for (name, policy) in [
        ("eligible_assignment", &p.eligible),
        ("active_assignment", &p.active),
    ] {
        s.insert(
            format!("{name}.require"),
            list(policy.require.value.iter().map(|r| r.value.to_string())),
        );
    }
    for (name, notifications) in [
        ("activation", &a.notifications),
        ("eligible_assignment", &p.eligible.notifications),
        ("active_assignment", &p.active.notifications),
    ] {
        notification_settings(&mut s, name, notifications);
    }
    s
}

/// The settings of a role policy's activation that the privilege graph reads as gates
/// (`paths::build`): what it requires, its authentication context, approval and approvers.
/// Part of [`policy_settings`].
fn activation_gates(p: &RolePolicy) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let a = &p.activation;
    s.insert(
        "activation.require".to_owned(),
        list(a.require.value.iter().map(|r| r.value.to_string())),
    );
    s.insert(
        "activation.authentication_context".to_owned(),
        a.authentication_context
            .value
            .clone()
            .unwrap_or_else(|| "none".to_owned()),
    );
    s.insert(
        "activation.approval.required".to_owned(),
        a.approval_required.value.to_string(),
    );
    // Without approval the service keeps no approvers.
    let approvers = if a.approval_required.value {
        list(a.approvers.value.iter().map(|p| p.value.clone()))
    } else {
        "none".to_owned()
    };
    s.insert("activation.approval.approvers".to_owned(), approvers);
    s
}

/// The settings of one event class's three notification rules, under
/// `{name}.notifications.{admin|assignee|approver}.*`.
pub fn notification_settings(s: &mut BTreeMap<String, String>, name: &str, n: &Notifications) {
    for (recipient, _, one) in n.each() {
        let key = |field: &str| format!("{name}.notifications.{recipient}.{field}");
        s.insert(
            key("default_recipients"),
            one.default_recipients.value.to_string(),
        );
        s.insert(key("level"), one.level.value.to_string());
        s.insert(
            key("additional_recipients"),
            list(
                one.additional_recipients
                    .value
                    .iter()
                    .map(|r| r.value.clone()),
            ),
        );
    }
}

/// The principals and groups by name, each its first definition: that one counts, as in
/// every lint rule (PIM102 reports the others), so that what was checked is what is granted.
type Definitions<'w> = (HashMap<&'w str, &'w Principal>, HashMap<&'w str, &'w Group>);

fn first_definitions(ws: &Workspace) -> Definitions<'_> {
    let mut principals = HashMap::with_capacity(ws.principals.len());
    for p in &ws.principals {
        principals.entry(p.name.value.as_str()).or_insert(p);
    }
    let mut groups = HashMap::with_capacity(ws.groups.len());
    for g in &ws.groups {
        groups.entry(g.name.value.as_str()).or_insert(g);
    }
    (principals, groups)
}

/// Everything the workspace declares. Assignments whose group or principal is unknown are
/// left out (lint reports them, and an error stops the plan before this matters).
pub fn desired(ws: &Workspace) -> Desired<'_> {
    let (principals, groups) = first_definitions(ws);
    let mut assignments = Vec::with_capacity(ws.assignments.len());
    let mut spans = HashMap::with_capacity(ws.assignments.len());
    for a in &ws.assignments {
        let (Some(group), Some(principal)) = (
            groups.get(a.group.value.as_str()),
            principals.get(a.principal.value.as_str()),
        ) else {
            continue;
        };
        let (end, duration, permanent) = match &a.expiry {
            Expiry::End(e) => (Some(timestamp(&e.value)), None, false),
            Expiry::Duration(d) => (None, Some(format_duration(d.value)), false),
            Expiry::Permanent(_) => (None, None, true),
            Expiry::Unknown => continue,
        };
        let spec = AssignmentSpec {
            group: a.group.value.clone(),
            group_id: group.id.as_ref().map(|i| i.value.clone()),
            principal: a.principal.value.clone(),
            principal_id: principal.id.as_ref().map(|i| i.value.clone()),
            role: a.role.value,
            kind: a.kind.value,
            start: a.start.as_ref().map(|s| timestamp(&s.value)),
            end,
            duration,
            permanent,
            justification: a.justification.as_ref().map(|j| j.value.clone()),
            ticket_system: a
                .ticket
                .as_ref()
                .and_then(|t| t.system.as_ref())
                .map(|s| s.value.clone()),
            ticket_number: a.ticket.as_ref().map(|t| t.number.value.clone()),
            emergency_access: principal.is_emergency_access(),
        };
        spans.insert(spec.key(), a.principal.span);
        assignments.push((spec, a));
    }
    let ids: HashMap<&str, &str> = principals
        .iter()
        .filter_map(|(name, p)| Some((*name, p.id.as_ref()?.value.as_str())))
        .collect();
    let id_of = |name: &str| ids.get(name).map(|id| (*id).to_owned());
    let mut policies = Vec::with_capacity(ws.groups.len() * 2);
    for g in ws.groups.iter().filter(|g| {
        groups
            .get(g.name.value.as_str())
            .is_some_and(|f| std::ptr::eq(*f, *g))
    }) {
        for role in [Role::Member, Role::Owner] {
            policies.push((
                PolicySpec {
                    group: g.name.value.clone(),
                    group_id: g.id.as_ref().map(|i| i.value.clone()),
                    role,
                    settings: policy_settings(g.policy.role(role), &id_of),
                },
                g,
            ));
        }
    }
    Desired {
        assignments,
        policies,
        spans,
    }
}

/// The files' side of the privilege graph as [`Desired::grants`] gives it, without the rest
/// of the specs: each assignment's identity (group, principal, their ids, role, type), when it
/// is in effect and where it is declared, and each policy's activation gates
/// ([`activation_gates`]). What lint's PIM8xx rules build the graph from: a tenth of the
/// memory and time of [`desired`] on a large workspace, and the same graph
/// (`tests/paths_build.rs`, `graph_grants_build_the_desired_graph`).
pub struct GraphGrants {
    assignments: Vec<GraphAssignment>,
    policies: Vec<PolicySpec>,
}

struct GraphAssignment {
    /// Only the identity is filled in.
    spec: AssignmentSpec,
    start: Option<DateTime<FixedOffset>>,
    end: Option<DateTime<FixedOffset>>,
    source: Span,
}

fn no_span(_: &str) -> Option<Span> {
    None
}

impl GraphGrants {
    pub fn grants(&self) -> Grants<'_> {
        Grants {
            assignments: self
                .assignments
                .iter()
                .map(|a| Grant {
                    spec: &a.spec,
                    start: a.start,
                    end: a.end,
                    source: Some(a.source),
                })
                .collect(),
            policies: self.policies.iter().collect(),
            span_of: &no_span,
        }
    }
}

/// [`GraphGrants`] of the workspace at `now` (a `duration` without `start` counted from it).
pub fn graph_grants(ws: &Workspace, now: DateTime<FixedOffset>) -> GraphGrants {
    let (principals, groups) = first_definitions(ws);
    // Where an assignment is declared, by state key: `Desired::span_of` holds the last
    // assignment of a key, so a repeated one points there too.
    type Identity<'a> = ((bool, &'a str), (bool, &'a str), Role, AssignmentType);
    let mut last: HashMap<Identity<'_>, Span> = HashMap::with_capacity(ws.assignments.len());
    let mut assignments = Vec::with_capacity(ws.assignments.len());
    for a in &ws.assignments {
        let (Some(group), Some(principal)) = (
            groups.get(a.group.value.as_str()),
            principals.get(a.principal.value.as_str()),
        ) else {
            continue;
        };
        let start = a.start.as_ref().map(|s| s.value);
        let end = match &a.expiry {
            Expiry::End(e) => Some(e.value),
            // As `Grant::declared` reads the spec's duration.
            Expiry::Duration(d) => parse_duration(&format_duration(d.value))
                .ok()
                .and_then(|d| start.unwrap_or(now).checked_add_signed(d.0)),
            Expiry::Permanent(_) => None,
            Expiry::Unknown => continue,
        };
        let group_id = group.id.as_ref().map(|i| i.value.as_str());
        let principal_id = principal.id.as_ref().map(|i| i.value.as_str());
        let identity = (
            group_id.map_or((false, a.group.value.as_str()), |id| (true, id)),
            principal_id.map_or((false, a.principal.value.as_str()), |id| (true, id)),
            a.role.value,
            a.kind.value,
        );
        last.insert(identity, a.principal.span);
        assignments.push((
            identity,
            GraphAssignment {
                spec: AssignmentSpec {
                    group: a.group.value.clone(),
                    group_id: group_id.map(str::to_owned),
                    principal: a.principal.value.clone(),
                    principal_id: principal_id.map(str::to_owned),
                    role: a.role.value,
                    kind: a.kind.value,
                    start: None,
                    end: None,
                    duration: None,
                    permanent: false,
                    justification: None,
                    ticket_system: None,
                    ticket_number: None,
                    emergency_access: false,
                },
                start,
                end,
                source: a.principal.span,
            },
        ));
    }
    let assignments = assignments
        .into_iter()
        .map(|(identity, mut a)| {
            if let Some(span) = last.get(&identity) {
                a.source = *span;
            }
            a
        })
        .collect();
    let mut policies = Vec::with_capacity(ws.groups.len() * 2);
    for g in ws.groups.iter().filter(|g| {
        groups
            .get(g.name.value.as_str())
            .is_some_and(|f| std::ptr::eq(*f, *g))
    }) {
        for role in [Role::Member, Role::Owner] {
            policies.push(PolicySpec {
                group: g.name.value.clone(),
                group_id: g.id.as_ref().map(|i| i.value.clone()),
                role,
                settings: activation_gates(g.policy.role(role)),
            });
        }
    }
    GraphGrants {
        assignments,
        policies,
    }
}
