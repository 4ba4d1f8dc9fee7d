"""The cockpit's panes. Each lays out rows of the core's read model (View.model) and repaints only
on change; no pane decides a rollout rule (state words, marks, thresholds and roles come built).

The read model's texts come with control and bidi characters shown (core.visible); what a pane
reads from the plan or the state itself goes through `visible` here. Every cell is a Text, never
a str: a str in a Rich table is markup, and a `[` in a server's error is a bracket."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.binding import Binding

from cockpit.core import words
from cockpit.core.readmodel import DOT, FAIL, PASS, WAIT
from cockpit.core.visible import visible
from cockpit.tui.rows import Pane, Rows, text_key
from cockpit.tui.view import View, bar, sparkline

if TYPE_CHECKING:
    from cockpit.tui.app import CockpitApp


class Spread:
    """One row: `left` cut with an ellipsis, `right` whole and flush right. What a two-column
    `Table.grid(expand=True)` (ratio=1, no_wrap, ellipsis | right, no_wrap) lays out, segment for
    segment, without measuring a table: the header's rows change every second."""

    def __init__(self, left: Text, right: Text):
        self.left, self.right = left, right

    def table(self) -> Table:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(self.left, self.right)
        return grid

    def __rich_console__(self, console, options):
        right_width = self.right.cell_len
        left_width = options.max_width - right_width
        if left_width < 1 or right_width < 1 or "\n" in self.left.plain or "\n" in self.right.plain:
            yield self.table()  # no room for the left cell: the table decides, as it always did
            return
        cells = ((self.left, left_width, "left", "ellipsis"), (self.right, right_width, "right", None))
        for text, width, justify, overflow in cells:  # as Table renders each cell
            key = (text_key(text), width, justify, overflow)
            line = _CELLS.get(key)
            if line is None:
                if len(_CELLS) >= 64:  # a clock's cells: one a second, none needed again
                    _CELLS.clear()
                cell = options.update(width=width, justify=justify, no_wrap=True, overflow=overflow, height=None,
                                      highlight=False)
                line = _CELLS[key] = console.render_lines(text, cell, style=Style.null())[0]
            yield from line
        yield Segment.line()

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement.get(console, options, self.table())


# a Spread's cells as rendered, by what they show: the unchanged half is not rendered again
_CELLS: dict[tuple, list[Segment]] = {}


def _live_sig(v: View) -> tuple:
    return (v.state.seq, v.busy, v.colors, int(v.now.timestamp()), v.live.at if v.live else None)


class HeaderBar(Rows):
    """Release, phase and weight, mode badge, UTC clock and the health of every connection."""

    def signature(self, v: View) -> object:
        health = tuple((h.ok, h.since) for h in v.live.health.values()) if v.live else ()
        return (*_live_sig(v), health, self.size.width, v.banner, v.model.demo, v.model.guard)

    def on_resize(self) -> None:
        app = cast("CockpitApp", self.app)  # the panes are CockpitApp's
        self.call_after_refresh(app.refresh_view)  # narrow or wide wording follows the width

    def draw(self, v: View):
        plan, s = v.plan, v.state
        r = plan.release
        narrow = (self.size.width or self.app.size.width) < 100  # the whole width: known before the header is laid out
        top = Text.assemble(
            (visible(f" {r.name} {r.version} "), "bold"),
            (visible(f" {r.environment}/{r.region}"), ""),
            (visible(f" {r.data_residency}") if r.data_residency else "", v.colors.muted),
            no_wrap=True,
            overflow="ellipsis",
        )
        # the journal's word: no picture of a demo passes for production
        if v.observer and (demo := v.banner or v.model.demo):
            badge = (f" {demo} · OBSERVER ", f"bold reverse {v.colors.stale}")
        elif v.observer:
            badge = (" OBSERVER read-only ", "bold reverse")
        elif v.banner:  # the captain's demo: `cockpit demo` says it
            badge = (f" {v.banner} ", f"bold reverse {v.colors.stale}")
        else:
            badge = (" CAPTAIN " if narrow else visible(f" CAPTAIN {v.who} "), "bold reverse")
        right = Text.assemble(badge, (f" {words.clock(v.now)} ", "bold"), no_wrap=True)
        line1 = Spread(top, right)

        if s.phase is not None:
            spec = plan.phases[s.phase]
            where = visible(f" {spec.name} ({s.phase + 1}/{len(plan.phases)})")
        else:
            where = " Preflight" if s.status == "preflight" else " Starting"
        left = Text.assemble((where, "bold"), ("  canary ", ""), (f"{s.weight} %", "bold"))
        if v.busy:
            left.append(f"  {v.busy}…", style=f"bold {v.colors.stale}")
        health = Text()
        if v.live is not None:
            for name, h in v.live.health.items():
                name = {"prometheus": "prom", "gateway": "gw"}.get(name, name) if narrow else name
                if h.ok is None:
                    word, style = "n/a", v.colors.muted
                elif h.ok:
                    word, style = ("" if narrow else "ok"), v.colors.ok
                else:
                    age = f" {words.duration(v.now - h.since)}" if h.since else ""
                    word, style = f"DOWN{age}", f"bold {v.colors.breach}"
                health.append(visible(f"  {name} "), "")
                health.append(f"{DOT} {word}".rstrip(), style)
        g = v.model.guard
        if g.guarded:
            who = "" if narrow else f" {g.guard}"
            health.append("  guard", "")
            health.append(f" {DOT}{who} {g.short.removeprefix(f'guard {DOT} ')}", v.colors.ok)
        elif g.needed:
            health.append("  ")
            health.append(f" {g.text} ", v.style("alarm"))
        else:  # "none", or "stopped 14:32:10"
            health.append("  guard ")
            health.append(g.short.removeprefix("guard "), v.colors.muted)
        return Group(line1, Spread(left, health))


class Banner(Rows):
    """The headline across every tab: one word first, then what it means; loud while something is wrong."""

    def signature(self, v: View) -> object:
        m = v.model
        return (m.headline, m.banner, m.next_step, v.observer, v.colors, self.size.width)

    def on_resize(self) -> None:
        app = cast("CockpitApp", self.app)
        self.call_after_refresh(app.refresh_view)  # a loud line's colour spans the width it now has

    def draw(self, v: View):
        m = v.model
        head = m.headline
        style = (v.style(head.role) if not head.alarming
                 else v.style("alarm" if head.role in ("breach", "alarm") else head.role))
        if head.role == "warn":
            style = f"bold reverse {v.colors.stale}"
        said = head.text
        step = m.next_step
        if head.step and step is not None and not v.observer:  # only a captain can take the step: its key
            key = next((b.key for b in self.app.BINDINGS
                        if isinstance(b, Binding) and b.action == step.action), "")
            said += f", press {key} to {step.text}" if key else ""
        text = Text(f" {said} ", style, no_wrap=True, overflow="ellipsis")
        if len(m.banner) > 1:
            text.append("  " + "  ·  ".join(m.banner[1:]) + " " * max(0, self.size.width), style)
        elif head.alarming:
            text.append(" " * max(0, self.size.width), style)
        return text


class PreflightPane(Pane):
    TITLE = "Preflight & sign-offs"

    def signature(self, v: View) -> object:
        return (v.state.seq, v.running, v.colors)

    def draw(self, v: View):
        m = v.model
        t = Table.grid(padding=(0, 1), expand=True)
        t.add_column(width=1)
        t.add_column(min_width=16, no_wrap=True)
        t.add_column(width=7, no_wrap=True)
        t.add_column(width=10, no_wrap=True)  # words.clock (14:03:07Z) and a space
        t.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for row in m.checks:
            style = v.style(row.role)
            t.add_row(Text(row.mark, style), Text(row.name), Text(row.word, style), Text(row.at, v.colors.muted),
                      Text(row.detail))
        signed = sum(1 for r in m.sign_offs if r.word == "signed")
        t.add_row("", "", "", "", "")
        t.add_row("", Text(f"Sign-offs {signed}/{len(m.sign_offs)}", "bold"), "", "", "")
        for sign_off in m.sign_offs:
            style = v.style(sign_off.role)
            t.add_row(Text(sign_off.mark, style), Text(sign_off.title), Text(sign_off.word, style),
                      Text(sign_off.at, v.colors.muted), Text(sign_off.name))
        return t


class PhasePane(Pane):
    TITLE = "Phases, triggers & gate"

    def signature(self, v: View) -> object:
        """What it shows, not when: the soak line as written (it moves once a second only while it
        counts down), and the rows the read model built (a new guard round alone repaints nothing)."""
        s, m = v.state, v.model
        return (s.seq, s.status, s.phase, v.busy, v.colors, self.size.width, v.observer,
                self._soak(v).plain, m.phase, m.triggers, m.checklist, m.gate, self._post_deploy_rows(v))

    def draw(self, v: View):
        s, m = v.state, v.model
        assert m.phase is not None  # read_model always builds the phase track
        parts: list[RenderableType] = []
        track = Text(" ")  # the read model's track: `▶25%` soaking, `✗25%` where a kill stopped it
        for i, step in enumerate(m.phase.track):
            if i:
                reached = step.state != "ahead"
                track.append(" ━━━ " if reached else " ─── ", v.colors.ok if reached else v.colors.muted)
            if step.state in ("soaking", "stopped"):
                track.append(step.text, f"bold reverse {v.colors.ok if step.state == 'soaking' else v.colors.breach}")
            else:
                track.append(step.text, v.style(step.role))
        parts.append(track)
        if not (s.kill and v.model.soak.stopped):  # after a kill, the kill line says why the soak stopped
            parts.append(self._soak(v))
        if s.kill:
            parts.append(self._kill(v))
        if m.checklist and s.status != "killing":
            parts.append(self._checklist(v))
        if s.status == "completed" and (rows := self._post_deploy_rows(v)):
            parts.append(self._post_deploy(v, rows))
        parts.append(self.drawn("triggers", (m.triggers, v.colors, self.size.width), lambda: self._triggers(v)))
        stopped = [r.name for r in v.model.triggers if r.state == "stopped"]
        if stopped:  # after a rollback or completion: the triggers that acted above, a count of the rest
            parts.append(Text(f"   {', '.join(stopped)}: stopped", v.colors.muted, no_wrap=True, overflow="ellipsis"))
        parts.append(self.drawn("gate", (m.gate, v.colors), lambda: self._gate(v)))
        return Group(*parts)

    def _soak(self, v: View) -> Text:
        soak = v.model.soak
        if not soak.started:
            return Text(" Soak   not started", v.colors.muted)
        if soak.stopped:
            return Text(f" Soak   stopped: {soak.stopped}", f"bold {v.colors.stale}")
        text = Text(" Soak   ")
        text.append(bar(soak.fraction, 24), v.colors.ok if soak.left_s == 0 else "")
        text.append(f"  {words.duration(soak.left_s)} left of {words.duration(soak.total_s)}" if soak.left_s
                    else "  soak complete", "" if soak.left_s else "bold")
        return text

    def _kill(self, v: View) -> Table:
        k = v.state.kill
        assert k is not None  # drawn only once the kill is pulled (draw)
        if k.result is None:
            head, style = "KILL SENT", f"bold reverse {v.colors.kill}"
        elif k.result.confirmed:
            head, style = f"KILL VERIFIED {words.clock(k.result_at)}", f"bold {v.colors.stale}"
        else:
            head, style = "KILL NOT CONFIRMED", f"bold reverse {v.colors.kill}"
        t = Table.grid(padding=(0, 1), expand=True)  # the reason wraps indented, under itself
        t.add_column(no_wrap=True)
        t.add_column(ratio=1)
        t.add_row(Text(f" {head}", style),
                  Text(visible(v.shown.kill_why), v.colors.muted if k.result and k.result.confirmed else style))
        return t

    def _checklist(self, v: View) -> Table:
        t = Table.grid(padding=(0, 1), expand=True)
        t.add_column(width=2, no_wrap=True)
        t.add_column(no_wrap=True)
        t.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        done = sum(1 for r in v.model.checklist if r.done)
        t.add_row("", Text("Rollback procedure", "bold"), Text(f"{done}/{len(v.model.checklist)} done", v.colors.muted))
        for row in v.model.checklist:
            style = v.style(row.role)
            key = " (c)" if row.manual and not row.done and not v.observer else ""  # only a captain can tick it
            t.add_row(Text(f" {row.mark}", style), Text(row.step, "bold" if row.done is None else ""),
                      Text(row.detail + key, v.colors.muted))
        return t

    @staticmethod
    def _post_deploy_rows(v: View):
        return v.shown.post_deploy

    def _post_deploy(self, v: View, rows) -> Table:
        """The seed's post-deployment plan after completion: due times counted from it, what is done."""
        roles = {"done": "ok", "overdue": "breach", "due_soon": "warn", "open": "plain", "waiting": "muted"}
        t = Table.grid(padding=(0, 1), expand=True)
        t.add_column(width=2, no_wrap=True)
        t.add_column(no_wrap=True, ratio=1, overflow="ellipsis")
        t.add_column(no_wrap=True)
        done = sum(1 for r in rows if r.state == "done")
        t.add_row("", Text("Post-deployment plan", "bold"),
                  Text(f"{done}/{len(rows)} done" + ("" if v.observer else " · c ticks one"), v.colors.muted))
        for r in rows:
            style = v.style(roles[r.state])
            mark = PASS if r.state == "done" else (FAIL if r.state == "overdue" else WAIT)
            when = (f"done {words.stamp(r.done_at)} ({r.done_by})" if r.done_at
                    else f"{r.word} · due {words.stamp(r.due_at)}")
            t.add_row(Text(f" {mark}", style), Text(visible(r.name)), Text(visible(when), style))
        return t

    def _triggers(self, v: View) -> Table:
        wide = self.size.width >= 60 or self.size.width == 0
        rows = tuple(r for r in v.model.triggers if r.state != "stopped")
        t = Table(box=None, padding=(0, 1), expand=True, show_edge=False, header_style="bold")
        t.add_column("", width=1)
        names = [r.name for r in rows]
        t.add_column("Trigger", no_wrap=True, min_width=max([7, *map(len, names)]))
        t.add_column("now", justify="right", no_wrap=True, min_width=6)
        t.add_column("limit", ratio=1, min_width=9)
        t.add_column("breaching", no_wrap=True, min_width=9)
        if wide:
            t.add_column("trend", no_wrap=True, width=10)
        for r in rows:
            style = v.style(r.role)
            cells = [Text(r.mark, style), Text(r.name), Text(r.value, style), Text(r.limit), Text(r.pending, style)]
            if wide:
                cells.append(sparkline(r.history, 10, r.threshold, over=f"bold {v.colors.breach}",
                                       under=v.colors.muted))
            t.add_row(*cells)
        return t

    def _gate(self, v: View) -> Group:
        gate = v.model.gate
        if gate.phase is None:
            return Group(Text(" Gate   —", v.colors.muted))
        head = Text.assemble((f" Gate {gate.name}", "bold"), (f"  owners: {gate.owners}", v.colors.muted))
        if gate.stopped:
            head.append(f"  stopped: {gate.stopped}", f"bold {v.colors.stale}")
        decisions = Text("  ")  # who decided first: it is what the captain waits for
        for d in gate.decisions:
            decisions.append(f"{d.text}  ", v.style(d.role))
        lines = [head, decisions]
        for c in gate.criteria:
            lines.append(Text.assemble((f"  {c.mark} ", v.style(c.role)), c.text, no_wrap=True, overflow="ellipsis"))
        for item in gate.manual:
            lines.append(Text(f"  · {item} (owners attest)", v.colors.muted, no_wrap=True, overflow="ellipsis"))
        return Group(*lines)


class BudgetPane(Pane):
    TITLE = "Budget burn"

    def signature(self, v: View) -> object:
        return (len(v.state.budget_alerts), v.model.budget, v.colors)

    def draw(self, v: View):
        b = v.model.budget
        t = Table(box=None, padding=(0, 1), collapse_padding=True, expand=True, show_edge=False, header_style="bold",
                  pad_edge=False)
        names = [r.name for r in b.rows]
        t.add_column("category", min_width=max([8, *map(len, names)]), no_wrap=True)
        t.add_column("spent of budget", justify="right", no_wrap=True)
        t.add_column("now", justify="right", no_wrap=True)
        t.add_column("month-end", justify="right", no_wrap=True)
        for r in b.rows:
            t.add_row(Text(r.name), Text(r.spent), Text(r.pct), Text(r.projected))
        if b.total is None:
            t.add_row(Text(b.next_alert, v.colors.muted), "", "", "")
            return t
        style = v.style(b.role)
        t.add_row(Text("Total", "bold"), Text(b.total.spent), Text(b.total.pct), Text(b.total.projected, style))
        margin = Text.assemble(("Safety margin ", "bold"), (b.margin, style))
        alert = Text(b.next_alert, v.style(b.next_role))
        foot = Text(f"alerts raised: {b.raised}", v.colors.muted, no_wrap=True, overflow="ellipsis")
        return Group(t, margin, alert, foot)


class EscalationPane(Pane):
    """Each level on two lines: level, name and scope (or why it applies now), then its contacts
    and channel, whole (they wrap rather than cut), with the owners when there is room."""

    TITLE = "Escalation matrix"

    def draw(self, v: View):
        lines: list[RenderableType] = []
        for row in v.model.escalation:
            if row.applies:
                head = Text(f"▶ {row.level} {row.name}: {'; '.join(row.reasons)}", v.style(row.role), no_wrap=True,
                            overflow="ellipsis")
            else:
                head = Text.assemble(("  ", ""), (f"{row.level} {row.name}", "bold"), (f" · {row.scope}", ""),
                                     no_wrap=True, overflow="ellipsis")
            reach = " ".join(row.contacts) + (f" · {row.channel}" if row.channel else "")
            who = Table.grid(padding=(0, 0), expand=True)  # contacts and channel whole: they wrap, indented
            who.add_column(width=4)
            who.add_column(ratio=1)
            who.add_row("", Text(reach, v.colors.muted if not row.applies else ""))
            lines += [head, who]
        return Group(*lines)


class TimelinePane(Pane):
    """The journal's latest events, newest first, so the pane's height only decides how many show."""

    TITLE = "Timeline (journal, newest first)"
    SHOWN = 60

    def draw(self, v: View):
        lines = []
        for line in v.model.timeline[: self.SHOWN]:
            lines.append(Text.assemble((f"{words.clock(line.at)} ", v.colors.muted), (line.text, v.style(line.role)),
                                       no_wrap=True, overflow="ellipsis"))
        return Group(*lines)
