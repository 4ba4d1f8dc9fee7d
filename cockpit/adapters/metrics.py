"""The metrics-source protocol and its typed results: a query never raises into the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Status = Literal["ok", "no_data", "error"]


@dataclass(frozen=True)
class Sample:
    ts: float  # unix seconds
    value: float


@dataclass(frozen=True)
class QueryResult:
    """What one query gave: a value (instant), samples (range), no data, or an error message.

    `no_data` is an answer (Prometheus answered, the query has no series or only NaN: the plan's
    `no_data` decides); `error` is no answer (unreachable, timed out, HTTP error, a bad query)."""

    status: Status
    value: float | None = None
    samples: tuple[Sample, ...] = field(default=())
    error: str | None = None
    note: str = ""  # why an answer has no data, when the source can tell ("only NaN: no traffic?")

    @classmethod
    def failed(cls, message: str) -> QueryResult:
        return cls(status="error", error=message)


class MetricsSource(Protocol):
    """Blocking; callers run it in worker threads. Every failure is a QueryResult, never an exception."""

    def instant(self, query: str, at: datetime) -> QueryResult: ...

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> QueryResult: ...
