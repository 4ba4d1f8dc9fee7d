"""A journaled judgment as the faces show it (core/judgeview.py), at its edges: every field of the
view and of a metric's row, a verdict or class this cockpit does not know, the phase just past the
plan's last, and the shift bar's corners (no band, a band wider than the interval, shifts of a
fraction of a unit, nothing at all, an estimate outside its interval, the narrowest bar drawn)."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest

from cockpit.config import parse_plan
from cockpit.core import events as ev
from cockpit.core.judgeview import JudgmentView, MetricRow, judgment_view, judgment_views, metric_row, shift_bar, signed
from tests.conftest import T0
from tests.core.journal import at_phase, records, state
from tests.judged import judged_example_text


@pytest.fixture(scope="module")
def judged_plan():
    return parse_plan(tomllib.loads(judged_example_text()))


P95 = ev.MetricJudged(name="API p95", classification="High", reason="canary higher", unit="ms", critical=True,
                      canary_samples=1200, baseline_samples=240, canary_median=312.0, baseline_median=240.0,
                      estimate=72.0, lower=60.0, upper=80.0, band=18.0, effect=1.3)


def judgment(verdict: str, score: float = 50.0, phase: int = 0, criteria=("judgment",), reason="") -> ev.JudgmentMade:
    return ev.JudgmentMade(phase=phase, score=score, verdict=verdict, reason=reason or f"score {score:g}",
                           window_start=T0, window_end=T0 + timedelta(minutes=20), metrics=(P95,), criteria=criteria)


def bar(estimate, lower, upper, band, width, unit=""):
    row = metric_row(ev.MetricJudged(name="m", classification="Pass", reason="", unit=unit, estimate=estimate,
                                     lower=lower, upper=upper, band=band))
    return shift_bar(row, width)


def test_every_field_of_the_view_of_a_pass_and_of_its_metric_row(judged_plan):
    made = judgment("Pass", 96, phase=1, reason="every metric within its band")
    recs = records(judged_plan, *at_phase(judged_plan, 1), made)
    s = state(judged_plan, *at_phase(judged_plan, 1), made)
    assert judgment_view(judged_plan, s, 1) == JudgmentView(
        phase=1, phase_name="Phase 2", verdict="Pass", role="ok", score="96", at=recs[-1].ts,
        window="14:00:00Z–14:20:00Z (20m00s)", reason="every metric within its band",
        # a Pass waits for nobody: the line ends with the judge's reason, nothing after it
        line="Judge Phase 2: Pass · score 96 · every metric within its band",
        metrics=(MetricRow(name="API p95", classification="High", role="breach", canary="312 ms", baseline="240 ms",
                           shift="+72 ms (+60 ms to +80 ms)", band="±18 ms", effect="×1.3", samples="1,200 / 240",
                           reason="canary higher", estimate=72.0, lower=60.0, upper=80.0, band_value=18.0),),
        marginal_waits=False)
    # the view of each phase carries its own number, which status reads the phase's gate by
    assert {p: v.phase for p, v in judgment_views(judged_plan, s).items()} == {1: 1}


@pytest.mark.parametrize("verdict, role", [
    ("Pass", "ok"), ("Marginal", "warn"), ("Fail", "breach"),
    ("Inconclusive", "warn"),  # a verdict this cockpit does not know (a newer judge's): amber, never green
])
def test_the_role_of_a_verdict(judged_plan, verdict, role):
    s = state(judged_plan, *at_phase(judged_plan), judgment(verdict))
    assert judgment_view(judged_plan, s, 0).role == role


@pytest.mark.parametrize("classification, role", [
    ("Pass", "ok"), ("High", "breach"), ("Low", "breach"), ("Nodata", "muted"), ("NodataFailMetric", "breach"),
    ("Error", "breach"),
    ("Skewed", "warn"),  # a class this cockpit does not know: amber, shown as the judge spelt it
])
def test_the_role_of_a_metric_class(classification, role):
    row = metric_row(ev.MetricJudged(name="errors", classification=classification, reason="why"))
    assert (row.name, row.classification, row.role, row.reason) == ("errors", classification, role, "why")


def test_the_phase_just_past_the_plans_last_is_named_by_its_number(judged_plan):
    last = len(judged_plan.phases)  # 4 phases: 0..3 are named, 4 is not
    s = state(judged_plan, judgment("Pass", 99, phase=last))
    assert judgment_view(judged_plan, s, last).phase_name == f"phase {last + 1}"
    assert judgment_view(judged_plan, s, last).line.startswith(f"Judge phase {last + 1}: Pass")


@pytest.mark.parametrize("v, unit, shown", [
    (0.5, "ms", "+0.5 ms"),  # a shift under one unit is still a rise
    (1.0, "", "+1"),  # exactly one
    (1.5, "", "+1.5"),
    (0.0, "", "0"),  # no shift: no sign
    (-0.5, "ms", "-0.5 ms"),
])
def test_signed_shows_the_plus_of_every_rise(v, unit, shown):
    assert signed(v, unit) == shown


@pytest.mark.parametrize("estimate, lower, upper, band, width, unit, drawn", [
    # half an interval is nothing to draw: blank, whichever half is missing
    (1.0, 0.0, None, 2.0, 11, "", "           "),
    (None, 0.0, 2.0, 2.0, 11, "", "           "),
    # five cells are enough to draw, four are not
    (1.0, 0.0, 2.0, 0.5, 5, "", "  ┿●━"),
    (1.0, 0.0, 2.0, 0.5, 6, "", "  ┿━●━"),
    (1.0, 0.0, 2.0, 0.5, 4, "", "    "),
    # no band (none computed, or zero): no ░ at all, only zero's mark
    (3.0, 2.0, 4.0, None, 21, "", "          │    ━━●━━ "),
    (3.0, 2.0, 4.0, 0.0, 21, "", "          │    ━━●━━ "),
    # a band wider than the interval fits on the axis, with a free cell at each end
    (1.0, 0.5, 1.5, 10.0, 21, "", " ░░░░░░░░░┿●░░░░░░░░ "),
    # canary and baseline identical, no band: the estimate on zero
    (0.0, 0.0, 0.0, 0.0, 11, "", "     ●     "),
    # an error ratio moves by fractions of a percent: drawn to its own scale, not squashed on zero
    (0.003, 0.002, 0.004, 0.001, 21, "ratio", "        ░░│░░  ━━●━━ "),
    # an interval across zero that ends short of the axis' right end: zero is crossed (┿)
    (0.001, -0.001, 0.002, 0.0005, 21, "ratio", "     ━━━━━┿━━━━●━━━━ "),
    # an estimate outside its interval (a journal from another judge): held at the axis' ends
    (100.0, 1.0, 2.0, 0.5, 11, "", "    ░│░━━━●"),
    (-100.0, 1.0, 2.0, 0.5, 11, "", "●   ░│░━━━━"),
])
def test_the_shift_bar_at_its_edges(estimate, lower, upper, band, width, unit, drawn):
    assert bar(estimate, lower, upper, band, width, unit) == drawn


@pytest.mark.parametrize("width", [0, -3])
def test_a_bar_of_no_width_is_empty(width):
    assert bar(None, None, None, None, width) == ""
    assert bar(1.0, 0.0, 2.0, 0.5, width) == ""
