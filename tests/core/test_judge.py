"""The judge's own rules beyond Kayenta's, and every branch of the port Kayenta's cases do not reach."""

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from cockpit.core.judge import (
    Classification,
    Direction,
    EffectMeasure,
    EventCounts,
    JudgeRules,
    MetricRule,
    MetricSamples,
    NanStrategy,
    Verdict,
    judge,
)
from cockpit.core.judge.counts import count_test, lower_tail, rate_ratio, upper_tail
from cockpit.core.judge.kayenta import Thresholds, classify, iqr_outliers, mean_ratio
from cockpit.core.judge.mannwhitney import AllTied, brent, wilcoxon_diff
from cockpit.core.judge.model import GroupScore
from cockpit.core.judge.run import judge_metric
from cockpit.core.judge.score import Scorable, _round2, group_score, score, summary_score, verdict
from cockpit.core.judge.spread import spread

C = Classification
RNG = np.random.default_rng(20240601)
BASE = tuple(RNG.normal(200, 20, 240) / 1000)  # a latency around 200 ms, in seconds
SAME = tuple(RNG.normal(200, 20, 240) / 1000)
SLOW = tuple(RNG.normal(260, 20, 240) / 1000)  # +30 %
FAST = tuple(RNG.normal(140, 20, 240) / 1000)  # -30 %
WIDE = tuple(200 / 1000 + (np.array(SAME) - 0.2) * 3)  # the same centre, triple the spread
ZEROS = (0.0,) * 240
TWO = (0.0,) * 238 + (0.01, 0.02)


def one(rule: MetricRule, canary, baseline, counts=None, **rules) -> "object":
    """One metric judged under the plan's rules."""
    return judge_metric(rule, MetricSamples(rule.name, tuple(canary), tuple(baseline), counts),
                        JudgeRules(metrics=(rule,), **rules))


LAT = MetricRule("latency", unit="s", direction=Direction.INCREASE)
ERR = MetricRule("errors", unit="ratio", direction=Direction.INCREASE)


# (what, rule, canary, baseline, counts, rules, classification, critical, words in the reason)
METRIC_CASES = [
    ("a +30 % shift is High", LAT, SLOW, BASE, None, {}, C.HIGH, False, "canary higher: shift +"),
    ("a -30 % shift on a decrease metric is Low", MetricRule("rps", direction=Direction.DECREASE),
     FAST, BASE, None, {}, C.LOW, False, "canary lower: shift -"),
    ("the same distribution passes", LAT, SAME, BASE, None, {}, C.PASS, False, "no shift beyond the band"),
    ("higher when only a decrease counts", MetricRule("rps", direction=Direction.DECREASE),
     SLOW, BASE, None, {}, C.PASS, False, "higher, but only a decrease counts"),
    ("lower when only an increase counts", LAT, FAST, BASE, None, {}, C.PASS, False,
     "lower, but only an increase counts"),
    ("higher but under the allowed effect", MetricRule("l", allowed_increase=1.5), SLOW, BASE, None, {},
     C.PASS, False, "higher, but under the allowed effect 1.5"),
    ("lower but above the allowed effect", MetricRule("l", allowed_decrease=0.5), FAST, BASE, None, {},
     C.PASS, False, "lower, but above the allowed effect 0.5"),
    ("critical High", MetricRule("l", critical=True), SLOW, BASE, None, {}, C.HIGH, True, "(critical)"),
    ("identical samples pass", LAT, BASE, BASE, None, {}, C.PASS, False, "identical"),
    ("one value on both tracks passes", LAT, (0.2,) * 20, (0.2,) * 30, None, {}, C.PASS, False,
     "every sample on both tracks is the same value"),
    ("too few samples is Nodata", LAT, SLOW[:9], BASE, None, {}, C.NODATA, False,
     "too few samples: canary 9, baseline 240 (at least 10 each); no event counts"),
    ("too few samples on a critical metric is a critical Nodata", MetricRule("l", critical=True),
     SLOW[:3], BASE, None, {}, C.NODATA, True, "too few samples"),
    ("too few samples on a must-have metric fails it", MetricRule("l", must_have_data=True),
     (), BASE, None, {}, C.NODATA_FAIL, False, "too few samples: canary 0"),
    ("NaNs removed leave too few", LAT, (math.nan,) * 230 + SLOW[:5], BASE, None, {}, C.NODATA, False,
     "canary 5,"),
    ("NaNs replaced by zeros are samples", MetricRule("l", nan_strategy=NanStrategy.REPLACE),
     (math.nan,) * 5 + SLOW[:235], BASE, None, {}, C.HIGH, False, "canary higher"),
    ("all zeros on both tracks is Nodata, not Pass", ERR, ZEROS, ZEROS, None, {}, C.NODATA, False,
     "mostly zero: canary 0 of 240 samples above zero, baseline 0 of 240"),
    ("2 vs 0 errors without counts is Nodata", ERR, TWO, ZEROS, None, {}, C.NODATA, False,
     "no event counts for a count test"),
    ("2 vs 0 errors at equal exposure: the count test cannot tell", ERR, TWO, ZEROS,
     EventCounts(2, 0, 100.0, 100.0), {}, C.NODATA, False, "p 0.25, not enough to tell"),
    ("2 vs 0 errors with 5 % of the exposure: High by the count test", ERR, TWO, ZEROS,
     EventCounts(2, 0, 5.0, 95.0), {}, C.HIGH, False, "with 5 % of the exposure, baseline 0, p 0.0025"),
    ("no exposure on a track: Nodata", ERR, TWO, ZEROS, EventCounts(2, 0, 0.0, 95.0), {}, C.NODATA,
     False, "a track has no exposure"),
    ("fewer events than exposure explains: Low", MetricRule("e", direction=Direction.DECREASE),
     ZEROS, TWO, EventCounts(0, 40, 50.0, 50.0), {}, C.LOW, False, "canary 0 events"),
    ("a significant rise under the allowed ratio passes", MetricRule("e", allowed_increase=3.0),
     TWO, ZEROS, EventCounts(60, 30, 50.0, 50.0), {}, C.PASS, False, "within the allowed ×3"),
    ("a significant fall above the allowed ratio passes", MetricRule("e", allowed_decrease=0.3),
     TWO, ZEROS, EventCounts(30, 60, 50.0, 50.0), {}, C.PASS, False, "within the allowed ×0.3"),
    ("a critical count rise beyond the critical ratio", MetricRule("e", critical=True, critical_increase=1.5),
     TWO, ZEROS, EventCounts(60, 10, 50.0, 50.0), {}, C.HIGH, True, "(critical)"),
    ("a critical count rise under the critical ratio", MetricRule("e", critical=True, critical_increase=9.0),
     TWO, ZEROS, EventCounts(60, 10, 50.0, 50.0), {}, C.HIGH, False, "count test"),
    ("a count fall beyond the critical ratio", MetricRule("e", critical=True, critical_decrease=0.5),
     TWO, ZEROS, EventCounts(10, 60, 50.0, 50.0), {}, C.LOW, True, "(critical)"),
    ("a count fall short of the critical ratio", MetricRule("e", critical=True, critical_decrease=0.1),
     TWO, ZEROS, EventCounts(10, 60, 50.0, 50.0), {}, C.LOW, False, "count test"),
    ("CLES has no count effect: critical whatever the ratio",
     MetricRule("e", critical=True, effect_measure=EffectMeasure.CLES, critical_increase=0.9),
     TWO, ZEROS, EventCounts(60, 10, 50.0, 50.0), {}, C.HIGH, True, "(critical)"),
    ("an infinite sample is an Error", LAT, SLOW[:239] + (math.inf,), BASE, None, {}, C.ERROR, False,
     "the canary has an infinite sample"),
    ("an infinite baseline sample on a critical metric", MetricRule("l", critical=True), SLOW,
     (-math.inf,) + BASE, None, {}, C.ERROR, True, "the baseline has an infinite sample"),
    ("a spread blown up while the centre holds is flagged", LAT, WIDE, SAME, None, {}, C.PASS, False,
     "spread ×3 (interval ×"),
    ("Kayenta's missing data with min_samples 0", LAT, (), BASE, None, {"min_samples": 0}, C.NODATA, False,
     "no samples on a track"),
]


@pytest.mark.parametrize(("what", "rule", "canary", "baseline", "counts", "rules", "expected", "critical", "said"),
                         METRIC_CASES, ids=[row[0] for row in METRIC_CASES])
def test_a_metric_is_classified_and_says_why(what, rule, canary, baseline, counts, rules, expected, critical, said):
    found = one(rule, canary, baseline, counts, **rules)
    assert found.classification is expected
    assert found.critical is critical
    assert said in found.reason


def test_the_shift_is_read_in_the_metrics_unit():
    found = one(LAT, SLOW, BASE)
    assert " ms (98 % interval +" in found.reason and "band ±" in found.reason
    assert found.lower > found.band > 0 and found.estimate == pytest.approx(0.06, abs=0.01)
    assert found.canary.count == 240 and found.baseline.count == 240
    assert found.deviation == pytest.approx(1.3, abs=0.05) and found.effect == found.deviation


def test_outliers_are_removed_when_the_plan_asks():
    spiky = SAME[:238] + (50.0,) * 2  # two samples of 50 s: a scrape gone wrong
    kept = one(LAT, spiky, BASE)
    removed = one(MetricRule("latency", unit="s", remove_outliers=True, outlier_factor=3.0), spiky, BASE)
    assert kept.canary.count == 240 and removed.canary.count == 238
    assert removed.canary.max < 1


SPREAD_CASES = [
    ("the same spread: a ratio, no interval", SAME, BASE, 2.0, 1.0, False, False),
    ("triple the spread: flagged with its interval", WIDE, SAME, 2.0, 3.0, True, True),
    ("triple the spread under a limit of 5: not flagged, no interval", WIDE, SAME, 5.0, 3.0, False, False),
    ("no limit: never flagged", WIDE, SAME, None, 3.0, False, False),
    ("a limit the interval straddles: an interval, not flagged", WIDE, SAME, 2.95, 3.0, True, False),
]


@pytest.mark.parametrize(("what", "canary", "baseline", "limit", "ratio", "interval", "flagged"), SPREAD_CASES,
                         ids=[r[0] for r in SPREAD_CASES])
def test_spread(what, canary, baseline, limit, ratio, interval, flagged):
    found = spread(np.array(canary), np.array(baseline), limit, 0.98, 200, np.random.default_rng(1))
    assert found.ratio == pytest.approx(ratio, rel=0.15)
    assert (found.lower is not None) is interval and (found.upper is not None) is interval
    assert found.flagged is flagged
    if interval:
        assert found.lower < found.ratio < found.upper


def test_spread_needs_a_baseline_that_spreads():
    assert spread(np.array(SAME), np.zeros(240), 2.0, 0.98, 200, np.random.default_rng(1)) is None


def test_a_resample_where_neither_track_spreads_counts_as_no_change():
    steps = np.array([1.0] * 7 + [2.0] * 3)  # many resamples of ten draw no spread at all
    found = spread(steps, steps, 0.5, 0.98, 200, np.random.default_rng(1))
    assert found.ratio == 1.0
    assert not math.isnan(found.lower) and not math.isnan(found.upper)


def _exact_upper_tails(n, p):
    """P(X ≥ k) for k = 0..n+1 in exact fractions (floats underflow at 0.05 ** 300)."""
    q = Fraction(p)
    pmf = [math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(n + 1)]
    tails = [Fraction(0)] * (n + 2)
    for j in range(n, -1, -1):
        tails[j] = tails[j + 1] + pmf[j]
    return [float(t) for t in tails]


@pytest.mark.parametrize("n", [0, 1, 2, 7, 40, 300])
@pytest.mark.parametrize("p", [0.0, 0.05, 0.5, 0.93, 1.0])
def test_binomial_tails_are_exact(n, p):
    tails = _exact_upper_tails(n, p)
    assert upper_tail(-1, n, p) == 1.0 and lower_tail(-1, n, p) == 0.0
    for k in range(0, n + 2):
        assert upper_tail(k, n, p) == pytest.approx(tails[k], rel=1e-9, abs=1e-300)
        assert lower_tail(k, n, p) == pytest.approx(1 - tails[k + 1] if k <= n else 1.0, rel=1e-9, abs=1e-12)


# (counts, direction, p-value)
COUNT_CASES = [
    (EventCounts(2, 0, 1.0, 1.0), Direction.INCREASE, 0.25),
    (EventCounts(2, 0, 1.0, 1.0), Direction.DECREASE, 1.0),
    (EventCounts(2, 0, 1.0, 1.0), Direction.EITHER, 0.5),
    (EventCounts(0, 2, 1.0, 1.0), Direction.EITHER, 0.5),
    (EventCounts(0, 2, 1.0, 1.0), Direction.DECREASE, 0.25),
    (EventCounts(2, 0, 5.0, 95.0), Direction.INCREASE, 0.0025),
    (EventCounts(0, 0, 5.0, 95.0), Direction.EITHER, 1.0),
    (EventCounts(5, 5, 1.0, 1.0), Direction.EITHER, 1.0),
]


@pytest.mark.parametrize(("counts", "direction", "p"), COUNT_CASES)
def test_count_test(counts, direction, p):
    assert count_test(counts, direction) == pytest.approx(p)


def test_count_test_needs_exposure_on_both_tracks():
    assert count_test(EventCounts(1, 1, 0.0, 1.0), Direction.EITHER) is None
    assert count_test(EventCounts(1, 1, 1.0, -1.0), Direction.EITHER) is None


def test_rate_ratio():
    assert rate_ratio(EventCounts(10, 10, 1.0, 4.0)) == 4.0
    assert rate_ratio(EventCounts(1, 0, 1.0, 1.0)) == math.inf
    assert math.isnan(rate_ratio(EventCounts(0, 0, 1.0, 1.0)))


def _rules(*metrics, **kw):
    return JudgeRules(metrics=metrics, **kw)


def _samples(name, canary, baseline=BASE):
    return MetricSamples(name, tuple(canary), tuple(baseline))


# (what, rules, samples, verdict, score, words in the reason)
VERDICT_CASES = [
    ("every metric passes", _rules(MetricRule("a"), MetricRule("b")), [_samples("a", SAME), _samples("b", SAME)],
     Verdict.PASS, 100.0, "score 100 (pass ≥ 95, marginal ≥ 75)"),
    ("one of two High fails", _rules(MetricRule("a"), MetricRule("b")), [_samples("a", SLOW), _samples("b", SAME)],
     Verdict.FAIL, 50.0, "not passing: a High"),
    ("a weighted group decides Marginal", _rules(MetricRule("a", groups=("big",)), MetricRule("b", groups=("small",)),
                                                 group_weights=(("big", 80.0),)),
     [_samples("a", SAME), _samples("b", SLOW)], Verdict.MARGINAL, 80.0, "not passing: b High"),
    ("lower thresholds pass a 50", _rules(MetricRule("a"), MetricRule("b"), pass_score=50, marginal_score=25),
     [_samples("a", SLOW), _samples("b", SAME)], Verdict.PASS, 50.0, "score 50 (pass ≥ 50, marginal ≥ 25)"),
    ("a critical High fails whatever the score", _rules(MetricRule("a", critical=True), MetricRule("b"),
                                                       MetricRule("c"), MetricRule("d")),
     [_samples("a", SLOW), _samples("b", SAME), _samples("c", SAME), _samples("d", SAME)], Verdict.FAIL, 0.0,
     "critical metric a is High: canary higher"),
    ("half the metrics without data fails", _rules(MetricRule("a"), MetricRule("b")), [_samples("a", SAME)],
     Verdict.FAIL, 0.0, "1 of 2 metrics without data (half or more fails)"),
    ("a spread blow-up makes a passing score Marginal", _rules(MetricRule("a"), MetricRule("b")),
     [_samples("a", WIDE, SAME), _samples("b", SAME)], Verdict.MARGINAL, 100.0,
     "score 100 passes, but the spread grew on a: a human decides"),
    ("a spread blow-up does not lift a Fail", _rules(MetricRule("a"), MetricRule("b")),
     [_samples("a", WIDE, SAME), _samples("b", SLOW)], Verdict.FAIL, 50.0, "not passing: b High"),
    ("no metrics: nothing passes", _rules(), [], Verdict.FAIL, 0.0, "no metrics to judge"),
]


@pytest.mark.parametrize(("what", "rules", "samples", "expected", "value", "said"), VERDICT_CASES,
                         ids=[r[0] for r in VERDICT_CASES])
def test_the_verdict_and_its_reason(what, rules, samples, expected, value, said):
    found = judge(rules, samples)
    assert found.verdict is expected
    assert found.score == value
    assert said in found.reason
    assert [m.name for m in found.metrics] == [m.name for m in rules.metrics]


def test_a_judgment_is_the_same_for_the_same_seed_and_a_metric_does_not_depend_on_the_others():
    rules = _rules(MetricRule("a"), MetricRule("b"))
    samples = [_samples("a", WIDE, SAME), _samples("b", (0.2,) * 30, (0.3,) * 30)]
    first, again = judge(rules, samples), judge(rules, samples)
    assert first == again
    alone = judge(_rules(MetricRule("a")), samples[:1])
    assert alone.metrics[0] == first.metrics[0]
    other = judge(_rules(MetricRule("a"), MetricRule("b"), seed=7), samples)
    assert other.metrics[0].spread != first.metrics[0].spread


# (labels, group score, no data)
GROUP_CASES = [
    ([C.PASS, C.HIGH, C.LOW, C.NODATA_FAIL], 25.0, False),
    ([C.PASS, C.NODATA, C.ERROR], 100.0, False),
    ([C.NODATA, C.ERROR], 0.0, True),
    ([], 0.0, True),
]


@pytest.mark.parametrize(("labels", "value", "no_data"), GROUP_CASES)
def test_group_score(labels, value, no_data):
    assert group_score("g", labels) == GroupScore("g", value, no_data)


def test_unweighted_groups_share_what_the_weights_leave():
    groups = [GroupScore("a", 100.0, False), GroupScore("b", 0.0, False), GroupScore("c", 50.0, False)]
    assert summary_score(groups, {"a": 50.0}) == 50 + 0 + 12.5
    assert summary_score(groups, {"a": 20.0, "b": 40.0, "c": 40.0}) == 40.0
    assert summary_score([GroupScore("a", 0.0, True)], {}) == 100.0


def test_scores_round_half_up_as_kayenta_does():
    assert _round2(0.125) == 0.13 and round(0.125, 2) == 0.12
    assert _round2(33.333333) == 33.33


def test_a_critical_error_zeroes_the_score_and_a_critical_pass_does_not():
    assert score([Scorable("a", C.ERROR, True, ("g",))]).zeroed_by == "critical"
    assert score([Scorable("a", C.PASS, True, ("g",))]).zeroed_by is None


@pytest.mark.parametrize(("value", "expected"), [
    (95.0, Verdict.PASS), (94.99, Verdict.MARGINAL), (75.0, Verdict.MARGINAL), (74.99, Verdict.FAIL),
])
def test_verdict_thresholds(value, expected):
    assert verdict(value, 95.0, 75.0) is expected


def test_the_port_s_own_edges():
    with pytest.raises(ValueError, match="factor must be greater than zero"):
        iqr_outliers(np.array([1.0, 2.0]), factor=0)
    # reduced sensitivity: never closer than the 1st and 99th percentiles
    data = np.array([10.0] * 50 + [11.0] * 48 + [30.0, 31.0])
    assert iqr_outliers(data, 1.5).sum() == 2
    assert iqr_outliers(data, 1.5, reduce_sensitivity=True).sum() == 1
    assert math.isnan(mean_ratio(np.array([]), np.array([1.0])))
    assert math.isnan(mean_ratio(np.array([1.0]), np.array([])))
    with pytest.raises(AllTied):
        wilcoxon_diff(0.0, 0.0, np.array([1.0, 1.0]), np.array([1.0]))
    assert brent(1.0, 2.0, 0.0, 5.0, lambda x: x) == 1.0
    assert brent(1.0, 2.0, -5.0, 0.0, lambda x: x) == 2.0


# Kayenta's missing-data rule, reached with min_samples = 0: (NaN strategy, critical, must have data, class, critical)
MISSING_CASES = [
    (NanStrategy.REMOVE, False, False, C.NODATA, False),
    (NanStrategy.REMOVE, True, False, C.NODATA, True),
    (NanStrategy.REMOVE, False, True, C.NODATA_FAIL, False),
    (NanStrategy.REMOVE, True, True, C.NODATA, True),
    (NanStrategy.REPLACE, True, True, C.PASS, False),
]


@pytest.mark.parametrize(("nans", "critical", "must", "expected", "is_critical"), MISSING_CASES)
def test_kayenta_missing_data(nans, critical, must, expected, is_critical):
    found = classify([], [1.0], Direction.EITHER, nans, critical, must, Thresholds())
    assert (found.classification, found.critical) == (expected, is_critical)


def test_identical_needs_the_same_samples_not_only_the_same_values():
    found = classify([1.0, 2.0], [1.0, 2.0, 2.0], thresholds=Thresholds())
    assert found.why != "identical"
    assert classify([1.0, 2.0], [2.0, 1.0]).why == "identical"


def test_the_classifier_breaks_ties_the_same_way_without_a_generator():
    assert classify([1.0] * 5, [10.0] * 5) == classify([1.0] * 5, [10.0] * 5)


def test_the_judge_loads_numpy_on_first_use_only():
    code = ("import sys, cockpit.core.judge as j; assert 'numpy' not in sys.modules; "
            "j.judge(j.JudgeRules(metrics=()), []); assert 'numpy' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
