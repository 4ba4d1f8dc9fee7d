"""What the rollout allows, and why not. Each function returns the refusal reasons, [] means yes.

The reasons are shown to the captain verbatim, so they are written in the operator's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cockpit.core import words
from cockpit.core.freeze import active_freeze, describe
from cockpit.core.state import STATUS_WORDS, GateState, RolloutState


def _not_live(state: RolloutState) -> list[str]:
    if state.plan is None:
        return ["no plan loaded in this journal"]
    if state.status == "preflight":
        return ["the rollout has not started"]
    if state.status != "live":
        return [f"the rollout is {STATUS_WORDS[state.status]}"]
    return []


def _freeze(state: RolloutState, now: datetime) -> list[str]:
    window = active_freeze(state.plan.freeze, now) if state.plan else None
    return [f"inside the freeze window {describe(window)}"] if window else []


def start_refusals(state: RolloutState, now: datetime) -> list[str]:
    if state.plan is None:
        return ["no plan loaded in this journal"]
    if state.status != "preflight":
        return [f"the rollout already started ({STATUS_WORDS[state.status]})"]
    reasons = []
    for check_id in state.plan.checks:
        check = state.checks.get(check_id)
        if check is None or not check.satisfied:
            status = check.status if check else "pending"
            detail = f": {check.detail}" if check and check.detail else ""
            reasons.append(f"preflight check {check_id} has not passed ({status}{detail})")
    reasons += [f"sign-off missing: {state.plan.roles.get(role, role)}" for role in missing_sign_offs(state)]
    return reasons + _freeze(state, now)


def missing_sign_offs(state: RolloutState) -> list[str]:
    """The plan's required sign-offs (role ids, in the plan's order) not recorded yet: the one
    place every face and the start's refusal learn who has not signed."""
    if state.plan is None:
        return []
    return [role for role in state.plan.sign_offs if role not in state.sign_offs]


def soak_remaining(state: RolloutState, now: datetime) -> timedelta | None:
    if state.phase is None or state.phase_started_at is None or state.plan is None:
        return None
    soak = timedelta(seconds=state.plan.phases[state.phase].soak_s)
    return max(timedelta(0), state.phase_started_at + soak - now)


def gate_refusals(state: RolloutState, phase: int, now: datetime) -> list[str]:
    """Why the gate that ends `phase` is not passed yet."""
    assert state.plan is not None  # asked of a live rollout (advance_refusals): it has its plan
    spec = state.plan.phases[phase]
    gate = state.gates.get(phase)
    reasons = []
    left = soak_remaining(state, now)
    if left is not None and left > timedelta(0):
        reasons.append(f"{spec.name} soak has {words.duration(left)} left")
    judged = gate.judged if gate else None
    marginal = judged is not None and judged.judgment.verdict == "Marginal"
    for criterion in spec.criteria:
        result = gate.criteria.get(criterion) if gate else None
        if result is None:
            reasons.append(f"criterion {criterion} not evaluated yet")
        elif marginal and gate is not None and judged is not None and criterion in judged.judgment.criteria:
            reasons += _marginal_refusals(state, spec, gate, criterion)
        elif not result.passed:
            reasons.append(f"criterion {criterion} not met: {result.detail}")
    waiting = []
    for role in spec.owners:
        decision = gate.decisions.get(role) if gate else None
        title = state.plan.roles.get(role, role)
        if decision is None:
            waiting.append(title)
        elif decision.decision == "NO-GO":
            note = f": {decision.note}" if decision.note else ""
            reasons.append(f"NO-GO by {title} ({decision.name}){note}")
    if waiting:
        reasons.append("waiting for GO from: " + ", ".join(waiting))
    return reasons


def _marginal_refusals(state: RolloutState, spec: Any, gate: GateState, criterion: str) -> list[str]:
    """A Marginal judgment never advances on its own: every owner must decide after it (a GO
    given before it was made did not see it)."""
    judged, plan = gate.judged, state.plan
    # called on a Marginal judgment of a live rollout: it has its plan, and the judgment its time
    assert judged is not None and judged.marginal_since is not None and plan is not None
    since = judged.marginal_since
    undecided = [plan.roles.get(role, role) for role in spec.owners
                 if (d := gate.decisions.get(role)) is None or d.decision != "GO" or d.at < since]
    if not undecided:
        return []
    return [f"criterion {criterion} judged Marginal (score {words.value(judged.judgment.score)}): "
            f"the owners decide; waiting for a GO given since {words.clock(since)} from: {', '.join(undecided)}"]


def advance_refusals(state: RolloutState, now: datetime, breached: Mapping[str, float] | None = None) -> list[str]:
    """May the captain move to the next phase (or, from the last phase, complete)? `breached`:
    how long each trigger has breached as its gauge says (readmodel.breach_ages; the journal's
    `trigger_breached` is written after the window started), else since that record."""
    reasons = _not_live(state)
    if reasons:
        return reasons
    if state.pending_shift is not None:
        return [f"a traffic shift to {state.pending_shift.weight} % is not confirmed yet"]
    if state.gateway_drift:
        reasons.append(f"GATEWAY DRIFT: {state.gateway_drift}; re-assert the phase's weight "
                       "(cockpit shift --weight N) or roll back")
    if state.phase is not None:
        reasons += gate_refusals(state, state.phase, now)
    for trigger_id, trigger in sorted(state.triggers.items()):
        if trigger.breaching_since is not None:  # breaching
            age = breached.get(trigger_id) if breached is not None else None
            since = words.duration(now - trigger.breaching_since if age is None else age)
            detail = f": {trigger.detail}" if trigger.detail else ""
            what = "is holding for want of data" if trigger.no_data else "is breaching"
            reasons.append(f"trigger {trigger_id} {what} (for {since}){detail}")
    assert state.plan is not None  # _not_live refuses a journal without one
    is_last = state.phase is not None and state.phase == len(state.plan.phases) - 1
    if not is_last:
        reasons += _freeze(state, now)
    return reasons


def expected_share(state: RolloutState) -> int | None:
    """The canary share the gateway must read now, by the journal: the soaking phase's weight;
    None while nothing is settled (a shift in flight, not started, killed: the kill watches its own)."""
    if state.status != "live" or state.phase is None or state.pending_shift is not None:
        return None
    assert state.plan is not None  # live: started from a plan
    return state.plan.phases[state.phase].weight


def gateway_drift(state: RolloutState, share: int | None) -> str:
    """What is wrong when the gateway's canary share is not what the journal says ("" when it
    agrees, or when nothing is expected or nothing was read)."""
    expected = expected_share(state)
    if expected is None or share is None or share == expected:
        return ""
    assert state.plan is not None and state.phase is not None  # a share is expected of a soaking phase
    phase = state.plan.phases[state.phase].name
    return (f"the gateway reads canary {share} %, but {phase} soaks at {expected} % by the journal: "
            "changed outside the cockpit?")


def next_phase(state: RolloutState) -> int | None:
    """The phase an advance would start; None when the next step is completion."""
    nxt = 0 if state.phase is None else state.phase + 1
    return nxt if state.plan and nxt < len(state.plan.phases) else None


def decide_refusals(state: RolloutState, phase: int | None, role: str) -> list[str]:
    reasons = _not_live(state)
    if reasons:
        return reasons
    assert state.plan is not None  # _not_live refuses a journal without one
    if state.phase is None:
        return ["no phase is soaking yet"]
    if phase != state.phase:
        return [f"only the current phase's gate can be decided ({state.plan.phases[state.phase].name})"]
    spec = state.plan.phases[state.phase]
    if role not in spec.owners:
        owners = ", ".join(state.plan.roles.get(o, o) for o in spec.owners)
        return [f"{state.plan.roles.get(role, role)} does not own the {spec.name} gate (owners: {owners})"]
    return []


def kill_refusals(state: RolloutState) -> list[str]:
    """The kill switch works from any live phase; pulling it again is safe (re-asserts the flag)."""
    if state.plan is None:
        return ["no plan loaded in this journal"]
    if state.status == "preflight":
        return ["the rollout has not started: the canary has no traffic to take away"]
    if state.status == "completed":
        return ["the rollout is COMPLETED: the canary is the release now; roll back by redeploying the previous green"]
    return []


def sign_off_refusals(state: RolloutState, role: str) -> list[str]:
    if state.plan is None:
        return ["no plan loaded in this journal"]
    if role not in state.plan.sign_offs:
        return [f"{role} is not a required sign-off (required: {', '.join(state.plan.sign_offs)})"]
    if state.status != "preflight":
        return ["sign-offs are recorded before the rollout starts"]
    return []


def waive_refusals(state: RolloutState, check: str, reason: str) -> list[str]:
    if state.plan is None:
        return ["no plan loaded in this journal"]
    if check not in state.plan.checks:
        return [f"no preflight check named {check}"]
    if not reason.strip():
        return ["a waiver needs a reason"]
    if state.status != "preflight":
        return ["checks are waived before the rollout starts"]
    enforcing = [t["id"] for t in state.plan.document.get("triggers", ())  # a plan's triggers all have ids
                 if t.get("check") == check and t.get("action") == "rollback"]
    if enforcing:
        return [f"{check} cannot be waived: trigger {', '.join(enforcing)} re-runs it during the rollout and rolls "
                "back when it fails (a waiver would only move the failure to the start)"]
    return []


def preflight_refusals(state: RolloutState) -> list[str]:
    """The preflight checks run before the start (the screen offers them only then)."""
    if state.plan is None:
        return ["no plan loaded in this journal"]
    if state.status != "preflight":
        return ["preflight checks run before the rollout starts"]
    return []


def phase_of_weight(state: RolloutState, weight: int) -> int | None:
    """The phase whose weight this is, or None."""
    weights = [p.weight for p in state.plan.phases] if state.plan else []
    return weights.index(weight) if weight in weights else None


def shift_refusals(state: RolloutState, weight: int, now: datetime) -> list[str]:
    """May an operator shift the canary to `weight` outside the phase flow?

    Only to a phase weight, and only: up to the next phase (that is an advance, under the same
    gate rules), to the current phase's weight (re-asserting it at the gateway), or down to an
    earlier phase's weight (a partial rollback: that phase restarts its soak and its gate).
    Never past a gate, and never once the kill switch was pulled.
    """
    reasons = _not_live(state)
    if reasons:
        return reasons
    if state.pending_shift is not None:
        return [f"a traffic shift to {state.pending_shift.weight} % is not confirmed yet"]
    assert state.plan is not None  # _not_live refuses a journal without one
    target = phase_of_weight(state, weight)
    if target is None:
        weights = "/".join(str(p.weight) for p in state.plan.phases)
        return [f"{weight} % is not a phase weight ({weights} %)"]
    nxt = next_phase(state)
    if nxt is not None and target > nxt:
        skipped = state.plan.phases[nxt]
        return [f"{weight} % would skip {skipped.name} ({skipped.weight} %) and its gate: shift one phase at a time"]
    if target == nxt:
        return advance_refusals(state, now)
    return []
