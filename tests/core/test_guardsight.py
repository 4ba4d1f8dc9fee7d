"""A face's judgement of the guard (core.guardsight), table-driven: the poll it expects, the speed it
takes from the journal, the rollout time it shows, and its cue to repaint. Why a live rollout is
UNGUARDED is pinned reason by reason in test_readmodel_rows.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace as NS

import msgspec
import pytest

from cockpit.core import events as ev
from cockpit.core.evaluation import Evaluation
from cockpit.core.guardsight import (
    DEFAULT_POLL_S,
    GuardSight,
    face_now,
    journaled_speed,
    plan_poll_s,
    round_every_s,
    shown,
)
from cockpit.core.state import RolloutState
from tests.conftest import T0
from tests.core.test_readmodel import GUARD, live, round_at, state_of

SEC = timedelta(seconds=1)
WALL = T0 + timedelta(days=3)  # the face's own clock: far from any time the journal or the file holds
DEMO = ev.GuardStarted(pid=GUARD.pid, host=GUARD.host, reason="demo", speed=60.0)
STOP = ev.GuardStopped(pid=GUARD.pid, host=GUARD.host, reason="the demo ended")


@pytest.mark.parametrize(
    "plan, poll",
    [
        (NS(prometheus=NS(poll_interval=timedelta(seconds=2))), 2.0),
        (NS(prometheus=None), DEFAULT_POLL_S),
        (None, DEFAULT_POLL_S),
    ],
)
def test_the_plans_poll_interval(plan, poll):
    assert plan_poll_s(plan) == poll


def test_the_seed_plan_polls_every_15s(plan):
    assert plan_poll_s(plan) == 15.0


@pytest.mark.parametrize(
    "guard, stop, speed",
    [
        (None, None, 1.0),
        (ev.GuardStarted(pid=1, host="b"), None, 1.0),
        (DEMO, None, 60.0),
        (msgspec.structs.replace(DEMO, speed=0.5), None, 0.5),  # a clock slower than the wall's is the journal's too
        (msgspec.structs.replace(DEMO, speed=0.0), None, 1.0),
        (msgspec.structs.replace(DEMO, speed=-5.0), None, 1.0),
        (msgspec.structs.replace(DEMO, speed=float("inf")), None, 1.0),
        (msgspec.structs.replace(DEMO, speed=float("nan")), None, 1.0),
        (None, "stopped", 60.0),  # a demo's guard that stopped still names its clock
    ],
)
def test_the_speed_is_the_journals(guard, stop, speed):
    from cockpit.core.state import GuardStop

    state = RolloutState(guard=guard, guard_stop=GuardStop(DEMO, STOP, T0) if stop else None)
    assert journaled_speed(state) == speed


@pytest.mark.parametrize(
    "guarded_by, poll_s, every",
    [
        ("wall", 1e9, 15.0),  # a round claiming a huge poll is not believed: the plan's 15 s
        ("wall", 5.0, 15.0),
        ("demo", 60.0, 1.0),  # max(15, 60) s of a 60x clock: a round a wall second
        ("demo", 5.0, 0.25),  # never faster than the plan's
        ("demo", None, 0.25),
    ],
)
def test_the_wall_seconds_between_rounds(plan, guarded_by, poll_s, every):
    state = state_of(plan, *live(plan), *([DEMO] if guarded_by == "demo" else []))
    evaluation = None if poll_s is None else replace(round_at(T0), poll_s=poll_s)
    assert round_every_s(plan, state, evaluation) == every


# --- the time a face shows ----------------------------------------------------------------------------------


def test_on_the_walls_clock_a_face_shows_its_own_time_whatever_the_file_says(plan):
    state = state_of(plan, *live(plan))
    claimed = round_at(T0 + timedelta(days=365))  # a round from the future, or the past: not read
    assert face_now(plan, state, claimed, GuardSight(GUARD.pid, 0.0), WALL) == WALL
    assert face_now(plan, state, None, None, WALL) == WALL
    assert face_now(plan, RolloutState(), None, None, WALL) == WALL


@pytest.mark.parametrize(
    "case, sight, shown_at",
    [
        ("just published", GuardSight(GUARD.pid, 0.0), T0),
        ("half a wall second ago: 30 s of rollout", GuardSight(GUARD.pid, 0.5), T0 + 30 * SEC),
        ("three rounds' time: 3 minutes", GuardSight(GUARD.pid, 3.0), T0 + 180 * SEC),
        ("longer: stopped at three rounds", GuardSight(GUARD.pid, 60.0), T0 + 180 * SEC),
        ("stale and unseen: the round's own time", GuardSight(GUARD.pid, None), T0),
    ],
)
def test_a_demo_observer_follows_the_guards_accelerated_clock(plan, case, sight, shown_at):
    """A demo journals its guard's speed (60x); a face moves the believed round on by it."""
    state = state_of(plan, *live(plan), DEMO)
    evaluation = replace(round_at(T0), poll_s=60.0)
    assert face_now(plan, state, evaluation, sight, WALL) == shown_at


def test_a_demo_whose_guard_is_gone_or_forged_shows_the_journals_last_time(plan):
    state = state_of(plan, *live(plan), DEMO)
    last = state.recent[-1].ts
    evaluation = replace(round_at(T0 + timedelta(hours=5)), poll_s=60.0)
    assert face_now(plan, state, evaluation, GuardSight(None, 0.0), WALL) == last  # nobody holds the lock
    assert face_now(plan, state, evaluation, GuardSight(5151, 0.0), WALL) == last  # a file not from the holder
    stopped = state_of(plan, *live(plan), DEMO, STOP)
    assert face_now(plan, stopped, evaluation, GuardSight(None, 0.0), WALL) == stopped.guard_stop.at
    assert face_now(plan, RolloutState(guard=DEMO), None, GuardSight(), WALL) == WALL  # nothing journaled to show


# --- the cue to repaint ---------------------------------------------------------------------------------------


def test_what_a_face_shows_of_the_guard(plan):
    """The age is part of it only while it is shown (guarded, or a round too old): a stopped guard's
    screen stays still while the wall clock runs."""
    state = state_of(plan, *live(plan))
    assert shown(plan, state, round_at(T0), GuardSight(GUARD.pid, 3.4)) == (True, "", 3)
    assert shown(plan, state, round_at(T0), GuardSight(GUARD.pid, 46.0)) == (False, "no guard round for 46s", 46)
    assert shown(plan, state, round_at(T0), GuardSight(GUARD.pid, None)) == (False, "no guard round for 0s", None)
    gone = shown(plan, state, round_at(T0), GuardSight(None, 46.0))
    assert gone == shown(plan, state, round_at(T0), GuardSight(None, 4600.0))
    assert gone == (False, "guard 4242@bastion no longer holds the guard lock", None)
    assert shown(plan, state, Evaluation(), GuardSight(GUARD.pid, None)) == (False, "no guard has published a round", None)
