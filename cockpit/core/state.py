"""Rollout state as a pure fold of journal records: `state = fold(records)`."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cockpit.core import events as ev

Status = Literal["preflight", "live", "killing", "rolled_back", "kill_unconfirmed", "completed"]
STATUS_WORDS: dict[str, str] = {
    "preflight": "PREFLIGHT",
    "live": "LIVE",
    "killing": "KILL SENT",
    "rolled_back": "ROLLED BACK",
    "kill_unconfirmed": "KILL NOT CONFIRMED",
    "completed": "COMPLETED",
}


@dataclass
class CheckState:
    status: str = "pending"  # pending | pass | fail | error
    detail: str = ""
    at: datetime | None = None
    waived: str = ""  # the recorded reason, when waived
    waived_by: str = ""

    @property
    def satisfied(self) -> bool:
        return self.status == "pass" or bool(self.waived)


@dataclass
class Signature:
    name: str
    at: datetime
    by: str  # user@host that recorded it
    note: str = ""


@dataclass
class Decision:
    decision: str  # GO | NO-GO
    name: str
    at: datetime
    note: str = ""
    by: str = ""  # user@host that entered it (the captain may enter an owner's decision)


@dataclass
class CriterionState:
    passed: bool
    value: float | None
    detail: str
    at: datetime


@dataclass
class Judged:
    """The phase's latest judgment, since when its verdict has been Marginal (the owners' GO must
    come after that), and how many Fail judgments in a row it ends (a rollback's `for`)."""

    judgment: ev.JudgmentMade
    at: datetime
    marginal_since: datetime | None = None
    fails_in_row: int = 0


@dataclass
class GateState:
    decisions: dict[str, Decision] = field(default_factory=dict)  # role -> latest decision
    criteria: dict[str, CriterionState] = field(default_factory=dict)
    judged: Judged | None = None  # the judge's latest judgment of this phase (issue 23)


@dataclass
class TriggerState:
    breaching_since: datetime | None = None
    value: float | None = None
    threshold: float | None = None
    detail: str = ""
    fired: ev.TriggerFired | None = None
    fired_at: datetime | None = None
    no_data: bool = False  # holding for want of data rather than breaching

    @property
    def breaching(self) -> bool:
        return self.breaching_since is not None


@dataclass
class KillState:
    requested_at: datetime
    reason: str
    trigger: str
    by: str
    result: ev.KillResult | None = None
    result_at: datetime | None = None
    verified: ev.RollbackVerified | None = None
    pulls: int = 1  # every KillRequested of this kill: re-pulls belong to it, they start no new kill
    pulled_at: datetime | None = None  # the latest pull (the first one: requested_at)
    failed_at: datetime | None = None  # this kill's first result the gateway did not confirm
    unverified_since: datetime | None = None  # since when canary traffic is NOT ~0 (None: ~0 or not checked)

    @property
    def repulling(self) -> bool:
        """Pulled again after a result, and that pull has no result yet."""
        return self.result_at is not None and self.pulled_at is not None and self.pulled_at > self.result_at

    @property
    def leaking(self) -> bool:
        """The gateway confirmed the kill, but the canary's own traffic did not fall to ~0."""
        return self.verified is not None and not self.verified.ok


@dataclass
class Incident:
    """One page and its life: opened at a level, climbing while nobody acknowledges it."""

    id: str
    level: str  # the level paged last
    reason: str
    trigger: str
    opened_at: datetime
    paged_at: datetime  # when `level` was paged: its acknowledgement timer runs from here
    levels: list[str] = field(default_factory=list)  # every level paged, in order
    acked_by: str = ""
    acked_via: str = ""
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str = ""
    channels: dict[str, set[str]] = field(default_factory=dict)  # channel -> purposes queued to it

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acked_at is not None


@dataclass(frozen=True)
class GuardStop:
    """The last guard that stopped (until another starts): "guard 4242@bastion stopped at 14:32:10"."""

    started: ev.GuardStarted
    stopped: ev.GuardStopped
    at: datetime


@dataclass
class Outbound:
    """A queued notification and, once the guard delivered it (or gave up), its result."""

    seq: int
    at: datetime
    queued: ev.NotificationQueued
    result: ev.Notified | None = None


@dataclass
class RolloutState:
    plan: ev.PlanLoaded | None = None
    status: Status = "preflight"
    phase: int | None = None  # index into plan.phases of the phase now soaking
    phase_started_at: datetime | None = None
    weight: int = 0  # canary weight the gateway last confirmed
    pending_shift: ev.TrafficShiftRequested | None = None
    shift_error: str = ""
    gateway_drift: str = ""  # the guard found the gateway's share is not the phase's (until it agrees again)
    checks: dict[str, CheckState] = field(default_factory=dict)
    sign_offs: dict[str, Signature] = field(default_factory=dict)
    gates: dict[int, GateState] = field(default_factory=dict)
    triggers: dict[str, TriggerState] = field(default_factory=dict)
    kill: KillState | None = None
    escalations: list[tuple[datetime, ev.Escalated]] = field(default_factory=list)
    budget_alerts: dict[float, ev.BudgetAlerted] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    outbox: dict[int, Outbound] = field(default_factory=dict)  # NotificationQueued seq -> its delivery
    spend: ev.SpendRead | None = None  # the guard's latest journaled spend read
    spend_at: datetime | None = None
    spend_controls: dict[tuple[str, float], ev.SpendControlRan] = field(default_factory=dict)  # (month, pct)
    silences: dict[str, ev.SilenceCreated] = field(default_factory=dict)  # live silences by id
    evidence: list[ev.EvidenceCollected] = field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    guard: ev.GuardStarted | None = None  # the guard that last took the lock (None after it stopped)
    guard_since: datetime | None = None
    guard_stop: GuardStop | None = None  # that guard's stop, once it stopped (None while one runs)
    behind: ev.RoundLate | None = None  # the guard's rounds are late (until it caught up, or another guard started)
    # item -> first tick
    post_deployment: dict[str, tuple[datetime, ev.PostDeploymentDone]] = field(default_factory=dict)
    seq: int = 0
    last_hash: str = ev.GENESIS
    recent: deque[ev.Record] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def live(self) -> bool:
        return self.status in ("live", "killing", "kill_unconfirmed")

    def gate(self, phase: int) -> GateState:
        gate = self.gates.get(phase)
        if gate is None:
            gate = self.gates[phase] = GateState()
        return gate

    def apply(self, record: ev.Record) -> RolloutState:
        """Fold one record in. Unknown-to-this-state facts are kept in `recent` only."""
        payload = record.payload
        _APPLY.get(payload.__class__, _ignore)(self, payload, record)
        self.seq = record.seq
        self.last_hash = record.hash
        self.recent.append(record)
        return self


def fold(records: Iterable[ev.Record]) -> RolloutState:
    """`apply` of each record in order, with its loop inlined (a replay folds 100,000 records):
    no handler reads `seq`, `last_hash` or `recent`, so they are set as `apply` leaves them."""
    state = RolloutState()
    handler, keep = _APPLY.get, state.recent.append
    record = None
    for record in records:
        payload = record.payload
        handler(payload.__class__, _ignore)(state, payload, record)
        keep(record)
    if record is not None:
        state.seq, state.last_hash = record.seq, record.hash
    return state


# --- one function per kind --------------------------------------------------------------------


def _ignore(state: RolloutState, p: ev.Payload, r: ev.Record) -> None:
    pass


def _plan(state: RolloutState, p: ev.PlanLoaded, r: ev.Record) -> None:
    state.plan = p
    for check in p.checks:
        state.checks.setdefault(check, CheckState())


def _check_ran(state: RolloutState, p: ev.CheckRan, r: ev.Record) -> None:
    check = state.checks.setdefault(p.check, CheckState())
    check.status, check.detail, check.at = p.status, p.detail, r.ts


def _check_waived(state: RolloutState, p: ev.CheckWaived, r: ev.Record) -> None:
    check = state.checks.setdefault(p.check, CheckState())
    check.waived, check.waived_by = p.reason, str(r.actor)


def _signed_off(state: RolloutState, p: ev.SignedOff, r: ev.Record) -> None:
    state.sign_offs[p.role] = Signature(p.name, r.ts, str(r.actor), p.note)


def _started(state: RolloutState, p: ev.RolloutStarted, r: ev.Record) -> None:
    state.status = "live"
    state.started_at = r.ts


def _shift_requested(state: RolloutState, p: ev.TrafficShiftRequested, r: ev.Record) -> None:
    state.pending_shift = p


def _shift_result(state: RolloutState, p: ev.TrafficShiftResult, r: ev.Record) -> None:
    state.pending_shift = None
    if p.verified:
        state.weight = p.weight
        state.shift_error = state.gateway_drift = ""
    else:
        state.shift_error = p.error or f"gateway reports weight {p.observed_weight}, wanted {p.weight}"
        if p.observed_weight is not None:
            state.weight = p.observed_weight


def _phase_started(state: RolloutState, p: ev.PhaseStarted, r: ev.Record) -> None:
    """A phase (re-)entered soaks from now and needs a fresh gate: after a partial rollback
    back to it, the GOs given the first time no longer count."""
    state.phase = p.phase
    state.phase_started_at = r.ts
    state.weight = p.weight
    state.gates[p.phase] = GateState()
    if state.status == "preflight":  # its start line did not read (a journal that does not verify, read
        state.status = "live"  # tolerantly): a phase soaking is a live rollout, which the guard must watch
        state.started_at = r.ts


def _decided(state: RolloutState, p: ev.GateDecided, r: ev.Record) -> None:
    state.gate(p.phase).decisions[p.role] = Decision(p.decision, p.name, r.ts, p.note, str(r.actor))


def _criterion(state: RolloutState, p: ev.CriterionEvaluated, r: ev.Record) -> None:
    state.gate(p.phase).criteria[p.criterion] = CriterionState(p.passed, p.value, p.detail, r.ts)


def _judgment(state: RolloutState, p: ev.JudgmentMade, r: ev.Record) -> None:
    """The latest judgment decides the phase's judge criteria: Pass meets them, Fail fails them,
    Marginal leaves them to the owners (core.rules.gate_refusals)."""
    gate = state.gate(p.phase)
    before = gate.judged
    marginal_since = None
    if p.verdict == "Marginal":
        marginal_since = before.marginal_since if before and before.marginal_since else r.ts
    fails = (before.fails_in_row if before else 0) + 1 if p.verdict == "Fail" else 0
    gate.judged = Judged(p, r.ts, marginal_since, fails)
    for criterion in p.criteria:
        gate.criteria[criterion] = CriterionState(p.verdict == "Pass", p.score, f"judged {p.verdict}: {p.reason}", r.ts)


def _completed(state: RolloutState, p: ev.RolloutCompleted, r: ev.Record) -> None:
    state.status = "completed"
    state.completed_at = r.ts


def _trigger(state: RolloutState, trigger_id: str) -> TriggerState:
    t = state.triggers.get(trigger_id)
    if t is None:
        t = state.triggers[trigger_id] = TriggerState()
    return t


def _breached(state: RolloutState, p: ev.TriggerBreached, r: ev.Record) -> None:
    t = _trigger(state, p.trigger)
    t.breaching_since = t.breaching_since or r.ts
    t.value, t.threshold, t.detail, t.no_data = p.value, p.threshold, p.detail, p.no_data


def _cleared(state: RolloutState, p: ev.TriggerCleared, r: ev.Record) -> None:
    t = _trigger(state, p.trigger)
    t.breaching_since = None
    t.fired = None
    t.fired_at = None
    t.detail = p.detail


def _fired(state: RolloutState, p: ev.TriggerFired, r: ev.Record) -> None:
    t = _trigger(state, p.trigger)
    t.breaching_since = t.breaching_since or r.ts
    t.no_data = False
    t.fired, t.fired_at = p, r.ts
    t.value, t.threshold, t.detail = p.value, p.threshold, p.detail


def _kill_requested(state: RolloutState, p: ev.KillRequested, r: ev.Record) -> None:
    if state.status == "rolled_back":
        return  # pulling it twice is safe: the engine re-asserts the flag, the state stays
    if state.status in ("killing", "kill_unconfirmed"):  # both have a kill
        assert state.kill is not None
        # A re-pull of the kill in flight or not confirmed: the same kill, its reason, who pulled
        # it and its incident stay; KILL NOT CONFIRMED stays until a result says otherwise.
        state.kill.pulls += 1
        state.kill.pulled_at = r.ts
        return
    state.kill = KillState(r.ts, p.reason, p.trigger, str(r.actor), pulled_at=r.ts)
    state.status = "killing"


def _kill_result(state: RolloutState, p: ev.KillResult, r: ev.Record) -> None:
    if state.status == "rolled_back":
        # A re-assert the gateway did not answer undoes no confirmed rollback, and one it confirmed
        # again changes nothing: the kill was verified when it was first confirmed (both stay journaled).
        return
    if state.kill is None:  # a result with no request: keep it visible rather than drop it
        state.kill = KillState(r.ts, "(no request recorded)", "", str(r.actor))
    state.kill.result, state.kill.result_at = p, r.ts
    if not p.confirmed and state.kill.failed_at is None:
        state.kill.failed_at = r.ts
    if p.confirmed:
        state.status = "rolled_back"
        state.weight = 0
        state.pending_shift = None
    else:
        state.status = "kill_unconfirmed"


def _rollback_verified(state: RolloutState, p: ev.RollbackVerified, r: ev.Record) -> None:
    k = state.kill
    if k is None:
        return
    if p.ok:
        k.unverified_since = None
    elif k.unverified_since is None:
        k.unverified_since = r.ts  # a second NOT ~0 in a row is the same leak, not a new one
    k.verified = p


def _escalated(state: RolloutState, p: ev.Escalated, r: ev.Record) -> None:
    state.escalations.append((r.ts, p))


def _budget(state: RolloutState, p: ev.BudgetAlerted, r: ev.Record) -> None:
    state.budget_alerts[p.at_pct] = p


def _evidence(state: RolloutState, p: ev.EvidenceCollected, r: ev.Record) -> None:
    state.evidence.append(p)


def _reconciled(state: RolloutState, p: ev.GatewayReconciled, r: ev.Record) -> None:
    """The gateway's read-back is the truth about traffic; an unanswered read resolves nothing."""
    state.gateway_drift = "" if p.agrees else p.detail
    if not p.agrees:
        state.shift_error = p.detail
    share = p.observed_share if p.observed_share is not None else p.observed_weight
    if share is None:
        return  # the gateway did not answer: a pending shift stays pending
    state.weight = share
    state.pending_shift = None


def _guard_started(state: RolloutState, p: ev.GuardStarted, r: ev.Record) -> None:
    state.guard, state.guard_since, state.guard_stop, state.behind = p, r.ts, None, None


def _guard_stopped(state: RolloutState, p: ev.GuardStopped, r: ev.Record) -> None:
    if state.guard is not None and (state.guard.pid, state.guard.host) == (p.pid, p.host):
        state.guard_stop = GuardStop(state.guard, p, r.ts)
        state.guard, state.guard_since, state.behind = None, None, None


def _round_late(state: RolloutState, p: ev.RoundLate, r: ev.Record) -> None:
    state.behind = None if p.caught_up else p


def _post_deployment_done(state: RolloutState, p: ev.PostDeploymentDone, r: ev.Record) -> None:
    """The first tick of an item stands (a second one changes nothing)."""
    state.post_deployment.setdefault(p.item, (r.ts, p))


def _incident_opened(state: RolloutState, p: ev.IncidentOpened, r: ev.Record) -> None:
    state.incidents[p.incident] = Incident(p.incident, p.level, p.reason, p.trigger, r.ts, r.ts, [p.level])


def _incident_escalated(state: RolloutState, p: ev.IncidentEscalated, r: ev.Record) -> None:
    inc = state.incidents.get(p.incident)
    if inc is not None:
        inc.level, inc.paged_at = p.level, r.ts
        inc.levels.append(p.level)


def _incident_acked(state: RolloutState, p: ev.IncidentAcknowledged, r: ev.Record) -> None:
    inc = state.incidents.get(p.incident)
    if inc is not None and inc.acked_at is None:
        inc.acked_by, inc.acked_via, inc.acked_at = p.name, p.via, r.ts


def _incident_resolved(state: RolloutState, p: ev.IncidentResolved, r: ev.Record) -> None:
    inc = state.incidents.get(p.incident)
    if inc is not None and inc.resolved_at is None:
        inc.resolved_at, inc.resolution = r.ts, p.reason


def _queued(state: RolloutState, p: ev.NotificationQueued, r: ev.Record) -> None:
    state.outbox[r.seq] = Outbound(r.seq, r.ts, p)
    inc = state.incidents.get(p.incident) if p.incident else None
    if inc is not None:
        inc.channels.setdefault(p.channel, set()).add(p.purpose)


def _notified(state: RolloutState, p: ev.Notified, r: ev.Record) -> None:
    out = state.outbox.get(p.queued) if p.queued else None
    if out is not None:
        out.result = p


def _spend_control(state: RolloutState, p: ev.SpendControlRan, r: ev.Record) -> None:
    state.spend_controls[(p.month, p.at_pct)] = p


def _spend_read(state: RolloutState, p: ev.SpendRead, r: ev.Record) -> None:
    state.spend, state.spend_at = p, r.ts


def _silence_created(state: RolloutState, p: ev.SilenceCreated, r: ev.Record) -> None:
    state.silences[p.silence_id] = p


def _silence_expired(state: RolloutState, p: ev.SilenceExpired, r: ev.Record) -> None:
    state.silences.pop(p.silence_id, None)


_APPLY: dict[type[ev.Payload], Callable[[RolloutState, Any, ev.Record], None]] = {  # payload: its handler's own type
    ev.PlanLoaded: _plan,
    ev.CheckRan: _check_ran,
    ev.CheckWaived: _check_waived,
    ev.SignedOff: _signed_off,
    ev.RolloutStarted: _started,
    ev.TrafficShiftRequested: _shift_requested,
    ev.TrafficShiftResult: _shift_result,
    ev.PhaseStarted: _phase_started,
    ev.GateDecided: _decided,
    ev.CriterionEvaluated: _criterion,
    ev.RolloutCompleted: _completed,
    ev.TriggerBreached: _breached,
    ev.TriggerCleared: _cleared,
    ev.TriggerFired: _fired,
    ev.KillRequested: _kill_requested,
    ev.KillResult: _kill_result,
    ev.RollbackVerified: _rollback_verified,
    ev.Escalated: _escalated,
    ev.BudgetAlerted: _budget,
    ev.EvidenceCollected: _evidence,
    ev.GatewayReconciled: _reconciled,
    ev.GuardStarted: _guard_started,
    ev.GuardStopped: _guard_stopped,
    ev.PostDeploymentDone: _post_deployment_done,
    ev.IncidentOpened: _incident_opened,
    ev.IncidentEscalated: _incident_escalated,
    ev.IncidentAcknowledged: _incident_acked,
    ev.IncidentResolved: _incident_resolved,
    ev.NotificationQueued: _queued,
    ev.Notified: _notified,
    ev.SpendControlRan: _spend_control,
    ev.SilenceCreated: _silence_created,
    ev.SilenceExpired: _silence_expired,
    ev.RoundLate: _round_late,
    ev.JudgmentMade: _judgment,
    ev.SpendRead: _spend_read,
}
