"""The Analysis view: the judge's latest judgment of each phase, metric by metric — canary
against baseline, the shift and its interval drawn against the tolerance band, the effect, the
class and why — so a captain sees why a gate passed, waits or failed. Read-only (observers too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from cockpit.core.judgeview import shift_bar

if TYPE_CHECKING:
    from cockpit.core.judgeview import JudgmentView, MetricRow

LEGEND = "░ tolerance band  ━ interval  ● shift  │ zero"
MARK = {"ok": "✓", "breach": "✗", "warn": "▲", "muted": "·"}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def metric_lines(row: MetricRow, width: int, style) -> list[Text]:
    """Three lines: the metric, its class, canary against baseline and the bar; the shift with its
    interval, band, effect and samples; why."""
    bar_w = max(11, min(31, width // 4))
    name_w = max(10, width - bar_w - 44)
    head = Text.assemble(
        (f"{MARK.get(row.role, '·')} ", style(row.role)),
        (f"{_cut(row.name, name_w):<{name_w}} ", "bold"),
        (f"{row.classification:<9}", style(row.role)),
        (f"canary {row.canary:>9}  base {row.baseline:>9} ", ""),
        (shift_bar(row, bar_w), style(row.role)),
        no_wrap=True, overflow="ellipsis")
    numbers = (f"shift {row.shift}" + (f"  band {row.band}" if row.band else "")
               + (f"  effect {row.effect}" if row.effect else "") + f"  samples {row.samples}")
    return [head, Text("  " + _cut(numbers, width - 2), "dim", no_wrap=True),
            Text("  " + _cut(row.reason, width - 2), no_wrap=True)]


def judgment_lines(view: JudgmentView, width: int, style) -> list[Text]:
    head = Text.assemble((f"{view.phase_name}: {view.verdict}", f"bold {style(view.role)}"),
                         (f"  ·  score {view.score}  ·  {view.window}", ""), no_wrap=True, overflow="ellipsis")
    lines = [head, Text(_cut(view.reason + (" · the owners decide" if view.marginal_waits else ""), width),
                        style(view.role), no_wrap=True)]
    for row in view.metrics:
        lines += metric_lines(row, width, style)
    return lines + [Text("")]


class AnalysisScreen(ModalScreen):
    """Modal: Escape goes back; the judgments are those of the read model it was opened with."""

    DEFAULT_CSS = """
    AnalysisScreen { align: center middle; }
    AnalysisScreen #analysis-box { width: 100%; height: 100%; background: $surface; }
    AnalysisScreen #analysis-body { height: 1fr; scrollbar-size: 1 1; }
    """
    BINDINGS = [Binding("escape", "back", "Back", id="analysis.back")]

    def __init__(self, judgments: dict[int, JudgmentView], style, *, judged: bool):
        """`judged`: the plan has a [judge] (else the view says how to switch it on)."""
        super().__init__()
        self.judgments, self.style, self.judged = judgments, style, judged

    def compose(self) -> ComposeResult:
        with Vertical(id="analysis-box"):
            yield Label(Text("Analysis: the canary against its baseline, newest phase first · Escape back",
                             no_wrap=True, overflow="ellipsis"), id="analysis-title")
            with VerticalScroll(id="analysis-body"):
                yield Static(id="analysis-lines")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = max(40, self.size.width - 2)
        lines: list[Text] = []
        if not self.judged:
            lines.append(Text("This plan has no [judge]: add one (config.example.toml shows it, commented) to judge "
                              "the canary against its baseline.", "dim"))
        elif not self.judgments:
            lines.append(Text("Not judged yet: the guard judges every interval once a soak holds enough samples.",
                              "dim"))
        for phase in sorted(self.judgments, reverse=True):
            lines += judgment_lines(self.judgments[phase], width, self.style)
        if self.judgments:
            lines.append(Text(LEGEND, "dim"))
        self.query_one("#analysis-lines", Static).update(Group(*lines))

    def action_back(self) -> None:
        self.app.pop_screen()
