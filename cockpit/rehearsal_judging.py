"""The plan's [judge] rehearsed: each phase's soak judged over history as the guard judges it.

Not a second judge: the window (judging.window), the first judgment's wait (first_wait_s,
gathering), the queries ($track, $window: Judge.query), the counts (count_value, event_counts),
the judgment (judging.judgment: core.judge with Judge.rules(), journaled) and when Fails roll
back (rolls_back) are cockpit.judging's. Only the clock differs: both tracks' range queries are
fetched with prom_range.fetch_history at the plan's step on the window's grid (a soak's history
once, sliced at each judgment: Prometheus evaluates every step alone, so a slice is what the
shorter query answers), and an events or exposure count is the one-point range query at the
judgment's end (what the guard's instant query answers there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import msgspec

from cockpit.adapters.metrics import Sample
from cockpit.adapters.prom_range import History
from cockpit.config import Judge
from cockpit.core import events as ev
from cockpit.core.judge import MetricSamples
from cockpit.judging import count_value, event_counts, first_wait_s, gathering, judgment, rolls_back, window

ON_GRID = 1e-6  # seconds

Fetch = Callable[[str, float, float, float], History]


@dataclass(frozen=True)
class SoakJudged:
    """One phase's soak judged: the judgment its gate reads at the soak's end (None: not judged,
    and why), and with action = "rollback" the guard's judgments over the soak and its kill."""

    phase: int  # 0-based
    at: float  # the soak's end
    made: ev.JudgmentMade | None
    why: str = ""  # why there is no judgment at the soak's end
    gated: bool = False  # the phase's gate has a judge criterion: a Fail holds the rollout there
    judgments: int = 0  # made over the soak on the guard's schedule (action = "rollback")
    fails: int = 0  # of them Fail
    rolled_back_at: float | None = None  # the judgment that would have pulled the kill switch

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase + 1, "at": self.at, "gated": self.gated, "why": self.why,
                               "judgments": self.judgments, "fails": self.fails,
                               "rolled_back_at": self.rolled_back_at}
        if self.made is not None:
            m = self.made
            out.update(verdict=m.verdict, score=m.score, reason=m.reason, criteria=list(m.criteria),
                       window=[m.window_start.timestamp(), m.window_end.timestamp()],
                       metrics=[msgspec.to_builtins(x) for x in m.metrics])
        return out


@dataclass(frozen=True)
class QuietJudged:
    """A phase's soak slid over a quiet span: how many of its judgments would have been Fail or Marginal."""

    phase: int
    soaks: int
    failed: tuple[float, ...]  # the start of each soak judged Fail
    marginal: tuple[float, ...]
    not_judged: int  # soaks whose tracks had too few samples

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase + 1, "soaks": self.soaks, "failed": len(self.failed),
                "marginal": len(self.marginal), "failed_soaks": list(self.failed),
                "marginal_soaks": list(self.marginal), "not_judged": self.not_judged}


@dataclass
class Ranges:
    """Range histories at the plan's step, each fetched once and sliced: a window on a fetched
    history's grid and inside it is not asked again."""

    fetch: Fetch
    step_s: float
    histories: dict[str, History]
    _have: dict[str, list[History]] = field(default_factory=dict)

    def between(self, query: str, start: float, end: float, until: float) -> list[Sample]:
        """The samples a range query from `start` to `end` answers; fetched up to `until` if not held."""
        for h in self._have.get(query, []):
            if h.start <= start + ON_GRID and end <= h.end + ON_GRID and _on(start - h.start, self.step_s):
                return [s for s in h.samples if start - ON_GRID <= s.ts <= end + ON_GRID]
        h = self.fetch(query, start, max(end, until), self.step_s)
        self._have.setdefault(query, []).append(h)
        self.histories[f"{query} from {start:g} to {max(end, until):g}"] = h
        return [s for s in h.samples if s.ts <= end + ON_GRID]

    def at(self, query: str, ts: float) -> float | None:
        """What the guard's instant query answers at `ts`: the one-point range query there."""
        h = self.fetch(query, ts, ts, self.step_s)
        self.histories[f"{query} at {ts:g}"] = h
        return h.samples[-1].value if h.samples else None


def samples(plan: Judge, ranges: Ranges, start: float, end: float, until: float) -> dict[str, MetricSamples]:
    """Every metric on both tracks over the window, with its counts, as Judging._metric asks them."""
    out = {}
    for m in plan.metrics:
        canary, baseline = (tuple(s.value for s in ranges.between(plan.query(m.query, track), start, end, until))
                            for track in ("canary", "baseline"))
        counts = None
        if m.events is not None and m.exposure is not None:
            ce, be, cx, bx = (count_value(ranges.at(plan.query(q, track, end - start), end))
                              for q in (m.events, m.exposure) for track in ("canary", "baseline"))
            counts = event_counts(ce, be, cx, bx)
        out[m.name] = MetricSamples(m.name, canary, baseline, counts)
    return out


def judge_soak(plan, phase: int, start: float, end: float, ranges: Ranges, *, rounds: Sequence[float],
               stop: float | None, poll_every: bool, fetch_until: float | None = None) -> SoakJudged:
    """Phase `phase` soaking from `start` to `end`: with `poll_every` (action = "rollback") judged at
    each guard round in `rounds` it would judge at (Judging.due and gathering), until `for` Fails in a
    row or `stop` (a kill); then at the soak's end, as its gate reads it. `fetch_until`: the soak's
    history is fetched that far at once (a quiet span's consecutive soaks share one fetch)."""
    jp: Judge = plan.judge
    rules = jp.rules()
    spec = plan.phases[phase]
    criteria = tuple(c.id for c in spec.gate.auto if c.source == "judge")
    first_s = first_wait_s(jp, ranges.step_s)
    interval_s = jp.interval.total_seconds()

    def judged_at(now: float, before: bool) -> tuple[ev.JudgmentMade | None, str]:
        w0, w1 = window(_dt(start), spec.soak, jp.interval, _dt(now))
        until = (fetch_until or end) if w0.timestamp() <= start + ON_GRID else now
        got = samples(jp, ranges, w0.timestamp(), now, until)
        wait = gathering(got.values(), rules.min_samples, now - start, first_s, before)
        if wait:
            return None, wait
        return judgment(jp, rules, phase, (w0, w1), criteria, got), ""

    last: float | None = None
    failed = fails = n = 0
    rolled: float | None = None
    at_end: ev.JudgmentMade | None = None
    for now in rounds if poll_every else ():
        if not start < now <= end or (stop is not None and now >= stop):
            continue
        if (now - start if last is None else now - last) < (first_s if last is None else interval_s) - ON_GRID:
            continue
        payload, _ = judged_at(now, last is not None)
        if payload is None:
            continue
        last, n = now, n + 1
        fails = fails + 1 if payload.verdict == "Fail" else 0
        failed += payload.verdict == "Fail"
        if abs(now - end) < ON_GRID:
            at_end = payload
        if rolls_back(jp, payload.verdict, fails):
            rolled = now
            break
    base = SoakJudged(phase, end, None, gated=bool(criteria), judgments=n, fails=failed, rolled_back_at=rolled)
    if end <= start:
        return replace(base, why="the phase has no soak to judge")
    if rolled is not None:
        return replace(base, why=f"rolled back at its {jp.for_}th Fail judgment in a row, before the soak's end")
    if stop is not None and end >= stop:
        return replace(base, why="the rollout was killed before the soak's end")
    if at_end is None:
        at_end, why = judged_at(end, last is not None)
        return replace(base, made=at_end, why=why)
    return replace(base, made=at_end)


def quiet_soaks(plan, phase: int, start: float, end: float, ranges: Ranges) -> QuietJudged:
    """Consecutive soaks of phase `phase` over a span known healthy, each judged at its end."""
    soak = plan.phases[phase].soak.total_seconds()
    failed, marginal, unknown, n = [], [], 0, 0
    s0 = start
    while soak > 0 and s0 + soak <= end + ON_GRID:
        got = judge_soak(plan, phase, s0, s0 + soak, ranges, rounds=(), stop=None, poll_every=False, fetch_until=end)
        n += 1
        verdict = got.made.verdict if got.made is not None else None
        if verdict == "Fail":
            failed.append(s0)
        elif verdict == "Marginal":
            marginal.append(s0)
        elif verdict is None:
            unknown += 1
        s0 += soak
    return QuietJudged(phase, n, tuple(failed), tuple(marginal), unknown)


def judged_phases(plan) -> list[int]:
    """The phases whose soak the rehearsal judges: those whose gate reads the judge, or every phase
    when none does (the guard judges each soak all the same, and may roll back)."""
    gated = [i for i, p in enumerate(plan.phases) if any(c.source == "judge" for c in p.gate.auto)]
    return gated or list(range(len(plan.phases)))


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _on(offset: float, step_s: float) -> bool:
    return abs(offset / step_s - round(offset / step_s)) * step_s < ON_GRID

