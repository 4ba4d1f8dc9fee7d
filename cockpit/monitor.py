"""The poll → evaluate → act loop: triggers, gate criteria, budget and connection health.

Queries are blocking (prometheus-api-client), so each runs in a thread of the monitor's
own pool under a deadline; all of one round run concurrently and one slow query delays no
other. A check-backed trigger's check runs as a background task, so a slow `cosign` never
holds a round (nor makes every other gauge stale). The verdicts go to the engine, which
journals transitions and acts on fired triggers. An observer's monitor computes the same
gauges, and the follower engine ignores them.

Nothing raises out of `poll()`: a failed query is an error on its gauge and in `health`; a
bug in one evaluation is recorded on that gauge and in `faults`, and the round goes on. A
trigger whose queries keep failing is blind: once its gauge is stale (2 poll intervals) it is
judged by its `on_query_failure` (default hold: it blocks advancing, never rolls back on its
own), not by `no_data`, which is about an answer without a series: one lost answer is not a
rollback, a dead Prometheus is neither a pass nor a security incident.

A round judges, per trigger, every sample since the last round that judged its samples (it asks
Prometheus for that range, at most an hour back: core.triggers.judge_round), so a round that
falls behind still sees a breach that began and ended between two rounds. Rounds are due one
poll interval apart (`until_due`); a round's lateness is measured on the engine's clock and the
wall, and a spell of late rounds is journaled (`round_late`, core.rounds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cockpit import guard_work
from cockpit.adapters.metrics import MetricsSource, QueryResult, Sample
from cockpit.config import Criterion, Trigger
from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.budget import BudgetBurn, burn
from cockpit.core.evaluation import CriterionView, Evaluation, GuardId, Health
from cockpit.core.rounds import LateNews, LateRound, LateSpell, late_spell, lateness
from cockpit.core.triggers import (
    TriggerTrack,
    WindowVerdict,
    check_verdict,
    evaluate_criterion,
    judge_round,
    no_data_speaks,
    relative_threshold,
    round_bounds,
    unjudged_s,
)
from cockpit.engine import Engine
from cockpit.narrate import say, short_name
from cockpit.store.chain import JournalError

if TYPE_CHECKING:
    from cockpit.adapters.alertmanager import AlertmanagerClient

log = logging.getLogger(__name__)

HISTORY = 40  # sparkline points kept per gauge
FAULTS_KEPT = 20  # internal errors kept for the screen
CHECK_INTERVAL = timedelta(minutes=5)  # a check-backed trigger without `interval`
GATEWAY_TIMEOUT_S = 5.0
NO_LIVE_DATA = ("no live data: every target its series come from is down (scrapes fail, up == 0); "
                "Prometheus still answers from the last minutes of old samples")


@dataclass
class CheckSamples:
    """A check-backed trigger's history: 1.0 per failed run, 0.0 per passed one."""

    samples: list[Sample] = field(default_factory=list)
    last_run: datetime | None = None  # when the latest run started


@dataclass
class _Tally:
    """One round's queries: how many were sent, how many failed, the first failure."""

    sent: int = 0
    failed: int = 0
    first_error: str = ""


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
        # Wall-clock bound on one query, over the source's own timeout (connect + read).
        timeout = getattr(metrics, "timeout_s", None)
        self.query_deadline_s = 2 * timeout + 1 if timeout else 30.0
        self.tracks: dict[str, TriggerTrack] = {t.id: TriggerTrack() for t in engine.plan.triggers}
        self.criteria: dict[str, CriterionView] = {}  # the current soak's, see _criteria_phase
        self.budget: BudgetBurn | None = None
        gw = engine.gateway
        self.health = {
            "prometheus": Health("prometheus", endpoint=getattr(metrics, "endpoint", "") if metrics else ""),
            "gateway": Health("gateway", endpoint=getattr(gw, "name", "") if gw else ""),
        }
        self.faults: deque[str] = deque(maxlen=FAULTS_KEPT)  # internal errors, newest last
        self._journal_said: dict[str, str] = {}  # what -> the journal problem last logged for it
        self.rounds = 0
        self._checks: dict[str, CheckSamples] = {}
        self._check_tasks: dict[str, asyncio.Task] = {}
        self._criteria_phase: tuple | None = None
        self._alertmanager: AlertmanagerClient | None = None
        self._first_poll: datetime | None = None
        self._last_round: datetime | None = None  # when the previous round started, on the engine's clock
        self._last_wall: float | None = None  # ... and on the wall (monotonic)
        self._late: LateSpell | None = None  # a spell of late rounds, until they are on time again
        self._judged: dict[str, float] = {}  # per trigger: the `now` of the last round that judged its samples
        self._tally = _Tally()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cockpit-query")
        self._listeners: list[Callable[[], None]] = []
        self.judging = None  # the plan's [judge], run beside the gate's criteria (cockpit.judging)
        if engine.plan.judge is not None and metrics is not None:
            from cockpit.judging import Judging

            self.judging = Judging(engine, metrics, self._query, self.step_s)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Called after every round, on the event loop."""
        self._listeners.append(listener)

    def close(self) -> None:
        for task in self._check_tasks.values():
            if not task.done():
                try:
                    task.cancel()
                except RuntimeError:  # its loop already closed (the app has exited): nothing runs it
                    pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def settle(self) -> None:
        """Wait for check runs in flight (tests, and a clean shutdown)."""
        running = [t for t in self._check_tasks.values() if not t.done()]
        if running:
            await asyncio.wait(running)

    # -- one round -----------------------------------------------------------------------------

    async def poll(self) -> None:
        """One round: every trigger, the current gate's criteria, the budget, the gateway."""
        now, wall = self.engine.clock.now(), time.monotonic()
        late = self._late_round(now, wall)
        self._first_poll = self._first_poll or now
        try:
            self.engine.refresh()
        except Exception as e:  # noqa: BLE001 - the loop must outlive a bad read
            self._fault("journal follow", e)
        self._tally = _Tally()
        await asyncio.gather(
            *(self._guarded(f"trigger {t.id}", self._trigger(t, now), t.id) for t in self.engine.plan.triggers),
            self._guarded("criteria", self._criteria(now)),
            self._guarded("budget", self._budget(now)),
            self._guarded("gateway", self._gateway(now)),
        )
        self._prometheus_health(now)
        self._say_late(late)  # after the round: a late round's kill waits for no journal line about it
        self.rounds += 1
        self._last_round, self._last_wall = now, wall
        for listener in self._listeners:
            try:
                listener()
            except Exception as e:  # noqa: BLE001 - a screen bug must not stop the rollout's watch
                self._fault("listener", e)

    async def run(self) -> None:
        """Poll forever on the engine's clock, a round every poll interval (never overlapping)."""
        while True:
            await self.poll()
            await self.engine.clock.sleep(self.until_due())

    def until_due(self) -> float:
        """Seconds on the engine's clock until the next round is due: one poll interval after this
        one started (0 when it is late already: the next round starts at once, and catches up)."""
        if self._last_round is None:
            return 0.0
        due = self._last_round + timedelta(seconds=self.poll_s)
        return max(0.0, (due - self.engine.clock.now()).total_seconds())

    # -- lateness ------------------------------------------------------------------------------

    def _late_round(self, now: datetime, wall: float) -> LateRound:
        """How long after it was due this round started, on the engine's clock and on the wall."""
        prev = self._last_round
        if prev is None or self._last_wall is None:
            return LateRound(0.0, 0.0, now.timestamp())
        speed = float(getattr(self.engine.clock, "speed", 1.0) or 1.0)  # a demo's clock runs faster than the wall
        return LateRound(
            late_s=lateness(prev.timestamp() + self.poll_s, now.timestamp()),
            wall_late_s=lateness(self._last_wall + self.poll_s / speed, wall),
            judged_since=prev.timestamp(),
            unjudged_s=unjudged_s(now.timestamp(), prev.timestamp()),
        )

    def _say_late(self, late: LateRound) -> None:
        """Journal a spell of late rounds when it begins, gets twice as late, and ends (core.rounds)."""
        self._late, news = late_spell(self._late, late, self.poll_s)
        if news is not None:
            self._journal_late(news)

    def _journal_late(self, news: LateNews) -> None:
        r, tz = news.round, self.engine.clock.now().tzinfo
        payload = ev.RoundLate(
            late_s=round(r.late_s, 3), wall_late_s=round(r.wall_late_s, 3), poll_s=self.poll_s,
            judged_since=datetime.fromtimestamp(r.judged_since, tz), late_rounds=news.late_rounds,
            unjudged_s=round(r.unjudged_s, 3), caught_up=news.caught_up,
        )
        log.log(logging.INFO if news.caught_up else logging.WARNING, "%s",
                say(ev.make_record(seq=0, ts=self.engine.clock.now(), actor=self.engine.actor, payload=payload,
                                   prev="")))
        if self.engine.follower:
            return
        try:
            self.engine._append(payload)
        except Exception as e:  # noqa: BLE001 - a journal that will not take it stops no round
            log.error("cannot journal %s: %s", payload.KIND, e)

    async def _guarded(self, what: str, coro, trigger_id: str | None = None) -> None:
        try:
            await coro
        except Exception as e:  # noqa: BLE001 - one broken evaluation must not stop the others
            message = self._fault(what, e)
            if trigger_id is not None:
                self.tracks[trigger_id] = self.tracks[trigger_id].record_error(message)

    def _fault(self, what: str, exc: BaseException) -> str:
        if isinstance(exc, JournalError):  # a named journal problem, not a bug: no traceback, and said
            message = f"{what}: {exc}"     # once while it stays the same (not once a round)
            if self._journal_said.get(what) != message:
                self._journal_said[what] = message
                log.error("monitor %s", message)
        else:
            message = f"{what}: internal error: {type(exc).__name__}: {exc}"
            log.error("monitor %s", message, exc_info=exc)
        self.faults.append(message)
        return message

    async def _query(self, call, *args) -> QueryResult:
        """Run one blocking query in the pool, bounded; counted for the round's Prometheus health."""
        self._tally.sent += 1
        loop = asyncio.get_running_loop()
        try:
            result = await asyncio.wait_for(loop.run_in_executor(self._pool, call, *args), self.query_deadline_s)
        except TimeoutError:
            result = QueryResult.failed(f"no answer within {words.duration(self.query_deadline_s)} (monitor deadline)")
        except Exception as e:  # noqa: BLE001 - a source that raises breaks its protocol; still a result
            result = QueryResult.failed(f"query raised {type(e).__name__}: {e}")
        if result.status == "error":
            self._tally.failed += 1
            self._tally.first_error = self._tally.first_error or (result.error or "error")
        return result

    def _health(self, name: str, ok: bool, detail: str, now: datetime) -> None:
        h = self.health[name]
        self.health[name] = replace(
            h, ok=ok, detail=detail, since=now if ok != h.ok else h.since, failures=0 if ok else h.failures + 1
        )

    def _prometheus_health(self, now: datetime) -> None:
        t = self._tally
        if self.metrics is None or t.sent == 0:
            return
        if t.failed == 0:
            self._health("prometheus", True, f"ok ({t.sent} queries)", now)
            return
        word = "down" if t.failed == t.sent else "degraded"
        where = self.health["prometheus"].endpoint
        error = t.first_error if not where or where in t.first_error else f"{where}: {t.first_error}"
        self._health("prometheus", False, f"{word}: {t.failed} of {t.sent} queries failed: {error}", now)

    # -- triggers ------------------------------------------------------------------------------

    async def _trigger(self, trigger: Trigger, now: datetime) -> None:
        if trigger.check is not None:
            self._start_check(trigger, now)
            return
        if self.metrics is None:
            return
        verdict, error = await self._judge(trigger, now)
        track = self.tracks[trigger.id]
        if error is None:
            self.tracks[trigger.id] = track.record(verdict, keep=HISTORY)
        else:
            # Keep the last verdict on the gauge (it goes STALE); only once it is stale does its
            # on_query_failure policy speak (not no_data), so one lost answer is not a rollback.
            track = self.tracks[trigger.id] = track.record_error(error)
            blind_for = self._blind_for(track, now)
            if not no_data_speaks(blind_for, self.poll_s):
                return
            verdict = replace(verdict, why=_blind_why(trigger, verdict, blind_for, error))
        await self.engine.observe_trigger(trigger, verdict)

    def _blind_for(self, track: TriggerTrack, now: datetime) -> float:
        """Seconds without an answer: since the last good one, or since this monitor's first round."""
        assert self._first_poll is not None  # poll sets it before any trigger is judged
        seen = track.last_good_at if track.last_good_at is not None else self._first_poll.timestamp()
        return now.timestamp() - seen

    async def _judge(self, trigger: Trigger, now: datetime) -> tuple[WindowVerdict, str | None]:
        """The round's verdict over every sample since the last round that judged this trigger's
        (core.triggers.judge_round), and the query error when there was one (then judged on no data)."""
        metrics = self.metrics
        assert metrics is not None  # _trigger judges a query only with a source
        judged_until = self._judged.get(trigger.id)
        start, _ = round_bounds(now.timestamp(), trigger.for_.total_seconds(), self.step_s, judged_until)
        window = self._query(metrics.range, trigger.query, datetime.fromtimestamp(start, now.tzinfo), now,
                             self.step_s)
        stopped = getattr(self.metrics, "stopped", None)  # a source that can tell old data from live data
        asked = [window]
        if trigger.baseline is not None:
            asked.insert(0, self._query(metrics.instant, trigger.baseline, now))
        if stopped is not None:
            asked.append(self._query(stopped, trigger.query, now))
        answers = await asyncio.gather(*asked) if len(asked) > 1 else [await window]
        base = answers.pop(0) if trigger.baseline is not None else None
        result = answers[0]
        halted = answers[1] if stopped is not None else None
        threshold, error = trigger.threshold, None
        if base is not None:
            if base.status == "ok":
                # the plan gives a baseline with its above_baseline_pct; an ok instant answer has its value
                assert base.value is not None and trigger.above_baseline_pct is not None
                threshold = relative_threshold(base.value, trigger.above_baseline_pct)
            else:
                threshold = None
            if base.status == "error":
                error = f"baseline: {base.error}"
        if result.status == "error":
            error = result.error or "error"
        elif halted is not None and halted.status == "ok":
            error = NO_LIVE_DATA  # the answer is the last minutes of old samples, not the canary now
        started = self.engine.state.started_at
        since = started.timestamp() if started is not None else None
        # evaluate_window clips at `since`
        samples = list(result.samples) if error is None and threshold is not None else []
        verdict = judge_round(
            samples,
            judged_until=judged_until,
            comparison=trigger.comparison,
            threshold=0.0 if threshold is None else threshold,
            for_s=trigger.for_.total_seconds(),
            step_s=self.step_s,
            now=now.timestamp(),
            # An answer with no series is data (the plan's no_data decides); a query that failed is
            # blindness, judged by on_query_failure (by default: hold, never a rollback on its own).
            no_data=trigger.no_data if error is None else trigger.on_query_failure,
            label=short_name(trigger.name),
            unit=trigger.unit,
            since=since,
        )
        if result.status == "ok" and threshold is not None:
            # Judged (old data from dead targets too: as blindness); after a failed query the next
            # answer judges what this one missed.
            self._judged[trigger.id] = now.timestamp()
        if error is not None:
            return verdict, error
        if threshold is None:  # no baseline to compare with: judged as no data, and says so
            verdict = replace(verdict, threshold=None, why=f"{verdict.why} (baseline has no data)")
        elif result.note and not samples:
            verdict = replace(verdict, why=f"{verdict.why} ({result.note})")
        elif verdict.fired and samples:
            summary = _window_summary(samples, verdict, trigger.unit, self.step_s, since)
            verdict = replace(verdict, why=f"{verdict.why}; {summary}")
        return verdict, error

    # -- check-backed triggers -----------------------------------------------------------------

    def _start_check(self, trigger: Trigger, now: datetime) -> None:
        """Start the trigger's check in the background when due; its verdict lands when it ends."""
        running = self._check_tasks.get(trigger.id)
        engine = self.engine
        if running is not None and not running.done():
            return
        if engine.check_runner is None or engine.follower or engine.state.status != "live":
            return
        history = self._checks.setdefault(trigger.id, CheckSamples())
        if history.last_run is not None and now - history.last_run < (trigger.interval or CHECK_INTERVAL):
            return
        history.last_run = now
        self._check_tasks[trigger.id] = asyncio.create_task(
            self._guarded(f"trigger {trigger.id}", self._run_check(trigger, history), trigger.id),
            name=f"cockpit-check-{trigger.id}",
        )

    async def _run_check(self, trigger: Trigger, history: CheckSamples) -> None:
        """Each failed run is a breaching sample, an error is no data (the no-data policy decides)."""
        assert trigger.check is not None  # _trigger starts a check only for a check-backed trigger
        check = self.engine.plan.check(trigger.check)
        try:
            runner = self.engine.check_runner
            # _start_check starts none without a runner; the plan names only declared checks
            assert runner is not None and check is not None
            outcome = await runner(check)
            status, detail = outcome.status, outcome.detail
        except Exception as e:  # noqa: BLE001 - a runner that raises is a check that did not run
            status, detail = "error", f"{type(e).__name__}: {e}"
        at = self.engine.clock.now().timestamp()
        if status not in ("pass", "fail"):
            status = "error"
        else:
            history.samples = (history.samples + [Sample(at, 1.0 if status == "fail" else 0.0)])[-HISTORY:]
        interval = (trigger.interval or CHECK_INTERVAL).total_seconds()
        verdict = check_verdict(history.samples, for_s=trigger.for_.total_seconds(), interval_s=interval, now=at,
                                no_data=trigger.no_data, label=short_name(trigger.name))
        ran = {"pass": "passed", "fail": "FAILED"}.get(status, "did not run")
        verdict = replace(verdict, why=f"check {trigger.check} {ran}: {detail}" + (
            f" ({verdict.why})" if status == "error" or verdict.state == "breaching" else ""
        ))
        track = self.tracks[trigger.id].record(verdict, keep=HISTORY)
        self.tracks[trigger.id] = replace(track, last_error=detail) if status == "error" else track
        await self.engine.observe_trigger(trigger, verdict)

    def latest(self) -> Evaluation:
        """An in-process evaluator is its own feed (tests, and the guard itself)."""
        return self.snapshot()

    def gauge(self, trigger_id: str):
        """(track, stale age in seconds or None); inf when it never had an answer."""
        return self.snapshot().gauge(trigger_id, self.engine.clock.now())

    def snapshot(self, guard: GuardId | None = None) -> Evaluation:
        """This round as the faces render it (immutable; the guard publishes it)."""
        periods = {
            t.id: max(self.poll_s, (t.interval or CHECK_INTERVAL).total_seconds()) if t.check else self.poll_s
            for t in self.engine.plan.triggers
        }
        return Evaluation(
            at=self._last_round,
            rounds=self.rounds,
            poll_s=self.poll_s,
            guard=guard,
            tracks=dict(self.tracks),
            periods=periods,
            criteria=dict(self.criteria),
            soak=self._criteria_phase,
            budget=self.budget,
            health=dict(self.health),
            faults=tuple(self.faults),
        )

    # -- gate criteria -------------------------------------------------------------------------

    async def _criteria(self, now: datetime) -> None:
        state = self.engine.state
        if state.phase is None or state.phase_started_at is None or not state.live:
            return
        if self._criteria_phase != (state.phase, state.phase_started_at):  # a new soak: forget the last
            self._criteria_phase = (state.phase, state.phase_started_at)
            self.criteria.clear()
        phase = self.engine.plan.phases[state.phase]
        await asyncio.gather(
            *(self._guarded(f"criterion {c.id}", self._alertmanager_criterion(c, state.phase_started_at, now))
              for c in phase.gate.auto if c.source == "alertmanager"),
            *(self._guarded(f"criterion {c.id}", self._criterion(c, state.phase_started_at, now))
              for c in phase.gate.auto if c.source == "prometheus" and self.metrics is not None),
            *([self._guarded("judge", self.judging.round(now, self.criteria))] if self.judging else []),
        )

    def alertmanager(self):
        """The Alertmanager client, when the plan has one (built on first use)."""
        if self._alertmanager is None and self.engine.plan.alertmanager is not None:
            from cockpit.adapters.alertmanager import AlertmanagerClient

            self._alertmanager = AlertmanagerClient(self.engine.plan.alertmanager)
            self.health["alertmanager"] = Health("alertmanager", endpoint=self._alertmanager.endpoint)
        return self._alertmanager

    async def _alertmanager_criterion(self, c: Criterion, since: datetime, now: datetime) -> None:
        """"All monitoring alerts quiet": the alerts firing in Alertmanager now (its rules carry
        their own `for`), judged every round; a failure fails the gate at once, a pass is
        journaled once the soak is over."""
        from cockpit.adapters.alertmanager import AlertmanagerError

        client = self.alertmanager()
        if client is None:
            return
        try:
            alerts = await asyncio.wait_for(client.firing(c.labels), client.config.timeout.total_seconds() + 1)
        except (TimeoutError, AlertmanagerError) as e:
            detail = str(e) or "no answer"
            self._health("alertmanager", False, detail, now)
            self.criteria[c.id] = replace(self.criteria.get(c.id, CriterionView()), detail=f"no answer: {detail}")
            return
        self._health("alertmanager", True, f"{len(alerts)} alerts firing", now)
        value = float(len(alerts))
        assert c.comparison is not None and c.threshold is not None  # the plan's check (Criterion)
        met = c.comparison.holds(value, c.threshold)
        names = sorted({a.get("labels", {}).get("alertname", "?") for a in alerts})
        why = (f"{short_name(c.name)}: {len(alerts)} alerts firing in Alertmanager"
               + (f" ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else "")
               + f", needs {words.limit(c.comparison, c.threshold, c.unit)}")
        self.criteria[c.id] = CriterionView(met, value, why)
        phase = self.engine.state.phase
        assert phase is not None  # criteria are judged in a phase, and a started phase stays set
        soaked = now >= since + self.engine.plan.phases[phase].soak
        if not met or soaked:
            self.engine.observe_criterion(c.id, met, value, why)

    async def _criterion(self, c: Criterion, since: datetime, now: datetime) -> None:
        """Every sample since the phase started must meet the criterion (core.triggers.evaluate_criterion)."""
        assert self.metrics is not None  # _criteria judges prometheus criteria only with a source
        assert c.comparison is not None and c.threshold is not None  # the plan's check (Criterion)
        result = await self._query(self.metrics.range, c.query, since, now, self.step_s)
        if result.status == "error":
            self.criteria[c.id] = replace(self.criteria.get(c.id, CriterionView()), detail=f"no answer: {result.error}")
            return
        verdict = evaluate_criterion(
            result.samples,
            comparison=c.comparison,
            threshold=c.threshold,
            since=since.timestamp(),
            now=now.timestamp(),
            step_s=self.step_s,
            label=short_name(c.name),
            unit=c.unit,
        )
        self.criteria[c.id] = CriterionView(verdict.met, verdict.worst, verdict.why)
        # A failing sample fails the gate at once; "met" is journaled only over the whole soak, so the
        # journal never says a criterion held for a soak it has not seen. Too little data is neither.
        phase = self.engine.state.phase
        assert phase is not None  # criteria are judged in a phase, and a started phase stays set
        soaked = now >= since + self.engine.plan.phases[phase].soak
        if verdict.met is False or (verdict.met and soaked):
            self.engine.observe_criterion(c.id, verdict.met, verdict.worst, verdict.why)

    # -- budget and gateway --------------------------------------------------------------------

    async def _budget(self, now: datetime) -> None:
        if self.metrics is None:
            return
        cats = [c for c in self.engine.plan.budget.categories if c.spend_query]
        if not cats:
            return
        answers = await asyncio.gather(*(self._query(self.metrics.instant, c.spend_query, now) for c in cats))
        spent: dict[str, float | None] = {c.id: None for c in self.engine.plan.budget.categories}
        for c, a in zip(cats, answers, strict=False):
            spent[c.id] = a.value if a.status == "ok" else None
        self.budget = burn(self.engine.plan.budget.categories, spent, now)
        guard_work.observe_budget(self.engine, self.budget)

    async def _gateway(self, now: datetime) -> None:
        gw = self.engine.gateway
        if gw is None:
            return
        try:
            seen = await asyncio.wait_for(gw.read(), timeout=GATEWAY_TIMEOUT_S)
        except TimeoutError:
            self._health("gateway", False, f"no answer within {words.duration(GATEWAY_TIMEOUT_S)}", now)
            return
        except Exception as e:  # noqa: BLE001 - GatewayError, or an adapter that broke its protocol
            self._health("gateway", False, str(e) or type(e).__name__, now)
            return
        flag = "on" if seen.enabled else ("off" if seen.enabled is False else "unknown")
        self._health("gateway", True, f"weight {seen.weight} %, flag {flag}", now)
        self.engine.observe_gateway(seen)  # a share that is not the journal's: GATEWAY DRIFT, journaled once


def _blind_why(trigger: Trigger, verdict: WindowVerdict, blind_for: float, error: str) -> str:
    """A trigger whose queries fail, in operator words: it cannot see, and what its plan does about it."""
    does = "holding" if verdict.state == "no_data_hold" else 'counted as breaching (on_query_failure = "breach")'
    cause = error if error == NO_LIVE_DATA else f"queries failing: {error}"
    return f"{short_name(trigger.name)}: cannot see for {words.duration(blind_for)}, {does}: {cause}"


def _window_summary(samples: list[Sample], verdict: WindowVerdict, unit: str, step_s: float,
                    since: float | None = None) -> str:
    """The values behind a fired verdict: "11 samples 2.45 %..2.71 % from 14:25:00Z to 14:30:00Z"."""
    end = verdict.at if verdict.seen_at is None else verdict.seen_at  # a window that fired between rounds
    start = end - verdict.needed_s - step_s / 2
    if since is not None:  # as evaluate_window: nothing before the start, but the newest slot
        start = max(start, min(since, end - step_s / 2))
    seen = [s for s in samples if start <= s.ts <= end + step_s / 2] or samples
    low, high = min(s.value for s in seen), max(s.value for s in seen)
    span = words.value(low, unit) if low == high else f"{words.value(low, unit)}..{words.value(high, unit)}"
    first, last = (words.clock(datetime.fromtimestamp(s.ts, UTC)) for s in (seen[0], seen[-1]))
    return f"{words.plural(len(seen), 'sample')} {span} from {first} to {last}"
