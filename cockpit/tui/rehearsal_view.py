"""A rehearsal on the screen: one lane per trigger over the rehearsed span (ok, breaching, fired,
no data), from the command palette (asking for the span) or from `cockpit rehearse --screen`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from cockpit.core import words

# A cell shows the worst state of its slice of time: a fire is never hidden by the ok around it.
RANK = {"ok": 0, "no_data": 1, "breaching": 2, "fired": 3}
GLYPH = {"ok": "─", "no_data": "░", "breaching": "▄", "fired": "█", None: " "}
ROLE = {"ok": "pass", "no_data": "stale", "breaching": "breach", "fired": "kill", None: "muted"}
LEGEND = "─ ok   ▄ breaching   █ fired   ░ no data"
LABEL_W = 22


@dataclass(frozen=True)
class Lane:
    """One trigger over the span: the state of each cell, and what it adds up to."""

    id: str
    cells: tuple[str | None, ...]
    said: str  # "fired 2 times, first 2024-05-08 12:08:15Z" / "never fired"


def cells(timeline: Sequence[Sequence], start: float, end: float, width: int) -> tuple[str | None, ...]:
    """The worst state in each of `width` equal slices of [start, end] (None: no round in it)."""
    out: list[str | None] = [None] * width
    span = max(end - start, 1e-9)
    for first, last, state in timeline:
        a = min(width - 1, max(0, int((first - start) / span * width)))
        b = min(width - 1, max(0, int((last - start) / span * width)))
        for i in range(a, b + 1):
            if out[i] is None or RANK[state] > RANK[out[i]]:  # type: ignore[index]
                out[i] = state
    return tuple(out)


def lanes(rehearsal, width: int) -> tuple[tuple[float, float] | None, list[Lane]]:
    """The span and a lane per trigger: the quiet span's when there is one, else the rollout's."""
    if rehearsal.quiet is not None:
        span, runs = rehearsal.quiet, rehearsal.quiet_triggers
    elif rehearsal.at is not None:
        span = (rehearsal.at, rehearsal.phases[-1].end if rehearsal.phases else rehearsal.at)
        runs = rehearsal.triggers
    else:
        return None, []
    out = []
    for tid, run in runs.items():
        said = (f"fired {words.plural(len(run.fires), 'time')}, first {_stamp(run.fires[0])}" if run.fires
                else "never fired")
        out.append(Lane(tid, cells(run.timeline, span[0], span[1], width), said))
    return span, out


def _stamp(ts: float) -> str:
    return words.stamp(datetime.fromtimestamp(ts, UTC))


def drawing(rehearsal, width: int, style: Callable[[str], str]) -> Text:
    """The lanes as text for a screen `width` cells wide: label, lane, and under each what it adds up to."""
    lane_w = max(10, width - LABEL_W - 1)
    span, found = lanes(rehearsal, lane_w)
    out = Text()
    if span is None:
        return Text("nothing rehearsed")
    what = "quiet span" if rehearsal.quiet is not None else "rollout"
    out.append(f"{what} {_stamp(span[0])} to {_stamp(span[1])}, a round every "
               f"{words.duration(rehearsal.timing.poll_s)}, step {words.duration(rehearsal.timing.step_s)}\n\n")
    for lane in found:
        out.append(f"{lane.id[:LABEL_W - 1]:<{LABEL_W}}")
        for state in lane.cells:
            out.append(GLYPH[state], style(ROLE[state]))
        out.append("\n")
        out.append(" " * LABEL_W)
        out.append(lane.said + "\n", style("kill") if lane.said != "never fired" else style("muted"))
    said = words.stamp if span[1] - span[0] > 86400 else words.clock  # a span of days: its dates
    left, right = said(datetime.fromtimestamp(span[0], UTC)), said(datetime.fromtimestamp(span[1], UTC))
    out.append(" " * LABEL_W)  # a span of its own: the screen keeps a line's leading blanks only so
    out.append(left + right.rjust(max(lane_w - len(left), len(right) + 1)) + "\n", style("muted"))
    out.append(f"\n{LEGEND}\n")
    for why in rehearsal.not_rehearsed:
        out.append(f"not rehearsed: {why}\n", style("muted"))
    return out


class RehearsalScreen(ModalScreen):
    """Modal and read-only: Escape goes back to the cockpit."""

    DEFAULT_CSS = """
    RehearsalScreen { align: center middle; }
    RehearsalScreen #rehearsal-box { width: 100%; height: 100%; background: $surface; }
    RehearsalScreen #rehearsal-lanes { height: 1fr; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "back", "Back", id="rehearsal.back"),
                Binding("q", "back", "Back", show=False, id="rehearsal.q")]

    def __init__(self, rehearsal, style: Callable[[str], str]):
        """`style(role)` maps a role (pass, breach, stale, kill, muted) to the theme's style."""
        super().__init__()
        self.rehearsal, self.style = rehearsal, style

    def compose(self) -> ComposeResult:
        with Vertical(id="rehearsal-box"):
            yield Label("Rehearsal: the plan's triggers over history, as the guard would have judged them · "
                        "Escape back", id="rehearsal-title")
            yield Static(id="rehearsal-lanes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        lanes_box = self.query_one("#rehearsal-lanes", Static)
        width = lanes_box.content_region.width or self.app.size.width - 2
        lanes_box.update(drawing(self.rehearsal, width, self.style))

    def action_back(self) -> None:
        self.dismiss(None)


class AskSpan(ModalScreen[float | None]):
    """The palette's rehearsal asks how many days back to rehearse (the quiet span ends now)."""

    DEFAULT_CSS = """
    AskSpan { align: center middle; }
    AskSpan #ask-box { width: 64; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="rehearsal.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box"):
            yield Label("Rehearse the triggers over the last N days (a span known healthy):")
            yield Input(value="7", placeholder="days, e.g. 7 or 0.5", id="ask-days")
            yield Label("", id="ask-error")

    def on_mount(self) -> None:
        self.query_one("#ask-days", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            days = float(event.value)
        except ValueError:
            days = 0.0
        if not 0 < days <= 30:
            self.query_one("#ask-error", Label).update(f"{event.value!r}: give a number of days, over 0, at most 30")
            return
        self.dismiss(days)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RehearsalApp(App):
    """`cockpit rehearse --screen`: the rehearsal view alone, q or Escape to leave."""
    ROLE_STYLE = {"pass": "green", "breach": "yellow", "stale": "magenta", "kill": "bold red", "muted": "dim"}

    def __init__(self, rehearsal):
        super().__init__()
        self.rehearsal = rehearsal

    def on_mount(self) -> None:
        self.push_screen(RehearsalScreen(self.rehearsal, lambda role: self.ROLE_STYLE.get(role, "")),
                         lambda _: self.exit())


def show(app, rehearse: Callable[[], object], style: Callable[[str], str]) -> None:
    """In a worker thread: rehearse, then show the lanes (or say why not) on the app's thread."""
    from cockpit.rehearsal import RehearsalError

    app.call_from_thread(app.notify, "fetching history and judging every round", title="Rehearsing")
    try:
        got = rehearse()
    except RehearsalError as e:
        app.call_from_thread(app.notify, str(e), title="Rehearsal", severity="error")
        return
    app.call_from_thread(app.push_screen, RehearsalScreen(got, style))
