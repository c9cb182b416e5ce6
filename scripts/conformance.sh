#!/usr/bin/env bash
# Runs ksqlDB's functional test corpus against Sluice (crates/conformance) and holds the ratchet.
#
#   scripts/conformance.sh           fail when a test listed in sql-tests/conformance/passing.txt
#                                    no longer passes (CI); warn when docs/conformance.md is stale
#   scripts/conformance.sh --update  rewrite sql-tests/conformance/passing.txt and
#                                    docs/conformance.md from this run (commit both with the
#                                    change that made tests pass)
#
# The corpus is ../shared/ksql-tests (or $SLUICE_KSQL_TESTS); when it is absent the script does
# nothing. Reports go to $CARGO_TARGET_DIR/conformance/ (report.json, conformance.md, output.txt).
# $SLUICE_CONFORMANCE_JOBS sets the parallelism (default 6).
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="${SLUICE_KSQL_TESTS:-../shared/ksql-tests}"
if [ ! -d "$corpus" ]; then
    echo "conformance: no corpus at $corpus; skipped"
    exit 0
fi
update=0
case "${1:-}" in
    --update) update=1 ;;
    "") ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
cargo build -p sluice-conformance
bin="$CARGO_TARGET_DIR/debug/sluice-conformance"
out="$CARGO_TARGET_DIR/conformance"
mkdir -p "$out"

args=(--jobs "${SLUICE_CONFORMANCE_JOBS:-6}" --json "$out/report.json"
      --passing sql-tests/conformance/passing.txt)
if [ "$update" = 1 ]; then
    "$bin" "${args[@]}" --update-passing --markdown docs/conformance.md "$corpus" | tee "$out/output.txt" | tail -n 1
    echo "conformance: updated sql-tests/conformance/passing.txt and docs/conformance.md"
    exit 0
fi

status=0
"$bin" "${args[@]}" --markdown "$out/conformance.md" "$corpus" > "$out/output.txt" || status=$?
# Per-file summaries and the total; the failing tests are in $out/output.txt.
grep -v '^FAIL ' "$out/output.txt" || true
if ! diff -q "$out/conformance.md" docs/conformance.md > /dev/null 2>&1; then
    echo "conformance: docs/conformance.md differs from this run; refresh it with $0 --update"
fi
if [ "$status" != 0 ]; then
    echo "conformance: a test listed in sql-tests/conformance/passing.txt no longer passes (see above)" >&2
fi
exit "$status"
