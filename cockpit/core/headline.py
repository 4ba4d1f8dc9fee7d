"""The headline: the one state a captain reads first, and its precedence as one table.

`PRECEDENCE` lists the rules from the most to the least urgent; the headline is the first rule
that applies. A rule is judged on its own facts only (never on "the rules above did not apply"),
so a test can show, for each pair of neighbours, a moment when both apply and the upper one wins.
The rules judged on the rollout's status alone (rolled back, completed, preflight, the kill) can
never apply together: the status is one value.

The headline says facts, never a key to press or a command to type: the next step is the read
model's `next_step`, and each face says it in its own way (a key, a command, nothing at all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from cockpit.core import rules, words
from cockpit.core.evaluation import Evaluation
from cockpit.core.paging import kill_incident
from cockpit.core.planview import PlanTrigger, PlanView
from cockpit.core.state import RolloutState

if TYPE_CHECKING:  # readmodel builds a Seen from its own rows: imported for the types only
    from cockpit.core.readmodel import GuardHealth, TriggerRow

Role = Literal["ok", "warn", "breach", "alarm", "stale", "kill", "muted", "bold", "plain"]


@dataclass(frozen=True)
class Headline:
    """The one state a captain reads first, in words and a role: `BREACHING: Performance — auto-rollback in 5m00s`."""

    word: str
    detail: str = ""
    role: Role = "bold"
    sep: str = ": "
    step: bool = False  # the next step is this moment's point: a face that can act says it after the detail

    @property
    def text(self) -> str:
        return f"{self.word}{self.sep}{self.detail}" if self.detail else self.word

    @property
    def alarming(self) -> bool:
        return self.role in ("warn", "breach", "alarm", "kill")


@dataclass(frozen=True)
class Seen:
    """What the headline is judged from: the plan, the journal's state, the guard's round, `now`,
    the trigger rows as the screen shows them and the guard as this face judged it (readmodel's)."""

    plan: PlanView
    state: RolloutState
    live: Evaluation | None
    now: datetime
    rows: tuple[TriggerRow, ...]  # id, name, value, limit, pending, state, fires_in
    guard: GuardHealth  # guarded, why
    journal_broken: str = ""  # why the journal does not verify, as the face's journal found it ("" : it does)
    unanswered: str = ""  # since when the record has not answered this face ("14:02:11Z"; "" : it answers)


def _action_words(trigger: PlanTrigger) -> str:
    if trigger.action == "rollback":
        return "auto-rollback"
    if trigger.action == "hold":
        return "holds the rollout"
    return f"pages {trigger.level}".strip()


def _source_down(live: Evaluation | None, now: datetime) -> str:
    """", Prometheus down for 45s" when the blindness has a cause the guard saw: its queries fail."""
    h = live.health.get("prometheus") if live is not None else None
    if h is None or h.ok is not False:
        return ""
    word = "degraded" if h.detail.startswith("degraded") else "down"
    since = f" for {words.duration(now - h.since)}" if h.since is not None else ""
    return f", Prometheus {word}{since}"


# --- the rules, each on its own facts ------------------------------------------------------------


def rolled_back(s: Seen) -> Headline | None:
    """The gateway confirmed the kill: verified by the canary's traffic, or NOT (an Emergency)."""
    if s.state.status != "rolled_back":
        return None
    k = s.state.kill
    assert k is not None  # rolled back: a kill was pulled
    if k.leaking:
        assert k.verified is not None  # leaking: the traffic's verdict said NOT ~0
        inc = kill_incident(s.state)
        who = (f"{inc.id} acknowledged by {inc.acked_by}" if inc is not None and inc.acknowledged
               else "the guard re-asserts the kill")
        return Headline("ROLLBACK NOT VERIFIED", f"the gateway reads the canary off, but canary traffic NOT ~0: "
                        f"{k.verified.detail} — Emergency, {who}", "kill")
    return Headline("ROLLED BACK · KILL VERIFIED", "canary traffic ~0" if k.verified is not None else "", "warn", " · ")


def completed(s: Seen) -> Headline | None:
    return Headline("COMPLETED", "the canary is the release", "ok") if s.state.status == "completed" else None


def preflight(s: Seen) -> Headline | None:
    """Before the start: READY once nothing refuses it, else what is passed and signed so far."""
    if s.state.status != "preflight":
        return None
    refusals = rules.start_refusals(s.state, s.now)
    if not refusals:
        return Headline("READY", "preflight passed", "ok", step=True)
    checks = list(s.state.checks.values())
    passed = sum(1 for c in checks if c.satisfied)
    required = len(s.plan.sign_offs)
    signed = required - len(rules.missing_sign_offs(s.state))
    freeze = next((r for r in refusals if r.startswith("inside the freeze")), "")
    return Headline("PREFLIGHT", f"{passed}/{len(checks)} checks passed · {signed}/{required} sign-offs"
                    + (f" · {freeze}" if freeze else ""), "bold")


def kill(s: Seen) -> Headline | None:
    """A kill in flight, or one the gateway did not confirm (and whether it is pulled again)."""
    k = s.state.kill
    if s.state.status == "killing":
        return Headline("KILL SENT", "waiting for the gateway to read the canary back off", "kill")
    if s.state.status != "kill_unconfirmed":
        return None
    assert k is not None and k.result is not None  # a kill whose result did not confirm it
    error = f": {k.result.error}" if k.result.error else ""
    again = f"re-pulling, attempt {k.pulls}: " if k.repulling else ""
    return Headline("KILL NOT CONFIRMED", f"{again}the gateway did not confirm the canary is off{error} — Emergency",
                    "kill")


def unguarded(s: Seen) -> Headline | None:
    if not s.state.live or s.guard.guarded:
        return None
    return Headline("UNGUARDED", f"{s.guard.why} — triggers are not evaluated, nothing rolls back on its own", "alarm")


def drift(s: Seen) -> Headline | None:
    if not s.state.gateway_drift or rules.expected_share(s.state) is None:
        return None
    return Headline("GATEWAY DRIFT", f"{s.state.gateway_drift} — re-assert the weight or roll back", "alarm")


def fired(s: Seen) -> Headline | None:
    rows = [r for r in s.rows if r.state == "fired"]
    if not rows:
        return None
    r = rows[0]
    more = f" (+{len(rows) - 1} more)" if len(rows) > 1 else ""
    return Headline("FIRED", f"{r.name} {r.value} {r.limit} at {r.pending.removeprefix('FIRED ')}{more}", "alarm")


def breaching(s: Seen) -> Headline | None:
    """The trigger soonest to fire, counting down; how many more breach."""
    rows = sorted((r for r in s.rows if r.state == "breaching"),
                  key=lambda r: r.fires_in if r.fires_in is not None else math.inf)
    if not rows:
        return None
    r = rows[0]
    trigger = next(t for t in s.plan.triggers if t.id == r.id)
    more = f" (+{len(rows) - 1} more)" if len(rows) > 1 else ""
    return Headline("BREACHING", f"{r.name} — {_action_words(trigger)} in {words.duration(r.fires_in or 0)}{more}",
                    "warn")


def record_unanswered(s: Seen) -> Headline | None:
    """The record (etcd) does not answer this face: every pane shows the journal as last read, and the
    guard may have acted since. Above everything but an end, which no later event undoes."""
    if not s.unanswered:
        return None
    return Headline("RECORD UNREACHABLE", f"no answer since {s.unanswered}; shown as last read — the guard "
                    "keeps guarding and journals its events when the store answers", "alarm")


def journal_broken(s: Seen) -> Headline | None:
    """The journal does not verify: what the faces show may not be what happened. Below the
    unguarded rule, so a live rollout that reaches it is guarded (the guard acts on what reads)."""
    if not s.journal_broken:
        return None
    return Headline("JOURNAL BROKEN", "the journal does not verify; the guard still guards — run `cockpit verify`",
                    "alarm")


def blind(s: Seen) -> Headline | None:
    rows = [r for r in s.rows if r.state in ("hold", "stale")]
    if not rows:
        return None
    holding = sum(r.state == "hold" for r in rows)
    why = ("holding" if holding == len(rows) else "stale gauges" if not holding
           else f"{holding} holding, {len(rows) - holding} stale")
    return Headline("BLIND", f"{words.plural(len(rows), 'trigger')} without data — {why}{_source_down(s.live, s.now)}",
                    "warn")


def shifting(s: Seen) -> Headline | None:
    shift = s.state.pending_shift
    if shift is None:
        return None
    return Headline("SHIFTING", f"to {shift.weight} %, waiting for the gateway to confirm", "warn")


def starting(s: Seen) -> Headline | None:
    if s.state.status != "live" or s.state.phase is not None:
        return None
    return Headline("STARTING", f"shifting to {s.plan.phases[0].weight} %", "bold")


def soak(s: Seen) -> Headline | None:
    """A phase soaking: its time left; once soaked, READY (GO recorded), NO-GO, or what it waits for."""
    if s.state.status != "live" or s.state.phase is None:
        return None
    remaining = rules.soak_remaining(s.state, s.now)
    assert remaining is not None  # a live phase has its start and its plan
    left = remaining.total_seconds()
    if left > 0:
        return Headline("SOAKING", f"{words.duration(left)} left", "ok", " ")
    refusals = rules.advance_refusals(s.state, s.now)
    if not refusals:
        return Headline("READY", "GO recorded", "ok", step=True)
    nogo = next((r for r in refusals if r.startswith("NO-GO")), None)
    if nogo:
        return Headline("NO-GO", nogo.removeprefix("NO-GO by "), "breach")
    return Headline("HEALTHY", f"soak complete; {refusals[0]}", "ok")


Rule = Callable[[Seen], "Headline | None"]

PRECEDENCE: tuple[tuple[str, Rule], ...] = (
    ("rolled back", rolled_back),
    ("completed", completed),
    ("record unreachable", record_unanswered),
    ("preflight", preflight),
    ("kill", kill),
    ("unguarded", unguarded),
    ("gateway drift", drift),
    ("fired", fired),
    ("breaching", breaching),
    ("journal broken", journal_broken),
    ("blind", blind),
    ("shifting", shifting),
    ("starting", starting),
    ("soak", soak),
)


def first(s: Seen) -> Headline:
    """The headline: the first rule of PRECEDENCE that applies (every status meets one: a live
    rollout soaks, starts or shifts; the others are judged on their status alone)."""
    return next(said for _name, rule in PRECEDENCE if (said := rule(s)) is not None)
