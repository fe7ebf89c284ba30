#!/usr/bin/env bash
# Deterministic per-call costs of the CORBA<->SOAP bridge: instructions
# (callgrind), heap allocations (callgrind's count of calls to malloc) and
# system calls (strace -c), per call, for each process on the server CPU,
# both ways and for the direct paths bench/bridge.sh divides by. Usable on
# a busy machine, where timings are not.
#
#   bench/lib/bridge-instructions.sh [--calls N] [--bin PATH] [--only soap|corba]
#
# SOAP -> CORBA: `ithaca serve` hosting /services/EchoService (direct) and
#   /services/Bench ([[bridge.corba]] in front of the omniORB anchor server
#   of ../shared/bench/corba, built as bench/bridge.sh builds it); a Python
#   client sends N, then N/6, SOAP 1.1 echoString requests over one
#   keep-alive connection. Per call = (total of N - total of N/6) / (N - N/6).
#   The omniORB server is measured the same way (it shares CPU 0 with the
#   gateway in bench/bridge.sh, so its work is part of the bridged cost).
# CORBA -> SOAP: the omniORB client of bench/lib/bridge-corba-to-soap.sh
#   calls echoString N (then N/6) times through the gateway's IIOP front
#   (hosted EchoService), and, for the direct path, on the omniORB server
#   of the same IDL.
#
# Lines printed (one per measured process):
#   PATH PROCESS instructions_per_call=I mallocs_per_call=M syscalls_per_call=S
# The binary defaults to the release build in $CARGO_TARGET_DIR (or target/).
# Needs valgrind, strace, omniidl, g++, pkg-config, python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${ITHACA_SHARED:-$root/../shared}
calls=1200 bin= only=
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
for tool in valgrind strace omniidl g++ pkg-config python3 taskset; do
    command -v "$tool" >/dev/null || { echo "$tool is needed: run scripts/install-test-deps.sh" >&2; exit 1; }
done
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
noenv=$(compgen -e | grep '^ITHACA_' | sed 's/^/-u /' | tr '\n' ' ' || true)

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# Runs "$@" under a tool on CPU 0: `measure TOOL OUT cmd...`, pid in $!.
measure() {
    local tool=$1 out=$2
    shift 2
    case $tool in
        callgrind) setsid taskset -c 0 env $noenv -u RUST_LOG valgrind --tool=callgrind \
            --callgrind-out-file="$out" "$@" >"$out.log" 2>&1 & ;;
        strace) setsid taskset -c 0 env $noenv -u RUST_LOG strace -f -c -o "$out" "$@" \
            >"$out.log" 2>&1 & ;;
    esac
}

# Stops a measured process (SIGINT drains `ithaca serve`; SIGTERM after).
stop() {
    local pid=$1 child
    # strace -o FILE blocks fatal signals: signal the traced process too.
    for child in $(pgrep -P "$pid" || true); do kill -INT "$child" 2>/dev/null || true; done
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 25); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    # omniORB ignores SIGINT, and strace -o blocks SIGTERM: end the child.
    for child in $(pgrep -P "$pid" || true); do kill -TERM "$child" 2>/dev/null || true; done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# callgrind totals: instructions and calls to malloc.
ir_of() { grep '^totals:' "$1" | awk '{print $2}'; }
mallocs_of() {
    python3 - "$1" <<'PY'
import sys, re
calls = 0
fn_names = {}
current = None
pending = None
with open(sys.argv[1], errors="replace") as f:
    for line in f:
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, ident, name = m.groups()
            if name:
                fn_names[ident] = name
            if kind == "cfn":
                pending = fn_names.get(ident, "")
            continue
        m = re.match(r"^calls=(\d+)", line)
        if m and pending is not None:
            if pending in ("malloc", "calloc", "realloc") or pending.endswith(":malloc"):
                calls += int(m.group(1))
            pending = None
print(calls)
PY
}
syscalls_of() { awk '/^[ 0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+ +([0-9]+ +)?total$/ {print $4}' "$1"; }

per_call() { # large small n_large n_small
    python3 -c "import sys; a,b,n,m=map(float,sys.argv[1:]); print(f'{(a-b)/(n-m):.0f}')" "$@"
}

small=$((calls / 6))

cat >"$work/client.py" <<'PY'
import socket, sys
port, n, path, action, body = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], open(sys.argv[5], "rb").read()
head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
        "SOAPAction: %s\r\nContent-Length: %d\r\n\r\n" % (path, action, len(body))).encode()
request = head + body
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
                    sys.exit("the server answered: " + lines[0] + " " + buf[end+4:end+4+length].decode())
                buf = buf[end + 4 + length:]
                break
        data = s.recv(65536)
        if not data:
            sys.exit("the server closed the connection")
        buf += data
PY

soap_to_corba() {
    local corba="$shared/bench/corba"
    if [ ! -f "$corba/Bench.idl" ]; then
        echo "the shared benchmark is not here: SOAP -> CORBA skipped" >&2
        return 0
    fi
    local cache=${ITHACA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ithaca-bench}
    mkdir -p "$cache"
    if [ ! -x "$cache/bridge-omniorb-echo" ]; then
        local d
        d=$(mktemp -d)
        cp "$corba/Bench.idl" "$corba/server.cc" "$d/"
        (cd "$d" && omniidl -bcxx Bench.idl \
            && g++ -O2 -o "$cache/bridge-omniorb-echo" server.cc BenchSK.cc $(pkg-config --cflags --libs omniORB4))
        rm -rf "$d"
    fi
    local text="hello from the benchmark"
    cat >"$work/direct.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:ithaca:bench:echo"><soap:Body><e:echoString><text>$text</text></e:echoString></soap:Body></soap:Envelope>
XML
    cat >"$work/bridged.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="http://www.omg.org/IDL-Mapped/"><soap:Body><b:IthacaBench.Echo.echoString><text>$text</text></b:IthacaBench.Echo.echoString></soap:Body></soap:Envelope>
XML
    local oport=18581 gport=18582
    # One run: tool, n, path name; measures the gateway or the omniORB server.
    run() {
        local tool=$1 n=$2 name=$3 who=$4 out="$work/$1.$3.$4.$2"
        local opid gpid
        if [ "$who" = omniorb ]; then
            measure "$tool" "$out" "$cache/bridge-omniorb-echo" -ORBendPoint "giop:tcp:127.0.0.1:$oport"
            opid=$!
        else
            setsid taskset -c 0 "$cache/bridge-omniorb-echo" -ORBendPoint "giop:tcp:127.0.0.1:$oport" >/dev/null 2>&1 &
            opid=$!
        fi
        pids+=("$opid")
        wait_port "$oport"
        cat >"$work/ithaca.toml" <<TOML
[server]
listen = "127.0.0.1:$gport"

[storage]
data_dir = "$work/data-$tool-$name-$who-$n"

[log]
filter = "warn"

[membership]
enabled = false

[[bridge.corba]]
name = "Bench"
idl = "$corba/Bench.idl"
interface = "IthacaBench::Echo"
target = "corbaloc::1.2@127.0.0.1:$oport/Echo"
TOML
        if [ "$who" = gateway ]; then
            measure "$tool" "$out" "$bin" --config "$work/ithaca.toml" serve
        else
            setsid taskset -c 0 env $noenv "$bin" --config "$work/ithaca.toml" serve >/dev/null 2>&1 &
        fi
        gpid=$!
        pids+=("$gpid")
        wait_port "$gport"
        case $name in
            direct) taskset -c 1 python3 "$work/client.py" "$gport" "$n" /services/EchoService \
                '"urn:ithaca:bench:echo#echoString"' "$work/direct.xml" ;;
            bridged) taskset -c 1 python3 "$work/client.py" "$gport" "$n" /services/Bench '""' "$work/bridged.xml" ;;
        esac
        stop "$gpid"
        stop "$opid"
    }
    for name in direct bridged; do
        for who in gateway omniorb; do
            [ "$name" = direct ] && [ "$who" = omniorb ] && continue
            run callgrind "$calls" "$name" "$who"
            run callgrind "$small" "$name" "$who"
            run strace "$calls" "$name" "$who"
            run strace "$small" "$name" "$who"
            local a="$work/callgrind.$name.$who.$calls" b="$work/callgrind.$name.$who.$small"
            local sa="$work/strace.$name.$who.$calls" sb="$work/strace.$name.$who.$small"
            echo "soap_to_corba_$name $who instructions_per_call=$(per_call "$(ir_of "$a")" "$(ir_of "$b")" "$calls" "$small")" \
                "mallocs_per_call=$(per_call "$(mallocs_of "$a")" "$(mallocs_of "$b")" "$calls" "$small")" \
                "syscalls_per_call=$(per_call "$(syscalls_of "$sa")" "$(syscalls_of "$sb")" "$calls" "$small")"
            [ -n "${ITHACA_BENCH_KEEP:-}" ] && cp "$a" "$ITHACA_BENCH_KEEP/callgrind.soap_to_corba_$name.$who"
        done
    done
}

corba_to_soap() {
    local fixtures="$root/gateway/tests/fixtures/bridge/iiopfront"
    "$bin" wsdl2idl "$root/services/wsdl/echo.wsdl" -o "$work/echo.idl"
    cp "$fixtures/echo_client.cc" "$fixtures/echo_server.cc" "$work/"
    (cd "$work" && omniidl -bcxx echo.idl \
        && for p in echo_client echo_server; do
            g++ -O2 -o "$p" "$p.cc" echoSK.cc $(pkg-config --cflags --libs omniORB4)
        done)
    local text="hello from the benchmark, a short payload"
    local gport=18592 iport=18593 oport=18591
    run() {
        local tool=$1 n=$2 name=$3 out="$work/$1.c2s.$3.$2" pid ref
        if [ "$name" = direct ]; then
            measure "$tool" "$out" "$work/echo_server" -ORBendPoint "giop:tcp:127.0.0.1:$oport"
            pid=$!
            pids+=("$pid")
            wait_port "$oport"
            for _ in $(seq 1 100); do
                ref=$(grep -o 'IOR:[0-9a-f]*' "$out.log" | head -n 1 || true)
                [ -n "$ref" ] && break
                sleep 0.2
            done
        else
            cat >"$work/ithaca-c2s.toml" <<TOML
[server]
listen = "127.0.0.1:$gport"

[storage]
data_dir = "$work/data-c2s-$tool-$n"

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
            measure "$tool" "$out" "$bin" --config "$work/ithaca-c2s.toml" serve
            pid=$!
            pids+=("$pid")
            wait_port "$iport"
            ref="corbaloc:iiop:1.2@127.0.0.1:$iport/Echo"
            for _ in $(seq 1 100); do
                ref=$(grep -o 'IOR:[0-9a-f]*' "$out.log" | head -n 1 || true)
                [ -n "$ref" ] && break
                sleep 0.2
            done
        fi
        # The client's 500 warm-up calls are in both runs and cancel out.
        taskset -c 1 "$work/echo_client" "$ref" "$text" "$n" >"$out.client" || {
            echo "the $name client failed:" >&2
            cat "$out.client" "$out.log" >&2
            exit 1
        }
        stop "$pid"
    }
    for name in direct bridged; do
        run callgrind "$calls" "$name"
        run callgrind "$small" "$name"
        run strace "$calls" "$name"
        run strace "$small" "$name"
        local a="$work/callgrind.c2s.$name.$calls" b="$work/callgrind.c2s.$name.$small"
        local sa="$work/strace.c2s.$name.$calls" sb="$work/strace.c2s.$name.$small"
        local who=omniorb
        [ "$name" = bridged ] && who=gateway
        echo "corba_to_soap_$name $who instructions_per_call=$(per_call "$(ir_of "$a")" "$(ir_of "$b")" "$calls" "$small")" \
            "mallocs_per_call=$(per_call "$(mallocs_of "$a")" "$(mallocs_of "$b")" "$calls" "$small")" \
            "syscalls_per_call=$(per_call "$(syscalls_of "$sa")" "$(syscalls_of "$sb")" "$calls" "$small")"
        [ -n "${ITHACA_BENCH_KEEP:-}" ] && cp "$a" "$ITHACA_BENCH_KEEP/callgrind.corba_to_soap_$name"
    done
}

[ "$only" != corba ] && soap_to_corba
[ "$only" != soap ] && corba_to_soap
exit 0
