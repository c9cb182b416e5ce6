#!/usr/bin/env bash
# Runs every Sluice test: unit and integration tests of all crates, the psql and tokio-postgres
# end-to-end tests, the tansu broker tests, and the sql-tests/*.slt files against a live server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
export SLUICE_TANSU_BIN="${SLUICE_TANSU_BIN:-${SLUICE_TANSU_ROOT:-$HOME/.cache/sluice/tansu}/bin/tansu}"
export SLUICE_REQUIRE_TANSU=1
export SLUICE_PYTHON="${SLUICE_PYTHON:-${SLUICE_PYTHON_VENV:-$HOME/.cache/sluice/venv}/bin/python3}"
export SLUICE_REQUIRE_PYTHON_INTEROP=1

# The reused target directory keeps every old test executable (~600 MB each) and incremental
# state; drop what no build touched for six hours so CI's disk does not fill up.
if [ -d "$CARGO_TARGET_DIR/debug/deps" ]; then
    find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -perm -u+x \
        ! -name '*.so' ! -name '*.rlib' ! -name '*.rmeta' ! -name '*.d' -mmin +360 -delete || true
    find "$CARGO_TARGET_DIR/debug/incremental" -mindepth 1 -maxdepth 1 -mmin +360 \
        -exec rm -rf {} + 2>/dev/null || true
fi

cargo test --workspace --no-fail-fast -- --test-threads=2

# Benchmarks are tools, not timed tests: CI only checks that the criterion benches build and
# run. `cargo test --benches` builds them in the test profile, reusing the debug artifacts
# above (`cargo bench` would compile an optimised DataFusion, about an hour here), and runs
# each benchmark once, untimed.
cargo test -p sluice-bench --benches

# The conformance ratchet: ksqlDB's test corpus (../shared/ksql-tests) against the engine; fails
# when a test listed in sql-tests/conformance/passing.txt no longer passes.
SLUICE_CONFORMANCE_JOBS="${SLUICE_CONFORMANCE_JOBS:-6}" scripts/conformance.sh
