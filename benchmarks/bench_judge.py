"""How long the judge takes for one round: 10 metrics, 2 x 240 samples each (issue 23's budget).

Ten metrics of the kinds a plan judges — latencies shifted by 0, +5 and +30 %, one with triple the
spread (every metric with a spread past the limit draws the bootstrap, its worst case), error
ratios mostly zero with event counts (the count test), a throughput that fell — judged by
core.judge.judge as the guard will call it, many rounds; prints the median and worst ms per
round, and the first round's (numpy's import included) apart. A second pass makes every metric a
spread blow-up, so each one pays for its bootstrap.

    make bench   (or: .venv/bin/python benchmarks/bench_judge.py [--rounds N])

Aim: a round of 10 metrics under 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random

from cockpit.core.judge import Direction, EventCounts, JudgeRules, MetricRule, MetricSamples, judge

AIM_MS = 50.0
N = 240


def track(rng: random.Random, centre: float, spread: float = 1.0, zero_share: float = 0.0) -> tuple[float, ...]:
    return tuple(0.0 if rng.random() < zero_share else max(0.0, rng.gauss(centre, centre * 0.1 * spread))
                 for _ in range(N))


def round_inputs(all_wide: bool) -> tuple[JudgeRules, list[MetricSamples]]:
    rng = random.Random(23)
    kinds = [("p50", 1.0, 1.0), ("p95", 1.05, 1.0), ("p99", 1.3, 1.0), ("p90", 1.0, 3.0), ("upstream", 1.0, 1.0),
             ("db", 1.02, 1.0), ("cache", 0.97, 1.0)]
    rules, samples = [], []
    for name, shift, spread in kinds:
        spread = 3.0 if all_wide else spread
        rules.append(MetricRule(name, unit="s", direction=Direction.INCREASE))
        samples.append(MetricSamples(name, track(rng, 0.2 * shift, spread), track(rng, 0.2)))
    for name, events in (("errors", (2, 0)), ("5xx", (30, 40))):
        rules.append(MetricRule(name, unit="ratio", direction=Direction.INCREASE))
        samples.append(MetricSamples(name, track(rng, 0.01, zero_share=0.9), track(rng, 0.01, zero_share=0.9),
                                     EventCounts(*events, 5.0, 95.0)))
    rules.append(MetricRule("throughput", unit="req/s", direction=Direction.DECREASE))
    samples.append(MetricSamples("throughput", track(rng, 90.0, 3.0 if all_wide else 1.0), track(rng, 100.0)))
    return JudgeRules(metrics=tuple(rules)), samples


def measure(rounds: int, all_wide: bool) -> tuple[float, list[float], object]:
    rules, samples = round_inputs(all_wide)
    t0 = time.perf_counter()
    result = judge(rules, samples)
    first = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        judge(rules, samples)
        times.append((time.perf_counter() - t0) * 1000)
    return first, times, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    met = True
    for label, wide in (("a plan's mix", False), ("every metric a spread blow-up", True)):
        first, times, result = measure(args.rounds, wide)
        median, worst = statistics.median(times), max(times)
        met &= median < AIM_MS
        print(f"{label}: 10 metrics x 2 x {N} samples, {args.rounds} rounds: median {median:.1f} ms, "
              f"worst {worst:.1f} ms (first round, numpy's import included: {first:.1f} ms); "
              f"verdict {result.verdict}, score {result.score}")
        for m in result.metrics:
            print(f"    {m.name:<10} {m.classification:<8} {m.reason}")
    print(f"aim: a round under {AIM_MS:.0f} ms: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
