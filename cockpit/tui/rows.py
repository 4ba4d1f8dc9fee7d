"""Rows on screen through Textual's line API: a pane's picture laid out into rows once per change,
only the rows whose text changed refreshed (`refresh_line`), and rows kept from an earlier frame
shown as they were (cockpit/tui/kept.py). Imports only Rich and Textual: the first frame uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import RichVisual, Visual, visualize

if TYPE_CHECKING:
    from cockpit.tui.view import View


class Rows(ScrollView):
    """Rows laid out from a renderable and drawn through Textual's line API: `signature` says what
    the picture depends on; it is laid out again only when that changes, and then only the rows
    whose rendered text changed are refreshed (`refresh_line`: a soak countdown repaints one row)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._signature: object = None
        self._drawn: dict[str, Drawn] = {}
        self._shown: object = None  # what this pane shows: a Rich renderable (None: nothing drawn yet)
        self._texts: dict[tuple, list[Strip]] = {}  # the rows of the Text parts painted last time
        self.lines: list[Strip] = []  # the rows as laid out, at `self.laid_width`
        self.laid_width = 0
        self.painted_rows = 0  # rows refreshed since mount (a whole refresh counts the rows on screen)

    @property
    def content(self):
        return "" if self._shown is None else self._shown

    def drawn(self, name: str, key: object, build) -> Drawn:
        """The part `name` of this pane, laid out again only when `key` (what it shows) changes."""
        part = self._drawn.get(name)
        if part is None:
            part = self._drawn[name] = Drawn()
        return part(key, build)

    def signature(self, v: View) -> object:
        return (v.state.seq, v.busy, v.colors)

    def show(self, v: View) -> None:
        sig = self.signature(v)
        if sig != self._signature:
            self._signature = sig
            self.paint(self.draw(v))

    def paint(self, renderable) -> None:
        """Show `renderable`: its rows laid out at the width there is, and only the rows whose
        strips differ from what is on screen refreshed. Every pane's size comes from the stylesheet
        (fixed rows or fractions), never from what it shows: only a change in the number of rows
        lays the screen out again (the scrollbar's length)."""
        self._shown = renderable
        self._lay()

    def _lay(self) -> None:
        width = self.scrollable_content_region.width
        if not self.is_mounted or width <= 0 or self._shown is None:
            return  # laid out once it has a size (on_resize) and something to show
        lines = self._strips(self._shown, width)
        old, whole = self.lines, width != self.laid_width
        self.lines, self.laid_width = lines, width
        if self.virtual_size != (width, len(lines)):
            self.virtual_size = Size(width, len(lines))
        if whole:
            self.painted_rows += self.scrollable_content_region.height
            self.refresh()
            return
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        for y in range(max(len(old), len(lines))):
            if not _same(_row(old, y), _row(lines, y)):
                if top <= y < top + height:
                    self.painted_rows += 1
                self.refresh_line(y)

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self.laid_width:
            self._lay()

    def show_lines(self, lines: list[Strip]) -> None:
        """Rows already laid out (a kept frame): shown as they are until the pane draws its own."""
        self._shown, self.lines = None, lines
        self.laid_width = -1  # the pane's first paint lays out all of its rows again
        self.virtual_size = Size(max((line.cell_length for line in lines), default=0), len(lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Row `y` of what is on screen (scrolled): the laid-out row, or a blank one below the last.
        A pane shown before it had its width is laid out here, in the frame that first draws it
        (its scrollbar follows with the next layout)."""
        width = self.scrollable_content_region.width
        if width != self.laid_width and self._shown is not None and width > 0:
            self.lines, self.laid_width = self._strips(self._shown, width), width
            if self.virtual_size != (width, len(self.lines)):
                self.virtual_size = Size(width, len(self.lines))
        row = _row(self.lines, self.scroll_offset.y + y)
        if row is None:
            return Strip.blank(self.scrollable_content_region.width, self.visual_style.rich_style)
        return row

    def _strips(self, renderable, width: int) -> list[Strip]:
        style = self.visual_style
        if not isinstance(renderable, Group):
            return Visual.to_strips(self, visualize(self, renderable), width, None, style)
        lines: list[Strip] = []
        texts: dict[tuple, list[Strip]] = {}
        for part in renderable.renderables:  # as Rich renders a Group: one part after the other
            if isinstance(part, Drawn):
                lines += part.strips(self, width, style)
            elif isinstance(part, Text):  # a line that did not change (the phase track) is not rendered again
                key = (text_key(part), width, style)
                strips = texts[key] = self._texts.get(key) or _to_strips(self, part, width, style)
                lines += strips
            else:
                lines += _to_strips(self, part, width, style)
        self._texts = texts
        return lines

    def draw(self, v: View):
        raise NotImplementedError


class Pane(Rows, can_focus=True):
    """A boxed pane: focused with Tab (or a click), scrolled with j/k, the arrows, PgUp/PgDn, Home/End."""

    TITLE = ""
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="pane.down"),
        Binding("k", "scroll_up", "Up", show=False, id="pane.up"),
        Binding("tab", "app.next_pane", "Next pane", show=False, id="pane.next"),
        Binding("shift+tab", "app.previous_pane", "Previous pane", show=False, id="pane.previous"),
    ]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.border_title = self.TITLE


def _row(lines: list[Strip], y: int) -> Strip | None:
    return lines[y] if y < len(lines) else None


def _same(old: Strip | None, new: Strip | None) -> bool:
    """A row reused from the last paint is the same object: no need to compare its segments."""
    return old is new or old == new


def _to_strips(widget, part, width: int, style) -> list[Strip]:
    """A part of a Group as Textual renders the Group: Rich's rendering (a Text is not made Content)."""
    return Visual.to_strips(widget, RichVisual(widget, part), width, None, style)


class Drawn:
    """A part of a pane as Rich laid it out last time, reused while what it shows is unchanged:
    when one line of a pane changes (the soak countdown), its tables are not laid out again."""

    def __init__(self):
        self._key: object = None
        self._part = None
        self._lines: dict[tuple, list[list[Segment]]] = {}
        self._strips: dict[tuple, list[Strip]] = {}

    def __call__(self, key: object, build):
        if key != self._key:
            self._key, self._part, self._lines, self._strips = key, build(), {}, {}
        return self

    def strips(self, widget, width: int, style) -> list[Strip]:
        """This part's rows at `width` in the pane's style, rendered once while its key holds."""
        at = (width, style)
        strips = self._strips.get(at)
        if strips is None:
            strips = self._strips[at] = _to_strips(widget, self, width, style)
        return strips

    def __rich_console__(self, console, options):
        at = (options.max_width, options.min_width, options.height, options.justify, options.overflow, options.no_wrap)
        lines = self._lines.get(at)
        if lines is None:
            lines = self._lines[at] = console.render_lines(self._part, options, pad=False, new_lines=True)
        for line in lines:
            yield from line

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        assert self._part is not None  # rendered only as __call__ returned it, built
        return Measurement.get(console, options, self._part)


def text_key(text: Text) -> tuple:
    """What a Text renders as, hashable: its characters, spans and settings."""
    return (text.plain, tuple(text.spans), str(text.style), text.justify, text.overflow, text.no_wrap, text.end)
