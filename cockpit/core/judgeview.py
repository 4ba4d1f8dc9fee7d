"""A journaled judgment as faces show it: one line for the verdict, a row per metric with the
shift and its interval drawn against the tolerance band (the Analysis view, `status`, the report)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.state import RolloutState

VERDICT_ROLE = {"Pass": "ok", "Marginal": "warn", "Fail": "breach"}
CLASS_ROLE = {"Pass": "ok", "High": "breach", "Low": "breach", "Nodata": "muted",
              "NodataFailMetric": "breach", "Error": "breach"}


@dataclass(frozen=True)
class MetricRow:
    """One judged metric: canary vs baseline, the shift with its interval and band, the effect,
    its class and why; the numbers too, so a face can draw the interval."""

    name: str
    classification: str
    role: str
    canary: str  # the canary's median, in the metric's unit
    baseline: str
    shift: str  # "+58.5 ms (+53.5 ms to +63.4 ms)"
    band: str  # "±14.6 ms"
    effect: str  # "×1.3"
    samples: str  # "240 / 240" (canary / baseline)
    reason: str
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    band_value: float | None = None


@dataclass(frozen=True)
class JudgmentView:
    """A phase's latest judgment: verdict, score, the window it judged, why, and every metric."""

    phase: int
    phase_name: str
    verdict: str
    role: str
    score: str
    at: datetime
    window: str  # "14:00:00Z–14:20:00Z (20m)"
    reason: str
    line: str  # the one line `status` and the go/no-go dialog show
    metrics: tuple[MetricRow, ...]
    marginal_waits: bool = False  # Marginal: the gate waits for its owners


def signed(v: float | None, unit: str = "") -> str:
    """A shift with its sign: `+58.5 ms`, `-3 ms`, `—` when there is none."""
    if v is None or math.isnan(v):
        return words.NO_DATA
    return ("+" if v > 0 else "") + words.value(v, unit)


def metric_row(m: ev.MetricJudged) -> MetricRow:
    interval = f" ({signed(m.lower, m.unit)} to {signed(m.upper, m.unit)})" if m.lower is not None else ""
    return MetricRow(
        name=m.name, classification=m.classification, role=CLASS_ROLE.get(m.classification, "warn"),
        canary=words.value(m.canary_median, m.unit), baseline=words.value(m.baseline_median, m.unit),
        shift=signed(m.estimate, m.unit) + interval,
        band="" if m.band is None else "±" + words.value(m.band, m.unit),
        effect="" if m.effect is None else "×" + words.value(m.effect),
        samples=f"{words.count(m.canary_samples)} / {words.count(m.baseline_samples)}",
        reason=m.reason, estimate=m.estimate, lower=m.lower, upper=m.upper, band_value=m.band,
    )


def judgment_view(plan: Any, state: RolloutState, phase: int) -> JudgmentView | None:
    """The latest judgment of `phase`, or None when the judge has not judged it."""
    gate = state.gates.get(phase)
    judged = gate.judged if gate else None
    if judged is None:
        return None
    j = judged.judgment
    names = [p.name for p in plan.phases]
    name = names[phase] if 0 <= phase < len(names) else f"phase {phase + 1}"
    span = words.duration(j.window_end - j.window_start)
    waits = j.verdict == "Marginal" and bool(j.criteria)
    tail = " · the owners decide" if waits else ""
    return JudgmentView(
        phase=phase, phase_name=name, verdict=j.verdict, role=VERDICT_ROLE.get(j.verdict, "warn"),
        score=words.value(j.score), at=judged.at,
        window=f"{words.clock(j.window_start)}–{words.clock(j.window_end)} ({span})",
        reason=j.reason,
        line=f"Judge {name}: {j.verdict} · score {words.value(j.score)} · {j.reason}{tail}",
        metrics=tuple(metric_row(m) for m in j.metrics), marginal_waits=waits,
    )


def judgment_views(plan: Any, state: RolloutState) -> dict[int, JudgmentView]:
    """The latest judgment of every phase the judge judged, by phase."""
    return {phase: view for phase in sorted(state.gates) if (view := judgment_view(plan, state, phase)) is not None}


def shift_bar(row: MetricRow, width: int) -> str:
    """The shift's interval drawn against the tolerance band on a zero-centred axis of `width`
    cells: `░` the band (±tolerance × |shift|), `━` the interval, `●` the estimate, `│` zero. A
    Pass whose interval straddles the band reads at a glance; a High sits right of it."""
    if width < 5 or row.estimate is None or row.lower is None or row.upper is None:
        return " " * max(width, 0)
    band = row.band_value or 0.0
    reach = max(abs(row.lower), abs(row.upper), band, 1e-12) * 1.1
    half = (width - 1) / 2

    def at(v: float) -> int:
        return max(0, min(width - 1, round(half + v / reach * half)))

    cells = [" "] * width
    for i in range(at(-band), at(band) + 1):
        cells[i] = "░"
    for i in range(at(row.lower), at(row.upper) + 1):
        cells[i] = "━"
    cells[at(0.0)] = "│" if cells[at(0.0)] != "━" else "┿"
    cells[at(row.estimate)] = "●"
    return "".join(cells)
