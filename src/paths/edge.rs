//! The edges of the privilege graph: E1…E19 of privilege-paths §A.3, each with the YAML span
//! that created it, its gates and its flags.

use std::fmt;

use crate::source::Span;

use super::gate::{Gates, PathClass};
use super::node::NodeId;

/// An edge's index in [`super::PrivilegeGraph::edges`].
pub type EdgeId = u32;

/// The kind of an edge (privilege-paths §A.3, table of E1…E19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// E1 principal → group#member: an active membership (assignment `member`/`active`, or
    /// a standing member).
    ActiveMember,
    /// E2 principal → group#member: an eligible membership, gated by the member policy.
    EligibleMember,
    /// E3 principal → group#owner: a standing owner (`owners:`) or an active ownership.
    Owner,
    /// E4 principal → group#owner: an eligible ownership, gated by the owner policy.
    EligibleOwner,
    /// E5 group#owner → group#member: an owner adds members (herself included), outside the
    /// member policy.
    OwnerAddsMembers,
    /// E6 group#member(X) → group#member(G): group X is an eligible member of G.
    NestedEligible,
    /// E7 group#member(X) → group#member(G): group X is an active member of G
    /// (non-role-assignable security groups only).
    NestedActive,
    /// E8 group#member / principal → entra role: holds the role (a group's `entra_roles`,
    /// `admins[]`).
    HoldsRole,
    /// E9 group#member / principal → entra role: eligible for the role.
    EligibleForRole,
    /// E10 group#member / principal → azure role.
    AzureRole,
    /// E11 GA, PRA → hub → every group#member and group#owner.
    AddMembersAll,
    /// E12 → hub → every non-role-assignable group's member node.
    AddMembersNonRoleAssignable,
    /// E13 → hub → every non-role-assignable Microsoft 365 group's member node.
    AddMembersM365,
    /// E14 PRA, GA → hub → every entra role: grant any role.
    GrantRole,
    /// E15 → hub:reset:… → every user the role can reset the password of.
    ResetPassword,
    /// E16 principal → service principal: owns it (or its application).
    OwnsServicePrincipal,
    /// E17 → hub → every service principal: add a secret.
    AddSecret,
    /// E18 → hub → every service principal: add an owner.
    AddOwner,
    /// E19 entra role@au → the declared members of the unit.
    AdministrativeUnitScoped,
}

impl EdgeKind {
    /// Every kind, E1 first.
    pub const ALL: [EdgeKind; 19] = [
        EdgeKind::ActiveMember,
        EdgeKind::EligibleMember,
        EdgeKind::Owner,
        EdgeKind::EligibleOwner,
        EdgeKind::OwnerAddsMembers,
        EdgeKind::NestedEligible,
        EdgeKind::NestedActive,
        EdgeKind::HoldsRole,
        EdgeKind::EligibleForRole,
        EdgeKind::AzureRole,
        EdgeKind::AddMembersAll,
        EdgeKind::AddMembersNonRoleAssignable,
        EdgeKind::AddMembersM365,
        EdgeKind::GrantRole,
        EdgeKind::ResetPassword,
        EdgeKind::OwnsServicePrincipal,
        EdgeKind::AddSecret,
        EdgeKind::AddOwner,
        EdgeKind::AdministrativeUnitScoped,
    ];

    /// `E1` … `E19`.
    pub fn code(self) -> &'static str {
        match self {
            EdgeKind::ActiveMember => "E1",
            EdgeKind::EligibleMember => "E2",
            EdgeKind::Owner => "E3",
            EdgeKind::EligibleOwner => "E4",
            EdgeKind::OwnerAddsMembers => "E5",
            EdgeKind::NestedEligible => "E6",
            EdgeKind::NestedActive => "E7",
            EdgeKind::HoldsRole => "E8",
            EdgeKind::EligibleForRole => "E9",
            EdgeKind::AzureRole => "E10",
            EdgeKind::AddMembersAll => "E11",
            EdgeKind::AddMembersNonRoleAssignable => "E12",
            EdgeKind::AddMembersM365 => "E13",
            EdgeKind::GrantRole => "E14",
            EdgeKind::ResetPassword => "E15",
            EdgeKind::OwnsServicePrincipal => "E16",
            EdgeKind::AddSecret => "E17",
            EdgeKind::AddOwner => "E18",
            EdgeKind::AdministrativeUnitScoped => "E19",
        }
    }

    /// The name in output (`eligible-member`).
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::ActiveMember => "active-member",
            EdgeKind::EligibleMember => "eligible-member",
            EdgeKind::Owner => "owner",
            EdgeKind::EligibleOwner => "eligible-owner",
            EdgeKind::OwnerAddsMembers => "owner-adds-members",
            EdgeKind::NestedEligible => "nested-eligible",
            EdgeKind::NestedActive => "nested-active",
            EdgeKind::HoldsRole => "holds-role",
            EdgeKind::EligibleForRole => "eligible-for-role",
            EdgeKind::AzureRole => "azure-role",
            EdgeKind::AddMembersAll => "add-members-all",
            EdgeKind::AddMembersNonRoleAssignable => "add-members-non-role-assignable",
            EdgeKind::AddMembersM365 => "add-members-m365",
            EdgeKind::GrantRole => "grant-role",
            EdgeKind::ResetPassword => "reset-password",
            EdgeKind::OwnsServicePrincipal => "owns-service-principal",
            EdgeKind::AddSecret => "add-secret",
            EdgeKind::AddOwner => "add-owner",
            EdgeKind::AdministrativeUnitScoped => "administrative-unit-scoped",
        }
    }

    /// The kind [`Self::name`] names (a saved plan's delta keeps edges by name).
    pub fn from_name(name: &str) -> Option<EdgeKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether taking the edge needs someone to do something (activate, add, grant, reset,
    /// add a secret): such an edge is never standing. Held memberships, ownerships and roles
    /// are not actions (an owner still is not a member: E5 is the action).
    pub fn is_action(self) -> bool {
        !matches!(
            self,
            EdgeKind::ActiveMember
                | EdgeKind::Owner
                | EdgeKind::NestedActive
                | EdgeKind::HoldsRole
                | EdgeKind::AzureRole
        )
    }

    /// Whether the edge changes a group's membership around PIM (E11–E13).
    pub fn bypasses_pim(self) -> bool {
        matches!(
            self,
            EdgeKind::AddMembersAll
                | EdgeKind::AddMembersNonRoleAssignable
                | EdgeKind::AddMembersM365
        )
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an edge, or a path (the union over its edges), carries besides its class
/// (privilege-paths §A.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// E11–E13: the change leaves no PIM activation record, only a directory audit entry.
    pub bypasses_pim: bool,
    /// A password-only reset: it works on a target without MFA.
    pub target_mfa: bool,
    /// The contested reset of an eligible member of a role-assignable group (§A.4).
    pub documented_risk: bool,
    /// E5: an owner adds members outside the member policy.
    pub outside_pim_member_policy: bool,
}

impl Flags {
    pub fn union(self, other: Flags) -> Flags {
        Flags {
            bypasses_pim: self.bypasses_pim || other.bypasses_pim,
            target_mfa: self.target_mfa || other.target_mfa,
            documented_risk: self.documented_risk || other.documented_risk,
            outside_pim_member_policy: self.outside_pim_member_policy
                || other.outside_pim_member_policy,
        }
    }

    /// The names of the flags that are set, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.bypasses_pim, "bypasses_pim"),
            (self.target_mfa, "target_mfa"),
            (self.documented_risk, "documented_risk"),
            (self.outside_pim_member_policy, "outside_pim_member_policy"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// One edge: holding `tail` lets one hold `head`, past `gates`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub kind: EdgeKind,
    pub tail: NodeId,
    pub head: NodeId,
    pub gates: Gates,
    /// The YAML span that created the edge; `None` for built-in capabilities and for edges
    /// built from the state.
    pub source: Option<Span>,
    pub flags: Flags,
    /// Whether taking the edge needs an action (see [`EdgeKind::is_action`]); set from the
    /// kind by [`Edge::new`].
    pub action: bool,
}

impl Edge {
    /// An edge of this kind without gates, its action and flags as the kind implies.
    pub fn new(kind: EdgeKind, tail: NodeId, head: NodeId) -> Self {
        Edge {
            kind,
            tail,
            head,
            gates: Gates::none(),
            source: None,
            flags: Flags {
                bypasses_pim: kind.bypasses_pim(),
                outside_pim_member_policy: kind == EdgeKind::OwnerAddsMembers,
                ..Flags::default()
            },
            action: kind.is_action(),
        }
    }

    pub fn with_gates(mut self, gates: Gates) -> Self {
        self.gates = gates;
        self
    }

    pub fn with_source(mut self, source: Option<Span>) -> Self {
        self.source = source;
        self
    }

    pub fn with_flags(mut self, flags: Flags) -> Self {
        self.flags = self.flags.union(flags);
        self
    }

    /// The class of this one step.
    pub fn class(&self) -> PathClass {
        PathClass::of(&self.gates, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_in_order() {
        let codes: Vec<_> = EdgeKind::ALL.iter().map(|k| k.code()).collect();
        let expected: Vec<String> = (1..=19).map(|n| format!("E{n}")).collect();
        assert_eq!(codes, expected);
        let mut names: Vec<_> = EdgeKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 19);
    }

    #[test]
    fn only_held_things_are_standing() {
        let standing: Vec<_> = EdgeKind::ALL
            .into_iter()
            .filter(|k| Edge::new(*k, 0, 1).class() == PathClass::Standing)
            .map(EdgeKind::code)
            .collect();
        assert_eq!(standing, ["E1", "E3", "E7", "E8", "E10"]);
    }
}
