"""The poll → evaluate → act loop: triggers, gate criteria, budget and connection health.

Queries are blocking (prometheus-api-client), so each runs in a thread of the monitor's
own pool; all of one round run concurrently and one slow query delays no other. The
verdicts go to the engine, which journals transitions and acts on fired triggers. An
observer's monitor computes the same gauges, and the follower engine ignores them.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from cockpit.adapters.gateway import GatewayError
from cockpit.adapters.metrics import MetricsSource, QueryResult, Sample
from cockpit.config import Criterion, Trigger
from cockpit.core.budget import BudgetBurn, burn
from cockpit.core.compare import Comparison
from cockpit.core.triggers import (
    TriggerTrack,
    evaluate_criterion,
    evaluate_window,
    relative_threshold,
    window_bounds,
)
from cockpit.engine import Engine

HISTORY = 40  # sparkline points kept per gauge


@dataclass
class Health:
    """One connection as the header shows it: up, down (since when, how many failures) or not used."""

    name: str
    ok: bool | None = None  # None: not checked (or not used in this mode)
    detail: str = ""
    since: datetime | None = None
    failures: int = 0

    def update(self, ok: bool, detail: str, now: datetime) -> None:
        if ok != self.ok:
            self.since = now
        self.failures = 0 if ok else self.failures + 1
        self.ok, self.detail = ok, detail


@dataclass
class CriterionView:
    passed: bool | None = None  # None: not evaluated yet (or no data)
    value: float | None = None
    detail: str = "not evaluated yet"


@dataclass
class CheckSamples:
    """A check-backed trigger's history: 1.0 per failed run, 0.0 per passed one."""

    samples: list[Sample] = field(default_factory=list)
    last_run: datetime | None = None


class Monitor:
    def __init__(
        self,
        engine: Engine,
        metrics: MetricsSource | None,
        *,
        poll_s: float | None = None,
        step_s: float | None = None,
    ):
        self.engine = engine
        self.metrics = metrics
        prom = engine.plan.prometheus
        self.poll_s = poll_s or (prom.poll_interval.total_seconds() if prom else 15.0)
        self.step_s = step_s or (prom.step.total_seconds() if prom else 30.0)
        self.tracks: dict[str, TriggerTrack] = {t.id: TriggerTrack() for t in engine.plan.triggers}
        self.criteria: dict[str, CriterionView] = {}
        self.budget: BudgetBurn | None = None
        self.health = {"prometheus": Health("prometheus"), "gateway": Health("gateway")}
        self.rounds = 0
        self._checks: dict[str, CheckSamples] = {}
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cockpit-query")
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Called after every round, on the event loop."""
        self._listeners.append(listener)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- one round -----------------------------------------------------------------------------

    async def _query(self, call, *args) -> QueryResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, call, *args)

    async def poll(self) -> None:
        """One round: every trigger, the current gate's criteria, the budget, the gateway."""
        now = self.engine.clock.now()
        self.engine.refresh()
        results = await asyncio.gather(
            *(self._trigger(t, now) for t in self.engine.plan.triggers),
            self._criteria(now),
            self._budget(now),
            self._gateway(now),
        )
        errors = [r for r in results if isinstance(r, str) and r]
        if self.metrics is not None:
            queried = [t for t in self.engine.plan.triggers if t.query] or self.engine.plan.budget.categories
            if errors:
                down = len(errors) >= len(queried)
                self.health["prometheus"].update(False, ("down: " if down else "degraded: ") + errors[0], now)
            else:
                self.health["prometheus"].update(True, "ok", now)
        self.rounds += 1
        for listener in self._listeners:
            listener()

    async def run(self) -> None:
        """Poll forever on the engine's clock (rescheduled after each round, never overlapping)."""
        while True:
            await self.poll()
            await self.engine.clock.sleep(self.poll_s)

    # -- triggers ------------------------------------------------------------------------------

    async def _trigger(self, trigger: Trigger, now: datetime) -> str:
        """Evaluate one trigger; returns an error message, or "" when it was answered."""
        if trigger.check is not None:
            samples = await self._check_samples(trigger, now)
            comparison, threshold, step = Comparison.GT, 0.5, (trigger.interval or timedelta(minutes=5)).total_seconds()
            if samples is None:
                return ""
        else:
            if self.metrics is None:
                return ""
            threshold = trigger.threshold
            if trigger.baseline is not None:
                base = await self._query(self.metrics.instant, trigger.baseline, now)
                if base.status != "ok":
                    message = f"{trigger.id} baseline: {base.error or 'no data'}"
                    self.tracks[trigger.id] = self.tracks[trigger.id].record_error(message)
                    return message if base.status == "error" else ""
                threshold = relative_threshold(base.value, trigger.above_baseline_pct)
            start, end = window_bounds(now.timestamp(), trigger.for_.total_seconds())
            result = await self._query(
                self.metrics.range, trigger.query, datetime.fromtimestamp(start, now.tzinfo), now, self.step_s
            )
            if result.status == "error":
                self.tracks[trigger.id] = self.tracks[trigger.id].record_error(result.error or "error")
                return f"{trigger.id}: {result.error}"
            samples, comparison, step = list(result.samples), trigger.comparison, self.step_s
        verdict = evaluate_window(
            samples,
            comparison=comparison,
            threshold=threshold,
            for_s=trigger.for_.total_seconds(),
            step_s=step,
            now=now.timestamp(),
            no_data=trigger.no_data,
            label=_label(trigger.name),
            unit=trigger.unit,
        )
        track = self.tracks[trigger.id].record(verdict, keep=HISTORY)
        self.tracks[trigger.id] = track
        await self.engine.observe_trigger(trigger, verdict)
        return ""

    async def _check_samples(self, trigger: Trigger, now: datetime) -> list[Sample] | None:
        """Re-run a check-backed trigger's check every `interval`; None until its first run."""
        history = self._checks.setdefault(trigger.id, CheckSamples())
        interval = trigger.interval or timedelta(minutes=5)
        due = history.last_run is None or now - history.last_run >= interval
        if due and self.engine.check_runner is not None and self.engine.state.status == "live":
            check = self.engine.plan.check(trigger.check)
            outcome = await self.engine.check_runner(check)
            history.last_run = now
            if outcome.status != "error":  # an error is no data, not a pass
                history.samples.append(Sample(now.timestamp(), 1.0 if outcome.status == "fail" else 0.0))
                history.samples = history.samples[-HISTORY:]
        return history.samples if history.last_run else None

    def gauge(self, trigger_id: str):
        """(track, stale age in seconds or None) for the screen."""
        track = self.tracks.get(trigger_id, TriggerTrack())
        return track, track.stale_for(self.engine.clock.now().timestamp(), self.poll_s)

    # -- gate criteria -------------------------------------------------------------------------

    async def _criteria(self, now: datetime) -> str:
        state = self.engine.state
        if self.metrics is None or state.phase is None or state.phase_started_at is None or not state.live:
            return ""
        phase = self.engine.plan.phases[state.phase]
        results = await asyncio.gather(*(self._criterion(c, state.phase_started_at, now) for c in phase.gate.auto))
        return next((r for r in results if r), "")

    async def _criterion(self, c: Criterion, since: datetime, now: datetime) -> str:
        """Every sample since the phase started must meet the criterion (core.triggers.evaluate_criterion)."""
        result = await self._query(self.metrics.range, c.query, since, now, self.step_s)
        view = self.criteria.setdefault(c.id, CriterionView())
        if result.status == "error":
            view.detail = f"no answer: {result.error}"
            return f"{c.id}: {result.error}"
        verdict = evaluate_criterion(
            result.samples,
            comparison=c.comparison,
            threshold=c.threshold,
            since=since.timestamp(),
            now=now.timestamp(),
            step_s=self.step_s,
            label=_label(c.name),
            unit=c.unit,
        )
        view.passed, view.value, view.detail = verdict.met, verdict.worst, verdict.why
        if verdict.met is not None:  # not enough of the soak seen yet is "not evaluated", not a failure
            self.engine.observe_criterion(c.id, verdict.met, verdict.worst, verdict.why)
        return ""

    # -- budget and gateway --------------------------------------------------------------------

    async def _budget(self, now: datetime) -> str:
        if self.metrics is None:
            return ""
        cats = self.engine.plan.budget.categories
        answers = await asyncio.gather(
            *(self._query(self.metrics.instant, c.spend_query, now) for c in cats if c.spend_query)
        )
        spent: dict[str, float | None] = {c.id: None for c in cats}
        for c, a in zip([c for c in cats if c.spend_query], answers):
            spent[c.id] = a.value if a.status == "ok" else None
        self.budget = burn(cats, spent, now)
        self.engine.observe_budget(self.budget)
        return next((f"budget: {a.error}" for a in answers if a.status == "error"), "")

    async def _gateway(self, now: datetime) -> str:
        gw = self.engine.gateway
        if gw is None:
            return ""
        try:
            seen = await asyncio.wait_for(gw.read(), timeout=5)
        except (GatewayError, asyncio.TimeoutError) as e:
            self.health["gateway"].update(False, str(e) or "timed out", now)
            return ""
        self.health["gateway"].update(True, f"weight {seen.weight} %, flag {'on' if seen.enabled else 'off'}", now)
        return ""


def _label(name: str) -> str:
    """The metric part of a criterion or trigger name: "API p95 ≤ 350 ms" -> "API p95"."""
    for sep in (":", " ≤", " ≥", " <", " >", " =", " ("):
        name = name.split(sep)[0]
    return name.strip()
