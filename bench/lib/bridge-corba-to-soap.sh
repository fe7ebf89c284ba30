#!/usr/bin/env bash
# What the IIOP front costs: a CORBA client calling a SOAP service through
# the gateway's IIOP listener, against a CORBA client calling a CORBA
# server directly. Called by bench/bridge.sh; runs alone as well.
#
#   bench/lib/bridge-corba-to-soap.sh [--calls N] [--rounds R] [--seconds S]
#
# Bridged: an omniORB C++ client -> `ithaca serve` (release build) IIOP
#   listener -> the hosted EchoService (in-process SOAP call, no socket),
#   published by [[bridge.soap]] service = "EchoService".
# Direct:  the same omniORB client -> an omniORB C++ server of the same IDL.
#
# Why not the shared client (../shared/bench/corba/client.cc): it checks
# Bench.idl's whole contract (add, reverse, ping) before timing, and the
# hosted EchoService has only echoString, whose IDL as `ithaca wsdl2idl`
# derives it is `void echoString(in wstring text, out wstring result)` in
# module ithaca_bench_echo, not Bench.idl's `string echoString(in string)`.
# So both sides here use the project's own omniORB client and server
# (gateway/tests/fixtures/bridge/iiopfront/echo_{client,server}.cc), built
# with omniidl -bcxx from that IDL, with the shared client's method: one
# connection, untimed warm-up calls, then N timed echoString calls; servers
# pinned to CPU 0, the client to CPU 1; both paths in turn each round;
# medians kept.
#
# Last line: corba_to_soap_cost=X (bridged time per call / direct time
# per call = direct calls/s / bridged calls/s).
# ITHACA_BENCH_BIN names an already built ithaca binary. --seconds is
# accepted (bench/bridge.sh passes it) and turned into a number of calls
# (about 4000 calls per second asked) unless --calls is given.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
calls= rounds=3 seconds=5
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
calls=${calls:-$((seconds * 4000))}
for tool in taskset omniidl g++ pkg-config python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed: run scripts/install-test-deps.sh" >&2; exit 1; }
done

bin=${ITHACA_BENCH_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --locked -q --bin ithaca)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/ithaca"
fi
[ -x "$bin" ] || { echo "no ithaca binary at $bin" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

fixtures="$root/gateway/tests/fixtures/bridge/iiopfront"
"$bin" wsdl2idl "$root/services/wsdl/echo.wsdl" -o "$work/echo.idl"
cp "$fixtures/echo_client.cc" "$fixtures/echo_server.cc" "$work/"
(cd "$work" && omniidl -bcxx echo.idl \
    && for p in echo_client echo_server; do
        g++ -O2 -o "$p" "$p.cc" echoSK.cc $(pkg-config --cflags --libs omniORB4)
    done)

wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

oport=18491 gport=18492 iport=18493
setsid taskset -c 0 "$work/echo_server" -ORBendPoint "giop:tcp:127.0.0.1:$oport" >"$work/omniorb.ior" 2>"$work/omniorb.log" &
pids+=($!)
cat >"$work/ithaca.toml" <<TOML
[server]
listen = "127.0.0.1:$gport"

[storage]
data_dir = "$work/data"

[log]
filter = "warn"

[membership]
enabled = false

[bridge.iiop]
listen = "127.0.0.1:$iport"

[[bridge.soap]]
name = "Echo"
service = "EchoService"
TOML
unset_config=$(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ' || true)
setsid taskset -c 0 env $unset_config "$bin" --config "$work/ithaca.toml" serve >"$work/ithaca.out" 2>"$work/ithaca.log" &
pids+=($!)
wait_port "$oport"
wait_port "$iport"
for _ in $(seq 1 100); do
    grep -q '^  ior:     Echo ' "$work/ithaca.out" && break
    sleep 0.1
done
bridged_ref=$(sed -n 's/^  ior:     Echo //p' "$work/ithaca.out")
direct_ref=$(head -n 1 "$work/omniorb.ior")
[ -n "$bridged_ref" ] || { echo "ithaca serve printed no IOR" >&2; cat "$work/ithaca.log" >&2; exit 1; }

text="hello from the benchmark, a short payload"
rate() { sed -n 's/.*calls\/s=\([0-9.e+]*\).*/\1/p' | head -n 1; }
check() { # name ref
    local out
    out=$("$work/echo_client" "$2" "$text" 1 || true)
    case "$out" in *"result=$text"*) ;; *) echo "the $1 echo failed: $out" >&2; cat "$work/ithaca.log" >&2; exit 1 ;; esac
}
check bridged "$bridged_ref"
check direct "$direct_ref"

results="$work/results"
for round in $(seq 1 "$rounds"); do
    for name in direct bridged; do
        case $name in direct) ref=$direct_ref ;; bridged) ref=$bridged_ref ;; esac
        r=$(taskset -c 1 "$work/echo_client" "$ref" "$text" "$calls" | rate)
        [ -n "$r" ] || { echo "the $name run failed" >&2; exit 1; }
        echo "$name $r" >>"$results"
        echo "round $round $name: $r calls/s" >&2
    done
done
python3 - "$results" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
rate = {n: statistics.median(float(r[1]) for r in rows if r[0] == n) for n in ("direct", "bridged")}
print(f"direct (omniORB -> omniORB) median {rate['direct']:.0f} calls/s, "
      f"bridged (omniORB -> IIOP front -> hosted SOAP) median {rate['bridged']:.0f} calls/s", file=sys.stderr)
print(f"corba_to_soap_cost={rate['direct'] / max(rate['bridged'], 1e-9):.2f}")
PY
