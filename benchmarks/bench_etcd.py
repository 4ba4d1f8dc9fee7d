"""The journal and the guard lease on etcd: append latency on a three-member cluster on loopback, replay of
100,000 events from etcd, and a standby's takeover after its holder stops renewing (the lease alone, and real
`cockpit guard` processes: the holder SIGKILLed, the standby's guard_started).

An append is one txn committed by a quorum (each member fsyncs its WAL); replay is paginated ranges at one
revision, the file journal's scan over the lines (every hash), the head key, then the fold.

Run: make bench   (or: .venv/bin/python benchmarks/bench_etcd.py [--appends 1000] [--events 100000])
Aims: append p99 under 20 ms; replay of 100,000 events within 2 s; takeover within the TTL plus one poll.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the loopback cluster lives with the tests

from benchmarks.bench_journal import ACTOR, T0, realistic_mix  # noqa: E402
from cockpit.core import events as ev  # noqa: E402
from cockpit.core.state import fold  # noqa: E402
from cockpit.store.chain import encode_line  # noqa: E402
from cockpit.store.etcd_client import EtcdClient, put  # noqa: E402
from cockpit.store.etcd_journal import EtcdJournal, head_key, journal_key  # noqa: E402
from cockpit.store.etcd_lease import EtcdGuardLease  # noqa: E402
from tests.etcd_cluster import Cluster  # noqa: E402

PREFIX = "/cockpit/bench/v1"
TTL_S, POLL_S = 2, 0.5


def bench_append(client: EtcdClient, local: Path, n: int) -> list[float]:
    j = EtcdJournal(client, f"{PREFIX}/append", local, actor=ACTOR)
    payload = ev.GateDecided(phase=0, role="sre", decision="GO", name="alice", note="x" * 60)
    times = []
    for i in range(n):
        t = time.perf_counter()
        j.append(payload, actor=ACTOR, ts=T0 + timedelta(seconds=i))
        times.append(time.perf_counter() - t)
    return sorted(times)


def load(client: EtcdClient, prefix: str, n: int, batch: int = 1000) -> int:
    """n chained events written in big txns (a bulk load, not appends), then the head; their bytes."""
    kinds, prev, ops, size = realistic_mix(), ev.GENESIS, [], 0
    for i in range(n):
        r = ev.make_record(seq=i + 1, ts=T0 + timedelta(seconds=i), actor=ACTOR, payload=kinds[i % len(kinds)],
                           prev=prev)
        line, prev = encode_line(r)
        size += len(line)
        ops.append(put(journal_key(prefix, i + 1), line))
        if len(ops) == batch:
            client.txn([], ops)
            ops = []
    if ops:
        client.txn([], ops)
    client.put(head_key(prefix), json.dumps({"seq": n, "hash": prev}).encode())
    return size


def bench_replay(client: EtcdClient, n: int) -> None:
    size = load(client, f"{PREFIX}/replay", n)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        j = EtcdJournal(client, f"{PREFIX}/replay", readonly=True)
        read = time.perf_counter() - t
        state = fold(j.records)
        runs.append((read, time.perf_counter() - t))
        assert state.seq == n, state.seq
        del j
    med = statistics.median(r[1] for r in runs)
    best = min(runs, key=lambda r: r[1])
    print(f"replay        {n:,} events ({size / 1e6:.1f} MB) from etcd: read+verify {best[0]:.3f} s + fold = "
          f"{best[1]:.3f} s (best of 3; median {med:.3f} s)")
    return med


def bench_takeover(endpoints: list[str], rounds: int = 3) -> list[float]:
    """A holder renews every POLL_S, then stops (dies); a standby waiting on the key takes over."""
    took = []
    for k in range(rounds):
        holder = EtcdGuardLease(EtcdClient(endpoints), f"{PREFIX}/lease{k}", {"user": "a"}, ttl_s=TTL_S)
        standby = EtcdGuardLease(EtcdClient(endpoints), f"{PREFIX}/lease{k}", {"user": "b"}, ttl_s=TTL_S)
        assert holder.try_acquire()
        died = threading.Event()

        def renew(h: EtcdGuardLease = holder, d: threading.Event = died) -> None:
            for _ in range(4):
                time.sleep(POLL_S)
                h.keepalive()
            d.set()

        threading.Thread(target=renew).start()
        died.wait(10)
        t = time.monotonic()
        assert standby.wait(TTL_S + 5)
        took.append(time.monotonic() - t)
    return took


def bench_guard_takeover(endpoints: list[str], tmp: Path, runs: int, ttl_s: int = TTL_S) -> list[float]:
    """Real `cockpit guard` processes on two bastion dirs (one plan, one prefix): SIGKILL the holder; seconds
    until the standby's `guard_started` (its journal time, on this host's wall clock)."""
    import asyncio
    import os
    import signal
    import subprocess

    import tomli_w

    from cockpit.adapters.factory import build_gateway
    from cockpit.clock import SystemClock
    from cockpit.config import load_plan
    from cockpit.engine import Engine
    from cockpit.guard import STANDBY_POLL_S
    from cockpit.session import open_store
    from tests.integration.haproxy import BACKEND, LoopbackHAProxy, find_haproxy
    from tests.integration.rollout import go_live, plan_data
    from tests.support import passing_runner

    prefix = f"{PREFIX}/guards"
    rig = LoopbackHAProxy(find_haproxy())
    rig.start()
    procs: list[subprocess.Popen] = []
    try:
        data = plan_data({"type": "haproxy", "socket": rig.socket, "backend": BACKEND})
        data["state_dir"] = "state"
        data["preflight"] = [c for c in data["preflight"] if c["type"] != "freeze_window"]
        data["prometheus"].update(url="http://127.0.0.1:9", poll_interval="1s")  # refused at once: short rounds
        data["state"] = {"store": "etcd", "endpoints": endpoints, "prefix": prefix, "lease_ttl": f"{ttl_s}s",
                         "timeout": "1s"}
        configs = []
        for name in ("bastion-a", "bastion-b"):
            (tmp / name).mkdir()
            configs.append(tmp / name / "plan.toml")
            configs[-1].write_text(tomli_w.dumps(data))
        plan = load_plan(configs[0])
        journal = open_store(plan, configs[0]).journal(actor=ACTOR)
        engine = Engine(plan, journal, clock=SystemClock(), actor=ACTOR, gateway=build_gateway(plan),
                        check_runner=passing_runner())
        engine.ensure_plan()
        asyncio.run(go_live(engine))
        journal.close()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        def guard(k: int) -> subprocess.Popen:
            procs.append(subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(configs[k % 2]),
                                           "--quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, env=env))
            return procs[-1]

        reader = EtcdJournal(EtcdClient(endpoints), prefix, readonly=True)

        def started(pid: int, within_s: float = 30.0) -> float:
            end = time.monotonic() + within_s
            while time.monotonic() < end:
                reader.poll()
                for r in reader.records:
                    if r.kind == "guard_started" and r.payload.pid == pid:
                        return r.ts.timestamp()
                time.sleep(0.02)
            raise RuntimeError(f"guard {pid} did not start within {within_s:g} s")

        took = []
        holder = guard(0)
        started(holder.pid)
        for k in range(runs):
            standby = guard(k + 1)
            time.sleep(1.5)  # it is standing by
            holder.send_signal(signal.SIGKILL)
            died = time.time()
            holder.wait()
            took.append(started(standby.pid, ttl_s + 30) - died)
            holder = standby
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=30)
        print(f"guard takeover  real guard processes, TTL {ttl_s} s, standby poll {STANDBY_POLL_S} s: holder SIGKILLed "
              f"-> standby's guard_started {', '.join(f'{t:.2f}' for t in took)} s (aim: within TTL + one poll, "
              f"{ttl_s + STANDBY_POLL_S:g} s)")
        return took
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        rig.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--appends", type=int, default=1000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--takeovers", type=int, default=3, help="real guards: holder SIGKILLed, standby takes over")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp) / "etcd", n=3, extra=("--max-txn-ops", "2000", "--max-request-bytes", "8388608",
                                                          "--quota-backend-bytes", str(4 * 2**30))).start()
        try:
            client = EtcdClient(cluster.endpoints)
            times = bench_append(client, Path(tmp) / "local", args.appends)
            p50, p99 = statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3
            print(f"append        n={len(times)} on 3 members: median {p50:.2f} ms  p99 {p99:.2f} ms  "
                  f"max {times[-1] * 1e3:.2f} ms")
            replay = bench_replay(client, args.events)
            took = bench_takeover(cluster.endpoints)
            print(f"takeover      TTL {TTL_S} s, poll {POLL_S} s: after the last renewal "
                  f"{', '.join(f'{t:.2f}' for t in took)} s")
            guards = bench_guard_takeover(cluster.endpoints, Path(tmp), args.takeovers) if args.takeovers else []
        finally:
            cluster.close()
    print(f"aims          append p99 under 20 ms: {'met' if p99 < 20 else 'NOT met'} ({p99:.2f} ms); "
          f"replay within 2 s: {'met' if replay <= 2 else 'NOT met'} (median {replay:.3f} s); "
          f"takeover within TTL + one poll ({TTL_S + POLL_S:g} s): "
          f"{'met' if max(took) <= TTL_S + POLL_S else 'NOT met'} (max {max(took):.2f} s)")
    if guards:
        from cockpit.guard import STANDBY_POLL_S

        aim = TTL_S + STANDBY_POLL_S
        print(f"              real guards' takeover within TTL + one standby poll ({aim:g} s): "
              f"{'met' if max(guards) <= aim else 'NOT met'} (max {max(guards):.2f} s)")


if __name__ == "__main__":
    main()
