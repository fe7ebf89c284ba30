#!/usr/bin/env bash
# The membership oracle's detection, failover, commit latency, false
# removals under CPU saturation, and how many members one leader sustains,
# with real processes on loopback (release build of `ithaca`).
#
#   bench/membership.sh [--kills N] [--pauses N] [--members-steps "1000 5000 10000 16000"]
#                       [--load-seconds S] [--sustained-only]
#
# 1. A 3-node oracle (`ithaca serve --oracle-peers …`, fsynced logs in
#    separate data directories) and members (`ithaca membership member
#    --role bench --record FILE`). N times (default 30): `kill -9` of the
#    primary; detection = until the leader's /membership/watch stream shows
#    a committed view without it; failover = until the backup's record says
#    it acts as primary (both on CLOCK_MONOTONIC). A new member joins as the
#    next backup before the next kill.
# 2. View-change commit latency: `ithaca membership load` joins 100 members
#    one at a time against the 3-node oracle (each join is one majority
#    commit, fsync on a majority, answered after the leader applied it).
# 3. False removals: a busy loop per core saturates both cores while
#    members are paused with SIGSTOP for 0.5 L and 0.75 L (shorter than the
#    lease) N times (default 20); every view that removes a member counts.
# 4. Members sustained: for each step, a fresh single-node oracle and
#    `ithaca membership load --members N`: N simulated members join (64
#    joins in flight), then heartbeat over real UDP every 200 ms for
#    --load-seconds (default 30) after the last join. A step is *sustained*
#    when every member joined, no member was ever removed (zero false
#    removals), no member's lease would have lapsed in the steady state, and
#    the leader kept up: at most 1 % of the steady state's heartbeats went
#    unanswered and their p99 round trip stayed under the 200 ms interval.
#    members_sustained is the largest such N; the oracle process's CPU over
#    the steady state (leader_cpu_pct, 100 = one core) is reported with it.
#    Each step's log line also says where unanswered heartbeats went:
#    heartbeats the kernel dropped at the oracle's full socket
#    (oracle_socket_drops, the drops column of /proc/net/udp for its port),
#    replies it dropped at the generator's sockets (reply_drops, in the
#    generator's own line), replies the oracle could not send
#    (send_dropped), the machine-wide RcvbufErrors of /proc/net/snmp over
#    the step (udp_rcvbuf_errors: other UDP traffic on the machine counts
#    too), and the heartbeat task's view installs (views_installed,
#    members_synced: members its detector looked at, view_full_syncs).
#    rmem_max is the kernel's cap on the oracle's 4 MiB buffer request
#    (a stock kernel's 212992 leaves about 4 ms of heartbeats at 10 000
#    members: raise net.core.rmem_max for a meaningful large step).
#    --sustained-only runs this part alone (phases 1-3 print as n/a).
#
# ITHACA_BENCH_BIN names a prebuilt `ithaca` (else a release build is made
# in $CARGO_TARGET_DIR or target/). The last line is
# `detect_p50_ms= detect_p99_ms= suspicion_timeout_ms= failover_p99_ms=
# view_commit_p50_ms= false_removals= members_sustained= leader_cpu_pct=`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kills=30 pauses=20 steps="1000 5000 10000 16000" load_seconds=30 sustained_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --kills) kills=$2; shift 2 ;;
        --pauses) pauses=$2; shift 2 ;;
        --members-steps) steps=$2; shift 2 ;;
        --load-seconds) load_seconds=$2; shift 2 ;;
        --sustained-only) sustained_only=1; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -n "${ITHACA_BENCH_BIN:-}" ]; then
    bin=$ITHACA_BENCH_BIN
else
    (cd "$root" && cargo build --release --locked -q -p ithaca-gateway --bin ithaca)
    target_dir=${CARGO_TARGET_DIR:-$root/target}
    case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
    bin="$target_dir/release/ithaca"
fi
[ -x "$bin" ] || { echo "no ithaca binary at $bin" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed to drive the processes" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/driver.py" <<'PY'
import json, os, resource, signal, socket, subprocess, sys, threading, time, urllib.request

BIN, WORK = os.environ["BIN"], os.environ["WORK"]
KILLS, PAUSES = int(os.environ["KILLS"]), int(os.environ["PAUSES"])
STEPS = [int(n) for n in os.environ["STEPS"].split()]
LOAD_SECONDS = int(os.environ["LOAD_SECONDS"])
SUSTAINED_ONLY = os.environ["SUSTAINED_ONLY"] == "1"
TICKS = os.sysconf("SC_CLK_TCK")
SERVICE = "bench"
LEASE_MS, SUSPICION_MS = 2000, 2600
children = []

def log(*args):
    print(*args, file=sys.stderr, flush=True)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def spawn(args, env=None, stdout=subprocess.PIPE):
    # `ithaca serve` refuses ITHACA_* variables that name no key.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ITHACA_")}
    full_env.update(ITHACA_LOG__FILTER="warn", RUST_LOG="warn")
    full_env.update(env or {})
    child = subprocess.Popen([BIN] + args, env=full_env, stdout=stdout,
                             stderr=subprocess.DEVNULL, text=True)
    children.append(child)
    return child

def stop(child, sig=signal.SIGKILL):
    try:
        os.kill(child.pid, signal.SIGCONT)
        os.kill(child.pid, sig)
    except ProcessLookupError:
        pass
    child.wait()

def serve(node_id, data, consensus_port, member_port, peers):
    args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", data]
    if peers:
        args += ["--oracle-peers", peers]
    child = spawn(args, env={
        "ITHACA_MEMBERSHIP__ORACLE_ID": str(node_id),
        "ITHACA_MEMBERSHIP__ORACLE_LISTEN": f"127.0.0.1:{consensus_port}",
        "ITHACA_MEMBERSHIP__LISTEN": f"127.0.0.1:{member_port}",
    })
    admin = None
    for line in child.stdout:
        if line.startswith("listening: server http://"):
            admin = line.split("http://", 1)[1].strip()
        if line.startswith("stop with"):
            break
    return child, admin

def get(admin, path):
    with urllib.request.urlopen(f"http://{admin}{path}", timeout=2) as r:
        return json.load(r)

def leader_of(admins, within=30):
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        for admin in admins:
            try:
                if get(admin, "/membership/members").get("oracle_leader"):
                    return admin
            except Exception as error:
                last = error
        time.sleep(0.05)
    raise SystemExit(f"no oracle leader among {admins}: {last}")

def start_oracles(count, name):
    consensus = [free_port() for _ in range(count)]
    members = [free_port() for _ in range(count)]
    peers = ",".join(f"{i+1}=127.0.0.1:{p}" for i, p in enumerate(consensus)) if count > 1 else ""
    nodes = [serve(i + 1, f"{WORK}/{name}-{i+1}", consensus[i], members[i], peers) for i in range(count)]
    admins = [admin for _, admin in nodes]
    return nodes, admins, [f"127.0.0.1:{p}" for p in members]

class Watch(threading.Thread):
    """The leader's /membership/watch stream: (arrival, view) per event."""
    def __init__(self, admin):
        super().__init__(daemon=True)
        self.admin, self.events, self.lock = admin, [], threading.Lock()
    def run(self):
        with urllib.request.urlopen(f"http://{self.admin}/membership/watch", timeout=3600) as r:
            for raw in r:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    view = json.loads(line[5:])
                    with self.lock:
                        self.events.append((time.monotonic_ns(), view))
    def first_without(self, member, after_ns, within):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                for at, view in self.events:
                    if at >= after_ns and member not in view["members"]:
                        return at, view
            time.sleep(0.002)
        return None, None

def start_member(oracles, member_id):
    record = f"{WORK}/{member_id}.jsonl"
    child = spawn(["membership", "member", "--oracles", ",".join(oracles),
                   "--id", member_id, "--role", SERVICE, "--record", record])
    line = child.stdout.readline()
    if "joined" not in line:
        raise SystemExit(f"{member_id} did not join: {line!r}")
    return child, record

def acting_since(record, after_ns, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(record) as f:
                for line in f:
                    event = json.loads(line)
                    if event["kind"] == "start" and event["at_ns"] >= after_ns:
                        return event["at_ns"]
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.005)
    return None

class CpuSampler(threading.Thread):
    """A process's CPU seconds (user + system), sampled every 0.2 s."""
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stopped = pid, [], threading.Event()
    def run(self):
        while not self.stopped.is_set():
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self.samples.append((time.monotonic(), (int(fields[11]) + int(fields[12])) / TICKS))
            except (OSError, IndexError, ValueError):
                return
            time.sleep(0.2)
    def share(self, start, end):
        """CPU used between two monotonic instants, in % of one core."""
        inside = [(t, c) for t, c in self.samples if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return 100 * (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")

def rcvbuf_errors():
    """The machine-wide UDP RcvbufErrors counter (None where unreadable)."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [line.split() for line in f if line.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    except (OSError, IndexError, ValueError):
        return None

def udp_socket_drops(address):
    """Datagrams the kernel dropped at the UDP socket bound to this
    host:port's port (the drops column of /proc/net/udp and udp6), or None
    where unreadable."""
    port = int(address.rsplit(":", 1)[1])
    found = None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                rows = [line.split() for line in f][1:]
        except OSError:
            continue
        for row in rows:
            try:
                if int(row[1].rsplit(":", 1)[1], 16) == port:
                    found = (found or 0) + int(row[-1])
            except (IndexError, ValueError):
                pass
    return found

def rmem_max():
    """The kernel's cap on a socket's receive buffer: the oracle asks for
    4 MiB and gets at most this."""
    try:
        with open("/proc/sys/net/core/rmem_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return "n/a"

def oracle_counters(admin):
    try:
        return get(admin, "/membership/oracle-status").get("heartbeats", {})
    except Exception:
        return {}

def pct(values, p):
    """Nearest-rank percentile."""
    values = sorted(values)
    if not values:
        return float("nan")
    rank = max(1, -(-len(values) * p // 100))
    return values[min(len(values), rank) - 1]

try:
    detect, failover, view_commit_p50, removals = [], [], float("nan"), "n/a"
    if not SUSTAINED_ONLY:
        # 1. Detection and failover on a 3-node oracle.
        nodes, admins, oracles = start_oracles(3, "oracle")
        leader = leader_of(admins)
        watch = Watch(leader)
        watch.start()
        serial = 0
        def next_member():
            global serial
            serial += 1
            return start_member(oracles, f"m{serial}")
        primary = next_member()
        backup = next_member()
        time.sleep(1)
        detect, failover = [], []
        for round_ in range(KILLS):
            victim, (backup_child, backup_record) = primary, backup
            victim_id = f"m{serial - 1}"
            victim[0].kill()
            killed = time.monotonic_ns()
            victim[0].wait()
            at, view = watch.first_without(victim_id, killed, 15)
            started = acting_since(backup_record, killed, 15)
            if at is None or started is None:
                raise SystemExit(f"round {round_}: no removal or no failover")
            detect.append((at - killed) / 1e6)
            failover.append((started - killed) / 1e6)
            log(f"kill {round_ + 1}/{KILLS}: detect {detect[-1]:.0f} ms failover {failover[-1]:.0f} ms")
            primary, backup = backup, next_member()
            time.sleep(0.5)

        # 2. View-change commit latency: joins one at a time.
        out = subprocess.run([BIN, "membership", "load", "--oracle", oracles[admins.index(leader)],
                              "--members", "100", "--seconds", "1", "--join-concurrency", "1",
                              "--prefix", "commit"], capture_output=True, text=True).stdout.strip()
        fields = dict(kv.split("=", 1) for kv in out.split())
        view_commit_p50 = float(fields["join_p50_ms"])
        log(f"commit: {out}")

        # 3. False removals: both cores busy, pauses shorter than the lease.
        # (The commit phase's simulated members went silent and are removed
        # meanwhile; only the member processes m1, m2, ... count.)
        members = [next_member() for _ in range(4)]
        time.sleep(SUSPICION_MS / 1000 + 1)
        busy = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(os.cpu_count() or 2)]
        before = len(watch.events)
        try:
            for i in range(PAUSES):
                child = members[i % len(members)][0]
                pause = (0.5 if i % 2 == 0 else 0.75) * LEASE_MS / 1000
                os.kill(child.pid, signal.SIGSTOP)
                time.sleep(pause)
                os.kill(child.pid, signal.SIGCONT)
                time.sleep(0.5)
            time.sleep(SUSPICION_MS / 1000 + 1)
        finally:
            for b in busy:
                b.kill()
                b.wait()
        removals = 0
        with watch.lock:
            events = watch.events[before:]
        for (_, previous), (_, view) in zip(watch.events[before - 1:], events):
            gone = set(previous["members"]) - set(view["members"])
            removals += len([m for m in gone if not m.startswith("commit-")])
        log(f"false removals: {removals} over {PAUSES} pauses with both cores busy")
        for child, _ in nodes:
            stop(child)

    # 4. Members one leader sustains at 200 ms heartbeats.
    sustained, leader_cpu = 0, float("nan")
    for n in STEPS:
        nodes, admins, oracles = start_oracles(1, f"load{n}")
        leader_of(admins)
        sampler = CpuSampler(nodes[0][0].pid)
        sampler.start()
        began = time.monotonic()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        drops_before = rcvbuf_errors()
        load = subprocess.run([BIN, "membership", "load", "--oracle", oracles[0], "--members", str(n),
                               "--seconds", str(LOAD_SECONDS), "--join-concurrency", "64"],
                              capture_output=True, text=True)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        drops_after = rcvbuf_errors()
        drops = "n/a" if None in (drops_before, drops_after) else drops_after - drops_before
        beats = oracle_counters(admins[0])
        socket_drops = udp_socket_drops(oracles[0])
        where = (f"oracle_socket_drops={'n/a' if socket_drops is None else socket_drops} "
                 f"rmem_max={rmem_max()} "
                 f"udp_rcvbuf_errors={drops} send_dropped={beats.get('send_dropped', 'n/a')} "
                 f"views_installed={beats.get('views_installed', 'n/a')} "
                 f"members_synced={beats.get('members_synced', 'n/a')} "
                 f"view_full_syncs={beats.get('view_full_syncs', 'n/a')}")
        gen_cpu = (children_after.ru_utime + children_after.ru_stime
                   - children_before.ru_utime - children_before.ru_stime)
        out = load.stdout.strip()
        sampler.stopped.set()
        fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
        joined_at = began + float(fields.get("join_s", "nan"))
        # The steady state: from 1 s after the last join to the end of sending.
        cpu = sampler.share(joined_at + 1, joined_at + LOAD_SECONDS)
        log(f"load {n}: {out} leader_cpu_pct={cpu:.0f} {where} (generator: {gen_cpu:.1f} s of CPU over "
            f"{time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.1f})")
        for child, _ in nodes:
            stop(child)
        if "sustained=true" in out:
            sustained, leader_cpu = n, cpu
        else:
            break

    print(f"detect_p50_ms={pct(detect, 50):.0f} detect_p99_ms={pct(detect, 99):.0f} "
          f"suspicion_timeout_ms={SUSPICION_MS} failover_p99_ms={pct(failover, 99):.0f} "
          f"view_commit_p50_ms={view_commit_p50:.2f} false_removals={removals} "
          f"members_sustained={sustained} leader_cpu_pct={leader_cpu:.0f}")
finally:
    for child in children:
        if child.poll() is None:
            stop(child)
PY
BIN="$bin" WORK="$work" KILLS="$kills" PAUSES="$pauses" STEPS="$steps" LOAD_SECONDS="$load_seconds" \
    SUSTAINED_ONLY="$sustained_only" \
    python3 "$work/driver.py" </dev/null
