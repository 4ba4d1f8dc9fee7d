"""A past rollout at a cursor: the journal read and its hash chain verified, the state folded up to
an event, on a clock standing at that event's time, and the guard's view as far as the journal holds
it. `cockpit replay`'s screen (tui/replay.py) lays out what this holds and moves its cursor.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cockpit.clock import ManualClock
from cockpit.core import events as ev
from cockpit.core.evaluation import CriterionView, Evaluation, GuardId
from cockpit.core.guardsight import GuardSight
from cockpit.core.state import RolloutState, fold


class ReplayError(Exception):
    pass


def load(state_dir: Path, store=None) -> tuple[list[ev.Record], object]:
    """The journal's records and its plan, or ReplayError saying where the chain breaks. `store`:
    the plan's (default: the file store in `state_dir`)."""
    from cockpit.config import ConfigError, parse_journaled_plan
    from cockpit.store import FileStore
    from cockpit.store.chain import JournalError
    from cockpit.store.verify import JOURNAL

    state_dir = Path(state_dir)
    store = store or FileStore(state_dir)
    where = getattr(store, "where", state_dir)
    journal = getattr(store, "where", state_dir / JOURNAL)
    try:
        if not store.started():
            raise ReplayError(f"{where}: no journal to replay")
        scan = store.verify()
    except JournalError as e:
        raise ReplayError(str(e)) from None
    if scan.problem:
        raise ReplayError(f"{journal}: the hash chain does not verify: {scan.problem} "
                          f"(the first {len(scan.records)} events are intact); "
                          "not replaying a journal that may have been altered")
    if not scan.records:
        raise ReplayError(f"{journal}: empty")
    loaded = fold(scan.records).plan
    if loaded is None or not loaded.document:
        raise ReplayError(f"{journal}: the journal carries no plan document")
    try:
        plan = parse_journaled_plan(dict(loaded.document))
    except ConfigError as e:
        raise ReplayError(f"the journaled plan does not load here: {'; '.join(e.errors)}") from None
    return scan.records, plan


class JournalFeed:
    """The guard's view at the cursor, as far as the journal holds it: the current gate's criteria
    and the guard that held the lock (trigger gauges were never journaled, so none are shown)."""

    evaluation: Evaluation | None  # None before the first set

    def set(self, state: RolloutState, now: datetime) -> None:
        guard = None
        if state.guard is not None:
            g = state.guard
            guard = GuardId(user="guard", host=g.host, pid=g.pid, since=state.guard_since or now)
        gate = state.gates.get(state.phase) if state.phase is not None else None
        criteria = {k: CriterionView(c.passed, c.value, c.detail) for k, c in (gate.criteria.items() if gate else ())}
        soak = (state.phase, state.phase_started_at) if state.phase is not None and state.phase_started_at else None
        self.evaluation = Evaluation(at=now if guard is not None else None, guard=guard, criteria=criteria, soak=soak,
                                     tracks=self._tracks(state, now), poll_s=1e9)  # no round goes stale in a replay
        # The journal's guard held the lock then: said as journaled (started when), never a round's age.
        self.seen = GuardSight(guard.pid, None, journal_only=True) if guard is not None else GuardSight()

    def __init__(self, plan=None):
        self.plan = plan
        self.evaluation = None
        self.seen = GuardSight()

    def _tracks(self, state: RolloutState, now: datetime) -> dict:
        """Gauges as journaled: a trigger breaching or fired at the cursor, with its journaled value."""
        from cockpit.core.triggers import TriggerTrack, WindowVerdict

        tracks = {}
        for spec in (self.plan.triggers if self.plan else ()):
            t = state.triggers.get(spec.id)
            if t is None or t.breaching_since is None or t.no_data:  # not breaching
                continue
            verdict = WindowVerdict(
                state="fired" if t.fired is not None else "breaching",
                value=t.value, threshold=t.threshold if t.threshold is not None else (spec.threshold or 0.0),
                comparison=spec.comparison, breaching_for_s=(now - t.breaching_since).total_seconds(),
                needed_s=spec.for_.total_seconds(), coverage=1.0, at=now.timestamp(), why=t.detail,
            )
            tracks[spec.id] = TriggerTrack(verdict=verdict, last_good_at=now.timestamp())
        return tracks

    def latest(self) -> Evaluation | None:
        return self.evaluation

    def sight(self) -> GuardSight:
        return self.seen


class Replay:
    """The journal's records, a follower engine whose state is the fold up to the cursor, its
    clock standing at that event's time, and the guard's view there (`feed`)."""

    def __init__(self, records: list[ev.Record], plan, state_dir: Path):
        from cockpit.session import follower_engine

        self.records = records
        self.times = [r.ts.timestamp() for r in records]
        self.clock = ManualClock(records[0].ts)
        self.engine = follower_engine(plan, state_dir, ev.Actor(user="replay", host="journal", role="observer"),
                                      clock=self.clock)
        self.feed = JournalFeed(plan)

    def state_at(self, n: int) -> RolloutState:
        return fold(self.records[:n])

    def goto(self, n: int) -> ev.Record:
        """The rollout as it was just after event n (1-based, in range): its record."""
        record = self.records[n - 1]
        delta = record.ts - self.clock.now()
        if delta:
            self.clock.advance(delta)
        self.engine.state = self.state_at(n)
        self.feed.set(self.engine.state, record.ts)
        return record

    def said(self, n: int) -> str:
        """Event n in the operator's words."""
        from cockpit.narrate import say

        return say(self.records[n - 1], self.engine.state.plan)

