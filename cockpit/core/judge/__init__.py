"""The judge: the canary's samples against its baseline's, Kayenta-compatible, with the reason.

Per metric (`MetricRule`, `[[judge.metrics]]` in a plan): NaNs removed or replaced, outliers
optionally removed, then Kayenta's Mann-Whitney classification — the Hodges–Lehmann shift with
its interval at `confidence` (0.98), High or Low only beyond the band `tolerance` × |shift| (0.25)
and past the allowed effect (mean ratio, or CLES), critical beyond the critical effect — and
beyond Kayenta: too few samples or mostly-zero tracks are Nodata unless the count test on the
window's event counts (`EventCounts`) finds a difference; a canary whose spread grew past
`spread_limit` while its centre held is flagged and the verdict waits for a human. Then Kayenta's
weighted group score and its pass/marginal thresholds (`JudgeRules`, `[judge]`).

Field by field, as a plan's `[judge]` table maps onto them:
- `JudgeRules`: metrics, group_weights (group → percent), pass_score (95), marginal_score (75),
  tolerance (0.25), confidence (0.98), min_samples (10), spread_limit (2.0, None: off),
  spread_resamples (200), seed (0).
- `MetricRule`: name, unit, direction (increase | decrease | either), groups, critical,
  must_have_data, nan_strategy (remove | replace), remove_outliers, outlier_factor (3.0),
  effect_measure (mean_ratio | cles), allowed_increase, allowed_decrease, critical_increase,
  critical_decrease (None: the measure's no-effect value, 1.0 or 0.5).
- `MetricSamples` per metric per round: name, canary and baseline samples over the window, and
  optionally `EventCounts` (events and exposure per track) for the count test.

`judge(rules, samples)` returns a `Judgment`: score, verdict (Pass | Marginal | Fail), reason,
and a `MetricJudgment` per metric (classification, reason, critical, summaries, shift, interval,
band, effect, count test p-value, spread). Pure: no I/O, no clock; the only randomness is drawn
from `seed`. numpy is imported on the first judgment, not with this package.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import (
    Classification,
    Direction,
    EffectMeasure,
    EventCounts,
    GroupScore,
    JudgeRules,
    Judgment,
    MetricJudgment,
    MetricRule,
    MetricSamples,
    NanStrategy,
    Spread,
    Summary,
    Verdict,
)

__all__ = [
    "Classification", "Direction", "EffectMeasure", "EventCounts", "GroupScore", "Judgment",
    "JudgeRules", "MetricJudgment", "MetricRule", "MetricSamples", "NanStrategy", "Spread",
    "Summary", "Verdict", "judge",
]


def judge(rules: JudgeRules, samples: Sequence[MetricSamples]) -> Judgment:
    """The canary against its baseline over one window (numpy loads here, on first use)."""
    from .run import judge as run

    return run(rules, samples)
