"""The read model at the edges its other tests left open: a replay's guard line, a plan's own poll
interval, the record not answering, the judge's rows, the next step after a rollback or a completion,
and the words of incidents and kills when a part of them is empty (table-driven)."""

from __future__ import annotations

import os
import time
import tomllib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS

import pytest

from cockpit.config import parse_plan
from cockpit.core import events as ev
from cockpit.core import readmodel as rm
from cockpit.core import words
from cockpit.core.guardsight import GuardSight
from cockpit.core.judgeview import judgment_view
from cockpit.core.nextstep import NextStep
from cockpit.core.state import fold
from cockpit.core.visible import visible_fields
from tests.conftest import T0
from tests.core.journal import at_phase, journaled
from tests.core.journal import state as journal_state
from tests.core.test_judgment_gate import judgment
from tests.core.test_readmodel import (
    GUARD,
    SOAKED,
    SOAKING,
    _kill,
    gate_met,
    live,
    ok_tracks,
    round_at,
    seen,
    state_of,
    verdict,
)
from tests.core.test_readmodel_faces import fold_with
from tests.judged import judged_example_text

UNANSWERED = "14:02:11Z"


def _rolled_back(plan, *more):
    return state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0.00/s")), *more)


def _ticked(step):
    return ev.Noted(text=f"{rm.CHECKLIST_PREFIX}{step}: done by hand")


# --- a replay's guard: the journal's word ------------------------------------------------------------------


@pytest.mark.parametrize("moment, needed", [(live, True), (lambda p: [], False)], ids=["live", "preflight"])
def test_a_replay_reads_the_journals_guard_in_full(plan, moment, needed):
    """A replay (journal_only) shows the guard the journal names, guarded and in the ok colour, with
    no round's age; whether one is needed is the rollout's own state (live or not)."""
    state = state_of(plan, *moment(plan))
    health = rm.guard_health(plan, state, round_at(SOAKING), GuardSight(GUARD.pid, None, journal_only=True))
    assert health == rm.GuardHealth(True, needed, "guard 4242@bastion started 14:00:00Z (as journaled)",
                                    "guard ● started 14:00:00Z", "ok", GUARD, None, "journaled")


# --- the plan's own poll interval decides when a round is too old ---------------------------------------


def _polling(plan, seconds):
    return plan.model_copy(update={"prometheus": plan.prometheus.model_copy(update={"poll_interval": timedelta(seconds=seconds)})})


@pytest.mark.parametrize("poll_s, age, guarded", [(60, 90.0, True), (60, 181.0, False), (15, 46.0, False)])
def test_a_round_is_fresh_for_three_of_the_plans_own_polls(plan, poll_s, age, guarded):
    """A plan polling every 60 s is guarded by a round 90 s old (three polls: 180 s), on the guard
    line, the headline and the read model alike; with the seed's 15 s, 46 s is too old."""
    polling = _polling(plan, poll_s)
    state = state_of(polling, *live(polling))
    evaluation = round_at(SOAKING, ok_tracks(polling, SOAKING))
    sight = GuardSight(GUARD.pid, age)
    health = rm.guard_health(polling, state, evaluation, sight)
    head = rm.headline(polling, state, evaluation, SOAKING, sight=sight)
    model = rm.read_model(polling, state, evaluation, SOAKING, sight=sight)
    assert (health.guarded, health.state) == (guarded, "live" if guarded else "unguarded")
    assert head.word == ("SOAKING" if guarded else "UNGUARDED")
    assert model.guard == health and model.headline == head


# --- the record does not answer, the journal does not verify: the read model passes it on ---------------


def test_the_read_model_says_the_record_does_not_answer(plan):
    """No round seen while the record (etcd) does not answer: the guard may be guarding, unseen, and
    the headline says the record is unreachable, not that nobody guards."""
    state = state_of(plan, *live(plan))
    model = rm.read_model(plan, state, None, SOAKING, unanswered=UNANSWERED)
    assert model.headline == rm.Headline(
        "RECORD UNREACHABLE", "no answer since 14:02:11Z; shown as last read — the guard keeps guarding and journals "
        "its events when the store answers", "alarm")
    assert (model.guard.text, model.guard.short, model.guard.state) == ("GUARD UNSEEN", "GUARD UNSEEN", "unguarded")
    assert model.guard.why == "the record has not answered since 14:02:11Z"
    answered = rm.read_model(plan, state, None, SOAKING)
    assert answered.headline.word == "UNGUARDED" and answered.guard.text == "UNGUARDED"


def test_the_read_model_says_the_journal_does_not_verify(plan):
    state = state_of(plan, *live(plan))
    evaluation = round_at(SOAKING, ok_tracks(plan, SOAKING))
    model = rm.read_model(plan, state, evaluation, SOAKING, sight=seen(evaluation, SOAKING), journal_broken="hash mismatch at 7")
    assert model.headline == rm.Headline(
        "JOURNAL BROKEN", "the journal does not verify; the guard still guards — run `cockpit verify`", "alarm")
    assert rm.read_model(plan, state, evaluation, SOAKING, sight=seen(evaluation, SOAKING)).headline.word == "SOAKING"


# --- a breach's age: the gauge's, not the journal's ------------------------------------------------------


def test_advance_is_refused_with_the_breachs_age_as_its_gauge_says_it(plan):
    """The journal's `trigger_breached` is written after the window started: the refusal says the
    gauge's 5m00s, on the read model as on `advance_refusals` given the gauges' ages."""
    state = state_of(plan, *live(plan), ev.TriggerBreached(trigger="api_p95_regression", value=320.0, threshold=285.0, detail=""))
    evaluation = round_at(SOAKING, ok_tracks(plan, SOAKING, api_p95_regression=verdict("breaching", SOAKING, breaching_for=300)))
    model = rm.read_model(plan, state, evaluation, SOAKING, sight=seen(evaluation, SOAKING))
    said = "trigger api_p95_regression is breaching (for 5m00s)"
    assert [r for r in model.refusals["advance"] if r.startswith("trigger ")] == [said]
    ages = rm.breach_ages(model.triggers)
    assert ages == {"api_p95_regression": 300.0}
    assert said in rm.advance_refusals(state, SOAKING, ages)
    since = state.triggers["api_p95_regression"].breaching_since
    journal_age = f"trigger api_p95_regression is breaching (for {words.duration(SOAKING - since)})"  # without the gauges
    assert journal_age != said
    assert journal_age in rm.advance_refusals(state, SOAKING) and journal_age not in rm.advance_refusals(state, SOAKING, ages)


# --- the next step after a rollback and after completion --------------------------------------------------

CHECKLIST_REFUSED = ("no rollback step waits for a tick",)
AFTER_COMPLETION = SOAKED + timedelta(hours=1)

NEXT_STEPS = [
    ("checks to run", lambda p: state_of(p), T0, NextStep("run_checks", "run the preflight checks"), None),
    ("ready to advance", lambda p: state_of(p, *live(p), *gate_met(p)), SOAKED, NextStep("advance", "advance to 25 %"), None),
    ("rolled back, nothing ticked", _rolled_back, SOAKING,
     NextStep("checklist", "tick a rollback step", ("failure evidence captured",)), ()),
    ("rolled back, evidence captured", lambda p: _rolled_back(p, _ticked("failure evidence captured")), SOAKING,
     NextStep("checklist", "tick a rollback step", ("stakeholders notified",)), ()),
    ("rolled back, every step ticked", lambda p: _rolled_back(p, *(_ticked(s) for s in rm.MANUAL_STEPS)), SOAKING,
     None, CHECKLIST_REFUSED),
    ("completed, items open", lambda p: state_of(p, *live(p, 3), ev.RolloutCompleted()), AFTER_COMPLETION,
     NextStep("post_deploy", "tick Monitor all SLO metrics continuously", ("monitor_slos",)), CHECKLIST_REFUSED),
]


@pytest.mark.parametrize("moment, now, step, checklist_refused", [s[1:] for s in NEXT_STEPS], ids=[s[0] for s in NEXT_STEPS])
def test_the_step_the_rollout_waits_for(plan, moment, now, step, checklist_refused):
    """`status` and the narrator ask step_now; the read model says the same step, and refuses the
    checklist once no step a person ticks is left."""
    state = moment(plan)
    assert rm.step_now(plan, state, now) == step
    model = rm.read_model(plan, state, None, now)
    assert model.next_step == step
    if checklist_refused is not None:
        assert model.refusals["checklist"] == checklist_refused


def test_a_completed_rollouts_post_deployment_items_are_refused_only_when_all_are_done(plan):
    state = state_of(plan, *live(plan, 3), ev.RolloutCompleted())
    model = rm.read_model(plan, state, None, AFTER_COMPLETION)
    assert model.post_deployment and all(r.state == "open" for r in model.post_deployment)
    assert model.refusals["post_deploy"] == ()


# --- the judge's rows --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def judged_plan():
    return parse_plan(tomllib.loads(judged_example_text()))


def test_a_marginal_judgments_criterion_row_in_full(judged_plan):
    s = journal_state(judged_plan, *at_phase(judged_plan), judgment("Marginal", 80))
    (row,) = [r for r in rm.gate_view(judged_plan, s, None).criteria if r.id == "judgment"]
    assert row == rm.CriterionRow("judgment", "Canary judged against its baseline", False, rm.WARN,
                                  "judged Marginal: score 80 · the owners decide", "warn")


def test_the_read_model_carries_each_phases_judgment_made_visible(judged_plan):
    """The judge's latest judgment of a phase, under the plan's name for it, with what the guard
    wrote shown as escapes (an ESC in its reason cannot move a face's cursor)."""
    made = judgment("Pass", 99)
    made = ev.JudgmentMade(**{**{f: getattr(made, f) for f in made.__struct_fields__}, "reason": "score 99\x1b[2J"})
    s = journal_state(judged_plan, *at_phase(judged_plan), made)
    model = rm.read_model(judged_plan, s, None, SOAKING)
    assert set(model.judgments) == {0}
    view = model.judgments[0]
    assert view.phase_name == judged_plan.phases[0].name == "Phase 1"
    assert view.reason == "score 99\\x1b[2J" and "\x1b" not in view.line
    assert view == visible_fields(judgment_view(judged_plan, s, 0))
    assert rm.read_model(judged_plan, journal_state(judged_plan, *at_phase(judged_plan)), None, SOAKING).judgments == {}


# --- a demo's journal, on the read model -----------------------------------------------------------------


def test_the_read_model_marks_a_demos_journal(plan):
    from cockpit.engine import plan_snapshot

    demo = fold_with(plan, dict(plan_snapshot(plan).document, gateways={"edge": {"type": "simulated"}}), 60.0)
    assert rm.read_model(plan, demo, None, T0).demo == "DEMO · simulated · 60x"


# --- the phase line: nothing stopped while it runs or once completed ---------------------------------------


@pytest.mark.parametrize("moment, stopped, text", [
    (lambda p: [], "", "Preflight · canary 0 %"),
    (live, "", "Phase 1 (1/4) · canary 5 %"),
    (lambda p: [*live(p, 3), ev.RolloutCompleted()], "", "Phase 4 (4/4) · canary 100 %"),
    (_kill, "kill sent", "Phase 1 (1/4) kill sent · canary 5 %"),
])
def test_the_phase_line_says_stopped_only_after_a_kill(plan, moment, stopped, text):
    view = rm.phase_view(plan, state_of(plan, *moment(plan)))
    assert view.stopped == stopped and view.text == text


# --- a fired gauge's time is UTC whatever the machine's zone ------------------------------------------------


@pytest.fixture
def tokyo_machine():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "JST-9"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_fired_gauge_says_its_time_in_utc_on_a_machine_in_another_zone(plan, tokyo_machine):
    now = SOAKING
    tracks = ok_tracks(plan, now, api_p95_regression=verdict("fired", now))
    row = rm.trigger_row(next(t for t in plan.triggers if t.id == "api_p95_regression"), state_of(plan, *live(plan)),
                         round_at(now, tracks), now)
    assert (row.state, row.pending) == ("fired", "FIRED 14:06:00Z")


# --- incidents and kills, word by word ---------------------------------------------------------------------

AT = datetime(2026, 11, 26, 14, 21, tzinfo=UTC)


@pytest.mark.parametrize("via, said", [("cli", "Sam (cli) 14:21:00Z"), ("", "Sam 14:21:00Z")])
def test_who_took_an_incident(via, said):
    assert rm.incident_acked("Sam", via, AT) == said


@pytest.mark.parametrize("resolution, said", [
    ("the rollback is verified", "14:21:00Z: the rollback is verified"),
    ("", "14:21:00Z"),  # no words: the time alone, no dangling colon
    ("failed over to rack X", "14:21:00Z: failed over to rack X"),  # the resolution's words kept to their last letter
])
def test_how_an_incident_ended(resolution, said):
    assert rm.incident_resolved(AT, resolution) == said


@pytest.mark.parametrize("trigger, said", [
    ("api_p95_regression", "pulled by trigger Performance"),
    ("gone_trigger", "pulled by trigger gone_trigger"),  # a trigger the plan does not name: its id
])
def test_who_pulled_the_kill(trigger, said):
    assert rm.kill_pulled({"api_p95_regression": "Performance"}, trigger, "guard@vm", "") == said


def test_a_journal_without_its_plan_lists_its_incidents_as_journaled():
    """A journal read tolerantly whose plan record is missing: the incident is listed, its reason as
    written (no plan names its triggers)."""
    opened = ev.IncidentOpened(incident="INC-1", level="L1", reason="trigger api_p95_regression fired",
                               trigger="api_p95_regression")
    record = journaled(ev.make_record(seq=1, ts=T0, actor=ev.Actor(user="alice", host="bastion"), payload=opened,
                                      prev=ev.GENESIS), f"{1:064x}")
    state = fold([record])
    assert state.plan is None
    (row,) = rm.incident_rows(state)
    assert (row.id, row.reason, row.state) == ("INC-1", "trigger api_p95_regression fired", "open")


@pytest.mark.parametrize("query", ["XXXX", "up", "sum(rate(x[5m]))"])
def test_a_trigger_without_a_query_is_no_criterions_trigger(query):
    """A check trigger (no query) never stands for a gate criterion, whatever the criterion's query."""
    plan = NS(triggers=(NS(id="check", query=None), NS(id="other", query="z")))
    breaching = rm.TriggerRow("check", "Check", rm.WARN, "", "", "1m00s/10m00s", "breach", "breaching")
    assert rm.not_holding_now(NS(query=query), plan, (breaching,)) is None
