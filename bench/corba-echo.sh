#!/usr/bin/env bash
# Ithaca's ORB against omniORB 4.2, side by side in one run, for each mode
# (echo, add, reverse): ../shared/bench/corba/corba-echo-compare.sh times
# omniORB's client against Ithaca's `corba_echo` server and against omniORB's
# server (server_ratio), and Ithaca's `corba_echo_client` against omniORB's
# server (client_ratio).
#
#   bench/corba-echo.sh [--calls N] [--rounds R] [--client-busy-poll MICROS]
#
# Prints the compare script's last line for each mode, prefixed by the mode.
# The example binaries are built (release) in $CARGO_TARGET_DIR when it is
# set, else in target/. `corba_echo_client` makes its calls as omniORB's client does:
# the same arguments, from one thread blocked on the socket. With
# --client-busy-poll it polls for each reply that long before blocking
# (ClientConfig::busy_poll), which omniORB's client does not do: such a run
# compares a polling client with a sleeping one, and says so on its lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${ITHACA_SHARED:-$root/../shared}
compare="$shared/bench/corba/corba-echo-compare.sh"
[ -x "$compare" ] || [ -f "$compare" ] || { echo "the omniORB compare script is not here ($compare): no comparison possible" >&2; exit 2; }
calls=20000 rounds=3 busy_poll=
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --client-busy-poll) busy_poll=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
(cd "$root" && cargo build --release --locked -q -p ithaca-corba-echo --examples)
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
bin="$target_dir/release/examples"
port=18291
client="$bin/corba_echo_client" note=
if [ -n "$busy_poll" ]; then
    case "$busy_poll" in *[!0-9]*) echo "--client-busy-poll takes a number of microseconds" >&2; exit 2 ;; esac
    client="$client --busy-poll $busy_poll" note=" client_busy_poll_us=$busy_poll"
fi
for mode in echo add reverse; do
    line=$(bash "$compare" --target-cmd "$bin/corba_echo $port" --target-port "$port" \
        --client-cmd "$client" --calls "$calls" --rounds "$rounds" --mode "$mode" | tail -n 1)
    echo "mode=$mode $line$note"
done
