"""Trigger windows and gate criteria at their edges: one sample before and after each edge,
coverage at exactly 90 %, the seed's thresholds at exactly the threshold, and the words shown."""

from __future__ import annotations

import math

import pytest

from cockpit.adapters.metrics import Sample
from cockpit.core.compare import Comparison
from cockpit.core.triggers import (
    TriggerTrack,
    check_verdict,
    coverage_needed,
    evaluate_criterion,
    evaluate_window,
    no_data_speaks,
)

NOW = 10_000.0
STEP = 30.0
HALF = STEP / 2
LE, LT, GE, GT = Comparison.LE, Comparison.LT, Comparison.GE, Comparison.GT


def grid(values, *, first: float, step: float = STEP):
    """Samples from `first`, one per step; None leaves a gap."""
    return [Sample(first + i * step, v) for i, v in enumerate(values) if v is not None]


def window(samples, *, for_s=300.0, threshold=0.02, comparison=GE, no_data="hold", **kw):
    return evaluate_window(samples, comparison=comparison, threshold=threshold, for_s=for_s, step_s=STEP, now=NOW,
                           no_data=no_data, **kw)


# --- the seed's triggers at exactly their threshold -------------------------------------------


@pytest.mark.parametrize(
    "comparison, threshold, value, breaches",
    [
        (GE, 0.02, 0.02, True),  # "Error Rate: ≥2% for 5 minutes": exactly 2 % breaches
        (GE, 0.02, 0.0199, False),
        (GT, 1200, 1200, False),  # "3-hop p95 >1200ms": exactly 1200 ms does not
        (GT, 1200, 1200.5, True),
        (GT, 0, 0, False),  # "Any cross-tenant access": none is fine ...
        (GT, 0, 1, True),  # ... one is a breach
    ],
)
def test_seed_trigger_thresholds(comparison, threshold, value, breaches):
    v = window(grid([value] * 11, first=NOW - 300), comparison=comparison, threshold=threshold)
    assert v.state == ("fired" if breaches else "ok")
    assert (v.threshold, v.comparison, v.value, v.at, v.needed_s) == (threshold, comparison, value, NOW, 300.0)


# --- which samples are in the window ----------------------------------------------------------


def test_a_sample_half_a_step_off_the_grid_still_belongs_to_its_slot():
    # Every sample half a step early: the oldest sits at now - for - step/2, the window's edge.
    early = grid([0.03] * 11, first=NOW - 300 - HALF)
    v = window(early)
    assert v.coverage == 1.0 and v.fired
    # Half a step late: the newest sits at now + step/2, still in.
    late = grid([0.03] * 11, first=NOW - 300 + HALF)
    assert window(late).coverage == 1.0


def test_a_sample_past_half_a_step_is_outside():
    before = [Sample(NOW - 300 - HALF - 0.01, 0.03)] + grid([0.03] * 10, first=NOW - 270)
    assert window(before).coverage == pytest.approx(10 / 11)
    after = grid([0.03] * 10, first=NOW - 300) + [Sample(NOW + HALF + 0.01, 0.03)]
    assert window(after).coverage == pytest.approx(10 / 11)


def test_a_breach_first_seen_half_a_step_late_is_sustained_from_the_start():
    # The slot at now - 300 is filled by a sample at now - 285: the breach is seen from the window's start.
    samples = grid([0.03] * 10, first=NOW - 300 + HALF)
    v = window(samples)
    assert v.coverage == pytest.approx(10 / 11) and v.state == "fired"
    # A whole step late, it is not: nine and a half minutes are not ten.
    assert window(grid([0.03] * 10, first=NOW - 270)).state == "breaching"


def test_coverage_is_capped_at_one():
    dense = grid([0.03] * 21, first=NOW - 300, step=STEP / 2)  # twice as many samples as slots
    assert window(dense).coverage == 1.0


@pytest.mark.parametrize(
    "present, state",
    [(9, "fired"), (8, "no_data_hold")],  # 9 of 10 is exactly 90 %: covered; 8 of 10 is not
)
def test_coverage_at_exactly_ninety_percent(present, state):
    values = [0.03] * 4 + [None] * (10 - present) + [0.03] * (present - 4)  # the gap in the middle
    v = window(grid(values, first=NOW - 270), for_s=270)
    assert v.coverage == pytest.approx(present / 10)
    assert v.state == state


@pytest.mark.parametrize("step", [0.0, -30.0])
def test_the_step_must_be_positive(step):
    with pytest.raises(ValueError, match="^step_s must be positive$"):
        evaluate_window([], comparison=GE, threshold=1, for_s=60, step_s=step, now=NOW, no_data="hold")


def test_a_step_under_a_second_is_a_step():
    samples = grid([5.0] * 11, first=NOW - 5, step=0.5)
    v = evaluate_window(samples, comparison=GT, threshold=1, for_s=5, step_s=0.5, now=NOW, no_data="hold")
    assert v.fired and v.coverage == 1.0


# --- the words on the gauge -------------------------------------------------------------------


def test_default_label():
    assert window([]).why == "value: no data in the last 5m00s, holding"
    assert window(grid([0.01] * 11, first=NOW - 300)).why == "value 0.01, fires at ≥ 0.02 for 5m00s"


@pytest.mark.parametrize(
    "values, kwargs, why",
    [
        # breach policy, 9 of 11 present: fired, and says how much was missing
        ([None, None] + [0.03] * 9, {"no_data": "breach"}, "errors 3 % ≥ 2 %, window 81.8 % covered, missing counted as breaching"),
        # ignore policy, under-covered, breaching: pending, with the gap said
        ([None, None] + [0.03] * 9, {"no_data": "ignore"}, "errors 3 % ≥ 2 % for 4m00s of 5m00s, window 81.8 % covered"),
        # ignore policy, under-covered, fine
        ([None, None] + [0.01] * 9, {"no_data": "ignore"}, "errors 1 %, window 81.8 % covered"),
        # hold policy, under-covered
        ([None, None] + [0.01] * 9, {}, "errors 1 %: window 81.8 % covered, holding"),
    ],
)
def test_under_covered_words(values, kwargs, why):
    assert window(grid(values, first=NOW - 300), label="errors", unit="ratio", **kwargs).why == why


@pytest.mark.parametrize(
    "comparison, value, why",
    [
        (LE, 500.0, "throughput 500, fires at ≤ 100"),  # for = 0: no duration in the words
        (LE, 50.0, "throughput 50 ≤ 100"),
        (GE, 50.0, "throughput 50, fires at ≥ 100"),
        (LT, 50.0, "throughput 50 < 100"),
    ],
)
def test_for_zero_words_and_comparison_signs(comparison, value, why):
    v = evaluate_window([Sample(NOW, value)], comparison=comparison, threshold=100, for_s=0, step_s=STEP, now=NOW,
                        no_data="hold", label="throughput")
    assert v.why == why


def test_fired_and_the_no_data_states():
    assert window(grid([0.03] * 11, first=NOW - 300)).fired
    assert not window(grid([0.03] * 10, first=NOW - 270)).fired
    assert window([], no_data="ignore").state == "no_data_ignored"
    assert window([]).state == "no_data_hold"


# --- gate criteria over the soak --------------------------------------------------------------

SOAK = 1200.0
SINCE = NOW - SOAK


def criterion(samples, *, comparison=LE, threshold=350.0, since=SINCE, now=NOW, step=STEP, **kw):
    return evaluate_criterion(samples, comparison=comparison, threshold=threshold, since=since, now=now, step_s=step, **kw)


def soak(values):
    return grid(values, first=SINCE)


@pytest.mark.parametrize(
    "comparison, threshold, value, met",
    [
        (LE, 350, 350.0, True),  # "API p95 ≤350ms": exactly 350 ms meets it
        (LE, 350, 350.5, False),
        (LT, 0.01, 0.01, False),  # "Error rate <1%": exactly 1 % does not
        (LT, 0.01, 0.0099, True),
        (GT, 0.999, 0.999, False),  # "Availability >99.9%": exactly 99.9 % does not
        (Comparison.EQ, 0, 0.0, True),  # "No security policy violations"
        (Comparison.EQ, 0, 1.0, False),
    ],
)
def test_seed_criteria_at_exactly_the_threshold(comparison, threshold, value, met):
    assert criterion(soak([value] * 41), comparison=comparison, threshold=threshold).met is met


def test_default_label_and_unit():
    v = criterion(soak([300.0] * 41))
    assert v.why == "value ≤ 350 throughout 20m00s (worst 300)"
    assert criterion(soak([300.0] * 41), comparison=GE, threshold=100).why == "value ≥ 100 throughout 20m00s (worst 300)"


def test_samples_from_before_the_soak_do_not_count():
    before = grid([900.0] * 10, first=SINCE - 600)  # a bad latency in the previous phase
    v = criterion(before + soak([300.0] * 41))
    assert (v.met, v.worst, v.coverage) == (True, 300.0, 1.0)
    after = [Sample(NOW + 60, 900.0)]  # nor from after `now`
    assert criterion(soak([300.0] * 41) + after).met is True


def test_nan_samples_do_not_count():
    v = criterion(soak([300.0] * 37 + [math.nan] * 4))
    assert v.coverage == pytest.approx(37 / 41) and v.met is True
    assert criterion([Sample(NOW, math.nan)]).met is None


@pytest.mark.parametrize(
    "offset, counted",
    [(-HALF, True), (-HALF - 1, False), (-3 * HALF, False)],  # one sample half a step before the soak's start, one more
)
def test_the_soak_edge(offset, counted):
    samples = [Sample(SINCE + offset, 900.0)] + grid([300.0] * 40, first=SINCE + STEP)
    assert criterion(samples).met is (False if counted else True)


@pytest.mark.parametrize("offset, counted", [(HALF, True), (HALF + 1, False)])
def test_the_now_edge(offset, counted):
    samples = soak([300.0] * 41) + [Sample(NOW + offset, 900.0)]
    assert criterion(samples).met is (False if counted else True)


def test_coverage_of_a_criterion_is_capped_at_one():
    assert criterion(grid([300.0] * 81, first=SINCE, step=HALF)).coverage == 1.0


def test_a_soak_that_just_began():
    v = criterion([Sample(NOW, 1.0)], since=NOW, step=1.0, threshold=5.0)
    assert (v.met, v.coverage) == (True, 1.0)


@pytest.mark.parametrize(
    "comparison, threshold, values, worst",
    [
        # Lower is better (≤): the worst breach is the highest one, quoted even when a milder one came first or last.
        (LE, 350.0, [300.0] * 10 + [362.0] + [300.0] * 9 + [400.0] + [300.0] * 9 + [355.0] + [300.0] * 10, 400.0),
        # Higher is better (>): the worst is the lowest.
        (GT, 0.999, [0.9995] * 10 + [0.998] + [0.9995] * 10 + [0.990] + [0.9995] * 10 + [0.9985] + [0.9995] * 8, 0.990),
    ],
)
def test_the_refusal_quotes_the_worst_breach(comparison, threshold, values, worst):
    v = criterion(soak(values), comparison=comparison, threshold=threshold)
    assert (v.met, v.worst, v.coverage) == (False, worst, 1.0)


@pytest.mark.parametrize(
    "comparison, threshold, values, worst",
    [(LE, 350.0, [300.0, 340.0, 320.0] * 13 + [300.0, 300.0], 340.0), (GT, 0.999, [0.9999, 0.9992, 0.9995] * 13 + [0.9999] * 2, 0.9992)],
)
def test_when_met_worst_is_the_closest_to_the_limit(comparison, threshold, values, worst):
    v = criterion(soak(values), comparison=comparison, threshold=threshold)
    assert (v.met, v.worst, v.coverage) == (True, worst, 1.0)


def test_no_data_has_zero_coverage():
    v = criterion([])
    assert (v.met, v.worst, v.coverage) == (None, None, 0.0)


@pytest.mark.parametrize(
    "present, met",
    [(9, True), (8, None)],  # a 270 s soak has 10 slots: 9 is exactly 90 %, enough to say met
)
def test_criterion_coverage_at_exactly_ninety_percent(present, met):
    v = criterion(grid([300.0] * present, first=NOW - 270), since=NOW - 270)
    assert (v.met, v.coverage) == (met, pytest.approx(present / 10))


def test_under_observed_words():
    v = criterion(grid([300.0] * 7, first=NOW - 180), since=NOW - 600, label="API p95", unit="ms")
    assert v.coverage == pytest.approx(7 / 21)
    assert v.why == "API p95 ≤ 350 ms so far, but only 33.3 % of the soak observed"
    assert v.worst == 300.0


# --- the track kept between polls -------------------------------------------------------------


def test_a_verdict_without_a_value_adds_nothing_to_the_sparkline():
    track = TriggerTrack().record(window(grid([0.01] * 11, first=NOW - 300)))
    assert track.history == (0.01,)
    track = track.record(window([]))
    assert track.history == (0.01,) and track.verdict.value is None and track.last_good_at == NOW


def test_a_good_evaluation_clears_the_last_error():
    track = TriggerTrack().record_error("timeout").record(window(grid([0.01] * 11, first=NOW - 300)))
    assert track.last_error is None and track.last_good_at == NOW


def test_the_sparkline_keeps_the_newest():
    track = TriggerTrack()
    for i in range(5):
        track = track.record(window([Sample(NOW, float(i))], for_s=0), keep=3)
    assert track.history == (2.0, 3.0, 4.0)


# -- the guard's rules around a window: young canaries, blind gauges, check runs ---------------------

@pytest.mark.parametrize("started_ago, expected", [
    (None, 0.9),  # not started: the whole window counts
    # The canary's first samples come two steps (60 s) after its start: traffic, a scrape, a rate.
    (660, 0.9),  # first data exactly one window ago: the whole window is the canary's
    (661, 0.9),
    (659, 0.9 * 20 / 21),  # 9m59s of data possible at 30 s steps: 20 of 21 samples
    (600, 0.9 * 19 / 21),  # started one window ago, data for 9 minutes of it
    (300, 0.9 * 9 / 21),  # 5 of 10 minutes lived: 4 minutes of data possible, 9 of 21 samples
    (90, 0.9 * 2 / 21),
    (61, 0.9 * 1 / 21),
    (60, 0.9 * 1 / 21),  # first data just due: one sample is all there can be
    (0, 0.9 * 1 / 21),  # just started
    (-30, 0.9 * 1 / 21),  # a clock behind the journal never asks for less than one
])
def test_a_young_canary_needs_the_coverage_it_can_have(started_ago, expected):
    now = 10_000.0
    started = None if started_ago is None else now - started_ago
    assert coverage_needed(started, now, 600, 30) == pytest.approx(expected)


@pytest.mark.parametrize("blind_s, speaks", [(0, False), (29.9, False), (30, False), (30.1, True), (600, True)])
def test_the_no_data_policy_speaks_only_once_the_gauge_is_stale(blind_s, speaks):
    assert no_data_speaks(blind_s, poll_s=15) is speaks  # stale: two polls of 15 s without an answer


def test_a_check_backed_trigger_fires_on_failed_runs_only():
    def runs(*failed: bool) -> list[Sample]:  # one run every 5 minutes from 0
        return [Sample(300.0 * i, 1.0 if f else 0.0) for i, f in enumerate(failed)]

    fired = check_verdict(runs(False, True), for_s=0, interval_s=300, now=300, no_data="breach", label="Supply Chain")
    assert fired.state == "fired" and fired.value == 1.0 and fired.threshold == 0.5
    passed = check_verdict(runs(True, False), for_s=0, interval_s=300, now=300, no_data="breach", label="Supply Chain")
    assert passed.state == "ok"
    # Two runs of ten minutes must both fail for a `for = 10m` check at 5-minute runs.
    one = check_verdict(runs(False, False, True), for_s=600, interval_s=300, now=600, no_data="hold", label="x")
    both = check_verdict(runs(False, True, True), for_s=600, interval_s=300, now=600, no_data="hold", label="x")
    assert (one.state, both.state) == ("breaching", "breaching")
    three = check_verdict(runs(True, True, True), for_s=600, interval_s=300, now=600, no_data="hold", label="x")
    assert three.state == "fired"
    none = check_verdict([], for_s=0, interval_s=300, now=300, no_data="hold", label="x")
    assert none.state == "no_data_hold"
