//! The privilege graph built from small workspaces: one test per edge kind the model supports
//! today, and the golden scenarios of privilege-paths §A.13 item 2 that it can express
//! ((a), (b), (c), (i), (j), (k)), each computed by hand in its comment.

mod common;

use std::error::Error;

use common::graph::{NOW, find, graph, graph_with, kinds, member, role, time, who};
use pimplan::paths::capabilities::Capability;
use pimplan::paths::{
    BuildOptions, EdgeKind, Grants, PathClass, PrivilegeGraph, ResetProtection, Target,
};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const GA_GROUP: &str = "
  - name: tier0
    id: 00000000-0000-0000-0000-0000000000a0
    role_assignable: true
    entra_roles: [Global Administrator]
";

#[test]
fn e1_an_active_member_holds_the_group_roles_standing() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: alice, type: user }}\ngroups:{GA_GROUP}assignments:
  - {{ group: tier0, principal: alice, role: member, type: active, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    assert_eq!(
        who(g, role(g, "Global Administrator")?),
        ["alice standing 2"]
    );
    let reach = g.reach(role(g, "Global Administrator")?, PathClass::Standing);
    let alice = find(g, &reach, "alice")?;
    assert_eq!(kinds(g, alice), ["E1", "E8"]);
    assert_eq!(b.source_text(alice.path[0]).as_deref(), Some("alice"));
    assert_eq!(
        b.source_text(alice.path[1]).as_deref(),
        Some("Global Administrator")
    );
    Ok(())
}

#[test]
fn e2_an_eligible_member_carries_the_member_policy_gates() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: alice, type: user }}\n  - {{ name: dave, type: user }}\n  - {{ name: erin, type: user }}
groups:{GA_GROUP}    policy:
      member:
        activation:
          require: [mfa, justification, ticket]
          approval: {{ required: true, approvers: [erin, dave] }}
assignments:
  - {{ group: tier0, principal: alice, role: member, type: eligible, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    let target = role(g, "Global Administrator")?;
    assert_eq!(who(g, target), ["alice approval 2"]);
    // Below the approval class, nobody.
    assert!(g.reach(target, PathClass::NoApproval).is_empty());
    let reach = g.reach(target, PathClass::Approval);
    let edge = g.edge(find(g, &reach, "alice")?.path[0]);
    assert_eq!(edge.kind, EdgeKind::EligibleMember);
    let approval = edge.gates.approval.as_ref().ok_or("no approval gate")?;
    assert_eq!(approval.approvers, ["dave", "erin"]);
    assert!(edge.gates.mfa && edge.gates.justification && edge.gates.ticket);
    assert_eq!(edge.gates.auth_context, None);
    Ok(())
}

#[test]
fn e3_a_standing_owner_holds_ownership_but_membership_is_an_action() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: carol, type: user }}\n  - {{ name: olga, type: user }}\ngroups:{GA_GROUP}    owners: [carol]
assignments:
  - {{ group: tier0, principal: olga, role: owner, type: active, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    let owner = g.group_owner("tier0").ok_or("no owner node")?;
    assert_eq!(who(g, owner), ["carol standing 1", "olga standing 1"]);
    // Owners must add themselves (E5): never standing for the role.
    assert_eq!(
        who(g, role(g, "Global Administrator")?),
        ["carol no-approval-no-mfa 3", "olga no-approval-no-mfa 3"]
    );
    let reach = g.reach(owner, PathClass::Standing);
    assert_eq!(
        b.source_text(find(g, &reach, "carol")?.path[0]).as_deref(),
        Some("carol")
    );
    Ok(())
}

#[test]
fn e4_an_eligible_owner_carries_the_owner_policy_gates() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: bob, type: user }}\ngroups:{GA_GROUP}    policy:
      owner:
        activation:
          authentication_context: c1
assignments:
  - {{ group: tier0, principal: bob, role: owner, type: eligible, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    let reach = g.reach(role(g, "Global Administrator")?, PathClass::Approval);
    let bob = find(g, &reach, "bob")?;
    assert_eq!(kinds(g, bob), ["E4", "E5", "E8"]);
    assert_eq!(bob.class, PathClass::NoApproval);
    assert_eq!(
        g.edge(bob.path[0]).gates.auth_context.as_deref(),
        Some("c1")
    );
    assert!(bob.flags.outside_pim_member_policy);
    Ok(())
}

#[test]
fn e5_every_group_lets_its_owners_add_members() -> Result {
    let b = graph("groups:\n  - { name: a }\n  - { name: b, type: microsoft365 }\n")?;
    let g = &b.graph;
    for group in ["a", "b"] {
        let (owner, member) = (g.group_owner(group).ok_or("owner")?, member(g, group)?);
        let e5: Vec<_> = g
            .out_edges(owner)
            .iter()
            .filter(|e| g.edge(**e).kind == EdgeKind::OwnerAddsMembers)
            .collect();
        assert_eq!(e5.len(), 1);
        let edge = g.edge(*e5[0]);
        assert_eq!(edge.head, member);
        assert!(edge.flags.outside_pim_member_policy && edge.action);
    }
    Ok(())
}

/// Golden (c): oncall (a group principal whose id is group `oncall-grp`'s) is an eligible
/// member of tier0, which holds GA; alice is an active member of oncall-grp. alice: E1
/// (standing) + E6 (default policy: justification, no MFA) + E8 = no-approval-no-mfa, 3 hops.
/// contractors (a group principal no declared group has the id of) is an open set, counted
/// as one principal: E6 + E8, 2 hops.
#[test]
fn e6_golden_c_nested_eligible_group() -> Result {
    let b = graph(&format!(
        "principals:
  - {{ name: alice, type: user }}
  - {{ name: oncall, type: group, id: 00000000-0000-0000-0000-0000000000b0 }}
  - {{ name: contractors, type: group, id: 00000000-0000-0000-0000-0000000000c0 }}
groups:{GA_GROUP}  - {{ name: oncall-grp, id: 00000000-0000-0000-0000-0000000000B0 }}
assignments:
  - {{ group: tier0, principal: oncall, role: member, type: eligible, duration: P30D, justification: x }}
  - {{ group: tier0, principal: contractors, role: member, type: eligible, duration: P30D, justification: x }}
  - {{ group: oncall-grp, principal: alice, role: member, type: active, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    assert_eq!(g.principal("oncall"), g.group_member("oncall-grp"));
    let contractors = g.principal("contractors").ok_or("contractors")?;
    assert!(g.node(contractors).is_open_set());
    assert!(!g.node(g.principal("alice").ok_or("alice")?).is_open_set());
    let target = role(g, "Global Administrator")?;
    assert_eq!(
        who(g, target),
        [
            "contractors no-approval-no-mfa 2",
            "alice no-approval-no-mfa 3"
        ]
    );
    let reach = g.reach(target, PathClass::NoApprovalNoMfa);
    assert_eq!(kinds(g, find(g, &reach, "alice")?), ["E1", "E6", "E8"]);
    Ok(())
}

#[test]
fn e7_active_nesting_only_into_non_role_assignable_security_groups() -> Result {
    let b = graph(
        "principals:
  - { name: alice, type: user }
  - { name: inner, type: group, id: 00000000-0000-0000-0000-0000000000d0 }
groups:
  - { name: inner-grp, id: 00000000-0000-0000-0000-0000000000d0 }
  - { name: outer }
  - { name: ra, role_assignable: true }
assignments:
  - { group: inner-grp, principal: alice, role: member, type: active, duration: P30D, justification: x }
  - { group: outer, principal: inner, role: member, type: active, duration: P30D, justification: x }
  - { group: ra, principal: inner, role: member, type: active, duration: P30D, justification: x }
",
    )?;
    let g = &b.graph;
    assert_eq!(who(g, member(g, "outer")?), ["alice standing 2"]);
    let reach = g.reach(member(g, "outer")?, PathClass::Standing);
    assert_eq!(kinds(g, find(g, &reach, "alice")?), ["E1", "E7"]);
    // The service refuses a group in a role-assignable group: no edge, and a note.
    assert!(g.reach(member(g, "ra")?, PathClass::Standing).is_empty());
    assert!(g.notes().iter().any(|n| n.starts_with("E7: 1 ")));
    Ok(())
}

#[test]
fn e8_admins_hold_their_roles_and_au_scoped_ones_only_there() -> Result {
    let b = graph(
        "principals:
  - { name: priya, type: user }
  - { name: tomas, type: user }
administrative_units:
  - { name: emea-au }
admins:
  - { principal: priya, role: Global Administrator }
  - { principal: tomas, role: Helpdesk Administrator, scope: administrative_unit, administrative_unit: emea-au }
",
    )?;
    let g = &b.graph;
    assert_eq!(
        who(g, role(g, "Global Administrator")?),
        ["priya standing 1"]
    );
    let scoped = g
        .entra_role_at("Helpdesk Administrator", "emea-au")
        .ok_or("no AU-scoped role node")?;
    // priya (GA) grants any role, at any scope (E14).
    assert_eq!(
        who(g, scoped),
        ["tomas standing 1", "priya no-approval-no-mfa 2"]
    );
    // Not the directory-scoped role, and (E19, no AU members yet) no one through it.
    assert!(
        who(g, role(g, "Helpdesk Administrator")?)
            .iter()
            .all(|w| !w.starts_with("tomas"))
    );
    assert!(g.out_edges(scoped).is_empty());
    assert!(g.notes().iter().any(|n| n.starts_with("E19: 1 ")));
    Ok(())
}

#[test]
fn e11_global_and_privileged_role_admins_add_members_to_every_group() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: priya, type: user }}\nadmins:\n  - {{ principal: priya, role: Privileged Role Administrator }}\ngroups:{GA_GROUP}"
    ))?;
    let g = &b.graph;
    let reach = g.reach(member(g, "tier0")?, PathClass::Approval);
    let priya = find(g, &reach, "priya")?;
    assert_eq!(kinds(g, priya), ["E8", "E11", "E11"]);
    // role → hub → group is one hop.
    assert_eq!((priya.hops, priya.class), (2, PathClass::NoApprovalNoMfa));
    assert!(priya.flags.bypasses_pim);
    let owner = g.group_owner("tier0").ok_or("owner")?;
    assert_eq!(who(g, owner), ["priya no-approval-no-mfa 2"]);
    Ok(())
}

#[test]
fn e12_groups_administrator_adds_members_to_non_role_assignable_groups_only() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: gina, type: user }}\n  - {{ name: ivan, type: user }}
admins:\n  - {{ principal: gina, role: Groups Administrator }}\n  - {{ principal: ivan, role: Intune Administrator }}
groups:{GA_GROUP}  - {{ name: ops }}\n"
    ))?;
    let g = &b.graph;
    assert_eq!(
        who(g, member(g, "ops")?),
        ["gina no-approval-no-mfa 2", "ivan no-approval-no-mfa 2"]
    );
    assert!(who(g, member(g, "tier0")?).is_empty());
    Ok(())
}

/// Golden (j): Exchange Administrator to a non-role-assignable Microsoft 365 group
/// (E8 + E13: 2 hops, no-approval-no-mfa, bypasses PIM), not to a security group.
#[test]
fn e13_golden_j_exchange_admin_to_a_microsoft_365_group() -> Result {
    let b = graph(
        "principals:\n  - { name: mallory, type: user }
admins:\n  - { principal: mallory, role: Exchange Administrator }
groups:\n  - { name: finance, type: microsoft365 }\n  - { name: ops }\n",
    )?;
    let g = &b.graph;
    let reach = g.reach(member(g, "finance")?, PathClass::Approval);
    let mallory = find(g, &reach, "mallory")?;
    assert_eq!(kinds(g, mallory), ["E8", "E13", "E13"]);
    assert_eq!(
        (mallory.class, mallory.hops),
        (PathClass::NoApprovalNoMfa, 2)
    );
    assert!(mallory.flags.bypasses_pim);
    assert!(who(g, member(g, "ops")?).is_empty());
    Ok(())
}

#[test]
fn e14_privileged_role_administrator_grants_any_role() -> Result {
    let b = graph(
        "principals:\n  - { name: priya, type: user }
admins:\n  - { principal: priya, role: Privileged Role Administrator }\n",
    )?;
    let g = &b.graph;
    let reach = g.reach(role(g, "Global Administrator")?, PathClass::Approval);
    let priya = find(g, &reach, "priya")?;
    assert_eq!(kinds(g, priya), ["E8", "E14", "E14"]);
    assert_eq!((priya.class, priya.hops), (PathClass::NoApprovalNoMfa, 2));
    Ok(())
}

const RESET: &str = "principals:
  - { name: hana, type: user }
  - { name: paula, type: user }
  - { name: plain, type: user }
  - { name: helper, type: user }
  - { name: ga-user, type: user }
  - { name: ra-owner, type: user }
  - { name: ra-eligible, type: user }
  - { name: svc, type: service_principal }
admins:
  - { principal: hana, role: Helpdesk Administrator }
  - { principal: paula, role: Privileged Authentication Administrator }
  - { principal: helper, role: Helpdesk Administrator }
  - { principal: ga-user, role: Global Administrator }
groups:
  - { name: ra, role_assignable: true, owners: [ra-owner] }
assignments:
  - { group: ra, principal: ra-eligible, role: member, type: eligible, duration: P30D, justification: x }
";

/// Who a resetting role's hub can reset.
fn reset_targets(g: &PrivilegeGraph, hub: &str) -> Result<Vec<String>> {
    let hub = g.find(&format!("hub:{hub}")).ok_or("no hub")?;
    let mut v: Vec<String> = g
        .out_edges(hub)
        .iter()
        .map(|e| {
            let edge = g.edge(*e);
            let mut s = g.node(edge.head).name.clone();
            for f in edge.flags.names() {
                s.push(' ');
                s.push_str(f);
            }
            s
        })
        .collect();
    v.sort();
    Ok(v)
}

#[test]
fn e15_password_reset_follows_the_reset_table() -> Result {
    let b = graph(RESET)?;
    let g = &b.graph;
    // Helpdesk: users without roles or with helpdesk-row roles; not a GA, not an owner of a
    // role-assignable group; an eligible member of one with the documented risk.
    assert_eq!(
        reset_targets(g, "reset:helpdesk-administrator")?,
        [
            "hana target_mfa",
            "helper target_mfa",
            "plain target_mfa",
            "ra-eligible target_mfa documented_risk"
        ]
    );
    // PAA and GA reset anyone, owners of role-assignable groups included, with MFA reset.
    assert_eq!(
        reset_targets(g, "reset:all")?,
        [
            "ga-user",
            "hana",
            "helper",
            "paula",
            "plain",
            "ra-eligible",
            "ra-owner"
        ]
    );
    // Partner Tier1 Support: non-administrators only.
    assert_eq!(
        reset_targets(g, "reset:partner-tier1-support")?,
        ["plain target_mfa", "ra-eligible target_mfa documented_risk"]
    );
    // hana reaches plain by a reset: E8 + E15 through the hub, one hop each.
    let reach = g.reach(g.principal("plain").ok_or("plain")?, PathClass::Approval);
    let hana = find(g, &reach, "hana")?;
    assert_eq!(kinds(g, hana), ["E8", "E15", "E15"]);
    assert_eq!((hana.class, hana.hops), (PathClass::NoApprovalNoMfa, 2));
    assert!(hana.flags.target_mfa);
    // Service principals have no password.
    assert!(!reset_targets(g, "reset:all")?.iter().any(|t| t == "svc"));
    Ok(())
}

#[test]
fn e15_the_contested_case_follows_the_setting() -> Result {
    let b = graph_with(
        RESET,
        NOW,
        BuildOptions {
            eligible_reset_protection: ResetProtection::Protected,
        },
    )?;
    assert_eq!(
        reset_targets(&b.graph, "reset:helpdesk-administrator")?,
        ["hana target_mfa", "helper target_mfa", "plain target_mfa"]
    );
    Ok(())
}

#[test]
fn e17_e18_application_and_hybrid_identity_admins_take_over_service_principals() -> Result {
    let b = graph(
        "principals:
  - { name: app, type: user }
  - { name: hyb, type: user }
  - { name: svc, type: service_principal }
admins:
  - { principal: app, role: Application Administrator }
  - { principal: hyb, role: Hybrid Identity Administrator }
  - { principal: svc, role: Privileged Role Administrator }
",
    )?;
    let g = &b.graph;
    let svc = g.principal("svc").ok_or("svc")?;
    assert_eq!(
        who(g, svc),
        ["app no-approval-no-mfa 2", "hyb no-approval-no-mfa 2"]
    );
    // (f) in small: Application Admin to an SP that holds PRA, then any role.
    let reach = g.reach(role(g, "Global Administrator")?, PathClass::Approval);
    assert_eq!(
        kinds(g, find(g, &reach, "app")?),
        ["E8", "E17", "E17", "E8", "E14", "E14"]
    );
    Ok(())
}

/// Golden (a): alice is an eligible member of tier0 (holds GA), no approval, MFA required:
/// E2 (no-approval) + E8 = no-approval, 2 hops; not counted without MFA or standing.
#[test]
fn golden_a_eligible_member_of_a_ga_group_without_approval() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: alice, type: user }}\ngroups:{GA_GROUP}    policy:
      member:
        activation:
          require: [mfa, justification]
assignments:
  - {{ group: tier0, principal: alice, role: member, type: eligible, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    let target = role(g, "Global Administrator")?;
    assert_eq!(who(g, target), ["alice no-approval 2"]);
    assert_eq!(g.reach(target, PathClass::NoApproval).len(), 1);
    assert!(g.reach(target, PathClass::NoApprovalNoMfa).is_empty());
    Ok(())
}

/// Golden (b): the member policy asks for approval, the owner policy does not: bob, an
/// eligible owner, reaches GA without approval (E4 + E5 + E8, 3 hops, MFA on activation:
/// no-approval) and around the member policy; carol, an eligible member, only with
/// approval (E2 + E8, 2 hops).
#[test]
fn golden_b_eligible_owner_without_approval_member_approval_on() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: bob, type: user }}\n  - {{ name: carol, type: user }}\n  - {{ name: dave, type: user }}
groups:{GA_GROUP}    policy:
      member:
        activation:
          require: [mfa]
          approval: {{ required: true, approvers: [dave] }}
      owner:
        activation:
          require: [mfa]
assignments:
  - {{ group: tier0, principal: bob, role: owner, type: eligible, duration: P30D, justification: x }}
  - {{ group: tier0, principal: carol, role: member, type: eligible, duration: P30D, justification: x }}
"
    ))?;
    let g = &b.graph;
    let target = role(g, "Global Administrator")?;
    assert_eq!(who(g, target), ["bob no-approval 3", "carol approval 2"]);
    let reach = g.reach(target, PathClass::Approval);
    let bob = find(g, &reach, "bob")?;
    assert_eq!(kinds(g, bob), ["E4", "E5", "E8"]);
    assert!(bob.flags.outside_pim_member_policy);
    Ok(())
}

/// Golden (i): owner cycles. anna owns g1 (standing); g1's members are eligible owners of
/// g2, g2's members eligible owners of g1; g2 holds GA. anna: E3 E5 E4 E5 E8 = 5 hops,
/// no-approval-no-mfa. The cycle neither loops nor adds paths: g1 and g2 (merged group
/// principals) are not listed as principals.
#[test]
fn golden_i_owner_cycles() -> Result {
    let b = graph(
        "principals:
  - { name: anna, type: user }
  - { name: g1p, type: group, id: 00000000-0000-0000-0000-0000000000e1 }
  - { name: g2p, type: group, id: 00000000-0000-0000-0000-0000000000e2 }
groups:
  - { name: g1, id: 00000000-0000-0000-0000-0000000000e1, role_assignable: true, owners: [anna] }
  - { name: g2, id: 00000000-0000-0000-0000-0000000000e2, role_assignable: true, entra_roles: [Global Administrator] }
assignments:
  - { group: g2, principal: g1p, role: owner, type: eligible, duration: P30D, justification: x }
  - { group: g1, principal: g2p, role: owner, type: eligible, duration: P30D, justification: x }
",
    )?;
    let g = &b.graph;
    let target = role(g, "Global Administrator")?;
    assert_eq!(who(g, target), ["anna no-approval-no-mfa 5"]);
    let reach = g.reach(target, PathClass::Approval);
    assert_eq!(
        kinds(g, find(g, &reach, "anna")?),
        ["E3", "E5", "E4", "E5", "E8"]
    );
    // Forward from anna: both groups' member and owner nodes, and GA.
    let from = g.reach_from(g.principal("anna").ok_or("anna")?, PathClass::Approval);
    let keys: Vec<String> = from.iter().map(|r| g.node(r.node).key()).collect();
    for k in [
        "group:g1#owner",
        "group:g1#member",
        "group:g2#owner",
        "group:g2#member",
        "entra_role:Global Administrator",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} not in {keys:?}");
    }
    Ok(())
}

/// Golden (k): an assignment that starts tomorrow counts only at a time it is in effect, and
/// one that ended counts no more.
#[test]
fn golden_k_time() -> Result {
    let yaml = format!(
        "principals:\n  - {{ name: alice, type: user }}\n  - {{ name: old, type: user }}\ngroups:{GA_GROUP}assignments:
  - {{ group: tier0, principal: alice, role: member, type: eligible, start: 2026-12-02T00:00:00Z, end: 2027-01-01T00:00:00Z, justification: x }}
  - {{ group: tier0, principal: old, role: member, type: active, start: 2026-11-01T00:00:00Z, end: 2026-12-01T00:00:00Z, justification: x }}
"
    );
    let at = |t: &str| -> Result<Vec<String>> {
        let b = graph_with(&yaml, t, BuildOptions::default())?;
        Ok(who(&b.graph, role(&b.graph, "Global Administrator")?))
    };
    assert!(at(NOW)?.is_empty());
    assert_eq!(at("2026-12-03T00:00:00Z")?, ["alice no-approval-no-mfa 2"]);
    // The end is exclusive.
    assert!(at("2027-01-01T00:00:00Z")?.is_empty());
    assert_eq!(at("2026-11-15T00:00:00Z")?, ["old standing 2"]);
    Ok(())
}

/// The "before" side: the state's grants, as recorded (their `starts_at`/`ends_at`), with
/// no YAML spans.
#[test]
fn the_state_side_builds_from_records_without_spans() -> Result {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("pimplan.yaml");
    std::fs::write(
        &root,
        format!("version: 1\nprincipals:\n  - {{ name: alice, type: user }}\ngroups:{GA_GROUP}"),
    )?;
    let loaded = pimplan::load::load(&root).map_err(|e| e.to_string())?;
    let ws = loaded.workspace.as_ref().ok_or("no workspace")?;
    let record = |principal: &str, ends: &str| {
        serde_json::json!({
            "key": format!("assignment/name:tier0/name:{principal}/member/active"),
            "group": "tier0", "principal": principal, "role": "member", "type": "active",
            "applied_at": "2026-11-01T00:00:00Z", "starts_at": "2026-11-01T00:00:00Z",
            "ends_at": ends,
        })
    };
    let state: pimplan::state::State = serde_json::from_value(serde_json::json!({
        "format_version": 2, "lineage": "l", "serial": 1,
        "assignments": [record("alice", "2027-01-01T00:00:00Z"), record("gone", "2026-11-30T00:00:00Z")],
    }))?;
    let grants = Grants::from_state(&state);
    let g = pimplan::paths::build(ws, &grants, time(NOW)?);
    // `gone` is not in the files any more, and its record ended: not reached.
    assert_eq!(
        who(&g, role(&g, "Global Administrator")?),
        ["alice standing 2"]
    );
    let reach = g.reach(role(&g, "Global Administrator")?, PathClass::Standing);
    assert_eq!(g.edge(find(&g, &reach, "alice")?.path[0]).source, None);
    Ok(())
}

/// privilege-paths §A.8: a capability adds one edge per holding role and one fan-out shared
/// by every holder, not one edge per (admin × group).
#[test]
fn hub_fan_out_is_shared_by_all_holders() -> Result {
    let (admins, groups) = (50, 40);
    let mut yaml = String::from("principals:\n");
    for i in 0..admins {
        yaml.push_str(&format!("  - {{ name: a{i}, type: user }}\n"));
    }
    yaml.push_str("admins:\n");
    for i in 0..admins {
        yaml.push_str(&format!(
            "  - {{ principal: a{i}, role: Groups Administrator }}\n"
        ));
    }
    yaml.push_str("groups:\n");
    for i in 0..groups {
        yaml.push_str(&format!("  - {{ name: g{i} }}\n"));
    }
    let b = graph(&yaml)?;
    let g = &b.graph;
    let count = |kind| g.edges().iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(EdgeKind::HoldsRole), admins);
    assert_eq!(
        count(EdgeKind::AddMembersNonRoleAssignable),
        Capability::AddMembersNonRoleAssignable.roles().len() + groups
    );
    assert_eq!(who(g, member(g, "g7")?).len(), admins);
    Ok(())
}

#[test]
fn targets_resolve_by_kind_and_by_bare_name() -> Result {
    let b = graph(&format!(
        "principals:\n  - {{ name: alice, type: user }}\ngroups:{GA_GROUP}"
    ))?;
    let g = &b.graph;
    let ga = role(g, "Global Administrator")?;
    assert_eq!(g.resolve("Global Administrator"), Some(ga));
    assert_eq!(
        g.target(Target::EntraRole("Global Administrator")),
        Some(ga)
    );
    assert_eq!(g.resolve("tier0"), g.group_member("tier0"));
    assert_eq!(
        g.target(Target::GroupOwner("tier0")),
        g.group_owner("tier0")
    );
    assert_eq!(g.resolve("alice"), g.principal("alice"));
    assert_eq!(g.target(Target::Principal("alice")), g.principal("alice"));
    assert_eq!(g.resolve("nobody"), None);
    Ok(())
}
