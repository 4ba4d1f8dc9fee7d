"""Every text of the read model reaches a face with its control and bidi characters shown as
escapes (core.visible), whichever part it is in and wherever it came from: a check's output, a
signer's name, a note, a gateway's error, an escalation's reason, a gate note, the plan's names,
the guard's host (table-driven: one row per part of the read model)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core import readmodel as rm
from cockpit.core.evaluation import GuardId
from cockpit.core.visible import HIDDEN
from tests.conftest import T0
from tests.core.test_readmodel import live, ok_tracks, ready, round_at, state_of

H = "ok\x1b[2;1H\x1b[2Kstatus LIVE \u202eDEKCAB\u200b"  # what a person typed or a server sent
SHOWN = "ok\\x1b[2;1H\\x1b[2Kstatus LIVE \\u202eDEKCAB\\u200b"
NOW = T0 + timedelta(minutes=6)


def _said(record, _plan) -> str:
    """A wording that passes a note's text through as it is (the core must not rely on narrate's)."""
    return getattr(record.payload, "text", record.kind)


def _plan_named(plan, **names):
    """The plan with a trigger's or a budget category's name replaced (the config refuses such a
    name; a journal written elsewhere may carry one, and the core takes the plan as it comes)."""
    if "trigger" in names:
        triggers = [plan.triggers[0].model_copy(update={"name": names["trigger"]}), *plan.triggers[1:]]
        plan = plan.model_copy(update={"triggers": triggers})
    if "category" in names:
        cats = [plan.budget.categories[0].model_copy(update={"name": names["category"]}), *plan.budget.categories[1:]]
        plan = plan.model_copy(update={"budget": plan.budget.model_copy(update={"categories": cats})})
    return plan


def _kill_not_confirmed(p):
    return live(p) + [ev.KillRequested(reason="by hand"), ev.KillResult(confirmed=False, attempts=3, error=H)]


PARTS = [
    # (part of the read model, the plan's changes, the journal, a guard round with a host, how to find the text)
    ("checks", {}, lambda p: [ev.CheckRan(check=p.preflight[0].id, status="fail", detail=H)], False,
     lambda m: m.checks[0].detail),
    ("sign_offs", {}, lambda p: [ev.SignedOff(role=p.sign_offs[0], name=H)], False, lambda m: m.sign_offs[0].name),
    ("timeline", {}, lambda p: [ev.Noted(text=H)], False, lambda m: m.timeline[0].text),
    ("checklist", {}, _kill_not_confirmed, False, lambda m: m.checklist[0].detail),
    ("headline", {}, _kill_not_confirmed, False, lambda m: m.headline.detail),
    ("banner", {}, _kill_not_confirmed, False, lambda m: m.banner[0]),
    ("escalation", {}, lambda p: live(p) + [ev.Escalated(level=p.escalation[0].level, reason=H)], True,
     lambda m: " ".join(m.escalation[0].reasons)),
    ("gate", {}, lambda p: live(p) + [ev.GateDecided(phase=0, role=p.phases[0].gate.owners[0], decision="GO", name=H, note=H)],
     True, lambda m: m.gate.decisions[0].note),
    ("triggers", {"trigger": H}, live, True, lambda m: m.triggers[0].name),
    ("budget", {"category": H}, live, True, lambda m: m.budget.rows[0].name),
    ("guard", {}, live, "host", lambda m: str(m.guard.guard)),
]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    return []


@pytest.mark.parametrize("part, names, journal, guarded, find", PARTS, ids=[p[0] for p in PARTS])
def test_every_part_of_the_read_model_shows_hidden_characters_as_escapes(plan, part, names, journal, guarded, find):
    plan = _plan_named(plan, **names)
    state = state_of(plan, *journal(plan))
    live_round = None
    if guarded:
        live_round = round_at(NOW, ok_tracks(plan, NOW))
        if guarded == "host":
            live_round = dataclasses.replace(live_round, guard=GuardId(user="alice", host=H, pid=4242, since=T0))
    model = rm.read_model(plan, state, live_round, NOW, say=_said)
    assert SHOWN in find(model), find(model)
    hidden = [s for s in _strings(model) if HIDDEN.search(s)]
    assert hidden == [], hidden


def test_a_model_with_nothing_hidden_is_built_from_the_same_rows(plan):
    """Escaping costs nothing where there is nothing to escape: the journal's parts come back as
    the very rows the builders made (a face compares them to skip a repaint)."""
    state = state_of(plan, *ready(plan))
    first = rm.read_model(plan, state, None, NOW, say=_said)
    again = rm.read_model(plan, state, None, NOW, say=_said)
    assert again.checks is first.checks and again.timeline is first.timeline and again.sign_offs is first.sign_offs
