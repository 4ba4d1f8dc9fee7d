"""`cockpit status` says what the read model says (issue 21): after the kill, the phase it stopped
and the canary share the gateway confirmed (not "phase 2/4 at 25 %" beside "canary weight 0 %"),
and a demo's journal is marked DEMO · simulated."""

from __future__ import annotations

from cockpit.core.state import fold
from cockpit.status import status_json, status_lines
from cockpit.store.verify import verify
from tests.evidence.test_report import _state


def test_status_after_the_kill_says_where_it_stopped_with_one_weight_and_that_it_is_a_demo(tmp_path):
    state = fold(verify(_state(tmp_path, "rollback.jsonl")).records)
    now = state.kill.result_at
    lines = status_lines(state, now, None)
    assert lines[0].endswith("  DEMO · simulated")
    assert "status   ROLLED BACK   canary weight 0 %" in lines
    phase = next(ln for ln in lines if ln.startswith("phase    "))
    assert phase == "phase    Phase 2 (2/4) rolled back · canary 0 %"
    doc = status_json(state, now, None)
    assert (doc["where"], doc["demo"], doc["weight"]) == ("Phase 2 (2/4) rolled back · canary 0 %", "DEMO · simulated", 0)


def test_a_met_criterion_beside_its_own_trigger_breaching_reads_the_same_on_status_as_on_the_screen(plan):
    """Issue 21: "Performance ≤ 350 ms ✓" stood beside the Performance trigger breaching. The read model
    marks the criterion ▲ with the trigger's live value; `status` prints the read model's row, and
    its JSON says the criterion does not hold now."""
    from cockpit.core import readmodel as rm
    from cockpit.core.evaluation import CriterionView
    from cockpit.status import headline_json
    from tests.core.test_readmodel import live, ok_tracks, round_at, state_of, verdict
    from tests.core.test_readmodel_rows import NOW

    state = state_of(plan, *live(plan, 1))
    evaluation = round_at(NOW, ok_tracks(plan, NOW, api_p95_regression=verdict("breaching", NOW)),
                          criteria={"api_p95": CriterionView(True, 240.0, "240 ms ≤ 350 ms")},
                          soak=(1, state.phase_started_at))
    row = next(c for c in rm.read_model(plan, state, evaluation, NOW).gate.criteria if c.id == "api_p95")
    assert (row.mark, row.text) == (rm.WARN, "not now: Performance 320 ms breaching · 240 ms ≤ 350 ms")
    seen = headline_json(plan, state, evaluation, NOW)
    [said] = [c for c in seen["criteria"] if c["id"] == "api_p95"]
    assert (said["met"], said["holds_now"], said["mark"], said["text"]) == (True, False, row.mark, row.text)
    assert f"gate     ▲ {row.name}: {row.text}" in status_lines(state, NOW, None, seen=seen)
    calm = headline_json(plan, state, round_at(NOW, ok_tracks(plan, NOW), criteria={"api_p95": CriterionView(
        True, 240.0, "240 ms ≤ 350 ms")}, soak=(1, state.phase_started_at)), NOW)
    assert [c["holds_now"] for c in calm["criteria"] if c["id"] == "api_p95"] == [True]
    assert not any(ln.startswith("gate     ▲") for ln in status_lines(state, NOW, None, seen=calm))


def test_the_guard_locks_holder_is_named_by_pid_and_host_or_said_to_name_none(plan):
    """An etcd key put by hand holds whatever it holds: status names no `None@None`."""
    from cockpit.core.guardsight import GuardSight
    from cockpit.status import guard_json
    from tests.core.test_readmodel import live, state_of

    state = state_of(plan, *live(plan))
    holders = [None, {}, {"pid": 4242, "host": "bastion"}, {"x": 1}, {"pid": "4242", "host": None}]
    named = [guard_json(plan, state, None, GuardSight(None, None), h)["holder"] for h in holders]
    assert named == [None, None, "4242@bastion", "a holder that names no pid and host",
                     "a holder that names no pid and host"]
