"""The whole journal on one screen, newest first: scroll it (arrows, PageUp/PageDown, Home/End)
and filter it (`/`), like k9s' views. Read-only, so observers have it too."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, RichLog

from cockpit.core.readmodel import TimelineLine, timeline_role
from cockpit.core.visible import visible
from cockpit.core.words import stamp


def journal_lines(records, plan, say) -> list[TimelineLine]:
    """Every record, newest first, in the operator's words (narrate.say shows what a person typed
    or a server sent with its control and bidi characters as escapes)."""
    return [TimelineLine(r.ts, say(r, plan), timeline_role(r), r.kind) for r in reversed(records)]


class JournalScreen(ModalScreen):
    """Modal: the cockpit's own keys (a, k, s ...) do nothing here; Escape goes back to them."""

    DEFAULT_CSS = """
    JournalScreen { align: center middle; }
    JournalScreen #journal-box { width: 100%; height: 100%; background: $surface; }
    JournalScreen #journal-lines { height: 1fr; }
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
            yield RichLog(id="journal-lines", wrap=False, markup=False, auto_scroll=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._draw("")
        self.query_one("#journal-lines", RichLog).focus()

    def _draw(self, words: str) -> None:
        log = self.query_one("#journal-lines", RichLog)
        log.clear()
        wanted = words.lower().split()
        shown = [ln for ln in self.lines if all(w in f"{ln.text} {ln.kind}".lower() for w in wanted)]
        for ln in shown:
            log.write(Text.assemble((f"{stamp(ln.at)} ", "dim"), (ln.text, self.style(ln.role)), no_wrap=True))
        log.scroll_home(animate=False)
        self.shown = len(shown)
        what = f"{self.shown} of {len(self.lines)} events match {words!r}" if wanted else f"{len(self.lines)} events"
        self.query_one("#journal-title", Label).update(  # the filter as typed: text, not markup
            Text(visible(f"Journal, newest first: {what} · ↑↓ PgUp PgDn Home End scroll · / filter · Escape back"))
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
        self.query_one("#journal-lines", RichLog).focus()

    def action_back(self) -> None:
        field = self.query_one("#journal-filter", Input)
        if field.value or field.has_focus:
            field.value = ""  # the first Escape clears the filter, the next one leaves
            self.query_one("#journal-lines", RichLog).focus()
            return
        self.app.pop_screen()
