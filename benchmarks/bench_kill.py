"""What the kill call path costs on top of one loopback round trip, against real HAProxy and HTTP gateways.

Run: PYTHONPATH=. python benchmarks/bench_kill.py [-n 200] [--dir DIR]

The journal is stood in for by two fsync'd 300-byte appends (intent before the gateway call,
verified result after), so the figure is the engine's path minus its bookkeeping in Python.
Put --dir on the disk the journal will live on: on tmpfs an fsync costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import httpx

from cockpit.adapters.gateway import Gateway
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
        rows.append(("bare httpx.AsyncClient POST", asyncio.run(bare_async_round_trips(f"{flags.url}/flags", args.n)), None))
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
                rows.append((f"{label}: intent + kill + read + result", verified, sent))
            finally:
                await gateway.close()

        asyncio.run(measure(lambda: HAProxyGateway(proxy.socket, backend=BACKEND, canary_server="canary",
                                                   stable_server="stable"), "haproxy unix socket"))
        asyncio.run(measure(lambda: HAProxyGateway(proxy.tcp_socket, backend=BACKEND, canary_server="canary",
                                                   stable_server="stable"), "haproxy tcp socket"))
        asyncio.run(measure(lambda: HTTPFlagGateway(f"{flags.url}/flags", token="bench-token"), "http flag API"))
    finally:
        journal.close()
        for name in os.listdir(workdir):
            os.unlink(os.path.join(workdir, name))
        os.rmdir(workdir)
        proxy.close()
        flags.close()

    bare = statistics.median(rows[0][1]) * 1000
    print(f"\nkill call path, n={args.n}, loopback, journal stand-in in {args.dir or tempfile.gettempdir()}\n")
    print(f"{'path':<52} {'median ms':>9} {'p99 ms':>8} {'to send ms':>10} {'+bare ms':>9}")
    for label, samples, sent in rows:
        median, p99 = ms(samples)
        to_send = f"{ms(sent)[0]:.3f}" if sent else ""
        added = f"{median - bare:+.3f}" if "+ result" in label else ""
        print(f"{label:<52} {median:>9.3f} {p99:>8.3f} {to_send:>10} {added:>9}")
    worst = max(ms(s)[0] - bare for label, s, _ in rows if "+ result" in label)
    print(f"\nworst added to one bare round trip (median): {worst:.3f} ms — aim under 5 ms: {'met' if worst < 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
