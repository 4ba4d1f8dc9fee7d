"""History for a rehearsal: one series over a long span, at the plan's step, in chunks under Prometheus' points limit.

Prometheus refuses a range query of more than 11,000 points per series; a week at 15 s is
about 40,000. The span is cut on one grid (start + k * step) into chunks of at most
CHUNK_POINTS, each asked of the source (`MetricsSource.range`) and retried a bounded number of
times; the samples are joined as they came. A gap stays a gap: no sample is invented, NaN is
missing (as live), and what a missing sample means is the plan's `no_data`, judged later by
the guard's own rules. A chunk that keeps failing ends the fetch with the source's error
(which names the endpoint), the query and the chunk's span.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cockpit.adapters.metrics import MetricsSource, Sample

MAX_POINTS = 11_000  # Prometheus' limit per series of one range query
CHUNK_POINTS = 10_000  # what one chunk asks for, under the limit
RETRIES = 2  # after the first try of a chunk
BACKOFF_S = 0.5  # doubled per retry
NOT_RETRIED = re.compile(r"HTTP 4\d\d\b")  # a query Prometheus refuses is refused again


class HistoryError(Exception):
    """A chunk that got no answer after its retries: the source's error, the query, the span."""


@dataclass(frozen=True)
class History:
    """One query's samples from `start` to `end` on the grid start + k * step_s, oldest first."""

    query: str
    start: float
    end: float
    step_s: float
    samples: tuple[Sample, ...]
    chunks: int = 1
    retried: int = 0  # chunks that needed more than one try

    @property
    def expected(self) -> int:
        """Grid points in the span: how many samples a fully covered history holds."""
        return grid_points(self.start, self.end, self.step_s)

    def digest(self) -> str:
        """sha256 of the query and its samples as fetched: two rehearsals on the same data agree on it."""
        h = hashlib.sha256(self.query.encode())
        for s in self.samples:
            h.update(f"\n{s.ts!r} {s.value!r}".encode())
        return h.hexdigest()


def grid_points(start: float, end: float, step_s: float) -> int:
    return int((end - start) // step_s + 1e-9) + 1 if end >= start else 0


def chunks(start: float, end: float, step_s: float, points: int = CHUNK_POINTS) -> list[tuple[float, float]]:
    """The span cut on its grid into (first, last) instants of at most `points` samples each, in order."""
    if step_s <= 0 or points < 1:
        raise ValueError("step_s and points must be positive")
    n = grid_points(start, end, step_s)
    return [(start + k * step_s, start + min(k + points, n) * step_s - step_s) for k in range(0, n, points)]


def fetch_history(
    source: MetricsSource,
    query: str,
    start: float,
    end: float,
    step_s: float,
    *,
    points: int = CHUNK_POINTS,
    retries: int = RETRIES,
    backoff_s: float = BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> History:
    """Every sample of `query` from `start` to `end` (unix seconds) at `step_s`, asked chunk by chunk."""
    if points > MAX_POINTS:
        raise ValueError(f"a chunk of {points} points is over Prometheus' {MAX_POINTS}")
    got: list[Sample] = []
    retried = 0
    cut = chunks(start, end, step_s, points)
    for first, last in cut:
        for attempt in range(retries + 1):
            result = source.range(query, _at(first), _at(last), step_s)
            if result.status != "error":
                break
            if attempt == retries or NOT_RETRIED.search(result.error or ""):
                raise HistoryError(
                    f"{result.error} (range query {_clip(query)!r} from {_iso(first)} to {_iso(last)}, "
                    f"step {step_s:g}s, {attempt + 1} {'try' if attempt == 0 else 'tries'})"
                )
            sleep(backoff_s * 2**attempt)
        retried += attempt > 0
        # Only this chunk's grid: a source that answers wider (a proxy, a cache) adds nothing twice.
        got.extend(s for s in result.samples if first - step_s / 2 <= s.ts <= last + step_s / 2)
    return History(query, start, end, step_s, tuple(got), chunks=len(cut), retried=retried)


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _iso(ts: float) -> str:
    return _at(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clip(query: str, limit: int = 80) -> str:
    return query if len(query) <= limit else query[: limit - 1] + "…"
