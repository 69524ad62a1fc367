//! The raw shape of a pimplan file, as serde reads it.
//!
//! Deliberately permissive: names, enum spellings, durations and timestamps are plain
//! spanned strings here, so that serde fails only on structure (an unknown key, a list where
//! a mapping belongs, a missing required key). The lowering pass (`lower.rs`) checks every
//! value and reports all problems of a file at once. The JSON Schema in `schemas/` is
//! generated from these types; their doc comments are the schema's descriptions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::model::{
    AdminScope, AssignmentType, GroupSource, GroupType, Membership, NotificationLevel,
    PrincipalType, ResetProtection, Role, SeverityLevel, Target,
};
use crate::source::recover::Entry;
use crate::source::yaml::Spanned;

/// A pimplan file: the root `pimplan.yaml` or a file matched by its `include:` globs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pimplan configuration", rename = "File")]
pub struct RawFile {
    /// Format version; required in the root file, and only `1` exists.
    pub version: Option<Spanned<u32>>,
    /// The Entra tenant (root file only).
    pub tenant: Option<Spanned<RawTenant>>,
    /// Where the state is (root file only): the path of a local state file relative to the root file (default `pimplan.state.json`), `azurerm://ACCOUNT/CONTAINER/KEY` for a blob in Azure Blob Storage, or a mapping with `backend: azurerm`.
    pub state: Option<Spanned<RawState>>,
    /// A baseline (`pimplan lint --write-baseline FILE`) whose findings `lint`, `plan` and `apply` leave out, relative to the root file (root file only; `--baseline` overrides it).
    pub baseline: Option<Spanned<String>>,
    /// Name (from `principals`) of the identity that applies changes (root file only).
    pub actor: Option<Spanned<String>>,
    /// Where `plan` and `apply` send changes: `state` (the state file only, the default) or `graph` (Microsoft Graph, then the state) (root file only).
    #[schemars(with = "Option<Target>")]
    pub target: Option<Spanned<String>>,
    /// Globs of further files, relative to the root file's folder (root file only).
    /// They may not reach outside that folder.
    pub include: Option<Spanned<Vec<Spanned<String>>>>,
    /// Severity per rule code or name: `error`, `warning`, `info` or `off` (root file only).
    #[schemars(with = "Option<BTreeMap<String, SeverityLevel>>")]
    pub rules: Option<Spanned<KeyedList<Spanned<String>>>>,
    /// Plan settings (root file only).
    pub plan: Option<Spanned<RawPlanSettings>>,
    /// Privilege-path settings (root file only): which roles count as tier 0, and how the one contested password-reset case is read. Facts pimplan checks, never applies.
    pub paths: Option<Spanned<RawPathsSettings>>,
    /// Administrative units that `admins` may be scoped to, with the members declared in them.
    pub administrative_units: Option<Vec<Entry<RawAdministrativeUnit>>>,
    /// People, groups and service principals referred to anywhere else.
    pub principals: Option<Vec<Entry<RawPrincipal>>>,
    /// Standing directory-role holders: facts the rules check, never changed by pimplan.
    pub admins: Option<Vec<Entry<RawAdmin>>>,
    /// Named PIM policies that groups can start from (`policy: { template: NAME }`).
    #[schemars(with = "Option<BTreeMap<String, RawPolicyTemplate>>")]
    pub policy_templates: Option<KeyedList<RawPolicyTemplate>>,
    /// The PIM-managed groups.
    pub groups: Option<Vec<Entry<RawGroup>>>,
    /// One entry is one PIM schedule: who, on which group, as member or owner, eligible or active, until when.
    pub assignments: Option<Vec<Entry<Spanned<RawAssignment>>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tenant")]
pub struct RawTenant {
    /// Tenant id (a GUID); optional for lint and plan, required to apply to Microsoft Graph.
    pub id: Option<Spanned<String>>,
    /// Primary domain, for documentation.
    pub domain: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PlanSettings")]
pub struct RawPlanSettings {
    /// PIM703 refuses a plan that removes more than this share of the assignments (default 0.25).
    pub max_removal_ratio: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PathsSettings")]
pub struct RawPathsSettings {
    /// Entra role display names that are tier 0. Default: Global Administrator, Privileged Role Administrator, Privileged Authentication Administrator, Partner Tier2 Support, Application Administrator, Intune Administrator, Knowledge Administrator, Security Administrator (BloodHound's Tier Zero rules). The first four are always tier 0, written or not.
    pub tier0: Option<Spanned<Vec<Spanned<String>>>>,
    /// Azure roles that are tier 0 at the scope given or above. Default: Owner, User Access Administrator and Role Based Access Control Administrator at `/`.
    pub tier0_azure: Option<Spanned<Vec<Spanned<RawAzureRole>>>>,
    /// Whether an eligible member of a role-assignable group is protected from password reset by lesser admins: `unprotected` (default, as Microsoft's PIM for Groups note says) or `protected`.
    #[schemars(with = "Option<ResetProtection>")]
    pub eligible_reset_protection: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AzureRole")]
pub struct RawAzureRole {
    /// Azure role name, e.g. `Owner`.
    pub role: Spanned<String>,
    /// Azure scope, e.g. `/subscriptions/00000000-0000-0000-0000-000000000000` (`/` for the root).
    pub scope: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AdministrativeUnit")]
pub struct RawAdministrativeUnit {
    /// Local handle used by `admins[].administrative_unit`.
    pub name: Spanned<String>,
    /// Object id of the administrative unit.
    pub id: Option<Spanned<String>>,
    /// Whether it is a restricted management administrative unit (default false). Groups in one cannot be managed with PIM (PIM511).
    pub restricted_management: Option<Spanned<bool>>,
    /// Principals and groups in the unit (names): a fact pimplan checks, never applies.
    pub members: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Principal")]
pub struct RawPrincipal {
    /// Local handle that every other section uses.
    pub name: Spanned<String>,
    /// `user`, `group` or `service_principal`.
    #[serde(rename = "type")]
    #[schemars(with = "PrincipalType")]
    pub kind: Spanned<String>,
    /// User principal name (users only).
    pub upn: Option<Spanned<String>>,
    /// Object id; optional until apply.
    pub id: Option<Spanned<String>>,
    /// Licenses the user holds. PIM needs Microsoft Entra ID P2 or ID Governance: write `entra_id_p2`, `entra_id_governance`, or a product that includes one by its Microsoft name or SKU part number (`Microsoft 365 E5`, `SPE_E5`, `EMSPREMIUM`, `Microsoft Entra Suite`; Microsoft's "Product names and service plan identifiers for licensing"). Other strings are kept and ignored.
    pub licenses: Option<Vec<Spanned<String>>>,
    /// True for break-glass accounts: exempt from PIM510, never removed by a plan (PIM704).
    pub emergency_access: Option<Spanned<bool>>,
    /// Owners of the service principal or of its app registration (principal names; service principals only): a fact pimplan checks, never applies.
    pub owners: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Admin")]
pub struct RawAdmin {
    /// Name of the principal holding the role.
    pub principal: Spanned<String>,
    /// Entra built-in role display name, e.g. `Privileged Role Administrator`.
    pub role: Spanned<String>,
    /// `directory` (default) or `administrative_unit`.
    #[schemars(with = "Option<AdminScope>")]
    pub scope: Option<Spanned<String>>,
    /// Name of the administrative unit; only with `scope: administrative_unit`.
    pub administrative_unit: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Group")]
pub struct RawGroup {
    /// Local handle used by assignments.
    pub name: Spanned<String>,
    /// Object id; optional until apply.
    pub id: Option<Spanned<String>>,
    /// "Microsoft Entra roles can be assigned to the group" (default false).
    pub role_assignable: Option<Spanned<bool>>,
    /// `security` (default) or `microsoft365`.
    #[serde(rename = "type")]
    #[schemars(with = "Option<GroupType>")]
    pub kind: Option<Spanned<String>>,
    /// `assigned` (default) or `dynamic`.
    #[schemars(with = "Option<Membership>")]
    pub membership: Option<Spanned<String>>,
    /// `cloud` (default) or `on_premises` (synced).
    #[schemars(with = "Option<GroupSource>")]
    pub source: Option<Spanned<String>>,
    /// Standing (non-PIM) owners: principal names.
    pub owners: Option<Vec<Spanned<String>>>,
    /// Standing (non-PIM) members: principal names. A fact pimplan checks, never applies.
    pub members: Option<Vec<Spanned<String>>>,
    /// Directory roles the group holds or is eligible for (needs `role_assignable: true`): a role display name (active, directory scope), or `{ role, type, approval, mfa }`.
    pub entra_roles: Option<Vec<Spanned<RawEntraRole>>>,
    /// Azure roles the group holds (`{ role, scope }`); allowed on groups that are not role-assignable.
    pub azure_roles: Option<Vec<Spanned<RawAzureRole>>>,
    /// PIM settings per role. A key left out takes the value Microsoft gives a newly onboarded group.
    pub policy: Option<RawGroupPolicy>,
}

/// Where the state is: a path (a local state file), the shorthand `azurerm://ACCOUNT/CONTAINER/KEY`, or the mapping of a remote state.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(rename = "State")]
#[serde(untagged)]
pub enum RawState {
    /// The path of the state file, relative to the root file and below its folder; or `azurerm://ACCOUNT/CONTAINER/KEY`, a blob in Azure Blob Storage with the defaults of the mapping form.
    Text(String),
    /// A state in Azure Blob Storage.
    Remote(Box<RawRemoteState>),
}

/// The keys of a remote `state:` mapping, as serde lists them when one is unknown.
pub const REMOTE_STATE_KEYS: [&str; 7] = [
    "backend",
    "account",
    "container",
    "key",
    "endpoint",
    "auth",
    "snapshot",
];

/// A state in Azure Blob Storage: `state: { backend: azurerm, account, container, key }`. No key holds a secret: the credential comes from the environment (`auth:`).
// The required keys are optional here so that lowering reports a missing one with the
// others (`config::state_file`); the schema marks them required.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RemoteState")]
pub struct RawRemoteState {
    /// The kind of remote state: `azurerm` (a blob in Azure Blob Storage).
    #[schemars(with = "RemoteBackend")]
    pub backend: Option<Spanned<String>>,
    /// The storage account's name: 3 to 24 lowercase letters and digits.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9]{3,24}$"))]
    pub account: Option<Spanned<String>>,
    /// The blob container: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.
    #[schemars(
        with = "String",
        length(min = 3, max = 63),
        regex(pattern = r"^[a-z0-9](?:-?[a-z0-9])+$")
    )]
    pub container: Option<Spanned<String>>,
    /// The blob's name in the container, e.g. `prod/pimplan.state.json`: 1 to 1024 characters, not ending with `/` or `.`.
    #[schemars(with = "String", length(min = 1, max = 1024))]
    pub key: Option<Spanned<String>>,
    /// The Blob service's URL. Default `https://ACCOUNT.blob.core.windows.net`; Azurite: `http://127.0.0.1:10000/devstoreaccount1`. https, or plain http only to this machine (127.0.0.0/8, ::1, localhost).
    pub endpoint: Option<Spanned<String>>,
    /// How requests are authorized: `entra` (default: a Microsoft Entra token for `https://storage.azure.com`, from the Graph sign-in's variables or `PIMPLAN_STORAGE_TOKEN`), `shared_key` (`AZURE_STORAGE_KEY`) or `sas` (`AZURE_STORAGE_SAS_TOKEN`). Secrets never live in the YAML.
    #[schemars(with = "Option<RemoteAuth>")]
    pub auth: Option<Spanned<String>>,
    /// Whether each apply snapshots the blob before its first write (the remote `.backup`). Default true.
    pub snapshot: Option<Spanned<bool>>,
}

/// Spellings accepted in `state.backend`, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum RemoteBackend {
    /// A blob in Azure Blob Storage, locked by a lease.
    Azurerm,
}

/// Spellings accepted in `state.auth`, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum RemoteAuth {
    /// A Microsoft Entra token for `https://storage.azure.com`.
    Entra,
    /// The account key in `AZURE_STORAGE_KEY`.
    SharedKey,
    /// A SAS token in `AZURE_STORAGE_SAS_TOKEN`.
    Sas,
}

/// A string or a mapping, read by hand like [`RawEntraRole`]: the mapping's keys keep their
/// spans.
impl<'de> Deserialize<'de> for RawState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawState;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a path, `azurerm://ACCOUNT/CONTAINER/KEY`, or a mapping with `backend: azurerm`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawState::Text(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RawRemoteState::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|r| RawState::Remote(Box::new(r)))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// One `groups[].entra_roles` entry: the short form (a display name) or the long form.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "EntraRole")]
pub enum RawEntraRole {
    /// A role display name: the group holds the role, active, at directory scope.
    Name(String),
    /// A role with its assignment type and facts about the role's own PIM policy.
    Grant(RawEntraRoleGrant),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "EntraRoleGrant")]
pub struct RawEntraRoleGrant {
    /// Entra built-in role display name, e.g. `Exchange Administrator`.
    pub role: Spanned<String>,
    /// `active` (default: the group holds the role) or `eligible` (the group's members can activate it, PIM for roles).
    #[serde(rename = "type")]
    #[schemars(with = "Option<AssignmentType>")]
    pub kind: Option<Spanned<String>>,
    /// Whether activating the role needs approval (a fact about that role's PIM policy; eligible only; default false).
    pub approval: Option<Spanned<bool>>,
    /// Whether activating the role needs MFA (a fact about that role's PIM policy; eligible only; default false).
    pub mfa: Option<Spanned<bool>>,
}

/// A string or a mapping, read by hand: serde's untagged enums buffer the value, and the
/// buffered copy has lost the spans the long form's keys need.
impl<'de> Deserialize<'de> for RawEntraRole {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawEntraRole;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a role display name, or a mapping with `role`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawEntraRole::Name(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RawEntraRoleGrant::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawEntraRole::Grant)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GroupPolicy")]
pub struct RawGroupPolicy {
    /// Name of a `policy_templates` entry to start from; the group's own keys win.
    pub template: Option<Spanned<String>>,
    /// Settings for the member role.
    pub member: Option<RawRolePolicy>,
    /// Settings for the owner role.
    pub owner: Option<RawRolePolicy>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PolicyTemplate")]
pub struct RawPolicyTemplate {
    /// Settings for the member role.
    pub member: Option<RawRolePolicy>,
    /// Settings for the owner role.
    pub owner: Option<RawRolePolicy>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RolePolicy")]
pub struct RawRolePolicy {
    /// What an eligible principal must do to activate.
    pub activation: Option<RawActivation>,
    /// Limits on eligible assignments.
    pub eligible_assignment: Option<RawAssignmentPolicy>,
    /// Limits on active assignments.
    pub active_assignment: Option<RawAssignmentPolicy>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Activation")]
pub struct RawActivation {
    /// Longest activation, ISO 8601 (`PT8H`); 30 minutes to 24 hours. Default `PT8H`.
    #[schemars(with = "Option<String>", regex(pattern = r"^P"))]
    pub max_duration: Option<Spanned<String>>,
    /// Any of `mfa`, `justification`, `ticket`. Default `[justification]`.
    #[schemars(with = "Option<Vec<ActivationRequirement>>")]
    pub require: Option<Spanned<Vec<Spanned<String>>>>,
    /// Conditional Access authentication context (`c1` … `c99`); excludes `mfa`.
    pub authentication_context: Option<Spanned<String>>,
    /// Approval of activation requests.
    pub approval: Option<RawApproval>,
    /// Who is e-mailed when an eligible principal activates (or asks to).
    pub notifications: Option<RawNotifications>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notifications")]
pub struct RawNotifications {
    /// E-mails to admins (`Notification_Admin_*`).
    pub admin: Option<RawNotification>,
    /// E-mails to the principal assigned, or activating (`Notification_Requestor_*`).
    pub assignee: Option<RawNotification>,
    /// E-mails to approvers (`Notification_Approver_*`).
    pub approver: Option<RawNotification>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notification")]
pub struct RawNotification {
    /// Whether the recipients PIM chooses itself are e-mailed (default true).
    pub default_recipients: Option<Spanned<bool>>,
    /// `all` or `critical` (only the e-mails that need action). Default `all`.
    #[schemars(with = "Option<NotificationLevel>")]
    pub level: Option<Spanned<String>>,
    /// Further e-mail addresses (default none).
    pub additional_recipients: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Approval")]
pub struct RawApproval {
    /// Whether an approver must approve each activation (default false).
    pub required: Option<Spanned<bool>>,
    /// Users or groups (principal names) who approve.
    pub approvers: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AssignmentPolicy")]
pub struct RawAssignmentPolicy {
    /// Whether an assignment may have no end (default false).
    pub allow_permanent: Option<Spanned<bool>>,
    /// Longest assignment, only when `allow_permanent` is false (defaults: eligible `P365D`, active `P180D`).
    #[schemars(with = "Option<String>", regex(pattern = r"^P"))]
    pub max_duration: Option<Spanned<String>>,
    /// What the admin who makes the assignment must give: any of `mfa`, `justification`
    /// (defaults: eligible `[]`, active `[justification]`).
    #[schemars(with = "Option<Vec<AssignmentRequirement>>")]
    pub require: Option<Spanned<Vec<Spanned<String>>>>,
    /// Who is e-mailed when an assignment of this type is made.
    pub notifications: Option<RawNotifications>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Assignment")]
pub struct RawAssignment {
    /// Name of the group.
    pub group: Spanned<String>,
    /// Name of the principal.
    pub principal: Spanned<String>,
    /// `member` or `owner`.
    #[schemars(with = "Role")]
    pub role: Spanned<String>,
    /// `eligible` or `active`.
    #[serde(rename = "type")]
    #[schemars(with = "AssignmentType")]
    pub kind: Spanned<String>,
    /// RFC 3339 timestamp with an offset; default: the moment it is applied.
    #[schemars(with = "Option<String>")]
    pub start: Option<Spanned<String>>,
    /// RFC 3339 timestamp with an offset. Exactly one of `end`, `duration`, `permanent: true`.
    #[schemars(with = "Option<String>")]
    pub end: Option<Spanned<String>>,
    /// ISO 8601 duration counted from `start` (or from apply). Exactly one of `end`, `duration`, `permanent: true`.
    #[schemars(with = "Option<String>", regex(pattern = r"^P"))]
    pub duration: Option<Spanned<String>>,
    /// `true` for an assignment without end. Exactly one of `end`, `duration`, `permanent: true`.
    pub permanent: Option<Spanned<bool>>,
    /// Why the access is granted; required when the group's policy requires justification.
    pub justification: Option<Spanned<String>>,
    /// Ticket reference, sent to Microsoft Graph as `ticketInfo`.
    pub ticket: Option<RawTicket>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ticket")]
pub struct RawTicket {
    /// Ticketing system, e.g. `ServiceNow`.
    pub system: Option<Spanned<String>>,
    /// Ticket number, e.g. `CHG0012345`.
    pub number: Spanned<String>,
}

/// A YAML mapping read in file order, each key with its span. (Keys are unique: the YAML
/// layer refuses a duplicate key.) A value left out after a structure error is not here.
#[derive(Debug, Default)]
pub struct KeyedList<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for KeyedList<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
            type Value = KeyedList<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if let Some(value) = map.next_value::<Entry<V>>()?.read() {
                        entries.push((key, value));
                    }
                }
                Ok(KeyedList(entries))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// Spellings accepted in `activation.require`, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum ActivationRequirement {
    Mfa,
    Justification,
    Ticket,
}

/// Spellings accepted in `eligible_assignment.require` and `active_assignment.require`, for
/// the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum AssignmentRequirement {
    Mfa,
    Justification,
}

/// The recovery of `source::recover` (every error of an entry, the entry left out, the
/// names it defines kept), on the real root file shape.
#[cfg(test)]
mod recover_tests {
    use super::RawFile;
    use crate::source::recover::{Entry, MAX_ERRORS_PER_FILE, Recovered};
    use crate::source::yaml::YamlErrorKind;
    use crate::source::{FileId, SourceFile};

    fn read(text: &str) -> Recovered<Option<RawFile>> {
        let file = SourceFile::new("t.yaml".into(), text.to_owned());
        crate::source::yaml::parse_all::<RawFile>(FileId(0), &file)
    }

    fn messages(r: &Recovered<Option<RawFile>>) -> Vec<String> {
        r.errors.iter().map(|e| e.message.clone()).collect()
    }

    fn names(r: &Recovered<Option<RawFile>>) -> Vec<String> {
        r.value
            .as_ref()
            .and_then(|v| v.as_ref())
            .and_then(|raw| raw.principals.as_ref())
            .map(|list| {
                list.iter()
                    .filter_map(|e| match e {
                        Entry::Read(p) => Some(p.name.value.clone()),
                        Entry::LeftOut => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn every_error_of_an_entry_is_reported_and_the_entry_left_out() {
        let r = read(
            "principals:\n  - name: a\n    typ: user\n    upn: [x]\n  - name: b\n    type: user\n",
        );
        assert_eq!(
            messages(&r),
            [
                "unknown key `typ`",
                "expected a single name or text here, not a list or mapping"
            ]
        );
        assert_eq!(names(&r), ["b"]);
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(r.skipped[0].section, "principals");
        assert!(r.skipped[0].entries[0].contains(&("name".to_owned(), "a".to_owned())));
    }

    #[test]
    fn keys_in_flow_mappings_are_written_over_with_their_comma() {
        let r =
            read("principals:\n  - {typ: user, name: a, upn: [x]}\n  - {name: b, type: user}\n");
        assert_eq!(messages(&r).len(), 2, "{:?}", messages(&r));
        assert_eq!(names(&r), ["b"]);
    }

    #[test]
    fn an_empty_entry_written_by_hand_is_an_error() {
        let r = read("principals:\n  - ~\n  - name: b\n    type: user\n");
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].kind, YamlErrorKind::Shape);
        assert_eq!(names(&r), ["b"]);
    }

    #[test]
    fn a_misspelt_section_keeps_the_names_it_defines() {
        let r = read(
            "principls:\n  - name: a\n    type: user\nprincipals:\n  - name: b\n    type: user\n",
        );
        assert_eq!(messages(&r), ["unknown key `principls`"]);
        assert_eq!(names(&r), ["b"]);
        assert!(r.skipped[0].whole);
        assert_eq!(
            r.skipped[0].entries,
            [[
                ("name".to_owned(), "a".to_owned()),
                ("type".to_owned(), "user".to_owned())
            ]]
        );
    }

    #[test]
    fn a_file_with_aliases_is_not_read_past_its_first_error() {
        let r = read("principals:\n  - &x {name: a, typ: user}\n  - *x\n");
        assert!(r.value.is_none());
        assert_eq!(messages(&r), ["unknown key `typ`"]);
    }

    #[test]
    fn past_the_limit_the_file_is_not_read() {
        let mut text = "principals:\n".to_owned();
        for i in 0..MAX_ERRORS_PER_FILE + 5 {
            text.push_str(&format!("  - {{name: p{i}, typ: user}}\n"));
        }
        let r = read(&text);
        assert!(r.value.is_none());
        assert_eq!(r.errors.len(), MAX_ERRORS_PER_FILE);
    }

    #[test]
    fn duplicate_keys_are_left_out_like_other_errors() {
        let r = read(
            "principals:\n  - name: a\n    type: user\n    type: group\n  - name: b\n    type: user\n",
        );
        assert_eq!(messages(&r), ["duplicate key `type`"]);
        assert_eq!(names(&r), ["b"]);
    }

    #[test]
    fn a_syntax_error_is_not_read_past() {
        let r = read("principals:\n  - name: a\n    typ: user\n  - name: [b\n");
        assert!(r.value.is_none());
        assert_eq!(messages(&r)[0], "unknown key `typ`");
        assert_eq!(r.errors.len(), 2);
        assert!(matches!(r.errors[1].kind, YamlErrorKind::Syntax { .. }));
    }
}
