//! Every file an include could mean is read or reported (issue 16, point 2), and every
//! workspace file is read with a bound (point 4): over the real binary, each run with a time
//! bound (and, where memory is at stake, a memory bound), so that a hang or a runaway read
//! fails the test instead of CI.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Run, flat, json};

const T0: &str = "2026-12-01T00:00:00Z";
/// A day later: removals are then allowed (PIM701 refuses them within five minutes).
const T1: &str = "2026-12-02T00:00:00Z";

/// What used to hang is given this long; a healthy run takes well under a second.
const TIME_BOUND: Duration = Duration::from_secs(30);

fn pimplan_bounded(dir: &Path, now: &str, args: &[&str], memory_kib: Option<u64>) -> Run {
    common::run_bounded(dir, now, args, TIME_BOUND, memory_kib)
}

fn pimplan(dir: &Path, now: &str, args: &[&str]) -> Run {
    pimplan_bounded(dir, now, args, None)
}

/// 1 GiB of address space: far more than any of these workspaces needs, far less than the
/// 2 GiB file or the endless `/dev/zero` a runaway read would take.
const MEMORY_KIB: Option<u64> = Some(1 << 20);

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"))
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or(());
    }
    std::fs::write(path, text).unwrap_or_else(|e| unreachable!("{}: {e}", path.display()));
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "mkfifo {}", path.display());
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

const USERS: usize = 10;

/// A workspace whose root file defines ten users and a group `ops`, and includes
/// `as/**/*.yaml`; `as/a.yaml` makes the ten users eligible for `ops` and defines `extra`,
/// for which the root file makes `u0` eligible. Returns the folder and `as/a.yaml`'s text.
fn workspace() -> (tempfile::TempDir, String) {
    let ws = tmp();
    let mut root = String::from(
        "version: 1\ninclude: [\"as/**/*.yaml\"]\nplan: { max_removal_ratio: 1.0 }\nprincipals:\n",
    );
    let mut assignments = String::from("assignments:\n");
    for i in 0..USERS {
        root.push_str(&format!(
            "  - {{ name: u{i}, type: user, licenses: [entra_id_p2] }}\n"
        ));
        assignments.push_str(&format!(
            "  - {{ group: ops, principal: u{i}, role: member, type: eligible, duration: P90D, justification: rota }}\n"
        ));
    }
    // The root file also grants a group that `as/a.yaml` defines: were the rules to look
    // across a workspace missing that file, the group would be unknown (PIM101).
    root.push_str("groups:\n  - name: ops\n    owners: [u0]\nassignments:\n  - { group: extra, principal: u0, role: member, type: eligible, duration: P90D, justification: rota }\n");
    assignments.push_str("groups:\n  - name: extra\n    owners: [u1]\n");
    write(&ws.path().join("pimplan.yaml"), &root);
    write(&ws.path().join("as/a.yaml"), &assignments);
    (ws, assignments)
}

fn state_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("pimplan.state.json")).unwrap_or_default()
}

/// Apply the workspace to a new state, let `hide` make `as/a.yaml` unreadable to the include
/// walk, and check that the plan stops at a PIM002 saying `why` instead of planning the
/// removal of the ten grants, and that apply writes nothing.
fn an_unread_file_removes_nothing(hide: impl FnOnce(&Path), why: &str) {
    let (ws, _) = workspace();
    let dir = ws.path();
    let first = pimplan(dir, T0, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(
        first.stdout.matches("+ assignment ops/").count(),
        USERS,
        "{}",
        first.stdout
    );
    let before = state_bytes(dir);
    hide(dir);

    let lint = pimplan(dir, T1, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 1, "{}{}", lint.stdout, lint.stderr);
    let findings = json(&lint.stdout)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        findings.iter().any(
            |f| f["code"] == "PIM002" && f["message"].as_str().is_some_and(|m| m.contains(why))
        ),
        "no PIM002 saying `{why}`: {}",
        lint.stdout
    );
    // The walk left the workspace incomplete: no rule looked across it. (A file moved out of
    // the include's reach is also a PIM008: no include matches it.)
    assert!(
        findings
            .iter()
            .all(|f| f["code"] == "PIM002" || f["code"] == "PIM008"),
        "{}",
        lint.stdout
    );

    let plan = pimplan(dir, T1, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains("nothing was planned") && !plan.stdout.contains("to remove"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    let plan = pimplan(dir, T1, &["plan", "--format", "json"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(plan.stdout, "", "a plan was made");

    let apply = pimplan(dir, T1, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert_eq!(state_bytes(dir), before, "apply changed the state");
}

#[test]
fn a_file_name_that_is_not_utf8_stops_the_plan() {
    an_unread_file_removes_nothing(
        |dir| {
            let odd = dir
                .join("as")
                .join(std::ffi::OsStr::from_bytes(b"a\xff.yaml"));
            std::fs::rename(dir.join("as/a.yaml"), odd).unwrap_or_else(|e| unreachable!("{e}"));
        },
        "whose name is not UTF-8 text",
    );
}

#[test]
fn a_folder_name_that_is_not_utf8_stops_the_plan() {
    an_unread_file_removes_nothing(
        |dir| {
            let odd = dir.join("as").join(std::ffi::OsStr::from_bytes(b"d\xfe"));
            std::fs::create_dir(&odd).unwrap_or(());
            std::fs::rename(dir.join("as/a.yaml"), odd.join("a.yaml"))
                .unwrap_or_else(|e| unreachable!("{e}"));
        },
        "whose name is not UTF-8 text",
    );
}

/// A folder that cannot be listed: one without read permission (which root can list all
/// the same, so not when the tests run as root), and one whose path is longer than the
/// system allows (`PATH_MAX`), which nobody can list by its path.
#[test]
fn a_folder_that_cannot_be_listed_stops_the_plan() {
    if !is_root() {
        an_unread_file_removes_nothing(
            |dir| {
                let locked = dir.join("as/locked");
                std::fs::create_dir(&locked).unwrap_or(());
                std::fs::rename(dir.join("as/a.yaml"), locked.join("a.yaml"))
                    .unwrap_or_else(|e| unreachable!("{e}"));
                let chmod = |mode: &str| {
                    std::process::Command::new("chmod")
                        .arg(mode)
                        .arg(&locked)
                        .status()
                        .is_ok_and(|s| s.success())
                };
                assert!(chmod("000"));
            },
            "cannot list the folder",
        );
    }
    an_unread_file_removes_nothing(
        |dir| {
            // Twenty folders of 250 characters: 5,000 characters below `as/`, past
            // PATH_MAX (4,096). Bash gets there one `cd` at a time (dash cannot).
            let name = "d".repeat(250);
            let script = format!(
                "cd as && for i in $(seq 20); do mkdir {name} && cd {name} || exit 1; done && mv \"$0\" ."
            );
            let moved = std::process::Command::new("bash")
                .current_dir(dir)
                .arg("-c")
                .arg(script)
                .arg(dir.join("as/a.yaml"))
                .status()
                .is_ok_and(|s| s.success());
            assert!(moved);
        },
        "File name too long",
    );
}

/// Two `a -> .` links under `**` once made every run walk an ever deeper tree of the same
/// folder. Each real folder is walked once, so the run ends, and a file reached through
/// several links is read once (a second reading would make every name a PIM102 duplicate).
#[test]
fn link_loops_under_double_star_end_and_each_file_is_read_once() {
    let (ws, _) = workspace();
    let dir = ws.path();
    for (link, to) in [
        ("a", "."),
        ("b", "."),
        ("as/up", ".."),
        ("as/again", "."),
        ("as/same.yaml", "a.yaml"),
    ] {
        std::os::unix::fs::symlink(to, dir.join(link)).unwrap_or_else(|e| unreachable!("{e}"));
    }
    write(
        &dir.join("pimplan.yaml"),
        &std::fs::read_to_string(dir.join("pimplan.yaml"))
            .unwrap_or_default()
            .replace("as/**/*.yaml", "**/*.yaml"),
    );
    let lint = pimplan(dir, T0, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    let doc = json(&lint.stdout);
    assert_eq!(doc["findings"], serde_json::json!([]), "{}", lint.stdout);
    let plan = pimplan(dir, T0, &["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let changes = json(&plan.stdout)["changes"].as_array().map_or(0, Vec::len);
    // The eleven assignments and the two groups' policies (member and owner), once each.
    assert_eq!(changes, USERS + 1 + 4, "{}", plan.stdout);
}

/// Links that fan out (each folder holding two links to the next) give 2^n paths to the
/// last folder without any loop; each real folder is still walked once.
#[test]
fn links_that_fan_out_are_walked_once() {
    let (ws, _) = workspace();
    let dir = ws.path();
    let depth = 40;
    for i in 0..depth {
        let d = dir.join(format!("as/f{i}"));
        std::fs::create_dir_all(&d).unwrap_or(());
        for link in ["x", "y"] {
            std::os::unix::fs::symlink(format!("../f{}", i + 1), d.join(link)).unwrap_or(());
        }
    }
    std::fs::create_dir_all(dir.join(format!("as/f{depth}"))).unwrap_or(());
    std::fs::rename(
        dir.join("as/a.yaml"),
        dir.join(format!("as/f{depth}/a.yaml")),
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    let lint = pimplan(dir, T0, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    assert_eq!(json(&lint.stdout)["findings"], serde_json::json!([]));
}

/// A link to nothing is a file of the workspace gone missing: said, and the workspace is
/// incomplete (the grants of the missing file would otherwise be removed).
#[test]
fn a_link_to_nothing_stops_the_plan() {
    an_unread_file_removes_nothing(
        |dir| {
            std::fs::remove_file(dir.join("as/a.yaml")).unwrap_or(());
            std::os::unix::fs::symlink(dir.join("gone.yaml"), dir.join("as/a.yaml")).unwrap_or(());
        },
        "a link to nothing",
    );
}

#[test]
fn a_fifo_matched_by_an_include_is_reported_not_read() {
    an_unread_file_removes_nothing(
        |dir| {
            std::fs::remove_file(dir.join("as/a.yaml")).unwrap_or(());
            mkfifo(&dir.join("as/a.yaml"));
        },
        "a FIFO (named pipe), not a regular file",
    );
}

#[test]
fn a_sparse_2_gib_include_is_refused_by_its_size_before_it_is_read() {
    let (ws, _) = workspace();
    let dir = ws.path();
    let big =
        std::fs::File::create(dir.join("as/big.yaml")).unwrap_or_else(|e| unreachable!("{e}"));
    big.set_len(2 << 30).unwrap_or_else(|e| unreachable!("{e}"));
    let lint = pimplan_bounded(dir, T0, &["lint", "--format", "json"], MEMORY_KIB);
    assert_eq!(lint.code, 1, "{}{}", lint.stdout, lint.stderr);
    let doc = json(&lint.stdout);
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    assert!(
        findings.iter().any(|f| f["code"] == "PIM001"
            && f["file"].as_str().is_some_and(|p| p.ends_with("big.yaml"))
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("larger than 64 MiB"))),
        "{}",
        lint.stdout
    );
    let plan = pimplan_bounded(dir, T0, &["plan"], MEMORY_KIB);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
}

/// `-c /dev/zero` never ends and a FIFO never opens: both are refused before anything is
/// read, by lint (status 2, an I/O failure) and by plan and apply (status 1; 2 means
/// changes there).
#[test]
fn a_root_file_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tmp();
    let fifo = dir.path().join("pimplan.yaml");
    mkfifo(&fifo);
    let fifo = fifo.to_string_lossy().into_owned();
    for (root, kind) in [
        ("/dev/zero", "a character device"),
        (fifo.as_str(), "a FIFO (named pipe)"),
    ] {
        for (command, status) in [("lint", 2), ("plan", 1), ("apply", 1)] {
            let mut args = vec![command, "-c", root];
            if command == "apply" {
                args.push("--auto-approve");
            }
            let run = pimplan_bounded(dir.path(), T0, &args, MEMORY_KIB);
            assert_eq!(run.code, status, "{args:?}: {}{}", run.stdout, run.stderr);
            let want =
                format!("cannot read the root file `{root}`: it is {kind}, not a regular file");
            assert!(
                flat(&run.stderr).contains(&want),
                "{args:?}: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_baseline_that_is_not_a_regular_file_is_refused_at_once() {
    let (ws, _) = workspace();
    let dir = ws.path();
    let fifo: PathBuf = dir.join("baseline.json");
    mkfifo(&fifo);
    for baseline in [fifo.to_string_lossy().as_ref(), "/dev/zero"] {
        let run = pimplan_bounded(dir, T0, &["lint", "--baseline", baseline], MEMORY_KIB);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert!(
            flat(&run.stderr).contains("cannot read the baseline")
                && flat(&run.stderr).contains("not a regular file"),
            "{}",
            run.stderr
        );
    }
}

/// A link under `**` that cannot be followed (here a chain of 42 links, past the kernel's
/// 40; for a user other than root, also a link into a folder it may not enter) may lead to
/// a folder of matching files: it is reported, not skipped as if it were a link to nothing,
/// whose grants the plan would then remove.
#[test]
fn a_link_that_cannot_be_followed_under_double_star_stops_the_plan() {
    an_unread_file_removes_nothing(
        |dir| {
            let kept = dir.join("kept/team");
            std::fs::create_dir_all(&kept).unwrap_or(());
            std::fs::rename(dir.join("as/a.yaml"), kept.join("a.yaml"))
                .unwrap_or_else(|e| unreachable!("{e}"));
            let links = dir.join("links");
            std::fs::create_dir(&links).unwrap_or(());
            let link = std::os::unix::fs::symlink;
            link("../kept/team", links.join("l41")).unwrap_or(());
            for i in (0..41).rev() {
                std::os::unix::fs::symlink(format!("l{}", i + 1), links.join(format!("l{i}")))
                    .unwrap_or(());
            }
            link("../links/l0", dir.join("as/team")).unwrap_or(());
            assert!(std::fs::metadata(dir.join("as/team")).is_err());
        },
        "cannot look at",
    );
}

/// An include without wildcards names one file: missing, it is an error (the plan stops), not
/// the warning a glob that matches nothing gets (issue 12, point 6).
#[test]
fn a_literal_include_that_names_no_file_is_an_error() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("pimplan.yaml"),
        "version: 1\ninclude:\n  - \"teams/ops.yaml\"\n  - \"drafts/*.yaml\"\n",
    )
    .unwrap_or(());
    let run = pimplan(dir.path(), T0, &["lint", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = json(&run.stdout);
    let findings: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["severity"].as_str().unwrap_or("").to_owned(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            ("PIM006".to_owned(), "error".to_owned(), 3),
            ("PIM006".to_owned(), "warning".to_owned(), 4),
        ],
        "{}",
        run.stdout
    );
    let plan = pimplan(dir.path(), T0, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("names no file"), "{}", plan.stdout);
}

/// A YAML file with pimplan sections that no include matches is a PIM008 warning at its first
/// section key; the plan still plans the files that are read. Links out of the workspace, to
/// an included file and in a loop are not followed into a report (issue 12, point 6).
#[test]
fn a_file_no_include_matches_is_a_warning_and_links_are_walked_once() {
    let (ws, _) = workspace();
    let dir = ws.path();
    let outside = tmp();
    write(&outside.path().join("theirs.yaml"), "assignments: []\n");
    write(
        &dir.join("teams/new.yaml"),
        "# new\n'admins' :\n  - { principal: u0, role: Groups Administrator }\n",
    );
    for (link, to) in [
        ("loop", PathBuf::from(".")),
        ("teams/up", PathBuf::from("..")),
        ("out", outside.path().to_path_buf()),
        ("out.yaml", outside.path().join("theirs.yaml")),
        ("alias.yaml", PathBuf::from("as/a.yaml")),
    ] {
        std::os::unix::fs::symlink(&to, dir.join(link)).unwrap_or_else(|e| unreachable!("{e}"));
    }
    let lint = pimplan(dir, T0, &["lint", "--format", "json"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);
    let found: Vec<(String, String, u64, u64)> = json(&lint.stdout)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["file"].as_str().unwrap_or("").to_owned(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        found,
        [("PIM008".to_owned(), "teams/new.yaml".to_owned(), 2, 1)],
        "{}",
        lint.stdout
    );
    let plan = pimplan(dir, T0, &["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let changes = json(&plan.stdout)["changes"].as_array().map_or(0, Vec::len);
    assert_eq!(changes, USERS + 1 + 4, "{}", plan.stdout);
    // Made an error in `rules:`, it stops the plan like any error.
    let root = std::fs::read_to_string(dir.join("pimplan.yaml")).unwrap_or_default();
    write(
        &dir.join("pimplan.yaml"),
        &format!("{root}rules: {{ PIM008: error }}\n"),
    );
    let plan = pimplan(dir, T0, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("teams/new.yaml"), "{}", plan.stdout);
}
