"""How long a quiet-week rehearsal takes: 7 days of 15 s data for the seed plan's triggers on a local Prometheus.

The seed plan (its four query-backed triggers; the fifth re-runs a command and has no history)
at step and poll 15 s, against a real `prometheus` backfilled with a week of the series its
queries read (request-duration histograms for the canary, staging and 3-hop path queries,
requests by code, the security counters): about 40,320 points per series, asked in chunks under
Prometheus' 11,000. Two incidents are in the week (a 20-minute error spike, a 12-minute p95
regression) and a 3-minute blip that must not fire. Prints the false-alarm counts, the points
and chunks fetched, and the wall time of `rehearse()` (the range queries and every round of the
guard's rules), with the backfill apart.

    .venv/bin/python benchmarks/bench_rehearse.py [--days 7]

Aim: under 10 s on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.adapters.prometheus import PrometheusSource
from cockpit.config import parse_plan
from cockpit.rehearsal import fetcher, rehearse
from cockpit.seed import SEED
from tests.integration.prom import PromServer, Series

AIM_S = 10.0
STEP = 15.0
START = datetime(2024, 5, 6, 0, 0, tzinfo=UTC).timestamp()
LE = ("0.2", "0.3", "0.5", "1", "+Inf")
HEALTHY = (70, 97, 100, 100, 100)  # requests at or under each bucket, of 100 (p95 ~ 293 ms)
SLOW = (10, 40, 90, 97, 100)  # a regression (p95 ~ 700 ms)
PATH_OK = (0, 5, 60, 99, 100)  # 3-hop path queries (p95 ~ 900 ms)


def week(days: int) -> list[Series]:
    n = int(days * 86400 / STEP)
    spike = range(int(2.5 * 86400 / STEP), int(2.5 * 86400 / STEP) + 80)  # 20 minutes of 3 % errors
    regress = range(int(4.25 * 86400 / STEP), int(4.25 * 86400 / STEP) + 48)  # 12 minutes of slow canary
    blip = range(int(5.5 * 86400 / STEP), int(5.5 * 86400 / STEP) + 12)  # 3 minutes of errors
    series: list[Series] = []

    def histogram(name: str, labels: dict, shape_at) -> None:
        totals = [0.0] * len(LE)
        rows: list[list[tuple[float, float]]] = [[] for _ in LE]
        for k in range(n):
            shape = shape_at(k)
            for b in range(len(LE)):
                totals[b] += shape[b]
                rows[b].append((START + k * STEP, totals[b]))
        for b, le in enumerate(LE):
            series.append(Series(f"{name}_bucket", {**labels, "le": le}, rows[b], counter=True))

    histogram("http_request_duration_seconds", {"app": "intelgraph-api", "track": "canary"},
              lambda k: SLOW if k in regress else HEALTHY)
    histogram("http_request_duration_seconds", {"app": "intelgraph-api", "env": "staging"}, lambda k: HEALTHY)
    histogram("graph_path_query_duration_seconds", {"hops": "3", "track": "canary"}, lambda k: PATH_OK)
    ok = errors = 0.0
    ok_rows, err_rows = [], []
    for k in range(n):
        bad = 3.0 if (k in spike or k in blip) else 0.05
        ok += 100.0 - bad
        errors += bad
        ok_rows.append((START + k * STEP, ok))
        err_rows.append((START + k * STEP, errors))
    canary = {"app": "intelgraph-api", "track": "canary"}
    series.append(Series("http_requests_total", {**canary, "code": "200"}, ok_rows, counter=True))
    series.append(Series("http_requests_total", {**canary, "code": "500"}, err_rows, counter=True))
    for name in ("intelgraph_cross_tenant_access_total", "intelgraph_residency_violations_total"):
        series.append(Series(name, {"track": "canary"}, [(START + k * STEP, 0.0) for k in range(n)], counter=True))
    return series


def seed_plan(url: str):
    data = tomllib.loads(SEED.read_text())
    data["prometheus"] = {"url": url, "timeout": "30s", "poll_interval": "15s", "step": "15s"}
    return parse_plan(data)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=float, default=7.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rehearse-") as tmp:
        began = time.perf_counter()
        server = PromServer(Path(tmp), week(args.days))
        server.backfill_timeout_s = 900.0
        server.start()
        print(f"backfill and start: {time.perf_counter() - began:.1f} s")
        try:
            plan = seed_plan(server.url)
            end = START + args.days * 86400 - STEP
            quiet = (START + 3600.0, end)  # the first hour is the rate()s' warm-up
            source = PrometheusSource(server.url, timeout_s=60)
            began = time.perf_counter()
            got = rehearse(plan, fetcher(source), quiet=quiet)
            wall = time.perf_counter() - began
            source.close()
        finally:
            server.stop()
    points = {q: (len(h.samples), h.chunks) for q, h in got.histories.items()}
    print(f"quiet span: {args.days:g} days, {got.quiet_rounds} rounds a trigger, step {got.timing.step_s:g} s")
    for q, (n, c) in sorted(points.items(), key=lambda kv: -kv[1][0])[:3]:
        print(f"  {n} points in {c} chunks: {q[:90]}")
    print(f"histories fetched: {len(points)}, {sum(n for n, _ in points.values())} points")
    for tid, run in got.quiet_triggers.items():
        first = datetime.fromtimestamp(run.fires[0], UTC).strftime("%a %H:%M:%SZ") if run.fires else "-"
        print(f"  trigger {tid:<20} fires {len(run.fires):>3}  first {first}")
    failed = {f"{c.phase + 1}/{c.id}": (len(c.failed), c.soaks) for c in got.quiet_criteria}
    for k, (f, n) in failed.items():
        print(f"  criterion {k:<24} failed {f:>3} of {n} soaks")
    for why in got.not_rehearsed:
        print(f"  not rehearsed: {why}")
    print(f"wall time of the rehearsal: {wall:.2f} s")
    met = wall < AIM_S
    print(f"aim: under {AIM_S:g} s: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
