//! What directory roles can do to other objects, as graph edges (privilege-paths §A.3
//! E11–E18, §A.5): one table per capability, each with its source. Where
//! `crate::entra_roles` already holds the fact (`Manages`, `Bypass`), the set is derived from
//! it, not written a second time; what it does not hold is listed here, with where it comes
//! from.

use crate::entra_roles::{BUILTIN_ROLES, Bypass, Manages};

use super::edge::EdgeKind;

/// A capability shared by every holder of some directory roles, reached through one hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// E11: add members to (and owners of) every group, role-assignable ones included.
    AddMembersAll,
    /// E12: add members to every group that is not role-assignable.
    AddMembersNonRoleAssignable,
    /// E13: add members to every non-role-assignable Microsoft 365 group.
    AddMembersM365,
    /// E14: grant any directory role to any principal.
    GrantRole,
    /// E17: add a secret to every service principal (and application).
    AddSecret,
    /// E18: add an owner to every service principal.
    AddOwner,
}

impl Capability {
    pub const ALL: [Capability; 6] = [
        Capability::AddMembersAll,
        Capability::AddMembersNonRoleAssignable,
        Capability::AddMembersM365,
        Capability::GrantRole,
        Capability::AddSecret,
        Capability::AddOwner,
    ];

    /// The hub's name (`hub:<name>` is its key).
    pub fn hub(self) -> &'static str {
        match self {
            Capability::AddMembersAll => "add-members:all",
            Capability::AddMembersNonRoleAssignable => "add-members:non-role-assignable",
            Capability::AddMembersM365 => "add-members:m365",
            Capability::GrantRole => "grant-role",
            Capability::AddSecret => "add-secret:all-sps",
            Capability::AddOwner => "add-owner:all-sps",
        }
    }

    pub fn edge_kind(self) -> EdgeKind {
        match self {
            Capability::AddMembersAll => EdgeKind::AddMembersAll,
            Capability::AddMembersNonRoleAssignable => EdgeKind::AddMembersNonRoleAssignable,
            Capability::AddMembersM365 => EdgeKind::AddMembersM365,
            Capability::GrantRole => EdgeKind::GrantRole,
            Capability::AddSecret => EdgeKind::AddSecret,
            Capability::AddOwner => EdgeKind::AddOwner,
        }
    }

    /// Where the set of roles comes from.
    pub fn source(self) -> &'static str {
        match self {
            Capability::AddMembersAll => {
                "entra_roles `Manages::AllGroups` (groups-assign-member-owner); BloodHound post.go AddMemberAllGroupsTargetRoles()"
            }
            Capability::AddMembersNonRoleAssignable => {
                "entra_roles `Manages::NonRoleAssignableGroups` (groups-assign-member-owner), plus Intune Administrator, Knowledge Administrator and Knowledge Manager from BloodHound post.go AddMemberGroupNotRoleAssignableTargetRoles()"
            }
            Capability::AddMembersM365 => {
                "entra_roles `Bypass::NonRoleAssignableM365Groups` (permissions-reference.md, microsoft.directory/groups.unified/members/update)"
            }
            Capability::GrantRole => {
                "BloodHound default-rules.mdx (PRA \"can grant any other admin role to any principal\"); permissions-reference.md"
            }
            Capability::AddSecret => "BloodHound az-add-secret.mdx, post.go AddSecretRoleIDs()",
            Capability::AddOwner => "BloodHound az-add-owner.mdx",
        }
    }

    /// The roles that hold the capability at directory scope, in table order.
    pub fn roles(self) -> Vec<&'static str> {
        let derived = |keep: &dyn Fn(&crate::entra_roles::BuiltinRole) -> bool| {
            BUILTIN_ROLES
                .iter()
                .filter(|r| keep(r))
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        match self {
            Capability::AddMembersAll => derived(&|r| r.manages == Manages::AllGroups),
            Capability::AddMembersNonRoleAssignable => {
                let mut v = derived(&|r| r.manages == Manages::NonRoleAssignableGroups);
                v.extend(ADD_MEMBERS_NON_ROLE_ASSIGNABLE_BLOODHOUND);
                v
            }
            Capability::AddMembersM365 => {
                derived(&|r| r.bypass == Bypass::NonRoleAssignableM365Groups)
            }
            Capability::GrantRole => GRANT_ROLE.to_vec(),
            Capability::AddSecret => ADD_SECRET.to_vec(),
            Capability::AddOwner => ADD_OWNER.to_vec(),
        }
    }
}

/// E12 roles `entra_roles` does not mark (they do not manage PIM for Groups, but can change a
/// non-role-assignable group's members): BloodHound post.go
/// `AddMemberGroupNotRoleAssignableTargetRoles()`.
const ADD_MEMBERS_NON_ROLE_ASSIGNABLE_BLOODHOUND: [&str; 3] = [
    "Intune Administrator",
    "Knowledge Administrator",
    "Knowledge Manager",
];

/// E14: BloodHound default-rules.mdx; permissions-reference.md
/// (`microsoft.directory/roleAssignments/allProperties/allTasks`).
const GRANT_ROLE: [&str; 2] = ["Privileged Role Administrator", "Global Administrator"];

/// E17: BloodHound az-add-secret.mdx, post.go `AddSecretRoleIDs()`.
const ADD_SECRET: [&str; 2] = [
    "Application Administrator",
    "Cloud Application Administrator",
];

/// E18: BloodHound az-add-owner.mdx.
const ADD_OWNER: [&str; 4] = [
    "Hybrid Identity Administrator",
    "Partner Tier1 Support",
    "Partner Tier2 Support",
    "Directory Synchronization Accounts",
];

/// Which roles a target may hold and still have its password reset by a row's roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resettable {
    /// Targets holding only these roles (or none).
    Roles(&'static [&'static str]),
    /// Targets holding any role.
    All,
}

impl Resettable {
    pub fn allows(self, role: &str) -> bool {
        match self {
            Resettable::All => true,
            Resettable::Roles(list) => list.contains(&role),
        }
    }
}

/// One row of Microsoft's "Who can reset passwords" table (privilege-paths §A.5).
#[derive(Debug)]
pub struct ResetRow {
    /// The hub's name (`hub:reset:<name>`).
    pub hub: &'static str,
    /// The resetting roles of the row.
    pub roles: &'static [&'static str],
    /// The roles a target may hold.
    pub resettable: Resettable,
    /// Whether the row also resets active members and owners of role-assignable groups
    /// (only Privileged Authentication Administrator and Global Administrator do).
    pub resets_role_assignable_members: bool,
    /// A password-only reset (the role does not manage authentication methods): the path
    /// works on a target without MFA (flag `target_mfa`).
    pub password_only: bool,
    pub source: &'static str,
}

const PASSWORD_ADMIN_TARGETS: &[&str] = &[
    "Directory Readers",
    "Guest Inviter",
    "Password Administrator",
];
const HELPDESK_TARGETS: &[&str] = &[
    "Directory Readers",
    "Guest Inviter",
    "Password Administrator",
    "Helpdesk Administrator",
    "Message Center Reader",
    "Reports Reader",
    "Usage Summary Reports Reader",
    "User Experience Success Manager",
];
const AUTHENTICATION_ADMIN_TARGETS: &[&str] = &[
    "Authentication Administrator",
    "Directory Readers",
    "Guest Inviter",
    "Message Center Reader",
    "Password Administrator",
    "Reports Reader",
    "User Experience Success Manager",
    "Usage Summary Reports Reader",
];
const USER_ADMIN_TARGETS: &[&str] = &[
    "Directory Readers",
    "Guest Inviter",
    "Password Administrator",
    "Helpdesk Administrator",
    "Message Center Reader",
    "Reports Reader",
    "Usage Summary Reports Reader",
    "User Experience Success Manager",
    "Groups Administrator",
    "User Administrator",
];

const WHO_CAN_RESET: &str = "entra-docs identity/role-based-access-control/privileged-roles-permissions.md, \"Who can reset passwords\"";

/// The reset table, one row per hub.
pub static RESET_TABLE: &[ResetRow] = &[
    ResetRow {
        hub: "reset:password-administrator",
        roles: &["Password Administrator"],
        resettable: Resettable::Roles(PASSWORD_ADMIN_TARGETS),
        resets_role_assignable_members: false,
        password_only: true,
        source: WHO_CAN_RESET,
    },
    ResetRow {
        hub: "reset:helpdesk-administrator",
        roles: &["Helpdesk Administrator"],
        resettable: Resettable::Roles(HELPDESK_TARGETS),
        resets_role_assignable_members: false,
        password_only: true,
        source: WHO_CAN_RESET,
    },
    ResetRow {
        hub: "reset:authentication-administrator",
        roles: &["Authentication Administrator"],
        resettable: Resettable::Roles(AUTHENTICATION_ADMIN_TARGETS),
        resets_role_assignable_members: false,
        password_only: false,
        source: WHO_CAN_RESET,
    },
    ResetRow {
        hub: "reset:user-administrator",
        roles: &["User Administrator"],
        resettable: Resettable::Roles(USER_ADMIN_TARGETS),
        resets_role_assignable_members: false,
        password_only: true,
        source: WHO_CAN_RESET,
    },
    ResetRow {
        hub: "reset:all",
        roles: &[
            "Privileged Authentication Administrator",
            "Global Administrator",
        ],
        resettable: Resettable::All,
        resets_role_assignable_members: true,
        password_only: false,
        source: "privileged-roles-permissions.md \"Who can reset passwords\"; groups-concept.md (credentials of members and owners of a role-assignable group need at least Privileged Authentication Administrator); BloodHound-Legacy PR #637",
    },
    ResetRow {
        hub: "reset:partner-tier2-support",
        roles: &["Partner Tier2 Support"],
        resettable: Resettable::All,
        resets_role_assignable_members: false,
        password_only: false,
        source: WHO_CAN_RESET,
    },
    ResetRow {
        hub: "reset:partner-tier1-support",
        roles: &["Partner Tier1 Support"],
        resettable: Resettable::Roles(&[]),
        resets_role_assignable_members: false,
        password_only: true,
        source: WHO_CAN_RESET,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_named_is_a_built_in_role() {
        let mut names: Vec<&str> = Capability::ALL.iter().flat_map(|c| c.roles()).collect();
        for row in RESET_TABLE {
            names.extend(row.roles);
            if let Resettable::Roles(list) = row.resettable {
                names.extend(list);
            }
        }
        let unknown: Vec<_> = names
            .into_iter()
            .filter(|n| crate::entra_roles::find(n).is_none())
            .collect();
        assert!(unknown.is_empty(), "not built-in roles: {unknown:?}");
    }

    #[test]
    fn derived_sets_follow_the_role_table() {
        assert_eq!(
            Capability::AddMembersAll.roles(),
            ["Global Administrator", "Privileged Role Administrator"]
        );
        assert_eq!(
            Capability::AddMembersNonRoleAssignable.roles(),
            [
                "Directory Writers",
                "Groups Administrator",
                "Identity Governance Administrator",
                "User Administrator",
                "Intune Administrator",
                "Knowledge Administrator",
                "Knowledge Manager"
            ]
        );
        assert!(
            Capability::AddMembersM365
                .roles()
                .contains(&"Exchange Administrator")
        );
    }

    #[test]
    fn each_resetting_role_is_in_one_row_and_hubs_are_unique() {
        let mut roles: Vec<_> = RESET_TABLE.iter().flat_map(|r| r.roles).collect();
        let mut hubs: Vec<_> = RESET_TABLE.iter().map(|r| r.hub).collect();
        let (nr, nh) = (roles.len(), hubs.len());
        roles.sort_unstable();
        roles.dedup();
        hubs.sort_unstable();
        hubs.dedup();
        assert_eq!((roles.len(), hubs.len()), (nr, nh));
        // Every helpdesk target is a user-administrator target (the table's rows nest).
        assert!(
            HELPDESK_TARGETS
                .iter()
                .all(|r| USER_ADMIN_TARGETS.contains(r))
        );
        assert!(
            PASSWORD_ADMIN_TARGETS
                .iter()
                .all(|r| HELPDESK_TARGETS.contains(r))
        );
    }
}
