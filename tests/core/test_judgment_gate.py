"""A journaled judgment (judgment_made): the fold keeps the phase's latest, since when it has been
Marginal and how many Fail in a row; the gate passes on Pass, fails on Fail, and on Marginal waits
for every owner's GO given after it; the faces' view draws the interval against the band."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest

from cockpit.config import parse_plan
from cockpit.core import events as ev
from cockpit.core import rules
from cockpit.core.judgeview import judgment_view, judgment_views, metric_row, shift_bar, signed
from cockpit.narrate import say
from tests.conftest import T0
from tests.core.journal import At, at_phase, records, state
from tests.judged import judged_example_text


@pytest.fixture(scope="module")
def judged_plan():
    return parse_plan(tomllib.loads(judged_example_text()))


P95 = ev.MetricJudged(name="API p95", classification="High", reason="canary higher", unit="ms", critical=True,
                      canary_samples=240, baseline_samples=240, canary_median=312.0, baseline_median=240.0,
                      estimate=72.0, lower=60.0, upper=80.0, band=18.0, effect=1.3)


def judgment(verdict: str, score: float = 50.0, phase: int = 0, criteria=("judgment",)) -> ev.JudgmentMade:
    return ev.JudgmentMade(phase=phase, score=score, verdict=verdict, reason=f"score {score:g}", window_start=T0,
                           window_end=T0 + timedelta(minutes=20), metrics=(P95,), criteria=criteria)


def other_criteria(plan, phase=0):
    return [ev.CriterionEvaluated(phase=phase, criterion=c.id, passed=True, detail="ok")
            for c in plan.phases[phase].gate.auto if c.source != "judge"]


LATE = T0 + timedelta(hours=2)


@pytest.mark.parametrize("verdicts, fails, marginal_from", [
    (["Pass"], 0, None),
    (["Fail"], 1, None),
    (["Fail", "Fail", "Fail"], 3, None),
    (["Fail", "Pass", "Fail"], 1, None),
    (["Marginal"], 0, 0),
    (["Pass", "Marginal", "Marginal"], 0, 1),  # a run of Marginal counts from its first
    (["Marginal", "Pass", "Marginal"], 0, 2),  # ... and starts again after another verdict
])
def test_the_fold_keeps_the_latest_judgment_its_marginal_start_and_fails_in_a_row(judged_plan, verdicts, fails, marginal_from):
    recs = records(judged_plan, *at_phase(judged_plan), *(judgment(v) for v in verdicts))
    s = state(judged_plan, *at_phase(judged_plan), *(judgment(v) for v in verdicts))
    judged = s.gate(0).judged
    assert judged.judgment.verdict == verdicts[-1] and judged.fails_in_row == fails
    firsts = recs[-len(verdicts):]
    assert judged.marginal_since == (None if marginal_from is None else firsts[marginal_from].ts)
    assert judged.at == recs[-1].ts


@pytest.mark.parametrize("verdict, passed", [("Pass", True), ("Marginal", False), ("Fail", False)])
def test_a_judgment_decides_the_criteria_it_names_and_no_other(judged_plan, verdict, passed):
    s = state(judged_plan, *at_phase(judged_plan), judgment(verdict, score=80))
    got = s.gate(0).criteria["judgment"]
    assert (got.passed, got.value) == (passed, 80)
    assert got.detail == f"judged {verdict}: score 80"
    assert set(s.gate(0).criteria) == {"judgment"}
    assert "judgment" not in state(judged_plan, *at_phase(judged_plan), judgment(verdict, criteria=())).gate(0).criteria


def _gos(plan, phase=0, at=None):
    return [At(ev.GateDecided(phase=phase, role=r, decision="GO", name=r), at) for r in plan.phases[phase].gate.owners]


def test_pass_meets_the_gate_and_fail_fails_it_even_with_every_go(judged_plan):
    base = [*at_phase(judged_plan), *other_criteria(judged_plan)]
    s = state(judged_plan, *base, judgment("Pass", 99), *_gos(judged_plan))
    assert rules.gate_refusals(s, 0, LATE) == []
    s = state(judged_plan, *base, judgment("Fail", 10), *_gos(judged_plan))
    assert rules.gate_refusals(s, 0, LATE) == ["criterion judgment not met: judged Fail: score 10"]


def test_marginal_waits_for_a_go_given_after_it(judged_plan):
    base = [*at_phase(judged_plan), *other_criteria(judged_plan)]
    before = state(judged_plan, *base, *_gos(judged_plan), judgment("Marginal", 80))  # GO, then Marginal
    refused = rules.gate_refusals(before, 0, LATE)
    assert len(refused) == 1 and refused[0].startswith("criterion judgment judged Marginal (score 80): the owners decide; "
                                                          "waiting for a GO given since ")
    assert refused[0].endswith(" from: SRE"), refused
    after = state(judged_plan, *base, judgment("Marginal", 80), *_gos(judged_plan))  # Marginal, then GO
    assert rules.gate_refusals(after, 0, LATE) == []
    still = state(judged_plan, *base, judgment("Marginal", 80), *_gos(judged_plan), judgment("Marginal", 82))
    assert rules.gate_refusals(still, 0, LATE) == []  # the same run of Marginal: the GO saw it
    nogo = state(judged_plan, *base, judgment("Marginal", 80),
                 ev.GateDecided(phase=0, role="sre", decision="NO-GO", name="sam", note="too wide"))
    assert any("judged Marginal" in r for r in rules.gate_refusals(nogo, 0, LATE))
    assert any(r.startswith("NO-GO by") for r in rules.gate_refusals(nogo, 0, LATE))


def test_a_marginal_with_no_criterion_blocks_nothing(judged_plan):
    s = state(judged_plan, *at_phase(judged_plan), *other_criteria(judged_plan), judgment("Pass", 99),
              judgment("Marginal", 80, criteria=()), *_gos(judged_plan))
    assert rules.gate_refusals(s, 0, LATE) == []


def test_the_view_of_a_judgment(judged_plan):
    assert judgment_view(judged_plan, state(judged_plan, *at_phase(judged_plan)), 0) is None
    s = state(judged_plan, *at_phase(judged_plan), judgment("Marginal", 80))
    view = judgment_view(judged_plan, s, 0)
    assert (view.verdict, view.role, view.score, view.marginal_waits) == ("Marginal", "warn", "80", True)
    assert view.line == "Judge Phase 1: Marginal · score 80 · score 80 · the owners decide"
    assert view.window == "14:00:00Z–14:20:00Z (20m00s)"
    assert list(judgment_views(judged_plan, s)) == [0]
    row = view.metrics[0]
    assert (row.canary, row.baseline, row.shift, row.band, row.effect, row.samples, row.role) == (
        "312 ms", "240 ms", "+72 ms (+60 ms to +80 ms)", "±18 ms", "×1.3", "240 / 240", "breach")
    assert judgment_view(judged_plan, state(judged_plan, *at_phase(judged_plan), judgment("Fail")), 0).role == "breach"
    nodata = metric_row(ev.MetricJudged(name="errors", classification="Nodata", reason="few"))
    assert (nodata.shift, nodata.band, nodata.effect, nodata.role) == ("—", "", "", "muted")


@pytest.mark.parametrize("estimate, lower, upper, band, width, drawn", [
    (72.0, 60.0, 80.0, 18.0, 21, "        ░░│░░    ━●━ "),  # High: right of the band
    (0.0, -5.0, 5.0, 0.0, 11, "━━━━━●━━━━━"),  # no shift: the interval straddles zero
    (-40.0, -50.0, -30.0, 10.0, 11, "━●━ ░│░    "),  # Low: left of it
    (3.0, -2.0, 8.0, 0.75, 15, "     ━━┿━●━━━━ "),  # within: the interval crosses zero (┿)
    (None, None, None, None, 8, "        "),  # nothing computed: blank
    (1.0, 0.0, 2.0, 0.25, 4, "    "),  # too narrow to draw
])
def test_the_shift_bar(estimate, lower, upper, band, width, drawn):
    row = metric_row(ev.MetricJudged(name="m", classification="Pass", reason="", estimate=estimate, lower=lower,
                                     upper=upper, band=band))
    assert shift_bar(row, width) == drawn


def test_signed_and_narrated(judged_plan):
    assert (signed(2.0, "ms"), signed(-2.0, "ms"), signed(0.0), signed(None), signed(float("nan"))) == ("+2 ms", "-2 ms", "0", "—", "—")
    recs = records(judged_plan, judgment("Marginal", 80))
    assert say(recs[-1], recs[0].payload) == "judge (Phase 1): Marginal, score 80: the owners decide - score 80"
    recs = records(judged_plan, judgment("Fail", 10, criteria=()))
    assert say(recs[-1], recs[0].payload) == "judge (Phase 1): Fail, score 10 - score 10"


@pytest.mark.parametrize("verdict, criteria, mark, role, met", [
    ("Marginal", ("judgment",), "▲", "warn", False),  # waits for the owners: not a failure, not a pass
    ("Fail", ("judgment",), "✗", "breach", False),
    ("Pass", ("judgment",), "✓", "ok", True),
])
def test_the_gate_row_of_a_judge_criterion(judged_plan, verdict, criteria, mark, role, met):
    from cockpit.core.readmodel import gate_view

    s = state(judged_plan, *at_phase(judged_plan), judgment(verdict, 80, criteria=criteria))
    (row,) = [r for r in gate_view(judged_plan, s, None).criteria if r.id == "judgment"]
    assert (row.mark, row.role, row.met) == (mark, role, met)
    assert row.text.startswith(f"judged {verdict}: score 80")
    assert row.text.endswith(" · the owners decide") == (verdict == "Marginal")


def test_a_marginal_judgment_deciding_no_criterion_leaves_the_rows_and_the_owners_alone(judged_plan):
    from cockpit.core.readmodel import gate_view

    s = state(judged_plan, *at_phase(judged_plan), *other_criteria(judged_plan), judgment("Fail", 10),
              judgment("Marginal", 80, criteria=()))
    (row,) = [r for r in gate_view(judged_plan, s, None).criteria if r.id == "judgment"]
    assert (row.mark, row.role) == ("✗", "breach")  # the Fail that decided it still stands
    view = judgment_view(judged_plan, s, 0)
    assert not view.marginal_waits and not view.line.endswith("the owners decide")


def test_judgment_views_are_by_phase_in_order(judged_plan):
    s = state(judged_plan, *at_phase(judged_plan), judgment("Pass", 99, phase=0), judgment("Fail", 10, phase=1),
              judgment("Marginal", 80, phase=2))
    views = judgment_views(judged_plan, s)
    assert [(p, v.phase_name, v.verdict) for p, v in views.items()] == [
        (0, "Phase 1", "Pass"), (1, "Phase 2", "Fail"), (2, "Phase 3", "Marginal")]
    assert judgment_view(judged_plan, s, 3) is None
    far = state(judged_plan, judgment("Pass", 99, phase=9))  # a phase the plan does not have: named by its number
    assert judgment_view(judged_plan, far, 9).phase_name == "phase 10"
