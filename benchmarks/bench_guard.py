"""The guard: CPU per round (the seed's 5 triggers, and 20) against a real Prometheus; time from a
guard's death to its standby's first published round; and the screen's CPU now that it renders
the guard's round instead of polling Prometheus itself.

Run: make bench   (or: .venv/bin/python benchmarks/bench_guard.py [--rounds 30] [--takeovers 5] [--seconds 60]
     [--screen-only])
Aims: the screen under 2.5 % of one core with live 1 Hz updates, under 0.5 % while only its clocks move;
a standby's first round within 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the shared loopback helpers live with the tests

import tomli_w  # noqa: E402

from benchmarks.bench_screen import cpu_seconds, drain, read_until, spawn, stop  # noqa: E402
from benchmarks.bench_triggers import BUCKETS, T, backfill  # noqa: E402
from cockpit.config import dump_plan, parse_plan  # noqa: E402
from tests.integration.prom import PromServer  # noqa: E402


def trigger_dicts(n: int) -> list[dict]:
    """n triggers over the backfilled services: latency histograms, error ratios, relative p95, counters."""
    out = []
    for svc in range(5):
        s = f'service="s{svc}"'
        out += [
            {"id": f"p95_{svc}", "name": f"Latency s{svc}", "query":
             f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{s}}}[5m])))",
             "comparison": ">", "threshold": 1.2, "for": "10m"},
            {"id": f"err_{svc}", "name": f"Errors s{svc}", "query": f"error_ratio{{{s}}}", "comparison": ">=",
             "threshold": 0.02, "for": "5m"},
            {"id": f"rel_{svc}", "name": f"Relative p95 s{svc}", "query": f'api_p95_ms{{{s},track="canary"}}',
             "comparison": ">", "baseline": f'api_p95_ms{{{s},track="staging"}}', "above_baseline_pct": 20,
             "for": "10m"},
            {"id": f"sec_{svc}", "name": f"Security s{svc}",
             "query": f"sum(increase(cross_tenant_access_total{{{s}}}[5m]))",
             "comparison": ">", "threshold": 0, "for": "0s"},
        ]
    for t in out:
        t.update(action="rollback", level="L1", no_data="hold")
    return out[:n]


def plan_with(url: str, n: int, state_dir: Path):
    from cockpit.seed import seed_plan

    data = dump_plan(seed_plan())
    data["gateways"] = {data["kill_switch"]["gateway"]: {"type": "simulated"}}
    data["prometheus"] = {"url": url, "timeout": "5s", "poll_interval": "15s", "step": "30s"}
    data["triggers"] = trigger_dicts(n)
    data["state_dir"] = str(state_dir)
    for phase in data["phases"]:
        phase["gate"]["auto"] = []
    for cat in data["budget"]["categories"]:
        cat.pop("spend_query", None)
    data["kill_switch"].pop("verify_query", None)
    return data


async def rounds_cpu(url: str, n: int, rounds: int, tmp: Path) -> tuple[float, float]:
    """(CPU ms per round, wall ms per round) of monitor.poll() + publish() for a live rollout."""
    from cockpit.adapters.prometheus import build_metrics
    from cockpit.adapters.simulator import SimulatedGateway, SimulatedWorld
    from cockpit.clock import ManualClock
    from cockpit.core.evaluation import GuardId
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from cockpit.guard import Guard
    from cockpit.monitor import Monitor
    from cockpit.store.journal import Journal
    from tests.support import passing_runner

    state_dir = tmp / f"state-{n}"
    plan = parse_plan(plan_with(url, n, state_dir))
    clock = ManualClock(datetime.fromtimestamp(T, UTC) - timedelta(minutes=60))
    world = SimulatedWorld("healthy", clock=lambda: clock.now().timestamp())
    engine = Engine(plan, Journal(state_dir), clock=clock, actor=Actor(user="bench", host="b", role="guard"),
                    gateway=SimulatedGateway(world), check_runner=passing_runner(), metrics=build_metrics(plan))
    engine.ensure_plan()
    await engine.run_preflight()
    for role in plan.sign_offs:
        engine.sign_off(role, role)
    assert (await engine.start()).ok
    monitor = Monitor(engine, engine.metrics)
    guard = Guard(engine, monitor, state_dir, GuardId("bench", "b", os.getpid(), clock.now()), attended=lambda: True)
    await monitor.poll()  # warm the connections
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        clock.advance(15)
        await monitor.poll()
        guard.publish()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    monitor.close()
    return 1000 * cpu / rounds, 1000 * wall / rounds


def live_rollout(tmp: Path, haproxy_socket: str) -> Path:
    """A config on a real haproxy (nothing listening for Prometheus) and a live rollout in its journal."""
    from tests.integration.haproxy import BACKEND
    from tests.integration.rollout import engine_on, go_live, plan_data

    state_dir = tmp / "takeover"
    data = plan_data({"type": "haproxy", "socket": haproxy_socket, "backend": BACKEND})
    data["state_dir"] = str(state_dir)
    data["preflight"] = [c for c in data["preflight"] if c["type"] != "freeze_window"]
    data["prometheus"]["url"] = "http://127.0.0.1:9"  # refused at once: rounds stay short
    config = tmp / "takeover.toml"
    config.write_text(tomli_w.dumps(data))
    from cockpit.clock import SystemClock

    engine = engine_on(parse_plan(data), state_dir, SystemClock())
    asyncio.run(go_live(engine))
    engine.journal.close()
    return config


def takeover_s(config: Path, runs: int) -> list[float]:
    """SIGKILL the guard holding the lock; seconds until the standby's first round is published."""
    from cockpit.config import load_plan, resolve_state_dir
    from cockpit.store.locks import guard_holder
    from cockpit.store.published import read_published

    state_dir = resolve_state_dir(load_plan(config), config)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def guard() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config), "--quiet"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def until(check, proc, timeout=30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if value := check():
                return value
            if proc.poll() is not None:
                log = (state_dir / "guard.log").read_text().strip().splitlines()[-1:]
                raise RuntimeError(f"guard exited {proc.returncode}: {log}")
            time.sleep(0.01)
        raise RuntimeError("timed out")

    times = []
    holder = guard()
    until(lambda: (guard_holder(state_dir) or {}).get("pid") == holder.pid, holder)
    for _ in range(runs):
        standby = guard()
        time.sleep(1.0)  # it is standing by
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        died = time.perf_counter()
        until(lambda: (ev := read_published(state_dir)) and ev.guard and ev.guard.pid == standby.pid, standby)  # noqa: B023 - waited for here
        times.append(time.perf_counter() - died)
        holder = standby
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=30)
    return times


def observe_cpu(py: str, state_dir: Path, seconds: float, before=None) -> float:
    """CPU % of one core of `cockpit observe` on a pty over `seconds` (after `before()`, if given)."""
    pid, fd = spawn([py, "-m", "cockpit", "observe", "--state-dir", str(state_dir)])
    try:
        read_until(fd, b"Timeline (journal")
        drain(fd, 3.0)
        if before is not None:
            before()
            drain(fd, 3.0)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        drain(fd, seconds)
        return 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    finally:
        stop(pid, fd)


def demo(py: str, state_dir: Path, speed: int) -> subprocess.Popen:
    """A headless demo whose guard has published its first round (and whose rollout has started)."""
    proc = subprocess.Popen([py, "-m", "cockpit", "demo", "--headless", "--speed", str(speed), "--scenario", "healthy",
                             "--state-dir", str(state_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while not (state_dir / "guard.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc


def screen_cpu(tmp: Path, seconds: float) -> tuple[float, float, float]:
    """CPU % of one core of `cockpit observe`: while a headless demo's guard publishes once a second
    (speed 15); idle, while nothing changes but the clocks (a speed-1 demo: every clock on screen moves
    once a second, the guard's round comes every 15 s); still, when nothing changes at all (the
    speed-15 demo stopped: its accelerated clock stops with it)."""
    py = sys.executable
    fast = demo(py, tmp / "screen", 15)
    try:
        live = observe_cpu(py, tmp / "screen", seconds)
        fast.send_signal(signal.SIGTERM)
        still = observe_cpu(py, tmp / "screen", min(seconds, 30.0), before=lambda: fast.wait(timeout=30))
    finally:
        if fast.poll() is None:
            fast.kill()
    slow = demo(py, tmp / "idle", 1)
    try:
        time.sleep(3)  # its scripted captain has started the rollout: the soak counts down
        idle = observe_cpu(py, tmp / "idle", min(seconds, 30.0))
    finally:
        slow.send_signal(signal.SIGTERM)
        try:
            slow.wait(timeout=30)
        except subprocess.TimeoutExpired:
            slow.kill()
    return live, idle, still


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--takeovers", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--screen-only", action="store_true", help="only the screen's CPU (no Prometheus, no takeovers)")
    args = ap.parse_args()
    if args.screen_only:
        with tempfile.TemporaryDirectory(prefix="bench-guard-") as tmp_name:
            print_screen(*screen_cpu(Path(tmp_name), args.seconds))
        return 0
    assert BUCKETS  # the same backfill as bench_triggers
    with tempfile.TemporaryDirectory(prefix="bench-guard-") as tmp_name:
        tmp = Path(tmp_name)
        with PromServer(tmp / "prom", backfill()) as prom:
            for n in (5, 20):
                cpu, wall = asyncio.run(rounds_cpu(prom.url, n, args.rounds, tmp))
                print(f"guard round   {n:>2} triggers   CPU {cpu:6.1f} ms/round   wall {wall:6.1f} ms/round"
                      f"   ({args.rounds} rounds; at the seed's 15 s poll: {100 * cpu / 15000:.2f} % of one core)")
        from tests.integration.haproxy import LoopbackHAProxy, find_haproxy

        rig = LoopbackHAProxy(find_haproxy())
        rig.start()
        try:
            times = takeover_s(live_rollout(tmp, rig.socket), args.takeovers)
        finally:
            rig.close()
        print("takeover      guard SIGKILLed -> standby's first round published: "
              f"median {statistics.median(times):.2f} s,"
              f" max {max(times):.2f} s over {len(times)}   (aim: within 10 s)")
        print_screen(*screen_cpu(tmp, args.seconds))
    return 0


def print_screen(live: float, idle: float, still: float) -> None:
    print(f"screen        cockpit observe rendering the guard's 1 Hz rounds: CPU {live:.1f} % of one core"
          f" (aim < 2.5 %); idle, only the clocks moving: {idle:.2f} % (aim < 0.5 %);"
          f" still, nothing moving: {still:.2f} %")


if __name__ == "__main__":
    sys.exit(main())
