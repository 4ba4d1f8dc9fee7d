"""Journal records in the operator's words, for the timeline, `status` and the headless demo."""

from __future__ import annotations

from datetime import timedelta

from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.escalation import with_names
from cockpit.core.readmodel import trigger_label, trigger_names
from cockpit.core.visible import visible

__all__ = ["line", "say", "short_name"]


def short_name(name: str) -> str:
    """The metric part of a name: "Error Rate ≥ 2 %" -> "Error Rate", "Security: cross-…" -> "Security"."""
    return trigger_label(name)


def say(record: ev.Record, plan: ev.PlanLoaded | None = None) -> str:
    """One line: what happened, without the time (callers prefix it), with every control and
    bidi character of what a person typed or a server sent shown as an escape (core.visible)."""
    return visible(_said(record, plan))


def _said(record: ev.Record, plan: ev.PlanLoaded | None) -> str:
    p = record.payload
    who = record.actor.user
    roles = plan.roles if plan else {}
    names = trigger_names(plan) if plan else {}

    def trig(trigger_id: str) -> str:
        """One name per thing: the plan's trigger name on screen; the id only in the journal."""
        return f"trigger {names[trigger_id]}" if trigger_id in names else f"trigger {trigger_id}"

    def phase_name(i: int) -> str:
        if plan and 0 <= i < len(plan.phases):
            return plan.phases[i].name
        return f"phase {i + 1}"

    match p:
        case ev.PlanLoaded():
            return f"{who} loaded the plan {p.release} {p.version} ({p.environment}/{p.region})"
        case ev.CheckRan():
            return f"check {p.check}: {p.status.upper()} - {p.detail}"
        case ev.CheckWaived():
            return f"{who} waived check {p.check}: {p.reason}"
        case ev.SignedOff():
            return f"{p.name} ({roles.get(p.role, p.role)}) signed off"
        case ev.GuardStarted():
            took = f", taking over from dead guard {p.took_over}" if p.took_over else ""
            why = f" ({p.reason})" if p.reason else ""
            return f"guard {p.pid}@{p.host} evaluates the triggers{took}{why}"
        case ev.GuardStopped():
            return f"guard {p.pid}@{p.host} stopped: {p.reason}"
        case ev.RolloutStarted():
            return f"{who} started the rollout"
        case ev.TrafficShiftRequested():
            return f"traffic shift to {p.weight} % requested"
        case ev.TrafficShiftResult():
            if p.verified:
                return f"gateway confirmed canary weight {p.weight} %"
            return f"traffic shift to {p.weight} % NOT confirmed: {p.error}"
        case ev.PhaseStarted():
            return f"{phase_name(p.phase)} soaking at {p.weight} %"
        case ev.GateDecided():
            note = f": {p.note}" if p.note else ""
            return (f"{p.name} ({roles.get(p.role, p.role)}) {p.decision} for {phase_name(p.phase)}, "
                    f"entered by {record.actor}{note}")
        case ev.CriterionEvaluated():
            verdict = "met" if p.passed else "NOT met"
            return f"{phase_name(p.phase)} criterion {p.criterion} {verdict}: {p.detail}"
        case ev.RolloutCompleted():
            return f"{who} completed the rollout: final validation passed"
        case ev.TriggerBreached():
            if p.no_data:
                return f"{trig(p.trigger)} holding for want of data: {p.detail}"
            return f"{trig(p.trigger)} breaching: {p.detail or words.value(p.value)}"
        case ev.TriggerCleared():
            return f"{trig(p.trigger)} cleared"
        case ev.TriggerFired():
            return f"{trig(p.trigger)} FIRED ({p.action}, {p.level}): {p.detail}"
        case ev.KillRequested():
            by = trig(p.trigger) if p.trigger else who
            return f"KILL SWITCH pulled by {by}: {with_names(p.reason, names)}"
        case ev.KillResult():
            if p.confirmed:
                return f"kill VERIFIED: gateway reads canary off (attempt {p.attempts})"
            return f"KILL NOT CONFIRMED after {p.attempts} attempts: {p.error}"
        case ev.RollbackVerified():
            return f"rollback {'verified' if p.ok else 'NOT verified'} by canary traffic: {p.detail}"
        case ev.Escalated():
            return f"escalated to {p.level}: {with_names(p.reason, names)}"
        case ev.Notified():
            state = "sent" if p.delivered else f"NOT SENT ({p.error})" if p.queued else f"not sent ({p.error})"
            tries = f" after {p.attempts} attempts ({', '.join(p.tries)})" if p.attempts > 1 else ""
            return f"notify {p.channel} {state}{tries}: {with_names(p.text, names)}"
        case ev.IncidentOpened():
            return f"{p.incident} opened: {p.level} paged: {with_names(p.reason, names)}"
        case ev.IncidentEscalated():
            return f"{p.incident} climbed to {p.level}: {with_names(p.reason, names)}"
        case ev.IncidentAcknowledged():
            return f"{p.incident} acknowledged by {p.name} ({p.via})"
        case ev.IncidentResolved():
            return f"{p.incident} resolved: {p.reason}"
        case ev.NotificationQueued():
            return f"queued for {p.channel} ({p.purpose}{' ' + p.incident if p.incident else ''})"
        case ev.SpendControlRan():
            return (f"spend controls at {words.percent(p.at_pct)} ({p.month}) {'ran' if p.ok else 'FAILED'}: "
                    f"{p.action}: {p.detail}")
        case ev.SilenceCreated():
            return f"Alertmanager silence {p.silence_id} created until {words.clock(p.ends_at)}: {p.comment}"
        case ev.SilenceExpired():
            return (f"Alertmanager silence {p.silence_id} {'expired' if p.ok else 'NOT expired'}"
                    f"{': ' + p.detail if p.detail else ''}")
        case ev.BudgetAlerted():
            return f"budget at {words.percent(100 * p.spent / p.budget)} (alert {words.percent(p.at_pct)}): {p.action}"
        case ev.GatewayReconciled():
            if p.observed_weight is None and p.observed_enabled is None and not p.agrees:
                return f"gateway NOT READ BACK at start-up: {p.detail}"
            agrees = "agrees" if p.agrees else "DISAGREES"
            return f"gateway read-back {agrees} with the journal: {p.detail}"
        case ev.EvidenceCollected():
            return f"evidence {p.file} written" + ("" if p.ok else f", INCOMPLETE: {p.detail}")
        case ev.Noted():
            return f"{who}: {p.text}"
        case ev.PostDeploymentDone():
            return f"post-deployment {p.item} done ({'by the cockpit: ' + p.evidence if p.auto else p.name})"
        case ev.TornTailQuarantined():
            return f"journal: a torn tail ({p.size} bytes at offset {p.offset}) was moved to {p.moved_to}"
        case ev.JournaledLate():
            return f"journal: {p.count} events kept aside while the journal could not be written follow ({p.error})"
        case ev.RoundLate():
            return _round_late(p)
        case ev.JudgmentMade():
            tail = ": the owners decide" if p.verdict == "Marginal" and p.criteria else ""
            return f"judge ({phase_name(p.phase)}): {p.verdict}, score {words.value(p.score)}{tail} - {p.reason}"
        case ev.SpendRead():
            cur = str(((plan.document if plan else {}) or {}).get("budget", {}).get("currency", "USD"))
            return (f"spend month to date read: {words.money(sum(p.spent.values()), cur)}"
                    + (f" ({p.month})" if p.month else ""))
    return f"{record.kind}"


def _round_late(p: ev.RoundLate) -> str:
    """A spell of late rounds: how far behind, and which samples were judged (all of them, or not)."""
    behind = words.duration(p.late_s)
    # A demo's clock runs faster than the wall: both figures (a test's frozen clock has no wall figure).
    wall = (f", {words.duration(p.wall_late_s)} on the wall"
            if p.wall_late_s > 0 and abs(p.wall_late_s - p.late_s) >= 0.5 else "")
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


def line(record: ev.Record, plan: ev.PlanLoaded | None = None) -> str:
    return f"{words.clock(record.ts)} {say(record, plan)}"
