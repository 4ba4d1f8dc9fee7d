"""The whole journal on one screen, newest first: scroll it (arrows, PageUp/PageDown, Home/End),
sideways where a line is longer than the screen (← →; a cut line ends in "…"), and filter it
(`/`), like k9s' views. Read-only, so observers have it too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Input, Label

from cockpit.core.visible import visible
from cockpit.core.words import stamp

if TYPE_CHECKING:
    from cockpit.core.readmodel import TimelineLine

MORE = "…"  # where a line goes on past the screen's edge


class LongLines(ScrollView, can_focus=True):
    """Lines as long as they are: each shown from the sideways scroll position, with "…" at an
    edge where it goes on beyond it (← → scroll sideways; ↑ ↓ PgUp PgDn Home End as any view)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.texts: list[Text] = []
        self._strips: dict[int, Strip] = {}  # each line rendered once, whole

    def show(self, texts: list[Text]) -> None:
        self.texts, self._strips = texts, {}
        self.virtual_size = Size(max((t.cell_len for t in texts), default=0), len(texts))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def line(self, n: int) -> Strip:
        strip = self._strips.get(n)
        if strip is None:
            text = self.texts[n]
            strip = self._strips[n] = Strip(list(text.render(self.app.console)), text.cell_len)
        return strip

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        width = self.scrollable_content_region.width
        style = self.rich_style
        if top + y >= len(self.texts) or width <= 0:
            return Strip.blank(width, style)
        whole = self.line(top + y)
        shown = whole.crop_extend(x, x + width, style)
        if whole.cell_length > x + width:  # it goes on to the right
            shown = Strip.join([shown.crop(0, width - 1), Strip([Segment(MORE, style)], 1)])
        if x > 0 and whole.cell_length > x:  # and it began to the left
            shown = Strip.join([Strip([Segment(MORE, style)], 1), shown.crop(1, width)])
        return shown.apply_style(style)


class JournalScreen(ModalScreen):
    """Modal: the cockpit's own keys (a, K, s ...) do nothing here; Escape goes back to them."""

    DEFAULT_CSS = """
    JournalScreen { align: center middle; }
    JournalScreen #journal-box { width: 100%; height: 100%; background: $surface; }
    JournalScreen #journal-title { width: 1fr; }
    JournalScreen #journal-lines { height: 1fr; scrollbar-size: 1 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="journal.back"),
        Binding("slash", "filter", "Filter", id="journal.filter"),
    ]

    def __init__(self, lines: list[TimelineLine], style):
        """`style(role)` maps a read-model role to the theme's style."""
        super().__init__()
        self.lines, self.style = lines, style
        self.shown = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-box"):
            yield Label(id="journal-title")
            yield Input(placeholder="filter: words in the line or its kind (Enter keeps it, Escape clears)",
                        id="journal-filter", select_on_focus=False)  # a key typed before it had focus stays
            yield LongLines(id="journal-lines")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._draw("")
        self.query_one("#journal-lines", LongLines).focus()

    def _draw(self, words: str) -> None:
        wanted = words.lower().split()
        shown = [ln for ln in self.lines if all(w in f"{ln.text} {ln.kind}".lower() for w in wanted)]
        self.query_one("#journal-lines", LongLines).show(
            [Text.assemble((f"{stamp(ln.at)} ", "dim"), (ln.text, self.style(ln.role))) for ln in shown])
        self.shown = len(shown)
        what = f"{self.shown} of {len(self.lines)} events match {words!r}" if wanted else f"{len(self.lines)} events"
        self.query_one("#journal-title", Label).update(  # the filter as typed: text, not markup
            Text(visible(f"Journal, newest first: {what} · ↑↓ PgUp PgDn Home End scroll · ← → sideways (… goes on)"
                         " · / filter · Escape back"))
        )

    def action_filter(self) -> None:
        self.query_one("#journal-filter", Input).focus()  # always shown: a hidden field takes no focus

    def on_key(self, event) -> None:
        """Typing filters at once, like k9s: a key that arrives before the field has taken the
        focus (keys typed in one burst over SSH) lands in the field, not nowhere."""
        field = self.query_one("#journal-filter", Input)
        if field.has_focus or not event.is_printable or event.character in (None, "/"):
            return
        field.value += event.character
        field.cursor_position = len(field.value)
        field.focus()
        event.stop()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._draw(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#journal-lines", LongLines).focus()

    def action_back(self) -> None:
        field = self.query_one("#journal-filter", Input)
        if field.value or field.has_focus:
            field.value = ""  # the first Escape clears the filter, the next one leaves
            self.query_one("#journal-lines", LongLines).focus()
            return
        self.app.pop_screen()
