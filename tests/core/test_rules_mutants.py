"""A Marginal judgment at the gate, word for word: which owners it still waits for (by title, or by
id when the plan names no title), since when, and where its reason stands among the gate's others."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import msgspec
import pytest

from cockpit.config import parse_plan
from cockpit.core import events as ev
from cockpit.core import rules
from tests.conftest import T0
from tests.core.journal import At, at_phase, state
from tests.judged import judged_example_text


@pytest.fixture(scope="module")
def judged_plan():
    return parse_plan(tomllib.loads(judged_example_text()))


PHASE = 1  # Phase 2: owned by the Product Owner and the Tech Lead, with a judge criterion last
JUDGED_AT = T0 + timedelta(hours=1, minutes=3, seconds=7)
LATE = T0 + timedelta(hours=3)  # every soak is over


def marginal(at=JUDGED_AT, score=80.0) -> At:
    return At(ev.JudgmentMade(phase=PHASE, score=score, verdict="Marginal", reason=f"score {score:g}",
                              window_start=T0, window_end=T0 + timedelta(minutes=20), criteria=("judgment",)), at)


def go(role: str, at) -> At:
    return At(ev.GateDecided(phase=PHASE, role=role, decision="GO", name=role), at)


def others_met(plan, failed: str | None = None):
    return [ev.CriterionEvaluated(phase=PHASE, criterion=c.id, passed=c.id != failed, detail="ok" if c.id != failed else "12 %")
            for c in plan.phases[PHASE].gate.auto if c.source != "judge"]


def waiting_since(owners: str) -> str:
    return ("criterion judgment judged Marginal (score 80): the owners decide; "
            f"waiting for a GO given since 15:03:07Z from: {owners}")


@pytest.mark.parametrize("decisions, expected", [
    # nobody decided: both owners, by title, in the plan's order, after the time the Marginal run began
    ([], [waiting_since("Product Owner, Tech Lead"), "waiting for GO from: Product Owner, Tech Lead"]),
    # a GO given before the judgment did not see it: still waited for (and said once, not twice)
    ([go("po", JUDGED_AT - timedelta(minutes=1))], [waiting_since("Product Owner, Tech Lead"),
                                                    "waiting for GO from: Tech Lead"]),
    # a GO given at the very instant the Marginal run began counts: "since" includes it
    ([go("po", JUDGED_AT), go("tech_lead", JUDGED_AT)], []),
    ([go("po", JUDGED_AT), go("tech_lead", JUDGED_AT + timedelta(seconds=1))], []),
    ([go("po", JUDGED_AT)], [waiting_since("Tech Lead"), "waiting for GO from: Tech Lead"]),
])
def test_a_marginal_judgment_names_the_owners_whose_go_it_waits_for(judged_plan, decisions, expected):
    s = state(judged_plan, *at_phase(judged_plan, PHASE), *others_met(judged_plan), marginal(),
              *decisions, start=T0 + timedelta(hours=1))
    assert rules.gate_refusals(s, PHASE, LATE) == expected


def test_a_marginal_judgment_names_an_owner_without_a_title_by_its_id(judged_plan):
    s = state(judged_plan, *at_phase(judged_plan, PHASE), *others_met(judged_plan), marginal(),
              start=T0 + timedelta(hours=1))
    s.plan = msgspec.structs.replace(s.plan, roles={"po": "Product Owner"})
    assert rules.gate_refusals(s, PHASE, LATE) == [waiting_since("Product Owner, tech_lead"),
                                                   "waiting for GO from: Product Owner, tech_lead"]


def test_the_marginal_reason_comes_after_the_soak_and_the_criteria_before_it(judged_plan):
    started = T0 + timedelta(hours=1)
    first = judged_plan.phases[PHASE].gate.auto[0].id
    s = state(judged_plan, *at_phase(judged_plan, PHASE), *others_met(judged_plan, failed=first), marginal(),
              go("po", JUDGED_AT + timedelta(seconds=1)), start=started)
    soaking = s.phase_started_at + timedelta(minutes=15)
    assert rules.gate_refusals(s, PHASE, soaking) == [
        "Phase 2 soak has 5m00s left",
        f"criterion {first} not met: 12 %",
        waiting_since("Tech Lead"),
        "waiting for GO from: Tech Lead",
    ]
