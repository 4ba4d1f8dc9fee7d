"""A round judges every sample since the last one it judged: judge_round, round_bounds and
unjudged_s, table-driven. A breach that began and ended between two late rounds fires (for = 0: any
breaching sample; a `for` window: a covered run that long), by the same window rules at that sample."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from cockpit.adapters.metrics import Sample
from cockpit.core.compare import Comparison
from cockpit.core.triggers import CATCH_UP_S, judge_round, round_bounds, unjudged_s, window_bounds

NOW = 100_000.0
STEP = 30.0
GE, GT, NE = Comparison.GE, Comparison.GT, Comparison.NE
OK, BAD = 0.004, 0.024


def grid(first: float, values, *, step: float = STEP):
    """Samples from `first`, one a step; None leaves a gap."""
    return [Sample(first + i * step, v) for i, v in enumerate(values) if v is not None]


def spell(start: float, length: int, *, until: float = NOW, value=BAD, ok=OK, first: float = NOW - 2 * 3600):
    """`ok` samples every step from `first` to `until`, with `length` breaching ones from `start`."""
    n = int((until - first) / STEP) + 1
    return [Sample(first + i * STEP, value if start <= first + i * STEP < start + length * STEP else ok)
            for i in range(n)]


def judge(samples, *, judged_until, for_s=0.0, comparison=GE, threshold=0.02, no_data="hold", now=NOW, **kw):
    return judge_round(samples, judged_until=judged_until, comparison=comparison, threshold=threshold, for_s=for_s,
                       step_s=STEP, now=now, no_data=no_data, label="x", **kw)


# id, samples, kwargs, state, seen_at (None: the window at now)
CASES = [
    # for = 0: any breaching sample after the last judged one
    ("for=0, a breach between rounds fires", spell(NOW - 300, 1), {"judged_until": NOW - 600}, "fired", NOW - 300),
    ("for=0, a first round judges only now", spell(NOW - 300, 1), {"judged_until": None}, "ok", None),
    ("for=0, the sample the last round judged is not judged again", spell(NOW - 600, 1), {"judged_until": NOW - 600},
     "ok", None),
    ("for=0, one step after it is", spell(NOW - 570, 1), {"judged_until": NOW - 600}, "fired", NOW - 570),
    ("for=0, the first of two breaches is said", spell(NOW - 300, 1) [:-10] + spell(NOW - 240, 1)[-10:],
     {"judged_until": NOW - 600}, "fired", NOW - 300),
    ("for=0, a breach at now is the window at now", spell(NOW, 1), {"judged_until": NOW - 600}, "fired", None),
    ("for=0, a breach now and before: the window at now", spell(NOW - 60, 3), {"judged_until": NOW - 600}, "fired", None),
    ("for=0, nothing breached", spell(NOW, 0), {"judged_until": NOW - 600}, "ok", None),
    # the catch-up bound: at most an hour back
    ("an hour back is judged", spell(NOW - CATCH_UP_S + STEP, 1), {"judged_until": NOW - 2 * 3600}, "fired",
     NOW - CATCH_UP_S + STEP),
    ("more than an hour back is not", spell(NOW - CATCH_UP_S, 1), {"judged_until": NOW - 2 * 3600}, "ok", None),
    # a `for` window: a covered run that long, ending after the last judged sample
    ("for=5m, 5m of breach between rounds fires", spell(NOW - 900, 11), {"judged_until": NOW - 1200, "for_s": 300},
     "fired", NOW - 600),
    ("for=5m, 4m30s of breach does not", spell(NOW - 900, 10), {"judged_until": NOW - 1200, "for_s": 300}, "ok", None),
    ("for=5m, a run that ended before the last round is not judged again", spell(NOW - 900, 11),
     {"judged_until": NOW - 600, "for_s": 300}, "ok", None),
    ("for=5m, a run still breaching at the last round fires when it reaches 5m", spell(NOW - 900, 11),
     {"judged_until": NOW - 630, "for_s": 300}, "fired", NOW - 600),
    ("for=5m, a gap in the run: 10 of 11 covers it", [s for s in spell(NOW - 900, 11) if s.ts != NOW - 750],
     {"judged_until": NOW - 1200, "for_s": 300}, "fired", NOW - 600),
    ("for=5m, two gaps: not covered, holds", [s for s in spell(NOW - 900, 11) if s.ts not in (NOW - 750, NOW - 720)],
     {"judged_until": NOW - 1200, "for_s": 300}, "ok", None),
    ("for=5m, two gaps under breach: missing counts", [s for s in spell(NOW - 900, 11) if s.ts not in (NOW - 750, NOW - 720)],
     {"judged_until": NOW - 1200, "for_s": 300, "no_data": "breach"}, "fired", NOW - 600),
    # the rollout's start clips every window, at every end
    ("for=5m, a run from the start is young until 5m after it", spell(NOW - 900, 10),
     {"judged_until": NOW - 1200, "for_s": 300, "since": NOW - 900}, "ok", None),
    ("for=5m, and fires once it has been seen 5m after it", spell(NOW - 900, 11),
     {"judged_until": NOW - 1200, "for_s": 300, "since": NOW - 900}, "fired", NOW - 600),
    ("for=5m, a previous attempt's breach still on at the start is young until 5m after it", spell(NOW - 1200, 20),
     {"judged_until": NOW - 1200, "for_s": 300, "since": NOW - 900}, "ok", None),
    # only samples judged as samples: NaN is no data, and the no-data rule speaks at now only
    ("a NaN between rounds is no sample, even to !=", grid(NOW - 600, [0.0] * 10 + [math.nan] + [0.0] * 10),
     {"judged_until": NOW - 600, "comparison": NE, "threshold": 0.0, "no_data": "breach"}, "ok", None),
    ("!= fires on a real sample", grid(NOW - 600, [0.0] * 10 + [1.0] + [0.0] * 10),
     {"judged_until": NOW - 600, "comparison": NE, "threshold": 0.0}, "fired", NOW - 300),
    ("a lower-is-worse trigger", grid(NOW - 600, [1.0] * 10 + [0.5] + [1.0] * 10),
     {"judged_until": NOW - 600, "comparison": Comparison.LT, "threshold": 0.9}, "fired", NOW - 300),
]


@pytest.mark.parametrize("samples,kwargs,state,seen_at", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_round_judges_every_sample_since_the_last(samples, kwargs, state, seen_at):
    v = judge(samples, **kwargs)
    assert (v.state, v.seen_at) == (state, seen_at), v.why
    assert v.at == NOW


def test_a_breach_between_rounds_reads_when_it_was_seen():
    v = judge(spell(NOW - 420, 1, value=1.0, ok=0.0), judged_until=NOW - 600, comparison=GT, threshold=0.0)
    assert v.why == "x 1 > 0 (between rounds, 7m00s before this one)"
    assert (v.value, v.breaching_for_s, v.needed_s, v.coverage) == (1.0, 0.0, 0.0, 1.0)
    w = judge(spell(NOW - 900, 11), judged_until=NOW - 1200, for_s=300, unit="ratio")
    assert w.why == "x 2.4 % ≥ 2 % for 5m00s of 5m00s (between rounds, 10m00s before this one)"
    assert (w.value, w.breaching_for_s, w.coverage) == (BAD, 300.0, 1.0)


def test_a_round_without_a_label_says_value():
    v = judge_round(spell(NOW - 420, 1, value=1.0, ok=0.0), judged_until=NOW - 600, comparison=GT, threshold=0.0,
                    for_s=0.0, step_s=STEP, now=NOW, no_data="hold")
    assert v.why == "value 1 > 0 (between rounds, 7m00s before this one)"


def test_a_sample_after_now_ends_no_window():
    """A sample half a step ahead belongs to the window at now, which it does not make fire here;
    on its own it would have (its window drops the ok sample at the far edge)."""
    samples = grid(NOW - 75, [OK, BAD, BAD]) + [Sample(NOW + 10, BAD)]
    v = judge(samples, judged_until=NOW - 15, for_s=60)
    assert v.state == "breaching" and v.seen_at is None
    alone = judge(samples, judged_until=NOW - 15, for_s=60, now=NOW + 10)
    assert alone.fired


def test_the_window_at_now_wins_over_one_between_rounds():
    v = judge(spell(NOW - 300, 11), judged_until=NOW - 600, for_s=0)
    assert v.fired and v.seen_at is None and "between rounds" not in v.why


def test_each_end_needs_only_the_coverage_the_canary_could_have_had_by_then():
    """Started at S, breaching from its first sample with two gaps, healthy after 5m: the window
    ending at S+5m is 9 of 11 covered, enough for a canary 5m old (core.triggers.coverage_needed),
    as an on-time round at S+5m would have judged; the window at now needs 90 %."""
    start = NOW - 900
    samples = [s for s in spell(start, 11, first=start) if s.ts not in (start + 90, start + 120)]
    v = judge(samples, judged_until=start - 15, for_s=300, since=start)
    assert (v.state, v.seen_at) == ("fired", start + 300), v.why
    assert "window 81.8 % covered" not in v.why and v.coverage == pytest.approx(9 / 11)
    on_time = judge(samples, judged_until=None, for_s=300, since=start, now=start + 300)
    assert on_time.fired


@pytest.mark.parametrize("offset,state", [(-30, "ok"), (0, "fired"), (30, "fired")])
def test_no_window_ends_before_the_rollouts_start(offset, state):
    """for = 0, one breaching sample `offset` from the start (the previous attempt's, before it)."""
    start = NOW - 300
    v = judge(spell(start + offset, 1), judged_until=NOW - 600, since=start)
    assert v.state == state, v.why


@pytest.mark.parametrize(
    "now,for_s,judged_until,bounds",
    [
        (NOW, 300, None, window_bounds(NOW, 300)),  # a first round: its window
        (NOW, 300, NOW - 15, (NOW - 330, NOW)),  # on time (15 s at a 30 s step): a step more, on the grid of now
        (NOW, 300, NOW - 30, (NOW - 330, NOW)),
        (NOW, 300, NOW - 31, (NOW - 360, NOW)),
        (NOW, 0, NOW - 600, (NOW - 600, NOW)),  # for=0: every step since the last round
        (NOW, 0, NOW - 7200, (NOW - CATCH_UP_S, NOW)),  # at most an hour back
        (NOW, 600, NOW - 7200, (NOW - 600 - CATCH_UP_S, NOW)),
        (NOW, 0, NOW, (NOW, NOW)),
        (NOW, 0, NOW + 60, (NOW, NOW)),  # a clock that went back asks for its window only
    ],
)
def test_round_bounds(now, for_s, judged_until, bounds):
    assert round_bounds(now, for_s, STEP, judged_until) == bounds


@pytest.mark.parametrize(
    "judged_until,unjudged",
    [(None, 0.0), (NOW - 15, 0.0), (NOW - CATCH_UP_S, 0.0), (NOW - CATCH_UP_S - 1, 1.0), (NOW - 3 * 3600, 7200.0)],
)
def test_unjudged_samples_are_those_beyond_the_hour(judged_until, unjudged):
    assert unjudged_s(NOW, judged_until) == unjudged


@pytest.mark.parametrize("samples,kwargs", [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_an_unexplained_round_is_the_same_verdict_without_its_words(samples, kwargs):
    said, quiet = judge(samples, **kwargs), judge(samples, explain=False, **kwargs)
    assert said.why != "" and quiet.why == ""
    assert quiet == replace(said, why="")
