"""One judgment round: every metric prepared, classified (or counted when sparse), spread-checked,
scored, and each classification and the verdict given one line of reason in the operator's words."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import TypedDict

import numpy as np

from .. import words
from .counts import count_test, rate_ratio
from .kayenta import Classified, Thresholds, classify, handle_nans, remove_outliers, summary
from .model import (
    Classification,
    Direction,
    EffectMeasure,
    EventCounts,
    JudgeRules,
    Judgment,
    MetricJudgment,
    MetricRule,
    MetricSamples,
    Spread,
    Summary,
    Verdict,
)
from .score import Scorable, score, verdict
from .spread import spread


def judge(rules: JudgeRules, samples: Sequence[MetricSamples]) -> Judgment:
    """The canary against its baseline over one window; a metric with no samples given has no data."""
    given = {s.name: s for s in samples}
    metrics = tuple(judge_metric(rule, given.get(rule.name, MetricSamples(rule.name, (), ())), rules)
                    for rule in rules.metrics)
    scored = score([Scorable(m.name, m.classification, m.critical, m.groups) for m in metrics],
                   dict(rules.group_weights))
    found = verdict(scored.score, rules.pass_score, rules.marginal_score)
    flagged = [m for m in metrics if m.spread is not None and m.spread.flagged]
    if not metrics:
        return Judgment(0.0, Verdict.FAIL, "no metrics to judge", metrics, scored.groups)
    if scored.zeroed_by == "critical":
        bad = next(m for m in metrics if m.name == scored.critical_metric)
        reason = f"critical metric {bad.name} is {bad.classification}: {bad.reason}"
    elif scored.zeroed_by == "nodata":
        nodata = sum(m.classification is Classification.NODATA for m in metrics)
        reason = f"{nodata} of {words.plural(len(metrics), 'metric')} without data (half or more fails)"
    elif found is Verdict.PASS and flagged:
        found = Verdict.MARGINAL
        names = ", ".join(m.name for m in flagged)
        reason = f"score {words.value(scored.score)} passes, but the spread grew on {names}: a human decides"
    else:
        reason = (f"score {words.value(scored.score)} (pass ≥ {words.value(rules.pass_score)}, "
                  f"marginal ≥ {words.value(rules.marginal_score)})")
        failing = [f"{m.name} {m.classification}" for m in metrics if m.classification is not Classification.PASS]
        if failing:
            reason += "; not passing: " + ", ".join(failing)
    return Judgment(scored.score, found, reason, metrics, scored.groups)


def _prepared(values: Sequence[float], rule: MetricRule) -> np.ndarray:
    """NaNs handled, then outliers removed when the plan asks (Kayenta's order)."""
    prepared = handle_nans(np.asarray(values, dtype=float), rule.nan_strategy)
    if rule.remove_outliers:
        prepared = remove_outliers(prepared, rule.outlier_factor, reduce_sensitivity=True)
    return prepared


def _rng(rules: JudgeRules, rule: MetricRule) -> np.random.Generator:
    """A generator per metric, from the plan's seed and the metric's name: a metric's judgment
    does not depend on which other metrics the plan lists."""
    return np.random.default_rng([rules.seed, zlib.crc32(rule.name.encode())])


def _sparse(canary: np.ndarray, baseline: np.ndarray, min_samples: int) -> str | None:
    """Why the shift test cannot judge these samples, or None when it can."""
    if len(canary) < min_samples or len(baseline) < min_samples:
        return (f"too few samples: canary {words.count(len(canary))}, baseline "
                f"{words.count(len(baseline))} (at least {words.count(min_samples)} each)")
    if len(canary) and len(baseline) and np.median(canary) == 0 and np.median(baseline) == 0:
        return (f"mostly zero: canary {words.count(int(np.count_nonzero(canary)))} of "
                f"{words.plural(len(canary), 'sample')} above zero, baseline "
                f"{words.count(int(np.count_nonzero(baseline)))} of {words.count(len(baseline))}")
    return None


class _Named(TypedDict):
    """What every judgment of a metric carries, whatever decided it."""

    name: str
    groups: tuple[str, ...]
    canary: Summary | None
    baseline: Summary | None


def judge_metric(rule: MetricRule, samples: MetricSamples, rules: JudgeRules) -> MetricJudgment:
    """One metric's classification and its reason."""
    canary, baseline = _prepared(samples.canary, rule), _prepared(samples.baseline, rule)
    base = _Named(name=rule.name, groups=rule.groups, canary=summary(canary), baseline=summary(baseline))
    for track, values in (("canary", canary), ("baseline", baseline)):
        if not np.isfinite(values).all():
            return MetricJudgment(classification=Classification.ERROR, critical=rule.critical,
                                  reason=f"the {track} has an infinite sample: nothing to compare", **base)
    why = _sparse(canary, baseline, rules.min_samples)
    if why is not None:
        return _judge_sparse(rule, samples.counts, rules, why, base)
    thresholds = Thresholds(rules.tolerance, rules.confidence,
                            (rule.effect(rule.allowed_decrease), rule.effect(rule.allowed_increase)),
                            (rule.effect(rule.critical_decrease), rule.effect(rule.critical_increase)),
                            rule.effect_measure)
    rng = _rng(rules, rule)
    found = classify(baseline, canary, rule.direction, rule.nan_strategy, rule.critical,
                     rule.must_have_data, thresholds, rng)
    reason = _reason(found, rule, thresholds, rules.confidence)
    shift = found.shift
    stretch = None
    if found.classification is Classification.PASS and found.why == "within":
        stretch = spread(canary, baseline, rules.spread_limit, rules.confidence, rules.spread_resamples, rng)
        if stretch is not None and stretch.flagged:
            reason = _spread_reason(stretch, rules.spread_limit) + "; " + reason
    return MetricJudgment(
        classification=found.classification, reason=reason, critical=found.critical,
        estimate=shift.estimate if shift else None, lower=shift.lower if shift else None,
        upper=shift.upper if shift else None, band=found.band, deviation=found.deviation,
        effect=found.effect, spread=stretch, **base)


def _judge_sparse(rule: MetricRule, counts: EventCounts | None, rules: JudgeRules, why: str,
                  base: _Named) -> MetricJudgment:
    """Nodata, never Pass, unless the count test finds the canary's rate off its baseline's."""
    nodata = (Classification.NODATA_FAIL if rule.must_have_data and not rule.critical
              else Classification.NODATA)
    critical = rule.critical and nodata is Classification.NODATA
    if counts is None:
        return MetricJudgment(classification=nodata, critical=critical,
                              reason=why + "; no event counts for a count test", **base)
    p = count_test(counts, rule.direction)
    if p is None:
        return MetricJudgment(classification=nodata, critical=critical,
                              reason=why + "; a track has no exposure to count against", **base)
    ratio = rate_ratio(counts)
    share = counts.canary_exposure / (counts.canary_exposure + counts.baseline_exposure) * 100
    said = (f"canary {words.count(counts.canary_events)} events with {words.percent(share)} of the "
            f"exposure, baseline {words.count(counts.baseline_events)}, p {words.value(p)}")
    if p >= 1 - rules.confidence:
        return MetricJudgment(classification=nodata, critical=critical, count_p=p,
                              reason=f"{why}; count test: {said}, not enough to tell", **base)
    higher = ratio > 1
    effect = ratio if rule.effect_measure is EffectMeasure.MEAN_RATIO else math.nan
    allowed = rule.effect(rule.allowed_increase if higher else rule.allowed_decrease)
    if not math.isnan(effect) and (effect < allowed if higher else effect > allowed):
        return MetricJudgment(classification=Classification.PASS, count_p=p, effect=effect,
                              reason=f"{why}; count test: {said}, within the allowed ×{words.value(allowed)}",
                              **base)
    limit = rule.effect(rule.critical_increase if higher else rule.critical_decrease)
    beyond = math.isnan(effect) or (effect >= limit if higher else effect <= limit)
    found = Classification.HIGH if higher else Classification.LOW
    critical = rule.critical and beyond
    return MetricJudgment(classification=found, critical=critical, count_p=p, effect=effect,
                          reason=f"{why}; count test: {said}{' (critical)' if critical else ''}", **base)


def _signed(v: float, unit: str) -> str:
    """A change with its sign: `+72 ms`, `-3 ms`, `0 ms`."""
    text = words.value(v, unit)
    return "+" + text if v > 0 else text


def _effect_text(effect: float | None, measure: EffectMeasure) -> str:
    name = "CLES" if measure is EffectMeasure.CLES else "mean ratio"
    return f"{name} {words.value(effect)}"


def _reason(found: Classified, rule: MetricRule, t: Thresholds, confidence: float) -> str:
    """The classification in one line: the shift, its interval against the band, the effect."""
    if found.why == "identical":
        return "canary and baseline samples are identical"
    if found.why == "one_value":
        return "every sample on both tracks is the same value"
    if found.why == "missing":  # only with min_samples = 0: Kayenta's own missing-data rule
        return "no samples on a track"
    shift, unit = found.shift, rule.unit
    assert shift is not None and found.band is not None  # compared: _compare keeps both
    moved = (f"shift {_signed(shift.estimate, unit)} ({words.percent(confidence * 100)} interval "
             f"{_signed(shift.lower, unit)} to {_signed(shift.upper, unit)}, band "
             f"±{words.value(found.band, unit)}), {_effect_text(found.effect, t.measure)}")
    critical = " (critical)" if found.critical else ""
    if found.classification is Classification.HIGH:
        return f"canary higher: {moved}{critical}"
    if found.classification is Classification.LOW:
        return f"canary lower: {moved}{critical}"
    if shift.lower > found.band:
        if rule.direction is Direction.DECREASE:
            return f"higher, but only a decrease counts: {moved}"
        return f"higher, but under the allowed effect {words.value(t.effect[1])}: {moved}"
    if shift.upper < -found.band:
        if rule.direction is Direction.INCREASE:
            return f"lower, but only an increase counts: {moved}"
        return f"lower, but above the allowed effect {words.value(t.effect[0])}: {moved}"
    return f"no shift beyond the band: {moved}"


def _spread_reason(stretch: Spread, limit: float | None) -> str:
    return (f"spread ×{words.value(stretch.ratio)} (interval ×{words.value(stretch.lower)} to "
            f"×{words.value(stretch.upper)}, limit ×{words.value(limit)}) while the centre holds")
