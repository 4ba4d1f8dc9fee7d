"""Escalation that escalates, on a ManualClock: a fired trigger pages its level; unacknowledged
within the level's ack_timeout it climbs; an acknowledgement stops the climb and is told to every
channel paged; KILL NOT CONFIRMED pages Emergency at once; a cleared breach or a verified
rollback resolves. `cockpit ack` from another process acknowledges through the journal."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import tomli_w

from cockpit import guard_work
from cockpit.config import dump_plan, parse_plan
from cockpit.core import events as ev
from cockpit.core.paging import dedup_key
from cockpit.core.state import fold
from cockpit.store.journal import Journal
from tests.conftest import ROOT
from tests.rig import Rig

pytestmark = pytest.mark.anyio


def timed(plan, l1="10m", l2="10m", l3="15m"):
    data = dump_plan(plan)
    for lvl, t in zip(data["escalation"], (l1, l2, l3, None), strict=False):
        if t:
            lvl["ack_timeout"] = t
    return parse_plan(data)


def fire(engine, trigger="error_rate", level="L1", action="page"):
    engine._append(ev.TriggerBreached(trigger=trigger, value=0.9, threshold=0.5))
    engine._append(ev.TriggerFired(trigger=trigger, action=action, level=level, value=0.9, threshold=0.5,
                                   window_s=300, detail="0.9 > 0.5 for 5m"))


def kinds_of(records):
    return [(r.kind, getattr(r.payload, "level", ""), getattr(r.payload, "channel", "")) for r in records]


async def test_unacknowledged_climbs_an_ack_stops_it(plan, state_dir, clock):
    rig = Rig(timed(plan), state_dir, clock)
    await rig.start()
    engine = rig.engine
    fire(engine)
    first = guard_work.paging_round(engine)
    assert kinds_of(first) == [
        ("incident_opened", "L1", ""),
        ("notification_queued", "L1", "#sre-oncall"),
        ("notification_queued", "L1", "pagerduty_sre"),
    ]
    assert first[0].payload.incident == "INC-1" and "error_rate" in first[0].payload.reason
    assert guard_work.paging_round(engine) == []  # once, not once per round

    clock.advance(timedelta(minutes=9, seconds=59).total_seconds())
    assert guard_work.paging_round(engine) == []  # L1 still has a second
    clock.advance(1)
    climbed = guard_work.paging_round(engine)
    assert kinds_of(climbed) == [("incident_escalated", "L2", ""), ("notification_queued", "L2", "#security-incidents")]
    assert climbed[0].payload.reason.startswith("L1 did not acknowledge within 10m")
    assert engine.state.incidents["INC-1"].levels == ["L1", "L2"]

    assert engine.acknowledge("INC-1", "bob").ok
    told = guard_work.paging_round(engine)
    assert {(k, c) for k, _, c in kinds_of(told)} == {
        ("notification_queued", "#sre-oncall"), ("notification_queued", "pagerduty_sre"), ("notification_queued", "#security-incidents")}
    assert {r.payload.purpose for r in told} == {"acknowledge"}
    clock.advance(3600)
    assert guard_work.paging_round(engine) == []  # acknowledged: no more climbing
    assert engine.state.incidents["INC-1"].level == "L2"
    assert engine.acknowledge("INC-1", "carol").reasons[0].startswith("INC-1 was acknowledged by bob")
    assert engine.acknowledge("INC-9", "carol").reasons == ["no incident INC-9 (open: INC-1)"]


async def test_it_climbs_level_by_level_to_emergency_and_stops_there(plan, state_dir, clock):
    rig = Rig(timed(plan, "1m", "1m", "1m"), state_dir, clock)
    await rig.start()
    fire(rig.engine)
    guard_work.paging_round(rig.engine)
    seen = []
    for _ in range(5):
        clock.advance(60)
        seen += [r.payload.level for r in guard_work.paging_round(rig.engine) if r.kind == "incident_escalated"]
    assert seen == ["L2", "L3", "Emergency"]


async def test_kill_not_confirmed_pages_emergency_at_once(plan, state_dir, clock):
    rig = Rig(timed(plan), state_dir, clock)
    await rig.start()
    engine = rig.engine
    fire(engine, action="rollback")
    guard_work.paging_round(engine)  # INC-1 at L1
    engine._append(ev.KillRequested(reason="trigger error_rate fired", trigger="error_rate"))
    engine._append(ev.KillResult(confirmed=False, attempts=4, error="gateway timed out"))
    now = guard_work.paging_round(engine)  # no ack timeout waited for
    assert ("incident_escalated", "Emergency", "") in kinds_of(now)
    assert ("notification_queued", "Emergency", "#error-budget") in kinds_of(now)
    assert engine.state.incidents["INC-1"].level == "Emergency"
    rollback = [r.payload for r in now if getattr(r.payload, "purpose", "") == "rollback"]
    assert len(rollback) == 1 and "KILL NOT CONFIRMED: gateway timed out" in rollback[0].text
    assert not [r for r in guard_work.paging_round(engine) if r.kind.startswith("incident")]  # once


async def test_an_operator_kill_not_confirmed_opens_an_emergency_incident(plan, state_dir, clock):
    rig = Rig(timed(plan), state_dir, clock)
    await rig.start()
    rig.engine._append(ev.KillRequested(reason="dashboards look wrong"))
    rig.engine._append(ev.KillResult(confirmed=False, attempts=4, error="HTTP 500"))
    opened = [r.payload for r in guard_work.paging_round(rig.engine) if r.kind == "incident_opened"]
    assert [(o.incident, o.level, o.reason) for o in opened] == [("INC-1", "Emergency", "KILL NOT CONFIRMED: HTTP 500")]


async def test_a_cleared_breach_resolves_and_tells_every_channel_paged(plan, state_dir, clock):
    rig = Rig(timed(plan), state_dir, clock)
    await rig.start()
    fire(rig.engine)
    guard_work.paging_round(rig.engine)
    rig.engine._append(ev.TriggerCleared(trigger="error_rate", detail="0.1 <= 0.5"))
    resolved = guard_work.paging_round(rig.engine)
    assert resolved[0].kind == "incident_resolved" and resolved[0].payload.reason == "the breach of error_rate cleared"
    assert {(r.payload.channel, r.payload.purpose) for r in resolved[1:]} == {("#sre-oncall", "resolve"), ("pagerduty_sre", "resolve")}
    assert not rig.engine.state.incidents["INC-1"].open
    assert dedup_key("IntelGraph Platform v0.1.0", "INC-1") == "cockpit-intelgraph-platform-v0.1.0-INC-1"


def test_cockpit_ack_from_the_command_line(plan, tmp_path, clock):
    state_dir = tmp_path / "state"
    data = dump_plan(timed(plan))
    data["state_dir"] = str(state_dir)
    config = tmp_path / "plan.toml"
    config.write_text(tomli_w.dumps(data))
    p = parse_plan(data)
    import asyncio

    async def setup():
        rig = Rig(p, state_dir, clock)
        await rig.start()
        fire(rig.engine)
        guard_work.paging_round(rig.engine)
        rig.engine.journal.close()

    asyncio.run(setup())

    def ack(*args):
        return subprocess.run([sys.executable, "-m", "cockpit", "ack", *args], capture_output=True, text=True, cwd=ROOT)

    done = ack("INC-1", "--name", "Bob Oncall", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "INC-1 acknowledged by Bob Oncall" in done.stdout
    st = fold(Journal(state_dir, readonly=True).records)
    assert st.incidents["INC-1"].acked_by == "Bob Oncall" and st.incidents["INC-1"].acked_via == "cli"
    again = ack("INC-1", "--name", "Carol", "--config", str(config))
    assert again.returncode == 2 and "was acknowledged by Bob Oncall" in again.stderr
    unknown = ack("INC-7", "--name", "Carol", "--config", str(config))
    assert unknown.returncode == 2 and "no incident INC-7" in unknown.stderr


async def test_the_escalation_pane_shows_each_incident_with_its_timer(plan, state_dir, clock):
    from cockpit.core.readmodel import escalation_rows

    p = timed(plan)
    rig = Rig(p, state_dir, clock)
    await rig.start()
    fire(rig.engine)
    guard_work.paging_round(rig.engine)
    clock.advance(4 * 60)
    rows = {r.level: r for r in escalation_rows(p, rig.engine.state, clock.now())}
    assert "INC-1 NOT acknowledged: climbs in 6m00s" in rows["L1"].reasons
    q = next(r for r in rig.engine.journal.records if r.kind == "notification_queued")
    rig.engine._append(ev.Notified(channel=q.payload.channel, text=q.payload.text, delivered=False, error="HTTP 500",
                                   queued=q.seq, purpose="page", incident="INC-1", attempts=4))
    assert rig.engine.acknowledge("INC-1", "bob").ok
    rows = {r.level: r for r in escalation_rows(p, rig.engine.state, clock.now())}
    assert "INC-1 acknowledged by bob" in rows["L1"].reasons
    assert "NOT SENT to #sre-oncall (INC-1): HTTP 500" in rows["L1"].reasons
