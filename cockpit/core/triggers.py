"""Trigger windows: whether a metric has breached long enough, judged like Prometheus' `for:`.

Pure: samples, thresholds and `now` come in, a verdict comes out. The monitor
fetches the samples with `round_bounds` (a range query at `step_s` from the
`for` window before the first sample it has not judged yet, to `now`), calls
`judge_round`, and keeps a `TriggerTrack` per trigger for the gauges.

Semantics (DESIGN.md, "Trigger semantics"):
- The window is the closed interval [now - for_s, now]; at `step_s` it holds
  for_s/step_s + 1 expected samples, the same count a range query returns.
- `fired` when every sample present in the window breaches, at least 90 % of
  the expected samples are present (a scrape gap is tolerated), and the breach
  is seen from the window's start. A breach that began at T therefore fires at
  T + for_s, exactly when Prometheus' `for:` turns pending into firing.
- `breaching_for_s` is the age of the trailing run of breaching samples (the
  pending time Prometheus shows); `needed_s` is for_s.
- A series younger than the window is under-covered: three breaching minutes
  never pass as ten. Under-coverage (and no data at all) is decided by the
  trigger's no-data policy: `breach` counts missing samples as breaching,
  `hold` blocks advancing but never fires, `ignore` never fires nor blocks.
- `for_s == 0` fires on the latest sample breaching (security triggers).
- Nothing before the rollout's start counts (`since`): a window reaching back before it is
  young; it pends, and fires only once a breach has been seen for `for_s` after the start (a
  previous attempt's rate[5m] does not roll the next one back). A phase start does not clip:
  the earlier phases' samples are this canary's own.

A round judges every sample since the last one it judged (`judge_round`), so a
round that falls behind its poll interval (a slow Prometheus, a busy bastion, a
pause, a fast demo) still fires on a breach that began and ended between two
rounds: it fires when the window ending at any sample after the previous round
would have fired (for_s == 0: any breaching sample), by the rules above at that
sample. At most CATCH_UP_S back: a guard away for longer judges the last hour,
and journals what it could not judge (core.rounds).

Gate criteria are the other way round: `evaluate_criterion` asks that a
condition ("API p95 ≤ 350 ms") held at every sample of the phase's soak.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from cockpit.core import words
from cockpit.core.compare import Comparison

NoDataPolicy = Literal["breach", "hold", "ignore"]
TriggerStateName = Literal["ok", "breaching", "fired", "no_data_hold", "no_data_ignored"]

MIN_COVERAGE = 0.9
CATCH_UP_S = 3600.0  # a round judges at most the last hour of samples it has not judged
FIRST_DATA_STEPS = 2  # a canary's first samples come this many steps after its start (traffic, scrape, rate)
HISTORY_LEN = 60


class SampleLike(Protocol):
    @property
    def ts(self) -> float: ...
    @property
    def value(self) -> float: ...


@dataclass(frozen=True)
class WindowVerdict:
    """One evaluation of one trigger: what the operator sees on its gauge, and why."""

    state: TriggerStateName
    value: float | None  # latest sample in the window, None when there is none
    threshold: float | None  # None: a relative trigger whose baseline had no data (judged as no data)
    comparison: Comparison
    breaching_for_s: float  # age of the trailing breaching run (pending time)
    needed_s: float  # the trigger's `for`
    coverage: float  # fraction of expected samples present, 0..1
    at: float  # the evaluation time (`now`)
    why: str  # one line in operator words
    seen_at: float | None = None  # fired between rounds: when the window that fired ended (None: at `at`)

    @property
    def fired(self) -> bool:
        return self.state == "fired"


def window_bounds(now: float, for_s: float) -> tuple[float, float]:
    """The range query that feeds `evaluate_window`: [now - for_s, now]; for=0 is the single point `now`."""
    return now - max(for_s, 0.0), now


def round_bounds(now: float, for_s: float, step_s: float, judged_until: float | None) -> tuple[float, float]:
    """The range query that feeds `judge_round`: the `for` window before every sample after
    `judged_until` (at most CATCH_UP_S back), on the grid of `now` (so the window at `now` keeps
    every sample it has on its own); without a previous round, `window_bounds`."""
    start, end = window_bounds(now, for_s)
    if judged_until is None:
        return start, end
    behind = min(max(now - judged_until, 0.0), CATCH_UP_S)
    return start - math.ceil(behind / step_s - 1e-9) * step_s, end


def unjudged_s(now: float, judged_until: float | None) -> float:
    """Seconds of samples a round cannot judge: those more than CATCH_UP_S before `now` that no
    earlier round judged (0 when the previous round was less than an hour ago)."""
    if judged_until is None:
        return 0.0
    return max(0.0, now - CATCH_UP_S - judged_until)


def expected_samples(for_s: float, step_s: float) -> int:
    """How many samples a fully covered window holds: for_s/step_s + 1."""
    return int(math.floor(for_s / step_s + 1e-9)) + 1


def relative_threshold(baseline: float, pct: float) -> float:
    """A threshold `pct` percent above (or below, when negative) a baseline: 20 % over 240 ms is 288 ms."""
    return baseline * (1.0 + pct / 100.0)


def evaluate_window(
    samples: Sequence[SampleLike],
    *,
    comparison: Comparison,
    threshold: float,
    for_s: float,
    step_s: float,
    now: float,
    no_data: NoDataPolicy,
    label: str = "value",
    unit: str = "",
    min_coverage: float = MIN_COVERAGE,
    since: float | None = None,
    explain: bool = True,
) -> WindowVerdict:
    """Judge the window ending at `now`. Samples outside it, before `since` (the rollout's start),
    and NaN values are not counted; a window reaching back before `since` does not fire.
    `explain=False`: the same verdict with an empty `why` (a rehearsal words only what it shows)."""
    if step_s <= 0:
        raise ValueError("step_s must be positive")
    for_s = max(for_s, 0.0)
    w = _clip(samples, comparison, threshold, for_s, step_s, now, min_coverage, since)
    said = _Said(w, comparison, threshold, for_s, now, label, unit, explain)
    if w.covered or no_data == "breach":
        return _covered(said, no_data)
    return _not_covered(said, no_data)


@dataclass(slots=True)  # not frozen: a frozen init costs a rehearsal's 40,000 rounds a trigger ~15 % (bench_triggers)
class _Window:
    """What a window holds: its samples (clipped to it and to the start), their coverage, and
    the run of breaching samples at its end."""

    samples: list[SampleLike]
    coverage: float
    covered: bool
    young: bool  # the rollout began inside the window: no breach can have been seen for all of it
    since: float | None
    latest: float | None
    latest_breaches: bool
    breaching_for: float
    all_breach: bool
    from_start: bool  # the breach is seen from the window's start


def _clip(samples: Sequence[SampleLike], comparison: Comparison, threshold: float, for_s: float, step_s: float,
          now: float, min_coverage: float, since: float | None) -> _Window:
    """The window's samples, its coverage against the samples it should hold, and its breach run."""
    tolerance = step_s / 2  # a sample up to half a step off the grid still belongs to its slot
    start = now - for_s - tolerance
    if since is not None:
        # A clock behind the journal's start (a round that began just before it) still sees its latest sample.
        since = min(since, now - tolerance)
        start = max(start, since)
    young = since is not None and since > now - for_s + tolerance
    end = now + tolerance
    in_window = [s for s in samples if start <= s.ts <= end and not math.isnan(s.value)]
    in_window.sort(key=_ts)
    coverage = min(1.0, len(in_window) / expected_samples(for_s, step_s))

    run_start: float | None = None
    for s in reversed(in_window):
        if not comparison.holds(s.value, threshold):
            break
        run_start = s.ts
    latest = in_window[-1].value if in_window else None
    return _Window(
        samples=in_window, coverage=coverage, covered=coverage >= min_coverage - 1e-9, young=young, since=since,
        latest=latest, latest_breaches=latest is not None and comparison.holds(latest, threshold),
        breaching_for=max(0.0, now - run_start) if run_start is not None else 0.0,
        all_breach=run_start is not None and run_start == in_window[0].ts,
        # Sustained means observed from the window's start: 9m30s of a 10m window is not 10m, even at 95 % coverage.
        from_start=run_start is not None and run_start <= now - for_s + tolerance,
    )


@dataclass(slots=True)
class _Said:
    """A window's verdict and its words. The words are made for the branch taken only, and only
    when asked (a rehearsal judges 40,000 rounds a trigger and says why only where a trigger's
    state changes)."""

    w: _Window
    comparison: Comparison
    threshold: float
    for_s: float
    now: float
    label: str
    unit: str
    explain: bool

    def verdict(self, state: TriggerStateName, why: Callable[[], str]) -> WindowVerdict:
        return WindowVerdict(state=state, value=self.w.latest, threshold=self.threshold, comparison=self.comparison,
                             breaching_for_s=self.w.breaching_for, needed_s=self.for_s, coverage=self.w.coverage,
                             at=self.now, why=why() if self.explain else "")

    def cmp(self) -> str:
        return words.limit(self.comparison, self.threshold, self.unit)

    def shown(self) -> str:
        latest = self.w.latest
        return f"{self.label} {words.value(latest, self.unit)}" if latest is not None else self.label

    def held_for(self) -> str:
        return f"for {words.duration(self.w.breaching_for)} of {words.duration(self.for_s)}"

    def lived(self) -> str:
        assert self.w.since is not None  # asked of a young window: the start is inside it
        return f"{words.duration(self.now - self.w.since)} since the start"

    def gap(self) -> str:
        return (f"no data in the last {words.duration(self.for_s)}" if not self.w.samples
                else f"window {words.percent(self.w.coverage * 100)} covered")


def _covered(s: _Said, no_data: NoDataPolicy) -> WindowVerdict:
    """A window with the samples it needs (or under `breach`, where missing samples breach)."""
    w, label, for_s = s.w, s.label, s.for_s
    if w.young and (not w.samples or w.all_breach):
        # Under `breach`, the time before the start is not missing data: it pends until for_s has passed.
        if not w.samples:
            return s.verdict("breaching", lambda: f"{label}: no data in the {s.lived()}, counted as breaching")
        return s.verdict("breaching", lambda: f"{s.shown()} {s.cmp()} {s.held_for()} ({s.lived()})")
    if not w.samples or (w.all_breach and (w.from_start or no_data == "breach")):
        # Under `breach`, missing samples count as breaching: an empty window fires too.
        if not w.covered:
            if not w.samples:
                return s.verdict("fired", lambda: f"{label}: no data for {words.duration(for_s)}, counted as breaching")
            return s.verdict("fired", lambda: f"{s.shown()} {s.cmp()}, window {words.percent(w.coverage * 100)} "
                                              "covered, missing counted as breaching")
        if for_s == 0:
            return s.verdict("fired", lambda: f"{s.shown()} {s.cmp()}")
        return s.verdict("fired", lambda: f"{s.shown()} {s.cmp()} {s.held_for()}")
    if w.latest_breaches:
        return s.verdict("breaching", lambda: f"{s.shown()} {s.cmp()} {s.held_for()}")
    return s.verdict("ok", lambda: f"{s.shown()}, fires at {s.cmp()}"
                                   + (f" for {words.duration(for_s)}" if for_s else ""))


def _not_covered(s: _Said, no_data: NoDataPolicy) -> WindowVerdict:
    """A window short of samples under `hold` or `ignore`: it holds, or it is judged on what it has."""
    if no_data == "hold":
        return s.verdict("no_data_hold", lambda: f"{s.shown()}: {s.gap()}, holding")
    if not s.w.samples:
        return s.verdict("no_data_ignored", lambda: f"{s.label}: {s.gap()} (ignored)")
    if s.w.latest_breaches:
        return s.verdict("breaching", lambda: f"{s.shown()} {s.cmp()} {s.held_for()}, {s.gap()}")
    return s.verdict("ok", lambda: f"{s.shown()}, {s.gap()}")


def judge_round(
    samples: Sequence[SampleLike],
    *,
    judged_until: float | None,
    comparison: Comparison,
    threshold: float,
    for_s: float,
    step_s: float,
    now: float,
    no_data: NoDataPolicy,
    label: str = "value",
    unit: str = "",
    since: float | None = None,
    explain: bool = True,
) -> WindowVerdict:
    """One round's verdict over every sample after `judged_until` (the previous round's `now`;
    None: a first round judges the window at `now` only). The window at `now`, unless a window
    ending at a breaching sample after `judged_until` (at most CATCH_UP_S back, and not before
    the rollout's start `since`) fired: then the first such window, said as seen between rounds.
    Each window is `evaluate_window` with the coverage the canary could have had by its end
    (`coverage_needed`): the clipping at `since`, the coverage, no-data and young rules are the
    same at every end. Rehearsal over history calls it the same way, a step at a time or at once
    (`explain=False`: the same verdict with an empty `why`)."""

    def window(pool: Sequence[SampleLike], end: float) -> WindowVerdict:
        return evaluate_window(pool, comparison=comparison, threshold=threshold, for_s=for_s, step_s=step_s,
                               now=end, no_data=no_data, label=label, unit=unit, since=since,
                               min_coverage=coverage_needed(since, end, for_s, step_s), explain=explain)

    current = window(samples, now)
    if current.fired or judged_until is None:
        return current
    first = max(judged_until, now - CATCH_UP_S)
    # Only a window ending at a breaching sample can fire (its latest sample must breach); the one
    # ending at `now` is `current`; none ends before the rollout's start (a previous attempt's).
    started = -math.inf if since is None else since
    ends = sorted(s.ts for s in samples if first < s.ts < now and s.ts >= started and not math.isnan(s.value)
                  and comparison.holds(s.value, threshold))
    if not ends:  # most rounds: nothing between this one and the last breached
        return current
    ordered = sorted((s for s in samples if not math.isnan(s.value)), key=_ts)
    times = [s.ts for s in ordered]
    for end in ends:
        # evaluate_window picks the window's samples exactly: these are the ones within a step of it.
        earlier = window(ordered[bisect_left(times, end - for_s - step_s):bisect_right(times, end + step_s)], end)
        if earlier.fired:
            said = f"{earlier.why} (between rounds, {words.duration(now - end)} before this one)" if explain else ""
            return replace(earlier, at=now, seen_at=end, why=said)
    return current


def _ts(s: SampleLike) -> float:
    return s.ts


def coverage_needed(started_at: float | None, now: float, for_s: float, step_s: float) -> float:
    """The coverage a window needs: 90 % of the samples the canary can have had. A window reaching
    back before the rollout started expects only the part after it, and the canary's first samples
    only FIRST_DATA_STEPS steps after the start (its traffic arrives, is scraped, a rate needs two
    scrapes), so a young healthy canary is not "no data: hold"; a young breach still only pends
    (`evaluate_window(since=...)` fires only on a breach seen for the whole window after the start)."""
    if started_at is None:
        return MIN_COVERAGE
    first_data = started_at + FIRST_DATA_STEPS * step_s
    if now - for_s >= first_data:
        return MIN_COVERAGE
    lived = max(now - first_data, 0.0)
    return MIN_COVERAGE * expected_samples(lived, step_s) / expected_samples(for_s, step_s)


def no_data_speaks(blind_for_s: float, poll_s: float) -> bool:
    """Whether a trigger whose queries fail is judged by its no-data policy yet: only once its gauge
    is stale (two poll intervals without an answer). One lost answer is not a rollback; a dead
    Prometheus is not a pass."""
    return blind_for_s > 2 * poll_s


def check_verdict(runs: Sequence[SampleLike], *, for_s: float, interval_s: float, now: float,
                  no_data: NoDataPolicy, label: str) -> WindowVerdict:
    """A check-backed trigger ("cosign verify fails"): each failed run is a breaching sample (1.0),
    each passed run 0.0, one sample per run, judged as of the latest run."""
    return evaluate_window(runs, comparison=Comparison.GT, threshold=0.5, for_s=for_s, step_s=interval_s,
                           now=now, no_data=no_data, label=label)


@dataclass(frozen=True)
class CriterionVerdict:
    """A gate's SLO criterion over a soak: met, not met, or not enough data to say (None)."""

    met: bool | None
    worst: float | None  # the sample furthest on the wrong side, else the one closest to the limit
    coverage: float
    why: str


def evaluate_criterion(
    samples: Sequence[SampleLike],
    *,
    comparison: Comparison,
    threshold: float,
    since: float,
    now: float,
    step_s: float,
    label: str = "value",
    unit: str = "",
    min_coverage: float = MIN_COVERAGE,
) -> CriterionVerdict:
    """`value <comparison> threshold` must hold at every sample of the soak [since, now] ("API p95 ≤ 350 ms")."""
    tolerance = step_s / 2
    seen = [s for s in samples if since - tolerance <= s.ts <= now + tolerance and not math.isnan(s.value)]
    coverage = min(1.0, len(seen) / expected_samples(max(now - since, 0.0), step_s))
    must = words.limit(comparison, threshold, unit)
    if not seen:
        return CriterionVerdict(None, None, 0.0, f"{label}: no data since the soak began")
    high_is_bad = comparison in (Comparison.LT, Comparison.LE)
    pick = max if high_is_bad else min
    bad = [s for s in seen if not comparison.holds(s.value, threshold)]
    if bad:
        worst = pick(bad, key=lambda s: s.value)
        when = words.duration(worst.ts - since)
        return CriterionVerdict(
            False, worst.value, coverage,
            f"{label} reached {words.value(worst.value, unit)} {when} into the soak (must be {must})",
        )
    worst_value = pick(s.value for s in seen)
    if coverage < min_coverage - 1e-9:
        return CriterionVerdict(
            None, worst_value, coverage,
            f"{label} {must} so far, but only {words.percent(coverage * 100)} of the soak observed"
        )
    return CriterionVerdict(
        True, worst_value, coverage,
        f"{label} {must} throughout {words.duration(now - since)} (worst {words.value(worst_value, unit)})",
    )


@dataclass(frozen=True)
class TriggerTrack:
    """What the engine keeps per trigger between polls: the last verdict, last good time, a sparkline."""

    verdict: WindowVerdict | None = None
    last_good_at: float | None = None  # time of the last evaluation that had a usable answer
    last_error: str | None = None
    history: tuple[float, ...] = field(default=())

    def record(self, verdict: WindowVerdict, *, keep: int = HISTORY_LEN) -> TriggerTrack:
        """A successful evaluation: new verdict, fresh time, its value appended to the sparkline."""
        history = self.history if verdict.value is None else (self.history + (verdict.value,))[-keep:]
        return TriggerTrack(verdict=verdict, last_good_at=verdict.at, last_error=None, history=history)

    def record_error(self, message: str) -> TriggerTrack:
        """A failed query: keep the last verdict (it goes stale), remember why."""
        return replace(self, last_error=message)

    def stale_for(self, now: float, poll_s: float) -> float | None:
        """Age of the last good evaluation when older than two poll intervals, else None (fresh)."""
        if self.last_good_at is None:
            return None if self.verdict is None and self.last_error is None else math.inf
        age = now - self.last_good_at
        return age if age > 2 * poll_s else None

