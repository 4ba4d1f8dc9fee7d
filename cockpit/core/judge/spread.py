"""Spread blow-up: the canary's inter-quartile range over the baseline's, with a bootstrap interval.

A canary whose centre holds but whose samples scatter three times as wide passes Kayenta's shift
test (kayenta#780); this ratio, and its lower interval end at or above the plan's limit, flag it.
The bootstrap draws from the generator it is given (seeded by the judge): the same samples and
seed give the same interval.
"""

from __future__ import annotations

import numpy as np

from .model import Spread


def iqr(values: np.ndarray) -> float:
    p25, p75 = np.percentile(values, [25, 75])
    return float(p75 - p25)


def spread_ratio(canary: np.ndarray, baseline: np.ndarray) -> float | None:
    """Canary IQR over baseline IQR; None when the baseline does not spread at all."""
    below = iqr(baseline)
    return None if below <= 0 else iqr(canary) / below


def _resampled_iqrs(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    drawn = values[rng.integers(0, len(values), (resamples, len(values)))]
    p25, p75 = np.percentile(drawn, [25, 75], axis=1)
    return np.asarray(p75 - p25)


def spread(canary: np.ndarray, baseline: np.ndarray, limit: float | None, confidence: float,
           resamples: int, rng: np.random.Generator) -> Spread | None:
    """The ratio, and whether it is flagged: the ratio and its bootstrap percentile interval's
    lower end both at or above the limit (the interval is drawn only when the ratio reaches it,
    which keeps a quiet round cheap)."""
    ratio = spread_ratio(canary, baseline)
    if ratio is None:
        return None
    if limit is None or ratio < limit:
        return Spread(ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = _resampled_iqrs(canary, resamples, rng) / _resampled_iqrs(baseline, resamples, rng)
    ratios = np.where(np.isnan(ratios), 1.0, ratios)  # 0/0: neither resample spread
    alpha = (1.0 - confidence) / 2 * 100
    # the order statistics themselves, not interpolated: a ratio may be +inf (a resample of the baseline
    # without spread), and inf - inf is no number
    lower = float(np.percentile(ratios, alpha, method="lower"))
    upper = float(np.percentile(ratios, 100 - alpha, method="higher"))
    return Spread(ratio, lower, upper, lower >= limit)
