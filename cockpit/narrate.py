"""Journal records in the operator's words, for the timeline, `status` and the headless demo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.escalation import with_names
from cockpit.core.nextstep import NextStep
from cockpit.core.planview import PlanView
from cockpit.core.readmodel import (
    RolloutState,
    incident_acked,
    incident_opened,
    incident_resolved,
    kill_answer,
    kill_pulled,
    kill_traffic,
    step_now,
    trigger_label,
    trigger_names,
)
from cockpit.core.visible import visible

__all__ = ["command", "line", "next_line", "say", "short_name"]


def short_name(name: str) -> str:
    """The metric part of a name: "Error Rate ≥ 2 %" -> "Error Rate", "Security: cross-…" -> "Security"."""
    return trigger_label(name)


def say(record: ev.Record, plan: ev.PlanLoaded | None = None) -> str:
    """One line: what happened, without the time (callers prefix it), with every control and
    bidi character of what a person typed or a server sent shown as an escape (core.visible)."""
    return visible(_said(record, plan))


@dataclass(frozen=True)
class _Said:
    """What a record is worded with: the record, the plan's role titles and trigger names."""

    record: ev.Record
    plan: ev.PlanLoaded | None
    roles: dict[str, str]
    names: dict[str, str]

    @property
    def who(self) -> str:
        return self.record.actor.user

    def trig(self, trigger_id: str) -> str:
        """One name per thing: the plan's trigger name on screen; the id only in the journal."""
        return f"trigger {self.names.get(trigger_id, trigger_id)}"

    def phase(self, i: int) -> str:
        if self.plan and 0 <= i < len(self.plan.phases):
            return self.plan.phases[i].name
        return f"phase {i + 1}"

    def role(self, role: str) -> str:
        return self.roles.get(role, role)

    def named(self, text: str) -> str:
        return with_names(text, self.names)


def _said(record: ev.Record, plan: ev.PlanLoaded | None) -> str:
    words_for = _SAY.get(type(record.payload))
    if words_for is None:
        return f"{record.kind}"
    return words_for(record.payload, _Said(record, plan, plan.roles if plan else {},
                                            trigger_names(plan) if plan else {}))


# --- the rollout ------------------------------------------------------------------------------------


def _plan_loaded(p: ev.PlanLoaded, s: _Said) -> str:
    return f"{s.who} loaded the plan {p.release} {p.version} ({p.environment}/{p.region})"


def _check_ran(p: ev.CheckRan, s: _Said) -> str:
    return f"check {p.check}: {p.status.upper()} - {p.detail}"


def _check_waived(p: ev.CheckWaived, s: _Said) -> str:
    return f"{s.who} waived check {p.check}: {p.reason}"


def _signed_off(p: ev.SignedOff, s: _Said) -> str:
    return f"{p.name} ({s.role(p.role)}) signed off"


def _guard_started(p: ev.GuardStarted, s: _Said) -> str:
    took = f", taking over from dead guard {p.took_over}" if p.took_over else ""
    if p.took_over == f"{p.pid}@{p.host}":  # its own lease, expired while the store did not answer
        took = ""
    why = f" ({p.reason})" if p.reason else ""
    return f"guard {p.pid}@{p.host} evaluates the triggers{took}{why}"


def _shift_result(p: ev.TrafficShiftResult, s: _Said) -> str:
    if p.verified:
        return f"gateway confirmed canary weight {p.weight} %"
    return f"traffic shift to {p.weight} % NOT confirmed: {p.error}"


def _gate_decided(p: ev.GateDecided, s: _Said) -> str:
    note = f": {p.note}" if p.note else ""
    return f"{p.name} ({s.role(p.role)}) {p.decision} for {s.phase(p.phase)}, entered by {s.record.actor}{note}"


def _criterion(p: ev.CriterionEvaluated, s: _Said) -> str:
    return f"{s.phase(p.phase)} criterion {p.criterion} {'met' if p.passed else 'NOT met'}: {p.detail}"


def _judgment(p: ev.JudgmentMade, s: _Said) -> str:
    tail = ": the owners decide" if p.verdict == "Marginal" and p.criteria else ""
    return f"judge ({s.phase(p.phase)}): {p.verdict}, score {words.value(p.score)}{tail} - {p.reason}"


# --- triggers and the kill: the kill in the read model's words (core.readmodel.kill_line) ----------


def _breached(p: ev.TriggerBreached, s: _Said) -> str:
    if p.no_data:
        return f"{s.trig(p.trigger)} holding for want of data: {p.detail}"
    return f"{s.trig(p.trigger)} breaching: {p.detail or words.value(p.value)}"


def _fired(p: ev.TriggerFired, s: _Said) -> str:
    return f"{s.trig(p.trigger)} FIRED ({p.action}, {p.level}): {p.detail}"


def _kill_requested(p: ev.KillRequested, s: _Said) -> str:
    """The kill line as it reads once pulled: `KILL SENT · pulled by trigger Performance`."""
    head, _, _ = kill_answer(None, None)
    return f"{head} · {kill_pulled(s.names, p.trigger, str(s.record.actor), p.reason)}"


def _kill_result(p: ev.KillResult, s: _Said) -> str:
    """The gateway's answer as the kill line says it: `KILL VERIFIED 14:00:15Z · the gateway reads ...`."""
    head, detail, _ = kill_answer(p, s.record.ts)
    return f"{head} · {detail}"


def _rollback_verified(p: ev.RollbackVerified, s: _Said) -> str:
    return kill_traffic(p, True)


# --- paging and notices: incidents in the read model's words (core.readmodel.incident_rows) ---------


def _incident_opened(p: ev.IncidentOpened, s: _Said) -> str:
    return incident_opened(p.incident, p.level, s.named(p.reason), s.record.ts)


def _incident_escalated(p: ev.IncidentEscalated, s: _Said) -> str:
    return f"{p.incident} climbed to {p.level}: {s.named(p.reason)}"


def _incident_acked(p: ev.IncidentAcknowledged, s: _Said) -> str:
    return f"{p.incident} acknowledged by {incident_acked(p.name, p.via, s.record.ts)}"


def _incident_resolved(p: ev.IncidentResolved, s: _Said) -> str:
    return f"{p.incident} resolved {incident_resolved(s.record.ts, p.reason)}"


def _notified(p: ev.Notified, s: _Said) -> str:
    state = "sent" if p.delivered else f"NOT SENT ({p.error})" if p.queued else f"not sent ({p.error})"
    tries = f" after {p.attempts} attempts ({', '.join(p.tries)})" if p.attempts > 1 else ""
    return f"notify {p.channel} {state}{tries}: {s.named(p.text)}"


def _spend_control(p: ev.SpendControlRan, s: _Said) -> str:
    return (f"spend controls at {words.percent(p.at_pct)} ({p.month}) {'ran' if p.ok else 'FAILED'}: "
            f"{p.action}: {p.detail}")


def _silence_expired(p: ev.SilenceExpired, s: _Said) -> str:
    detail = f": {p.detail}" if p.detail else ""
    return f"Alertmanager silence {p.silence_id} {'expired' if p.ok else 'NOT expired'}{detail}"


def _spend_read(p: ev.SpendRead, s: _Said) -> str:
    cur = str(((s.plan.document if s.plan else {}) or {}).get("budget", {}).get("currency", "USD"))
    return f"spend month to date read: {words.money(sum(p.spent.values()), cur)}" + (f" ({p.month})" if p.month else "")


# --- the journal and the gateway's read-back -----------------------------------------------------


def _reconciled(p: ev.GatewayReconciled, s: _Said) -> str:
    if p.observed_weight is None and p.observed_enabled is None and not p.agrees:
        return f"gateway NOT READ BACK at start-up: {p.detail}"
    return f"gateway read-back {'agrees' if p.agrees else 'DISAGREES'} with the journal: {p.detail}"


def _post_deployment(p: ev.PostDeploymentDone, s: _Said) -> str:
    return f"post-deployment {p.item} done ({'by the cockpit: ' + p.evidence if p.auto else p.name})"


def _round_late(p: ev.RoundLate) -> str:
    """A spell of late rounds: how far behind, and which samples were judged (all of them, or not)."""
    behind = words.duration(p.late_s)
    # A demo's clock runs faster than the wall: both figures (a test's frozen clock has no wall figure).
    on_the_wall = p.wall_late_s > 0 and abs(p.wall_late_s - p.late_s) >= 0.5
    wall = f", {words.duration(p.wall_late_s)} on the wall" if on_the_wall else ""
    poll = f"poll every {words.duration(p.poll_s)}"
    judged_from = p.judged_since + timedelta(seconds=p.unjudged_s)
    skipped = (f"; samples from {words.clock(p.judged_since)} to {words.clock(judged_from)} were NOT judged "
               "(a round judges at most the last hour)") if p.unjudged_s > 0 else ""
    if p.caught_up:
        return (f"the guard caught up after {words.plural(p.late_rounds, 'late round')}: "
                f"the worst was {behind} behind{wall} ({poll}){skipped}")
    so_far = f", {words.plural(p.late_rounds, 'late round')} so far" if p.late_rounds > 1 else ""
    return (f"the guard fell behind by {behind}{wall} ({poll}{so_far}): the round judged every sample since "
            f"{words.clock(judged_from)}{skipped}")


_SAY: dict[type, Callable[[Any, _Said], str]] = {
    ev.PlanLoaded: _plan_loaded,
    ev.CheckRan: _check_ran,
    ev.CheckWaived: _check_waived,
    ev.SignedOff: _signed_off,
    ev.GuardStarted: _guard_started,
    ev.GuardStopped: lambda p, s: f"guard {p.pid}@{p.host} stopped: {p.reason}",
    ev.RolloutStarted: lambda p, s: f"{s.who} started the rollout",
    ev.TrafficShiftRequested: lambda p, s: f"traffic shift to {p.weight} % requested",
    ev.TrafficShiftResult: _shift_result,
    ev.PhaseStarted: lambda p, s: f"{s.phase(p.phase)} soaking at {p.weight} %",
    ev.GateDecided: _gate_decided,
    ev.CriterionEvaluated: _criterion,
    ev.RolloutCompleted: lambda p, s: f"{s.who} completed the rollout: final validation passed",
    ev.TriggerBreached: _breached,
    ev.TriggerCleared: lambda p, s: f"{s.trig(p.trigger)} cleared",
    ev.TriggerFired: _fired,
    ev.KillRequested: _kill_requested,
    ev.KillResult: _kill_result,
    ev.RollbackVerified: _rollback_verified,
    ev.Escalated: lambda p, s: f"escalated to {p.level}: {s.named(p.reason)}",
    ev.Notified: _notified,
    ev.IncidentOpened: _incident_opened,
    ev.IncidentEscalated: _incident_escalated,
    ev.IncidentAcknowledged: _incident_acked,
    ev.IncidentResolved: _incident_resolved,
    ev.NotificationQueued: lambda p, s: f"queued for {p.channel} ({p.purpose}{' ' + p.incident if p.incident else ''})",
    ev.SpendControlRan: _spend_control,
    ev.SilenceCreated: lambda p, s: (f"Alertmanager silence {p.silence_id} created until {words.clock(p.ends_at)}: "
                                     f"{p.comment}"),
    ev.SilenceExpired: _silence_expired,
    ev.BudgetAlerted: lambda p, s: (f"budget at {words.percent(100 * p.spent / p.budget)} "
                                    f"(alert {words.percent(p.at_pct)}): {p.action}"),
    ev.GatewayReconciled: _reconciled,
    ev.EvidenceCollected: lambda p, s: f"evidence {p.file} written" + ("" if p.ok else f", INCOMPLETE: {p.detail}"),
    ev.Noted: lambda p, s: f"{s.who}: {p.text}",
    ev.PostDeploymentDone: _post_deployment,
    ev.TornTailQuarantined: lambda p, s: (f"journal: a torn tail ({p.size} bytes at offset {p.offset}) "
                                          f"was moved to {p.moved_to}"),
    ev.JournaledLate: lambda p, s: (f"journal: {p.count} events kept aside while the journal could not be written "
                                    f"follow ({p.error})"),
    ev.RoundLate: lambda p, s: _round_late(p),
    ev.JudgmentMade: _judgment,
    ev.SpendRead: _spend_read,
}


# The next step as `status` and the commands say it: the command that takes it (the screen says its key).
COMMANDS = {
    "run_checks": "cockpit preflight --config PLAN",
    "sign_off": "cockpit sign-off {0} --name NAME --config PLAN",
    "start": "cockpit start --config PLAN",
    "gate": "cockpit decide {0} {1} go|no-go --name NAME --config PLAN",
    "advance": "cockpit advance --config PLAN",
    "ack": "cockpit ack {0} --name NAME --config PLAN",
    "checklist": "cockpit note 'rollback step done: {0}: WHAT' --config PLAN",
    "post_deploy": "cockpit done {0} --config PLAN",
}


def command(step: NextStep) -> str:
    return COMMANDS[step.action].format(*step.args)


def next_line(plan: PlanView, state: RolloutState, now: datetime) -> str:
    """The read model's next step (core.readmodel.step_now) with the command that takes it, as
    `status` prints it after `next`; "" when the rollout waits for nothing anyone can do."""
    step = step_now(plan, state, now)
    return "" if step is None else visible(f"{step.text}: {command(step)}")


def line(record: ev.Record, plan: ev.PlanLoaded | None = None) -> str:
    return f"{words.clock(record.ts)} {say(record, plan)}"
