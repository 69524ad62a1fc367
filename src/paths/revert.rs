//! One plan change reverted on the already built "after" graph, for the privilege delta's
//! `caused_by` (privilege-paths §A.10): instead of building the whole graph again from the
//! grants with the change undone, an [`Overlay`] takes out the edges the change's declared
//! grant made, puts in the edge of the grant the state recorded, re-gates the group's
//! eligible edges when the change moves the policy (or the first grant, whose policy lookup
//! the build uses), and switches the password-reset edges of a user whose protection by a
//! role-assignable group changes. [`Reverter::classes`] then finds the best class of the
//! principals in question on that overlay only: one backward search from the role, in class
//! order, that stops once it knows them.
//!
//! The answer is the one a full build of the reverted grants gives
//! (`tests/privilege_delta_causes.rs` compares the two): for a class only the multiset of
//! (tail, head, class) of the edges counts, not their order or ids, so taking out every edge
//! of one (tail, head, kind) is right when the grants being taken out made all of them, and
//! nothing changes when another grant or a fact makes one too. What an overlay does not
//! model — a group that is not declared and that an administrative unit names, whose node
//! the revert would make or take away — gives `None`: the caller builds the graph then.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use crate::config::model::{AssignmentType, Group, PrincipalType, Role, Workspace};
use crate::state::change::{Change, Subject};
use crate::state::{AssignmentRecord, AssignmentSpec, PolicyRecord, PolicySpec};

use super::build::{BuildOptions, Grant, Grants, PolicyIndex, gates_of, grant_kind};
use super::edge::{EdgeId, EdgeKind};
use super::gate::PathClass;
use super::node::{self, NodeId, NodeKind};
use super::{PrivilegeGraph, index};

/// What one reverted change does to the after graph.
#[derive(Debug, Default)]
pub(super) struct Overlay {
    /// Edges the revert takes out.
    masked: HashSet<EdgeId>,
    /// Edges whose class the revert changes (their group's policy gates change).
    reclassed: HashMap<EdgeId, PathClass>,
    /// Edges the revert puts in, by head: (tail, class).
    added: HashMap<NodeId, Vec<(NodeId, PathClass)>>,
    /// Principals the revert adds (known only from the state's record): node ids from the
    /// graph's node count on.
    new_principals: Vec<String>,
}

impl Overlay {
    fn add(&mut self, tail: NodeId, head: NodeId, class: PathClass) {
        self.added.entry(head).or_default().push((tail, class));
    }
}

/// The indexes the overlays of one plan are made from: the after graph, the facts and the
/// after grants.
pub(super) struct Reverter<'a> {
    graph: &'a PrivilegeGraph,
    /// Declared groups by name, the first definition counting (as the build does).
    groups: HashMap<&'a str, &'a Group>,
    /// The member names of the administrative units.
    unit_members: HashSet<&'a str>,
    after: &'a Grants<'a>,
    at: DateTime<FixedOffset>,
    options: BuildOptions,
    /// The after assignments of each group, by index, in order.
    by_group: HashMap<&'a str, Vec<usize>>,
    policies: PolicyIndex<'a>,
    /// The after policies (indices) by group name and role, and by lowercase group id and
    /// role, in order.
    policies_by_name: HashMap<(&'a str, Role), Vec<usize>>,
    policies_by_id: HashMap<(String, Role), Vec<usize>>,
    /// The first after grant in effect that makes an eligible edge, per group and role:
    /// the one whose policy gates all of them.
    first_eligible: HashMap<(&'a str, Role), usize>,
}

fn eligible_kind(kind: EdgeKind) -> bool {
    matches!(
        kind,
        EdgeKind::EligibleMember | EdgeKind::NestedEligible | EdgeKind::EligibleOwner
    )
}

impl<'a> Reverter<'a> {
    pub(super) fn new(
        workspace: &'a Workspace,
        graph: &'a PrivilegeGraph,
        after: &'a Grants<'a>,
        at: DateTime<FixedOffset>,
        options: BuildOptions,
    ) -> Self {
        let mut groups = HashMap::new();
        for g in &workspace.groups {
            groups.entry(g.name.value.as_str()).or_insert(g);
        }
        let unit_members = workspace
            .administrative_units
            .iter()
            .flat_map(|u| u.members.iter().map(|m| m.value.as_str()))
            .collect();
        let mut by_group: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, g) in after.assignments.iter().enumerate() {
            by_group.entry(g.spec.group.as_str()).or_default().push(i);
        }
        let mut policies_by_name: HashMap<(&str, Role), Vec<usize>> = HashMap::new();
        let mut policies_by_id: HashMap<(String, Role), Vec<usize>> = HashMap::new();
        for (i, p) in after.policies.iter().enumerate() {
            policies_by_name
                .entry((p.group.as_str(), p.role))
                .or_default()
                .push(i);
            if let Some(id) = &p.group_id {
                policies_by_id
                    .entry((id.to_ascii_lowercase(), p.role))
                    .or_default()
                    .push(i);
            }
        }
        let mut r = Reverter {
            graph,
            groups,
            unit_members,
            after,
            at,
            options,
            by_group,
            policies: PolicyIndex::new(&after.policies),
            policies_by_name,
            policies_by_id,
            first_eligible: HashMap::new(),
        };
        let mut first = HashMap::new();
        for (i, g) in after.assignments.iter().enumerate() {
            if r.makes_eligible_edge(g) {
                first
                    .entry((g.spec.group.as_str(), g.spec.role))
                    .or_insert(i);
            }
        }
        r.first_eligible = first;
        r
    }

    /// The principal node of a name in the after graph (the node a grant's principal
    /// stands for: a merged group principal's member node).
    fn tail(&self, name: &str) -> Option<NodeId> {
        self.graph.principal(name)
    }

    fn nested(&self, tail: Option<NodeId>) -> bool {
        tail.is_some_and(|t| {
            let n = self.graph.node(t);
            n.kind == NodeKind::GroupMember || n.principal_type == Some(PrincipalType::Group)
        })
    }

    fn kind_of(&self, spec: &AssignmentSpec, tail: Option<NodeId>) -> Result<EdgeKind, bool> {
        grant_kind(
            spec.role,
            spec.kind,
            self.nested(tail),
            self.groups.get(spec.group.as_str()).copied(),
        )
    }

    /// Whether a grant is in effect and makes an eligible edge (takes its group's gates).
    fn makes_eligible_edge(&self, g: &Grant<'_>) -> bool {
        g.spec.kind == AssignmentType::Eligible
            && g.in_effect(self.at)
            && self
                .kind_of(g.spec, self.tail(&g.spec.principal))
                .is_ok_and(eligible_kind)
    }

    /// The head node of a grant's edge of `kind` in the after graph.
    fn head(&self, group: &str, kind: EdgeKind) -> Option<NodeId> {
        match kind {
            EdgeKind::Owner | EdgeKind::EligibleOwner => self.graph.group_owner(group),
            _ => self.graph.group_member(group),
        }
    }

    /// The overlay of `change` reverted, or `None` when it is one an overlay does not model.
    pub(super) fn overlay(&self, change: &Change) -> Option<Overlay> {
        match &change.subject {
            Subject::Assignment { before, after } => {
                self.assignment(before.as_ref(), after.as_ref())
            }
            Subject::Policy { before, after } => Some(self.policy(before.as_ref(), after.as_ref())),
        }
    }

    /// An undeclared group an administrative unit names: the unit's member resolves to it
    /// only while some grant makes its node.
    fn unmodelled(&self, group: &str) -> bool {
        !self.groups.contains_key(group) && self.unit_members.contains(group)
    }

    fn assignment(
        &self,
        before: Option<&AssignmentRecord>,
        after: Option<&AssignmentSpec>,
    ) -> Option<Overlay> {
        let mut ov = Overlay::default();
        // Per user tail: the change in its active and eligible grants to role-assignable
        // groups.
        let mut protection: HashMap<NodeId, (i64, i64)> = HashMap::new();
        let role_assignable = |group: &str| {
            self.groups
                .get(group)
                .is_some_and(|g| g.is_role_assignable())
        };
        let count = |kind: AssignmentType, n: i64| match kind {
            AssignmentType::Active => (n, 0),
            AssignmentType::Eligible => (0, n),
        };
        // The groups (and roles) whose eligible edges take their gates from another first
        // grant now.
        let mut regate: Vec<(&str, Role)> = Vec::new();
        if let Some(a) = after {
            if self.unmodelled(&a.group) {
                return None;
            }
            let taken = self.by_group.get(a.group.as_str()).map_or(0, |list| {
                list.iter()
                    .filter(|i| {
                        let g = &self.after.assignments[**i];
                        g.spec == a && g.in_effect(self.at)
                    })
                    .count()
            });
            let tail = self.tail(&a.principal);
            if taken > 0
                && let (Some(t), Ok(kind)) = (tail, self.kind_of(a, tail))
                && let Some(head) = self.head(&a.group, kind)
            {
                let same: Vec<EdgeId> = self
                    .graph
                    .out_edges(t)
                    .iter()
                    .copied()
                    .filter(|e| {
                        let edge = self.graph.edge(*e);
                        edge.head == head && edge.kind == kind
                    })
                    .collect();
                // Some other grant or fact makes one of them too: the step stays.
                if same.len() <= taken {
                    ov.masked.extend(same);
                }
                if role_assignable(&a.group) {
                    let (da, de) = count(a.kind, i64::try_from(taken).unwrap_or(i64::MAX));
                    let p = protection.entry(t).or_default();
                    p.0 -= da;
                    p.1 -= de;
                }
                if eligible_kind(kind) {
                    regate.push((a.group.as_str(), a.role));
                }
            }
        }
        // The recorded grant put back, if in effect.
        let mut put_back: Option<(NodeId, NodeId, EdgeKind)> = None;
        if let Some(b) = before {
            let grant = Grant::recorded(b);
            let s = &b.spec;
            if grant.in_effect(self.at) {
                if self.unmodelled(&s.group) {
                    return None;
                }
                let tail = self.tail(&s.principal);
                // A group the after graph does not have is not declared and no after grant
                // names it: its nodes lead nowhere, so an edge into them changes no reach.
                if let Ok(kind) = self.kind_of(s, tail)
                    && let Some(head) = self.head(&s.group, kind)
                {
                    let t = match tail {
                        Some(t) => t,
                        None => {
                            // A principal only the state knows: a node of its own, no type.
                            let known = self.graph.nodes().len();
                            let at = ov.new_principals.iter().position(|n| *n == s.principal);
                            let i = at.unwrap_or_else(|| {
                                ov.new_principals.push(s.principal.clone());
                                ov.new_principals.len() - 1
                            });
                            u32::try_from(known + i).ok()?
                        }
                    };
                    put_back = Some((t, head, kind));
                    if role_assignable(&s.group) && tail.is_some() {
                        let (da, de) = count(s.kind, 1);
                        let p = protection.entry(t).or_default();
                        p.0 += da;
                        p.1 += de;
                    }
                    if eligible_kind(kind) {
                        regate.push((s.group.as_str(), s.role));
                    }
                }
            }
        }
        regate.sort_unstable();
        regate.dedup();
        let added = before.filter(|b| Grant::recorded(b).in_effect(self.at));
        let mut put_back_class = PathClass::Standing;
        for (group, role) in regate {
            let Some(first) = self.first_after_revert(group, role, after, added) else {
                continue;
            };
            let class = PathClass::of(&gates_of(self.policies.settings_for(first)), true);
            self.reclass(&mut ov, group, role, class);
            if let (Some((_, _, kind)), Some(b)) = (put_back, added)
                && eligible_kind(kind)
                && b.spec.group == group
                && b.spec.role == role
            {
                put_back_class = class;
            }
        }
        if let Some((t, head, _)) = put_back {
            ov.add(t, head, put_back_class);
        }
        for (user, (da, de)) in protection {
            let Some(guard) = self.graph.reset_guard(user) else {
                continue;
            };
            let active = i64::from(guard.grant_active) + da;
            let eligible = i64::from(guard.grant_eligible) + de;
            let active = u32::try_from(active.max(0)).unwrap_or(u32::MAX);
            let eligible = u32::try_from(eligible.max(0)).unwrap_or(u32::MAX);
            if guard.protects(active, eligible, self.options) {
                ov.masked.extend(guard.present.iter().copied());
            } else {
                for tail in &guard.held {
                    ov.add(*tail, user, PathClass::NoApprovalNoMfa);
                }
            }
        }
        Some(ov)
    }

    /// The first grant in effect making an eligible edge of `group` and `role` once the
    /// grants equal to `removed` are taken out and `added` is put back at the end.
    fn first_after_revert<'s>(
        &'s self,
        group: &str,
        role: Role,
        removed: Option<&AssignmentSpec>,
        added: Option<&'s AssignmentRecord>,
    ) -> Option<&'s AssignmentSpec> {
        let first = self
            .first_eligible
            .get(&(group, role))
            .map(|i| self.after.assignments[*i].spec);
        if let Some(f) = first
            && removed.is_none_or(|r| f != r)
        {
            return Some(f);
        }
        let next = self.by_group.get(group).and_then(|list| {
            list.iter()
                .map(|i| &self.after.assignments[*i])
                .find(|g| {
                    g.spec.role == role
                        && removed.is_none_or(|r| g.spec != r)
                        && self.makes_eligible_edge(g)
                })
                .map(|g| g.spec)
        });
        next.or_else(|| {
            added
                .filter(|b| {
                    b.spec.group == group
                        && b.spec.role == role
                        && self.makes_eligible_edge(&Grant::recorded(b))
                })
                .map(|b| &b.spec)
        })
    }

    /// Every eligible edge of `group`'s `role` in the after graph takes `class`.
    fn reclass(&self, ov: &mut Overlay, group: &str, role: Role, class: PathClass) {
        let head = match role {
            Role::Member => self.graph.group_member(group),
            Role::Owner => self.graph.group_owner(group),
        };
        let Some(head) = head else { return };
        for e in self.graph.in_edges(head) {
            let kind = self.graph.edge(*e).kind;
            let of_role = match role {
                Role::Member => matches!(kind, EdgeKind::EligibleMember | EdgeKind::NestedEligible),
                Role::Owner => kind == EdgeKind::EligibleOwner,
            };
            if of_role {
                ov.reclassed.insert(*e, class);
            }
        }
    }

    /// A policy change reverted: the after policies equal to `after` taken out, the recorded
    /// one put back at the end; the groups whose first eligible grant finds another policy
    /// take its gates.
    fn policy(&self, before: Option<&PolicyRecord>, after: Option<&PolicySpec>) -> Overlay {
        let added = before.map(|b| &b.spec);
        let id_key = |p: &PolicySpec| {
            p.group_id
                .as_ref()
                .map(|id| (id.to_ascii_lowercase(), p.role))
        };
        let touched: Vec<&PolicySpec> = after.into_iter().chain(added).collect();
        let touched_ids: Vec<(String, Role)> = touched.iter().filter_map(|p| id_key(p)).collect();
        let touches_name =
            |group: &str, role: Role| touched.iter().any(|p| p.group == group && p.role == role);
        // The first policy of a list once those equal to `after` are out, else the put-back
        // one if it has the list's key.
        let pick = |list: Option<&Vec<usize>>, fits: &dyn Fn(&PolicySpec) -> bool| {
            list.into_iter()
                .flatten()
                .map(|i| self.after.policies[*i])
                .find(|p| after.is_none_or(|a| *p != a))
                .or_else(|| added.filter(|b| fits(b)))
                .map(|p| &p.settings)
        };
        let settings = |s: &AssignmentSpec| {
            let by_name = if touches_name(&s.group, s.role) {
                pick(
                    self.policies_by_name.get(&(s.group.as_str(), s.role)),
                    &|p: &PolicySpec| p.group == s.group && p.role == s.role,
                )
            } else {
                self.policies.by_name(&s.group, s.role)
            };
            by_name.or_else(|| {
                let key = (s.group_id.as_ref()?.to_ascii_lowercase(), s.role);
                if touched_ids.contains(&key) {
                    pick(self.policies_by_id.get(&key), &|p: &PolicySpec| {
                        id_key(p).as_ref() == Some(&key)
                    })
                } else {
                    self.policies.by_id(&key)
                }
            })
        };
        let mut ov = Overlay::default();
        for ((group, role), i) in &self.first_eligible {
            let s = self.after.assignments[*i].spec;
            let by_id = s
                .group_id
                .as_ref()
                .is_some_and(|id| touched_ids.contains(&(id.to_ascii_lowercase(), *role)));
            if touches_name(group, *role) || by_id {
                let class = PathClass::of(&gates_of(settings(s)), true);
                self.reclass(&mut ov, group, *role, class);
            }
        }
        ov
    }

    /// The best class (up to `limit`) of each of `wanted` (principal names) to `target` on
    /// the after graph with `ov` applied; `None` for one that reaches it in no class up to
    /// `limit`. One backward search from the target, in class order, that stops once it has
    /// settled every wanted principal.
    pub(super) fn classes(
        &self,
        ov: &Overlay,
        target: NodeId,
        wanted: &[&str],
        limit: PathClass,
    ) -> Vec<Option<PathClass>> {
        let g = self.graph;
        let known = g.nodes().len();
        let total = known + ov.new_principals.len();
        let nodes: Vec<Option<usize>> = wanted
            .iter()
            .map(|name| {
                g.find(&node::key(NodeKind::Principal, name, None))
                    .map(index)
                    .or_else(|| {
                        ov.new_principals
                            .iter()
                            .position(|n| n == name)
                            .map(|i| known + i)
                    })
            })
            .collect();
        let mut is_wanted = vec![false; total];
        let mut remaining = 0usize;
        for n in nodes.iter().flatten() {
            if !is_wanted[*n] {
                is_wanted[*n] = true;
                remaining += 1;
            }
        }
        let mut label: Vec<Option<PathClass>> = vec![None; total];
        let mut settled = vec![false; total];
        let mut buckets: [Vec<NodeId>; 4] = Default::default();
        if index(target) < known && remaining > 0 {
            label[index(target)] = Some(PathClass::Standing);
            buckets[0].push(target);
        }
        let check_masked = !ov.masked.is_empty();
        let check_reclassed = !ov.reclassed.is_empty();
        'search: for class in PathClass::ALL.into_iter().filter(|c| *c <= limit) {
            let c = class as usize;
            while let Some(v) = buckets[c].pop() {
                let vi = index(v);
                if settled[vi] {
                    continue;
                }
                settled[vi] = true;
                if is_wanted[vi] {
                    remaining -= 1;
                    if remaining == 0 {
                        break 'search;
                    }
                }
                let mut relax = |u: NodeId, step: PathClass, buckets: &mut [Vec<NodeId>; 4]| {
                    let through = step.max(class);
                    let ui = index(u);
                    if through <= limit && !settled[ui] && label[ui].is_none_or(|l| through < l) {
                        label[ui] = Some(through);
                        buckets[through as usize].push(u);
                    }
                };
                if vi < known {
                    for &e in g.in_edges(v) {
                        if check_masked && ov.masked.contains(&e) {
                            continue;
                        }
                        let step = if check_reclassed {
                            ov.reclassed.get(&e).copied().unwrap_or(g.edge_class(e))
                        } else {
                            g.edge_class(e)
                        };
                        relax(g.edge(e).tail, step, &mut buckets);
                    }
                }
                if let Some(extra) = ov.added.get(&v) {
                    for (tail, step) in extra {
                        relax(*tail, *step, &mut buckets);
                    }
                }
            }
        }
        nodes
            .iter()
            .map(|n| n.and_then(|n| if settled[n] { label[n] } else { None }))
            .collect()
    }
}
