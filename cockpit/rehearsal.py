"""Rehearsal: a plan's triggers and gate criteria judged over Prometheus history by the guard's own rules.

One implementation, two clocks (DESIGN.md): the guard's round (core.triggers.judge_round, with
round_bounds, the rollout-start clipping, coverage_needed and the no-data policy) is stepped over
history at the plan's poll interval, each round given exactly the samples its live range query
would have returned (the plan's step, on the grid of the round's `now`); a gate criterion is
core.triggers.evaluate_criterion over its soak, as the guard's last round of the soak reads it;
the plan's [judge] judges each soak as the guard's judge does (cockpit.rehearsal_judging).
History is fetched once (adapters.prom_range: chunked, retried, gaps kept) at the greatest
common step of the plan's step and poll interval, so every round's grid is in it.

Three questions: `at` (or a past rollout's phase starts): when would each trigger have breached
and fired, what would each gate have read, would the rollout have been killed and when;
`quiet`: on a span known healthy, how often each trigger would have fired and how many soaks each
criterion would have failed (the false-alarm rate); `sweep`: both for a range of one trigger's
thresholds. Not rehearsed, and said so: check-backed triggers (a command now, not history),
Alertmanager criteria (it keeps no history), and blindness (a query that failed is no history:
the rehearsal stops, naming the endpoint, instead of judging on `on_query_failure`).
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from cockpit.adapters.metrics import MetricsSource, Sample
from cockpit.adapters.prom_range import History, fetch_history
from cockpit.core.compare import Comparison
from cockpit.core.events import PhaseStarted
from cockpit.core.triggers import (
    NoDataPolicy,
    WindowVerdict,
    evaluate_criterion,
    judge_round,
    relative_threshold,
    round_bounds,
)
from cockpit.rehearsal_judging import QuietJudged, Ranges, SoakJudged, judge_soak, judged_phases, quiet_soaks

ON_GRID = 1e-6  # seconds: a sample this close to a grid instant is on it
FETCHES_AT_ONCE = 4  # the triggers' range queries asked of Prometheus at a time


class RehearsalError(Exception):
    """What a rehearsal cannot do as asked (no trigger of that id, a sweep without a span, ...)."""


# -- the plan as the rehearsal reads it ----------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One query-backed trigger: what `judge_round` needs, and what the guard does when it fires."""

    id: str
    label: str
    query: str
    comparison: Comparison
    threshold: float | None  # None: relative to `baseline`
    for_s: float
    no_data: NoDataPolicy
    action: str
    unit: str = ""
    baseline: str | None = None
    pct: float | None = None  # above the baseline, for a relative trigger

    @property
    def limit(self) -> float | None:
        """What a sweep moves: the threshold, or the percentage over the baseline."""
        return self.pct if self.baseline else self.threshold

    def at_limit(self, limit: float) -> Rule:
        return replace(self, pct=limit) if self.baseline else replace(self, threshold=limit)


@dataclass(frozen=True)
class CriterionRule:
    phase: int
    id: str
    label: str
    query: str
    comparison: Comparison
    threshold: float
    unit: str = ""


@dataclass(frozen=True)
class Timing:
    poll_s: float
    step_s: float

    @property
    def grid_s(self) -> float:
        """The fetch step: every round's grid (now, now - step, ...) is on it."""
        a, b = round(self.poll_s * 1000), round(self.step_s * 1000)
        return math.gcd(a, b) / 1000


def rules(plan, substitute: Mapping[str, str] | None = None) -> tuple[list[Rule], list[str]]:
    """The plan's query-backed triggers as Rules, and the ids of those not rehearsed (check-backed).
    `substitute`: text replaced in each query and baseline (the canary's label by the stable version's)."""
    from cockpit.narrate import short_name

    def rewrite(query: str | None) -> str | None:
        for old, new in (substitute or {}).items():
            query = None if query is None else query.replace(old, new)
        return query

    out, skipped = [], []
    for t in plan.triggers:
        if t.query is None:
            skipped.append(t.id)
            continue
        out.append(Rule(t.id, short_name(t.name), rewrite(t.query) or t.query, t.comparison, t.threshold,
                        t.for_.total_seconds(), t.no_data, t.action, t.unit, rewrite(t.baseline),
                        t.above_baseline_pct))
    return out, skipped


def criterion_rules(plan) -> tuple[list[CriterionRule], list[str]]:
    """Every phase's Prometheus criteria, and `phase/criterion` for those not rehearsed (Alertmanager)."""
    from cockpit.narrate import short_name

    out, skipped = [], []
    for i, phase in enumerate(plan.phases):
        for c in phase.gate.auto:
            if c.source == "alertmanager":
                skipped.append(f"{i + 1}/{c.id}")
                continue
            if c.source != "prometheus":  # the judge's: cockpit.rehearsal_judging
                continue
            out.append(CriterionRule(i, c.id, short_name(c.name), c.query, c.comparison, c.threshold, c.unit))
    return out, skipped


def timing(plan, poll_s: float | None = None, step_s: float | None = None) -> Timing:
    prom = plan.prometheus
    return Timing(poll_s or (prom.poll_interval.total_seconds() if prom else 15.0),
                  step_s or (prom.step.total_seconds() if prom else 30.0))


# -- the guard's rounds over history ----------------------------------------------------------


class Series:
    """A history's samples with their times, for the slices each round asks for."""

    def __init__(self, samples: Sequence[Sample]):
        self.samples = list(samples)
        self.times = [s.ts for s in self.samples]

    def between(self, start: float, end: float) -> list[Sample]:
        return self.samples[bisect_left(self.times, start - ON_GRID):bisect_right(self.times, end + ON_GRID)]

    def at(self, ts: float) -> float | None:
        """The value on the grid at `ts` (what an instant query at `ts` answers), None: no data."""
        i = bisect_left(self.times, ts - ON_GRID)
        if i < len(self.times) and self.times[i] <= ts + ON_GRID:
            return self.samples[i].value
        return None


def on_grid(samples: Iterable[Sample], anchor: float, step_s: float, grid_s: float) -> list[Sample]:
    """The samples a range query on the grid of `anchor` at `step_s` returns, out of a finer history."""
    if abs(step_s - grid_s) < ON_GRID:
        return list(samples)
    return [s for s in samples if abs(((s.ts - anchor) / step_s) - round((s.ts - anchor) / step_s)) * step_s < ON_GRID]


def judge_rounds(rule: Rule, series: Series, baseline: Series | None, *, times: Sequence[float], t: Timing,
                 since: float | None) -> list[WindowVerdict]:
    """The guard's verdict on `rule` at each round `now` in `times` (monitor._judge, over history):
    the samples since the last round that judged (round_bounds), the baseline at `now`, judge_round.
    A round says why (the words the guard would show) only where the trigger's state changes."""
    verdicts = []
    judged_until: float | None = None
    grid_s = t.grid_s
    was: str | None = None
    for now in times:
        threshold = rule.threshold
        if rule.baseline is not None:
            base = baseline.at(now) if baseline is not None else None
            threshold = None if base is None else relative_threshold(base, rule.pct or 0.0)
        start, _ = round_bounds(now, rule.for_s, t.step_s, judged_until)
        answered = on_grid(series.between(start, now), now, t.step_s, grid_s)
        samples = answered if threshold is not None else []

        def judge(explain: bool, samples=samples, threshold=threshold, judged_until=judged_until,
                  now=now) -> WindowVerdict:
            return judge_round(samples, judged_until=judged_until, comparison=rule.comparison,
                               threshold=0.0 if threshold is None else threshold, for_s=rule.for_s,
                               step_s=t.step_s, now=now, no_data=rule.no_data, label=rule.label, unit=rule.unit,
                               since=since, explain=explain)

        verdict = judge(False)
        if verdict.state != was:
            verdict, was = judge(True), verdict.state
        if answered and threshold is not None:  # live: a range answer with a series, and a threshold
            judged_until = now
        verdicts.append(verdict if threshold is not None else replace(verdict, threshold=None))  # no baseline, no limit
    return verdicts


# -- what a rehearsal reports -----------------------------------------------------------------


@dataclass(frozen=True)
class PhaseSpan:
    index: int  # 0-based, as the plan's list
    name: str
    start: float
    end: float  # the end of its soak


@dataclass(frozen=True)
class TriggerRun:
    """One trigger over the rehearsed rounds: its timeline, and when it first breached and fired."""

    id: str
    action: str
    limit: float | None
    timeline: tuple[tuple[float, float, str], ...]  # (first round, last round, state), runs of one state
    fires: tuple[float, ...]  # each time a window fired after one that had not (the step it fired on)
    breached_at: float | None = None  # the first breaching sample of the first fire's window
    fired_at: float | None = None  # the step the first fire's window ended on
    acted_at: float | None = None  # the round that would have acted on it
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "limit": self.limit, "breached_at": self.breached_at,
                "fired_at": self.fired_at, "acted_at": self.acted_at, "why": self.why, "fires": list(self.fires),
                "timeline": [list(r) for r in self.timeline]}


def trigger_run(rule: Rule, verdicts: Sequence[WindowVerdict]) -> TriggerRun:
    timeline: list[list] = []
    fires: list[float] = []
    first: WindowVerdict | None = None
    was_fired = False
    for v in verdicts:
        state = "no_data" if v.state.startswith("no_data") else v.state
        if timeline and timeline[-1][2] == state:
            timeline[-1][1] = v.at
        else:
            timeline.append([v.at, v.at, state])
        if v.fired and not was_fired:
            fires.append(v.seen_at if v.seen_at is not None else v.at)
            first = first or v
        was_fired = v.fired
    run = TriggerRun(rule.id, rule.action, rule.limit, tuple(tuple(r) for r in timeline), tuple(fires))
    if first is None:
        return run
    ended = first.seen_at if first.seen_at is not None else first.at
    return replace(run, fired_at=ended, acted_at=first.at, why=first.why,
                   breached_at=ended - first.breaching_for_s if first.breaching_for_s else ended)


@dataclass(frozen=True)
class CriterionRead:
    phase: int
    id: str
    met: bool | None
    worst: float | None
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase + 1, "id": self.id, "met": self.met, "worst": _num(self.worst), "why": self.why}


@dataclass(frozen=True)
class QuietCriterion:
    """One criterion over consecutive soaks of a quiet span: how many it would have failed."""

    phase: int
    id: str
    soaks: int
    failed: tuple[float, ...]  # the start of each failed soak
    unknown: int  # soaks with too little data to say

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase + 1, "id": self.id, "soaks": self.soaks, "failed": len(self.failed),
                "failed_soaks": list(self.failed), "not_enough_data": self.unknown}


@dataclass(frozen=True)
class SweepRow:
    limit: float
    quiet_fires: int | None  # fires over the quiet span (None: no quiet span)
    detected_at: float | None  # the step it fired on after `at` (None: never, or no `at`)

    def to_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "quiet_fires": self.quiet_fires, "detected_at": self.detected_at}


@dataclass
class Rehearsal:
    """Everything a rehearsal found, and what it was asked on (for the reproducibility document)."""

    timing: Timing
    at: float | None = None
    phases: tuple[PhaseSpan, ...] = ()
    from_journal: bool = False
    triggers: dict[str, TriggerRun] = field(default_factory=dict)
    criteria: list[CriterionRead] = field(default_factory=list)
    killed_at: float | None = None  # the round that would have pulled the kill
    killed_by: str | None = None
    killed_in_phase: int | None = None
    gate_failed: int | None = None  # the first phase whose gate would have failed (0-based)
    judged: list[SoakJudged] = field(default_factory=list)  # the [judge]'s judgment of each soak
    quiet: tuple[float, float] | None = None
    quiet_triggers: dict[str, TriggerRun] = field(default_factory=dict)
    quiet_rounds: int = 0
    quiet_criteria: list[QuietCriterion] = field(default_factory=list)
    quiet_judged: list[QuietJudged] = field(default_factory=list)
    sweep: tuple[str, tuple[SweepRow, ...]] | None = None
    not_rehearsed: list[str] = field(default_factory=list)
    histories: dict[str, History] = field(default_factory=dict)

    def samples_digest(self) -> str:
        """sha256 over every history's digest, in query order: the data the rehearsal judged."""
        h = hashlib.sha256()
        for query in sorted(self.histories):
            h.update(f"{query}\n{self.histories[query].digest()}\n".encode())
        return h.hexdigest()

    def results_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"poll_s": self.timing.poll_s, "step_s": self.timing.step_s,
                               "not_rehearsed": self.not_rehearsed}
        if self.at is not None:
            out["rollout"] = {
                "at": self.at, "from_journal": self.from_journal,
                "phases": [{"phase": p.index + 1, "name": p.name, "start": p.start, "end": p.end} for p in self.phases],
                "triggers": {k: v.to_json() for k, v in self.triggers.items()},
                "criteria": [c.to_json() for c in self.criteria],
                "judged": [j.to_json() for j in self.judged],
                "killed": self.killed_at is not None, "killed_at": self.killed_at, "killed_by": self.killed_by,
                "killed_in_phase": None if self.killed_in_phase is None else self.killed_in_phase + 1,
                "gate_failed_in_phase": None if self.gate_failed is None else self.gate_failed + 1,
            }
        if self.quiet is not None:
            out["quiet"] = {
                "from": self.quiet[0], "to": self.quiet[1], "rounds": self.quiet_rounds,
                "triggers": {k: {"fires": len(v.fires), "fired_at": list(v.fires),
                                 "timeline": [list(r) for r in v.timeline]}
                             for k, v in self.quiet_triggers.items()},
                "criteria": [c.to_json() for c in self.quiet_criteria],
                "judged": [j.to_json() for j in self.quiet_judged],
            }
        if self.sweep is not None:
            out["sweep"] = {"trigger": self.sweep[0], "rows": [r.to_json() for r in self.sweep[1]]}
        return out


# -- laying the rollout out -------------------------------------------------------------------


def lay_phases(plan, at: float) -> tuple[PhaseSpan, ...]:
    """The plan's phases back to back from `at`, each advanced the moment its soak ends."""
    spans, start = [], at
    for i, p in enumerate(plan.phases):
        end = start + p.soak.total_seconds()
        spans.append(PhaseSpan(i, p.name, start, end))
        start = end
    return tuple(spans)


def journal_phases(plan, state_dir) -> tuple[float, tuple[PhaseSpan, ...]]:
    """A past rollout's start and phase starts, from its journal's intact events; a phase the
    rollout never reached is not laid, the one it stopped in ends at its kill or its soak's end."""
    from cockpit.store import FileStore
    from cockpit.store.chain import JournalError

    try:
        scan = FileStore(state_dir).verify()
    except JournalError as e:
        raise RehearsalError(f"--journal {state_dir}: {e}") from None
    started: float | None = None
    starts: dict[int, float] = {}
    ended: float | None = None
    for r in scan.records:
        kind, ts = r.kind, r.ts.timestamp()
        if kind == "rollout_started" and started is None:
            started = ts
        elif isinstance(r.payload, PhaseStarted):
            starts[r.payload.phase] = ts
        elif kind in ("kill_requested", "rollout_completed") and ended is None:
            ended = ts
    if started is None:
        raise RehearsalError(f"{state_dir}: the journal has no rollout_started event (the rollout never started)")
    spans = []
    order = sorted(starts)
    for n, i in enumerate(order):
        if i >= len(plan.phases):
            raise RehearsalError(f"{state_dir}: the journal's phase {i + 1} is not in this plan")
        soak_end = starts[i] + plan.phases[i].soak.total_seconds()
        last = min(ended, soak_end) if ended and ended > starts[i] else soak_end
        end = starts[order[n + 1]] if n + 1 < len(order) else last
        spans.append(PhaseSpan(i, plan.phases[i].name, starts[i], end))
    return started, tuple(spans)


def rounds(start: float, end: float, poll_s: float) -> list[float]:
    """The guard's rounds: every poll interval from `start` to `end` inclusive."""
    n = int((end - start) // poll_s + 1e-9)
    return [start + i * poll_s for i in range(n + 1)]


# -- the rehearsal ----------------------------------------------------------------------------


Fetch = Callable[[str, float, float, float], History]


def fetcher(source: MetricsSource, **kw) -> Fetch:
    return lambda query, start, end, step: fetch_history(source, query, start, end, step, **kw)


def rehearse(plan, fetch: Fetch, *, at: float | None = None, journal_dir=None, quiet: tuple[float, float] | None = None,
             sweep: tuple[str, Sequence[float]] | None = None, poll_s: float | None = None,
             step_s: float | None = None, only: Iterable[str] | None = None,
             substitute: Mapping[str, str] | None = None, criteria: bool = True) -> Rehearsal:
    """Fetch the history the plan's queries need over the asked spans, then judge it as the guard would.
    `only`: these triggers; `substitute`: text replaced in their queries; `criteria`: False, no gate."""
    t = timing(plan, poll_s, step_s)
    trigger_list, skipped = rules(plan, substitute)
    if only is not None:
        wanted = set(only)
        trigger_list = [r for r in trigger_list if r.id in wanted]
    crit_list, crit_skipped = criterion_rules(plan) if criteria else ([], [])
    out = Rehearsal(timing=t)
    out.not_rehearsed = [f"trigger {i}: check-backed (runs a command now; there is no history of it)" for i in skipped]
    out.not_rehearsed += [f"criterion {c}: Alertmanager keeps no history" for c in crit_skipped]
    at = _lay_out(out, plan, at, journal_dir, quiet)
    if sweep is not None:
        _check_sweep(sweep, trigger_list, at, quiet)
    spans = [(at, out.phases[-1].end if out.phases else at)] if at is not None else []
    if quiet is not None:
        spans.append(quiet)
    reach = max([r.for_s for r in trigger_list] + [0.0]) + 3600.0 + t.step_s  # round_bounds' catch-up, before a span
    # The triggers' histories are asked at once (Prometheus answers several range queries in
    # parallel); `history` below takes each from here, in the same order as before.
    fetch = _fetched_at_once(fetch, list(dict.fromkeys(
        [(r.query, _align(start - reach, start, t.grid_s), end, t.grid_s) for start, end in spans for r in trigger_list]
        + [(r.baseline, start, end, t.grid_s) for start, end in spans for r in trigger_list if r.baseline])))
    history = _History(out, fetch, t.grid_s)
    per_span: list[dict[str, tuple[Series, Series | None]]] = [
        {r.id: (history(r.query, _align(start - reach, start, t.grid_s), end),
                history(r.baseline, start, end) if r.baseline else None) for r in trigger_list}
        for start, end in spans]

    ranges = Ranges(fetch, t.step_s, out.histories) if criteria and plan.judge is not None else None
    if at is not None:
        _rollout(out, plan, trigger_list, crit_list, per_span[0], t, history)
        if ranges is not None:
            _judge_rollout(out, plan, t, ranges)
    if quiet is not None:
        _quiet(out, plan, trigger_list, crit_list, per_span[-1], t, history)
        if ranges is not None:
            out.quiet_judged = [quiet_soaks(plan, i, *quiet, ranges) for i in judged_phases(plan)]
    if sweep is not None:
        rule = next(r for r in trigger_list if r.id == sweep[0])
        out.sweep = (rule.id, tuple(_sweep_row(rule, limit, per_span, spans, at, quiet, t) for limit in sweep[1]))
    return out


def _lay_out(out: Rehearsal, plan, at: float | None, journal_dir, quiet: tuple[float, float] | None) -> float | None:
    """The rollout's phases laid out from `at`, or as a journal ran them (its start is `at` then)."""
    if journal_dir is not None:
        at, out.phases = journal_phases(plan, journal_dir)
        out.from_journal = True
    elif at is not None:
        out.phases = lay_phases(plan, at)
    out.at = at
    out.quiet = quiet
    return at


def _check_sweep(sweep: tuple[str, Sequence[float]], trigger_list, at: float | None,
                 quiet: tuple[float, float] | None) -> None:
    ids = {r.id: r for r in trigger_list}
    if sweep[0] not in ids:
        raise RehearsalError(f"--sweep {sweep[0]}: no query-backed trigger of that id in the plan "
                             f"(there are: {', '.join(ids) or 'none'})")
    if at is None and quiet is None:
        raise RehearsalError("--sweep needs --at (or --journal) or --quiet-from/--quiet-to: a span to rehearse on")


def _align(start: float, anchor: float, grid_s: float) -> float:
    """`start` moved back onto the grid of `anchor` (every round's `now` is on it)."""
    return anchor - math.ceil((anchor - start) / grid_s - 1e-9) * grid_s


def _fetched_at_once(fetch: Fetch, asked: list[tuple[str, float, float, float]]) -> Fetch:
    """`fetch` answering the asked range queries from what a pool fetched at once (the first that
    failed raises, as one at a time would)."""
    if len(asked) <= 1:
        return fetch
    with ThreadPoolExecutor(max_workers=min(FETCHES_AT_ONCE, len(asked))) as pool:
        pending = {k: pool.submit(fetch, *k) for k in asked}
    return _answered({k: f.result() for k, f in pending.items()}, fetch)


class _History:
    """A query's history, fetched once per query and span, on the grid of the span's start (every
    round's `now` is on it); a span a query's history already covers (a criterion on a trigger's
    query) is not asked again. What is fetched is kept in the rehearsal's `histories`."""

    def __init__(self, out: Rehearsal, fetch: Fetch, grid_s: float):
        self.out, self.fetch, self.grid_s = out, fetch, grid_s
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def __call__(self, query: str, start: float, end: float) -> Series:
        prev = self.out.histories.get(query)
        if prev is not None and any(a <= start + ON_GRID and end <= b + ON_GRID and _on(start - a, self.grid_s)
                                    for a, b in self.spans[query]):
            return Series(prev.samples)
        got = self.fetch(query, start, end, self.grid_s)
        self.spans.setdefault(query, []).append((start, end))
        if prev is not None:
            merged = {s.ts: s for s in prev.samples}
            merged.update({s.ts: s for s in got.samples})
            got = replace(prev, samples=tuple(merged[k] for k in sorted(merged)), chunks=prev.chunks + got.chunks,
                          start=min(prev.start, got.start), end=max(prev.end, got.end))
        self.out.histories[query] = got
        return Series(got.samples)


def _sweep_row(rule, limit: float, per_span, spans, at: float | None, quiet: tuple[float, float] | None,
               t: Timing) -> SweepRow:
    """One limit of a sweep: when the rollout's breach would have been detected, how often the quiet span fires."""
    moved = rule.at_limit(limit)
    detected = fires = None
    if at is not None:
        s, b = per_span[0][rule.id]
        judged = judge_rounds(moved, s, b, times=rounds(at, spans[0][1], t.poll_s), t=t, since=at)
        detected = trigger_run(moved, judged).fired_at
    if quiet is not None:
        s, b = per_span[-1][rule.id]
        run = trigger_run(moved, judge_rounds(moved, s, b, times=rounds(*quiet, t.poll_s), t=t, since=None))
        fires = len(run.fires)
    return SweepRow(limit, fires, detected)


def _rollout(out: Rehearsal, plan, trigger_list, crit_list, fetched, t: Timing, history) -> None:
    at = out.at
    if at is None:
        return
    end = out.phases[-1].end if out.phases else at
    times = rounds(at, end, t.poll_s)
    for r in trigger_list:
        s, b = fetched[r.id]
        out.triggers[r.id] = trigger_run(r, judge_rounds(r, s, b, times=times, t=t, since=at))
    kills = sorted((run.acted_at, run.id) for run in out.triggers.values()
                   if run.action == "rollback" and run.acted_at is not None)
    if kills:
        out.killed_at, out.killed_by = kills[0]
        out.killed_in_phase = next((p.index for p in out.phases if p.start <= out.killed_at <= p.end), None)
    for c in crit_list:
        phase = next((p for p in out.phases if p.index == c.phase), None)
        if phase is None:
            continue
        series = history(c.query, phase.start, phase.end)
        samples = on_grid(series.between(phase.start, phase.end), phase.start, t.step_s, t.grid_s)
        v = evaluate_criterion(samples, comparison=c.comparison, threshold=c.threshold, since=phase.start,
                               now=phase.end, step_s=t.step_s, label=c.label, unit=c.unit)
        out.criteria.append(CriterionRead(c.phase, c.id, v.met, v.worst, v.why))
        if v.met is False and (out.gate_failed is None or c.phase < out.gate_failed):
            out.gate_failed = c.phase


def _judge_rollout(out: Rehearsal, plan, t: Timing, ranges: Ranges) -> None:
    """Each reached phase's soak judged as the guard's judge would have; with action = "rollback"
    every judgment on its schedule, a `for`-th Fail in a row before any other kill killing it."""
    if out.at is None:
        return
    poll_every = plan.judge.action == "rollback"
    times = rounds(out.at, out.phases[-1].end, t.poll_s) if poll_every and out.phases else []
    wanted = set(judged_phases(plan))
    for p in out.phases:
        if p.index not in wanted and not poll_every:
            continue
        if out.killed_at is not None and p.start >= out.killed_at:
            break
        got = judge_soak(plan, p.index, p.start, p.end, ranges, rounds=times, stop=out.killed_at,
                         poll_every=poll_every)
        if p.index in wanted or got.rolled_back_at is not None:
            out.judged.append(got)
        if got.rolled_back_at is not None:
            out.killed_at, out.killed_by, out.killed_in_phase = got.rolled_back_at, "judge", p.index
        if got.made is not None and got.made.verdict == "Fail" and got.gated and (
                out.gate_failed is None or p.index < out.gate_failed):
            out.gate_failed = p.index


def _quiet(out: Rehearsal, plan, trigger_list, crit_list, fetched, t: Timing, history) -> None:
    if out.quiet is None:
        return
    start, end = out.quiet
    times = rounds(start, end, t.poll_s)
    out.quiet_rounds = len(times)
    for r in trigger_list:
        s, b = fetched[r.id]
        out.quiet_triggers[r.id] = trigger_run(r, judge_rounds(r, s, b, times=times, t=t, since=None))
    for c in crit_list:
        soak = plan.phases[c.phase].soak.total_seconds()
        if soak <= 0:
            continue
        series = history(c.query, start, end)
        failed, unknown, n = [], 0, 0
        s0 = start
        while s0 + soak <= end + ON_GRID:
            samples = on_grid(series.between(s0, s0 + soak), s0, t.step_s, t.grid_s)
            v = evaluate_criterion(samples, comparison=c.comparison, threshold=c.threshold, since=s0, now=s0 + soak,
                                   step_s=t.step_s, label=c.label, unit=c.unit)
            n += 1
            if v.met is False:
                failed.append(s0)
            elif v.met is None:
                unknown += 1
            s0 += soak
        out.quiet_criteria.append(QuietCriterion(c.phase, c.id, n, tuple(failed), unknown))


def _answered(answered: dict[tuple[str, float, float, float], History], fetch: Fetch) -> Fetch:
    return lambda query, start, end, step: answered.get((query, start, end, step)) or fetch(query, start, end, step)


def sweep_limits(text: str) -> tuple[str, list[float]]:
    """`TRIGGER=LOW:HIGH:STEP` -> (trigger id, [LOW, LOW+STEP, ... <= HIGH])."""
    name, sep, spec = text.partition("=")
    parts = spec.split(":")
    if not sep or not name or len(parts) != 3:
        raise RehearsalError(f"--sweep {text!r}: give TRIGGER=LOW:HIGH:STEP (e.g. error_rate=0.01:0.05:0.005)")
    try:
        low, high, step = (float(p) for p in parts)
    except ValueError:
        raise RehearsalError(f"--sweep {text!r}: LOW, HIGH and STEP must be numbers") from None
    if step <= 0 or high < low or not all(map(math.isfinite, (low, high, step))):
        raise RehearsalError(f"--sweep {text!r}: STEP must be positive and LOW at most HIGH")
    n = int((high - low) / step + 1e-9) + 1
    if n > 1000:
        raise RehearsalError(f"--sweep {text!r}: {n} thresholds; at most 1000")
    return name, [round(low + i * step, 12) for i in range(n)]


def _on(offset: float, grid_s: float) -> bool:
    return abs(offset / grid_s - round(offset / grid_s)) * grid_s < ON_GRID


def _num(v: float | None) -> float | str | None:
    return v if v is None or math.isfinite(v) else repr(v)


def phase_of(phases: Sequence[PhaseSpan], ts: float) -> PhaseSpan | None:
    return next((p for p in phases if p.start <= ts <= p.end), None)


def labels(plan) -> Mapping[str, str]:
    return {t.id: t.name for t in plan.triggers}
