"""The screen's read model: every row a face shows, built purely from state, plan, the guard's round and `now`.

Faces (the captain's screen, observers, `status`) lay these rows out and decide nothing: the
headline word, each trigger's mark and countdown, which gate criteria hold, the budget's colour,
which escalation level applies, what the rollback checklist has done. Styles are semantic roles
(`ROLES`); a face maps them to its theme's colours.

The plan is a `core.planview.PlanView` (the config `Plan` satisfies it: triggers, phases, escalation,
budget, preflight, sign_offs, kill_switch, role_title); the core imports neither the config nor the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from cockpit.core import events as ev
from cockpit.core import headline as heads
from cockpit.core import postdeploy, rules, words
from cockpit.core.budget import BudgetBurn, next_alert
from cockpit.core.budget import burn as burned
from cockpit.core.escalation import EMERGENCY, ROLLBACK_NOT_VERIFIED, active_levels, with_names
from cockpit.core.evaluation import CriterionView, Evaluation, GuardId
from cockpit.core.guardsight import GuardSight, journaled_speed, judge
from cockpit.core.headline import Headline, Role
from cockpit.core.judgeview import JudgmentView, judgment_views
from cockpit.core.nextstep import NextStep, next_step, refusals
from cockpit.core.planview import PhaseTrack, PlanCriterion, PlanTrigger, PlanView
from cockpit.core.state import STATUS_WORDS, fold
from cockpit.core.state import RolloutState as RolloutState  # what every face's view starts from
from cockpit.core.triggers import TriggerTrack, WindowVerdict
from cockpit.core.visible import visible_fields

ROLES: tuple[str, ...] = ("ok", "warn", "breach", "alarm", "stale", "kill", "muted", "bold", "plain")
# ok: healthy, passed. warn: amber, needs attention (breaching, blind). breach: red, failed.
# alarm: red and loud (fired, unguarded). stale: an old value. kill: the kill switch (loud).
# muted: waiting, not applicable. bold / plain: emphasis only.

# Plain symbols that survive bastion fonts (emoji come out as empty boxes there).
PASS, FAIL, WAIT, RUN, WAIVED, WARN, DOT, STALE_MARK = "✓", "✗", "·", "⟳", "~", "▲", "●", "◌"

LEGEND: tuple[tuple[str, str], ...] = (
    (PASS, "passed, met, signed, healthy"),
    (FAIL, "failed, not met, or a trigger that FIRED"),
    (WARN, "breaching now, or holding for want of data"),
    (STALE_MARK, "STALE: no fresh answer from the guard for this gauge"),
    (WAIT, "waiting: not evaluated yet, not run yet, missing"),
    (RUN, "a preflight check running now"),
    (WAIVED, "a preflight check waived, with its recorded reason"),
    (DOT, "a connection: green up, red DOWN, grey not used"),
    ("▶", "the current phase; an escalation level that applies now"),
    ("HOLD", "a trigger without data that holds the rollout (its no-data policy)"),
    ("STALE", "the last answer is older than two poll intervals (its age follows)"),
    ("FIRED", "the trigger held for its whole window and acted (the value and time it fired)"),
    ("6m00s/10m00s", "breaching for 6 minutes of the 10 it needs to fire"),
    ("UNGUARDED", "the rollout is live and no guard evaluates the triggers"),
    ("BLIND", "triggers have no data: a breach could not be seen"),
)

PANES = ("phase", "preflight", "budget", "escalation", "timeline")
CHECKLIST_PREFIX = "rollback step done: "


# --- wording helpers ----------------------------------------------------------------------------


def trigger_label(name: str) -> str:
    """The name a trigger goes by on screen: the metric part of the plan's name.
    "Error Rate ≥ 2 %" -> "Error Rate", "Security: cross-…" -> "Security"."""
    for sep in (":", " ≤", " ≥", " <", " >", " =", " ("):
        name = name.split(sep)[0]
    return name.strip()


def trigger_names(plan: PlanView | ev.PlanLoaded) -> dict[str, str]:
    """Trigger id -> its on-screen name, from the config plan or the journal's plan document."""
    if not isinstance(plan, ev.PlanLoaded):
        return {t.id: trigger_label(t.name) for t in plan.triggers}
    document = plan.document
    return {t["id"]: trigger_label(t.get("name", t["id"])) for t in document.get("triggers", ()) if "id" in t}


def _seconds(td: timedelta | float | None) -> float:
    if td is None:
        return 0.0
    return td.total_seconds() if isinstance(td, timedelta) else float(td)


def baseline_word(trigger: PlanTrigger) -> str:
    """What a relative threshold is relative to, in the plan's words: "vs staging" -> "staging"."""
    parts = trigger.name.partition(" vs ")[2].split()  # none after a bare trailing "vs"
    return (parts[0].strip(",;)") if parts else "") or "baseline"


def limit_text(trigger: PlanTrigger, threshold: float | None) -> str:
    """`> 1,200 ms`; a relative one shows its baseline: `> 285 ms (staging 238 ms +20 %)`."""
    if trigger.check:
        return "check fails"
    unit = trigger.unit
    sym = words.symbol(trigger.comparison)
    pct = trigger.above_baseline_pct
    if pct is not None:
        word = baseline_word(trigger)
        sign = "+" if pct >= 0 else ""
        if threshold is None:
            return f"{sym} {word} {sign}{words.percent(pct)}"
        base = threshold / (1.0 + pct / 100.0)
        return f"{sym} {words.value(threshold, unit)} ({word} {words.value(base, unit)} {sign}{words.percent(pct)})"
    shown = threshold if threshold is not None else trigger.threshold
    return words.limit(trigger.comparison, shown, unit)


# --- the rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerRow:
    id: str
    name: str  # the plan's trigger name as the screen says it ("Performance")
    mark: str
    value: str  # "" when there is nothing to show (no data)
    limit: str
    pending: str  # "6m00s/10m00s", "FIRED 14:22:00", "HOLD: no data", "STALE 3m00s", "—"
    role: Role
    state: str  # waiting | ok | breaching | fired | hold | ignored | stale | stopped
    history: tuple[float, ...] = ()
    threshold: float | None = None
    fires_in: float | None = None  # seconds until a breaching trigger fires
    action: str = ""
    breached_s: float | None = None  # seconds a breaching trigger has breached, as its gauge says


@dataclass(frozen=True)
class CriterionRow:
    id: str
    name: str
    met: bool | None
    mark: str
    text: str  # the verdict in words, or the criterion's name while not evaluated
    role: Role


@dataclass(frozen=True)
class DecisionRow:
    role_id: str
    title: str
    decision: str  # GO | NO-GO | waiting | undecided (the gate stopped before this owner decided)
    name: str
    entered_by: str
    at: datetime | None
    note: str
    role: Role

    @property
    def text(self) -> str:
        """`Sam (SRE) GO, entered by alice@bastion`, `SRE: waiting`, or after a kill `SRE: not decided`."""
        if self.decision == "waiting":
            return f"{self.title}: waiting"
        if self.decision == "undecided":
            return f"{self.title}: not decided"
        by = f", entered by {self.entered_by}" if self.entered_by else ""
        return f"{self.name} ({self.title}) {self.decision}{by}"


@dataclass(frozen=True)
class GateView:
    phase: int | None
    name: str
    owners: str
    stopped: str  # "" while the gate is open; "rolled back" after a kill
    criteria: tuple[CriterionRow, ...]
    manual: tuple[str, ...]
    decisions: tuple[DecisionRow, ...]
    waiting: tuple[str, ...] = ()  # the owners (titles) whose GO or NO-GO the open gate waits for


@dataclass(frozen=True)
class TrackStep:
    """One phase on the phase track: `▶25%` soaking, `✗25%` where the kill stopped it, `5%` passed."""

    weight: int
    text: str
    state: Literal["passed", "soaking", "stopped", "ahead", "completed"]
    role: Role


@dataclass(frozen=True)
class PhaseView:
    """Where the rollout is: the phase track and one line of it (`Phase 2 (2/4) · canary 25 %`;
    after a kill `Phase 2 (2/4) rolled back · canary 0 %`: the weight the gateway last confirmed)."""

    track: tuple[TrackStep, ...]
    where: str  # "Preflight", "Starting", "Phase 2 (2/4)"
    stopped: str  # "" while it runs and once completed; "rolled back", "kill sent", "KILL NOT CONFIRMED"
    canary: str  # "25 %": the canary's share the gateway last confirmed

    @property
    def text(self) -> str:
        stopped = f" {self.stopped}" if self.stopped else ""
        return f"{self.where}{stopped} · canary {self.canary}"


@dataclass(frozen=True)
class KillLine:
    """The kill switch in one line and its proofs, as every face says it."""

    head: str  # "KILL SENT", "KILL VERIFIED 14:30:00Z", "KILL NOT CONFIRMED"
    why: str  # "pulled by trigger Performance", "pulled by alice@bastion: p95 regression"
    detail: str  # the gateway's answer: "the gateway reads the canary off: canary share 0 %", "3 attempts: timeout"
    traffic: str  # the second proof: "canary traffic ~0: ...", "ROLLBACK NOT VERIFIED: ...", "waiting ..."
    role: Role
    requested_at: datetime
    by: str  # user@host that pulled it (a trigger's kill: the guard's)
    attempts: int  # the gateway's attempts in its last answer (0: no answer yet)

    @property
    def text(self) -> str:
        return f"{self.head} · {self.why}"


@dataclass(frozen=True)
class IncidentRow:
    """One incident, open or past: who was paged, who took it, how it ended."""

    id: str
    level: str  # the level paged last
    levels: str  # every level paged: "L1 → L2"
    reason: str
    opened_at: datetime
    state: Literal["open", "acknowledged", "resolved"]
    acked: str  # "Sam (cli) 14:05:00Z", or ""
    resolved: str  # "14:30:00Z: the rollback is verified", or ""
    role: Role

    @property
    def text(self) -> str:
        """`INC-1 L1 opened 14:20:00Z: Performance fired ...; acknowledged by Sam (cli) 14:21:00Z;
        resolved 14:30:00Z: ...`"""
        said = incident_opened(self.id, self.levels, self.reason, self.opened_at)
        said += (f"; acknowledged by {self.acked}" if self.acked
                 else ("; NOT acknowledged" if self.state == "open" else ""))
        return said + (f"; resolved {self.resolved}" if self.resolved else "")


@dataclass(frozen=True)
class BudgetRow:
    name: str
    spent: str  # "$10,625 of $18,000"
    pct: str
    projected: str  # "$12,450  69 %"
    role: Role


@dataclass(frozen=True)
class BudgetView:
    rows: tuple[BudgetRow, ...]
    total: BudgetRow | None
    margin: str
    role: Role  # the projection's colour
    next_alert: str
    next_role: Role
    raised: str
    known: bool  # any spend data at all


@dataclass(frozen=True)
class EscalationRow:
    level: str
    name: str
    scope: str
    owners: str
    contacts: tuple[str, ...]
    channel: str
    reasons: tuple[str, ...]  # why it applies now; empty when it does not
    role: Role

    @property
    def applies(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class CheckRow:
    id: str
    name: str
    mark: str
    word: str
    at: str
    detail: str
    role: Role


@dataclass(frozen=True)
class SignOffRow:
    role_id: str
    title: str
    mark: str
    word: str
    at: str
    name: str
    role: Role


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    text: str
    role: Role
    kind: str


@dataclass(frozen=True)
class ChecklistRow:
    """One step of the plan's rollback procedure, and whether it is done."""

    key: str  # the step's name in the journal (`rollback step done: <key>: ...`)
    step: str
    done: bool | None  # None: done by hand, not ticked yet
    detail: str
    manual: bool  # a person ticks it (journaled)
    mark: str
    role: Role


@dataclass(frozen=True)
class GuardHealth:
    guarded: bool
    needed: bool  # a rollout is live: somebody must evaluate
    # "GUARD 4242@bastion · last round 3s ago", "UNGUARDED 3m00s", "guard 4242@bastion stopped at ...", "no guard"
    text: str
    short: str  # for narrow headers: "guard ● 3s", "guard stopped 14:32:10", "guard none"
    role: Role
    guard: GuardId | None = None
    age_s: float | None = None  # wall seconds since the round, by the face's own clock
    state: Literal["live", "journaled", "unguarded", "stopped", "none"] = "none"
    why: str = ""  # why UNGUARDED; a stopped guard's reason
    stopped_at: datetime | None = None


@dataclass(frozen=True)
class SoakView:
    started: bool
    stopped: str  # "" while soaking; the status word otherwise
    fraction: float
    left_s: float
    total_s: float


@dataclass(frozen=True)
class ReadModel:
    headline: Headline
    banner: tuple[str, ...]  # lines across every tab while something is wrong; () when all is well
    badges: dict[str, tuple[str, Role]]  # pane -> (mark, role) while it holds a breach, a fire or blindness
    triggers: tuple[TriggerRow, ...]
    gate: GateView
    soak: SoakView
    budget: BudgetView
    escalation: tuple[EscalationRow, ...]
    checks: tuple[CheckRow, ...]
    sign_offs: tuple[SignOffRow, ...]
    timeline: tuple[TimelineLine, ...]  # newest first
    checklist: tuple[ChecklistRow, ...]  # after a kill: the rollback procedure
    guard: GuardHealth
    actions: frozenset[str]  # the commands this state offers (the footer shows no other)
    phase: PhaseView | None = None
    kill: KillLine | None = None
    incidents: tuple[IncidentRow, ...] = ()  # open and past, in the order they opened
    post_deployment: tuple[postdeploy.ItemRow, ...] = ()  # after completion: the plan's items as they stand
    next_step: NextStep | None = None  # what the rollout waits for (faces that can act say its key)
    refusals: dict[str, tuple[str, ...]] = field(default_factory=dict)  # action -> why not now
    missing_sign_offs: tuple[str, ...] = ()  # the titles of the sign-offs not recorded yet
    demo: str = ""  # "DEMO · simulated · 60x" when the journal is a demo's: no picture of it passes for production
    judgments: dict[int, JudgmentView] = field(default_factory=dict)  # phase -> the judge's latest judgment of it


# --- the rules ----------------------------------------------------------------------------------


def criterion(state: RolloutState, live: Evaluation | None, criterion_id: str) -> CriterionView:
    """A criterion of the current gate: the guard's live verdict when it has one, else what the
    journal says, else not evaluated yet (passed None)."""
    soak = live.criteria_for(state.phase, state.phase_started_at) if live else {}
    current = soak.get(criterion_id)
    gate = state.gates.get(state.phase) if state.phase is not None else None
    journaled = gate.criteria.get(criterion_id) if gate else None
    if current is not None and current.passed is not None:
        return current
    if journaled is not None:
        return CriterionView(journaled.passed, journaled.value, journaled.detail)
    return CriterionView(None, None, current.detail if current else "not evaluated yet")


class _RowBase(TypedDict):
    id: str
    name: str
    action: str


def trigger_row(trigger: PlanTrigger, state: RolloutState, live: Evaluation | None, now: datetime) -> TriggerRow:
    """One trigger as its gauge shows it: value, limit (with its baseline), pending time, mark and role."""
    name = trigger_label(trigger.name)
    journaled = state.triggers.get(trigger.id)
    unit = trigger.unit
    is_check = bool(trigger.check)
    base = _RowBase(id=trigger.id, name=name, action=trigger.action)

    def shown(value: float | None) -> str:
        if value is None:
            return ""
        if is_check:
            return "fail" if value > 0.5 else "pass"
        return words.value(value, unit)

    track: TriggerTrack | None = None
    stale: float | None = None
    if live is not None:
        track, stale = live.gauge(trigger.id, now)
    verdict: WindowVerdict | None = track.verdict if track else None
    threshold = verdict.threshold if verdict else (
        journaled.threshold if journaled and journaled.threshold is not None else None)
    limit = limit_text(trigger, threshold)
    history = track.history if track else ()

    if journaled is not None and journaled.fired is not None:
        f = journaled.fired
        return TriggerRow(**base, mark=FAIL, value=shown(f.value),
                          limit=limit_text(trigger, f.threshold if f.threshold is not None else threshold),
                          pending=f"FIRED {words.clock(journaled.fired_at)}", role="alarm", state="fired",
                          history=history, threshold=f.threshold)
    if state.status == "preflight":
        return TriggerRow(**base, mark=WAIT, value="", limit=limit, pending="armed at start", role="muted",
                          state="waiting", threshold=threshold)
    if state.status in ("rolled_back", "completed"):
        return TriggerRow(**base, mark=WAIT, value="", limit=limit, pending="stopped", role="muted", state="stopped",
                          history=history, threshold=threshold)
    if live is None or verdict is None:
        if live is None:
            why = "no guard"
        elif track is not None and track.last_error:
            why = "no answer"
        else:
            why = "next check run" if is_check else "first poll"
        return TriggerRow(**base, mark=WAIT, value="", limit=limit, pending=why, role="muted", state="waiting",
                          history=history, threshold=threshold)
    if stale is not None:
        assert track is not None  # a stale gauge is a gauge the round has (Evaluation.gauge)
        last = history[-1] if history else verdict.value
        age = "" if track.last_good_at is None else words.duration(now.timestamp() - track.last_good_at)
        value = f"{shown(last)}, {age} ago" if last is not None and age else ""
        return TriggerRow(**base, mark=STALE_MARK, value=value, limit=limit, pending="STALE " + words.duration(stale),
                          role="stale", state="stale", history=history, threshold=threshold)
    s = verdict.state
    if s == "fired":
        return TriggerRow(**base, mark=FAIL, value=shown(verdict.value), limit=limit,
                          pending=f"FIRED {words.clock(datetime.fromtimestamp(verdict.at, now.tzinfo))}",
                          role="alarm", state="fired", history=history, threshold=threshold)
    if s == "breaching":
        # As of `now`, as the headline's countdown: the round's figure moved on by the round's age
        # (a breach goes on until a round says otherwise), so the two always add up to the window.
        breached = min(verdict.needed_s, verdict.breaching_for_s + max(0.0, now.timestamp() - verdict.at))
        fires_in = verdict.needed_s - breached
        pending = f"{words.duration(breached)}/{words.duration(verdict.needed_s)}"
        return TriggerRow(**base, mark=WARN, value=shown(verdict.value), limit=limit, pending=pending, role="breach",
                          state="breaching", history=history, threshold=threshold, fires_in=fires_in,
                          breached_s=breached)
    if s == "no_data_hold":
        return TriggerRow(**base, mark=WARN, value="", limit=limit, pending="HOLD: no data", role="warn", state="hold",
                          history=history, threshold=threshold)
    if s == "no_data_ignored":
        return TriggerRow(**base, mark=WAIT, value="", limit=limit, pending="no data (ignored)", role="muted",
                          state="ignored", history=history, threshold=threshold)
    return TriggerRow(**base, mark=PASS, value=shown(verdict.value), limit=limit, pending="—", role="ok", state="ok",
                      history=history, threshold=threshold)


def trigger_rows(plan: PlanView, state: RolloutState, live: Evaluation | None, now: datetime) -> tuple[TriggerRow, ...]:
    return tuple(trigger_row(t, state, live, now) for t in plan.triggers)


def breach_ages(rows: Iterable[TriggerRow]) -> dict[str, float]:
    """Trigger id -> seconds it has breached, as the gauges say it: the one figure the refusals use."""
    return {r.id: r.breached_s for r in rows if r.breached_s is not None}


def guard_health(plan: PlanView, state: RolloutState, live: Evaluation | None, sight: GuardSight | None,
                 unanswered: str = "") -> GuardHealth:
    """`GUARD 4242@bastion · last round 3s ago` when the guard lock's holder published a fresh round
    and the journal names it (core.guardsight.judge, on the face's own sight); `UNGUARDED` while a
    rollout is live and it did not, or `GUARD UNSEEN` when the record does not answer this face
    (`unanswered`: the guard may be guarding, unseen); a guard that stopped says so and when; else no guard."""
    named = live.guard if live is not None else None
    # a replay: the journal's word, no round's age
    if sight is not None and sight.journal_only and state.guard is not None:
        g, since = state.guard, words.clock(state.guard_since)
        return GuardHealth(True, state.live, f"guard {g.pid}@{g.host} started {since} (as journaled)",
                           f"guard {DOT} started {since}", "ok", named, None, "journaled")
    j = judge(plan, state, live, sight)
    if j.guarded:
        shown = words.duration(j.age_s or 0)
        return GuardHealth(True, state.live, f"GUARD {named} · last round {shown} ago", f"guard {DOT} {shown}", "ok",
                           named, j.age_s, "live")
    if state.live:
        word = "GUARD UNSEEN" if unanswered else "UNGUARDED"
        text = f"{word} {words.duration(j.age_s or 0)}" if j.stale else word
        why = f"the record has not answered since {unanswered}" if unanswered else j.why
        return GuardHealth(False, True, text, text, "alarm", named, j.age_s, "unguarded", why)
    stop = state.guard_stop  # (set only while no guard runs: the fold clears it when one starts)
    if stop is not None:
        g = stop.started
        return GuardHealth(False, False,
                           f"guard {g.pid}@{g.host} stopped at {words.clock(stop.at)}: {stop.stopped.reason}",
                           f"guard stopped {words.clock(stop.at)}", "muted", None, j.age_s, "stopped",
                           stop.stopped.reason, stop.at)
    return GuardHealth(False, False, "no guard", "guard none", "muted", named, j.age_s, "none", j.why)


def soak_view(plan: PlanView, state: RolloutState, now: datetime) -> SoakView:
    if state.phase is None or state.phase_started_at is None:
        return SoakView(False, "", 0.0, 0.0, 0.0)
    total = _seconds(plan.phases[state.phase].soak)
    if state.status not in ("live", "killing"):
        return SoakView(True, status_word(state), 0.0, 0.0, total)
    left = _seconds(rules.soak_remaining(state, now))
    return SoakView(True, "", (1 - left / total) if total else 1.0, left, total)


def rollout(records: Iterable[ev.Record]) -> RolloutState:
    """A journal's records folded into the state every view here starts from (faces do not fold)."""
    return fold(records)


def outcome(state: RolloutState) -> str:
    """The rollout's status in capitals, as `status` and the report print it: `ROLLED BACK`."""
    return STATUS_WORDS[state.status]


def soak_left(state: RolloutState, now: datetime) -> timedelta | None:
    """What is left of the soaking phase's soak; None unless the rollout is live."""
    return rules.soak_remaining(state, now) if state.status == "live" else None


def advance_refusals(state: RolloutState, now: datetime, breached: dict[str, float] | None = None) -> list[str]:
    """Why `advance` is refused now (none unless live); `breached`: each breach's age as its gauge says it."""
    return rules.advance_refusals(state, now, breached) if state.status == "live" else []


def status_word(state: RolloutState) -> str:
    """The rollout's status in one word, as refusals and the soak line say it."""
    if state.status == "rolled_back":
        return "rolled back"
    return {"preflight": "preflight", "live": "live", "killing": "kill sent", "kill_unconfirmed": "KILL NOT CONFIRMED",
            "completed": "completed"}[state.status]


def headline(plan: PlanView, state: RolloutState, live: Evaluation | None, now: datetime,
             triggers: tuple[TriggerRow, ...] | None = None, *, sight: GuardSight | None = None,
             journal_broken: str = "", unanswered: str = "") -> Headline:
    """The one state the captain reads first: the first rule of core.headline.PRECEDENCE that
    applies. `sight`: what the face saw of the guard (none: UNGUARDED); `unanswered`: since when
    the record has not answered this face."""
    rows = triggers if triggers is not None else trigger_rows(plan, state, live, now)
    return heads.first(heads.Seen(plan, state, live, now, rows, guard_health(plan, state, live, sight, unanswered),
                                  journal_broken,
                                  unanswered))


def not_holding_now(criterion: PlanCriterion, plan: PlanView, rows: Iterable[TriggerRow]) -> TriggerRow | None:
    """The trigger on a gate criterion's own query that breaches or fired now: the criterion was met
    at its last evaluation, and does not hold now (its ✓ would stand beside the trigger's ▲)."""
    query = " ".join(criterion.query.split())
    if not query:
        return None
    same = {t.id for t in plan.triggers if " ".join((t.query or "").split()) == query}
    return next((r for r in rows if r.id in same and r.state in ("breaching", "fired")), None)


def not_now_text(row: TriggerRow) -> str:
    """Why a met criterion does not hold now, in its trigger's gauge words: `not now: Performance 412 ms breaching`."""
    return f"not now: {row.name} {row.value} {'FIRED' if row.state == 'fired' else 'breaching'}"


def gate_view(plan: PlanView, state: RolloutState, live: Evaluation | None,
              triggers: tuple[TriggerRow, ...] = ()) -> GateView:
    """The current gate: its criteria (a met one beside its own trigger breaching now reads ▲, not ✓:
    `triggers`, the rows the face shows), its owners' decisions, what the owners attest."""
    if state.phase is None:
        return GateView(None, "", "", "", (), (), ())
    spec = plan.phases[state.phase]
    owners = " + ".join(plan.role_title(o) for o in spec.gate.owners)
    stopped = {"rolled_back": "rolled back", "killing": "kill sent",
               "kill_unconfirmed": "kill not confirmed"}.get(state.status, "")
    gate = state.gates.get(state.phase)
    rows = []
    if not stopped:
        for c in spec.gate.auto:
            v = criterion(state, live, c.id)
            if v.passed is None:
                rows.append(CriterionRow(c.id, c.name, None, WAIT, c.name, "muted"))
            elif v.passed and (now := not_holding_now(c, plan, triggers)) is not None:
                rows.append(CriterionRow(c.id, c.name, True, WARN, f"{not_now_text(now)} · {v.detail}", "breach"))
            elif v.passed:
                rows.append(CriterionRow(c.id, c.name, True, PASS, v.detail, "ok"))
            elif (gate and gate.judged and gate.judged.judgment.verdict == "Marginal"
                  and c.id in gate.judged.judgment.criteria):
                rows.append(CriterionRow(c.id, c.name, False, WARN, v.detail + " · the owners decide", "warn"))
            else:
                rows.append(CriterionRow(c.id, c.name, False, FAIL, v.detail, "breach"))
    decisions = []
    for role in spec.gate.owners:
        d = gate.decisions.get(role) if gate else None
        title = plan.role_title(role)
        if d is None:
            decisions.append(DecisionRow(role, title, "undecided" if stopped else "waiting", "", "", None, "", "muted"))
        else:
            decisions.append(DecisionRow(role, title, d.decision, d.name, d.by, d.at, d.note,
                                         "ok" if d.decision == "GO" else "breach"))
    manual = () if stopped else tuple(spec.gate.manual)
    return GateView(state.phase, spec.name, owners, stopped, tuple(rows), manual, tuple(decisions))


def budget_role(projected_pct: float) -> Role:
    """The month-end projection's colour: under 75 % fine, under 95 % a warning, above it loud."""
    if projected_pct < 75:
        return "ok"
    return "warn" if projected_pct < 95 else "breach"


def budget_view(plan: PlanView, state: RolloutState, burn: BudgetBurn | None) -> BudgetView:
    budget = plan.budget
    cur = budget.currency
    money: Callable[[float | None], str] = lambda v: words.money(v, cur)  # noqa: E731
    raised = ", ".join(words.percent(p) for p in sorted(state.budget_alerts)) or "none"
    if burn is None and state.spend is not None and state.spend_at is not None:
        burn = burned(budget.categories, dict(state.spend.spent), state.spend_at)  # as the journal last read it
    if burn is None:
        rows = tuple(BudgetRow(c.name, f"{words.NO_DATA} of {money(c.monthly)}", "", f"{money(c.projected)} plan",
                               "plain") for c in budget.categories)
        return BudgetView(rows, None, "", "muted", "no spend data yet", "muted", raised, False)
    rows = tuple(
        BudgetRow(c.name, f"{money(c.spent)} of {money(c.monthly)}", words.percent(c.pct),
                  f"{money(c.projected)} {words.percent(c.projected_pct)}", "plain")
        for c in burn.categories
    )
    role = budget_role(burn.projected_pct)
    known = any(c.spent is not None for c in burn.categories)  # no spend data is no data, never "$0"
    total = BudgetRow("Total", f"{money(burn.spent if known else None)} of {money(burn.monthly)}",
                      words.percent(burn.pct if known else None),
                      f"{money(burn.projected)} {words.percent(burn.projected_pct)}", role)
    nxt = next_alert(burn, budget.alerts)
    margin = f"{money(burn.safety_margin)} ({words.percent(100 * burn.safety_margin / burn.monthly)})"
    said = f"next alert at {words.percent(nxt.at_pct)}: {nxt.action}" if nxt else "every alert threshold crossed"
    return BudgetView(rows, total, margin, role, said, "muted" if nxt else "breach",
                      f"{raised} · {words.percent(100 * burn.month_fraction)} of the month gone", known)


def incident_lines(plan: PlanView, state: RolloutState, now: datetime | None) -> dict[str, list[str]]:
    """Level -> one line per open incident paged there: who acknowledged it, or its timer; and
    every message about it that could not be sent (said loudly, never silent)."""
    out: dict[str, list[str]] = {}
    timeouts = {lvl.level: lvl.ack_timeout for lvl in plan.escalation}
    for inc in state.incidents.values():
        if not inc.open:
            continue
        if inc.acknowledged:
            said = f"{inc.id} acknowledged by {inc.acked_by}"
        else:
            timeout = timeouts.get(inc.level)
            if timeout is not None and now is not None:
                left = max(timedelta(0), inc.paged_at + timeout - now)
                said = f"{inc.id} NOT acknowledged: climbs in {words.duration(left)}"
            else:
                said = f"{inc.id} NOT acknowledged"
        out.setdefault(inc.level, []).append(said)
    for o in state.outbox.values():
        r = o.result
        if r is not None and not r.delivered and o.queued.purpose in ("page", "acknowledge", "resolve"):
            paged = state.incidents.get(o.queued.incident)
            level = paged.level if paged is not None else o.queued.level
            out.setdefault(level, []).append(f"NOT SENT to {o.queued.channel} ({o.queued.incident}): {r.error}")
    return out


def escalation_rows(plan: PlanView, state: RolloutState, now: datetime | None = None) -> tuple[EscalationRow, ...]:
    """Every level of the matrix, with the reasons it applies now (breaching or fired triggers by
    name, explicit escalations, an unconfirmed kill for Emergency, the incidents paged there
    with their acknowledgement timers, and any page that could not be sent)."""
    reasons = active_levels(state, {t.id: t.level for t in plan.triggers}, trigger_names(plan))
    for level, lines in incident_lines(plan, state, now).items():
        reasons.setdefault(level, []).extend(lines)
    rows = []
    for lvl in plan.escalation:
        why = tuple(dict.fromkeys(reasons.get(lvl.level, ())))
        role: Role = ("kill" if lvl.level == EMERGENCY else "alarm") if why else "plain"
        rows.append(EscalationRow(lvl.level, lvl.name, lvl.scope, ", ".join(plan.role_title(o) for o in lvl.owners),
                                  tuple(lvl.contacts), lvl.channel, why, role))
    return tuple(rows)


def check_rows(plan: PlanView, state: RolloutState, running: frozenset[str] = frozenset()) -> tuple[CheckRow, ...]:
    rows = []
    for check in plan.preflight:
        cs = state.checks.get(check.id)
        at = words.clock(cs.at) if cs and cs.at else ""
        if check.id in running:
            rows.append(CheckRow(check.id, check.name, RUN, "running", at, "", "stale"))
        elif cs and cs.waived:
            rows.append(CheckRow(check.id, check.name, WAIVED, "waived", at, f"{cs.waived} ({cs.waived_by})", "stale"))
        elif cs is None or cs.status == "pending":
            rows.append(CheckRow(check.id, check.name, WAIT, "pending", "", check.description, "muted"))
        else:
            ok = cs.status == "pass"
            rows.append(CheckRow(check.id, check.name, PASS if ok else FAIL, cs.status, at, cs.detail,
                                 "ok" if ok else "breach"))
    return tuple(rows)


def sign_off_rows(plan: PlanView, state: RolloutState) -> tuple[SignOffRow, ...]:
    rows = []
    for role in plan.sign_offs:
        sig = state.sign_offs.get(role)
        title = plan.role_title(role)
        if sig:
            rows.append(SignOffRow(role, title, PASS, "signed", words.clock(sig.at), sig.name, "ok"))
        else:
            rows.append(SignOffRow(role, title, WAIT, "missing", "", "", "muted"))
    return tuple(rows)


QUIET = frozenset({"spend_read"})  # folded into the panes (the budget), not a line of the timeline


def timeline_role(record: ev.Record) -> Role:
    p = record.payload
    if (record.kind in ("kill_requested", "trigger_fired", "escalated")
            or (isinstance(p, ev.KillResult) and not p.confirmed)):
        return "breach"
    if isinstance(p, ev.TriggerBreached) or (isinstance(p, ev.RoundLate) and not p.caught_up):
        return "warn"
    if record.kind in ("kill_result", "phase_started", "rollout_completed"):
        return "bold"
    return "plain"


Say = Callable[[ev.Record, ev.PlanLoaded | None], str]  # words a timeline record (the wording module's)


def timeline(state: RolloutState, say: Say) -> tuple[TimelineLine, ...]:
    """Every journal record the state keeps, newest first, said by `say(record, plan)` (the
    wording module's: the core does not word events)."""
    return tuple(TimelineLine(r.ts, say(r, state.plan), timeline_role(r), r.kind) for r in reversed(state.recent)
                 if r.kind not in QUIET)


def _after_kill(state: RolloutState) -> Iterable[ev.Record]:
    k = state.kill
    return [r for r in state.recent if k is not None and r.ts >= k.requested_at]


MANUAL_STEPS = ("failure evidence captured", "stakeholders notified", "hotfix branch created")


def checklist(plan: PlanView, state: RolloutState) -> tuple[ChecklistRow, ...]:
    """The plan's rollback procedure after a kill, with what is done. The gateway read-back and
    the canary-traffic proof tick themselves; a delivered notification ticks the channel step;
    the rest are ticked by hand (journaled as a note `rollback step done: <step>: <what>`)."""
    if state.kill is None:
        return ()
    k = state.kill
    flag = plan.kill_switch.flag
    channel = plan.kill_switch.notify or "the channel"
    after = _after_kill(state)
    ticked: dict[str, str] = {}
    for r in after:
        if isinstance(r.payload, ev.Noted) and r.payload.text.startswith(CHECKLIST_PREFIX):
            rest = r.payload.text[len(CHECKLIST_PREFIX):]
            step, _, what = rest.partition(": ")
            ticked[step.strip()] = f"{what.strip() or 'done'} ({r.actor.user}, {words.clock(r.ts)})"
    rows = []
    if k.result is None:
        rows.append(ChecklistRow("gateway flag set", f"gateway flag {flag}=false set", None,
                                 "sent, waiting for the read-back", False, RUN, "stale"))
    elif k.result.confirmed:
        rows.append(ChecklistRow("gateway flag set", f"gateway flag {flag}=false set", True,
                                 f"verified by read-back at {words.clock(k.result_at)}", False, PASS, "ok"))
    else:
        rows.append(ChecklistRow("gateway flag set", f"gateway flag {flag}=false set", False,
                                 f"NOT confirmed: {k.result.error}", False, FAIL, "alarm"))
    if k.verified is None:
        rows.append(ChecklistRow("traffic confirmed", "traffic to the previous version confirmed", None,
                                 "waiting for canary traffic to fall to ~0", False, WAIT, "muted"))
    else:
        rows.append(ChecklistRow("traffic confirmed", "traffic to the previous version confirmed", k.verified.ok,
                                 k.verified.detail, False, PASS if k.verified.ok else FAIL,
                                 "ok" if k.verified.ok else "breach"))
    for step in MANUAL_STEPS:
        label = f"stakeholders notified on {channel}" if step == "stakeholders notified" else step
        if step in ticked:
            rows.append(ChecklistRow(step, label, True, ticked[step], True, PASS, "ok"))
            continue
        if step == "stakeholders notified":
            sent = [r.payload for r in after
                    if isinstance(r.payload, ev.Notified) and r.payload.channel == plan.kill_switch.notify]
            if any(p.delivered for p in sent):
                rows.append(ChecklistRow(step, label, True, "sent by the cockpit", False, PASS, "ok"))
                continue
            why = f"not sent by the cockpit ({sent[-1].error}): tick it when done" if sent else "tick it when done"
            rows.append(ChecklistRow(step, label, None, why, True, WAIT, "warn"))
            continue
        # the captain's screen adds its key
        rows.append(ChecklistRow(step, label, None, "tick it when done", True, WAIT, "warn"))
    return tuple(rows)


def checklist_steps_open(rows: tuple[ChecklistRow, ...]) -> list[tuple[str, str]]:
    """(label, step key) of the manual steps not ticked yet, for the tick dialog."""
    return [(row.step, row.key) for row in rows if row.manual and not row.done]


def phase_view(plan: PhaseTrack, state: RolloutState) -> PhaseView:
    """The phase track and where the rollout stands. After a kill the phase it stopped reads `✗25%`
    and the canary the weight the gateway last confirmed (0 once the kill is confirmed), never the
    phase's weight: one number for one fact."""
    # completed: none ("Phase 4 (4/4) · canary 100 %" says it; the headline says COMPLETED)
    stopped = {"rolled_back": "rolled back", "killing": "kill sent", "kill_unconfirmed": "KILL NOT CONFIRMED"}.get(
        state.status, "")
    steps = []
    for i, spec in enumerate(plan.phases):
        w = spec.weight
        if state.status == "completed" or (state.phase is not None and i < state.phase):
            steps.append(TrackStep(w, f"{w}%", "passed", "ok"))
        elif i == state.phase and state.status == "live":
            steps.append(TrackStep(w, f"▶{w}%", "soaking", "ok"))
        elif i == state.phase:
            steps.append(TrackStep(w, f"{FAIL}{w}%", "stopped", "breach"))
        else:
            steps.append(TrackStep(w, f"{w}%", "ahead", "muted"))
    if state.phase is not None:
        where = f"{plan.phases[state.phase].name} ({state.phase + 1}/{len(plan.phases)})"
    else:
        where = "Preflight" if state.status == "preflight" else "Starting"
    return PhaseView(tuple(steps), where, stopped, words.percent(state.weight))


def kill_read_back(result: ev.KillResult) -> str:
    """A confirmed kill's read-back as every face says it: the canary's share, 0 % once the flag
    reads off, whatever weight the server keeps."""
    share = 0 if result.observed_enabled is False or result.observed_weight is None else result.observed_weight
    return f"the gateway reads the canary off: canary share {words.percent(share)}"


def kill_pulled(names: dict[str, str], trigger: str, by: str, reason: str) -> str:
    """Who pulled the kill and why: `pulled by trigger Performance`, `pulled by alice@bastion: p95 regression`
    (`names`: the plan's trigger names by id)."""
    if trigger:
        return f"pulled by trigger {names.get(trigger, trigger)}"
    return f"pulled by {by}: {with_names(reason, names)}"


def kill_answer(result: ev.KillResult | None, at: datetime | None) -> tuple[str, str, Role]:
    """The gateway's answer to the kill: the kill line's head, its detail and their colour."""
    if result is None:
        return "KILL SENT", "waiting for the gateway to read the canary back off", "kill"
    if result.confirmed:
        return f"KILL VERIFIED {words.clock(at)}", kill_read_back(result), "warn"
    return "KILL NOT CONFIRMED", f"{words.plural(result.attempts, 'attempt')}: {result.error}", "kill"


def kill_traffic(verified: ev.RollbackVerified | None, confirmed: bool) -> str:
    """The kill's second proof, the canary's own traffic ("" before the gateway confirmed it)."""
    if verified is None:
        return "canary traffic: waiting for it to fall to ~0" if confirmed else ""
    if verified.ok:
        return f"canary traffic ~0: {verified.detail}"
    return f"{ROLLBACK_NOT_VERIFIED}: {verified.detail}"


def kill_line(plan: PlanView | ev.PlanLoaded, state: RolloutState) -> KillLine | None:
    """The kill switch in one line as every face says it: who pulled it and why, what the gateway
    read back (the canary's share: 0 % once the flag reads off, whatever weight the server keeps),
    and the second proof, the canary's own traffic."""
    k = state.kill
    if k is None:
        return None
    r = k.result
    head, detail, role = kill_answer(r, k.result_at)
    traffic = kill_traffic(k.verified, r is not None and r.confirmed)
    if k.verified is not None and not k.verified.ok:
        role = "kill"
    why = kill_pulled(trigger_names(plan), k.trigger, k.by, k.reason)
    return KillLine(head, why, detail, traffic, role, k.requested_at, k.by, r.attempts if r is not None else 0)


def incident_opened(incident: str, levels: str, reason: str, at: datetime) -> str:
    """`INC-1 L1 opened 14:20:00Z: Performance fired ...`: how an incident row begins."""
    return f"{incident} {levels} opened {words.clock(at)}: {reason}"


def incident_acked(name: str, via: str, at: datetime | None) -> str:
    """Who took an incident: `Sam (cli) 14:21:00Z`."""
    return f"{name}{f' ({via})' if via else ''} {words.clock(at)}"


def incident_resolved(at: datetime | None, resolution: str) -> str:
    """How an incident ended: `14:30:00Z: the rollback is verified`."""
    return f"{words.clock(at)}: {resolution}".rstrip(": ")


def incident_rows(state: RolloutState) -> tuple[IncidentRow, ...]:
    """Every incident, open and past, in the order they opened: a resolved one stays in the record."""
    names = trigger_names(state.plan) if state.plan is not None else {}
    rows = []
    for inc in state.incidents.values():
        acked = incident_acked(inc.acked_by, inc.acked_via, inc.acked_at) if inc.acknowledged else ""
        resolved = incident_resolved(inc.resolved_at, inc.resolution) if not inc.open else ""
        st: Literal["open", "acknowledged", "resolved"] = (
            "resolved" if not inc.open else "acknowledged" if inc.acknowledged else "open")
        role: Role = "muted" if st == "resolved" else "warn" if st == "acknowledged" else "alarm"
        rows.append(IncidentRow(inc.id, inc.level, " → ".join(inc.levels or [inc.level]), with_names(inc.reason, names),
                                inc.opened_at, st, acked, resolved, role))
    return tuple(rows)


def step_now(plan: PlanView, state: RolloutState, now: datetime) -> NextStep | None:
    """The step the rollout waits for, as the read model says it (`status` and the commands say it too)."""
    todo = tuple(row.key for row in checklist(plan, state) if row.manual and not row.done)
    return next_step(state, now, todo, tuple(postdeploy.rows(state, now)) if state.status == "completed" else ())


def demo_marker(state: RolloutState) -> str:
    """"DEMO · simulated · 60x" when the journal's plan kills through a simulated gateway (a demo's),
    with the speed its guard journaled; "" for a real rollout. Judged from the journal, so every
    face of it (observer, replay, status, report, evidence) says it."""
    document = state.plan.document if state.plan is not None else {}
    gateways = document.get("gateways", {})
    if not any(isinstance(g, dict) and g.get("type") == "simulated" for g in gateways.values()):
        return ""
    speed = journaled_speed(state)
    return "DEMO · simulated" + (f" · {speed:g}x" if speed != 1 else "")


def available_actions(state: RolloutState) -> frozenset[str]:
    """The commands the rollout's state offers; the footer and the palette show no other."""
    if state.plan is None:
        return frozenset({"note"})
    return frozenset({
        "preflight": {"run_checks", "run_check", "waive", "sign_off", "start", "note"},
        "live": {"advance", "gate", "kill", "note"},
        "killing": {"kill", "note"},
        "kill_unconfirmed": {"kill", "note"},
        "rolled_back": {"checklist", "note"},
        "completed": {"post_deploy", "note"},
    }[state.status] | ({"ack"} if any(i.open and not i.acknowledged for i in state.incidents.values()) else set()))


def badges(model_triggers: tuple[TriggerRow, ...], escalation: tuple[EscalationRow, ...], budget: BudgetView,
           checks: tuple[CheckRow, ...], checklist_rows: tuple[ChecklistRow, ...],
           guard: GuardHealth) -> dict[str, tuple[str, Role]]:
    """Which tab holds something the captain must not miss (compact layout)."""
    out: dict[str, tuple[str, Role]] = {}
    states = {r.state for r in model_triggers}
    if "fired" in states:
        out["phase"] = (FAIL, "alarm")
    elif "breaching" in states:
        out["phase"] = (WARN, "breach")
    elif states & {"hold", "stale"}:
        out["phase"] = (WARN, "warn")
    elif not guard.guarded and guard.needed:
        out["phase"] = (WARN, "alarm")
    elif any(r.manual and not r.done for r in checklist_rows):
        out["phase"] = (WAIT, "warn")
    if any(r.applies for r in escalation):
        out["escalation"] = (WARN, "kill" if any(r.applies and r.level == EMERGENCY for r in escalation) else "breach")
    if budget.role in ("warn", "breach") or budget.next_role == "breach":
        out["budget"] = (WARN, budget.role)
    if any(r.word in ("fail", "error") for r in checks):
        out["preflight"] = (FAIL, "breach")
    return out


def banner(head: Headline, rows: tuple[TriggerRow, ...], todo: tuple[ChecklistRow, ...] = (),
           captain: bool = True) -> tuple[str, ...]:
    """The lines across every tab while something is wrong: the headline, then each trigger
    that breaches, fired or is blind, with its value, limit and pending time (after a rollback:
    the checklist's progress, and to the captain only, the key that ticks it)."""
    if not head.alarming:
        return ()
    lines = [head.text]
    if todo:
        done = sum(1 for r in todo if r.done)
        left = [r for r in todo if r.manual and not r.done]
        lines.append(f"rollback checklist {done}/{len(todo)} done"
                     + (" — press c to tick a step" if left and captain else ""))
        return tuple(lines)
    for r in rows:
        if r.state in ("fired", "breaching", "hold", "stale"):
            value = f" {r.value}" if r.value else ""
            lines.append(f"{r.mark} {r.name}{value} {r.limit} {r.pending}")
    return tuple(lines)


def _kind(record: ev.Record, _plan: ev.PlanLoaded | None) -> str:
    return record.kind


_LAST: list[Any] = [None, None]  # what the last state read was (the objects themselves, not ids) and its parts


Journaled = tuple[tuple[CheckRow, ...], tuple[SignOffRow, ...], tuple[TimelineLine, ...], tuple[ChecklistRow, ...]]


def _journaled(plan: PlanView, state: RolloutState, running: frozenset[str], say: Say) -> Journaled:
    """The parts that depend on the journal alone (not on the clock or the guard's round), kept
    while the state has folded no new record: a screen rebuilds its read model every second, and
    these are most of its cost. Only `RolloutState.apply` changes a state, and it moves `seq`."""
    parts: Journaled
    last, parts = _LAST
    if not (last and last[0] is plan and last[1] is state and last[2] == state.seq and last[3] == running
            and last[4] is say):
        parts = visible_fields((check_rows(plan, state, running), sign_off_rows(plan, state), timeline(state, say),
                                checklist(plan, state)))
        _LAST[:] = [(plan, state, state.seq, running, say), parts]
    return parts


def read_model(plan: PlanView, state: RolloutState, live: Evaluation | None, now: datetime, *,
               running: frozenset[str] = frozenset(), say: Say | None = None, captain: bool = True,
               sight: GuardSight | None = None, journal_broken: str = "", unanswered: str = "") -> ReadModel:
    """Everything a face shows, from the plan, the journal's state, the guard's round, what the face
    saw of the guard (`sight`) and `now`.
    `say(record, plan)` words timeline records (the wording module's); without it, their kind.
    Every text in it (notes, reasons, names, servers' errors, the guard's host) has its control
    and bidi characters shown as escapes (core.visible): no row can move a face's cursor."""
    rows = visible_fields(trigger_rows(plan, state, live, now))
    head = visible_fields(headline(plan, state, live, now, rows, sight=sight, journal_broken=journal_broken,
                                   unanswered=unanswered))
    guard = visible_fields(guard_health(plan, state, live, sight, unanswered))
    esc = visible_fields(escalation_rows(plan, state, now))
    bud = visible_fields(budget_view(plan, state, live.budget if live else None))
    checks, sign_offs, lines, todo = _journaled(plan, state, running, say or _kind)
    post = tuple(postdeploy.rows(state, now)) if state.status == "completed" else ()
    todo_open = tuple(row.key for row in todo if row.manual and not row.done)  # step_now's, from the cached rows
    return ReadModel(
        headline=head,
        banner=banner(head, rows, todo if state.status in ('rolled_back', 'kill_unconfirmed', 'killing') else (),
                      captain),
        badges=badges(rows, esc, bud, checks, todo, guard),
        triggers=rows,
        gate=visible_fields(gate_view(plan, state, live, rows)),
        soak=soak_view(plan, state, now),  # numbers and a status word: nothing anyone typed
        budget=bud,
        escalation=esc,
        checks=checks,
        sign_offs=sign_offs,
        timeline=lines,
        checklist=todo,
        guard=guard,
        actions=available_actions(state),
        phase=visible_fields(phase_view(plan, state)),
        kill=visible_fields(kill_line(plan, state)),
        incidents=visible_fields(incident_rows(state)),
        post_deployment=visible_fields(post),
        next_step=visible_fields(next_step(state, now, todo_open, post)),
        refusals=visible_fields(refusals(state, now, todo_open, post, breach_ages(rows))),
        missing_sign_offs=tuple(plan.role_title(r) for r in rules.missing_sign_offs(state)),
        demo=visible_fields(demo_marker(state)),
        judgments={phase: visible_fields(view) for phase, view in judgment_views(plan, state).items()},
    )
