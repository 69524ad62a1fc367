//! `drift` compares the facts the privilege graph rests on (a group's role-assignability and
//! kind, its owners and standing members, the admins' directory roles and scopes, the licences
//! of users with PIM assignments) with the directory, against the loopback stand-in.

mod graph_server;

mod common;

use std::error::Error;
use std::time::{Duration, Instant};

use graph_server::{
    ALICE, ALICE_LINE, BOB, BOB_LINE, DirGroup, DirLicense, DirRole, DirThrottle, Directory,
    Lagging, Server, pimplan,
};

const T0: &str = "2026-12-01T00:00:00Z";
const GROUP: &str = "99999999-0000-4000-8000-000000000009";
const CAROL: &str = "cccccccc-0000-4000-8000-000000000003";
const DAVE: &str = "dddddddd-0000-4000-8000-000000000004";
const UNIT: &str = "5d107bba-d8e2-4e13-b6ae-884be90e5d1a";
const PRIVILEGED_ROLE_ADMIN: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const HELPDESK_ADMIN: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
/// The exit status of `drift` when it finds drift.
const DRIFTED: i32 = 2;

fn workspace() -> tempfile::TempDir {
    common::workspace_with(&format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nadministrative_units:\n  - {{ name: emea, id: {UNIT} }}\nprincipals:\n  - {{ name: alice, type: user, id: {ALICE}, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: {BOB}, licenses: [SPE_E5] }}\n  - {{ name: carol, type: user, id: {CAROL} }}\n  - {{ name: dave, type: user, id: {DAVE} }}\nadmins:\n  - {{ principal: carol, role: Privileged Role Administrator }}\n  - {{ principal: dave, role: Helpdesk Administrator, scope: administrative_unit, administrative_unit: emea }}\ngroups:\n  - name: ops\n    id: {GROUP}\n    role_assignable: true\n    type: security\n    owners: [dave]\n    members: [carol]\n    entra_roles: [Helpdesk Administrator]\nassignments:\n{ALICE_LINE}{BOB_LINE}"
    ))
}

fn p2() -> DirLicense {
    DirLicense {
        sku_part_number: "AAD_PREMIUM_P2".into(),
        service_plans: vec![("AAD_PREMIUM_P2".into(), "Success".into())],
    }
}

/// The directory as the files declare it. Ids are written as Microsoft's examples print
/// them, some in upper case: Graph compares them without regard to case.
fn matching() -> Directory {
    let mut ops = DirGroup::security(&GROUP.to_uppercase(), "ops");
    ops.is_assignable_to_role = true;
    ops.owners = vec![DAVE.to_uppercase()];
    ops.members = vec![CAROL.into()];
    Directory {
        groups: vec![ops],
        roles: vec![
            DirRole {
                principal_id: CAROL.into(),
                role_definition_id: PRIVILEGED_ROLE_ADMIN.into(),
                directory_scope_id: "/".into(),
            },
            DirRole {
                principal_id: DAVE.into(),
                role_definition_id: HELPDESK_ADMIN.into(),
                directory_scope_id: format!("/administrativeUnits/{UNIT}"),
            },
            DirRole {
                principal_id: GROUP.to_uppercase(),
                role_definition_id: HELPDESK_ADMIN.into(),
                directory_scope_id: "/".into(),
            },
        ],
        users: [
            (ALICE.to_owned(), vec![p2()]),
            (
                BOB.to_owned(),
                vec![DirLicense {
                    sku_part_number: "SPE_E5".into(),
                    service_plans: vec![("AAD_PREMIUM_P2".into(), "Success".into())],
                }],
            ),
            (CAROL.to_owned(), Vec::new()),
            (DAVE.to_owned(), Vec::new()),
        ]
        .into_iter()
        .collect(),
        ..Directory::default()
    }
}

/// The workspace applied to the stand-in, with `directory` as its directory.
fn applied(directory: Option<Directory>) -> (Server, tempfile::TempDir) {
    let server = Server::start();
    let ws = workspace();
    let run = pimplan(
        &server,
        ws.path(),
        T0,
        &["apply", "--target", "graph", "--auto-approve"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    server.state().directory = directory;
    (server, ws)
}

fn directory_reads(server: &Server) -> Vec<String> {
    server
        .state()
        .requests
        .iter()
        .filter(|r| {
            r.path.starts_with("/v1.0/groups")
                || r.path.starts_with("/v1.0/roleManagement")
                || r.path.starts_with("/v1.0/users")
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn facts_as_declared_are_no_drift_with_one_request_each() -> Result<(), Box<dyn Error>> {
    let (server, ws) = applied(Some(matching()));
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    assert!(!drift.stdout.contains("not checked"), "{}", drift.stdout);
    // Bob's active PIM membership shows in the group's members, and is PIM's, not a
    // standing member. One request per group read, per owners and members, per admin and
    // per licensed user with PIM assignments, and one for the group's own roles.
    // The members' service principals, which v1.0's `/members` leaves out, through
    // `$expand=members`: one request more.
    let reads = directory_reads(&server);
    assert_eq!(reads.len(), 9, "{reads:#?}");
    for path in [
        format!("/v1.0/groups/{GROUP}"),
        format!("/v1.0/groups/{GROUP}/owners"),
        format!("/v1.0/groups/{GROUP}/members"),
        "/v1.0/roleManagement/directory/roleAssignments".to_owned(),
        format!("/v1.0/users/{ALICE}/licenseDetails"),
        format!("/v1.0/users/{BOB}/licenseDetails"),
    ] {
        assert!(
            reads
                .iter()
                .any(|r| r.split('?').next() == Some(format!("GET {path}").as_str())),
            "{path}: {reads:#?}"
        );
    }
    // Each read asks for only what it compares.
    assert!(reads.iter().all(|r| r.contains("$select=")), "{reads:#?}");
    assert!(
        reads
            .iter()
            .any(|r| r.contains(&format!("$filter=principalId eq '{CAROL}'"))),
        "{reads:#?}"
    );
    Ok(())
}

#[test]
fn each_fact_that_differs_is_drift_named_on_its_own() {
    let (server, ws) = applied(Some(matching()));
    type Change = fn(&mut Directory);
    let cases: Vec<(Change, &str)> = vec![
        (
            |d| d.groups[0].is_assignable_to_role = false,
            "~ group ops: role_assignable is false in the service, true in the files",
        ),
        (
            |d| {
                d.groups[0].group_types = vec!["Unified".into()];
                d.groups[0].mail_enabled = true;
            },
            "~ group ops: type is microsoft365 in the service, security in the files",
        ),
        (
            |d| d.groups[0].owners.push(ALICE.to_uppercase()),
            "~ group ops: owners are alice, dave in the service, dave in the files",
        ),
        (
            |d| d.groups[0].members.clear(),
            "~ group ops: members are none in the service, carol in the files",
        ),
        (
            |d| d.roles[1].directory_scope_id = "/".into(),
            "~ principal dave: directory roles are Helpdesk Administrator (directory) in the service, Helpdesk Administrator (administrative unit emea) in the files",
        ),
        (
            |d| d.roles[0].role_definition_id = "62e90394-69f5-4237-9190-012177145e10".into(),
            "~ principal carol: directory roles are Global Administrator (directory) in the service, Privileged Role Administrator (directory) in the files",
        ),
        (
            |d| d.roles.truncate(2),
            "~ group ops: directory roles are none in the service, Helpdesk Administrator (directory) in the files",
        ),
        (
            |d| {
                if let Some(l) = d.users.get_mut(ALICE) {
                    l[0].service_plans[0].1 = "Disabled".into();
                }
            },
            "~ principal alice: licenses are AAD_PREMIUM_P2 in the service, entra_id_p2 (not held: entra_id_p2) in the files",
        ),
    ];
    for (change, line) in cases {
        let mut d = matching();
        change(&mut d);
        server.state().directory = Some(d);
        let drift = pimplan(&server, ws.path(), T0, &["drift"]);
        assert_eq!(
            drift.code, DRIFTED,
            "{line}\n{}{}",
            drift.stdout, drift.stderr
        );
        assert!(drift.stdout.contains(line), "{line}\n{}", drift.stdout);
        assert!(
            drift.stdout.contains("Drift: 1 difference(s)."),
            "{line}\n{}",
            drift.stdout
        );
    }
    // `plan --refresh` reports the same drift.
    let mut d = matching();
    d.groups[0].is_assignable_to_role = false;
    server.state().directory = Some(d);
    let plan = pimplan(
        &server,
        ws.path(),
        T0,
        &["plan", "--refresh", "--detailed-exitcode"],
    );
    assert!(
        plan.stdout
            .contains("~ group ops: role_assignable is false in the service"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
}

#[test]
fn owners_members_and_roles_are_read_across_pages() {
    let mut d = matching();
    d.page_size = Some(1);
    d.groups[0].owners = vec![DAVE.into(), BOB.into()];
    d.groups[0].members = vec![CAROL.into(), DAVE.into()];
    d.roles.push(DirRole {
        principal_id: CAROL.into(),
        role_definition_id: HELPDESK_ADMIN.into(),
        directory_scope_id: "/".into(),
    });
    let (server, ws) = applied(Some(d));
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    // The second page of each list was read: bob and dave (second items) are found.
    for line in [
        "~ group ops: owners are bob, dave in the service, dave in the files",
        "~ group ops: members are carol, dave in the service, carol in the files",
        "~ principal carol: directory roles are Helpdesk Administrator (directory), Privileged Role Administrator (directory) in the service, Privileged Role Administrator (directory) in the files",
    ] {
        assert!(drift.stdout.contains(line), "{line}\n{}", drift.stdout);
    }
    assert!(
        directory_reads(&server)
            .iter()
            .any(|r| r.contains("/owners")),
        "owners read"
    );
    let paged = server
        .state()
        .requests
        .iter()
        .filter(|r| r.path.contains("/members") || r.path.contains("/owners"))
        .count();
    assert!(paged >= 4, "{paged} owner/member requests");
}

#[test]
fn a_group_deleted_in_the_service_is_drift() {
    let mut d = matching();
    d.groups.clear();
    let (server, ws) = applied(Some(d));
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("- group ops: not in the directory (deleted, or a wrong id)"),
        "{}",
        drift.stdout
    );
    // Named once, and its owners and members are not read.
    assert_eq!(
        drift.stdout.matches("group ops:").count(),
        1,
        "{}",
        drift.stdout
    );
    assert!(
        !directory_reads(&server)
            .iter()
            .any(|r| r.contains("/owners") || r.contains("/members"))
    );
}

#[test]
fn facts_the_app_may_not_read_are_not_checked_and_not_drift() {
    let (server, ws) = applied(None);
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    for needs in [
        "they need GroupMember.Read.All",
        "they need RoleManagement.Read.Directory",
        "they need User.Read.All",
    ] {
        assert!(drift.stdout.contains(needs), "{needs}\n{}", drift.stdout);
    }
    // One refused request of each kind, no more.
    assert_eq!(directory_reads(&server).len(), 3);
}

#[test]
fn import_writes_the_facts_and_they_lint_clean_and_show_no_drift() -> Result<(), Box<dyn Error>> {
    let (server, _source) = applied(Some(matching()));
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    std::fs::write(
        dir.join("pimplan.yaml"),
        "version: 1\ntenant: { id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }\ninclude: [imported.yaml]\n",
    )?;
    let run = pimplan(
        &server,
        dir,
        T0,
        &[
            "import",
            "--group",
            GROUP,
            "--generate-config",
            "imported.yaml",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let yaml = std::fs::read_to_string(dir.join("imported.yaml"))?;
    for line in [
        "    role_assignable: true\n",
        "    type: security\n",
        "    owners: [\"principal-dddddddd\"]\n",
        "    members: [\"principal-cccccccc\"]\n",
        "  - { principal: \"principal-cccccccc\", role: \"Privileged Role Administrator\" }\n",
        "  - { principal: \"principal-dddddddd\", role: \"Helpdesk Administrator\", scope: administrative_unit, administrative_unit: \"unit-5d107bba\" }\n",
        "  - { name: \"unit-5d107bba\", id: \"5d107bba-d8e2-4e13-b6ae-884be90e5d1a\" }\n",
    ] {
        assert!(yaml.contains(line), "{line}\n{yaml}");
    }
    // Bob's active PIM membership is not written as a standing member.
    assert!(!yaml.contains("members: [\"principal-bbbbbbbb"), "{yaml}");
    let lint = pimplan(&server, dir, T0, &["lint"]);
    assert_eq!(lint.code, 0, "{}{}\n{yaml}", lint.stdout, lint.stderr);
    // What import wrote is what drift compares: no drift.
    let drift = pimplan(&server, dir, T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}\n{yaml}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    let reads = directory_reads(&server);
    assert!(
        reads.iter().any(|r| r.contains("/owners")) && !drift.stdout.contains("not checked"),
        "{reads:#?}\n{}",
        drift.stdout
    );
    Ok(())
}

fn throttle(path: &str, status: u16, times: usize, retry_after: u64) -> DirThrottle {
    DirThrottle {
        path: path.into(),
        status,
        times,
        retry_after,
    }
}

fn reads_of(server: &Server, part: &str) -> usize {
    directory_reads(server)
        .iter()
        .filter(|r| r.contains(part))
        .count()
}

#[test]
fn throttled_directory_reads_are_asked_again_after_retry_after() {
    let (server, ws) = applied(Some(matching()));
    {
        let mut s = server.state();
        s.requests.clear();
        s.directory_throttle = vec![
            throttle("/members", 429, 2, 1),
            throttle("/owners", 503, 1, 1),
            throttle("/roleManagement/", 429, 1, 0),
            throttle("/licenseDetails", 503, 1, 0),
        ];
    }
    let started = Instant::now();
    let drift = pimplan(&server, ws.path(), T0, &["drift", "--verbose"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    // Each throttled read was asked again, no sooner than Retry-After said.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reads_of(&server, "/members"), 3);
    assert_eq!(reads_of(&server, "/owners"), 2);
    assert_eq!(reads_of(&server, "/roleManagement/"), 4);
    assert_eq!(reads_of(&server, "/licenseDetails"), 3);
    for line in ["throttled (429)", "throttled (503)", "x-ms-throttle-scope"] {
        assert!(drift.stderr.contains(line), "{line}\n{}", drift.stderr);
    }
}

#[test]
fn a_directory_read_throttled_past_the_limit_fails_naming_what_it_read() {
    for (path, status, names) in [
        (
            "/members",
            429,
            format!("while reading the members of group ops (GET /groups/{GROUP}/members)"),
        ),
        (
            "/roleManagement/",
            503,
            "while reading the directory roles of carol (GET /roleManagement/directory/roleAssignments)"
                .to_owned(),
        ),
    ] {
        let (server, ws) = applied(Some(matching()));
        server.state().requests.clear();
        server.state().directory_throttle = vec![throttle(path, status, 1000, 0)];
        let drift = pimplan(&server, ws.path(), T0, &["drift"]);
        assert_eq!(drift.code, 1, "{}{}", drift.stdout, drift.stderr);
        assert!(!drift.stdout.contains("No drift"), "{}", drift.stdout);
        for text in [
            format!("Microsoft Graph answered {status}"),
            format!("(still {status} after 8 retries)"),
            names.clone(),
        ] {
            assert!(drift.stderr.contains(&text), "{text}\n{}", drift.stderr);
        }
        // The client's limit: the first request and eight more.
        assert_eq!(reads_of(&server, path), 9, "{path}");
    }
}

#[test]
fn an_empty_page_with_a_next_link_is_followed() {
    let mut d = matching();
    d.empty_pages = true;
    let (server, ws) = applied(Some(d));
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    assert_eq!(
        reads_of(&server, "/members"),
        2,
        "an empty page, then carol's"
    );

    // Across pages of one item each, every one after an empty page: all are read.
    let mut d = matching();
    d.empty_pages = true;
    d.page_size = Some(1);
    d.groups[0].owners = vec![DAVE.into(), BOB.into()];
    d.groups[0].members = vec![CAROL.into(), DAVE.into()];
    server.state().directory = Some(d);
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    for line in [
        "~ group ops: owners are bob, dave in the service, dave in the files",
        "~ group ops: members are carol, dave in the service, carol in the files",
    ] {
        assert!(drift.stdout.contains(line), "{line}\n{}", drift.stdout);
    }
}

fn lagging(list: &str, principal: &str, add: bool, reads: usize) -> Lagging {
    Lagging {
        group: GROUP.into(),
        list: list.into(),
        principal: principal.into(),
        add,
        reads,
        until: None,
    }
}

#[test]
fn a_change_still_replicating_is_read_again_and_is_not_drift() {
    // Bob's active PIM membership is removed by an apply; the directory still lists him
    // as a member for two more reads of the list (replication lag).
    let (server, ws) = applied(Some(matching()));
    let text = std::fs::read_to_string(ws.path().join("pimplan.yaml")).unwrap_or_default();
    std::fs::write(ws.path().join("pimplan.yaml"), text.replace(BOB_LINE, ""))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let later = "2026-12-01T00:10:00Z";
    let apply = pimplan(
        &server,
        ws.path(),
        later,
        &[
            "apply",
            "--target",
            "graph",
            "--auto-approve",
            "--allow-mass-removal",
        ],
    );
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    {
        let mut s = server.state();
        if let Some(d) = s.directory.as_mut() {
            d.groups[0].members.push(BOB.into());
            d.lagging = vec![lagging("members", BOB, false, 2)];
        }
        s.requests.clear();
    }
    let drift = pimplan(&server, ws.path(), later, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    assert_eq!(
        reads_of(&server, "/members"),
        3,
        "read, and read again twice"
    );
    // A list that matches is read once.
    assert_eq!(reads_of(&server, "/owners"), 1);
}

#[test]
fn a_difference_every_read_shows_is_drift() {
    // Dave made a member outside pimplan: every read shows him.
    let mut d = matching();
    d.groups[0].members.push(DAVE.into());
    let (server, ws) = applied(Some(d));
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("~ group ops: members are carol, dave in the service, carol in the files"),
        "{}",
        drift.stdout
    );
    assert_eq!(reads_of(&server, "/members"), 3);

    // A change replicating longer than pimplan reads again shows as it stands now; the
    // next run, once it has replicated, finds no drift.
    let mut d = matching();
    d.groups[0].members.push(DAVE.into());
    d.lagging = vec![lagging("members", DAVE, false, 3)];
    server.state().directory = Some(d);
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}

#[test]
fn pim_members_are_never_standing_member_drift_listed_or_not() {
    // Bob's active PIM membership, not shown in the list yet, then shown: neither is drift,
    // and neither needs a second read.
    for unlisted in [vec![BOB.to_owned()], Vec::new()] {
        let mut d = matching();
        d.pim_unlisted = unlisted.clone();
        let (server, ws) = applied(Some(d));
        server.state().requests.clear();
        let drift = pimplan(&server, ws.path(), T0, &["drift"]);
        assert_eq!(
            drift.code, 0,
            "{unlisted:?}\n{}{}",
            drift.stdout, drift.stderr
        );
        assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
        assert_eq!(reads_of(&server, "/members"), 1, "{unlisted:?}");
    }
}

const DEPLOYER: &str = "eeeeeeee-0000-4000-8000-000000000005";
const ROBOT: &str = "ffffffff-0000-4000-8000-000000000006";

/// The workspace of `applied`, with the service principal `deployer` a standing member too.
fn with_deployer(ws: &tempfile::TempDir) {
    let path = ws.path().join("pimplan.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = text
        .replace(
            "  - { name: dave,",
            &format!("  - {{ name: deployer, type: service_principal, id: {DEPLOYER} }}\n  - {{ name: dave,"),
        )
        .replace("members: [carol]", "members: [carol, deployer]");
    std::fs::write(path, text).unwrap_or_else(|e| unreachable!("{e}"));
}

#[test]
fn service_principal_members_v1_does_not_list_are_compared_too() {
    // A declared service principal that is a member: v1.0's `/members` leaves it out, and
    // it is not reported missing.
    let mut d = matching();
    d.groups[0].members.push(DEPLOYER.into());
    d.service_principals = vec![DEPLOYER.into(), ROBOT.into()];
    let (server, ws) = applied(Some(d.clone()));
    with_deployer(&ws);
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    assert!(!drift.stdout.contains("not checked"), "{}", drift.stdout);

    // One made a member outside pimplan is drift, though `/members` does not list it.
    d.groups[0].members.push(ROBOT.into());
    server.state().directory = Some(d);
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains(&format!(
            "~ group ops: members are carol, deployer, {ROBOT} in the service, carol, deployer in the files"
        )),
        "{}",
        drift.stdout
    );
}

#[test]
fn service_principal_members_past_what_expand_shows_are_not_checked_not_missing() {
    // Twenty members before the declared service principal: `$expand` does not reach it.
    let mut d = matching();
    let others: Vec<String> = (0..19)
        .map(|i| format!("12345678-0000-4000-8000-0000000000{i:02}"))
        .collect();
    d.groups[0].members.extend(others.iter().cloned());
    d.groups[0].members.push(DEPLOYER.into());
    d.service_principals = vec![DEPLOYER.into()];
    let (server, ws) = applied(Some(d));
    with_deployer(&ws);
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("? service principals among the members of group ops: not checked (Microsoft Graph v1.0 does not list them in /members, and `$expand=members` shows only the first 20 members)"),
        "{}",
        drift.stdout
    );
    // The nineteen other members are drift; deployer is not said to be missing.
    assert!(
        drift.stdout.contains(&format!(
            "{}, carol in the service, carol in the files",
            others[18]
        )),
        "{}",
        drift.stdout
    );
}

#[test]
fn a_group_just_created_is_read_again_before_it_is_called_gone() {
    // The group's first two reads meet a replica it has not reached (404): read again, it
    // is there, and as declared.
    let mut d = matching();
    d.arriving = vec![(GROUP.into(), 2)];
    let (server, ws) = applied(Some(d));
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    assert_eq!(
        reads_of(
            &server,
            &format!("/groups/{GROUP}?$select=id,isAssignableToRole")
        ),
        3
    );
    // The same for a list of the group.
    if let Some(d) = server.state().directory.as_mut() {
        d.arriving = vec![(format!("{GROUP}/owners"), 2)];
    }
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert_eq!(reads_of(&server, "/owners"), 3, "404 twice, then found");

    // A user just created: its licences are read again, not called missing.
    if let Some(d) = server.state().directory.as_mut() {
        d.arriving = vec![(format!("/users/{ALICE}"), 2)];
    }
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert_eq!(reads_of(&server, &format!("/users/{ALICE}")), 3);

    // Gone on every read: drift, after reading it three times.
    if let Some(d) = server.state().directory.as_mut() {
        d.arriving = vec![(GROUP.into(), 3)];
    }
    server.state().requests.clear();
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("- group ops: not in the directory (deleted, or a wrong id)"),
        "{}",
        drift.stdout
    );
}

#[test]
fn a_change_replicating_for_a_while_is_waited_for_between_reads() {
    // Dave's removal shows 2.5 s from now, whatever the reads: pimplan's reads 1.5 s apart
    // (the first one within 2.5 s of the start) see it on the third read.
    let (server, ws) = applied(Some(matching()));
    if let Some(d) = server.state().directory.as_mut() {
        d.groups[0].members.push(DAVE.into());
        d.lagging = vec![Lagging {
            until: Some(Instant::now() + Duration::from_millis(2500)),
            ..lagging("members", DAVE, false, 0)
        }];
    }
    server.state().requests.clear();
    let run = server.run(
        ws.path(),
        T0,
        chrono::TimeDelta::zero(),
        &["drift"],
        &[("PIMPLAN_TEST_SETTLE_MS", "1500".to_owned())],
    );
    let drift = common::Run::of(&run);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("No drift"), "{}", drift.stdout);
    assert_eq!(reads_of(&server, "/members"), 3);
}

#[test]
fn a_pim_membership_made_outside_pimplan_is_not_also_a_standing_member() {
    // Dave given an active PIM membership of ops outside pimplan: the directory lists him
    // among the members. It is drift once, as the assignment made outside, not again as a
    // standing member.
    let (server, ws) = applied(Some(matching()));
    {
        let mut s = server.state();
        let outside = s.schedules.iter().find(|x| !x.eligible).cloned();
        if let Some(mut outside) = outside {
            outside.id = "outside-dave".into();
            outside.principal_id = DAVE.into();
            s.schedules.push(outside);
        }
    }
    let drift = pimplan(&server, ws.path(), T0, &["drift"]);
    assert_eq!(drift.code, DRIFTED, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("+ assignment ops/dave (member, active): in the service, not in the state (made outside pimplan)"),
        "{}",
        drift.stdout
    );
    assert!(!drift.stdout.contains("members are"), "{}", drift.stdout);
    assert!(
        drift.stdout.contains("Drift: 1 difference(s)."),
        "{}",
        drift.stdout
    );
}
