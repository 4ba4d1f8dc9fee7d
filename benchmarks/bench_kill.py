"""What the kill call path costs on top of one loopback round trip, against real HAProxy and HTTP gateways.

Run: make bench   (or: .venv/bin/python benchmarks/bench_kill.py [-n 200] [--dir DIR]; any working directory)

Two kinds of rows. The stand-in rows replace the journal by two fsync'd 300-byte appends
(intent before the gateway call, verified result after): the path minus the engine's Python.
The `engine.kill()` rows run the real engine over a real Journal (hash chain, lock, fsync):
KillRequested appended, the gateway call, the read-back, KillResult appended (and then the
Notified event the seed's kill switch asks for). "to send" is from the kill command to the
engine calling the gateway; "to verified" is to the KillResult being fsync'd; "kill() returns"
includes the Notified append.
Put --dir on the disk the journal will live on: on tmpfs an fsync costs nothing.
Aim: the engine path adds under 5 ms to one bare loopback round trip (median).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the shared loopback helpers live with the tests

import httpx

from cockpit.adapters.gateway import Gateway, GatewayState
from cockpit.adapters.gateway_haproxy import HAProxyGateway
from cockpit.adapters.gateway_http import HTTPFlagGateway
from tests.integration.flag_server import FlagServer
from tests.integration.haproxy import BACKEND, LoopbackHAProxy, find_haproxy

LINE = (b'{"event":"kill","phase":"canary-5","reason":"bench","actor":"bench",' + b'"x":"' + b"0" * 300)[:299] + b"\n"


class JournalStandIn:
    """Append one 300-byte line with write + flush + fsync, as the journal does."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "ab", buffering=0)

    def append(self) -> None:
        self.file.write(LINE)
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


class Stopwatch:
    """Wraps a gateway to note when the engine hands it the kill."""

    def __init__(self, inner: Gateway) -> None:
        self.inner = inner
        self.name = inner.name
        self.sent = 0.0

    async def set_enabled(self, enabled: bool) -> None:
        self.sent = time.perf_counter()
        await self.inner.set_enabled(enabled)

    async def set_weight(self, weight: int) -> None:
        await self.inner.set_weight(weight)

    async def read(self) -> GatewayState:
        return await self.inner.read()

    async def close(self) -> None:
        await self.inner.close()


async def engine_kill_path(gateway: Gateway, n: int, state_dir: str) -> tuple[list[float], list[float], list[float]]:
    """The real engine.kill() over a real Journal: (to send, to verified result fsync'd, to return)."""
    from cockpit.clock import ManualClock
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from cockpit.seed import seed_plan
    from cockpit.store.journal import Journal
    from tests.conftest import T0
    from tests.support import passing_runner

    watch = Stopwatch(gateway)
    journal = Journal(state_dir)
    engine = Engine(seed_plan(), journal, clock=ManualClock(T0), actor=Actor(user="bench", host="bench"),
                    gateway=watch, check_runner=passing_runner())
    engine.ensure_plan()
    await engine.run_preflight()
    for role in engine.plan.sign_offs:
        engine.sign_off(role, "bench")
    await gateway.set_enabled(True)  # the stand-in rows left the flag off
    started = await engine.start()
    if not started.ok:
        raise SystemExit(f"{gateway.name}: the bench rollout did not start: {started.reasons}")
    result_at = [0.0]
    engine.subscribe(lambda r: result_at.__setitem__(0, time.perf_counter()) if r.kind == "kill_result" else None)
    to_sent, to_verified, to_return = [], [], []
    try:
        for i in range(n + 10):
            await gateway.set_weight(5)  # re-arm: something to kill; not timed
            await gateway.set_enabled(True)
            started = time.perf_counter()
            out = await engine.kill("bench")
            done = time.perf_counter()
            if not out.ok:
                raise SystemExit(f"{gateway.name}: kill not confirmed: {out.reasons}")
            if i >= 10:
                to_sent.append(watch.sent - started)
                to_verified.append(result_at[0] - started)
                to_return.append(done - started)
    finally:
        journal.close()
    return to_sent, to_verified, to_return


def ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def bare_round_trips(url: str, n: int) -> list[float]:
    """A keep-alive httpx.Client POST on loopback: the floor every gateway call stands on."""
    out = []
    with httpx.Client() as client:
        for i in range(n + 10):
            started = time.perf_counter()
            client.post(url, json={"flag": "bench", "value": i})
            if i >= 10:
                out.append(time.perf_counter() - started)
    return out


async def bare_async_round_trips(url: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient() as client:
        for i in range(n + 10):
            started = time.perf_counter()
            await client.post(url, json={"flag": "bench", "value": i})
            if i >= 10:
                out.append(time.perf_counter() - started)
    return out


async def kill_path(gateway: Gateway, n: int, journal: JournalStandIn | None) -> tuple[list[float], list[float]]:
    """Time kill + read-back (optionally between intent and result appends).
    Returns (to the request being sent, to the verified result)."""
    to_sent, to_verified = [], []
    for i in range(n + 10):
        await gateway.set_weight(5)  # something to kill; not timed
        started = time.perf_counter()
        if journal:
            journal.append()  # intent
        sent = time.perf_counter()
        await gateway.set_enabled(False)
        state = await gateway.read()
        if state.enabled is not False:  # the flag gateway keeps its weight; the flag is the kill
            raise SystemExit(f"{gateway.name}: kill not confirmed: {state}")
        if journal:
            journal.append()  # verified result
        done = time.perf_counter()
        if i >= 10:
            to_sent.append(sent - started)
            to_verified.append(done - started)
    return to_sent, to_verified


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="repetitions per row (default 200)")
    parser.add_argument("--dir", default=None, help="where the journal stand-in is written (default: a temp dir)")
    args = parser.parse_args()

    binary = find_haproxy()
    if not binary:
        print("haproxy not installed (Debian: apt-get install -y --no-install-recommends haproxy)", file=sys.stderr)
        return 2
    proxy = LoopbackHAProxy(binary, canary_weight=5, stable_weight=95)
    flags = FlagServer()
    workdir = tempfile.mkdtemp(prefix="ckbench", dir=args.dir)
    journal = JournalStandIn(os.path.join(workdir, "journal.jsonl"))
    rows: list[tuple[str, list[float], list[float] | None]] = []
    try:
        proxy.start()
        rows.append(("bare httpx.Client POST (keep-alive)", bare_round_trips(f"{flags.url}/flags", args.n), None))
        rows.append(("bare httpx.AsyncClient POST",
                     asyncio.run(bare_async_round_trips(f"{flags.url}/flags", args.n)), None))
        fsyncs = []
        for _ in range(args.n):
            started = time.perf_counter()
            journal.append()
            fsyncs.append(time.perf_counter() - started)
        rows.append(("one fsync'd 300-byte append", fsyncs, None))

        async def measure(make: Callable[[], Gateway], label: str) -> None:
            gateway = make()
            try:
                _, plain = await kill_path(gateway, args.n, None)
                rows.append((f"{label}: set_enabled(False) + read()", plain, None))
                sent, verified = await kill_path(gateway, args.n, journal)
                rows.append((f"{label}: stand-in intent+kill+read+result", verified, sent))
                state_dir = tempfile.mkdtemp(prefix="state", dir=workdir)
                sent, verified, returned = await engine_kill_path(gateway, args.n, state_dir)
                rows.append((f"{label}: engine.kill() to verified", verified, sent))
                rows.append((f"{label}: engine.kill() returns", returned, None))
            finally:
                await gateway.close()

        asyncio.run(measure(lambda: HAProxyGateway(proxy.socket, backend=BACKEND, canary_server="canary",
                                                   stable_server="stable"), "haproxy unix socket"))
        asyncio.run(measure(lambda: HAProxyGateway(proxy.tcp_socket, backend=BACKEND, canary_server="canary",
                                                   stable_server="stable"), "haproxy tcp socket"))
        asyncio.run(measure(lambda: HTTPFlagGateway(f"{flags.url}/flags", token="bench-token"), "http flag API"))
    finally:
        journal.close()
        shutil.rmtree(workdir, ignore_errors=True)
        proxy.close()
        flags.close()

    bare = statistics.median(rows[0][1]) * 1000
    print(f"\nkill call path, n={args.n}, loopback, journal in {args.dir or tempfile.gettempdir()}\n")
    print(f"{'path':<50} {'send med':>8} {'send p99':>8} {'median ms':>9} {'p99 ms':>8} {'+bare ms':>9}")
    for label, samples, sent in rows:
        median, p99 = ms(samples)
        send = f"{ms(sent)[0]:>8.3f} {ms(sent)[1]:>8.3f}" if sent else f"{'':>8} {'':>8}"
        added = f"{median - bare:+.3f}" if sent else ""
        print(f"{label:<50} {send} {median:>9.3f} {p99:>8.3f} {added:>9}")
    worst = max(ms(s)[0] - bare for label, s, _ in rows if "engine.kill() to verified" in label)
    print(f"\nengine path, worst added to one bare round trip (median): {worst:.3f} ms — "
          f"aim under 5 ms: {'met' if worst < 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
