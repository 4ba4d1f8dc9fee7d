"""`cockpit replay`: a past rollout in the cockpit's own screen, read-only, with a time cursor.

The screen is `CockpitApp` on a follower engine whose state is the fold of the journal up to the
cursor, on a clock standing at that event's time; the guard's view is rebuilt from what the
journal holds (criteria, the guard that held the lock). Keys step event by event, jump, and play
at a speed; the scrubber shows where the cursor is and takes a click. A journal whose hash chain
does not verify is refused, naming where it breaks.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from cockpit.clock import ManualClock
from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.evaluation import CriterionView, Evaluation, GuardId
from cockpit.core.guardsight import GuardSight
from cockpit.core.state import RolloutState, fold
from cockpit.tui.app import CockpitApp

JUMP = 10  # events per PageUp/PageDown
SPEEDS = (1.0, 10.0, 60.0, 300.0, 1200.0)
PLAY_TICK_S = 0.1


class ReplayError(Exception):
    pass


def load(state_dir: Path) -> tuple[list[ev.Record], object]:
    """The journal's records and its plan, or ReplayError saying where the chain breaks."""
    from cockpit.config import ConfigError, parse_journaled_plan
    from cockpit.journal import JOURNAL, JournalError, verify

    state_dir = Path(state_dir)
    if not (state_dir / JOURNAL).exists():
        raise ReplayError(f"{state_dir}: no journal to replay")
    try:
        scan = verify(state_dir)
    except JournalError as e:
        raise ReplayError(str(e)) from None
    if scan.problem:
        raise ReplayError(f"{state_dir / JOURNAL}: the hash chain does not verify: {scan.problem} "
                          f"(the first {len(scan.records)} events are intact); not replaying a journal that may have been altered")
    if not scan.records:
        raise ReplayError(f"{state_dir / JOURNAL}: empty")
    loaded = fold(scan.records).plan
    if loaded is None or not loaded.document:
        raise ReplayError(f"{state_dir / JOURNAL}: the journal carries no plan document")
    try:
        plan = parse_journaled_plan(dict(loaded.document))
    except ConfigError as e:
        raise ReplayError(f"the journaled plan does not load here: {'; '.join(e.errors)}") from None
    return scan.records, plan


class JournalFeed:
    """The guard's view at the cursor, as far as the journal holds it: the current gate's criteria
    and the guard that held the lock (trigger gauges were never journaled, so none are shown)."""

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
        # The journal's guard held the lock then, its round as fresh as the cursor.
        self.seen = GuardSight(guard.pid, 0.0) if guard is not None else GuardSight()

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
            if t is None or not t.breaching or t.no_data:
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


class Scrubber(Static):
    """Where the cursor is in the journal; a click jumps there."""

    DEFAULT_CSS = "Scrubber { height: 2; padding: 0 1; }"

    def on_click(self, event) -> None:
        app = self.app
        width = max(1, self.content_region.width - 2)
        x = min(max(0, event.x - 1), width - 1)
        app.goto(round(x / max(1, width - 1) * (len(app.records) - 1)) + 1)


class ReplayApp(CockpitApp):
    """The cockpit's screen over a journal up to event `cursor` (1-based)."""

    BINDINGS = [
        *CockpitApp.BINDINGS,
        Binding("right,l", "step(1)", "Next", id="replay.next"),
        Binding("left,h", "step(-1)", "Prev", id="replay.prev"),
        Binding("pagedown,L", f"step({JUMP})", f"+{JUMP}", show=False, id="replay.jump_forward"),
        Binding("pageup,H", f"step(-{JUMP})", f"-{JUMP}", show=False, id="replay.jump_back"),
        Binding("home", "goto(1)", "Start", show=False, id="replay.start"),
        Binding("end", "goto(-1)", "End", show=False, id="replay.end"),
        Binding("space", "play", "Play/Pause", id="replay.play"),
        Binding("plus,equals_sign", "speed(1)", "Faster", show=False, id="replay.faster"),
        Binding("minus", "speed(-1)", "Slower", show=False, id="replay.slower"),
        Binding("N", "next_kind", "Next decision/fire", show=False, id="replay.next_mark"),
    ]
    MARKS = ("phase_started", "gate_decided", "trigger_fired", "kill_requested", "kill_result", "rollout_completed")

    def __init__(self, records: list[ev.Record], plan, *, state_dir: Path, speed: float = 60.0, theme: str | None = None,
                 cursor: int | None = None):
        from cockpit.session import follower_engine

        self.records = records
        self.times = [r.ts.timestamp() for r in records]
        self.clock = ManualClock(records[0].ts)
        engine = follower_engine(plan, state_dir, ev.Actor(user="replay", host="journal", role="observer"), clock=self.clock)
        self.replay_feed = JournalFeed(plan)
        self.speed = speed
        self.playing = False
        self._play_at: float | None = None
        self.cursor = 0
        super().__init__(engine, self.replay_feed, who="replay (read-only)", theme=theme, watch=False)
        self._start_at = cursor if cursor is not None else len(records)

    def compose(self):
        yield from super().compose()
        yield Scrubber(id="scrubber")

    def on_mount(self) -> None:
        super().on_mount()
        self.goto(self._start_at)
        self.set_interval(PLAY_TICK_S, self._play_tick)

    # -- the cursor ------------------------------------------------------------------------------

    def state_at(self, n: int) -> RolloutState:
        return fold(self.records[:n])

    def goto(self, n: int) -> None:
        """Show the rollout as it was just after event n (1-based; clamped)."""
        n = max(1, min(len(self.records), n))
        self.cursor = n
        record = self.records[n - 1]
        self._set_clock(record.ts)
        self.engine.state = self.state_at(n)
        self.replay_feed.set(self.engine.state, record.ts)
        self.banner = f"REPLAY · event {n}/{len(self.records)} · {words.stamp(record.ts)} · {'▶ ' if self.playing else ''}{self.speed:g}x"
        self.refresh_view()
        self._draw_scrubber()

    def _set_clock(self, at: datetime) -> None:
        delta = at - self.clock.now()
        if delta:
            self.clock.advance(delta)

    def _draw_scrubber(self) -> None:
        try:
            bar = self.query_one("#scrubber", Scrubber)
        except Exception:  # noqa: BLE001 - not mounted yet
            return
        width = max(10, (bar.content_region.width or self.size.width - 2) - 2)  # inside the brackets
        total = len(self.records)
        pos = 0 if total <= 1 else round((self.cursor - 1) / (total - 1) * (width - 1))
        marks = set()
        for i, r in enumerate(self.records):
            if r.kind in ("trigger_fired", "kill_requested", "rollout_completed"):
                marks.add(0 if total <= 1 else round(i / (total - 1) * (width - 1)))
        line = Text("[")
        for x in range(width):
            if x == pos:
                line.append("●", "bold reverse")
            elif x in marks:
                line.append("▲", "bold red")
            else:
                line.append("━" if x < pos else "─", "" if x < pos else "dim")
        line.append("]")
        record = self.records[self.cursor - 1]
        from cockpit.narrate import say

        caption = Text(f" {self.cursor}/{total} {words.clock(record.ts)} {say(record, self.engine.state.plan)}")
        caption.no_wrap, caption.overflow = True, "ellipsis"
        bar.update(Text.assemble(line, "\n", caption, no_wrap=True, overflow="ellipsis"))

    def on_resize(self, event) -> None:
        super().on_resize(event)
        if self.cursor:
            self.call_after_refresh(self._draw_scrubber)

    # -- keys ------------------------------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        self.playing = False
        self.goto(self.cursor + delta)

    def action_goto(self, n: int) -> None:
        self.playing = False
        self.goto(len(self.records) if n < 0 else n)

    def action_next_kind(self) -> None:
        for i in range(self.cursor, len(self.records)):
            if self.records[i].kind in self.MARKS:
                self.goto(i + 1)
                return

    def action_play(self) -> None:
        if self.cursor >= len(self.records):
            self.cursor = 1
        self.playing = not self.playing
        self._play_at = self.times[self.cursor - 1]
        self.goto(self.cursor)

    def action_speed(self, direction: int) -> None:
        i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + direction))]
        self.goto(self.cursor)

    def _play_tick(self) -> None:
        """While playing, rollout time moves at `speed`; the cursor follows the events it passes."""
        if not self.playing or self._play_at is None:
            return
        self._play_at += PLAY_TICK_S * self.speed
        n = bisect.bisect_right(self.times, self._play_at)
        if n >= len(self.records):
            self.playing = False
            n = len(self.records)
        if n != self.cursor or not self.playing:
            self.goto(max(n, 1))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return super().check_action(action, parameters)  # the follower engine: no mutating action


def replay_app(state_dir: Path, *, speed: float = 60.0, theme: str | None = None, cursor: int | None = None) -> ReplayApp:
    records, plan = load(state_dir)
    return ReplayApp(records, plan, state_dir=Path(state_dir), speed=speed, theme=theme, cursor=cursor)
