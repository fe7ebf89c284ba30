#!/usr/bin/env bash
# The built-in EchoService of `ithaca serve` against gSOAP and a raw hyper
# server, side by side in one run on this machine.
#
#   bench/soap-echo.sh [--seconds S] [--rounds R]
#
# Runs ../shared/bench/soap-echo-compare.sh with `ithaca serve` (release
# build) as the target: the 288-byte document/literal SOAP 1.1 echoString
# request of ../shared/bench/echo/request-soap11.xml, with schema validation
# on (the default), POSTed to /services/EchoService. The compare script pins
# each server to CPU 0 and wrk (1 thread, 16 keep-alive connections) to
# CPU 1, runs the three servers in turn each round, and ends with one line,
# which this script prints last:
#
#   target_rps=... gsoap_rps=... raw_rps=... ratio_rps_vs_gsoap=... ratio_cpu_vs_gsoap=... ratio_rps_vs_raw=... target_non2xx=...
#
# The binary is built with `cargo build --release` into $CARGO_TARGET_DIR
# (default: target/ at the root); ITHACA_BENCH_BIN names an already built
# binary instead. Exit status 2 when ../shared (ITHACA_SHARED) is absent.
# The gateway reads ITHACA_* variables as configuration, so the target runs
# with every one of them unset.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${ITHACA_SHARED:-$root/../shared}
compare="$shared/bench/soap-echo-compare.sh"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds|--rounds) args+=("$1" "$2"); shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ! -f "$compare" ]; then
    echo "the shared SOAP echo comparison is not here ($compare): no comparison possible" >&2
    exit 2
fi

bin=${ITHACA_BENCH_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --locked -q --bin ithaca)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/ithaca"
fi
[ -x "$bin" ] || { echo "no ithaca binary at $bin" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=18381
out="$work/out"
unset_config=$(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ' || true)
bash "$compare" \
    --target-cmd "env $unset_config$bin serve --listen 127.0.0.1:$port --data-dir $work/data" \
    --url "http://127.0.0.1:$port/services/EchoService" \
    ${args[@]+"${args[@]}"} | tee "$out" >&2
tail -n 1 "$out"
