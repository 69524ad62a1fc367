//! What a person sees: the human output, snapshotted (insta). Colour off, width fixed.

use std::path::Path;

use assert_cmd::Command;

/// Write `files` into a temporary workspace and lint it; returns stdout and the exit code.
fn lint(files: &[(&str, &str)]) -> (String, i32) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    for (name, text) in files {
        let path = tmp.path().join(name);
        if let Some(parent) = Path::new(&path).parent() {
            std::fs::create_dir_all(parent).unwrap_or(());
        }
        std::fs::write(&path, text).unwrap_or(());
    }
    let out = Command::cargo_bin("pimplan")
        .unwrap_or_else(|e| unreachable!("{e}"))
        .current_dir(tmp.path())
        .env_remove("PIMPLAN_NOW")
        .args(["lint", "--color", "never", "--now", "2026-12-01T00:00:00Z"])
        .output()
        .unwrap_or_else(|e| unreachable!("{e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

const PEOPLE: &str = "principals:\n  - { name: alice, type: user, licenses: [entra_id_p2] }\n";

#[test]
fn policy_violation_labels_the_value_and_the_policy() {
    let (out, code) = lint(&[(
        "pimplan.yaml",
        &format!(
            "version: 1\n{PEOPLE}groups:\n  - name: prod-db-admins\n    policy:\n      member:\n        eligible_assignment:\n          max_duration: P90D\nassignments:\n  - group: prod-db-admins\n    principal: alice\n    role: member\n    type: eligible\n    duration: P120D\n    justification: migration\n"
        ),
    )]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn duplicate_definition_across_files_labels_both_files() {
    let (out, code) = lint(&[
        (
            "pimplan.yaml",
            "version: 1\ninclude: [\"principals/*.yaml\"]\n",
        ),
        ("principals/a.yaml", PEOPLE),
        (
            "principals/b.yaml",
            "# contractors\nprincipals:\n  - name: alice\n    type: user\n",
        ),
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn duplicate_key_labels_both_keys() {
    let (out, code) = lint(&[(
        "pimplan.yaml",
        &format!(
            "version: 1\n{PEOPLE}groups:\n  - name: ops\nassignments:\n  - group: ops\n    principal: alice\n    type: eligible\n    role: member\n    type: active\n    duration: P30D\n"
        ),
    )]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn misspelt_value_suggests_the_spelling() {
    let (out, code) = lint(&[(
        "pimplan.yaml",
        &format!(
            "version: 1\n{PEOPLE}groups:\n  - name: ops\nassignments:\n  - {{ group: ops, principal: alice, role: member, type: elegible, end: 2027-01-01T00:00:00, justification: x }}\n"
        ),
    )]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn permanent_for_a_break_glass_account_gives_the_emergency_access_advice() {
    let (out, code) = lint(&[(
        "pimplan.yaml",
        "version: 1\nprincipals:\n  - { name: alice, type: user, licenses: [entra_id_p2] }\n  - { name: breakglass-01, type: user, licenses: [entra_id_p2], emergency_access: true }\ngroups:\n  - name: ops\nassignments:\n  - { group: ops, principal: breakglass-01, role: member, type: active, permanent: true, justification: break glass }\n  - { group: ops, principal: alice, role: member, type: eligible, permanent: true, justification: on-call }\n",
    )]);
    assert_eq!(code, 1);
    // The break-glass account gets Microsoft's emergency-access advice, not "make it time-bound";
    // alice, an ordinary principal, still gets the expiry advice.
    assert_eq!(out.matches("Microsoft advises").count(), 1, "{out}");
    assert_eq!(out.matches("replace `permanent: true`").count(), 1, "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn exchange_sharepoint_teams_and_yammer_administrators_can_each_bypass_pim() {
    // Each of these roles holds `microsoft.directory/groups.unified/members/update`
    // (Microsoft Entra built-in roles, permissions reference).
    for (role, short) in [
        ("Exchange Administrator", "Exchange"),
        ("SharePoint Administrator", "SharePoint"),
        ("Teams Administrator", "Teams"),
        ("Yammer Administrator", "Yammer"),
    ] {
        let (out, code) = lint(&[(
            "pimplan.yaml",
            &format!(
                "version: 1\n{PEOPLE}admins:\n  - {{ principal: alice, role: {role} }}\ngroups:\n  - name: finance-app-owners\n    type: microsoft365\n"
            ),
        )]);
        assert_eq!(code, 0, "{role}: a warning only\n{out}");
        assert!(out.contains("PIM403(pim-bypass-possible)"), "{role}\n{out}");
        assert!(out.contains("[pimplan.yaml:8:11]"), "{role}\n{out}");
        assert!(
            out.contains(&format!(
                "{short} administrators can change the members of `finance-app-owners` outside PIM"
            )),
            "{role}\n{out}"
        );
    }
}

#[test]
fn unclosed_bracket_is_shown_at_the_bracket_with_where_the_parser_stopped() {
    let (out, code) = lint(&[(
        "pimplan.yaml",
        "version: 1\nprincipals:\n  - name: erin\n    type: user\n    licenses: [entra_id_p2, entra_id_governance\n  - name: frank\n    type: user\n",
    )]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn activation_and_expiry_maximums_quote_what_was_written_with_the_length_in_words() {
    let (out, code) = lint(&[(
        "pimplan.yaml",
        &format!(
            "version: 1\n{PEOPLE}groups:\n  - name: ops\n    policy:\n      member:\n        activation: {{ max_duration: P2W }}\n        eligible_assignment: {{ max_duration: P1DT0H }}\n        active_assignment: {{ max_duration: \"PT480M\" }}\n      owner:\n        activation: {{ max_duration: PT75M }}\nassignments:\n  - {{ group: ops, principal: alice, role: member, type: eligible, duration: P1D, justification: on-call rotation }}\n"
        ),
    )]);
    assert_eq!(code, 1, "{out}");
    for line in [
        // PIM605
        "activation maximum `P2W` (14 days) is over 24 hours",
        // PIM606
        "eligible assignment maximum `P1DT0H` (1 day) is not a portal choice",
        "active assignment maximum `PT480M` (8 hours) is not a portal choice",
        // PIM611
        "activation maximum `PT75M` (1 hour 15 minutes) is off the 30-minute grid",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}
