#!/usr/bin/env bash
# End-to-end test of the pre-commit hook in .pre-commit-hooks.yaml, with the real `pre-commit`.
#
# 1. Copies this checkout's current files (tracked and untracked, not ignored: uncommitted
#    changes count) into a throw-away git repository and commits them there: that is the hook
#    repository, as pre-commit wants one (a git repository and a rev).
# 2. Creates a throw-away user repository holding a small pimplan workspace and a
#    .pre-commit-config.yaml pointing at the hook repository, and runs `pre-commit install`.
# 3. Commits with plain `git commit`, so the hook runs as it does for a user: a good workspace
#    passes, a bad assignment fails, a change that breaks *another* file fails (the hook lints
#    the whole workspace), the fix passes, a commit without YAML skips the hook.
#
# pre-commit builds the hook with `cargo install` (language: rust): crates.io must be
# reachable. The build goes to target/ecosystem/pre-commit-hook (CARGO_TARGET_DIR), so later
# runs only rebuild what changed. Needs: pip install -r tests/tools/requirements.txt
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NOW="2026-12-01T00:00:00Z"
START=$SECONDS
FAILURES=0

pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; FAILURES=$((FAILURES + 1)); }
die() { printf 'FAIL: %s\n' "$*"; exit 1; }

for tool in pre-commit git cargo; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "\`$tool\` not found on PATH (install the tools: pip install -r tests/tools/requirements.txt)"
done
echo "pre-commit: $(pre-commit --version); $(cargo --version)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/pimplan-pre-commit.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# Git in the throw-away repositories: no user or system configuration, a fixed identity.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="pimplan test" GIT_AUTHOR_EMAIL="test@example.invalid"
export GIT_COMMITTER_NAME="pimplan test" GIT_COMMITTER_EMAIL="test@example.invalid"
# pre-commit: a fresh cache, so the hook is installed from the files copied below.
export PRE_COMMIT_HOME="$TMP/pre-commit-home"
export PRE_COMMIT_COLOR=never
export CARGO_TARGET_DIR="${PIMPLAN_HOOK_TARGET_DIR:-$ROOT/target/ecosystem/pre-commit-hook}"
# The hook only lints small workspaces here: build it unoptimised and without debug info, which
# halves the first (fresh clone) build of `cargo install`'s release profile. A user's install
# keeps the release profile of Cargo.toml.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=0
# One clock for every rule, so the result does not depend on the day the test runs.
export PIMPLAN_NOW="$NOW"

# --- the manifest itself --------------------------------------------------------------------
if out="$(pre-commit validate-manifest "$ROOT/.pre-commit-hooks.yaml" 2>&1)"; then
    pass "pre-commit validate-manifest .pre-commit-hooks.yaml"
else
    printf '%s\n' "$out"
    die "pre-commit validate-manifest .pre-commit-hooks.yaml"
fi

# --- 1. the hook repository: this checkout's current files, committed ----------------------
HOOK_REPO="$TMP/hook-repo"
mkdir -p "$HOOK_REPO"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and untracked files, minus ignored ones (target/); files deleted in the
    # working tree are skipped. Read-only for the checkout.
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) |
        while IFS= read -r -d '' f; do
            if [ -e "$ROOT/$f" ] || [ -L "$ROOT/$f" ]; then printf '%s\0' "$f"; fi
        done |
        (cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$HOOK_REPO"
else
    (cd "$ROOT" && tar --exclude=./target --exclude=./.git -cf - .) | tar -xf - -C "$HOOK_REPO"
fi
[ -f "$HOOK_REPO/.pre-commit-hooks.yaml" ] || die "the copy of the checkout has no .pre-commit-hooks.yaml"
git -C "$HOOK_REPO" init -q -b main
git -C "$HOOK_REPO" add -A
git -C "$HOOK_REPO" commit -q -m "pimplan working tree under test" || die "committing the hook repository"
REV="$(git -C "$HOOK_REPO" rev-parse HEAD)"
pass "hook repository: $(git -C "$HOOK_REPO" ls-files | wc -l) files of the working tree committed as $REV"

# --- 2. the user repository with a workspace -------------------------------------------------
USER_REPO="$TMP/user-repo"
mkdir -p "$USER_REPO/assignments"
git -C "$USER_REPO" init -q -b main
cat >"$USER_REPO/.pre-commit-config.yaml" <<EOF
repos:
  - repo: $HOOK_REPO
    rev: $REV
    hooks:
      - id: pimplan-lint
EOF
cat >"$USER_REPO/pimplan.yaml" <<'EOF'
version: 1
include:
  - "groups.yaml"
  - "assignments/*.yaml"
principals:
  - { name: alice, type: user, upn: alice@contoso.com, licenses: [entra_id_p2] }
  - { name: bob, type: user, upn: bob@contoso.com, licenses: [entra_id_p2] }
EOF
cat >"$USER_REPO/groups.yaml" <<'EOF'
groups:
  - name: ops
    policy:
      member:
        activation: { max_duration: PT4H, require: [mfa, justification] }
        eligible_assignment: { max_duration: P90D }
EOF
GOOD='  - { group: ops, principal: alice, role: member, type: eligible, duration: P30D, justification: on-call rotation }'
BAD='  - { group: ops, principal: alice, role: member, type: eligible, duration: P180D, justification: on-call rotation }'
printf 'assignments:\n%s\n' "$GOOD" >"$USER_REPO/assignments/ops.yaml"

if out="$(cd "$USER_REPO" && pre-commit install 2>&1)"; then
    pass "pre-commit install"
else
    printf '%s\n' "$out"
    die "pre-commit install"
fi

LOG="$TMP/commit.log"
# commit MESSAGE: runs `git commit` (and so the hook); output in $LOG, status returned.
commit() {
    (cd "$USER_REPO" && git commit -m "$1") >"$LOG" 2>&1
}
show_log() { sed 's/^/    | /' "$LOG"; }
head_subject() { git -C "$USER_REPO" log -1 --format=%s 2>/dev/null; }

# --- 3a. a good workspace passes (the first run builds the hook) -----------------------------
git -C "$USER_REPO" add -A
t0=$SECONDS
if commit "good workspace" && grep -Eq '^pimplan lint\.+Passed' "$LOG"; then
    pass "good workspace: git commit succeeds, hook Passed (hook install and build: $((SECONDS - t0)) s)"
else
    show_log
    fail "good workspace: git commit should succeed with the hook Passed"
fi

# --- 3b. a bad assignment fails the commit -----------------------------------------------------
printf 'assignments:\n%s\n' "$BAD" >"$USER_REPO/assignments/ops.yaml"
git -C "$USER_REPO" add assignments/ops.yaml
if commit "too long"; then
    show_log
    fail "bad assignment (P180D over a P90D maximum): git commit should fail"
elif grep -Eq '^pimplan lint\.+Failed' "$LOG" && grep -q 'PIM206' "$LOG" &&
    grep -q 'assignments/ops.yaml:2:' "$LOG" && [ "$(head_subject)" = "good workspace" ]; then
    pass "bad assignment: git commit refused, hook Failed with PIM206 at assignments/ops.yaml:2"
else
    show_log
    fail "bad assignment: expected the hook to fail with PIM206 at assignments/ops.yaml:2"
fi
git -C "$USER_REPO" reset -q --hard

# --- 3c. a change that breaks another file fails too ---------------------------------------
# Only groups.yaml is staged; the error is in assignments/ops.yaml, which did not change.
sed -i 's/name: ops$/name: ops-team/' "$USER_REPO/groups.yaml"
git -C "$USER_REPO" add groups.yaml
if commit "rename the group"; then
    show_log
    fail "renaming a group still named by an assignment: git commit should fail"
elif grep -q 'PIM101' "$LOG" && grep -q 'assignments/ops.yaml:2:' "$LOG"; then
    pass "cross-file: staging only groups.yaml fails with PIM101 in the unchanged assignments/ops.yaml"
else
    show_log
    fail "cross-file: expected PIM101 at assignments/ops.yaml:2"
fi

# --- 3d. the fix passes ----------------------------------------------------------------------
sed -i 's/group: ops,/group: ops-team,/' "$USER_REPO/assignments/ops.yaml"
git -C "$USER_REPO" add -A
if commit "rename the group everywhere" && grep -Eq '^pimplan lint\.+Passed' "$LOG"; then
    pass "fixed workspace: git commit succeeds, hook Passed"
else
    show_log
    fail "fixed workspace: git commit should succeed"
fi

# --- 3e. a commit without YAML does not run the hook -----------------------------------------
echo "# PIM as code" >"$USER_REPO/README.md"
git -C "$USER_REPO" add README.md
if commit "readme" && grep -Eq '^pimplan lint\.+\(no files to check\)Skipped' "$LOG"; then
    pass "no YAML staged: hook Skipped"
else
    show_log
    fail "no YAML staged: the hook should be skipped"
fi

echo "pre-commit hook test: $FAILURES failure(s), $((SECONDS - START)) s"
if [ "$FAILURES" -ne 0 ]; then
    echo "FAIL: pre-commit hook test"
    exit 1
fi
echo "PASS: pre-commit hook test"
