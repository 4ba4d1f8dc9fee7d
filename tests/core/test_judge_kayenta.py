"""Kayenta's own test cases, ported: each row or test names the suite file and the case it came from.

Source: spinnaker/kayenta@a69573be9d8fededacf80817e4151a2c8df41276, kayenta-judge/src/test/scala/
com/netflix/kayenta/judge/{ClassifierSuite,ScorerSuite,StatisticSuite,DetectorSuite,TransformSuite}.scala
and kayenta-mannwhitney/src/test/scala/com/netflix/kayenta/mannwhitney/MannWhitneySuite.scala; the
arrays are in tests/core/kayenta_data.py. Not ported: the MeanInequalityClassifier, KSigmaDetector
and Cohen's d cases (ClassifierSuite "Mean Inequality Classifier Test: *", DetectorSuite "KSigma *",
TransformSuite "KSigma Outlier Removal", StatisticSuite "Effect Size: Cohen's D"): Kayenta's judge
does not use them, and neither does this one.
"""

import math

import numpy as np
import pytest

from cockpit.core.judge.kayenta import (
    Thresholds,
    classify,
    cles,
    handle_nans,
    iqr_outliers,
    mean_ratio,
    percentile,
    remove_nans,
    remove_outliers,
    replace_nans,
    summary,
    with_noise,
)
from cockpit.core.judge.mannwhitney import brent, mann_whitney, wilcoxon_diff, z_quantile
from cockpit.core.judge.model import Classification, Direction, EffectMeasure, NanStrategy, Summary
from cockpit.core.judge.score import Scorable, score
from tests.core.kayenta_data import DATA

E = 0.000001  # MannWhitneySuite's tolerance
C, H, L, N, P = Classification, Classification.HIGH, Classification.LOW, Classification.NODATA, Classification.PASS
EITHER, UP, DOWN = Direction.EITHER, Direction.INCREASE, Direction.DECREASE
REMOVE, REPLACE = NanStrategy.REMOVE, NanStrategy.REPLACE


def arrays(suite: str, case: str) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in DATA[suite][case].items()}


# ClassifierSuite.scala: (case, classifier settings, direction, NaN strategy, critical metric,
# expected classification, expected critical flag — None where the case does not assert it)
T10 = Thresholds(tolerance=0.10, confidence=0.95)
CLASSIFIER_CASES = [
    ("Mann-Whitney Classifier Test: Pass Metric", T10, EITHER, REMOVE, False, P, None),
    ("Mann-Whitney Classifier Test: High Metric", T10, EITHER, REMOVE, False, H, None),
    ("Mann-Whitney Classifier Test: Low Metric", T10, EITHER, REMOVE, False, L, None),
    ("Mann-Whitney Classifier Directional Test: Increase", T10, UP, REMOVE, False, P, None),
    ("Mann-Whitney Classifier Directional Test: Decrease", T10, DOWN, REMOVE, False, P, None),
    ("Mann-Whitney Classifier Directional Test: High Metric", T10, UP, REMOVE, False, H, False),
    ("Mann-Whitney Classifier Directional Test: Low Metric", T10, DOWN, REMOVE, False, L, None),
    ("Mann-Whitney Classifier Test: High Metric (Large Input)", T10, EITHER, REMOVE, False, H, False),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: High",
     Thresholds(0.10, 0.95, effect=(0.8, 1.2)), EITHER, REMOVE, False, H, None),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Low",
     Thresholds(0.10, 0.95, effect=(0.8, 1.2)), DOWN, REMOVE, False, L, None),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass",
     Thresholds(0.10, 0.95, effect=(0.5, 1.0)), EITHER, REMOVE, False, P, None),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass (Large Input)",
     Thresholds(0.10, 0.95, effect=(1.0, 5.0)), EITHER, REMOVE, False, P, None),
    ("Mann-Whitney Classifier Test - CLES Effect Size: Pass",
     Thresholds(0.20, 0.98, effect=(0.5, 0.8), measure=EffectMeasure.CLES), EITHER, REMOVE, False, P, None),
    ("Mann-Whitney Classifier Test - CLES Effect Size: High",
     Thresholds(0.20, 0.98, effect=(0.2, 0.8), measure=EffectMeasure.CLES), EITHER, REMOVE, False, H, None),
    ("Mann-Whitney Classifier Test - CLES Effect Size: Low",
     Thresholds(0.20, 0.98, effect=(0.2, 0.8), measure=EffectMeasure.CLES), EITHER, REMOVE, False, L, None),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Critical High",
     Thresholds(0.10, 0.95, critical=(1.0, 1.2)), EITHER, REMOVE, True, H, True),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Critical Low",
     Thresholds(0.10, 0.95, critical=(1.2, 1.0)), EITHER, REMOVE, True, L, True),
    ("Mann-Whitney Classifier Test - Critical Effect Size: High",
     Thresholds(0.10, 0.95, effect=(1.0, 5.0), critical=(1.0, 13.0)), EITHER, REMOVE, True, H, False),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Pass",
     Thresholds(0.10, 0.95, effect=(1.0, 13.0), critical=(1.0, 15.0)), EITHER, REMOVE, True, P, False),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Critical High (Default Thresholds)",
     T10, EITHER, REMOVE, True, H, True),
    ("Mann-Whitney Tied Observations", T10, DOWN, REMOVE, False, P, None),
    ("Mann-Whitney Identical Populations", T10, DOWN, REMOVE, False, P, None),
    ("Mann-Whitney Leading Zero Identical Population", T10, DOWN, REMOVE, False, P, None),
    ("Mann-Whitney Missing Experiment Data", T10, DOWN, REMOVE, False, N, None),
    ("Mann-Whitney Missing Experiment Data: Critical Metric", T10, DOWN, REMOVE, True, N, True),
    ("Mann-Whitney Missing Experiment Data with NaN Replacement", T10, DOWN, REPLACE, False, P, None),
    ("Mann-Whitney Majority Tied Observations", T10, EITHER, REMOVE, False, P, None),
    ("Mann-Whitney Tied Ranks", T10, EITHER, REMOVE, False, H, None),
    ("Mann-Whitney Tied Ranks With Zeros", T10, EITHER, REMOVE, False, H, None),
    ("Mann-Whitney Zero Mean: High Metric with Effect Size",
     Thresholds(0.10, 0.95, effect=(0.8, 1.2)), EITHER, REMOVE, False, H, None),
    ("Mann-Whitney Zero Mean: Low Metric with Effect Size",
     Thresholds(0.10, 0.95, effect=(0.8, 1.2)), EITHER, REMOVE, False, L, None),
    ("Mann-Whitney Zero Mean: Critical Metric",
     Thresholds(0.10, 0.95, critical=(0.8, 1.2)), EITHER, REPLACE, True, H, True),
    ("Mann-Whitney Zero Mean: Pass Metric",
     Thresholds(0.10, 0.95, effect=(0.8, 1.2)), EITHER, REMOVE, False, P, None),
]


@pytest.mark.parametrize(("case", "thresholds", "direction", "nans", "critical", "expected", "is_critical"),
                         CLASSIFIER_CASES, ids=[row[0] for row in CLASSIFIER_CASES])
def test_classifier_suite(case, thresholds, direction, nans, critical, expected, is_critical):
    """ClassifierSuite.scala, the case named in the row: the classification, and the critical flag
    where the case asserts it."""
    data = arrays("ClassifierSuite.scala", case)
    found = classify(data["controlData"], data["experimentData"], direction, nans, critical,
                     thresholds=thresholds, rng=np.random.default_rng(0))
    assert found.classification is expected
    if is_critical is not None:
        assert found.critical is is_critical


@pytest.mark.parametrize("seed", range(5))
def test_classifier_suite_tied_ranks_hold_for_any_seed(seed):
    """ClassifierSuite.scala "Mann-Whitney Tied Ranks" and "... With Zeros": Kayenta breaks the tie
    with random noise; the class must not depend on which noise."""
    for case in ("Mann-Whitney Tied Ranks", "Mann-Whitney Tied Ranks With Zeros"):
        data = arrays("ClassifierSuite.scala", case)
        found = classify(data["controlData"], data["experimentData"], EITHER, thresholds=T10,
                         rng=np.random.default_rng(seed))
        assert found.classification is H


def test_classifier_suite_missing_data_reason_string():
    """ClassifierSuite.scala "Mann-Whitney Missing Data: Reason String": no data says why."""
    data = arrays("ClassifierSuite.scala", "Mann-Whitney Missing Data: Reason String")
    found = classify(data["controlData"], data["experimentData"], DOWN, critical=True, thresholds=T10)
    assert found.classification is N and found.why == "missing" and found.critical


def test_classifier_suite_zero_mean_deviations():
    """ClassifierSuite.scala "Mann-Whitney Zero Mean: High/Low Metric with Effect Size" (the
    deviation is NaN) and "Mann-Whitney Zero Mean: Pass Metric" (the deviation is 1.0)."""
    t = Thresholds(0.10, 0.95, effect=(0.8, 1.2))
    for case in ("Mann-Whitney Zero Mean: High Metric with Effect Size",
                 "Mann-Whitney Zero Mean: Low Metric with Effect Size"):
        data = arrays("ClassifierSuite.scala", case)
        assert math.isnan(classify(data["controlData"], data["experimentData"], thresholds=t).deviation)
    data = arrays("ClassifierSuite.scala", "Mann-Whitney Zero Mean: Pass Metric")
    assert classify(data["controlData"], data["experimentData"], thresholds=t).deviation == 1.0


def test_mannwhitney_suite_wilcoxon_diff_function():
    """MannWhitneySuite.scala "Wilcoxon Diff Function"."""
    d = arrays("MannWhitneySuite.scala", "Wilcoxon Diff Function")
    assert wilcoxon_diff(0, 0, d["x"], d["y"]) == pytest.approx(-1.229416, abs=E)
    assert wilcoxon_diff(5, 0, d["x"], d["y"]) == pytest.approx(-35.80606, abs=E)


def test_mannwhitney_suite_z_quant():
    """MannWhitneySuite.scala "Test zQuant"."""
    assert z_quantile(0.02 / 2) == pytest.approx(-2.326348, abs=E)


@pytest.mark.parametrize(("case", "experiment", "control", "confidence", "low", "high", "estimate", "est_tol"), [
    ("Mann-Whitney Confidence Interval & Estimate", "experimentData", "controlData", 0.95,
     6.0, 39.0, 22.5, E),
    ("Mann-Whitney Confidence Interval & Estimate: Problem Case", "experiment", "control", 0.98,
     -1.4808028936386108E-5, 1.808255910873413E-5, 1.808255910873413E-5, E),
    ("Mann-Whitney Confidence Interval & Estimate: Tie out with R Version", "experiment", "control", 0.95,
     -0.500002521696696, -3.486287505871302E-5, -0.4999393907180323, 0.0001),
    ("Mann-Whitney Confidence Interval & Estimate: Tie out with R Version (Large)", "experiment", "control",
     0.98, -0.4999173250549087, -6.912685789769486E-6, -3.45044082729315E-5, 0.0001),
])
def test_mannwhitney_suite_interval_and_estimate(case, experiment, control, confidence, low, high, estimate,
                                                 est_tol):
    """MannWhitneySuite.scala, the case named in the row, with its tolerances."""
    d = arrays("MannWhitneySuite.scala", case)
    shift = mann_whitney(d[experiment], d[control], confidence)
    assert shift.lower == pytest.approx(low, abs=E)
    assert shift.upper == pytest.approx(high, abs=E)
    assert shift.estimate == pytest.approx(estimate, abs=est_tol)


def test_mannwhitney_suite_intermediate_values():
    """MannWhitneySuite.scala "Mann-Whitney Intermediate Values / Variables": every step against R."""
    d = arrays("MannWhitneySuite.scala", "Mann-Whitney Intermediate Values / Variables")
    x, y = d["x"], d["y"]
    mu_min, mu_max = x.min() - y.max(), x.max() - y.min()
    zq_lower, zq_upper = -z_quantile(0.05 / 2), z_quantile(0.05 / 2)
    f = {(mu, zq): wilcoxon_diff(mu, zq, x, y) for mu in (mu_min, mu_max) for zq in (0, zq_lower, zq_upper)}
    assert mu_min == pytest.approx(-3.124999999999986, abs=E)
    assert mu_max == pytest.approx(5.555555555555557, abs=E)
    assert zq_lower == pytest.approx(1.9599639845400536, abs=E)
    assert zq_upper == pytest.approx(-1.9599639845400536, abs=E)
    assert f[mu_min, zq_lower] == pytest.approx(17.090968923762254, abs=E)
    assert f[mu_max, zq_lower] == pytest.approx(-20.997687930433106, abs=E)
    assert f[mu_min, zq_upper] == pytest.approx(21.01089689284236, abs=E)
    assert f[mu_max, zq_upper] == pytest.approx(-17.077759961353, abs=E)

    def solve(zq):
        return brent(mu_min, mu_max, f[mu_min, zq], f[mu_max, zq], lambda mu: wilcoxon_diff(mu, zq, x, y))

    assert solve(zq_lower) == pytest.approx(3.521755377702165E-5, abs=E)
    assert solve(zq_upper) == pytest.approx(2.02456461662334E-5, abs=E)
    assert solve(0) == pytest.approx(2.6279243045155653E-5, abs=E)


def _scorable(name, classification, group, critical=False):
    return Scorable(name, classification, critical, (group,))


# ScorerSuite.scala: (case, group weights, metrics as (classification, group, critical), summary score)
SCORER_CASES = [
    ("Weighted Sum Group Scorer: Single Metric Pass", {}, [(P, "test-group", False)], 100.0),
    ("Weighted Sum Group Scorer: Single Metric Fail", {}, [(H, "test-group", False)], 0.0),
    ("Weighted Sum Group Scorer: Single group Nodata", {}, [(N, "test-group-nodata", False)], 0.0),
    ("Weighted Sum Group Scorer: Two Groups, one Pass, one Nodata", {},
     [(P, "test-group-pass", False), (P, "test-group-pass", False), (N, "test-group-nodata", False)], 100.0),
    ("Weighted Sum Group Scorer: One Group, Two Metrics", {},
     [(P, "test-group", False), (H, "test-group", False)], 50.0),
    ("Weighted Sum Group Scorer: One Group, Three Metrics", {},
     [(P, "test-group", False), (H, "test-group", False), (L, "test-group", False)], 33.33),
    ("Weighted Sum Group Scorer: Two Groups, Three Metrics", {"group-1": 75.0, "group-2": 25.0},
     [(P, "group-1", False), (P, "group-1", False), (H, "group-2", False)], 75.0),
    ("Weighted Sum Group Scorer: Two Groups, Three Metrics (Equal Weight)", {"group-1": 50.0, "group-2": 50.0},
     [(P, "group-1", False), (H, "group-1", False), (H, "group-2", False)], 25.0),
    ("Weighted Sum Group Scorer: Two Groups, Three Metrics (Equal Weight), one NoData",
     {"group-1": 50.0, "group-2": 50.0}, [(P, "group-1", False), (N, "group-1", False), (H, "group-2", False)],
     50.0),
    ("Weighted Sum Group Scorer: Two Metrics, one good (normal), one fail (critical)", {},
     [(P, "test-group", False), (H, "test-group", True)], 0.0),
    ("Weighted Sum Group Scorer: Two Metrics, one low (normal), one good (critical)", {},
     [(L, "test-group", False), (P, "test-group", True)], 50.0),
    ("Weighted Sum Group Scorer: Two Metrics, one good (normal), one nodata (critical)", {},
     [(P, "test-group", False), (N, "test-group", True)], 0.0),
    ("Weighted Sum Group Scorer: Two Groups (Unequal Weight), Four Metrics", {"group1": 15.0, "group2": 85.0},
     [(H, "group1", False), (L, "group1", False), (P, "group1", False), (H, "group2", False)], 5.0),
]


@pytest.mark.parametrize(("case", "weights", "metrics", "expected"), SCORER_CASES, ids=[r[0] for r in SCORER_CASES])
def test_scorer_suite(case, weights, metrics, expected):
    """ScorerSuite.scala, the case named in the row: the summary score."""
    results = [_scorable(f"m{i}", c, g, crit) for i, (c, g, crit) in enumerate(metrics)]
    assert score(results, weights).score == expected


def test_scorer_suite_group_scores():
    """ScorerSuite.scala "Weighted Sum Group Scorer: Single group Nodata" (one group, scored 0) and
    "Two Groups, one Pass, one Nodata" (group scores 0 and 100)."""
    scored = score([_scorable("m", N, "test-group-nodata")], {})
    assert [(g.name, g.score) for g in scored.groups] == [("test-group-nodata", 0.0)]
    scored = score([_scorable("a", P, "pass"), _scorable("b", P, "pass"), _scorable("c", N, "nodata")], {})
    assert sorted(g.score for g in scored.groups) == [0.0, 100.0]


def test_statistic_suite_summaries():
    """StatisticSuite.scala "Summary Statistics: Scalar", "Summary Statistics: List" and
    "Summary Statistics: No Data"."""
    assert summary(np.array([4.0])) == Summary(1, 4.0, 4.0, 0.0, 4.0, 4.0)
    listed = summary(np.array([1.0, 1.0, 1.0, 10.0, 10.0, 10.0]))
    assert (listed.min, listed.max, listed.mean, listed.count) == (1.0, 10.0, 5.5, 6)
    assert listed.std == pytest.approx(4.9295, abs=1e-4)
    assert summary(np.array([])) == Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_statistic_suite_percentiles():
    """StatisticSuite.scala "Summary Statistics: Basic Percentile", "... Basic Percentile Estimate
    (Linear Interpolation)", "... Percentile (NIST Data)", "... Percentile Metric Object",
    "... Percentile Estimate (Linear Interpolation)"."""
    s = "StatisticSuite.scala"
    basic = arrays(s, "Summary Statistics: Basic Percentile")["testData"]
    assert percentile(basic, 5) == pytest.approx(0.175, abs=1e-4)
    assert percentile(basic, 50) == 1.75
    assert percentile(basic, 100) == 3.5
    assert percentile(arrays(s, "Summary Statistics: Basic Percentile Estimate (Linear Interpolation)")
                      ["testData"], 50) == 4.5
    assert percentile(arrays(s, "Summary Statistics: Percentile (NIST Data)")["testData"], 90) == \
        pytest.approx(95.19568, abs=1e-9)
    assert percentile(np.array([1.0]), 100) == 1.0
    linear = arrays(s, "Summary Statistics: Percentile Estimate (Linear Interpolation)")["testData"]
    assert percentile(linear, 25) == 0.0
    assert percentile(linear, 75) == pytest.approx(0.0416, abs=1e-4)


@pytest.mark.parametrize(("case", "expected"), [
    ("Effect Size: Mean Ratio (No Effect)", 1.0),
    ("Effect Size: Mean Ratio (Summary Stats)", 1.0),
    ("Effect Size: Mean Ratio (High)", 10.0),
    ("Effect Size: Mean Ratio (Low)", 0.1),
])
def test_statistic_suite_mean_ratio(case, expected):
    """StatisticSuite.scala, the case named in the row ("Summary Stats" divides the summaries' means)."""
    d = arrays("StatisticSuite.scala", case)
    assert mean_ratio(d["controlData"], d["experimentData"]) == expected
    assert summary(d["experimentData"]).mean / summary(d["controlData"]).mean == expected


def test_statistic_suite_mean_ratio_zero_mean():
    """StatisticSuite.scala "Effect Size: Mean Ratio (Zero Mean)"."""
    d = arrays("StatisticSuite.scala", "Effect Size: Mean Ratio (Zero Mean)")
    assert math.isnan(mean_ratio(d["controlData"], d["experimentData"]))


@pytest.mark.parametrize(("case", "expected", "tolerance"), [
    ("CLES Effect Size: Identical", 0.5, 0),
    ("CLES Effect Size: Different (No Overlap)", 0.0, 0),
    ("CLES Effect Size: High Metric", 0.771, 0.001),
    ("CLES Effect Size: Low Metric", 0.12, 1e-12),
])
def test_statistic_suite_cles(case, expected, tolerance):
    """StatisticSuite.scala, the case named in the row."""
    d = arrays("StatisticSuite.scala", case)
    assert cles(d["controlData"], d["experimentData"]) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize(("case", "outliers"), [
    ("IQR Detection", [4]),
    ("IQR Detect Two Sided", [3, 7]),
    ("IQR Empty Data", []),
    ("IQR NIST Test", [89]),
])
def test_detector_suite_iqr(case, outliers):
    """DetectorSuite.scala, the case named in the row (factor 1.5, full sensitivity)."""
    data = arrays("DetectorSuite.scala", case)["testData"]
    assert list(np.flatnonzero(iqr_outliers(data, factor=1.5))) == outliers


def test_transform_suite_nans():
    """TransformSuite.scala "Remove Single NaN", "Remove Multiple NaN" and "Replace NANs"."""
    for case in ("Remove Single NaN", "Remove Multiple NaN"):
        d = arrays("TransformSuite.scala", case)
        assert list(remove_nans(d["testData"])) == list(d["truth"])
    d = arrays("TransformSuite.scala", "Replace NANs")
    assert list(replace_nans(d["testData"], 0.0)) == list(d["truth"])
    assert list(handle_nans(d["testData"], REPLACE)) == list(d["truth"])
    assert list(handle_nans(d["testData"], REMOVE)) == [10.1, 20.2, 30.3, 40.4]


def test_transform_suite_iqr_outlier_removal():
    """TransformSuite.scala "IQR Outlier Removal"."""
    d = arrays("TransformSuite.scala", "IQR Outlier Removal")
    assert list(remove_outliers(d["testData"], factor=1.5)) == list(d["truth"])


def test_transform_suite_add_gaussian_noise():
    """TransformSuite.scala "Add Gaussian Noise", adapted: Kayenta's noise is scaled to 1e-5 of the
    value in the classifier, and here it comes from the seed given — the same seed, the same noise."""
    values = np.full(5, 1e5)
    noisy = with_noise(values, np.random.default_rng(12345))
    assert len(noisy) == 5 and len(set(noisy)) == 5
    assert np.all(np.abs(noisy - values) < 5.0)  # five standard deviations of 1e5 × 1e-5
    assert list(noisy) == list(with_noise(values, np.random.default_rng(12345)))
