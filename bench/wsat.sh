#!/usr/bin/env bash
# WS-AT money transfers through the whole SOAP path against the PostgreSQL
# two-phase-commit ceiling of this machine, in one run.
#
#   bench/wsat.sh [--transfers N] [--concurrency C] [--accounts K] [--ceiling-seconds S]
#                 [--count-round-trips]
#
# What runs, all on loopback, on one throwaway PostgreSQL cluster started
# the way ../shared/bench/pg/pg-2pc-ceiling.sh starts its own
# (max_prepared_transactions > 0, fsync on):
#   - the coordinator: `ithaca serve` with [wsat] enabled and its log on
#     the cluster's `coordinator` database (the PostgreSQL store, group
#     commit);
#   - two bank gateways: `ithaca serve` hosting one [[bank]] each, bank A
#     on database `bank_a`, bank B on `bank_b` (Durable2PC participants:
#     the work and PREPARE TRANSACTION on one pinned connection);
#   - the driver (`bank-transfer`, examples/bank-transfer): each transfer
#     activates a context, registers for Completion, debits A and credits B
#     with the CoordinationContext header (each bank registers for
#     Durable2PC), and commits (Prepare, Prepared, the forced decision,
#     Commit, Committed, then Committed to the initiator). C transfers
#     run at once.
# Then the servers stop and ../shared/bench/pg/pg-2pc-ceiling.sh measures
# twopc_tps on its own cluster: two branches each UPDATE + PREPARE
# TRANSACTION, one decision INSERT, two COMMIT PREPARED, no messaging.
#
# Last line:
#   tps=… p50_ms=… p99_ms=… decisions_per_flush=… ceiling_twopc_tps=… ratio=…
# ratio = tps / twopc_tps (the issue's target: ≥ 0.5); decisions_per_flush
# is ithaca_txn_decisions_logged_total / ithaca_txn_log_flushes_total from
# the coordinator's /metrics. Without ../shared (ITHACA_SHARED) the ceiling
# is skipped with a message and printed as `ceiling_twopc_tps=skipped
# ratio=skipped`.
#
# --count-round-trips turns on PostgreSQL's statement log
# (log_statement = all) for the transfers and prints, per database, the
# messages each committed transfer sent (`pg_round_trips_per_transfer:`):
# one log line per simple-query message (which may hold several
# statements) or per extended-protocol execute. A pool's connection checks
# (an empty sync) are not logged. The log costs PostgreSQL time: take
# figures from runs without it.
#
# Binaries: built with `cargo build --release` into $CARGO_TARGET_DIR
# (default: target/ at the root), or named by ITHACA_BENCH_BIN (ithaca)
# and ITHACA_BENCH_DRIVER (the driver: any program taking bank-transfer's
# flags and printing `… tps=… p50_ms=… p99_ms=…` last).
# ITHACA_BENCH_PROFILE=debug builds and uses debug binaries (a quick check
# that the script works; not for figures). The gateway reads ITHACA_*
# variables as configuration, so the servers run with every one unset.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${ITHACA_SHARED:-$root/../shared}
ceiling_script="$shared/bench/pg/pg-2pc-ceiling.sh"
transfers=2000 concurrency=32 accounts=1000 ceiling_seconds=10 count_round_trips=
while [ $# -gt 0 ]; do
    case "$1" in
        --count-round-trips) count_round_trips=1; shift ;;
        --transfers) transfers=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        --accounts) accounts=$2; shift 2 ;;
        --ceiling-seconds) ceiling_seconds=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

# --- binaries -------------------------------------------------------------
profile=${ITHACA_BENCH_PROFILE:-release}
target="${CARGO_TARGET_DIR:-$root/target}/$profile"
bin=${ITHACA_BENCH_BIN:-}
driver=${ITHACA_BENCH_DRIVER:-}
if [ -z "$bin" ] || [ -z "$driver" ]; then
    flag=()
    [ "$profile" = release ] && flag=(--release)
    (cd "$root" && cargo build ${flag[@]+"${flag[@]}"} --locked -q -p ithaca-gateway --bin ithaca \
        && cargo build ${flag[@]+"${flag[@]}"} --locked -q -p ithaca-bank-transfer --bin bank-transfer) \
        || { echo "cannot build ithaca and bank-transfer" >&2; exit 1; }
    bin=${bin:-$target/ithaca}
    driver=${driver:-$target/bank-transfer}
fi
[ -x "$bin" ] || { echo "no ithaca binary at $bin" >&2; exit 1; }
[ -x "$driver" ] || { echo "no transfer driver at $driver" >&2; exit 1; }

# --- the PostgreSQL cluster -----------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
id postgres >/dev/null 2>&1 || { echo "no postgres user (apt-get install postgresql creates it)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
work=$(mktemp -d)
chmod 755 "$work"
pgdir=$(mktemp -d)
chown postgres "$pgdir" 2>/dev/null || true
pids=()
cleanup() {
    for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
    for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
    as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pgdir" "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
as_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_prepared_transactions=200 -c max_connections=300 -c shared_buffers=256MB" start >/dev/null
psql() { as_pg "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
for db in coordinator bank_a bank_b; do psql -d postgres -c "CREATE DATABASE $db" >/dev/null; done
pg_url() { echo "postgres://postgres@127.0.0.1:$pgport/$1"; }

# --- the gateways ---------------------------------------------------------
unset_config=$(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ' || true)
# Starts `ithaca serve` with the configuration on stdin on port $2 (run
# in this shell, not in $(…), so that its pid is remembered for cleanup).
start_gateway() {
    local name=$1 port=$2
    cat >"$work/$name.toml"
    mkdir -p "$work/$name-data"
    # shellcheck disable=SC2086
    env $unset_config RUST_LOG=warn "$bin" serve --config "$work/$name.toml" \
        --listen "127.0.0.1:$port" --data-dir "$work/$name-data" >"$work/$name.log" 2>&1 &
    pids+=($!)
}
wait_ready() {
    local name=$1 port=$2
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$name did not become ready; its log:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

coord_port=$(free_port) a_port=$(free_port) b_port=$(free_port)
start_gateway coordinator "$coord_port" <<EOF
[membership]
enabled = false
[wsat]
enabled = true
store = "$(pg_url coordinator)"
instance = "bench"
EOF
bank_gateway() {
    start_gateway "$1" "$3" <<EOF
[membership]
enabled = false
[[bank]]
name = "$1"
database_url = "$(pg_url "$2")"
max_connections = $((concurrency * 2 + 8))
open_accounts = $accounts
opening_balance = 100000000
EOF
}
bank_gateway bank-a bank_a "$a_port"
bank_gateway bank-b bank_b "$b_port"
wait_ready coordinator "$coord_port"
wait_ready bank-a "$a_port"
wait_ready bank-b "$b_port"

# --- the transfers --------------------------------------------------------
coordinator="http://127.0.0.1:$coord_port/wsat/activation"
from="http://127.0.0.1:$a_port/services/bank-a"
to="http://127.0.0.1:$b_port/services/bank-b"
echo "driver: $transfers transfers, $concurrency at once, $accounts accounts per bank" >&2
# PostgreSQL's CPU (every database of the cluster): the postmaster's own
# and its reaped children's ticks plus those of the live backends.
ticks=$(getconf CLK_TCK)
postmaster=$(head -n 1 "$pgdir/data/postmaster.pid")
pg_cpu_ms() {
    local total
    total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$postmaster/stat")
    for child in $(pgrep -P "$postmaster" || true); do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
    awk -v t="$ticks" -v n="$total" 'BEGIN { printf "%.0f", n * 1000 / t }'
}
if [ -n "$count_round_trips" ]; then
    psql -d postgres -c "ALTER SYSTEM SET log_statement = 'all'" \
        -c "ALTER SYSTEM SET log_line_prefix = '%d|'" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    log_from=$(wc -c <"$pgdir/log")
fi
pg_before=$(pg_cpu_ms)
TIMEFORMAT='%U %S'
exec 3>&2
{ time "$driver" --coordinator "$coordinator" --from "$from" --to "$to" \
    --transfers "$transfers" --concurrency "$concurrency" --accounts "$accounts" --seed 1 \
    >"$work/driver.out" 2> >(cat >&3); } 2>"$work/driver.time"
pg_after=$(pg_cpu_ms)
cat "$work/driver.out" >&2
result=$(grep 'tps=' "$work/driver.out" | tail -n 1)
field() { echo "$result" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
if [ -n "$count_round_trips" ]; then
    psql -d postgres -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
    tail -c +"$((log_from + 1))" "$pgdir/log" | awk -F'|' -v n="$(field committed)" '
        $2 ~ /^LOG:  (statement|execute [^:]*):/ { count[$1]++ }
        END {
            line = "pg_round_trips_per_transfer:"
            for (db in count) if (n > 0) line = line sprintf(" %s=%.2f", db, count[db] / n)
            print line
        }' >&2
fi
tps=$(field tps) p50=$(field p50_ms) p99=$(field p99_ms)
[ -n "$tps" ] || { echo "the driver printed no tps= line" >&2; exit 1; }

metrics=$(curl -fsS "http://127.0.0.1:$coord_port/metrics")
metric() { echo "$metrics" | awk -v name="$1" '$1 == name {print $2}' | tail -n 1; }
decisions=$(metric ithaca_txn_decisions_logged_total)
flushes=$(metric ithaca_txn_log_flushes_total)
decisions_per_flush=$(awk -v d="${decisions:-0}" -v f="${flushes:-0}" 'BEGIN { if (f > 0) printf "%.2f", d / f; else print "n/a" }')
echo "coordinator: ${decisions:-0} decisions in ${flushes:-0} flushes; commits $(metric ithaca_txn_commits_total), aborts $(metric ithaca_txn_aborts_total | grep . || echo 0); sends $(metric ithaca_txn_sends_total), failed $(metric ithaca_txn_send_failures_total | grep . || echo 0)" >&2
# CPU per committed transfer, per process (steadier than tps on a busy
# machine): user+system ticks from /proc/PID/stat.
cpu_ms() { awk -v t="$ticks" '{ printf "%.0f", ($14 + $15) * 1000 / t }' "/proc/$1/stat"; }
committed=$(echo "$result" | tr ' ' '\n' | sed -n 's/^committed=//p')
per_tx() { awk -v ms="$1" -v n="${committed:-0}" 'BEGIN { if (n > 0) printf "%.2f", ms / n; else print "n/a" }'; }
driver_ms=$(tail -n 1 "$work/driver.time" | awk '{ printf "%.0f", ($1 + $2) * 1000 }')
echo "cpu_ms_per_transfer: coordinator=$(per_tx "$(cpu_ms "${pids[0]}")") bank_a=$(per_tx "$(cpu_ms "${pids[1]}")") bank_b=$(per_tx "$(cpu_ms "${pids[2]}")") driver=$(per_tx "$driver_ms") postgresql=$(per_tx "$((pg_after - pg_before))")" >&2
# HTTP requests the servers answered per committed transfer (the
# driver's own initiator endpoint, one Committed each, not counted).
requests=0
for port in "$coord_port" "$a_port" "$b_port"; do
    n=$(curl -fsS "http://127.0.0.1:$port/metrics" \
        | awk '/^ithaca_http_requests_total\{/ && !/route="(healthz|readyz|metrics)"/ { s += $NF } END { printf "%.0f", s }')
    requests=$((requests + n))
done
echo "http_requests_per_transfer: $(per_tx "$requests") (coordinator and banks)" >&2
# Where the servers spent the time: the mean time from request headers to
# response headers per route (sum / count of the duration histogram; the
# exporter folds samples in every 5 s, hence the wait).
sleep 5.5
for port in "$coord_port" "$a_port" "$b_port"; do
    curl -fsS "http://127.0.0.1:$port/metrics" | awk -v port="$port" -v c="$coord_port" -v a="$a_port" '
        /^ithaca_http_request_duration_seconds_(sum|count)\{/ {
            match($0, /route="[^"]*"/); route = substr($0, RSTART + 7, RLENGTH - 8)
            if (route ~ /^(healthz|readyz|metrics)$/) next
            if ($1 ~ /_sum\{/) sum[route] += $NF; else count[route] += $NF
        }
        END {
            name = (port == c) ? "coordinator" : (port == a) ? "bank_a" : "bank_b"
            line = "route_mean_ms " name ":"
            for (r in count) if (count[r] > 0) line = line sprintf(" %s=%.2f(n=%d)", r, sum[r] * 1000 / count[r], count[r])
            print line
        }' >&2
done
# The coordinator's commit phases (the mean of each histogram): voting
# (Commit to the last durable vote), decision_write (group commit),
# outcome (Commit to Committed sent), commit_fanout (decision durable to
# the last participant's Committed).
curl -fsS "http://127.0.0.1:$coord_port/metrics" | awk '
    /^ithaca_txn_(phase|decision_write)_seconds_(sum|count)/ {
        name = ($1 ~ /^ithaca_txn_decision_write/) ? "decision_write" : ""
        if (name == "") { match($0, /phase="[^"]*"/); name = substr($0, RSTART + 7, RLENGTH - 8) }
        if ($1 ~ /_sum/) sum[name] += $NF; else count[name] += $NF
    }
    END {
        line = "coordinator_phase_mean_ms:"
        for (p in count) if (count[p] > 0) line = line sprintf(" %s=%.2f", p, sum[p] * 1000 / count[p])
        print line
    }' >&2
for db in bank_a bank_b; do
    echo "$db: $(psql -d "$db" -c 'SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()') prepared left" >&2
done

# Stop everything before the ceiling run, so it has the machine alone.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true

# --- the ceiling ----------------------------------------------------------
if [ -f "$ceiling_script" ]; then
    ceiling_line=$(bash "$ceiling_script" --seconds "$ceiling_seconds" --clients "$concurrency" | tail -n 1)
    echo "ceiling: $ceiling_line" >&2
    twopc=$(echo "$ceiling_line" | tr ' ' '\n' | sed -n 's/^twopc_tps=//p')
    ratio=$(awk -v t="$tps" -v c="$twopc" 'BEGIN { if (c > 0) printf "%.2f", t / c; else print "n/a" }')
else
    echo "the shared PostgreSQL ceiling script is not here ($ceiling_script): ceiling skipped" >&2
    twopc=skipped ratio=skipped
fi
echo "tps=$tps p50_ms=$p50 p99_ms=$p99 decisions_per_flush=$decisions_per_flush ceiling_twopc_tps=$twopc ratio=$ratio"
