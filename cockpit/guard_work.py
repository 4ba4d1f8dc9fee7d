"""The guard's own work each round: paging, budget alerts, spend controls and the rollout's silence.

Each step journals through the engine it is given; a follower (observer) engine does none of it.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from cockpit.core import events as ev
from cockpit.core import words

if TYPE_CHECKING:
    from cockpit.engine import Engine


def observe_budget(engine: Engine, burn) -> list[ev.Record]:
    """Journal each budget alert threshold the month-to-date spend crossed, once per month,
    and queue its message to the alert's channel (the guard delivers it)."""
    if engine.follower:
        return []
    from cockpit.core.budget import alerts_due, spend_moved
    from cockpit.core.paging import budget_month

    month = budget_month(engine.clock.now())
    already = {pct for pct, a in engine.state.budget_alerts.items() if a.month in (month, "")}
    records = []
    for a in alerts_due(burn, engine.plan.budget.alerts, already):
        records.append(engine.record(ev.BudgetAlerted(
            at_pct=a.at_pct, spent=burn.spent, budget=burn.monthly, channel=a.channel, action=a.action, month=month
        )))
        cur = engine.plan.budget.currency
        text = (f"{engine.plan.release.name} {engine.plan.release.version}: budget at {words.percent(burn.pct)} "
                f"({words.money(burn.spent, cur)} of {words.money(burn.monthly, cur)}, {month}), "
                f"alert {words.percent(a.at_pct)}: {a.action}")
        records.append(engine.record(ev.NotificationQueued(channel=a.channel, purpose="budget", text=text)))
    last = engine.state.spend.spent if engine.state.spend is not None else None
    if spend_moved(last, burn, bool(records)):
        spent = {c.id: c.spent for c in burn.categories if c.spent is not None}
        records.append(engine.record(ev.SpendRead(spent=spent, month=month)))
    return [r for r in records if r is not None]


def paging_policy(engine: Engine):
    from cockpit.core.paging import LevelPolicy, Policy

    return Policy(
        levels=tuple(
            LevelPolicy(lvl.level, tuple(lvl.destinations()),
                        lvl.ack_timeout.total_seconds() if lvl.ack_timeout else None)
            for lvl in engine.plan.escalation
        ),
        release=f"{engine.plan.release.name} {engine.plan.release.version}",
        rollback_channel=engine.plan.kill_switch.notify,
        verify_expected=bool(engine.plan.kill_switch.verify_query) and engine.metrics is not None,
    )


def paging_round(engine: Engine) -> list[ev.Record]:
    """The guard's paging step: open, climb, resolve incidents and queue their messages."""
    if engine.follower:
        return []
    from cockpit.core.paging import round_events

    records = [engine.record(p) for p in round_events(engine.state, paging_policy(engine), engine.clock.now())]
    return [r for r in records if r is not None]


async def manage_silence(engine: Engine, client) -> list[ev.Record]:
    """The rollout's own Alertmanager silence for the noise the plan expects: created once the
    rollout is live (its comment names the rollout), expired when it ends; both journaled.
    Alertmanager lives on the wall clock, so the silence's times are wall-clock times."""
    am = engine.plan.alertmanager
    if engine.follower or client is None or am is None or not am.silence:
        return []
    from datetime import datetime

    from cockpit.adapters.alertmanager import AlertmanagerError

    st, records = engine.state, []
    if st.status == "live" and not st.silences and not engine.silence_failed:
        started = words.stamp(st.started_at)
        digest = st.plan.digest[:12] if st.plan else ""
        comment = (f"cockpit rollout {engine.plan.release.name} {engine.plan.release.version} "
                   f"(plan {digest}, started {started}): expected noise while the canary runs")
        ends = datetime.now(UTC) + am.silence_for
        try:
            silence_id = await client.create_silence(dict(am.silence), ends, comment, created_by=str(engine.actor))
        except AlertmanagerError as e:
            engine.silence_failed = True  # said once, not every round
            records.append(engine.record(ev.Noted(text=f"Alertmanager silence NOT created: {e}")))
            return [r for r in records if r is not None]
        records.append(engine.record(
            ev.SilenceCreated(silence_id=silence_id, matchers=dict(am.silence), ends_at=ends, comment=comment)))
    elif st.status in ("completed", "rolled_back") and st.silences:
        for silence_id in list(st.silences):
            try:
                await client.expire_silence(silence_id)
                records.append(engine.record(ev.SilenceExpired(silence_id=silence_id)))
            except AlertmanagerError as e:
                records.append(engine.record(ev.SilenceExpired(silence_id=silence_id, ok=False, detail=str(e))))
    return [r for r in records if r is not None]


async def run_spend_controls(engine: Engine) -> list[ev.Record]:
    """The 100 % "automatic spend controls": each configured action once per crossing per month."""
    if engine.follower:
        return []
    from cockpit.core.paging import budget_month, spend_controls_due

    month = budget_month(engine.clock.now())
    controls = {a.at_pct: a.spend_control for a in engine.plan.budget.alerts if a.spend_control is not None}
    records = []
    for pct in spend_controls_due(engine.state, set(controls), month):
        from cockpit.adapters.spend import run_spend_control

        ok, status, detail = await run_spend_control(controls[pct])
        records.append(engine.record(ev.SpendControlRan(
            at_pct=pct, month=month, action=controls[pct].describe(), ok=ok, exit_status=status, detail=detail
        )))
    return [r for r in records if r is not None]
