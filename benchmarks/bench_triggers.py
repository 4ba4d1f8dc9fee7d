"""How long one poll of 20 triggers takes against a real Prometheus: sequential vs a thread pool.

Starts its own prometheus on loopback (backfilled, like the integration tests),
evaluates 20 triggers (range queries over their `for` windows, relative ones
with a baseline query first) for several rounds, and prints a table. A last
pair of rows adds one trigger whose Prometheus never answers (timeout 1 s), to
show that a slow source delays the others only when evaluated in sequence.
Then rounds that judge every sample since the last round (core.triggers.judge_round):
on time (15 s since the last), 10 minutes late, an hour late (the bound); and the
judging alone, in the core, of an hour of samples that breach every other step (every
breaching sample ends a window to judge, none fires: its worst case).

    make bench   (or: .venv/bin/python benchmarks/bench_triggers.py [--rounds N])

Aims: one poll of 20 triggers well inside the seed's 15 s poll interval (under 1 s, concurrently),
also when a round judges the hour it fell behind; a source that never answers delays none of
the others when they are judged concurrently.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the shared loopback helpers live with the tests

from cockpit.adapters.metrics import Sample
from cockpit.adapters.prometheus import PrometheusSource
from cockpit.core.compare import Comparison
from cockpit.core.triggers import judge_round
from tests.integration.prom import PromServer, Series, Trigger, evaluate, silent_server

T = datetime(2024, 5, 14, 12, 0, tzinfo=UTC).timestamp()
SCRAPE = 15.0
BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, float("inf"))


def backfill() -> list[Series]:
    """Two hours before T: 5 services with 10-bucket latency histograms, error ratios, counters."""
    times = [T - 7200 + i * SCRAPE for i in range(int(7200 / SCRAPE) + 1)]
    series: list[Series] = []
    for svc in range(5):
        for le in BUCKETS:
            share = min(1.0, 0.2 + le * 0.8) if le != float("inf") else 1.0
            label = "+Inf" if le == float("inf") else repr(le)
            series.append(Series(
                "http_request_duration_seconds_bucket", {"service": f"s{svc}", "le": label},
                [(ts, round((ts - times[0]) * 50 * share)) for ts in times],
            ))
        series.append(Series("error_ratio", {"service": f"s{svc}"}, [(ts, 0.003 + svc * 0.001) for ts in times]))
        series.append(Series("api_p95_ms", {"service": f"s{svc}", "track": "staging"}, [(ts, 240.0) for ts in times]))
        series.append(Series("api_p95_ms", {"service": f"s{svc}", "track": "canary"}, [(ts, 250.0) for ts in times]))
        series.append(Series("cross_tenant_access_total", {"service": f"s{svc}"}, [(ts, 0.0) for ts in times],
                             counter=True))
    return series


def triggers() -> list[Trigger]:
    out: list[Trigger] = []
    for svc in range(5):
        s = f'service="s{svc}"'
        out += [
            Trigger(f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{s}}}[5m])))",
                    Comparison.GT, 1.2, 600),
            Trigger(f"error_ratio{{{s}}}", Comparison.GE, 0.02, 300),
            Trigger(f'api_p95_ms{{{s},track="canary"}}', Comparison.GT, 0, 600,
                    baseline_query=f'api_p95_ms{{{s},track="staging"}}', pct=20),
            Trigger(f"sum(increase(cross_tenant_access_total{{{s}}}[5m]))", Comparison.GT, 0, 0),
        ]
    return out


def one_poll(jobs, pool: ThreadPoolExecutor | None, behind_s: float | None = None) -> tuple[float, float]:
    """One poll: (wall time for all triggers, time until every trigger of a *responsive* source was judged).
    `behind_s`: the last round was that long ago, and this one judges every sample since (None: the window only)."""
    started = time.perf_counter()
    done_at: list[tuple[bool, float]] = []

    def run(job):
        source, trigger = job
        verdict, error = evaluate(source, trigger, T, judged_until=None if behind_s is None else T - behind_s)
        responsive = "timed out" not in (error or "")
        if verdict is None and responsive:
            raise SystemExit(f"benchmark trigger failed: {error}")
        done_at.append((responsive, time.perf_counter() - started))

    if pool is None:
        for job in jobs:
            run(job)
    else:
        list(pool.map(run, jobs))
    took = time.perf_counter() - started
    return took, max(t for responsive, t in done_at if responsive)


def measure(label, jobs, rounds, workers, behind_s: float | None = None) -> tuple:
    pool = ThreadPoolExecutor(max_workers=workers) if workers else None
    try:
        one_poll(jobs, pool, behind_s)  # warm the connection pool
        polls = [one_poll(jobs, pool, behind_s) for _ in range(rounds)]
    finally:
        if pool:
            pool.shutdown()
    walls = sorted(p[0] for p in polls)
    p95 = walls[min(len(walls) - 1, int(round(0.95 * (len(walls) - 1))))]
    healthy_done = statistics.median(p[1] for p in polls)
    return label, len(jobs), rounds, statistics.median(walls) * 1000, p95 * 1000, healthy_done * 1000


def judging_only(repeats: int = 50) -> float:
    """Milliseconds of CPU to judge an hour-late round of one `for = 10m` trigger whose samples
    breach every other step: 120 windows to judge, none fires (judge_round's worst case)."""
    step, for_s = 30.0, 600.0
    first = T - 3600 - for_s
    samples = [Sample(first + i * step, 0.03 if i % 2 else 0.001) for i in range(int((3600 + for_s) / step) + 1)]
    started = time.process_time()
    for _ in range(repeats):
        v = judge_round(samples, judged_until=T - 3600, comparison=Comparison.GE, threshold=0.02, for_s=for_s,
                        step_s=step, now=T, no_data="hold")
        assert not v.fired
    return (time.process_time() - started) / repeats * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        print("prometheus/promtool not installed (Debian package `prometheus`)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        started = time.perf_counter()
        with PromServer(Path(tmp), backfill()) as server:
            ready_s = time.perf_counter() - started
            source = PrometheusSource(server.url, timeout_s=5.0)
            jobs = [(source, t) for t in triggers()]
            rows.append(measure("sequential", jobs, args.rounds, 0))
            rows.append(measure("thread pool, 4 workers", jobs, args.rounds, 4))
            rows.append(measure("thread pool, 20 workers", jobs, args.rounds, 20))
            late = [measure("20 workers, rounds on time", jobs, args.rounds, 20, behind_s=15.0),
                    measure("20 workers, 10 minutes late", jobs, args.rounds, 20, behind_s=600.0),
                    measure("20 workers, an hour late", jobs, args.rounds, 20, behind_s=3600.0)]
            with silent_server() as slow_url:
                slow = PrometheusSource(slow_url, timeout_s=1.0)
                slow_jobs = [(slow, Trigger("up", Comparison.LT, 1, 0))] + jobs  # the slow one first
                rounds = 3
                rows.append(measure("sequential + 1 silent source", slow_jobs, rounds, 0))
                rows.append(measure("pool(21) + 1 silent source", slow_jobs, rounds, 21))
            source.close()
    print(f"prometheus backfilled and ready in {ready_s * 1000:.0f} ms; 20 triggers, 25 HTTP requests per poll")
    print(f"{'mode':<30} {'triggers':>8} {'rounds':>6} {'median ms':>10} {'p95 ms':>8} {'20 judged by':>13}")
    for label, n, rounds, median, p95, healthy in rows:
        print(f"{label:<30} {n:>8} {rounds:>6} {median:>10.1f} {p95:>8.1f} {healthy:>10.1f} ms")
    print("(median/p95: wall time of one poll; "
          "'20 judged by': when the last trigger on the live Prometheus was judged)")
    print("rounds that judge every sample since the last one (the window only: 'thread pool, 20 workers' above):")
    for label, n, rounds, median, p95, healthy in late:
        print(f"{label:<30} {n:>8} {rounds:>6} {median:>10.1f} {p95:>8.1f} {healthy:>10.1f} ms")
    judging_ms = judging_only()
    print(f"judging alone, an hour late, for = 10m, every other sample breaching: {judging_ms:.2f} ms CPU a trigger")
    pool_ms = rows[2][3]
    slow_seq, slow_pool = rows[3][5], rows[4][5]
    print(f"aims          20 triggers concurrently under 1 s a poll: {'met' if pool_ms < 1000 else 'NOT met'}"
          f" ({pool_ms:.0f} ms); a silent source delays the others concurrently: "
          f"{'no (met)' if slow_pool < 1000 else 'yes (NOT met)'} ({slow_pool:.0f} ms, in sequence {slow_seq:.0f} ms); "
          f"an hour late under 1 s a poll: {'met' if late[2][3] < 1000 else 'NOT met'} ({late[2][3]:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
