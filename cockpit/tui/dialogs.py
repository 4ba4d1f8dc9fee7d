"""Modal dialogs: the confirmed kill switch, go/no-go, waiver, sign-off, note, quit and help.

What a dialog shows from the plan, the journal or a server is text, never markup, with its
control and bidi characters shown (core.visible): `text_label(...)`, `Text(visible(...))`.

Dialogs collect input and return typed results; the app calls the engine. The gate dialog is
the exception: it records each owner's decision as it is made (partial decisions persist).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def text_label(text: str, **kw) -> Label:
    """A label of text that may come from the plan, the journal or a server: no markup, nothing hidden."""
    return Label(visible(text), markup=False, **kw)


def options(spec: list) -> list:
    """A Select's (prompt, value) pairs with each prompt shown as text (an incident's reason, a role's title)."""
    return [(Text(visible(str(prompt))), value) for prompt, value in spec]


class Dialog(ModalScreen):
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


@dataclass(frozen=True)
class KillOrder:
    reason: str


class KillDialog(Dialog):
    """Type the release version to pull the kill switch (GitHub's delete-repository dialog).

    Focus starts in the version field, so typed keys land there; the Kill button stays disabled
    until the text matches exactly; Enter on the right text pulls at once (in an emergency the
    captain types the version and Enter, and nothing must look done that is not), Tab first adds
    a reason; Enter on a wrong text changes nothing and says so; Escape cancels. The placeholder
    says what to type and does not look like a value."""

    def __init__(self, version: str, flag: str, weight: int):
        super().__init__(classes="dialog danger")
        self.version, self.flag, self.weight = version, flag, weight

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


class GateDialog(Dialog):
    """One phase's gate: its criteria with live status, and each owner role's decision."""

    def __init__(self, app_view, decide):
        super().__init__()
        self._view = app_view  # callable returning the current View
        self._decide = decide  # callable(role, decision, name, note) -> Outcome

    def compose(self) -> ComposeResult:
        v = self._view()
        spec = v.plan.phases[v.state.phase]
        owners = options([(v.plan.role_title(o), o) for o in spec.gate.owners])
        with Vertical(id="box"):
            yield text_label(f"GO / NO-GO: {spec.name} gate ({spec.weight} %)", id="title")
            with VerticalScroll(id="gate-scroll"):
                yield Static(self._summary(), id="summary")
            with Horizontal(classes="row"):
                yield Select(owners, value=(self._waiting() or [owners[0][1]])[0], allow_blank=False, id="role")
                yield Input(placeholder="type who decides (a name)", id="name")
            yield Input(placeholder="note (optional; attests the manual criteria)", id="note")
            yield Static("", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("NO-GO", id="nogo", variant="error")
                yield Button("GO", id="go", variant="success")

    def initial_focus(self) -> str:
        """The name field: typed keys land in it; GO and NO-GO need a name, so a stray Enter records nothing."""
        return "#name"

    def _waiting(self) -> list[str]:
        """The owner roles of this gate with no decision yet, in the plan's order."""
        v = self._view()
        gate = v.state.gates.get(v.state.phase)
        decided = gate.decisions if gate else {}
        return [o for o in v.plan.phases[v.state.phase].gate.owners if o not in decided]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # Enter never decides: GO and NO-GO are pressed on purpose
        error = self.query_one("#error", Static)
        if not self.query_one("#name", Input).value.strip():
            error.update(Text("type who decides, then press GO or NO-GO: nothing was recorded", "bold red"))
        else:
            error.update(Text("press GO or NO-GO to record it (Tab to the buttons)", "bold"))

    def _summary(self) -> Group:
        """The gate's rows from the read model: criteria with their verdicts, and who decided
        what (`Sam (SRE) GO, entered by alice@bastion`)."""
        v = self._view()
        gate = v.model.gate
        t = Table.grid(padding=(0, 1))
        t.add_column(width=1)
        t.add_column()
        t.add_column()
        if gate.stopped:
            t.add_row("·", Text(f"stopped: {gate.stopped}", "bold"), "")
        for c in gate.criteria:
            t.add_row(Text(c.mark, v.style(c.role)), Text(c.name), Text(c.text if c.met is not None else "not evaluated yet", "dim"))
        for m in gate.manual:
            t.add_row("·", Text(m), Text("attested by the owners", "dim"))
        lines: list = [t, Text("")]
        for d in gate.decisions:
            when = f" at {words.clock(d.at)}" if d.at else ""
            note = f": {d.note}" if d.note else ""
            lines.append(Text(f"▸ {d.text}{when}{note}", v.style(d.role)))
        return Group(*lines)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self._record("GO")

    @on(Button.Pressed, "#nogo")
    def _no_go(self) -> None:
        self._record("NO-GO")

    def _record(self, decision: str) -> None:
        role = self.query_one("#role", Select).value
        name = self.query_one("#name", Input).value
        note = self.query_one("#note", Input).value
        outcome = self._decide(role, decision, name, note)
        error = self.query_one("#error", Static)
        if outcome.ok:
            said = f"recorded {decision} for {self._view().plan.role_title(role)}"
            waiting = self._waiting()  # the next owner is the next to decide: one owner never overwrites another
            if waiting:
                self.query_one("#role", Select).value = waiting[0]
                said += f"; next: {self._view().plan.role_title(waiting[0])}"
            else:
                said += "; every owner has decided (Escape closes)"
            error.update(Text(visible(said), "bold"))
            self.query_one("#note", Input).value = ""
            self.query_one("#name", Input).value = ""
            self.query_one("#name", Input).focus()
        else:
            error.update(Text(visible("; ".join(outcome.reasons)), "bold red"))
        self.query_one("#summary", Static).update(self._summary())


# --- small forms ------------------------------------------------------------------------------


class FormDialog(Dialog):
    """A title, a few fields, Cancel and OK. Returns a dict of the fields, or None."""

    def __init__(self, title: str, fields: list[tuple[str, str, object]], ok_label: str = "Record"):
        super().__init__()
        self.title_text, self.fields, self.ok_label = title, fields, ok_label

    def initial_focus(self) -> str:
        """Forms start on their first text field: they record facts, they move no traffic, and a
        stray Enter submits nothing while a required field is empty."""
        first = next((key for key, _label, spec in self.fields if not isinstance(spec, list)), None)
        return f"#{first}" if first else "#cancel"

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield text_label(self.title_text, id="title")
            for key, label, spec in self.fields:
                yield text_label(label)
                if isinstance(spec, list):
                    yield Select(options(spec), value=spec[0][1], allow_blank=False, id=key)
                else:
                    yield Input(value=str(spec or ""), id=key)
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
        for key, _label, _spec in self.fields:
            widget = self.query_one(f"#{key}")
            values[key] = widget.value if not isinstance(widget, Input) else widget.value.strip()
        empty = [label for key, label, spec in self.fields if not isinstance(spec, list) and not values[key]]
        if empty:
            self.query_one("#error", Static).update(Text(visible(f"required: {empty[0]}"), "bold red"))
            return
        self.dismiss(values)


class Confirm(Dialog):
    """A yes/no for a step that changes traffic or leaves the rollout unwatched.

    Focus starts on Cancel; `y` or the button confirms, so one stray key never moves traffic.
    """

    BINDINGS = [Binding("y", "confirm", "Yes", id="dialog.confirm")]

    def __init__(self, title: str, message: str, yes: str):
        super().__init__()
        self.title_text, self.message, self.yes = title, message, yes

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

    def action_dismiss(self) -> None:
        self.dismiss(None)
