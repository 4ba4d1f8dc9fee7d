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
