"""Every fact the cockpit learns or causes, as typed journal records (schema version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

SCHEMA_VERSION = 1
GENESIS = "0" * 64

CheckStatus = Literal["pass", "fail", "error"]
Decision = Literal["GO", "NO-GO"]


class Payload(BaseModel):
    """What happened. Subclasses set KIND, the event's name in the journal."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    KIND: ClassVar[str] = ""


class Actor(BaseModel):
    """Who caused an event: user@host and the role they act in (captain, observer, engine)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    user: str
    host: str
    role: str = "captain"

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"


# --- the plan and preflight -------------------------------------------------------------------


class PhaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    weight: int
    soak_s: float
    owners: tuple[str, ...]
    criteria: tuple[str, ...] = ()
    manual: tuple[str, ...] = ()


class PlanLoaded(Payload):
    """The plan this journal runs, so status and observers need nothing but the journal."""

    KIND = "plan_loaded"
    release: str
    version: str
    environment: str
    region: str
    digest: str
    phases: tuple[PhaseSpec, ...]
    checks: tuple[str, ...]
    sign_offs: tuple[str, ...]
    roles: dict[str, str]  # role id -> title
    triggers: tuple[str, ...] = ()
    freeze: tuple[tuple[str, str, str], ...] = ()  # (weekday, "HH:MM", "HH:MM") UTC
    document: dict[str, Any] = {}  # the whole plan (secrets by reference only), so observers need no config


class CheckRan(Payload):
    KIND = "check_ran"
    check: str
    status: CheckStatus
    detail: str
    evidence: dict[str, Any] = {}
    duration_s: float = 0.0


class CheckWaived(Payload):
    KIND = "check_waived"
    check: str
    reason: str


class SignedOff(Payload):
    KIND = "signed_off"
    role: str
    name: str
    note: str = ""


# --- the rollout ------------------------------------------------------------------------------


class RolloutStarted(Payload):
    KIND = "rollout_started"


class TrafficShiftRequested(Payload):
    """Intent, written before the gateway is called (a crash after it is visible on restart)."""

    KIND = "traffic_shift_requested"
    weight: int
    phase: int  # the phase this shift starts; -1 for an operator shift outside the phases


class TrafficShiftResult(Payload):
    """The gateway's read-back after a shift: verified only when it agrees with the intent."""

    KIND = "traffic_shift_result"
    weight: int
    verified: bool
    observed_weight: int | None = None
    error: str = ""


class PhaseStarted(Payload):
    """The phase's soak starts now: its weight has been verified at the gateway."""

    KIND = "phase_started"
    phase: int
    weight: int


class GateDecided(Payload):
    KIND = "gate_decided"
    phase: int
    role: str
    decision: Decision
    name: str
    note: str = ""


class CriterionEvaluated(Payload):
    """An auto criterion changed verdict (journaled on transitions, not every sample)."""

    KIND = "criterion_evaluated"
    phase: int
    criterion: str
    passed: bool
    value: float | None = None
    detail: str = ""


class RolloutCompleted(Payload):
    KIND = "rollout_completed"


# --- triggers, kill switch, escalation, budget ------------------------------------------------


class TriggerBreached(Payload):
    """A trigger started breaching (its `for` window is now counting)."""

    KIND = "trigger_breached"
    trigger: str
    value: float | None
    threshold: float | None
    detail: str = ""
    no_data: bool = False  # holding for want of data (no_data = "hold"), not a measured breach


class TriggerCleared(Payload):
    KIND = "trigger_cleared"
    trigger: str
    detail: str = ""


class TriggerFired(Payload):
    """A trigger breached for its whole window and acted: the answer to "why did it roll back?"."""

    KIND = "trigger_fired"
    trigger: str
    action: Literal["rollback", "hold", "page"]
    level: str
    value: float | None
    threshold: float | None
    window_s: float
    detail: str


class KillRequested(Payload):
    KIND = "kill_requested"
    reason: str
    trigger: str = ""  # set when a trigger pulled it


class KillResult(Payload):
    """The gateway's read-back after the kill. confirmed=False is KILL NOT CONFIRMED."""

    KIND = "kill_result"
    confirmed: bool
    attempts: int = 1
    observed_weight: int | None = None
    observed_enabled: bool | None = None
    error: str = ""


class RollbackVerified(Payload):
    """The second proof: the canary's own traffic fell to ~0 (or did not)."""

    KIND = "rollback_verified"
    ok: bool
    detail: str


class Escalated(Payload):
    KIND = "escalated"
    level: str
    reason: str
    channel: str = ""


class Notified(Payload):
    KIND = "notified"
    channel: str
    text: str
    delivered: bool = False
    error: str = ""


class BudgetAlerted(Payload):
    KIND = "budget_alerted"
    at_pct: float
    spent: float
    budget: float
    channel: str
    action: str


class GatewayReconciled(Payload):
    """On start-up, what the gateway said against what the journal said."""

    KIND = "gateway_reconciled"
    journal_weight: int
    observed_weight: int | None
    observed_enabled: bool | None
    agrees: bool
    detail: str = ""
    observed_share: int | None = None  # the canary's real share: 0 with the flag off, whatever weight it keeps


class EvidenceCollected(Payload):
    KIND = "evidence_collected"
    phase: int | None  # None for the final bundle
    file: str
    sha256: str
    ok: bool = True
    detail: str = ""


class GuardStarted(Payload):
    """A guard took the guard lock and evaluates from now on (`took_over`: the holder that died)."""

    KIND = "guard_started"
    pid: int
    host: str
    reason: str = ""
    took_over: str = ""  # "pid@host" of a previous guard whose lock the kernel freed


class GuardStopped(Payload):
    KIND = "guard_stopped"
    pid: int
    host: str
    reason: str


class Noted(Payload):
    KIND = "note"
    text: str


# --- the journal's own repairs ----------------------------------------------------------------


class TornTailQuarantined(Payload):
    """A writer died mid-append; the fragment it left was moved aside before the next append."""

    KIND = "torn_tail_quarantined"
    offset: int  # where the fragment started (the journal was cut back to here)
    size: int
    moved_to: str  # the side file, in the state dir
    detail: str = ""


class JournaledLate(Payload):
    """The events after this one were kept aside (unjournaled.jsonl) while the journal could not
    be written; they are journaled now, each with its own time and actor."""

    KIND = "journaled_late"
    count: int
    error: str  # why the journal refused them, the first time


PAYLOADS: tuple[type[Payload], ...] = (
    PlanLoaded, CheckRan, CheckWaived, SignedOff, RolloutStarted, TrafficShiftRequested,
    TrafficShiftResult, PhaseStarted, GateDecided, CriterionEvaluated, RolloutCompleted,
    TriggerBreached, TriggerCleared, TriggerFired, KillRequested, KillResult, RollbackVerified,
    Escalated, Notified, BudgetAlerted, GatewayReconciled, EvidenceCollected, Noted,
    GuardStarted, GuardStopped, TornTailQuarantined, JournaledLate,
)


# --- the record -------------------------------------------------------------------------------


class Record(BaseModel):
    """One journal line: envelope plus payload. `hash` covers everything else on the line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hash: str = ""
    v: int = SCHEMA_VERSION
    seq: int
    ts: datetime
    actor: Actor
    kind: str
    payload: Payload
    prev: str


# One generated record class per payload, so a line validates in one pass on its `kind` tag.
_RECORDS = [
    create_model(
        f"{p.__name__}Record", __base__=Record, kind=(Literal[p.KIND], ...), payload=(p, ...)
    )
    for p in PAYLOADS
]
_RECORD = TypeAdapter(Annotated[Union[tuple(_RECORDS)], Field(discriminator="kind")])
_BY_KIND = {p.KIND: cls for p, cls in zip(PAYLOADS, _RECORDS)}


def parse_record(line: bytes | str) -> Record:
    """Validate one journal line (raises pydantic.ValidationError)."""
    return _RECORD.validate_json(line)


def make_record(*, seq: int, ts: datetime, actor: Actor, payload: Payload, prev: str) -> Record:
    return _BY_KIND[payload.KIND](seq=seq, ts=ts, actor=actor, kind=payload.KIND, payload=payload, prev=prev)
