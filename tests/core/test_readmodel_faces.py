"""The parts of the read model every face renders alike (issue 21): the phase track after a kill,
the kill line and its read-back, incidents open and past, the demo marker, the next step and each
action's refusals, missing sign-offs, the journaled spend. Table-driven: every branch pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core import readmodel as rm
from cockpit.core import rules
from cockpit.core.escalation import active_levels, with_names
from cockpit.core.nextstep import ACTIONS, NextStep, next_step, refusals
from cockpit.core.postdeploy import ItemRow
from cockpit.engine import plan_snapshot
from tests.conftest import T0
from tests.core.test_readmodel import _kill, gate_met, live, ready, state_of

NOW = T0 + timedelta(minutes=5)
PAGE = ev.IncidentOpened(incident="INC-1", level="L1", reason="trigger api_p95_regression fired", trigger="api_p95_regression")


def _rolled_back(plan, **result):
    return state_of(plan, *_kill(plan, ev.KillResult(confirmed=True, **result), ev.RollbackVerified(ok=True, detail="0.00/s")))


# --- the phase track --------------------------------------------------------------------------------

PHASES = [
    ("preflight", lambda p: state_of(p), ["5%", "25%", "50%", "100%"], ["ahead"] * 4, "Preflight · canary 0 %"),
    ("starting", lambda p: state_of(p, *ready(p), ev.RolloutStarted()), ["5%", "25%", "50%", "100%"], ["ahead"] * 4,
     "Starting · canary 0 %"),
    ("soaking phase 2", lambda p: state_of(p, *live(p, 1), ev.TrafficShiftResult(weight=25, verified=True)),
     ["5%", "▶25%", "50%", "100%"], ["passed", "soaking", "ahead", "ahead"], "Phase 2 (2/4) · canary 25 %"),
    ("kill sent", lambda p: state_of(p, *live(p, 1), ev.KillRequested(reason="p95")), ["5%", "✗25%", "50%", "100%"],
     ["passed", "stopped", "ahead", "ahead"], "Phase 2 (2/4) kill sent · canary 25 %"),
    ("rolled back", lambda p: state_of(p, *live(p, 1), ev.TrafficShiftResult(weight=25, verified=True), ev.KillRequested(reason="p95"),
                                       ev.KillResult(confirmed=True, observed_weight=25, observed_enabled=False)),
     ["5%", "✗25%", "50%", "100%"], ["passed", "stopped", "ahead", "ahead"], "Phase 2 (2/4) rolled back · canary 0 %"),
    ("not confirmed", lambda p: state_of(p, *live(p, 1), ev.KillRequested(reason="p95"), ev.KillResult(confirmed=False, error="x")),
     ["5%", "✗25%", "50%", "100%"], ["passed", "stopped", "ahead", "ahead"], "Phase 2 (2/4) KILL NOT CONFIRMED · canary 25 %"),
    ("completed", lambda p: state_of(p, *live(p, 3), ev.TrafficShiftResult(weight=100, verified=True), ev.RolloutCompleted()),
     ["5%", "25%", "50%", "100%"], ["passed"] * 4, "Phase 4 (4/4) · canary 100 %"),
]


@pytest.mark.parametrize("moment, texts, states, line", [p[1:] for p in PHASES], ids=[p[0] for p in PHASES])
def test_the_phase_track_and_line_after_a_rollback_say_where_it_stopped(plan, moment, texts, states, line):
    """Not `▶25%` and `phase 2/4` beside `canary weight 0 %` after the kill: one number for one fact
    (the canary's share the gateway last confirmed: 25 % until it confirms the kill)."""
    view = rm.phase_view(plan, moment(plan))
    assert [s.text for s in view.track] == texts and [s.state for s in view.track] == states and view.text == line
    roles = {"passed": "ok", "soaking": "ok", "stopped": "breach", "ahead": "muted"}
    assert [s.role for s in view.track] == [roles[s] for s in states] and [s.weight for s in view.track] == [5, 25, 50, 100]


# --- the kill line ----------------------------------------------------------------------------------

KILLS = [
    ("none", lambda p: state_of(p, *live(p)), None),
    ("sent by a trigger", lambda p: state_of(p, *_kill(p)),
     ("KILL SENT", "pulled by trigger Performance", "waiting for the gateway to read the canary back off", "", "kill", 0)),
    ("sent by a person", lambda p: state_of(p, *live(p), ev.KillRequested(reason="trigger path_p95 looks bad")),
     ("KILL SENT", "pulled by alice@bastion: Path Queries looks bad", "waiting for the gateway to read the canary back off", "", "kill", 0)),
    ("confirmed, flag off, the server keeps its weight", lambda p: state_of(p, *_kill(p, ev.KillResult(
        confirmed=True, attempts=1, observed_weight=25, observed_enabled=False))),
     ("KILL VERIFIED 14:00:15Z", "pulled by trigger Performance", "the gateway reads the canary off: canary share 0 %",
      "canary traffic: waiting for it to fall to ~0", "warn", 1)),
    ("confirmed, weight read back", lambda p: state_of(p, *_kill(p, ev.KillResult(confirmed=True, attempts=2, observed_weight=0))),
     ("KILL VERIFIED 14:00:15Z", "pulled by trigger Performance", "the gateway reads the canary off: canary share 0 %",
      "canary traffic: waiting for it to fall to ~0", "warn", 2)),
    ("confirmed, nothing read but the flag", lambda p: state_of(p, *_kill(p, ev.KillResult(confirmed=True, observed_enabled=True))),
     ("KILL VERIFIED 14:00:15Z", "pulled by trigger Performance", "the gateway reads the canary off: canary share 0 %",
      "canary traffic: waiting for it to fall to ~0", "warn", 1)),
    ("verified by traffic", lambda p: _rolled_back(p),
     ("KILL VERIFIED 14:00:15Z", "pulled by trigger Performance", "the gateway reads the canary off: canary share 0 %",
      "canary traffic ~0: 0.00/s", "warn", 1)),
    ("leaking", lambda p: state_of(p, *_kill(p, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="3.1/s"))),
     ("KILL VERIFIED 14:00:15Z", "pulled by trigger Performance", "the gateway reads the canary off: canary share 0 %",
      "ROLLBACK NOT VERIFIED: canary traffic NOT ~0: 3.1/s", "kill", 1)),
    ("not confirmed", lambda p: state_of(p, *_kill(p, ev.KillResult(confirmed=False, attempts=3, error="timeout"))),
     ("KILL NOT CONFIRMED", "pulled by trigger Performance", "3 attempts: timeout", "", "kill", 3)),
]


@pytest.mark.parametrize("moment, said", [k[1:] for k in KILLS], ids=[k[0] for k in KILLS])
def test_the_kill_line_says_the_share_read_back_never_the_servers_weight(plan, moment, said):
    state = moment(plan)
    line = rm.kill_line(plan, state)
    if said is None:
        assert line is None
        return
    assert (line.head, line.why, line.detail, line.traffic, line.role, line.attempts) == said
    assert line.text == f"{said[0]} · {said[1]}" and line.by == "alice@bastion" and line.requested_at == state.kill.requested_at


def test_a_confirmed_kill_that_read_a_weight_with_the_flag_on_says_that_weight(plan):
    state = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True, observed_weight=3, observed_enabled=True)))
    assert rm.kill_line(plan, state).detail == "the gateway reads the canary off: canary share 3 %"


# --- incidents, open and past ----------------------------------------------------------------------


def test_incidents_open_acknowledged_climbed_and_resolved_stay_in_the_record(plan):
    state = state_of(plan, *live(plan), PAGE,
                     ev.IncidentEscalated(incident="INC-1", level="L2", reason="not acknowledged in 10m00s"),
                     ev.IncidentAcknowledged(incident="INC-1", name="Sam", via="cli"),
                     ev.IncidentResolved(incident="INC-1", reason="the rollback is verified"),
                     ev.IncidentOpened(incident="INC-2", level="L2", reason="KILL NOT CONFIRMED"),
                     ev.IncidentOpened(incident="INC-3", level="L1", reason="x"),
                     ev.IncidentAcknowledged(incident="INC-3", name="Kim", via="screen"))
    one, two, three = rm.incident_rows(state)
    assert (one.id, one.level, one.levels, one.state, one.role) == ("INC-1", "L2", "L1 → L2", "resolved", "muted")
    assert one.text == ("INC-1 L1 → L2 opened 14:00:14Z: Performance fired; acknowledged by Sam (cli) 14:00:16Z; "
                        "resolved 14:00:17Z: the rollback is verified")
    assert (two.state, two.role, two.acked, two.resolved) == ("open", "alarm", "", "")
    assert two.text == "INC-2 L2 opened 14:00:18Z: KILL NOT CONFIRMED; NOT acknowledged"
    assert (three.state, three.role) == ("acknowledged", "warn")
    assert three.text == "INC-3 L1 opened 14:00:19Z: x; acknowledged by Kim (screen) 14:00:20Z"
    assert rm.incident_rows(state_of(plan, *live(plan))) == ()


# --- the demo marker ----------------------------------------------------------------------------------


def _with_gateway(plan, kind, speed=1.0):
    snap = plan_snapshot(plan)
    document = dict(snap.document, gateways={"edge": {"type": kind}, "other": "not a table"})
    return state_of(plan, ev.GuardStarted(pid=1, host="vm", speed=speed), guard=False) if kind is None else fold_with(plan, document, speed)


def fold_with(plan, document, speed):
    import msgspec

    from cockpit.core.state import fold
    from tests.core.journal import records

    snap = msgspec.structs.replace(plan_snapshot(plan), document=document)
    rs = records(plan, ev.GuardStarted(pid=1, host="vm", speed=speed))
    rs[0] = msgspec.structs.replace(rs[0], payload=snap)
    return fold(rs)


@pytest.mark.parametrize("kind, speed, said", [("simulated", 60.0, "DEMO · simulated · 60x"), ("simulated", 1.0, "DEMO · simulated"),
                                                ("haproxy", 60.0, ""), ("http", 1.0, "")])
def test_a_demo_journal_is_marked_on_every_face(plan, kind, speed, said):
    assert rm.demo_marker(fold_with(plan, dict(plan_snapshot(plan).document, gateways={"edge": {"type": kind}, "x": "y"}), speed)) == said


def test_a_journal_without_a_plan_or_gateways_is_no_demo(plan):
    from cockpit.core.state import fold

    assert rm.demo_marker(fold([])) == ""
    assert rm.demo_marker(fold_with(plan, {}, 60.0)) == ""


# --- the next step and each action's refusals ------------------------------------------------------------


def _item(state):
    return ItemRow("cost", "Cost review", "sre", timedelta(days=1), None, state)


STEPS = [
    ("no plan", lambda p: state_of(p).__class__(), (), (), None),
    ("checks to run", lambda p: state_of(p), (), (), NextStep("run_checks", "run the preflight checks")),
    ("a sign-off missing", lambda p: state_of(p, *ready(p)[:-1]), (), (),
     NextStep("sign_off", "record the sign-off of FinOps", ("finops",))),
    ("ready to start", lambda p: state_of(p, *ready(p)), (), (), NextStep("start", "start at 5 %")),
    ("soaking", lambda p: state_of(p, *live(p)), (), (), None),
    ("waiting for a GO", lambda p: state_of(p, *live(p), *gate_met(p)[:-1]), (), (),
     NextStep("gate", "record the GO or NO-GO of SRE", ("1", "sre"))),
    ("ready to advance", lambda p: state_of(p, *live(p), *gate_met(p)), (), (), NextStep("advance", "advance to 25 %")),
    ("ready to complete", lambda p: state_of(p, *live(p, 3), *gate_met(p, 3)), (), (), NextStep("advance", "complete the rollout")),
    ("a page first", lambda p: state_of(p, *live(p), *gate_met(p), PAGE), (), (), NextStep("ack", "acknowledge INC-1 (L1)", ("INC-1",))),
    ("an acknowledged page", lambda p: state_of(p, *live(p), *gate_met(p), PAGE, ev.IncidentAcknowledged(incident="INC-1", name="S")),
     (), (), NextStep("advance", "advance to 25 %")),
    ("a rollback step to tick", _rolled_back, ("hotfix branch created",), (), NextStep("checklist", "tick a rollback step", ("hotfix branch created",))),
    ("every rollback step ticked", _rolled_back, (), (), None),
    ("a post-deployment item due", lambda p: state_of(p, *live(p, 3), ev.RolloutCompleted()), (), (_item("done"), _item("overdue")),
     NextStep("post_deploy", "tick Cost review", ("cost",))),
    ("post-deployment items waiting or done", lambda p: state_of(p, *live(p, 3), ev.RolloutCompleted()), (), (_item("done"), _item("waiting")), None),
]


@pytest.mark.parametrize("moment, todo, post, step", [s[1:] for s in STEPS], ids=[s[0] for s in STEPS])
def test_the_next_step_is_data_no_face_words_a_key_in_it(plan, moment, todo, post, step):
    assert next_step(moment(plan), NOW + timedelta(minutes=30), todo, post) == step


def test_in_a_freeze_window_there_is_no_next_step(plan):
    tuesday_night = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    state = state_of(plan, *ready(plan))
    assert rules.start_refusals(state, tuesday_night) and next_step(state, tuesday_night) is None


def test_open_items_due_soon_count_as_due(plan):
    state = state_of(plan, *live(plan, 3), ev.RolloutCompleted())
    for word in ("open", "due_soon", "overdue"):
        assert next_step(state, NOW, (), (_item(word),)).action == "post_deploy"


def test_each_action_is_refused_with_the_reason_and_allowed_when_it_may_be_done(plan):
    fresh = refusals(state_of(plan), NOW)
    assert set(fresh) == set(ACTIONS)
    assert fresh["sign_off"] == () and fresh["run_checks"] == () and fresh["start"]
    assert fresh["ack"] == ("no page waits for an acknowledgement",) and fresh["checklist"] == ("no rollback step waits for a tick",)
    assert fresh["post_deploy"] == ("the post-deployment plan starts when the rollout has completed",)
    signed = refusals(state_of(plan, *ready(plan)), NOW)
    assert signed["sign_off"] == ("every sign-off is recorded",) and signed["start"] == ()
    running = refusals(state_of(plan, *live(plan), PAGE), NOW)
    assert running["sign_off"] == ("sign-offs are recorded before the rollout starts",) and running["ack"] == ()
    assert running["kill"] == () and running["advance"] and running["gate"] == ()
    done = state_of(plan, *live(plan, 3), ev.RolloutCompleted())
    assert refusals(done, NOW, (), (_item("done"),))["post_deploy"] == ("every post-deployment item is done",)
    assert refusals(done, NOW, (), (_item("done"), _item("open")))["post_deploy"] == ()
    assert refusals(_rolled_back(plan), NOW, ("x",))["checklist"] == ()
    bare = refusals(state_of(plan).__class__(), NOW)
    assert bare == {a: ("no plan loaded in this journal",) for a in ACTIONS}


def test_missing_sign_offs_in_the_plans_order(plan):
    assert rules.missing_sign_offs(state_of(plan).__class__()) == []
    assert rules.missing_sign_offs(state_of(plan)) == list(plan.sign_offs)
    assert rules.missing_sign_offs(state_of(plan, *ready(plan)[:-2])) == list(plan.sign_offs)[-2:]
    model = rm.read_model(plan, state_of(plan, *ready(plan)[:-1]), None, NOW)
    assert model.missing_sign_offs == ("FinOps",)


# --- the read model wires them -----------------------------------------------------------------------


def test_the_read_model_carries_phase_kill_incidents_next_step_and_refusals(plan):
    state = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")), PAGE)
    model = rm.read_model(plan, state, None, NOW)
    assert model.phase == rm.phase_view(plan, state) and model.kill == rm.kill_line(plan, state)
    assert model.incidents == rm.incident_rows(state) and model.demo == ""
    assert model.next_step == NextStep("ack", "acknowledge INC-1 (L1)", ("INC-1",))
    assert model.refusals["checklist"] == () and model.post_deployment == ()
    acked = state_of(plan, *_kill(plan, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")))
    step = rm.read_model(plan, acked, None, NOW).next_step
    assert step == NextStep("checklist", "tick a rollback step", ("failure evidence captured",))
    completed = rm.read_model(plan, state_of(plan, *live(plan, 3), ev.RolloutCompleted()), None, NOW)
    assert completed.post_deployment and all(isinstance(r, ItemRow) for r in completed.post_deployment)


def test_escalation_reasons_name_triggers_by_their_names(plan):
    assert with_names("trigger p95_regression fired; trigger p95 breached", {"p95": "Latency", "p95_regression": "Regression"}) == \
        "Regression fired; Latency breached"
    state = state_of(plan, *live(plan), ev.Escalated(level="L3", reason="trigger path_p95 held"))
    assert active_levels(state, {}, {"path_p95": "Path Queries"}) == {"L3": ["Path Queries held"]}
    assert active_levels(state, {}) == {"L3": ["trigger path_p95 held"]}


@pytest.mark.parametrize("result, share", [
    (ev.KillResult(confirmed=True, observed_weight=5, observed_enabled=False), "0 %"),  # flag off: the server's weight is not the share
    (ev.KillResult(confirmed=True, observed_weight=None, observed_enabled=None), "0 %"),
    (ev.KillResult(confirmed=True, observed_weight=3, observed_enabled=True), "3 %"),
])
def test_cockpit_kill_says_the_read_back_in_the_kill_lines_words(plan, result, share):
    """`cockpit kill` prints kill_read_back; every face shows kill_line: one wording, one share."""
    said = rm.kill_read_back(result)
    assert said == f"the gateway reads the canary off: canary share {share}"
    assert rm.kill_line(plan, state_of(plan, *_kill(plan, result))).detail == said


# --- what `status` and the report read off the state through the read model -------------------------

SOAKING_AT = T0 + timedelta(minutes=6)
OUTCOMES = [
    # moment, the state, outcome, soak left at SOAKING_AT (s), advance refused at SOAKING_AT
    ("preflight", lambda p: state_of(p), "PREFLIGHT", None, False),
    ("soaking", lambda p: state_of(p, *live(p)), "LIVE", 20 * 60 - 6 * 60 + 13, True),
    ("kill sent", lambda p: state_of(p, *_kill(p)), "KILL SENT", None, False),
    ("rolled back", lambda p: _rolled_back(p), "ROLLED BACK", None, False),
    ("kill not confirmed", lambda p: state_of(p, *_kill(p, ev.KillResult(confirmed=False, error="x"))),
     "KILL NOT CONFIRMED", None, False),
    ("completed", lambda p: state_of(p, *live(p, 3), ev.RolloutCompleted()), "COMPLETED", None, False),
]


@pytest.mark.parametrize("moment, outcome, left_s, refused", [o[1:] for o in OUTCOMES], ids=[o[0] for o in OUTCOMES])
def test_status_and_the_report_read_the_outcome_the_soak_and_advances_refusals_from_the_read_model(
        plan, moment, outcome, left_s, refused):
    """Faces import neither the rules nor the fold (the import contract "faces"): the read model says
    the outcome in capitals, the soak left (only while live) and why `advance` is refused (only while live)."""
    state = moment(plan)
    assert rm.outcome(state) == outcome
    left = rm.soak_left(state, SOAKING_AT)
    assert (None if left is None else left.total_seconds()) == left_s
    assert bool(rm.advance_refusals(state, SOAKING_AT)) is refused
    if refused:
        assert rm.advance_refusals(state, SOAKING_AT) == rules.advance_refusals(state, SOAKING_AT)
        breached = {"api_p95_regression": 30.0}
        assert rm.advance_refusals(state, SOAKING_AT, breached) == rules.advance_refusals(state, SOAKING_AT, breached)


def test_the_read_model_folds_a_journal_as_the_core_does(plan):
    from cockpit.core.state import fold
    from tests.core.journal import records

    recs = records(plan, *live(plan))
    assert rm.rollout(recs) == fold(recs) and rm.rollout(recs).status == "live"
