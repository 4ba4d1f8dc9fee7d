"""Modal dialogs: the confirmed kill switch, go/no-go, waiver, sign-off, note, quit and help.

What a dialog shows from the plan, the journal or a server is text, never markup, with its
control and bidi characters shown (core.visible): `text_label(...)`, `Text(visible(...))`.

Dialogs collect input and return typed results (cockpit/desk.py's decisions: `KillOrder`,
`GateDecision`, `Waiver`, ...); the app hands them to the desk, which asks the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from cockpit.core import words
from cockpit.core.visible import visible
from cockpit.desk import Choice, GateAsk, GateDecision, KillAsk, KillOrder, Question

T = TypeVar("T")


def text_label(text: str, **kw) -> Label:
    """A label of text that may come from the plan, the journal or a server: no markup, nothing hidden."""
    return Label(visible(text), markup=False, **kw)


def options(choices) -> list:
    """A Select's (prompt, value) pairs with each prompt shown as text (an incident's reason, a role's title)."""
    return [(Text(visible(c.label)), c.value) for c in choices]


class Dialog(ModalScreen[T]):
    """Escape always cancels; focus starts on Cancel so a stray Enter does nothing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    DEFAULT_CLASSES = "dialog"

    def on_mount(self) -> None:
        self.query_one(self.initial_focus()).focus()

    def initial_focus(self) -> str:
        return "#cancel"

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancelled(self) -> None:
        self.dismiss(None)


# --- the kill switch --------------------------------------------------------------------------


class KillDialog(Dialog[KillOrder]):
    """Type the release version to pull the kill switch (GitHub's delete-repository dialog).

    Focus starts in the version field, so typed keys land there; the Kill button stays disabled
    until the text matches exactly; Enter on the right text pulls at once (in an emergency the
    captain types the version and Enter, and nothing must look done that is not), Tab first adds
    a reason; Enter on a wrong text changes nothing and says so; Escape cancels. The placeholder
    says what to type and does not look like a value."""

    def __init__(self, ask: KillAsk):
        super().__init__(classes="dialog danger")
        self.version, self.flag, self.weight = ask.version, ask.flag, ask.weight

    def initial_focus(self) -> str:
        return "#confirm"

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("PULL THE KILL SWITCH", id="title")
            yield Static(
                visible(f"Sets {self.flag}=false at the gateway: the canary goes from {self.weight} % to 0 %, "
                        "and the cockpit reads the gateway back before it says so."),
                classes="explain", markup=False,
            )
            yield text_label(f"Type the release version {self.version}, then Enter pulls it:")
            yield Input(placeholder="type the version here", id="confirm")
            yield Label("Reason (Tab here before Enter; journaled, sent to the channel):")
            yield Input(placeholder="optional: why (e.g. p95 regression on dashboards)", id="reason")
            yield Static("", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Pull kill switch", id="pull", variant="error", disabled=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "confirm":
            matches = event.value.strip() == self.version
            self.query_one("#pull", Button).disabled = not matches
            if matches:
                self.query_one("#error", Static).update("")

    @on(Button.Pressed, "#pull")
    def _pulled(self) -> None:
        self._submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        typed = self.query_one("#confirm", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        error = self.query_one("#error", Static)
        if typed != self.version:
            shown = f"'{typed}'" if typed else "an empty version"
            error.update(Text(visible(f"{shown} is not {self.version}: nothing was changed"), "bold"))
            return
        self.dismiss(KillOrder(reason or "kill switch pulled from the cockpit"))


# --- go / no-go -------------------------------------------------------------------------------


class GateDialog(Dialog[GateDecision]):
    """One phase's gate: its criteria with live status, and one owner role's decision, returned
    typed; the app records it and opens the dialog again on the next owner still waiting."""

    def __init__(self, ask: GateAsk, style: Callable[[str], str], *, said: str = "", error: str = "",
                 kept: GateDecision | None = None):
        """`style(role)`: a read-model role as the theme's style; `said`: what was recorded last;
        `error`: why the last decision was refused (then `kept` is what was typed)."""
        super().__init__()
        self.ask, self.style = ask, style
        self.said, self.error, self.kept = said, error, kept

    def compose(self) -> ComposeResult:
        ask = self.ask
        owners = options(ask.owners)
        role = self.kept.role if self.kept else (ask.waiting or (owners[0][1],))[0]
        with Vertical(id="box"):
            yield text_label(ask.title, id="title")
            with VerticalScroll(id="gate-scroll"):
                yield Static(self._summary(), id="summary")
            with Horizontal(classes="row"):
                yield Select(owners, value=role, allow_blank=False, id="role")
                yield Input(self.kept.name if self.kept else "", placeholder="type who decides (a name)", id="name")
            yield Input(self.kept.note if self.kept else "", placeholder="note (optional; attests the manual criteria)",
                        id="note")
            if self.error:
                yield Static(Text(visible(self.error), "bold red"), id="error")
            else:
                yield Static(Text(visible(self.said), "bold"), id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("NO-GO", id="nogo", variant="error")
                yield Button("GO", id="go", variant="success")

    def initial_focus(self) -> str:
        """The name field: typed keys land in it; GO and NO-GO need a name, so a stray Enter records nothing."""
        return "#name"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # Enter never decides: GO and NO-GO are pressed on purpose
        error = self.query_one("#error", Static)
        if not self.query_one("#name", Input).value.strip():
            error.update(Text("type who decides, then press GO or NO-GO: nothing was recorded", "bold red"))
        else:
            error.update(Text("press GO or NO-GO to record it (Tab to the buttons)", "bold"))

    def _summary(self) -> Group:
        """The gate's rows from the read model: each criterion once, with its verdict in words
        (its name alone while not evaluated), and who decided what (`Sam (SRE) GO, entered by
        alice@bastion`)."""
        gate, style = self.ask.gate, self.style
        t = Table.grid(padding=(0, 1))
        t.add_column(width=1)
        t.add_column()
        if gate.stopped:
            t.add_row("·", Text(f"stopped: {gate.stopped}", "bold"))
        for c in gate.criteria:
            if c.met is None:
                t.add_row(Text(c.mark, style(c.role)), Text.assemble(c.name, ("  not evaluated yet", "dim")))
            else:
                t.add_row(Text(c.mark, style(c.role)), Text(c.text))
        for m in gate.manual:
            t.add_row("·", Text.assemble(m, ("  attested by the owners", "dim")))
        lines: list = [t, Text("")]
        if (j := self.ask.judgment) is not None:  # the judge's latest judgment, and why, metric by metric
            lines.append(Text(j.line, style(j.role)))
            lines += [Text(f"  {m.classification:<8} {m.name}: {m.reason}", style(m.role)) for m in j.metrics]
            lines.append(Text(""))
        for d in gate.decisions:
            when = f" at {words.clock(d.at)}" if d.at else ""
            note = f": {d.note}" if d.note else ""
            lines.append(Text(f"▸ {d.text}{when}{note}", style(d.role)))
        return Group(*lines)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self._decide("GO")

    @on(Button.Pressed, "#nogo")
    def _no_go(self) -> None:
        self._decide("NO-GO")

    def _decide(self, decision: str) -> None:
        role = self.query_one("#role", Select).value
        assert isinstance(role, str)  # allow_blank=False: an owner's role is always chosen
        self.dismiss(GateDecision(role, decision, self.query_one("#name", Input).value,
                                  self.query_one("#note", Input).value))


# --- small forms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A form's field: its key (the decision's attribute), its label, and either choices (a
    list to pick from) or a text to type (`value` prefilled)."""

    key: str
    label: str
    choices: list[Choice] | None = None
    value: str = ""


class FormDialog(Dialog[T], Generic[T]):
    """A title, a few fields, Cancel and OK. Returns `make(**fields)` (a desk decision), or None."""

    def __init__(self, title: str, fields: list[Field], make: Callable[..., T], ok_label: str = "Record"):
        super().__init__()
        self.title_text, self.fields, self.make, self.ok_label = title, fields, make, ok_label

    def initial_focus(self) -> str:
        """Forms start on their first text field: they record facts, they move no traffic, and a
        stray Enter submits nothing while a required field is empty."""
        first = next((f.key for f in self.fields if f.choices is None), None)
        return f"#{first}" if first else "#cancel"

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield text_label(self.title_text, id="title")
            for f in self.fields:
                yield text_label(f.label)
                if f.choices is not None:
                    yield Select(options(f.choices), value=f.choices[0].value, allow_blank=False, id=f.key)
                else:
                    yield Input(value=f.value, id=f.key)
            yield Static("", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self.ok_label, id="ok", variant="success")

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self._submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        values = {}
        for f in self.fields:
            widget = self.query_one(f"#{f.key}")
            assert isinstance(widget, Input | Select)  # compose: a Select for a field with choices, else an Input
            values[f.key] = widget.value if not isinstance(widget, Input) else widget.value.strip()
        empty = [f.label for f in self.fields if f.choices is None and not values[f.key]]
        if empty:
            self.query_one("#error", Static).update(Text(visible(f"required: {empty[0]}"), "bold red"))
            return
        self.dismiss(self.make(**values))


class Confirm(Dialog[bool]):
    """A yes/no for a step that changes traffic or leaves the rollout unwatched.

    Focus starts on Cancel; `y` or the button confirms, so one stray key never moves traffic.
    """

    BINDINGS = [Binding("y", "confirm", "Yes", id="dialog.confirm")]

    def __init__(self, question: Question):
        super().__init__()
        self.title_text, self.message, self.yes = question.title, question.message, question.yes

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield text_label(self.title_text, id="title")
            yield Static(visible(self.message, newlines=True), classes="explain", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")

    @on(Button.Pressed, "#yes")
    def action_confirm(self) -> None:
        self.dismiss(True)


class HelpScreen(ModalScreen):
    """Every binding, with what it does, and a legend for every symbol and word on screen."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]
    DEFAULT_CLASSES = "dialog"

    def __init__(self, rows: list[tuple[str, str, str]], observer: bool, legend: tuple[tuple[str, str], ...] = ()):
        super().__init__()
        self.rows, self.observer, self.legend = rows, observer, legend

    def compose(self) -> ComposeResult:
        t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        t.add_column("key", no_wrap=True)
        t.add_column("what it does", ratio=1)
        t.add_column("", no_wrap=True)
        for key, description, why in self.rows:
            t.add_row(key, description, Text(why, "dim"))
        legend = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        legend.add_column("on screen", no_wrap=True)
        legend.add_column("means", ratio=1)
        for symbol, meaning in self.legend:
            legend.add_row(symbol, meaning)
        with Vertical(id="box"):
            yield Label("Help" + (" (OBSERVER: read-only)" if self.observer else "") + " · Escape closes", id="title")
            with VerticalScroll(id="help-scroll"):
                yield Static(t, id="keys")
                yield Static(legend, id="legend")

    async def action_dismiss(self, result: object = None) -> None:
        self.dismiss(None)
