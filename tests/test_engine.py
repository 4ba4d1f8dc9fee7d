"""The engine headless: commands refused with the core's reasons, side effects journaled around."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from cockpit import guard_work
from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.engine import READ_ONLY, Engine, EngineError
from cockpit.store.journal import Journal
from tests.support import MemoryGateway, passing_runner


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def gateway():
    return MemoryGateway()


@pytest.fixture
def engine(plan, state_dir, clock, actor, gateway):
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=gateway, check_runner=passing_runner())
    e.ensure_plan()
    return e


def ready(engine):
    """Preflight passed and every sign-off recorded."""
    assert run(engine.run_preflight()).ok
    for role in engine.plan.sign_offs:
        assert engine.sign_off(role, f"{role}-person").ok


def live(engine, clock):
    ready(engine)
    out = run(engine.start())
    assert out.ok, out.reasons
    return out


def pass_gate(engine, clock, phase_names=None):
    clock.advance(timedelta(minutes=20))
    spec = engine.plan.phases[engine.state.phase]
    for c in spec.gate.auto:
        engine.observe_criterion(c.id, True, 0.1, f"{c.name}: ok")
    for role in spec.gate.owners:
        assert engine.decide(role, "GO", f"{role}-person").ok


def kinds(records):
    return [r.kind for r in records]


def test_start_is_refused_until_preflight_and_sign_offs(engine):
    out = run(engine.start())
    assert not out.ok
    assert "preflight check freeze_window has not passed (pending)" in out.reasons
    assert "sign-off missing: FinOps" in out.reasons
    assert run(engine.run_preflight()).ok
    out = run(engine.start())
    assert [r for r in out.reasons if r.startswith("preflight")] == []
    assert len(out.reasons) == 5


def test_a_failed_check_blocks_until_waived_with_a_reason(plan, state_dir, clock, actor, gateway):
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=gateway, check_runner=passing_runner({"cve_status"}))
    e.ensure_plan()
    ready(e)
    out = run(e.start())
    assert out.reasons == ["preflight check cve_status has not passed (fail: cve_status failed on purpose)"]
    assert e.waive("cve_status", "  ").reasons == ["a waiver needs a reason"]
    assert e.waive("cve_status", "scanner false positive, CVE-2026-1 not reachable (sec ticket 42)").ok
    assert run(e.start()).ok


def test_start_shifts_traffic_with_intent_and_verified_result(engine, clock, gateway):
    out = live(engine, clock)
    assert kinds(out.records) == ["rollout_started", "traffic_shift_requested", "traffic_shift_result", "phase_started"]
    assert gateway.weight == 5 and engine.state.weight == 5 and engine.state.phase == 0


def test_advance_refusals_name_every_missing_piece(engine, clock):
    live(engine, clock)
    clock.advance(timedelta(minutes=7, seconds=30))
    out = run(engine.advance())
    assert out.reasons == [
        "Phase 1 soak has 12m30s left",
        "criterion api_p95 not evaluated yet",
        "criterion path_p95 not evaluated yet",
        "criterion error_rate not evaluated yet",
        "criterion policy_violations not evaluated yet",
        "waiting for GO from: SRE",
    ]


def test_no_go_holds_the_phase_until_the_owner_says_go(engine, clock):
    live(engine, clock)
    pass_gate(engine, clock)
    assert engine.decide("sre", "NO-GO", "bob", "CPU looks high").ok
    assert run(engine.advance()).reasons == ["NO-GO by SRE (bob): CPU looks high"]
    assert engine.decide("sre", "GO", "bob").ok
    out = run(engine.advance())
    assert out.ok and engine.state.phase == 1 and engine.state.weight == 25


def test_only_owners_decide_and_only_for_the_current_gate(engine, clock):
    live(engine, clock)
    assert engine.decide("finops", "GO", "fin").reasons == ["FinOps does not own the Phase 1 gate (owners: SRE)"]
    assert engine.decide("sre", "MAYBE", "x").reasons == ["a decision is GO or NO-GO, not 'MAYBE'"]


def test_a_failing_criterion_and_a_breaching_trigger_block_advance(engine, clock):
    live(engine, clock)
    pass_gate(engine, clock)
    engine.observe_criterion("error_rate", False, 0.013, "error rate 1.3 % ≥ 1 %")
    engine._append(ev.TriggerBreached(trigger="path_p95", value=1.4, threshold=1.2, detail="3-hop p95 1.4 s > 1.2 s"))
    clock.advance(timedelta(seconds=90))
    assert run(engine.advance()).reasons == [
        "criterion error_rate not met: error rate 1.3 % ≥ 1 %",
        "trigger path_p95 is breaching (for 1m30s): 3-hop p95 1.4 s > 1.2 s",
    ]


def test_criteria_are_journaled_on_transitions_only(engine, clock):
    live(engine, clock)
    first = engine.observe_criterion("api_p95", True, 0.2, "ok")
    assert first is not None
    assert engine.observe_criterion("api_p95", True, 0.21, "ok") is None
    assert engine.observe_criterion("api_p95", False, 0.4, "bad") is not None


def test_full_rollout_completes_after_the_final_validation(engine, clock):
    live(engine, clock)
    for _ in range(4):
        pass_gate(engine, clock)
        out = run(engine.advance())
        assert out.ok, out.reasons
    assert engine.state.status == "completed" and engine.state.weight == 100
    assert run(engine.advance()).reasons == ["the rollout is COMPLETED"]


def test_kill_is_verified_idempotent_and_notifies(engine, clock, gateway):
    live(engine, clock)
    out = run(engine.kill("p95 regression seen on dashboards"))
    assert out.ok
    assert kinds(out.records) == ["kill_requested", "kill_result"]  # the kill waits on no webhook
    assert engine.state.status == "rolled_back" and gateway.enabled is False and gateway.weight == 0
    queued = [r.payload for r in guard_work.paging_round(engine) if r.kind == "notification_queued" and r.payload.purpose == "rollback"]
    assert [q.channel for q in queued] == ["#error-budget"]  # the guard delivers it
    again = run(engine.kill("pulled twice"))
    assert again.ok and engine.state.status == "rolled_back"


def test_kill_not_confirmed_retries_and_escalates_to_emergency(engine, clock, gateway):
    live(engine, clock)
    gateway.down = True
    out = run(engine.kill("error spike"))
    assert not out.ok and out.reasons[0].startswith("KILL NOT CONFIRMED")
    result = next(r.payload for r in out.records if r.kind == "kill_result")
    assert result.confirmed is False and result.attempts == engine.plan.kill_switch.retries + 1
    assert engine.state.status == "kill_unconfirmed"
    esc = next(r.payload for r in out.records if r.kind == "escalated")
    assert esc.level == "Emergency"
    gateway.down = False
    assert run(engine.kill("retry")).ok and engine.state.status == "rolled_back"


def test_a_gateway_that_ignores_the_kill_is_not_confirmed(engine, clock, gateway):
    live(engine, clock)
    gateway.stuck = True
    out = run(engine.kill("x"))
    assert not out.ok and "reads back canary.enable=True, weight 5" in out.reasons[0]


def test_kill_is_refused_before_the_rollout_starts(engine):
    assert run(engine.kill("x")).reasons == ["the rollout has not started: the canary has no traffic to take away"]


def test_a_failed_shift_is_journaled_and_does_not_start_the_phase(engine, clock, gateway):
    ready(engine)
    gateway.down = True
    out = run(engine.start())
    assert not out.ok and "traffic shift to 5 % failed" in out.reasons[0]
    assert engine.state.phase is None and engine.state.status == "live"
    gateway.down = False
    out = run(engine.advance())  # retrying enters phase 1
    assert out.ok and engine.state.phase == 0


def test_observer_engine_refuses_every_command(plan, state_dir, clock, actor, engine):
    follower = Engine(plan, Journal(state_dir, readonly=True), clock=clock, actor=actor)
    follower.ensure_plan()
    for out in [
        run(follower.run_preflight()),
        follower.sign_off("sre", "x"),
        follower.waive("cve_status", "x"),
        run(follower.start()),
        run(follower.advance()),
        follower.decide("sre", "GO", "x"),
        run(follower.kill("x")),
        follower.note("x"),
    ]:
        assert out.reasons == [READ_ONLY]


def test_observer_follows_the_captain(plan, state_dir, clock, actor, engine):
    follower = Engine(plan, Journal(state_dir, readonly=True), clock=clock, actor=actor)
    seen = []
    follower.subscribe(seen.append)
    engine.note("hello observers")
    follower.refresh()
    assert [r.kind for r in seen] == ["note"]


def test_a_changed_plan_is_refused_once_live(plan, state_dir, clock, actor, engine):
    live(engine, clock)
    changed = plan.model_copy(update={"release": plan.release.model_copy(update={"version": "v0.1.1"})})
    e2 = Engine(changed, Journal(state_dir), clock=clock, actor=actor)
    with pytest.raises(EngineError, match="the config changed"):
        e2.ensure_plan()


def test_replay_from_disk_equals_the_live_state(engine, clock, state_dir, gateway):
    live(engine, clock)
    pass_gate(engine, clock)
    run(engine.advance())
    engine.decide("po", "NO-GO", "pat", "E2E flaky")
    run(engine.kill("manual"))
    replayed = fold(Journal(state_dir, readonly=True).records)
    assert replayed == engine.state


def test_status_reads_the_journal_alone(engine, clock, state_dir):
    import json
    import subprocess
    import sys

    live(engine, clock)
    engine.decide("sre", "NO-GO", "bob", "cpu")
    res = subprocess.run([sys.executable, "-m", "cockpit", "status", "--state-dir", str(state_dir), "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "LIVE" and doc["weight"] == 5 and doc["phase"]["name"] == "Phase 1"
    assert doc["gates"]["Phase 1"]["decisions"]["sre"]["decision"] == "NO-GO"
    assert len(doc["sign_offs"]) == 5
    text = subprocess.run([sys.executable, "-m", "cockpit", "status", "--state-dir", str(state_dir)], capture_output=True, text=True)
    assert "status   LIVE   canary weight 5 %" in text.stdout
    assert "bob (SRE) NO-GO for Phase 1, entered by alice@bastion: cpu" in text.stdout
