//! Facts (the lowered workspace) + grants (assignment and policy specs) + a moment → the
//! privilege graph (privilege-paths §A.3, §A.5, §A.8).
//!
//! The facts are the groups (role-assignable or not, their kind, `owners:`, `entra_roles`),
//! the principals and the admins. The grants are `state::record` specs: the files' (from
//! `plan::desired`) or the state's, so the "before" and "after" sides of a plan are built the
//! same way. Only the grants in effect at `at` count.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset};

use crate::config::model::{
    AdminScope, AssignmentType, Group, GroupType, Principal, PrincipalType, Role, Workspace,
};
use crate::config::values::parse_duration;
use crate::entra_roles::BUILTIN_ROLES;
use crate::source::Span;
use crate::state::{AssignmentRecord, AssignmentSpec, PolicySpec, State};

use super::capabilities::{Capability, RESET_TABLE};
use super::edge::{Edge, EdgeKind, Flags};
use super::gate::{Approval, Gates};
use super::node::{Node, NodeId, NodeKind};
use super::{GraphBuilder, PrivilegeGraph};

/// One assignment and when it is in effect.
#[derive(Clone, Copy, Debug)]
pub struct Grant<'a> {
    pub spec: &'a AssignmentSpec,
    /// `None`: from whenever it is applied (a declared assignment without `start`).
    pub start: Option<DateTime<FixedOffset>>,
    /// `None`: permanent (or an end that could not be read).
    pub end: Option<DateTime<FixedOffset>>,
}

fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

impl<'a> Grant<'a> {
    /// A declared assignment: from its `start` (or from whenever it is applied) to its `end`,
    /// or its `duration` counted from `start` (from `now` without one, as apply counts it).
    pub fn declared(spec: &'a AssignmentSpec, now: DateTime<FixedOffset>) -> Self {
        let start = spec.start.as_deref().and_then(parse_time);
        let end = if spec.permanent {
            None
        } else if let Some(end) = spec.end.as_deref() {
            parse_time(end)
        } else {
            spec.duration
                .as_deref()
                .and_then(|d| parse_duration(d).ok())
                .and_then(|d| start.unwrap_or(now).checked_add_signed(d.0))
        };
        Grant { spec, start, end }
    }

    /// A recorded assignment: as the state says it starts and ends in the service.
    pub fn recorded(record: &'a AssignmentRecord) -> Self {
        Grant {
            spec: &record.spec,
            start: Some(record.starts_at),
            end: record.ends_at,
        }
    }

    /// `start ≤ at < end`; a permanent assignment always.
    pub fn in_effect(&self, at: DateTime<FixedOffset>) -> bool {
        self.start.is_none_or(|s| s <= at) && self.end.is_none_or(|e| at < e)
    }
}

/// The grants a graph is built from: the assignments and the group policies (their
/// `settings` as `plan::desired::policy_settings` writes them), and where each assignment is
/// declared (by state key; `None` for the state side).
pub struct Grants<'a> {
    pub assignments: Vec<Grant<'a>>,
    pub policies: Vec<&'a PolicySpec>,
    pub span_of: &'a dyn SpanOf,
}

/// Where the assignment with a state key is declared in the files.
pub trait SpanOf {
    fn span_of(&self, key: &str) -> Option<Span>;
}

impl<F: Fn(&str) -> Option<Span>> SpanOf for F {
    fn span_of(&self, key: &str) -> Option<Span> {
        self(key)
    }
}

fn no_span(_: &str) -> Option<Span> {
    None
}

impl<'a> Grants<'a> {
    /// The state's grants: its assignments and policies, without spans.
    pub fn from_state(state: &'a State) -> Self {
        Grants {
            assignments: state.assignments.iter().map(Grant::recorded).collect(),
            policies: state.policies.iter().map(|p| &p.spec).collect(),
            span_of: &no_span,
        }
    }
}

/// Whether an eligible member or owner of a role-assignable group is protected from password
/// resets by the lesser reset roles (privilege-paths §A.4, `paths.eligible_reset_protection`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResetProtection {
    /// Microsoft's published note (the default): they are not; such a reset edge carries
    /// `documented_risk`.
    #[default]
    Unprotected,
    /// cisagov/ScubaGear#2072's tenant test: they are.
    Protected,
}

/// Settings of the build that the workspace will declare under `paths:`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    pub eligible_reset_protection: ResetProtection,
}

/// The gates a group policy's activation puts on an eligible membership or ownership.
/// Without a policy, Microsoft's default for a newly onboarded group: a justification.
fn gates_of(settings: Option<&BTreeMap<String, String>>) -> Gates {
    let Some(s) = settings else {
        return Gates {
            justification: true,
            ..Gates::none()
        };
    };
    let get = |k: &str| s.get(k).map(String::as_str).filter(|v| *v != "none");
    let list = |k: &str| -> Vec<String> {
        get(k).map_or_else(Vec::new, |v| v.split(", ").map(str::to_owned).collect())
    };
    let require = list("activation.require");
    let has = |r: &str| require.iter().any(|x| x == r);
    Gates {
        approval: (get("activation.approval.required") == Some("true")).then(|| Approval {
            approvers: list("activation.approval.approvers"),
        }),
        mfa: has("mfa"),
        auth_context: get("activation.authentication_context").map(str::to_owned),
        justification: has("justification"),
        ticket: has("ticket"),
    }
}

/// What protects a user from the lesser password-reset roles.
#[derive(Default)]
struct Protection {
    /// Directory roles the user holds itself (any scope).
    roles: Vec<String>,
    /// Active member or owner of a role-assignable group.
    role_assignable_active: bool,
    /// Eligible member or owner of a role-assignable group.
    role_assignable_eligible: bool,
}

/// A group node pair and the group's facts, if the workspace declares it.
struct GroupNodes<'w> {
    member: NodeId,
    owner: NodeId,
    facts: Option<&'w Group>,
}

struct Builder<'w> {
    g: GraphBuilder,
    groups: Vec<GroupNodes<'w>>,
    group_index: HashMap<String, usize>,
    principals: HashMap<&'w str, &'w Principal>,
    protection: HashMap<NodeId, Protection>,
    /// The node of each principal name seen (no key to format on every assignment).
    known: HashMap<String, NodeId>,
}

impl<'w> Builder<'w> {
    fn group(&mut self, name: &str, facts: Option<&'w Group>) -> usize {
        if let Some(i) = self.group_index.get(name) {
            return *i;
        }
        let id = facts.and_then(|g| g.id.as_ref()).map(|i| i.value.clone());
        let member = self
            .g
            .node(Node::new(NodeKind::GroupMember, name).with_id(id.clone()));
        let owner = self
            .g
            .node(Node::new(NodeKind::GroupOwner, name).with_id(id));
        self.groups.push(GroupNodes {
            member,
            owner,
            facts,
        });
        let i = self.groups.len() - 1;
        self.group_index.insert(name.to_owned(), i);
        i
    }

    /// The node a principal name stands for, added (without a type, unless declared) if new.
    fn principal(&mut self, name: &str, id: Option<&str>) -> NodeId {
        if let Some(n) = self.known.get(name) {
            return *n;
        }
        let n = self.g.alias_of(name).unwrap_or_else(|| {
            let declared = self.principals.get(name).copied();
            self.g.node(
                Node::principal(name, declared.and_then(Principal::kind)).with_id(
                    declared
                        .and_then(|p| p.id.as_ref().map(|i| i.value.clone()))
                        .or_else(|| id.map(str::to_owned)),
                ),
            )
        });
        self.known.insert(name.to_owned(), n);
        n
    }

    fn is_group_principal(&self, node: NodeId) -> bool {
        let n = self.g.get(node);
        n.kind == NodeKind::GroupMember || n.principal_type == Some(PrincipalType::Group)
    }

    fn role(&mut self, name: &str, administrative_unit: Option<&str>) -> NodeId {
        self.g.node(
            Node::new(NodeKind::EntraRole, name).with_scope(administrative_unit.map(str::to_owned)),
        )
    }
}

/// The graph of `workspace`'s facts and `grants` in effect at `at`, with default options.
pub fn build(
    workspace: &Workspace,
    grants: &Grants<'_>,
    at: DateTime<FixedOffset>,
) -> PrivilegeGraph {
    build_with(workspace, grants, at, BuildOptions::default())
}

/// [`build`] with explicit options.
pub fn build_with(
    workspace: &Workspace,
    grants: &Grants<'_>,
    at: DateTime<FixedOffset>,
    options: BuildOptions,
) -> PrivilegeGraph {
    let mut principals: HashMap<&str, &Principal> = HashMap::new();
    for p in &workspace.principals {
        principals.entry(p.name.value.as_str()).or_insert(p);
    }
    let mut b = Builder {
        g: GraphBuilder::new(),
        groups: Vec::new(),
        group_index: HashMap::new(),
        principals,
        protection: HashMap::new(),
        known: HashMap::new(),
    };
    // Every built-in role has a node, so "who can reach R" has an answer for each.
    for r in BUILTIN_ROLES {
        b.role(r.name, None);
    }
    // Groups, the first definition of a name counting (as in `plan::desired`).
    let mut group_by_id: HashMap<String, usize> = HashMap::new();
    for g in &workspace.groups {
        if b.group_index.contains_key(g.name.value.as_str()) {
            continue;
        }
        let i = b.group(&g.name.value, Some(g));
        if let Some(id) = &g.id {
            group_by_id
                .entry(id.value.to_ascii_lowercase())
                .or_insert(i);
        }
    }
    // A group principal whose id is a declared group's is that group's member node; any
    // other principal is a node of its own (a group one an open set: its members are not
    // declared).
    for p in &workspace.principals {
        let name = p.name.value.as_str();
        if b.g.alias_of(name).is_some() {
            continue;
        }
        let merged =
            p.id.as_ref()
                .filter(|_| p.is(PrincipalType::Group))
                .and_then(|id| group_by_id.get(&id.value.to_ascii_lowercase()));
        match merged {
            Some(i) => {
                let member = b.groups[*i].member;
                b.g.alias(name, member);
            }
            None => {
                b.principal(name, None);
            }
        }
    }
    let mut au_scoped = 0usize;
    // Facts: standing owners (E3), the roles a group holds (E8), the admins' roles (E8).
    for i in 0..b.groups.len() {
        let (owner, member) = (b.groups[i].owner, b.groups[i].member);
        let Some(g) = b.groups[i].facts else { continue };
        for o in &g.owners {
            let p = b.principal(&o.value, None);
            b.g.edge(Edge::new(EdgeKind::Owner, p, owner).with_source(Some(o.span)));
            if g.is_role_assignable() {
                b.protection.entry(p).or_default().role_assignable_active = true;
            }
        }
        // Eligible group roles (E9) are wired with the other new facts.
        for r in g.active_entra_roles() {
            let role = b.role(&r.role.value, None);
            b.g.edge(Edge::new(EdgeKind::HoldsRole, member, role).with_source(Some(r.role.span)));
        }
    }
    for a in &workspace.admins {
        let p = b.principal(&a.principal.value, None);
        let au = match a.scope() {
            AdminScope::Directory => None,
            AdminScope::AdministrativeUnit => {
                au_scoped += 1;
                Some(
                    a.administrative_unit
                        .as_ref()
                        .map_or("", |u| u.value.as_str()),
                )
            }
        };
        let role = b.role(&a.role.value, au);
        b.g.edge(Edge::new(EdgeKind::HoldsRole, p, role).with_source(Some(a.role.span)));
        b.protection
            .entry(p)
            .or_default()
            .roles
            .push(a.role.value.clone());
    }
    if au_scoped > 0 {
        b.g.note(format!(
            "E19: {au_scoped} admin role(s) scoped to an administrative unit reach no one: administrative units declare no members yet"
        ));
    }
    grant_edges(&mut b, grants, at);
    // Every group: an owner adds members, herself included, outside the member policy (E5).
    for gn in &b.groups {
        b.g.edge(Edge::new(EdgeKind::OwnerAddsMembers, gn.owner, gn.member));
    }
    capability_edges(&mut b, options);
    b.g.finish()
}

/// E1–E4, E6, E7 from the grants in effect at `at`.
fn grant_edges(b: &mut Builder<'_>, grants: &Grants<'_>, at: DateTime<FixedOffset>) {
    let mut policies: HashMap<(&str, Role), &BTreeMap<String, String>> = HashMap::new();
    let mut policies_by_id: HashMap<(String, Role), &BTreeMap<String, String>> = HashMap::new();
    for p in &grants.policies {
        policies
            .entry((p.group.as_str(), p.role))
            .or_insert(&p.settings);
        if let Some(id) = &p.group_id {
            policies_by_id
                .entry((id.to_ascii_lowercase(), p.role))
                .or_insert(&p.settings);
        }
    }
    let mut refused = 0usize;
    let mut gate_cache: HashMap<(usize, Role), Gates> = HashMap::new();
    for grant in grants.assignments.iter().filter(|g| g.in_effect(at)) {
        let s = grant.spec;
        let i = b.group(&s.group, None);
        let (member, owner, facts) = (b.groups[i].member, b.groups[i].owner, b.groups[i].facts);
        let tail = b.principal(&s.principal, s.principal_id.as_deref());
        // The policy's gates, read once per group and role.
        let eligible_gates = |cache: &mut HashMap<(usize, Role), Gates>| {
            cache
                .entry((i, s.role))
                .or_insert_with(|| {
                    gates_of(
                        policies
                            .get(&(s.group.as_str(), s.role))
                            .copied()
                            .or_else(|| {
                                s.group_id.as_ref().and_then(|id| {
                                    policies_by_id
                                        .get(&(id.to_ascii_lowercase(), s.role))
                                        .copied()
                                })
                            }),
                    )
                })
                .clone()
        };
        let nested = b.is_group_principal(tail);
        let (kind, head, gates) = match (s.role, s.kind) {
            (Role::Member, AssignmentType::Eligible) => (
                if nested {
                    EdgeKind::NestedEligible
                } else {
                    EdgeKind::EligibleMember
                },
                member,
                eligible_gates(&mut gate_cache),
            ),
            (Role::Member, AssignmentType::Active) if nested => {
                // "A group can't be a member of a role-assignable group", nor of a Microsoft
                // 365 group (PIM505, PIM506): the service refuses it, so it grants nothing.
                if facts
                    .is_some_and(|g| g.is_role_assignable() || g.kind() == GroupType::Microsoft365)
                {
                    refused += 1;
                    continue;
                }
                (EdgeKind::NestedActive, member, Gates::none())
            }
            (Role::Member, AssignmentType::Active) => {
                (EdgeKind::ActiveMember, member, Gates::none())
            }
            (Role::Owner, AssignmentType::Eligible) => (
                EdgeKind::EligibleOwner,
                owner,
                eligible_gates(&mut gate_cache),
            ),
            (Role::Owner, AssignmentType::Active) => (EdgeKind::Owner, owner, Gates::none()),
        };
        let source = grants.span_of.span_of(&s.key());
        b.g.edge(
            Edge::new(kind, tail, head)
                .with_gates(gates)
                .with_source(source),
        );
        if facts.is_some_and(Group::is_role_assignable) {
            let p = b.protection.entry(tail).or_default();
            match s.kind {
                AssignmentType::Active => p.role_assignable_active = true,
                AssignmentType::Eligible => p.role_assignable_eligible = true,
            }
        }
    }
    if refused > 0 {
        b.g.note(format!(
            "E7: {refused} active assignment(s) of a group to a role-assignable or Microsoft 365 group grant nothing: the service does not nest groups there"
        ));
    }
}

/// E11–E15, E17, E18: each capability's roles → its hub → the hub's targets, once.
fn capability_edges(b: &mut Builder<'_>, options: BuildOptions) {
    for cap in Capability::ALL {
        let hub = b.g.node(Node::new(NodeKind::Hub, cap.hub()));
        let kind = cap.edge_kind();
        for role in cap.roles() {
            let r = b.role(role, None);
            b.g.edge(Edge::new(kind, r, hub));
        }
        let targets: Vec<NodeId> = match cap {
            Capability::AddMembersAll => {
                b.groups.iter().flat_map(|g| [g.member, g.owner]).collect()
            }
            Capability::AddMembersNonRoleAssignable => b
                .groups
                .iter()
                .filter(|g| g.facts.is_some_and(|f| !f.is_role_assignable()))
                .map(|g| g.member)
                .collect(),
            Capability::AddMembersM365 => b
                .groups
                .iter()
                .filter(|g| {
                    g.facts.is_some_and(|f| {
                        !f.is_role_assignable() && f.kind() == GroupType::Microsoft365
                    })
                })
                .map(|g| g.member)
                .collect(),
            Capability::GrantRole => nodes_where(&b.g, |n| n.kind == NodeKind::EntraRole),
            Capability::AddSecret | Capability::AddOwner => nodes_where(&b.g, |n| {
                n.kind == NodeKind::Principal
                    && n.principal_type == Some(PrincipalType::ServicePrincipal)
            }),
        };
        for t in targets {
            b.g.edge(Edge::new(kind, hub, t));
        }
    }
    let users = nodes_where(&b.g, |n| {
        n.kind == NodeKind::Principal && n.principal_type == Some(PrincipalType::User)
    });
    let none = Protection::default();
    for row in RESET_TABLE {
        let hub = b.g.node(Node::new(NodeKind::Hub, row.hub));
        for role in row.roles {
            let r = b.role(role, None);
            b.g.edge(Edge::new(EdgeKind::ResetPassword, r, hub));
        }
        for u in &users {
            let p = b.protection.get(u).unwrap_or(&none);
            if !p.roles.iter().all(|r| row.resettable.allows(r)) {
                continue;
            }
            let mut flags = Flags {
                target_mfa: row.password_only,
                ..Flags::default()
            };
            if !row.resets_role_assignable_members {
                if p.role_assignable_active {
                    continue;
                }
                if p.role_assignable_eligible {
                    if options.eligible_reset_protection == ResetProtection::Protected {
                        continue;
                    }
                    flags.documented_risk = true;
                }
            }
            b.g.edge(Edge::new(EdgeKind::ResetPassword, hub, *u).with_flags(flags));
        }
    }
}

fn nodes_where(g: &GraphBuilder, keep: impl Fn(&Node) -> bool) -> Vec<NodeId> {
    (0..g.node_count())
        .filter_map(|i| u32::try_from(i).ok())
        .filter(|i| keep(g.get(*i)))
        .collect()
}
