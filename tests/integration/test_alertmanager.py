"""A real Alertmanager on loopback: "all monitoring alerts quiet" as a gate criterion (quiet →
an alert posted fails it → a silence makes it pass), and the rollout's own silence for the noise
the plan expects, created when the rollout is live and expired when it ends, journaled."""

from __future__ import annotations

import time
from datetime import UTC

import pytest

from cockpit.adapters.alertmanager import AlertmanagerClient
from cockpit.config import dump_plan, parse_plan
from cockpit.core.evaluation import GuardId
from cockpit.guard import Guard
from tests.conftest import T0
from tests.integration.alertmanager import LoopbackAlertmanager
from tests.rig import Rig

pytestmark = pytest.mark.anyio


def with_alertmanager(plan, url: str, **am):
    data = dump_plan(plan)
    data["alertmanager"] = {"url": url, **am}
    data["phases"][0]["gate"]["auto"].append({
        "id": "alerts_quiet", "name": "All monitoring alerts quiet", "source": "alertmanager",
        "labels": {"service": "intelgraph"}, "comparison": "==", "threshold": 0,
    })
    return parse_plan(data)


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


async def test_alerts_quiet_fails_on_an_alert_and_passes_once_silenced(plan, state_dir, clock, tmp_path):
    with LoopbackAlertmanager(tmp_path / "am") as am:
        p = with_alertmanager(plan, am.url)
        rig = Rig(p, state_dir, clock)
        await rig.start()
        await rig.tick()
        assert rig.monitor.criteria["alerts_quiet"].passed is True
        assert rig.monitor.criteria["alerts_quiet"].value == 0
        assert rig.monitor.health["alertmanager"].ok

        am.fire(alertname="HighLatency", service="intelgraph", severity="critical")
        am.fire(alertname="Unrelated", service="billing")  # another service: filtered out
        await rig.tick()
        view = rig.monitor.criteria["alerts_quiet"]
        assert view.passed is False and view.value == 1 and "HighLatency" in view.detail
        failed = [r.payload for r in rig.records("criterion_evaluated") if r.payload.criterion == "alerts_quiet"]
        assert failed[-1].passed is False  # a failure is journaled at once

        client = AlertmanagerClient(p.alertmanager)
        from datetime import datetime, timedelta

        await client.create_silence({"alertname": "HighLatency"}, datetime.now(UTC) + timedelta(hours=1), "known")
        await rig.until(rig.t0 + p.phases[0].soak + timedelta(minutes=1))  # quiet again, through the soak
        view = rig.monitor.criteria["alerts_quiet"]
        assert view.passed is True and view.value == 0
        journaled = [r.payload for r in rig.records("criterion_evaluated") if r.payload.criterion == "alerts_quiet"]
        assert [j.passed for j in journaled] == [False, True]


async def test_the_rollouts_silence_is_created_and_expired(plan, state_dir, clock, tmp_path):
    with LoopbackAlertmanager(tmp_path / "am") as am:
        p = with_alertmanager(plan, am.url, silence={"alertname": "CanaryDeploying"})
        rig = Rig(p, state_dir, clock)
        await rig.start()
        guard = Guard(rig.engine, rig.monitor, state_dir, GuardId(user="guard", host="bastion", pid=7, since=T0),
                      attended=lambda: True)
        await guard.page()
        created = [r.payload for r in rig.records("silence_created")]
        assert len(created) == 1 and created[0].matchers == {"alertname": "CanaryDeploying"}
        assert "cockpit rollout IntelGraph Platform v0.1.0" in created[0].comment
        live = am.get(f"/api/v2/silence/{created[0].silence_id}")
        assert live["status"]["state"] == "active" and live["comment"] == created[0].comment
        am.fire(alertname="CanaryDeploying", service="intelgraph")
        assert wait_until(lambda: am.get("/api/v2/alerts?active=true&silenced=false") == [])
        await guard.page()
        assert len(rig.records("silence_created")) == 1  # once

        assert (await rig.engine.kill("operator: done watching")).ok
        await guard.page()
        expired = [r.payload for r in rig.records("silence_expired")]
        assert [(e.silence_id, e.ok) for e in expired] == [(created[0].silence_id, True)]
        assert am.get(f"/api/v2/silence/{created[0].silence_id}")["status"]["state"] == "expired"
        assert rig.engine.state.silences == {}
        await guard.notifier.close()
