"""The judge's settings: the canary judged against its baseline, metric by metric (issue 23)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, model_validator

from cockpit.config.checks import _no_duplicates
from cockpit.config.fields import Count, Model, Name, Number, PositiveDuration

JUDGE_TRACK = "$track"  # in a judge query: the track's label matchers (baseline or canary)
JUDGE_WINDOW = "$window"  # in an events or exposure query: the judged window, e.g. 20m


class JudgeMetric(Model):
    """One judged metric (`[[judge.metrics]]`), field for field a core.judge.MetricRule, plus its
    query with $track. events and exposure (both or neither, with $track and $window): the
    window's event count and exposure per track, for the count test on sparse metrics."""

    name: Name
    query: str
    unit: Name = ""
    direction: Literal["increase", "decrease", "either"] = "either"
    groups: list[Name] = Field(default=["default"], min_length=1)
    critical: StrictBool = False
    must_have_data: StrictBool = False
    nan_strategy: Literal["remove", "replace"] = "remove"
    remove_outliers: StrictBool = False
    outlier_factor: Annotated[Number, Field(gt=0)] = 3.0
    effect_measure: Literal["mean_ratio", "cles"] = "mean_ratio"
    allowed_increase: Annotated[Number, Field(gt=0)] | None = None
    allowed_decrease: Annotated[Number, Field(gt=0)] | None = None
    critical_increase: Annotated[Number, Field(gt=0)] | None = None
    critical_decrease: Annotated[Number, Field(gt=0)] | None = None
    events: str | None = None
    exposure: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> JudgeMetric:
        if JUDGE_TRACK not in self.query:
            raise ValueError(f"query: needs {JUDGE_TRACK} where the track's labels go, e.g. {{{JUDGE_TRACK}}}")
        if (self.events is None) != (self.exposure is None):
            raise ValueError("give both events and exposure (the count test needs both), or neither")
        for key, q in (("events", self.events), ("exposure", self.exposure)):
            if q is not None and JUDGE_TRACK not in q:
                raise ValueError(f"{key}: needs {JUDGE_TRACK} where the track's labels go")
        return self


class Judge(Model):
    """The canary judged against its baseline (`[judge]`), Kayenta's way (core.judge): every
    `interval` over the phase's soak, on range queries for both tracks. A gate criterion with
    source = "judge" uses it; action = "rollback" also pulls the kill switch after `for`
    consecutive Fail judgments."""

    baseline: Annotated[str, Field(min_length=1)]  # label matchers, e.g. 'app="api",track="baseline"'
    canary: Annotated[str, Field(min_length=1)]
    interval: PositiveDuration = timedelta(minutes=1)
    metrics: list[JudgeMetric] = Field(min_length=1)
    group_weights: dict[Name, Annotated[Number, Field(gt=0, le=100)]] = {}
    pass_score: Annotated[Number, Field(ge=0, le=100)] = 95.0
    marginal_score: Annotated[Number, Field(ge=0, le=100)] = 75.0
    tolerance: Annotated[Number, Field(ge=0)] = 0.25
    confidence: Annotated[Number, Field(gt=0, lt=1)] = 0.98
    min_samples: Annotated[Count, Field(ge=2)] = 10
    spread_limit: Annotated[Number, Field(gt=1)] | None = 2.0
    spread_resamples: Annotated[Count, Field(ge=10, le=10_000)] = 200
    seed: Count = 0
    action: Literal["gate", "rollback"] = "gate"  # rollback: a Fail `for` judgments in a row pulls the kill switch
    for_: Annotated[Count, Field(ge=1, le=100)] = Field(default=3, alias="for")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> Judge:
        if self.marginal_score > self.pass_score:
            raise ValueError(f"marginal_score ({self.marginal_score:g}) must not be above "
                             f"pass_score ({self.pass_score:g})")
        _no_duplicates("metric names", [m.name for m in self.metrics])
        groups = {g for m in self.metrics for g in m.groups}
        errors = [f"group_weights.{g}: no metric is in group {g!r}" for g in self.group_weights if g not in groups]
        if sum(self.group_weights.values()) > 100:
            errors.append(f"group_weights: the weights add up to {sum(self.group_weights.values()):g}, more than 100")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def query(self, template: str, track: Literal["baseline", "canary"], window_s: float = 0.0) -> str:
        """A metric's query for one track: $track is its label matchers, $window the judged window."""
        return (template.replace(JUDGE_TRACK, self.baseline if track == "baseline" else self.canary)
                .replace(JUDGE_WINDOW, f"{max(int(window_s), 1)}s"))

    def rules(self):
        """The core judge's rules (core.judge.JudgeRules), field for field."""
        from cockpit.core.judge import Direction, EffectMeasure, JudgeRules, MetricRule, NanStrategy

        return JudgeRules(
            metrics=tuple(MetricRule(
                name=m.name, unit=m.unit, direction=Direction(m.direction), groups=tuple(m.groups),
                critical=m.critical, must_have_data=m.must_have_data, nan_strategy=NanStrategy(m.nan_strategy),
                remove_outliers=m.remove_outliers, outlier_factor=m.outlier_factor,
                effect_measure=EffectMeasure(m.effect_measure), allowed_increase=m.allowed_increase,
                allowed_decrease=m.allowed_decrease, critical_increase=m.critical_increase,
                critical_decrease=m.critical_decrease,
            ) for m in self.metrics),
            group_weights=tuple(self.group_weights.items()), pass_score=self.pass_score,
            marginal_score=self.marginal_score, tolerance=self.tolerance, confidence=self.confidence,
            min_samples=self.min_samples, spread_limit=self.spread_limit,
            spread_resamples=self.spread_resamples, seed=self.seed,
        )
