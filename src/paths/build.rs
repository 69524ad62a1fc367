//! Facts (the lowered workspace) + grants (assignment and policy specs) + a moment → the
//! privilege graph (privilege-paths §A.3, §A.5, §A.8).
//!
//! The facts are the groups (role-assignable or not, their kind, `owners:`, standing
//! `members:`, `entra_roles` active and eligible, `azure_roles`), the principals (a service
//! principal's `owners:`), the admins and the administrative units (their declared `members`,
//! `restricted_management`). The grants are `state::record` specs: the files' (from
//! `plan::desired`) or the state's, so the "before" and "after" sides of a plan are built the
//! same way. Only the grants in effect at `at` count.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use crate::config::model::{
    self, AdminScope, AdministrativeUnit, AssignmentType, Group, GroupType, Principal,
    PrincipalType, Role, Settings, Workspace,
};
use crate::config::values::parse_duration;
use crate::entra_roles::BUILTIN_ROLES;
use crate::source::Span;
use crate::state::{AssignmentRecord, AssignmentSpec, PolicySpec, State};

use super::capabilities::{Capability, RESET_TABLE, ResetRow};
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
    /// Where it is declared, when known without asking [`Grants::span_of`] (which is asked
    /// by state key otherwise).
    pub source: Option<Span>,
}

fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

impl<'a> Grant<'a> {
    /// A declared assignment: from its `start` (or from whenever it is applied) to its `end`,
    /// or its `duration` counted from `start` (from `now` without one, as apply counts it).
    pub fn declared(spec: &'a AssignmentSpec, now: DateTime<FixedOffset>) -> Self {
        Self::declared_from(spec, None, now)
    }

    /// A declared assignment whose time is read as the state's side reads it (`paths --at`):
    /// without `start`, in effect from when it was applied (`applied`, the state's
    /// `starts_at` for it), or, not applied yet, from `now` (the earliest an apply can
    /// make it), its `duration` counted from there. So at a time before its apply it is not
    /// in effect from the files either.
    pub fn declared_applied(
        spec: &'a AssignmentSpec,
        applied: Option<DateTime<FixedOffset>>,
        now: DateTime<FixedOffset>,
    ) -> Self {
        Self::declared_from(spec, Some(applied.unwrap_or(now)), now)
    }

    fn declared_from(
        spec: &'a AssignmentSpec,
        unset_start: Option<DateTime<FixedOffset>>,
        now: DateTime<FixedOffset>,
    ) -> Self {
        let start = spec.start.as_deref().and_then(parse_time).or(unset_start);
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
        Grant {
            spec,
            start,
            end,
            source: None,
        }
    }

    /// A recorded assignment: as the state says it starts and ends in the service.
    pub fn recorded(record: &'a AssignmentRecord) -> Self {
        Grant {
            spec: &record.spec,
            start: Some(record.starts_at),
            end: record.ends_at,
            source: None,
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

/// Settings of the build, as the workspace declares them under `paths:`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    pub eligible_reset_protection: ResetProtection,
}

impl BuildOptions {
    /// The options the workspace's `paths:` section declares (the one place they are read;
    /// [`build`] uses it).
    pub fn from_settings(settings: &Settings) -> Self {
        BuildOptions {
            eligible_reset_protection: match settings.paths.eligible_reset_protection() {
                model::ResetProtection::Unprotected => ResetProtection::Unprotected,
                model::ResetProtection::Protected => ResetProtection::Protected,
            },
        }
    }
}

/// The gates a group policy's activation puts on an eligible membership or ownership.
/// Without a policy, Microsoft's default for a newly onboarded group: a justification.
pub(super) fn gates_of(settings: Option<&BTreeMap<String, String>>) -> Gates {
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
    /// Standing member or owner of a role-assignable group by the facts (`owners:`,
    /// `members:`).
    role_assignable_active: bool,
    /// Active and eligible grants (in effect) of a membership or ownership of a
    /// role-assignable group.
    grant_active: u32,
    grant_eligible: u32,
    /// In a restricted management administrative unit: only that unit's own scoped admins
    /// reset the password (privilege-paths §A.3, "Restricted management AUs").
    restricted_au: bool,
}

impl Protection {
    /// Active member or owner of a role-assignable group, by the facts or a grant.
    fn active(&self) -> bool {
        self.role_assignable_active || self.grant_active > 0
    }

    /// Eligible member or owner of a role-assignable group.
    fn eligible(&self) -> bool {
        self.grant_eligible > 0
    }
}

/// The reset edges (E15, E19) into one user that membership of a role-assignable group
/// decides (their role cannot reset such members), and what the build found protecting the
/// user: kept in the graph so that the privilege delta can revert one assignment on the
/// built graph instead of building it again (`delta::causes`).
#[derive(Clone, Debug, Default)]
pub struct ResetGuard {
    /// Standing member or owner of a role-assignable group by the facts.
    pub standing: bool,
    /// The active and the eligible grants (in effect) to role-assignable groups.
    pub grant_active: u32,
    pub grant_eligible: u32,
    /// Such reset edges that are in the graph: protection would take them out.
    pub present: Vec<super::EdgeId>,
    /// The tails (a reset hub, an AU-scoped role) of such reset edges protection held back.
    pub held: Vec<NodeId>,
}

impl ResetGuard {
    /// Whether the user is protected with these grants to role-assignable groups.
    pub fn protects(&self, active: u32, eligible: u32, options: BuildOptions) -> bool {
        self.standing
            || active > 0
            || (eligible > 0 && options.eligible_reset_protection == ResetProtection::Protected)
    }
}

/// The edge a grant of `role` and `kind` adds, its tail a group principal or not (`nested`),
/// to a group with these facts: `Err(true)` when the service refuses it and it is eligible,
/// `Err(false)` when refused and active. Its head is the group's owner node for
/// [`EdgeKind::Owner`] and [`EdgeKind::EligibleOwner`], else the member node; the eligible
/// kinds take the gates of the group's `role` policy.
pub(super) fn grant_kind(
    role: Role,
    kind: AssignmentType,
    nested: bool,
    facts: Option<&Group>,
) -> Result<EdgeKind, bool> {
    match (role, kind) {
        // Microsoft 365 groups do not nest groups, eligible or active (PIM506): the nested
        // members never get the membership.
        (Role::Member, AssignmentType::Eligible)
            if nested && facts.is_some_and(|g| g.kind() == GroupType::Microsoft365) =>
        {
            Err(true)
        }
        (Role::Member, AssignmentType::Eligible) => Ok(if nested {
            EdgeKind::NestedEligible
        } else {
            EdgeKind::EligibleMember
        }),
        // "A group can't be a member of a role-assignable group", nor of a Microsoft 365
        // group (PIM505, PIM506): the service refuses it, so it grants nothing.
        (Role::Member, AssignmentType::Active)
            if nested
                && facts.is_some_and(|g| {
                    g.is_role_assignable() || g.kind() == GroupType::Microsoft365
                }) =>
        {
            Err(false)
        }
        (Role::Member, AssignmentType::Active) if nested => Ok(EdgeKind::NestedActive),
        (Role::Member, AssignmentType::Active) => Ok(EdgeKind::ActiveMember),
        (Role::Owner, AssignmentType::Eligible) => Ok(EdgeKind::EligibleOwner),
        (Role::Owner, AssignmentType::Active) => Ok(EdgeKind::Owner),
    }
}

/// The policies of a set of grants by group name and role, and by group id (lowercase) and
/// role, the first of each counting.
pub(super) struct PolicyIndex<'p> {
    by_name: HashMap<(&'p str, Role), &'p BTreeMap<String, String>>,
    by_id: HashMap<(String, Role), &'p BTreeMap<String, String>>,
}

impl<'p> PolicyIndex<'p> {
    pub(super) fn new(policies: &[&'p PolicySpec]) -> Self {
        let mut by_name = HashMap::new();
        let mut by_id = HashMap::new();
        for p in policies {
            by_name
                .entry((p.group.as_str(), p.role))
                .or_insert(&p.settings);
            if let Some(id) = &p.group_id {
                by_id
                    .entry((id.to_ascii_lowercase(), p.role))
                    .or_insert(&p.settings);
            }
        }
        PolicyIndex { by_name, by_id }
    }

    /// The settings that gate the eligible grant `s`: its group's by name, else by the
    /// grant's group id.
    pub(super) fn settings_for(&self, s: &AssignmentSpec) -> Option<&'p BTreeMap<String, String>> {
        self.by_name(s.group.as_str(), s.role).or_else(|| {
            s.group_id
                .as_ref()
                .and_then(|id| self.by_id(&(id.to_ascii_lowercase(), s.role)))
        })
    }

    pub(super) fn by_name(&self, group: &str, role: Role) -> Option<&'p BTreeMap<String, String>> {
        self.by_name.get(&(group, role)).copied()
    }

    /// By lowercase group id and role.
    pub(super) fn by_id(&self, key: &(String, Role)) -> Option<&'p BTreeMap<String, String>> {
        self.by_id.get(key).copied()
    }
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
    /// The groups (by index) in a restricted management administrative unit: only that
    /// unit's own scoped admins change their members or owners; tenant-scoped admins and the
    /// group's owners cannot, except that Global and Privileged Role Administrators still
    /// change the membership of a role-assignable one (entra-docs
    /// `admin-units-restricted-management.md`, "Who can modify objects?" and "Limitations").
    restricted_groups: HashSet<usize>,
    /// The node of each principal name seen (no key to format on every assignment).
    known: HashMap<String, NodeId>,
    /// The reset edges into each user that protection decides (see [`ResetGuard`]).
    guards: HashMap<NodeId, ResetGuard>,
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

/// The graph of `workspace`'s facts and `grants` in effect at `at`, with the options of the
/// workspace's `paths:` section ([`BuildOptions::from_settings`]).
pub fn build(
    workspace: &Workspace,
    grants: &Grants<'_>,
    at: DateTime<FixedOffset>,
) -> PrivilegeGraph {
    build_with(
        workspace,
        grants,
        at,
        BuildOptions::from_settings(&workspace.settings),
    )
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
        restricted_groups: HashSet::new(),
        known: HashMap::new(),
        guards: HashMap::new(),
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
    // Facts: standing owners (E3) and members (E1, E7), the roles a group holds (E8) or is
    // eligible for (E9), its Azure roles (E10).
    let mut refused = 0usize;
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
        for m in &g.members {
            let p = b.principal(&m.value, None);
            let kind = if b.is_group_principal(p) {
                // As an active assignment of a group: the service nests groups only in
                // non-role-assignable security groups (PIM505, PIM506).
                if g.is_role_assignable() || g.kind() == GroupType::Microsoft365 {
                    refused += 1;
                    continue;
                }
                EdgeKind::NestedActive
            } else {
                EdgeKind::ActiveMember
            };
            b.g.edge(Edge::new(kind, p, member).with_source(Some(m.span)));
            if g.is_role_assignable() {
                b.protection.entry(p).or_default().role_assignable_active = true;
            }
        }
        for r in &g.entra_roles {
            let role = b.role(&r.role.value, None);
            let edge = match r.kind() {
                AssignmentType::Active => Edge::new(EdgeKind::HoldsRole, member, role),
                // The group is eligible for the role (PIM for roles): its members activate
                // it past the role policy's gates, declared as facts.
                AssignmentType::Eligible => Edge::new(EdgeKind::EligibleForRole, member, role)
                    .with_gates(Gates {
                        approval: r.approval().then(Approval::default),
                        mfa: r.mfa(),
                        ..Gates::none()
                    }),
            };
            b.g.edge(edge.with_source(Some(r.role.span)));
        }
        for r in &g.azure_roles {
            let role = b.g.node(
                Node::new(NodeKind::AzureRole, r.role.value.as_str())
                    .with_scope(Some(r.scope.value.clone())),
            );
            b.g.edge(Edge::new(EdgeKind::AzureRole, member, role).with_source(Some(r.role.span)));
        }
    }
    // A service principal's owners (of it or of its application) add secrets to it (E16).
    for p in &workspace.principals {
        if !p.is(PrincipalType::ServicePrincipal) || p.owners.is_empty() {
            continue;
        }
        let sp = b.principal(&p.name.value, None);
        for o in &p.owners {
            let owner = b.principal(&o.value, None);
            b.g.edge(
                Edge::new(EdgeKind::OwnsServicePrincipal, owner, sp).with_source(Some(o.span)),
            );
        }
    }
    // The admins' roles (E8); AU-scoped ones reach their unit's declared members (E19).
    let mut au_admins: Vec<(NodeId, &str)> = Vec::new();
    for a in &workspace.admins {
        let p = b.principal(&a.principal.value, None);
        let au = match a.scope() {
            AdminScope::Directory => None,
            AdminScope::AdministrativeUnit => Some(
                a.administrative_unit
                    .as_ref()
                    .map_or("", |u| u.value.as_str()),
            ),
        };
        let role = b.role(&a.role.value, au);
        if let Some(au) = au
            && !au_admins.iter().any(|(r, _)| *r == role)
        {
            au_admins.push((role, au));
        }
        b.g.edge(Edge::new(EdgeKind::HoldsRole, p, role).with_source(Some(a.role.span)));
        b.protection
            .entry(p)
            .or_default()
            .roles
            .push(a.role.value.clone());
    }
    if refused > 0 {
        b.g.note(format!(
            "E7: {refused} standing member(s) of a role-assignable or Microsoft 365 group that are groups grant nothing: the service does not nest groups there"
        ));
    }
    grant_edges(&mut b, grants, at);
    let units = administrative_units(&mut b, &workspace.administrative_units);
    // Every group: an owner adds members, herself included, outside the member policy (E5);
    // not the owners of a group in a restricted management unit.
    for (i, gn) in b.groups.iter().enumerate() {
        if !b.restricted_groups.contains(&i) {
            b.g.edge(Edge::new(EdgeKind::OwnerAddsMembers, gn.owner, gn.member));
        }
    }
    capability_edges(&mut b, options);
    au_scoped_edges(&mut b, &units, &au_admins, &workspace.admins, options);
    let mut guards = std::mem::take(&mut b.guards);
    for (user, guard) in &mut guards {
        if let Some(p) = b.protection.get(user) {
            guard.standing = p.role_assignable_active;
            guard.grant_active = p.grant_active;
            guard.grant_eligible = p.grant_eligible;
        }
    }
    b.g.set_guards(guards);
    b.g.finish()
}

/// One administrative unit's declared members, as nodes.
struct Unit {
    restricted: bool,
    /// User principals in the unit, with the span of their `members` entry.
    users: Vec<(NodeId, Span)>,
    /// The declared groups in the unit (by index), with the span of their entry.
    groups: Vec<(usize, Span)>,
}

/// The units by name, their members resolved (a group name to its group, any other name to
/// its principal); users and groups of a restricted management unit marked as such.
fn administrative_units<'w>(
    b: &mut Builder<'w>,
    units: &'w [AdministrativeUnit],
) -> HashMap<&'w str, Unit> {
    let mut out: HashMap<&str, Unit> = HashMap::new();
    for au in units {
        let name = au.name.value.as_str();
        if out.contains_key(name) {
            continue;
        }
        let mut unit = Unit {
            restricted: au.is_restricted_management(),
            users: Vec::new(),
            groups: Vec::new(),
        };
        for m in &au.members {
            let (group, user) = match b.group_index.get(m.value.as_str()) {
                Some(i) => (Some(*i), None),
                None => {
                    let p = b.principal(&m.value, None);
                    let node = b.g.get(p);
                    if node.kind == NodeKind::GroupMember {
                        (b.group_index.get(node.name.as_str()).copied(), None)
                    } else {
                        let user = node.principal_type == Some(PrincipalType::User);
                        (None, user.then_some(p))
                    }
                }
            };
            if let Some(i) = group {
                unit.groups.push((i, m.span));
                if unit.restricted {
                    b.restricted_groups.insert(i);
                }
            }
            if let Some(p) = user {
                unit.users.push((p, m.span));
                if unit.restricted {
                    b.protection.entry(p).or_default().restricted_au = true;
                }
            }
        }
        out.insert(name, unit);
    }
    out
}

/// E19: each AU-scoped admin role reaches only its unit's declared members, as its
/// directory-scoped capabilities would (E12: non-role-assignable groups; E15: users without
/// administrator roles, the reset table's protections applying); a user or group of a
/// restricted management unit only from the admins of a restricted unit it is in.
fn au_scoped_edges(
    b: &mut Builder<'_>,
    units: &HashMap<&str, Unit>,
    au_admins: &[(NodeId, &str)],
    admins: &[model::Admin],
    options: BuildOptions,
) {
    let mut unreached = 0usize;
    for (role_node, au) in au_admins {
        let role = b.g.get(*role_node).name.clone();
        let Some(unit) = units
            .get(au)
            .filter(|u| !u.users.is_empty() || !u.groups.is_empty())
        else {
            unreached += admins
                .iter()
                .filter(|a| {
                    a.scope() == AdminScope::AdministrativeUnit
                        && a.role.value == role
                        && a.administrative_unit
                            .as_ref()
                            .map_or("", |u| u.value.as_str())
                            == *au
                })
                .count();
            continue;
        };
        if Capability::AddMembersNonRoleAssignable
            .roles()
            .contains(&role.as_str())
        {
            for (i, span) in &unit.groups {
                let g = &b.groups[*i];
                // A group also in a restricted management unit: only that unit's admins.
                let restricted_elsewhere = !unit.restricted && b.restricted_groups.contains(i);
                if g.facts.is_some_and(|f| !f.is_role_assignable()) && !restricted_elsewhere {
                    let head = g.member;
                    b.g.edge(
                        Edge::new(EdgeKind::AdministrativeUnitScoped, *role_node, head)
                            .with_source(Some(*span))
                            .with_flags(Flags {
                                bypasses_pim: true,
                                ..Flags::default()
                            }),
                    );
                }
            }
        }
        let Some(row) = RESET_TABLE
            .iter()
            .find(|r| r.roles.contains(&role.as_str()))
        else {
            continue;
        };
        let none = Protection::default();
        let mut targets = Vec::new();
        for (u, span) in &unit.users {
            let p = b.protection.get(u).unwrap_or(&none);
            // "only if those users don't have administrator roles" (admin-units-assign-roles).
            if !p.roles.is_empty() || (p.restricted_au && !unit.restricted) {
                continue;
            }
            let Some(flags) = reset_flags(p, row, options) else {
                b.guards.entry(*u).or_default().held.push(*role_node);
                continue;
            };
            targets.push((*u, *span, flags));
        }
        for (u, span, flags) in targets {
            let e = b.g.edge(
                Edge::new(EdgeKind::AdministrativeUnitScoped, *role_node, u)
                    .with_source(Some(span))
                    .with_flags(flags),
            );
            if !row.resets_role_assignable_members {
                b.guards.entry(u).or_default().present.push(e);
            }
        }
    }
    if unreached > 0 {
        b.g.note(format!(
            "E19: {unreached} admin role(s) scoped to an administrative unit reach no one: their administrative unit declares no members"
        ));
    }
}

/// E1–E4, E6, E7 from the grants in effect at `at`.
fn grant_edges(b: &mut Builder<'_>, grants: &Grants<'_>, at: DateTime<FixedOffset>) {
    let policies = PolicyIndex::new(&grants.policies);
    let mut refused = 0usize;
    let mut refused_eligible = 0usize;
    let mut gate_cache: HashMap<(usize, Role), Gates> = HashMap::new();
    for grant in grants.assignments.iter().filter(|g| g.in_effect(at)) {
        let s = grant.spec;
        let i = b.group(&s.group, None);
        let (member, owner, facts) = (b.groups[i].member, b.groups[i].owner, b.groups[i].facts);
        let tail = b.principal(&s.principal, s.principal_id.as_deref());
        let nested = b.is_group_principal(tail);
        let kind = match grant_kind(s.role, s.kind, nested, facts) {
            Ok(kind) => kind,
            Err(true) => {
                refused_eligible += 1;
                continue;
            }
            Err(false) => {
                refused += 1;
                continue;
            }
        };
        let (head, gates) = match kind {
            // The policy's gates, read once per group and role (the first grant's).
            EdgeKind::EligibleMember | EdgeKind::NestedEligible | EdgeKind::EligibleOwner => (
                if kind == EdgeKind::EligibleOwner {
                    owner
                } else {
                    member
                },
                gate_cache
                    .entry((i, s.role))
                    .or_insert_with(|| gates_of(policies.settings_for(s)))
                    .clone(),
            ),
            EdgeKind::Owner => (owner, Gates::none()),
            _ => (member, Gates::none()),
        };
        let source = grant.source.or_else(|| grants.span_of.span_of(&s.key()));
        b.g.edge(
            Edge::new(kind, tail, head)
                .with_gates(gates)
                .with_source(source),
        );
        if facts.is_some_and(Group::is_role_assignable) {
            let p = b.protection.entry(tail).or_default();
            match s.kind {
                AssignmentType::Active => p.grant_active += 1,
                AssignmentType::Eligible => p.grant_eligible += 1,
            }
        }
    }
    if refused > 0 {
        b.g.note(format!(
            "E7: {refused} active assignment(s) of a group to a role-assignable or Microsoft 365 group grant nothing: the service does not nest groups there"
        ));
    }
    if refused_eligible > 0 {
        b.g.note(format!(
            "E6: {refused_eligible} eligible assignment(s) of a group to a Microsoft 365 group grant nothing: the service does not nest groups there"
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
            // A group in a restricted management unit: not its owners, and its members only
            // when it is role-assignable (see `Builder::restricted_groups`).
            Capability::AddMembersAll => b
                .groups
                .iter()
                .enumerate()
                .flat_map(|(i, g)| {
                    let restricted = b.restricted_groups.contains(&i);
                    let member = !restricted || g.facts.is_some_and(Group::is_role_assignable);
                    [member.then_some(g.member), (!restricted).then_some(g.owner)]
                })
                .flatten()
                .collect(),
            Capability::AddMembersNonRoleAssignable => b
                .groups
                .iter()
                .enumerate()
                .filter(|(i, g)| {
                    !b.restricted_groups.contains(i)
                        && g.facts.is_some_and(|f| !f.is_role_assignable())
                })
                .map(|(_, g)| g.member)
                .collect(),
            Capability::AddMembersM365 => b
                .groups
                .iter()
                .enumerate()
                .filter(|(i, g)| {
                    !b.restricted_groups.contains(i)
                        && g.facts.is_some_and(|f| {
                            !f.is_role_assignable() && f.kind() == GroupType::Microsoft365
                        })
                })
                .map(|(_, g)| g.member)
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
            if p.restricted_au || !p.roles.iter().all(|r| row.resettable.allows(r)) {
                continue;
            }
            let Some(flags) = reset_flags(p, row, options) else {
                b.guards.entry(*u).or_default().held.push(hub);
                continue;
            };
            let e =
                b.g.edge(Edge::new(EdgeKind::ResetPassword, hub, *u).with_flags(flags));
            if !row.resets_role_assignable_members {
                b.guards.entry(*u).or_default().present.push(e);
            }
        }
    }
}

/// The flags of a password reset of a user by `row`'s role, or `None` when membership of a
/// role-assignable group protects the user from that role (privilege-paths §A.4, §A.5): an
/// active member or owner always, an eligible one when `eligible_reset_protection: protected`;
/// otherwise the reset of an eligible one is the contested case, `documented_risk`.
fn reset_flags(p: &Protection, row: &ResetRow, options: BuildOptions) -> Option<Flags> {
    let mut flags = Flags {
        target_mfa: row.password_only,
        ..Flags::default()
    };
    if !row.resets_role_assignable_members {
        if p.active() {
            return None;
        }
        if p.eligible() {
            if options.eligible_reset_protection == ResetProtection::Protected {
                return None;
            }
            flags.documented_risk = true;
        }
    }
    Some(flags)
}

fn nodes_where(g: &GraphBuilder, keep: impl Fn(&Node) -> bool) -> Vec<NodeId> {
    (0..g.node_count())
        .filter_map(|i| u32::try_from(i).ok())
        .filter(|i| keep(g.get(*i)))
        .collect()
}
