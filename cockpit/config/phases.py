"""Phases and their gates, the triggers that act on their own, and the kill switch."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, field_validator, model_validator

from cockpit.config.checks import _no_duplicates
from cockpit.config.fields import Count, Duration, Ident, Model, Name, Number, PositiveDuration
from cockpit.core.compare import Comparison


class Criterion(Model):
    """An automatic gate criterion: a metric comparison over the phase's soak. With
    source = "alertmanager" the value is the number of alerts firing in Alertmanager (active, not
    silenced, not inhibited; only those with `labels`), sampled every round of the soak."""

    id: Ident
    name: Name
    query: str = ""
    comparison: Comparison | None = None  # None only for source = "judge"
    threshold: Number | None = None
    unit: Name = ""
    source: Literal["prometheus", "alertmanager", "judge"] = "prometheus"
    labels: dict[str, str] = {}

    @model_validator(mode="after")
    def _a_query(self) -> Criterion:
        if self.source == "judge":  # the plan's [judge] decides: Pass passes, Marginal waits for the owners, Fail fails
            given = [k for k, v in (("query", self.query), ("comparison", self.comparison),
                                    ("threshold", self.threshold)) if v not in ("", None)]
            if given:
                raise ValueError(f"a judge criterion takes no {', '.join(given)}: [judge] says how it is judged")
            return self
        if self.source == "prometheus" and not self.query.strip():
            raise ValueError("a prometheus criterion needs a query")
        if self.comparison is None or self.threshold is None:
            raise ValueError(f"a {self.source} criterion needs a comparison and a threshold")
        return self


class Gate(Model):
    owners: list[Ident] = Field(min_length=1)
    auto: list[Criterion] = []
    manual: list[Name] = []

    @field_validator("owners")
    @classmethod
    def _unique_owners(cls, owners: list[str]) -> list[str]:
        _no_duplicates("roles", owners)
        return owners

    @field_validator("auto")
    @classmethod
    def _unique_criteria(cls, auto: list[Criterion]) -> list[Criterion]:
        _no_duplicates("criterion ids", [c.id for c in auto])
        return auto


class Phase(Model):
    name: Annotated[Name, Field(min_length=1)]
    weight: Annotated[Count, Field(ge=1, le=100)]
    soak: Duration  # "0s" is no soak: the gate alone decides (test rigs); never negative
    gate: Gate


# --- triggers and the kill switch -------------------------------------------------------------

Action = Literal["rollback", "hold", "page"]
NoData = Literal["breach", "hold", "ignore"]
QueryFailure = Literal["hold", "breach"]


class Trigger(Model):
    """A rule that acts on its own: a query (or a re-run check) that breaches for its window."""

    id: Ident
    name: Name
    query: str | None = None
    check: Ident | None = None
    comparison: Comparison = Comparison.GT
    threshold: Number | None = None
    baseline: str | None = None  # PromQL for the baseline, e.g. staging p95
    above_baseline_pct: Number | None = None
    for_: Duration = Field(alias="for")
    action: Action
    level: Name
    no_data: NoData = "hold"  # Prometheus answered with no series (or only NaN): what that means
    # Prometheus did not answer (unreachable, timed out, HTTP error) for two polls: the trigger is
    # blind. "hold" blocks advancing and never acts; "breach" counts it as breaching (fail closed).
    on_query_failure: QueryFailure = "hold"
    interval: PositiveDuration | None = None  # how often a check-backed trigger re-runs its check
    unit: Name = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        if (self.query is None) == (self.check is None):
            raise ValueError("give exactly one of query or check")
        if self.query is not None:
            relative = self.baseline is not None or self.above_baseline_pct is not None
            if relative and (self.baseline is None or self.above_baseline_pct is None):
                raise ValueError("a relative threshold needs both baseline and above_baseline_pct")
            if relative == (self.threshold is not None):
                raise ValueError("give either threshold, or baseline with above_baseline_pct")
        return self


class KillSwitch(Model):
    gateway: Ident
    flag: Name = "canary.enable"
    value: StrictBool = False
    notify: Name = ""  # channel told of a rollback, e.g. "#error-budget"
    verify_query: str | None = None  # canary request rate; must fall to ~0 after the kill
    verify_within: PositiveDuration = timedelta(minutes=2)
    retries: Annotated[Count, Field(ge=0, le=10)] = 3
