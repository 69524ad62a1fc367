//! An output file the user names (`plan --out`, `lint --write-baseline`) never replaces the
//! state, its backup or lock, or a file of the workspace: a slip of the keyboard there would
//! lose every recorded grant or a declaration. Through the real binary.

mod common;

use common::{eligible_workspace, flat, run, state};

const T0: &str = "2026-12-01T00:00:00Z";

#[test]
fn plan_out_refuses_the_state_and_the_workspace_files() {
    let ws = eligible_workspace(3);
    let dir = ws.path();
    let applied = run(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    std::fs::create_dir(dir.join("sub")).unwrap_or(());
    let before = std::fs::read(dir.join("pimplan.state.json")).unwrap_or_default();
    let yaml = std::fs::read(dir.join("pimplan.yaml")).unwrap_or_default();
    for (out, whose) in [
        ("pimplan.state.json", "the state file"),
        ("sub/../pimplan.state.json", "the state file"),
        ("pimplan.state.json.backup", "the state's backup"),
        ("pimplan.yaml", "the workspace file"),
    ] {
        let plan = run(dir, T0, &["plan", "--out", out]);
        assert_eq!(plan.code, 1, "{out}: {}{}", plan.stdout, plan.stderr);
        assert!(
            plan.stderr.contains("refusing to write the plan")
                && plan.stderr.contains(whose)
                && plan.stderr.contains("nothing was written"),
            "{out}: {}",
            plan.stderr
        );
        assert_eq!(
            std::fs::read(dir.join("pimplan.state.json")).unwrap_or_default(),
            before
        );
        assert_eq!(
            std::fs::read(dir.join("pimplan.yaml")).unwrap_or_default(),
            yaml
        );
    }
    assert!(
        state(dir)["assignments"]
            .as_array()
            .is_some_and(|a| a.len() == 3)
    );
    // Any other path is fine.
    let plan = run(dir, T0, &["plan", "--out", "sub/p.json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(dir.join("sub/p.json").is_file());
}

#[test]
fn a_baseline_never_replaces_the_state_or_a_workspace_file() {
    let ws = eligible_workspace(2);
    let dir = ws.path();
    let applied = run(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let before = std::fs::read(dir.join("pimplan.state.json")).unwrap_or_default();
    for (out, whose) in [
        ("pimplan.state.json", "the state file"),
        ("pimplan.yaml", "the workspace file"),
    ] {
        let lint = run(dir, T0, &["lint", "--write-baseline", out]);
        assert_ne!(lint.code, 0, "{out}: {}{}", lint.stdout, lint.stderr);
        let said = flat(&lint.stderr);
        assert!(
            said.contains("refusing to write the baseline") && said.contains(whose),
            "{out}: {}",
            lint.stderr
        );
    }
    assert_eq!(
        std::fs::read(dir.join("pimplan.state.json")).unwrap_or_default(),
        before
    );
    let lint = run(dir, T0, &["lint", "--write-baseline", "baseline.json"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
}

#[test]
fn generated_config_never_replaces_the_state_or_the_root_file() {
    let ws = eligible_workspace(1);
    let dir = ws.path();
    for (out, whose) in [
        ("pimplan.state.json", "the state file"),
        ("pimplan.yaml", "the workspace file"),
    ] {
        // Refused before signing in: no credentials are needed to see it.
        let import = run(dir, T0, &["import", "--generate-config", out]);
        assert_eq!(import.code, 1, "{out}: {}{}", import.stdout, import.stderr);
        assert!(
            import
                .stderr
                .contains("refusing to write the generated YAML")
                && import.stderr.contains(whose),
            "{out}: {}",
            import.stderr
        );
    }
    assert!(!dir.join("pimplan.state.json").exists());
}
