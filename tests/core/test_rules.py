"""Every rule and every refusal reason, table-driven over folded events (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core import rules
from cockpit.core.state import fold
from tests.conftest import T0
from tests.core.journal import at_phase, gate_met, ready, records

LATER = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    "build, now, expected",
    [
        (lambda p: [], T0, ["preflight check freeze_window has not passed (pending)"]),
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
    reasons = rules.start_refusals(fold(records(plan, *build(plan))), now)
    if expected and expected[0].startswith("preflight check freeze_window") and len(expected) == 1 and not build(plan):
        assert reasons[0] == expected[0] and "sign-off missing: Product Owner" in reasons
    else:
        assert reasons == expected


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
