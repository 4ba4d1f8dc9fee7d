"""The Monitor and the Engine against a real Prometheus fed by backfill, and against broken ones.

The engine runs on a ManualClock set to the backfilled data's time; every round is a real
query over HTTP through PrometheusSource (built by build_metrics from the plan's [prometheus]),
and the kill switch acts on a simulated gateway. Each scenario asserts when, on the journal.
"""

from __future__ import annotations

import asyncio
import time
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
from tests.integration.prom import (
    PromServer,
    Series,
    delaying_proxy,
    fixed_answer_server,
    free_port,
    silent_server,
)

pytestmark = pytest.mark.integration

T = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)  # each scenario goes bad at T
S, MIN = timedelta(seconds=1), timedelta(minutes=1)
SCRAPE = 15.0
WAIT_S = 5.0


def series(name, labels, before, after=None, *, born=-40 * 60, counter=False):
    """A gauge (or counter) every 15 s from T-40m (or `born` seconds from T) to T+40m; `after` from T on."""
    t = T.timestamp()
    points = [(t + k * SCRAPE, before if after is None or t + k * SCRAPE < t else after)
              for k in range(int(born / SCRAPE), int(40 * 60 / SCRAPE) + 1)]
    return Series(name, labels, points, counter=counter)


SERIES = [
    series("canary_error_ratio", {"scenario": "healthy"}, 0.004),
    series("canary_error_ratio", {"scenario": "spike"}, 0.004, 0.024),
    series("api_p95_ms", {"track": "staging"}, 240.0),
    series("api_p95_ms", {"track": "canary", "scenario": "plus25"}, 240.0, 300.0),
    series("api_p95_ms", {"track": "canary", "scenario": "plus15"}, 240.0, 276.0),
    series("young_p95_ms", {}, 1500.0, born=-3 * 60),  # three minutes old at T, breaching throughout
    series("cross_tenant_access_total", {"scenario": "breach"}, 0.0, 1.0, counter=True),
    series("slow_marker_ratio", {}, 0.001),
    # The previous attempt's ratio, kept by rate[5m] while the canary has no traffic, until 45 s
    # into the next attempt (started at T); then this canary's own.
    Series("again_error_ratio", {}, [(T.timestamp() + k * SCRAPE, 0.0352 if k * SCRAPE < 45 else 0.0005)
                                     for k in range(-40 * 4, 40 * 4 + 1)]),
    # Breaches that begin and end between a round at T and the next one at T+10m.
    Series("between_violations", {}, [(T.timestamp() + k * SCRAPE, 1.0 if 120 <= k * SCRAPE < 180 else 0.0)
                                      for k in range(-40 * 4, 40 * 4 + 1)]),
    *(Series("between_error_ratio", {"run": run}, [(T.timestamp() + k * SCRAPE, 0.03 if 60 <= k * SCRAPE < end else 0.001)
                                                 for k in range(-40 * 4, 40 * 4 + 1)])
      for run, end in (("6m", 420), ("3m", 240))),
]


def trigger(id, query, comparison, for_, *, threshold=None, action="rollback", no_data="hold", **extra):
    t = {"id": id, "name": extra.pop("name", id), "query": query, "comparison": comparison, "for": for_,
         "action": action, "level": "L1", "no_data": no_data, **extra}
    if threshold is not None:
        t["threshold"] = threshold
    return t


ERROR_SPIKE = trigger("error_rate", 'canary_error_ratio{scenario="spike"}', ">=", "5m", threshold=0.02,
                      name="Error Rate ≥ 2 %", unit="ratio")
ERROR_HEALTHY = trigger("error_rate_healthy", 'canary_error_ratio{scenario="healthy"}', ">=", "5m", threshold=0.02)


def plan_for(url, triggers, *, timeout=2, criteria=()):
    """A two-phase plan around the given triggers, parsed and validated like a config file."""
    return parse_plan({
        "release": {"name": "it", "version": "v1", "environment": "test", "region": "loopback"},
        "roles": {"sre": {"title": "SRE"}},
        "phases": [
            {"name": "Phase 1", "weight": 5, "soak": "20m", "gate": {"owners": ["sre"], "auto": list(criteria)}},
            {"name": "Phase 2", "weight": 100, "soak": "20m", "gate": {"owners": ["sre"]}},
        ],
        "triggers": triggers,
        "kill_switch": {"gateway": "edge"},
        "gateways": {"edge": {"type": "simulated"}},
        "escalation": [{"level": "L1", "name": "SRE", "scope": "all", "owners": ["sre"], "channel": "#sre"}],
        "budget": {"categories": [{"id": "infra", "name": "Infra", "monthly": 1000, "projected": 500}]},
        "prometheus": {"url": url, "timeout": timeout, "poll_interval": "15s", "step": "30s"},
    })


class Live:
    """An engine live in phase 1 since `started`, and its monitor on PrometheusSource."""

    def __init__(self, plan, state_dir, started=T - 10 * MIN):
        self.clock = ManualClock(started)
        self.world = SimulatedWorld("healthy", clock=lambda: self.clock.now().timestamp())
        self.engine = Engine(plan, Journal(state_dir), clock=self.clock, actor=Actor(user="it", host="loopback"),
                             gateway=SimulatedGateway(self.world))
        self.engine.ensure_plan()
        self.metrics = build_metrics(plan)
        self.monitor = Monitor(self.engine, self.metrics)
        self.round_s: list[float] = []

    async def start(self):
        out = await self.engine.start()
        assert out.ok, out.reasons

    async def tick(self, rounds=1):
        for _ in range(rounds):
            self.clock.advance(self.monitor.poll_s)
            began = time.monotonic()
            await asyncio.wait_for(self.monitor.poll(), 4 * WAIT_S)
            self.round_s.append(time.monotonic() - began)

    async def until(self, when):
        while self.clock.now() < when:
            await self.tick()

    def records(self, *kinds, trigger=None):
        return [r for r in self.engine.journal.records
                if r.kind in kinds and (trigger is None or getattr(r.payload, "trigger", None) == trigger)]

    def close(self):
        self.monitor.close()
        self.metrics.close()


@pytest.fixture(scope="module", params=["prometheus", "victoria-metrics"])
def prom(request, tmp_path_factory):
    """The trigger suite runs against both engines, fed the same series (README: engines tested)."""
    if request.param == "victoria-metrics":
        from tests.integration.victoria import VictoriaServer

        server = VictoriaServer(tmp_path_factory.mktemp("victoria"), SERIES).start()
    else:
        server = PromServer(tmp_path_factory.mktemp("prom"), SERIES).start()
    yield server
    server.stop()


def drive(plan, state_dir, until, *, started=T - 10 * MIN, before=None):
    async def go():
        live = Live(plan, state_dir, started)
        try:
            await live.start()
            if before:
                before(live)
            await live.until(until)
        finally:
            live.close()
        return live

    return asyncio.run(go())


# --- scenarios ------------------------------------------------------------------------------------


def test_an_error_spike_fires_at_five_minutes_and_the_gateway_rolls_back(prom, tmp_path):
    gate = {"id": "errors_low", "name": "Error rate < 1 %", "query": 'canary_error_ratio{scenario="healthy"}',
            "comparison": "<", "threshold": 0.01, "unit": "ratio"}
    live = drive(plan_for(prom.url, [ERROR_SPIKE, ERROR_HEALTHY], criteria=[gate]), tmp_path, T + 7 * MIN)
    (breached,), (fired,) = live.records("trigger_breached"), live.records("trigger_fired")
    assert breached.payload.trigger == fired.payload.trigger == "error_rate"
    assert breached.ts == T and fired.ts == T + 5 * MIN  # not at T+4m45s
    why = fired.payload
    assert (why.value, why.threshold, why.window_s) == (0.024, 0.02, 300.0)
    assert why.detail == "Error Rate 2.4 % ≥ 2 % for 5m00s of 5m00s; 11 samples 2.4 % from 12:00:00Z to 12:05:00Z"
    kill, result = live.records("kill_requested")[0].payload, live.records("kill_result")[0].payload
    assert kill.trigger == "error_rate" and why.detail in kill.reason
    assert result.confirmed and live.world.enabled is False and live.engine.state.status == "rolled_back"
    # The criterion held, but "met" is journaled only over a whole soak: the rollback came first.
    assert live.records("criterion_evaluated") == [] and live.monitor.criteria["errors_low"].passed
    health = live.monitor.health["prometheus"]
    assert health.ok and health.endpoint == prom.url and health.detail.startswith("ok (")


def test_a_p95_regression_fires_after_ten_minutes_at_plus_25_and_never_at_plus_15(prom, tmp_path):
    def relative(id, scenario):
        return trigger(id, f'api_p95_ms{{track="canary",scenario="{scenario}"}}', ">", "10m", action="page",
                       baseline='api_p95_ms{track="staging"}', above_baseline_pct=20, unit="ms")

    live = drive(plan_for(prom.url, [relative("plus25", "plus25"), relative("plus15", "plus15")]), tmp_path, T + 20 * MIN)
    (fired,), (escalated,) = live.records("trigger_fired"), live.records("escalated")
    assert fired.payload.trigger == "plus25" and fired.ts == escalated.ts == T + 10 * MIN
    assert fired.payload.threshold == pytest.approx(288.0) and fired.payload.value == 300.0
    assert live.records("trigger_breached", trigger="plus15") == []  # 276 ms is under 288 ms throughout
    assert live.engine.state.status == "live"


def test_a_three_minute_old_breach_is_not_ten_minutes_sustained(prom, tmp_path):
    young = trigger("path_p95", "young_p95_ms", ">", "10m", threshold=1200, unit="ms")
    live = drive(plan_for(prom.url, [young]), tmp_path, T + 8 * MIN)
    (held, breaching), (fired,) = live.records("trigger_breached"), live.records("trigger_fired")
    assert held.ts == T - 10 * MIN + 15 * S and held.payload.no_data  # no data yet: holding
    assert held.ts < breaching.ts < fired.ts and not breaching.payload.no_data  # then a measured, pending breach
    assert fired.ts == T + 7 * MIN  # ten minutes after the series was born, not at T


def test_a_second_attempt_is_not_rolled_back_on_the_first_attempts_samples(prom, tmp_path):
    again = trigger("error_rate", "again_error_ratio", ">=", "1m", threshold=0.02, name="Error Rate", unit="ratio")
    live = drive(plan_for(prom.url, [again]), tmp_path, T + 5 * MIN, started=T)
    assert live.records("trigger_fired", "kill_requested") == [] and live.engine.state.status == "live"
    (breached,), (cleared,) = live.records("trigger_breached"), live.records("trigger_cleared")
    assert breached.ts == T + 15 * S and not breached.payload.no_data
    # Before the fix it fired in its first round, on samples from before the start.
    assert breached.payload.detail == "Error Rate 3.52 % ≥ 2 % for 0s of 1m00s (15s since the start)"
    assert cleared.ts == T + 45 * S


def test_a_cross_tenant_access_fires_at_once(prom, tmp_path):
    breach = trigger("security_violation", 'sum(increase(cross_tenant_access_total{scenario="breach"}[5m]))',
                     ">", "0s", threshold=0, no_data="breach")
    live = drive(plan_for(prom.url, [breach]), tmp_path, T + 2 * MIN)
    (fired,) = live.records("trigger_fired")
    assert fired.ts == T and fired.payload.window_s == 0.0 and fired.payload.value >= 1.0
    assert live.records("kill_result")[0].payload.confirmed


def test_a_breach_that_began_and_ended_between_two_rounds_ten_minutes_apart_fires(prom, tmp_path):
    """Rounds every 15 s up to T, then none until T+10m (a pause, a busy bastion): the round at
    T+10m judges every sample since T. A minute of violations (for = 0) fires, and so does 6
    minutes of errors over 2 % (for = 5m); 3 minutes of them does not. The guard says it fell behind."""
    breaches = [
        trigger("violations", "between_violations", ">", "0s", threshold=0, action="page", name="Security"),
        trigger("errors_6m", 'between_error_ratio{run="6m"}', ">=", "5m", threshold=0.02, action="page",
                name="Error Rate", unit="ratio"),
        trigger("errors_3m", 'between_error_ratio{run="3m"}', ">=", "5m", threshold=0.02, action="page"),
    ]

    async def go():
        live = Live(plan_for(prom.url, breaches), tmp_path)
        try:
            await live.start()
            await live.until(T)
            quiet = live.records("trigger_breached", "trigger_fired")
            live.clock.advance(10 * MIN)
            await asyncio.wait_for(live.monitor.poll(), 4 * WAIT_S)
            return live, quiet
        finally:
            live.close()

    live, quiet = asyncio.run(go())
    assert quiet == []
    fired = {r.payload.trigger: r for r in live.records("trigger_fired")}
    assert set(fired) == {"violations", "errors_6m"}
    assert all(r.ts == T + 10 * MIN for r in fired.values())
    assert fired["violations"].payload.detail == (
        "Security 1 > 0 (between rounds, 8m00s before this one); 1 sample 1 from 12:02:00Z to 12:02:00Z")
    assert fired["errors_6m"].payload.detail == (
        "Error Rate 3 % ≥ 2 % for 5m00s of 5m00s (between rounds, 4m00s before this one); "
        "11 samples 3 % from 12:01:00Z to 12:06:00Z")
    assert live.records("trigger_breached", trigger="errors_3m") == []
    (late,) = live.records("round_late")
    assert (late.payload.late_s, late.payload.judged_since, late.payload.unjudged_s) == (585.0, T, 0.0)
    assert live.engine.state.status == "live" and len(live.records("escalated")) == 2


def test_a_canary_without_traffic_is_no_data_and_prometheus_stays_up(prom, tmp_path):
    """A ratio over zero traffic answers NaN: that is data about the canary (no traffic), so its
    no-data policy speaks, and Prometheus, which answered, is not DOWN (lab finding 12)."""
    idle = trigger("idle_ratio", 'canary_error_ratio{scenario="healthy"} * 0 / 0', ">=", "5m", threshold=0.02)

    async def go():
        live = Live(plan_for(prom.url, [idle, ERROR_HEALTHY]), tmp_path)
        try:
            await live.tick()  # preflight: the guard already polls
            before_start = live.monitor.health["prometheus"]
            await live.start()
            await live.tick()
            return live, before_start
        finally:
            live.close()

    live, before_start = asyncio.run(go())
    for health in (before_start, live.monitor.health["prometheus"]):
        assert health.ok and health.detail == "ok (4 queries)" and health.failures == 0  # each: its window, whether its data stopped
    track = live.monitor.tracks["idle_ratio"]
    assert track.last_error is None and track.verdict.state == "no_data_hold"
    # Prometheus answers NaN points (said so); VictoriaMetrics drops them (no series at all).
    nan = " (answered only NaN: a ratio over zero traffic?)" if isinstance(prom, PromServer) else ""
    assert track.verdict.why == f"idle_ratio: no data in the last 5m00s, holding{nan}"
    (held,) = live.records("trigger_breached")
    assert held.payload.trigger == "idle_ratio" and held.payload.no_data


# --- faults ---------------------------------------------------------------------------------------


def three_policies(query='canary_error_ratio{scenario="healthy"}'):
    """The three no-data policies, and one trigger that fails closed when queries fail."""
    return [trigger(f"no_data_{p}", query, ">=", "5m", threshold=0.02, action="page", no_data=p)
            for p in ("hold", "ignore", "breach")] + [
        trigger("fail_closed", query, ">=", "5m", threshold=0.02, action="page", on_query_failure="breach")]


# A failed source is not "no data": every trigger is blind and holds, whatever its no_data policy,
# but the one that asked for on_query_failure = "breach", which fires.
BLIND = (["fail_closed", "no_data_breach", "no_data_hold", "no_data_ignore"], ["fail_closed"])


def policy_outcome(live):
    return (
        sorted(r.payload.trigger for r in live.records("trigger_breached")),
        sorted(r.payload.trigger for r in live.records("trigger_fired")),
    )


def test_prometheus_not_started(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    async def go():
        live = Live(plan_for(url, three_policies()), tmp_path)
        try:
            await live.start()
            seen = []
            for _ in range(4):
                await live.tick()
                seen.append((live.monitor.gauge("no_data_hold")[1], policy_outcome(live)))
            refusals = rules.advance_refusals(live.engine.state, live.clock.now())
            kill = await live.engine.kill("captain's call while blind")
            return live, seen, kill, refusals
        finally:
            live.close()

    live, seen, kill, refusals = asyncio.run(go())
    inf, nothing = float("inf"), ([], [])
    assert seen[:3] == [(inf, nothing)] * 3  # STALE "never" at once; no policy for two intervals
    # A minute into the rollout: fail_closed counts as breaching but only pends (its 5m window is not
    # yet the rollout's own); the others hold.
    assert seen[3] == (inf, (BLIND[0], []))
    health = live.monitor.health["prometheus"]
    assert health.ok is False and health.failures == 4
    assert health.detail.startswith("down: ") and f"prometheus at {url}: connection refused" in health.detail
    assert any(r.startswith("trigger no_data_hold is holding for want of data") and "connection refused" in r for r in refusals), refusals
    assert kill.ok and live.world.enabled is False  # the engine kept working
    assert max(live.round_s) < 2.0


def test_prometheus_killed_mid_run(tmp_path):
    server = PromServer(tmp_path / "prom", SERIES).start()
    try:
        async def go():
            live = Live(plan_for(server.url, three_policies()), tmp_path / "state")
            try:
                await live.start()
                await live.until(T)
                assert policy_outcome(live) == ([], []) and live.monitor.health["prometheus"].ok
                server.kill()
                seen = []
                for _ in range(4):
                    await live.tick()
                    seen.append((live.monitor.gauge("no_data_hold")[1], policy_outcome(live)))
                return live, seen
            finally:
                live.close()

        live, seen = asyncio.run(go())
    finally:
        server.stop()
    assert [age for age, _ in seen] == [None, None, 45.0, 60.0]  # STALE after two intervals, with its age
    assert [outcome for _, outcome in seen[:2]] == [([], [])] * 2
    assert seen[2][1] == BLIND
    track = live.monitor.tracks["no_data_hold"]
    assert track.verdict.state == "ok" and track.verdict.value == 0.004  # the last answer, shown STALE
    assert "connection refused" in track.last_error
    assert live.monitor.health["prometheus"].detail.startswith("down: ")
    assert live.engine.state.status == "live" and live.monitor.rounds == 40 + 4


def test_a_prometheus_slower_than_the_timeout(tmp_path):
    with silent_server() as url:
        async def go():
            live = Live(plan_for(url, three_policies(), timeout=1), tmp_path)
            try:
                await live.start()
                await live.tick(3)
                return live
            finally:
                live.close()

        live = asyncio.run(go())
    # Three triggers each wait out their 1 s timeout at the same time: a round is ~1 s, not ~3 s.
    assert all(1.0 <= s < 2.5 for s in live.round_s), live.round_s
    assert "no answer within 1s (timed out)" in live.monitor.health["prometheus"].detail
    assert live.monitor.gauge("no_data_hold")[1] == float("inf")
    assert policy_outcome(live) == ([], [])  # two intervals not yet over: policy after the 4th round


def test_a_server_answering_garbage(tmp_path):
    seen: list[dict] = []
    with fixed_answer_server(b"<html><body>It works!</body></html>", content_type="text/html", seen=seen) as url:
        async def go():
            live = Live(plan_for(url, three_policies()), tmp_path)
            try:
                await live.start()
                await live.tick(4)
                return live
            finally:
                live.close()

        live = asyncio.run(go())
    health = live.monitor.health["prometheus"]
    assert health.ok is False and "answered with something that is not JSON (is this a Prometheus?)" in health.detail
    assert policy_outcome(live) == (BLIND[0], [])  # a minute into the rollout: fail_closed pends
    assert live.monitor.tracks["no_data_ignore"].last_error.endswith("not JSON (is this a Prometheus?)")
    assert len(seen) == 4 * 4 * 2  # per trigger per round: its window and whether its data stopped; no retry storm


def test_one_slow_query_does_not_delay_another_triggers_rollback(prom, tmp_path):
    delay_s = 2.0
    breach = trigger("security_violation", 'sum(increase(cross_tenant_access_total{scenario="breach"}[5m]))',
                     ">", "0s", threshold=0, no_data="breach")
    slow = trigger("slow", "slow_marker_ratio", ">", "5m", threshold=0.5)
    with delaying_proxy(prom.url, "slow_marker", delay_s) as url:
        async def go():
            live = Live(plan_for(url, [breach, slow], timeout=5), tmp_path, started=T - 5 * MIN)
            try:
                await live.start()
                killed_at: list[float] = []
                live.engine.subscribe(lambda r: killed_at.append(time.monotonic()) if r.kind == "kill_result" else None)
                live.clock.advance(T - live.clock.now())
                began = time.monotonic()
                await asyncio.wait_for(live.monitor.poll(), 4 * WAIT_S)
                return live, killed_at[0] - began, time.monotonic() - began
            finally:
                live.close()

        live, kill_after, round_s = asyncio.run(go())
    assert round_s >= delay_s  # the slow trigger's query really was held
    assert kill_after < 1.0, kill_after  # ...and the rollback did not wait for it
    assert live.records("kill_result")[0].payload.confirmed
    assert live.monitor.tracks["slow"].verdict.value == 0.001  # the slow one still answered, late
