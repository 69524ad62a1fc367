//! Group policies against the Graph stand-in: one consistent update per policy, to a policy id
//! looked up afresh, and the notification and `Enablement_Admin_Eligibility` rules.

mod graph_server;

mod common;

use std::path::Path;

use chrono::TimeDelta;
use common::{Run, edit, json, workspace_with};
use graph_server::{Recorded, Server, TOKEN};
use serde_json::{Value, json};

const T0: &str = "2026-12-01T00:00:00Z";
const APPLY: &[&str] = &["apply", "--target", "graph", "--auto-approve"];
const OPS: &str = "99999999-0000-4000-8000-000000000009";
const POLICIES: &str = "/v1.0/policies/roleManagementPolicies/";

fn pimplan(server: &Server, dir: &Path, args: &[&str]) -> Run {
    Run::of(&server.run(dir, T0, TimeDelta::zero(), args, &[]))
}

/// A workspace with one group `ops`, its policy lines `policy` (indented under the group),
/// optional root keys `top`, and one eligible assignment.
fn workspace(top: &str, policy: &str) -> tempfile::TempDir {
    workspace_with(&format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\n{top}principals:\n  - {{ name: alice, type: user, id: aaaaaaaa-0000-4000-8000-000000000001, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: bbbbbbbb-0000-4000-8000-000000000002, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\n    id: {OPS}\n    owners: [bob]\n{policy}assignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }}\n"
    ))
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// `plan --refresh` and `drift` both find the service as the state says.
fn assert_in_sync(server: &Server, dir: &Path) {
    let refresh = pimplan(server, dir, &["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("No drift") && refresh.stdout.contains("No changes."),
        "{}{}",
        refresh.stdout,
        refresh.stderr
    );
    let drift = pimplan(server, dir, &["drift"]);
    ok(&drift);
}

/// The stand-in's current (policy id, rules) of the group's role.
fn policy(server: &Server, role: &str) -> (String, serde_json::Map<String, Value>) {
    let s = server.state();
    let (id, rules) = s
        .policies
        .get(&(OPS.to_owned(), role.to_owned()))
        .cloned()
        .unwrap_or_default();
    (id, rules.into_iter().collect())
}

fn patches(server: &Server) -> Vec<Recorded> {
    server
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .cloned()
        .collect()
}

/// The rule with this id in a whole-policy PATCH body.
fn sent_rule(patch: &Recorded, id: &str) -> Value {
    patch.body["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Every policy PATCH of the last run went to the policy as a whole, to the id the policy
/// assignment named just before (never one found earlier in the run), and the policy was
/// read back through the policy assignment afterwards.
fn assert_fresh_single_patches(server: &Server) {
    let requests = server.state().requests.clone();
    for (i, r) in requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "PATCH")
    {
        let id = r.path.trim_start_matches(POLICIES);
        assert!(!id.contains('/'), "a rule PATCH: {}", r.path);
        assert!(r.body["rules"].is_array(), "{}", r.body);
        let lookup = requests[..i]
            .iter()
            .rposition(|q| {
                q.path
                    .starts_with("/v1.0/policies/roleManagementPolicyAssignments")
            })
            .unwrap_or_else(|| unreachable!("no policy assignment lookup before {}", r.path));
        let between = &requests[lookup + 1..i];
        assert!(
            between
                .iter()
                .all(|q| q.method == "GET" && q.path.starts_with(&format!("{POLICIES}{id}"))),
            "the PATCH to {id} does not follow its own lookup: {:?}",
            between.iter().map(|q| &q.path).collect::<Vec<_>>()
        );
        assert!(
            requests[i + 1..].first().is_some_and(|q| q
                .path
                .starts_with("/v1.0/policies/roleManagementPolicyAssignments")),
            "the policy was not looked up again after its update"
        );
    }
}

fn set_member_activation(dir: &Path, from: &str, to: &str) {
    edit(&dir.join("pimplan.yaml"), from, to);
}

/// An authentication context on activation, then MFA instead, then the context again: each
/// switch is one apply that succeeds, with one PATCH of the policy holding both rules (rule by
/// rule, the service would see MFA and a context together and refuse it).
#[test]
fn context_to_mfa_and_back_each_in_one_apply() {
    let server = Server::start();
    let ws = workspace(
        "",
        "    policy:\n      member:\n        activation: { require: [justification], authentication_context: c1 }\n",
    );
    let dir = ws.path();
    ok(&pimplan(&server, dir, APPLY));
    let (first_id, rules) = policy(&server, "member");
    assert_eq!(
        rules["AuthenticationContext_EndUser_Assignment"]["isEnabled"],
        true
    );
    assert_eq!(
        rules["AuthenticationContext_EndUser_Assignment"]["claimValue"],
        "c1"
    );

    // Context -> MFA.
    set_member_activation(
        dir,
        "activation: { require: [justification], authentication_context: c1 }",
        "activation: { require: [mfa, justification] }",
    );
    server.state().requests.clear();
    ok(&pimplan(&server, dir, APPLY));
    let sent = patches(&server);
    assert_eq!(sent.len(), 1, "one PATCH per policy update: {sent:?}");
    assert_eq!(
        sent[0].path,
        format!("{POLICIES}{first_id}"),
        "the id the lookup gave"
    );
    assert_eq!(
        sent_rule(&sent[0], "Enablement_EndUser_Assignment")["enabledRules"],
        json!(["MultiFactorAuthentication", "Justification"])
    );
    assert_eq!(
        sent_rule(&sent[0], "AuthenticationContext_EndUser_Assignment")["isEnabled"],
        false
    );
    assert_fresh_single_patches(&server);
    let (second_id, rules) = policy(&server, "member");
    assert_ne!(
        second_id, first_id,
        "the stand-in changes the id on each modification"
    );
    assert_eq!(
        rules["Enablement_EndUser_Assignment"]["enabledRules"],
        json!(["MultiFactorAuthentication", "Justification"])
    );
    assert_eq!(
        rules["AuthenticationContext_EndUser_Assignment"]["isEnabled"],
        false
    );
    assert_in_sync(&server, dir);

    // MFA -> context.
    set_member_activation(
        dir,
        "activation: { require: [mfa, justification] }",
        "activation: { require: [justification], authentication_context: c2 }",
    );
    server.state().requests.clear();
    ok(&pimplan(&server, dir, APPLY));
    let sent = patches(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].path, format!("{POLICIES}{second_id}"));
    assert_fresh_single_patches(&server);
    let (_, rules) = policy(&server, "member");
    assert_eq!(
        rules["Enablement_EndUser_Assignment"]["enabledRules"],
        json!(["Justification"])
    );
    assert_eq!(
        rules["AuthenticationContext_EndUser_Assignment"],
        json!({ "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                "id": "AuthenticationContext_EndUser_Assignment", "isEnabled": true, "claimValue": "c2",
                "target": { "caller": "EndUser", "operations": ["All"], "level": "Assignment", "inheritableSettings": [], "enforcedSettings": [] } })
    );
    assert_in_sync(&server, dir);
}

/// A request straight to the stand-in, as the service would get it.
fn send(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/v1.0{path}", server.base);
    let auth = format!("Bearer {TOKEN}");
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        (_, Some(b)) => agent
            .patch(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.to_string()),
        (_, None) => agent
            .patch(&url)
            .header("Authorization", &auth)
            .send_empty(),
    };
    match response {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => unreachable!("{e}"),
    }
}

/// The stand-in checks a policy as a whole after any PATCH: MFA with an enabled context is
/// refused with `MfaAndAcrsConflict` and changes nothing; a whole-policy PATCH is all or
/// nothing; each modification changes the id, so an id found before it is gone (404).
#[test]
fn the_stand_in_checks_the_whole_policy_and_changes_its_id() {
    let server = Server::start();
    let lookup = format!(
        "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'{OPS}'%20and%20scopeType%20eq%20'Group'%20and%20roleDefinitionId%20eq%20'member'"
    );
    let (status, found) = send(&server, "GET", &lookup, None);
    assert_eq!(status, 200);
    let id = found["value"][0]["policyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, policy0) = send(
        &server,
        "GET",
        &format!("/policies/roleManagementPolicies/{id}?$expand=rules"),
        None,
    );
    let rules = policy0["rules"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids.len(),
        17,
        "a group's policy holds seventeen rules: {ids:?}"
    );
    for (rule, kind) in [
        ("Enablement_Admin_Eligibility", "Enablement"),
        ("Notification_Admin_Admin_Eligibility", "Notification"),
        ("Notification_Requestor_EndUser_Assignment", "Notification"),
        ("Notification_Approver_Admin_Assignment", "Notification"),
    ] {
        let r = rules
            .iter()
            .find(|r| r["id"] == rule)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            r["@odata.type"],
            format!("#microsoft.graph.unifiedRoleManagementPolicy{kind}Rule")
        );
    }
    let rule = |id: &str| {
        rules
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    let with = |mut r: Value, k: &str, v: Value| {
        r[k] = v;
        r
    };
    // A context on, rule by rule.
    let context_on = with(
        rule("AuthenticationContext_EndUser_Assignment"),
        "isEnabled",
        json!(true),
    );
    let context_on = with(context_on, "claimValue", json!("c1"));
    let (status, _) = send(
        &server,
        "PATCH",
        &format!(
            "/policies/roleManagementPolicies/{id}/rules/AuthenticationContext_EndUser_Assignment"
        ),
        Some(&context_on),
    );
    assert_eq!(status, 204);
    // The id changed: the old one is gone.
    let (status, _) = send(
        &server,
        "GET",
        &format!("/policies/roleManagementPolicies/{id}?$expand=rules"),
        None,
    );
    assert_eq!(status, 404, "a reused policy id");
    let (_, found) = send(&server, "GET", &lookup, None);
    let id = found["value"][0]["policyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before = policy(&server, "member");
    // MFA while the context is on: refused, nothing changes, the id stays.
    let mfa = with(
        rule("Enablement_EndUser_Assignment"),
        "enabledRules",
        json!(["MultiFactorAuthentication"]),
    );
    let (status, body) = send(
        &server,
        "PATCH",
        &format!("/policies/roleManagementPolicies/{id}/rules/Enablement_EndUser_Assignment"),
        Some(&mfa),
    );
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("MfaAndAcrsConflict"))
    );
    let (status, body) = send(
        &server,
        "PATCH",
        &format!("/policies/roleManagementPolicies/{id}"),
        Some(&json!({ "rules": [mfa] })),
    );
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("MfaAndAcrsConflict"))
    );
    assert_eq!(
        policy(&server, "member"),
        before,
        "a refused PATCH changes nothing"
    );
    // All or nothing: a good rule with a bad one (another rule's target) changes nothing.
    let longer = with(
        rule("Expiration_EndUser_Assignment"),
        "maximumDuration",
        json!("PT2H"),
    );
    let bad = with(
        rule("Expiration_Admin_Assignment"),
        "target",
        rule("Expiration_Admin_Eligibility")["target"].clone(),
    );
    let (status, _) = send(
        &server,
        "PATCH",
        &format!("/policies/roleManagementPolicies/{id}"),
        Some(&json!({ "rules": [longer, bad] })),
    );
    assert_eq!(status, 400);
    assert_eq!(policy(&server, "member"), before);
    // MFA and the context off in one PATCH: taken.
    let context_off = with(
        with(
            rule("AuthenticationContext_EndUser_Assignment"),
            "isEnabled",
            json!(false),
        ),
        "claimValue",
        Value::Null,
    );
    let (status, body) = send(
        &server,
        "PATCH",
        &format!("/policies/roleManagementPolicies/{id}"),
        Some(&json!({ "rules": [mfa, context_off] })),
    );
    assert_eq!(status, 200, "{body}");
    let (now_id, now_rules) = policy(&server, "member");
    assert_ne!(now_id, id);
    assert_eq!(
        now_rules["Enablement_EndUser_Assignment"]["enabledRules"],
        json!(["MultiFactorAuthentication"])
    );
    // A notification rule with a level the service does not know is refused.
    let loud = with(
        rule("Notification_Admin_Admin_Eligibility"),
        "notificationLevel",
        json!("Loud"),
    );
    let (status, _) = send(
        &server,
        "PATCH",
        &format!("/policies/roleManagementPolicies/{now_id}"),
        Some(&json!({ "rules": [loud] })),
    );
    assert_eq!(status, 400);
}

const NOTIFY_TEMPLATE: &str = "policy_templates:\n  alerting:\n    member:\n      eligible_assignment:\n        require: [justification]\n        notifications:\n          admin: { default_recipients: false, level: critical, additional_recipients: [pim-alerts@contoso.com, secops@contoso.com] }\n      activation:\n        notifications:\n          approver: { level: critical }\n";

const NOTIFY_GROUP: &str = "    policy:\n      template: alerting\n      member:\n        activation:\n          notifications:\n            assignee: { default_recipients: false }\n        active_assignment:\n          notifications:\n            admin: { additional_recipients: [audit@contoso.com] }\n";

fn notification(
    kind: &str,
    level: &str,
    default: bool,
    to: Value,
    caller: &str,
    scope: &str,
) -> Value {
    let rule = format!("Notification_{kind}_{caller}_{scope}");
    json!({ "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule", "id": rule,
            "notificationType": "Email", "recipientType": kind, "notificationLevel": level,
            "isDefaultRecipientsEnabled": default, "notificationRecipients": to,
            "target": { "caller": caller, "operations": ["All"], "level": scope, "inheritableSettings": [], "enforcedSettings": [] } })
}

/// Notification settings and `eligible_assignment.require`, from a template and from the group,
/// are sent as the documented rule bodies in the one policy PATCH, and read back clean.
#[test]
fn notifications_from_a_template_and_the_group_are_sent_and_read_back() {
    let server = Server::start();
    let ws = workspace(NOTIFY_TEMPLATE, NOTIFY_GROUP);
    let dir = ws.path();
    let lint = pimplan(&server, dir, &["lint"]);
    ok(&lint);
    ok(&pimplan(&server, dir, APPLY));
    let sent = patches(&server);
    assert_eq!(
        sent.len(),
        1,
        "only the member policy differs from the defaults: {sent:?}"
    );
    let ids: Vec<&str> = sent[0].body["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "Enablement_Admin_Eligibility",
            "Notification_Admin_Admin_Eligibility",
            "Notification_Admin_Admin_Assignment",
            "Notification_Requestor_EndUser_Assignment",
            "Notification_Approver_EndUser_Assignment"
        ],
        "the changed rules only"
    );
    let p = &sent[0];
    assert_eq!(
        sent_rule(p, "Notification_Admin_Admin_Eligibility"),
        notification(
            "Admin",
            "Critical",
            false,
            json!(["pim-alerts@contoso.com", "secops@contoso.com"]),
            "Admin",
            "Eligibility"
        )
    );
    assert_eq!(
        sent_rule(p, "Notification_Admin_Admin_Assignment"),
        notification(
            "Admin",
            "All",
            true,
            json!(["audit@contoso.com"]),
            "Admin",
            "Assignment"
        )
    );
    assert_eq!(
        sent_rule(p, "Notification_Requestor_EndUser_Assignment"),
        notification(
            "Requestor",
            "All",
            false,
            json!([]),
            "EndUser",
            "Assignment"
        )
    );
    assert_eq!(
        sent_rule(p, "Notification_Approver_EndUser_Assignment"),
        notification(
            "Approver",
            "Critical",
            true,
            json!([]),
            "EndUser",
            "Assignment"
        )
    );
    assert_eq!(
        sent_rule(p, "Enablement_Admin_Eligibility"),
        json!({ "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule", "id": "Enablement_Admin_Eligibility",
                "enabledRules": ["Justification"],
                "target": { "caller": "Admin", "operations": ["All"], "level": "Eligibility", "inheritableSettings": [], "enforcedSettings": [] } })
    );
    let (_, rules) = policy(&server, "member");
    assert_eq!(
        rules["Notification_Admin_Admin_Eligibility"],
        sent_rule(p, "Notification_Admin_Admin_Eligibility")
    );
    assert_in_sync(&server, dir);
    // A recipient added in the portal is drift, read from the service.
    {
        let mut s = server.state();
        if let Some((_, rules)) = s.policies.get_mut(&(OPS.to_owned(), "member".to_owned()))
            && let Some(r) = rules.get_mut("Notification_Admin_Admin_Eligibility")
        {
            r["notificationRecipients"] = json!([
                "pim-alerts@contoso.com",
                "intruder@example.net",
                "secops@contoso.com"
            ]);
        }
    }
    let drift = pimplan(&server, dir, &["drift"]);
    assert!(
        drift
            .stdout
            .contains("eligible_assignment.notifications.admin.additional_recipients"),
        "{}{}",
        drift.stdout,
        drift.stderr
    );
}

/// A bad notification value is PIM002 at the value, with "did you mean"; so is an unknown key
/// and a recipient that is not an e-mail address.
#[test]
fn bad_notification_values_are_pim002_at_the_value() {
    let server = Server::start();
    let findings = |policy: &str| {
        let ws = workspace("", policy);
        let run = pimplan(&server, ws.path(), &["lint", "--format", "json"]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        json(&run.stdout)["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                format!(
                    "{} {}:{} {} | {}",
                    f["code"].as_str().unwrap_or(""),
                    f["line"],
                    f["column"],
                    f["message"].as_str().unwrap_or(""),
                    f["help"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
    };
    // Line 10 is the group's `policy:` (after 2 root lines, 3 of principals, 4 of the group).
    let level = findings(
        "    policy:\n      member:\n        eligible_assignment:\n          notifications:\n            admin: { level: critcal, additional_recipients: [pim-alerts@contoso.com, Security Team] }\n",
    );
    assert_eq!(level.len(), 2, "{level:?}");
    assert!(
        level[0].starts_with("PIM002 14:29 `critcal` is not a valid notification level")
            && level[0].contains("did you mean `critical`?"),
        "{level:?}"
    );
    assert!(
        level[1].starts_with("PIM002 14:86 `Security Team` is not an e-mail address"),
        "{level:?}"
    );
    let key = findings(
        "    policy:\n      member:\n        activation:\n          notifications:\n            approvers: { level: all }\n",
    );
    assert!(
        key.len() == 1
            && key[0].starts_with("PIM002 14:13 unknown key `approvers`")
            && key[0].contains("did you mean `approver`?"),
        "{key:?}"
    );
    let require = findings(
        "    policy:\n      member:\n        eligible_assignment: { require: [ticket] }\n",
    );
    assert!(
        require.len() == 1
            && require[0]
                .starts_with("PIM002 12:42 `ticket` cannot be required on eligible assignment"),
        "{require:?}"
    );
}

/// Notification settings changed in the service are imported: `import --generate-config`
/// writes them, the YAML lints clean, and the plan after it has no changes.
#[test]
fn notifications_are_imported_and_plan_clean() {
    let server = Server::start();
    // The group's policies exist once something asks for them; make them, then change them
    // as an admin would in the portal.
    let _ = send(
        &server,
        "GET",
        &format!(
            "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'{OPS}'%20and%20scopeType%20eq%20'Group'%20and%20roleDefinitionId%20eq%20'member'"
        ),
        None,
    );
    {
        let mut s = server.state();
        if let Some((_, rules)) = s.policies.get_mut(&(OPS.to_owned(), "member".to_owned())) {
            if let Some(r) = rules.get_mut("Notification_Approver_Admin_Assignment") {
                r["notificationLevel"] = json!("Critical");
                r["isDefaultRecipientsEnabled"] = json!(false);
                r["notificationRecipients"] = json!(["approvals@contoso.com"]);
            }
            if let Some(r) = rules.get_mut("Notification_Requestor_EndUser_Assignment") {
                r["notificationLevel"] = json!("Critical");
            }
            if let Some(r) = rules.get_mut("Enablement_Admin_Eligibility") {
                r["enabledRules"] = json!(["Justification"]);
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let dir = tmp.path();
    std::fs::write(
        dir.join("pimplan.yaml"),
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\ninclude: [imported.yaml]\n",
    )
    .unwrap_or(());
    let run = pimplan(
        &server,
        dir,
        &[
            "import",
            "--group",
            OPS,
            "--generate-config",
            "imported.yaml",
        ],
    );
    ok(&run);
    let yaml = std::fs::read_to_string(dir.join("imported.yaml")).unwrap_or_default();
    assert!(
        yaml.contains("approver: { default_recipients: false, level: critical, additional_recipients: [\"approvals@contoso.com\"] }")
            && yaml.contains("assignee: { level: critical }")
            && yaml.contains("eligible_assignment: { allow_permanent: false, max_duration: P365D, require: [\"justification\"] }"),
        "{yaml}"
    );
    let lint = pimplan(&server, dir, &["lint"]);
    assert_eq!(lint.code, 0, "{}{}\n{yaml}", lint.stdout, lint.stderr);
    let plan = pimplan(&server, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}\n{yaml}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("No changes."),
        "{}\n{yaml}",
        plan.stdout
    );
    assert_in_sync(&server, dir);
}

/// A state written before notifications were managed records policies without the new keys:
/// the plan shows `~` adding them (what the state does not say), and the apply sends them
/// without error.
#[test]
fn a_state_without_the_new_keys_plans_their_addition() {
    let server = Server::start();
    let ws = workspace("", "");
    let dir = ws.path();
    ok(&pimplan(&server, dir, APPLY));
    let path = dir.join("pimplan.state.json");
    let mut state = json(&std::fs::read_to_string(&path).unwrap_or_default());
    for p in state["policies"].as_array_mut().into_iter().flatten() {
        if let Some(settings) = p["settings"].as_object_mut() {
            settings.retain(|k, _| {
                !k.contains(".notifications.") && k != "eligible_assignment.require"
            });
        }
    }
    common::write_state(dir, &state);
    let plan = pimplan(&server, dir, &["plan"]);
    ok(&plan);
    assert!(
        plan.stdout.contains("~ policy ops (member)")
            && plan.stdout.contains("activation.notifications.admin.level"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    server.state().requests.clear();
    ok(&pimplan(&server, dir, APPLY));
    assert_fresh_single_patches(&server);
    assert_in_sync(&server, dir);
}

/// `eligible_assignment.require: [justification]` (`Enablement_Admin_Eligibility`) makes the
/// service refuse an eligibility without a justification; lint says so first (PIM609).
#[test]
fn a_justification_required_on_eligible_assignment_is_linted_and_enforced() {
    let server = Server::start();
    let ws = workspace(
        "",
        "    policy:\n      member:\n        eligible_assignment: { require: [justification] }\n",
    );
    let dir = ws.path();
    edit(&dir.join("pimplan.yaml"), ", justification: on-call", "");
    let lint = pimplan(&server, dir, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 1, "{}{}", lint.stdout, lint.stderr);
    let findings = json(&lint.stdout)["findings"].clone();
    assert!(
        findings
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["code"] == "PIM609"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m
                        .contains("eligible member of `ops` for `alice` needs a justification")))),
        "{findings}"
    );
    // With the justification back, the policy is applied first, then the eligibility.
    edit(
        &dir.join("pimplan.yaml"),
        "end: 2027-03-01T00:00:00Z",
        "end: 2027-03-01T00:00:00Z, justification: on-call",
    );
    ok(&pimplan(&server, dir, APPLY));
    let (_, rules) = policy(&server, "member");
    assert_eq!(
        rules["Enablement_Admin_Eligibility"]["enabledRules"],
        json!(["Justification"])
    );
    assert_in_sync(&server, dir);
}

/// The break-glass pattern (issue 12, point 3): a group starts from a template that caps
/// eligibility at 90 days and overrides it with `allow_permanent: true`. It lints clean; the
/// eligibility expiration rule is sent as not required, with no `maximumDuration` (the
/// inherited cap is not used), and what the service then holds plans clean.
#[test]
fn a_template_cap_overridden_by_allow_permanent_is_sent_without_a_maximum() {
    let server = Server::start();
    let top = "policy_templates:\n  standard:\n    member:\n      eligible_assignment: { max_duration: P90D }\n";
    let group = "    policy:\n      template: standard\n      member:\n        eligible_assignment: { allow_permanent: true }\n";
    let ws = workspace(top, group);
    let dir = ws.path();
    ok(&pimplan(&server, dir, &["lint"]));
    ok(&pimplan(&server, dir, APPLY));
    let sent = patches(&server);
    assert_eq!(sent.len(), 1, "the member policy only: {sent:?}");
    let rule = sent_rule(&sent[0], "Expiration_Admin_Eligibility");
    assert_eq!(rule["isExpirationRequired"], json!(false), "{rule}");
    assert!(rule.get("maximumDuration").is_none(), "{rule}");
    assert_in_sync(&server, dir);
}
