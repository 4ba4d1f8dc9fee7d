"""What can be done next, and why each action is refused now: data every face says its own way.

The captain's screen says the next step with its key, `cockpit status` with its command, an
observer and a replay not at all (nothing can be done there). The core never words a key or
a command line: it names the action (the screen's action ids) and what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.core import rules
from cockpit.core.postdeploy import ItemRow
from cockpit.core.state import RolloutState

ACTIONS = ("run_checks", "sign_off", "start", "gate", "advance", "kill", "ack", "checklist", "post_deploy")


@dataclass(frozen=True)
class NextStep:
    """The step the rollout waits for: `action` (an action id: start, advance, ...), what it does
    in words ("start at 5 %"), and what its command needs (`args`: a role, a phase number and a
    role, an incident, a step, an item)."""

    action: str
    text: str
    args: tuple[str, ...] = ()


def _title(state: RolloutState, role: str) -> str:
    assert state.plan is not None  # next_step and refusals answer a journal without a plan first
    return state.plan.roles.get(role, role)


def _waiting_owners(state: RolloutState) -> list[str]:
    """The current gate's owners with no decision yet (role ids, in the plan's order)."""
    assert state.plan is not None and state.phase is not None  # asked while a phase soaks
    gate = state.gates.get(state.phase)
    decided = gate.decisions if gate is not None else {}
    return [role for role in state.plan.phases[state.phase].owners if role not in decided]


def _preflight_step(state: RolloutState, now: datetime) -> NextStep | None:
    if not rules.start_refusals(state, now):
        assert state.plan is not None  # start_refusals refuses a journal without one
        return NextStep("start", f"start at {state.plan.phases[0].weight} %")
    if any(not c.satisfied for c in state.checks.values()):
        return NextStep("run_checks", "run the preflight checks")
    missing = rules.missing_sign_offs(state)
    if missing:
        return NextStep("sign_off", f"record the sign-off of {_title(state, missing[0])}", (missing[0],))
    return None  # a freeze window: nothing to do but wait


def _live_step(state: RolloutState, now: datetime) -> NextStep | None:
    refusals = rules.advance_refusals(state, now)
    if not refusals:
        nxt = rules.next_phase(state)
        if nxt is None:
            return NextStep("advance", "complete the rollout")
        assert state.plan is not None  # a next phase is the plan's
        return NextStep("advance", f"advance to {state.plan.phases[nxt].weight} %")
    if state.phase is not None and all(r.startswith("waiting for GO") for r in refusals):
        role = _waiting_owners(state)[0]
        return NextStep("gate", f"record the GO or NO-GO of {_title(state, role)}", (str(state.phase + 1), role))
    return None


def next_step(state: RolloutState, now: datetime, checklist_open: tuple[str, ...] = (),
              post_deployment: tuple[ItemRow, ...] = ()) -> NextStep | None:
    """The one step the rollout waits for now, or None: a page nobody acknowledged first (it climbs
    while it waits), then the state's own step. `checklist_open`: the rollback steps a person still
    ticks (their keys); `post_deployment`: the plan's items as they stand."""
    if state.plan is None:
        return None
    unacked = [i for i in state.incidents.values() if i.open and not i.acknowledged]
    if unacked:
        return NextStep("ack", f"acknowledge {unacked[0].id} ({unacked[0].level})", (unacked[0].id,))
    if state.status == "preflight":
        return _preflight_step(state, now)
    if state.status == "live":
        return _live_step(state, now)
    if state.status == "rolled_back" and checklist_open:
        return NextStep("checklist", "tick a rollback step", (checklist_open[0],))
    due = [r for r in post_deployment if r.state in ("open", "due_soon", "overdue")]
    if state.status == "completed" and due:
        return NextStep("post_deploy", f"tick {due[0].name}", (due[0].id,))
    return None


def refusals(state: RolloutState, now: datetime, checklist_open: tuple[str, ...] = (),
             post_deployment: tuple[ItemRow, ...] = (),
             breached: dict[str, float] | None = None) -> dict[str, tuple[str, ...]]:
    """Each action (ACTIONS) -> why it is refused now, in the operator's words (() : it may be done)."""
    if state.plan is None:
        return {action: ("no plan loaded in this journal",) for action in ACTIONS}
    preflight = state.status == "preflight"
    sign = () if rules.missing_sign_offs(state) else ("every sign-off is recorded",)
    owners = state.plan.phases[state.phase].owners if state.phase is not None else ()
    post: tuple[str, ...]
    if state.status != "completed":
        post = ("the post-deployment plan starts when the rollout has completed",)
    else:
        post = () if any(r.state != "done" for r in post_deployment) else ("every post-deployment item is done",)
    return {
        "run_checks": tuple(rules.preflight_refusals(state)),
        "sign_off": sign if preflight else ("sign-offs are recorded before the rollout starts",),
        "start": tuple(rules.start_refusals(state, now)),
        "gate": tuple(rules.decide_refusals(state, state.phase, next(iter(owners), ""))),
        "advance": tuple(rules.advance_refusals(state, now, breached)),
        "kill": tuple(rules.kill_refusals(state)),
        "ack": () if any(i.open and not i.acknowledged for i in state.incidents.values())
        else ("no page waits for an acknowledgement",),
        "checklist": () if checklist_open else ("no rollback step waits for a tick",),
        "post_deploy": post,
    }
