"""`cockpit replay`: a past rollout in the cockpit's own screen, read-only, with a time cursor.

The screen is `CockpitApp` over a `Replay` (cockpit/replaying.py): a follower engine whose state
is the fold of the journal up to the cursor, on a clock standing at that event's time, and the
guard's view as the journal holds it. Keys step event by event, jump, and play at a speed; the
scrubber shows where the cursor is and takes a click. A journal whose hash chain does not verify
is refused, naming where it breaks.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import cast

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from cockpit.core import words
from cockpit.replaying import Replay, ReplayError, load
from cockpit.tui.app import CockpitApp

__all__ = ["ReplayApp", "ReplayError", "replay_app"]

JUMP = 10  # events per PageUp/PageDown
SPEEDS = (1.0, 10.0, 60.0, 300.0, 1200.0)
PLAY_TICK_S = 0.1


class Scrubber(Static):
    """Where the cursor is in the journal; a click jumps there."""

    DEFAULT_CSS = "Scrubber { height: 2; padding: 0 1; }"

    def on_click(self, event) -> None:
        app = cast("ReplayApp", self.app)  # the scrubber is ReplayApp's own
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
    FOCUS_PANE = False  # the arrows, PgUp/PgDn, Home/End move the cursor until Tab focuses a pane
    MARKS = ("phase_started", "gate_decided", "trigger_fired", "kill_requested", "kill_result", "rollout_completed")

    def __init__(self, replay: Replay, *, speed: float = 60.0, theme: str | None = None, cursor: int | None = None):
        self.replay = replay
        self.records, self.times = replay.records, replay.times
        self.speed = speed
        self.playing = False
        self._play_at: float | None = None
        self.cursor = 0
        super().__init__(replay.engine, replay.feed, who="replay (read-only)", theme=theme, watch=False)
        self._start_at = cursor if cursor is not None else len(self.records)

    def compose(self):
        yield from super().compose()
        yield Scrubber(id="scrubber")

    def on_mount(self) -> None:
        super().on_mount()
        self.goto(self._start_at)
        self.set_interval(PLAY_TICK_S, self._play_tick)

    # -- the cursor ------------------------------------------------------------------------------

    def goto(self, n: int) -> None:
        """Show the rollout as it was just after event n (1-based; clamped)."""
        n = max(1, min(len(self.records), n))
        self.cursor = n
        record = self.replay.goto(n)
        self.banner = (f"REPLAY · event {n}/{len(self.records)} · {words.stamp(record.ts)} · "
                       f"{'▶ ' if self.playing else ''}{self.speed:g}x")
        self.refresh_view()
        self._draw_scrubber()

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
        caption = Text(f" {self.cursor}/{total} {words.clock(record.ts)} {self.replay.said(self.cursor)}")
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


def replay_app(state_dir: Path, *, speed: float = 60.0, theme: str | None = None,
               cursor: int | None = None, store=None) -> ReplayApp:
    records, plan = load(state_dir, store)
    return ReplayApp(Replay(records, plan, Path(state_dir)), speed=speed, theme=theme, cursor=cursor)
