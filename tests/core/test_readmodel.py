"""The read model as a pure function of plan, folded state, the guard's round and `now` (table-driven)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.core import events as ev
from cockpit.core import readmodel as rm
from cockpit.core.budget import BudgetBurn, CategoryBurn
from cockpit.core.compare import Comparison
from cockpit.core.evaluation import CriterionView, Evaluation, GuardId
from cockpit.core.guardsight import GuardSight
from cockpit.core.state import fold
from cockpit.core.triggers import TriggerTrack, WindowVerdict
from cockpit.engine import plan_snapshot
from tests.conftest import T0
from tests.core.journal import journaled
from tests.core.journal import records as journaled_records

CAPTAIN = ev.Actor(user="alice", host="bastion")
GUARD = GuardId(user="alice", host="bastion", pid=4242, since=T0)
SOAK = timedelta(minutes=20)


STARTED = ev.GuardStarted(pid=GUARD.pid, host=GUARD.host, reason="with the plan")


def state_of(plan, *payloads, actor=CAPTAIN, guard=True):
    """Fold the plan and `payloads`, one second apart from T0; with the plan (and at its time), the
    journal's word that GUARD took the guard lock, as `cockpit run` journals it before anything else."""
    timed = [(T0, plan_snapshot(plan))] + ([(T0, STARTED)] if guard else [])
    timed += [(T0 + timedelta(seconds=i + 1), p) for i, p in enumerate(payloads)]
    out, prev = [], ev.GENESIS
    for i, (ts, p) in enumerate(timed):
        r = ev.make_record(seq=i + 1, ts=ts, actor=actor, payload=p, prev=prev)
        r = journaled(r, f"{i + 1:064x}")
        prev = r.hash
        out.append(r)
    return fold(out)


def seen(evaluation, now):
    """What a face saw of the guard that published `evaluation`: its pid holds the guard lock, and
    guard.json changed when the round ran (by the face's clock)."""
    if evaluation is None or evaluation.at is None:
        return GuardSight(GUARD.pid, None)
    return GuardSight(evaluation.guard.pid if evaluation.guard else None, max(0.0, (now - evaluation.at).total_seconds()))


def ready(plan):
    return [ev.CheckRan(check=c.id, status="pass", detail="ok") for c in plan.preflight] + [
        ev.SignedOff(role=r, name=r) for r in plan.sign_offs
    ]


def live(plan, phase=0):
    return ready(plan) + [ev.RolloutStarted(), ev.PhaseStarted(phase=phase, weight=plan.phases[phase].weight)]


def gate_met(plan, phase=0):
    spec = plan.phases[phase]
    return [ev.CriterionEvaluated(phase=phase, criterion=c.id, passed=True, detail="ok") for c in spec.gate.auto] + [
        ev.GateDecided(phase=phase, role=r, decision="GO", name="Sam") for r in spec.gate.owners
    ]


def verdict(state, now, *, value=320.0, threshold=285.0, breaching_for=0.0, needed=600.0, cmp=Comparison.GT):
    return WindowVerdict(state=state, value=value, threshold=threshold, comparison=cmp, breaching_for_s=breaching_for,
                         needed_s=needed, coverage=1.0, at=now.timestamp(), why="")


def round_at(now, tracks=None, *, at=None, criteria=None, soak=None, budget=None):
    """A guard round at `at` (default `now`): every trigger ok unless `tracks` says otherwise."""
    return Evaluation(at=at or now, rounds=1, poll_s=15.0, guard=GUARD, tracks=tracks or {}, criteria=criteria or {},
                      soak=soak, budget=budget)


def ok_tracks(plan, now, **special):
    tracks = {}
    for t in plan.triggers:
        v = special.get(t.id) or verdict("ok", now, value=1.0, threshold=t.threshold if t.threshold is not None else 285.0)
        tracks[t.id] = TriggerTrack(verdict=v, last_good_at=now.timestamp(), history=(1.0,))
    return tracks


# --- the headline for every rollout state -----------------------------------------------------------

SOAKING = T0 + timedelta(minutes=6)
SOAKED = T0 + timedelta(minutes=25)


def _kill(plan, *more):
    return live(plan) + [ev.KillRequested(reason="p95", trigger="api_p95_regression"), *more]


HEADLINES = [
    ("preflight", lambda p: [], T0, None, "PREFLIGHT: 0/6 checks passed · 0/5 sign-offs", "bold"),
    ("ready to start", ready, T0 + timedelta(hours=1), None, "READY: preflight passed", "ok"),
    ("soaking", live, SOAKING, "ok", "SOAKING 14m", "ok"),
    ("ready to advance", lambda p: live(p) + gate_met(p), SOAKED, "ok", "READY: GO recorded", "ok"),
    ("ready to complete", lambda p: live(p, 3) + gate_met(p, 3), SOAKED, "ok", "READY: GO recorded", "ok"),
    ("healthy, waiting for GO", lambda p: live(p) + gate_met(p)[:-1], SOAKED, "ok", "HEALTHY: soak complete; waiting for GO from: SRE", "ok"),
    ("breaching, counting down", live, SOAKING, "breaching", "BREACHING: Performance — auto-rollback in 5m00s", "warn"),
    ("two breaching: the soonest", live, SOAKING, "two", "BREACHING: Error Rate — auto-rollback in 1m00s (+1 more)", "warn"),
    ("blind", live, SOAKING, "blind", "BLIND: 3 triggers without data — holding", "warn"),
    ("killing", _kill, SOAKING, "ok", "KILL SENT: waiting for the gateway to read the canary back off", "kill"),
    ("rolled back, verified", lambda p: _kill(p, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")),
     SOAKING, "ok", "ROLLED BACK · KILL VERIFIED · canary traffic ~0", "warn"),
    ("kill not confirmed", lambda p: _kill(p, ev.KillResult(confirmed=False, attempts=3, error="gateway timeout")), SOAKING, "ok",
     "KILL NOT CONFIRMED: the gateway did not confirm the canary is off: gateway timeout — Emergency", "kill"),
    ("completed", lambda p: live(p, 3) + [ev.RolloutCompleted()], SOAKED, None, "COMPLETED: the canary is the release", "ok"),
    ("unguarded: no round", live, SOAKING, None, "UNGUARDED: no guard has published a round", "alarm"),
    ("gateway drift", lambda p: live(p) + [ev.GatewayReconciled(journal_weight=5, observed_weight=0, observed_enabled=True,
                                                                 agrees=False, detail="X", observed_share=0)],
     SOAKING, "ok", "GATEWAY DRIFT: X — re-assert the weight or roll back", "alarm"),
    ("gateway drift, then a shift in flight", lambda p: live(p) + [
        ev.GatewayReconciled(journal_weight=5, observed_weight=0, observed_enabled=True, agrees=False, detail="X", observed_share=0),
        ev.TrafficShiftRequested(weight=5, phase=0)], SOAKING, "ok", "SHIFTING: to 5 %", "warn"),
    ("unguarded: old round", live, SOAKING, "old", "UNGUARDED: no guard round for 3m00s", "alarm"),
    ("fired, holding", lambda p: live(p) + [ev.TriggerFired(trigger="path_p95", action="hold", level="L1", value=1500.0, threshold=1200.0, window_s=600, detail="")],
     SOAKING, "ok", "FIRED: Path Queries 1,500 ms > 1,200 ms at 14:00:14", "alarm"),
]


def _round(plan, now, kind):
    if kind is None:
        return None
    if kind == "ok":
        return round_at(now, ok_tracks(plan, now))
    if kind == "old":
        return round_at(now, ok_tracks(plan, now), at=now - timedelta(minutes=3))
    if kind == "breaching":
        return round_at(now, ok_tracks(plan, now, api_p95_regression=verdict("breaching", now, breaching_for=300)))
    if kind == "two":
        return round_at(now, ok_tracks(plan, now, api_p95_regression=verdict("breaching", now, breaching_for=60),
                                       error_rate=verdict("breaching", now, value=0.03, threshold=0.02, breaching_for=240, needed=300)))
    if kind == "blind":
        hold = lambda: verdict("no_data_hold", now, value=None)  # noqa: E731
        return round_at(now, ok_tracks(plan, now, api_p95_regression=hold(), path_p95=hold(), error_rate=hold()))
    raise ValueError(kind)


@pytest.mark.parametrize("name, build, now, kind, expected, role", HEADLINES, ids=[h[0] for h in HEADLINES])
def test_headline_for_every_rollout_state(plan, name, build, now, kind, expected, role):
    state = state_of(plan, *build(plan))
    evaluation = _round(plan, now, kind)
    head = rm.read_model(plan, state, evaluation, now, sight=seen(evaluation, now)).headline
    assert head.text.startswith(expected), head.text
    assert head.role == role


def test_the_breaching_countdown_runs_on_between_rounds(plan):
    """A round 30 s old: the countdown has moved on by 30 s, not frozen at the round's figure."""
    state = state_of(plan, *live(plan))
    evaluation = _round(plan, SOAKING, "breaching")
    later = SOAKING + timedelta(seconds=30)
    assert rm.headline(plan, state, evaluation, later, sight=seen(evaluation, later)).detail == "Performance — auto-rollback in 4m30s"


# --- trigger rows --------------------------------------------------------------------------------------


def _trigger(plan, trigger_id):
    return next(t for t in plan.triggers if t.id == trigger_id)


@pytest.mark.parametrize(
    "trigger_id, threshold, expected",
    [
        ("api_p95_regression", 285.6, "> 286 ms (staging 238 ms +20 %)"),
        ("api_p95_regression", None, "> staging +20 %"),
        ("path_p95", 1200.0, "> 1,200 ms"),
        ("path_p95", None, "> 1,200 ms"),
        ("error_rate", 0.02, "≥ 2 %"),
        ("supply_chain", None, "check fails"),
    ],
)
def test_limit_shows_a_relative_thresholds_baseline(plan, trigger_id, threshold, expected):
    assert rm.limit_text(_trigger(plan, trigger_id), threshold) == expected


def _row(plan, state, now, trigger_id, track):
    tracks = ok_tracks(plan, now)
    tracks[trigger_id] = track
    return next(r for r in rm.trigger_rows(plan, state, round_at(now, tracks), now) if r.id == trigger_id)


@pytest.mark.parametrize(
    "track, value, pending, mark, role",
    [
        (TriggerTrack(verdict(("ok"), SOAKING, value=242.0), SOAKING.timestamp(), None, (242.0,)), "242 ms", "—", rm.PASS, "ok"),
        (TriggerTrack(verdict("breaching", SOAKING, breaching_for=360), SOAKING.timestamp()), "320 ms", "6m00s/10m00s", rm.WARN, "breach"),
        # no value next to "no data", even when the window had a few samples
        (TriggerTrack(verdict("no_data_hold", SOAKING, value=247.0), SOAKING.timestamp()), "", "HOLD: no data", rm.WARN, "warn"),
        (TriggerTrack(verdict("no_data_ignored", SOAKING, value=None), SOAKING.timestamp()), "", "no data (ignored)", rm.WAIT, "muted"),
        # stale: the last value with its age
        (TriggerTrack(verdict("ok", SOAKING, value=242.0), (SOAKING - timedelta(minutes=3)).timestamp(), "timeout", (242.0,)),
         "242 ms, 3m00s ago", "STALE 3m00s", rm.STALE_MARK, "stale"),
        (TriggerTrack(None, None, "connection refused"), "", "no answer", rm.WAIT, "muted"),
        (TriggerTrack(), "", "first poll", rm.WAIT, "muted"),
    ],
    ids=["ok", "breaching", "hold", "ignored", "stale", "no-answer", "first-poll"],
)
def test_trigger_row_states(plan, track, value, pending, mark, role):
    state = state_of(plan, *live(plan))
    row = _row(plan, state, SOAKING, "api_p95_regression", track)
    assert (row.value, row.pending, row.mark, row.role, row.name) == (value, pending, mark, role, "Performance")


def test_a_fired_trigger_shows_the_value_that_fired_it_and_when(plan):
    fired = ev.TriggerFired(trigger="security_violation", action="rollback", level="L2", value=1.0, threshold=0.0, window_s=0, detail="")
    state = state_of(plan, *live(plan), fired)
    now = SOAKING
    row = _row(plan, state, now, "security_violation", TriggerTrack(verdict("ok", now, value=0.0, threshold=0.0), now.timestamp()))
    assert (row.value, row.limit, row.pending, row.mark, row.role) == ("1", "> 0", "FIRED 14:00:14Z", rm.FAIL, "alarm")


def test_no_guard_and_preflight_rows(plan):
    assert {r.pending for r in rm.trigger_rows(plan, state_of(plan), None, T0)} == {"armed at start"}
    assert {r.pending for r in rm.trigger_rows(plan, state_of(plan, *live(plan)), None, SOAKING)} == {"no guard"}


# --- gate, criteria, decisions ---------------------------------------------------------------------------


def test_criterion_prefers_the_guards_verdict_then_the_journal_then_not_yet(plan):
    journaled = ev.CriterionEvaluated(phase=0, criterion="api_p95", passed=False, value=400.0, detail="from the journal")
    state = state_of(plan, *live(plan), journaled)
    soak = (0, state.phase_started_at)
    guard_says = round_at(SOAKING, criteria={"api_p95": CriterionView(True, 250.0, "from the guard")}, soak=soak)
    undecided = round_at(SOAKING, criteria={"api_p95": CriterionView(None, None, "too little data")}, soak=soak)
    other_soak = round_at(SOAKING, criteria={"api_p95": CriterionView(True, 250.0, "an old soak")}, soak=(0, T0 - SOAK))
    assert rm.criterion(state, guard_says, "api_p95").detail == "from the guard"
    assert rm.criterion(state, undecided, "api_p95").detail == "from the journal"
    assert rm.criterion(state, other_soak, "api_p95").detail == "from the journal"
    assert rm.criterion(state, None, "path_p95") == CriterionView(None, None, "not evaluated yet")
    assert rm.criterion(state, undecided, "path_p95").passed is None


def test_gate_rows_say_who_entered_a_decision(plan):
    state = state_of(plan, *live(plan), ev.GateDecided(phase=0, role="sre", decision="GO", name="Sam"))
    gate = rm.gate_view(plan, state, None)
    assert [d.text for d in gate.decisions] == ["Sam (SRE) GO, entered by alice@bastion"]
    assert [c.mark for c in gate.criteria] == [rm.WAIT] * 4 and gate.stopped == ""


def test_after_a_kill_the_gate_says_stopped_not_live_criteria(plan):
    state = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True)))
    gate = rm.gate_view(plan, state, round_at(SOAKING, criteria={"api_p95": CriterionView(True, 1, "met")}, soak=(0, state.phase_started_at)))
    assert gate.stopped == "rolled back" and gate.criteria == () and gate.manual == ()


# --- budget, escalation, checklist, actions ----------------------------------------------------------------


@pytest.mark.parametrize("pct, role", [(0, "ok"), (74.9, "ok"), (75, "warn"), (94.9, "warn"), (95, "breach"), (120, "breach")])
def test_budget_role_thresholds(pct, role):
    assert rm.budget_role(pct) == role


def test_budget_rows_say_unknown_spend_as_no_data(plan):
    burn = BudgetBurn((CategoryBurn("infrastructure", "Infrastructure", 18000, None, 12450), CategoryBurn("llm", "LLM usage", 5000, None, 2180)),
                      23000, 0.0, 14630, 0.5)
    view = rm.budget_view(plan, state_of(plan), burn)
    assert view.total.spent == "— of $23,000" and view.total.pct == "—" and view.role == "ok"
    assert rm.budget_view(plan, state_of(plan), None).next_alert == "no spend data yet"


@pytest.mark.parametrize(
    "reads, spent, pct",
    [
        ((), "— of $23,000", "—"),  # nothing journaled, no round: no data, never $0
        (({"infrastructure": 1696.0},), "$1,696 of $23,000", "7.37 %"),
        (({"infrastructure": 1696.0}, {"infrastructure": 1500.0, "llm_usage": 500.0}), "$2,000 of $23,000", "8.7 %"),  # the latest read
    ],
)
def test_the_budget_without_a_round_is_the_spend_the_journal_last_read(plan, reads, spent, pct):
    state = state_of(plan, *(ev.SpendRead(spent=r, month="2026-11") for r in reads))
    view = rm.budget_view(plan, state, None)
    assert (view.total.spent if view.total else "— of $23,000") == spent
    assert (view.total.pct if view.total else "—") == pct and view.known is bool(reads)


def test_a_round_outranks_the_journaled_spend(plan):
    state = state_of(plan, ev.SpendRead(spent={"infrastructure": 1696.0}))
    burn = BudgetBurn((CategoryBurn("infrastructure", "Infrastructure", 18000, 3000.0, 12450),
                       CategoryBurn("llm", "LLM usage", 5000, None, 2180)), 23000, 3000.0, 14630, 0.5)
    assert rm.budget_view(plan, state, burn).total.spent == "$3,000 of $23,000"


def test_escalation_levels_apply_by_trigger_name(plan):
    breach = ev.TriggerBreached(trigger="api_p95_regression", value=320.0, threshold=285.0, detail="")
    state = state_of(plan, *live(plan), breach)
    rows = {r.level: r for r in rm.escalation_rows(plan, state)}
    assert rows["L1"].reasons == ("Performance breaching",) and rows["L1"].role == "alarm"
    assert not rows["L2"].applies and rows["L2"].contacts == ("pagerduty:intelgraph-security",) and rows["L2"].channel == "#security-incidents"
    unconfirmed = state_of(plan, *_kill(plan, ev.KillResult(confirmed=False, error="x")))
    emergency = {r.level: r for r in rm.escalation_rows(plan, unconfirmed)}["Emergency"]
    assert emergency.reasons == ("KILL NOT CONFIRMED",) and emergency.role == "kill"


def test_rollback_checklist_ticks_itself_and_by_hand(plan):
    assert rm.checklist(plan, state_of(plan, *live(plan))) == ()
    state = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s"),
                                  ev.Notified(channel="#error-budget", text="rolled back", delivered=False, error="no adapter"),
                                  ev.Noted(text=f"{rm.CHECKLIST_PREFIX}hotfix branch created: hotfix/p95")))
    rows = rm.checklist(plan, state)
    assert [(r.key, r.done) for r in rows] == [
        ("gateway flag set", True), ("traffic confirmed", True), ("failure evidence captured", None),
        ("stakeholders notified", None), ("hotfix branch created", True),
    ]
    assert rows[3].step == "stakeholders notified on #error-budget" and "no adapter" in rows[3].detail
    assert rows[4].detail.startswith("hotfix/p95 (alice")
    assert rm.checklist_steps_open(rows) == [("failure evidence captured", "failure evidence captured"),
                                             ("stakeholders notified on #error-budget", "stakeholders notified")]
    sent = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.Notified(channel="#error-budget", text="x", delivered=True)))
    assert rm.checklist(plan, sent)[3].done is True


@pytest.mark.parametrize(
    "build, offered, refused",
    [
        (lambda p: [], {"start", "sign_off", "waive", "run_checks"}, {"advance", "gate", "kill", "checklist"}),
        (live, {"advance", "gate", "kill", "note"}, {"start", "sign_off", "waive", "run_checks", "checklist"}),
        (lambda p: _kill(p, ev.KillResult(confirmed=True)), {"checklist", "note"}, {"advance", "start", "sign_off", "waive", "gate", "kill"}),
        (lambda p: _kill(p, ev.KillResult(confirmed=False, error="x")), {"kill"}, {"advance", "start", "gate"}),
        (lambda p: live(p, 3) + [ev.RolloutCompleted()], {"note"}, {"advance", "kill", "start", "gate"}),
    ],
    ids=["preflight", "live", "rolled-back", "kill-unconfirmed", "completed"],
)
def test_available_actions_follow_the_state(plan, build, offered, refused):
    actions = rm.available_actions(state_of(plan, *build(plan)))
    assert offered <= actions and not refused & actions


# --- banner, badges, guard, timeline ------------------------------------------------------------------------


def test_banner_and_badges_while_breaching_and_none_while_soaking(plan):
    state = state_of(plan, *live(plan), ev.TriggerBreached(trigger="api_p95_regression", value=320.0, threshold=285.0, detail=""))
    breaching = _round(plan, SOAKING, "breaching")
    model = rm.read_model(plan, state, breaching, SOAKING, sight=seen(breaching, SOAKING))
    assert model.banner[0] == "BREACHING: Performance — auto-rollback in 5m00s"
    assert model.banner[1] == "▲ Performance 320 ms > 285 ms (staging 238 ms +20 %) 5m00s/10m00s"
    assert model.badges["phase"] == (rm.WARN, "breach") and model.badges["escalation"][0] == rm.WARN
    ok = _round(plan, SOAKING, "ok")
    calm = rm.read_model(plan, state_of(plan, *live(plan)), ok, SOAKING, sight=seen(ok, SOAKING))
    assert calm.banner == () and calm.badges == {}


def test_guard_health_words(plan):
    state = state_of(plan, *live(plan))
    fresh, old = round_at(SOAKING, at=SOAKING - timedelta(seconds=3)), round_at(SOAKING, at=SOAKING - timedelta(seconds=46))
    assert rm.guard_health(plan, state, fresh, seen(fresh, SOAKING)).text == "GUARD 4242@bastion · last round 3s ago"
    assert rm.guard_health(plan, state, old, seen(old, SOAKING)).text == "UNGUARDED 46s"
    assert rm.guard_health(plan, state_of(plan, guard=False), None, GuardSight()).text == "no guard"
    unseen = rm.guard_health(plan, state, old, seen(old, SOAKING), "14:02:11Z")  # the record does not answer the face
    assert (unseen.text, unseen.guarded, unseen.why) == ("GUARD UNSEEN 46s", False,
                                                         "the record has not answered since 14:02:11Z")
    assert rm.guard_health(plan, state, fresh, seen(fresh, SOAKING), "14:02:11Z").guarded  # a round seen is seen


@pytest.mark.parametrize(
    "guard, sight, state, text, short",
    [  # a replay says what the journal says of the guard then, never a round's age
        (True, GuardSight(GUARD.pid, None, journal_only=True), "journaled",
         "guard 4242@bastion started 14:00:00Z (as journaled)", "guard ● started 14:00:00Z"),
        (False, GuardSight(None, None, journal_only=True), "unguarded", "UNGUARDED", "UNGUARDED"),  # no guard journaled
        (True, GuardSight(GUARD.pid, 0.0), "live", "GUARD 4242@bastion · last round 0s ago", "guard ● 0s"),  # a live face: its own sight
    ],
)
def test_a_replay_says_the_journals_guard_not_a_rounds_age(plan, guard, sight, state, text, short):
    st = state_of(plan, *live(plan), guard=guard)
    health = rm.guard_health(plan, st, round_at(SOAKING), sight)
    assert (health.state, health.text, health.short) == (state, text, short)
    assert health.age_s is None or sight.round_age_s is not None


def test_timeline_is_newest_first_and_uses_the_given_wording(plan):
    state = state_of(plan, *live(plan))
    lines = rm.timeline(state, lambda r, _plan: r.kind.upper())
    assert lines[0].text == "PHASE_STARTED" and lines[0].role == "bold" and lines[-1].text == "PLAN_LOADED"


def test_the_timeline_leaves_out_spend_reads(plan):
    state = state_of(plan, *live(plan), ev.SpendRead(spent={"infrastructure": 1696.0}))
    kinds = [line.kind for line in rm.timeline(state, lambda r, _plan: r.kind)]
    assert "spend_read" not in kinds and kinds[0] == "phase_started" and state.spend is not None


def test_the_read_model_imports_no_config_wording_or_screen():
    tree = ast.parse(Path(rm.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.split(".")[:2] in (["cockpit", "config"], ["cockpit", "narrate"], ["cockpit", "tui"])}
    assert not {m for m in imported if m and m.split(".")[0] in ("textual", "rich")}


def test_a_state_that_folds_one_more_record_reads_anew(plan):
    """The journal-only parts are kept between reads of one state (a screen reads it every second)
    and read anew when it folds a record: the same object, one more line in the timeline, one more
    check passed, one more sign-off."""
    recs = list(journaled_records(plan, ev.CheckRan(check=plan.preflight[0].id, status="pass", detail="ok")))
    state = fold(recs[:1])
    first = rm.read_model(plan, state, None, T0)
    assert rm.read_model(plan, state, None, T0).timeline is first.timeline  # kept: nothing new was folded
    assert first.checks[0].word == "pending" and len(first.timeline) == 1
    state.apply(recs[1])
    after = rm.read_model(plan, state, None, T0)
    assert after.checks[0].word == "pass" and len(after.timeline) == 2
    running = rm.read_model(plan, state, None, T0, running=frozenset({plan.preflight[1].id}))
    assert running.checks[1].word == "running"  # what runs here is part of what is kept, too
    worded = rm.read_model(plan, state, None, T0, say=lambda r, _plan: f"said {r.kind}")
    assert worded.timeline[0].text == "said check_ran"
    other = fold(recs)  # another state at the same position: its own reading, not the first's
    assert rm.read_model(plan, other, None, T0).timeline is not after.timeline
    signed = state_of(plan, ev.SignedOff(role=plan.sign_offs[0], name="Priya"))
    assert rm.read_model(plan, signed, None, T0).sign_offs[0].word == "signed"
    checklist_state = state_of(plan, *live(plan), ev.KillRequested(reason="test"))
    assert rm.read_model(plan, checklist_state, None, T0).checklist
