"""The Mann-Whitney U test's shift estimate and interval, as Kayenta (and R's wilcox.test) compute them.

A port of kayenta-mannwhitney's MannWhitney.scala and BrentSolver.java: the Hodges–Lehmann shift is
the root of the normal approximation of the rank-sum statistic (ties corrected, continuity
corrected), and the interval's ends are its roots at ±z; the roots are found by Brent's method with
Kayenta's (and R's uniroot's) tolerance of 1e-4, iteration for iteration, so results tie out with
Kayenta's to 1e-6 and not only to within the solver's tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

_MAX_ITERATIONS = 1000
_TOLERANCE = 1e-4
_EPSILON = 2.220446049250313e-16
_TINIEST = 5e-324  # commons-math Precision.equals(x, 0): equal within one ulp of zero


@dataclass(frozen=True)
class Shift:
    """The canary-minus-baseline shift (Hodges–Lehmann) and its confidence interval."""

    lower: float
    upper: float
    estimate: float


def z_quantile(p: float) -> float:
    """The standard normal quantile (commons-math NormalDistribution.inverseCumulativeProbability)."""
    return NormalDist().inv_cdf(p)


class AllTied(ValueError):
    """Every observation is the same value: the rank statistic has no spread."""


def wilcoxon_diff(mu: float, quantile: float, x: np.ndarray, y: np.ndarray) -> float:
    """The standardised rank-sum statistic of x - mu against y, minus a quantile (MannWhitney.scala).

    The rank sum of x is counted by pairs (y below x - mu, half for ties), which equals the sum of
    average ranks; the tie correction counts runs of equal values in the combined sample."""
    nx, ny = float(len(x)), float(len(y))
    shifted = np.asarray(x, dtype=float) - mu
    ys = np.sort(y)
    below = np.searchsorted(ys, shifted, "left")
    tied = np.searchsorted(ys, shifted, "right") - below
    dz = float(below.sum()) + 0.5 * float(tied.sum()) - nx * ny / 2
    both = np.sort(np.concatenate((shifted, ys)))
    edges = np.flatnonzero(np.concatenate(([True], both[1:] != both[:-1], [True])))
    runs = np.diff(edges).astype(float)
    ties = float((runs**3 - runs).sum())
    correction = float(np.sign(dz)) * 0.5
    sigma = float(np.sqrt((nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1)))))
    if sigma == 0:
        raise AllTied("cannot compute confidence interval when all observations are tied")
    return (dz - correction) / sigma - quantile


def _is_zero(f: float) -> bool:
    return abs(f) <= _TINIEST


def brent(ax: float, bx: float, fa: float, fb: float, func: Callable[[float], float]) -> float:
    """A zero of func in [ax, bx], with f(ax) = fa and f(bx) = fb (BrentSolver.java, R's zeroin)."""
    a, b, c, fc = ax, bx, ax, fa
    if _is_zero(fa):
        return a
    if _is_zero(fb):
        return b
    for _ in range(_MAX_ITERATIONS + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPSILON * abs(b) + _TOLERANCE / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or _is_zero(fb):
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = func(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b  # Kayenta gives up the same way: the last point, after 1,000 steps


def mann_whitney(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> Shift:
    """The shift of x against y (x - y) and its interval at the confidence level
    (MannWhitney.mannWhitneyUTest with mu = 0)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    mu_min = float(x.min() - y.max())
    mu_max = float(x.max() - y.min())

    def root(zq: float) -> float:
        f_lower = wilcoxon_diff(mu_min, zq, x, y)
        f_upper = wilcoxon_diff(mu_max, zq, x, y)
        if f_lower <= 0:
            return mu_min
        if f_upper >= 0:
            return mu_max
        return brent(mu_min, mu_max, f_lower, f_upper, lambda mu: wilcoxon_diff(mu, zq, x, y))

    z = z_quantile((1.0 - confidence) / 2)
    lower, upper = root(-z), root(z)
    f_lower = wilcoxon_diff(mu_min, 0, x, y)
    f_upper = wilcoxon_diff(mu_max, 0, x, y)
    estimate = brent(mu_min, mu_max, f_lower, f_upper, lambda mu: wilcoxon_diff(mu, 0, x, y))
    return Shift(lower, upper, estimate)
