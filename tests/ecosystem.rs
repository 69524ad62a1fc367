//! Where pimplan runs beside other tools: the pre-commit hook with the real `pre-commit`, and
//! the schema, the GitHub workflows and `action.yml` checked by independent validators
//! (check-jsonschema, actionlint). Each test runs one script of `tests/tools/`; the scripts
//! print PASS/FAIL lines and can be run alone (`bash tests/tools/check_schema.sh`).
//!
//! They need the tools installed: `pip install -r tests/tools/requirements.txt`. The
//! pre-commit test also builds the hook with `cargo install` from crates.io (a few minutes the
//! first time; the build is kept in `target/ecosystem/`).

use std::path::Path;
use std::process::Command;

const INSTALL_HINT: &str =
    "the ecosystem tests need Python tools: pip install -r tests/tools/requirements.txt";

/// Runs `bash tests/tools/<script>` in the project folder and asserts that it succeeded,
/// showing its output when it did not.
fn run_tool_script(script: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("bash")
        .arg(Path::new("tests/tools").join(script))
        .current_dir(root)
        .env_remove("PIMPLAN_NOW")
        .output()
        .map_err(|e| format!("cannot run bash: {e}"));
    let (ok, report) = match &output {
        Ok(out) => (
            out.status.success(),
            format!(
                "{} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
                script,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, e.clone()),
    };
    if ok {
        // Shown with `cargo test -- --nocapture`.
        println!("{report}");
    }
    assert!(ok, "tests/tools/{script} failed ({INSTALL_HINT})\n{report}");
}

/// `.pre-commit-hooks.yaml`: a throw-away repository installs the hook from this checkout's
/// current files; a bad assignment fails `git commit`, a good one passes.
#[test]
fn pre_commit_hook_blocks_bad_assignments() {
    run_tool_script("pre_commit_hook.sh");
}

/// Every must-pass fixture validates against `schemas/` with check-jsonschema; the GitHub
/// workflows (ours and those of docs/github-actions.md) pass actionlint and the SchemaStore
/// schemas, and `action.yml` passes the action schema.
#[test]
fn schema_and_workflows_pass_independent_validators() {
    run_tool_script("check_schema.sh");
}
