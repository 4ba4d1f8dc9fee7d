"""The cockpit's panes. Each renders one Rich renderable from a View and repaints only on change."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cockpit.core import rules
from cockpit.core.budget import next_alert
from cockpit.core.escalation import active_levels
from cockpit.core.state import STATUS_WORDS
from cockpit.core.triggers import format_duration, format_value
from cockpit.narrate import say, short_name
from cockpit.tui.view import DOT, FAIL, PASS, RUN, WAIT, WAIVED, WARN, View, bar, duration, hhmm, money, sparkline


class Pane(Static):
    """A pane: `signature` says what its picture depends on; it repaints only when that changes."""

    TITLE = ""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.border_title = self.TITLE
        self._signature: object = None

    def signature(self, v: View) -> object:
        return (v.state.seq, v.busy, v.colors)

    def show(self, v: View) -> None:
        sig = self.signature(v)
        if sig != self._signature:
            self._signature = sig
            self.update(self.draw(v))

    def draw(self, v: View):
        raise NotImplementedError


def _status_style(v: View) -> str:
    return {
        "live": f"bold {v.colors.ok}",
        "completed": f"bold {v.colors.ok}",
        "rolled_back": f"bold {v.colors.stale}",
        "killing": f"bold reverse {v.colors.kill}",
        "kill_unconfirmed": f"bold reverse blink {v.colors.kill}",
    }.get(v.state.status, "bold")


class HeaderBar(Pane):
    """Release, phase and weight, mode badge, UTC clock and the health of every connection."""

    def signature(self, v: View) -> object:
        health = tuple((h.ok, h.since) for h in v.live.health.values()) if v.live else ()
        guard = (v.live.guard, v.live.guarded(v.now)) if v.live else None
        return (v.state.seq, v.busy, v.colors, int(v.now.timestamp()), health, guard, self.size.width)

    def on_resize(self) -> None:
        self.call_after_refresh(self.app.refresh_view)  # narrow or wide wording follows the width

    def draw(self, v: View):
        plan, s = v.plan, v.state
        r = plan.release
        top = Text.assemble(
            (f" {r.name} {r.version} ", "bold"),
            (f" {r.environment}/{r.region}", ""),
            (f" {r.data_residency}" if r.data_residency else "", v.colors.muted),
            no_wrap=True,
            overflow="ellipsis",
        )
        badge = (" OBSERVER read-only ", "bold reverse") if v.observer else (f" CAPTAIN {v.who} ", "bold reverse")
        right = Text.assemble(badge, (f" {v.now:%H:%M:%S}Z ", "bold"), no_wrap=True)
        line1 = Table.grid(expand=True)
        line1.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        line1.add_column(justify="right", no_wrap=True)
        line1.add_row(top, right)

        if s.phase is not None:
            spec = plan.phases[s.phase]
            where = f" {spec.name} ({s.phase + 1}/{len(plan.phases)})"
        else:
            where = " Preflight" if s.status == "preflight" else " Starting"
        status = STATUS_WORDS[s.status]
        if s.kill and s.kill.result and s.kill.result.confirmed:
            status = "ROLLED BACK · KILL VERIFIED"
        left = Text.assemble(
            (where, "bold"), ("  canary ", ""), (f"{s.weight} %", "bold"), ("  ", ""), (f" {status} ", _status_style(v))
        )
        if v.busy:
            left.append(f"  {v.busy}…", style=f"bold {v.colors.stale}")
        health = Text()
        narrow = self.size.width < 100
        if v.live is not None:
            for name, h in v.live.health.items():
                name = {"prometheus": "prom", "gateway": "gw"}.get(name, name) if narrow else name
                if h.ok is None:
                    word, style = "n/a", v.colors.muted
                elif h.ok:
                    word, style = ("" if narrow else "ok"), v.colors.ok
                else:
                    age = f" {duration((v.now - h.since).total_seconds())}" if h.since else ""
                    word, style = f"DOWN{age}", f"bold {v.colors.breach}"
                health.append(f"  {name} ", "")
                health.append(f"{DOT} {word}".rstrip(), style)
        health.append_text(self._guard(v, narrow))
        line2 = Table.grid(expand=True)
        line2.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        line2.add_column(justify="right", no_wrap=True)
        line2.add_row(left, health)
        return Group(line1, line2)


    @staticmethod
    def _guard(v: View, narrow: bool) -> Text:
        """Who evaluates the triggers: `guard 4242@bastion 3s`, or a loud UNGUARDED while live."""
        live = v.live
        if live is not None and live.guarded(v.now):
            age = format_duration(live.round_age(v.now) or 0)
            who = "" if narrow else f" {live.guard}"
            return Text.assemble(("  guard", ""), (f" {DOT}{who} {age}", v.colors.ok))
        if v.state.live:
            since = live.round_age(v.now) if live else None
            age = f" {duration(since)}" if since is not None else ""
            return Text.assemble(("  ", ""), (f" UNGUARDED{age} ", f"bold reverse {v.colors.breach}"))
        return Text.assemble(("  guard ", ""), ("none", v.colors.muted))


class PreflightPane(Pane):
    TITLE = "Preflight & sign-offs"

    def signature(self, v: View) -> object:
        return (v.state.seq, v.running, v.colors)

    def draw(self, v: View):
        t = Table.grid(padding=(0, 1), expand=True)
        t.add_column(width=1)
        t.add_column(min_width=16, no_wrap=True)
        t.add_column(width=7, no_wrap=True)
        t.add_column(width=5, no_wrap=True)
        t.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for check in v.plan.preflight:
            cs = v.state.checks.get(check.id)
            if check.id in v.running:
                mark, word, style, detail = RUN, "running", v.colors.stale, ""
            elif cs and cs.waived:
                mark, word, style, detail = WAIVED, "waived", v.colors.stale, f"{cs.waived} ({cs.waived_by})"
            elif cs is None or cs.status == "pending":
                mark, word, style, detail = WAIT, "pending", v.colors.muted, check.description
            else:
                ok = cs.status == "pass"
                mark, word = (PASS if ok else FAIL), cs.status
                style, detail = (v.colors.ok if ok else f"bold {v.colors.breach}"), cs.detail
            at = f"{cs.at:%H:%M}" if cs and cs.at else ""
            t.add_row(Text(mark, style), check.name, Text(word, style), Text(at, v.colors.muted), detail)
        signed = len([r for r in v.plan.sign_offs if r in v.state.sign_offs])
        t.add_row("", "", "", "", "")
        t.add_row("", Text(f"Sign-offs {signed}/{len(v.plan.sign_offs)}", "bold"), "", "", "")
        for role in v.plan.sign_offs:
            sig = v.state.sign_offs.get(role)
            title = v.plan.role_title(role)
            if sig:
                t.add_row(Text(PASS, v.colors.ok), title, Text("signed", v.colors.ok), Text(f"{sig.at:%H:%M}", v.colors.muted), sig.name)
            else:
                t.add_row(Text(WAIT, v.colors.muted), title, Text("missing", v.colors.muted), "", "")
        return t


class PhasePane(Pane):
    TITLE = "Phases, triggers & gate"

    def signature(self, v: View) -> object:
        return (v.state.seq, v.busy, v.colors, int(v.now.timestamp()), v.live.at if v.live else None)

    def draw(self, v: View):
        s, plan = v.state, v.plan
        parts = []
        track = Text(" ")
        for i, ph in enumerate(plan.phases):
            if i:
                done = s.phase is not None and i <= s.phase
                track.append(" ━━━ " if done else " ─── ", v.colors.ok if done else v.colors.muted)
            if s.phase == i:
                track.append(f"▶{ph.weight}%", f"bold reverse {v.colors.ok if s.status == 'live' else v.colors.stale}")
            elif s.phase is not None and i < s.phase:
                track.append(f"{ph.weight}%", v.colors.ok)
            else:
                track.append(f"{ph.weight}%", v.colors.muted)
        parts.append(track)
        parts.append(self._soak(v))
        if s.kill:
            parts.append(self._kill(v))
        parts.append(self._triggers(v))
        parts.append(self._gate(v))
        return Group(*parts)

    def _soak(self, v: View) -> Text:
        s = v.state
        if s.phase is None or s.phase_started_at is None:
            return Text(" Soak   not started", v.colors.muted)
        total = v.plan.phases[s.phase].soak.total_seconds()
        if s.status not in ("live", "killing"):
            return Text(f" Soak   stopped: {STATUS_WORDS[s.status]}", f"bold {v.colors.stale}")
        left = rules.soak_remaining(s, v.now).total_seconds()
        frac = 1 - left / total if total else 1.0
        text = Text(" Soak   ")
        text.append(bar(frac, 24), v.colors.ok if left == 0 else "")
        text.append(f"  {duration(left)} left of {duration(total)}" if left else "  soak complete", "bold" if not left else "")
        return text

    def _kill(self, v: View) -> Text:
        k = v.state.kill
        if k.result is None:
            return Text(f" KILL SENT: {k.reason}", f"bold reverse {v.colors.kill}")
        if k.result.confirmed:
            extra = ""
            if k.verified:
                extra = f"; canary traffic {'~0' if k.verified.ok else 'NOT ~0'}: {k.verified.detail}"
            return Text(f" KILL VERIFIED at {hhmm(k.result_at)}: {k.reason}{extra}", f"bold {v.colors.stale}")
        return Text(
            f" KILL NOT CONFIRMED ({k.result.attempts} attempts): {k.result.error} — ESCALATED TO EMERGENCY",
            f"bold reverse {v.colors.kill}",
        )

    def _triggers(self, v: View) -> Table:
        t = Table(box=None, padding=(0, 1), expand=True, show_edge=False, header_style="bold")
        t.add_column("", width=1)
        t.add_column("Trigger", ratio=1, min_width=14, no_wrap=True, overflow="ellipsis")
        t.add_column("now", justify="right", no_wrap=True, min_width=8)
        t.add_column("limit", no_wrap=True, min_width=9)
        t.add_column("breaching", no_wrap=True, min_width=13, max_width=16, overflow="ellipsis")
        t.add_column("trend", no_wrap=True, width=12)
        m = v.live
        for trig in v.plan.triggers:
            journaled = v.state.triggers.get(trig.id)
            name = short_name(trig.name)
            if m is None or v.state.status == "preflight":
                why = "no guard" if m is None else "armed at start"
                t.add_row(Text(WAIT, v.colors.muted), name, Text("—", v.colors.muted), "", Text(why, v.colors.muted), "")
                continue
            track, stale = m.gauge(trig.id, v.now)
            verdict = track.verdict
            if verdict is None:
                why = "no answer" if track.last_error else ("next check run" if trig.check else "first poll")
                t.add_row(Text(WAIT, v.colors.muted), name, Text("—", v.colors.muted), "", Text(why, v.colors.muted), "")
                continue
            unit = trig.unit
            value = format_value(verdict.value, unit) if verdict.value is not None else "no data"
            limit = f"{verdict.comparison.value} {format_value(verdict.threshold, unit)}".replace(">=", "≥").replace("<=", "≤")
            if trig.check:
                value = "fail" if verdict.value and verdict.value > 0.5 else ("pass" if verdict.value is not None else "no run")
                limit = "check"
            state = verdict.state
            if journaled and journaled.fired or state == "fired":
                mark, style = FAIL, f"bold reverse {v.colors.breach}"
                pending = "FIRED"
            elif state == "breaching":
                mark, style = WARN, f"bold {v.colors.breach}"
                pending = f"{duration(verdict.breaching_for_s)}/{duration(verdict.needed_s)}"
            elif state == "no_data_hold":
                mark, style, pending = WARN, v.colors.stale, "HOLD: no data"
            elif state == "no_data_ignored":
                mark, style, pending = WAIT, v.colors.muted, "no data"
            else:
                mark, style, pending = PASS, v.colors.ok, "—"
            if stale is not None:
                mark, style = "◌", f"bold {v.colors.stale}"
                pending = "STALE " + ("—" if stale == float("inf") else duration(stale))
            t.add_row(Text(mark, style), name, Text(value, style), limit, Text(pending, style), sparkline(track.history))
        return t

    def _gate(self, v: View) -> Group:
        s, plan = v.state, v.plan
        if s.phase is None:
            return Group(Text(" Gate   —", v.colors.muted))
        spec = plan.phases[s.phase]
        owners = " + ".join(plan.role_title(o) for o in spec.gate.owners)
        lines = [Text.assemble((f" Gate {spec.name}", "bold"), (f"  owners: {owners}", v.colors.muted))]
        gate = s.gates.get(s.phase)
        for c in spec.gate.auto:
            ok, detail = v.criterion(c.id)
            mark, style = (WAIT, v.colors.muted) if ok is None else ((PASS, v.colors.ok) if ok else (FAIL, f"bold {v.colors.breach}"))
            shown = (c.name, "") if ok is None else (detail, "")
            lines.append(Text.assemble((f"  {mark} ", style), shown, no_wrap=True, overflow="ellipsis"))
        for m in spec.gate.manual:
            lines.append(Text(f"  {WAIT} {m} (owners attest)", v.colors.muted, no_wrap=True, overflow="ellipsis"))
        decisions = Text("  ")
        for role in spec.gate.owners:
            d = gate.decisions.get(role) if gate else None
            title = plan.role_title(role)
            if d is None:
                decisions.append(f"{title}: waiting  ", v.colors.muted)
            elif d.decision == "GO":
                decisions.append(f"{title}: GO ({d.name})  ", f"bold {v.colors.ok}")
            else:
                decisions.append(f"{title}: NO-GO ({d.name})  ", f"bold {v.colors.breach}")
        lines.append(decisions)
        return Group(*lines)


class BudgetPane(Pane):
    TITLE = "Budget burn"

    def signature(self, v: View) -> object:
        return (len(v.state.budget_alerts), v.live.at if v.live else None, v.colors)

    def draw(self, v: View):
        budget = v.plan.budget
        b = v.live.budget if v.live else None
        t = Table(box=None, padding=(0, 1), expand=True, show_edge=False, header_style="bold")
        t.add_column("category", min_width=9, ratio=1, no_wrap=True, overflow="ellipsis")
        t.add_column("spent of budget", justify="right", no_wrap=True)
        t.add_column("now", justify="right", no_wrap=True)
        t.add_column("month-end", justify="right", no_wrap=True)
        if b is None:
            for c in budget.categories:
                t.add_row(c.name, f"? of {money(c.monthly)}", "", f"{money(c.projected)} plan")
            t.add_row(Text("no spend data yet", v.colors.muted), "", "", "")
            return t
        for c in b.categories:
            pct = c.pct
            t.add_row(
                c.name, f"{money(c.spent)} of {money(c.monthly)}",
                f"{pct:.0f} %" if pct is not None else "?", f"{money(c.projected)} {c.projected_pct:3.0f} %",
            )
        style = v.colors.ok if b.projected_pct < 75 else (v.colors.stale if b.projected_pct < 95 else f"bold {v.colors.breach}")
        known = any(c.spent is not None for c in b.categories)  # no spend data is "?", never "$0"
        t.add_row(
            Text("Total", "bold"), f"{money(b.spent if known else None)} of {money(b.monthly)}",
            f"{b.pct:.0f} %" if known else "?", Text(f"{money(b.projected)} {b.projected_pct:3.0f} %", style),
        )
        nxt = next_alert(b, budget.alerts)
        margin = Text.assemble(("Safety margin ", "bold"), (f"{money(b.safety_margin)} ({100 * b.safety_margin / b.monthly:.0f} %)", style))
        alert = Text(f"next alert at {nxt.at_pct:g} %: {nxt.action}" if nxt else "every alert threshold crossed", v.colors.muted if nxt else f"bold {v.colors.breach}")
        raised = ", ".join(f"{p:g} %" for p in sorted(v.state.budget_alerts)) or "none"
        foot = Text(f"alerts raised: {raised} · {b.month_fraction:.0%} of the month gone", v.colors.muted, no_wrap=True, overflow="ellipsis")
        return Group(t, margin, alert, foot)


class EscalationPane(Pane):
    TITLE = "Escalation matrix"

    def draw(self, v: View):
        active = active_levels(v.state, {t.id: t.level for t in v.plan.triggers})
        lines = []
        for lvl in v.plan.escalation:
            reasons = active.get(lvl.level)
            owners = ", ".join(v.plan.role_title(o) for o in lvl.owners)
            who = Text(f"    {owners} · {' '.join(lvl.contacts)} · {lvl.channel}", v.colors.muted, no_wrap=True, overflow="ellipsis")
            if reasons:
                style = f"bold reverse {v.colors.kill if lvl.level == 'Emergency' else v.colors.breach}"
                head = Text(f"▶ {lvl.level} {lvl.name}: {'; '.join(reasons)}", style, no_wrap=True, overflow="ellipsis")
            else:
                head = Text.assemble(("  ", ""), (f"{lvl.level} {lvl.name}", "bold"), (f"  {lvl.scope}", ""), no_wrap=True, overflow="ellipsis")
            lines += [head, who]
        return Group(*lines)


class TimelinePane(Pane):
    """The journal's latest events, newest first, so the pane's height only decides how many show."""

    TITLE = "Timeline (journal, newest first)"
    SHOWN = 60

    def draw(self, v: View):
        lines = []
        for r in reversed(list(v.state.recent)[-self.SHOWN :]):
            style = ""
            if r.kind in ("kill_requested", "trigger_fired", "escalated") or (r.kind == "kill_result" and not r.payload.confirmed):
                style = f"bold {v.colors.breach}"
            elif r.kind in ("kill_result", "phase_started", "rollout_completed"):
                style = "bold"
            lines.append(Text.assemble((f"{r.ts:%H:%M:%S} ", v.colors.muted), (say(r, v.state.plan), style), no_wrap=True, overflow="ellipsis"))
        return Group(*lines)
