#!/usr/bin/env bash
# Independent checks of what editors and GitHub read, with tools that are not pimplan:
#
# 1. check-jsonschema: schemas/pimplan.schema.json is a valid draft 2020-12 schema, every
#    YAML file that must pass (fixtures/example/ and fixtures/rules/*/passes/) validates
#    against it, and a few small documents that must not pass are refused (so the check is
#    not vacuous).
#    check-jsonschema reads YAML with ruamel.yaml, a YAML 1.2 loader: `off`, `yes`, `on` stay
#    strings, as in pimplan (asserted below). Its pure-Python parser refuses a tab between a
#    value and a comment, which YAML 1.2 allows (fixtures/rules/PIM001/passes has one on
#    purpose); its C parser, ruamel.yaml.clib, accepts it, so that package is required.
# 2. check-jsonschema's bundled GitHub schemas: .github/workflows/*.yml and the workflows of
#    docs/github-actions.md (vendor.github-workflows), action.yml (vendor.github-actions).
# 3. actionlint: .github/workflows/*.yml, and the workflows of docs/github-actions.md with
#    `uses: your-org/pimplan@…` pointed at this checkout's action.yml (`uses: ./`), so their
#    `with:` inputs are checked against the action's inputs.
#
# No network. Needs: pip install -r tests/tools/requirements.txt
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
START=$SECONDS
FAILURES=0
SCHEMA=schemas/pimplan.schema.json

pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; FAILURES=$((FAILURES + 1)); }
die() { printf 'FAIL: %s\n' "$*"; exit 1; }
indent() { sed 's/^/    | /'; }

for tool in check-jsonschema actionlint python3 git; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "\`$tool\` not found on PATH (install the tools: pip install -r tests/tools/requirements.txt)"
done
echo "$(check-jsonschema --version); actionlint $(actionlint --version 2>/dev/null | head -n 1)"
if command -v shellcheck >/dev/null 2>&1; then
    echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): actionlint checks the run: scripts with it"
else
    echo "note: no shellcheck on PATH, so actionlint does not check run: scripts (Debian: apt-get install shellcheck)"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/pimplan-check-schema.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# check-jsonschema must read a tab between a value and a comment (see above): it does with
# ruamel.yaml.clib installed beside it.
printf 'version: 1\t# a tab before this comment\n' >"$TMP/tab.yaml"
if ! out="$(check-jsonschema --schemafile "$SCHEMA" "$TMP/tab.yaml" 2>&1)"; then
    printf '%s\n' "$out" | indent
    die "check-jsonschema cannot parse a tab before a comment: ruamel.yaml.clib is missing beside it (pip install -r tests/tools/requirements.txt)"
fi

# --- 1. the configuration schema -----------------------------------------------------------
if out="$(check-jsonschema --check-metaschema "$SCHEMA" 2>&1)"; then
    # shellcheck disable=SC2016 # `$schema` is the JSON key, not a shell variable
    pass "$SCHEMA is a valid JSON Schema ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["$schema"])' "$SCHEMA"))"
else
    printf '%s\n' "$out" | indent
    fail "$SCHEMA against its metaschema"
fi

mapfile -t MUST_PASS < <(find fixtures/example fixtures/rules/*/passes -type f \( -name '*.yaml' -o -name '*.yml' \) | LC_ALL=C sort)
[ "${#MUST_PASS[@]}" -gt 0 ] || die "no fixture found under fixtures/example or fixtures/rules/*/passes"
if out="$(check-jsonschema --schemafile "$SCHEMA" "${MUST_PASS[@]}" 2>&1)"; then
    pass "${#MUST_PASS[@]} must-pass YAML files (fixtures/example, fixtures/rules/*/passes) validate against $SCHEMA"
else
    printf '%s\n' "$out" | indent
    fail "must-pass fixtures against $SCHEMA"
fi

# Small documents: each must pass or fail as named.
NEG="$TMP/documents"
mkdir -p "$NEG"
printf 'version: 1\nrules:\n  PIM507: off\n  PIM105: error\n' >"$NEG/pass-off-is-a-string.yaml"
printf 'version: 1\nrules:\n  PIM507: false\n' >"$NEG/fail-boolean-severity.yaml"
printf 'version: 1\nrules:\n  PIM507: loud\n' >"$NEG/fail-unknown-severity.yaml"
printf 'version: 1\nassignmnets: []\n' >"$NEG/fail-misspelt-key.yaml"
printf 'version: 1\ngroups:\n  - name: ops\n    membership: sometimes\n' >"$NEG/fail-bad-membership.yaml"
printf 'version: 1\nprincipals: { alice: user }\n' >"$NEG/fail-mapping-for-list.yaml"
for doc in "$NEG"/*.yaml; do
    name="$(basename "$doc" .yaml)"
    check-jsonschema --schemafile "$SCHEMA" "$doc" >"$TMP/out" 2>&1
    rc=$?
    case "$name:$rc" in
        pass-*:0) pass "$name: accepted" ;;
        fail-*:1) pass "$name: refused" ;;
        *)
            indent <"$doc"
            indent <"$TMP/out"
            fail "$name: check-jsonschema exited $rc"
            ;;
    esac
done

# --- the workflows of docs/github-actions.md, pointed at this checkout's action ------------
DOCS="$TMP/docs-project"
mkdir -p "$DOCS/.github/workflows"
git -C "$DOCS" init -q
cp action.yml "$DOCS/action.yml"
python3 - "$DOCS/.github/workflows" docs/github-actions.md:2 README.md:1 <<'EOF' || die "extracting the workflows of docs/github-actions.md and README.md"
import re, sys
out = sys.argv[1]
for arg in sys.argv[2:]:
    path, least = arg.rsplit(":", 1)
    text = open(path, encoding="utf-8").read()
    blocks = re.findall(r"^```ya?ml\n(.*?)^```", text, flags=re.S | re.M)
    workflows = [b for b in blocks if re.search(r"^jobs:", b, re.M) and re.search(r"^on:", b, re.M)]
    if len(workflows) < int(least):
        sys.exit(f"{path}: expected at least {least} workflow(s), found {len(workflows)}")
    for i, body in enumerate(workflows, 1):
        uses = re.findall(r"uses: your-org/pimplan@\S+", body)
        if not uses:
            sys.exit(f"{path}: workflow {i} does not use the action (your-org/pimplan@...)")
        body = re.sub(r"uses: your-org/pimplan@\S+", "uses: ./", body)
        name = re.sub(r"\W", "-", path)
        with open(f"{out}/{name}-{i}.yml", "w", encoding="utf-8") as f:
            f.write(body)
EOF
DOC_WORKFLOWS=("$DOCS"/.github/workflows/*.yml)
pass "docs/github-actions.md and README.md: ${#DOC_WORKFLOWS[@]} workflows extracted"

# --- 2. GitHub's schemas (SchemaStore's, bundled with check-jsonschema) ----------------------
WORKFLOWS=(.github/workflows/*.yml .github/workflows/*.yaml)
EXISTING=()
for f in "${WORKFLOWS[@]}"; do [ -e "$f" ] && EXISTING+=("$f"); done
WORKFLOWS=("${EXISTING[@]}")
[ "${#WORKFLOWS[@]}" -gt 0 ] || die "no workflow under .github/workflows"

if out="$(check-jsonschema --builtin-schema vendor.github-workflows "${WORKFLOWS[@]}" "${DOC_WORKFLOWS[@]}" 2>&1)"; then
    pass "workflow schema: ${WORKFLOWS[*]} and the docs' workflows"
else
    printf '%s\n' "$out" | indent
    fail "workflow schema (vendor.github-workflows)"
fi
if out="$(check-jsonschema --builtin-schema vendor.github-actions action.yml 2>&1)"; then
    pass "action schema: action.yml"
else
    printf '%s\n' "$out" | indent
    fail "action schema (vendor.github-actions): action.yml"
fi

# --- 3. actionlint ------------------------------------------------------------------------------
if out="$(actionlint -no-color "${WORKFLOWS[@]}" 2>&1)"; then
    pass "actionlint: ${WORKFLOWS[*]}"
else
    printf '%s\n' "$out" | indent
    fail "actionlint: .github/workflows"
fi
if out="$(cd "$DOCS" && actionlint -no-color 2>&1)"; then
    pass "actionlint: the workflows of docs/github-actions.md and README.md, using this action.yml"
else
    printf '%s\n' "$out" | indent
    fail "actionlint: the workflows of docs/github-actions.md and README.md"
fi

echo "schema and workflow checks: $FAILURES failure(s), $((SECONDS - START)) s"
if [ "$FAILURES" -ne 0 ]; then
    echo "FAIL: schema and workflow checks"
    exit 1
fi
echo "PASS: schema and workflow checks"
