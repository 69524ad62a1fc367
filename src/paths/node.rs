//! The nodes of the privilege graph (privilege-paths §A.2).

use std::fmt;

use crate::config::model::PrincipalType;

/// A node's index in [`super::PrivilegeGraph::nodes`].
pub type NodeId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// A declared principal (user, group, service principal). A group principal whose id is
    /// a declared group's is not one: it is that group's member node.
    Principal,
    /// "Is a member of group G".
    GroupMember,
    /// "Is an owner of group G".
    GroupOwner,
    /// A directory role, at directory scope or in one administrative unit.
    EntraRole,
    /// An Azure role at a scope.
    AzureRole,
    /// A capability shared by every holder of some roles (privilege-paths §A.8): one edge per
    /// holding role and one fan-out, instead of one edge per (role × target).
    Hub,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// The principal, group or role name, the capability name of a hub
    /// (`add-members:non-role-assignable`), or the Azure role name.
    pub name: String,
    /// The administrative unit of an AU-scoped entra role, the scope of an Azure role.
    pub scope: Option<String>,
    /// The type of a principal, when known (a principal known only from the state has none).
    pub principal_type: Option<PrincipalType>,
    /// The object id of a principal or group, when known.
    pub id: Option<String>,
}

impl Node {
    pub fn new(kind: NodeKind, name: impl Into<String>) -> Self {
        Node {
            kind,
            name: name.into(),
            scope: None,
            principal_type: None,
            id: None,
        }
    }

    pub fn principal(name: impl Into<String>, kind: Option<PrincipalType>) -> Self {
        Node {
            principal_type: kind,
            ..Node::new(NodeKind::Principal, name)
        }
    }

    pub fn with_scope(mut self, scope: Option<String>) -> Self {
        self.scope = scope;
        self
    }

    pub fn with_id(mut self, id: Option<String>) -> Self {
        self.id = id;
        self
    }

    /// The unique key of the node: `principal:anna`, `group:g#member`, `group:g#owner`,
    /// `entra_role:Global Administrator`, `entra_role:Helpdesk Administrator@au:emea`,
    /// `azure_role:Owner@/subscriptions/…`, `hub:add-members:all`.
    pub fn key(&self) -> String {
        key(self.kind, &self.name, self.scope.as_deref())
    }

    /// A group principal no declared group has the id of: its members are not declared, so
    /// it stands for all of them ("members of `oncall-sre` (not declared)").
    pub fn is_open_set(&self) -> bool {
        self.kind == NodeKind::Principal && self.principal_type == Some(PrincipalType::Group)
    }

    pub fn is_hub(&self) -> bool {
        self.kind == NodeKind::Hub
    }
}

/// The key of a node of this kind, name and scope (see [`Node::key`]).
pub fn key(kind: NodeKind, name: &str, scope: Option<&str>) -> String {
    match (kind, scope) {
        (NodeKind::Principal, _) => format!("principal:{name}"),
        (NodeKind::GroupMember, _) => format!("group:{name}#member"),
        (NodeKind::GroupOwner, _) => format!("group:{name}#owner"),
        (NodeKind::EntraRole, None) => format!("entra_role:{name}"),
        (NodeKind::EntraRole, Some(au)) => format!("entra_role:{name}@au:{au}"),
        (NodeKind::AzureRole, scope) => format!("azure_role:{name}@{}", scope.unwrap_or("/")),
        (NodeKind::Hub, _) => format!("hub:{name}"),
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}
