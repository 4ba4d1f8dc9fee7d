"""Every fact the cockpit learns or causes, as typed journal records (schema version 1).

msgspec Structs, so a replay validates every line quickly (the plan stays pydantic, in cockpit/config).
A Struct is not validated when it is built: a record is checked when the journal writes it, by
reading its encoded line back with the same decoder a replay uses (`parse_record`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal, NoReturn

import msgspec

SCHEMA_VERSION = 1
GENESIS = "0" * 64

CheckStatus = Literal["pass", "fail", "error"]
Decision = Literal["GO", "NO-GO"]

# What parse_record raises for a line that is not a record: msgspec.ValidationError (a wrong
# type, a missing or unknown field, a kind that does not match its payload) or a DecodeError
# (not JSON); the first is a subclass of the second.
RecordError = msgspec.DecodeError


class _Meta(msgspec.StructMeta):
    """Every event struct is keyword-only (as the pydantic models were), which also lets a field
    with a default come before one without; msgspec does not inherit kw_only, so it is set here."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        kwargs.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **kwargs)


class _Struct(msgspec.Struct, metaclass=_Meta, frozen=True, forbid_unknown_fields=True, gc=False):
    """Frozen, unknown fields refused. gc=False: the garbage collector does not track events (a
    replay makes 100,000s that live as long as the process); they cannot be part of a reference
    cycle, as nothing in a record refers back to it."""


class Payload(_Struct):
    """What happened. Subclasses set KIND, the event's name in the journal."""

    KIND: ClassVar[str] = ""


class Actor(_Struct):
    """Who caused an event: user@host and the role they act in (captain, observer, engine)."""

    user: str
    host: str
    role: str = "captain"

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"


# --- the plan and preflight -------------------------------------------------------------------


class PhaseSpec(_Struct):
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
    """A message sent (or not) to a channel. With `queued`, the result of delivering the
    NotificationQueued journaled at that seq, after `attempts` tries (each said in `tries`)."""

    KIND = "notified"
    channel: str
    text: str
    delivered: bool = False
    error: str = ""
    queued: int = 0  # seq of the NotificationQueued this delivers; 0 for an older, direct notice
    purpose: str = ""
    incident: str = ""
    attempts: int = 0
    tries: tuple[str, ...] = ()  # one line per attempt: "HTTP 500", "HTTP 429, Retry-After 1s", "HTTP 202"


class BudgetAlerted(Payload):
    KIND = "budget_alerted"
    at_pct: float
    spent: float
    budget: float
    channel: str
    action: str
    month: str = ""  # "2026-11": a new month starts the crossings over ("" in older journals)


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


class GuardStarted(Payload, omit_defaults=True):
    """A guard took the guard lock and evaluates from now on (`took_over`: the holder that died, or
    whose etcd lease expired; `epoch`: the lease's, which fences its appends; not written for a kernel
    lock). `speed`: its clock's rollout seconds per wall second (a demo's; not written when 1), so an
    observer follows a demo's soak by the journal's word, not by a speed a file claims."""

    KIND = "guard_started"
    pid: int
    host: str
    reason: str = ""
    took_over: str = ""  # "pid@host" of a previous guard whose lock the kernel freed
    speed: float = 1.0
    epoch: int = 0  # the guard lease's epoch on a store that fences on it (etcd); not written for a kernel lock


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


class PostDeploymentDone(Payload):
    """An item of the post-deployment plan ticked off: by a person (`cockpit done`, the screen)
    or by the cockpit itself (`auto`), with what shows it (`evidence`)."""

    KIND = "post_deployment_done"
    item: str
    name: str
    auto: bool = False
    evidence: str = ""


# --- paging: incidents, the outbox, budget actions, Alertmanager silences ----------------------

Purpose = Literal["page", "acknowledge", "resolve", "rollback", "budget", "message"]


class IncidentOpened(Payload):
    """Somebody must look: a fired trigger or an unconfirmed kill pages its level."""

    KIND = "incident_opened"
    incident: str  # "INC-1": what `cockpit ack` names; PagerDuty's dedup key is derived from it
    level: str
    reason: str
    trigger: str = ""


class IncidentEscalated(Payload):
    """Not acknowledged within its level's timeout (or a KILL NOT CONFIRMED): the next level is paged."""

    KIND = "incident_escalated"
    incident: str
    level: str
    reason: str


class IncidentAcknowledged(Payload):
    KIND = "incident_acknowledged"
    incident: str
    name: str
    via: str = "cli"  # cli | screen | pagerduty


class IncidentResolved(Payload):
    KIND = "incident_resolved"
    incident: str
    reason: str


class NotificationQueued(Payload):
    """The outbox: a message the guard must deliver. Its delivery is a Notified with queued = this seq."""

    KIND = "notification_queued"
    channel: str
    purpose: Purpose
    text: str
    incident: str = ""
    level: str = ""


class SpendControlRan(Payload):
    """The budget's automatic spend controls at a crossing: a command (argv) or a webhook, once."""

    KIND = "spend_control_ran"
    at_pct: float
    month: str
    action: str  # what ran, said without secrets: "argv: scale-down --all" or "webhook: https://host/path"
    ok: bool
    exit_status: int | None = None  # a command's exit status; a webhook's HTTP status
    detail: str = ""


class SilenceCreated(Payload):
    KIND = "silence_created"
    silence_id: str
    matchers: dict[str, str]
    ends_at: datetime
    comment: str = ""


class SilenceExpired(Payload):
    KIND = "silence_expired"
    silence_id: str
    ok: bool = True
    detail: str = ""


# --- the guard's rounds ------------------------------------------------------------------------


class RoundLate(Payload):
    """The guard's rounds fell behind their poll interval (a slow Prometheus, a busy bastion, a
    pause, a demo faster than the machine): each late round judged every sample since the one
    before it. Journaled when a spell of late rounds begins, when it gets twice as late, and once
    when it ends (`caught_up`, with the spell's worst round), never once per round."""

    KIND = "round_late"
    late_s: float  # how long after it was due the round started, on the guard's clock
    wall_late_s: float  # the same on the wall (a demo's clock runs faster)
    poll_s: float
    judged_since: datetime  # the round before: every sample since was judged by this one
    late_rounds: int = 1  # late rounds in the spell so far
    unjudged_s: float = 0.0  # samples older than the catch-up bound (an hour) that no round judged
    caught_up: bool = False  # the spell ended: rounds on time again


# --- the judge (issue 23) ----------------------------------------------------------------------


class MetricJudged(_Struct, omit_defaults=True):
    """One metric of a judgment: its class, why, and the numbers behind it (None: not computed).
    estimate, lower, upper: the Hodges–Lehmann shift (canary − baseline) and its interval; band: the
    tolerance band's half-width; effect: the mean ratio (or CLES); counts: samples per track."""

    name: str
    classification: str  # Pass | High | Low | Nodata | NodataFailMetric | Error (Kayenta's spelling)
    reason: str
    unit: str = ""
    critical: bool = False
    canary_samples: int = 0
    baseline_samples: int = 0
    canary_median: float | None = None
    baseline_median: float | None = None
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    band: float | None = None
    effect: float | None = None
    count_p: float | None = None  # the count test's p-value, when it judged a sparse metric
    spread_ratio: float | None = None  # canary over baseline inter-quartile range
    spread_flagged: bool = False


class JudgmentMade(Payload, omit_defaults=True):
    """The guard judged the canary against its baseline over the soak so far (`[judge]`): score,
    verdict (Pass | Marginal | Fail), why, and every metric's judgment. `criteria`: the phase's gate
    criteria this judgment decides (source = "judge")."""

    KIND = "judgment_made"
    phase: int
    score: float
    verdict: str  # Pass | Marginal | Fail
    reason: str
    window_start: datetime
    window_end: datetime
    metrics: tuple[MetricJudged, ...] = ()
    criteria: tuple[str, ...] = ()

class SpendRead(Payload):
    """The month-to-date spend as the guard read it, so a replay and the report show the budget at
    any moment. Journaled when it first reads, when it moves by 1 % of the monthly budget or more,
    and with an alert (core.budget.spend_moved), never once per round; the timeline leaves it out."""

    KIND = "spend_read"
    spent: dict[str, float]  # category id -> month to date; a category that did not read is absent
    month: str = ""



PAYLOADS: tuple[type[Payload], ...] = (
    PlanLoaded, CheckRan, CheckWaived, SignedOff, RolloutStarted, TrafficShiftRequested,
    TrafficShiftResult, PhaseStarted, GateDecided, CriterionEvaluated, RolloutCompleted,
    TriggerBreached, TriggerCleared, TriggerFired, KillRequested, KillResult, RollbackVerified,
    Escalated, Notified, BudgetAlerted, GatewayReconciled, EvidenceCollected, Noted,
    GuardStarted, GuardStopped, TornTailQuarantined, JournaledLate,
    PostDeploymentDone,  # appended, never reordered: kinds keep their order
    IncidentOpened, IncidentEscalated, IncidentAcknowledged, IncidentResolved, NotificationQueued,
    SpendControlRan, SilenceCreated, SilenceExpired,
    RoundLate,
    JudgmentMade,
    SpendRead,
)


# --- the record -------------------------------------------------------------------------------


class Record(_Struct):
    """One journal line: envelope plus payload. `hash` covers everything else on the line.

    The fields stay in this order: it is the order of the line (hash first)."""

    hash: str = ""
    v: int = SCHEMA_VERSION  # the journal writes 2 while it keeps a head record (store.head.HEADED)
    seq: int
    ts: datetime
    actor: Actor
    kind: str
    payload: Payload
    prev: str


# One record class per payload (`kind` a literal, `payload` that class; a subclass keeps the
# fields where Record has them), so a line validates in one pass once its kind is known.
_RECORDS: list[type[Record]] = [
    _Meta(f"{p.__name__}Record", (Record,), {"__module__": __name__, "__qualname__": f"{p.__name__}Record",
                                            "__annotations__": {"kind": Literal[p.KIND], "payload": p}})
    for p in PAYLOADS
]
_BY_KIND: dict[str, type[Record]] = {p.KIND: cls for p, cls in zip(PAYLOADS, _RECORDS, strict=False)}
_DECODE: dict[bytes, Callable[[bytes], Record]] = {
    p.KIND.encode(): msgspec.json.Decoder(cls).decode for p, cls in zip(PAYLOADS, _RECORDS, strict=False)}
_KIND_AT = b',"kind":"'  # as every line is written: the envelope's kind follows the actor


class _Envelope(_Struct):
    """A line read without its payload, to say why it is not a record when its kind is not known."""

    hash: str = ""
    v: int = SCHEMA_VERSION
    seq: int
    ts: datetime
    actor: Actor
    kind: str
    payload: msgspec.Raw
    prev: str


_DECODE_ENVELOPE = msgspec.json.Decoder(_Envelope).decode


def parse_record(line: bytes | str) -> Record:
    """Validate one journal line (raises RecordError).

    The kind is read from the line's bytes, where the journal writes it (`,"kind":"<kind>"`
    after the actor: no string before it can hold those bytes, and the actor may hold no other
    field), so one typed decode validates the whole line, the kind tag against its payload too."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")  # a lone surrogate is then a byte that is not UTF-8
    _, _, rest = line.partition(_KIND_AT)
    decode = _DECODE.get(rest[: rest.find(b'"')])
    try:
        if decode is None:
            _not_a_record(line)
        return decode(line)
    except UnicodeDecodeError:  # msgspec's own, for a string that is not UTF-8: a RecordError like any other
        raise msgspec.DecodeError(_not_utf8(line)) from None


def _not_utf8(line: bytes) -> str:
    """Where a line stops being UTF-8, counted in bytes from 1 (msgspec counts from its string)."""
    try:
        line.decode()
    except UnicodeDecodeError as e:
        return f"not UTF-8: byte 0x{line[e.start]:02x} at column {e.start + 1}"
    return "not UTF-8"


def _not_a_record(line: bytes) -> NoReturn:
    """Why a line without a known kind where the journal writes it is not a record."""
    kind = _DECODE_ENVELOPE(line).kind  # not JSON, a missing field, a wrong type: msgspec says which
    where = " (the journal writes it after the actor)" if kind.encode() in _DECODE else ""
    raise msgspec.ValidationError(f"Invalid event kind {kind!r}{where} - at `$.kind`")


def make_record(*, seq: int, ts: datetime, actor: Actor, payload: Payload, prev: str) -> Record:
    """A record as built, not yet validated: the journal validates it when it writes it."""
    return _BY_KIND[payload.KIND](seq=seq, ts=ts, actor=actor, kind=payload.KIND, payload=payload, prev=prev)
