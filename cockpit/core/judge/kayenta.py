"""Kayenta's metric classifier: NaNs, outliers, effect sizes and High / Low / Pass / Nodata.

A port of kayenta-judge's MannWhitneyClassifier.scala, preprocessing/Transforms.scala,
detectors/IQRDetector.scala and stats/{EffectSizes,DescriptiveStatistics}.scala: same order of
checks, same defaults, same answers (tests/core/test_judge_kayenta.py runs Kayenta's own cases).
The one difference: the noise that breaks an all-tied comparison comes from a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .mannwhitney import Shift, mann_whitney
from .model import Classification, Direction, EffectMeasure, NanStrategy, Summary


def remove_nans(values: np.ndarray) -> np.ndarray:
    kept: np.ndarray = values[~np.isnan(values)]
    return kept


def replace_nans(values: np.ndarray, value: float = 0.0) -> np.ndarray:
    return np.where(np.isnan(values), value, values)


def handle_nans(values: np.ndarray, strategy: NanStrategy) -> np.ndarray:
    return remove_nans(values) if strategy is NanStrategy.REMOVE else replace_nans(values)


def percentile(values: np.ndarray, p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation (R-7, commons-math's EstimationType.R_7);
    NaN for no values."""
    return float(np.percentile(values, p)) if len(values) else float("nan")


def iqr_outliers(values: np.ndarray, factor: float = 1.5, reduce_sensitivity: bool = False) -> np.ndarray:
    """Which values lie beyond Tukey's fences, Q1 - factor×IQR and Q3 + factor×IQR; with reduced
    sensitivity the fences are never closer than the 1st and 99th percentiles (IQRDetector.scala)."""
    if factor <= 0:
        raise ValueError("factor must be greater than zero")
    if not len(values):
        return np.zeros(0, dtype=bool)
    p25, p75 = percentile(values, 25), percentile(values, 75)
    lower, upper = p25 - factor * (p75 - p25), p75 + factor * (p75 - p25)
    if reduce_sensitivity:
        lower, upper = min(percentile(values, 1), lower), max(percentile(values, 99), upper)
    return (values > upper) | (values < lower)


def remove_outliers(values: np.ndarray, factor: float = 1.5, reduce_sensitivity: bool = False) -> np.ndarray:
    kept: np.ndarray = values[~iqr_outliers(values, factor, reduce_sensitivity)]
    return kept


def summary(values: np.ndarray) -> Summary:
    """Count, mean, median, sample standard deviation, min and max; zeros for no values (Kayenta's)."""
    if not len(values):
        return Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    with np.errstate(invalid="ignore"):  # an infinite sample: a NaN spread, said as no data
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return Summary(len(values), float(np.mean(values)), percentile(values, 50), std,
                   float(np.min(values)), float(np.max(values)))


def mean_ratio(control: np.ndarray, experiment: np.ndarray) -> float:
    """Experiment mean over control mean; NaN when either mean is zero or there are no values."""
    if not len(control) or not len(experiment):
        return float("nan")
    c, e = float(np.mean(control)), float(np.mean(experiment))
    return float("nan") if c == 0.0 or e == 0.0 else e / c


def cles(control: np.ndarray, experiment: np.ndarray) -> float:
    """The share of (experiment, control) pairs where the experiment is higher, ties counting half
    (Vargha and Delaney's A, as EffectSizes.cles computes it from ranks)."""
    ordered = np.sort(control)
    below = np.searchsorted(ordered, experiment, "left")
    tied = np.searchsorted(ordered, experiment, "right") - below
    return (float(below.sum()) + 0.5 * float(tied.sum())) / (len(control) * len(experiment))


def effect_size(control: np.ndarray, experiment: np.ndarray, measure: EffectMeasure) -> float:
    return cles(control, experiment) if measure is EffectMeasure.CLES else mean_ratio(control, experiment)


def with_noise(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The values plus Gaussian noise scaled to 1e-5 of their (single) value, so an all-tied
    comparison of two constants still has ranks (MannWhitneyClassifier.addGaussianNoise)."""
    return values + rng.normal(0.0, abs(float(values[0])) * 1e-5, len(values))


@dataclass(frozen=True)
class Classified:
    """Kayenta's MetricClassification, with the shift and effect kept for the reason.

    why: which rule decided (missing, identical, one_value, high, low, within)."""

    classification: Classification
    why: str
    deviation: float
    critical: bool
    effect: float | None = None
    shift: Shift | None = None
    band: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """A classifier's settings (the MannWhitneyClassifier constructor): effect thresholds are
    (decrease, increase) pairs."""

    tolerance: float = 0.25
    confidence: float = 0.95
    effect: tuple[float, float] = (1.0, 1.0)
    critical: tuple[float, float] = (1.0, 1.0)
    measure: EffectMeasure = EffectMeasure.MEAN_RATIO


def _compare(control: np.ndarray, experiment: np.ndarray, direction: Direction, t: Thresholds,
             rng: np.random.Generator) -> Classified:
    """The Mann-Whitney comparison with the effect-size check (MannWhitneyClassifier.compare)."""
    noisy = len(np.unique(experiment)) == 1 and len(np.unique(control)) == 1
    if noisy:
        experiment, control = with_noise(experiment, rng), with_noise(control, rng)
    shift = mann_whitney(experiment, control, t.confidence)
    deviation = mean_ratio(control, experiment)
    effect = effect_size(control, experiment, t.measure)
    band = t.tolerance * abs(shift.estimate)
    unknown = bool(np.isnan(effect))  # an effect that cannot be computed is not checked
    high = (direction is not Direction.DECREASE and shift.lower > band
            and (unknown or effect >= t.effect[1]))
    low = (direction is not Direction.INCREASE and shift.upper < -band
           and (unknown or effect <= t.effect[0]))
    if high:
        return Classified(Classification.HIGH, "high", deviation, False, effect, shift, band)
    if low:
        return Classified(Classification.LOW, "low", deviation, False, effect, shift, band)
    return Classified(Classification.PASS, "within", deviation, False, effect, shift, band)


def classify(control: ArrayLike, experiment: ArrayLike, direction: Direction = Direction.EITHER,
             nan_strategy: NanStrategy = NanStrategy.REMOVE, critical: bool = False,
             must_have_data: bool = False, thresholds: Thresholds = Thresholds(),
             rng: np.random.Generator | None = None) -> Classified:
    """One metric's class from its baseline (control) and canary (experiment) values, NaNs already
    handled (MannWhitneyClassifier.classify)."""
    control = np.asarray(control, dtype=float)
    experiment = np.asarray(experiment, dtype=float)
    if not len(experiment) or not len(control):
        if nan_strategy is NanStrategy.REPLACE:
            return Classified(Classification.PASS, "missing", 1.0, False)
        if must_have_data and not critical:
            return Classified(Classification.NODATA_FAIL, "missing", 1.0, False)
        return Classified(Classification.NODATA, "missing", 1.0, critical)
    if len(experiment) == len(control) and np.array_equal(np.sort(experiment), np.sort(control)):
        return Classified(Classification.PASS, "identical", 1.0, False)
    if len(np.unique(np.concatenate((experiment, control)))) == 1:
        return Classified(Classification.PASS, "one_value", 1.0, False)
    found = _compare(control, experiment, direction, thresholds,
                     rng if rng is not None else np.random.default_rng(0))
    assert found.effect is not None  # _compare measures it
    unknown = bool(np.isnan(found.effect))
    critical_high = (critical and found.classification is Classification.HIGH
                     and (unknown or found.effect >= thresholds.critical[1]))
    critical_low = (critical and found.classification is Classification.LOW
                    and (unknown or found.effect <= thresholds.critical[0]))
    return Classified(found.classification, found.why, found.deviation, critical_high or critical_low,
                      found.effect, found.shift, found.band)
