"""The judge against a real Prometheus: the guard's monitor judges the canary against its baseline
every interval over the soak, on range queries for both tracks (backfilled, 5 s apart, ~10 % noise,
seeded), and journals each judgment; the engine runs on a ManualClock set to the data's time."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.adapters.prometheus import build_metrics
from cockpit.adapters.simulator import SimulatedGateway, SimulatedWorld
from cockpit.clock import ManualClock
from cockpit.config import parse_plan
from cockpit.core import rules
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.monitor import Monitor
from cockpit.store.journal import Journal
from tests.integration.prom import PromServer, Series

pytestmark = pytest.mark.integration

T = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)  # every phase starts at T
MIN = timedelta(minutes=1)
EVERY = 5.0  # seconds between samples, and the plan's step: 241 samples per track over a 20m soak
SOAK, INTERVAL = 20 * MIN, 1 * MIN


def noisy(name, labels, median, spread=0.10, *, seed, begins=-300):
    """A gauge every 5 s from `begins` seconds after T (5 minutes before) to T+25m: `median` with
    normal noise of `spread` × median."""
    rng = random.Random(seed)
    t = T.timestamp()
    return Series(name, labels, [(t + k * EVERY, max(0.0, rng.gauss(median, spread * median)))
                                 for k in range(int(begins / EVERY), int(1500 / EVERY) + 1)])


def counter(name, labels, at_offsets, *, per_step=0.0):
    """A counter every 5 s: +1 at each offset (seconds from T), plus `per_step` each step."""
    t, total, points = T.timestamp(), 0.0, []
    for k in range(int(-300 / EVERY), int(1500 / EVERY) + 1):
        total += per_step + sum(1 for off in at_offsets if k * EVERY == off)
        points.append((t + k * EVERY, total))
    return Series(name, labels, points, counter=True)


SERIES = [
    noisy("latency_ms", {"track": "baseline", "scenario": "plus30"}, 240.0, seed=1),
    noisy("latency_ms", {"track": "canary", "scenario": "plus30"}, 312.0, seed=2),
    noisy("latency_ms", {"track": "baseline", "scenario": "plus5"}, 240.0, seed=3),
    noisy("latency_ms", {"track": "canary", "scenario": "plus5"}, 252.0, seed=4),
    noisy("latency_ms", {"track": "baseline", "scenario": "spread"}, 240.0, seed=5),
    noisy("latency_ms", {"track": "canary", "scenario": "spread"}, 240.0, spread=0.30, seed=6),
    noisy("latency_ms", {"track": "baseline", "scenario": "late"}, 240.0, seed=7),
    noisy("latency_ms", {"track": "canary", "scenario": "late"}, 240.0, seed=8, begins=20),  # with its traffic
    counter("errors_total", {"track": "canary", "scenario": "sparse"}, [300.0, 900.0]),  # 2 errors in the soak
    counter("errors_total", {"track": "baseline", "scenario": "sparse"}, []),  # none
    counter("requests_total", {"track": "canary", "scenario": "sparse"}, [], per_step=50.0),
    counter("requests_total", {"track": "baseline", "scenario": "sparse"}, [], per_step=50.0),
]

LATENCY = {"name": "latency", "query": "latency_ms{$track}", "unit": "ms", "direction": "increase"}
ERRORS = {"name": "errors", "query": "sum(rate(errors_total{$track}[1m]))", "direction": "increase",
          "nan_strategy": "replace", "events": "sum(increase(errors_total{$track}[$window]))",
          "exposure": "sum(increase(requests_total{$track}[$window]))"}


def judged_plan(url, scenario, metrics, soak="20m", **judge):
    return parse_plan({
        "release": {"name": "it", "version": "v1", "environment": "test", "region": "loopback"},
        "roles": {"sre": {"title": "SRE"}},
        "phases": [
            {"name": "Phase 1", "weight": 5, "soak": soak, "gate": {"owners": ["sre"], "auto": [
                {"id": "judgment", "name": "Canary judged against its baseline", "source": "judge"}]}},
            {"name": "Phase 2", "weight": 100, "soak": "20m", "gate": {"owners": ["sre"]}},
        ],
        "kill_switch": {"gateway": "edge"},
        "gateways": {"edge": {"type": "simulated"}},
        "escalation": [{"level": "L1", "name": "SRE", "scope": "all", "owners": ["sre"], "channel": "#sre"}],
        "budget": {"categories": [{"id": "infra", "name": "Infra", "monthly": 1000, "projected": 500}]},
        "prometheus": {"url": url, "timeout": 5, "poll_interval": "15s", "step": f"{EVERY:g}s"},
        "judge": {"baseline": f'track="baseline",scenario="{scenario}"', "canary": f'track="canary",scenario="{scenario}"',
                  "interval": "1m", "metrics": metrics, **judge},
    })


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    server = PromServer(tmp_path_factory.mktemp("prom"), SERIES).start()
    yield server
    server.stop()


def drive(plan, state_dir, until):
    """Start at T, poll every 15 s of the manual clock until `until`: the judgments journaled."""
    async def go():
        clock = ManualClock(T)
        world = SimulatedWorld("healthy", clock=lambda: clock.now().timestamp())
        engine = Engine(plan, Journal(state_dir), clock=clock, actor=Actor(user="it", host="loopback"),
                        gateway=SimulatedGateway(world))
        engine.ensure_plan()
        metrics = build_metrics(plan)
        monitor = Monitor(engine, metrics)
        try:
            assert (await engine.start()).ok
            while clock.now() < until:
                clock.advance(monitor.poll_s)
                await asyncio.wait_for(monitor.poll(), 30)
        finally:
            monitor.close()
            metrics.close()
        return engine, monitor

    return asyncio.run(go())


def judgments(engine):
    return [r for r in engine.journal.records if r.kind == "judgment_made"]


def full_window(engine):
    """The first judgment over the whole soak, and when it was made."""
    return next(r for r in judgments(engine) if r.payload.window_end - r.payload.window_start >= SOAK)


def test_a_canary_shifted_30_percent_is_judged_fail_within_one_interval_of_a_full_window(prom, tmp_path):
    engine, monitor = drive(judged_plan(prom.url, "plus30", [LATENCY]), tmp_path, T + SOAK + INTERVAL)
    made = judgments(engine)
    assert [r.ts for r in made] == [T + k * INTERVAL for k in range(1, 22)]  # one every interval
    full = full_window(engine)
    assert full.ts <= T + SOAK + INTERVAL and full.payload.verdict == "Fail"
    (latency,) = full.payload.metrics
    assert latency.classification == "High"
    assert (latency.canary_samples, latency.baseline_samples) == (241, 241)
    assert latency.lower > latency.band > 0 and latency.effect == pytest.approx(1.3, abs=0.03)
    assert latency.estimate == pytest.approx(72, abs=8)
    assert latency.reason.startswith("canary higher: shift +")
    assert full.payload.criteria == ("judgment",)
    assert rules.gate_refusals(engine.state, 0, T + SOAK + INTERVAL)[0].startswith("criterion judgment not met: judged Fail")
    assert monitor.criteria["judgment"].passed is False


def test_a_canary_shifted_5_percent_with_the_same_noise_is_judged_pass_when_10_percent_is_allowed(prom, tmp_path):
    engine, _ = drive(judged_plan(prom.url, "plus5", [{**LATENCY, "allowed_increase": 1.1}]), tmp_path, T + SOAK)
    full = full_window(engine)
    assert full.payload.verdict == "Pass" and full.payload.score == 100
    (latency,) = full.payload.metrics
    assert latency.classification == "Pass" and 1.0 < latency.effect < 1.1
    assert engine.state.gate(0).criteria["judgment"].passed is True


def test_the_same_5_percent_shift_is_high_with_kayentas_defaults(prom, tmp_path):
    """Why the plan says allowed_increase: over 241 samples a real +5 % is a real shift."""
    engine, _ = drive(judged_plan(prom.url, "plus5", [LATENCY]), tmp_path, T + SOAK)
    assert full_window(engine).payload.metrics[0].classification == "High"


def test_sparse_errors_two_against_none_are_never_a_pass(prom, tmp_path):
    engine, _ = drive(judged_plan(prom.url, "sparse", [ERRORS]), tmp_path, T + SOAK)
    assert all(r.payload.verdict != "Pass" for r in judgments(engine))
    (errors,) = full_window(engine).payload.metrics
    assert errors.classification == "Nodata"
    assert errors.count_p is not None and errors.count_p > 0.05  # the count test ran and found 2 vs 0 no evidence
    assert "count test: canary 2 events" in errors.reason and "baseline 0," in errors.reason


def test_the_same_median_with_triple_the_spread_is_flagged_and_marginal(prom, tmp_path):
    engine, _ = drive(judged_plan(prom.url, "spread", [LATENCY]), tmp_path, T + SOAK)
    full = full_window(engine)
    (latency,) = full.payload.metrics
    assert latency.spread_flagged and latency.spread_ratio > 2
    assert latency.classification == "Pass"
    assert full.payload.verdict == "Marginal" and "spread grew on latency" in full.payload.reason
    refused = rules.gate_refusals(engine.state, 0, T + SOAK + MIN)
    assert any(r.startswith("criterion judgment judged Marginal") for r in refused), refused


def test_three_fail_judgments_in_a_row_roll_back_when_the_plan_says_so(prom, tmp_path):
    engine, _ = drive(judged_plan(prom.url, "plus30", [LATENCY], action="rollback", **{"for": 3}), tmp_path, T + 6 * MIN)
    fails = [r for r in judgments(engine) if r.payload.verdict == "Fail"]
    kill = next(r for r in engine.journal.records if r.kind == "kill_requested")
    assert kill.ts == fails[2].ts and kill.payload.trigger == "judge"
    assert kill.payload.reason.startswith("judge: 3 Fail judgments in a row")
    assert engine.state.status == "rolled_back"
    assert len(judgments(engine)) == 3  # a rolled-back canary is judged no more


def test_a_canary_whose_series_begins_with_its_traffic_is_not_judged_until_it_has_the_samples(prom, tmp_path):
    """Found in the lab: a canary's series starts a few scrapes after its traffic, so at the first
    judgment's due time (min_samples steps into the soak) it had 9 of 10 samples, and the judgment
    journaled Fail ("critical metric is Nodata"): with action = "rollback", three of those would have
    killed a healthy canary. The first judgment waits until both tracks have min_samples."""
    plan = judged_plan(prom.url, "late", [{**LATENCY, "critical": True}], interval="30s", min_samples=10)
    engine, monitor = drive(plan, tmp_path, T + 3 * MIN)
    made = judgments(engine)
    assert made and all(r.payload.verdict == "Pass" for r in made), [r.payload.reason for r in made]
    first = made[0].payload.metrics[0]
    assert first.canary_samples >= 10 and made[0].ts > T + timedelta(seconds=60)  # it waited for the late track
