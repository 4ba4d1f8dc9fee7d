"""Journal benchmark: append+fsync latency (median, p99) and replay time of 100,000 events.

The replayed journal holds the mix a long rollout writes: trigger breaches and clears, criteria
verdicts, notes, gate decisions, traffic shifts (intent and read-back), phase starts, guard starts,
notifications and escalations. Replay is what every start, observer, `status` and `verify` does:
read, validate every line, check every hash and the head record, then fold.

Run: make bench   (or: .venv/bin/python benchmarks/bench_journal.py)
Aims: replay of 100,000 events (validation, hashes and fold) within 0.5 s; append+fsync median
under 1 ms (a kill journals two of them around its gateway call).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.store.chain import encode_line
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL

ACTOR = ev.Actor(user="bench", host="bastion")
T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


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


def realistic_mix() -> list[ev.Payload]:
    """One cycle of what a long rollout journals; trigger transitions dominate, as they do held at a phase."""
    breach = [
        ev.TriggerBreached(trigger=t, value=v, threshold=th, detail=d)
        for t, v, th, d in [
            ("error_rate", 0.021, 0.02, "2.1 % ≥ 2 %"),
            ("api_p95", 412.0, 350.0, "412 ms > 350 ms"),
            ("cpu_saturation", 0.91, 0.85, "91 % > 85 %"),
        ]
    ]
    return [
        *breach,
        ev.TriggerCleared(trigger="error_rate", detail="1.2 % < 2 %"),
        ev.TriggerCleared(trigger="api_p95", detail="301 ms ≤ 350 ms"),
        ev.TriggerCleared(trigger="cpu_saturation"),
        ev.TriggerBreached(trigger="no_data_probe", value=None, threshold=None, detail="no data", no_data=True),
        ev.TriggerCleared(trigger="no_data_probe"),
        ev.CriterionEvaluated(phase=1, criterion="api_p95", passed=True, value=0.21, detail="0.21 s ≤ 0.35 s"),
        ev.CriterionEvaluated(phase=1, criterion="error_rate", passed=False, value=0.03, detail="3 % > 2 %"),
        ev.Noted(text="soak looks calm; holding for the EU morning peak before the next gate"),
        ev.GateDecided(phase=1, role="sre", decision="GO", name="alice", note="dashboards green"),
        ev.GateDecided(phase=1, role="security", decision="NO-GO", name="sana", note="wait for the scan"),
        ev.TrafficShiftRequested(weight=25, phase=1),
        ev.TrafficShiftResult(weight=25, verified=True, observed_weight=25),
        ev.PhaseStarted(phase=1, weight=25),
        ev.GuardStarted(pid=4242, host="bastion", reason="standby took over", took_over="4100@bastion"),
        ev.Notified(channel="slack-release", text="error_rate breaching for 3m of 5m", delivered=True),
        ev.Escalated(level="L1", reason="error_rate breached", channel="pagerduty-l1"),
    ]


def write_journal(path: Path, n: int) -> None:
    """Write n chained events quickly (one write, one fsync) to replay them."""
    kinds = realistic_mix()
    prev = ev.GENESIS
    chunks = []
    for i in range(n):
        r = ev.make_record(seq=i + 1, ts=T0 + timedelta(seconds=i), actor=ACTOR, payload=kinds[i % len(kinds)],
                           prev=prev)
        line, prev = encode_line(r)
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
        cpu = []
        for _ in range(5):
            t, c = time.perf_counter(), time.process_time()
            j = Journal(Path(tmp), readonly=True)  # read, validate every line, check every hash
            t_open = time.perf_counter() - t
            state = fold(j.records)
            runs.append((t_open, time.perf_counter() - t))
            cpu.append(time.process_time() - c)
            del j
        totals = sorted(r[1] for r in runs)
        best = min(runs, key=lambda r: r[1])
        med = statistics.median(totals)
        print(
            f"replay        100,000 events ({size / 1e6:.1f} MB, {len(realistic_mix())} kinds mixed)  "
            f"validate+verify {best[0]:.3f} s  + fold = {best[1]:.3f} s  (best of 5; median {med:.3f} s, "
            f"max {totals[-1]:.3f} s; CPU median {statistics.median(cpu):.3f} s; seq {state.seq})"
        )
        print(f"aims          replay within 0.5 s: {'met' if med <= 0.5 else 'NOT met'} (median {med:.3f} s);"
              f" append median under 1 ms: {'met' if statistics.median(times) < 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    main()
