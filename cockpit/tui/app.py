"""The cockpit screen: lays out what the desk shows (cockpit/desk.py) and hands it what a person decided.

No rollout logic lives here, and nothing here calls the engine or a core rule: the desk does,
and a dialog returns a typed decision (`ModalScreen[T]`) that the app hands to the desk.
Commands that touch the network run in workers, never awaited inside an action handler (that
would hold every following key for the call's duration). An observer has no path to a command:
`check_action` hides the bindings, the palette does not offer them, each action re-checks, and
the engine itself refuses (its journal is read-only).

The screen can open before there is an engine (`loader=`): the frame is drawn at once, saying
that it loads the plan and the journal, with every action refused but quit; the loader runs in
a thread (the plan's validation, the journal, the adapters), then the panes are filled. So this
module imports only Textual at the top: the rest is imported where it is used, after the frame.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Static

from cockpit.core import words
from cockpit.core.visible import visible
from cockpit.tui import kept
from cockpit.tui.palette import CockpitCommands
from cockpit.tui.rows import Pane, Rows
from cockpit.tui.themes import DEFAULT, THEMES_DIR, load_themes

if TYPE_CHECKING:
    from cockpit.desk import Desk, Question
    from cockpit.engine import Engine, Outcome
    from cockpit.guard import Guard
    from cockpit.tui.view import Palette, View

# Actions that change the rollout. An observer may run none of them.
MUTATING = frozenset({"run_checks", "run_check", "waive", "sign_off", "start", "advance", "gate", "kill", "note",
                      "checklist", "ack", "post_deploy"})
PANES = ("phase", "preflight", "budget", "escalation", "timeline")
# The panes' titles, drawn in the frame before the panes' module (and the plan's) is imported;
# a test holds them equal to the panes' own TITLEs.
TITLES = {"preflight": "Preflight & sign-offs", "phase": "Phases, triggers & gate", "budget": "Budget burn",
          "escalation": "Escalation matrix", "timeline": "Timeline (journal, newest first)"}
KEEP_AFTER_S = 0.5  # the frame is kept this long after the panes are filled (the header has its width by then)
# While loading, nothing can be done but quitting: there is no validated plan to act on.
WHILE_LOADING = frozenset({"quit_cockpit", "quit", "help_quit"})
# The command palette's own entries that the cockpit replaces (Textual's theme list offers its
# own themes; its screenshot goes to a Downloads folder and fails without saying why).
REPLACED_SYSTEM_COMMANDS = frozenset({"Theme", "Screenshot"})


@dataclass
class Loaded:
    """What a loader hands the screen: the engine and the faces around it (as CockpitApp's arguments)."""

    engine: Engine
    who: str
    feed: object = None
    guard: Guard | None = None  # the demo's, in this process
    keeper: Callable | None = None
    banner: str = ""
    started: Callable[[CockpitApp], object] | None = None  # run once the panes are filled (the demo's stakeholders)
    warnings: list[str] = field(default_factory=list)  # said on screen, and printed by the CLI after it


class Loading(Pane, can_focus=False):
    """A pane's frame while the plan and journal load: its box and title, and the rows this
    screen drew last time if it kept them (cockpit/tui/kept.py)."""


class TabBar(Static):
    """The compact layout's tabs (keys 1-5); a click on a tab shows its pane."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.spans: list[tuple[int, int, str]] = []  # (first column, end column, pane) as drawn
        self.text = Text()

    def draw(self, text: Text) -> None:
        self.text = text
        self.update(text)

    async def on_click(self, event) -> None:
        for start, end, name in self.spans:
            if start <= event.x < end:
                await self.app.run_action(f"pane('{name}')")
                return


class CockpitApp(App):
    CSS_PATH = "cockpit.tcss"
    TITLE = "cockpit"
    COMMANDS = App.COMMANDS | {CockpitCommands}
    ENABLE_COMMAND_PALETTE = True
    AUTO_FOCUS = None  # the current pane takes the focus once the panes are filled
    FOCUS_PANE = True  # replay: no pane takes the keys at the start (its cursor keys are the app's)

    BINDINGS = [
        Binding("a", "advance", "Advance", id="advance"),
        Binding("g", "gate", "Go/No-Go", id="gate"),
        # shift+k: j/k scroll (vim, k9s, htop); the dialog still asks for the version
        Binding("K", "kill", "KILL", id="kill"),
        Binding("s", "start", "Start", id="start"),
        Binding("r", "run_checks", "Checks", id="run_checks"),
        Binding("o", "sign_off", "Sign", id="sign_off"),
        Binding("w", "waive", "Waive", id="waive"),
        Binding("c", "checklist", "Tick rollback step", id="checklist"),
        Binding("c", "post_deploy", "Tick post-deployment item", id="post_deploy"),
        Binding("n", "note", "Note", id="note"),
        Binding("e", "ack", "Ack page", id="ack"),
        Binding("J", "journal", "Journal", id="journal"),
        Binding("A", "analysis", "Analysis", show=False, id="analysis"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit_cockpit", "Quit", id="quit"),
        *(Binding(str(i + 1), f"pane('{p}')", p.capitalize(), show=False, id=f"pane.{p}") for i, p in enumerate(PANES)),
    ]
    PALETTE = [
        ("run_checks", "Run preflight checks", "run or re-run every preflight check"),
        ("waive", "Waive a preflight check", "waive one check with a recorded reason"),
        ("sign_off", "Record a sign-off", "record one of the required sign-offs"),
        ("start", "Start the rollout", "start at the first phase's weight"),
        ("advance", "Advance to the next phase", "or complete after the final validation"),
        ("gate", "Go/No-Go for the current gate", "record owners' decisions"),
        ("kill", "Pull the kill switch", "canary.enable=false, confirmed by typing the version"),
        ("checklist", "Tick a rollback step", "journal a step of the rollback procedure as done"),
        ("note", "Add a note to the journal", "a free-text note"),
        ("ack", "Acknowledge a page", "an open incident stops climbing; every channel paged is told"),
        ("help", "Help: every key", "list every binding"),
        ("analysis", "Analysis: the canary judged against its baseline",
         "per metric: the shift and its interval against the band, and why"),
        ("rehearse", "Rehearse the triggers on history", "when would each have fired over the last N days"),
    ]

    def __init__(
        self,
        engine: Engine | None = None,
        feed=None,
        *,
        who: str = "",
        theme: str | None = None,
        themes_dir: Path = THEMES_DIR,
        tick_s: float = 1.0,
        watch: bool = True,
        guard=None,
        keeper=None,
        banner: str = "",
        loader: Callable[[], Loaded] | None = None,
        loading: str = "loading the plan and the journal",
    ):
        """`feed.latest()` is the guard's evaluation (guard.json, or an in-process evaluator);
        `guard` runs in this process (the demo); `keeper()` restarts a dead guard (captain).

        Without an engine, `loader()` makes one in a thread once the frame is drawn (saying
        `loading`); what it raises ends the screen and is kept in `load_error` for the caller.
        A theme that does not exist is said on stderr at once (and on screen)."""
        super().__init__()
        if (engine is None) == (loader is None):
            raise TypeError("CockpitApp takes either an engine or a loader")
        self.desk: Desk | None = None  # until loaded: every action but quit refuses (check_action, _loading)
        self.observer = False
        self.who, self.banner = who, banner
        self.loader = loader
        self.loading = loading
        self.loaded: Loaded | None = None
        self._released_at = float("-inf")  # memory is released after the load, then every RELEASE_S
        self.load_error: BaseException | None = None
        self._load_done = threading.Event()
        self._load_lock = threading.Lock()
        self._load_started = self._load_abandoned = False
        if engine is not None:
            self._take(Loaded(engine, who, feed=feed, guard=guard, keeper=keeper, banner=banner))
            self._load_started = True
            self._load_done.set()
        self.tick_s = tick_s
        self.watching = watch  # follow the journal and the guard, run an in-process guard (off in snapshot tests)
        self.busy = ""
        self._themes_found, self._theme_errors = load_themes(themes_dir)
        self._theme_request = theme or DEFAULT
        if theme and theme not in {t.name for t in self._themes_found}:
            names = ", ".join(sorted(t.name for t in self._themes_found)) or "none"
            print(f"cockpit: theme {theme!r} not found (themes: {names}); using {DEFAULT}", file=sys.stderr)
        self._pane = "phase"
        self._offered: frozenset[str] | None = None
        self._keeping_up: asyncio.Future | None = None  # a record on etcd: the pass in flight
        self._guard_told = ""

    @property
    def engine(self) -> Engine | None:
        """The desk's engine (the replay moves its state; nothing here calls it)."""
        return self.desk.engine if self.desk is not None else None

    @property
    def desk_ready(self) -> Desk:
        """The desk where the plan has loaded: past `_loading` or `_refused_here`, or in what
        `_start` set going once it had (until then `desk` is None)."""
        assert self.desk is not None, "the plan has not loaded"
        return self.desk

    def _take(self, loaded: Loaded) -> None:
        from cockpit.desk import Desk

        self.desk = Desk(loaded.engine, feed=loaded.feed, guard=loaded.guard, keeper=loaded.keeper)
        self.observer = self.desk.observer
        self.who = loaded.who
        # "DEMO · simulated · 60x": said in the header, so no screenshot passes for production
        self.banner = loaded.banner

    # -- loading -------------------------------------------------------------------------------

    class LoadEnded(Message):
        """The loader has returned or raised (posted from its thread)."""

    def _load(self) -> None:
        """In a thread, once the frame is on screen: the loader, then a message to fill the panes
        or end the screen. Posting never blocks: the screen may have been quit meanwhile, and
        then the caller closes what was loaded (`wait_loaded`)."""
        with self._load_lock:
            if self._load_abandoned:  # the screen ended before the loader's turn came
                return
            self._load_started = True
        try:
            assert self.loader is not None  # a screen without an engine has a loader (__init__)
            self.loaded = self.loader()
        except BaseException as e:  # noqa: BLE001 - handed to the caller, who says it after the screen
            self.load_error = e
        finally:
            self._load_done.set()
            try:
                self.post_message(self.LoadEnded())
            except RuntimeError:  # the event loop has closed: the screen is gone
                pass

    async def on_cockpit_app_load_ended(self, _message: LoadEnded) -> None:
        if self.load_error is not None:
            self.exit(return_code=getattr(self.load_error, "code", 1))
        elif self.loaded is not None and self.desk is None:
            await self._filled(self.loaded)

    def wait_loaded(self) -> Loaded | None:
        """After the screen: wait for a loader still running (quit while loading), so what it
        opened (a lock, a guard) is the caller's to close. None when the load failed or never began
        (quit before the loader's turn: then it never will)."""
        with self._load_lock:
            if not self._load_started:
                self._load_abandoned = True
                return None
        self._load_done.wait()
        return self.loaded

    def load_now(self) -> None:
        """Load before the screen runs, in this thread (no terminal to draw a frame on: a script,
        a test); what the loader raises, raises here, before any screen."""
        with self._load_lock:
            self._load_started = True
        try:
            assert self.loader is not None  # a screen without an engine has a loader (__init__)
            self.loaded = self.loader()
        finally:
            self._load_done.set()
        self._take(self.loaded)

    async def _filled(self, loaded: Loaded) -> None:
        self._take(loaded)
        await self.recompose()
        self._start()
        self._greet(loaded)
        self.set_timer(KEEP_AFTER_S, self._keep)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """A toast says what the engine, a server or a person said: as text, never markup (a `[`
        in a server's error is a bracket), with control and bidi characters shown (core.visible)."""
        super().notify(visible(message, newlines=True), title=visible(title), severity=severity, timeout=timeout,
                       markup=False)

    def _greet(self, loaded: Loaded) -> None:
        for warning in loaded.warnings:
            self.notify(warning, title="Journal", severity="warning", timeout=20)
        if loaded.started is not None:
            loaded.started(self)

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if self.desk is None:
            yield from self._frame()
            return
        from cockpit.tui.panes import (
            Banner,
            BudgetPane,
            EscalationPane,
            HeaderBar,
            PhasePane,
            PreflightPane,
            TimelinePane,
        )

        yield HeaderBar(id="header")
        yield Banner(id="banner")
        yield TabBar(id="tabs")
        with Horizontal(id="top"):
            yield PreflightPane(id="preflight", classes="pane")
            yield PhasePane(id="phase", classes="pane")
        with Horizontal(id="middle"):
            yield BudgetPane(id="budget", classes="pane")
            yield EscalationPane(id="escalation", classes="pane")
        yield TimelinePane(id="timeline", classes="pane")
        yield Footer(show_command_palette=True, compact=True)

    def _frame(self) -> ComposeResult:
        """The same boxes, and one line saying what is loading; the footer offers quit only. The
        boxes are empty, or hold the rows this screen drew last time (filled in `on_mount`)."""
        yield Rows(id="header")
        yield Static(Text(f" {visible(self.loading)}…", "bold"), id="banner")
        yield TabBar(id="tabs")
        with Horizontal(id="top"):
            for name in ("preflight", "phase"):
                yield self._empty(name)
        with Horizontal(id="middle"):
            for name in ("budget", "escalation"):
                yield self._empty(name)
        yield self._empty("timeline")
        yield Footer(show_command_palette=True, compact=True)

    @staticmethod
    def _empty(name: str) -> Loading:
        pane = Loading(id=name, classes="pane")
        pane.border_title = TITLES[name]
        return pane

    exit_on_sigterm = False  # set by cmd_shared.screen: a screen from the command line

    def on_mount(self) -> None:
        if self.exit_on_sigterm:  # `kill PID` quits as `q` does, the terminal left as it was found (the guard stays)
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        self._themes()
        if self.loader is not None:  # a screen from the command line keeps its frames (tui/kept.py)
            self._kept_as = kept.key(self.loading, (self.size.width, self.size.height), self.theme, self.no_color)
        if self.desk is None:
            self._layout(self.size.width, self.size.height)
            self._show_kept()
            self.call_after_refresh(self.run_worker, self._load, thread=True, group="load", exit_on_error=False)
            return
        self._start()
        if self.loaded is not None:  # loaded before the screen (load_now)
            self._greet(self.loaded)

    _kept_as: str | None = None

    def _show_kept(self) -> None:
        """The rows this screen drew last time, while it loads; the loading line says when."""
        frame = kept.load(self._kept_as) if self._kept_as else None
        if frame is None:
            return
        if tabs := frame.rows.get("tabs"):
            self.query_one("#tabs", TabBar).update(Text.assemble(*((s.text, s.style or "") for s in tabs[0])))
        for widget in self.query(Rows):
            if widget.id in frame.rows:
                widget.show_lines(frame.rows[widget.id])
        self.query_one("#banner", Static).update(Text.assemble((f" {visible(self.loading)}…", "bold"),
                                                               f"  (the panes as this screen drew them at {frame.at})"))

    def _keep(self) -> None:
        """Keep what the panes show now for the next start of this screen (tui/kept.py)."""
        if self._kept_as is None or self.desk is None:
            return
        from datetime import datetime

        rows = {w.id: w.lines for w in self.query(Rows) if w.id and w.lines and w.id != "banner"}
        found = self.query("#tabs")
        if not rows or not found:  # the screen is closing (or never drew): nothing worth keeping
            return
        tabs = found.first(TabBar)
        if tabs.display and tabs.text:
            from textual.strip import Strip

            rows["tabs"] = [Strip(list(tabs.text.render(self.console)))]
        kept.save(self._kept_as, rows, words.clock(datetime.now(UTC)))

    def _themes(self) -> None:
        """The cockpit's themes (themes/*.toml), and no other: Textual's own would paint the
        headline's roles in colours no one checked (light grey on bright yellow)."""
        themes, errors = self._themes_found, list(self._theme_errors)
        for theme in themes:
            self.register_theme(theme)
        names = {t.name for t in themes}
        if self._theme_request in names:
            self.theme = self._theme_request
        else:
            if themes:
                self.theme = DEFAULT if DEFAULT in names else themes[0].name
            errors.append(f"theme {self._theme_request!r} not found; using {self.theme}")
        for error in errors:  # a broken theme file is reported, never fatal
            self.notify(error, title="Theme", severity="warning", timeout=8)

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """Textual's palette entries that work here (Quit asks as q does; Keys; Maximize a pane),
        the cockpit's themes instead of Textual's, and a screenshot that says where it went."""
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_SYSTEM_COMMANDS:
                yield command
        for theme in self._themes_found:
            yield SystemCommand(f"Theme: {theme.name}", "colours for this screen (as --theme)",
                                lambda name=theme.name: setattr(self, "theme", name))
        yield SystemCommand("Screenshot", "save this screen as an SVG file in the current directory",
                            self.action_save_screenshot)

    def action_save_screenshot(self) -> None:
        """This screen as an SVG in the current directory: where it was saved, or why not."""
        try:
            path = self.save_screenshot()
        except OSError as e:  # a directory gone, not writable, a full disk: said with the file it tried
            self.notify(f"not saved in the current directory: {e.strerror or e}: {e.filename}", title="Screenshot",
                        severity="error", timeout=12)
            return
        self.notify(f"saved {Path(path).resolve()}", title="Screenshot", timeout=12)

    def _start(self) -> None:
        """The panes follow the desk: today's screen from here on."""
        if self.observer:
            self.screen.add_class("observer")
        self.desk_ready.on_record(self.refresh_view)
        self.desk_ready.on_round(self._evaluated)
        self._layout(self.size.width, self.size.height)
        self.refresh_view()
        if self.FOCUS_PANE:  # after the panes are on screen: a focus restyles the screen (~25 ms)
            self.call_after_refresh(self._focus_pane)
        if self.watching:
            if not self.observer:
                self._reconcile()
            self.set_interval(self.tick_s, self._tick)
            if (guarding := self.desk_ready.guarding()) is not None:
                self.run_worker(guarding, group="guard", exit_on_error=False)

    def on_resize(self, event) -> None:
        self._layout(event.size.width, event.size.height)

    def _layout(self, width: int, height: int) -> None:
        """Below 110x34 the panes become tabs (keys 1-5, or a click); above, all of them are on
        screen. In the compact layout the footer leaves out its palette key (`?` and the help
        say ctrl+p), so that at 80 columns no label of the keys is cut."""
        compact = width < 110 or height < 34
        self.screen.set_class(compact, "compact")
        for name in PANES:
            self.query_one(f"#{name}").set_class(compact and name == self._pane, "shown")
        for box in ("#top", "#middle"):
            container = self.query_one(box)
            container.set_class(compact and any(c.id == self._pane for c in container.children), "holds-shown")
        footer = self.query_one(Footer)
        if footer.show_command_palette == compact:  # a change recomposes the footer: only when it changes
            footer.show_command_palette = not compact
        self._draw_tabs()

    def _draw_tabs(self) -> None:
        """Tabs for the compact layout; a tab whose pane holds a breach, a fire or blindness
        carries that pane's badge, so it shows while another tab is open."""
        if self.desk is None:
            return  # while loading: the one pane's box, no tabs to switch to
        badges = getattr(self, "_badges", {})
        colors = self.view_colors()
        tabs = Text(" ")
        bar = self.query_one("#tabs", TabBar)
        bar.spans = []
        for i, name in enumerate(PANES):
            style = "bold reverse" if name == self._pane else ""
            if i:
                tabs.append("│", colors.muted)
            start = len(tabs)
            tabs.append(f" {i + 1} {name.capitalize()} ", style)
            if name in badges:
                mark, role = badges[name]
                tabs.append(f"{mark} ", f"bold {colors.style(role).replace('reverse', '')}".strip())
            bar.spans.append((start, len(tabs), name))
        bar.draw(tabs)

    def view_colors(self) -> Palette:
        from cockpit.tui.view import Palette

        return Palette.from_variables(self.theme_variables if not self.no_color else {})

    def action_pane(self, name: str) -> None:
        """Show pane `name` (a tab in the compact layout) and focus it: j/k and the arrows scroll it."""
        if self._loading():
            return
        self._pane = name
        self._layout(self.size.width, self.size.height)
        self.query_one(f"#{name}").focus()

    def _focus_pane(self) -> None:
        if self.focused is None:  # unless a key or a click has focused something meanwhile
            self.query_one(f"#{self._pane}").focus()

    def action_next_pane(self) -> None:
        """Tab: the next pane in the order of the keys 1-5 (in the compact layout, the next tab)."""
        self.action_pane(PANES[(PANES.index(self._pane) + 1) % len(PANES)])

    def action_previous_pane(self) -> None:
        self.action_pane(PANES[(PANES.index(self._pane) - 1) % len(PANES)])

    def on_descendant_focus(self, event) -> None:
        """A pane focused by a click is the current one (the next Tab goes on from it)."""
        if event.widget.id in PANES and event.widget.id != self._pane:
            self._pane = event.widget.id
            self._layout(self.size.width, self.size.height)

    # -- refreshing ----------------------------------------------------------------------------

    def view(self) -> View:
        from cockpit.tui.view import View

        return View(self.desk_ready.shown(), observer=self.observer, who=self.who, colors=self.view_colors(),
                    busy=self.busy, banner=self.banner)

    def refresh_view(self) -> None:
        if self.desk is None:
            return
        from cockpit.tui.rows import Rows

        v = self.view()
        with self.batch_update():
            for pane in self.query(Rows):  # each repaints only when what it shows has changed
                pane.show(v)
            if v.model.badges != getattr(self, "_badges", None):
                self._badges = v.model.badges
                self._draw_tabs()
        if v.model.actions != self._offered:  # the footer offers what this state allows, nothing else
            self._offered = v.model.actions
            self.refresh_bindings()

    def _evaluated(self) -> None:
        """Gauges repaint with the once-a-second tick (one repaint a second, not one per source);
        journal events still repaint at once. Without the tick (tests), repaint now."""
        if not self.watching:
            self.refresh_view()

    def _tick(self) -> None:
        """Once a second: fold in what the guard and other terminals journaled, keep a guard
        running (captain), and move the clocks on. A record on etcd is kept up with off the event
        loop, one pass at a time: a store without quorum never stops the screen drawing and taking keys."""
        desk = self.desk_ready
        if not desk.remote:
            try:
                desk.follow()
            except Exception as e:  # noqa: BLE001 - a tampered or unreadable journal: said, the screen goes on
                self._journal_failed(e)
            self._guard_said(desk.keep_guard())
        elif self._keeping_up is None or self._keeping_up.done():
            self._keeping_up = asyncio.ensure_future(self._keep_up())
        self._release_memory()
        self._repaint()

    async def _keep_up(self) -> None:
        failed, said = await self.desk_ready.keep_up()
        if failed is not None:
            self._journal_failed(failed)
        self._guard_said(said)
        self._repaint()

    def _journal_failed(self, e: Exception) -> None:
        self.notify(str(e), title="Journal", severity="error", timeout=30)

    def _guard_said(self, said: str) -> None:
        """What the guard's keeper says, once while it says the same (a store out of reach says it each second)."""
        if said and said != self._guard_told:
            self.notify(said, title="Guard", severity="warning", timeout=12)
        self._guard_told = said

    def _repaint(self) -> None:
        seen = (self.desk_ready.inputs(), self.busy, self.theme, self.no_color)
        if seen != getattr(self, "_seen", None):  # no new event, round, second or theme: no work at all
            self._seen = seen
            self.refresh_view()

    def _release_memory(self) -> None:
        """Every RELEASE_S, give back what a screen that runs for hours accumulates (tui/memory.py)."""
        from time import monotonic

        from cockpit.tui import memory

        if monotonic() - self._released_at >= memory.RELEASE_S:
            self._released_at = monotonic()
            memory.release()
            self._keep()  # and what the panes show, for the next start (once a minute, a small file)

    @work(group="reconcile", exit_on_error=False)
    async def _reconcile(self) -> None:
        """On start-up, the gateway read back against the journal; a disagreement is said loudly."""
        outcome = await self.desk_ready.reconcile()
        if not outcome.ok and outcome.reasons:
            self.notify("\n".join(outcome.reasons), title="Gateway vs journal", severity="error", timeout=30)

    # -- safety: what this terminal may do -----------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """An observer has no mutating action; a captain only those the rollout's state offers
        (after a rollback: tick the checklist and note, never Advance or Start). While the plan
        loads, nothing but quit (the command palette included)."""
        if self.desk is None:
            return action in WHILE_LOADING
        if action in MUTATING and (self.observer or action not in self.desk.actions()):
            return False
        return True

    def _loading(self) -> bool:
        """Every action but quit checks: nothing can be done before the plan has validated."""
        if self.desk is None:
            self.notify(f"{self.loading}: nothing can be done yet", title="Loading", severity="warning")
            return True
        return False

    def _refused_here(self) -> bool:
        """Each mutating action checks again: buttons and palette hits reach methods directly."""
        if self._loading():
            return True
        if self.observer:
            self.notify(self.desk_ready.read_only(), title="Observer", severity="warning")
            return True
        return False

    def _refused(self, title: str, reasons: list[str]) -> bool:
        """The core's refusal reasons, verbatim, before any dialog opens."""
        if reasons:
            self.notify("\n".join(reasons), title=f"{title} refused", severity="error", timeout=12)
        return bool(reasons)

    def _report(self, title: str, outcome: Outcome) -> None:
        if outcome.unjournaled:  # the gateway moved; the journal did not take what followed
            self.notify("\n".join(outcome.reasons), title=f"{title}: JOURNAL NOT WRITTEN", severity="error", timeout=30)
        elif not outcome.ok and outcome.reasons:
            self.notify("\n".join(outcome.reasons), title=f"{title} refused", severity="error", timeout=12)

    def _form(self, dialog, record: Callable[[Any], Outcome], title: str) -> None:
        """Open a form; what it returns goes to the desk (`record`), and a form left without
        recording says so: a Tab to Cancel and Enter must not look like a recorded fact."""

        def done(decision) -> None:
            if decision is None:
                self.notify("cancelled: nothing was journaled", title=title, timeout=6)
            else:
                self._report(title, record(decision))

        self.push_screen(dialog, done)

    # -- actions -------------------------------------------------------------------------------

    def action_run_checks(self) -> None:
        if self._refused_here():
            return
        self._run_checks()

    def action_run_check(self, check_id: str) -> None:
        """Run or re-run one preflight check (from the command palette)."""
        if self._refused_here():
            return
        self._run_checks(check_id)

    @work(exclusive=True, group="preflight", exit_on_error=False)
    async def _run_checks(self, check_id: str | None = None) -> None:
        task = asyncio.ensure_future(self.desk_ready.run_checks(check_id))
        await asyncio.sleep(0)  # let the checks start, so the pane shows them running
        self.refresh_view()
        self._report("Preflight", await task)

    def action_waive(self) -> None:
        if self._refused_here():
            return
        from cockpit.desk import Waiver
        from cockpit.tui.dialogs import Field, FormDialog

        fields = [Field("check", "Check to waive", self.desk_ready.checks()), Field("reason", "Reason (journaled)")]
        self._form(FormDialog("Waive a preflight check", fields, Waiver, "Waive"), self.desk_ready.waive, "Waiver")

    def action_sign_off(self) -> None:
        if self._refused_here():
            return
        from cockpit.desk import SignOff
        from cockpit.tui.dialogs import Field, FormDialog

        missing = self.desk_ready.missing_sign_offs()
        if not missing:
            self.notify("every sign-off is recorded", title="Sign-off")
            return
        fields = [Field("role", "Role", missing), Field("name", "Signed by (name)"),
                  Field("note", "Note", value="approved")]
        self._form(FormDialog("Record a sign-off", fields, SignOff), self.desk_ready.sign_off, "Sign-off")

    def _ask(self, question: Question, then: Callable[[], object]) -> None:
        from cockpit.tui.dialogs import Confirm

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.push_screen(Confirm(question), answered)

    def action_start(self) -> None:
        if self._refused_here() or self._refused("Start", self.desk_ready.start_refusals()):
            return
        self._ask(self.desk_ready.start_question(), lambda: self._command("Start", self.desk_ready.start, "starting"))

    def action_advance(self) -> None:
        """The core's refusal reasons at once; a step the core allows is confirmed first."""
        if self._refused_here() or self._refused("Advance", self.desk_ready.advance_refusals()):
            return
        self._ask(self.desk_ready.advance_question(),
                  lambda: self._command("Advance", self.desk_ready.advance, "advancing"))

    @work(exclusive=True, group="command", exit_on_error=False)
    async def _command(self, title: str, command, busy: str) -> None:
        self.busy = busy
        self.refresh_view()
        try:
            self._report(title, await command())
        finally:
            self.busy = ""
            self.refresh_view()

    def action_gate(self) -> None:
        if self._refused_here() or self._refused("Go/No-Go", self.desk_ready.gate_refusals()):
            return
        self._gate_dialog()

    def _gate_dialog(self, said: str = "", error: str = "", kept=None) -> None:
        """The go/no-go dialog returns one owner's decision; once the desk has recorded it, the
        dialog opens again on the next owner still waiting (one owner never overwrites another),
        saying what was recorded; a refused decision reopens it with the reasons and what was typed."""
        from cockpit.tui.dialogs import GateDialog

        v = self.view()
        ask = self.desk_ready.gate_ask(v.model)
        self.push_screen(GateDialog(ask, v.style, said=said, error=error, kept=kept), self._gate_decided)

    def _gate_decided(self, decision) -> None:
        if decision is None:
            return
        outcome = self.desk_ready.decide(decision)
        if not outcome.ok:
            self._gate_dialog(error="; ".join(outcome.reasons), kept=decision)
            return
        said = f"recorded {decision.decision} for {self.desk_ready.role_title(decision.role)}"
        waiting = self.desk_ready.gate_ask(self.view().model).waiting
        said += (f"; next: {self.desk_ready.role_title(waiting[0])}" if waiting
                 else "; every owner has decided (Escape closes)")
        self._gate_dialog(said=said)

    def action_kill(self) -> None:
        if self._refused_here() or self._refused("Kill", self.desk_ready.kill_refusals()):
            return
        from cockpit.tui.dialogs import KillDialog

        self.push_screen(KillDialog(self.desk_ready.kill_ask()), self._kill_confirmed)

    def _kill_confirmed(self, order) -> None:
        if order is not None:
            self._kill(order)  # a worker: the screen keeps drawing, keys keep flowing

    @work(exclusive=True, group="kill", exit_on_error=False)
    async def _kill(self, order) -> None:
        self.busy = "KILL SENT"
        self.refresh_view()
        try:
            outcome = await self.desk_ready.kill(order)
        finally:
            self.busy = ""
            self.refresh_view()
        if outcome.ok and outcome.unjournaled:  # the gateway confirms, the journal did not take it
            self.notify("\n".join(outcome.reasons), title="KILL VERIFIED, JOURNAL NOT WRITTEN", severity="error",
                        timeout=30)
        elif outcome.ok:
            self.notify("gateway confirms the canary is off", title="KILL VERIFIED", timeout=12)
        else:
            self.notify("\n".join(outcome.reasons), title="KILL NOT CONFIRMED", severity="error", timeout=30)

    def action_checklist(self) -> None:
        """Tick a step of the rollback procedure by hand: journaled as a note, shown as done."""
        if self._refused_here():
            return
        from cockpit.desk import StepDone
        from cockpit.tui.dialogs import Field, FormDialog

        steps = self.desk_ready.open_steps()
        if not steps:
            self.notify("no rollback step waits for a tick", title="Rollback checklist")
            return
        fields = [Field("step", "Step", steps), Field("what", "What was done (journaled)")]
        self._form(FormDialog("Tick a rollback step", fields, StepDone, "Tick"), self.desk_ready.tick_step, "Checklist")

    def action_post_deploy(self) -> None:
        """Tick an item of the post-deployment plan off (after completion): journaled with who did it."""
        if self._refused_here():
            return
        from cockpit.desk import ItemDone
        from cockpit.tui.dialogs import Field, FormDialog

        items = self.desk_ready.open_items()
        if not items:
            self.notify("every post-deployment item is done", title="Post-deployment plan")
            return
        fields = [Field("item", "Item", items), Field("name", "Done by (name)"),
                  Field("note", "What shows it (journaled)")]
        self._form(FormDialog("Tick a post-deployment item", fields, ItemDone, "Done"), self.desk_ready.item_done,
                   "Post-deployment")

    def action_ack(self) -> None:
        """Acknowledge a page from the escalation pane: the incident stops climbing (journaled;
        the guard tells every channel it paged, PagerDuty included)."""
        if self._refused_here():
            return
        from cockpit.desk import PageAck
        from cockpit.tui.dialogs import Field, FormDialog

        waiting = self.desk_ready.waiting_pages()
        if not waiting:
            self.notify("no page waits for an acknowledgement", title="Acknowledge")
            return
        fields = [Field("incident", "Incident", waiting), Field("name", "Acknowledged by (name)")]
        self._form(FormDialog("Acknowledge a page", fields, PageAck, "Acknowledge"), self.desk_ready.acknowledge,
                   "Acknowledge")

    def action_note(self) -> None:
        if self._refused_here():
            return
        from cockpit.desk import Note
        from cockpit.tui.dialogs import Field, FormDialog

        self._form(FormDialog("Add a note to the journal", [Field("text", "Note")], Note, "Add"), self.desk_ready.note,
                   "Note")

    def check_chatops(self, line: str) -> None:
        """The seed's ChatOps approval, checked field by field against the plan (read-only)."""
        if self._loading():
            return
        if problems := self.desk_ready.chatops(line):
            self.notify("\n".join(problems), title="ChatOps line does NOT match the plan", severity="error", timeout=15)
            return
        self.notify(line, title="ChatOps approval matches the plan", timeout=10)

    FULL_LABELS = {action: label for action, label, _help in PALETTE} | {
        "quit_cockpit": "Quit the cockpit (asks first while a rollout is live)",
        "kill": "Pull the kill switch (type the version to confirm)",
        "help": "Help: every key, symbol and word",
        "journal": "The whole journal: scroll (arrows, PgUp/PgDn, Home/End), filter with /",
        "post_deploy": "Tick a post-deployment item (after completion)",
    }

    def action_journal(self) -> None:
        """Every journal event on its own screen (read-only: observers have it too)."""
        if self._loading():
            return
        from cockpit.tui.journal_view import JournalScreen

        self.push_screen(JournalScreen(self.desk_ready.journal_lines(), self.view_colors().style))

    def action_analysis(self) -> None:
        """The judge's judgments, metric by metric (read-only: observers have it too)."""
        if self._loading():
            return
        from cockpit.tui.analysis import AnalysisScreen

        v = self.view()
        self.push_screen(AnalysisScreen(v.model.judgments, v.style, judged=getattr(v.plan, "judge", None) is not None))

    def action_rehearse(self) -> None:
        """Read-only: ask the span, rehearse in a worker (tui/rehearsal_view.py), show the lanes."""
        if not self._loading():
            from cockpit.tui.rehearsal_view import AskSpan

            def asked(days: float | None) -> None:
                if days:
                    self._rehearse(days)

            self.push_screen(AskSpan(), asked)

    @work(thread=True, exclusive=True, group="rehearse", exit_on_error=False)
    def _rehearse(self, days: float) -> None:
        from cockpit.tui.rehearsal_view import show

        show(self, lambda: self.desk_ready.rehearse(days), self.view_colors().style)

    def action_help(self) -> None:
        """Every key with its full label (and whether this terminal may use it now), and a
        legend for every symbol and word the panes use."""
        if self._loading():
            return
        from cockpit.core.readmodel import LEGEND
        from cockpit.tui.dialogs import HelpScreen

        rows = []
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.action.startswith("pane("):
                continue
            label = self.FULL_LABELS.get(binding.action, binding.description)
            allowed = self.check_action(binding.action, ())
            why = "" if allowed else ("captain only" if self.observer else "not in this state")
            rows.append((binding.key.replace("question_mark", "?"), label, why))
        rows.append(("1-5", "Show one pane (compact layout, below 110x34; or click its tab) and focus it", ""))
        rows.append(("Tab", "The next pane (shift+Tab the one before); a click focuses a pane too", ""))
        rows.append(("j k ↑ ↓", "Scroll the focused pane (PgUp/PgDn, Home/End)", ""))
        rows.append(("ctrl+p", "Command palette: every action, the themes, a screenshot, and the ChatOps line checked",
                     ""))
        self.push_screen(HelpScreen(rows, self.observer, LEGEND))

    async def action_quit(self) -> None:
        """Ctrl+Q and the command palette's Quit ask as q does while the rollout is live."""
        self.action_quit_cockpit()

    def exit(self, *args, **kwargs) -> None:
        """Leaving keeps the last frame for the next start (tui/kept.py)."""
        self._keep()
        super().exit(*args, **kwargs)

    def action_quit_cockpit(self) -> None:
        question = self.desk.quit_question(self.view().model.guard) if self.desk is not None else None
        if question is None:
            self.exit()
            return
        self._ask(question, self.exit)
