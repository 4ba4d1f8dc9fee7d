"""The cockpit screen: a view of the engine's state plus key bindings that call engine commands.

No rollout logic lives here. Commands that touch the network run in workers, never awaited
inside an action handler (that would hold every following key for the call's duration).
An observer has no path to a command: `check_action` hides the bindings, the palette does
not offer them, each action re-checks, and the engine itself refuses (its journal is read-only).

The screen can open before there is an engine (`loader=`): the frame is drawn at once, saying
that it loads the plan and the journal, with every action refused but quit; the loader runs in
a thread (the plan's validation, the journal, the adapters), then the panes are filled. So this
module imports only Textual at the top: the rest is imported where it is used, after the frame.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Static

from cockpit.core.visible import visible
from cockpit.tui.palette import CockpitCommands
from cockpit.tui.themes import DEFAULT, THEMES_DIR, load_themes

if TYPE_CHECKING:
    from cockpit.engine import Engine, Outcome
    from cockpit.tui.view import Palette, View

# Actions that change the rollout. An observer may run none of them.
MUTATING = frozenset({"run_checks", "run_check", "waive", "sign_off", "start", "advance", "gate", "kill", "note", "checklist",
                      "ack", "post_deploy"})
PANES = ("phase", "preflight", "budget", "escalation", "timeline")
# The panes' titles, drawn in the frame before the panes' module (and the plan's) is imported;
# a test holds them equal to the panes' own TITLEs.
TITLES = {"preflight": "Preflight & sign-offs", "phase": "Phases, triggers & gate", "budget": "Budget burn",
          "escalation": "Escalation matrix", "timeline": "Timeline (journal, newest first)"}
# While loading, nothing can be done but quitting: there is no validated plan to act on.
WHILE_LOADING = frozenset({"quit_cockpit", "quit", "help_quit"})


@dataclass
class Loaded:
    """What a loader hands the screen: the engine and the faces around it (as CockpitApp's arguments)."""

    engine: Engine
    who: str
    feed: object = None
    guard: object = None
    keeper: Callable | None = None
    banner: str = ""
    started: Callable[[CockpitApp], None] | None = None  # run once the panes are filled (the demo's stakeholders)
    warnings: list[str] = field(default_factory=list)  # said on screen, and printed by the CLI after it


class Loading(Static):
    """A pane's frame while the plan and journal load: its box and title, nothing in it."""


class CockpitApp(App):
    CSS_PATH = "cockpit.tcss"
    TITLE = "cockpit"
    COMMANDS = App.COMMANDS | {CockpitCommands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("a", "advance", "Advance", id="advance"),
        Binding("g", "gate", "Go/No-Go", id="gate"),
        Binding("k", "kill", "KILL", id="kill"),
        Binding("s", "start", "Start", id="start"),
        Binding("r", "run_checks", "Checks", id="run_checks"),
        Binding("o", "sign_off", "Sign", id="sign_off"),
        Binding("w", "waive", "Waive", id="waive"),
        Binding("c", "checklist", "Tick rollback step", id="checklist"),
        Binding("c", "post_deploy", "Tick post-deployment item", id="post_deploy"),
        Binding("n", "note", "Note", id="note"),
        Binding("e", "ack", "Ack page", id="ack"),
        Binding("j", "journal", "Journal", id="journal"),
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
        `loading`); what it raises ends the screen and is kept in `load_error` for the caller."""
        super().__init__()
        if (engine is None) == (loader is None):
            raise TypeError("CockpitApp takes either an engine or a loader")
        self.engine = None  # until loaded: every action but quit refuses (check_action, _loading)
        self.feed = self.guard = self.keeper = None
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
        self.watch = watch  # follow the journal and the guard, run an in-process guard (off in snapshot tests)
        self.busy = ""
        self._theme_request = theme or DEFAULT
        self._themes_dir = themes_dir
        self._pane = "phase"
        self._offered: frozenset[str] | None = None

    def _take(self, loaded: Loaded) -> None:
        engine = loaded.engine
        self.engine = engine
        self.feed = loaded.feed if loaded.feed is not None else loaded.guard
        self.guard = loaded.guard
        self.keeper = loaded.keeper
        self.observer = engine.follower
        self.who = loaded.who
        self.banner = loaded.banner  # "DEMO · simulated · 60x": said in the header, so no screenshot passes for production

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
        elif self.loaded is not None and self.engine is None:
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
            self.loaded = self.loader()
        finally:
            self._load_done.set()
        self._take(self.loaded)

    async def _filled(self, loaded: Loaded) -> None:
        self._take(loaded)
        await self.recompose()
        self._start()
        self._greet(loaded)

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
        if self.engine is None:
            yield from self._frame()
            return
        from cockpit.tui.panes import Banner, BudgetPane, EscalationPane, HeaderBar, PhasePane, PreflightPane, TimelinePane

        yield HeaderBar(id="header")
        yield Banner(id="banner")
        yield Static(id="tabs")
        with Horizontal(id="top"):
            yield PreflightPane(id="preflight", classes="pane")
            yield PhasePane(id="phase", classes="pane")
        with Horizontal(id="middle"):
            yield BudgetPane(id="budget", classes="pane")
            yield EscalationPane(id="escalation", classes="pane")
        yield TimelinePane(id="timeline", classes="pane")
        yield Footer(show_command_palette=True, compact=True)

    def _frame(self) -> ComposeResult:
        """The same boxes, empty, and one line saying what is loading; the footer offers quit only."""
        yield Static(id="header")
        yield Static(Text(f" {visible(self.loading)}…", "bold"), id="banner")
        yield Static(id="tabs")
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

    def on_mount(self) -> None:
        self._themes()
        if self.engine is None:
            self._layout(self.size.width, self.size.height)
            self.call_after_refresh(self.run_worker, self._load, thread=True, group="load", exit_on_error=False)
            return
        self._start()
        if self.loaded is not None:  # loaded before the screen (load_now)
            self._greet(self.loaded)

    def _themes(self) -> None:
        themes, errors = load_themes(self._themes_dir)
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

    def _start(self) -> None:
        """The panes follow the engine: today's screen from here on."""
        if self.observer:
            self.screen.add_class("observer")
        self.engine.subscribe(lambda record: self.refresh_view())
        if hasattr(self.feed, "subscribe"):
            self.feed.subscribe(self._evaluated)
        self._layout(self.size.width, self.size.height)
        self.refresh_view()
        if self.watch:
            if not self.observer:
                self._reconcile()
            self.set_interval(self.tick_s, self._tick)
            if self.guard is not None:
                self.run_worker(self.guard.run(), group="guard", exit_on_error=False)

    def on_resize(self, event) -> None:
        self._layout(event.size.width, event.size.height)

    def _layout(self, width: int, height: int) -> None:
        """Below 110x34 the panes become tabs (keys 1-5); above, all of them are on screen."""
        compact = width < 110 or height < 34
        self.screen.set_class(compact, "compact")
        for name in PANES:
            self.query_one(f"#{name}").set_class(compact and name == self._pane, "shown")
        for box in ("#top", "#middle"):
            container = self.query_one(box)
            container.set_class(any(c.id == self._pane for c in container.children), "holds-shown")
        self._draw_tabs()

    def _draw_tabs(self) -> None:
        """Tabs for the compact layout; a tab whose pane holds a breach, a fire or blindness
        carries that pane's badge, so it shows while another tab is open."""
        if self.engine is None:
            return  # while loading: the one pane's box, no tabs to switch to
        badges = getattr(self, "_badges", {})
        colors = self.view_colors()
        tabs = Text(" ")
        for i, name in enumerate(PANES):
            style = "bold reverse" if name == self._pane else ""
            if i:
                tabs.append("│", colors.muted)
            tabs.append(f" {i + 1} {name.capitalize()} ", style)
            if name in badges:
                mark, role = badges[name]
                tabs.append(f"{mark} ", f"bold {colors.style(role).replace('reverse', '')}".strip())
        self.query_one("#tabs", Static).update(tabs)

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
        from cockpit.tui.view import Palette, View

        variables = self.theme_variables if not self.no_color else {}
        return View(
            plan=self.engine.plan,
            state=self.engine.state,
            live=self.feed.latest() if self.feed is not None else None,
            sight=self._sight(),
            now=self.engine.clock.now(),
            running=frozenset(self.engine.running_checks),
            observer=self.observer,
            who=self.who,
            colors=Palette.from_variables(variables),
            busy=self.busy,
            banner=self.banner,
        )

    def refresh_view(self) -> None:
        if self.engine is None:
            return
        from cockpit.tui.panes import Rows

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
        if not self.watch:
            self.refresh_view()

    def _tick(self) -> None:
        """Once a second: fold in what the guard and other terminals journaled, keep a guard
        running (captain), and move the clocks on."""
        try:
            self.engine.refresh()
        except Exception as e:  # a tampered or unreadable journal: say so loudly, keep the screen
            self.notify(str(e), title="Journal", severity="error", timeout=30)
        if self.keeper is not None and not self.observer:
            try:
                said = self.keeper(self.engine.state)
            except Exception as e:  # noqa: BLE001 - the screen outlives a failed spawn, and says so
                said = f"cannot start a guard: {e}"
            if said:
                self.notify(said, title="Guard", severity="warning", timeout=12)
        self._release_memory()
        seen = self._inputs()
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

    def _inputs(self) -> tuple:
        """Everything the screen is drawn from, as identities: the journal's position, the guard's
        round (the feed hands back the same object until a new one is published), the clock (a
        stopped clock, as a finished demo's, stays equal), what the screen shows of the guard (its
        own sight of it, judged: a dead guard's age runs on unseen), what runs here and the theme."""
        from cockpit.core.guardsight import shown

        live = self.feed.latest() if self.feed is not None else None
        return (self.engine.state.seq, live, self.engine.clock.now(), shown(self.engine.plan, self.engine.state, live, self._sight()),
                self.busy, frozenset(self.engine.running_checks), self.theme, self.no_color)

    def _sight(self):
        """What this screen sees of the guard for itself (the feed's: the lock's holder, the round's age)."""
        return self.feed.sight() if self.feed is not None else None

    @work(group="reconcile", exit_on_error=False)
    async def _reconcile(self) -> None:
        """On start-up, the gateway read back against the journal; a disagreement is said loudly."""
        outcome = await self.engine.reconcile()
        if not outcome.ok and outcome.reasons:
            self.notify("\n".join(outcome.reasons), title="Gateway vs journal", severity="error", timeout=30)

    # -- safety: what this terminal may do -----------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """An observer has no mutating action; a captain only those the rollout's state offers
        (after a rollback: tick the checklist and note, never Advance or Start). While the plan
        loads, nothing but quit (the command palette included)."""
        if self.engine is None:
            return action in WHILE_LOADING
        from cockpit.core.readmodel import available_actions

        if action in MUTATING and (self.observer or action not in available_actions(self.engine.state)):
            return False
        return True

    def _loading(self) -> bool:
        """Every action but quit checks: nothing can be done before the plan has validated."""
        if self.engine is None:
            self.notify(f"{self.loading}: nothing can be done yet", title="Loading", severity="warning")
            return True
        return False

    def _refused_here(self) -> bool:
        """Each mutating action checks again: buttons and palette hits reach methods directly."""
        if self._loading():
            return True
        if self.observer:
            from cockpit.engine import READ_ONLY

            self.notify(READ_ONLY, title="Observer", severity="warning")
            return True
        return False

    def _report(self, title: str, outcome: Outcome) -> None:
        if outcome.unjournaled:  # the gateway moved; the journal did not take what followed
            self.notify("\n".join(outcome.reasons), title=f"{title}: JOURNAL NOT WRITTEN", severity="error", timeout=30)
        elif not outcome.ok and outcome.reasons:
            self.notify("\n".join(outcome.reasons), title=f"{title} refused", severity="error", timeout=12)

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
        task = asyncio.ensure_future(self.engine.run_preflight(check_id))
        await asyncio.sleep(0)  # let the checks start, so the pane shows them running
        self.refresh_view()
        self._report("Preflight", await task)

    def action_waive(self) -> None:
        if self._refused_here():
            return
        from cockpit.tui.dialogs import FormDialog

        checks = [(c.name, c.id) for c in self.engine.plan.preflight]
        fields = [("check", "Check to waive", checks), ("reason", "Reason (journaled)", "")]
        self.push_screen(FormDialog("Waive a preflight check", fields, "Waive"), self._waived)

    def _waived(self, values: dict | None) -> None:
        if values:
            self._report("Waiver", self.engine.waive(values["check"], values["reason"]))

    def action_sign_off(self) -> None:
        if self._refused_here():
            return
        from cockpit.tui.dialogs import FormDialog

        plan = self.engine.plan
        missing = [(plan.role_title(r), r) for r in plan.sign_offs if r not in self.engine.state.sign_offs]
        if not missing:
            self.notify("every sign-off is recorded", title="Sign-off")
            return
        fields = [("role", "Role", missing), ("name", "Signed by (name)", ""), ("note", "Note", "approved")]
        self.push_screen(FormDialog("Record a sign-off", fields), self._signed)

    def _signed(self, values: dict | None) -> None:
        if values:
            self._report("Sign-off", self.engine.sign_off(values["role"], values["name"], values["note"]))

    def action_start(self) -> None:
        if self._refused_here():
            return
        from cockpit.core import rules
        from cockpit.tui.dialogs import Confirm

        if reasons := rules.start_refusals(self.engine.state, self.engine.clock.now()):
            self.notify("\n".join(reasons), title="Start refused", severity="error", timeout=12)
            return
        first = self.engine.plan.phases[0]
        self.push_screen(
            Confirm("Start the rollout?", f"{first.name}: the canary takes {first.weight} % of traffic.", "Start"),
            lambda yes: self._command("Start", self.engine.start, "starting") if yes else None,
        )

    def action_advance(self) -> None:
        """The core's refusal reasons at once; a step the core allows is confirmed first."""
        if self._refused_here():
            return
        from cockpit.core import rules
        from cockpit.tui.dialogs import Confirm

        state = self.engine.state
        if reasons := rules.advance_refusals(state, self.engine.clock.now()):
            self.notify("\n".join(reasons), title="Advance refused", severity="error", timeout=12)
            return
        nxt = rules.next_phase(state)
        if nxt is None:
            title, message, yes = "Complete the rollout?", "Final validation passed: the canary is the release.", "Complete"
        else:
            phase = self.engine.plan.phases[nxt]
            title, yes = f"Advance to {phase.name}?", "Advance"
            message = f"The canary goes from {state.weight} % to {phase.weight} % of traffic."
        self.push_screen(
            Confirm(title, message, yes),
            lambda ok: self._command("Advance", self.engine.advance, "advancing") if ok else None,
        )

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
        if self._refused_here():
            return
        from cockpit.tui.dialogs import GateDialog

        if self.engine.state.phase is None:
            self.notify("no phase is soaking yet", title="Go/No-Go refused", severity="error")
            return
        self.push_screen(GateDialog(self.view, self.engine.decide))

    def action_kill(self) -> None:
        if self._refused_here():
            return
        from cockpit.core import rules
        from cockpit.tui.dialogs import KillDialog

        if reasons := rules.kill_refusals(self.engine.state):
            self.notify("\n".join(reasons), title="Kill refused", severity="error", timeout=12)
            return
        r = self.engine.plan
        self.push_screen(KillDialog(r.release.version, r.kill_switch.flag, self.engine.state.weight), self._kill_confirmed)

    def _kill_confirmed(self, order) -> None:
        if order is not None:
            self._kill(order.reason)  # a worker: the screen keeps drawing, keys keep flowing

    @work(exclusive=True, group="kill", exit_on_error=False)
    async def _kill(self, reason: str) -> None:
        self.busy = "KILL SENT"
        self.refresh_view()
        try:
            outcome = await self.engine.kill(reason)
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
        from cockpit.core.readmodel import checklist, checklist_steps_open
        from cockpit.tui.dialogs import FormDialog

        steps = checklist_steps_open(checklist(self.engine.plan, self.engine.state))
        if not steps:
            self.notify("no rollback step waits for a tick", title="Rollback checklist")
            return
        fields = [("step", "Step", steps), ("what", "What was done (journaled)", "")]
        self.push_screen(FormDialog("Tick a rollback step", fields, "Tick"), self._ticked)

    def _ticked(self, values: dict | None) -> None:
        from cockpit.core.readmodel import CHECKLIST_PREFIX

        if values:
            self._report("Checklist", self.engine.note(f"{CHECKLIST_PREFIX}{values['step']}: {values['what']}"))

    def action_post_deploy(self) -> None:
        """Tick an item of the post-deployment plan off (after completion): journaled with who did it."""
        if self._refused_here():
            return
        from cockpit.core.postdeploy import rows

        from cockpit.tui.dialogs import FormDialog

        open_items = [(f"{r.name} ({r.word})", r.id) for r in rows(self.engine.state, self.engine.clock.now()) if r.state != "done"]
        if not open_items:
            self.notify("every post-deployment item is done", title="Post-deployment plan")
            return
        fields = [("item", "Item", open_items), ("name", "Done by (name)", ""), ("note", "What shows it (journaled)", "")]
        self.push_screen(FormDialog("Tick a post-deployment item", fields, "Done"), self._post_deployed)

    def _post_deployed(self, values: dict | None) -> None:
        if values:
            self._report("Post-deployment", self.engine.post_deploy_done(values["item"], values["name"], values["note"]))

    def action_ack(self) -> None:
        """Acknowledge a page from the escalation pane: the incident stops climbing (journaled;
        the guard tells every channel it paged, PagerDuty included)."""
        if self._refused_here():
            return
        from cockpit.tui.dialogs import FormDialog

        waiting = [(f"{i.id} {i.level}: {i.reason}"[:60], i.id) for i in self.engine.state.incidents.values()
                   if i.open and not i.acknowledged]
        if not waiting:
            self.notify("no page waits for an acknowledgement", title="Acknowledge")
            return
        fields = [("incident", "Incident", waiting), ("name", "Acknowledged by (name)", "")]
        self.push_screen(FormDialog("Acknowledge a page", fields, "Acknowledge"), self._acked)

    def _acked(self, values: dict | None) -> None:
        if values:
            self._report("Acknowledge", self.engine.acknowledge(values["incident"], values["name"], via="screen"))

    def action_note(self) -> None:
        if self._refused_here():
            return
        from cockpit.tui.dialogs import FormDialog

        self.push_screen(FormDialog("Add a note to the journal", [("text", "Note", "")], "Add"), self._noted)

    def _noted(self, values: dict | None) -> None:
        if values:
            self._report("Note", self.engine.note(values["text"]))

    def check_chatops(self, line: str) -> None:
        """The seed's ChatOps approval, checked field by field against the plan (read-only)."""
        if self._loading():
            return
        from cockpit.commands import chatops_mismatches

        problems = chatops_mismatches(self.engine.plan, line)
        if problems:
            self.notify("\n".join(problems), title="ChatOps line does NOT match the plan", severity="error", timeout=15)
            return
        self.notify(line, title="ChatOps approval matches the plan", timeout=10)
        if not self.observer:
            self.engine.note(f"ChatOps approval checked against the plan: {line}")

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
        from cockpit.narrate import say
        from cockpit.tui.journal_view import JournalScreen, journal_lines

        v = self.view()
        self.push_screen(JournalScreen(journal_lines(self.engine.journal.records, self.engine.state.plan, say), v.style))

    def action_help(self) -> None:
        """Every key with its full label (and whether this terminal may use it now), and a
        legend for every symbol and word the panes use."""
        if self._loading():
            return
        from cockpit.core.readmodel import LEGEND
        from cockpit.tui.dialogs import HelpScreen


        rows = []
        for binding in self.BINDINGS:
            if binding.action.startswith("pane("):
                continue
            label = self.FULL_LABELS.get(binding.action, binding.description)
            allowed = self.check_action(binding.action, ())
            why = "" if allowed else ("captain only" if self.observer else "not in this state")
            rows.append((binding.key.replace("question_mark", "?"), label, why))
        rows.append(("1-5", "Show one pane (compact layout, below 110x34)", ""))
        rows.append(("ctrl+p", "Command palette: every action, and the ChatOps line checked", ""))
        self.push_screen(HelpScreen(rows, self.observer, LEGEND))

    async def action_quit(self) -> None:
        """Ctrl+Q and the command palette's Quit ask as q does while the rollout is live."""
        self.action_quit_cockpit()

    def action_quit_cockpit(self) -> None:
        if self.engine is None or self.observer or not self.engine.state.live:
            self.exit()
            return
        from cockpit.tui.dialogs import Confirm

        guard = self.view().model.guard
        if self.guard is not None:
            why = "The rollout is live and its guard runs in this process: quitting stops the watch on the triggers."
        elif guard.guarded:
            why = f"The rollout is live. Guard {guard.guard} keeps watching the triggers and rolls back on its own."
        else:
            why = "The rollout is live and NO GUARD is running: triggers are not watched and nothing rolls back on its own."
        self.push_screen(
            Confirm("Quit the cockpit?", why, "Quit"),
            lambda quit_: self.exit() if quit_ else None,
        )
