"""`cockpit status` says who guards the rollout, and what an empty state dir is, as a script needs it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from cockpit.clock import ManualClock
from cockpit.core.evaluation import GuardId
from cockpit.guard import Guard
from cockpit.published import PUBLISHED
from tests.conftest import ROOT, T0
from tests.rig import Rig

pytestmark = pytest.mark.anyio


def status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", "status", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_status_json_on_a_state_dir_without_events_is_a_valid_document(tmp_path):
    for where in (tmp_path / "missing", tmp_path):
        res = status("--state-dir", str(where), "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"status": "not started", "state_dir": str(where), "events": 0}
    res = status("--state-dir", str(tmp_path))
    assert res.returncode == 2 and "the rollout has not started" in res.stderr


async def test_status_says_unguarded_when_no_round_is_fresh(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    await rig.tick()
    Guard(rig.engine, rig.monitor, state_dir, GuardId("guard", "bastion", 4242, T0), attended=lambda: True).publish()
    published = json.loads((state_dir / PUBLISHED).read_text())
    published["wall_at"] -= 3600  # as a guard that died an hour ago left it
    (state_dir / PUBLISHED).write_text(json.dumps(published))
    doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
    assert doc["guard"]["unguarded"] is True and doc["guard"]["guarded"] is False and doc["guard"]["holder"] is None
    text = status("--state-dir", str(state_dir)).stdout
    assert "guard    UNGUARDED: last round" in text and "start `cockpit guard`" in text


async def test_status_names_the_guard_that_holds_the_lock(plan, state_dir):
    clock = ManualClock(datetime.now(timezone.utc))  # rounds stamped now, as a running guard's are
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    await rig.tick()
    guard = Guard(rig.engine, rig.monitor, state_dir, GuardId("guard", "bastion", 4242, T0), attended=lambda: True)
    assert await guard.acquire(wait=False)
    guard.publish()
    try:
        doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
        assert doc["guard"]["holder"] == "4242@bastion" and doc["guard"]["guarded"] is True
        assert doc["guard"]["unguarded"] is False and doc["guard"]["last_round_s"] < 45
        assert "guard    4242@bastion, last round" in status("--state-dir", str(state_dir)).stdout
    finally:
        guard.release("test over")


async def test_status_says_the_screens_headline_the_sources_and_open_incidents(plan, state_dir):
    """`cockpit status` words the rollout as the screen does (the read model's headline), names the
    sources' health from the guard's round, lists open incidents, and has no soak once rolled back."""
    from cockpit.adapters.gateway import GatewayState
    from cockpit.core import events as ev

    clock = ManualClock(datetime.now(timezone.utc))
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    await rig.tick()
    guard = Guard(rig.engine, rig.monitor, state_dir, GuardId("guard", "bastion", 4242, T0), attended=lambda: True)
    rig.engine.observe_gateway(GatewayState(weight=0, enabled=True))
    rig.engine._append(ev.IncidentOpened(incident="INC-1", level="L1", reason="error_rate breaching", trigger="error_rate"))
    guard.publish()
    text = status("--state-dir", str(state_dir)).stdout
    assert "status   LIVE   canary weight 0 %" in text
    assert "headline GATEWAY DRIFT: the gateway reads canary 0 %, but Phase 1 soaks at 5 % by the journal" in text
    assert "sources  prometheus ok, gateway ok" in text
    assert "incident INC-1 L1 NOT ACKNOWLEDGED: error_rate breaching" in text
    doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
    assert doc["headline"].startswith("GATEWAY DRIFT: ") and doc["gateway_drift"].startswith("the gateway reads canary 0 %")
    assert doc["incidents"] == [{"id": "INC-1", "level": "L1", "reason": "error_rate breaching",
                                 "opened_at": doc["incidents"][0]["opened_at"], "acknowledged_by": None}]
    assert doc["sources"]["prometheus"]["ok"] is True and doc["soak_remaining_s"] > 0
    await rig.engine.kill("drill")
    rig.engine._append(ev.RollbackVerified(ok=False, detail="canary request rate still 9.97/s 2m after the kill"))
    doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
    assert doc["status"] == "ROLLED BACK" and doc["soak_remaining_s"] is None
    assert doc["kill"]["traffic_fell"] is False
    assert ("kill     VERIFIED, ROLLBACK NOT VERIFIED (canary request rate still 9.97/s 2m after the kill): drill"
            in status("--state-dir", str(state_dir)).stdout)
    assert "soak" not in next(ln for ln in status("--state-dir", str(state_dir)).stdout.splitlines() if ln.startswith("phase"))
