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
