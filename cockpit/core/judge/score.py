"""The score: each group's share of passing metrics, weighted into 0–100, then Pass / Marginal / Fail.

A port of kayenta-judge's WeightedSumScorer.scala and ThresholdScoreClassifier.scala: a critical
metric that did not pass, or half the metrics without data, scores 0; a group where nothing could
be judged counts as 100 (Kayenta's rule, kept for compatibility: the Nodata share rule covers it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import Classification, GroupScore, Verdict

NODATA_THRESHOLD = 50  # percent of metrics without data that fails the judgment
_COUNTED = (Classification.PASS, Classification.HIGH, Classification.LOW, Classification.NODATA_FAIL)


@dataclass(frozen=True)
class Scored:
    """The summary score, each group's, and what zeroed it (None: the weighted sum)."""

    score: float
    groups: tuple[GroupScore, ...]
    zeroed_by: str | None = None  # "critical" or "nodata"
    critical_metric: str | None = None


@dataclass(frozen=True)
class Scorable:
    """What the scorer reads of a metric's judgment."""

    name: str
    classification: Classification
    critical: bool
    groups: tuple[str, ...]


def group_score(name: str, labels: Sequence[Classification]) -> GroupScore:
    """Passing metrics over judged ones, in percent; Nodata and Error are not judged."""
    counted = [c for c in labels if c in _COUNTED]
    if not counted:
        return GroupScore(name, 0.0, True)
    return GroupScore(name, sum(c is Classification.PASS for c in counted) / len(counted) * 100, False)


def group_scores(results: Sequence[Scorable]) -> tuple[GroupScore, ...]:
    labels: dict[str, list[Classification]] = {}
    for result in results:
        for group in result.groups:
            labels.setdefault(group, []).append(result.classification)
    return tuple(group_score(name, found) for name, found in labels.items())


def summary_score(groups: Sequence[GroupScore], weights: dict[str, float]) -> float:
    """The weighted sum of group scores, rounded to two decimals; groups without a weight share
    what the weights leave of 100 equally; a group with nothing judged counts as 100."""
    unweighted = {g.name for g in groups} - set(weights)
    share = (100 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    total = 0.0
    for group in groups:
        total += (100.0 if group.no_data else group.score) * (weights.get(group.name, share) / 100)
    return _round2(total)


def _round2(x: float) -> float:
    """Half up to two decimals, as commons-math Precision.round does (Python's round() is to even)."""
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def score(results: Sequence[Scorable], weights: dict[str, float] | None = None) -> Scored:
    """Kayenta's WeightedSumScorer.score."""
    groups = group_scores(results)
    failures = [r for r in results if r.critical and r.classification is not Classification.PASS]
    if failures:
        return Scored(0.0, groups, "critical", failures[0].name)
    nodata = sum(r.classification is Classification.NODATA for r in results)
    if results and nodata / len(results) * 100 >= NODATA_THRESHOLD:
        return Scored(0.0, groups, "nodata")
    return Scored(summary_score(groups, weights or {}), groups)


def verdict(value: float, pass_score: float, marginal_score: float) -> Verdict:
    """Pass at or above the pass score, Marginal at or above the marginal score, else Fail."""
    if value >= pass_score:
        return Verdict.PASS
    if value >= marginal_score:
        return Verdict.MARGINAL
    return Verdict.FAIL
