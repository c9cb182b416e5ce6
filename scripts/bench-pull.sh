#!/usr/bin/env bash
# Pull-query QPS: Sluice against PostgreSQL on the same primary-key lookups (issue 7 item 5).
#
# Materializes a table of KEYS rows in Sluice (`sluice-bench pull-server`: embedded broker, a
# table over a topic materialized by `CREATE TABLE kv AS SELECT * FROM kv_input`), loads the same
# rows (`sluice-bench pull-rows`, CSV) into a throwaway PostgreSQL cluster on 127.0.0.1, and runs
# pgbench with one custom script of random primary-key lookups against both: the same client
# count, thread count and duration, prepared statements (`-M prepared`: the extended protocol),
# a warm-up run first. QPS is pgbench's tps (one lookup per transaction, without connection
# time); p99 comes from pgbench's per-transaction log (`--log`). Prints
#   pull keys=N clients=C sluice_qps=... postgres_qps=... ratio=... sluice_p99_ms=... postgres_p99_ms=...
#
# Usage: scripts/bench-pull.sh [--keys N] [--clients C] [--jobs J] [--seconds S] [--warmup S]
#                              [--partitions P]
# Needs PostgreSQL's server and pgbench (Debian's `postgresql` package, installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=1000000
CLIENTS=8
JOBS=2
SECONDS_RUN=30
WARMUP=5
PARTITIONS=32
while [ $# -gt 0 ]; do
    case "$1" in
        --keys) KEYS="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        --seconds) SECONDS_RUN="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --partitions) PARTITIONS="$2"; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

log() { echo "bench-pull $(date +%T): $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# PostgreSQL from Debian's packages.
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ] || ! command -v pgbench >/dev/null; then
    log "installing PostgreSQL (apt-get install postgresql)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN="$(pg_bin)"
PGBENCH="$(command -v pgbench)"
PSQL="$(command -v psql)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
log "building sluice-bench (release)"
cargo build --release -q -p sluice-bench --bin sluice-bench
BENCH="$CARGO_TARGET_DIR/release/sluice-bench"

WORK="$(mktemp -d /tmp/sluice-bench-pull.XXXXXX)"
chmod 755 "$WORK"
SLUICE_PID=""
PG_STARTED=""

# initdb refuses to run as root: then the cluster runs as Debian's `postgres` user.
if [ "$(id -u)" -eq 0 ]; then
    PG_USER=postgres
    as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
    PG_USER="$(id -un)"
    as_pg() { "$@"; }
fi

cleanup() {
    if [ -n "$SLUICE_PID" ]; then kill "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; fi
    if [ -n "$PG_STARTED" ]; then as_pg "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- PostgreSQL: a throwaway cluster on 127.0.0.1 --------------------------------------------
PG_PORT="$(free_port)"
mkdir -p "$WORK/pgdata" "$WORK/pgsock"
[ "$PG_USER" = "$(id -un)" ] || chown "$PG_USER" "$WORK/pgdata" "$WORK/pgsock"
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
as_pg "$PG_BIN/initdb" -D "$WORK/pgdata" -U bench --auth=trust -E UTF8 --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -w -l "$WORK/pgdata/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pgsock" start >/dev/null
PG_STARTED=1
PG=(-h 127.0.0.1 -p "$PG_PORT" -U bench)
"$PSQL" "${PG[@]}" -q -v ON_ERROR_STOP=1 -d postgres \
    -c "CREATE TABLE kv (id BIGINT PRIMARY KEY, name TEXT NOT NULL, amount BIGINT NOT NULL);"
"$BENCH" pull-rows --keys "$KEYS" |
    "$PSQL" "${PG[@]}" -q -v ON_ERROR_STOP=1 -d postgres -c "COPY kv FROM STDIN (FORMAT csv)"
"$PSQL" "${PG[@]}" -q -v ON_ERROR_STOP=1 -d postgres -c "VACUUM ANALYZE kv;"
PG_ROWS="$("$PSQL" "${PG[@]}" -tA -d postgres -c "SELECT count(*) FROM kv;")"
[ "$PG_ROWS" = "$KEYS" ] || { log "PostgreSQL holds $PG_ROWS rows, not $KEYS"; exit 1; }

# --- Sluice: the same rows, materialized ------------------------------------------------------
SLUICE_PORT="$(free_port)"
log "Sluice on 127.0.0.1:$SLUICE_PORT: loading $KEYS rows over $PARTITIONS partitions"
"$BENCH" pull-server --keys "$KEYS" --partitions "$PARTITIONS" \
    --listen "127.0.0.1:$SLUICE_PORT" >"$WORK/sluice.out" 2>"$WORK/sluice.err" &
SLUICE_PID=$!
while ! grep -q '^ready' "$WORK/sluice.out"; do
    if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
        log "pull-server exited:"; cat "$WORK/sluice.err" >&2; exit 1
    fi
    sleep 1
done
log "$(grep '^ready' "$WORK/sluice.out")"

# --- pgbench: one script, both databases ------------------------------------------------------
cat >"$WORK/lookup.sql" <<EOF
\set id random(1, $KEYS)
SELECT id, name, amount FROM kv WHERE id = :id;
EOF
# The same row must come back from both.
PROBE=$((KEYS / 2 + 1))
want="$("$PSQL" "${PG[@]}" -tA -d postgres -c "SELECT id, name, amount FROM kv WHERE id = $PROBE")"
got="$("$PSQL" -h 127.0.0.1 -p "$SLUICE_PORT" -U bench -tA -d postgres \
    -c "SELECT id, name, amount FROM kv WHERE id = $PROBE")"
[ "$want" = "$got" ] || { log "row $PROBE differs: postgres '$want', sluice '$got'"; exit 1; }

# run NAME PORT: warm-up, then the measured run; sets QPS and P99_MS.
run() {
    local name="$1" port="$2"
    local args=(-h 127.0.0.1 -p "$port" -U bench -n -M prepared -c "$CLIENTS" -j "$JOBS"
        -f "$WORK/lookup.sql")
    "$PGBENCH" "${args[@]}" -T "$WARMUP" postgres >"$WORK/$name.warmup" 2>&1 ||
        { cat "$WORK/$name.warmup" >&2; return 1; }
    mkdir -p "$WORK/log-$name"
    "$PGBENCH" "${args[@]}" -T "$SECONDS_RUN" --log --log-prefix="$WORK/log-$name/tx" \
        postgres >"$WORK/$name.out" 2>&1 || { cat "$WORK/$name.out" >&2; return 1; }
    sed 's/^/  /' "$WORK/$name.out" | grep -E 'latency average|tps|failed|processed' >&2 || true
    QPS="$(awk '/^tps = / { print $3; exit }' "$WORK/$name.out")"
    # Log lines: client_id transaction_no latency_us script_no epoch_s epoch_us.
    P99_MS="$(cat "$WORK/log-$name"/tx.* | awk '{ print $3 }' | sort -n |
        awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", v[i] / 1000 }')"
}

log "pgbench against PostgreSQL: $CLIENTS clients, $JOBS threads, ${SECONDS_RUN}s"
run postgres "$PG_PORT"
PG_QPS="$QPS"; PG_P99="$P99_MS"
log "pgbench against Sluice: $CLIENTS clients, $JOBS threads, ${SECONDS_RUN}s"
run sluice "$SLUICE_PORT"
SL_QPS="$QPS"; SL_P99="$P99_MS"

RATIO="$(awk -v s="$SL_QPS" -v p="$PG_QPS" 'BEGIN { printf "%.3f", s / p }')"
printf 'pull keys=%s clients=%s sluice_qps=%.0f postgres_qps=%.0f ratio=%s sluice_p99_ms=%s postgres_p99_ms=%s\n' \
    "$KEYS" "$CLIENTS" "$SL_QPS" "$PG_QPS" "$RATIO" "$SL_P99" "$PG_P99"
