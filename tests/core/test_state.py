"""The fold, one event kind at a time, and every kill-state transition (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core.state import (
    STATUS_WORDS,
    CheckState,
    CriterionState,
    Decision,
    GateState,
    GuardStop,
    RolloutState,
    Signature,
    fold,
)
from tests.conftest import T0
from tests.core.journal import At, at_phase, ready, records, state
from tests.fixtures.journal_v1_all_kinds import LATER
from tests.fixtures.journal_v1_all_kinds import PAYLOADS as GOLDEN_KINDS

ALL_KINDS = GOLDEN_KINDS + LATER

BOB = ev.Actor(user="bob", host="bastion2")
SEC = timedelta(seconds=1)


def test_a_loaded_plan_starts_in_preflight_with_every_check_pending(plan):
    s = state(plan)
    assert s.plan.version == "v0.1.0" and s.status == "preflight" and not s.live
    assert s.checks == {c.id: CheckState() for c in plan.preflight}
    assert all(c.status == "pending" and not c.satisfied for c in s.checks.values())
    assert (s.phase, s.phase_started_at, s.weight, s.pending_shift, s.kill) == (None, None, 0, None, None)
    assert (s.seq, s.last_hash) == (1, f"{1:064x}")


def test_an_empty_journal_is_preflight_without_a_plan():
    s = fold([])
    assert (s.plan, s.status, s.seq, s.last_hash) == (None, "preflight", 0, ev.GENESIS)


@pytest.mark.parametrize(
    "status, waived, satisfied",
    [("pass", "", True), ("fail", "", False), ("error", "", False), ("pending", "", False), ("fail", "accepted", True)],
)
def test_a_check_is_satisfied_when_it_passed_or_was_waived(status, waived, satisfied):
    assert CheckState(status=status, waived=waived).satisfied is satisfied


def test_check_runs_and_waivers(plan):
    s = state(
        plan,
        ev.CheckRan(check="cve_status", status="fail", detail="2 critical"),
        At(ev.CheckRan(check="image_provenance", status="pass", detail="signed"), ts=T0 + 5 * SEC),
        At(ev.CheckWaived(check="cve_status", reason="accepted risk"), actor=BOB),
        ev.CheckRan(check="not_in_plan", status="error", detail="boom"),
    )
    cve, img = s.checks["cve_status"], s.checks["image_provenance"]
    assert (cve.status, cve.detail, cve.at, cve.waived, cve.waived_by) == ("fail", "2 critical", T0 + SEC, "accepted risk", "bob@bastion2")
    assert cve.satisfied
    assert (img.status, img.detail, img.at, img.waived) == ("pass", "signed", T0 + 5 * SEC, "")
    assert s.checks["not_in_plan"].status == "error"  # kept visible, not dropped
    assert s.checks["freeze_window"] == CheckState()


def test_a_later_run_replaces_an_earlier_one(plan):
    s = state(plan, ev.CheckRan(check="cve_status", status="fail", detail="x"), ev.CheckRan(check="cve_status", status="pass", detail="clean"))
    assert (s.checks["cve_status"].status, s.checks["cve_status"].detail) == ("pass", "clean")


def test_a_waiver_of_a_check_the_plan_does_not_name_is_kept_visible(plan):
    s = state(plan, ev.CheckWaived(check="legacy_check", reason="retired"))
    assert (s.checks["legacy_check"].status, s.checks["legacy_check"].waived) == ("pending", "retired")


def test_a_waiver_before_the_check_ran_is_kept(plan):
    s = state(plan, ev.CheckWaived(check="secrets", reason="r"), ev.CheckRan(check="secrets", status="fail", detail="sealed"))
    assert s.checks["secrets"].satisfied and s.checks["secrets"].status == "fail"


def test_sign_offs(plan):
    s = state(plan, ev.SignedOff(role="sre", name="Sam", note="ready"), At(ev.SignedOff(role="po", name="Pat"), actor=BOB))
    assert s.sign_offs == {
        "sre": Signature("Sam", T0 + SEC, "alice@bastion", "ready"),
        "po": Signature("Pat", T0 + 2 * SEC, "bob@bastion2", ""),
    }


def test_start_phase_and_completion(plan):
    s = state(plan, *at_phase(plan, 1))
    n = len(ready(plan))
    assert (s.status, s.started_at, s.live) == ("live", T0 + (n + 1) * SEC, True)
    assert (s.phase, s.phase_started_at, s.weight) == (1, T0 + (n + 2) * SEC, 25)
    done = state(plan, *at_phase(plan, 3), ev.RolloutCompleted())
    assert (done.status, done.completed_at, done.live) == ("completed", T0 + (n + 3) * SEC, False)


def test_traffic_shift_intent_and_verified_result(plan):
    s = state(plan, *at_phase(plan), ev.TrafficShiftRequested(weight=25, phase=1))
    assert s.pending_shift == ev.TrafficShiftRequested(weight=25, phase=1) and s.weight == 5
    s = state(plan, *at_phase(plan), ev.TrafficShiftRequested(weight=25, phase=1), ev.TrafficShiftResult(weight=25, verified=True))
    assert (s.pending_shift, s.weight, s.shift_error) == (None, 25, "")


@pytest.mark.parametrize(
    "result, weight, error",
    [
        (ev.TrafficShiftResult(weight=25, verified=False, error="timeout"), 5, "timeout"),
        (ev.TrafficShiftResult(weight=25, verified=False, observed_weight=10), 10, "gateway reports weight 10, wanted 25"),
        (ev.TrafficShiftResult(weight=25, verified=False, observed_weight=0, error="stuck"), 0, "stuck"),
    ],
)
def test_an_unverified_shift_keeps_what_the_gateway_says(plan, result, weight, error):
    s = state(plan, *at_phase(plan), ev.TrafficShiftRequested(weight=25, phase=1), result)
    assert (s.pending_shift, s.weight, s.shift_error) == (None, weight, error)


def test_a_verified_shift_clears_an_earlier_error(plan):
    s = state(
        plan, *at_phase(plan),
        ev.TrafficShiftResult(weight=25, verified=False, error="timeout"),
        ev.TrafficShiftResult(weight=25, verified=True),
    )
    assert (s.weight, s.shift_error) == (25, "")


def test_gate_decisions_and_criteria(plan):
    n = len(at_phase(plan))
    s = state(
        plan, *at_phase(plan),
        ev.GateDecided(phase=0, role="sre", decision="NO-GO", name="Sam", note="cpu"),
        ev.CriterionEvaluated(phase=0, criterion="api_p95", passed=False, value=351.0, detail="351 ms"),
        ev.GateDecided(phase=0, role="sre", decision="GO", name="Sam"),
    )
    gate = s.gates[0]
    assert gate.decisions == {"sre": Decision("GO", "Sam", T0 + (n + 3) * SEC, "", "alice@bastion")}  # the latest decision stands, with who entered it
    assert gate.criteria == {"api_p95": CriterionState(False, 351.0, "351 ms", T0 + (n + 2) * SEC)}
    no_go = state(plan, *at_phase(plan), ev.GateDecided(phase=0, role="sre", decision="NO-GO", name="Sam", note="cpu"))
    assert no_go.gates[0].decisions["sre"] == Decision("NO-GO", "Sam", T0 + (n + 1) * SEC, "cpu", "alice@bastion")


def test_re_entering_a_phase_needs_a_fresh_gate(plan):
    s = state(
        plan, *at_phase(plan),
        ev.GateDecided(phase=0, role="sre", decision="GO", name="Sam"),
        ev.CriterionEvaluated(phase=0, criterion="api_p95", passed=True),
        ev.PhaseStarted(phase=1, weight=25),
        ev.GateDecided(phase=1, role="po", decision="GO", name="Pat"),
        ev.PhaseStarted(phase=0, weight=5),  # a partial rollback to phase 1
    )
    assert s.gates[0] == GateState() and s.phase == 0 and s.weight == 5
    assert s.gates[1].decisions["po"].decision == "GO"


def test_gate_creates_an_empty_gate_once():
    s = RolloutState()
    g = s.gate(2)
    assert g == GateState() and s.gates == {2: g} and s.gate(2) is g


def test_trigger_breach_fire_and_clear(plan):
    base = at_phase(plan)
    n = len(base)
    breached = ev.TriggerBreached(trigger="error_rate", value=0.021, threshold=0.02, detail="2.1 %")
    again = ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02, detail="3 %")
    s = state(plan, *base, breached, again)
    t = s.triggers["error_rate"]
    assert t.breaching and t.breaching_since == T0 + (n + 1) * SEC  # a breach keeps its start
    assert (t.value, t.threshold, t.detail, t.no_data, t.fired) == (0.03, 0.02, "3 %", False, None)

    fired = ev.TriggerFired(trigger="error_rate", action="rollback", level="L1", value=0.04, threshold=0.02, window_s=300, detail="4 % for 5m")
    s = state(plan, *base, ev.TriggerBreached(trigger="error_rate", value=None, threshold=None, no_data=True), fired)
    t = s.triggers["error_rate"]
    assert t.breaching_since == T0 + (n + 1) * SEC and t.fired == fired and t.fired_at == T0 + (n + 2) * SEC
    assert (t.value, t.threshold, t.detail, t.no_data) == (0.04, 0.02, "4 % for 5m", False)

    s = state(plan, *base, fired)  # for = 0: fired without a breach before it
    t = s.triggers["error_rate"]
    assert t.breaching_since == t.fired_at == T0 + (n + 1) * SEC

    s = state(plan, *base, breached, fired, ev.TriggerCleared(trigger="error_rate", detail="back to 0.4 %"))
    t = s.triggers["error_rate"]
    assert (t.breaching, t.breaching_since, t.fired, t.fired_at, t.detail) == (False, None, None, None, "back to 0.4 %")


def test_a_no_data_hold_is_recorded_as_such(plan):
    s = state(plan, *at_phase(plan), ev.TriggerBreached(trigger="path_p95", value=None, threshold=1200, no_data=True))
    assert s.triggers["path_p95"].no_data and s.triggers["path_p95"].breaching


# --- the kill switch: every transition --------------------------------------------------------

REQ = ev.KillRequested(reason="p95 regression", trigger="api_p95_regression")
OK = ev.KillResult(confirmed=True, attempts=1, observed_weight=0, observed_enabled=False)
NOT_OK = ev.KillResult(confirmed=False, attempts=4, error="connection refused")
VERIFIED = ev.RollbackVerified(ok=True, detail="0/s")


@pytest.mark.parametrize(
    "events, status, live",
    [
        ([], "live", True),
        ([REQ], "killing", True),
        ([REQ, OK], "rolled_back", False),
        ([REQ, NOT_OK], "kill_unconfirmed", True),  # still live: the triggers keep being evaluated
        ([REQ, NOT_OK, REQ], "kill_unconfirmed", True),  # pulled again: NOT CONFIRMED until a result says otherwise
        ([REQ, REQ], "killing", True),  # pulled again before the first result
        ([REQ, NOT_OK, REQ, OK], "rolled_back", False),
        ([REQ, NOT_OK, OK], "rolled_back", False),
        ([REQ, OK, REQ], "rolled_back", False),  # a re-assert after the rollback changes nothing
        ([REQ, OK, REQ, NOT_OK], "rolled_back", False),  # nor does a re-assert the gateway did not answer
        ([REQ, OK, NOT_OK], "rolled_back", False),
        ([REQ, OK, OK], "rolled_back", False),
        ([REQ, OK, VERIFIED], "rolled_back", False),
        ([OK], "rolled_back", False),  # a result with no request recorded
        ([NOT_OK], "kill_unconfirmed", True),
    ],
)
def test_kill_transitions(plan, events, status, live):
    s = state(plan, *at_phase(plan), *events)
    assert (s.status, s.live) == (status, live)
    assert STATUS_WORDS[s.status] == {
        "live": "LIVE", "killing": "KILL SENT", "rolled_back": "ROLLED BACK", "kill_unconfirmed": "KILL NOT CONFIRMED",
    }[status]


@pytest.mark.parametrize(
    "status, live",
    [("preflight", False), ("live", True), ("killing", True), ("kill_unconfirmed", True), ("rolled_back", False), ("completed", False)],
)
def test_live_statuses(status, live):
    assert RolloutState(status=status).live is live


def test_a_kill_records_who_why_and_when(plan):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), ev.TrafficShiftRequested(weight=25, phase=1), At(REQ, actor=BOB))
    k = s.kill
    assert (k.requested_at, k.reason, k.trigger, k.by, k.result, k.result_at, k.verified) == (
        T0 + (n + 2) * SEC, "p95 regression", "api_p95_regression", "bob@bastion2", None, None, None,
    )
    s = state(plan, *at_phase(plan), ev.TrafficShiftRequested(weight=25, phase=1), At(REQ, actor=BOB), OK, VERIFIED)
    k = s.kill
    assert (k.result, k.result_at, k.verified, k.by) == (OK, T0 + (n + 3) * SEC, VERIFIED, "bob@bastion2")
    assert (s.weight, s.pending_shift) == (0, None)  # confirmed: no canary traffic, no shift in flight


def test_an_unconfirmed_kill_keeps_the_weight_the_journal_knew(plan):
    s = state(plan, *at_phase(plan, 1), REQ, NOT_OK)
    assert s.weight == 25 and s.kill.result == NOT_OK


def test_pulling_again_after_the_rollback_keeps_who_pulled_it_and_the_confirmation(plan):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), REQ, OK, At(ev.KillRequested(reason="again"), actor=BOB), NOT_OK)
    k = s.kill
    assert (k.reason, k.by, k.requested_at) == ("p95 regression", "alice@bastion", T0 + (n + 1) * SEC)
    # The rollback was confirmed; a re-assert the gateway did not answer must not read KILL NOT CONFIRMED.
    assert (k.result, k.result_at) == (OK, T0 + (n + 2) * SEC)


def test_a_re_assert_confirmed_again_keeps_when_the_kill_was_first_verified(plan):
    n = len(at_phase(plan))
    again = ev.KillResult(confirmed=True, attempts=2, observed_weight=0, observed_enabled=False)
    s = state(plan, *at_phase(plan), REQ, OK, ev.KillRequested(reason="guard re-asserts the kill"), again)
    assert (s.kill.result, s.kill.result_at, s.kill.reason, s.kill.pulls) == (OK, T0 + (n + 2) * SEC, "p95 regression", 1)


def test_pulling_again_after_an_unconfirmed_kill_is_the_same_kill(plan):
    """Issue 6: a re-pull belongs to the kill it re-pulls: its reason (not nested), who pulled it,
    when, and its last result stay; the pulls are counted and the latest one is dated."""
    n = len(at_phase(plan))
    retry = At(ev.KillRequested(reason="guard re-pulls the unconfirmed kill: p95 regression"), actor=BOB)
    s = state(plan, *at_phase(plan), REQ, NOT_OK, retry)
    k = s.kill
    assert (k.reason, k.trigger, k.by, k.result, k.requested_at) == (
        "p95 regression", "api_p95_regression", "alice@bastion", NOT_OK, T0 + (n + 1) * SEC)
    assert (k.pulls, k.pulled_at, k.failed_at, k.repulling) == (2, T0 + (n + 3) * SEC, T0 + (n + 2) * SEC, True)
    s = state(plan, *at_phase(plan), REQ, NOT_OK, retry, NOT_OK, retry)
    assert (s.kill.pulls, s.kill.failed_at, s.kill.repulling, s.kill.reason) == (3, T0 + (n + 2) * SEC, True, "p95 regression")
    s = state(plan, *at_phase(plan), REQ, NOT_OK, retry, NOT_OK)
    assert (s.kill.repulling, s.kill.failed_at, s.kill.result_at) == (False, T0 + (n + 2) * SEC, T0 + (n + 4) * SEC)
    s = state(plan, *at_phase(plan), REQ, REQ)
    assert (s.kill.pulls, s.kill.repulling, s.kill.failed_at) == (2, False, None)  # no result yet: nothing to re-pull after
    s = state(plan, *at_phase(plan), REQ)
    assert (s.kill.pulls, s.kill.pulled_at, s.kill.repulling) == (1, T0 + (n + 1) * SEC, False)


def test_a_confirmed_result_keeps_when_the_kill_first_failed(plan):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), REQ, NOT_OK, REQ, OK)
    assert (s.status, s.kill.failed_at, s.kill.pulls, s.kill.repulling) == ("rolled_back", T0 + (n + 2) * SEC, 2, False)
    s = state(plan, *at_phase(plan), REQ, OK)
    assert s.kill.failed_at is None


LEAK = ev.RollbackVerified(ok=False, detail="canary request rate still 9.97/s 2m after the kill")


@pytest.mark.parametrize(
    "after, leaking, since",
    [
        ([], False, None),
        ([VERIFIED], False, None),
        ([LEAK], True, 3),
        ([LEAK, LEAK], True, 3),  # the same leak, still: it started at the first verdict
        ([LEAK, OK, LEAK], True, 3),  # a re-assert confirmed again is not traffic falling
        ([LEAK, VERIFIED], False, None),
        ([LEAK, VERIFIED, LEAK], True, 5),  # fell, then rose again: a new leak
    ],
)
def test_canary_traffic_not_falling_after_a_confirmed_kill(plan, after, leaking, since):
    """Issue 4: the leak is dated from its first NOT ~0 verdict, until a verdict says ~0."""
    n = len(at_phase(plan))
    k = state(plan, *at_phase(plan), REQ, OK, *after).kill
    assert k.leaking is leaking
    assert k.unverified_since == (None if since is None else T0 + (n + since) * SEC)


def test_a_result_without_a_request_stays_visible(plan):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), At(NOT_OK, actor=BOB))
    k = s.kill
    assert (k.requested_at, k.reason, k.trigger, k.by, k.result) == (T0 + (n + 1) * SEC, "(no request recorded)", "", "bob@bastion2", NOT_OK)


def test_rollback_verified_without_a_kill_is_ignored(plan):
    s = state(plan, *at_phase(plan), VERIFIED)
    assert s.kill is None and s.status == "live"


# --- escalation, budget, evidence, reconciliation, bookkeeping --------------------------------


def test_escalations_budget_alerts_and_evidence(plan):
    n = len(at_phase(plan))
    esc = ev.Escalated(level="L1", reason="error rate", channel="#sre-oncall")
    b75 = ev.BudgetAlerted(at_pct=75, spent=17250, budget=23000, channel="#finops", action="Warning to #finops")
    b75_again = ev.BudgetAlerted(at_pct=75, spent=17300, budget=23000, channel="#finops", action="Warning to #finops")
    evidence = ev.EvidenceCollected(phase=0, file="k6_performance_results_1.json", sha256="0" * 64)
    s = state(plan, *at_phase(plan), esc, b75, evidence, b75_again)
    assert s.escalations == [(T0 + (n + 1) * SEC, esc)]
    assert s.budget_alerts == {75: b75_again}
    assert s.evidence == [evidence]


@pytest.mark.parametrize(
    "reconciled, weight, pending, error",
    [
        (ev.GatewayReconciled(journal_weight=25, observed_weight=25, observed_enabled=True, agrees=True), 25, None, ""),
        (ev.GatewayReconciled(journal_weight=25, observed_weight=5, observed_enabled=True, agrees=False, detail="gateway at 5 %"), 5, None, "gateway at 5 %"),
        # The flag is off: the canary's share is 0 whatever weight the gateway keeps.
        (ev.GatewayReconciled(journal_weight=25, observed_weight=25, observed_enabled=False, agrees=False, detail="flag off", observed_share=0), 0, None, "flag off"),
        # The gateway did not answer: the pending shift stays pending, the weight stays the journal's.
        (ev.GatewayReconciled(journal_weight=25, observed_weight=None, observed_enabled=None, agrees=False, detail="unreachable"), 5, 25, "unreachable"),
    ],
)
def test_gateway_reconciliation(plan, reconciled, weight, pending, error):
    s = state(plan, *at_phase(plan), ev.TrafficShiftRequested(weight=25, phase=1), reconciled)
    assert (s.weight, s.shift_error) == (weight, error)
    if pending is None:
        assert s.pending_shift is None
    else:
        assert s.pending_shift.weight == pending


def test_an_agreeing_reconciliation_keeps_an_earlier_shift_error(plan):
    s = state(
        plan, *at_phase(plan), ev.TrafficShiftResult(weight=25, verified=False, error="timeout"),
        ev.GatewayReconciled(journal_weight=5, observed_weight=5, observed_enabled=True, agrees=True, detail="ok"),
    )
    assert (s.weight, s.shift_error) == (5, "timeout")


def test_every_record_is_counted_and_kept_in_recent(plan):
    recs = records(plan, *at_phase(plan), ev.Noted(text="hello"), ev.Notified(channel="#x", text="y"))
    s = fold(recs)
    assert (s.seq, s.last_hash) == (len(recs), recs[-1].hash)
    assert list(s.recent) == recs
    assert s.status == "live"  # a note changes nothing else


def test_recent_keeps_the_last_200(plan):
    recs = records(plan, *[ev.Noted(text=str(i)) for i in range(250)])
    s = fold(recs)
    assert len(s.recent) == 200 and list(s.recent) == recs[-200:]


def test_fold_is_apply_in_order(plan):
    recs = records(plan, *at_phase(plan), REQ)
    by_hand = RolloutState()
    for r in recs:
        assert by_hand.apply(r) is by_hand
    assert by_hand == fold(recs)


def test_fold_is_apply_in_order_for_every_kind_and_any_iterable(plan):
    recs = records(plan, *at_phase(plan), *ALL_KINDS)
    assert {r.kind for r in recs} == {p.KIND for p in ev.PAYLOADS}
    by_hand = RolloutState()
    for r in recs:
        by_hand.apply(r)
    assert fold(iter(recs)) == by_hand == fold(recs)
    assert fold([]) == fold(iter(())) == RolloutState()


# --- the guard: who evaluates ------------------------------------------------------------------

GUARD_A = ev.GuardStarted(pid=4242, host="bastion", reason="run")
GUARD_B = ev.GuardStarted(pid=5151, host="bastion2", reason="standby", took_over="4242@bastion")


def test_a_guard_that_started_is_the_guard_since_its_record(plan):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), GUARD_A)
    assert (s.guard, s.guard_since) == (GUARD_A, T0 + (n + 1) * SEC)


def test_a_standby_taking_over_replaces_the_guard(plan):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), GUARD_A, GUARD_B)
    assert (s.guard, s.guard_since) == (GUARD_B, T0 + (n + 2) * SEC)


def test_the_guard_that_stopped_leaves_nobody_guarding(plan):
    n = len(at_phase(plan))
    stop = ev.GuardStopped(pid=4242, host="bastion", reason="rollout over")
    s = state(plan, *at_phase(plan), GUARD_A, stop)
    assert (s.guard, s.guard_since) == (None, None)
    assert s.guard_stop == GuardStop(GUARD_A, stop, T0 + (n + 2) * SEC)  # "guard 4242@bastion stopped at ..."


def test_a_guard_that_starts_again_is_not_the_stopped_one(plan):
    s = state(plan, *at_phase(plan), GUARD_A, ev.GuardStopped(pid=4242, host="bastion", reason="over"), GUARD_B)
    assert (s.guard, s.guard_stop) == (GUARD_B, None)
    assert state(plan, *at_phase(plan), GUARD_A).guard_stop is None


@pytest.mark.parametrize(
    "stopped",
    [
        ev.GuardStopped(pid=4242, host="bastion", reason="the old guard, after the takeover"),
        ev.GuardStopped(pid=5151, host="bastion", reason="same pid on another host"),
        ev.GuardStopped(pid=1, host="bastion2", reason="another pid on the same host"),
    ],
)
def test_a_stop_from_another_guard_leaves_the_current_one_in_place(plan, stopped):
    n = len(at_phase(plan))
    s = state(plan, *at_phase(plan), GUARD_A, GUARD_B, stopped)
    assert (s.guard, s.guard_since, s.guard_stop) == (GUARD_B, T0 + (n + 2) * SEC, None)


def test_a_stop_without_a_guard_changes_nothing(plan):
    s = state(plan, *at_phase(plan), ev.GuardStopped(pid=4242, host="bastion", reason="late"))
    assert (s.guard, s.guard_since, s.guard_stop, s.status) == (None, None, None, "live")


# --- the guard's late rounds -------------------------------------------------------------------

LATE = ev.RoundLate(late_s=47.0, wall_late_s=47.2, poll_s=15.0, judged_since=T0)
LATER_STILL = ev.RoundLate(late_s=95.0, wall_late_s=95.1, poll_s=15.0, judged_since=T0 + 60 * SEC, late_rounds=4)
CAUGHT_UP = ev.RoundLate(late_s=95.0, wall_late_s=95.1, poll_s=15.0, judged_since=T0 + 60 * SEC, late_rounds=6,
                         caught_up=True)


@pytest.mark.parametrize(
    "events, behind",
    [
        ([], None),
        ([GUARD_A, LATE], LATE),
        ([GUARD_A, LATE, LATER_STILL], LATER_STILL),
        ([GUARD_A, LATE, LATER_STILL, CAUGHT_UP], None),
        ([GUARD_A, LATE, CAUGHT_UP, LATE], LATE),
        ([GUARD_A, LATE, GUARD_B], None),  # a new guard: its own rounds
        ([GUARD_A, LATE, ev.GuardStopped(pid=4242, host="bastion", reason="done")], None),
        ([GUARD_A, LATE, ev.GuardStopped(pid=1, host="bastion", reason="another guard's")], LATE),
    ],
    ids=["none", "fell behind", "further behind", "caught up", "behind again", "another guard",
         "its guard stopped", "another guard stopped"],
)
def test_the_guard_is_behind_until_it_caught_up_or_another_guard_started(plan, events, behind):
    assert state(plan, *at_phase(plan), *events).behind == behind


def test_a_phase_started_after_a_start_line_that_did_not_read_is_a_live_rollout(plan):
    """Issue 20: a bad byte in the `rollout_started` line of a journal read tolerantly (the kill path,
    the guard) must not make a soaking rollout read PREFLIGHT: the guard would judge no trigger and stop."""
    at = T0 + 60 * SEC
    s = state(plan, *ready(plan), At(ev.PhaseStarted(phase=0, weight=5), ts=at))
    assert (s.status, s.started_at, s.phase, s.weight) == ("live", at, 0, 5)
    started = state(plan, *at_phase(plan), At(ev.PhaseStarted(phase=1, weight=25), ts=at + 60 * SEC))
    assert (started.status, started.started_at) == ("live", T0 + (len(ready(plan)) + 1) * SEC)  # a real start stays
