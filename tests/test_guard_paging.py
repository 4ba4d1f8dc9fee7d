"""The guard, with no screen, pages and notifies through real HTTP receivers on loopback: a
breach pages L1 (Slack and PagerDuty), the rollback it causes tells #error-budget (release,
trigger, verified result, journal head hash), and the PagerDuty incident is resolved."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.config import dump_plan, parse_plan
from cockpit.core.evaluation import GuardId
from cockpit.core.paging import dedup_key
from cockpit.guard import Guard
from tests.conftest import T0
from tests.receiver import Answer, Receiver
from tests.rig import Rig

pytestmark = pytest.mark.anyio
ROUTING_KEY = "guard-test-routing-key-5f5f5f5f5f"


def paged_plan(plan, slack_url: str, pd_url: str, budget_url: str, other_url: str):
    data = dump_plan(plan)
    data["channels"] = {
        "#sre-oncall": {"type": "slack", "url": {"env": "T_SLACK_SRE"}, "backoff": 0.05},
        "pagerduty_sre": {"type": "pagerduty", "url": pd_url, "routing_key": {"env": "T_PD_KEY"}, "backoff": 0.05},
        "#error-budget": {"type": "slack", "url": {"env": "T_SLACK_BUDGET"}, "backoff": 0.05},
        **{c: {"type": "webhook", "url": other_url, "backoff": 0.05}
           for c in ("#security-incidents", "#intelgraph-release", "#finops")},
    }
    return parse_plan(data)


async def test_a_breach_pages_l1_and_the_rollback_tells_error_budget(plan, state_dir, clock, monkeypatch):
    with Receiver() as sre, Receiver(Answer(202, body='{"status":"success"}')) as pd, Receiver() as budget, Receiver() as other:
        monkeypatch.setenv("T_SLACK_SRE", f"{sre.url}/services/sre")
        monkeypatch.setenv("T_SLACK_BUDGET", f"{budget.url}/services/budget")
        monkeypatch.setenv("T_PD_KEY", ROUTING_KEY)
        p = paged_plan(plan, sre.url, f"{pd.url}/v2/enqueue", budget.url, other.url)
        rig = Rig(p, state_dir, clock, "error-spike")
        rig.engine.metrics = rig.metrics  # the canary traffic check after the kill, as in a real guard
        await rig.start()
        await rig.to_phase(1)  # the error spike starts at 25 %
        guard = Guard(rig.engine, rig.monitor, state_dir, GuardId(user="guard", host="bastion", pid=101, since=T0),
                      attended=lambda: True)
        why = await asyncio.wait_for(guard.run(wait=False), 30)
    assert why == "the rollout is rolled back and the kill verified"
    records = rig.engine.journal.records
    fired = [r.payload for r in records if r.kind == "trigger_fired"]
    assert fired and fired[0].level == "L1"
    opened = [r.payload for r in records if r.kind == "incident_opened"]
    assert [(o.incident, o.level, o.trigger) for o in opened] == [("INC-1", "L1", fired[0].trigger)]

    # L1 paged on Slack and PagerDuty; PagerDuty resolved once the rollback was verified
    assert "L1 paged (INC-1)" in sre.seen[0].body["text"]
    key = dedup_key("IntelGraph Platform v0.1.0", "INC-1")
    assert [(b["event_action"], b["dedup_key"]) for b in pd.bodies()] == [("trigger", key), ("resolve", key)]
    assert [r.payload.reason for r in records if r.kind == "incident_resolved"][0].startswith("rolled back and verified")

    # #error-budget: release, trigger, verified result, journal head hash
    notice = budget.seen[0].body["text"]
    assert notice.startswith("IntelGraph Platform v0.1.0: ROLLBACK by trigger " + fired[0].trigger)
    assert "VERIFIED: gateway confirmed 0 %, canary request rate" in notice
    head = notice.rsplit("journal head ", 1)[1]
    verified = next(r for r in records if r.kind == "rollback_verified")
    queued = next(r for r in records if r.kind == "notification_queued" and r.payload.purpose == "rollback")
    at = next(r for r in records if r.hash == head)
    assert verified.seq <= at.seq < queued.seq  # the journal's head when the notice was written, after the verdict
    assert not other.seen  # no other level was paged

    # every delivery journaled, delivered; the routing key nowhere in the journal
    results = [r.payload for r in records if r.kind == "notified"]
    assert len(results) == 5 and all(n.delivered for n in results)
    assert ROUTING_KEY not in (state_dir / "journal.jsonl").read_text()
    assert records[-1].kind == "guard_stopped"


async def test_an_acknowledgement_in_pagerduty_stops_the_climb(plan, state_dir, clock, monkeypatch):
    """The guard polls PagerDuty's REST API (api_token) for the incident's dedup key."""
    from tests.test_paging import fire, timed

    acked = '{"incidents":[{"status":"acknowledged","acknowledgements":[{"acknowledger":{"summary":"Alice Oncall"}}]}]}'
    with Receiver() as sre, Receiver(Answer(202)) as pd, Receiver() as budget, Receiver() as other, \
            Receiver(Answer(200, body='{"incidents":[{"status":"triggered"}]}'), Answer(200, body=acked)) as api:
        monkeypatch.setenv("T_SLACK_SRE", sre.url)
        monkeypatch.setenv("T_SLACK_BUDGET", budget.url)
        monkeypatch.setenv("T_PD_KEY", ROUTING_KEY)
        monkeypatch.setenv("T_PD_API", "pd-api-read-token-77777777")
        data = dump_plan(paged_plan(timed(plan), sre.url, pd.url, budget.url, other.url))
        data["channels"]["pagerduty_sre"].update(api_token={"env": "T_PD_API"}, api_url=api.url)
        p = parse_plan(data)
        rig = Rig(p, state_dir, clock)
        await rig.start()
        guard = Guard(rig.engine, rig.monitor, state_dir, GuardId(user="guard", host="bastion", pid=9, since=T0),
                      attended=lambda: True)
        fire(rig.engine)
        await guard.page()  # INC-1 paged; PagerDuty says "triggered"
        assert not rig.engine.state.incidents["INC-1"].acknowledged
        await guard.page()  # PagerDuty now says acknowledged
        inc = rig.engine.state.incidents["INC-1"]
        assert (inc.acked_by, inc.acked_via) == ("Alice Oncall", "pagerduty")
        clock.advance(3600)
        await guard.flush()
        await guard.notifier.close()
    assert not [r for r in rig.engine.journal.records if r.kind == "incident_escalated"]
    key = dedup_key("IntelGraph Platform v0.1.0", "INC-1")
    assert api.seen[0].path == f"/incidents?incident_key={key}"
    assert api.seen[0].headers["Authorization"] == "Token token=pd-api-read-token-77777777"
    assert "pd-api-read-token-77777777" not in (state_dir / "journal.jsonl").read_text()
    assert any("acknowledged by Alice Oncall (pagerduty)" in (s.body or {}).get("text", "") for s in sre.seen)
