"""The engine against a real haproxy on loopback: phases move real traffic, the kill holds, a restart
reconciles, a dead haproxy is KILL NOT CONFIRMED, and real Prometheus data verifies the rollback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cockpit import guard_work
from cockpit.adapters.prometheus import PrometheusSource
from cockpit.clock import ManualClock
from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.narrate import say
from cockpit.store.journal import Journal
from tests.integration.haproxy import BACKEND, LoopbackHAProxy
from tests.integration.prom import PromServer, Series
from tests.integration.rollout import advance, engine_on, go_live, plan_for

pytestmark = pytest.mark.integration

REQUESTS = 200
T0 = datetime(2024, 5, 16, 14, 0, tzinfo=UTC)  # a Thursday, outside the Tuesday freeze




def haproxy_plan(rig: LoopbackHAProxy, **gateway):
    return plan_for({"type": "haproxy", "socket": rig.socket, "backend": BACKEND, "timeout": "1s", **gateway})


@pytest.fixture
def clock():
    return ManualClock(T0)


def canary_share(rig: LoopbackHAProxy) -> tuple[int, int]:
    """(requests the canary answered, requests the canary server itself saw) over REQUESTS."""
    before = rig.canary.hits
    seen = rig.route(REQUESTS)
    assert seen["canary"] + seen["stable"] == REQUESTS, seen  # no 503 in between
    return seen["canary"], rig.canary.hits - before


def test_each_phase_moves_real_traffic(haproxy, tmp_path, clock):
    engine = engine_on(haproxy_plan(haproxy), tmp_path / "state", clock)

    async def scenario():
        await go_live(engine)
        splits = {engine.state.weight: canary_share(haproxy)}
        for _ in range(3):
            await advance(engine, clock)
            splits[engine.state.weight] = canary_share(haproxy)
        return splits

    splits = asyncio.run(scenario())
    assert list(splits) == [5, 25, 50, 100]
    for weight, (answered, served) in splits.items():
        assert abs(answered - REQUESTS * weight // 100) <= 2, (weight, answered)
        assert served == answered
    shifts = [r.payload for r in engine.journal.records if r.kind == "traffic_shift_result"]
    assert [(s.weight, s.verified, s.observed_weight) for s in shifts] == [(w, True, w) for w in (5, 25, 50, 100)]


@pytest.mark.parametrize("maint", [False, True], ids=["weight-0", "maint"])
def test_the_kill_sends_no_request_to_the_canary(haproxy, tmp_path, clock, maint):
    engine = engine_on(haproxy_plan(haproxy, maint_on_kill=maint), tmp_path / "state", clock)

    async def scenario():
        await go_live(engine)
        await advance(engine, clock)  # 25 %: plenty to take away
        assert canary_share(haproxy)[0] > 40
        return await engine.kill("p95 regression on the canary")

    out = asyncio.run(scenario())
    assert out.ok, out.reasons
    result = next(r.payload for r in out.records if r.kind == "kill_result")
    assert (result.confirmed, result.attempts, result.observed_weight, result.observed_enabled) == (True, 1, 0, False)
    assert canary_share(haproxy) == (0, 0)  # not one request reaches the canary server
    assert engine.state.status == "rolled_back"
    again = asyncio.run(engine.kill("pulled twice"))  # idempotent
    assert again.ok and canary_share(haproxy) == (0, 0)


def test_a_restarted_engine_reads_the_gateway_back(haproxy, tmp_path, clock):
    state_dir = tmp_path / "state"
    plan = haproxy_plan(haproxy)
    engine = engine_on(plan, state_dir, clock)

    async def before_the_crash():
        await go_live(engine)
        await advance(engine, clock)
        # The process dies after journaling the next intent and calling haproxy, before the result.
        engine._append(ev.TrafficShiftRequested(weight=50, phase=2))
        await engine.gateway.set_weight(50)

    asyncio.run(before_the_crash())
    engine.journal.close()

    restarted = engine_on(plan, state_dir, clock)
    assert restarted.state.pending_shift is not None and restarted.state.weight == 25
    out = asyncio.run(restarted.reconcile())
    assert out.ok and [r.kind for r in out.records] == ["gateway_reconciled", "phase_started"]
    rec = out.records[0].payload
    assert (rec.journal_weight, rec.observed_weight, rec.observed_share, rec.agrees) == (25, 50, 50, True)
    assert rec.detail == ("the shift to 50 % has no journaled result (interrupted); the gateway reads weight 50, "
                          "canary.enable=true (canary share 50 %): it took effect; Phase 3 starts now")
    assert say(out.records[0]).startswith("gateway read-back agrees with the journal: the shift to 50 %")
    assert (restarted.state.phase, restarted.state.weight, restarted.state.pending_shift) == (2, 50, None)
    assert abs(canary_share(haproxy)[0] - 100) <= 2

    restarted.journal.close()
    third = engine_on(plan, state_dir, clock)
    out = asyncio.run(third.reconcile())  # nothing pending now: a plain read-back that agrees
    assert out.ok and out.records[0].payload.detail.endswith("(canary share 50 %), as journaled")
    assert fold(Journal(state_dir, readonly=True).records) == third.state


@pytest.mark.parametrize("when", ["before-the-kill", "between-set-and-read-back"])
def test_haproxy_stopped_during_the_rollout_is_kill_not_confirmed(haproxy, tmp_path, clock, when):
    state_dir = tmp_path / "state"
    engine = engine_on(haproxy_plan(haproxy), state_dir, clock)
    asyncio.run(go_live(engine))
    if when == "before-the-kill":
        haproxy.stop()
    else:  # the weights were sent, then haproxy died: the kill may have landed, but nobody read it back
        set_enabled = engine.gateway.set_enabled

        async def then_die(enabled):
            await set_enabled(enabled)
            haproxy.stop()

        engine.gateway.set_enabled = then_die

    out = asyncio.run(engine.kill("error spike"))
    assert not out.ok and out.reasons[0].startswith("KILL NOT CONFIRMED: haproxy ")
    assert [r.kind for r in out.records] == ["kill_requested", "kill_result", "escalated"]
    result, escalated = (r.payload for r in out.records[1:])
    assert result.confirmed is False and result.attempts == engine.plan.kill_switch.retries + 1
    assert haproxy.socket in result.error
    assert escalated.level == "Emergency" and escalated.reason.startswith("KILL NOT CONFIRMED after 4 attempts")
    queued = [r.payload for r in guard_work.paging_round(engine) if r.kind == "notification_queued" and r.payload.purpose == "rollback"]
    assert "KILL NOT CONFIRMED" in queued[0].text and queued[0].channel == "#error-budget"  # the guard delivers it
    on_disk = fold(Journal(state_dir, readonly=True).records)
    assert on_disk.status == "kill_unconfirmed" and on_disk.escalations[-1][1].level == "Emergency"

    haproxy.start()  # back, with its configured weights (stable 100, canary 0): pull again
    engine.gateway.__dict__.pop("set_enabled", None)
    again = asyncio.run(engine.kill("haproxy is back: re-assert"))
    assert again.ok and engine.state.status == "rolled_back"


# -- the second verification, on real Prometheus data ---------------------------------------------

KILL_AT = T0.timestamp()
SCRAPE = 15.0


def canary_requests(scenario: str, stops: bool) -> Series:
    """http_requests_total for the canary at 10 req/s, which stops growing at the kill, or not."""
    points, total = [], 0.0
    for i in range(-120, 121):
        ts = KILL_AT + i * SCRAPE
        if ts <= KILL_AT or not stops:
            total = 10.0 * (i + 120) * SCRAPE
        points.append((ts, total))
    labels = {"app": "intelgraph-api", "track": "canary", "scenario": scenario}
    return Series("http_requests_total", labels, points, counter=True)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with PromServer(tmp_path_factory.mktemp("prom"), [canary_requests("killed", True),
                                                      canary_requests("stuck", False)]) as server:
        yield server


@pytest.mark.parametrize("scenario", ["killed", "stuck"])
def test_the_rollback_is_verified_by_real_canary_traffic(haproxy, prometheus, tmp_path, scenario):
    query = f'sum(rate(http_requests_total{{app="intelgraph-api",track="canary",scenario="{scenario}"}}[1m]))'
    plan = plan_for({"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND},
                    verify_query=query, verify_within="2m")
    clock = ManualClock(T0)
    source = PrometheusSource(prometheus.url, timeout_s=5.0)
    engine = engine_on(plan, tmp_path / "state", clock, metrics=source)

    async def scenario_run():
        await go_live(engine)
        assert clock.now() == T0  # the kill comes exactly when the data says canary traffic stops
        out = await engine.kill("p95 regression")
        assert out.ok and engine.rollback_check is not None
        return await engine.rollback_check

    try:
        verdict = asyncio.run(scenario_run())
    finally:
        source.close()
    record = verdict.records[-1].payload
    if scenario == "killed":
        assert verdict.ok, verdict.reasons
        # Polled every 15 s of engine time; rate[1m] still sees the last minute's requests until 60 s.
        assert record.detail == "canary request rate 0 req/s at 1m00s after the gateway confirmed"
    else:
        assert not verdict.ok
        assert record.detail == "canary request rate still 10 req/s 2m00s after the kill"
    assert engine.state.kill.verified == record
    assert fold(Journal(tmp_path / "state", readonly=True).records).kill.verified == record


def test_a_restarted_haproxy_that_forgot_the_canary_weight_is_gateway_drift(haproxy, tmp_path, clock):
    """HAProxy restarts with the canary at its initial weight 0 while the journal says 5 %: the
    guard's round reads it back and journals GATEWAY DRIFT, and the advance is refused until the
    phase's weight is re-asserted at the gateway."""
    from cockpit.adapters.simulator import SimulatedMetrics, SimulatedWorld, seed_series
    from cockpit.monitor import Monitor
    from tests.integration.rollout import satisfy_gate

    engine = engine_on(haproxy_plan(haproxy), tmp_path / "state", clock)
    world = SimulatedWorld("healthy", clock=lambda: clock.now().timestamp())
    monitor = Monitor(engine, SimulatedMetrics(world, series=seed_series(engine.plan)), poll_s=15.0, step_s=30.0)

    async def scenario():
        await go_live(engine)
        await monitor.poll()
        assert engine.state.gateway_drift == ""
        haproxy.stop()
        haproxy.start()  # a fresh process: the canary server is back at its configured weight, 0
        assert canary_share(haproxy)[0] == 0
        await monitor.poll()
        satisfy_gate(engine, clock)
        refused = (await engine.advance()).reasons
        out = await engine.shift(5)  # re-assert the phase's weight
        await monitor.poll()
        return refused, out

    try:
        refused, out = asyncio.run(scenario())
    finally:
        monitor.close()
    drifts = [r.payload for r in engine.journal.records if isinstance(r.payload, ev.GatewayReconciled)]
    assert [d.agrees for d in drifts] == [False]  # journaled once; the verified re-assert ends it
    assert drifts[0].observed_share == 0 and drifts[0].journal_weight == 5
    assert refused[0].startswith("GATEWAY DRIFT: the gateway reads canary 0 %, but Phase 1 soaks at 5 %")
    assert out.ok and engine.state.gateway_drift == "" and engine.state.weight == 5
    assert abs(canary_share(haproxy)[0] - REQUESTS * 5 // 100) <= 2
