"""The headline's precedence (core.headline.PRECEDENCE), pinned: for every pair of neighbours a
moment when both apply and the upper one wins; the rules judged on the status alone never apply
together; and the four orders a careless change broke before (issue 21)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace as NS

import pytest

from cockpit.core import events as ev
from cockpit.core import headline as heads
from cockpit.core import readmodel as rm
from cockpit.core.guardsight import GuardSight
from cockpit.core.state import fold
from tests.conftest import T0
from tests.core.journal import At, records
from tests.core.test_readmodel import GUARD, STARTED, _kill, live, ok_tracks, ready, round_at, seen, state_of, verdict

NOW = T0 + timedelta(minutes=5)
GUARDED = NS(guarded=True, why="")
NO_GUARD = NS(guarded=False, why="no guard has published a round")

FIRED = NS(id="api_p95_regression", state="fired", name="Performance", value="1,500 ms", limit="> 1,200 ms",
           pending="FIRED 14:00:14Z", fires_in=None)
BREACHING = NS(id="error_rate", state="breaching", name="Error Rate", value="3 %", limit="> 2 %", pending="1m00s/5m00s",
               fires_in=240.0)
HOLD = NS(id="path_p95", state="hold", name="Path Queries", value="", limit="> 1,200 ms", pending="HOLD: no data", fires_in=None)

DRIFT = ev.GatewayReconciled(journal_weight=5, observed_weight=0, observed_enabled=True, agrees=False, detail="the gateway reads 0 %",
                             observed_share=0)


def _unconfirmed(plan):
    return state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, attempts=3, error="timeout")))


def _live(plan, *more):
    return state_of(plan, *live(plan), *more)


def _starting_shift(plan):
    return state_of(plan, *ready(plan), ev.RolloutStarted(), ev.TrafficShiftRequested(weight=5, phase=0))


BROKEN = "journal.jsonl line 7: the hash chain breaks"

UNANSWERED = "14:02:11Z"  # the record (etcd) has not answered the face since

# (upper, lower, the moment, the trigger rows, the guard as the face judged it, what the headline says[, the journal
# broken[, since when the record has not answered]])
NEIGHBOURS = [
    ("completed", "record unreachable", lambda p: STATES["completed"](p), (), GUARDED, "COMPLETED", "", UNANSWERED),
    ("record unreachable", "preflight", lambda p: state_of(p), (), NO_GUARD, "RECORD UNREACHABLE", "", UNANSWERED),
    ("record unreachable", "kill", _unconfirmed, (FIRED,), NO_GUARD, "RECORD UNREACHABLE", "", UNANSWERED),
    ("kill", "unguarded", _unconfirmed, (), NO_GUARD, "KILL NOT CONFIRMED"),
    ("unguarded", "gateway drift", lambda p: _live(p, DRIFT), (FIRED,), NO_GUARD, "UNGUARDED"),
    ("gateway drift", "fired", lambda p: _live(p, DRIFT), (FIRED,), GUARDED, "GATEWAY DRIFT"),
    ("fired", "breaching", _live, (BREACHING, FIRED), GUARDED, "FIRED"),
    ("breaching", "journal broken", _live, (HOLD, BREACHING), GUARDED, "BREACHING", BROKEN),
    ("journal broken", "blind", _live, (HOLD,), GUARDED, "JOURNAL BROKEN", BROKEN),
    ("blind", "shifting", lambda p: _live(p, ev.TrafficShiftRequested(weight=25, phase=1)), (HOLD,), GUARDED, "BLIND"),
    ("shifting", "starting", _starting_shift, (), GUARDED, "SHIFTING"),
]

# Judged on the rollout's status alone: never two at once (the status is one value).
BY_STATUS = ("rolled back", "completed", "preflight", "kill", "starting", "soak")


def test_the_precedence_table_reads_most_urgent_first():
    assert [name for name, _ in heads.PRECEDENCE] == [
        "rolled back", "completed", "record unreachable", "preflight", "kill", "unguarded", "gateway drift", "fired", "breaching", "journal broken", "blind",
        "shifting", "starting", "soak"]


def test_every_pair_of_neighbours_is_shown_or_cannot_apply_together():
    names = [name for name, _ in heads.PRECEDENCE]
    shown = {(upper, lower) for upper, lower, *_ in NEIGHBOURS}
    for pair in zip(names, names[1:], strict=False):
        assert pair in shown or set(pair) <= set(BY_STATUS), pair


@pytest.mark.parametrize("upper, lower, moment, rows, guard, word, broken, unanswered",
                         [(*n, "", "")[:8] for n in NEIGHBOURS], ids=[f"{u} over {lo}" for u, lo, *_ in NEIGHBOURS])
def test_the_upper_neighbour_wins_when_both_apply(plan, upper, lower, moment, rows, guard, word, broken, unanswered):
    rules = dict(heads.PRECEDENCE)
    seen_ = heads.Seen(plan, moment(plan), None, NOW, rows, guard, broken, unanswered)
    said_upper, said_lower = rules[upper](seen_), rules[lower](seen_)
    assert said_upper is not None and said_lower is not None  # both apply ...
    assert heads.first(seen_) == said_upper and said_upper.word == word  # ... and the upper one is the headline


STATES = {
    "preflight": lambda p: state_of(p),
    "starting": lambda p: state_of(p, *ready(p), ev.RolloutStarted()),
    "live": lambda p: _live(p),
    "killing": lambda p: state_of(p, *_kill(p)),
    "kill not confirmed": _unconfirmed,
    "rolled back": lambda p: state_of(p, *_kill(p, ev.KillResult(confirmed=True))),
    "completed": lambda p: state_of(p, *live(p, 3), ev.RolloutCompleted()),
}


@pytest.mark.parametrize("moment", list(STATES))
def test_the_rules_judged_on_the_status_never_apply_together(plan, moment):
    rules = dict(heads.PRECEDENCE)
    seen_ = heads.Seen(plan, STATES[moment](plan), None, NOW, (), GUARDED)
    applying = [name for name in BY_STATUS if rules[name](seen_) is not None]
    assert len(applying) == 1, applying


@pytest.mark.parametrize("moment", ["rolled back", "completed", "preflight"])
def test_a_rollout_that_needs_no_guard_is_never_unguarded(plan, moment):
    seen_ = heads.Seen(plan, STATES[moment](plan), None, NOW, (FIRED,), NO_GUARD)
    assert heads.unguarded(seen_) is None and heads.first(seen_).word != "UNGUARDED"


# --- the orders issue 21 found unpinned, on real journals and the read model's own rows ----------------


def test_unguarded_outranks_a_fired_page_trigger(plan):
    state = _live(plan, ev.TriggerFired(trigger="api_p95_regression", action="page", level="L1", value=1500.0,
                                        threshold=1200.0, window_s=600, detail=""))
    head = rm.headline(plan, state, None, NOW, sight=GuardSight(None, None))
    assert head.word == "UNGUARDED" and head.role == "alarm"
    evaluation = round_at(NOW, ok_tracks(plan, NOW))
    guarded = rm.headline(plan, state, evaluation, NOW, sight=seen(evaluation, NOW))
    assert guarded.word == "FIRED"  # the same journal with a guard: the fired trigger is the headline


def test_gateway_drift_outranks_a_fired_trigger(plan):
    state = _live(plan, DRIFT, ev.TriggerFired(trigger="api_p95_regression", action="hold", level="L1", value=1500.0,
                                               threshold=1200.0, window_s=600, detail=""))
    evaluation = round_at(NOW, ok_tracks(plan, NOW))
    head = rm.headline(plan, state, evaluation, NOW, sight=seen(evaluation, NOW))
    assert head.word == "GATEWAY DRIFT" and head.detail.startswith("the gateway reads 0 %")


def test_blind_outranks_a_shift_in_flight(plan):
    state = _live(plan, ev.TrafficShiftRequested(weight=25, phase=1))
    evaluation = round_at(NOW, ok_tracks(plan, NOW, path_p95=verdict("no_data_hold", NOW)))
    head = rm.headline(plan, state, evaluation, NOW, sight=seen(evaluation, NOW))
    assert head.word == "BLIND"


def _kill_records(plan, *more):
    pulled = T0 + timedelta(minutes=3)
    return records(plan, *[At(p, T0) for p in (*ready(plan), STARTED)], At(ev.RolloutStarted(), T0),
                   At(ev.PhaseStarted(phase=0, weight=5), T0), At(ev.KillRequested(reason="p95", trigger="api_p95_regression"), pulled),
                   *more)


def test_a_kill_result_stamped_at_the_instant_of_its_pull_is_not_a_re_pull(plan):
    pulled = T0 + timedelta(minutes=3)
    state = fold(_kill_records(plan, At(ev.KillResult(confirmed=False, attempts=3, error="timeout"), pulled)))
    head = rm.headline(plan, state, None, pulled, sight=GuardSight(GUARD.pid, 0.0))
    assert head.text == "KILL NOT CONFIRMED: the gateway did not confirm the canary is off: timeout — Emergency"


def test_a_pull_after_the_result_is_a_re_pull_with_its_attempt(plan):
    pulled = T0 + timedelta(minutes=3)
    state = fold(_kill_records(plan, At(ev.KillResult(confirmed=False, attempts=3, error="timeout"), pulled),
                               At(ev.KillRequested(reason="again", trigger=""), pulled + timedelta(seconds=1))))
    head = rm.headline(plan, state, None, pulled, sight=GuardSight(GUARD.pid, 0.0))
    assert head.detail.startswith("re-pulling, attempt 2: the gateway did not confirm")


@pytest.mark.parametrize("broken, word", [("", "SOAKING"), (BROKEN, "JOURNAL BROKEN")])
def test_a_broken_journal_is_the_headline_saying_the_guard_still_guards_and_what_to_run(plan, broken, word):
    """Not a toast under SOAKING: the captain and observers read first that the journal does not verify."""
    evaluation = round_at(NOW, ok_tracks(plan, NOW))
    head = rm.headline(plan, _live(plan), evaluation, NOW, sight=seen(evaluation, NOW), journal_broken=broken)
    assert head.word == word
    if broken:
        assert head.text == "JOURNAL BROKEN: the journal does not verify; the guard still guards — run `cockpit verify`"
        assert head.role == "alarm"


@pytest.mark.parametrize("since, word", [("", "SOAKING"), (UNANSWERED, "RECORD UNREACHABLE")])
def test_a_record_that_does_not_answer_is_the_headline_saying_since_when_and_that_the_panes_are_as_last_read(
        plan, since, word):
    """etcd without quorum: the panes show the journal as last read, and the guard may have acted since;
    the captain reads that first, not SOAKING."""
    evaluation = round_at(NOW, ok_tracks(plan, NOW))
    head = rm.headline(plan, _live(plan), evaluation, NOW, sight=seen(evaluation, NOW), unanswered=since)
    assert head.word == word
    if since:
        assert head.text == ("RECORD UNREACHABLE: no answer since 14:02:11Z; shown as last read — the guard keeps "
                             "guarding and journals its events when the store answers")
        assert head.role == "alarm"
