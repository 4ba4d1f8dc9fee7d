"""The fold, where a mutant showed a gap: a criterion a judgment decides is dated by that judgment
(the report's "At" column for the gate's criteria)."""

from __future__ import annotations

import tomllib
from datetime import timedelta

from cockpit.config import parse_plan
from cockpit.core import events as ev
from cockpit.core.state import CriterionState
from tests.conftest import T0
from tests.core.journal import At, at_phase, state
from tests.judged import judged_example_text


def test_a_criterion_decided_by_a_judgment_is_dated_by_it():
    plan = parse_plan(tomllib.loads(judged_example_text()))
    judged_at = T0 + timedelta(minutes=27)
    made = ev.JudgmentMade(phase=0, score=91.0, verdict="Pass", reason="all metrics pass", window_start=T0,
                           window_end=T0 + timedelta(minutes=20), criteria=("judgment",))
    s = state(plan, *at_phase(plan), At(made, judged_at))
    assert s.gate(0).criteria == {"judgment": CriterionState(True, 91.0, "judged Pass: all metrics pass", judged_at)}
