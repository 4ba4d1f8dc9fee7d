"""A face's judgement of the guard (core.guardsight) on a plan that does not poll every 15 s (the
monitor's default, which hid which plan a judgement read), on a demo's accelerated clock, and the
age a face saw of a round it does not believe (`cockpit status` says it as last_round_s)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core import readmodel as rm
from cockpit.core.guardsight import GuardJudgement, GuardSight, face_now, judge, round_every_s, shown
from tests.conftest import T0
from tests.core.test_readmodel import GUARD, live, round_at, state_of

WALL = T0 + timedelta(days=3)  # the face's own clock
DEMO = ev.GuardStarted(pid=GUARD.pid, host=GUARD.host, reason="demo", speed=60.0)
OTHER = dataclasses.replace(GUARD, pid=5151)


def _polling_every(plan, seconds):
    """The plan with its Prometheus polled every `seconds` (the guard's rounds run at that pace)."""
    prom = plan.prometheus.model_copy(update={"poll_interval": timedelta(seconds=seconds)})
    return plan.model_copy(update={"prometheus": prom})


def test_the_seconds_between_rounds_are_the_plans_not_the_monitors_default(plan):
    slow = _polling_every(plan, 30)
    wall = state_of(slow, *live(slow))
    assert round_every_s(slow, wall, round_at(T0)) == 30.0  # not the default 15 s
    demo = state_of(slow, *live(slow), DEMO)
    assert round_every_s(slow, demo, replace(round_at(T0), poll_s=20.0)) == 0.5  # max(30, 20) s of a 60x clock


@pytest.mark.parametrize(
    "age, guarded, why",
    [
        (60.0, True, ""),  # two of the plan's 30 s rounds: guarded (twice the default's 15 s would not be)
        (90.0, True, ""),  # exactly three rounds
        (90.5, False, "no guard round for 1m30s"),
    ],
)
def test_a_round_is_fresh_for_three_of_the_plans_own_poll_intervals(plan, age, guarded, why):
    slow = _polling_every(plan, 30)
    state = state_of(slow, *live(slow))
    assert judge(slow, state, round_at(T0), GuardSight(GUARD.pid, age)) == GuardJudgement(guarded, why, age, not guarded)
    assert shown(slow, state, round_at(T0), GuardSight(GUARD.pid, age)) == (guarded, why, round(age))


@pytest.mark.parametrize(
    "age, guarded, why",
    [
        (2.0, True, ""),  # the guard polls every 60 s of its 60x clock: a round a wall second, fresh for 3
        (3.0, True, ""),
        (3.5, False, "no guard round for 3s"),
    ],
)
def test_a_demo_guards_round_is_fresh_for_three_of_its_own_rounds(plan, age, guarded, why):
    """Its round says it polls every 60 s of its clock (slower than the plan's 15 s): three wall seconds,
    not the 0.75 s three of the plan's polls would take on that clock."""
    state = state_of(plan, *live(plan), DEMO)
    evaluation = replace(round_at(T0), poll_s=60.0)
    assert shown(plan, state, evaluation, GuardSight(GUARD.pid, age)) == (guarded, why, round(age))


@pytest.mark.parametrize(
    "case, age, shown_at",
    [
        ("1.2 wall seconds: 72 s of rollout", 1.2, T0 + timedelta(seconds=72)),
        ("three rounds' time (1.5 wall seconds): 90 s", 1.5, T0 + timedelta(seconds=90)),
        ("longer: stopped at three rounds", 5.0, T0 + timedelta(seconds=90)),
    ],
)
def test_a_demo_face_moves_on_at_most_three_rounds_of_the_plans_pace(plan, case, age, shown_at):
    """A plan polling every 30 s, a 60x demo clock: a round every half wall second (max(30, 20) / 60),
    so the shown time stops 1.5 wall seconds (90 s of rollout) after the round."""
    slow = _polling_every(plan, 30)
    state = state_of(slow, *live(slow), DEMO)
    evaluation = replace(round_at(T0), poll_s=20.0)
    assert face_now(slow, state, evaluation, GuardSight(GUARD.pid, age), WALL) == shown_at


@pytest.mark.parametrize(
    "case, more, sight, why",
    [
        ("guard.json not from the lock's holder", (), GuardSight(OTHER.pid, 46.0),
         "guard.json is not from the guard lock's holder (pid 5151)"),
        ("the holder is not the journal's guard", (ev.GuardStarted(pid=OTHER.pid, host="bastion"),),
         GuardSight(GUARD.pid, 46.0), "the guard lock's holder (pid 4242) is not the journal's guard (5151@bastion)"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_round_not_believed_keeps_the_age_the_face_saw(plan, case, more, sight, why):
    """Not guarded, but how long ago guard.json changed is still what the face saw: `cockpit status`
    reports it (last_round_s), so a forged or foreign round is not read as one never written."""
    state = state_of(plan, *live(plan), *more)
    assert judge(plan, state, round_at(T0), sight) == GuardJudgement(False, why, 46.0)
    health = rm.guard_health(plan, state, round_at(T0), sight)
    assert (health.guarded, health.why, health.age_s) == (False, why, 46.0)
