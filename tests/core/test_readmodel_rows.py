"""The read model row by row, as the release captain reads it: exact words where they are shown (table-driven)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace as NS

import msgspec
import pytest

from cockpit.core import events as ev
from cockpit.core import headline as heads
from cockpit.core import readmodel as rm
from cockpit.core import words
from cockpit.core.budget import BudgetBurn, CategoryBurn
from cockpit.core.compare import Comparison
from cockpit.core.evaluation import CriterionView, Health
from cockpit.core.guardsight import GuardSight, judge
from cockpit.core.nextstep import NextStep, next_step
from cockpit.core.triggers import TriggerTrack
from cockpit.engine import plan_snapshot
from tests.conftest import T0
from tests.core.journal import journaled
from tests.core.test_readmodel import GUARD, _kill, gate_met, live, ok_tracks, ready, round_at, seen, state_of, verdict

NOW = T0 + timedelta(minutes=6)


def _trigger(plan, trigger_id):
    return next(t for t in plan.triggers if t.id == trigger_id)


def fake_trigger(**kw):
    base = dict(id="t", name="Latency: p95", check=None, comparison=Comparison.GT, threshold=100.0, above_baseline_pct=None,
                unit="ms", action="rollback", level="L1")
    base.update(kw)
    return NS(**base)


# --- wording helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, label",
    [("Error Rate ≥ 2 %", "Error Rate"), ("Security: cross-tenant", "Security"), ("Cost ≤ 5", "Cost"), ("Queue < 3", "Queue"),
     ("Path > 1200 ms", "Path"), ("Flag = 1", "Flag"), ("Availability (SLO)", "Availability"), ("  Plain name  ", "Plain name"),
     ("A: b ≥ c (d)", "A"), ("x≥y", "x≥y")],
)
def test_trigger_label_is_the_metric_part(name, label):
    assert rm.trigger_label(name) == label


def test_trigger_names_from_the_config_plan_and_from_the_journal(plan):
    names = {"api_p95_regression": "Performance", "path_p95": "Path Queries", "error_rate": "Error Rate",
             "security_violation": "Security", "supply_chain": "Supply Chain"}
    assert rm.trigger_names(plan) == names
    assert rm.trigger_names(plan_snapshot(plan)) == names
    journaled = plan_snapshot(plan)
    document = msgspec.structs.replace(journaled, triggers=("a",),
                                       document={"triggers": [{"id": "a", "name": "Alpha ≥ 1"}, {"id": "b"}, {"name": "no id"}]})
    assert rm.trigger_names(document) == {"a": "Alpha", "b": "b"}
    assert rm.trigger_names(msgspec.structs.replace(journaled, triggers=(), document={})) == {}
    assert rm.trigger_names(plan.model_copy(update={"triggers": []})) == {}


@pytest.mark.parametrize(
    "name, word",
    [("p95 +20 % vs staging", "staging"), ("p95 vs prod, weekly", "prod"), ("p95 vs canary) x", "canary"), ("p95 vs ;", "baseline"),
     ("p95 above staging", "baseline"), ("a vs b vs c", "b"), ("p95 +20 % vs XL-staging", "XL-staging"),
     # nothing after "vs": the plan's name is cut short, the screen still says what the limit is relative to
     ("p95 +20 % vs ", "baseline"), ("p95 +20 % vs   ", "baseline"), ("p95 +20 % vs", "baseline")],
)
def test_baseline_word(name, word):
    assert rm.baseline_word(NS(name=name)) == word


def test_baseline_word_of_an_empty_name():
    assert rm.baseline_word(NS(name="")) == "baseline"


@pytest.mark.parametrize(
    "trigger, threshold, expected",
    [
        (fake_trigger(check="image_provenance"), 1.0, "check fails"),
        (fake_trigger(comparison=">="), 5.0, "≥ 5 ms"),
        (fake_trigger(comparison="<="), 5.0, "≤ 5 ms"),
        (fake_trigger(comparison=Comparison.GE, unit="ratio", threshold=0.02), None, "≥ 2 %"),
        (fake_trigger(name="n", comparison=Comparison.LT, threshold=7.0, unit=""), None, "< 7"),
        (fake_trigger(name="p95 vs prod", above_baseline_pct=-10.0), None, "> prod -10 %"),
        (fake_trigger(name="p95 vs prod", above_baseline_pct=-10.0), 90.0, "> 90 ms (prod 100 ms -10 %)"),
        (fake_trigger(name="p95 vs prod", above_baseline_pct=0.0), 100.0, "> 100 ms (prod 100 ms +0 %)"),
        (fake_trigger(name="p95 vs prod", above_baseline_pct=50.0), 150.0, "> 150 ms (prod 100 ms +50 %)"),
        (fake_trigger(name="p95", above_baseline_pct=12.5), None, "> baseline +12.5 %"),
    ],
)
def test_limit_text(trigger, threshold, expected):
    assert rm.limit_text(trigger, threshold) == expected


def test_headline_text_and_alarm():
    assert rm.Headline("SOAKING", "5m00s left", "ok", " ").text == "SOAKING 5m00s left"
    assert rm.Headline("READY", "go").text == "READY: go"
    assert rm.Headline("COMPLETED").text == "COMPLETED"
    assert rm.Headline("COMPLETED").role == "bold"
    assert {role for role in rm.ROLES if rm.Headline("X", role=role).alarming} == {"warn", "breach", "alarm", "kill"}


def test_decision_text():
    go = rm.DecisionRow("sre", "SRE", "GO", "Sam", "alice@bastion", T0, "", "ok")
    assert go.text == "Sam (SRE) GO, entered by alice@bastion"
    assert rm.DecisionRow("sre", "SRE", "NO-GO", "Sam", "", T0, "", "breach").text == "Sam (SRE) NO-GO"
    assert rm.DecisionRow("sre", "SRE", "waiting", "", "", None, "", "muted").text == "SRE: waiting"
    assert rm.DecisionRow("sre", "SRE", "undecided", "", "", None, "", "muted").text == "SRE: not decided"


def test_private_helpers():
    assert rm._seconds(None) == 0.0
    assert rm._seconds(timedelta(minutes=2)) == 120.0
    assert rm._seconds(7) == 7.0 and isinstance(rm._seconds(7), float)


@pytest.mark.parametrize(
    "trigger, words",
    [(fake_trigger(action="rollback"), "auto-rollback"), (fake_trigger(action="hold"), "holds the rollout"),
     (fake_trigger(action="page", level="L3"), "pages L3"), (fake_trigger(action="page", level=""), "pages")],
)
def test_action_words(trigger, words):
    assert heads._action_words(trigger) == words


# --- trigger rows ---------------------------------------------------------------------------------------


def _live_state(plan, *more):
    return state_of(plan, *live(plan), *more)


def _gauge(plan, state, trigger_id, track, now=NOW, **round_kw):
    tracks = ok_tracks(plan, now)
    tracks[trigger_id] = track
    return rm.trigger_row(_trigger(plan, trigger_id), state, round_at(now, tracks, **round_kw), now)


PERF_LIMIT = "> 285 ms (staging 238 ms +20 %)"


def test_ok_row_in_full(plan):
    row = _gauge(plan, _live_state(plan), "api_p95_regression", TriggerTrack(verdict("ok", NOW, value=242.0), NOW.timestamp(), None, (230.0, 242.0)))
    assert row == rm.TriggerRow("api_p95_regression", "Performance", rm.PASS, "242 ms", PERF_LIMIT, "—", "ok", "ok",
                                (230.0, 242.0), 285.0, None, "rollback")


@pytest.mark.parametrize(
    "breaching_for, needed, age, fires_in, pending, breached",
    [(360.0, 600.0, 0, 240.0, "6m00s/10m00s", 360.0), (360.0, 600.0, 30, 210.0, "6m30s/10m00s", 390.0),
     (590.0, 600.0, 30, 0.0, "10m00s/10m00s", 600.0), (0.0, 600.0, -30, 600.0, "0s/10m00s", 0.0)],
    ids=["fresh", "30s-after-the-round", "overdue-clamps-at-zero", "round-from-the-future"],
)
def test_breaching_row_counts_down(plan, breaching_for, needed, age, fires_in, pending, breached):
    at = NOW - timedelta(seconds=age)
    track = TriggerTrack(verdict("breaching", at, breaching_for=breaching_for, needed=needed), at.timestamp(), None, (320.0,))
    row = _gauge(plan, _live_state(plan), "api_p95_regression", track)
    assert row == rm.TriggerRow("api_p95_regression", "Performance", rm.WARN, "320 ms", PERF_LIMIT, pending, "breach", "breaching",
                                (320.0,), 285.0, fires_in, "rollback", breached)
    assert rm.breach_ages([row]) == {"api_p95_regression": breached}


@pytest.mark.parametrize("age", [0, 1, 14, 29])  # the gauge is STALE past two polls
def test_the_headlines_countdown_and_the_gauge_add_up_to_the_window(plan, age):
    """One number per fact: "auto-rollback in 5m26s" never stands beside a gauge "4m00s/10m00s"
    (the difference was the round's age); both are said as of the face's now."""
    at = NOW - timedelta(seconds=age)
    track = TriggerTrack(verdict("breaching", at, breaching_for=360.0, needed=600.0), at.timestamp(), None, (320.0,))
    state = _live_state(plan)
    tracks = ok_tracks(plan, NOW)
    tracks["api_p95_regression"] = track
    model = rm.read_model(plan, state, round_at(NOW, tracks, at=at), NOW, sight=GuardSight(GUARD.pid, 0.5))
    row = next(r for r in model.triggers if r.id == "api_p95_regression")
    breached, needed = row.pending.split("/")
    countdown = model.headline.detail.rsplit(" in ", 1)[1]
    assert words.duration(min(600, 360 + age)) == breached and needed == "10m00s"
    assert countdown == words.duration(max(0, 240 - age))


def test_hold_and_ignored_rows_in_full(plan):
    state = _live_state(plan)
    hold = _gauge(plan, state, "path_p95", TriggerTrack(verdict("no_data_hold", NOW, value=1300.0, threshold=1200.0), NOW.timestamp(), None, (9.0,)))
    assert hold == rm.TriggerRow("path_p95", "Path Queries", rm.WARN, "", "> 1,200 ms", "HOLD: no data", "warn", "hold", (9.0,), 1200.0, None, "rollback")
    ignored = _gauge(plan, state, "path_p95", TriggerTrack(verdict("no_data_ignored", NOW, value=None, threshold=1200.0), NOW.timestamp(), None, (9.0,)))
    assert ignored == rm.TriggerRow("path_p95", "Path Queries", rm.WAIT, "", "> 1,200 ms", "no data (ignored)", "muted", "ignored", (9.0,),
                                    1200.0, None, "rollback")


def test_a_fired_verdict_says_when_in_utc_whatever_the_screens_zone(plan):
    at = NOW - timedelta(seconds=5)
    row = _gauge(plan, _live_state(plan), "error_rate", TriggerTrack(verdict("fired", at, value=0.031, threshold=0.02), at.timestamp(), None, (0.031,)))
    assert row == rm.TriggerRow("error_rate", "Error Rate", rm.FAIL, "3.1 %", "≥ 2 %", "FIRED 14:05:55Z", "alarm", "fired", (0.031,), 0.02, None, "rollback")
    plus_two = timezone(timedelta(hours=2))
    local = _gauge(plan, _live_state(plan), "error_rate", TriggerTrack(verdict("fired", at, value=0.031, threshold=0.02), at.timestamp()),
                   now=NOW.astimezone(plus_two))
    assert local.pending == "FIRED 14:05:55Z"


def test_stale_rows_show_the_last_value_and_its_age(plan):
    state = _live_state(plan)
    three_min = (NOW - timedelta(minutes=3)).timestamp()
    stale = _gauge(plan, state, "api_p95_regression", TriggerTrack(verdict("breaching", NOW, value=400.0), three_min, "timeout", (240.0, 250.0)))
    assert stale == rm.TriggerRow("api_p95_regression", "Performance", rm.STALE_MARK, "250 ms, 3m00s ago", PERF_LIMIT, "STALE 3m00s", "stale", "stale",
                                  (240.0, 250.0), 285.0, None, "rollback")
    # no sparkline: the verdict's own value
    assert _gauge(plan, state, "api_p95_regression", TriggerTrack(verdict("ok", NOW, value=260.0), three_min, "timeout")).value == "260 ms, 3m00s ago"
    # no value at all: nothing shown
    assert _gauge(plan, state, "api_p95_regression", TriggerTrack(verdict("ok", NOW, value=None), three_min, "timeout")).value == ""
    # never had a good answer: no age
    never = _gauge(plan, state, "api_p95_regression", TriggerTrack(verdict("ok", NOW, value=260.0), None, "timeout"))
    assert (never.value, never.pending, never.state) == ("", "STALE —", "stale")


def test_stale_begins_after_two_poll_intervals(plan):
    state = _live_state(plan)
    at_30 = TriggerTrack(verdict("ok", NOW, value=240.0), (NOW - timedelta(seconds=30)).timestamp())
    at_31 = TriggerTrack(verdict("ok", NOW, value=240.0), (NOW - timedelta(seconds=31)).timestamp())
    assert _gauge(plan, state, "api_p95_regression", at_30).state == "ok"
    assert _gauge(plan, state, "api_p95_regression", at_31).pending == "STALE 31s"


@pytest.mark.parametrize("value, shown", [(0.0, "pass"), (0.5, "pass"), (0.51, "fail"), (1.0, "fail")])
def test_a_check_trigger_reads_pass_or_fail(plan, value, shown):
    row = _gauge(plan, _live_state(plan), "supply_chain", TriggerTrack(verdict("ok", NOW, value=value, threshold=0.5), NOW.timestamp()))
    assert (row.value, row.limit) == (shown, "check fails")


def test_a_check_without_a_verdict_waits_for_the_next_run(plan):
    row = _gauge(plan, _live_state(plan), "supply_chain", TriggerTrack())
    assert row == rm.TriggerRow("supply_chain", "Supply Chain", rm.WAIT, "", "check fails", "next check run", "muted", "waiting", (), None, None, "rollback")


def test_waiting_rows_in_full(plan):
    state = _live_state(plan)
    no_guard = rm.trigger_row(_trigger(plan, "path_p95"), state, None, NOW)
    assert no_guard == rm.TriggerRow("path_p95", "Path Queries", rm.WAIT, "", "> 1,200 ms", "no guard", "muted", "waiting", (), None, None, "rollback")
    errored = _gauge(plan, state, "path_p95", TriggerTrack(None, None, "refused", (5.0,)))
    assert errored == rm.TriggerRow("path_p95", "Path Queries", rm.WAIT, "", "> 1,200 ms", "no answer", "muted", "waiting", (5.0,), None, None, "rollback")


def test_a_waiting_row_keeps_the_journaled_threshold(plan):
    state = _live_state(plan, ev.TriggerBreached(trigger="api_p95_regression", value=320.0, threshold=290.0))
    row = rm.trigger_row(_trigger(plan, "api_p95_regression"), state, None, NOW)
    assert (row.threshold, row.limit) == (290.0, "> 290 ms (staging 242 ms +20 %)")


def test_preflight_and_stopped_rows_in_full(plan):
    track = TriggerTrack(verdict("breaching", NOW, value=400.0), NOW.timestamp(), None, (400.0,))
    pre = _gauge(plan, state_of(plan), "api_p95_regression", track)
    assert pre == rm.TriggerRow("api_p95_regression", "Performance", rm.WAIT, "", PERF_LIMIT, "armed at start", "muted", "waiting", (), 285.0, None, "rollback")
    for state in (state_of(plan, *_kill(plan, ev.KillResult(confirmed=True))), state_of(plan, *live(plan, 3), ev.RolloutCompleted())):
        stopped = _gauge(plan, state, "api_p95_regression", track)
        assert stopped == rm.TriggerRow("api_p95_regression", "Performance", rm.WAIT, "", PERF_LIMIT, "stopped", "muted", "stopped", (400.0,), 285.0,
                                        None, "rollback")


def test_a_journaled_fire_outranks_the_live_gauge(plan):
    fired = ev.TriggerFired(trigger="path_p95", action="rollback", level="L1", value=1500.0, threshold=1250.0, window_s=600, detail="")
    state = _live_state(plan, fired)
    row = _gauge(plan, state, "path_p95", TriggerTrack(verdict("ok", NOW, value=10.0, threshold=1200.0), NOW.timestamp(), None, (10.0,)))
    assert row == rm.TriggerRow("path_p95", "Path Queries", rm.FAIL, "1,500 ms", "> 1,250 ms", "FIRED 14:00:14Z", "alarm", "fired", (10.0,), 1250.0,
                                None, "rollback")
    no_threshold = _live_state(plan, msgspec.structs.replace(fired, threshold=None))
    row = _gauge(plan, no_threshold, "path_p95", TriggerTrack(verdict("ok", NOW, value=10.0, threshold=1100.0), NOW.timestamp()))
    assert (row.limit, row.threshold) == ("> 1,100 ms", None)
    # after the rollback the fired row still says what fired
    killed = state_of(plan, *live(plan), fired, ev.KillRequested(reason="p", trigger="path_p95"), ev.KillResult(confirmed=True))
    assert rm.trigger_row(_trigger(plan, "path_p95"), killed, None, NOW).pending == "FIRED 14:00:14Z"


# --- guard health -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "age, guarded, text, short, role",
    [(0, True, "GUARD 4242@bastion · last round 0s ago", "guard ● 0s", "ok"),
     (45, True, "GUARD 4242@bastion · last round 45s ago", "guard ● 45s", "ok"),
     (46, False, "UNGUARDED 46s", "UNGUARDED 46s", "alarm"),
     (180, False, "UNGUARDED 3m00s", "UNGUARDED 3m00s", "alarm")],
)
def test_unguarded_after_exactly_three_poll_intervals(plan, age, guarded, text, short, role):
    """Three of the plan's 15 s polls by the face's own sight of the file's age; the round's `at` is not read."""
    state = _live_state(plan)
    health = rm.guard_health(plan, state, round_at(NOW), GuardSight(GUARD.pid, float(age)))
    why = "" if guarded else f"no guard round for {words.duration(age)}"
    assert health == rm.GuardHealth(guarded, True, text, short, role, GUARD, float(age), "live" if guarded else "unguarded", why)


def test_the_rounds_claimed_time_is_not_its_age(plan):
    """A round that claims to be from now, seen unchanged for 46 s, is 46 s old; one that claims an hour
    ago, seen changing just now, is fresh (the guard's clock is its own)."""
    state = _live_state(plan)
    assert not rm.guard_health(plan, state, round_at(NOW), GuardSight(GUARD.pid, 46.0)).guarded
    assert rm.guard_health(plan, state, round_at(NOW, at=NOW - timedelta(hours=1)), GuardSight(GUARD.pid, 0.0)).guarded


def test_guard_health_without_a_live_rollout_or_a_round(plan):
    pre = state_of(plan, guard=False)
    assert rm.guard_health(plan, pre, None, GuardSight()) == rm.GuardHealth(
        False, False, "no guard", "guard none", "muted", None, None, "none", "no guard holds the guard lock")
    assert rm.guard_health(plan, pre, round_at(NOW), GuardSight(None, 300.0)) == rm.GuardHealth(
        False, False, "no guard", "guard none", "muted", GUARD, 300.0, "none", "no guard holds the guard lock")
    ready_state = state_of(plan)  # preflight, its guard journaled and holding the lock
    assert rm.guard_health(plan, ready_state, round_at(NOW), GuardSight(GUARD.pid, 0.0)) == rm.GuardHealth(
        True, False, "GUARD 4242@bastion · last round 0s ago", "guard ● 0s", "ok", GUARD, 0.0, "live")
    live_state = _live_state(plan)
    assert rm.guard_health(plan, live_state, None, GuardSight(GUARD.pid, None)) == rm.GuardHealth(
        False, True, "UNGUARDED", "UNGUARDED", "alarm", None, None, "unguarded", "no guard has published a round")
    unseen = rm.guard_health(plan, live_state, round_at(NOW), GuardSight(GUARD.pid, None))  # guard.json gone meanwhile
    assert (unseen.text, unseen.why) == ("UNGUARDED 0s", "no guard round for 0s")
    no_round = rm.Evaluation(guard=GUARD)
    assert rm.guard_health(plan, live_state, no_round, GuardSight(GUARD.pid, 2.0)) == rm.GuardHealth(
        False, True, "UNGUARDED", "UNGUARDED", "alarm", GUARD, None, "unguarded", "no guard has published a round")


OTHER = dataclasses.replace(GUARD, pid=5151)
STOPPED = ev.GuardStopped(pid=GUARD.pid, host=GUARD.host, reason="the rollout is rolled back and the kill verified")


@pytest.mark.parametrize(
    "case, more, evaluation, sight, why",
    [
        ("nobody holds the lock: the journal's guard died", (), "fresh", GuardSight(None, 0.0),
         "guard 4242@bastion no longer holds the guard lock"),
        ("nobody holds the lock, and none was ever journaled", "unjournaled", "fresh", GuardSight(None, 0.0),
         "no guard holds the guard lock"),
        ("nobody holds the lock: the journal's guard stopped", (STOPPED,), "fresh", GuardSight(None, 0.0),
         "guard 4242@bastion stopped at 14:00:14Z: the rollout is rolled back and the kill verified"),
        ("nobody saw anything (no sight)", (), "fresh", None, "guard 4242@bastion no longer holds the guard lock"),
        ("a holder, no guard.json", (), None, GuardSight(GUARD.pid, None), "no guard has published a round"),
        ("guard.json not from the holder", (), "fresh", GuardSight(OTHER.pid, 0.0),
         "guard.json is not from the guard lock's holder (pid 5151)"),
        ("guard.json naming no guard", (), "anonymous", GuardSight(GUARD.pid, 0.0),
         "guard.json is not from the guard lock's holder (pid 4242)"),
        ("the holder published it, but the journal names another", (ev.GuardStarted(pid=OTHER.pid, host="bastion"),),
         "fresh", GuardSight(GUARD.pid, 0.0), "the guard lock's holder (pid 4242) is not the journal's guard (5151@bastion)"),
        ("the journal names the pid on another host", (ev.GuardStarted(pid=GUARD.pid, host="elsewhere"),),
         "fresh", GuardSight(GUARD.pid, 0.0), "the guard lock's holder (pid 4242) is not the journal's guard (4242@elsewhere)"),
        ("the holder published it, the journal has no guard", "unjournaled", "fresh", GuardSight(GUARD.pid, 0.0),
         "the guard lock's holder (pid 4242) is not the journal's guard (none)"),
        ("the guard's own round, no age seen", (), "fresh", GuardSight(GUARD.pid, None), "no guard round for 0s"),
        ("the guard's own round, too old", (), "fresh", GuardSight(GUARD.pid, 45.5), "no guard round for 45s"),  # a stopwatch: 45.5 s is 45s
        ("the guard's own round, fresh", (), "fresh", GuardSight(GUARD.pid, 45.0), ""),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_why_a_live_rollout_is_unguarded(plan, case, more, evaluation, sight, why):
    """Guarded only when the lock's holder (the kernel's pid) published the round and is the journal's
    latest guard, and the face saw the round change within three polls; else why not, first reason first."""
    state = state_of(plan, *live(plan), *more) if more != "unjournaled" else state_of(plan, *live(plan), guard=False)
    live_round = {"fresh": round_at(NOW), "anonymous": rm.Evaluation(at=NOW), None: None}[evaluation]
    j = judge(plan, state, live_round, sight)
    assert (j.guarded, j.why) == (not why, why)
    head = rm.headline(plan, state, live_round, NOW, sight=sight)
    if why:
        assert head == rm.Headline("UNGUARDED", f"{why} — triggers are not evaluated, nothing rolls back on its own", "alarm")
    else:
        assert head.word == "SOAKING"


def test_a_stopped_guard_says_stopped_and_when_once_nothing_is_live(plan):
    """After a rollback the guard stops (as designed): not "guard ● 0s", not UNGUARDED (nothing is live)."""
    rolled = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")), STOPPED)
    health = rm.guard_health(plan, rolled, round_at(NOW), GuardSight(None, 0.0))
    stop_at = rolled.guard_stop.at
    assert health == rm.GuardHealth(
        False, False, f"guard 4242@bastion stopped at {stop_at:%H:%M:%S}Z: the rollout is rolled back and the kill verified",
        f"guard stopped {stop_at:%H:%M:%S}Z", "muted", None, 0.0, "stopped", STOPPED.reason, stop_at)
    # A guard that started again since is not the stopped one.
    again = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True)), STOPPED, ev.GuardStarted(pid=OTHER.pid, host="bastion"))
    assert rm.guard_health(plan, again, None, GuardSight(None, None)).state == "none"


# --- soak ----------------------------------------------------------------------------------------------


def test_soak_view(plan):
    assert rm.soak_view(plan, state_of(plan), NOW) == rm.SoakView(False, "", 0.0, 0.0, 0.0)
    state = _live_state(plan)
    start = state.phase_started_at
    assert rm.soak_view(plan, state, start + timedelta(minutes=5)) == rm.SoakView(True, "", 0.25, 900.0, 1200.0)
    assert rm.soak_view(plan, state, start + timedelta(minutes=25)) == rm.SoakView(True, "", 1.0, 0.0, 1200.0)
    killing = state_of(plan, *_kill(plan))
    assert rm.soak_view(plan, killing, killing.phase_started_at + timedelta(minutes=10)) == rm.SoakView(True, "", 0.5, 600.0, 1200.0)
    rolled = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True)))
    assert rm.soak_view(plan, rolled, NOW) == rm.SoakView(True, "rolled back", 0.0, 0.0, 1200.0)
    unconfirmed = state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, error="x")))
    assert rm.soak_view(plan, unconfirmed, NOW) == rm.SoakView(True, "KILL NOT CONFIRMED", 0.0, 0.0, 1200.0)


def test_a_soak_of_zero_is_complete(plan):
    zero = plan.model_copy(update={"phases": [plan.phases[0].model_copy(update={"soak": timedelta(0)})] + list(plan.phases[1:])})
    state = _live_state(plan)
    assert rm.soak_view(zero, state, NOW).fraction == 1.0


@pytest.mark.parametrize(
    "build, word",
    [(lambda p: [], "preflight"), (live, "live"), (_kill, "kill sent"),
     (lambda p: _kill(p, ev.KillResult(confirmed=False, error="x")), "KILL NOT CONFIRMED"),
     (lambda p: _kill(p, ev.KillResult(confirmed=True)), "rolled back"), (lambda p: live(p, 3) + [ev.RolloutCompleted()], "completed")],
)
def test_status_word(plan, build, word):
    assert rm.status_word(state_of(plan, *build(plan))) == word


# --- the headline at its boundaries ----------------------------------------------------------------------


def _head(plan, state, evaluation, now=NOW):
    return rm.read_model(plan, state, evaluation, now, sight=seen(evaluation, now)).headline


def _breaching(now, breaching_for, needed=600.0, **kw):
    return verdict("breaching", now, breaching_for=breaching_for, needed=needed, **kw)


def test_soaking_counts_down_exactly_then_reads_healthy(plan):
    state = _live_state(plan)
    start = state.phase_started_at
    at = start + timedelta(minutes=5, seconds=30)
    assert _head(plan, state, round_at(at, ok_tracks(plan, at)), at) == rm.Headline("SOAKING", "14m30s left", "ok", " ")
    one = start + timedelta(minutes=19, seconds=59)
    assert _head(plan, state, round_at(one, ok_tracks(plan, one)), one).text == "SOAKING 1s left"
    done = start + timedelta(minutes=20)
    assert _head(plan, state, round_at(done, ok_tracks(plan, done)), done) == rm.Headline(
        "HEALTHY", "soak complete; criterion api_p95 not evaluated yet", "ok")


def test_the_soonest_trigger_to_fire_is_named(plan):
    state = _live_state(plan)
    # Performance needs 10 min and has 4 left; Error Rate needs 5 min and has 4m01s left; Path Queries has 9 min left
    tracks = ok_tracks(plan, NOW, api_p95_regression=_breaching(NOW, 360), error_rate=_breaching(NOW, 59, 300, value=0.03, threshold=0.02),
                       path_p95=_breaching(NOW, 60, value=1300.0, threshold=1200.0))
    assert _head(plan, state, round_at(NOW, tracks)) == rm.Headline("BREACHING", "Performance — auto-rollback in 4m00s (+2 more)", "warn")
    tracks["error_rate"] = TriggerTrack(_breaching(NOW, 61, 300, value=0.03, threshold=0.02), NOW.timestamp())
    assert _head(plan, state, round_at(NOW, tracks)).text == "BREACHING: Error Rate — auto-rollback in 3m59s (+2 more)"
    single = ok_tracks(plan, NOW, path_p95=_breaching(NOW, 599, value=1300.0, threshold=1200.0))
    assert _head(plan, state, round_at(NOW, single)).text == "BREACHING: Path Queries — auto-rollback in 1s"


def test_a_breaching_headline_says_what_the_trigger_will_do(plan):
    hold = plan.model_copy(update={"triggers": [t.model_copy(update={"action": "hold"}) if t.id == "path_p95" else t for t in plan.triggers]})
    state = _live_state(plan)
    tracks = ok_tracks(plan, NOW, path_p95=_breaching(NOW, 0, value=1300.0, threshold=1200.0))
    assert _head(hold, state, round_at(NOW, tracks)).text == "BREACHING: Path Queries — holds the rollout in 10m00s"


def test_breaching_rows_without_a_countdown_sort_last(plan):
    state = _live_state(plan)
    row = lambda tid, fires_in: rm.TriggerRow(tid, tid, rm.WARN, "", "", "", "breach", "breaching", fires_in=fires_in)  # noqa: E731
    rows = (row("path_p95", None), row("error_rate", 90.0))
    head = rm.headline(plan, state, round_at(NOW, ok_tracks(plan, NOW)), NOW, rows, sight=seen(round_at(NOW), NOW))
    assert head.text == "BREACHING: error_rate — auto-rollback in 1m30s (+1 more)"
    only = rm.headline(plan, state, round_at(NOW, ok_tracks(plan, NOW)), NOW, (row("path_p95", None),), sight=seen(round_at(NOW), NOW))
    assert only.text == "BREACHING: path_p95 — auto-rollback in 0s"


def _hold(now):
    return verdict("no_data_hold", now, value=None, threshold=1200.0)


def test_blind_counts_the_triggers_holding_for_want_of_data(plan):
    state = _live_state(plan)
    one = ok_tracks(plan, NOW, path_p95=_hold(NOW))
    assert _head(plan, state, round_at(NOW, one)) == rm.Headline("BLIND", "1 trigger without data — holding", "warn")
    ignored = ok_tracks(plan, NOW, path_p95=_hold(NOW), error_rate=verdict("no_data_ignored", NOW, value=None))
    assert _head(plan, state, round_at(NOW, ignored)).text == "BLIND: 1 trigger without data — holding"
    only_ignored = ok_tracks(plan, NOW, error_rate=verdict("no_data_ignored", NOW, value=None))
    assert _head(plan, state, round_at(NOW, only_ignored)).word == "SOAKING"
    stale = ok_tracks(plan, NOW)
    stale["error_rate"] = TriggerTrack(verdict("ok", NOW, value=0.01, threshold=0.02), (NOW - timedelta(minutes=2)).timestamp(), "timeout")
    assert _head(plan, state, round_at(NOW, stale)) == rm.Headline("BLIND", "1 trigger without data — stale gauges", "warn")
    both = ok_tracks(plan, NOW, path_p95=_hold(NOW))
    both["error_rate"] = stale["error_rate"]
    assert _head(plan, state, round_at(NOW, both)) == rm.Headline("BLIND", "2 triggers without data — 1 holding, 1 stale", "warn")


@pytest.mark.parametrize("health, text", [
    (None, "BLIND: 1 trigger without data — holding"),
    (Health("prometheus", True, "ok (11 queries)", NOW - timedelta(minutes=5)), "BLIND: 1 trigger without data — holding"),
    (Health("prometheus", None), "BLIND: 1 trigger without data — holding"),  # not checked yet
    (Health("prometheus", False, "down: 11 of 11 queries failed: connection refused", NOW - timedelta(seconds=45), 4),
     "BLIND: 1 trigger without data — holding, Prometheus down for 45s"),
    (Health("prometheus", False, "degraded: 3 of 11 queries failed: timed out", NOW - timedelta(minutes=2), 8),
     "BLIND: 1 trigger without data — holding, Prometheus degraded for 2m00s"),
    (Health("prometheus", False, "down: 11 of 11 queries failed", None, 1), "BLIND: 1 trigger without data — holding, Prometheus down"),
])
def test_blindness_names_a_prometheus_that_does_not_answer(plan, health, text):
    state = _live_state(plan)
    one = round_at(NOW, ok_tracks(plan, NOW, path_p95=_hold(NOW)))
    if health is not None:
        one = dataclasses.replace(one, health={"prometheus": health})
    assert _head(plan, state, one).text == text


def test_a_prometheus_down_without_blind_triggers_is_not_the_headline(plan):
    state = _live_state(plan)
    down = Health("prometheus", False, "down: 1 of 11 queries failed", NOW - timedelta(seconds=45), 4)
    head = _head(plan, state, dataclasses.replace(round_at(NOW, ok_tracks(plan, NOW)), health={"prometheus": down}))
    assert head.word == "SOAKING"


def test_a_breach_outranks_blindness_and_a_fire_outranks_a_breach(plan):
    state = _live_state(plan)
    tracks = ok_tracks(plan, NOW, path_p95=_hold(NOW), api_p95_regression=_breaching(NOW, 60))
    assert _head(plan, state, round_at(NOW, tracks)).word == "BREACHING"
    fired = state_of(plan, *live(plan), ev.TriggerFired(trigger="error_rate", action="rollback", level="L1", value=0.05, threshold=0.02, window_s=300,
                                                        detail=""),
                     ev.TriggerFired(trigger="path_p95", action="hold", level="L1", value=1500.0, threshold=1200.0, window_s=600, detail=""))
    assert _head(plan, fired, round_at(NOW, tracks)) == rm.Headline("FIRED", "Path Queries 1,500 ms > 1,200 ms at 14:00:15Z (+1 more)", "alarm")


@pytest.mark.parametrize("age, word", [(45, "SOAKING"), (46, "UNGUARDED")])
def test_unguarded_headline_after_three_poll_intervals(plan, age, word):
    state = _live_state(plan)
    head = _head(plan, state, round_at(NOW, ok_tracks(plan, NOW), at=NOW - timedelta(seconds=age)))
    assert head.word == word
    if word == "UNGUARDED":
        assert head == rm.Headline("UNGUARDED", "no guard round for 46s — triggers are not evaluated, nothing rolls back on its own", "alarm")


def test_unguarded_without_any_round(plan):
    state = _live_state(plan)
    expected = rm.Headline("UNGUARDED", "no guard has published a round — triggers are not evaluated, nothing rolls back on its own", "alarm")
    assert _head(plan, state, None) == expected
    assert _head(plan, state, rm.Evaluation(guard=GUARD)) == expected


def test_preflight_headline_counts_checks_and_sign_offs(plan):
    some = [ev.CheckRan(check="image_provenance", status="pass", detail=""), ev.CheckRan(check="cve_status", status="fail", detail="2 high"),
            ev.CheckWaived(check="secrets", reason="rotated yesterday"), ev.SignedOff(role="sre", name="Sam")]
    state = state_of(plan, *some)
    assert _head(plan, state, None, T0) == rm.Headline("PREFLIGHT", "2/6 checks passed · 1/5 sign-offs", "bold")


def test_preflight_headline_names_the_freeze(plan):
    tuesday = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    state = state_of(plan, *ready(plan))
    head = _head(plan, state, None, tuesday)
    assert head.word == "PREFLIGHT" and head.detail.startswith("6/6 checks passed · 5/5 sign-offs · inside the freeze window ")


def test_ready_to_start_says_the_fact_and_the_next_step_names_the_first_weight(plan):
    state = state_of(plan, *ready(plan))
    assert _head(plan, state, None, T0) == rm.Headline("READY", "preflight passed", "ok", step=True)
    assert next_step(state, T0) == NextStep("start", "start at 5 %")


def test_ready_and_no_go_after_the_soak(plan):
    state = state_of(plan, *live(plan), *gate_met(plan))
    done = state.phase_started_at + timedelta(minutes=20)
    assert _head(plan, state, round_at(done, ok_tracks(plan, done)), done) == rm.Headline("READY", "GO recorded", "ok", step=True)
    assert next_step(state, done) == NextStep("advance", "advance to 25 %")
    last = state_of(plan, *live(plan, 3), *gate_met(plan, 3))
    done = last.phase_started_at + timedelta(minutes=20)
    assert _head(plan, last, round_at(done, ok_tracks(plan, done)), done).detail == "GO recorded"
    assert next_step(last, done) == NextStep("advance", "complete the rollout")
    nogo = state_of(plan, *live(plan), *gate_met(plan)[:-1], ev.GateDecided(phase=0, role="sre", decision="NO-GO", name="Sam", note="p99 wobbly"))
    done = nogo.phase_started_at + timedelta(minutes=20)
    assert _head(plan, nogo, round_at(done, ok_tracks(plan, done)), done) == rm.Headline("NO-GO", "SRE (Sam): p99 wobbly", "breach")


def test_shifting_and_starting(plan):
    shifting = state_of(plan, *live(plan), ev.TrafficShiftRequested(weight=25, phase=1))
    assert _head(plan, shifting, round_at(NOW, ok_tracks(plan, NOW))) == rm.Headline("SHIFTING", "to 25 %, waiting for the gateway to confirm", "warn")
    starting = state_of(plan, *ready(plan), ev.RolloutStarted())
    assert _head(plan, starting, round_at(NOW, ok_tracks(plan, NOW))) == rm.Headline("STARTING", "shifting to 5 %", "bold")


def test_headlines_after_a_kill(plan):
    unconfirmed = state_of(plan, *_kill(plan, ev.KillResult(confirmed=False)))
    assert _head(plan, unconfirmed, None) == rm.Headline("KILL NOT CONFIRMED", "the gateway did not confirm the canary is off — Emergency", "kill")
    assert _head(plan, state_of(plan, *_kill(plan)), None) == rm.Headline("KILL SENT", "waiting for the gateway to read the canary back off", "kill")
    unverified = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True)))
    assert _head(plan, unverified, None) == rm.Headline("ROLLED BACK · KILL VERIFIED", "", "warn", " · ")
    assert _head(plan, unverified, None).text == "ROLLED BACK · KILL VERIFIED"
    verified = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")))
    assert _head(plan, verified, None).text == "ROLLED BACK · KILL VERIFIED · canary traffic ~0"
    leaking = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="3.2/s")))
    # Issue 4: traffic that did not fall after a confirmed kill is an Emergency, said loudly.
    assert _head(plan, leaking, None) == rm.Headline(
        "ROLLBACK NOT VERIFIED", "the gateway reads the canary off, but canary traffic NOT ~0: 3.2/s — Emergency, "
        "the guard re-asserts the kill", "kill")
    paged = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="3.2/s"),
                                  ev.IncidentOpened(incident="INC-1", level="Emergency", reason="r"),
                                  ev.IncidentAcknowledged(incident="INC-1", name="Bob Oncall")))
    assert _head(plan, paged, None).text == ("ROLLBACK NOT VERIFIED: the gateway reads the canary off, but canary traffic "
                                             "NOT ~0: 3.2/s — Emergency, INC-1 acknowledged by Bob Oncall")
    fell = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="3.2/s"),
                                 ev.RollbackVerified(ok=True, detail="0/s")))
    assert _head(plan, fell, None).text == "ROLLED BACK · KILL VERIFIED · canary traffic ~0"
    # Issue 6: re-pulling stays KILL NOT CONFIRMED, with the attempt, until a result says otherwise.
    repull = ev.KillRequested(reason="guard re-pulls the unconfirmed kill: x")
    repulling = state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, error="timeout"), repull, ev.KillResult(confirmed=False, error="timeout"), repull))
    assert _head(plan, repulling, None) == rm.Headline(
        "KILL NOT CONFIRMED", "re-pulling, attempt 3: the gateway did not confirm the canary is off: timeout — Emergency", "kill")
    again = state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, error="timeout"), repull, ev.KillResult(confirmed=False, error="timeout")))
    assert _head(plan, again, None).text == "KILL NOT CONFIRMED: the gateway did not confirm the canary is off: timeout — Emergency"
    assert _head(plan, state_of(plan, *live(plan, 3), ev.RolloutCompleted()), None) == rm.Headline("COMPLETED", "the canary is the release", "ok")


# --- gate ---------------------------------------------------------------------------------------------------


def test_gate_view_in_full(plan):
    assert rm.gate_view(plan, state_of(plan), None) == rm.GateView(None, "", "", "", (), (), ())
    state = state_of(plan, *live(plan, 1), ev.CriterionEvaluated(phase=1, criterion="cost_delta", passed=False, detail="+12 %"),
                     ev.GateDecided(phase=1, role="po", decision="NO-GO", name="Pat", note="wait"))
    soak = (1, state.phase_started_at)
    evaluation = round_at(NOW, criteria={"api_p95": CriterionView(True, 240.0, "240 ms ≤ 285 ms")}, soak=soak)
    gate = rm.gate_view(plan, state, evaluation)
    assert gate == rm.GateView(
        1, "Phase 2", "Product Owner + Tech Lead", "",
        (rm.CriterionRow("cost_delta", plan.phases[1].gate.auto[0].name, False, rm.FAIL, "+12 %", "breach"),
         rm.CriterionRow("api_p95", plan.phases[1].gate.auto[1].name, True, rm.PASS, "240 ms ≤ 285 ms", "ok")),
        ("UI E2E functionality confirmed", "User feedback channels clear"),
        (rm.DecisionRow("po", "Product Owner", "NO-GO", "Pat", "alice@bastion", T0 + timedelta(seconds=15), "wait", "breach"),
         rm.DecisionRow("tech_lead", "Tech Lead", "waiting", "", "", None, "", "muted")),
    )
    waiting = rm.gate_view(plan, state_of(plan, *live(plan, 1)), None)
    assert waiting.criteria[0] == rm.CriterionRow("cost_delta", plan.phases[1].gate.auto[0].name, None, rm.WAIT, plan.phases[1].gate.auto[0].name, "muted")


# A criterion met at its last evaluation beside its own trigger breaching now (issue 21): ▲, not ✓.
NOT_NOW = [
    # the Performance trigger's verdict (None: no round), the api_p95 criterion's mark, text and role
    ("trigger ok", "ok", rm.PASS, "240 ms ≤ 350 ms", "ok"),
    ("trigger breaching", "breaching", rm.WARN, "not now: Performance 320 ms breaching · 240 ms ≤ 350 ms", "breach"),
    ("trigger fired", "fired", rm.WARN, "not now: Performance 320 ms FIRED · 240 ms ≤ 350 ms", "breach"),
    ("trigger holding for data", "no_data_hold", rm.PASS, "240 ms ≤ 350 ms", "ok"),
]


@pytest.mark.parametrize("trigger, mark, text, role", [n[1:] for n in NOT_NOW], ids=[n[0] for n in NOT_NOW])
def test_a_met_criterion_does_not_hold_beside_its_own_trigger_breaching(plan, trigger, mark, text, role):
    """The screen showed "Performance ≤ 350 ms ✓" beside the Performance trigger breaching: the
    criterion reads the soak's value, the trigger reads live. The read model marks it ▲ with the
    trigger's live value; a criterion on another query keeps its ✓."""
    state = state_of(plan, *live(plan, 1))
    met = CriterionView(True, 240.0, "240 ms ≤ 350 ms")
    evaluation = round_at(NOW, ok_tracks(plan, NOW, api_p95_regression=verdict(trigger, NOW)),
                          criteria={"api_p95": met, "cost_delta": met}, soak=(1, state.phase_started_at))
    model = rm.read_model(plan, state, evaluation, NOW)
    api, cost = (next(c for c in model.gate.criteria if c.id == i) for i in ("api_p95", "cost_delta"))
    assert (api.met, api.mark, api.text, api.role) == (True, mark, text, role)
    assert (cost.mark, cost.text, cost.role) == (rm.PASS, "240 ms ≤ 350 ms", "ok")  # no trigger reads its query
    assert rm.gate_view(plan, state, evaluation) == dataclasses.replace(  # without the rows: the criteria as evaluated
        model.gate, criteria=tuple(dataclasses.replace(c, mark=rm.PASS, text="240 ms ≤ 350 ms", role="ok")
                                   for c in model.gate.criteria))


def test_a_criterion_with_no_query_is_never_a_trigger_s(plan):
    """An Alertmanager or a judge criterion has no query: no trigger matches it (a check-backed trigger has none either)."""
    quiet = NS(id="alerts", name="No alerts firing", query="")
    breaching = tuple(rm.TriggerRow(id=t.id, name=t.name, action=t.action, mark=rm.WARN, value="1", limit="", pending="",
                                    role="breach", state="breaching") for t in plan.triggers)
    assert rm.not_holding_now(quiet, plan, breaching) is None
    api = next(c for c in plan.phases[2].gate.auto if c.id == "api_p95")
    assert rm.not_holding_now(api, plan, breaching).id == "api_p95_regression"
    assert rm.not_holding_now(api, plan, ()) is None


@pytest.mark.parametrize(
    "more, stopped",
    [((), "kill sent"), ((ev.KillResult(confirmed=False, error="x"),), "kill not confirmed"), ((ev.KillResult(confirmed=True),), "rolled back")],
)
def test_a_gate_after_a_kill_is_stopped(plan, more, stopped):
    state = state_of(plan, *_kill(plan, *more), ev.GateDecided(phase=0, role="sre", decision="GO", name="Sam"))
    gate = rm.gate_view(plan, state, None)
    assert (gate.stopped, gate.criteria, gate.manual, [d.decision for d in gate.decisions]) == (stopped, (), (), ["GO"])
    assert gate.decisions[0].role == "ok"
    undecided = rm.gate_view(plan, state_of(plan, *_kill(plan, *more)), None).decisions  # nobody decided: not "waiting"
    assert [(d.decision, d.text, d.role) for d in undecided] == [("undecided", "SRE: not decided", "muted")]


# --- budget -------------------------------------------------------------------------------------------------


def _burn(infra_spent, llm_spent, infra_projected=12450.0, llm_projected=2180.0, fraction=0.5):
    cats = (CategoryBurn("infrastructure", "Infrastructure", 18000.0, infra_spent, infra_projected),
            CategoryBurn("llm_usage", "LLM usage", 5000.0, llm_spent, llm_projected))
    spent = sum(c.spent or 0 for c in cats)
    return BudgetBurn(cats, 23000.0, spent, infra_projected + llm_projected, fraction)


def test_budget_view_in_full(plan):
    state = state_of(plan, ev.BudgetAlerted(at_pct=85.0, spent=1, budget=1, channel="#finops", action="x"),
                     ev.BudgetAlerted(at_pct=75.0, spent=1, budget=1, channel="#finops", action="x"))
    burn = _burn(10625.0, 1875.0, 17000.0, 3000.0, fraction=0.62)
    view = rm.budget_view(plan, state, burn)
    assert view == rm.BudgetView(
        rows=(rm.BudgetRow("Infrastructure", "$10,625 of $18,000", "59 %", "$17,000 94.4 %", "plain"),
              rm.BudgetRow("LLM usage", "$1,875 of $5,000", "37.5 %", "$3,000 60 %", "plain")),
        total=rm.BudgetRow("Total", "$12,500 of $23,000", "54.3 %", "$20,000 87 %", "warn"),
        margin="$3,000 (13 %)", role="warn", next_alert="next alert at 75 %: Warning to #finops", next_role="muted",
        raised="75 %, 85 % · 62 % of the month gone", known=True,
    )


def test_budget_view_with_one_category_unknown(plan):
    view = rm.budget_view(plan, state_of(plan), _burn(None, 1000.0))
    assert view.rows[0] == rm.BudgetRow("Infrastructure", "— of $18,000", "—", "$12,450 69.2 %", "plain")
    assert (view.total.spent, view.total.pct, view.known, view.raised) == ("$1,000 of $23,000", "4.35 %", True, "none · 50 % of the month gone")


def test_budget_view_when_every_alert_has_been_crossed(plan):
    view = rm.budget_view(plan, state_of(plan), _burn(18000.0, 5100.0, 18000.0, 5100.0))
    assert (view.next_alert, view.next_role, view.role, view.total.role, view.margin) == (
        "every alert threshold crossed", "breach", "breach", "breach", "-$100 (-0.435 %)")


def test_budget_view_without_spend_data(plan):
    view = rm.budget_view(plan, state_of(plan), None)
    assert view == rm.BudgetView(
        (rm.BudgetRow("Infrastructure", "— of $18,000", "", "$12,450 plan", "plain"), rm.BudgetRow("LLM usage", "— of $5,000", "", "$2,180 plan", "plain")),
        None, "", "muted", "no spend data yet", "muted", "none", False)


def test_a_budget_in_another_currency(plan):
    euro = NS(budget=NS(categories=plan.budget.categories[:1], alerts=plan.budget.alerts, currency="EUR"))
    assert rm.budget_view(euro, state_of(plan), None).rows[0].spent == "— of 18,000 EUR"


@pytest.mark.parametrize("pct, role", [(74.99, "ok"), (75.0, "warn"), (94.99, "warn"), (95.0, "breach")])
def test_budget_colour_at_exactly_75_and_95(plan, pct, role):
    projected = 23000.0 * pct / 100
    view = rm.budget_view(plan, state_of(plan), _burn(100.0, 100.0, projected - 2180.0, 2180.0))
    assert (view.role, view.total.role) == (role, role)



# --- escalation ---------------------------------------------------------------------------------------------


def test_escalation_rows_in_full(plan):
    state = _live_state(plan,
                        ev.TriggerBreached(trigger="path_p95", value=1300.0, threshold=1200.0),
                        ev.TriggerBreached(trigger="error_rate", value=None, threshold=0.02, no_data=True),
                        ev.TriggerBreached(trigger="unknown_trigger", value=1.0, threshold=0.0),
                        ev.TriggerFired(trigger="security_violation", action="rollback", level="L2", value=1.0, threshold=0.0, window_s=0, detail=""),
                        ev.Escalated(level="L3", reason="trigger api_p95_regression breached twice"),
                        ev.Escalated(level="L3", reason="trigger api_p95_regression breached twice"),
                        ev.Escalated(level="L1", reason="paged by hand"))
    rows = rm.escalation_rows(plan, state)
    lvl = {lv.level: lv for lv in plan.escalation}
    expect = lambda level, reasons, role: rm.EscalationRow(  # noqa: E731
        level, lvl[level].name, lvl[level].scope, ", ".join(plan.role_title(o) for o in lvl[level].owners), tuple(lvl[level].contacts),
        lvl[level].channel, reasons, role)
    assert rows == (
        expect("L1", ("Path Queries breaching", "paged by hand"), "alarm"),
        expect("L2", ("Security fired",), "alarm"),
        expect("L3", ("Performance breached twice",), "alarm"),
        expect("Emergency", (), "plain"),
    )
    assert rows[2].owners == "Product Owner, Tech Lead"
    assert [r.applies for r in rows] == [True, True, True, False]


def test_emergency_applies_while_the_kill_is_not_confirmed(plan):
    rows = rm.escalation_rows(plan, state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, error="x"))))
    assert [(r.level, r.reasons, r.role) for r in rows] == [
        ("L1", (), "plain"), ("L2", (), "plain"), ("L3", (), "plain"), ("Emergency", ("KILL NOT CONFIRMED",), "kill")]
    for status in (_kill(plan), _kill(plan, ev.KillResult(confirmed=True))):
        assert not any(r.applies for r in rm.escalation_rows(plan, state_of(plan, *status)))


def test_the_emergency_highlight_follows_the_kill_once_it_is_verified(plan):
    """Issue 6: KILL NOT CONFIRMED after N attempts stops applying once the gateway confirmed the kill;
    canary traffic NOT ~0 after it applies Emergency until it falls."""
    failed = _kill(plan, ev.KillResult(confirmed=False, error="x"),
                   ev.Escalated(level="Emergency", reason="KILL NOT CONFIRMED after 4 attempts: x"))
    rows = rm.escalation_rows(plan, state_of(plan, *failed))
    assert rows[-1].reasons == ("KILL NOT CONFIRMED after 4 attempts: x", "KILL NOT CONFIRMED") and rows[-1].role == "kill"
    confirmed = failed + [ev.KillRequested(reason="again"), ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")]
    assert not any(r.applies for r in rm.escalation_rows(plan, state_of(plan, *confirmed)))
    leak = failed + [ev.KillRequested(reason="again"), ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="9/s")]
    rows = rm.escalation_rows(plan, state_of(plan, *leak))
    assert [(r.level, r.reasons, r.role) for r in rows][-1] == (
        "Emergency", ("ROLLBACK NOT VERIFIED: canary traffic NOT ~0",), "kill")
    assert [r.applies for r in rows] == [False, False, False, True]


def test_with_names_replaces_the_longest_trigger_id_first():
    names = {"p95": "Latency", "p95_regression": "Regression"}
    assert rm.with_names("trigger p95_regression fired; trigger p95 breached", names) == "Regression fired; Latency breached"
    assert rm.with_names("trigger p95", names) == "trigger p95"
    assert rm.with_names("nothing here", {}) == "nothing here"


# --- preflight, sign-offs, timeline -------------------------------------------------------------------------


def test_check_rows_in_full(plan):
    state = state_of(plan, ev.CheckRan(check="image_provenance", status="pass", detail="signed"),
                     ev.CheckRan(check="cve_status", status="fail", detail="2 high"),
                     ev.CheckRan(check="data_plane", status="error", detail="timeout"),
                     ev.CheckWaived(check="secrets", reason="rotated"),
                     ev.CheckRan(check="staging_success", status="pass", detail="ok"))
    rows = rm.check_rows(plan, state, frozenset({"staging_success"}))
    spec = {c.id: c for c in plan.preflight}
    assert rows == (
        rm.CheckRow("freeze_window", spec["freeze_window"].name, rm.WAIT, "pending", "", spec["freeze_window"].description, "muted"),
        rm.CheckRow("image_provenance", spec["image_provenance"].name, rm.PASS, "pass", "14:00:01Z", "signed", "ok"),
        rm.CheckRow("cve_status", spec["cve_status"].name, rm.FAIL, "fail", "14:00:02Z", "2 high", "breach"),
        rm.CheckRow("data_plane", spec["data_plane"].name, rm.FAIL, "error", "14:00:03Z", "timeout", "breach"),
        rm.CheckRow("secrets", spec["secrets"].name, rm.WAIVED, "waived", "", "rotated (alice@bastion)", "stale"),
        rm.CheckRow("staging_success", spec["staging_success"].name, rm.RUN, "running", "14:00:05Z", "", "stale"),
    )
    assert rm.check_rows(plan, state_of(plan), frozenset({"cve_status"}))[2] == rm.CheckRow(
        "cve_status", spec["cve_status"].name, rm.RUN, "running", "", "", "stale")
    assert [r.word for r in rm.check_rows(NS(preflight=plan.preflight), NS(checks={}))] == ["pending"] * 6


def test_sign_off_rows_in_full(plan):
    state = state_of(plan, ev.SignedOff(role="security", name="Sue"))
    assert rm.sign_off_rows(plan, state) == (
        rm.SignOffRow("po", "Product Owner", rm.WAIT, "missing", "", "", "muted"),
        rm.SignOffRow("tech_lead", "Tech Lead", rm.WAIT, "missing", "", "", "muted"),
        rm.SignOffRow("security", "Security Lead", rm.PASS, "signed", "14:00:01Z", "Sue", "ok"),
        rm.SignOffRow("sre", "SRE", rm.WAIT, "missing", "", "", "muted"),
        rm.SignOffRow("finops", "FinOps", rm.WAIT, "missing", "", "", "muted"),
    )


def _record(payload):
    return ev.make_record(seq=1, ts=T0, actor=ev.Actor(user="a", host="b"), payload=payload, prev=ev.GENESIS)


@pytest.mark.parametrize(
    "payload, role",
    [(ev.KillRequested(reason="r", trigger="t"), "breach"),
     (ev.TriggerFired(trigger="t", action="rollback", level="L1", value=1.0, threshold=0.0, window_s=0, detail=""), "breach"),
     (ev.Escalated(level="L1", reason="r"), "breach"), (ev.KillResult(confirmed=False), "breach"), (ev.KillResult(confirmed=True), "bold"),
     (ev.TriggerBreached(trigger="t", value=1.0, threshold=0.0), "warn"), (ev.PhaseStarted(phase=0, weight=5), "bold"),
     (ev.RolloutCompleted(), "bold"), (ev.Noted(text="hi"), "plain"), (ev.SignedOff(role="sre", name="Sam"), "plain"),
     (ev.RoundLate(late_s=47.0, wall_late_s=47.0, poll_s=15.0, judged_since=T0), "warn"),
     (ev.RoundLate(late_s=47.0, wall_late_s=47.0, poll_s=15.0, judged_since=T0, caught_up=True), "plain")],
)
def test_timeline_role(payload, role):
    assert rm.timeline_role(_record(payload)) == role


def test_timeline_lines_in_full(plan):
    state = state_of(plan, ev.Noted(text="hello"), guard=False)
    said = []
    lines = rm.timeline(state, lambda r, p: said.append(p) or f"{r.seq}:{r.kind}")
    assert lines == (rm.TimelineLine(T0 + timedelta(seconds=1), "2:note", "plain", "note"),
                     rm.TimelineLine(T0, "1:plan_loaded", "plain", "plan_loaded"))
    assert said == [state.plan, state.plan]
    assert rm.read_model(plan, state, None, T0).timeline[0].text == "note"


# --- the rollback checklist ----------------------------------------------------------------------------------


def _steps(plan, *after_kill, before=()):
    return rm.checklist(plan, state_of(plan, *live(plan), *before, ev.KillRequested(reason="p95", trigger="t"), *after_kill))


def test_checklist_while_the_kill_is_in_flight(plan):
    rows = _steps(plan)
    assert rows == (
        rm.ChecklistRow("gateway flag set", "gateway flag canary.enable=false set", None, "sent, waiting for the read-back", False, rm.RUN, "stale"),
        rm.ChecklistRow("traffic confirmed", "traffic to the previous version confirmed", None, "waiting for canary traffic to fall to ~0", False,
                        rm.WAIT, "muted"),
        rm.ChecklistRow("failure evidence captured", "failure evidence captured", None, "tick it when done", True, rm.WAIT, "warn"),
        rm.ChecklistRow("stakeholders notified", "stakeholders notified on #error-budget", None, "tick it when done", True, rm.WAIT, "warn"),
        rm.ChecklistRow("hotfix branch created", "hotfix branch created", None, "tick it when done", True, rm.WAIT, "warn"),
    )


def test_checklist_after_a_confirmed_kill_and_ticks(plan):
    ticks = (ev.Noted(text=f"{rm.CHECKLIST_PREFIX}failure evidence captured"),
             ev.Noted(text=f"{rm.CHECKLIST_PREFIX}hotfix branch created:  hotfix/p95  "),
             ev.Noted(text="an ordinary note"))
    rows = _steps(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="3/s still"), *ticks,
                  before=(ev.Noted(text=f"{rm.CHECKLIST_PREFIX}stakeholders notified: before the kill"),))
    assert rows[0] == rm.ChecklistRow("gateway flag set", "gateway flag canary.enable=false set", True, "verified by read-back at 14:00:16Z", False,
                                      rm.PASS, "ok")
    assert rows[1] == rm.ChecklistRow("traffic confirmed", "traffic to the previous version confirmed", False, "3/s still", False, rm.FAIL, "breach")
    assert rows[2] == rm.ChecklistRow("failure evidence captured", "failure evidence captured", True, "done (alice, 14:00:18Z)", True, rm.PASS, "ok")
    assert rows[3].done is None
    assert rows[4] == rm.ChecklistRow("hotfix branch created", "hotfix branch created", True, "hotfix/p95 (alice, 14:00:19Z)", True, rm.PASS, "ok")
    assert rm.checklist_steps_open(rows) == [("stakeholders notified on #error-budget", "stakeholders notified")]
    verified = _steps(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0.0/s"))
    assert verified[1] == rm.ChecklistRow("traffic confirmed", "traffic to the previous version confirmed", True, "0.0/s", False, rm.PASS, "ok")


def test_checklist_when_the_kill_is_not_confirmed(plan):
    rows = _steps(plan, ev.KillResult(confirmed=False, error="gateway timeout"))
    assert rows[0] == rm.ChecklistRow("gateway flag set", "gateway flag canary.enable=false set", False, "NOT confirmed: gateway timeout", False,
                                      rm.FAIL, "alarm")


def test_checklist_notification_step(plan):
    other = _steps(plan, ev.Notified(channel="#elsewhere", text="x", delivered=True))
    assert (other[3].done, other[3].detail, other[3].manual) == (None, "tick it when done", True)
    failed_then_sent = _steps(plan, ev.Notified(channel="#error-budget", text="x", error="500"), ev.Notified(channel="#error-budget", text="x", delivered=True))
    assert failed_then_sent[3] == rm.ChecklistRow("stakeholders notified", "stakeholders notified on #error-budget", True, "sent by the cockpit", False,
                                                  rm.PASS, "ok")
    assert [r.key for r in failed_then_sent] == ["gateway flag set", "traffic confirmed", "failure evidence captured", "stakeholders notified",
                                                 "hotfix branch created"]
    failed = _steps(plan, ev.Notified(channel="#error-budget", text="x", error="500"), ev.Notified(channel="#error-budget", text="x", error="503"))
    assert failed[3] == rm.ChecklistRow("stakeholders notified", "stakeholders notified on #error-budget", None,
                                        "not sent by the cockpit (503): tick it when done", True, rm.WAIT, "warn")
    before = _steps(plan, before=(ev.Notified(channel="#error-budget", text="x", delivered=True),))
    assert before[3].done is None


def test_checklist_with_a_kill_switch_of_the_config_defaults(plan):
    bare = NS(kill_switch=NS(flag="canary.enable", notify=""))
    state = state_of(plan, *live(plan), ev.KillRequested(reason="p95", trigger="t"))
    rows = rm.checklist(bare, state)
    assert rows[0].step == "gateway flag canary.enable=false set" and rows[3].step == "stakeholders notified on the channel"
    quiet = NS(kill_switch=NS(flag="release.on", notify=""))
    rows = rm.checklist(quiet, state)
    assert rows[0].step == "gateway flag release.on=false set" and rows[3].step == "stakeholders notified on the channel"


# --- actions, badges, banner -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, actions",
    [
        (lambda p: [], {"run_checks", "run_check", "waive", "sign_off", "start", "note"}),
        (live, {"advance", "gate", "kill", "note"}),
        (_kill, {"kill", "note"}),
        (lambda p: _kill(p, ev.KillResult(confirmed=False, error="x")), {"kill", "note"}),
        (lambda p: _kill(p, ev.KillResult(confirmed=True)), {"checklist", "note"}),
        (lambda p: live(p, 3) + [ev.RolloutCompleted()], {"post_deploy", "note"}),
    ],
    ids=["preflight", "live", "killing", "kill-unconfirmed", "rolled-back", "completed"],
)
def test_exactly_the_actions_each_state_offers(plan, build, actions):
    state = state_of(plan, *build(plan))
    assert rm.available_actions(state) == frozenset(actions)
    assert rm.read_model(plan, state, None, NOW).actions == frozenset(actions)


def test_without_a_plan_only_a_note():
    from cockpit.core.state import RolloutState
    assert rm.available_actions(RolloutState()) == frozenset({"note"})


def _trow(state):
    return rm.TriggerRow("t", "T", "", "", "", "", "muted", state)


_GUARDED = rm.GuardHealth(True, True, "", "", "ok")
_QUIET_BUDGET = rm.BudgetView((), None, "", "ok", "", "muted", "", True)


def _esc(level, applies):
    return rm.EscalationRow(level, "", "", "", (), "", ("why",) if applies else (), "plain")


def _check(word):
    return rm.CheckRow("c", "C", "", word, "", "", "plain")


def _todo(manual, done):
    return rm.ChecklistRow("k", "s", done, "", manual, "", "plain")


@pytest.mark.parametrize(
    "triggers, guard, todo, phase",
    [
        (("ok", "fired", "breaching", "hold"), _GUARDED, (), (rm.FAIL, "alarm")),
        (("ok", "breaching", "hold", "stale"), _GUARDED, (), (rm.WARN, "breach")),
        (("ok", "hold"), _GUARDED, (), (rm.WARN, "warn")),
        (("stale",), _GUARDED, (), (rm.WARN, "warn")),
        (("ignored", "waiting", "stopped", "ok"), _GUARDED, (), None),
        (("ok",), rm.GuardHealth(False, True, "", "", "alarm"), (), (rm.WARN, "alarm")),
        (("ok",), rm.GuardHealth(False, False, "", "", "muted"), (), None),
        (("stopped",), _GUARDED, (_todo(True, True), _todo(True, None)), (rm.WAIT, "warn")),
        (("stopped",), _GUARDED, (_todo(False, None), _todo(True, True)), None),
    ],
    ids=["fired", "breaching", "hold", "stale", "calm", "unguarded", "no-rollout", "checklist-open", "checklist-done"],
)
def test_the_phase_tab_badge(triggers, guard, todo, phase):
    out = rm.badges(tuple(_trow(s) for s in triggers), (), _QUIET_BUDGET, (), todo, guard)
    assert out == ({} if phase is None else {"phase": phase})


@pytest.mark.parametrize(
    "escalation, badge",
    [((_esc("L1", False), _esc("Emergency", False)), None),
     ((_esc("L1", True), _esc("Emergency", False)), (rm.WARN, "breach")),
     ((_esc("L1", False), _esc("Emergency", True)), (rm.WARN, "kill")),
     ((_esc("Emergency", False), _esc("L1", True)), (rm.WARN, "breach"))],
)
def test_the_escalation_tab_badge(escalation, badge):
    out = rm.badges((), escalation, _QUIET_BUDGET, (), (), _GUARDED)
    assert out == ({} if badge is None else {"escalation": badge})


@pytest.mark.parametrize(
    "role, next_role, badge",
    [("ok", "muted", None), ("muted", "muted", None), ("warn", "muted", (rm.WARN, "warn")), ("breach", "muted", (rm.WARN, "breach")),
     ("ok", "breach", (rm.WARN, "ok"))],
)
def test_the_budget_tab_badge(role, next_role, badge):
    budget = rm.BudgetView((), None, "", role, "", next_role, "", True)
    out = rm.badges((), (), budget, (), (), _GUARDED)
    assert out == ({} if badge is None else {"budget": badge})


@pytest.mark.parametrize("words, badge", [(("pass", "pending", "waived", "running"), None), (("pass", "fail"), (rm.FAIL, "breach")),
                                          (("error",), (rm.FAIL, "breach"))])
def test_the_preflight_tab_badge(words, badge):
    out = rm.badges((), (), _QUIET_BUDGET, tuple(_check(w) for w in words), (), _GUARDED)
    assert out == ({} if badge is None else {"preflight": badge})


def test_banner_lines():
    calm = rm.Headline("SOAKING", "1m left", "ok", " ")
    assert rm.banner(calm, (_trow("breaching"),)) == ()
    assert rm.banner(rm.Headline("X", role="bold"), (_trow("fired"),)) == ()
    head = rm.Headline("BLIND", "2 triggers without data — holding", "warn")
    rows = tuple(rm.TriggerRow(s, s.title(), rm.WARN, v, "> 1", p, "warn", s) for s, v, p in
                 [("ok", "1", "—"), ("hold", "", "HOLD: no data"), ("stale", "2, 1m00s ago", "STALE 1m00s"), ("ignored", "", "no data"),
                  ("breaching", "3", "1m00s/5m00s"), ("fired", "4", "FIRED 14:00:00Z"), ("waiting", "", "first poll")])
    assert rm.banner(head, rows) == (
        "BLIND: 2 triggers without data — holding",
        "▲ Hold > 1 HOLD: no data",
        "▲ Stale 2, 1m00s ago > 1 STALE 1m00s",
        "▲ Breaching 3 > 1 1m00s/5m00s",
        "▲ Fired 4 > 1 FIRED 14:00:00Z",
    )
    for role in ("warn", "breach", "alarm", "kill"):
        assert rm.banner(rm.Headline("X", role=role), ()) == ("X",)


def test_banner_after_a_rollback_shows_the_checklists_progress():
    head = rm.Headline("ROLLED BACK · KILL VERIFIED", "", "warn", " · ")
    open_ = (_todo(False, True), _todo(True, True), _todo(True, None), _todo(False, None))
    assert rm.banner(head, (_trow("fired"),), open_) == ("ROLLED BACK · KILL VERIFIED", "rollback checklist 2/4 done — press c to tick a step")
    only_auto_left = (_todo(False, None), _todo(True, True))
    assert rm.banner(head, (), only_auto_left) == ("ROLLED BACK · KILL VERIFIED", "rollback checklist 1/2 done")
    assert rm.banner(head, (), open_, captain=False) == ("ROLLED BACK · KILL VERIFIED", "rollback checklist 2/4 done")


# --- the whole model ----------------------------------------------------------------------------------------


def test_the_read_model_banner_and_badges_after_a_rollback(plan):
    state = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")))
    model = rm.read_model(plan, state, None, NOW)
    assert model.banner == ("ROLLED BACK · KILL VERIFIED · canary traffic ~0", "rollback checklist 2/5 done — press c to tick a step")
    assert rm.read_model(plan, state, None, NOW, captain=False).banner[1] == "rollback checklist 2/5 done"  # an observer
    assert model.badges == {"phase": (rm.WAIT, "warn")}
    assert len(model.checklist) == 5 and model.soak.stopped == "rolled back" and model.gate.stopped == "rolled back"
    assert model.guard == rm.GuardHealth(False, False, "no guard", "guard none", "muted", None, None, "none",
                                         "guard 4242@bastion no longer holds the guard lock")


def test_the_read_model_while_killing_and_unconfirmed_shows_the_checklist(plan):
    killing = state_of(plan, *_kill(plan))
    assert rm.read_model(plan, killing, None, NOW).banner == (
        "KILL SENT: waiting for the gateway to read the canary back off", "rollback checklist 0/5 done — press c to tick a step")
    unconfirmed = state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, error="t/o")))
    model = rm.read_model(plan, unconfirmed, None, NOW)
    assert model.banner[1] == "rollback checklist 0/5 done — press c to tick a step"
    assert model.badges["escalation"] == (rm.WARN, "kill")


def test_the_read_model_wires_every_part(plan):
    state = state_of(plan, *live(plan), ev.CheckRan(check="cve_status", status="fail", detail="late"))
    burn = _burn(15000.0, 4000.0, 21000.0, 2000.0)
    evaluation = round_at(NOW, ok_tracks(plan, NOW, path_p95=_hold(NOW)), budget=burn)
    model = rm.read_model(plan, state, evaluation, NOW, running=frozenset({"secrets"}), say=lambda r, p: r.kind.upper(),
                          sight=seen(evaluation, NOW))
    assert model.headline == rm.Headline("BLIND", "1 trigger without data — holding", "warn")
    assert model.banner == ("BLIND: 1 trigger without data — holding", "▲ Path Queries > 1,200 ms HOLD: no data")
    assert model.badges == {"phase": (rm.WARN, "warn"), "budget": (rm.WARN, "breach"), "preflight": (rm.FAIL, "breach")}
    assert model.triggers == rm.trigger_rows(plan, state, evaluation, NOW)
    assert model.gate == rm.gate_view(plan, state, evaluation)
    assert model.soak == rm.soak_view(plan, state, NOW)
    assert model.budget == rm.budget_view(plan, state, burn) and model.budget.known
    assert model.escalation == rm.escalation_rows(plan, state)
    assert [c.word for c in model.checks if c.id == "secrets"] == ["running"]
    assert model.sign_offs == rm.sign_off_rows(plan, state)
    assert model.timeline[0].text == "CHECK_RAN"
    assert model.checklist == ()
    assert model.guard == rm.guard_health(plan, state, evaluation, seen(evaluation, NOW))
    assert model.actions == frozenset({"advance", "gate", "kill", "note"})


# --- what the first mutation runs found -----------------------------------------------------------------------


def test_criterion_in_full(plan):
    journaled = ev.CriterionEvaluated(phase=0, criterion="api_p95", passed=False, value=400.0, detail="400 ms > 350 ms")
    state = _live_state(plan, journaled)
    soak = (0, state.phase_started_at)
    assert rm.criterion(state, None, "api_p95") == CriterionView(False, 400.0, "400 ms > 350 ms")
    undecided = round_at(NOW, criteria={"path_p95": CriterionView(None, None, "too little data: 3 samples")}, soak=soak)
    assert rm.criterion(state, undecided, "path_p95") == CriterionView(None, None, "too little data: 3 samples")
    assert rm.criterion(state, undecided, "error_rate") == CriterionView(None, None, "not evaluated yet")
    # before the rollout starts there is no gate at all
    assert rm.criterion(state_of(plan), None, "api_p95") == CriterionView(None, None, "not evaluated yet")


def test_a_single_fired_trigger_has_no_count(plan):
    fired = ev.TriggerFired(trigger="path_p95", action="hold", level="L1", value=1500.0, threshold=1200.0, window_s=600, detail="")
    state = _live_state(plan, fired)
    assert _head(plan, state, round_at(NOW, ok_tracks(plan, NOW))) == rm.Headline("FIRED", "Path Queries 1,500 ms > 1,200 ms at 14:00:14Z", "alarm")


def _fold_at(plan, *timed):
    """Fold the plan and (seconds after T0, payload) pairs: records may share an instant, as on a frozen clock."""
    from cockpit.core.state import fold
    out, prev = [], ev.GENESIS
    for i, (s, p) in enumerate(((0, plan_snapshot(plan)),) + timed):
        r = ev.make_record(seq=i + 1, ts=T0 + timedelta(seconds=s), actor=ev.Actor(user="alice", host="bastion"), payload=p, prev=prev)
        r = journaled(r, f"{i + 1:064x}")
        prev = r.hash
        out.append(r)
    return fold(out)


def test_a_notification_sent_in_the_same_instant_as_the_kill_ticks_its_step(plan):
    timed = [(i + 1, p) for i, p in enumerate(live(plan))]
    kill_at = len(timed) + 1
    state = _fold_at(plan, *timed, (kill_at, ev.KillRequested(reason="p95", trigger="t")),
                     (kill_at, ev.Notified(channel="#error-budget", text="rolling back", delivered=True)))
    assert rm.checklist(plan, state)[3].detail == "sent by the cockpit"


def test_a_soak_without_a_start_time_shows_no_soak(plan):
    from cockpit.core.state import RolloutState
    assert rm.soak_view(plan, RolloutState(status="live", phase=0), NOW) == rm.SoakView(False, "", 0.0, 0.0, 0.0)


def test_with_names_replaces_an_id_that_ends_like_the_word_trigger_first():
    names = {"p95": "Latency", "slo_trigger": "SLO"}
    assert rm.with_names("trigger slo_trigger p95 breached", names) == "SLO p95 breached"


def test_the_read_models_gate_shows_the_guards_live_criteria(plan):
    state = _live_state(plan)
    evaluation = round_at(NOW, ok_tracks(plan, NOW), criteria={"api_p95": CriterionView(True, 240.0, "240 ms ≤ 350 ms")},
                          soak=(0, state.phase_started_at))
    gate = rm.read_model(plan, state, evaluation, NOW, sight=seen(evaluation, NOW)).gate
    assert [(c.id, c.mark, c.text) for c in gate.criteria][0] == ("api_p95", rm.PASS, "240 ms ≤ 350 ms")


def test_a_relative_limit_shows_its_baseline_to_the_unit():
    assert rm.limit_text(fake_trigger(name="p95 vs staging", above_baseline_pct=20.0), 1200.0) == "> 1,200 ms (staging 1,000 ms +20 %)"


def test_a_limit_without_any_threshold_reads_a_dash():
    assert rm.limit_text(fake_trigger(name="n", threshold=None, unit=""), None) == "> —"


def test_a_trigger_without_unit_action_or_check(plan):
    bare = fake_trigger(id="queue_depth", name="Queue Depth > 100", unit="", action="")
    track = TriggerTrack(verdict("breaching", NOW, value=150.0, threshold=100.0, breaching_for=0.0, needed=60.0), NOW.timestamp())
    row = rm.trigger_row(bare, _live_state(plan), round_at(NOW, {"queue_depth": track}), NOW)
    assert row == rm.TriggerRow("queue_depth", "Queue Depth", rm.WARN, "150", "> 100", "0s/1m00s", "breach", "breaching", (), 100.0, 60.0, "", 0.0)


def test_a_breach_for_want_of_data_shows_no_value(plan):
    """no_data = "breach": the trigger breaches with no sample to show."""
    state = _live_state(plan)
    track = TriggerTrack(verdict("breaching", NOW, value=None, threshold=0.0, breaching_for=0.0, needed=0.0), NOW.timestamp())
    row = _gauge(plan, state, "security_violation", track)
    assert (row.value, row.limit, row.pending, row.state) == ("", "> 0", "0s/0s", "breaching")
    head = rm.Headline("BREACHING", "Security — auto-rollback in 0s", "warn")
    assert rm.banner(head, (row,)) == ("BREACHING: Security — auto-rollback in 0s", "▲ Security > 0 0s/0s")


def test_the_plans_own_safety_margin(plan):
    """The seed plan: $23,000 a month, $14,630 projected: "$8,370 (36.4 %)"."""
    assert rm.budget_view(plan, state_of(plan), _burn(None, None)).margin == "$8,370 (36.4 %)"


def test_a_budget_in_dollars(plan):
    bare = NS(budget=NS(categories=plan.budget.categories, alerts=plan.budget.alerts, currency="USD"))
    view = rm.budget_view(bare, state_of(plan), _burn(1234.0, None))
    assert (view.rows[0].spent, view.total.spent, view.margin) == ("$1,234 of $18,000", "$1,234 of $23,000", "$8,370 (36.4 %)")
    assert rm.budget_view(bare, state_of(plan), None).rows[1].spent == "— of $5,000"


def test_a_kill_switch_without_a_channel_leaves_the_notice_to_the_captain(plan):
    """A journal that notified #error-budget, read with a plan that names no channel: the step is ticked by hand."""
    state = state_of(plan, *live(plan), ev.KillRequested(reason="p95", trigger="t"), ev.Notified(channel="#error-budget", text="x", delivered=True))
    row = rm.checklist(NS(kill_switch=NS(flag="canary.enable", notify="")), state)[3]
    assert (row.done, row.detail, row.manual) == (None, "tick it when done", True)


def test_a_phase_with_no_gate_record_waits_for_every_owner(plan):
    from cockpit.core.state import RolloutState
    gate = rm.gate_view(plan, RolloutState(status="live", phase=1, phase_started_at=T0), None)
    assert [d.text for d in gate.decisions] == ["Product Owner: waiting", "Tech Lead: waiting"]
    assert [c.mark for c in gate.criteria] == [rm.WAIT, rm.WAIT]


@pytest.mark.parametrize(
    "build",
    [ready, live, _kill, lambda p: _kill(p, ev.KillResult(confirmed=False, error="x")), lambda p: _kill(p, ev.KillResult(confirmed=True)),
     lambda p: live(p, 3) + [ev.RolloutCompleted()]],
    ids=["ready", "live", "killing", "kill-unconfirmed", "rolled-back", "completed"],
)
def test_nothing_the_rules_refuse_for_the_state_is_offered(plan, build):
    from cockpit.core import rules
    state = state_of(plan, *build(plan))
    refused = {
        "start": rules.start_refusals(state, T0 + timedelta(hours=1)),
        "advance": rules._not_live(state),
        "gate": rules.decide_refusals(state, state.phase if state.phase is not None else 0, "sre" if state.phase != 3 else "po"),
        "kill": rules.kill_refusals(state),
        "sign_off": rules.sign_off_refusals(state, "sre"),
        "waive": rules.waive_refusals(state, "secrets", "rotated"),
    }
    offered = rm.available_actions(state)
    assert not {action for action, reasons in refused.items() if reasons and action in offered}
    assert offered  # a note is always possible
