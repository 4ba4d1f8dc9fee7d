"""The next step and the refusals (core.nextstep) at the edges the faces' tables left open: a gate
with two owners where one has decided, a journaled plan that titles no role, and a page that was
acknowledged or resolved (nothing waits for an acknowledgement)."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from cockpit.core import events as ev
from cockpit.core.nextstep import NextStep, next_step, refusals
from tests.conftest import T0
from tests.core.test_readmodel import gate_met, live, ready, state_of

SOAKED = T0 + timedelta(hours=1)  # every phase's 20-minute soak is over
PAGE = ev.IncidentOpened(incident="INC-1", level="L1", reason="trigger api_p95_regression fired", trigger="api_p95_regression")


@pytest.mark.parametrize(
    "decided, waits_for",
    [
        ("po", NextStep("gate", "record the GO or NO-GO of Tech Lead", ("2", "tech_lead"))),
        ("tech_lead", NextStep("gate", "record the GO or NO-GO of Product Owner", ("2", "po"))),
        (None, NextStep("gate", "record the GO or NO-GO of Product Owner", ("2", "po"))),  # the plan's order
    ],
)
def test_a_gate_waits_for_the_owner_who_has_not_decided(plan, decided, waits_for):
    """Phase 2 is owned by the Product Owner and the Tech Lead: once one said GO, the step names the other."""
    criteria = [p for p in gate_met(plan, 1) if isinstance(p, ev.CriterionEvaluated)]
    decisions = [ev.GateDecided(phase=1, role=decided, decision="GO", name="Sam")] if decided else []
    state = state_of(plan, *live(plan, 1), *criteria, *decisions)
    assert next_step(state, SOAKED) == waits_for


def test_a_role_the_journaled_plan_does_not_title_is_named_by_its_id(plan):
    """As the refusals name it (rules): `record the sign-off of finops`, never `of None`."""
    unsigned = state_of(plan, *ready(plan)[:-1])
    unsigned.plan = msgspec.structs.replace(unsigned.plan, roles={})
    assert next_step(unsigned, SOAKED) == NextStep("sign_off", "record the sign-off of finops", ("finops",))
    waiting = state_of(plan, *live(plan), *gate_met(plan)[:-1])
    waiting.plan = msgspec.structs.replace(waiting.plan, roles={})
    assert next_step(waiting, SOAKED) == NextStep("gate", "record the GO or NO-GO of sre", ("1", "sre"))


NOTHING_TO_ACK = ("no page waits for an acknowledgement",)


@pytest.mark.parametrize(
    "case, after, ack",
    [
        ("a page nobody acknowledged", (), ()),
        ("acknowledged, still open", (ev.IncidentAcknowledged(incident="INC-1", name="Sam"),), NOTHING_TO_ACK),
        ("resolved before anybody acknowledged it", (ev.IncidentResolved(incident="INC-1", reason="cleared"),),
         NOTHING_TO_ACK),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_ack_is_offered_only_for_an_open_page_nobody_acknowledged(plan, case, after, ack):
    state = state_of(plan, *live(plan), PAGE, *after)
    assert refusals(state, SOAKED)["ack"] == ack
