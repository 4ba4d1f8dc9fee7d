"""Whether a guard watches the rollout, as a face judges it: by what the face saw itself and by the
journal, never by the times or the speed guard.json claims (issue 20, DESIGN.md principle 8).

A face brings two facts of its own (a `GuardSight`): which pid holds the guard lock, by the
kernel's word, and how long ago guard.json last changed, by the face's own clocks. A published
round is the guard's only when that holder is the guard the round names and the guard the
journal's latest `guard_started` names; it is fresh within three of the guard's poll intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.core import words
from cockpit.core.evaluation import Evaluation
from cockpit.core.planview import PlanView
from cockpit.core.state import RolloutState

UNGUARDED_AFTER_ROUNDS = 3  # no round fresher than this many poll intervals: nobody is watching
DEFAULT_POLL_S = 15.0  # a plan without Prometheus: the monitor's own default


@dataclass(frozen=True)
class GuardSight:
    """What a face saw of the guard by its own means, never read from guard.json."""

    holder_pid: int | None = None  # the guard lock's holder as the kernel lists it; None: nobody holds it
    round_age_s: float | None = None  # wall seconds since guard.json last changed, by the face's clocks
    journal_only: bool = False  # a replay: no sight of its own, only what the journal says of the guard then


@dataclass(frozen=True)
class GuardJudgement:
    guarded: bool
    why: str = ""  # why the rollout is not guarded ("" when it is)
    age_s: float | None = None  # wall seconds since the round, as the face saw it
    stale: bool = False  # the guard's own round, too old


def plan_poll_s(plan: PlanView | None) -> float:
    """How often a guard's rounds run by the plan (the monitor's rule): the Prometheus poll interval."""
    prom = plan.prometheus if plan is not None else None
    return prom.poll_interval.total_seconds() if prom is not None else DEFAULT_POLL_S


def journaled_speed(state: RolloutState) -> float:
    """Rollout seconds per wall second by the journal: its latest guard's clock (a demo's), else 1."""
    started = state.guard or (state.guard_stop.started if state.guard_stop is not None else None)
    speed = started.speed if started is not None else 1.0
    return speed if math.isfinite(speed) and speed > 0 else 1.0


def round_every_s(plan: PlanView | None, state: RolloutState, live: Evaluation | None) -> float:
    """Wall seconds between the guard's rounds. On the wall's clock a guard polls at the plan's
    interval (it runs the journaled plan), so nothing is taken from guard.json; a demo's guard polls
    at its own interval of its accelerated clock (never faster than the plan's), from its round."""
    poll, speed = plan_poll_s(plan), journaled_speed(state)
    if speed == 1.0:
        return poll
    return max(poll, live.poll_s if live is not None else poll) / speed


def judge(plan: PlanView | None, state: RolloutState, live: Evaluation | None,
          sight: GuardSight | None) -> GuardJudgement:
    """Guarded, or why not, in the order an operator needs it: nobody holds the lock; no round yet;
    a round the holder did not publish; a holder the journal does not name; a round too old."""
    pid = sight.holder_pid if sight is not None else None
    age = sight.round_age_s if sight is not None and live is not None and live.at is not None else None
    if pid is None:
        return GuardJudgement(False, _nobody(state), age)
    if live is None or live.at is None:
        return GuardJudgement(False, "no guard has published a round")
    if live.guard is None or live.guard.pid != pid:
        return GuardJudgement(False, f"guard.json is not from the guard lock's holder (pid {pid})", age)
    journaled = state.guard
    if journaled is None or journaled.pid != pid or journaled.host != live.guard.host:
        named = f"{journaled.pid}@{journaled.host}" if journaled is not None else "none"
        return GuardJudgement(False, f"the guard lock's holder (pid {pid}) is not the journal's guard ({named})", age)
    if age is None or age > UNGUARDED_AFTER_ROUNDS * round_every_s(plan, state, live):
        return GuardJudgement(False, f"no guard round for {words.duration(age or 0)}", age, stale=True)
    return GuardJudgement(True, "", age)


def shown(plan: PlanView | None, state: RolloutState, live: Evaluation | None,
          sight: GuardSight | None) -> tuple[bool, str, int | None]:
    """What a face shows of the guard changes only when this does (the age only while it is shown):
    a screen's cue to repaint, so a stopped guard's screen stays still while the wall clock runs."""
    j = judge(plan, state, live, sight)
    return j.guarded, j.why, round(j.age_s) if (j.guarded or j.stale) and j.age_s is not None else None


def _nobody(state: RolloutState) -> str:
    stop = state.guard_stop  # (set only while no guard runs)
    if stop is not None:
        return f"guard {stop.started.pid}@{stop.started.host} stopped at {words.clock(stop.at)}: {stop.stopped.reason}"
    if state.guard is not None:
        return f"guard {state.guard.pid}@{state.guard.host} no longer holds the guard lock"
    return "no guard holds the guard lock"


def face_now(plan: PlanView | None, state: RolloutState, live: Evaluation | None, sight: GuardSight | None,
             wall_now: datetime) -> datetime:
    """The rollout's time as a face shows it: the face's own wall clock, unless the journal says the
    guard runs an accelerated clock (a demo). Then it is the guard's last round (a believed one)
    moved on by the journaled speed for the wall time since the face saw it change, stopping after
    three rounds' time; once that guard is gone, the last time the journal holds."""
    speed = journaled_speed(state)
    if speed == 1.0:
        return wall_now
    verdict = judge(plan, state, live, sight)
    if verdict.guarded or verdict.stale:
        assert live is not None and live.at is not None  # judged the guard's own round
        limit = UNGUARDED_AFTER_ROUNDS * round_every_s(plan, state, live)
        return live.at + timedelta(seconds=min(verdict.age_s or 0.0, limit) * speed)
    return state.recent[-1].ts if state.recent else wall_now
