"""The simulated world: canary metrics answer to weight and scenario, deterministically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cockpit.adapters.gateway import GatewayError
from cockpit.adapters.simulator import (
    DEMO_QUERIES,
    SCENARIOS,
    SimulatedGateway,
    SimulatedMetrics,
    SimulatedWorld,
)
from cockpit.core.compare import Comparison
from cockpit.core.triggers import evaluate_window, relative_threshold, window_bounds

T0 = datetime(2024, 5, 14, 12, 0, tzinfo=UTC).timestamp()
MIN = 60.0
P95, STAGING = 'api_p95_ms{track="canary"}', 'api_p95_ms{track="staging"}'
ERRORS, TENANT = 'error_ratio{track="canary"}', "sum(increase(cross_tenant_access_total[5m]))"


def at(ts):
    return datetime.fromtimestamp(ts, UTC)


def rollout(scenario, seed=0):
    """5 % at T0, 25 % at T0+20m, 50 % at T0+40m, 100 % at T0+60m."""
    world = SimulatedWorld(scenario, seed, clock=lambda: T0)
    for i, weight in enumerate((5, 25, 50, 100)):
        world.set_weight(weight, at=T0 + i * 20 * MIN)
    return world, SimulatedMetrics(world)


def values(metrics, query, start, end, step=30.0):
    result = metrics.range(query, at(start), at(end), step)
    return [s.value for s in result.samples]


def fires_at(metrics, query, comparison, threshold, for_s, start, end, no_data="hold"):
    """First evaluation time (every 30 s) at which the trigger fires, or None."""
    now = start
    while now <= end:
        lo, hi = window_bounds(now, for_s)
        samples = metrics.range(query, at(lo), at(hi), 30.0).samples
        v = evaluate_window(samples, comparison=comparison, threshold=threshold, for_s=for_s, step_s=30.0,
                            now=now, no_data=no_data)
        if v.fired:
            return now
        now += 30.0
    return None


def test_healthy_rollout_stays_inside_every_trigger():
    world, m = rollout("healthy")
    end = T0 + 80 * MIN
    staging = values(m, STAGING, T0, end)
    canary = values(m, P95, T0, end)
    assert len(canary) == len(staging) == 161
    assert all(c / s < 1.2 for c, s in zip(canary, staging, strict=False))
    assert max(values(m, ERRORS, T0, end)) < 0.01
    assert max(values(m, 'path3_p95_ms{track="canary"}', T0, end)) < 1200
    assert set(values(m, TENANT, T0, end)) == {0.0}


def test_canary_metrics_follow_the_weight():
    world, m = rollout("healthy")
    cpu = 'cpu_utilisation{track="canary"}'

    def mean(q, a):
        return sum(values(m, q, a, a + 10 * MIN)) / 21

    assert mean(cpu, T0) < mean(cpu, T0 + 20 * MIN) < mean(cpu, T0 + 40 * MIN) < mean(cpu, T0 + 60 * MIN)
    assert m.instant("canary_weight", at(T0 + 30 * MIN)).value == 25


def test_no_canary_series_without_canary_traffic():
    world, m = rollout("healthy")
    assert m.instant(P95, at(T0 - MIN)).status == "no_data"  # before the rollout
    world.set_enabled(False, at=T0 + 30 * MIN)  # the kill switch
    assert m.instant(P95, at(T0 + 31 * MIN)).status == "no_data"
    assert m.instant("canary_weight", at(T0 + 31 * MIN)).value == 0
    assert m.instant(STAGING, at(T0 + 31 * MIN)).status == "ok"  # the baseline is not the canary's


def test_latency_regression_only_from_25_percent():
    world, m = rollout("latency-regression")

    def ratios(a, b):
        return [c / s for c, s in zip(values(m, P95, a, b), values(m, STAGING, a, b), strict=False)]

    assert max(ratios(T0, T0 + 19.5 * MIN)) < 1.1
    assert 1.3 < min(ratios(T0 + 20 * MIN, T0 + 40 * MIN)) and max(ratios(T0 + 20 * MIN, T0 + 40 * MIN)) < 1.4
    limit = relative_threshold(240, 20)
    fired = fires_at(m, P95, Comparison.GT, limit, 10 * MIN, T0, T0 + 40 * MIN)
    assert fired == T0 + 30 * MIN  # ten minutes into 25 %


def test_error_spike_from_25_percent_fires_after_5_minutes():
    world, m = rollout("error-spike")
    assert max(values(m, ERRORS, T0, T0 + 19.5 * MIN)) < 0.01
    assert min(values(m, ERRORS, T0 + 20 * MIN, T0 + 40 * MIN)) >= 0.02
    assert fires_at(m, ERRORS, Comparison.GE, 0.02, 5 * MIN, T0, T0 + 40 * MIN) == T0 + 25 * MIN


def test_tenant_breach_increments_once_a_few_minutes_into_5_percent():
    world, m = rollout("tenant-breach")
    assert fires_at(m, TENANT, Comparison.GT, 0, 0, T0, T0 + 20 * MIN) == T0 + 3 * MIN
    assert values(m, TENANT, T0 + 3 * MIN, T0 + 7.5 * MIN) == [1.0] * 10
    assert m.instant(TENANT, at(T0 + 8 * MIN)).value == 0.0  # one increment leaves the 5m window
    healthy = SimulatedMetrics(SimulatedWorld("tenant-breach"))  # never reached 5 %
    assert healthy.instant(TENANT, at(T0 + 10 * MIN)).value == 0.0


def test_no_data_scenario_loses_the_canary_series_from_25_percent():
    world, m = rollout("no-data")
    assert m.instant(ERRORS, at(T0 + 10 * MIN)).status == "ok"
    assert m.range(ERRORS, at(T0 + 21 * MIN), at(T0 + 30 * MIN), 30).status == "no_data"
    assert m.instant(STAGING, at(T0 + 30 * MIN)).status == "ok"


def test_deterministic_given_seed_and_time():
    a, b, c = rollout("healthy", 7)[1], rollout("healthy", 7)[1], rollout("healthy", 8)[1]
    span = (T0, T0 + 30 * MIN)
    assert values(a, P95, *span) == values(b, P95, *span)
    assert values(a, P95, *span) != values(c, P95, *span)
    assert a.instant(P95, at(T0 + 90)).value == a.instant(P95, at(T0 + 90)).value


def test_range_agrees_with_instant():
    _, m = rollout("healthy")
    result = m.range(ERRORS, at(T0), at(T0 + 5 * MIN), 30)
    assert [s.ts for s in result.samples] == [T0 + i * 30 for i in range(11)]
    assert all(m.instant(ERRORS, at(s.ts)).value == s.value for s in result.samples)


def test_queries_by_text_by_sim_name_and_unknown():
    _, m = rollout("healthy")
    when = at(T0 + MIN)
    assert m.instant("sim:error_ratio_canary", when) == m.instant(ERRORS, when)
    assert m.instant('error_ratio{track="canary"} ', when) == m.instant(ERRORS, when)  # whitespace
    unknown = m.instant("rate(http_requests_total[5m])", when)
    assert unknown.status == "error" and "simulator: no model for query" in unknown.error
    assert "error_ratio_canary" in unknown.error
    custom = SimulatedMetrics(m.world, series={"my_p95": "api_p95_canary"})
    assert custom.instant("my_p95", when) == m.instant(P95, when)
    with pytest.raises(ValueError, match="unknown simulator models"):
        SimulatedMetrics(m.world, series={"q": "nope"})
    for query in DEMO_QUERIES:  # every documented demo query answers with a value
        assert m.instant(query, at(T0 + 30 * MIN)).status == "ok", query


def test_unknown_scenario_names_the_choices():
    with pytest.raises(ValueError, match="latency-regression"):
        SimulatedWorld("meteor-strike")
    assert len(SCENARIOS) == 8


def test_budget_spend_tracks_the_plan_projection():
    world = SimulatedWorld("healthy")
    june_1, june_30_end = datetime(2024, 6, 1, tzinfo=UTC).timestamp(), datetime(
        2024, 7, 1, tzinfo=UTC).timestamp() - 1
    assert world.spend("infrastructure", june_1) == pytest.approx(0.0, abs=0.01)
    assert world.spend("infrastructure", june_30_end) == pytest.approx(12_450, rel=0.001)
    assert world.spend("llm_usage", june_30_end) == pytest.approx(2_180, rel=0.001)
    mid = june_1 + 15 * 86400
    assert world.spend("infrastructure", mid) == pytest.approx(12_450 / 2, rel=0.001)
    # A canary at 100 % for ten days costs a little more, well inside the 10 % cost-delta gate.
    world.set_weight(100, at=june_1 + 5 * 86400)
    extra = world.spend("infrastructure", mid) / (12_450 / 2) - 1
    assert 0.01 < extra < 0.1
    m = SimulatedMetrics(world)
    assert m.instant('budget_spend_usd{category="llm_usage"}', at(mid)).value == world.spend("llm_usage", mid)
    with pytest.raises(ValueError, match="infrastructure"):
        world.spend("coffee", mid)


def test_gateway_sets_reads_and_fails_on_purpose():
    clock = [T0]
    world = SimulatedWorld("healthy", clock=lambda: clock[0])
    gw = SimulatedGateway(world)

    async def scenario():
        await gw.set_weight(25)
        clock[0] += 60
        state = await gw.read()
        assert (state.weight, state.enabled) == (25, True)
        await gw.set_enabled(False)
        assert (await gw.read()).enabled is False
        assert world.share_at(clock[0]) == 0 and world.share_at(T0 + 30) == 25
        with pytest.raises(GatewayError, match="refused canary weight 101"):
            await gw.set_weight(101)
        world.gateway_down = True
        with pytest.raises(GatewayError, match="simulated gateway: unreachable"):
            await gw.read()
        with pytest.raises(GatewayError):
            await gw.set_enabled(True)
        assert world.enabled is False  # a failed call changes nothing
        await gw.close()

    asyncio.run(scenario())
    assert gw.name == "simulated"


def test_seed_series_answers_every_query_of_the_seed_plan():
    from cockpit.adapters.simulator import SEED_MODELS, seed_series
    from cockpit.seed import seed_plan

    plan = seed_plan()
    series = seed_series(plan)
    queries = [t.query or "" for t in plan.triggers if t.query] + [t.baseline for t in plan.triggers if t.baseline]
    queries += [c.query for p in plan.phases for c in p.gate.auto]
    queries += [c.spend_query for c in plan.budget.categories] + [plan.kill_switch.verify_query]
    queries += [c.query for c in plan.preflight if c.type == "promql"]
    world = SimulatedWorld("healthy", clock=lambda: T0)
    world.set_weight(25, at=T0)
    m = SimulatedMetrics(world, series=series)
    answers = {q: m.instant(q, at(T0 + MIN)) for q in queries}
    assert [q for q, a in answers.items() if a.status != "ok"] == []
    # every model of the table is used (the judge's once the judge is on: below)
    assert len(set(series.values())) == len({m for k, m in SEED_MODELS.items() if not k.startswith("judge:")})
    # The seed's latencies are in ms, its error rate a ratio: the trigger thresholds apply as written.
    p95 = next(t for t in plan.triggers if t.id == "api_p95_regression")
    assert 200 < answers[p95.query].value < 300 and 200 < answers[p95.baseline].value < 300


def test_seed_series_refuses_one_query_text_for_two_models():
    from cockpit.adapters.simulator import seed_series
    from cockpit.config import dump_plan, parse_plan
    from cockpit.seed import seed_plan

    data = dump_plan(seed_plan())
    data["triggers"][2]["query"] = data["triggers"][0]["query"]  # error_rate asks the p95 query
    with pytest.raises(ValueError, match="trigger:error_rate: query .* is already simulated as api_p95_canary"):
        seed_series(parse_plan(data))


def test_a_healthy_canary_at_100_percent_meets_the_seeds_availability_gate():
    world, m = rollout("healthy")
    assert min(values(m, "sim:availability", T0 + 60 * MIN, T0 + 80 * MIN)) > 0.999


@pytest.mark.parametrize("scenario, canary_over_baseline", [("judge-pass", 1.03), ("judge-fail", 1.30), ("judge-marginal", 1.0)])
def test_the_judge_demos_answer_both_tracks_of_every_judged_metric(scenario, canary_over_baseline):
    from cockpit.adapters.simulator import SEED_MODELS, seed_series
    from cockpit.demo import demo_plan

    plan = demo_plan(scenario)
    series = seed_series(plan)
    assert {m for k, m in SEED_MODELS.items() if k.startswith("judge:")} <= set(series.values())
    world = SimulatedWorld(scenario, clock=lambda: T0)
    world.set_weight(5, at=T0)
    m = SimulatedMetrics(world, series=series)
    p95 = plan.judge.metrics[0]
    canary, baseline = (m.range(plan.judge.query(p95.query, t), at(T0), at(T0 + 60 * MIN), 30.0) for t in ("canary", "baseline"))
    assert canary.status == baseline.status == "ok" and len(canary.samples) == len(baseline.samples) == 121
    mean = lambda r: sum(s.value for s in r.samples) / len(r.samples)  # noqa: E731
    assert mean(canary) / mean(baseline) == pytest.approx(canary_over_baseline, abs=0.06)
