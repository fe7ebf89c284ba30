#!/usr/bin/env bash
# The control tower: the sector-status service, primary/backup, under a
# partition.
#
#   ./run.sh partition   (default) `ithaca demo atc`: both modes under a
#                        partition, with the checker's report: the baseline
#                        mode splits, the oracle mode never does
#   ./run.sh serve       an oracle, a primary (P) and a backup (B) on fixed
#                        loopback ports, for controller.py; Ctrl-C stops them
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-partition}" in
partition)
    cargo build -q -p ithaca-gateway --bin ithaca
    "${CARGO_TARGET_DIR:-target}/debug/ithaca" demo atc
    ;;
serve)
    cargo build -q -p ithaca-gateway --bin ithaca
    bin="${CARGO_TARGET_DIR:-target}/debug/ithaca"
    dir="$(mktemp -d)"
    pids=()
    cleanup() {
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$dir"
    }
    trap cleanup EXIT INT TERM
    timing='lease_ms = 2000
heartbeat_interval_ms = 200
suspicion_timeout_ms = 2600'
    # Only what the scenario needs: no banks, coordinator, transfer
    # service or IIOP listener (the embedded defaults host them).
    bare='[wsat]
enabled = false
[transfer]
enabled = false
[bridge.iiop]
enabled = false'
    cat >"$dir/oracle.toml" <<TOML
bank = []
$bare
[sector_status]
enabled = false
[server]
listen = "127.0.0.1:18080"
[storage]
data_dir = "$dir/oracle"
[membership]
listen = "127.0.0.1:17946"
$timing
TOML
    for member in P B; do
        port=18081
        [ "$member" = B ] && port=18082
        cat >"$dir/$member.toml" <<TOML
bank = []
$bare
[server]
listen = "127.0.0.1:$port"
[storage]
data_dir = "$dir/$member"
[membership]
enabled = false
$timing
[sector_status]
enabled = true
mode = "oracle"
member = "$member"
oracles = "127.0.0.1:17946"
TOML
    done
    "$bin" --config "$dir/oracle.toml" serve >"$dir/oracle.out" 2>&1 & pids+=($!)
    sleep 1
    "$bin" --config "$dir/P.toml" serve >"$dir/P.out" 2>&1 & pids+=($!)
    sleep 1
    "$bin" --config "$dir/B.toml" serve >"$dir/B.out" 2>&1 & pids+=($!)
    sleep 1
    cat <<TEXT
oracle at 127.0.0.1:18080 (view: curl http://127.0.0.1:18080/membership/view,
  or open the operator page http://127.0.0.1:18080/ui/)
P (primary) at http://127.0.0.1:18081/services/SectorStatus
B (backup)  at http://127.0.0.1:18082/services/SectorStatus

Try (zeep from scripts/install-test-deps.sh's venv):
  .interop/venv/bin/python examples/atc/controller.py http://127.0.0.1:18081/services/SectorStatus reserve EGLL-N BA117 600 900
  .interop/venv/bin/python examples/atc/controller.py http://127.0.0.1:18082/services/SectorStatus who EGLL-N 700
Then kill P (kill -9 ${pids[1]}) and ask B again after about 3 s.
Ctrl-C stops everything.
TEXT
    wait
    ;;
*)
    sed -n 2,13p "$0"
    exit 2
    ;;
esac
