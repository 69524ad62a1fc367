//! The typed, checked workspace that rules and the planner read.
//!
//! Every value a finding may point at keeps its [`Span`]. Values written in the files are
//! `Spanned`; values left out take the documented defaults through accessor methods, so a
//! rule never has to know the defaults.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset, TimeDelta};
use schemars::JsonSchema;

use crate::source::yaml::Spanned;
use crate::source::{FileId, Span};

/// An enum whose YAML spellings are listed once, for parsing, "did you mean" and the schema.
pub trait Spelling: Sized + Copy + 'static {
    /// What the value is called in messages ("role", "assignment type").
    const WHAT: &'static str;
    const ALL: &'static [(&'static str, Self)];

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().find(|(s, _)| *s == text).map(|(_, v)| *v)
    }

    fn as_str(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(s, _)| s)
    }

    fn spellings() -> Vec<&'static str> {
        Self::ALL.iter().map(|(s, _)| *s).collect()
    }
}

macro_rules! spelled_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl Spelling for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [(&'static str, Self)] = &[$(($text, $name::$variant)),+];
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

spelled_enum!(
    /// `member` or `owner` of the group.
    Role, "role", { Member = "member", Owner = "owner" }
);
spelled_enum!(
    /// `eligible` (activated on demand) or `active` (in effect without activation).
    AssignmentType, "assignment type", { Eligible = "eligible", Active = "active" }
);
spelled_enum!(
    /// The kind of a principal.
    PrincipalType, "principal type", { User = "user", Group = "group", ServicePrincipal = "service_principal" }
);
spelled_enum!(
    /// The kind of a group.
    GroupType, "group type", { Security = "security", Microsoft365 = "microsoft365" }
);
spelled_enum!(
    /// How the group's membership is maintained.
    Membership, "membership", { Assigned = "assigned", Dynamic = "dynamic" }
);
spelled_enum!(
    /// Where the group is mastered.
    GroupSource, "group source", { Cloud = "cloud", OnPremises = "on_premises" }
);
spelled_enum!(
    /// Where an admin's role applies.
    AdminScope, "admin scope", { Directory = "directory", AdministrativeUnit = "administrative_unit" }
);
spelled_enum!(
    /// A rule severity in `rules:`.
    SeverityLevel, "severity", { Error = "error", Warning = "warning", Info = "info", Off = "off" }
);
spelled_enum!(
    /// Where `apply` sends changes.
    Target, "target", { State = "state", Graph = "graph" }
);
spelled_enum!(
    /// Whether an eligible member of a role-assignable group counts as protected from
    /// password reset by lesser admins (`paths.eligible_reset_protection`).
    ResetProtection, "reset protection", { Unprotected = "unprotected", Protected = "protected" }
);
spelled_enum!(
    /// What a policy can require of an activation or an assignment.
    Requirement, "requirement", { Mfa = "mfa", Justification = "justification", Ticket = "ticket" }
);
spelled_enum!(
    /// Which e-mails of a notification rule are sent: all, or only the critical ones.
    NotificationLevel, "notification level", { All = "all", Critical = "critical" }
);

/// A time span as written in the files (ISO 8601), converted to an exact length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDuration(pub TimeDelta);

/// When an assignment ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Expiry {
    /// `end:` a fixed time.
    End(Spanned<DateTime<FixedOffset>>),
    /// `duration:` counted from `start`, or from the moment of apply.
    Duration(Spanned<IsoDuration>),
    /// `permanent: true`.
    Permanent(Span),
    /// The value was invalid (already reported); time rules skip the assignment.
    Unknown,
}

/// Where the state is, as the root file's `state:` names it (resolved in
/// `config::state_file`): a local file, or a blob in Azure Storage (`backend: azurerm`).
/// `state::backend::open` gives its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A file below the workspace folder.
    Local(std::path::PathBuf),
    /// A blob in Azure Blob Storage.
    AzureBlob(AzureBlobLocation),
}

impl StateLocation {
    /// The file of a local state; `None` for a remote one.
    pub fn local_path(&self) -> Option<&std::path::Path> {
        match self {
            StateLocation::Local(path) => Some(path),
            StateLocation::AzureBlob(_) => None,
        }
    }
}

/// A state blob, as `state: { backend: azurerm, … }` names it. No secret is part of it:
/// the credentials come from the environment ([`StorageAuth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureBlobLocation {
    /// The storage account's name.
    pub account: String,
    pub container: String,
    /// The blob's name in the container (`prod/pimplan.state.json`).
    pub key: String,
    /// The Blob service's URL without a trailing `/`: `https://ACCOUNT.blob.core.windows.net`
    /// unless `endpoint:` says otherwise (Azurite: `http://127.0.0.1:PORT/devstoreaccount1`).
    pub endpoint: String,
    pub auth: StorageAuth,
    /// Whether each apply snapshots the blob before its first write (the remote `.backup`).
    pub snapshot: bool,
}

/// How requests to the Blob service are authorized (`auth:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageAuth {
    /// A Microsoft Entra token for `https://storage.azure.com`, from the Graph sign-in's
    /// variables (the default).
    Entra,
    /// `AZURE_STORAGE_KEY`.
    SharedKey,
    /// `AZURE_STORAGE_SAS_TOKEN`.
    Sas,
}

#[derive(Debug)]
pub struct Settings {
    pub root: FileId,
    pub version: Option<Spanned<u32>>,
    pub tenant_id: Option<Spanned<String>>,
    pub tenant_domain: Option<Spanned<String>>,
    /// `state:` as written (a path, the `azurerm://` shorthand or a mapping):
    /// `config::state_file::state_location` says where it is.
    pub state: Option<Spanned<super::raw::RawState>>,
    pub baseline: Option<Spanned<String>>,
    pub actor: Option<Spanned<String>>,
    pub target: Option<Spanned<Target>>,
    pub include: Vec<Spanned<String>>,
    /// `rules:` entries as written: rule code or name (not checked against the rules yet:
    /// `rules::selection` does), and the severity it is set to (`None` when that is not a
    /// severity; lowering reports it).
    pub rules: Vec<(Spanned<String>, Option<Spanned<SeverityLevel>>)>,
    pub max_removal_ratio: Option<Spanned<f64>>,
    /// `paths:`, defaults applied through its accessors.
    pub paths: PathsSettings,
}

impl Settings {
    pub const DEFAULT_STATE: &'static str = "pimplan.state.json";
    pub const DEFAULT_MAX_REMOVAL_RATIO: f64 = 0.25;

    pub fn new(root: FileId) -> Self {
        Settings {
            root,
            version: None,
            tenant_id: None,
            tenant_domain: None,
            state: None,
            baseline: None,
            actor: None,
            target: None,
            include: Vec::new(),
            rules: Vec::new(),
            max_removal_ratio: None,
            paths: PathsSettings::default(),
        }
    }

    pub fn max_removal_ratio(&self) -> f64 {
        self.max_removal_ratio
            .as_ref()
            .map_or(Self::DEFAULT_MAX_REMOVAL_RATIO, |r| r.value)
    }

    /// Where `plan` and `apply` send changes: the state file alone unless `target: graph`
    /// (or `--target graph`): a tenant changes only where the workspace or the command says
    /// so, never because credentials happen to be in the environment.
    pub fn target(&self) -> Target {
        self.target.as_ref().map_or(Target::State, |t| t.value)
    }
}

/// An Azure role at a scope (`groups[].azure_roles`, `paths.tier0_azure`).
#[derive(Clone, Debug)]
pub struct AzureRole {
    pub role: Spanned<String>,
    /// Starts with `/` (checked); `/` is the root.
    pub scope: Spanned<String>,
    /// The whole entry.
    pub span: Span,
}

impl AzureRole {
    /// Whether a role assignment at `scope` is at this entry's scope or above it.
    pub fn covered_by_scope(&self, scope: &str) -> bool {
        scope_at_or_above(scope, &self.scope.value)
    }
}

/// Whether Azure scope `outer` is `inner` or one of its parents (the root `/` is above
/// everything): scopes nest by path segment and compare without regard to case.
pub fn scope_at_or_above(outer: &str, inner: &str) -> bool {
    let mut inner = inner.split('/').filter(|p| !p.is_empty());
    outer
        .split('/')
        .filter(|p| !p.is_empty())
        .all(|o| inner.next().is_some_and(|i| i.eq_ignore_ascii_case(o)))
}

/// Azure's privileged administrator roles: the built-in roles of the "Privileged" category
/// (Microsoft Learn, `role-based-access-control/built-in-roles/privileged`); tier 1 when not
/// tier 0, and the names a `paths.tier0_azure` entry is checked against for a misspelling.
pub const AZURE_PRIVILEGED: [&str; 5] = [
    "Owner",
    "Contributor",
    "Reservations Administrator",
    "Role Based Access Control Administrator",
    "User Access Administrator",
];

/// `paths:` (root file only): which roles count as tier 0, and how the contested
/// password-reset case is read. Lowering has checked the names; the accessors apply the
/// defaults.
#[derive(Debug, Default)]
pub struct PathsSettings {
    /// The section, when written.
    pub span: Option<Span>,
    /// `tier0:` as written (the core roles are added by [`Self::tier0`] whether written or not).
    pub tier0: Option<Spanned<Vec<Spanned<String>>>>,
    /// `tier0_azure:` as written.
    pub tier0_azure: Option<Spanned<Vec<AzureRole>>>,
    pub eligible_reset_protection: Option<Spanned<ResetProtection>>,
}

impl PathsSettings {
    /// Always tier 0: BloodHound's Tier Zero rules that cannot be disabled
    /// (SpecterOps/bloodhound-docs `privilege-zones/default-rules.mdx`).
    pub const CORE_TIER0: [&'static str; 4] = [
        "Global Administrator",
        "Privileged Role Administrator",
        "Privileged Authentication Administrator",
        "Partner Tier2 Support",
    ];
    /// The default `tier0`: the core roles and BloodHound's other default Tier Zero roles.
    pub const DEFAULT_TIER0: [&'static str; 8] = [
        "Global Administrator",
        "Privileged Role Administrator",
        "Privileged Authentication Administrator",
        "Partner Tier2 Support",
        "Application Administrator",
        "Intune Administrator",
        "Knowledge Administrator",
        "Security Administrator",
    ];
    /// The default `tier0_azure` (role, scope): EntraOps's `AzureHighPrivilegedRoles`.
    pub const DEFAULT_TIER0_AZURE: [(&'static str, &'static str); 3] = [
        ("Owner", "/"),
        ("User Access Administrator", "/"),
        ("Role Based Access Control Administrator", "/"),
    ];

    /// Whether an Entra role (display name) is tier 0.
    pub fn tier0(&self, role: &str) -> bool {
        Self::CORE_TIER0.contains(&role)
            || match &self.tier0 {
                Some(list) => list.value.iter().any(|r| r.value == role),
                None => Self::DEFAULT_TIER0.contains(&role),
            }
    }

    /// Every tier-0 Entra role: the core ones first, then the others in written (or default) order.
    pub fn tier0_roles(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Self::CORE_TIER0.to_vec();
        let rest: Vec<&str> = match &self.tier0 {
            Some(list) => list.value.iter().map(|r| r.value.as_str()).collect(),
            None => Self::DEFAULT_TIER0.to_vec(),
        };
        for r in rest {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// The tier of an Entra role: 0 if [`Self::tier0`], 1 if Microsoft labels it PRIVILEGED,
    /// else 2.
    pub fn tier(&self, role: &str) -> u8 {
        crate::entra_roles::tier(role, |r| self.tier0(r))
    }

    /// The tier-0 Azure roles as (role, scope), written or default.
    pub fn tier0_azure(&self) -> Vec<(&str, &str)> {
        match &self.tier0_azure {
            Some(list) => list
                .value
                .iter()
                .map(|a| (a.role.value.as_str(), a.scope.value.as_str()))
                .collect(),
            None => Self::DEFAULT_TIER0_AZURE.to_vec(),
        }
    }

    /// Whether an Azure role held at `scope` is tier 0: a `tier0_azure` entry of that role
    /// (case-insensitive) whose scope is `scope` or below it.
    pub fn is_tier0_azure(&self, role: &str, scope: &str) -> bool {
        self.tier0_azure()
            .into_iter()
            .any(|(r, s)| r.eq_ignore_ascii_case(role) && scope_at_or_above(scope, s))
    }

    pub fn eligible_reset_protection(&self) -> ResetProtection {
        self.eligible_reset_protection
            .as_ref()
            .map_or(ResetProtection::Unprotected, |p| p.value)
    }
}

#[derive(Debug)]
pub struct AdministrativeUnit {
    pub name: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub restricted_management: Option<Spanned<bool>>,
    /// Principals and groups in the unit (names, as written).
    pub members: Vec<Spanned<String>>,
}

impl AdministrativeUnit {
    pub fn is_restricted_management(&self) -> bool {
        self.restricted_management.as_ref().is_some_and(|r| r.value)
    }
}

#[derive(Debug)]
pub struct Principal {
    pub name: Spanned<String>,
    /// `None` when the spelling was invalid (already reported).
    pub kind: Option<Spanned<PrincipalType>>,
    pub upn: Option<Spanned<String>>,
    pub id: Option<Spanned<String>>,
    pub licenses: Vec<Spanned<String>>,
    pub emergency_access: Option<Spanned<bool>>,
    /// Owners of a service principal or its app (principal names); empty for other types
    /// (lowering reports `owners` on them).
    pub owners: Vec<Spanned<String>>,
}

impl Principal {
    pub fn kind(&self) -> Option<PrincipalType> {
        self.kind.as_ref().map(|k| k.value)
    }

    pub fn is_emergency_access(&self) -> bool {
        self.emergency_access.as_ref().is_some_and(|e| e.value)
    }

    pub fn has_license(&self, license: &str) -> bool {
        self.licenses.iter().any(|l| l.value == license)
    }

    /// Whether a license covers PIM: Microsoft Entra ID P2 or Microsoft Entra ID Governance,
    /// by pimplan's keyword or by a product that includes one (see `crate::licenses`).
    pub fn has_pim_license(&self) -> bool {
        self.licenses
            .iter()
            .any(|l| crate::licenses::covers_pim(&l.value))
    }

    pub fn is(&self, kind: PrincipalType) -> bool {
        self.kind() == Some(kind)
    }
}

#[derive(Debug)]
pub struct Admin {
    pub principal: Spanned<String>,
    pub role: Spanned<String>,
    pub scope: Option<Spanned<AdminScope>>,
    pub administrative_unit: Option<Spanned<String>>,
}

impl Admin {
    pub fn scope(&self) -> AdminScope {
        self.scope
            .as_ref()
            .map_or(AdminScope::Directory, |s| s.value)
    }
}

/// One policy value with where it came from: the group, its template, or Microsoft's
/// default for a newly onboarded group (`span: None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<T> Setting<T> {
    pub fn default_value(value: T) -> Self {
        Setting { value, span: None }
    }

    pub fn written(value: T, span: Span) -> Self {
        Setting {
            value,
            span: Some(span),
        }
    }

    pub fn is_default(&self) -> bool {
        self.span.is_none()
    }
}

/// A list of requirements (`require:`), each with its span.
pub type Requirements = Vec<Spanned<Requirement>>;

pub fn requires(list: &Requirements, what: Requirement) -> bool {
    list.iter().any(|r| r.value == what)
}

/// Who is e-mailed about one kind of event (one `Notification_*` rule), defaults applied.
#[derive(Clone, Debug)]
pub struct Notification {
    /// Whether the recipients PIM chooses itself are e-mailed.
    pub default_recipients: Setting<bool>,
    pub level: Setting<NotificationLevel>,
    /// Further e-mail addresses.
    pub additional_recipients: Setting<Vec<Spanned<String>>>,
}

/// The three notification rules of one event class: to admins, to the assignee (the
/// requestor, for an activation) and to approvers.
#[derive(Clone, Debug)]
pub struct Notifications {
    pub admin: Notification,
    pub assignee: Notification,
    pub approver: Notification,
}

impl Notifications {
    /// The recipients with their YAML key and the Graph `recipientType`.
    pub fn each(&self) -> [(&'static str, &'static str, &Notification); 3] {
        [
            ("admin", "Admin", &self.admin),
            ("assignee", "Requestor", &self.assignee),
            ("approver", "Approver", &self.approver),
        ]
    }

    /// Microsoft's default: default recipients on, every e-mail, no one else.
    pub fn microsoft_default() -> Self {
        let one = || Notification {
            default_recipients: Setting::default_value(true),
            level: Setting::default_value(NotificationLevel::All),
            additional_recipients: Setting::default_value(Vec::new()),
        };
        Notifications {
            admin: one(),
            assignee: one(),
            approver: one(),
        }
    }
}

/// Activation settings of one role of one group, defaults applied.
#[derive(Clone, Debug)]
pub struct ActivationPolicy {
    pub max_duration: Setting<IsoDuration>,
    pub require: Setting<Requirements>,
    pub authentication_context: Setting<Option<String>>,
    pub approval_required: Setting<bool>,
    pub approvers: Setting<Vec<Spanned<String>>>,
    pub notifications: Notifications,
}

/// Limits on eligible or active assignments of one role of one group, defaults applied.
#[derive(Clone, Debug)]
pub struct AssignmentPolicy {
    pub allow_permanent: Setting<bool>,
    /// Ignored when `allow_permanent` is true.
    pub max_duration: Setting<IsoDuration>,
    /// Asked of the admin who makes the assignment (eligible: `Enablement_Admin_Eligibility`,
    /// active: `Enablement_Admin_Assignment`).
    pub require: Setting<Requirements>,
    pub notifications: Notifications,
}

/// The effective PIM policy of one role (member or owner) of one group.
#[derive(Clone, Debug)]
pub struct RolePolicy {
    pub activation: ActivationPolicy,
    pub eligible: AssignmentPolicy,
    pub active: AssignmentPolicy,
}

impl RolePolicy {
    pub fn assignment(&self, kind: AssignmentType) -> &AssignmentPolicy {
        match kind {
            AssignmentType::Eligible => &self.eligible,
            AssignmentType::Active => &self.active,
        }
    }

    /// The values Microsoft gives a newly onboarded group (see the README, Configuration).
    pub fn microsoft_default() -> Self {
        let hours = |h| Setting::default_value(IsoDuration(TimeDelta::hours(h)));
        let days = |d| Setting::default_value(IsoDuration(TimeDelta::days(d)));
        let justification = || {
            Setting::default_value(vec![Spanned::new(
                Requirement::Justification,
                Span::default(),
            )])
        };
        RolePolicy {
            activation: ActivationPolicy {
                max_duration: hours(8),
                require: justification(),
                authentication_context: Setting::default_value(None),
                approval_required: Setting::default_value(false),
                approvers: Setting::default_value(Vec::new()),
                notifications: Notifications::microsoft_default(),
            },
            eligible: AssignmentPolicy {
                allow_permanent: Setting::default_value(false),
                max_duration: days(365),
                require: Setting::default_value(Vec::new()),
                notifications: Notifications::microsoft_default(),
            },
            active: AssignmentPolicy {
                allow_permanent: Setting::default_value(false),
                max_duration: days(180),
                require: justification(),
                notifications: Notifications::microsoft_default(),
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct GroupPolicy {
    pub template: Option<Spanned<String>>,
    pub member: RolePolicy,
    pub owner: RolePolicy,
}

impl GroupPolicy {
    pub fn role(&self, role: Role) -> &RolePolicy {
        match role {
            Role::Member => &self.member,
            Role::Owner => &self.owner,
        }
    }
}

#[derive(Debug)]
pub struct Group {
    pub name: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub role_assignable: Option<Spanned<bool>>,
    pub kind: Option<Spanned<GroupType>>,
    pub membership: Option<Spanned<Membership>>,
    pub source: Option<Spanned<GroupSource>>,
    pub owners: Vec<Spanned<String>>,
    /// Standing (non-PIM) members: principal names.
    pub members: Vec<Spanned<String>>,
    /// Entra roles the group holds or is eligible for; entries with an invalid `type` are left
    /// out (already reported).
    pub entra_roles: Vec<EntraRoleGrant>,
    pub azure_roles: Vec<AzureRole>,
    /// Whether the group entry writes a `policy:` block (PIM511's "PIM-managed").
    pub has_policy: bool,
    pub policy: GroupPolicy,
}

/// One `groups[].entra_roles` entry. The short form (a display name) is `kind: None`: active,
/// directory scope.
#[derive(Clone, Debug)]
pub struct EntraRoleGrant {
    /// The role display name (the whole string in the short form).
    pub role: Spanned<String>,
    pub kind: Option<Spanned<AssignmentType>>,
    /// Facts about the role's own PIM policy, meaningful for `eligible` (lowering rejects them
    /// on `active`).
    pub approval: Option<Spanned<bool>>,
    pub mfa: Option<Spanned<bool>>,
    /// The whole entry.
    pub span: Span,
}

impl EntraRoleGrant {
    pub fn kind(&self) -> AssignmentType {
        self.kind
            .as_ref()
            .map_or(AssignmentType::Active, |k| k.value)
    }

    /// Whether the group's members hold the role without activating it.
    pub fn is_active(&self) -> bool {
        self.kind() == AssignmentType::Active
    }

    /// Whether activating the (eligible) role needs approval (default false).
    pub fn approval(&self) -> bool {
        self.approval.as_ref().is_some_and(|a| a.value)
    }

    /// Whether activating the (eligible) role needs MFA (default false).
    pub fn mfa(&self) -> bool {
        self.mfa.as_ref().is_some_and(|m| m.value)
    }
}

impl Group {
    pub fn is_role_assignable(&self) -> bool {
        self.role_assignable.as_ref().is_some_and(|r| r.value)
    }

    pub fn kind(&self) -> GroupType {
        self.kind.as_ref().map_or(GroupType::Security, |k| k.value)
    }

    pub fn membership(&self) -> Membership {
        self.membership
            .as_ref()
            .map_or(Membership::Assigned, |m| m.value)
    }

    pub fn source(&self) -> GroupSource {
        self.source.as_ref().map_or(GroupSource::Cloud, |s| s.value)
    }

    /// The Entra roles the group's members hold without activation.
    pub fn active_entra_roles(&self) -> impl Iterator<Item = &EntraRoleGrant> {
        self.entra_roles.iter().filter(|r| r.is_active())
    }
}

/// A policy template, kept for reference checks; groups already carry the merged result.
#[derive(Debug)]
pub struct PolicyTemplate {
    pub name: Spanned<String>,
    /// Every approver the template names (member and owner), used or overridden or not.
    pub approvers: Vec<Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub system: Option<Spanned<String>>,
    pub number: Spanned<String>,
}

#[derive(Clone, Debug)]
pub struct Assignment {
    pub group: Spanned<String>,
    pub principal: Spanned<String>,
    pub role: Spanned<Role>,
    pub kind: Spanned<AssignmentType>,
    pub start: Option<Spanned<DateTime<FixedOffset>>>,
    pub expiry: Expiry,
    pub justification: Option<Spanned<String>>,
    pub ticket: Option<Ticket>,
}

impl Assignment {
    /// The identity of an assignment in the workspace: (group, principal, role, type).
    pub fn key(&self) -> (&str, &str, Role, AssignmentType) {
        (
            &self.group.value,
            &self.principal.value,
            self.role.value,
            self.kind.value,
        )
    }

    /// The start, taking "now" when none is written (the moment of apply).
    pub fn effective_start(&self, now: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        self.start.as_ref().map_or(now, |s| s.value)
    }

    /// The end, if the assignment is time-bound and its values are valid.
    pub fn effective_end(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        match &self.expiry {
            Expiry::End(end) => Some(end.value),
            Expiry::Duration(d) => self.effective_start(now).checked_add_signed(d.value.0),
            Expiry::Permanent(_) | Expiry::Unknown => None,
        }
    }

    /// The span of the value that sets the end (`end:`, `duration:` or `permanent:`).
    pub fn expiry_span(&self) -> Option<Span> {
        match &self.expiry {
            Expiry::End(end) => Some(end.span),
            Expiry::Duration(d) => Some(d.span),
            Expiry::Permanent(span) => Some(*span),
            Expiry::Unknown => None,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self.expiry, Expiry::Permanent(_))
    }
}

/// The whole workspace after lowering: every file's sections merged.
#[derive(Debug)]
pub struct Workspace {
    pub settings: Settings,
    /// What could not be read, and what it named: the rules use it not to report what
    /// depends on it as missing.
    pub left_out: LeftOut,
    pub administrative_units: Vec<AdministrativeUnit>,
    pub principals: Vec<Principal>,
    pub admins: Vec<Admin>,
    pub templates: Vec<PolicyTemplate>,
    pub groups: Vec<Group>,
    pub assignments: Vec<Assignment>,
}

/// What the workspace holds that could not be read: entries left out after a structure
/// error (PIM002/PIM003), entries that depend on them, and files not read at all.
#[derive(Debug, Default)]
pub struct LeftOut {
    /// A whole file, or the include list, could not be read: it may define anything.
    pub unknown: bool,
    pub principals: HashSet<String>,
    pub groups: HashSet<String>,
    pub administrative_units: HashSet<String>,
    pub templates: HashSet<String>,
    /// Principals of left-out admins and assignments: they may hold roles no rule sees.
    pub role_holders: HashSet<String>,
    /// Rules whose `rules:` entry could not be read: the severity they were given is unknown.
    pub rule_settings: Vec<String>,
    /// Top-level keys of the root file that were left out (`version`, `tenant`, …).
    pub settings: HashSet<String>,
    /// How many entries were left out, those that depend on others included.
    pub entries: usize,
}

impl LeftOut {
    /// Whether nothing was left out.
    pub fn is_empty(&self) -> bool {
        !self.unknown && self.entries == 0 && self.settings.is_empty()
    }

    /// Whether a principal of this name may be defined in what was left out.
    pub fn may_define_principal(&self, name: &str) -> bool {
        self.unknown || self.principals.contains(name)
    }

    pub fn may_define_group(&self, name: &str) -> bool {
        self.unknown || self.groups.contains(name)
    }

    pub fn may_define_administrative_unit(&self, name: &str) -> bool {
        self.unknown || self.administrative_units.contains(name)
    }

    pub fn may_define_template(&self, name: &str) -> bool {
        self.unknown || self.templates.contains(name)
    }

    /// Whether what was left out may give this principal a role (a standing admin role, or
    /// an assignment to a group that holds one).
    pub fn may_give_roles_to(&self, name: &str) -> bool {
        self.unknown || self.role_holders.contains(name) || self.principals.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Option<Spanned<Vec<Spanned<String>>>> {
        let items = list
            .iter()
            .map(|n| Spanned::new((*n).to_owned(), Span::default()))
            .collect();
        Some(Spanned::new(items, Span::default()))
    }

    #[test]
    fn tier0_defaults_and_the_core_roles() {
        let default = PathsSettings::default();
        assert!(default.tier0("Global Administrator"));
        assert!(default.tier0("Intune Administrator"));
        assert!(!default.tier0("Exchange Administrator"));
        assert_eq!(default.tier("Intune Administrator"), 0);
        assert_eq!(default.tier("Helpdesk Administrator"), 1);
        assert_eq!(default.tier("Exchange Administrator"), 2);
        assert_eq!(default.tier0_roles().len(), 8);
        assert_eq!(
            default.eligible_reset_protection(),
            ResetProtection::Unprotected
        );

        // A written list replaces the default, and the core roles stay tier 0 all the same.
        let written = PathsSettings {
            tier0: names(&["Exchange Administrator"]),
            ..PathsSettings::default()
        };
        assert!(written.tier0("Exchange Administrator"));
        assert!(written.tier0("Partner Tier2 Support"));
        assert!(!written.tier0("Intune Administrator"));
        assert_eq!(written.tier("Intune Administrator"), 1);
        assert_eq!(
            written.tier0_roles(),
            [
                "Global Administrator",
                "Privileged Role Administrator",
                "Privileged Authentication Administrator",
                "Partner Tier2 Support",
                "Exchange Administrator"
            ]
        );
    }

    #[test]
    fn azure_scopes_count_at_or_above() {
        let sub = "/subscriptions/0000";
        assert!(scope_at_or_above("/", sub));
        assert!(scope_at_or_above(sub, sub));
        assert!(scope_at_or_above("/SUBSCRIPTIONS/0000/", sub));
        assert!(!scope_at_or_above(
            "/subscriptions/0000/resourceGroups/rg",
            sub
        ));
        assert!(!scope_at_or_above("/subscriptions/1111", sub));

        let default = PathsSettings::default();
        assert!(default.is_tier0_azure("Owner", "/"));
        assert!(default.is_tier0_azure("owner", "/"));
        assert!(!default.is_tier0_azure("Owner", sub));
        assert!(!default.is_tier0_azure("Reader", "/"));
        let written = PathsSettings {
            tier0_azure: Some(Spanned::new(
                vec![AzureRole {
                    role: Spanned::new("Owner".to_owned(), Span::default()),
                    scope: Spanned::new(sub.to_owned(), Span::default()),
                    span: Span::default(),
                }],
                Span::default(),
            )),
            ..PathsSettings::default()
        };
        assert!(written.is_tier0_azure("Owner", sub));
        assert!(written.is_tier0_azure("Owner", "/"));
        assert!(!written.is_tier0_azure("Owner", "/subscriptions/0000/resourceGroups/rg"));
        assert!(!written.is_tier0_azure("User Access Administrator", "/"));
    }
}
