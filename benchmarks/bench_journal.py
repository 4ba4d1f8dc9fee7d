"""Journal benchmark: append+fsync latency (median, p99) and replay time of 100,000 events.

Run: make bench   (or: .venv/bin/python benchmarks/bench_journal.py)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.journal import JOURNAL, Journal, _encode

ACTOR = ev.Actor(user="bench", host="bastion")
T0 = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)


def bench_append(n: int = 3000) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        j = Journal(Path(tmp))
        payload = ev.GateDecided(phase=0, role="sre", decision="GO", name="alice", note="x" * 60)
        times = []
        for i in range(n):
            t = time.perf_counter()
            j.append(payload, actor=ACTOR, ts=T0 + timedelta(seconds=i))
            times.append(time.perf_counter() - t)
        j.close()
    return times


def write_journal(path: Path, n: int) -> None:
    """Write n chained events quickly (one write, one fsync) to replay them."""
    kinds = [
        ev.Noted(text="soak looks calm"),
        ev.CriterionEvaluated(phase=0, criterion="api_p95", passed=True, value=0.21, detail="0.21 s ≤ 0.35 s"),
        ev.GateDecided(phase=0, role="sre", decision="GO", name="alice"),
        ev.TriggerBreached(trigger="error_rate", value=0.021, threshold=0.02, detail="2.1 % ≥ 2 %"),
        ev.TriggerCleared(trigger="error_rate"),
    ]
    prev = ev.GENESIS
    chunks = []
    for i in range(n):
        r = ev.make_record(seq=i + 1, ts=T0 + timedelta(seconds=i), actor=ACTOR, payload=kinds[i % len(kinds)], prev=prev)
        line, prev = _encode(r)
        chunks.append(line)
    path.write_bytes(b"".join(chunks))


def main() -> None:
    times = sorted(bench_append())
    med = statistics.median(times) * 1e3
    p99 = times[int(len(times) * 0.99)] * 1e3
    print(f"append+fsync  n={len(times)}  median {med:.3f} ms  p99 {p99:.3f} ms  max {times[-1] * 1e3:.3f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        write_journal(Path(tmp) / JOURNAL, 100_000)
        size = (Path(tmp) / JOURNAL).stat().st_size
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            j = Journal(Path(tmp), readonly=True)  # read, validate every line, check every hash
            t_open = time.perf_counter() - t
            state = fold(j.records)
            runs.append((t_open, time.perf_counter() - t))
        best = min(runs, key=lambda r: r[1])
        print(
            f"replay        100,000 events ({size / 1e6:.1f} MB)  validate+verify {best[0]:.3f} s  "
            f"+ fold = {best[1]:.3f} s  (best of 3; seq {state.seq})"
        )


if __name__ == "__main__":
    main()
