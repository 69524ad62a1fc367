//! Microsoft Entra built-in directory roles, and what each means for PIM for Groups.
//!
//! One table, one place: the display names that `admins[].role` and `groups[].entra_roles`
//! are checked against, which roles may manage which kind of group (PIM401, PIM402), and
//! which roles can change a group's membership outside PIM (PIM403).
//!
//! Source of the names and template ids: Microsoft Learn, "Microsoft Entra built-in roles"
//! (MicrosoftDocs/entra-docs `docs/identity/role-based-access-control/permissions-reference.md`,
//! ms.date 2026-01-20, "All roles" table). Source of the management facts: Microsoft Learn
//! groups-assign-member-owner, groups-role-settings, groups-discover-groups (who may manage
//! PIM for Groups), and concept-pim-for-groups (roles that can override PIM); the roles that can
//! update Microsoft 365 group members (`microsoft.directory/groups.unified/members/update`) are
//! from each role's permissions table in permissions-reference.md.
//!
//! Source of `privileged`: the PRIVILEGED label (Graph `isPrivileged`) of the same "All roles"
//! table in permissions-reference.md (ms.date 2026-01-20), which Microsoft Learn
//! "Privileged roles and permissions in Microsoft Entra ID"
//! (`privileged-roles-permissions.md`) names as the list of privileged roles. A role's tier
//! for privilege paths ([`tier`]) rests on it.

/// Which groups a role may manage PIM assignments and settings of, at directory scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manages {
    /// No PIM for Groups management.
    Nothing,
    /// Groups that are not role-assignable (Directory Writers, Groups Administrator,
    /// Identity Governance Administrator, User Administrator).
    NonRoleAssignableGroups,
    /// Every group, role-assignable ones included (Global Administrator, Privileged Role
    /// Administrator).
    AllGroups,
}

/// Which groups' membership a role can change through the Groups API, bypassing PIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bypass {
    Nothing,
    /// Microsoft 365 groups that are not role-assignable: the roles whose permissions include
    /// `microsoft.directory/groups.unified/members/update` (Exchange Administrator,
    /// SharePoint Administrator, Teams Administrator, Yammer Administrator;
    /// permissions-reference.md).
    NonRoleAssignableM365Groups,
}

#[derive(Debug)]
pub struct BuiltinRole {
    /// Display name, as the portal and Graph `displayName` show it.
    pub name: &'static str,
    /// The role's template id (the same in every tenant).
    pub template_id: &'static str,
    /// Microsoft's PRIVILEGED label (`isPrivileged`): the role can delegate management of
    /// directory resources, change credentials or authentication and authorization policies,
    /// or read restricted data.
    pub privileged: bool,
    pub manages: Manages,
    pub bypass: Bypass,
}

impl BuiltinRole {
    pub fn may_manage(&self, role_assignable: bool) -> bool {
        match self.manages {
            Manages::AllGroups => true,
            Manages::NonRoleAssignableGroups => !role_assignable,
            Manages::Nothing => false,
        }
    }

    /// Whether the role manages any kind of group (an admin of it scoped to an
    /// administrative unit is what PIM402 warns about).
    pub fn manages_groups(&self) -> bool {
        self.manages != Manages::Nothing
    }
}

/// A role by exact display name.
pub fn find(name: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.name == name)
}

/// The tier of a role for privilege paths: 0 for a role in `tier0` (the workspace's
/// `paths.tier0`, see `PathsSettings::tier0`), 1 for any other role with Microsoft's
/// PRIVILEGED label, 2 for the rest (custom roles included).
pub fn tier(name: &str, tier0: impl Fn(&str) -> bool) -> u8 {
    if tier0(name) {
        0
    } else if find(name).is_some_and(|r| r.privileged) {
        1
    } else {
        2
    }
}

/// Every display name, for "did you mean".
pub fn names() -> Vec<&'static str> {
    BUILTIN_ROLES.iter().map(|r| r.name).collect()
}

/// Every built-in role (123, sorted by name without regard to case).
pub static BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "Agent ID Administrator",
        template_id: "db506228-d27e-4b7d-95e5-295956d6615f",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Agent ID Developer",
        template_id: "adb2368d-a9be-41b5-8667-d96778e081b0",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Agent Registry Administrator",
        template_id: "6b942400-691f-4bf0-9d12-d8a254a2baf5",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "AI Administrator",
        template_id: "d2562ede-74db-457e-a7b6-544e236ebb61",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Application Administrator",
        template_id: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Application Developer",
        template_id: "cf1c38e5-3621-4004-a7cb-879624dced7c",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attack Payload Author",
        template_id: "9c6df0f2-1e7c-4dc3-b195-66dfbd24aa8f",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attack Simulation Administrator",
        template_id: "c430b396-e693-46cc-96f3-db01bf8bb62a",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Assignment Administrator",
        template_id: "58a13ea3-c632-46ae-9ee0-9c0d43cd7f3d",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Assignment Reader",
        template_id: "ffd52fa5-98dc-465c-991d-fc073eb59f8f",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Definition Administrator",
        template_id: "8424c6f0-a189-499e-bbd0-26c1753c96d4",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Definition Reader",
        template_id: "1d336d2c-4ae8-42ef-9711-b3604ce3fc2c",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Log Administrator",
        template_id: "5b784334-f94b-471a-a387-e7219fc49ca2",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Log Reader",
        template_id: "9c99539d-8186-4804-835f-fd51ef9e2dcd",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Provisioning Administrator",
        template_id: "ecb2c6bf-0ab6-418e-bd87-7986f8d63bbe",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Attribute Provisioning Reader",
        template_id: "422218e4-db15-4ef9-bbe0-8afb41546d79",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Authentication Administrator",
        template_id: "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Authentication Extensibility Administrator",
        template_id: "25a516ed-2fa0-40ea-a2d0-12923a21473a",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Authentication Policy Administrator",
        template_id: "0526716b-113d-4c15-b2c8-68e3c22b9f80",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Azure DevOps Administrator",
        template_id: "e3973bdf-4987-49ae-837a-ba8e231c7286",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Azure Information Protection Administrator",
        template_id: "7495fdc4-34c4-4d15-a289-98788ce399fd",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "B2C IEF Keyset Administrator",
        template_id: "aaf43236-0c0d-4d5f-883a-6955382ac081",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "B2C IEF Policy Administrator",
        template_id: "3edaf663-341e-4475-9f94-5c398ef6c070",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Billing Administrator",
        template_id: "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Cloud App Security Administrator",
        template_id: "892c5842-a9a6-463a-8041-72aa08ca3cf6",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Cloud Application Administrator",
        template_id: "158c047a-c907-4556-b7ef-446551a6b5f7",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Cloud Device Administrator",
        template_id: "7698a772-787b-4ac8-901f-60d6b08affd2",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Compliance Administrator",
        template_id: "17315797-102d-40b4-93e0-432062caca18",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Compliance Data Administrator",
        template_id: "e6d1a23a-da11-4be4-9570-befc86d067a7",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Conditional Access Administrator",
        template_id: "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Customer LockBox Access Approver",
        template_id: "5c4f9dcd-47dc-4cf7-8c9a-9e4207cbfc91",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Desktop Analytics Administrator",
        template_id: "38a96431-2bdf-4b4c-8b6e-5d3d8abac1a4",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Directory Readers",
        template_id: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Directory Synchronization Accounts",
        template_id: "d29b2b05-8046-44ba-8758-1e26182fcf32",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Directory Writers",
        template_id: "9360feb5-f418-4baa-8175-e2a00bac4301",
        privileged: true,
        manages: Manages::NonRoleAssignableGroups,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Domain Name Administrator",
        template_id: "8329153b-31d0-4727-b945-745eb3bc5f31",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Dragon Administrator",
        template_id: "e93e3737-fa85-474a-aee4-7d3fb86510f3",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Dynamics 365 Administrator",
        template_id: "44367163-eba1-44c3-98af-f5787879f96a",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Dynamics 365 Business Central Administrator",
        template_id: "963797fb-eb3b-4cde-8ce3-5878b3f32a3f",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Edge Administrator",
        template_id: "3f1acade-1e04-4fbc-9b69-f0302cd84aef",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Exchange Administrator",
        template_id: "29232cdf-9323-42fd-ade2-1d097af3e4de",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::NonRoleAssignableM365Groups,
    },
    BuiltinRole {
        name: "Exchange Backup Administrator",
        template_id: "49eb8f75-97e9-4e37-9b2b-6c3ebfcffa31",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Exchange Recipient Administrator",
        template_id: "31392ffb-586c-42d1-9346-e59415a2cc4e",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Extended Directory User Administrator",
        template_id: "dd13091a-6207-4fc0-82ba-3641e056ab95",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "External ID User Flow Administrator",
        template_id: "6e591065-9bad-43ed-90f3-e9424366d2f0",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "External ID User Flow Attribute Administrator",
        template_id: "0f971eea-41eb-4569-a71e-57bb8a3eff1e",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "External Identity Provider Administrator",
        template_id: "be2f45a1-457d-42af-a067-6ec1fa63bc45",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Fabric Administrator",
        template_id: "a9ea8996-122f-4c74-9520-8edcd192826c",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Global Administrator",
        template_id: "62e90394-69f5-4237-9190-012177145e10",
        privileged: true,
        manages: Manages::AllGroups,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Global Reader",
        template_id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Global Secure Access Administrator",
        template_id: "ac434307-12b9-4fa1-a708-88bf58caabc1",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Global Secure Access Log Reader",
        template_id: "843318fb-79a6-4168-9e6f-aa9a07481cc4",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Groups Administrator",
        template_id: "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        privileged: false,
        manages: Manages::NonRoleAssignableGroups,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Guest Inviter",
        template_id: "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Helpdesk Administrator",
        template_id: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Hybrid Identity Administrator",
        template_id: "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Identity Governance Administrator",
        template_id: "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e",
        privileged: false,
        manages: Manages::NonRoleAssignableGroups,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Insights Administrator",
        template_id: "eb1f4a8d-243a-41f0-9fbd-c7cdf6c5ef7c",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Insights Analyst",
        template_id: "25df335f-86eb-4119-b717-0ff02de207e9",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Insights Business Leader",
        template_id: "31e939ad-9672-4796-9c2e-873181342d2d",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Intune Administrator",
        template_id: "3a2c62db-5318-420d-8d74-23affee5d9d5",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "IoT Device Administrator",
        template_id: "2ea5ce4c-b2d8-4668-bd81-3680bd2d227a",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Kaizala Administrator",
        template_id: "74ef975b-6605-40af-a5d2-b9539d836353",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Knowledge Administrator",
        template_id: "b5a8dcf3-09d5-43a9-a639-8e29ef291470",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Knowledge Manager",
        template_id: "744ec460-397e-42ad-a462-8b3f9747a02c",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "License Administrator",
        template_id: "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Lifecycle Workflows Administrator",
        template_id: "59d46f88-662b-457b-bceb-5c3809e5908f",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Message Center Privacy Reader",
        template_id: "ac16e43d-7b2d-40e0-ac05-243ff356ab5b",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Message Center Reader",
        template_id: "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft 365 Backup Administrator",
        template_id: "1707125e-0aa2-4d4d-8655-a7c786c76a25",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft 365 Migration Administrator",
        template_id: "8c8b803f-96e1-4129-9349-20738d9f9652",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft 365 Support Engineer",
        template_id: "00cf5c54-4693-4f59-a0ac-ab79ef0a974d",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft Entra Joined Device Local Administrator",
        template_id: "9f06204d-73c1-4d4c-880a-6edb90606fd8",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft Graph Data Connect Administrator",
        template_id: "ee67aa9c-e510-4759-b906-227085a7fd4d",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft Hardware Warranty Administrator",
        template_id: "1501b917-7653-4ff9-a4b5-203eaf33784f",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Microsoft Hardware Warranty Specialist",
        template_id: "281fe777-fb20-4fbb-b7a3-ccebce5b0d96",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Network Administrator",
        template_id: "d37c8bed-0711-4417-ba38-b4abe66ce4c2",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Office Apps Administrator",
        template_id: "2b745bdf-0803-4d80-aa65-822c4493daac",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Organizational Branding Administrator",
        template_id: "92ed04bf-c94a-4b82-9729-b799a7a4c178",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Organizational Data Source Administrator",
        template_id: "9d70768a-0cbc-4b4c-aea3-2e124b2477f4",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Organizational Messages Approver",
        template_id: "e48398e2-f4bb-4074-8f31-4586725e205b",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Organizational Messages Writer",
        template_id: "507f53e4-4e52-4077-abd3-d2e1558b6ea2",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Partner Tier1 Support",
        template_id: "4ba39ca4-527c-499a-b93d-d9b492c50246",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Partner Tier2 Support",
        template_id: "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Password Administrator",
        template_id: "966707d0-3269-4727-9be2-8c3a10f19b9d",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "People Administrator",
        template_id: "024906de-61e5-49c8-8572-40335f1e0e10",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Permissions Management Administrator",
        template_id: "af78dc32-cf4d-46f9-ba4e-4428526346b5",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Places Administrator",
        template_id: "78b0ccd1-afc2-4f92-9116-b41aedd09592",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Power Platform Administrator",
        template_id: "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Printer Administrator",
        template_id: "644ef478-e28f-4e28-b9dc-3fdde9aa0b1f",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Printer Technician",
        template_id: "e8cef6f1-e4bd-4ea8-bc07-4b8d950f4477",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Privileged Authentication Administrator",
        template_id: "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Privileged Role Administrator",
        template_id: "e8611ab8-c189-46e8-94e1-60213ab1f814",
        privileged: true,
        manages: Manages::AllGroups,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Reports Reader",
        template_id: "4a5d8f65-41da-4de4-8968-e035b65339cf",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Search Administrator",
        template_id: "0964bb5e-9bdb-4d7b-ac29-58e794862a40",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Search Editor",
        template_id: "8835291a-918c-4fd7-a9ce-faa49f0cf7d9",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Security Administrator",
        template_id: "194ae4cb-b126-40b2-bd5b-6091b380977d",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Security Operator",
        template_id: "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Security Reader",
        template_id: "5d6b6bb7-de71-4623-b4af-96380a352509",
        privileged: true,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Service Support Administrator",
        template_id: "f023fd81-a637-4b56-95fd-791ac0226033",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "SharePoint Administrator",
        template_id: "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::NonRoleAssignableM365Groups,
    },
    BuiltinRole {
        name: "SharePoint Advanced Management Administrator",
        template_id: "99009c4a-3b3f-4957-82a9-9d35e12db77e",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "SharePoint Backup Administrator",
        template_id: "9d3e04ba-3ee4-4d1b-a3a7-9aef423a09be",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "SharePoint Embedded Administrator",
        template_id: "1a7d78b6-429f-476b-b8eb-35fb715fffd4",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Skype for Business Administrator",
        template_id: "75941009-915a-4869-abe7-691bff18279e",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Teams Administrator",
        template_id: "69091246-20e8-4a56-aa4d-066075b2a7a8",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::NonRoleAssignableM365Groups,
    },
    BuiltinRole {
        name: "Teams Communications Administrator",
        template_id: "baf37b3a-610e-45da-9e62-d9d1e5e8914b",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Teams Communications Support Engineer",
        template_id: "f70938a0-fc10-4177-9e90-2178f8765737",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Teams Communications Support Specialist",
        template_id: "fcf91098-03e3-41a9-b5ba-6f0ec8188a12",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Teams Devices Administrator",
        template_id: "3d762c5a-1b6c-493f-843e-55a3b42923d4",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Teams Reader",
        template_id: "1076ac91-f3d9-41a7-a339-dcdf5f480acc",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Teams Telephony Administrator",
        template_id: "aa38014f-0993-46e9-9b45-30501a20909d",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Tenant Creator",
        template_id: "112ca1a2-15ad-4102-995e-45b0bc479a6a",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Usage Summary Reports Reader",
        template_id: "75934031-6c7e-415a-99d7-48dbd49e875e",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "User Administrator",
        template_id: "fe930be7-5e62-47db-91af-98c3a49a38b1",
        privileged: true,
        manages: Manages::NonRoleAssignableGroups,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "User Experience Success Manager",
        template_id: "27460883-1df1-4691-b032-3b79643e5e63",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Virtual Visits Administrator",
        template_id: "e300d9e7-4a2b-4295-9eff-f1c78b36cc98",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Viva Glint Tenant Administrator",
        template_id: "0ec3f692-38d6-4d14-9e69-0377ca7797ad",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Viva Goals Administrator",
        template_id: "92b086b3-e367-4ef2-b869-1de128fb986e",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Viva Pulse Administrator",
        template_id: "87761b17-1ed2-4af3-9acd-92a150038160",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Windows 365 Administrator",
        template_id: "11451d60-acb2-45eb-a7d6-43d0f0125c13",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Windows Update Deployment Administrator",
        template_id: "32696413-001a-46ae-978c-ce0f6b3620d2",
        privileged: false,
        manages: Manages::Nothing,
        bypass: Bypass::Nothing,
    },
    BuiltinRole {
        name: "Yammer Administrator",
        template_id: "810a2642-a034-447f-a5e8-41beaa378541",
        privileged: false,
        manages: Manages::Nothing,
        // includes/yammer-administrator.md (ms.date 2026-01-26): "Create, manage, and restore
        // Microsoft 365 Groups, but not role-assignable groups";
        // `microsoft.directory/groups.unified/members/update`.
        bypass: Bypass::NonRoleAssignableM365Groups,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_unique() {
        let mut names: Vec<_> = BUILTIN_ROLES.iter().map(|r| r.name).collect();
        let mut ids: Vec<_> = BUILTIN_ROLES.iter().map(|r| r.template_id).collect();
        names.sort_unstable();
        names.dedup();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(names.len(), BUILTIN_ROLES.len());
        assert_eq!(ids.len(), BUILTIN_ROLES.len());
    }

    #[test]
    /// permissions-reference.md (ms.date 2026-01-20) labels exactly these 29 roles PRIVILEGED.
    fn the_privileged_roles_are_microsofts() {
        let privileged: Vec<_> = BUILTIN_ROLES
            .iter()
            .filter(|r| r.privileged)
            .map(|r| r.name)
            .collect();
        assert_eq!(
            privileged,
            [
                "Agent ID Administrator",
                "Application Administrator",
                "Application Developer",
                "Attribute Provisioning Administrator",
                "Attribute Provisioning Reader",
                "Authentication Administrator",
                "Authentication Extensibility Administrator",
                "B2C IEF Keyset Administrator",
                "Cloud Application Administrator",
                "Cloud Device Administrator",
                "Conditional Access Administrator",
                "Directory Writers",
                "Domain Name Administrator",
                "External Identity Provider Administrator",
                "Global Administrator",
                "Global Reader",
                "Helpdesk Administrator",
                "Hybrid Identity Administrator",
                "Intune Administrator",
                "Lifecycle Workflows Administrator",
                "Partner Tier1 Support",
                "Partner Tier2 Support",
                "Password Administrator",
                "Privileged Authentication Administrator",
                "Privileged Role Administrator",
                "Security Administrator",
                "Security Operator",
                "Security Reader",
                "User Administrator",
            ]
        );
    }

    #[test]
    fn tiers() {
        let tier0 = |n: &str| n == "Global Administrator";
        assert_eq!(tier("Global Administrator", tier0), 0);
        assert_eq!(tier("Helpdesk Administrator", tier0), 1);
        assert_eq!(tier("Exchange Administrator", tier0), 2);
        assert_eq!(tier("My Custom Role", tier0), 2);
    }

    #[test]
    /// The lists of Microsoft Learn groups-assign-member-owner ("For role-assignable groups,
    /// you need to have Global Administrator, Privileged Role Administrator role, or be an
    /// Owner"; for the others Global Administrator, Directory Writer, Groups Administrator,
    /// Identity Governance Administrator, User Administrator or an owner), plus Privileged Role
    /// Administrator for the others as the rule catalog (PIM401) says.
    fn the_managing_roles_are_the_documented_ones() {
        let all: Vec<_> = BUILTIN_ROLES
            .iter()
            .filter(|r| r.manages == Manages::AllGroups)
            .map(|r| r.name)
            .collect();
        assert_eq!(
            all,
            ["Global Administrator", "Privileged Role Administrator"]
        );
        let some: Vec<_> = BUILTIN_ROLES
            .iter()
            .filter(|r| r.manages == Manages::NonRoleAssignableGroups)
            .map(|r| r.name)
            .collect();
        assert_eq!(
            some,
            [
                "Directory Writers",
                "Groups Administrator",
                "Identity Governance Administrator",
                "User Administrator"
            ]
        );
        let bypass: Vec<_> = BUILTIN_ROLES
            .iter()
            .filter(|r| r.bypass == Bypass::NonRoleAssignableM365Groups)
            .map(|r| r.name)
            .collect();
        assert_eq!(
            bypass,
            [
                "Exchange Administrator",
                "SharePoint Administrator",
                "Teams Administrator",
                "Yammer Administrator"
            ]
        );
    }
}
