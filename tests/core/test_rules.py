"""Every rule and every refusal reason, table-driven over folded events (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from cockpit.core import events as ev
from cockpit.core import rules
from cockpit.core.state import STATUS_WORDS, RolloutState, fold
from cockpit.engine import plan_snapshot
from tests.conftest import T0
from tests.core.journal import At, at_phase, gate_met, ready, records

LATER = T0 + timedelta(hours=1)
CHECKS = ["freeze_window", "image_provenance", "cve_status", "data_plane", "secrets", "staging_success"]


@pytest.mark.parametrize(
    "build, now, expected",
    [
        (
            lambda p: [],
            T0,
            [f"preflight check {c} has not passed (pending)" for c in CHECKS]
            + [f"sign-off missing: {t}" for t in ("Product Owner", "Tech Lead", "Security Lead", "SRE", "FinOps")],
        ),
        (lambda p: ready(p), LATER, []),
        (lambda p: ready(p)[1:], LATER, ["preflight check freeze_window has not passed (pending)"]),
        (
            lambda p: ready(p)[:1] + [ev.CheckRan(check="image_provenance", status="fail", detail="no signature")] + ready(p)[2:],
            LATER,
            ["preflight check image_provenance has not passed (fail: no signature)"],
        ),
        (
            lambda p: [ev.CheckRan(check="image_provenance", status="fail", detail="x"), ev.CheckWaived(check="image_provenance", reason="r")] + ready(p)[:1] + ready(p)[2:],
            LATER,
            [],
        ),
        (lambda p: ready(p)[:-1], LATER, ["sign-off missing: FinOps"]),
        (lambda p: ready(p), T0.replace(day=24, hour=21), ["inside the freeze window Tuesday 20:00-23:00Z"]),
        (lambda p: at_phase(p), LATER, ["the rollout already started (LIVE)"]),
    ],
)
def test_start(plan, build, now, expected):
    assert rules.start_refusals(fold(records(plan, *build(plan))), now) == expected


SOAKED = T0 + timedelta(minutes=30)


@pytest.mark.parametrize(
    "build, now, expected",
    [
        (lambda p: ready(p), SOAKED, ["the rollout has not started"]),
        (lambda p: at_phase(p) + gate_met(p), SOAKED, []),
        (lambda p: at_phase(p) + gate_met(p), T0 + timedelta(minutes=10), ["Phase 1 soak has 10m13s left"]),
        (lambda p: at_phase(p) + gate_met(p)[:-1], SOAKED, ["waiting for GO from: SRE"]),
        (
            lambda p: at_phase(p) + gate_met(p) + [ev.GateDecided(phase=0, role="sre", decision="NO-GO", name="bob", note="cpu")],
            SOAKED,
            ["NO-GO by SRE (bob): cpu"],
        ),
        (
            lambda p: at_phase(p) + gate_met(p) + [ev.CriterionEvaluated(phase=0, criterion="error_rate", passed=False, detail="1.3 % ≥ 1 %")],
            SOAKED,
            ["criterion error_rate not met: 1.3 % ≥ 1 %"],
        ),
        (
            lambda p: at_phase(p) + gate_met(p) + [ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02, detail="3 %")],
            SOAKED,
            ["trigger error_rate is breaching (for 29m41s): 3 %"],
        ),
        (
            lambda p: at_phase(p) + gate_met(p) + [ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02), ev.TriggerCleared(trigger="error_rate")],
            SOAKED,
            [],
        ),
        (lambda p: at_phase(p) + gate_met(p) + [ev.TrafficShiftRequested(weight=25, phase=1)], SOAKED, ["a traffic shift to 25 % is not confirmed yet"]),
        (lambda p: at_phase(p) + gate_met(p) + [_drift(0)], SOAKED,
         ["GATEWAY DRIFT: drift; re-assert the phase's weight (cockpit shift --weight N) or roll back"]),
        (lambda p: at_phase(p) + gate_met(p) + [_drift(0), _drift(5, agrees=True)], SOAKED, []),  # its detail says so, and ends it
        (lambda p: at_phase(p) + gate_met(p) + [_drift(0), ev.TrafficShiftResult(weight=5, verified=True, observed_weight=5)], SOAKED, []),
        (lambda p: at_phase(p) + gate_met(p), (SOAKED + timedelta(days=5)).replace(hour=21), ["inside the freeze window Tuesday 20:00-23:00Z"]),
        (lambda p: at_phase(p) + [ev.KillRequested(reason="x")], SOAKED, ["the rollout is KILL SENT"]),
        (lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=True)], SOAKED, ["the rollout is ROLLED BACK"]),
        (lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=False, error="e")], SOAKED, ["the rollout is KILL NOT CONFIRMED"]),
        (lambda p: at_phase(p, 3) + gate_met(p, 3), (SOAKED + timedelta(days=5)).replace(hour=21), []),  # completing is not a traffic change
    ],
)
def test_advance(plan, build, now, expected):
    assert rules.advance_refusals(fold(records(plan, *build(plan))), now) == expected


def test_next_phase_and_completion(plan):
    assert rules.next_phase(fold(records(plan, *ready(plan), ev.RolloutStarted()))) == 0
    assert rules.next_phase(fold(records(plan, *at_phase(plan, 2)))) == 3
    assert rules.next_phase(fold(records(plan, *at_phase(plan, 3)))) is None


@pytest.mark.parametrize(
    "build, phase, role, expected",
    [
        (lambda p: ready(p), 0, "sre", ["the rollout has not started"]),
        (lambda p: at_phase(p), 0, "sre", []),
        (lambda p: at_phase(p), 1, "po", ["only the current phase's gate can be decided (Phase 1)"]),
        (lambda p: at_phase(p), 0, "po", ["Product Owner does not own the Phase 1 gate (owners: SRE)"]),
        (lambda p: ready(p) + [ev.RolloutStarted()], 0, "sre", ["no phase is soaking yet"]),
    ],
)
def test_decide(plan, build, phase, role, expected):
    assert rules.decide_refusals(fold(records(plan, *build(plan))), phase, role) == expected


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda p: ready(p), ["the rollout has not started: the canary has no traffic to take away"]),
        (lambda p: at_phase(p), []),
        (lambda p: at_phase(p, 2), []),
        (lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=False)], []),
        (lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=True)], []),
        (lambda p: at_phase(p, 3) + [ev.RolloutCompleted()], ["the rollout is COMPLETED: the canary is the release now; roll back by redeploying the previous green"]),
    ],
)
def test_kill(plan, build, expected):
    assert rules.kill_refusals(fold(records(plan, *build(plan)))) == expected


def test_sign_off_and_waive(plan):
    pre = fold(records(plan))
    assert rules.sign_off_refusals(pre, "sre") == []
    assert rules.sign_off_refusals(pre, "qa") == ["qa is not a required sign-off (required: po, tech_lead, security, sre, finops)"]
    started = fold(records(plan, *at_phase(plan)))
    assert rules.sign_off_refusals(started, "sre") == ["sign-offs are recorded before the rollout starts"]
    assert rules.waive_refusals(pre, "nope", "r") == ["no preflight check named nope"]
    assert rules.waive_refusals(pre, "cve_status", " ") == ["a waiver needs a reason"]
    assert rules.waive_refusals(started, "cve_status", "r") == ["checks are waived before the rollout starts"]
    assert rules.waive_refusals(pre, "image_provenance", "r") == [
        "image_provenance cannot be waived: trigger supply_chain re-runs it during the rollout and rolls back when it "
        "fails (a waiver would only move the failure to the start)"]


@pytest.mark.parametrize("action, refused", [("rollback", True), ("hold", False), ("page", False)])
def test_a_check_a_trigger_enforces_by_rolling_back_cannot_be_waived(plan, action, refused):
    snapshot = plan_snapshot(plan)
    triggers = [{**t, "action": action} if t.get("check") else t for t in snapshot.document["triggers"]]
    edited = msgspec.structs.replace(snapshot, document={**snapshot.document, "triggers": triggers})
    pre = fold(records(plan))
    pre.plan = edited
    assert bool(rules.waive_refusals(pre, "image_provenance", "r")) is refused
    assert rules.waive_refusals(pre, "cve_status", "r") == []


def test_every_trigger_that_enforces_a_check_is_named_and_a_plan_without_its_document_waives(plan):
    snapshot = plan_snapshot(plan)
    twin = {"id": "provenance_again", "check": "image_provenance", "action": "rollback"}
    pre = fold(records(plan))
    pre.plan = msgspec.structs.replace(snapshot, document={**snapshot.document, "triggers": [*snapshot.document["triggers"], twin]})
    assert rules.waive_refusals(pre, "image_provenance", "r")[0].startswith(
        "image_provenance cannot be waived: trigger supply_chain, provenance_again re-runs it")
    pre.plan = msgspec.structs.replace(snapshot, document={})  # a journal from before plans carried their document
    assert rules.waive_refusals(pre, "image_provenance", "r") == []


# --- edges, from the rule's meaning -----------------------------------------------------------

TUESDAY_20 = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # the first minute of the seed's freeze
NONE = RolloutState()  # a journal without a plan


def started_at(plan, phase=0):
    """The time `at_phase(plan, phase)` started its phase (records are one second apart)."""
    return T0 + len(at_phase(plan, phase)) * timedelta(seconds=1)


def test_nothing_is_allowed_without_a_plan():
    no_plan = ["no plan loaded in this journal"]
    assert rules.start_refusals(NONE, T0) == no_plan
    assert rules.advance_refusals(NONE, T0) == no_plan
    assert rules.decide_refusals(NONE, 0, "sre") == no_plan
    assert rules.kill_refusals(NONE) == no_plan
    assert rules.sign_off_refusals(NONE, "sre") == no_plan
    assert rules.waive_refusals(NONE, "cve_status", "r") == no_plan
    assert rules.shift_refusals(NONE, 5, T0) == no_plan
    assert rules.next_phase(NONE) is None
    assert rules.phase_of_weight(NONE, 5) is None
    assert rules.soak_remaining(NONE, T0) is None


@pytest.mark.parametrize(
    "now, frozen",
    [
        (TUESDAY_20 - timedelta(minutes=1), False),
        (TUESDAY_20, True),  # the first minute of "Tuesday 20:00-23:00Z" is frozen
        (TUESDAY_20 + timedelta(hours=3) - timedelta(seconds=1), True),
        (TUESDAY_20 + timedelta(hours=3), False),
    ],
)
def test_freeze_edges_for_start_and_advance(plan, now, frozen):
    freeze = ["inside the freeze window Tuesday 20:00-23:00Z"] if frozen else []
    assert rules.start_refusals(fold(records(plan, *ready(plan))), now) == freeze
    # The freeze holds traffic changes; the gate must be met so that the freeze is the only reason.
    live = fold(records(plan, *at_phase(plan), *gate_met(plan), start=TUESDAY_20 - timedelta(days=1)))
    assert rules.advance_refusals(live, now) == freeze


def test_a_started_rollout_names_its_status_to_start(plan):
    killed = fold(records(plan, *at_phase(plan), ev.KillRequested(reason="x")))
    assert rules.start_refusals(killed, LATER) == ["the rollout already started (KILL SENT)"]


def test_a_check_that_failed_without_detail_and_a_check_that_errored(plan):
    build = [ev.CheckRan(check=c.id, status="pass", detail="ok") for c in plan.preflight[2:]] + [
        ev.CheckRan(check="freeze_window", status="fail", detail=""),
        ev.CheckRan(check="image_provenance", status="error", detail="cosign: not found"),
    ] + [ev.SignedOff(role=r, name=r) for r in plan.sign_offs]
    assert rules.start_refusals(fold(records(plan, *build)), LATER) == [
        "preflight check freeze_window has not passed (fail)",
        "preflight check image_provenance has not passed (error: cosign: not found)",
    ]


def test_a_role_without_a_title_is_named_by_its_id(plan):
    s = fold(records(plan, *at_phase(plan)))
    s.plan = msgspec.structs.replace(s.plan, roles={})
    assert rules.decide_refusals(s, 0, "po") == ["po does not own the Phase 1 gate (owners: sre)"]
    assert rules.gate_refusals(s, 0, s.phase_started_at + timedelta(hours=1))[-1] == "waiting for GO from: sre"
    pre = fold(records(plan))
    pre.plan = msgspec.structs.replace(pre.plan, roles={})
    assert rules.start_refusals(pre, LATER)[-5:] == [f"sign-off missing: {r}" for r in plan.sign_offs]


@pytest.mark.parametrize(
    "after, left",
    [
        (timedelta(0), "20m00s"),
        (timedelta(minutes=19, seconds=59), "1s"),
        (timedelta(minutes=19, seconds=59, milliseconds=500), "500ms"),  # half a second left is not 0s
        (timedelta(minutes=18, seconds=59), "1m01s"),
        (timedelta(minutes=20), None),  # the soak is over at exactly 20 minutes
        (timedelta(minutes=25), None),
    ],
)
def test_soak_edges(plan, after, left):
    s = fold(records(plan, *at_phase(plan), *gate_met(plan)))
    now = started_at(plan) + after
    remaining = rules.soak_remaining(s, now)
    assert remaining == max(timedelta(0), timedelta(minutes=20) - after)
    assert rules.advance_refusals(s, now) == ([f"Phase 1 soak has {left} left"] if left else [])


def test_no_soak_without_a_phase(plan):
    assert rules.soak_remaining(fold(records(plan, *ready(plan), ev.RolloutStarted())), LATER) is None


def test_every_gate_reason_at_once_in_order(plan):
    s = fold(records(plan, *at_phase(plan, 1), ev.CriterionEvaluated(phase=1, criterion="cost_delta", passed=False, detail="12 % ≥ 10 %"),
                     ev.GateDecided(phase=1, role="tech_lead", decision="NO-GO", name="Tia")))
    assert rules.gate_refusals(s, 1, started_at(plan, 1) + timedelta(minutes=5)) == [
        "Phase 2 soak has 15m00s left",
        "criterion cost_delta not met: 12 % ≥ 10 %",
        "criterion api_p95 not evaluated yet",
        "NO-GO by Tech Lead (Tia)",  # no note, no colon
        "waiting for GO from: Product Owner",
    ]


def test_a_gate_with_no_record_yet(plan):
    s = fold(records(plan, *at_phase(plan, 2)))
    del s.gates[2]
    assert rules.gate_refusals(s, 2, LATER) == [
        "criterion api_p95 not evaluated yet",
        "criterion alerts_quiet not evaluated yet",
        "criterion policy_violations not evaluated yet",
        "waiting for GO from: SRE, Security Lead",
    ]


@pytest.mark.parametrize(
    "trigger, expected",
    [
        (ev.TriggerBreached(trigger="path_p95", value=None, threshold=1200, no_data=True, detail="no data in the last 10m00s"),
         "trigger path_p95 is holding for want of data (for 2m00s): no data in the last 10m00s"),
        (ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02), "trigger error_rate is breaching (for 2m00s)"),
    ],
)
def test_trigger_reasons(plan, trigger, expected):
    s = fold(records(plan, *at_phase(plan), *gate_met(plan), At(trigger, ts=SOAKED)))
    assert rules.advance_refusals(s, SOAKED + timedelta(minutes=2)) == [expected]


@pytest.mark.parametrize(
    "breached, said",
    [
        (None, "for 2m00s"),  # no gauge: since the journal's trigger_breached
        ({}, "for 2m00s"),
        ({"path_p95": 400.0}, "for 2m00s"),  # another trigger's gauge
        ({"error_rate": 360.0}, "for 6m00s"),  # the gauge's figure, as the headline and the gauge say it
        ({"error_rate": 0.0}, "for 0s"),  # a gauge of 0 is a figure, not a missing one
    ],
)
def test_a_refused_advance_says_the_breach_age_the_gauge_says(plan, breached, said):
    breach = ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02)
    s = fold(records(plan, *at_phase(plan), *gate_met(plan), At(breach, ts=SOAKED)))
    assert rules.advance_refusals(s, SOAKED + timedelta(minutes=2), breached) == [f"trigger error_rate is breaching ({said})"]


def test_triggers_are_listed_by_id(plan):
    s = fold(records(plan, *at_phase(plan), *gate_met(plan), ev.TriggerBreached(trigger="path_p95", value=1300, threshold=1200),
                     ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02)))
    reasons = rules.advance_refusals(s, SOAKED)
    assert [r.split()[1] for r in reasons] == ["error_rate", "path_p95"]


def test_advance_before_the_first_phase_is_frozen_but_has_no_gate(plan):
    s = fold(records(plan, *ready(plan), ev.RolloutStarted(), start=TUESDAY_20 - timedelta(hours=1)))
    assert rules.advance_refusals(s, TUESDAY_20 - timedelta(minutes=1)) == []
    assert rules.advance_refusals(s, TUESDAY_20) == ["inside the freeze window Tuesday 20:00-23:00Z"]


@pytest.mark.parametrize(
    "build",
    [
        lambda p: at_phase(p) + [ev.KillRequested(reason="x")],
        lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=False)],
        lambda p: at_phase(p, 3) + [ev.RolloutCompleted()],
    ],
)
def test_decide_needs_a_live_rollout(plan, build):
    s = fold(records(plan, *build(plan)))
    assert rules.decide_refusals(s, s.phase, "sre") == [f"the rollout is {STATUS_WORDS[s.status]}"]


def test_decide_names_every_owner(plan):
    s = fold(records(plan, *at_phase(plan, 2)))
    assert rules.decide_refusals(s, 2, "finops") == ["FinOps does not own the Phase 3 gate (owners: SRE, Security Lead)"]
    assert rules.decide_refusals(s, 2, "security") == []


@pytest.mark.parametrize(
    "build",
    [lambda p: at_phase(p) + [ev.KillRequested(reason="x")], lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=False)]],
)
def test_the_kill_can_be_pulled_again_while_not_confirmed(plan, build):
    assert rules.kill_refusals(fold(records(plan, *build(plan)))) == []


def test_sign_off_refusal_order(plan):
    started = fold(records(plan, *at_phase(plan)))
    assert rules.sign_off_refusals(started, "qa") == ["qa is not a required sign-off (required: po, tech_lead, security, sre, finops)"]
    assert rules.waive_refusals(started, "nope", " ") == ["no preflight check named nope"]
    assert rules.waive_refusals(started, "cve_status", "") == ["a waiver needs a reason"]
    assert rules.waive_refusals(fold(records(plan)), "cve_status", "accepted risk") == []


@pytest.mark.parametrize("weight, phase", [(5, 0), (25, 1), (50, 2), (100, 3), (0, None), (10, None), (101, None)])
def test_phase_of_weight(plan, weight, phase):
    assert rules.phase_of_weight(fold(records(plan)), weight) == phase


def shift(plan, build, weight, now=SOAKED):
    return rules.shift_refusals(fold(records(plan, *build)), weight, now)


def test_shift_needs_a_live_rollout_and_no_shift_in_flight(plan):
    assert shift(plan, ready(plan), 5) == ["the rollout has not started"]
    assert shift(plan, at_phase(plan) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=True)], 5) == ["the rollout is ROLLED BACK"]
    assert shift(plan, at_phase(plan) + [ev.TrafficShiftRequested(weight=25, phase=1)], 5) == ["a traffic shift to 25 % is not confirmed yet"]


@pytest.mark.parametrize(
    "phase, weight, gate, expected",
    [
        (1, 10, True, ["10 % is not a phase weight (5/25/50/100 %)"]),
        (1, 100, True, ["100 % would skip Phase 3 (50 %) and its gate: shift one phase at a time"]),
        (0, 50, True, ["50 % would skip Phase 2 (25 %) and its gate: shift one phase at a time"]),
        (1, 50, True, []),  # up to the next phase: an advance, under the gate's rules
        (1, 50, False, ["criterion cost_delta not evaluated yet", "criterion api_p95 not evaluated yet", "waiting for GO from: Product Owner, Tech Lead"]),
        (1, 25, False, []),  # re-asserting the current weight
        (1, 5, False, []),  # down to an earlier phase: a partial rollback
        (3, 100, False, []),
        (3, 5, False, []),
    ],
)
def test_shift(plan, phase, weight, gate, expected):
    build = at_phase(plan, phase) + (gate_met(plan, phase) if gate else [])
    assert shift(plan, build, weight, now=started_at(plan, phase) + timedelta(minutes=30)) == expected


def test_shift_before_the_first_phase(plan):
    build = ready(plan) + [ev.RolloutStarted()]
    assert shift(plan, build, 5) == []  # phase 1 is the next phase, and it has no gate before it
    assert shift(plan, build, 25) == ["25 % would skip Phase 1 (5 %) and its gate: shift one phase at a time"]


def test_a_breach_that_began_this_instant_reads_zero_seconds(plan):
    s = fold(records(plan, *at_phase(plan), *gate_met(plan), At(ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02), ts=SOAKED)))
    assert rules.advance_refusals(s, SOAKED) == ["trigger error_rate is breaching (for 0s)"]


def test_no_soak_in_a_journal_that_lost_its_plan(plan):
    s = fold(records(plan, *at_phase(plan))[1:])  # the plan record is missing
    assert s.plan is None and s.phase == 0
    assert rules.soak_remaining(s, LATER) is None


def test_a_state_that_never_heard_of_a_check_says_it_is_pending(plan):
    """The rules take any RolloutState, not only a folded one: a check with no record is pending."""
    s = RolloutState(plan=plan_snapshot(plan))
    assert rules.start_refusals(s, LATER)[:2] == [
        "preflight check freeze_window has not passed (pending)",
        "preflight check image_provenance has not passed (pending)",
    ]


def test_no_soak_without_a_phase_even_with_a_start_time(plan):
    s = RolloutState(plan=plan_snapshot(plan), status="live", phase=None, phase_started_at=T0)
    assert rules.soak_remaining(s, LATER) is None


def _drift(share: int, agrees: bool = False) -> ev.GatewayReconciled:
    return ev.GatewayReconciled(journal_weight=5, observed_weight=share, observed_enabled=True, agrees=agrees,
                                detail="the gateway reads canary 5 % again" if agrees else "drift", observed_share=share)


@pytest.mark.parametrize("build, expected", [
    (lambda p: ready(p), None),  # preflight: nothing is expected of the gateway
    (lambda p: ready(p) + [ev.RolloutStarted()], None),  # live, no phase yet
    (lambda p: at_phase(p), 5),
    (lambda p: at_phase(p, 2), 50),
    (lambda p: at_phase(p) + [ev.TrafficShiftRequested(weight=25, phase=1)], None),  # in flight
    (lambda p: at_phase(p) + [_drift(0)], 5),  # the phase's weight, not the drifted one
    (lambda p: at_phase(p) + [ev.KillRequested(reason="x"), ev.KillResult(confirmed=True)], None),
    (lambda p: at_phase(p, 3) + [ev.RolloutCompleted()], None),
])
def test_expected_share(plan, build, expected):
    assert rules.expected_share(fold(records(plan, *build(plan)))) == expected


def test_gateway_drift_words(plan):
    st = fold(records(plan, *at_phase(plan, 1)))
    assert rules.gateway_drift(st, 25) == "" and rules.gateway_drift(st, None) == ""
    assert rules.gateway_drift(st, 0) == "the gateway reads canary 0 %, but Phase 2 soaks at 25 % by the journal: changed outside the cockpit?"
    assert rules.gateway_drift(fold(records(plan, *ready(plan))), 0) == ""


def test_the_advance_action_is_refused_with_the_gauges_breach_age(plan):
    from cockpit.core.nextstep import refusals

    breach = ev.TriggerBreached(trigger="error_rate", value=0.03, threshold=0.02)
    s = fold(records(plan, *at_phase(plan), *gate_met(plan), At(breach, ts=SOAKED)))
    now = SOAKED + timedelta(minutes=2)
    assert refusals(s, now, breached={"error_rate": 360.0})["advance"] == ("trigger error_rate is breaching (for 6m00s)",)
    assert refusals(s, now)["advance"] == ("trigger error_rate is breaching (for 2m00s)",)
