//! The privilege delta of a plan (privilege-paths §A.10): who can reach each tier-0 and
//! tier-1 (privileged) Entra role before the plan (the state's grants) and after it (the
//! files'), the facts coming from the current files on both sides, so that the delta is what
//! this apply changes.
//!
//! One reach per target per side; then, only for the principals whose reach changed (at most
//! [`MAX_CAUSES_PER_TARGET`] per role), the reach again with one change reverted, for each
//! change that touches a group on their witness paths: a change whose revert undoes the
//! entry is its cause. A principal whose witness to a role passes through another privileged
//! role (Global Administrator grants every role) is listed under that role only.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::config::model::Workspace;
use crate::entra_roles::BUILTIN_ROLES;
use crate::state::change::{Change, Subject};

use super::build::{BuildOptions, Grant, Grants, build_with};
use super::gate::PathClass;
use super::node::NodeKind;
use super::query::Reach;
use super::revert::Reverter;
use super::{EdgeId, PrivilegeGraph};

/// The changed principals per role whose causes are computed.
pub const MAX_CAUSES_PER_TARGET: usize = 20;

/// The changes reverted for one plan at most: a plan of thousands of changes (a first
/// import) names causes for the candidates of the first changed principals only (tier 0
/// first); the others have an empty `caused_by`. (Each revert was once a build of the whole
/// graph; it is an overlay on the after graph now, `revert.rs`, but the cap stays so that
/// the output stays what it was.)
pub const MAX_REVERTS: usize = 32;

/// What a plan does to who can reach the privileged roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivilegeDelta {
    /// Each role whose reach set or a principal's best class changed: tier 0 first (in the
    /// order of `paths.tier0`), then tier 1 by name.
    pub targets: Vec<TargetDelta>,
    pub summary: DeltaSummary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaTarget {
    /// `entra_role`.
    pub kind: String,
    pub name: String,
    pub tier: u8,
}

/// How many principals reach a role, cumulative by class (privilege-paths §A.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachCounts {
    pub any: usize,
    pub no_approval: usize,
    pub no_approval_no_mfa: usize,
    pub standing: usize,
}

impl ReachCounts {
    fn of<'r>(reach: impl Iterator<Item = &'r Reach>) -> Self {
        let mut c = ReachCounts::default();
        for r in reach {
            c.any += 1;
            c.no_approval += usize::from(r.class <= PathClass::NoApproval);
            c.no_approval_no_mfa += usize::from(r.class <= PathClass::NoApprovalNoMfa);
            c.standing += usize::from(r.class == PathClass::Standing);
        }
        c
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetDelta {
    pub target: DeltaTarget,
    /// Who reaches the role before the plan, and after it (every principal, also those
    /// listed under another role).
    pub before: ReachCounts,
    pub after: ReachCounts,
    /// Principals that reach the role after the plan and not before.
    pub gained: Vec<DeltaEntry>,
    /// Principals that reached it before and not after.
    pub lost: Vec<DeltaEntry>,
    /// Principals that reach it on both sides in a different best class.
    pub class_changed: Vec<ClassChange>,
}

/// One principal gained or lost, with its best path (after for a gain, before for a loss).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaEntry {
    pub principal: String,
    pub class: String,
    pub hops: u32,
    pub path: Vec<DeltaStep>,
    /// The keys of the plan changes whose revert alone undoes this entry.
    pub caused_by: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassChange {
    pub principal: String,
    pub class_before: String,
    pub class_after: String,
    /// The hops and path after the plan.
    pub hops: u32,
    pub path: Vec<DeltaStep>,
    pub caused_by: Vec<String>,
}

/// One edge of a path: node keys (`principal:judy`, `group:tenant-admins#owner`), the edge
/// kind and its gates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaStep {
    pub from: String,
    pub edge: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaSummary {
    /// Distinct principals that gain a path to some privileged role.
    pub principals_gained: usize,
    /// Distinct principals that lose a path to some privileged role.
    pub principals_lost: usize,
    /// Distinct principals that gain a path to some tier-0 role.
    pub tier0_gained: usize,
    /// Distinct principals that gain a path of class `no-approval` or better to some tier-0
    /// role: new ones, and those whose best path there needed approval before.
    pub tier0_gained_without_approval: usize,
}

impl PrivilegeDelta {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl TargetDelta {
    /// How many principals reach this role in class `no-approval` or better before the plan
    /// and after it (all of them, not only those the delta lists).
    pub fn without_approval_increase(&self) -> (usize, usize) {
        (self.before.no_approval, self.after.no_approval)
    }
}

/// The key of the object a change is about (its state key): what `caused_by` names.
pub fn change_key(change: &Change) -> String {
    match &change.subject {
        Subject::Assignment { before, after } => after
            .as_ref()
            .map(|a| a.key())
            .or_else(|| before.as_ref().map(|b| b.key.clone()))
            .unwrap_or_default(),
        Subject::Policy { before, after } => after
            .as_ref()
            .map(|a| a.key())
            .or_else(|| before.as_ref().map(|b| b.spec.key()))
            .unwrap_or_default(),
    }
}

/// The group a change is about.
fn change_group(change: &Change) -> Option<&str> {
    match &change.subject {
        Subject::Assignment { before, after } => after
            .as_ref()
            .map(|a| a.group.as_str())
            .or_else(|| before.as_ref().map(|b| b.spec.group.as_str())),
        Subject::Policy { before, after } => after
            .as_ref()
            .map(|a| a.group.as_str())
            .or_else(|| before.as_ref().map(|b| b.spec.group.as_str())),
    }
}

/// `after` with one change undone: what it declares taken out, what the state recorded put
/// back.
fn reverted<'g>(after: &Grants<'g>, change: &'g Change) -> Grants<'g> {
    let mut assignments = after.assignments.clone();
    let mut policies = after.policies.clone();
    match &change.subject {
        Subject::Assignment { before, after } => {
            if let Some(a) = after {
                assignments.retain(|g| g.spec != a);
            }
            if let Some(b) = before {
                assignments.push(Grant::recorded(b));
            }
        }
        Subject::Policy { before, after } => {
            if let Some(a) = after {
                policies.retain(|p| *p != a);
            }
            if let Some(b) = before {
                policies.push(&b.spec);
            }
        }
    }
    Grants {
        assignments,
        policies,
        span_of: after.span_of,
    }
}

/// What the delta is computed from.
pub struct DeltaInput<'a> {
    /// The facts, for both sides.
    pub workspace: &'a Workspace,
    /// The state's grants.
    pub before: &'a Grants<'a>,
    /// The files' grants.
    pub after: &'a Grants<'a>,
    pub changes: &'a [Change],
    pub at: DateTime<FixedOffset>,
    pub options: BuildOptions,
    /// The graph of `after` at `at` with `options`, if the run has built it already (lint's
    /// PIM8xx rules): it is not built again.
    pub after_graph: Option<PrivilegeGraph>,
}

/// The privileged roles: tier 0 (the workspace's list), then Microsoft's other PRIVILEGED
/// roles as tier 1.
fn privileged_roles(ws: &Workspace) -> Vec<(&str, u8)> {
    let paths = &ws.settings.paths;
    let mut out: Vec<(&str, u8)> = paths.tier0_roles().into_iter().map(|r| (r, 0)).collect();
    for r in BUILTIN_ROLES {
        if r.privileged && !paths.tier0(r.name) {
            out.push((r.name, 1));
        }
    }
    out
}

/// Each principal that reaches `role` in `graph`, by name, with its best reach.
fn reach_by_name<'g>(graph: &'g PrivilegeGraph, role: &str) -> HashMap<&'g str, Reach> {
    let Some(node) = graph.entra_role(role) else {
        return HashMap::new();
    };
    graph
        .reach(node, PathClass::Approval)
        .into_iter()
        .map(|r| (graph.node(r.node).name.as_str(), r))
        .collect()
}

fn steps(graph: &PrivilegeGraph, path: &[EdgeId]) -> Vec<DeltaStep> {
    path.iter()
        .map(|e| {
            let edge = graph.edge(*e);
            let g = &edge.gates;
            let mut gates = Vec::new();
            if let Some(a) = &g.approval {
                gates.push(if a.approvers.is_empty() {
                    "approval".to_owned()
                } else {
                    format!("approval: {}", a.approvers.join("|"))
                });
            }
            if g.mfa {
                gates.push("mfa".to_owned());
            }
            if let Some(c) = &g.auth_context {
                gates.push(format!("auth_context: {c}"));
            }
            if g.justification {
                gates.push("justification".to_owned());
            }
            if g.ticket {
                gates.push("ticket".to_owned());
            }
            DeltaStep {
                from: graph.node(edge.tail).key(),
                edge: edge.kind.name().to_owned(),
                to: graph.node(edge.head).key(),
                gates,
            }
        })
        .collect()
}

/// The groups a witness path passes through.
fn groups_on(graph: &PrivilegeGraph, path: &[EdgeId], out: &mut BTreeSet<String>) {
    for e in path {
        let edge = graph.edge(*e);
        for n in [edge.tail, edge.head] {
            let node = graph.node(n);
            if matches!(node.kind, NodeKind::GroupMember | NodeKind::GroupOwner) {
                out.insert(node.name.clone());
            }
        }
    }
}

/// A class as a rank, "does not reach" after the worst class.
fn rank(class: Option<PathClass>) -> usize {
    class.map_or(PathClass::ALL.len(), |c| c as usize)
}

/// One role with changed principals while the delta is computed.
struct Role<'r> {
    name: &'r str,
    tier: u8,
    before: ReachCounts,
    after: ReachCounts,
    pending: Vec<Pending>,
}

/// One changed principal of one role while the delta is computed.
struct Pending {
    principal: String,
    before: Option<PathClass>,
    after: Option<PathClass>,
    hops: u32,
    path: Vec<DeltaStep>,
    /// Candidate changes (indices into the plan's changes).
    candidates: Vec<usize>,
    caused_by: Vec<String>,
}

impl Pending {
    /// Whether a reverted side with this class for the principal undoes the entry: the class
    /// falls back to the before side of the after class.
    fn undone_by(&self, reverted: Option<PathClass>) -> bool {
        let (b, a, r) = (rank(self.before), rank(self.after), rank(reverted));
        if b > a { r > a } else { r < a }
    }

    /// The worst class a reverted reach has to look at to tell [`Pending::undone_by`]: the
    /// after class for a gain (is it still reached there?), the class before it for a loss
    /// (is it reached better than after?).
    fn needed(&self) -> PathClass {
        let (b, a) = (rank(self.before), rank(self.after));
        let r = if b > a { a } else { a.saturating_sub(1) };
        PathClass::ALL[r.min(PathClass::ALL.len() - 1)]
    }
}

/// How `caused_by` reverts a change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reverts {
    /// On the after graph ([`Reverter`]), building the graph only for what it does not model.
    Overlay,
    /// A build of the whole graph from the grants with the change undone.
    Rebuild,
}

/// The privilege delta of a plan: `None` for a plan without changes, or when no privileged
/// role's reach changes.
pub fn privilege_delta(input: &DeltaInput<'_>) -> Option<PrivilegeDelta> {
    delta_with(input, Reverts::Overlay)
}

/// [`privilege_delta`] with every revert a build of the whole graph from the grants with the
/// change undone: the reference the overlays are checked against
/// (`tests/privilege_delta_causes.rs`), slower by a build per revert. Not for other use.
#[doc(hidden)]
pub fn privilege_delta_rebuilt(input: &DeltaInput<'_>) -> Option<PrivilegeDelta> {
    delta_with(input, Reverts::Rebuild)
}

fn delta_with(input: &DeltaInput<'_>, how: Reverts) -> Option<PrivilegeDelta> {
    if input.changes.is_empty() {
        return None;
    }
    let ws = input.workspace;
    let before_graph = build_with(ws, input.before, input.at, input.options);
    let built;
    let after_graph: &PrivilegeGraph = match &input.after_graph {
        Some(graph) => graph,
        None => {
            built = build_with(ws, input.after, input.at, input.options);
            &built
        }
    };
    let by_group: HashMap<&str, Vec<usize>> =
        input
            .changes
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, c)| {
                if let Some(g) = change_group(c) {
                    m.entry(g).or_insert_with(Vec::new).push(i);
                }
                m
            });
    let privileged = privileged_roles(ws);
    let names: BTreeSet<&str> = privileged.iter().map(|(r, _)| *r).collect();
    // Whether a witness to `role` passes through another privileged role: the principal is
    // listed under that one (holding Global Administrator reaches every role).
    let implied = |graph: &PrivilegeGraph, path: &[EdgeId], role: &str| {
        path.iter().any(|e| {
            let node = graph.node(graph.edge(*e).head);
            node.kind == NodeKind::EntraRole
                && node.scope.is_none()
                && node.name != role
                && names.contains(node.name.as_str())
        })
    };
    let mut roles: Vec<Role<'_>> = Vec::new();
    for (role, tier) in privileged.iter().copied() {
        let before = reach_by_name(&before_graph, role);
        let after = reach_by_name(after_graph, role);
        let mut names: BTreeSet<&str> = before.keys().copied().collect();
        names.extend(after.keys().copied());
        let mut pending = Vec::new();
        for name in names {
            let (b, a) = (before.get(name), after.get(name));
            if b.map(|r| r.class) == a.map(|r| r.class) {
                continue;
            }
            let mut groups = BTreeSet::new();
            if let Some(r) = b {
                groups_on(&before_graph, &r.path, &mut groups);
            }
            if let Some(r) = a {
                groups_on(after_graph, &r.path, &mut groups);
            }
            let mut candidates: Vec<usize> = groups
                .iter()
                .filter_map(|g| by_group.get(g.as_str()))
                .flatten()
                .copied()
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            if a.is_some_and(|r| implied(after_graph, &r.path, role))
                || b.is_some_and(|r| implied(&before_graph, &r.path, role))
            {
                continue;
            }
            let (graph, witness) = match a {
                Some(r) => (after_graph, r),
                None => match b {
                    Some(r) => (&before_graph, r),
                    None => continue,
                },
            };
            pending.push(Pending {
                principal: name.to_owned(),
                before: b.map(|r| r.class),
                after: a.map(|r| r.class),
                hops: witness.hops,
                path: steps(graph, &witness.path),
                candidates,
                caused_by: Vec::new(),
            });
        }
        if !pending.is_empty() {
            // Gains first, then losses, then class changes; by name within each.
            pending.sort_by_key(|p| (p.before.is_some(), p.after.is_none()));
            roles.push(Role {
                name: role,
                tier,
                before: ReachCounts::of(before.values()),
                after: ReachCounts::of(after.values()),
                pending,
            });
        }
    }
    if roles.is_empty() {
        return None;
    }
    causes(input, after_graph, &mut roles, how);
    Some(assemble(roles))
}

/// Fill in `caused_by`: one revert per candidate change, one reach per role that needs it.
fn causes(
    input: &DeltaInput<'_>,
    after_graph: &PrivilegeGraph,
    roles: &mut [Role<'_>],
    how: Reverts,
) {
    // change → the roles whose first changed principals name it as a candidate, in the
    // order first named (tier 0 first).
    let mut order: Vec<usize> = Vec::new();
    let mut needs: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    for (ri, role) in roles.iter().enumerate() {
        for p in role.pending.iter().take(MAX_CAUSES_PER_TARGET) {
            for c in &p.candidates {
                let entry = needs.entry(*c).or_insert_with(|| {
                    order.push(*c);
                    BTreeSet::new()
                });
                entry.insert(ri);
            }
        }
    }
    let reverter = (how == Reverts::Overlay).then(|| {
        Reverter::new(
            input.workspace,
            after_graph,
            input.after,
            input.at,
            input.options,
        )
    });
    for ci in order.into_iter().take(MAX_REVERTS) {
        let Some(role_ids) = needs.remove(&ci) else {
            continue;
        };
        let Some(change) = input.changes.get(ci) else {
            continue;
        };
        let overlay = reverter
            .as_ref()
            .and_then(|r| Some((r, r.overlay(change)?)));
        if let Some((reverter, overlay)) = overlay {
            let key = change_key(change);
            for ri in role_ids {
                let role = &mut roles[ri];
                let asked: Vec<usize> = role
                    .pending
                    .iter()
                    .take(MAX_CAUSES_PER_TARGET)
                    .enumerate()
                    .filter(|(_, p)| p.candidates.contains(&ci))
                    .map(|(i, _)| i)
                    .collect();
                let classes = match after_graph.entra_role(role.name) {
                    Some(target) => {
                        let names: Vec<&str> = asked
                            .iter()
                            .map(|i| role.pending[*i].principal.as_str())
                            .collect();
                        let limit = asked
                            .iter()
                            .map(|i| role.pending[*i].needed())
                            .max()
                            .unwrap_or(PathClass::Standing);
                        reverter.classes(&overlay, target, &names, limit)
                    }
                    None => vec![None; asked.len()],
                };
                for (i, class) in asked.into_iter().zip(classes) {
                    let p = &mut role.pending[i];
                    if p.undone_by(class) {
                        p.caused_by.push(key.clone());
                    }
                }
            }
            continue;
        }
        let grants = reverted(input.after, change);
        let graph = build_with(input.workspace, &grants, input.at, input.options);
        let key = change_key(change);
        for ri in role_ids {
            let role = &mut roles[ri];
            let reach = reach_by_name(&graph, role.name);
            for p in role.pending.iter_mut().take(MAX_CAUSES_PER_TARGET) {
                if p.candidates.contains(&ci)
                    && p.undone_by(reach.get(p.principal.as_str()).map(|r| r.class))
                {
                    p.caused_by.push(key.clone());
                }
            }
        }
    }
}

fn assemble(roles: Vec<Role<'_>>) -> PrivilegeDelta {
    let mut gained = BTreeSet::new();
    let mut lost = BTreeSet::new();
    let mut tier0_gained = BTreeSet::new();
    let mut tier0_without = BTreeSet::new();
    let mut targets = Vec::new();
    for role in roles {
        let tier = role.tier;
        let mut t = TargetDelta {
            target: DeltaTarget {
                kind: "entra_role".to_owned(),
                name: role.name.to_owned(),
                tier,
            },
            before: role.before,
            after: role.after,
            gained: Vec::new(),
            lost: Vec::new(),
            class_changed: Vec::new(),
        };
        for p in role.pending {
            match (p.before, p.after) {
                (None, Some(a)) => {
                    gained.insert(p.principal.clone());
                    if tier == 0 {
                        tier0_gained.insert(p.principal.clone());
                        if a <= PathClass::NoApproval {
                            tier0_without.insert(p.principal.clone());
                        }
                    }
                    t.gained.push(DeltaEntry {
                        principal: p.principal,
                        class: a.name().to_owned(),
                        hops: p.hops,
                        path: p.path,
                        caused_by: p.caused_by,
                    });
                }
                (Some(b), None) => {
                    lost.insert(p.principal.clone());
                    t.lost.push(DeltaEntry {
                        principal: p.principal,
                        class: b.name().to_owned(),
                        hops: p.hops,
                        path: p.path,
                        caused_by: p.caused_by,
                    });
                }
                (Some(b), Some(a)) => {
                    if tier == 0 && b > PathClass::NoApproval && a <= PathClass::NoApproval {
                        tier0_without.insert(p.principal.clone());
                    }
                    t.class_changed.push(ClassChange {
                        principal: p.principal,
                        class_before: b.name().to_owned(),
                        class_after: a.name().to_owned(),
                        hops: p.hops,
                        path: p.path,
                        caused_by: p.caused_by,
                    })
                }
                (None, None) => {}
            }
        }
        targets.push(t);
    }
    PrivilegeDelta {
        targets,
        summary: DeltaSummary {
            principals_gained: gained.len(),
            principals_lost: lost.len(),
            tier0_gained: tier0_gained.len(),
            tier0_gained_without_approval: tier0_without.len(),
        },
    }
}
