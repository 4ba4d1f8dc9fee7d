"""A trigger's window and the rollout's start: nothing from before it counts (a second attempt is
not judged on the first one's samples), and a window reaching back before it never fires."""

from __future__ import annotations

import pytest

from cockpit.adapters.metrics import Sample
from cockpit.core.compare import Comparison
from cockpit.core.triggers import MIN_COVERAGE, coverage_needed, evaluate_window

NOW = 10_000.0
STEP = 30.0
FOR = 300.0  # 11 samples at 30 s steps


def grid(value: float, *, first: float, last: float = NOW) -> list[Sample]:
    return [Sample(first + i * STEP, value) for i in range(int((last - first) / STEP) + 1)]


def judge(samples, *, since, for_s=FOR, no_data="hold", min_coverage=MIN_COVERAGE):
    return evaluate_window(samples, comparison=Comparison.GE, threshold=0.02, for_s=for_s, step_s=STEP, now=NOW,
                           no_data=no_data, label="Error Rate", unit="ratio", min_coverage=min_coverage, since=since)


# The previous attempt's 3.52 % throughout the window, this attempt started `ago` seconds before now.
@pytest.mark.parametrize("ago, no_data, state, count", [
    (None, "hold", "fired", 11),  # no start given: the whole window counts, as before
    (10 * 60, "hold", "fired", 11),  # started long before the window: nothing clipped
    (FOR + STEP / 2, "hold", "fired", 11),  # the window starts half a step after the start: not young
    (FOR, "hold", "fired", 11),
    (FOR - STEP / 2, "hold", "breaching", 10),  # the start past the window's first sample: 4m30s seen, pends
    (60, "hold", "breaching", 3),  # a minute in: 3 samples of this attempt, pending, never "5 minutes"
    (60, "breach", "breaching", 3),  # under `breach` too: the time before the start is not missing data
    (0, "hold", "breaching", 1),
])
def test_a_window_never_reaches_before_the_start(ago, no_data, state, count):
    since = None if ago is None else NOW - ago
    v = judge(grid(0.0352, first=NOW - 20 * 60), since=since, no_data=no_data,
              min_coverage=coverage_needed(since, NOW, FOR, STEP))
    assert v.state == state
    assert round(v.coverage * 11) == count


def test_a_sample_at_the_start_counts_one_a_second_before_does_not():
    at = judge([Sample(NOW - 60, 0.0352)], since=NOW - 60, min_coverage=0.01)
    before = judge([Sample(NOW - 60, 0.0352)], since=NOW - 59, min_coverage=0.01)
    assert (at.state, at.value, at.coverage) == ("breaching", 0.0352, pytest.approx(1 / 11))
    assert (before.state, before.value, before.coverage) == ("no_data_hold", None, 0.0)


def test_the_previous_attempts_breach_then_a_healthy_canary():
    # 3.52 % until the start, 0.05 % since: the gauge shows this attempt, and it is fine.
    since = NOW - 60
    samples = grid(0.0352, first=NOW - 600, last=since - STEP) + grid(0.0005, first=since)
    v = judge(samples, since=since, min_coverage=coverage_needed(since, NOW, FOR, STEP))
    assert (v.state, v.value, v.breaching_for_s) == ("ok", 0.0005, 0.0)
    assert v.coverage == pytest.approx(3 / 11)


@pytest.mark.parametrize("late, no_data, state", [
    (0.0, "breach", "fired"),  # the start on the window's edge (half a step early): seen from its start
    (0.0, "hold", "fired"),
    (1.0, "breach", "breaching"),  # a second later: the window reaches before the start, it pends
    (1.0, "hold", "breaching"),
])
def test_the_young_edge(late, no_data, state):
    since = NOW - FOR + STEP / 2 + late
    samples = [Sample(since + k * STEP, 0.0352) for k in range(11) if since + k * STEP <= NOW]
    assert judge(samples, since=since, no_data=no_data, min_coverage=0.5).state == state


def test_a_breach_of_this_attempt_fires_once_seen_for_the_whole_window_after_the_start():
    since = NOW - FOR  # the start exactly one window ago, breaching since
    v = judge(grid(0.0352, first=since), since=since)
    assert (v.state, v.breaching_for_s) == ("fired", FOR)
    assert v.why == "Error Rate 3.52 % ≥ 2 % for 5m00s of 5m00s"


def test_young_words():
    since = NOW - 60
    pending = judge(grid(0.0352, first=since), since=since, min_coverage=coverage_needed(since, NOW, FOR, STEP))
    assert pending.why == "Error Rate 3.52 % ≥ 2 % for 1m00s of 5m00s (1m00s since the start)"
    assert pending.breaching_for_s == 60.0 and pending.state == "breaching" and not pending.fired
    empty = judge([], since=since, no_data="breach")
    assert (empty.state, empty.value) == ("breaching", None)
    assert empty.why == "Error Rate: no data in the 1m00s since the start, counted as breaching"
    held = judge([], since=since, no_data="hold")
    assert held.state == "no_data_hold"  # no data, and `hold`: holding, as before
    ignored = judge([], since=since, no_data="ignore")
    assert ignored.state == "no_data_ignored"


def test_an_empty_window_under_breach_fires_once_the_start_is_a_window_ago():
    v = judge([], since=NOW - FOR, no_data="breach")
    assert v.state == "fired" and v.why == "Error Rate: no data for 5m00s, counted as breaching"


def test_for_zero_is_judged_on_the_latest_sample_whatever_the_start():
    v = judge([Sample(NOW, 1.0)], since=NOW - 1, for_s=0, no_data="breach")
    assert v.state == "fired"
    newest = [Sample(NOW - 12, 1.0)]  # the newest slot (within half a step of now) always counts
    assert judge(newest, since=NOW - 10, for_s=0).state == "fired"
    before = [Sample(NOW - 40, 1.0)]  # a slot before the start does not
    assert judge(before, since=None, for_s=60, min_coverage=0.01).state == "breaching"
    assert judge(before, since=NOW - 20, for_s=60, min_coverage=0.01).state == "no_data_hold"


def test_a_young_healthy_canary_is_not_blind_while_its_first_samples_come_in():
    # The lab: 5 s steps, a 1-minute window; the canary's series begins a scrape or two after the start.
    step, for_s = 5.0, 60.0
    for lived in (6.0, 11.0, 16.0, 31.0, 46.0, 61.0, 66.0, 75.0):
        now, since = 1000.0 + lived, 1000.0
        first = since + 3  # traffic, a scrape, a rate over two scrapes
        ts = [now - k * step for k in range(int(for_s / step) + 1)]
        samples = [Sample(t, 0.24) for t in ts if t >= first]
        v = evaluate_window(samples, comparison=Comparison.GT, threshold=1.2, for_s=for_s, step_s=step, now=now,
                            no_data="hold", min_coverage=coverage_needed(since, now, for_s, step), since=since)
        assert v.state == "ok", (lived, v)


@pytest.mark.parametrize("started_in, counted", [
    (5.0, 1),  # a round that began 5 s before the journal's start: its newest sample still counts
    (0.0, 1),
    (-STEP / 2, 1),  # started half a step ago: the sample at now
    (-STEP / 2 - 1, 1),
    (-STEP - 1, 2),  # a step and a second ago: two samples of this attempt
])
def test_a_clock_behind_or_at_the_start_sees_the_latest_sample(started_in, counted):
    since = NOW + started_in
    v = judge(grid(0.0005, first=NOW - 600), since=since, min_coverage=coverage_needed(since, NOW, FOR, STEP))
    assert (v.state, v.value, round(v.coverage * 11)) == ("ok", 0.0005, counted)
