#!/usr/bin/env bash
# What the CORBA<->SOAP bridge costs, both ways, in one run on this machine.
#
#   bench/bridge.sh [--seconds S] [--rounds R] [--connections N]
#
# SOAP -> CORBA (this script): wrk POSTs SOAP 1.1 echoString requests to
# one `ithaca serve` (release build) that hosts
#   - /services/EchoService: the built-in echo, answered by the gateway
#     itself (the direct path), and
#   - /services/Bench: the shared benchmark's IthacaBench::Echo (Bench.idl)
#     hosted through [[bridge.corba]] in front of the omniORB anchor server
#     (../shared/bench/corba/server.cc, built as corba-echo-compare.sh
#     builds it), every request converted to GIOP and back (the bridged
#     path).
# As in the shared compare scripts, the servers are pinned to CPU 0 and wrk
# (1 thread, 16 keep-alive connections) to CPU 1, the two paths run in turn
# each round, and medians are kept. soap_to_corba_cost = bridged time per
# call / direct time per call (direct req/s / bridged req/s).
# --connections N sets the [[bridge.corba]] table's `connections` (the GIOP
# connections the gateway keeps to the omniORB server; unset: the
# gateway's default, 4). `--connections 1` is the one shared, multiplexed
# connection of earlier releases.
#
# CORBA -> SOAP: bench/lib/bridge-corba-to-soap.sh (the IIOP front's half)
# prints corba_to_soap_cost=...; its absence prints corba_to_soap_cost=NA.
#
# The last line is: soap_to_corba_cost=... corba_to_soap_cost=...
#
# ITHACA_BENCH_BIN names an already built ithaca binary; ITHACA_SHARED the
# shared folder (default ../shared). Exit status 2 without it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${ITHACA_SHARED:-$root/../shared}
seconds=5 rounds=3 connections=
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
corba="$shared/bench/corba"
if [ ! -f "$corba/Bench.idl" ] || [ ! -f "$shared/bench/echo/request-soap11.xml" ]; then
    echo "the shared benchmark is not here ($shared/bench): no comparison possible" >&2
    exit 2
fi
for tool in wrk taskset omniidl g++ pkg-config curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed: run scripts/install-test-deps.sh" >&2; exit 1; }
done

bin=${ITHACA_BENCH_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --locked -q --bin ithaca)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/ithaca"
fi
[ -x "$bin" ] || { echo "no ithaca binary at $bin" >&2; exit 1; }

cache=${ITHACA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ithaca-bench}
mkdir -p "$cache"
if [ ! -x "$cache/bridge-omniorb-echo" ]; then
    d=$(mktemp -d)
    cp "$corba/Bench.idl" "$corba/server.cc" "$d/"
    (cd "$d" && omniidl -bcxx Bench.idl \
        && g++ -O2 -o "$cache/bridge-omniorb-echo" server.cc BenchSK.cc $(pkg-config --cflags --libs omniORB4))
    rm -rf "$d"
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

oport=18481 gport=18482
setsid taskset -c 0 "$cache/bridge-omniorb-echo" -ORBendPoint "giop:tcp:127.0.0.1:$oport" >"$work/omniorb.log" 2>&1 &
pids+=($!)
cat >"$work/ithaca.toml" <<TOML
[server]
listen = "127.0.0.1:$gport"

[storage]
data_dir = "$work/data"

[membership]
enabled = false

[[bridge.corba]]
name = "Bench"
idl = "$corba/Bench.idl"
interface = "IthacaBench::Echo"
target = "corbaloc::1.2@127.0.0.1:$oport/Echo"
deadline = "5s"
TOML
if [ -n "$connections" ]; then
    echo "connections = $connections" >>"$work/ithaca.toml"
    echo "bridged object: connections = $connections" >&2
fi
unset_config=$(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ' || true)
setsid taskset -c 0 env $unset_config "$bin" --config "$work/ithaca.toml" serve >"$work/ithaca.log" 2>&1 &
gateway=$!
pids+=($gateway)
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && break
    sleep 0.1
done

direct_url="http://127.0.0.1:$gport/services/EchoService"
bridged_url="http://127.0.0.1:$gport/services/Bench"
text="hello from the benchmark"
cp "$shared/bench/echo/request-soap11.xml" "$work/direct.xml"
cat >"$work/bridged.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="http://www.omg.org/IDL-Mapped/"><soap:Body><b:IthacaBench.Echo.echoString><text>$text</text></b:IthacaBench.Echo.echoString></soap:Body></soap:Envelope>
XML
# Both paths must answer correctly before they are timed.
reply=$(curl -s -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: "urn:ithaca:bench:echo#echoString"' --data-binary @"$work/direct.xml" "$direct_url" || true)
case "$reply" in *"<result>$text"*) ;; *) echo "the direct echo failed: ${reply:0:300}" >&2; cat "$work/ithaca.log" >&2; exit 1 ;; esac
reply=$(curl -s -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: ""' --data-binary @"$work/bridged.xml" "$bridged_url" || true)
case "$reply" in *"<_return>$text"*) ;; *) echo "the bridged echo failed: ${reply:0:300}" >&2; cat "$work/ithaca.log" >&2; exit 1 ;; esac

lua() { # name action
    cat >"$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '$2'
local f = io.open("$work/$1.xml", "r"); wrk.body = f:read("*a"); f:close()
LUA
}
lua direct '"urn:ithaca:bench:echo#echoString"'
lua bridged '""'
results="$work/results"
for round in $(seq 1 "$rounds"); do
    for name in direct bridged; do
        case $name in direct) u=$direct_url ;; bridged) u=$bridged_url ;; esac
        out=$(taskset -c 1 wrk -t1 -c16 -d"${seconds}s" -s "$work/$name.lua" "$u")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
        echo "$name $rps $non2xx" >>"$results"
        echo "round $round $name: $rps req/s, non-2xx $non2xx" >&2
    done
done
soap_line=$(python3 - "$results" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
rps = {n: statistics.median(float(r[1]) for r in rows if r[0] == n) for n in ("direct", "bridged")}
bad = sum(int(r[2]) for r in rows)
print(f"direct median {rps['direct']:.0f} req/s, bridged median {rps['bridged']:.0f} req/s, non-2xx {bad}", file=sys.stderr)
print(f"{rps['direct'] / max(rps['bridged'], 1e-9):.2f}")
PY
)
cleanup
trap - EXIT

corba_cost=NA
if [ -f "$root/bench/lib/bridge-corba-to-soap.sh" ]; then
    line=$(ITHACA_BENCH_BIN="$bin" bash "$root/bench/lib/bridge-corba-to-soap.sh" --seconds "$seconds" --rounds "$rounds" | tail -n 1 || true)
    case "$line" in *corba_to_soap_cost=*) corba_cost=${line##*corba_to_soap_cost=}; corba_cost=${corba_cost%% *} ;; esac
fi
echo "soap_to_corba_cost=$soap_line corba_to_soap_cost=$corba_cost"
