//! Reading the live service: schedules and policies of the workspace's groups, for
//! `import`, `drift` and `plan --refresh`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::bodies::{notification_rules, schedules_path};
use super::client::{Client, GraphError};
use crate::config::model::{AssignmentType, Role};
use crate::config::values::{format_minutes, parse_duration};
use crate::plan::desired::list;

/// A schedule as the service holds it, kept only when direct and admin-assigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSchedule {
    pub id: Option<String>,
    pub group_id: String,
    pub principal_id: String,
    pub role: Role,
    pub kind: AssignmentType,
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
}

impl LiveSchedule {
    pub fn key(&self) -> (String, String, Role, AssignmentType) {
        (
            self.group_id.clone(),
            self.principal_id.clone(),
            self.role,
            self.kind,
        )
    }
}

fn encode(path: &str) -> String {
    path.replace(' ', "%20")
}

/// Whether an enum value of a response is `expected`. Microsoft's pages define camelCase
/// members, but their v1.0 examples print `Direct` and `Assigned`: case is not compared.
fn is(value: &Value, expected: &str) -> bool {
    value
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case(expected))
}

/// A schedule of `kind` as pimplan sees it; `Ok(None)` when it is not pimplan's to manage
/// (it came through a group, or is an activation) or names no role pimplan knows. A
/// schedule of pimplan's whose expiration it cannot read (a type it does not know, such as
/// `notSpecified`, or a missing end) is an error naming the schedule: it is never taken as
/// permanent, nor as absent.
pub fn parse_schedule(
    s: &Value,
    kind: AssignmentType,
    group_id: &str,
) -> Result<Option<LiveSchedule>, GraphError> {
    if s["memberType"].is_string() && !is(&s["memberType"], "direct") {
        return Ok(None);
    }
    if kind == AssignmentType::Active
        && s["assignmentType"].is_string()
        && !is(&s["assignmentType"], "assigned")
    {
        return Ok(None);
    }
    let role = if is(&s["accessId"], "member") {
        Role::Member
    } else if is(&s["accessId"], "owner") {
        Role::Owner
    } else {
        return Ok(None);
    };
    let time = |v: &Value| {
        v.as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    let id = s["id"].as_str().map(str::to_owned);
    let principal_id = s["principalId"].as_str().unwrap_or_default().to_owned();
    let unreadable = |what: String| {
        GraphError::Unreadable(format!(
            "{kind} schedule {} (group {group_id}, principal {principal_id}, {role}): {what}; fix or remove it in the service, or report it",
            id.as_deref().unwrap_or("without an id")
        ))
    };
    let exp = &s["scheduleInfo"]["expiration"];
    let start = time(&s["scheduleInfo"]["startDateTime"]);
    let end = if is(&exp["type"], "afterDateTime") {
        Some(time(&exp["endDateTime"]).ok_or_else(|| {
            unreadable(format!(
                "expiration `afterDateTime` with no readable endDateTime ({})",
                exp["endDateTime"]
            ))
        })?)
    } else if is(&exp["type"], "afterDuration") {
        Some(
            exp["duration"]
                .as_str()
                .and_then(|d| parse_duration(d).ok())
                .and_then(|d| start.and_then(|s| s.checked_add_signed(d.0)))
                .ok_or_else(|| {
                    unreadable(format!(
                        "expiration `afterDuration` with no readable start and duration ({}, {})",
                        s["scheduleInfo"]["startDateTime"], exp["duration"]
                    ))
                })?,
        )
    } else if is(&exp["type"], "noExpiration") {
        None
    } else {
        return Err(unreadable(format!(
            "expiration type {} is not one pimplan knows (afterDateTime, afterDuration, noExpiration)",
            exp["type"]
        )));
    };
    Ok(Some(LiveSchedule {
        id,
        group_id: s["groupId"].as_str().unwrap_or(group_id).to_owned(),
        principal_id,
        role,
        kind,
        start,
        end,
    }))
}

/// The direct, admin-made schedules of one group (activations and memberships through a
/// group are not pimplan's: they would look like drift).
pub fn schedules(client: &mut Client, group_id: &str) -> Result<Vec<LiveSchedule>, GraphError> {
    let mut out = Vec::new();
    for kind in [AssignmentType::Eligible, AssignmentType::Active] {
        let mut path = encode(&format!(
            "{}?$filter=groupId eq '{group_id}'",
            schedules_path(kind)
        ));
        loop {
            let (_, page) = client.send("GET", &path, None)?;
            for s in super::client::values(&page, &path)? {
                out.extend(parse_schedule(s, kind, group_id)?);
            }
            // Follow paging links, only on the same service.
            match page["@odata.nextLink"].as_str() {
                Some(link) => path = client.next_path(link)?,
                None => break,
            }
        }
    }
    Ok(out)
}

fn normalise_duration(d: Option<&str>) -> String {
    d.and_then(|d| parse_duration(d).ok())
        .map_or_else(|| "none".to_owned(), format_minutes)
}

fn requirements(rule: &Value) -> String {
    list(
        rule["enabledRules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| match r.as_str() {
                Some("MultiFactorAuthentication") => Some("mfa".to_owned()),
                Some("Justification") => Some("justification".to_owned()),
                Some("Ticketing") => Some("ticket".to_owned()),
                _ => None,
            }),
    )
}

/// The group's policy for `role` as the service holds it now: its id (looked up afresh
/// through the policy assignment, never remembered: the id changes with each modification)
/// and the policy with its rules. `None` when the group has no such policy assignment.
pub fn find_policy(
    client: &mut Client,
    group_id: &str,
    role: Role,
) -> Result<Option<(String, Value)>, GraphError> {
    let path = encode(&format!(
        "/policies/roleManagementPolicyAssignments?$filter=scopeId eq '{group_id}' and scopeType eq 'Group' and roleDefinitionId eq '{role}'"
    ));
    let (_, assignments) = client.send("GET", &path, None)?;
    let Some(policy_id) = super::client::values(&assignments, &path)?
        .first()
        .and_then(|a| a["policyId"].as_str())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let (_, policy) = client.send(
        "GET",
        &format!("/policies/roleManagementPolicies/{policy_id}?$expand=rules"),
        None,
    )?;
    Ok(Some((policy_id, policy)))
}

/// A group's live policy for `role`, in pimplan's settings; approvers' ids become names
/// through `names` (unknown ids stay ids).
pub fn policy_settings(
    client: &mut Client,
    group_id: &str,
    role: Role,
    names: &HashMap<String, String>,
) -> Result<BTreeMap<String, String>, GraphError> {
    Ok(find_policy(client, group_id, role)?
        .map(|(_, policy)| settings_of(&policy, names))
        .unwrap_or_default())
}

/// A policy (with its rules, as `GET …?$expand=rules` gives it) in pimplan's settings.
pub fn settings_of(policy: &Value, names: &HashMap<String, String>) -> BTreeMap<String, String> {
    let rules: HashMap<&str, &Value> = policy["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["id"].as_str()?, r)))
        .collect();
    let rule = |id: &str| rules.get(id).copied().unwrap_or(&Value::Null);
    let mut s = BTreeMap::new();
    s.insert(
        "activation.max_duration".to_owned(),
        normalise_duration(rule("Expiration_EndUser_Assignment")["maximumDuration"].as_str()),
    );
    s.insert(
        "activation.require".to_owned(),
        requirements(rule("Enablement_EndUser_Assignment")),
    );
    let context = rule("AuthenticationContext_EndUser_Assignment");
    s.insert(
        "activation.authentication_context".to_owned(),
        if context["isEnabled"] == true {
            context["claimValue"].as_str().unwrap_or("none").to_owned()
        } else {
            "none".to_owned()
        },
    );
    let approval = &rule("Approval_EndUser_Assignment")["setting"];
    let required = approval["isApprovalRequired"] == true;
    s.insert(
        "activation.approval.required".to_owned(),
        required.to_string(),
    );
    let ids: Vec<String> = approval["approvalStages"][0]["primaryApprovers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["userId"].as_str().or_else(|| a["groupId"].as_str()))
        .map(str::to_owned)
        .collect();
    let approvers = ids
        .iter()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()));
    s.insert(
        "activation.approval.approvers".to_owned(),
        if required {
            list(approvers)
        } else {
            "none".to_owned()
        },
    );
    s.insert(
        "activation.approval.approver_ids".to_owned(),
        if required {
            list(ids.iter().cloned())
        } else {
            "none".to_owned()
        },
    );
    for (rule_id, prefix) in [
        ("Expiration_Admin_Eligibility", "eligible_assignment"),
        ("Expiration_Admin_Assignment", "active_assignment"),
    ] {
        let r = rule(rule_id);
        let permanent = r["isExpirationRequired"] == false;
        s.insert(format!("{prefix}.allow_permanent"), permanent.to_string());
        s.insert(
            format!("{prefix}.max_duration"),
            if permanent {
                "none".to_owned()
            } else {
                normalise_duration(r["maximumDuration"].as_str())
            },
        );
    }
    s.insert(
        "active_assignment.require".to_owned(),
        requirements(rule("Enablement_Admin_Assignment")),
    );
    s.insert(
        "eligible_assignment.require".to_owned(),
        requirements(rule("Enablement_Admin_Eligibility")),
    );
    for (rule_id, section, recipient, _) in notification_rules() {
        let r = rule(&rule_id);
        let key = |field: &str| format!("{section}.notifications.{recipient}.{field}");
        // Microsoft's values when the rule says nothing (`All`, default recipients on).
        s.insert(
            key("default_recipients"),
            (r["isDefaultRecipientsEnabled"] != false).to_string(),
        );
        s.insert(
            key("level"),
            r["notificationLevel"]
                .as_str()
                .unwrap_or("All")
                .to_ascii_lowercase(),
        );
        s.insert(
            key("additional_recipients"),
            list(
                r["notificationRecipients"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned)),
            ),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(member: &str, access: &str, expiration: Value) -> Value {
        json!({ "id": "s1", "groupId": "g", "principalId": "p", "accessId": access,
                "memberType": member, "assignmentType": "Assigned", "status": "Provisioned",
                "scheduleInfo": { "startDateTime": "2026-12-01T00:00:00Z", "expiration": expiration } })
    }

    #[test]
    fn enum_values_are_read_in_any_case() {
        let end = json!({ "type": "AfterDateTime", "endDateTime": "2027-01-01T00:00:00Z" });
        let s = parse_schedule(
            &schedule("Direct", "Member", end),
            AssignmentType::Active,
            "g",
        );
        let s = s.ok().flatten();
        assert_eq!(s.as_ref().map(|s| s.role), Some(Role::Member));
        assert!(s.and_then(|s| s.end).is_some());
        let through_group = schedule("Group", "member", json!({ "type": "noExpiration" }));
        assert!(matches!(
            parse_schedule(&through_group, AssignmentType::Eligible, "g"),
            Ok(None)
        ));
    }

    #[test]
    fn an_expiration_pimplan_does_not_know_is_an_error_not_permanent() {
        for exp in [
            json!({ "type": "notSpecified" }),
            json!({}),
            json!({ "type": "afterDateTime" }),
            json!({ "type": "afterDuration", "duration": "soon" }),
        ] {
            let e = parse_schedule(
                &schedule("direct", "owner", exp.clone()),
                AssignmentType::Eligible,
                "g",
            );
            assert!(
                matches!(&e, Err(GraphError::Unreadable(m)) if m.contains("s1")),
                "{exp}: {e:?}"
            );
        }
        let permanent = schedule("direct", "owner", json!({ "type": "NoExpiration" }));
        let s = parse_schedule(&permanent, AssignmentType::Eligible, "g")
            .ok()
            .flatten();
        assert!(s.is_some_and(|s| s.end.is_none()));
    }
}
