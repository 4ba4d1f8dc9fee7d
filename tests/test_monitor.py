"""The monitor and the engine on the simulator and a ManualClock: what gets journaled, and when.

Every scenario runs the real loop (poll → evaluate → engine) round by round, 15 s apart, and
asserts on the engine's journal: which events, at which instant, saying what.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from cockpit.adapters.checks import Outcome
from cockpit.adapters.metrics import QueryResult
from cockpit.adapters.simulator import SimulatedMetrics, seed_series
from tests.rig import Rig, Scripted, variant
from tests.support import passing_runner

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
WAIT_S = 5.0  # bound on any wall-clock wait in these tests


def run(coro):
    return asyncio.run(coro)


def query(plan, trigger_id):
    return next(t.query for t in plan.triggers if t.id == trigger_id)


# --- the seed plan's scenarios -----------------------------------------------------------------


def test_a_healthy_rollout_fires_nothing_and_each_criterion_is_journaled_once_per_gate(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock, "healthy")
        await rig.start()
        await rig.to_phase(3)
        await rig.finish_phase()
        out = await rig.engine.advance()
        assert out.ok, out.reasons
        return rig

    rig = run(go())
    assert rig.engine.state.status == "completed"
    assert rig.records("trigger_breached", "trigger_fired", "kill_requested", "escalated", "budget_alerted") == []
    starts = {r.payload.phase: r.ts for r in rig.records("phase_started")}
    seen = [(r.payload.phase, r.payload.criterion, r.payload.passed, r.ts - starts[r.payload.phase])
            for r in rig.records("criterion_evaluated")]
    # One event per criterion per gate, when the soak is over ("met" means met over the whole soak):
    # transitions only, no flood.
    assert seen == [(i, c.id, True, 20 * MIN) for i, p in enumerate(plan.phases) for c in p.gate.auto]
    assert rig.monitor.rounds == 4 * 80
    assert rig.monitor.health["prometheus"].ok and rig.monitor.health["gateway"].ok
    assert [rig.monitor.gauge(t.id)[1] for t in plan.triggers if t.query] == [None] * 4


def test_an_error_spike_at_25_percent_fires_at_five_minutes_and_rolls_back(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock, "error-spike")
        await rig.start()
        t25 = await rig.to_phase(1)
        await rig.until(t25 + 8 * MIN)
        return rig, t25

    rig, t25 = run(go())
    (breached,), (fired,) = rig.records("trigger_breached"), rig.records("trigger_fired")
    assert breached.payload.trigger == fired.payload.trigger == "error_rate"
    assert breached.ts == t25 + 15 * S  # the first round at 25 % sees the first bad sample
    assert fired.ts == t25 + 5 * MIN  # not at +4m45s: the whole 5-minute window must breach
    why = fired.payload
    assert (why.action, why.level, why.window_s, why.threshold) == ("rollback", "L1", 300.0, 0.02)
    assert 0.024 <= why.value <= 0.028
    assert "≥ 2 % for 5m00s of 5m00s" in why.detail and "11 samples" in why.detail
    assert [r.kind for r in rig.records()[-3:]] == ["trigger_fired", "kill_requested", "kill_result"]
    kill = rig.records("kill_requested")[0].payload
    assert kill.trigger == "error_rate" and kill.reason.startswith("trigger error_rate fired: Error Rate 2.")
    result = rig.records("kill_result")[0].payload
    assert result.confirmed and result.observed_enabled is False
    assert rig.world.enabled is False and rig.engine.state.status == "rolled_back"


def test_a_latency_regression_at_25_percent_fires_after_ten_minutes(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock, "latency-regression")
        await rig.start()
        t25 = await rig.to_phase(1)
        await rig.until(t25 + 12 * MIN)
        return rig, t25

    rig, t25 = run(go())
    (breached,), (fired,) = rig.records("trigger_breached"), rig.records("trigger_fired")
    assert breached.payload.trigger == fired.payload.trigger == "api_p95_regression"
    assert breached.ts == t25 + 15 * S
    assert fired.ts == t25 + 10 * MIN
    # +20 % over the staging baseline (~240 ms), in ms like the seed's queries.
    assert 282 < fired.payload.threshold < 294 and 315 < fired.payload.value < 335
    assert fired.payload.window_s == 600 and "for 10m00s of 10m00s" in fired.payload.detail
    assert rig.records("kill_result")[0].payload.confirmed


def test_a_tenant_breach_fires_on_the_first_breaching_sample(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock, "tenant-breach")
        t0 = await rig.start()
        await rig.until(t0 + 5 * MIN)
        return rig, t0

    rig, t0 = run(go())
    (breached,), (fired,) = rig.records("trigger_breached"), rig.records("trigger_fired")
    assert breached.payload.trigger == fired.payload.trigger == "security_violation"
    assert breached.ts == fired.ts == t0 + 3 * MIN  # for = 0: no pending time at all
    assert (fired.payload.value, fired.payload.window_s, fired.payload.level) == (1.0, 0.0, "L2")
    assert rig.engine.state.status == "rolled_back"


def test_no_data_at_25_percent_holds_the_rollout_and_fires_nothing(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock, "no-data")
        await rig.start()
        t25 = await rig.to_phase(1)
        await rig.finish_phase()
        await rig.until(t25 + 40 * MIN)
        return rig, t25

    rig, t25 = run(go())
    assert rig.records("trigger_fired", "kill_requested") == [] and rig.engine.state.status == "live"
    held = {r.payload.trigger: r for r in rig.records("trigger_breached")}  # one each over 40 minutes
    assert len(rig.records("trigger_breached")) == 3 and rig.records("trigger_cleared") == []
    # The 5-minute window drops under 90 % coverage first, the 10-minute ones a round later.
    assert held["error_rate"].ts == t25 + 30 * S
    assert held["api_p95_regression"].ts == held["path_p95"].ts == t25 + 60 * S
    assert all(r.payload.detail.endswith("covered, holding") for r in held.values())
    reasons = rig.advance_refusals()
    assert "criterion api_p95 not evaluated yet" in reasons
    held_for_data = [r for r in reasons if " is holding for want of data" in r]
    assert [r.split(" is holding")[0] for r in held_for_data] == [
        "trigger api_p95_regression", "trigger error_rate", "trigger path_p95",
    ]
    assert all(p.payload.no_data for p in held.values())


# --- actions: page, hold, one event per transition ---------------------------------------------


def test_a_page_trigger_escalates_once_and_does_not_roll_back(plan, state_dir, clock):
    paging = variant(plan, "error_rate", action="page")

    async def go():
        rig = Rig(paging, state_dir, clock, "error-spike")
        await rig.start()
        t25 = await rig.to_phase(1)
        await rig.until(t25 + 15 * MIN)
        return rig, t25

    rig, t25 = run(go())
    (fired,), (escalated,) = rig.records("trigger_fired"), rig.records("escalated")
    assert fired.ts == escalated.ts == t25 + 5 * MIN
    assert (escalated.payload.level, escalated.payload.channel) == ("L1", "#sre-oncall")
    assert escalated.payload.reason.startswith("Error Rate ≥ 2 %: Error Rate 2.")
    assert rig.records("kill_requested") == [] and rig.engine.state.status == "live"
    assert any(r.startswith("trigger error_rate is breaching (for 14m45s)") for r in rig.advance_refusals())


def test_a_hold_trigger_blocks_advancing_until_it_clears(plan, state_dir, clock):
    holding = variant(plan, "error_rate", action="hold")
    marks: dict[str, float] = {}

    def errors(ts):  # 3 % from 15 to 25 minutes into phase 2, else healthy
        start = marks.get("t25")
        return 0.03 if start is not None and start + 900 <= ts < start + 1500 else 0.0005

    async def go():
        rig = Rig(holding, state_dir, clock)
        rig.monitor.metrics = Scripted(rig.metrics, {query(plan, "error_rate"): errors})
        await rig.start()
        t25 = await rig.to_phase(1)
        marks["t25"] = t25.timestamp()
        await rig.finish_phase()  # soak over, every owner said GO
        at_soak_end = rig.advance_refusals()
        free_at = None
        rounds = 60  # 15 minutes of 15 s polls: the breach ends 5 minutes after the soak
        for _ in range(rounds):
            await rig.tick()
            if not rig.advance_refusals():
                free_at = rig.clock.now()
                break
        else:
            pytest.fail(f"advancing still refused after {rounds} rounds: {rig.advance_refusals()}")
        assert (await rig.engine.advance()).ok
        return rig, t25, at_soak_end, free_at

    rig, t25, at_soak_end, free_at = run(go())
    (fired,), (cleared,) = rig.records("trigger_fired"), rig.records("trigger_cleared")
    assert rig.records("trigger_breached")[0].ts == t25 + 15 * MIN
    assert fired.ts == t25 + 20 * MIN and fired.payload.action == "hold"
    assert at_soak_end == [f"trigger error_rate is breaching (for 5m00s): {fired.payload.detail}"]
    assert cleared.ts == free_at == t25 + 25 * MIN
    assert rig.records("kill_requested", "escalated") == [] and rig.engine.state.phase == 2


def test_a_second_attempt_is_not_judged_on_the_first_attempts_samples(plan, state_dir, clock):
    """The lab's finding: rate[5m] keeps the previous attempt's 3.52 % while the new canary has no
    traffic yet; a window reaching back before this rollout's start must not fire on it."""
    marks: dict[str, float] = {}

    def errors(ts):  # the previous attempt's ratio until a minute into this one, then this canary's own
        return 0.0352 if ts < marks["t0"] + 60 else 0.0005

    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = Scripted(rig.metrics, {query(plan, "error_rate"): errors})
        marks["t0"] = rig.clock.now().timestamp()
        t0 = await rig.start()
        assert t0.timestamp() == marks["t0"]
        await rig.until(t0 + 10 * MIN)
        return rig, t0

    rig, t0 = run(go())
    assert rig.records("trigger_fired", "kill_requested") == [] and rig.engine.state.status == "live"
    (breached,), (cleared,) = rig.records("trigger_breached"), rig.records("trigger_cleared")
    assert breached.ts == t0 + 15 * S and not breached.payload.no_data  # pending, not fired
    assert breached.payload.detail == "Error Rate 3.52 % ≥ 2 % for 0s of 5m00s (15s since the start)"  # one sample: t0+15s
    assert cleared.ts == t0 + 60 * S


class WholeSeconds:
    """A source that rounds a range query's start and end to whole seconds, as prometheus-api-client does."""

    def __init__(self, inner):
        self.inner, self.endpoint = inner, "whole-seconds"

    def instant(self, query, at):
        return self.inner.instant(query, at)

    def range(self, query, start, end, step_s):
        from datetime import datetime as dt

        whole = lambda t: dt.fromtimestamp(round(t.timestamp()), t.tzinfo)  # noqa: E731
        return self.inner.range(query, whole(start), whole(end), step_s)


def test_the_first_round_after_the_start_sees_the_newest_sample_a_fraction_of_a_second_old(plan, state_dir, clock):
    """The client rounds the range to whole seconds, so the newest sample of a round 0.1 s after a
    start at .3 s is from .0 s: still this attempt's newest slot, not "no data: holding"."""
    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = WholeSeconds(Scripted(rig.metrics, {query(plan, "error_rate"): lambda ts: 0.0005}))
        rig.clock.advance(0.3 * S)
        t0 = await rig.start()
        rig.clock.advance(0.1 * S)
        await rig.monitor.poll()
        return rig, t0

    rig, t0 = run(go())
    assert t0.microsecond == 300_000
    assert [r for r in rig.records("trigger_breached") if r.payload.trigger == "error_rate"] == []
    assert rig.monitor.tracks["error_rate"].verdict.state == "ok"


def test_breach_and_clear_are_one_event_per_transition(plan, state_dir, clock):
    marks: dict[str, float] = {}

    def flapping(ts):  # two minutes bad, two minutes good: never the 5 minutes that fire
        return 0.03 if int((ts - marks["t0"]) // 120) % 2 == 1 else 0.0005

    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = Scripted(rig.metrics, {query(plan, "error_rate"): flapping})
        t0 = await rig.start()
        marks["t0"] = t0.timestamp()
        await rig.until(t0 + 30 * MIN)  # 120 rounds
        return rig, t0

    rig, t0 = run(go())
    events = [(r.kind, r.ts - t0) for r in rig.records("trigger_breached", "trigger_cleared", "trigger_fired")]
    expected = []
    for k in range(1, 16):  # a transition every 2 minutes, from minute 2 to minute 30
        expected.append(("trigger_breached" if k % 2 else "trigger_cleared", k * 2 * MIN))
    assert events == expected


# --- check-backed triggers ---------------------------------------------------------------------


def test_a_failing_provenance_check_fires_the_supply_chain_trigger_at_its_next_run(plan, state_dir, clock):
    failing: set[str] = set()

    async def go():
        rig = Rig(plan, state_dir, clock, runner=passing_runner(failing))
        t0 = await rig.start()
        await rig.tick()  # first run, at t0+15s: passes
        first = rig.monitor.gauge("supply_chain")[0].verdict
        failing.add("image_provenance")  # the image lost its signature
        await rig.until(t0 + 7 * MIN)
        return rig, t0, first

    rig, t0, first = run(go())
    assert first.state == "ok" and first.why == "check image_provenance passed: image_provenance ok"
    (fired,) = rig.records("trigger_fired")
    assert fired.payload.trigger == "supply_chain"
    assert fired.ts == t0 + 5 * MIN + 15 * S  # the next run, one interval after the first
    assert fired.payload.detail == "check image_provenance FAILED: image_provenance failed on purpose"
    assert rig.records("kill_requested")[0].payload.trigger == "supply_chain"
    assert rig.monitor.gauge("supply_chain")[1] is None  # 5-minute runs are fresh between runs


def test_a_check_that_cannot_run_is_no_data_and_holds(plan, state_dir, clock):
    broken = {"on": False}

    async def runner(check):
        if broken["on"] and check.id == "image_provenance":
            return Outcome("error", "cosign: executable not found")
        return Outcome("pass", "ok")

    async def go():
        rig = Rig(plan, state_dir, clock, runner=runner)
        t0 = await rig.start()
        broken["on"] = True
        await rig.until(t0 + 12 * MIN)
        return rig, t0

    rig, t0 = run(go())
    (held,) = rig.records("trigger_breached")
    assert held.ts == t0 + 15 * S and held.payload.trigger == "supply_chain"
    assert held.payload.detail.startswith("check image_provenance did not run: cosign: executable not found")
    assert rig.records("trigger_fired") == []
    assert rig.monitor.gauge("supply_chain")[0].last_error == "cosign: executable not found"


def test_a_slow_check_does_not_hold_the_rounds(plan, state_dir, clock):
    async def go():
        gate = asyncio.Event()
        started = []

        async def runner(check):
            if check.id == "image_provenance" and rig.engine.state.status == "live":
                started.append(check.id)
                await gate.wait()
                return Outcome("fail", "no signature")
            return Outcome("pass", "ok")

        rig = Rig(plan, state_dir, clock, runner=runner)
        await rig.start()
        for _ in range(3):  # the check starts in round 1 and is still running in round 3
            clock.advance(15)
            await asyncio.wait_for(rig.monitor.poll(), WAIT_S)
        assert started == ["image_provenance"]  # not restarted while in flight
        assert rig.monitor.gauge("error_rate")[0].last_good_at == clock.now().timestamp()
        assert rig.records("trigger_fired") == []
        gate.set()
        await asyncio.wait_for(rig.monitor.settle(), WAIT_S)
        return rig

    rig = run(go())
    (fired,) = rig.records("trigger_fired")
    assert fired.payload.trigger == "supply_chain" and rig.monitor.rounds == 3


# --- gate criteria and budget ------------------------------------------------------------------


def test_a_criterion_that_fails_once_is_journaled_once_and_blocks_the_gate(plan, state_dir, clock):
    marks: dict[str, float] = {}

    def p95(ts):  # one 400 ms sample five minutes into the soak
        return 400.0 if marks["t0"] + 300 <= ts < marks["t0"] + 330 else 245.0

    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = Scripted(rig.metrics, {query(plan, "api_p95_regression"): p95})
        t0 = await rig.start()
        marks["t0"] = t0.timestamp()
        await rig.finish_phase()
        return rig, t0

    rig, t0 = run(go())
    api = [(r.payload.passed, r.payload.value, r.ts - t0) for r in rig.records("criterion_evaluated")
           if r.payload.criterion == "api_p95"]
    assert api == [(False, 400.0, 5 * MIN)]  # never "met" first: the soak was not over
    assert rig.advance_refusals() == [
        "criterion api_p95 not met: API p95 reached 400 ms 5m00s into the soak (must be ≤ 350 ms)"
    ]
    assert rig.monitor.criteria["api_p95"].passed is False
    assert rig.records("trigger_fired") == []


def test_budget_alerts_are_journaled_once_each_as_spend_crosses_them(plan, state_dir, clock):
    total = sum(c.monthly for c in plan.budget.categories)  # $23,000
    marks = {"t0": clock.now().timestamp()}

    def share(ts):  # 70.3 % of the budget, plus one point a minute
        return total * (0.703 + 0.01 * (ts - marks["t0"]) / 60)

    curves = {
        plan.budget.categories[0].spend_query: lambda ts: share(ts) * 18 / 23,
        plan.budget.categories[1].spend_query: lambda ts: share(ts) * 5 / 23,
    }

    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = Scripted(rig.metrics, curves)
        await rig.until(rig.t0 + 40 * MIN)
        return rig

    rig = run(go())
    alerts = [(r.payload.at_pct, r.ts - rig.t0) for r in rig.records("budget_alerted")]
    assert alerts == [(75, 4 * MIN + 45 * S), (85, 14 * MIN + 45 * S), (95, 24 * MIN + 45 * S), (100, 29 * MIN + 45 * S)]
    last = rig.records("budget_alerted")[-1].payload
    assert (last.channel, last.action, last.budget) == ("#finops", "Automatic spend controls activated", total)
    assert 23_000 <= last.spent < 23_000 * 1.001
    assert 110.2 < rig.monitor.budget.pct < 110.4


# --- concurrency and failures ------------------------------------------------------------------


class Blocking:
    """The simulator, where chosen range queries block on a threading primitive first."""

    def __init__(self, inner, queries, wait):
        self.inner, self.queries, self.wait = inner, set(queries), wait
        self.endpoint = "blocking"

    def instant(self, query, at):
        return self.inner.instant(query, at)

    def range(self, query, start, end, step_s):
        if query in self.queries:
            self.wait()
        return self.inner.range(query, start, end, step_s)


def test_every_trigger_of_a_round_is_queried_at_once(plan, state_dir, clock):
    triggers = [t.query for t in plan.triggers if t.query]
    barrier = threading.Barrier(len(triggers), timeout=WAIT_S)  # breaks unless all four wait together

    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = Blocking(rig.metrics, triggers, barrier.wait)
        await asyncio.wait_for(rig.monitor.poll(), 2 * WAIT_S)
        return rig

    rig = run(go())
    assert not barrier.broken
    assert [rig.monitor.tracks[t.id].last_error for t in plan.triggers if t.query] == [None] * 4
    assert all(rig.monitor.tracks[t.id].verdict is not None for t in plan.triggers if t.query)


def test_one_slow_query_does_not_delay_another_triggers_rollback(plan, state_dir, clock):
    slow = threading.Event()

    async def go():
        rig = Rig(plan, state_dir, clock, "tenant-breach")
        t0 = await rig.start()
        await rig.until(t0 + 2 * MIN + 45 * S)
        rig.monitor.metrics = Blocking(rig.metrics, [query(plan, "path_p95")], lambda: slow.wait(WAIT_S))
        clock.advance(15)  # t0+3m: the cross-tenant access shows
        round_ = asyncio.create_task(rig.monitor.poll())
        for _ in range(int(WAIT_S / 0.01)):
            if rig.records("kill_result"):
                break
            await asyncio.sleep(0.01)
        fired_while_blocked = bool(rig.records("kill_result")) and not round_.done()
        slow.set()
        await asyncio.wait_for(round_, WAIT_S)
        return rig, fired_while_blocked

    rig, fired_while_blocked = run(go())
    assert fired_while_blocked  # the rollback completed while path_p95's query still hung
    assert rig.records("kill_result")[0].payload.confirmed
    assert rig.monitor.tracks["path_p95"].last_error is None


def test_a_bug_in_one_trigger_is_surfaced_and_the_loop_goes_on(plan, state_dir, clock):
    calls = []

    def broken(ts):
        raise ZeroDivisionError("bad curve")

    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = Scripted(rig.metrics, {query(plan, "path_p95"): broken})
        rig.monitor.subscribe(lambda: calls.append("ok"))
        rig.monitor.subscribe(lambda: 1 / 0)  # a broken screen
        await rig.start()
        real = rig.engine.observe_trigger

        async def observe(trigger, verdict):
            if trigger.id == "error_rate":
                raise RuntimeError("boom")
            return await real(trigger, verdict)

        rig.engine.observe_trigger = observe
        rig.world.gateway_down = True
        await rig.tick(3)
        return rig

    rig = run(go())
    tracks, health = rig.monitor.tracks, rig.monitor.health
    assert tracks["error_rate"].last_error == "trigger error_rate: internal error: RuntimeError: boom"
    assert tracks["path_p95"].last_error == "query raised ZeroDivisionError: bad curve"
    assert tracks["api_p95_regression"].last_error is None and tracks["api_p95_regression"].verdict.state == "ok"
    assert rig.monitor.rounds == 3 and calls == ["ok"] * 3
    assert any("listener: internal error: ZeroDivisionError" in f for f in rig.monitor.faults)
    assert health["prometheus"].ok is False and health["prometheus"].detail.startswith("degraded: 2 of ")
    assert health["gateway"].ok is False and "unreachable" in health["gateway"].detail


class Switchable:
    """The simulator behind a switch: `down` makes every query fail as an unreachable Prometheus does."""

    endpoint = "http://127.0.0.1:9"

    def __init__(self, inner):
        self.inner, self.down = inner, False

    def _gone(self):
        return QueryResult.failed(f"prometheus at {self.endpoint}: connection refused (is Prometheus running?)")

    def instant(self, query, at):
        return self._gone() if self.down else self.inner.instant(query, at)

    def range(self, query, start, end, step_s):
        return self._gone() if self.down else self.inner.range(query, start, end, step_s)


def test_a_lost_prometheus_goes_stale_then_every_blind_trigger_holds(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock)
        source = Switchable(SimulatedMetrics(rig.world, series=seed_series(plan)))
        rig.monitor.metrics = source
        t0 = await rig.start()
        await rig.until(t0 + 2 * MIN)
        source.down = True
        ages, counts = [], []
        for _ in range(6):
            await rig.tick()
            ages.append(rig.monitor.gauge("error_rate")[1])
            counts.append(len(rig.records("trigger_breached")))
        down = (rig.monitor.health["prometheus"].ok, rig.monitor.health["prometheus"].detail)
        refusals = rig.advance_refusals()
        source.down = False
        await rig.tick()
        return rig, t0, ages, counts, down, refusals

    rig, t0, ages, counts, down, refusals = run(go())
    assert ages == [None, None, 45.0, 60.0, 75.0, 90.0]  # STALE after two poll intervals, with its age
    # Then every Prometheus trigger holds, once each: the three `no_data = "hold"` ones and the
    # seed's fail-closed security trigger too, whose `no_data = "breach"` is about an answer without
    # a series; a query that got no answer is blindness (on_query_failure, by default "hold").
    assert counts == [0, 0, 4, 4, 4, 4]
    assert down[0] is False and down[1].startswith("down: ") and "prometheus at http://127.0.0.1:9: connection refused" in down[1]
    held = [r.payload for r in rig.records("trigger_breached")]
    assert {p.trigger for p in held} == {"api_p95_regression", "path_p95", "error_rate", "security_violation"}
    assert all(p.no_data for p in held)
    assert all("cannot see for 45s, holding: queries failing: prometheus at http://127.0.0.1:9: connection refused"
               in p.detail for p in held)
    assert sum("is holding for want of data" in r for r in refusals) == 4
    assert rig.records("trigger_fired", "kill_requested", "escalated") == [] and rig.engine.state.status == "live"
    # Back: fresh gauges, health up, every hold cleared on the first good round.
    assert rig.monitor.gauge("error_rate")[1] is None and rig.monitor.health["prometheus"].ok
    assert len(rig.records("trigger_cleared")) == 4


def test_a_plan_may_fail_closed_on_query_failure_explicitly(plan, state_dir, clock):
    closed = variant(plan, "security_violation", on_query_failure="breach")

    async def go():
        rig = Rig(closed, state_dir, clock)
        source = Switchable(SimulatedMetrics(rig.world, series=seed_series(closed)))
        rig.monitor.metrics = source
        t0 = await rig.start()
        await rig.until(t0 + 2 * MIN)
        source.down = True
        await rig.tick(2)
        quiet_for_two_rounds = rig.records("trigger_breached", "trigger_fired", "kill_requested") == []
        await rig.tick()
        return rig, t0, quiet_for_two_rounds

    rig, t0, quiet_for_two_rounds = run(go())
    assert quiet_for_two_rounds  # one or two lost answers are not a rollback
    fired = next(r for r in rig.records("trigger_fired") if r.payload.trigger == "security_violation")
    assert fired.ts == t0 + 2 * MIN + 45 * S
    assert fired.payload.detail.startswith('Security: cannot see for 45s, counted as breaching (on_query_failure = "breach")')
    assert "connection refused" in fired.payload.detail
    assert rig.engine.state.status == "rolled_back"


def test_a_monitor_that_never_reached_prometheus_waits_two_intervals_too(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock)
        source = Switchable(rig.metrics)
        source.down = True
        rig.monitor.metrics = source
        await rig.start()
        firsts = []
        for _ in range(4):
            await rig.tick()
            firsts.append((rig.monitor.gauge("error_rate")[1], len(rig.records("trigger_breached"))))
        return rig, firsts

    rig, firsts = run(go())
    inf = float("inf")
    # STALE ("never") at once; holding for want of data only after two intervals without an answer.
    assert firsts == [(inf, 0), (inf, 0), (inf, 0), (inf, 4)]
    assert rig.records("trigger_fired") == []
    assert rig.monitor.tracks["error_rate"].verdict is None


class TargetsDown(Switchable):
    """Prometheus up, the canary's targets down: the queries still answer (the last five minutes
    of old samples), and `stopped` says the data behind them has stopped."""

    def __init__(self, inner):
        super().__init__(inner)
        self.asked: list[str] = []
        self.targets_down = False  # Prometheus itself stays up (`down` stays False)

    def stopped(self, query, at):
        self.asked.append(query)
        return QueryResult(status="ok", value=3.0) if self.targets_down else QueryResult(status="no_data")


def test_answers_from_targets_that_are_down_are_blindness_not_green(plan, state_dir, clock):
    """A failed scrape leaves rate(...[5m]) answering from old samples for five minutes: a trigger
    whose targets are all down is blind (held, by default), says why, and sees again when they return."""
    async def go():
        rig = Rig(plan, state_dir, clock)
        source = TargetsDown(SimulatedMetrics(rig.world, series=seed_series(plan)))
        rig.monitor.metrics = source
        t0 = await rig.start()
        await rig.until(t0 + 2 * MIN)
        source.targets_down = True
        ages = []
        for _ in range(3):
            await rig.tick()
            ages.append(rig.monitor.gauge("error_rate")[1])
        health = rig.monitor.health["prometheus"].ok
        source.targets_down = False
        await rig.tick()
        return rig, source, ages, health

    rig, source, ages, health = run(go())
    asked = {t.id for t in plan.triggers if t.query in source.asked}
    assert asked == {t.id for t in plan.triggers if t.query and t.check is None}  # every Prometheus trigger asks
    assert ages == [None, None, 45.0]  # its last good answer ages: STALE, as when Prometheus is gone
    assert health is True  # Prometheus itself answers: its health is not what failed
    held = [r.payload for r in rig.records("trigger_breached")]
    assert {p.trigger for p in held} == {"api_p95_regression", "path_p95", "error_rate", "security_violation"}
    assert all(p.no_data for p in held)
    assert all("cannot see for 45s, holding: no live data: every target its series come from is down "
               "(scrapes fail, up == 0)" in p.detail for p in held)
    assert rig.records("trigger_fired", "kill_requested") == [] and rig.engine.state.status == "live"
    assert len(rig.records("trigger_cleared")) == 4  # live data again: every hold cleared
