//! The privilege graph on the facts of issue 14 point 1: standing `members:` (E1), eligible
//! `entra_roles` (E9), `azure_roles` (E10), service principal `owners:` (E16), AU-scoped
//! admins on their unit's declared members (E19), restricted management units, the options
//! from `paths:`, and the tier answers; with the golden scenarios (d)–(h) of
//! privilege-paths §A.13 item 2, each computed by hand in its comment.

mod common;

use std::error::Error;

use common::graph::{find, graph, kinds, principal, role, who};
use pimplan::paths::{
    BuildOptions, EdgeKind, NodeId, PathClass, PrivilegeGraph, tier, tier0_targets,
};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The heads of `node`'s out-edges, each with its flags, sorted.
fn out_heads(g: &PrivilegeGraph, node: NodeId) -> Vec<String> {
    let mut v: Vec<String> = g
        .out_edges(node)
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
    v
}

fn hub(g: &PrivilegeGraph, name: &str) -> Result<NodeId> {
    Ok(g.find(&format!("hub:{name}"))
        .ok_or(format!("no hub {name}"))?)
}

/// E1 from `members:`: alice, a standing member of tier0 (holds GA), holds GA standing in
/// 2 hops (E1 + E8), the E1 edge declared at the name in `members:`. A group principal as a
/// standing member: nested (E7) in a non-role-assignable security group, refused (no edge,
/// a note) in a role-assignable one, as for an active assignment.
#[test]
fn e1_standing_members_hold_the_group_roles() -> Result {
    let b = graph(
        "principals:
  - { name: alice, type: user }
  - { name: bob, type: user }
  - { name: crew, type: group, id: 00000000-0000-0000-0000-0000000000c1 }
groups:
  - name: tier0
    role_assignable: true
    members: [alice, crew]
    entra_roles: [Global Administrator]
  - { name: crew-grp, id: 00000000-0000-0000-0000-0000000000c1, members: [bob] }
  - { name: outer, members: [crew] }
",
    )?;
    let g = &b.graph;
    let ga = role(g, "Global Administrator")?;
    assert_eq!(who(g, ga), ["alice standing 2"]);
    let reach = g.reach(ga, PathClass::Standing);
    let alice = find(g, &reach, "alice")?;
    assert_eq!(kinds(g, alice), ["E1", "E8"]);
    assert_eq!(b.source_text(alice.path[0]).as_deref(), Some("alice"));
    // bob is in crew-grp (= crew), crew is nested in outer (E7), not in tier0.
    let outer = g.group_member("outer").ok_or("outer")?;
    let reach = g.reach(outer, PathClass::Standing);
    assert_eq!(kinds(g, find(g, &reach, "bob")?), ["E1", "E7"]);
    assert!(g.notes().iter().any(|n| n.starts_with("E7: 1 standing")));
    Ok(())
}

/// E9: tier0 is eligible for GA with the role policy facts approval and MFA, so its standing
/// member alice activates GA past an approval gate: class approval, E1 + E9, 2 hops, never
/// standing. ops is eligible for Exchange Administrator without gates: bob's path is an
/// activation, no-approval-no-mfa (not standing); alice reaches it too, once GA is active
/// (E14 grants any role): approval, 3 hops. A short-form (active) role stays E8.
#[test]
fn e9_an_eligible_group_role_carries_the_role_policy_facts() -> Result {
    let b = graph(
        "principals:
  - { name: alice, type: user }
  - { name: bob, type: user }
groups:
  - name: tier0
    role_assignable: true
    members: [alice]
    entra_roles:
      - { role: Global Administrator, type: eligible, approval: true, mfa: true }
      - Reports Reader
  - name: ops
    role_assignable: true
    members: [bob]
    entra_roles:
      - { role: Exchange Administrator, type: eligible }
",
    )?;
    let g = &b.graph;
    let ga = role(g, "Global Administrator")?;
    assert_eq!(who(g, ga), ["alice approval 2"]);
    assert!(g.reach(ga, PathClass::NoApproval).is_empty());
    let reach = g.reach(ga, PathClass::Approval);
    let alice = find(g, &reach, "alice")?;
    assert_eq!(kinds(g, alice), ["E1", "E9"]);
    let e9 = g.edge(alice.path[1]);
    assert_eq!(e9.kind, EdgeKind::EligibleForRole);
    assert!(e9.gates.approval.is_some() && e9.gates.mfa && e9.action);
    assert_eq!(
        b.source_text(alice.path[1]).as_deref(),
        Some("Global Administrator")
    );
    let exchange = role(g, "Exchange Administrator")?;
    assert_eq!(
        who(g, exchange),
        ["bob no-approval-no-mfa 2", "alice approval 3"]
    );
    assert!(g.reach(exchange, PathClass::Standing).is_empty());
    let reports = role(g, "Reports Reader")?;
    let reach = g.reach(reports, PathClass::Standing);
    assert_eq!(kinds(g, find(g, &reach, "alice")?), ["E1", "E8"]);
    Ok(())
}

/// E10: subs holds Owner on a subscription; its standing member alice holds it standing,
/// E1 + E10, 2 hops, the E10 edge declared at the entry's role name. The node is
/// `azure_role:Owner@/subscriptions/s1`, found by lookup, by a covering scope and by name.
/// By default only Owner at `/` is tier 0, so this one is tier 1 (a privileged Azure role);
/// Reader is tier 2.
#[test]
fn e10_a_group_azure_role_is_held_by_its_members() -> Result {
    let b = graph(
        "principals:
  - { name: alice, type: user }
groups:
  - name: subs
    members: [alice]
    azure_roles:
      - { role: Owner, scope: /subscriptions/s1 }
      - { role: Reader, scope: / }
",
    )?;
    let g = &b.graph;
    let owner = g
        .azure_role("Owner", "/subscriptions/s1")
        .ok_or("no azure role node")?;
    assert_eq!(g.node(owner).key(), "azure_role:Owner@/subscriptions/s1");
    assert_eq!(g.resolve("Owner@/subscriptions/s1"), Some(owner));
    assert_eq!(
        g.azure_roles_covering("owner", "/subscriptions/s1/resourceGroups/rg"),
        [owner]
    );
    assert!(
        g.azure_roles_covering("Owner", "/subscriptions/s2")
            .is_empty()
    );
    assert_eq!(who(g, owner), ["alice standing 2"]);
    let reach = g.reach(owner, PathClass::Standing);
    let alice = find(g, &reach, "alice")?;
    assert_eq!(kinds(g, alice), ["E1", "E10"]);
    assert_eq!(b.source_text(alice.path[1]).as_deref(), Some("Owner"));
    let paths = b.paths()?;
    assert_eq!(tier(g, owner, paths), Some(1));
    let reader = g.azure_role("Reader", "/").ok_or("no reader")?;
    assert_eq!(tier(g, reader, paths), Some(2));
    assert!(!tier0_targets(g, paths).contains(&owner));
    Ok(())
}

/// E16: carol owns svc, so she can add a secret to it: one hop, an action
/// (no-approval-no-mfa), declared at her name in the SP's `owners:`. svc holds Privileged Role
/// Administrator, so carol reaches GA: E16 (1) + E8 (1) + E14 into the hub (0) and out (1) =
/// 3 hops. dave owns nothing and reaches nothing.
#[test]
fn e16_a_service_principal_owner_takes_it_over() -> Result {
    let b = graph(
        "principals:
  - { name: carol, type: user }
  - { name: dave, type: user }
  - { name: svc, type: service_principal, owners: [carol] }
admins:
  - { principal: svc, role: Privileged Role Administrator }
",
    )?;
    let g = &b.graph;
    let svc = principal(g, "svc")?;
    assert_eq!(who(g, svc), ["carol no-approval-no-mfa 1"]);
    let reach = g.reach(svc, PathClass::Approval);
    let carol = find(g, &reach, "carol")?;
    assert_eq!(kinds(g, carol), ["E16"]);
    assert_eq!(b.source_text(carol.path[0]).as_deref(), Some("carol"));
    let reach = g.reach(role(g, "Global Administrator")?, PathClass::Approval);
    let carol = find(g, &reach, "carol")?;
    assert_eq!(kinds(g, carol), ["E16", "E8", "E14", "E14"]);
    assert_eq!((carol.class, carol.hops), (PathClass::NoApprovalNoMfa, 3));
    assert!(
        g.reach_from(principal(g, "dave")?, PathClass::Approval)
            .is_empty()
    );
    Ok(())
}

const AU: &str = "principals:
  - { name: anna, type: user }
  - { name: boris, type: user }
  - { name: carla, type: user }
  - { name: dan, type: user }
  - { name: tomas, type: user }
administrative_units:
  - name: emea-au
    members: [anna, boris, carla, emea-ops, emea-ra, tomas]
  - { name: empty-au }
admins:
  - { principal: tomas, role: User Administrator, scope: administrative_unit, administrative_unit: emea-au }
  - { principal: boris, role: Reports Reader }
  - { principal: tomas, role: Helpdesk Administrator, scope: administrative_unit, administrative_unit: empty-au }
groups:
  - { name: emea-ops }
  - { name: emea-ra, role_assignable: true }
  - { name: world }
assignments:
  - { group: emea-ra, principal: carla, role: member, type: eligible, duration: P30D, justification: x }
";

/// Golden (g), E19: tomas is User Administrator scoped to emea-au, which declares anna,
/// boris, carla, tomas and the groups emea-ops and emea-ra. By hand, his scoped role reaches:
/// anna (a plain user; a password-only reset: target_mfa); carla (an eligible member of a
/// role-assignable group: the contested case, unprotected by default: documented_risk);
/// emea-ops (a non-role-assignable group: add members, bypasses_pim). Not boris nor tomas
/// (they hold administrator roles), not emea-ra (role-assignable), not dan nor world (not in
/// the unit). anna: E8 + E19 = no-approval-no-mfa, 2 hops, declared at `anna` in the unit's
/// `members`. His Helpdesk role in empty-au reaches no one, which is the one note.
#[test]
fn e19_golden_g_au_scoped_user_admin_reaches_the_unit_s_members_only() -> Result {
    let b = graph(AU)?;
    let g = &b.graph;
    let scoped = g
        .entra_role_at("User Administrator", "emea-au")
        .ok_or("no scoped role")?;
    assert_eq!(
        out_heads(g, scoped),
        [
            "anna target_mfa",
            "carla target_mfa documented_risk",
            "emea-ops bypasses_pim"
        ]
    );
    let reach = g.reach(principal(g, "anna")?, PathClass::Approval);
    let tomas = find(g, &reach, "tomas")?;
    assert_eq!(kinds(g, tomas), ["E8", "E19"]);
    assert_eq!((tomas.class, tomas.hops), (PathClass::NoApprovalNoMfa, 2));
    assert_eq!(b.source_text(tomas.path[1]).as_deref(), Some("anna"));
    assert!(
        who(g, principal(g, "dan")?)
            .iter()
            .all(|w| !w.starts_with("tomas"))
    );
    assert!(
        who(g, g.group_member("world").ok_or("world")?)
            .iter()
            .all(|w| !w.starts_with("tomas"))
    );
    let empty = g
        .entra_role_at("Helpdesk Administrator", "empty-au")
        .ok_or("no empty-au role")?;
    assert!(g.out_edges(empty).is_empty());
    let notes: Vec<_> = g.notes().iter().filter(|n| n.starts_with("E19")).collect();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with("E19: 1 "));
    Ok(())
}

/// (g) under `eligible_reset_protection: protected`, read by [`build`] from `paths:`: carla
/// is protected, the rest as before.
#[test]
fn e19_the_contested_case_follows_the_setting() -> Result {
    let b = graph(&format!(
        "paths:\n  eligible_reset_protection: protected\n{AU}"
    ))?;
    let g = &b.graph;
    let scoped = g
        .entra_role_at("User Administrator", "emea-au")
        .ok_or("no scoped role")?;
    assert_eq!(
        out_heads(g, scoped),
        ["anna target_mfa", "emea-ops bypasses_pim"]
    );
    Ok(())
}

/// Golden (d): gaby is Groups Administrator; azure-ops (not role-assignable) holds Owner at
/// `/`, tier 0 by default. She adds herself to azure-ops (E12 into the hub and out: 1 hop,
/// bypasses_pim) and then holds Owner (E10, 1 hop): E8 + E12 + E12 + E10 = 3 hops,
/// no-approval-no-mfa. The same role held by the role-assignable ra-ops is out of her reach.
#[test]
fn golden_d_groups_admin_to_a_non_role_assignable_group_holding_azure_owner() -> Result {
    let b = graph(
        "principals:
  - { name: gaby, type: user }
admins:
  - { principal: gaby, role: Groups Administrator }
groups:
  - name: azure-ops
    azure_roles: [{ role: Owner, scope: / }]
  - name: ra-ops
    role_assignable: true
    azure_roles: [{ role: User Access Administrator, scope: / }]
",
    )?;
    let g = &b.graph;
    let owner = g.azure_role("Owner", "/").ok_or("no Owner@/")?;
    let reach = g.reach(owner, PathClass::Approval);
    let gaby = find(g, &reach, "gaby")?;
    assert_eq!(kinds(g, gaby), ["E8", "E12", "E12", "E10"]);
    assert_eq!((gaby.class, gaby.hops), (PathClass::NoApprovalNoMfa, 3));
    assert!(gaby.flags.bypasses_pim);
    let uaa = g
        .azure_role("User Access Administrator", "/")
        .ok_or("no UAA@/")?;
    assert!(
        who(g, uaa).iter().all(|w| !w.starts_with("gaby")),
        "{:?}",
        who(g, uaa)
    );
    let paths = b.paths()?;
    let tier0 = tier0_targets(g, paths);
    assert!(tier0.contains(&owner) && tier0.contains(&uaa));
    assert_eq!(tier(g, owner, paths), Some(0));
    Ok(())
}

const HELPDESK: &str = "principals:
  - { name: hana, type: user }
  - { name: eve, type: user }
admins:
  - { principal: hana, role: Helpdesk Administrator }
groups:
  - name: tier0
    role_assignable: true
    entra_roles: [Global Administrator]
assignments:
  - { group: tier0, principal: eve, role: member, type: eligible, duration: P30D, justification: x }
";

/// Golden (e), unprotected (the default): hana (Helpdesk) resets eve, an eligible member of
/// the role-assignable GA group: E8 + E15 + E15 = 2 hops, flags target_mfa (password only)
/// and documented_risk (the contested case). Through eve she reaches GA: + E2 (default
/// policy: justification, no MFA) + E8 = 4 hops, no-approval-no-mfa.
#[test]
fn golden_e_helpdesk_to_an_eligible_user_unprotected() -> Result {
    let b = graph(HELPDESK)?;
    let g = &b.graph;
    let reach = g.reach(principal(g, "eve")?, PathClass::Approval);
    let hana = find(g, &reach, "hana")?;
    assert_eq!(kinds(g, hana), ["E8", "E15", "E15"]);
    assert_eq!((hana.class, hana.hops), (PathClass::NoApprovalNoMfa, 2));
    assert!(hana.flags.target_mfa && hana.flags.documented_risk);
    let reach = g.reach(role(g, "Global Administrator")?, PathClass::Approval);
    let hana = find(g, &reach, "hana")?;
    assert_eq!(kinds(g, hana), ["E8", "E15", "E15", "E2", "E8"]);
    assert_eq!((hana.class, hana.hops), (PathClass::NoApprovalNoMfa, 4));
    Ok(())
}

/// Golden (e), protected (from `paths:`, read by [`build`]): hana resets no one in tier0, so
/// she reaches neither eve nor GA. [`BuildOptions::from_settings`] says the same.
#[test]
fn golden_e_helpdesk_to_an_eligible_user_protected() -> Result {
    let b = graph(&format!(
        "paths:\n  eligible_reset_protection: protected\n{HELPDESK}"
    ))?;
    let g = &b.graph;
    assert!(
        who(g, principal(g, "eve")?)
            .iter()
            .all(|w| !w.starts_with("hana"))
    );
    assert!(
        who(g, role(g, "Global Administrator")?)
            .iter()
            .all(|w| !w.starts_with("hana"))
    );
    let ws = b.loaded.workspace.as_ref().ok_or("no workspace")?;
    assert_eq!(
        BuildOptions::from_settings(&ws.settings).eligible_reset_protection,
        pimplan::paths::ResetProtection::Protected
    );
    Ok(())
}

/// Golden (f): app is Application Administrator; svc holds Privileged Role Administrator.
/// app adds a secret to svc (E8 1 + E17 into the hub 0 + out 1), then as svc grants any role
/// (E8 1 + E14 0 + 1): GA in 4 hops, no-approval-no-mfa. carol, svc's owner, takes the short
/// way: E16 + E8 + E14 + E14 = 3 hops. PRA is tier 0, and so svc's role is a tier-0 target.
#[test]
fn golden_f_application_admin_to_a_service_principal_holding_pra() -> Result {
    let b = graph(
        "principals:
  - { name: app, type: user }
  - { name: carol, type: user }
  - { name: svc, type: service_principal, owners: [carol] }
admins:
  - { principal: app, role: Application Administrator }
  - { principal: svc, role: Privileged Role Administrator }
",
    )?;
    let g = &b.graph;
    let ga = role(g, "Global Administrator")?;
    let reach = g.reach(ga, PathClass::Approval);
    let app = find(g, &reach, "app")?;
    assert_eq!(kinds(g, app), ["E8", "E17", "E17", "E8", "E14", "E14"]);
    assert_eq!((app.class, app.hops), (PathClass::NoApprovalNoMfa, 4));
    assert_eq!(find(g, &reach, "carol")?.hops, 3);
    let paths = b.paths()?;
    assert!(tier0_targets(g, paths).contains(&role(g, "Privileged Role Administrator")?));
    Ok(())
}

/// Golden (h): vip is in secure-au (restricted management) and in emea-au; anna only in
/// emea-au. Every directory-scoped reset set leaves vip out (Helpdesk and the GA/PAA row
/// alike); tomas, Helpdesk scoped to emea-au, resets anna but not vip; sam, Helpdesk scoped to
/// secure-au itself, resets vip.
#[test]
fn golden_h_a_restricted_management_au_member_is_protected() -> Result {
    let b = graph(
        "principals:
  - { name: anna, type: user }
  - { name: vip, type: user }
  - { name: sam, type: user }
  - { name: tomas, type: user }
administrative_units:
  - { name: secure-au, restricted_management: true, members: [vip] }
  - { name: emea-au, members: [vip, anna] }
admins:
  - { principal: sam, role: Helpdesk Administrator, scope: administrative_unit, administrative_unit: secure-au }
  - { principal: tomas, role: Helpdesk Administrator, scope: administrative_unit, administrative_unit: emea-au }
",
    )?;
    let g = &b.graph;
    for h in ["reset:helpdesk-administrator", "reset:all"] {
        let heads = out_heads(g, hub(g, h)?);
        assert!(
            heads.iter().any(|t| t.starts_with("anna")),
            "{h}: {heads:?}"
        );
        assert!(
            !heads.iter().any(|t| t.starts_with("vip")),
            "{h}: {heads:?}"
        );
    }
    let emea = g
        .entra_role_at("Helpdesk Administrator", "emea-au")
        .ok_or("emea")?;
    assert_eq!(out_heads(g, emea), ["anna target_mfa"]);
    let secure = g
        .entra_role_at("Helpdesk Administrator", "secure-au")
        .ok_or("secure")?;
    assert_eq!(out_heads(g, secure), ["vip target_mfa"]);
    assert_eq!(
        who(g, principal(g, "vip")?)
            .iter()
            .filter(|w| w.starts_with("sam") || w.starts_with("tomas"))
            .collect::<Vec<_>>(),
        ["sam no-approval-no-mfa 2"]
    );
    Ok(())
}

/// Tiers for renderers: GA 0 (core), Helpdesk 1 (PRIVILEGED), Directory Readers 2, an
/// AU-scoped role by its name, a group node none. A written `tier0_azure` of Owner on s1
/// makes Owner there and above tier 0 (the root too), not on s2.
#[test]
fn tiers_and_tier0_targets_follow_the_paths_section() -> Result {
    let b = graph(
        "paths:
  tier0_azure: [{ role: Owner, scope: /subscriptions/s1 }]
principals:
  - { name: tomas, type: user }
administrative_units:
  - { name: emea-au }
admins:
  - { principal: tomas, role: Global Administrator, scope: administrative_unit, administrative_unit: emea-au }
groups:
  - name: az
    azure_roles:
      - { role: Owner, scope: / }
      - { role: Owner, scope: /subscriptions/s1 }
      - { role: Owner, scope: /subscriptions/s2 }
",
    )?;
    let g = &b.graph;
    let paths = b.paths()?;
    assert_eq!(tier(g, role(g, "Global Administrator")?, paths), Some(0));
    assert_eq!(tier(g, role(g, "Helpdesk Administrator")?, paths), Some(1));
    assert_eq!(tier(g, role(g, "Directory Readers")?, paths), Some(2));
    let scoped = g
        .entra_role_at("Global Administrator", "emea-au")
        .ok_or("scoped")?;
    assert_eq!(tier(g, scoped, paths), Some(0));
    assert_eq!(tier(g, g.group_member("az").ok_or("az")?, paths), None);
    let at = |s: &str| g.azure_role("Owner", s).ok_or(format!("no Owner@{s}"));
    let tier0 = tier0_targets(g, paths);
    assert!(tier0.contains(&at("/")?) && tier0.contains(&at("/subscriptions/s1")?));
    assert!(!tier0.contains(&at("/subscriptions/s2")?));
    assert!(tier0.contains(&role(g, "Global Administrator")?));
    // The Entra tier-0 roles come first, in tier0_roles order, then the Azure ones.
    let names: Vec<_> = tier0.iter().map(|n| g.node(*n).key()).collect();
    assert_eq!(names[0], "entra_role:Global Administrator");
    assert_eq!(
        names[names.len() - 2..],
        ["azure_role:Owner@/", "azure_role:Owner@/subscriptions/s1"]
    );
    Ok(())
}
