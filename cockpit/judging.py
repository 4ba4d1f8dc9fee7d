"""The guard's judge: every `interval` of a soak, each [judge] metric asked of Prometheus for
both tracks over the soak so far (range queries on the monitor's step, at most an hour back, as
triggers are), judged by core.judge, journaled (judgment_made) and, with action = "rollback",
the kill switch pulled after `for` Fail judgments in a row. The pure parts (the window, the first
judgment's wait, the counts, samples to a journaled judgment, when Fails roll back) are functions
here that the rehearsal (cockpit.rehearsal_judging) runs over history: one judge, two clocks."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta

from cockpit.adapters.metrics import MetricsSource, QueryResult
from cockpit.config import Judge, JudgeMetric
from cockpit.core import events as ev
from cockpit.core.evaluation import CriterionView
from cockpit.core.judge import EventCounts, JudgeRules, Judgment, MetricSamples, judge
from cockpit.core.triggers import CATCH_UP_S
from cockpit.engine import Engine

log = logging.getLogger(__name__)

Query = Callable[..., Awaitable[QueryResult]]  # the monitor's bounded, counted query


def window(started: datetime, soak: timedelta, interval: timedelta, now: datetime) -> tuple[datetime, datetime]:
    """What a judgment at `now` judges: the soak so far, or the last soak-long stretch once it is
    over (an interval when the phase has no soak), never more than an hour back (as triggers)."""
    span = max(soak, interval).total_seconds()
    start = max(started, now - timedelta(seconds=min(span, CATCH_UP_S)))
    return start, now


def first_wait_s(plan: Judge, step_s: float) -> float:
    """How far into a soak the first judgment is due: min_samples steps (an interval at least)."""
    return max(plan.interval.total_seconds(), (plan.min_samples - 1) * step_s)


def gathering(samples: Iterable[MetricSamples], min_samples: int, elapsed_s: float, first_s: float,
              judged_before: bool) -> str:
    """Why a soak's first judgment waits a little longer ("" when it does not): a track that
    has begun late (a canary's series starts with its traffic; rate() needs two scrapes) has
    fewer than min_samples yet. Judged anyway once the soak is twice the first wait old: a
    track that still has too few samples then is Nodata, truthfully."""
    if judged_before or elapsed_s >= 2 * first_s:
        return ""
    for s in samples:
        if len(s.canary) < min_samples or len(s.baseline) < min_samples:
            return (f"not judged yet: {s.name} has {len(s.canary)} canary and {len(s.baseline)} baseline "
                    f"samples of the {min_samples} each needs")
    return ""


def count_value(v: float | None) -> float:
    """An events or exposure answer as the judge counts it: no data, NaN or infinite is none."""
    return v if v is not None and math.isfinite(v) else 0.0


def event_counts(canary_events: float, baseline_events: float, canary_exposure: float,
                 baseline_exposure: float) -> EventCounts:
    return EventCounts(canary_events=round(canary_events), baseline_events=round(baseline_events),
                       canary_exposure=canary_exposure, baseline_exposure=baseline_exposure)


def judgment(plan: Judge, rules: JudgeRules, phase: int, span: tuple[datetime, datetime], criteria: tuple[str, ...],
             samples: Mapping[str, MetricSamples]) -> ev.JudgmentMade:
    """Both tracks' samples of one window judged (core.judge) and journaled as the guard does."""
    return journaled(judge(rules, list(samples.values())), phase, span, criteria, plan, samples)


def rolls_back(plan: Judge, verdict: str, fails_in_row: int) -> bool:
    """action = "rollback": the `for`-th Fail judgment in a row of a phase pulls the kill switch."""
    return plan.action == "rollback" and verdict == "Fail" and fails_in_row >= plan.for_


def journaled(found: Judgment, phase: int, span: tuple[datetime, datetime], criteria: tuple[str, ...],
              judge_plan: Judge, samples: Mapping[str, MetricSamples]) -> ev.JudgmentMade:
    """A core Judgment as the journal keeps it (every number the faces show)."""
    units = {m.name: m.unit for m in judge_plan.metrics}
    rows = []
    for m in found.metrics:
        got = samples.get(m.name)
        spread = m.spread
        rows.append(ev.MetricJudged(
            name=m.name, classification=str(m.classification), reason=m.reason, unit=units.get(m.name, ""),
            critical=m.critical,
            canary_samples=m.canary.count if m.canary else (len(got.canary) if got else 0),
            baseline_samples=m.baseline.count if m.baseline else (len(got.baseline) if got else 0),
            canary_median=_finite(m.canary.median if m.canary else None),
            baseline_median=_finite(m.baseline.median if m.baseline else None),
            estimate=_finite(m.estimate), lower=_finite(m.lower), upper=_finite(m.upper), band=_finite(m.band),
            effect=_finite(m.effect), count_p=_finite(m.count_p),
            spread_ratio=_finite(spread.ratio if spread else None), spread_flagged=bool(spread and spread.flagged),
        ))
    return ev.JudgmentMade(phase=phase, score=found.score, verdict=str(found.verdict), reason=found.reason,
                           window_start=span[0], window_end=span[1], metrics=tuple(rows), criteria=criteria)


def _finite(v: float | None) -> float | None:
    """NaN and infinities are no JSON: an undefined number is journaled as none."""
    return v if v is not None and math.isfinite(v) else None


class Judging:
    """One soak's judgments: when the next is due, and the samples each is made on."""

    def __init__(self, engine: Engine, metrics: MetricsSource, query: Query, step_s: float):
        self.engine, self.metrics, self.query, self.step_s = engine, metrics, query, step_s
        self.plan: Judge = engine.plan.judge  # type: ignore[assignment]
        self.rules = self.plan.rules()
        self._soak: tuple | None = None
        self._last: datetime | None = None  # when this soak was last judged
        self.error = ""  # why the last due judgment could not be made

    def due(self, now: datetime) -> bool:
        state = self.engine.state
        if not state.live or state.status != "live" or state.phase is None or state.phase_started_at is None:
            return False
        if self._soak != (state.phase, state.phase_started_at):  # a new soak: judged afresh
            self._soak, self._last, self.error = (state.phase, state.phase_started_at), None, ""
        if self._last is None:  # the first judgment waits for min_samples steps on each track
            return (now - state.phase_started_at).total_seconds() >= self.first_s
        return now - self._last >= self.plan.interval

    @property
    def first_s(self) -> float:
        return first_wait_s(self.plan, self.step_s)

    def gathering(self, now: datetime, samples: dict[str, MetricSamples]) -> str:
        """Why this soak's first judgment waits a little longer (module `gathering`)."""
        started = self.engine.state.phase_started_at
        if started is None:
            return ""
        return gathering(samples.values(), self.rules.min_samples, (now - started).total_seconds(), self.first_s,
                         self._last is not None)

    async def round(self, now: datetime, criteria: dict[str, CriterionView]) -> ev.JudgmentMade | None:
        """Judge when due; the judgment is journaled and shown on the gate's judge criteria."""
        if not self.due(now):
            return None
        state = self.engine.state
        phase = state.phase
        if phase is None or state.phase_started_at is None:  # nothing soaking: nothing to judge
            return None
        spec = self.engine.plan.phases[phase]
        span = window(state.phase_started_at, spec.soak, self.plan.interval, now)
        judged_ids = tuple(c.id for c in spec.gate.auto if c.source == "judge")
        samples, error = await self._samples(span)
        if not error and (wait := self.gathering(now, samples)):
            for cid in judged_ids:
                criteria[cid] = CriterionView(None, None, wait)
            return None
        if error:
            self.error = error
            for cid in judged_ids:
                criteria[cid] = CriterionView(None, None, f"not judged: {error}")
            return None
        loop = asyncio.get_running_loop()
        payload = await loop.run_in_executor(None, judgment, self.plan, self.rules, phase, span, judged_ids, samples)
        self._last, self.error = now, ""
        for cid in judged_ids:
            passed = {"Pass": True, "Fail": False}.get(payload.verdict)
            criteria[cid] = CriterionView(passed, payload.score, f"judged {payload.verdict}: {payload.reason}")
        self.engine.observe_judgment(payload)
        await self._maybe_roll_back(phase, payload)
        return payload

    async def _samples(self, span: tuple[datetime, datetime]) -> tuple[dict[str, MetricSamples], str]:
        """Every metric on both tracks (and its counts), asked at once; the first failure, if any."""
        seconds = (span[1] - span[0]).total_seconds()
        asked = await asyncio.gather(*(self._metric(m, span, seconds) for m in self.plan.metrics))
        errors = [e for _, e in asked if e]
        return {s.name: s for s, _ in asked}, (errors[0] if errors else "")

    async def _metric(self, m: JudgeMetric, span, seconds: float) -> tuple[MetricSamples, str]:
        canary, baseline = await asyncio.gather(
            self.query(self.metrics.range, self.plan.query(m.query, "canary"), span[0], span[1], self.step_s),
            self.query(self.metrics.range, self.plan.query(m.query, "baseline"), span[0], span[1], self.step_s),
        )
        counts = None
        if m.events is not None and m.exposure is not None:
            answers = await asyncio.gather(*(
                self.query(self.metrics.instant, self.plan.query(q, track, seconds), span[1])
                for q in (m.events, m.exposure) for track in ("canary", "baseline")))
            for a in answers:
                if a.status == "error":
                    return MetricSamples(m.name, (), ()), f"{m.name}: {a.error}"
            ce, be, cx, bx = (count_value(a.value if a.status == "ok" else None) for a in answers)
            counts = event_counts(ce, be, cx, bx)
        for track, a in (("canary", canary), ("baseline", baseline)):
            if a.status == "error":
                return MetricSamples(m.name, (), ()), f"{m.name} ({track}): {a.error}"
        return MetricSamples(m.name, tuple(s.value for s in canary.samples),
                             tuple(s.value for s in baseline.samples), counts), ""

    async def _maybe_roll_back(self, phase: int, payload: ev.JudgmentMade) -> None:
        """action = "rollback": `for` Fail judgments in a row pull the kill switch, once."""
        state = self.engine.state
        gate = state.gates.get(phase)
        judged = gate.judged if gate is not None else None
        if judged is None or not rolls_back(self.plan, payload.verdict, judged.fails_in_row) or state.kill is not None:
            return
        reason = (f"judge: {self.plan.for_} Fail judgments in a row (score {payload.score:g}): {payload.reason}")
        out = await self.engine.kill(reason, trigger="judge")
        if not out.ok:
            log.error("judge rollback: %s", "; ".join(out.reasons))
