"""The count test for sparse metrics: are the canary's events more (or fewer) than its exposure
explains? A conditional binomial test on two Poisson counts, exact, in plain Python.

Given n = canary + baseline events, the canary's share of them is binomial with p = the canary's
share of exposure when both tracks have the same rate; the p-value is that binomial's tail.
"""

from __future__ import annotations

import math

from .model import Direction, EventCounts


def upper_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed from k outwards while the terms still count."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    if k < (n + 1) * p:  # below the mode: the other tail is the short one (from the mode on, terms fall)
        return 1.0 - lower_tail(k - 1, n, p)
    term = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))
    total, j, odds = 0.0, k, p / (1.0 - p)
    while j <= n and term > total * 1e-17:
        total += term
        term *= (n - j) / (j + 1) * odds
        j += 1
    return min(total, 1.0)


def lower_tail(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p): the upper tail of the failures."""
    return upper_tail(n - k, n, 1.0 - p)


def rate_ratio(counts: EventCounts) -> float:
    """The canary's event rate over the baseline's (inf when the baseline had none, NaN for 0/0)."""
    canary = counts.canary_events / counts.canary_exposure
    baseline = counts.baseline_events / counts.baseline_exposure
    if baseline == 0:
        return math.inf if canary > 0 else math.nan
    return canary / baseline


def count_test(counts: EventCounts, direction: Direction) -> float | None:
    """The p-value that the canary's rate differs from the baseline's the way that counts: one
    tail for increase or decrease, twice the smaller tail for either; None without exposure."""
    if counts.canary_exposure <= 0 or counts.baseline_exposure <= 0:
        return None
    n = counts.canary_events + counts.baseline_events
    p = counts.canary_exposure / (counts.canary_exposure + counts.baseline_exposure)
    higher = upper_tail(counts.canary_events, n, p)
    lower = lower_tail(counts.canary_events, n, p)
    if direction is Direction.INCREASE:
        return higher
    if direction is Direction.DECREASE:
        return lower
    return min(1.0, 2 * min(higher, lower))
