//! Privilege paths: who can become what, from the declared facts and grants
//! (privilege-paths §A.2–A.8).
//!
//! The graph is built once per run ([`build`]) from the lowered workspace (the facts: groups,
//! principals, admins) and a set of [`Grants`] (assignment and policy specs, the
//! `state::record` types): the files' grants for the "after" side of a plan, the state's for
//! the "before" side, so `plan` compares the two without a circle. It is stored in CSR form
//! with `u32` node ids, with in- and out-edges; capabilities of directory roles go through
//! hubs so each holder adds one edge and each hub one shared fan-out. [`PrivilegeGraph::reach`]
//! and [`PrivilegeGraph::reach_from`] are breadth-first traversals per class: linear, no path
//! enumeration.

pub mod build;
pub mod capabilities;
pub mod delta;
pub mod edge;
pub mod gate;
pub mod node;
pub mod query;
mod revert;
pub mod tier;

use std::collections::HashMap;

pub use build::{BuildOptions, Grant, Grants, ResetProtection, SpanOf, build, build_with};
pub use delta::{PrivilegeDelta, privilege_delta};
pub use edge::{Edge, EdgeId, EdgeKind, Flags};
pub use gate::{Approval, Gates, PathClass};
pub use node::{Node, NodeId, NodeKind};
pub use query::Reach;
pub use tier::{tier, tier0_targets};

/// The privilege graph: nodes, edges, and both adjacencies in CSR form.
#[derive(Debug, Default)]
pub struct PrivilegeGraph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// The class of each edge, computed once.
    classes: Vec<PathClass>,
    /// `out_edges[out_start[n]..out_start[n + 1]]`: the edges whose tail is `n`, by id.
    out_start: Vec<u32>,
    out_edges: Vec<EdgeId>,
    in_start: Vec<u32>,
    in_edges: Vec<EdgeId>,
    by_key: HashMap<String, NodeId>,
    /// Principal names that stand for another node (a group principal merged with its
    /// group's member node).
    aliases: HashMap<String, NodeId>,
    notes: Vec<String>,
    /// Per user, the reset edges protection decides (for the delta's reverts).
    guards: HashMap<NodeId, build::ResetGuard>,
}

fn index(id: u32) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

fn id_of(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl PrivilegeGraph {
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[index(id)]
    }

    pub fn edge(&self, id: EdgeId) -> &Edge {
        &self.edges[index(id)]
    }

    /// The class of one edge (its gates and whether it is an action).
    pub fn edge_class(&self, id: EdgeId) -> PathClass {
        self.classes[index(id)]
    }

    /// The edges leaving `node`, by id.
    pub fn out_edges(&self, node: NodeId) -> &[EdgeId] {
        let n = index(node);
        &self.out_edges[index(self.out_start[n])..index(self.out_start[n + 1])]
    }

    /// The edges entering `node`, by id.
    pub fn in_edges(&self, node: NodeId) -> &[EdgeId] {
        let n = index(node);
        &self.in_edges[index(self.in_start[n])..index(self.in_start[n + 1])]
    }

    /// The node of this key (see [`Node::key`]).
    pub fn find(&self, key: &str) -> Option<NodeId> {
        self.by_key.get(key).copied()
    }

    /// The node a principal name stands for: its own, or the member node of the group it is
    /// merged with.
    pub fn principal(&self, name: &str) -> Option<NodeId> {
        self.aliases
            .get(name)
            .copied()
            .or_else(|| self.find(&node::key(NodeKind::Principal, name, None)))
    }

    pub fn group_member(&self, group: &str) -> Option<NodeId> {
        self.find(&node::key(NodeKind::GroupMember, group, None))
    }

    pub fn group_owner(&self, group: &str) -> Option<NodeId> {
        self.find(&node::key(NodeKind::GroupOwner, group, None))
    }

    /// A directory role at directory scope (every built-in role has a node).
    pub fn entra_role(&self, name: &str) -> Option<NodeId> {
        self.find(&node::key(NodeKind::EntraRole, name, None))
    }

    /// A directory role scoped to an administrative unit, if some admin holds it there.
    pub fn entra_role_at(&self, name: &str, administrative_unit: &str) -> Option<NodeId> {
        self.find(&node::key(
            NodeKind::EntraRole,
            name,
            Some(administrative_unit),
        ))
    }

    /// An Azure role a group holds at exactly this scope (`azure_role:R@scope`).
    pub fn azure_role(&self, role: &str, scope: &str) -> Option<NodeId> {
        self.find(&node::key(NodeKind::AzureRole, role, Some(scope)))
    }

    /// The Azure role nodes of this role (case-insensitive) held at `scope` or above it:
    /// who holds one of them holds the role at `scope`.
    pub fn azure_roles_covering(&self, role: &str, scope: &str) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.kind == NodeKind::AzureRole
                    && n.name.eq_ignore_ascii_case(role)
                    && crate::config::model::scope_at_or_above(
                        n.scope.as_deref().unwrap_or("/"),
                        scope,
                    )
            })
            .map(|(i, _)| id_of(i))
            .collect()
    }

    /// The node of a target.
    pub fn target(&self, target: Target<'_>) -> Option<NodeId> {
        match target {
            Target::EntraRole(r) => self.entra_role(r),
            Target::EntraRoleAt {
                role,
                administrative_unit,
            } => self.entra_role_at(role, administrative_unit),
            Target::GroupMember(g) => self.group_member(g),
            Target::GroupOwner(g) => self.group_owner(g),
            Target::Principal(p) => self.principal(p),
        }
    }

    /// What a bare name on the command line means (`pimplan paths NAME`): a directory role,
    /// else a group's membership, else a principal, else an Azure role written `ROLE@SCOPE`
    /// (`Owner@/subscriptions/…`, as its key). Names are unique across groups and principals
    /// (PIM102).
    pub fn resolve(&self, name: &str) -> Option<NodeId> {
        self.entra_role(name)
            .or_else(|| self.group_member(name))
            .or_else(|| self.principal(name))
            .or_else(|| {
                let (role, scope) = name.split_once('@')?;
                self.azure_role(role, scope)
            })
    }

    /// What the build could not model from the facts it had (for example AU-scoped admins
    /// whose administrative unit declares no members), one sentence each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The reset edges into `user` that membership of a role-assignable group decides, if
    /// any (see [`build::ResetGuard`]).
    pub fn reset_guard(&self, user: NodeId) -> Option<&build::ResetGuard> {
        self.guards.get(&user)
    }
}

/// What a query asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A directory role at directory scope.
    EntraRole(&'a str),
    /// A directory role scoped to an administrative unit.
    EntraRoleAt {
        role: &'a str,
        administrative_unit: &'a str,
    },
    /// Membership of a group.
    GroupMember(&'a str),
    /// Ownership of a group.
    GroupOwner(&'a str),
    /// A principal (taking over a user or a service principal).
    Principal(&'a str),
}

/// Collects nodes and edges, then lays them out in CSR form. [`build`] uses it; tests and
/// tools may build a graph by hand with it.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    by_key: HashMap<String, NodeId>,
    aliases: HashMap<String, NodeId>,
    notes: Vec<String>,
    guards: HashMap<NodeId, build::ResetGuard>,
}

impl GraphBuilder {
    pub fn new() -> Self {
        GraphBuilder::default()
    }

    /// The node of `node`'s key, added if it is new (the first one's attributes stay).
    pub fn node(&mut self, node: Node) -> NodeId {
        let key = node.key();
        if let Some(id) = self.by_key.get(&key) {
            return *id;
        }
        let id = id_of(self.nodes.len());
        self.nodes.push(node);
        self.by_key.insert(key, id);
        id
    }

    /// The node of this key, if added.
    pub fn find(&self, key: &str) -> Option<NodeId> {
        self.by_key.get(key).copied()
    }

    pub fn get(&self, id: NodeId) -> &Node {
        &self.nodes[index(id)]
    }

    /// Let the principal `name` stand for `node` (a merged group principal).
    pub fn alias(&mut self, name: &str, node: NodeId) {
        self.aliases.insert(name.to_owned(), node);
    }

    pub fn alias_of(&self, name: &str) -> Option<NodeId> {
        self.aliases.get(name).copied()
    }

    pub fn edge(&mut self, edge: Edge) -> EdgeId {
        let id = id_of(self.edges.len());
        self.edges.push(edge);
        id
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The reset guards of the users (see [`build::ResetGuard`]).
    pub fn set_guards(&mut self, guards: HashMap<NodeId, build::ResetGuard>) {
        self.guards = guards;
    }

    /// The graph, with both adjacencies sorted by edge id (a counting sort: linear).
    pub fn finish(self) -> PrivilegeGraph {
        let n = self.nodes.len();
        let csr = |end: fn(&Edge) -> NodeId| {
            let mut start = vec![0u32; n + 1];
            for e in &self.edges {
                start[index(end(e)) + 1] += 1;
            }
            for i in 0..n {
                start[i + 1] += start[i];
            }
            let mut next = start.clone();
            let mut list = vec![0; self.edges.len()];
            for (i, e) in self.edges.iter().enumerate() {
                let slot = &mut next[index(end(e))];
                list[index(*slot)] = id_of(i);
                *slot += 1;
            }
            (start, list)
        };
        let (out_start, out_edges) = csr(|e| e.tail);
        let (in_start, in_edges) = csr(|e| e.head);
        let classes = self.edges.iter().map(Edge::class).collect();
        PrivilegeGraph {
            nodes: self.nodes,
            edges: self.edges,
            classes,
            out_start,
            out_edges,
            in_start,
            in_edges,
            by_key: self.by_key,
            aliases: self.aliases,
            notes: self.notes,
            guards: self.guards,
        }
    }
}
