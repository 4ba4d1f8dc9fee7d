"""Preflight checks: freeze windows, commands, HTTP, PromQL, reports, rehearsals."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, Strict, StrictBool, field_validator, model_validator

from cockpit.config.fields import ClockTime, Count, FilePath, Ident, Model, Name, Number, PositiveDuration, Weekday
from cockpit.config.secrets import SecretRef
from cockpit.config.urls import _plain_url
from cockpit.core.compare import Comparison


def _literal(value: Any) -> Any:
    """What an expectation compares with: true/false, a finite number or a string."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError("give true/false, a number or a string")
    return value


class Expectation(Model):
    """A value found at a dotted path in JSON, compared to a literal: `summary.critical == 0`."""

    path: str
    comparison: Comparison = Comparison.EQ
    value: Annotated[StrictBool | float | str, BeforeValidator(_literal)]


class _Check(Model):
    id: Ident
    name: Name
    description: str = ""


class FreezeWindowCheck(_Check):
    type: Literal["freeze_window"]
    weekday: Weekday
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindowCheck:
        if self.end <= self.start:
            raise ValueError("end must be after start (a window within one UTC day)")
        return self


class CommandCheck(_Check):
    type: Literal["command"]
    argv: list[str] = Field(min_length=1)
    timeout: PositiveDuration = timedelta(seconds=60)


class HttpCheck(_Check):
    type: Literal["http"]
    url: str
    expect_status: Annotated[Count, Field(ge=100, le=599)] = 200
    expect_json: Expectation | None = None
    timeout: PositiveDuration = timedelta(seconds=10)
    token: SecretRef | None = None

    _plain_url = field_validator("url")(lambda cls, url: _plain_url(url))


class PromQLCheck(_Check):
    type: Literal["promql"]
    query: str
    comparison: Comparison
    threshold: Number


class ReportCheck(_Check):
    type: Literal["report"]
    file: FilePath
    expect: Expectation


class RehearsalCheck(_Check):
    """The plan's query-backed triggers rehearsed over the last `days` (cockpit.rehearsal, quiet span):
    passes when none would have fired. The trigger queries read the canary; `substitute` rewrites
    each query and baseline (`'track="canary"' = 'track="stable"'`) so they read the stable version."""

    type: Literal["rehearsal"]
    days: Annotated[float, Strict(), Field(gt=0, le=30, allow_inf_nan=False)] = 7.0
    triggers: list[Ident] = []  # only these; none: every query-backed trigger
    substitute: dict[str, str] = {}


Check = Annotated[
    FreezeWindowCheck | CommandCheck | HttpCheck | PromQLCheck | ReportCheck | RehearsalCheck,
    Field(discriminator="type"),
]
