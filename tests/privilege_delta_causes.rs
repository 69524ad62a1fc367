//! The privilege delta's `caused_by` reverts each change on the after graph (an overlay,
//! `src/paths/revert.rs`) instead of building the graph again: its result must be the full
//! rebuild's (`privilege_delta_rebuilt`, the method it replaced) in every case. Checked on
//! random workspaces, states and plans (proptest), and on every fixture workspace with its
//! assignments all created and all removed.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use pimplan::config::model::Workspace;
use pimplan::paths::delta::{DeltaInput, PrivilegeDelta, privilege_delta_rebuilt};
use pimplan::paths::{BuildOptions, Grant, Grants, build_with, privilege_delta};
use pimplan::state::change::Change;
use pimplan::state::{AssignmentRecord, AssignmentSpec, PolicyRecord, PolicySpec};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const AT: &str = "2026-12-01T00:00:00Z";
const GROUPS: usize = 4;
const USERS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];
/// Principals an assignment may name: users, a group principal merged with g0, a group
/// principal whose members are not declared, a service principal, one nobody declares.
const PRINCIPALS: [&str; 9] = [
    "u0",
    "u1",
    "u2",
    "u3",
    "u4",
    "gp-merged",
    "gp-open",
    "sp0",
    "ux",
];
/// Assignment groups: the declared ones and one nobody declares.
const ASSIGNED: [&str; 5] = ["g0", "g1", "g2", "g3", "gx"];
const ROLES: [&str; 8] = [
    "Global Administrator",
    "Privileged Role Administrator",
    "Groups Administrator",
    "Helpdesk Administrator",
    "User Administrator",
    "Privileged Authentication Administrator",
    "Security Administrator",
    "Application Administrator",
];
const ADMIN_ROLES: [&str; 6] = [
    "Helpdesk Administrator",
    "Groups Administrator",
    "Global Administrator",
    "User Administrator",
    "Password Administrator",
    "Exchange Administrator",
];

fn group_id(i: usize) -> String {
    format!("10000000-0000-4000-8000-00000000000{i}")
}

fn no_span(_: &str) -> Option<pimplan::source::Span> {
    None
}

/// One group's facts.
#[derive(Clone, Debug)]
struct GroupFacts {
    role_assignable: bool,
    m365: bool,
    with_id: bool,
    owners: Vec<usize>,
    members: Vec<usize>,
    roles: Vec<(usize, bool)>,
}

#[derive(Clone, Debug)]
struct Case {
    groups: Vec<GroupFacts>,
    admins: Vec<(usize, usize, bool)>,
    unit_members: Vec<usize>,
    restricted: bool,
    protected: bool,
    /// (identity, times, group id variant) per side.
    before: Vec<(usize, u8, u8)>,
    after: Vec<(usize, u8, u8)>,
    /// (group, role, settings, group id variant) per side.
    before_policies: Vec<(usize, bool, u8, u8)>,
    after_policies: Vec<(usize, bool, u8, u8)>,
}

fn facts() -> impl Strategy<Value = GroupFacts> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(0..USERS.len(), 0..3),
        proptest::collection::vec(0..7usize, 0..3),
        proptest::collection::vec((0..ROLES.len(), any::<bool>()), 0..3),
    )
        .prop_map(
            |(role_assignable, m365, with_id, owners, members, roles)| GroupFacts {
                role_assignable,
                m365: m365 && !role_assignable,
                with_id,
                owners,
                members,
                roles,
            },
        )
}

/// Identities: group × principal × role × type.
const IDENTITIES: usize = ASSIGNED.len() * PRINCIPALS.len() * 4;

fn case() -> impl Strategy<Value = Case> {
    let side = || proptest::collection::vec((0..IDENTITIES, 0u8..6, 0u8..4), 0..10);
    let policies =
        || proptest::collection::vec((0..ASSIGNED.len(), any::<bool>(), 0u8..6, 0u8..3), 0..6);
    (
        proptest::collection::vec(facts(), GROUPS),
        proptest::collection::vec(
            (0..USERS.len() + 1, 0..ADMIN_ROLES.len(), any::<bool>()),
            0..4,
        ),
        proptest::collection::vec(0..USERS.len() + GROUPS + 1, 0..4),
        any::<bool>(),
        any::<bool>(),
        side(),
        side(),
        policies(),
        policies(),
    )
        .prop_map(
            |(
                groups,
                admins,
                unit_members,
                restricted,
                protected,
                before,
                mut after,
                before_policies,
                after_policies,
            )| {
                // Some plans keep part of the state: the same identities on both sides.
                after.extend(before.iter().take(before.len() / 2).copied());
                Case {
                    groups,
                    admins,
                    unit_members,
                    restricted,
                    protected,
                    before,
                    after,
                    before_policies,
                    after_policies,
                }
            },
        )
}

fn yaml(case: &Case) -> String {
    let mut y = String::from("version: 1\n");
    if case.protected {
        y.push_str("paths:\n  eligible_reset_protection: protected\n");
    }
    y.push_str("principals:\n");
    for u in USERS {
        y.push_str(&format!("  - {{ name: {u}, type: user }}\n"));
    }
    y.push_str(&format!(
        "  - {{ name: gp-merged, type: group, id: {} }}\n",
        group_id(0)
    ));
    y.push_str("  - { name: gp-open, type: group, id: 20000000-0000-4000-8000-000000000001 }\n");
    y.push_str(
        "  - { name: sp0, type: service_principal, id: 40000000-0000-4000-8000-000000000001, owners: [u1] }\n",
    );
    y.push_str("groups:\n");
    let member_names = ["u0", "u1", "u2", "u3", "u4", "gp-open", "gp-merged"];
    for (i, g) in case.groups.iter().enumerate() {
        y.push_str(&format!("  - name: g{i}\n"));
        if g.with_id || i == 0 {
            y.push_str(&format!("    id: {}\n", group_id(i)));
        }
        if g.role_assignable {
            y.push_str("    role_assignable: true\n");
        }
        if g.m365 {
            y.push_str("    type: microsoft365\n");
        }
        let list = |names: Vec<&str>| format!("[{}]", names.join(", "));
        let mut owners: Vec<&str> = g.owners.iter().map(|o| USERS[*o]).collect();
        owners.dedup();
        if !owners.is_empty() {
            y.push_str(&format!("    owners: {}\n", list(owners)));
        }
        let mut members: Vec<&str> = g.members.iter().map(|m| member_names[*m]).collect();
        members.dedup();
        // A group is not a member of itself.
        members.retain(|m| !(i == 0 && *m == "gp-merged"));
        if !members.is_empty() {
            y.push_str(&format!("    members: {}\n", list(members)));
        }
        let mut roles = g.roles.clone();
        roles.dedup_by_key(|r| r.0);
        if !roles.is_empty() {
            y.push_str("    entra_roles:\n");
            for (r, eligible) in roles {
                if eligible {
                    y.push_str(&format!(
                        "      - {{ role: {}, type: eligible }}\n",
                        ROLES[r]
                    ));
                } else {
                    y.push_str(&format!("      - {}\n", ROLES[r]));
                }
            }
        }
    }
    let unit: Vec<String> = case
        .unit_members
        .iter()
        .map(|m| match *m {
            m if m < USERS.len() => USERS[m].to_owned(),
            m if m < USERS.len() + GROUPS => format!("g{}", m - USERS.len()),
            _ => "gx".to_owned(),
        })
        .collect();
    let mut unit = unit;
    unit.sort();
    unit.dedup();
    y.push_str(
        "administrative_units:\n  - name: au0\n    id: 50000000-0000-4000-8000-000000000001\n",
    );
    if case.restricted {
        y.push_str("    restricted_management: true\n");
    }
    y.push_str(&format!("    members: [{}]\n", unit.join(", ")));
    if !case.admins.is_empty() {
        y.push_str("admins:\n");
        for (p, r, scoped) in &case.admins {
            let who = USERS.get(*p).copied().unwrap_or("sp0");
            if *scoped {
                y.push_str(&format!(
                    "  - {{ principal: {who}, role: {}, scope: administrative_unit, administrative_unit: au0 }}\n",
                    ADMIN_ROLES[*r]
                ));
            } else {
                y.push_str(&format!(
                    "  - {{ principal: {who}, role: {} }}\n",
                    ADMIN_ROLES[*r]
                ));
            }
        }
    }
    y
}

/// An assignment spec: identity `i`, one of six timings, one of four group-id variants
/// (none, the group's, another group's, the group's in capitals).
fn spec(i: usize, times: u8, id: u8) -> Value {
    let g = i % ASSIGNED.len();
    let p = (i / ASSIGNED.len()) % PRINCIPALS.len();
    let rest = i / (ASSIGNED.len() * PRINCIPALS.len());
    let role = if rest.is_multiple_of(2) {
        "member"
    } else {
        "owner"
    };
    let kind = if rest / 2 == 0 { "eligible" } else { "active" };
    let mut v = json!({
        "group": ASSIGNED[g], "principal": PRINCIPALS[p], "role": role, "type": kind,
    });
    match times {
        0 => v["duration"] = json!("P30D"),
        1 => v["permanent"] = json!(true),
        2 => v["start"] = json!("2026-12-05T00:00:00Z"),
        3 => v["end"] = json!("2026-11-15T00:00:00Z"),
        4 => {
            v["start"] = json!("2026-11-01T00:00:00Z");
            v["end"] = json!("2027-01-01T00:00:00Z");
        }
        _ => v["duration"] = json!("P90D"),
    }
    match id {
        1 if g < GROUPS => v["group_id"] = json!(group_id(g)),
        2 => v["group_id"] = json!(group_id((g + 1) % GROUPS)),
        3 if g < GROUPS => v["group_id"] = json!(group_id(g).to_uppercase()),
        _ => {}
    }
    v
}

fn record(i: usize, times: u8, id: u8) -> std::result::Result<AssignmentRecord, serde_json::Error> {
    let s: AssignmentSpec = serde_json::from_value(spec(i, times, id))?;
    let (starts, ends) = match times {
        0 => ("2026-11-20T00:00:00Z", Some("2026-12-20T00:00:00Z")),
        1 => ("2026-01-01T00:00:00Z", None),
        2 => ("2026-12-05T00:00:00Z", None),
        3 => ("2026-10-01T00:00:00Z", Some("2026-11-15T00:00:00Z")),
        4 => ("2026-11-01T00:00:00Z", Some("2027-01-01T00:00:00Z")),
        _ => ("2026-11-30T00:00:00Z", Some("2027-02-28T00:00:00Z")),
    };
    let mut v = serde_json::to_value(&s)?;
    v["key"] = json!(s.key());
    v["applied_at"] = json!(starts);
    v["starts_at"] = json!(starts);
    if let Some(e) = ends {
        v["ends_at"] = json!(e);
    }
    serde_json::from_value(v)
}

fn policy(
    g: usize,
    owner: bool,
    settings: u8,
    id: u8,
) -> std::result::Result<PolicySpec, serde_json::Error> {
    let (approval, require, context) = match settings {
        0 => ("true", "mfa, justification", "none"),
        1 => ("false", "mfa, justification", "none"),
        2 => ("false", "justification", "none"),
        3 => ("false", "none", "none"),
        4 => ("false", "justification", "ctx1"),
        _ => ("true", "none", "none"),
    };
    let mut v = json!({
        "group": ASSIGNED[g], "role": if owner { "owner" } else { "member" },
        "settings": {
            "activation.approval.required": approval,
            "activation.approval.approvers": if approval == "true" { "u0, u1" } else { "none" },
            "activation.require": require,
            "activation.authentication_context": context,
            "activation.max_duration": "PT2H",
        },
    });
    match id {
        1 if g < GROUPS => v["group_id"] = json!(group_id(g)),
        2 => v["group_id"] = json!(group_id((g + 1) % GROUPS)),
        _ => {}
    }
    serde_json::from_value(v)
}

fn policy_record(p: &PolicySpec) -> std::result::Result<PolicyRecord, serde_json::Error> {
    let mut v = serde_json::to_value(p)?;
    v["key"] = json!(p.key());
    v["applied_at"] = json!("2026-11-01T00:00:00Z");
    serde_json::from_value(v)
}

/// The changes from `before` to `after`, by key (the first of a key on each side), as
/// `plan` makes them: creates, updates, removes.
fn changes(
    before: &[AssignmentRecord],
    after: &[AssignmentSpec],
    before_policies: &[PolicyRecord],
    after_policies: &[PolicySpec],
) -> std::result::Result<Vec<Change>, serde_json::Error> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for a in after {
        if !seen.insert(a.key()) {
            continue;
        }
        let b = before.iter().find(|b| b.key == a.key());
        if b.is_some_and(|b| b.spec == *a) {
            continue;
        }
        let action = if b.is_some() { "update" } else { "create" };
        let mut v =
            json!({"action": action, "address": a.key(), "object": "assignment", "after": a});
        if let Some(b) = b {
            v["before"] = serde_json::to_value(b)?;
        }
        out.push(serde_json::from_value(v)?);
    }
    for b in before {
        if !seen.insert(b.key.clone()) {
            continue;
        }
        out.push(serde_json::from_value(
            json!({"action": "remove", "address": b.key, "object": "assignment", "before": b}),
        )?);
    }
    let mut seen = std::collections::HashSet::new();
    for a in after_policies {
        if !seen.insert(a.key()) {
            continue;
        }
        let b = before_policies.iter().find(|b| b.key == a.key());
        if b.is_some_and(|b| b.spec == *a) {
            continue;
        }
        let mut v = json!({"action": if b.is_some() { "update" } else { "create" },
                           "address": a.key(), "object": "policy", "after": a});
        if let Some(b) = b {
            v["before"] = serde_json::to_value(b)?;
        }
        out.push(serde_json::from_value(v)?);
    }
    for b in before_policies {
        if !seen.insert(b.key.clone()) {
            continue;
        }
        out.push(serde_json::from_value(
            json!({"action": "remove", "address": b.key, "object": "policy", "before": b}),
        )?);
    }
    Ok(out)
}

fn at() -> Result<DateTime<FixedOffset>> {
    Ok(DateTime::parse_from_rfc3339(AT)?)
}

/// Both methods on one input (the after graph built by the delta, and handed in), and what
/// they found: (deltas equal, entries, entries with a cause).
fn compare(
    ws: &Workspace,
    before: &Grants<'_>,
    after: &Grants<'_>,
    changes: &[Change],
) -> Result<(
    Option<PrivilegeDelta>,
    Option<PrivilegeDelta>,
    Option<PrivilegeDelta>,
)> {
    let at = at()?;
    let options = BuildOptions::from_settings(&ws.settings);
    let input = |after_graph| DeltaInput {
        workspace: ws,
        before,
        after,
        changes,
        at,
        options,
        after_graph,
    };
    let overlay = privilege_delta(&input(None));
    let handed = privilege_delta(&input(Some(build_with(ws, after, at, options))));
    let rebuilt = privilege_delta_rebuilt(&input(None));
    Ok((overlay, handed, rebuilt))
}

fn entries(delta: &PrivilegeDelta) -> (usize, usize) {
    let mut all = 0;
    let mut caused = 0;
    for t in &delta.targets {
        for c in t
            .gained
            .iter()
            .map(|e| &e.caused_by)
            .chain(t.lost.iter().map(|e| &e.caused_by))
            .chain(t.class_changed.iter().map(|e| &e.caused_by))
        {
            all += 1;
            caused += usize::from(!c.is_empty());
        }
    }
    (all, caused)
}

fn load(dir: &Path, text: &str) -> Result<pimplan::load::Loaded> {
    let root = dir.join("pimplan.yaml");
    std::fs::write(&root, text)?;
    pimplan::load::load(&root).map_err(|e| format!("{e:?}").into())
}

#[test]
fn the_overlay_finds_the_causes_a_full_rebuild_finds() -> Result {
    let dir = tempfile::tempdir()?;
    let cases = AtomicUsize::new(0);
    let with_delta = AtomicUsize::new(0);
    let all_entries = AtomicUsize::new(0);
    let caused_entries = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let fail = |e: Box<dyn Error>| TestCaseError::fail(e.to_string());
    runner.run(&case(), |case| {
        let text = yaml(&case);
        let loaded = load(dir.path(), &text).map_err(fail)?;
        let ws = loaded
            .workspace
            .as_ref()
            .ok_or_else(|| TestCaseError::fail(format!("the workspace did not load:\n{text}")))?;
        let to = |e: serde_json::Error| TestCaseError::fail(e.to_string());
        let before: Vec<AssignmentRecord> = case
            .before
            .iter()
            .map(|(i, t, id)| record(*i, *t, *id))
            .collect::<std::result::Result<_, _>>()
            .map_err(to)?;
        let after: Vec<AssignmentSpec> = case
            .after
            .iter()
            .map(|(i, t, id)| serde_json::from_value(spec(*i, *t, *id)))
            .collect::<std::result::Result<_, _>>()
            .map_err(to)?;
        let before_policies: Vec<PolicyRecord> = case
            .before_policies
            .iter()
            .map(|(g, o, s, id)| policy(*g, *o, *s, *id).and_then(|p| policy_record(&p)))
            .collect::<std::result::Result<_, _>>()
            .map_err(to)?;
        let after_policies: Vec<PolicySpec> = case
            .after_policies
            .iter()
            .map(|(g, o, s, id)| policy(*g, *o, *s, *id))
            .collect::<std::result::Result<_, _>>()
            .map_err(to)?;
        let changes = changes(&before, &after, &before_policies, &after_policies).map_err(to)?;
        let now = at().map_err(fail)?;
        let before_grants = Grants {
            assignments: before.iter().map(Grant::recorded).collect(),
            policies: before_policies.iter().map(|p| &p.spec).collect(),
            span_of: &no_span,
        };
        let after_grants = Grants {
            assignments: after.iter().map(|s| Grant::declared(s, now)).collect(),
            policies: after_policies.iter().collect(),
            span_of: &no_span,
        };
        let (overlay, handed, rebuilt) =
            compare(ws, &before_grants, &after_grants, &changes).map_err(fail)?;
        prop_assert_eq!(
            &overlay,
            &rebuilt,
            "workspace:\n{}\nchanges: {:#?}",
            text,
            changes
        );
        prop_assert_eq!(&handed, &rebuilt);
        cases.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = &rebuilt {
            with_delta.fetch_add(1, Ordering::Relaxed);
            let (all, caused) = entries(d);
            all_entries.fetch_add(all, Ordering::Relaxed);
            caused_entries.fetch_add(caused, Ordering::Relaxed);
        }
        Ok(())
    })?;
    let (cases, with_delta) = (cases.into_inner(), with_delta.into_inner());
    let (all, caused) = (all_entries.into_inner(), caused_entries.into_inner());
    eprintln!("{cases} cases, {with_delta} with a delta, {all} entries, {caused} with a cause");
    // The cases are not trivial: most plans move someone's reach, and most entries have a
    // cause, some not (a change whose revert alone undoes nothing).
    assert!(
        with_delta * 2 > cases,
        "{with_delta} of {cases} with a delta"
    );
    assert!(
        caused * 2 > all && caused < all,
        "{caused} of {all} entries with a cause"
    );
    Ok(())
}

fn roots(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            roots(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "pimplan.yaml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every fixture workspace: its assignments and policies all created (an empty state), and
/// all removed (the state holding them, the files none).
#[test]
fn on_every_fixture_the_overlay_finds_the_causes_a_full_rebuild_finds() -> Result {
    let mut all = Vec::new();
    roots(Path::new("fixtures"), &mut all)?;
    all.sort();
    let now = at()?;
    let mut compared = 0;
    let mut caused = 0;
    for root in &all {
        let Ok(loaded) = pimplan::load::load(root) else {
            continue;
        };
        let Some(ws) = loaded.workspace.as_ref() else {
            continue;
        };
        let desired = pimplan::plan::desired(ws);
        let specs: Vec<AssignmentSpec> =
            desired.assignments.iter().map(|(s, _)| s.clone()).collect();
        let policies: Vec<PolicySpec> = desired.policies.iter().map(|(p, _)| p.clone()).collect();
        let records: Vec<AssignmentRecord> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut v = serde_json::to_value(s)?;
                v["key"] = json!(s.key());
                v["applied_at"] = json!("2026-11-01T00:00:00Z");
                v["starts_at"] = json!("2026-11-01T00:00:00Z");
                // Some recorded grants ended already.
                if i % 3 == 2 {
                    v["ends_at"] = json!("2026-11-20T00:00:00Z");
                }
                serde_json::from_value(v)
            })
            .collect::<std::result::Result<_, _>>()?;
        let policy_records: Vec<PolicyRecord> = policies
            .iter()
            .map(policy_record)
            .collect::<std::result::Result<_, _>>()?;
        let empty = Grants {
            assignments: Vec::new(),
            policies: Vec::new(),
            span_of: &no_span,
        };
        let declared = Grants {
            assignments: specs.iter().map(|s| Grant::declared(s, now)).collect(),
            policies: policies.iter().collect(),
            span_of: &no_span,
        };
        let recorded = Grants {
            assignments: records.iter().map(Grant::recorded).collect(),
            policies: policy_records.iter().map(|p| &p.spec).collect(),
            span_of: &no_span,
        };
        let created = changes(&[], &specs, &[], &policies)?;
        let removed = changes(&records, &[], &policy_records, &[])?;
        for (before, after, changes) in
            [(&empty, &declared, &created), (&recorded, &empty, &removed)]
        {
            let (overlay, handed, rebuilt) = compare(ws, before, after, changes)?;
            let at = root.display();
            assert_eq!(overlay, rebuilt, "{at}");
            assert_eq!(handed, rebuilt, "{at}");
            compared += 1;
            caused += rebuilt.as_ref().map_or(0, |d| entries(d).1);
        }
    }
    assert!(compared > 300, "compared {compared}");
    eprintln!("{compared} fixture plans, {caused} entries with a cause");
    assert!(caused > 50, "{caused} entries with a cause");
    Ok(())
}
