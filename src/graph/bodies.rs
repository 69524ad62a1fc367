//! Request bodies for Microsoft Graph's PIM for Groups API (domain notes §13, §14): pure
//! functions from what the plan says to the JSON the service expects.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::model::{AssignmentType, PrincipalType};
use crate::config::values::{format_minutes, parse_duration};
use crate::plan::end::End;
use crate::state::AssignmentSpec;

pub const ELIGIBILITY_REQUESTS: &str =
    "/identityGovernance/privilegedAccess/group/eligibilityScheduleRequests";
pub const ASSIGNMENT_REQUESTS: &str =
    "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests";
pub const ELIGIBILITY_SCHEDULES: &str =
    "/identityGovernance/privilegedAccess/group/eligibilitySchedules";
pub const ASSIGNMENT_SCHEDULES: &str =
    "/identityGovernance/privilegedAccess/group/assignmentSchedules";

/// The request and schedule collections of an assignment type.
pub fn requests_path(kind: AssignmentType) -> &'static str {
    match kind {
        AssignmentType::Eligible => ELIGIBILITY_REQUESTS,
        AssignmentType::Active => ASSIGNMENT_REQUESTS,
    }
}

pub fn schedules_path(kind: AssignmentType) -> &'static str {
    match kind {
        AssignmentType::Eligible => ELIGIBILITY_SCHEDULES,
        AssignmentType::Active => ASSIGNMENT_SCHEDULES,
    }
}

/// A time in the form Graph returns: UTC with `Z`.
pub fn utc(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration in days, hours and minutes only (Graph refuses years and months; seconds are
/// rounded up to the next minute).
pub fn graph_duration(text: &str) -> Option<String> {
    parse_duration(text).ok().map(format_minutes)
}

/// The `expiration` of a schedule for the end a change gives: `afterDateTime`,
/// `afterDuration` (a duration counted by the service from when it processes the request)
/// or `noExpiration`. `None` when nothing reads: never a permanent grant by accident.
pub fn expiration(end: End) -> Option<Value> {
    match end {
        End::Never => Some(json!({ "type": "noExpiration" })),
        End::At(t) => Some(json!({ "type": "afterDateTime", "endDateTime": utc(t) })),
        End::FromApply(_) => end
            .graph_duration()
            .map(|d| json!({ "type": "afterDuration", "duration": d })),
        End::Unknown => None,
    }
}

/// An `adminAssign` or `adminUpdate` request: who, which group, which role, until when.
///
/// The service starts a schedule no earlier than it processes the request (v1.0 POST
/// examples), so a declared start is sent only while it is ahead of `now`; otherwise no
/// `startDateTime` is sent and the service starts it when it takes the request, as
/// terraform does. The end is sent as the end `end` says (see [`crate::plan::end`]).
pub fn schedule_request(
    spec: &AssignmentSpec,
    action: &str,
    end: End,
    now: DateTime<FixedOffset>,
) -> Option<Value> {
    let mut info = serde_json::Map::new();
    if let Some(start) = spec
        .start
        .as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .filter(|s| *s > now)
    {
        info.insert("startDateTime".into(), json!(utc(start)));
    }
    info.insert("expiration".into(), expiration(end)?);
    let mut body = json!({
        "accessId": spec.role.to_string(),
        "principalId": spec.principal_id.clone().unwrap_or_default(),
        "groupId": spec.group_id.clone().unwrap_or_default(),
        "action": action,
        "scheduleInfo": info,
    });
    if let Some(o) = body.as_object_mut() {
        if let Some(j) = &spec.justification {
            o.insert("justification".into(), json!(j));
        }
        if let Some(number) = &spec.ticket_number {
            o.insert(
                "ticketInfo".into(),
                json!({ "ticketNumber": number, "ticketSystem": spec.ticket_system.clone().unwrap_or_default() }),
            );
        }
    }
    Some(body)
}

/// An `adminRemove` request (no `scheduleInfo`, as Terraform and the Entra-roles docs send).
pub fn remove_request(spec: &AssignmentSpec) -> Value {
    let mut body = json!({
        "accessId": spec.role.to_string(),
        "principalId": spec.principal_id.clone().unwrap_or_default(),
        "groupId": spec.group_id.clone().unwrap_or_default(),
        "action": "adminRemove",
    });
    if let (Some(o), Some(j)) = (body.as_object_mut(), &spec.justification) {
        o.insert("justification".into(), json!(j));
    }
    body
}

const EXPIRATION_RULE: &str = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule";
const ENABLEMENT_RULE: &str = "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule";
const AUTH_CONTEXT_RULE: &str =
    "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule";
const APPROVAL_RULE: &str = "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule";
const NOTIFICATION_RULE: &str = "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule";

/// The nine notification rules: (rule id, settings section, recipient key, `recipientType`).
pub fn notification_rules() -> Vec<(String, &'static str, &'static str, &'static str)> {
    let mut out = Vec::with_capacity(9);
    for (section, suffix) in [
        ("eligible_assignment", "Admin_Eligibility"),
        ("active_assignment", "Admin_Assignment"),
        ("activation", "EndUser_Assignment"),
    ] {
        for (recipient, kind) in [
            ("admin", "Admin"),
            ("assignee", "Requestor"),
            ("approver", "Approver"),
        ] {
            out.push((
                format!("Notification_{kind}_{suffix}"),
                section,
                recipient,
                kind,
            ));
        }
    }
    out
}

fn list(settings: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    settings
        .get(key)
        .filter(|v| v.as_str() != "none")
        .map(|v| v.split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

fn flag(settings: &BTreeMap<String, String>, key: &str) -> bool {
    settings.get(key).is_some_and(|v| v == "true")
}

fn enabled_rules(requirements: &[String]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (ours, theirs) in [
        ("mfa", "MultiFactorAuthentication"),
        ("justification", "Justification"),
        ("ticket", "Ticketing"),
    ] {
        if requirements.iter().any(|r| r == ours) {
            out.push(theirs);
        }
    }
    out
}

/// The rule bodies (without `target`, which is copied from the service's rule) for a
/// policy's settings. `approver` maps an approver name to its kind and object id.
pub fn policy_rules(
    settings: &BTreeMap<String, String>,
    approver: &dyn Fn(&str) -> Option<(PrincipalType, String)>,
) -> Result<Vec<(String, Value)>, String> {
    let get = |k: &str| settings.get(k).cloned().unwrap_or_default();
    let mut rules = Vec::new();
    rules.push((
        "Expiration_EndUser_Assignment",
        json!({ "@odata.type": EXPIRATION_RULE, "id": "Expiration_EndUser_Assignment",
                "isExpirationRequired": true,
                "maximumDuration": graph_duration(&get("activation.max_duration")).unwrap_or_default() }),
    ));
    rules.push((
        "Enablement_EndUser_Assignment",
        json!({ "@odata.type": ENABLEMENT_RULE, "id": "Enablement_EndUser_Assignment",
                "enabledRules": enabled_rules(&list(settings, "activation.require")) }),
    ));
    let context = settings
        .get("activation.authentication_context")
        .filter(|c| c.as_str() != "none");
    rules.push((
        "AuthenticationContext_EndUser_Assignment",
        json!({ "@odata.type": AUTH_CONTEXT_RULE, "id": "AuthenticationContext_EndUser_Assignment",
                "isEnabled": context.is_some(), "claimValue": context }),
    ));
    let required = flag(settings, "activation.approval.required");
    let mut approvers = Vec::new();
    for name in list(settings, "activation.approval.approvers") {
        let (kind, id) =
            approver(&name).ok_or_else(|| format!("approver `{name}` has no object id"))?;
        approvers.push(match kind {
            PrincipalType::Group => {
                json!({ "@odata.type": "#microsoft.graph.groupMembers", "groupId": id })
            }
            _ => json!({ "@odata.type": "#microsoft.graph.singleUser", "userId": id }),
        });
    }
    let stages = if required {
        json!([{ "approvalStageTimeOutInDays": 1, "isApproverJustificationRequired": true,
                 "escalationTimeInMinutes": 0, "isEscalationEnabled": false,
                 "primaryApprovers": approvers, "escalationApprovers": [] }])
    } else {
        json!([])
    };
    rules.push((
        "Approval_EndUser_Assignment",
        json!({ "@odata.type": APPROVAL_RULE, "id": "Approval_EndUser_Assignment",
                "setting": { "isApprovalRequired": required, "isApprovalRequiredForExtension": false,
                             "isRequestorJustificationRequired": true,
                             "approvalMode": if required { "SingleStage" } else { "NoApproval" },
                             "approvalStages": stages } }),
    ));
    for (rule, prefix) in [
        ("Expiration_Admin_Eligibility", "eligible_assignment"),
        ("Expiration_Admin_Assignment", "active_assignment"),
    ] {
        let permanent = flag(settings, &format!("{prefix}.allow_permanent"));
        let mut body = json!({ "@odata.type": EXPIRATION_RULE, "id": rule, "isExpirationRequired": !permanent });
        if !permanent && let Some(o) = body.as_object_mut() {
            o.insert(
                "maximumDuration".into(),
                json!(graph_duration(&get(&format!("{prefix}.max_duration"))).unwrap_or_default()),
            );
        }
        rules.push((rule, body));
    }
    for (rule, prefix) in [
        ("Enablement_Admin_Eligibility", "eligible_assignment"),
        ("Enablement_Admin_Assignment", "active_assignment"),
    ] {
        rules.push((
            rule,
            json!({ "@odata.type": ENABLEMENT_RULE, "id": rule,
                    "enabledRules": enabled_rules(&list(settings, &format!("{prefix}.require"))) }),
        ));
    }
    let mut rules: Vec<(String, Value)> = rules
        .into_iter()
        .map(|(id, v)| (id.to_owned(), v))
        .collect();
    for (rule, section, recipient, kind) in notification_rules() {
        let key = |field: &str| format!("{section}.notifications.{recipient}.{field}");
        let level = match get(&key("level")).as_str() {
            "critical" => "Critical",
            _ => "All",
        };
        let body = json!({ "@odata.type": NOTIFICATION_RULE, "id": rule,
                           "notificationType": "Email", "recipientType": kind,
                           "notificationLevel": level,
                           "isDefaultRecipientsEnabled": get(&key("default_recipients")) != "false",
                           "notificationRecipients": list(settings, &key("additional_recipients")) });
        rules.push((rule, body));
    }
    Ok(rules)
}

/// The settings each rule carries, to patch only the rules whose settings changed.
pub fn rule_settings(rule: &str) -> Vec<String> {
    if let Some((_, section, recipient, _)) =
        notification_rules().into_iter().find(|(id, ..)| id == rule)
    {
        return ["default_recipients", "level", "additional_recipients"]
            .iter()
            .map(|field| format!("{section}.notifications.{recipient}.{field}"))
            .collect();
    }
    let keys: &[&str] = match rule {
        "Expiration_EndUser_Assignment" => &["activation.max_duration"],
        "Enablement_EndUser_Assignment" => &["activation.require"],
        "AuthenticationContext_EndUser_Assignment" => &["activation.authentication_context"],
        "Approval_EndUser_Assignment" => &[
            "activation.approval.required",
            "activation.approval.approvers",
            "activation.approval.approver_ids",
        ],
        "Expiration_Admin_Eligibility" => &[
            "eligible_assignment.allow_permanent",
            "eligible_assignment.max_duration",
        ],
        "Expiration_Admin_Assignment" => &[
            "active_assignment.allow_permanent",
            "active_assignment.max_duration",
        ],
        "Enablement_Admin_Assignment" => &["active_assignment.require"],
        "Enablement_Admin_Eligibility" => &["eligible_assignment.require"],
        _ => &[],
    };
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::end::end_of;

    #[test]
    fn durations_in_days_hours_minutes() {
        assert_eq!(graph_duration("P2W").as_deref(), Some("P14D"));
        assert_eq!(graph_duration("PT8H").as_deref(), Some("PT8H"));
        assert_eq!(graph_duration("P1DT90M").as_deref(), Some("P1DT1H30M"));
        assert_eq!(graph_duration("PT30S").as_deref(), Some("PT1M"));
    }

    #[test]
    fn an_end_that_does_not_read_is_never_sent_as_permanent() {
        let spec = AssignmentSpec {
            group: "ops".to_owned(),
            group_id: Some("g".to_owned()),
            principal: "alice".to_owned(),
            principal_id: Some("p".to_owned()),
            role: crate::config::model::Role::Member,
            kind: AssignmentType::Eligible,
            start: None,
            end: Some("next spring".to_owned()),
            duration: None,
            permanent: false,
            justification: None,
            ticket_system: None,
            ticket_number: None,
            emergency_access: false,
        };
        let now = DateTime::default();
        assert_eq!(end_of(&spec, None, now), End::Unknown);
        assert_eq!(expiration(end_of(&spec, None, now)), None);
        assert!(schedule_request(&spec, "adminAssign", end_of(&spec, None, now), now).is_none());
        let permanent = AssignmentSpec {
            end: None,
            permanent: true,
            ..spec
        };
        assert_eq!(
            expiration(end_of(&permanent, None, now)),
            Some(json!({ "type": "noExpiration" }))
        );
    }
}
