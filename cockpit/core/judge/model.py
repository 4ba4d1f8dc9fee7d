"""What the judge is asked and what it answers: plain frozen values, no numbers computed here.

A `[judge]` table in the plan maps onto `JudgeRules` field for field, and each `[[judge.metrics]]`
onto a `MetricRule`; the guard hands over `MetricSamples` per metric and gets a `Judgment` back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    """Which way a change of the canary counts against it (Kayenta's `direction`)."""

    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


class NanStrategy(StrEnum):
    """What a NaN sample (Prometheus: no traffic in that step) becomes: dropped, or a zero."""

    REMOVE = "remove"
    REPLACE = "replace"


class EffectMeasure(StrEnum):
    """How big a shift is: canary mean over baseline mean, or the chance that a canary sample
    exceeds a baseline sample (common-language effect size, 0.5 = no effect)."""

    MEAN_RATIO = "mean_ratio"
    CLES = "cles"


class Classification(StrEnum):
    """A metric's class, spelled as Kayenta spells it (its journal and reports read the same)."""

    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"
    NODATA_FAIL = "NodataFailMetric"  # no data on a metric that must have data: counts as a failure
    ERROR = "Error"


class Verdict(StrEnum):
    """The judgment: Pass advances, Marginal waits for a human, Fail fails the gate."""

    PASS = "Pass"
    MARGINAL = "Marginal"
    FAIL = "Fail"


@dataclass(frozen=True)
class MetricRule:
    """One metric of the plan's judge (`[[judge.metrics]]`).

    name: the metric as people know it. unit: the plan's unit for its values (`s`, `ratio`, ...).
    direction: a change that way fails it. groups: the score groups it counts in.
    critical: a High/Low beyond the critical effect fails the whole judgment.
    must_have_data: no data counts as a failure rather than being left out.
    nan_strategy: NaN samples dropped or read as zero. remove_outliers, outlier_factor: Tukey fences
    at factor × IQR (never closer than the 1st/99th percentile), on each track before judging.
    effect_measure, allowed_increase/decrease, critical_increase/decrease: how big the effect must
    be to count, and to count as critical (None: no effect needed, 1.0 for a ratio, 0.5 for CLES).
    """

    name: str
    unit: str = ""
    direction: Direction = Direction.EITHER
    groups: tuple[str, ...] = ("default",)
    critical: bool = False
    must_have_data: bool = False
    nan_strategy: NanStrategy = NanStrategy.REMOVE
    remove_outliers: bool = False
    outlier_factor: float = 3.0
    effect_measure: EffectMeasure = EffectMeasure.MEAN_RATIO
    allowed_increase: float | None = None
    allowed_decrease: float | None = None
    critical_increase: float | None = None
    critical_decrease: float | None = None

    def effect(self, threshold: float | None) -> float:
        """A threshold, or the measure's no-effect value when the plan gives none (Kayenta's default)."""
        if threshold is not None:
            return threshold
        return 0.5 if self.effect_measure is EffectMeasure.CLES else 1.0


@dataclass(frozen=True)
class JudgeRules:
    """The plan's judge (`[judge]`): its metrics and how the score becomes a verdict.

    tolerance, confidence: Kayenta's band (a shift counts only beyond tolerance × |estimate|) and the
    interval's level. group_weights: (group, weight in percent) pairs; groups without a weight share
    what is left of 100. pass_score, marginal_score: a score at or above pass_score passes, at or
    above marginal_score is Marginal, below fails.
    Beyond Kayenta: min_samples per track, below which a metric is Nodata; spread_limit: the ratio
    of canary to baseline inter-quartile range whose interval's lower end, at or above it, flags a
    spread blow-up (None: never); spread_resamples: bootstrap resamples for that interval; seed:
    the only source of randomness (tie-breaking noise, bootstrap), so a judgment can be replayed.
    """

    metrics: tuple[MetricRule, ...]
    group_weights: tuple[tuple[str, float], ...] = ()
    pass_score: float = 95.0
    marginal_score: float = 75.0
    tolerance: float = 0.25
    confidence: float = 0.98
    min_samples: int = 10
    spread_limit: float | None = 2.0
    spread_resamples: int = 200
    seed: int = 0


@dataclass(frozen=True)
class EventCounts:
    """Events counted over the whole window on each track, and each track's exposure (requests,
    or its traffic share × time): the sparse metrics' evidence for the count test."""

    canary_events: int
    baseline_events: int
    canary_exposure: float
    baseline_exposure: float


@dataclass(frozen=True)
class MetricSamples:
    """One metric's samples over the window, per track, as the range queries returned them."""

    name: str
    canary: tuple[float, ...]
    baseline: tuple[float, ...]
    counts: EventCounts | None = None


@dataclass(frozen=True)
class Summary:
    """A track's samples after NaN and outlier handling (Kayenta's MetricStatistics, and the median)."""

    count: int
    mean: float
    median: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class Spread:
    """Canary over baseline inter-quartile range, with its bootstrap interval (None: not needed)."""

    ratio: float
    lower: float | None = None
    upper: float | None = None
    flagged: bool = False


@dataclass(frozen=True)
class MetricJudgment:
    """One metric's classification, why, and the numbers behind it (None: not computed)."""

    name: str
    classification: Classification
    reason: str
    critical: bool = False
    groups: tuple[str, ...] = ("default",)
    canary: Summary | None = None
    baseline: Summary | None = None
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    band: float | None = None  # the tolerance band's half-width: tolerance × |estimate|
    deviation: float | None = None  # mean ratio, NaN when a mean is zero (Kayenta's `ratio`)
    effect: float | None = None
    count_p: float | None = None  # the count test's p-value, when it judged a sparse metric
    spread: Spread | None = None


@dataclass(frozen=True)
class GroupScore:
    """A group's share of passing metrics, 0–100; no_data: none of its metrics could be judged."""

    name: str
    score: float
    no_data: bool


@dataclass(frozen=True)
class Judgment:
    """The canary against its baseline: score, verdict, why, and every metric's judgment."""

    score: float
    verdict: Verdict
    reason: str
    metrics: tuple[MetricJudgment, ...]
    groups: tuple[GroupScore, ...] = field(default=())
