#!/usr/bin/env bash
# User-space instructions per request of `ithaca serve` answering the
# EchoService benchmark request, counted with callgrind: deterministic, so
# usable on a busy machine where timings are not.
#
#   bench/soap-echo-instructions.sh [--requests N] [--bin PATH] [--path /URL/PATH] [--raw] [--connection-only]
#
# Starts the server under `taskset -c 0 valgrind --tool=callgrind` (one CPU,
# as the compare script pins it, so the gateway runs its current-thread
# runtime), sends N and then N/6 requests over one keep-alive connection
# (the 288-byte SOAP 1.1 echoString request of the compare script, each
# response read whole before the next request), and prints
#
#   instructions_per_request=... requests=...
#
# which is (total of the N run - total of the N/6 run) / (N - N/6), so
# start-up and shutdown cancel out. --connection-only counts only inside
# hyper's connection task (callgrind's --toggle-collect on `poll_catch`):
# the whole process also runs start-up work whose amount differs between
# the two runs (clock calibration, the membership oracle's timers), which
# makes its figure move by thousands from run to run; the connection
# task's does not. --raw measures the compare script's
# raw hyper server instead (from its cache, built by a first run of
# bench/soap-echo.sh). The binary defaults to the release build in
# $CARGO_TARGET_DIR (or target/). Needs valgrind and python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
requests=1200 bin= path=/services/EchoService raw=0 collect=()
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --path) path=$2; shift 2 ;;
        --raw) raw=1; shift ;;
        --connection-only) collect=("--toggle-collect=*poll_catch*"); shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ "$raw" = 1 ]; then
    cache=${ITHACA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ithaca-bench}
    bin=${bin:-$cache/hyper-raw}
    path=/echo
fi
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --locked -q --bin ithaca)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/ithaca"
fi
[ -x "$bin" ] || { echo "no server binary at $bin" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/client.py" <<'PY'
import socket, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
body = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:e="urn:ithaca:bench:echo"><soap:Body><e:echoString><text>hello from the '
        b'benchmark, a short payload of about one hundred bytes of text......</text>'
        b'</e:echoString></soap:Body></soap:Envelope>')
head = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
        b"SOAPAction: \"urn:ithaca:bench:echo#echoString\"\r\nContent-Length: %d\r\n\r\n")
request = head % (path, len(body)) + body
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""
for i in range(n):
    s.sendall(request)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            lines = buf[:end].decode("latin-1").split("\r\n")
            length = next(int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:"))
            if len(buf) >= end + 4 + length:
                if not lines[0].startswith("HTTP/1.1 200"):
                    sys.exit("the server answered: " + lines[0])
                buf = buf[end + 4 + length:]
                break
        data = s.recv(65536)
        if not data:
            sys.exit("the server closed the connection")
        buf += data
PY

# Runs the server under callgrind for `n` requests; prints its total.
count() {
    local n=$1 port=$2 out="$work/callgrind.$1"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is already in use" >&2
        exit 1
    fi
    local args=(serve --listen "127.0.0.1:$port" --data-dir "$work/data-$n")
    [ "$raw" = 1 ] && args=("$port")
    env $(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ') -u RUST_LOG \
        taskset -c 0 valgrind --tool=callgrind ${collect[@]+"${collect[@]}"} --callgrind-out-file="$out" "$bin" "${args[@]}" \
        >"$work/server-$n.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.2
    done
    python3 "$work/client.py" "$port" "$n" "$path"
    # SIGINT drains `ithaca serve`; a server that ignores it gets SIGTERM.
    kill -INT "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
    grep '^totals:' "$out" | awk '{print $2}'
}
small=$((requests / 6))
large_total=$(count "$requests" 18461)
small_total=$(count "$small" 18462)
echo "instructions_per_request=$(( (large_total - small_total) / (requests - small) )) requests=$((requests - small))"
