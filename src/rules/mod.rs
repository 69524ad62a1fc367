//! The rule catalog: one file per rule, one registry; what the checks read is in [`context`],
//! which rules run at what severity in [`selection`].
//!
//! A rule is a [`Rule`] declaration (code, name, severity, message, help, docs) plus, for
//! rules that look at the model, a `check` function. Rules of family PIM0xx are reported by
//! the loader and the suppression pass; their files hold the declaration and docs only.
//! Find any rule by its code: `src/rules/pimNNN_*.rs`.

use crate::finding::Finding;
pub use crate::rule_meta::{Docs, RuleMeta};

pub use context::{Context, Index, PlanContext};

pub mod context;
pub mod pim001_yaml_syntax;
pub mod pim002_invalid_config;
pub mod pim003_duplicate_key;
pub mod pim004_bad_duration;
pub mod pim005_bad_timestamp;
pub mod pim006_include_matched_nothing;
pub mod pim007_unused_ignore;
pub mod pim008_file_not_included;
pub mod pim101_unknown_reference;
pub mod pim102_duplicate_definition;
pub mod pim103_duplicate_assignment;
pub mod pim104_duplicate_object_id;
pub mod pim105_eligible_and_active;
pub mod pim106_missing_object_id;
pub mod pim201_assignment_too_short;
pub mod pim202_ends_before_start;
pub mod pim203_already_expired;
pub mod pim204_ends_too_soon;
pub mod pim205_permanent_not_allowed;
pub mod pim206_exceeds_max_duration;
pub mod pim207_expiring_soon;
pub mod pim208_start_in_past;
pub mod pim301_missing_license;
pub mod pim302_approver_missing_license;
pub mod pim401_actor_cannot_manage;
pub mod pim402_admin_scoped_to_au;
pub mod pim403_pim_bypass_possible;
pub mod pim404_app_only_actor_needs_mfa;
pub mod pim501_group_not_pim_capable;
pub mod pim502_service_principal_eligible;
pub mod pim503_service_principal_permanent;
pub mod pim504_group_as_owner;
pub mod pim505_group_active_in_role_assignable;
pub mod pim506_group_in_m365_group;
pub mod pim507_nested_group;
pub mod pim508_too_many_role_assignable_groups;
pub mod pim509_too_many_owners;
pub mod pim510_permanent_active;
pub mod pim511_group_in_restricted_au;
pub mod pim601_role_group_without_approval;
pub mod pim602_approval_without_approvers;
pub mod pim603_single_approver;
pub mod pim604_approvers_all_requesters;
pub mod pim605_bad_activation_duration;
pub mod pim606_bad_expiry_choice;
pub mod pim607_mfa_and_auth_context;
pub mod pim608_bad_auth_context;
pub mod pim609_missing_justification;
pub mod pim610_role_group_activation_without_mfa;
pub mod pim611_activation_off_grid;
pub mod pim612_roles_need_role_assignable;
pub mod pim701_change_too_soon;
pub mod pim702_last_owner_removed;
pub mod pim703_mass_removal;
pub mod pim704_protected_principal_removed;
pub mod pim705_privilege_increase;
pub mod pim801_tier0_path_without_approval;
pub mod pim802_owner_path_weaker_than_member;
pub mod pim803_standing_tier0_path;
pub mod pim804_lower_tier_controls_tier0;
pub mod pim807_approver_not_independent;
pub mod reach;
pub mod selection;

/// Where a rule's findings come from.
#[derive(Clone, Copy)]
pub enum Check {
    /// Reported while the files are read (PIM0xx); no function of its own.
    Loader,
    /// Looks at the workspace.
    Workspace(fn(&Context<'_>, &mut Vec<Finding>)),
    /// Looks at a plan (PIM7xx).
    Plan(fn(&PlanContext<'_>, &mut Vec<Finding>)),
    /// Looks at the workspace, and again at plan time at what only the state knows (the end
    /// an earlier apply gave a duration).
    WorkspaceAndPlan(
        fn(&Context<'_>, &mut Vec<Finding>),
        fn(&PlanContext<'_>, &mut Vec<Finding>),
    ),
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Check::Loader => "Loader",
            Check::Workspace(_) => "Workspace",
            Check::Plan(_) => "Plan",
            Check::WorkspaceAndPlan(..) => "WorkspaceAndPlan",
        })
    }
}

/// One rule: everything about it in one declaration, its metadata and its check.
#[derive(Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub check: Check,
}

impl std::ops::Deref for Rule {
    type Target = RuleMeta;
    fn deref(&self) -> &RuleMeta {
        &self.meta
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.meta == other.meta
    }
}

impl Eq for Rule {}

/// Why the findings of the loader's rules are locked: each means part of the input could not
/// be read, and silencing it would leave that part unchecked without a word.
pub const UNREADABLE: &str = "it means pimplan could not read part of the workspace, so nothing \
it says is checked; silencing it would leave that part unchecked without a word";

/// Every rule, in code order.
pub static REGISTRY: &[&Rule] = &[
    &pim001_yaml_syntax::RULE,
    &pim002_invalid_config::RULE,
    &pim003_duplicate_key::RULE,
    &pim004_bad_duration::RULE,
    &pim005_bad_timestamp::RULE,
    &pim006_include_matched_nothing::RULE,
    &pim007_unused_ignore::RULE,
    &pim008_file_not_included::RULE,
    &pim101_unknown_reference::RULE,
    &pim102_duplicate_definition::RULE,
    &pim103_duplicate_assignment::RULE,
    &pim104_duplicate_object_id::RULE,
    &pim105_eligible_and_active::RULE,
    &pim106_missing_object_id::RULE,
    &pim201_assignment_too_short::RULE,
    &pim202_ends_before_start::RULE,
    &pim203_already_expired::RULE,
    &pim204_ends_too_soon::RULE,
    &pim205_permanent_not_allowed::RULE,
    &pim206_exceeds_max_duration::RULE,
    &pim207_expiring_soon::RULE,
    &pim208_start_in_past::RULE,
    &pim301_missing_license::RULE,
    &pim302_approver_missing_license::RULE,
    &pim401_actor_cannot_manage::RULE,
    &pim402_admin_scoped_to_au::RULE,
    &pim403_pim_bypass_possible::RULE,
    &pim404_app_only_actor_needs_mfa::RULE,
    &pim501_group_not_pim_capable::RULE,
    &pim502_service_principal_eligible::RULE,
    &pim503_service_principal_permanent::RULE,
    &pim504_group_as_owner::RULE,
    &pim505_group_active_in_role_assignable::RULE,
    &pim506_group_in_m365_group::RULE,
    &pim507_nested_group::RULE,
    &pim508_too_many_role_assignable_groups::RULE,
    &pim509_too_many_owners::RULE,
    &pim510_permanent_active::RULE,
    &pim511_group_in_restricted_au::RULE,
    &pim601_role_group_without_approval::RULE,
    &pim602_approval_without_approvers::RULE,
    &pim603_single_approver::RULE,
    &pim604_approvers_all_requesters::RULE,
    &pim605_bad_activation_duration::RULE,
    &pim606_bad_expiry_choice::RULE,
    &pim607_mfa_and_auth_context::RULE,
    &pim608_bad_auth_context::RULE,
    &pim609_missing_justification::RULE,
    &pim610_role_group_activation_without_mfa::RULE,
    &pim611_activation_off_grid::RULE,
    &pim612_roles_need_role_assignable::RULE,
    &pim701_change_too_soon::RULE,
    &pim702_last_owner_removed::RULE,
    &pim703_mass_removal::RULE,
    &pim704_protected_principal_removed::RULE,
    &pim705_privilege_increase::RULE,
    &pim801_tier0_path_without_approval::RULE,
    &pim802_owner_path_weaker_than_member::RULE,
    &pim803_standing_tier0_path::RULE,
    &pim804_lower_tier_controls_tier0::RULE,
    &pim807_approver_not_independent::RULE,
];

/// A rule by code (`PIM201`, any case) or name (`assignment-too-short`).
pub fn find(selector: &str) -> Option<&'static Rule> {
    REGISTRY
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(selector) || r.name == selector)
}

/// Every code and name, for "did you mean".
pub fn selectors() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().flat_map(|r| [r.code, r.name])
}

/// The shortest schedule the service accepts, and the earliest an assignment may be removed
/// or changed after it is made.
pub const FIVE_MINUTES: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Run every model rule that is not switched off.
pub fn check_all(cx: &Context<'_>, enabled: impl Fn(&Rule) -> bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in REGISTRY {
        if let Check::Workspace(check) | Check::WorkspaceAndPlan(check, _) = rule.check
            && enabled(rule)
        {
            check(cx, &mut findings);
        }
    }
    findings
}

/// Workspace rules that also look at the plan, for what the files alone cannot show: an
/// assignment the state records as ended (PIM203), a change that would send an end the
/// service refuses (PIM204). Their findings are the rule's own.
type PlanCheck = fn(&PlanContext<'_>, &mut Vec<Finding>);
static PLAN_TIME_TOO: &[(&Rule, PlanCheck)] = &[
    (
        &pim203_already_expired::RULE,
        pim203_already_expired::check_ended,
    ),
    (
        &pim204_ends_too_soon::RULE,
        pim204_ends_too_soon::check_changes,
    ),
];

/// Run every plan-time rule that is not switched off.
pub fn check_plan(cx: &PlanContext<'_>, enabled: impl Fn(&Rule) -> bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in REGISTRY {
        if let Check::Plan(check) | Check::WorkspaceAndPlan(_, check) = rule.check
            && enabled(rule)
        {
            check(cx, &mut findings);
        }
    }
    for (rule, check) in PLAN_TIME_TOO {
        if enabled(rule) {
            check(cx, &mut findings);
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_in_order() {
        let codes: Vec<_> = REGISTRY.iter().map(|r| r.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
        let mut names: Vec<_> = REGISTRY.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
    }

    #[test]
    fn every_rule_is_documented() {
        for rule in REGISTRY {
            let d = &rule.docs;
            for (section, text) in [
                ("what", d.what),
                ("why", d.why),
                ("example", d.example),
                ("fix", d.fix),
                ("source", d.source),
            ] {
                assert!(
                    !text.trim().is_empty(),
                    "{} has no `{section}` docs",
                    rule.code
                );
            }
            assert!(
                !rule.message.is_empty() && !rule.help.is_empty(),
                "{}",
                rule.code
            );
            assert!(
                rule.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()),
                "{} name is not kebab-case",
                rule.code
            );
        }
    }

    #[test]
    fn rule_files_are_named_after_code_and_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
        for rule in REGISTRY {
            let file = format!(
                "{}_{}.rs",
                rule.code.to_lowercase(),
                rule.name.replace('-', "_")
            );
            assert!(dir.join(&file).is_file(), "missing {file}");
        }
    }
}
