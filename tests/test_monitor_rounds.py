"""Rounds that fall behind: the monitor judges every sample since the last round that judged a
trigger's (asking for that range, at most an hour back), measures each round's lateness, and
journals a spell of late rounds once (core.rounds), in words; the guard runs a round every poll
interval from the start of the last. On the simulator and a ManualClock, round by round."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from cockpit.adapters.metrics import QueryResult
from cockpit.core.evaluation import GuardId
from cockpit.core.rounds import SPELL_ENDS_AFTER
from cockpit.core.triggers import CATCH_UP_S
from cockpit.guard import Guard
from cockpit.narrate import say
from tests.conftest import T0
from tests.rig import Rig

S, MIN = timedelta(seconds=1), timedelta(minutes=1)


def run(coro):
    return asyncio.run(coro)


def query(plan, trigger_id):
    return next(t.query for t in plan.triggers if t.id == trigger_id)


class Asked:
    """A MetricsSource that records the range each query asked for, and can fail them."""

    def __init__(self, inner):
        self.inner, self.ranges, self.failing = inner, [], False

    def instant(self, query, at):
        return self.inner.instant(query, at)

    def range(self, query, start, end, step_s):
        self.ranges.append((query, start, end))
        if self.failing:
            return QueryResult.failed("prometheus at http://127.0.0.1:9: connection refused")
        return self.inner.range(query, start, end, step_s)


async def jump(rig: Rig, delta: timedelta) -> None:
    """One round `delta` after the last one started (a late round, when delta > poll)."""
    rig.clock.advance(delta)
    await rig.monitor.poll()


# --- a breach between two rounds --------------------------------------------------------------


def test_a_breach_between_two_rounds_ten_minutes_apart_fires_and_kills(plan, state_dir, clock):
    """The demo at 600x: a round every 10 minutes; the cross-tenant access (5 minutes of
    increase[5m] from 3 minutes in) lies between the first two rounds."""
    async def go():
        rig = Rig(plan, state_dir, clock, "tenant-breach", poll_s=600)
        t0 = await rig.start()
        await rig.monitor.poll()
        await rig.tick()
        return rig, t0

    rig, t0 = run(go())
    (fired,) = rig.records("trigger_fired")
    assert fired.payload.trigger == "security_violation" and fired.ts == t0 + 10 * MIN
    assert fired.payload.detail == ("Security 1 > 0 (between rounds, 7m00s before this one); "
                                    "1 sample 1 from 14:03:00Z to 14:03:00Z")
    assert rig.records("kill_result")[0].payload.confirmed and rig.engine.state.status == "rolled_back"
    assert rig.records("round_late") == []  # rounds 10 minutes apart at a 10-minute poll are on time


def test_a_first_round_judges_only_its_window(plan, state_dir, clock):
    """A monitor with no round before judges the window at now: the same breach, unseen."""
    async def go():
        rig = Rig(plan, state_dir, clock, "tenant-breach", poll_s=600)
        await rig.start()
        await rig.tick()
        return rig

    rig = run(go())
    assert rig.records("trigger_fired") == [] and rig.engine.state.status == "live"


def test_a_late_round_asks_for_every_sample_since_the_last_one_and_no_more_than_an_hour(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock)
        rig.monitor.metrics = asked = Asked(rig.metrics)
        await rig.start()
        await rig.monitor.poll()
        marks = [rig.clock.now()]
        await jump(rig, 15 * S)
        marks.append(rig.clock.now())
        await jump(rig, 7 * MIN)
        marks.append(rig.clock.now())
        await jump(rig, 3 * timedelta(hours=1))
        return rig, asked, marks

    rig, asked, (first, on_time, late) = run(go())
    error_rate = query(rig.plan, "error_rate")  # for = 5m, at a 30 s step (a gate criterion asks from the soak's start)
    starts = [(start, end) for q, start, end in asked.ranges if q == error_rate and start != first]
    assert starts[0] == (first - 5 * MIN, first)  # a first round: its window
    assert starts[1] == (on_time - 5 * MIN - 30 * S, on_time)  # on time: a step more, on the grid of now
    assert starts[2] == (late - 5 * MIN - 7 * MIN, late)  # 7 minutes late: 7 minutes more
    assert starts[3][0] == late + 3 * timedelta(hours=1) - 5 * MIN - CATCH_UP_S * S  # three hours: one


def test_a_trigger_blind_between_rounds_judges_what_it_missed_once_it_sees_again(plan, state_dir, clock):
    """Prometheus did not answer for five and a half minutes, over the whole cross-tenant access
    (3 to 8 minutes in): the first answer after it judges the samples since the last answer."""
    async def go():
        rig = Rig(plan, state_dir, clock, "tenant-breach")
        rig.monitor.metrics = asked = Asked(rig.metrics)
        t0 = await rig.start()
        await rig.until(t0 + 2 * MIN + 45 * S)
        asked.failing = True
        await rig.until(t0 + 8 * MIN + 15 * S)
        blind = rig.records("trigger_breached", "trigger_fired")
        asked.failing = False
        await rig.tick()
        return rig, t0, blind

    rig, t0, blind = run(go())
    assert [(r.kind, r.payload.no_data) for r in blind if r.payload.trigger == "security_violation"] == [
        ("trigger_breached", True)]  # blind: holding, not fired
    (fired,) = rig.records("trigger_fired")
    assert fired.ts == t0 + 8 * MIN + 30 * S
    assert fired.payload.detail.startswith("Security 1 > 0 (between rounds, 5m30s before this one)")


# --- lateness ------------------------------------------------------------------------------------


def test_a_spell_of_late_rounds_is_journaled_when_it_begins_worsens_and_ends(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock)
        await rig.start()
        await rig.monitor.poll()
        await jump(rig, 15 * S)  # on time
        await jump(rig, 62 * S)  # 47 s late: a spell begins
        await jump(rig, 60 * S)  # 45 s late: counted, not said
        await jump(rig, 110 * S)  # 95 s late: twice as late
        for _ in range(SPELL_ENDS_AFTER):
            await jump(rig, 15 * S)
        return rig

    rig = run(go())
    begun, worse, ended = rig.records("round_late")
    assert (begun.payload.late_s, begun.payload.late_rounds, begun.payload.caught_up) == (47.0, 1, False)
    assert begun.payload.judged_since == begun.ts - 62 * S and begun.payload.poll_s == 15.0
    assert (worse.payload.late_s, worse.payload.late_rounds) == (95.0, 3)
    assert (ended.payload.late_s, ended.payload.late_rounds, ended.payload.caught_up) == (95.0, 3, True)
    assert ended.ts == worse.ts + SPELL_ENDS_AFTER * 15 * S
    plan_ = rig.engine.state.plan
    assert say(begun, plan_) == "the guard fell behind by 47s (poll every 15s): the round judged every sample since 14:00:15Z"
    assert say(worse, plan_).startswith("the guard fell behind by 1m35s (poll every 15s, 3 late rounds so far): ")
    assert say(ended, plan_) == "the guard caught up after 3 late rounds: the worst was 1m35s behind (poll every 15s)"
    assert rig.engine.state.behind is None


def test_a_round_hours_late_says_which_samples_it_could_not_judge(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock)
        await rig.start()
        await rig.monitor.poll()
        await jump(rig, 3 * timedelta(hours=1))
        return rig

    rig = run(go())
    (late,) = rig.records("round_late")
    assert late.payload.unjudged_s == 2 * 3600 and rig.engine.state.behind == late.payload
    assert say(late, rig.engine.state.plan) == (
        "the guard fell behind by 2h59m45s (poll every 15s): the round judged every sample since 16:00:00Z; "
        "samples from 14:00:00Z to 16:00:00Z were NOT judged (a round judges at most the last hour)")


def test_a_demo_round_late_on_its_accelerated_clock_says_the_wall_too():
    from cockpit.core import events as ev
    from cockpit.core.events import Actor, make_record

    late = ev.RoundLate(late_s=900.0, wall_late_s=1.5, poll_s=600.0, judged_since=T0, late_rounds=2, caught_up=True)
    record = make_record(seq=1, ts=T0, actor=Actor(user="a", host="b"), payload=late, prev="")
    assert say(record) == "the guard caught up after 2 late rounds: the worst was 15m00s behind, 1s on the wall (poll every 10m00s)"
    wall = make_record(seq=1, ts=T0, actor=Actor(user="a", host="b"), payload=ev.RoundLate(
        late_s=40.0, wall_late_s=40.2, poll_s=15.0, judged_since=T0), prev="")
    assert "on the wall" not in say(wall)  # the same clock: said once
    frozen = make_record(seq=1, ts=T0, actor=Actor(user="a", host="b"), payload=ev.RoundLate(
        late_s=40.0, wall_late_s=0.0, poll_s=15.0, judged_since=T0), prev="")
    assert "on the wall" not in say(frozen)  # a frozen test clock: no wall figure
    slow = make_record(seq=1, ts=T0, actor=Actor(user="a", host="b"), payload=ev.RoundLate(
        late_s=7200.0, wall_late_s=12.0, poll_s=600.0, judged_since=T0), prev="")
    assert ", 12s on the wall" in say(slow)


def test_an_observers_monitor_measures_but_journals_nothing(plan, state_dir, clock):
    from cockpit.engine import Engine
    from cockpit.monitor import Monitor
    from cockpit.store.journal import Journal

    async def go():
        rig = Rig(plan, state_dir, clock)
        await rig.start()
        follower = Engine(plan, Journal(state_dir, readonly=True), clock=clock, actor=rig.engine.actor)
        observer = Monitor(follower, rig.metrics, poll_s=15.0, step_s=30.0)
        await observer.poll()
        clock.advance(2 * MIN)
        await observer.poll()
        observer.close()
        return rig, observer

    rig, observer = run(go())
    assert rig.engine.journal.poll() == [] and rig.records("round_late") == []
    assert observer._late is not None and observer._late.worst.late_s == 105.0


def test_the_next_round_is_due_one_poll_interval_after_the_last_began(plan, state_dir, clock):
    async def go():
        rig = Rig(plan, state_dir, clock)
        assert rig.monitor.until_due() == 0.0  # no round yet: at once
        await rig.monitor.poll()
        due = [rig.monitor.until_due()]
        clock.advance(4 * S)  # a round that took 4 s
        due.append(rig.monitor.until_due())
        clock.advance(20 * S)
        due.append(rig.monitor.until_due())
        return due

    assert run(go()) == [15.0, 11.0, 0.0]


# --- the guard's loop -----------------------------------------------------------------------------


class SlowPrometheus:
    """Each round's queries take `seconds` of the engine's clock (a slow Prometheus, on a ManualClock)."""

    def __init__(self, inner, clock, seconds: float):
        self.inner, self.clock, self.seconds, self.rounds = inner, clock, seconds, set()

    def instant(self, query, at):
        return self.inner.instant(query, at)

    def range(self, query, start, end, step_s):
        if end not in self.rounds:  # every query of a round ends at the round's now
            self.rounds.add(end)
            self.clock.advance(self.seconds)
        return self.inner.range(query, start, end, step_s)


@pytest.mark.parametrize("slow_s,late", [(4.0, False), (40.0, True)])
def test_the_guard_runs_a_round_every_poll_interval_and_says_when_it_falls_behind(plan, state_dir, clock, slow_s, late):
    """A round that takes 4 s starts the next one 15 s after it began (not 19 s); rounds of 40 s
    are late, and the guard journals it once, not every round."""
    async def go():
        rig = Rig(plan, state_dir, clock, "tenant-breach")
        await rig.start()
        rig.monitor.metrics = SlowPrometheus(rig.metrics, clock, slow_s)
        guard = Guard(rig.engine, rig.monitor, state_dir, GuardId(user="g", host="bastion", pid=1, since=T0),
                      attended=lambda: True)
        starts = []
        rig.monitor.subscribe(lambda: starts.append(rig.monitor._last_round))
        await asyncio.wait_for(guard.run(wait=False), 30)
        return rig, starts

    rig, starts = run(go())
    gaps = {(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)}
    assert rig.engine.state.status == "rolled_back"
    if late:
        assert min(gaps) >= 40.0
        assert [r.payload.late_rounds for r in rig.records("round_late")] == [1]
    else:
        assert gaps == {15.0}
        assert rig.records("round_late") == []
