#!/usr/bin/env bash
# What the gateway's HTTP runtime costs against a bare hyper server, measured
# side by side in one run on this machine.
#
#   bench/gateway-overhead.sh [--seconds S] [--rounds R]
#
# The target is `ithaca serve` (release build) answering GET /healthz through
# its whole tower stack (metrics, request id, tracing span, load shedding,
# concurrency limit, timeout, body limit). The anchor is the raw hyper server
# of ../shared/bench/echo/hyper-raw, the ceiling of HTTP here. Each server is
# pinned to CPU 0 and wrk (1 thread, 16 connections, keep-alive) to CPU 1;
# the rounds alternate the two servers.
#
# Last line: gateway_rps=... raw_rps=... ratio_rps_vs_raw=... gateway_cpu_us=... raw_cpu_us=... ratio_cpu_vs_raw=...
#   ratio_cpu_vs_raw = raw CPU per request / gateway CPU per request (1.0: no overhead).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${ITHACA_SHARED:-$root/../shared}
seconds=5 rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ! -d "$shared/bench/echo/hyper-raw" ]; then
    echo "the raw hyper anchor is not here ($shared/bench/echo/hyper-raw): no comparison possible" >&2
    exit 2
fi
command -v wrk >/dev/null && command -v taskset >/dev/null || "$root/scripts/install-test-deps.sh"

cache=${ITHACA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ithaca-bench}
mkdir -p "$cache"
(cd "$root" && cargo build --release --locked -q --bin ithaca)
if [ ! -x "$cache/hyper-raw" ]; then
    (cd "$shared/bench/echo/hyper-raw" && CARGO_TARGET_DIR="$cache/hyper-raw-target" cargo build --release -q)
    cp "$cache/hyper-raw-target/release/hyper-raw" "$cache/hyper-raw"
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
start() { # CMD NAME: start a pinned server, echo its pid
    setsid taskset -c 0 bash -c "exec $1" >"$work/$2.log" 2>&1 &
    echo $!
}
wait_port() { # HOST:PORT
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens at $1" >&2
    return 1
}
gport=18281 rport=18282
# The gateway reads every ITHACA_* variable as configuration (ITHACA_SHARED
# and ITHACA_BENCH_CACHE are this script's), so it runs with none of them.
unset_config=$(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ' || true)
g=$(start "env $unset_config $root/target/release/ithaca serve --listen 127.0.0.1:$gport --data-dir $work/data" gateway); pids+=("$g")
r=$(start "$cache/hyper-raw $rport" raw); pids+=("$r")
wait_port "127.0.0.1:$gport"
wait_port "127.0.0.1:$rport"
curl -sf "http://127.0.0.1:$gport/healthz" >/dev/null || { echo "the gateway does not answer /healthz" >&2; exit 1; }

ticks() { # user+system clock ticks of a process
    awk '{print $14+$15}' "/proc/$1/stat"
}
results="$work/results"
for round in $(seq 1 "$rounds"); do
    for name in gateway raw; do
        case $name in
            gateway) url="http://127.0.0.1:$gport/healthz" pid=$g ;;
            raw) url="http://127.0.0.1:$rport/echo" pid=$r ;;
        esac
        c0=$(ticks "$pid")
        out=$(taskset -c 1 wrk -t1 -c16 -d"${seconds}s" "$url")
        c1=$(ticks "$pid")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        n=$(awk '/requests in/ {print $1}' <<<"$out")
        non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
        echo "$name $rps $n $((c1 - c0)) ${non2xx:-0}" >>"$results"
        echo "round $round $name: $rps req/s, $n requests, non-2xx ${non2xx:-0}" >&2
    done
done
python3 - "$results" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
tck = int(sys.argv[2])
def median(name, f):
    return statistics.median(f(r) for r in rows if r[0] == name)
rps = {n: median(n, lambda r: float(r[1])) for n in ("gateway", "raw")}
cpu = {n: median(n, lambda r: 1e6 * int(r[3]) / tck / max(1, int(r[2]))) for n in ("gateway", "raw")}
bad = sum(int(r[4]) for r in rows if r[0] == "gateway")
if bad:
    print(f"the gateway answered {bad} requests with non-2xx", file=sys.stderr)
print(f"gateway_rps={rps['gateway']:.0f} raw_rps={rps['raw']:.0f} ratio_rps_vs_raw={rps['gateway']/rps['raw']:.2f} "
      f"gateway_cpu_us={cpu['gateway']:.1f} raw_cpu_us={cpu['raw']:.1f} ratio_cpu_vs_raw={cpu['raw']/max(cpu['gateway'],1e-9):.2f} "
      f"gateway_non2xx={bad}")
PY
