//! Lowering: from the raw serde shape of every file to one typed [`Workspace`].
//!
//! Unlike serde, which stops at the first problem, this pass checks every value and
//! collects every PIM002/PIM004/PIM005 finding of every file. An entry whose identity is
//! unusable (an assignment with an invalid role) is left out of the model after its
//! findings are reported, so later rules do not pile follow-on findings on top.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use super::model::{
    Admin, AdminScope, AdministrativeUnit, Assignment, AssignmentType, AzureRole, EntraRoleGrant,
    Expiry, Group, GroupPolicy, GroupSource, GroupType, IsoDuration, LeftOut, Membership,
    NotificationLevel, Notifications, PathsSettings, PolicyTemplate, Principal, PrincipalType,
    Requirement, Requirements, ResetProtection, Role, RolePolicy, Setting, Settings, SeverityLevel,
    Spelling, Target, Ticket, Workspace,
};
use super::raw::{
    RawActivation, RawAssignment, RawAssignmentPolicy, RawAzureRole, RawEntraRole, RawFile,
    RawGroup, RawNotifications, RawPathsSettings, RawPolicyTemplate, RawRolePolicy,
};
use super::values::{parse_duration, parse_timestamp};
use crate::finding::{Finding, did_you_mean, spelling_help};
use crate::rules::{pim002_invalid_config, pim004_bad_duration, pim005_bad_timestamp};
use crate::source::recover::{Entry, Skipped};
use crate::source::yaml::Spanned;
use crate::source::{FileId, Span};

/// A parsed file, ready to lower.
pub struct ParsedFile {
    pub id: FileId,
    pub raw: RawFile,
    /// What the YAML layer left out of it after structure errors (already reported).
    pub skipped: Vec<Skipped>,
}

struct Lowerer<'f> {
    findings: &'f mut Vec<Finding>,
}

impl Lowerer<'_> {
    fn invalid(&mut self, span: Span, message: String, help: Option<String>) {
        let mut f = Finding::new(&pim002_invalid_config::RULE, span, message);
        if let Some(help) = help {
            f = f.with_help(help);
        }
        self.findings.push(f);
    }

    fn spelled<T: Spelling + PartialEq>(&mut self, s: &Spanned<String>) -> Option<Spanned<T>> {
        if let Some(v) = T::parse(&s.value) {
            return Some(Spanned::new(v, s.span));
        }
        let help = spelling_help(&s.value, &T::spellings(), "expected one of");
        self.findings.push(
            Finding::new(
                &pim002_invalid_config::RULE,
                s.span,
                format!("`{}` is not a valid {}", s.value, T::WHAT),
            )
            .label(format!("not a {}", T::WHAT))
            .with_help(help),
        );
        None
    }

    /// An object id as Entra writes it (`0c7b0e9e-4f7a-4e7c-9d44-3f3c5a0b2a10`): anything
    /// else would be refused by Graph at apply, and would escape PIM104's comparison (braces,
    /// no hyphens). An id that is not one is dropped after the finding.
    fn object_id(&mut self, id: Option<Spanned<String>>) -> Option<Spanned<String>> {
        let id = id?;
        let v = id.value.as_bytes();
        let ok = v.len() == 36
            && v.iter().enumerate().all(|(i, b)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    *b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            });
        if ok {
            return Some(id);
        }
        self.invalid(
            id.span,
            format!("`{}` is not an object id", id.value),
            Some("write the id as Entra shows it: 8-4-4-4-12 hexadecimal digits, e.g. `0c7b0e9e-4f7a-4e7c-9d44-3f3c5a0b2a10`".to_owned()),
        );
        None
    }

    /// A built-in Entra role display name (`admins[].role`, `groups[].entra_roles`).
    fn entra_role(&mut self, s: &Spanned<String>) {
        if crate::entra_roles::find(&s.value).is_some() {
            return;
        }
        let help = match did_you_mean(&s.value, crate::entra_roles::names()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "use the role's display name as the Entra admin center shows it; `# pimplan: ignore PIM002 custom role` for a custom role".to_owned(),
        };
        self.findings.push(
            Finding::new(
                &pim002_invalid_config::RULE,
                s.span,
                format!("`{}` is not a Microsoft Entra built-in role", s.value),
            )
            .label("unknown role")
            .with_help(help)
            .unlocked(),
        );
    }

    fn duration(&mut self, s: &Spanned<String>) -> Option<Spanned<IsoDuration>> {
        match parse_duration(&s.value) {
            Ok(d) => Some(Spanned::new(d, s.span)),
            Err(e) => {
                let help = e.help();
                self.findings.push(
                    Finding::new(&pim004_bad_duration::RULE, s.span, e.to_string())
                        .label("this duration")
                        .with_help(help),
                );
                None
            }
        }
    }

    fn timestamp(&mut self, s: &Spanned<String>) -> Option<Spanned<DateTime<FixedOffset>>> {
        match parse_timestamp(&s.value) {
            Ok(t) => Some(Spanned::new(t, s.span)),
            Err(e) => {
                let help = e.help();
                self.findings.push(
                    Finding::new(&pim005_bad_timestamp::RULE, s.span, e.to_string())
                        .label("this timestamp")
                        .with_help(help),
                );
                None
            }
        }
    }

    fn requirements(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        allowed: &[Requirement],
        place: &str,
    ) -> Spanned<Requirements> {
        let mut out = Vec::new();
        for item in &list.value {
            let Some(r) = self.spelled::<Requirement>(item) else {
                continue;
            };
            if allowed.contains(&r.value) {
                out.push(r);
            } else {
                let names: Vec<_> = allowed.iter().map(|a| format!("`{a}`")).collect();
                self.invalid(
                    item.span,
                    format!("`{}` cannot be required {place}", r.value),
                    Some(format!("{place} can require {}", names.join(" and "))),
                );
            }
        }
        Spanned::new(out, list.span)
    }
}

/// One layer of policy values (a template's or a group's), lowered once.
#[derive(Clone, Default)]
struct RolePatch {
    act_max: Option<Spanned<IsoDuration>>,
    act_require: Option<Spanned<Requirements>>,
    auth_context: Option<Spanned<String>>,
    approval_required: Option<Spanned<bool>>,
    approvers: Option<Spanned<Vec<Spanned<String>>>>,
    act_notifications: NotificationsPatch,
    eligible: AssignmentPatch,
    active: AssignmentPatch,
}

#[derive(Clone, Default)]
struct AssignmentPatch {
    allow_permanent: Option<Spanned<bool>>,
    max_duration: Option<Spanned<IsoDuration>>,
    require: Option<Spanned<Requirements>>,
    notifications: NotificationsPatch,
}

#[derive(Clone, Default)]
struct NotificationPatch {
    default_recipients: Option<Spanned<bool>>,
    level: Option<Spanned<NotificationLevel>>,
    additional_recipients: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Clone, Default)]
struct NotificationsPatch {
    admin: NotificationPatch,
    assignee: NotificationPatch,
    approver: NotificationPatch,
}

impl NotificationsPatch {
    fn apply(&self, n: &mut Notifications) {
        for (setting, patch) in [
            (&mut n.admin, &self.admin),
            (&mut n.assignee, &self.assignee),
            (&mut n.approver, &self.approver),
        ] {
            set(&mut setting.default_recipients, &patch.default_recipients);
            set(&mut setting.level, &patch.level);
            set(
                &mut setting.additional_recipients,
                &patch.additional_recipients,
            );
        }
    }
}

/// Whether `text` reads as one e-mail address (`name@example.com`): not a list, not a name.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
    !local.is_empty()
        && labels_ok
        && !domain.contains('@')
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !",;:<>()[]\\\"".contains(c))
}

#[derive(Clone, Default)]
struct PolicyPatch {
    member: RolePatch,
    owner: RolePatch,
}

fn set<T: Clone>(setting: &mut Setting<T>, layer: &Option<Spanned<T>>) {
    if let Some(v) = layer {
        *setting = Setting::written(v.value.clone(), v.span);
    }
}

impl RolePatch {
    fn apply(&self, p: &mut RolePolicy) {
        set(&mut p.activation.max_duration, &self.act_max);
        set(&mut p.activation.require, &self.act_require);
        if let Some(c) = &self.auth_context {
            p.activation.authentication_context = Setting::written(Some(c.value.clone()), c.span);
        }
        set(&mut p.activation.approval_required, &self.approval_required);
        set(&mut p.activation.approvers, &self.approvers);
        self.act_notifications
            .apply(&mut p.activation.notifications);
        for (policy, patch) in [
            (&mut p.eligible, &self.eligible),
            (&mut p.active, &self.active),
        ] {
            set(&mut policy.allow_permanent, &patch.allow_permanent);
            set(&mut policy.max_duration, &patch.max_duration);
            set(&mut policy.require, &patch.require);
            patch.notifications.apply(&mut policy.notifications);
        }
    }
}

impl Lowerer<'_> {
    fn role_patch(&mut self, raw: &RawRolePolicy) -> RolePatch {
        let mut patch = RolePatch::default();
        if let Some(a) = &raw.activation {
            self.activation_patch(a, &mut patch);
        }
        if let Some(e) = &raw.eligible_assignment {
            patch.eligible = self.assignment_patch(e, AssignmentType::Eligible);
        }
        if let Some(a) = &raw.active_assignment {
            patch.active = self.assignment_patch(a, AssignmentType::Active);
        }
        patch
    }

    fn activation_patch(&mut self, a: &RawActivation, patch: &mut RolePatch) {
        patch.act_max = a.max_duration.as_ref().and_then(|d| self.duration(d));
        patch.act_require = a.require.as_ref().map(|r| {
            self.requirements(
                r,
                &[
                    Requirement::Mfa,
                    Requirement::Justification,
                    Requirement::Ticket,
                ],
                "on activation",
            )
        });
        patch.auth_context = a.authentication_context.clone();
        if let Some(approval) = &a.approval {
            patch.approval_required = approval.required.clone();
            patch.approvers = approval.approvers.clone();
        }
        if let Some(n) = &a.notifications {
            patch.act_notifications = self.notifications_patch(n);
        }
    }

    fn notifications_patch(&mut self, raw: &RawNotifications) -> NotificationsPatch {
        let mut one = |raw: &Option<super::raw::RawNotification>| {
            let Some(raw) = raw else {
                return NotificationPatch::default();
            };
            let additional_recipients = raw.additional_recipients.as_ref().map(|list| {
                let mut ok = Vec::new();
                for address in &list.value {
                    if is_email(&address.value) {
                        ok.push(address.clone());
                    } else {
                        self.findings.push(
                            Finding::new(
                                &pim002_invalid_config::RULE,
                                address.span,
                                format!("`{}` is not an e-mail address", address.value),
                            )
                            .label("not an e-mail address")
                            .with_help(
                                "write one address per list item, e.g. `pim-alerts@contoso.com`"
                                    .to_owned(),
                            ),
                        );
                    }
                }
                Spanned::new(ok, list.span)
            });
            NotificationPatch {
                default_recipients: raw.default_recipients.clone(),
                level: raw.level.as_ref().and_then(|l| self.spelled(l)),
                additional_recipients,
            }
        };
        NotificationsPatch {
            admin: one(&raw.admin),
            assignee: one(&raw.assignee),
            approver: one(&raw.approver),
        }
    }

    fn assignment_patch(
        &mut self,
        raw: &RawAssignmentPolicy,
        kind: AssignmentType,
    ) -> AssignmentPatch {
        let max_duration = raw.max_duration.as_ref().and_then(|d| self.duration(d));
        if let (Some(allow), Some(max)) = (&raw.allow_permanent, &raw.max_duration)
            && allow.value
        {
            self.invalid(
                max.span,
                "`max_duration` applies only when `allow_permanent` is false".to_owned(),
                Some("remove `max_duration`, or set `allow_permanent: false`".to_owned()),
            );
        }
        // What the admin making the assignment must give (`Enablement_Admin_Eligibility`,
        // `Enablement_Admin_Assignment`); what an activation asks is `activation.require`.
        let require = raw.require.as_ref().map(|r| {
            self.requirements(
                r,
                &[Requirement::Mfa, Requirement::Justification],
                match kind {
                    AssignmentType::Active => "on active assignment",
                    AssignmentType::Eligible => "on eligible assignment",
                },
            )
        });
        let notifications = raw
            .notifications
            .as_ref()
            .map(|n| self.notifications_patch(n))
            .unwrap_or_default();
        AssignmentPatch {
            allow_permanent: raw.allow_permanent.clone(),
            max_duration,
            require,
            notifications,
        }
    }

    fn template_patch(&mut self, raw: &RawPolicyTemplate) -> PolicyPatch {
        PolicyPatch {
            member: raw
                .member
                .as_ref()
                .map(|m| self.role_patch(m))
                .unwrap_or_default(),
            owner: raw
                .owner
                .as_ref()
                .map(|o| self.role_patch(o))
                .unwrap_or_default(),
        }
    }
}

/// Keys that only the root file may hold, with their spans in `raw`.
fn root_only_keys(raw: &RawFile) -> Vec<(&'static str, Span)> {
    let mut keys = Vec::new();
    let mut add = |name, span: Option<Span>| {
        if let Some(span) = span {
            keys.push((name, span));
        }
    };
    add("version", raw.version.as_ref().map(|v| v.span));
    add("tenant", raw.tenant.as_ref().map(|v| v.span));
    add("state", raw.state.as_ref().map(|v| v.span));
    add("baseline", raw.baseline.as_ref().map(|v| v.span));
    add("actor", raw.actor.as_ref().map(|v| v.span));
    add("target", raw.target.as_ref().map(|v| v.span));
    add("include", raw.include.as_ref().map(|v| v.span));
    add("rules", raw.rules.as_ref().map(|v| v.span));
    add("plan", raw.plan.as_ref().map(|v| v.span));
    add("paths", raw.paths.as_ref().map(|v| v.span));
    keys
}

fn lower_settings(
    lw: &mut Lowerer<'_>,
    root: FileId,
    raw: &mut RawFile,
    left_out: &LeftOut,
) -> Settings {
    let mut settings = Settings::new(root);
    match &raw.version {
        // A `version` that could not be read is reported as that, not as missing.
        None if left_out.settings.contains("version") => {}
        None => lw.invalid(
            Span::new(root, 0, 0),
            "missing required key `version`".to_owned(),
            Some("add `version: 1` at the top of the root file".to_owned()),
        ),
        Some(v) if v.value != 1 => lw.invalid(
            v.span,
            format!("unsupported format version `{}`", v.value),
            Some("only `version: 1` exists; this pimplan cannot read other versions".to_owned()),
        ),
        Some(_) => {}
    }
    settings.version = raw.version.take();
    if let Some(tenant) = raw.tenant.take() {
        settings.tenant_id = lw.object_id(tenant.value.id);
        settings.tenant_domain = tenant.value.domain;
    }
    settings.state = raw.state.take();
    settings.baseline = raw.baseline.take();
    settings.actor = raw.actor.take();
    settings.target = raw.target.take().and_then(|t| lw.spelled::<Target>(&t));
    settings.include = raw.include.take().map(|i| i.value).unwrap_or_default();
    if let Some(rules) = raw.rules.take() {
        // The selectors are checked against the registry later (`rules::selection`): the
        // configuration does not know the rules.
        for (selector, severity) in rules.value.0 {
            let level = lw.spelled::<SeverityLevel>(&severity);
            settings.rules.push((selector, level));
        }
    }
    if let Some(plan) = raw.plan.take()
        && let Some(ratio) = plan.value.max_removal_ratio
    {
        if ratio.value.is_finite() && (0.0..=1.0).contains(&ratio.value) {
            settings.max_removal_ratio = Some(ratio);
        } else {
            lw.invalid(
                    ratio.span,
                    format!("`max_removal_ratio` must be between 0 and 1, not `{}`", ratio.value),
                    Some("e.g. `0.25` refuses a plan that removes more than a quarter of the assignments".to_owned()),
                );
        }
    }
    settings.paths = lower_paths(lw, raw.paths.take());
    settings
}

/// `paths:`: tier-0 role names checked against the built-in table (an unknown name stays, as
/// a custom role may be meant once its PIM002 is ignored), the core tier-0 roles required.
fn lower_paths(lw: &mut Lowerer<'_>, raw: Option<Spanned<RawPathsSettings>>) -> PathsSettings {
    let Some(raw) = raw else {
        return PathsSettings::default();
    };
    let mut paths = PathsSettings {
        span: Some(raw.span),
        ..PathsSettings::default()
    };
    let raw = raw.value;
    if let Some(list) = raw.tier0 {
        for role in &list.value {
            lw.entra_role(role);
        }
        let missing: Vec<&str> = PathsSettings::CORE_TIER0
            .into_iter()
            .filter(|core| !list.value.iter().any(|r| r.value == *core))
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            lw.findings.push(
                Finding::new(
                    &pim002_invalid_config::RULE,
                    list.span,
                    "Global Administrator, Privileged Role Administrator, Privileged Authentication Administrator and Partner Tier2 Support are always tier 0".to_owned(),
                )
                .label("leaves out a role that is always tier 0")
                .with_help(format!(
                    "add {} to `tier0`; pimplan counts them as tier 0 either way",
                    names.join(", ")
                )),
            );
        }
        paths.tier0 = Some(list);
    }
    if let Some(list) = raw.tier0_azure {
        let roles = list
            .value
            .into_iter()
            .filter_map(|r| {
                let role = lw.azure_role(r)?;
                lw.azure_role_spelling(&role.role);
                Some(role)
            })
            .collect();
        paths.tier0_azure = Some(Spanned::new(roles, list.span));
    }
    paths.eligible_reset_protection = raw
        .eligible_reset_protection
        .as_ref()
        .and_then(|p| lw.spelled::<ResetProtection>(p));
    paths
}

impl Lowerer<'_> {
    /// A `paths.tier0_azure` role name: Azure has too many built-in roles (and custom ones)
    /// for a table, so only a near miss of a privileged role (`Ownr`) is reported (PIM002,
    /// did you mean). The entry stays, as an unknown Entra role does (a custom role may be
    /// meant); it counts only where a group holds a role of that name.
    fn azure_role_spelling(&mut self, role: &Spanned<String>) {
        let known = crate::config::model::AZURE_PRIVILEGED;
        if known.iter().any(|k| k.eq_ignore_ascii_case(&role.value)) {
            return;
        }
        let Some(close) = did_you_mean(&role.value, known) else {
            return;
        };
        self.findings.push(
            Finding::new(
                &pim002_invalid_config::RULE,
                role.span,
                format!("`{}` is not an Azure built-in role", role.value),
            )
            .label("unknown role")
            .with_help(format!(
                "did you mean `{close}`? (`# pimplan: ignore PIM002 custom role` for a custom role of that name)"
            ))
            .unlocked(),
        );
    }

    /// An Azure role entry: the scope must be an Azure scope path (`/`, `/subscriptions/…`).
    fn azure_role(&mut self, raw: Spanned<RawAzureRole>) -> Option<AzureRole> {
        let span = raw.span;
        let RawAzureRole { role, scope } = raw.value;
        if !scope.value.starts_with('/') {
            self.invalid(
                scope.span,
                format!("`{}` is not an Azure scope", scope.value),
                Some("write the scope as Azure shows it, starting with `/`: `/`, `/subscriptions/ID`, `/subscriptions/ID/resourceGroups/NAME`".to_owned()),
            );
            return None;
        }
        Some(AzureRole { role, scope, span })
    }

    /// A `groups[].entra_roles` entry in either form. One with an invalid `type` is left out
    /// (reported); `approval`/`mfa` on an active role are reported and dropped: they describe
    /// activating an eligible role.
    fn entra_role_grant(&mut self, raw: Spanned<RawEntraRole>) -> Option<EntraRoleGrant> {
        let span = raw.span;
        let grant = match raw.value {
            RawEntraRole::Name(name) => EntraRoleGrant {
                role: Spanned::new(name, span),
                kind: None,
                approval: None,
                mfa: None,
                span,
            },
            RawEntraRole::Grant(g) => {
                let kind = match &g.kind {
                    Some(k) => Some(self.spelled::<AssignmentType>(k)?),
                    None => None,
                };
                let mut grant = EntraRoleGrant {
                    role: g.role,
                    kind,
                    approval: g.approval,
                    mfa: g.mfa,
                    span,
                };
                if grant.is_active() {
                    for (key, fact) in [
                        ("approval", grant.approval.take()),
                        ("mfa", grant.mfa.take()),
                    ] {
                        if let Some(fact) = fact {
                            self.invalid(
                                fact.span,
                                format!("`{key}` describes activating an eligible role, and `{}` is active", grant.role.value),
                                Some(format!("remove `{key}`, or set `type: eligible`")),
                            );
                        }
                    }
                }
                grant
            }
        };
        self.entra_role(&grant.role);
        Some(grant)
    }

    /// `principals[].owners`: service principals only (owners of the SP or of its app).
    fn principal_owners(
        &mut self,
        name: &Spanned<String>,
        kind: Option<&Spanned<PrincipalType>>,
        owners: Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Vec<Spanned<String>> {
        let Some(owners) = owners else {
            return Vec::new();
        };
        match kind {
            Some(k) if k.value != PrincipalType::ServicePrincipal => {
                self.findings.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        owners.span,
                        format!(
                            "`owners` is only for service principals, and `{}` is a {}",
                            name.value, k.value
                        ),
                    )
                    .label("owners of a service principal or its app")
                    .with_secondary(k.span, "not a service principal")
                    .with_help("remove `owners`, or set `type: service_principal`; a group's standing owners go in `groups[].owners`"),
                );
                Vec::new()
            }
            _ => owners.value,
        }
    }
}

fn lower_assignment(lw: &mut Lowerer<'_>, entry: Spanned<RawAssignment>) -> Option<Assignment> {
    let at = entry.span;
    let raw = entry.value;
    let role = lw.spelled::<Role>(&raw.role);
    let kind = lw.spelled::<AssignmentType>(&raw.kind);
    let start = raw.start.as_ref().and_then(|s| lw.timestamp(s));
    let start_invalid = raw.start.is_some() && start.is_none();
    let permanent = raw.permanent.as_ref().filter(|p| p.value);
    let given: Vec<(&str, Span)> = [
        raw.end.as_ref().map(|e| ("end", e.span)),
        raw.duration.as_ref().map(|d| ("duration", d.span)),
        permanent.map(|p| ("permanent: true", p.span)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut expiry = Expiry::Unknown;
    match given.as_slice() {
        [] => lw.invalid(
            at,
            "the assignment has no `end`, `duration` or `permanent: true`".to_owned(),
            Some(
                "give exactly one of them: an access grant never gets an expiry by accident"
                    .to_owned(),
            ),
        ),
        [_] => {
            if let Some(end) = &raw.end {
                if let Some(t) = lw.timestamp(end) {
                    expiry = Expiry::End(t);
                }
            } else if let Some(d) = &raw.duration {
                if let Some(d) = lw.duration(d) {
                    expiry = Expiry::Duration(d);
                }
            } else if let Some(p) = permanent {
                expiry = Expiry::Permanent(p.span);
            }
        }
        [(first, first_span), rest @ ..] => {
            for (name, span) in rest {
                lw.findings.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        *span,
                        format!("`{first}` and `{name}` are both given"),
                    )
                    .label("second way to end the assignment")
                    .with_secondary(*first_span, "first one")
                    .with_help("give exactly one of `end`, `duration` and `permanent: true`"),
                );
            }
        }
    }
    if start_invalid {
        expiry = Expiry::Unknown;
    }
    let ticket = raw.ticket.map(|t| Ticket {
        system: t.system,
        number: t.number,
    });
    Some(Assignment {
        group: raw.group,
        principal: raw.principal,
        role: role?,
        kind: kind?,
        start,
        expiry,
        justification: raw.justification,
        ticket,
    })
}

fn lower_group(
    lw: &mut Lowerer<'_>,
    mut raw: RawGroup,
    templates: &HashMap<String, PolicyPatch>,
) -> Group {
    let entra_roles = raw
        .entra_roles
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| lw.entra_role_grant(r))
        .collect();
    let azure_roles = raw
        .azure_roles
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| lw.azure_role(r))
        .collect();
    let mut member = RolePolicy::microsoft_default();
    let mut owner = RolePolicy::microsoft_default();
    let mut template = None;
    // The group's own layers, member then owner.
    let mut own = [RolePatch::default(), RolePatch::default()];
    if let Some(policy) = &raw.policy {
        template = policy.template.clone();
        if let Some(t) = policy
            .template
            .as_ref()
            .and_then(|t| templates.get(&t.value))
        {
            t.member.apply(&mut member);
            t.owner.apply(&mut owner);
        }
        if let Some(m) = &policy.member {
            own[0] = lw.role_patch(m);
            own[0].apply(&mut member);
        }
        if let Some(o) = &policy.owner {
            own[1] = lw.role_patch(o);
            own[1].apply(&mut owner);
        }
    }
    // A cap the group writes itself, under a permission to be permanent from its template,
    // would be dropped without a word. The other way round is the break-glass pattern: the
    // group overrides its template's cap with `allow_permanent: true`, and the inherited
    // `max_duration` is simply not used (nor sent, nor compared). Both in one block are
    // reported where that block is read.
    for (p, patch) in [
        (&member.eligible, &own[0].eligible),
        (&member.active, &own[0].active),
        (&owner.eligible, &own[1].eligible),
        (&owner.active, &own[1].active),
    ] {
        if let (true, None, Some(_), Some(allow), Some(max)) = (
            p.allow_permanent.value,
            &patch.allow_permanent,
            &patch.max_duration,
            p.allow_permanent.span,
            p.max_duration.span,
        ) {
            lw.findings.push(
                Finding::new(
                    &pim002_invalid_config::RULE,
                    max,
                    "`max_duration` applies only when `allow_permanent` is false".to_owned(),
                )
                .label("has no effect")
                .with_secondary(allow, "permanent assignments allowed here")
                .with_help("remove `max_duration`, or set `allow_permanent: false`"),
            );
        }
    }
    Group {
        kind: raw.kind.as_ref().and_then(|k| lw.spelled::<GroupType>(k)),
        membership: raw
            .membership
            .as_ref()
            .and_then(|m| lw.spelled::<Membership>(m)),
        source: raw
            .source
            .as_ref()
            .and_then(|s| lw.spelled::<GroupSource>(s)),
        name: raw.name,
        id: lw.object_id(raw.id),
        role_assignable: raw.role_assignable,
        owners: raw.owners.unwrap_or_default(),
        members: raw.members.unwrap_or_default(),
        entra_roles,
        azure_roles,
        has_policy: raw.policy.is_some(),
        policy: GroupPolicy {
            template,
            member,
            owner,
        },
    }
}

/// Lower every parsed file into one workspace. `files[0]` must be the root file.
/// Lower every file into one workspace. `unknown` says that a file the workspace means
/// could not be read at all (so it may define anything).
pub fn lower(
    root: FileId,
    files: Vec<ParsedFile>,
    unknown: bool,
    findings: &mut Vec<Finding>,
) -> Workspace {
    let mut lw = Lowerer { findings };
    let mut files = files;
    let mut settings = Settings::new(root);
    let mut left_out = left_out(&files, root, unknown);
    for file in &mut files {
        if file.id == root {
            settings = lower_settings(&mut lw, root, &mut file.raw, &left_out);
        } else {
            for (key, span) in root_only_keys(&file.raw) {
                lw.invalid(
                    span,
                    format!("`{key}` is only allowed in the root file"),
                    Some(format!("move `{key}` to the root file, or remove it here")),
                );
            }
        }
    }
    let mut ws = Workspace {
        settings,
        left_out: LeftOut::default(),
        administrative_units: Vec::new(),
        principals: Vec::new(),
        admins: Vec::new(),
        templates: Vec::new(),
        groups: Vec::new(),
        assignments: Vec::new(),
    };
    // Templates first: a group may use a template from any file.
    let mut templates: HashMap<String, PolicyPatch> = HashMap::new();
    for file in &mut files {
        for (name, raw) in file
            .raw
            .policy_templates
            .take()
            .map(|t| t.0)
            .unwrap_or_default()
        {
            let patch = lw.template_patch(&raw);
            let approvers = [&patch.member, &patch.owner]
                .into_iter()
                .filter_map(|role| role.approvers.as_ref())
                .flat_map(|list| list.value.iter().cloned())
                .collect();
            templates.entry(name.value.clone()).or_insert(patch);
            ws.templates.push(PolicyTemplate { name, approvers });
        }
    }
    for file in files {
        let raw = file.raw;
        for au in raw
            .administrative_units
            .unwrap_or_default()
            .into_iter()
            .filter_map(Entry::read)
        {
            ws.administrative_units.push(AdministrativeUnit {
                name: au.name,
                id: lw.object_id(au.id),
                restricted_management: au.restricted_management,
                members: au.members.unwrap_or_default(),
            });
        }
        for p in raw
            .principals
            .unwrap_or_default()
            .into_iter()
            .filter_map(Entry::read)
        {
            let kind = lw.spelled::<PrincipalType>(&p.kind);
            if let (Some(upn), Some(k)) = (&p.upn, &kind)
                && k.value != PrincipalType::User
            {
                lw.invalid(
                    upn.span,
                    format!(
                        "`upn` is only for users, and `{}` is a {}",
                        p.name.value, k.value
                    ),
                    Some("remove `upn`, or set `type: user`".to_owned()),
                );
            }
            let owners = lw.principal_owners(&p.name, kind.as_ref(), p.owners);
            ws.principals.push(Principal {
                name: p.name,
                kind,
                upn: p.upn,
                id: lw.object_id(p.id),
                licenses: p.licenses.unwrap_or_default(),
                emergency_access: p.emergency_access,
                owners,
            });
        }
        for a in raw
            .admins
            .unwrap_or_default()
            .into_iter()
            .filter_map(Entry::read)
        {
            let scope = a.scope.as_ref().and_then(|s| lw.spelled::<AdminScope>(s));
            let is_au = scope
                .as_ref()
                .is_some_and(|s| s.value == AdminScope::AdministrativeUnit);
            match (&a.administrative_unit, is_au) {
                (Some(au), false) if scope.is_some() || a.scope.is_none() => lw.invalid(
                    au.span,
                    "`administrative_unit` is given but the scope is `directory`".to_owned(),
                    Some(
                        "add `scope: administrative_unit`, or remove `administrative_unit`"
                            .to_owned(),
                    ),
                ),
                (None, true) => {
                    if let Some(s) = &scope {
                        lw.invalid(
                            s.span,
                            "`scope: administrative_unit` needs `administrative_unit: NAME`"
                                .to_owned(),
                            Some("name the administrative unit the role is scoped to".to_owned()),
                        );
                    }
                }
                _ => {}
            }
            lw.entra_role(&a.role);
            ws.admins.push(Admin {
                principal: a.principal,
                role: a.role,
                scope,
                administrative_unit: a.administrative_unit,
            });
        }
        for g in raw
            .groups
            .unwrap_or_default()
            .into_iter()
            .filter_map(Entry::read)
        {
            let group = lower_group(&mut lw, g, &templates);
            ws.groups.push(group);
        }
        for a in raw
            .assignments
            .unwrap_or_default()
            .into_iter()
            .filter_map(Entry::read)
        {
            if let Some(a) = lower_assignment(&mut lw, a) {
                ws.assignments.push(a);
            }
        }
    }
    check_approver_kinds(&mut lw, &ws);
    check_restricted_au_members(&mut lw, &ws);
    leave_out_dependents(&mut ws, &mut left_out);
    ws.left_out = left_out;
    ws
}

/// What the skipped parts of `files` named.
fn left_out(files: &[ParsedFile], root: FileId, unknown: bool) -> LeftOut {
    let mut out = LeftOut {
        unknown,
        ..LeftOut::default()
    };
    for file in files {
        for skipped in &file.skipped {
            let section = skipped.section.as_str();
            out.entries += skipped.entries.len().max(1);
            if skipped.whole && file.id == root {
                out.settings.insert(skipped.section.clone());
            }
            if section == "include" && file.id == root {
                out.unknown = true;
            }
            for entry in &skipped.entries {
                // Every value of the key: a left-out `name: [a, b]` names both.
                let field = |key: &str| -> Vec<String> {
                    entry
                        .iter()
                        .filter(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .collect()
                };
                let name = field("name");
                let key = field("key");
                match section {
                    "principals" => out.principals.extend(name),
                    "groups" => out.groups.extend(name),
                    "administrative_units" => out.administrative_units.extend(name),
                    "policy_templates" => out.templates.extend(key.into_iter().chain(name)),
                    // `rules: [PIM610]`, `rules: PIM610`: a rule it names has an unknown
                    // severity all the same.
                    "rules" => out.rule_settings.extend(key.into_iter().chain(name)),
                    "admins" | "assignments" => out.role_holders.extend(field("principal")),
                    "version" | "tenant" | "state" | "baseline" | "actor" | "target"
                    | "include" | "plan" | "paths" => {}
                    // A key the format does not have (a misspelt section): what it names may
                    // be meant as any of them.
                    _ => {
                        for name in name.into_iter().chain(key) {
                            out.principals.insert(name.clone());
                            out.groups.insert(name.clone());
                            out.administrative_units.insert(name.clone());
                            out.templates.insert(name);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Leave out what depends on a left-out entry, so that no rule reports a false alarm on a
/// half-known picture: a group whose template was left out (its policy is unknown), then an
/// assignment whose group or principal was, an admin whose principal or administrative
/// unit was. When a whole file is unknown, a name defined nowhere may be defined there.
fn leave_out_dependents(ws: &mut Workspace, left_out: &mut LeftOut) {
    if left_out.is_empty() {
        return;
    }
    let templates: HashSet<String> = ws.templates.iter().map(|t| t.name.value.clone()).collect();
    let mut groups_gone = Vec::new();
    ws.groups.retain(|g| {
        let missing = g.policy.template.as_ref().is_some_and(|t| {
            !templates.contains(&t.value) && left_out.may_define_template(&t.value)
        });
        if missing {
            groups_gone.push(g.name.value.clone());
        }
        !missing
    });
    left_out.entries += groups_gone.len();
    left_out.groups.extend(groups_gone);
    let principals: HashSet<&str> = ws
        .principals
        .iter()
        .map(|p| p.name.value.as_str())
        .collect();
    let groups: HashSet<&str> = ws.groups.iter().map(|g| g.name.value.as_str()).collect();
    let aus: HashSet<&str> = ws
        .administrative_units
        .iter()
        .map(|a| a.name.value.as_str())
        .collect();
    let principal_missing = |n: &str| !principals.contains(n) && left_out.may_define_principal(n);
    let group_missing = |n: &str| !groups.contains(n) && left_out.may_define_group(n);
    // The principal of each assignment and admin left out here, one per entry.
    let mut holders = Vec::new();
    let mut assignments = std::mem::take(&mut ws.assignments);
    assignments.retain(|a| {
        let missing = principal_missing(&a.principal.value) || group_missing(&a.group.value);
        if missing {
            holders.push(a.principal.value.clone());
        }
        !missing
    });
    let mut admins = std::mem::take(&mut ws.admins);
    admins.retain(|a| {
        let missing = principal_missing(&a.principal.value)
            || a.administrative_unit.as_ref().is_some_and(|au| {
                !aus.contains(au.value.as_str())
                    && left_out.may_define_administrative_unit(&au.value)
            });
        if missing {
            holders.push(a.principal.value.clone());
        }
        !missing
    });
    ws.assignments = assignments;
    ws.admins = admins;
    left_out.entries += holders.len();
    left_out.role_holders.extend(holders);
}

/// Approvers are users or groups (README, Configuration; Graph's `singleUser` and `groupMembers`): a
/// service principal named as approver is an invalid value. Checked once every file is read,
/// since a principal may be defined in any file. A template's approver is reported where it
/// is written; the copies in the groups that use it are the same place and are dropped as
/// repeats. Unknown names are PIM101's.
fn check_approver_kinds(lw: &mut Lowerer<'_>, ws: &Workspace) {
    // The first definition wins, as everywhere; PIM102 reports the others. A misspelt type
    // is already reported and counts as none.
    let mut kinds: HashMap<&str, Option<&Spanned<PrincipalType>>> = HashMap::new();
    for p in &ws.principals {
        kinds
            .entry(p.name.value.as_str())
            .or_insert(p.kind.as_ref());
    }
    let written = ws.templates.iter().flat_map(|t| t.approvers.iter());
    let in_groups = ws.groups.iter().flat_map(|g| {
        [&g.policy.member, &g.policy.owner]
            .into_iter()
            .flat_map(|r| r.activation.approvers.value.iter())
    });
    let mut seen = HashSet::new();
    for approver in written.chain(in_groups) {
        let Some(Some(kind)) = kinds.get(approver.value.as_str()) else {
            continue;
        };
        if kind.value != PrincipalType::ServicePrincipal || !seen.insert(approver.span) {
            continue;
        }
        lw.findings.push(
            Finding::new(
                &pim002_invalid_config::RULE,
                approver.span,
                format!(
                    "`{}` is a service principal; approvers are users or groups",
                    approver.value
                ),
            )
            .label("a service principal cannot approve")
            .with_secondary(kind.span, "defined as a service principal")
            .with_help(
                "name a user or a group (`type: group` lets its members approve) as approver",
            ),
        );
    }
}

/// Microsoft 365 groups cannot be members of a restricted management administrative unit
/// (Microsoft Learn admin-units-restricted-management.md, "What objects can be members?":
/// "Groups (Microsoft 365)", restricted management "No"). Checked once every file is read, since a group may be defined in any
/// file. Unknown names are PIM101's; a PIM-managed security group there is PIM511's.
fn check_restricted_au_members(lw: &mut Lowerer<'_>, ws: &Workspace) {
    let mut kinds: HashMap<&str, &Group> = HashMap::new();
    for g in &ws.groups {
        kinds.entry(g.name.value.as_str()).or_insert(g);
    }
    for au in ws
        .administrative_units
        .iter()
        .filter(|a| a.is_restricted_management())
    {
        for member in &au.members {
            let Some(group) = kinds.get(member.value.as_str()) else {
                continue;
            };
            if group.kind() != GroupType::Microsoft365 {
                continue;
            }
            let mut f = Finding::new(
                &pim002_invalid_config::RULE,
                member.span,
                format!(
                    "`{}` is a Microsoft 365 group, and `{}` is a restricted management administrative unit",
                    member.value, au.name.value
                ),
            )
            .label("Microsoft 365 groups cannot be added here")
            .with_help("remove the group from `members`, or the unit's `restricted_management: true`; Microsoft 365 groups cannot be members of a restricted management administrative unit");
            if let Some(k) = &group.kind {
                f = f.with_secondary(k.span, "a Microsoft 365 group");
            }
            lw.findings.push(f);
        }
    }
}
