"""The guard in one process, on a ManualClock and the simulated world: the lock, the published
round, when it stops, and the unconfirmed kill it keeps pulling. Separate processes on a real
Prometheus and HAProxy are in tests/integration/test_guard_processes.py."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from cockpit.core.evaluation import GuardId
from cockpit.core.guardsight import GuardSight
from cockpit.guard import Guard
from cockpit.monitor import Monitor
from cockpit.store.locks import guard_holder
from cockpit.store.published import PUBLISHED, GuardFeed
from tests.conftest import ROOT, T0
from tests.rig import Rig

pytestmark = pytest.mark.anyio


def guard_for(rig: Rig, state_dir, pid: int, **kw) -> Guard:
    ident = GuardId(user="guard", host="bastion", pid=pid, since=T0)
    return Guard(rig.engine, rig.monitor, state_dir, ident, attended=lambda: True, **kw)


def holder_process(state_dir) -> subprocess.Popen:
    """Another process that takes the guard lock and holds it until killed."""
    code = (
        "import os, sys, time; from cockpit.store.locks import GuardLease; "
        f"l = GuardLease({str(state_dir)!r}, {{'pid': os.getpid(), 'host': 'bastion', 'user': 'guard'}}); "
        "assert l.try_acquire(); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "held"
    return proc


def kinds(rig: Rig) -> list[str]:
    return [r.kind for r in rig.engine.journal.records]


async def test_the_published_round_reads_back_as_it_was(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock, "latency-regression")
    await rig.start()
    await rig.tick(30)
    guard = guard_for(rig, state_dir, 101)
    published = guard.publish()
    assert published.rounds == 30 and published.guard == guard.identity
    read = GuardFeed(state_dir).latest()
    assert read == published  # every track, criterion, budget row and health entry
    raw = json.loads((state_dir / PUBLISHED).read_text())
    assert raw["guard"]["pid"] == 101 and raw["at"] == clock.now().isoformat()


async def test_a_round_never_evaluated_reads_as_no_round(tmp_path):
    assert GuardFeed(tmp_path).latest() is None
    (tmp_path / PUBLISHED).write_text('{"at": "not a time"')  # torn or garbage: no round, no crash
    assert GuardFeed(tmp_path).latest() is None


async def test_a_faces_sight_is_its_own_clock_against_the_files_ctime(plan, state_dir, clock):
    """The round's age is the older of: the wall against guard.json's ctime (which no user can set;
    the owner can set the mtime), and this face's monotonic clock since it saw the file as it is."""
    rig = Rig(plan, state_dir, clock, poll_s=15)
    await rig.start()
    await rig.tick()
    guard_for(rig, state_dir, 101).publish()
    path = state_dir / PUBLISHED
    ctime = path.stat().st_ctime
    wall, mono = [ctime + 2.0], [100.0]
    feed = GuardFeed(state_dir, wall=lambda: wall[0], monotonic=lambda: mono[0])
    assert feed.sight() == GuardSight(None, 2.0)  # nobody holds the lock; 2 s by the wall
    mono[0] += 30.0  # the wall set back (or not moving): the face has watched it unchanged for 30 s
    assert feed.sight().round_age_s == 30.0
    os.utime(path, (ctime + 3600, ctime + 3600))  # an mtime of the future, set by the file's owner
    mono[0] += 1.0
    wall[0] = path.stat().st_ctime  # the kernel stamped the change with its own time
    assert feed.sight().round_age_s == 0.0  # a change the face saw
    wall[0] = path.stat().st_ctime + 46.0
    assert feed.sight().round_age_s == 46.0  # and it ages by the ctime, not by the mtime of the future
    mono[0] += 50.0
    assert feed.sight().round_age_s == 50.0
    path.unlink()
    assert feed.sight() == GuardSight(None, None)


async def test_one_guard_at_a_time_and_a_takeover_is_journaled(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    other = holder_process(state_dir)  # a guard in another process holds the lock
    try:
        mine = guard_for(rig, state_dir, 202)
        assert not await mine.acquire(wait=False)  # the lock is held: no second evaluator
        assert guard_holder(state_dir) == {"user": "guard", "host": "bastion", "pid": other.pid, "since": "?",
                                           "verified": True, "outsider": False}
    finally:
        other.kill()  # SIGKILL: no clean release, the kernel frees the lock
        other.wait()
    assert guard_holder(state_dir) is None  # its side file stays, naming a dead holder: not believed
    assert await mine.acquire(wait=False)
    started = [r.payload for r in rig.engine.journal.records if r.kind == "guard_started"]
    assert [(g.pid, g.took_over) for g in started] == [(202, f"{other.pid}@bastion")]
    # This process holds it under the label 202: the kernel names this process, the side file does not.
    assert rig.engine.state.guard.pid == 202 and guard_holder(state_dir)["pid"] == os.getpid()
    assert not guard_holder(state_dir)["verified"]
    mine.release("test over")
    assert rig.engine.state.guard is None and guard_holder(state_dir) is None


async def test_a_standby_takes_over_when_the_holder_goes(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    holder = guard_for(rig, state_dir, 101)
    assert await holder.acquire(wait=False)
    standby = guard_for(rig, state_dir, 202)
    waiting = asyncio.ensure_future(standby.acquire(wait=True))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    holder.lease.release()
    assert await asyncio.wait_for(waiting, 5)
    assert rig.engine.state.guard.pid == 202 and guard_holder(state_dir)["pid"] == os.getpid()


async def test_the_guard_acts_on_a_breach_and_stops_once_rolled_back(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock, "tenant-breach")  # a cross-tenant access 3 minutes in
    started = await rig.start()
    guard = guard_for(rig, state_dir, 101)
    why = await asyncio.wait_for(guard.run(wait=False), 30)
    assert why == "the rollout is rolled back and the kill verified"
    fired = [r for r in rig.engine.journal.records if r.kind == "trigger_fired"]
    assert [r.payload.trigger for r in fired] == ["security_violation"] and fired[0].actor.user == "alice"
    assert fired[0].ts - started <= timedelta(minutes=3, seconds=30)
    assert rig.engine.state.status == "rolled_back" and rig.world.enabled is False
    assert kinds(rig)[-1] == "guard_stopped" and guard_holder(state_dir) is None


async def test_the_guard_stops_with_nothing_to_protect(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock)
    ident = GuardId(user="guard", host="bastion", pid=101, since=T0)
    guard = Guard(rig.engine, rig.monitor, state_dir, ident, attended=lambda: False)
    assert await asyncio.wait_for(guard.run(wait=False), 5) == "the rollout has not started and no captain is at the screen"


async def test_a_kill_not_confirmed_is_pulled_again_until_the_gateway_confirms(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    rig.world.gateway_down = True
    out = await rig.engine.kill("operator: p95 regression")
    assert not out.ok and rig.engine.state.status == "kill_unconfirmed"
    guard = guard_for(rig, state_dir, 101)
    assert await guard.acquire(wait=False)
    pulls = []
    for round_ in range(12):
        if round_ == 6:
            rig.world.gateway_down = False  # the gateway comes back
        await rig.tick()
        before = kinds(rig).count("kill_requested")
        await guard._repull_unconfirmed_kill()
        pulls.append(kinds(rig).count("kill_requested") - before)
    assert rig.engine.state.status == "rolled_back" and rig.world.enabled is False
    # Backing off: pulled at once, then 1, 2, 4 rounds apart (15 s, 30 s, 60 s); none once confirmed.
    assert pulls == [1, 1, 0, 1, 0, 0] + [0, 1, 0, 0, 0, 0]


async def test_an_observer_renders_the_guards_round_without_metrics(plan, state_dir, clock):
    """The observer's feed is the file: the same gauges as the guard's own, no query of its own."""
    rig = Rig(plan, state_dir, clock, "latency-regression")
    await rig.start()
    await rig.tick(8)
    guard = guard_for(rig, state_dir, 101)
    guard.publish()
    seen = GuardFeed(state_dir).latest()
    mine = rig.monitor.snapshot(guard.identity)
    for t in plan.triggers:
        assert seen.gauge(t.id, clock.now()) == mine.gauge(t.id, clock.now())
    assert isinstance(rig.monitor, Monitor)


# --- after a confirmed kill: the canary traffic check runs beside the rounds -------------------------


class Traffic:
    """The canary's request rate as the kill switch's verify_query reads it, set by the test;
    `hold()` makes the next reading hang (a Prometheus that does not answer) until `release()`."""

    def __init__(self, rps: float):
        import threading

        self.rps, self.gate = rps, threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def __call__(self, ts: float) -> float:
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(30)
        return self.rps

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()


def checked_rig(plan, state_dir, clock, traffic: Traffic) -> Rig:
    from tests.rig import Scripted

    rig = Rig(plan, state_dir, clock)
    rig.engine.metrics = Scripted(rig.metrics, {plan.kill_switch.verify_query: traffic})
    return rig


def simulated_guard(rig: Rig, state_dir, pid: int = 101) -> Guard:
    from cockpit.adapters.notify import SimulatedNotifier

    return guard_for(rig, state_dir, pid, notifier=SimulatedNotifier(rig.plan, rig.engine.record_delivery))


async def until(what: str, cond, task: asyncio.Future | None = None) -> None:
    """Let the guard run until `cond()`; a guard that ended first fails the test with its reason."""
    async def wait():
        while not cond():
            if task is not None and task.done():
                raise AssertionError(f"the guard ended ({task.result()!r}) before: {what}")
            await asyncio.sleep(0.005)
    await asyncio.wait_for(wait(), 60)  # a hang guard, not a timing assertion


def payloads(rig: Rig, kind: str):
    return [r.payload for r in rig.engine.journal.records if r.kind == kind]


async def test_canary_traffic_that_does_not_fall_after_the_kill_pages_emergency_and_the_guard_stays(plan, state_dir, clock):
    """Issue 4: the gateway confirmed the kill, the canary still takes traffic: an Emergency
    incident, the kill re-asserted, the guard watching, until the traffic falls."""
    traffic = Traffic(9.97)
    rig = checked_rig(plan, state_dir, clock, traffic)
    await rig.start()
    assert (await rig.engine.kill("kill switch pulled from the cockpit")).ok
    guard = simulated_guard(rig, state_dir)
    task = asyncio.ensure_future(guard.run(wait=False))
    try:
        await until("the incident", lambda: rig.engine.state.incidents, task)
        inc = rig.engine.state.incidents["INC-1"]
        assert (inc.level, inc.trigger) == ("Emergency", "")
        assert inc.reason == "ROLLBACK NOT VERIFIED: canary request rate still 9.97 req/s 2m00s after the kill"
        pages = [p for p in payloads(rig, "notification_queued") if p.purpose == "page"]
        assert [(p.incident, p.level) for p in pages] == [("INC-1", "Emergency")] * len(pages) and pages
        # the guard re-asserts the kill and keeps looking while the traffic flows
        await until("the kill re-asserted twice", lambda: len(payloads(rig, "kill_requested")) >= 3, task)
        assert not task.done() and list(rig.engine.state.incidents) == ["INC-1"]
        assert rig.engine.state.kill.reason == "kill switch pulled from the cockpit"
        traffic.rps = 0.0  # at last
        why = await asyncio.wait_for(task, 60)
    finally:
        guard.stop()
        traffic.release()
    assert why == "the rollout is rolled back and the kill verified"
    assert payloads(rig, "rollback_verified")[-1].ok
    assert [(r.incident, r.reason.split(":")[0]) for r in payloads(rig, "incident_resolved")] == [("INC-1", "rolled back and verified")]
    notices = [p.text for p in payloads(rig, "notification_queued") if p.purpose == "rollback"]
    assert "rollback NOT VERIFIED: canary request rate still 9.97 req/s" in notices[0] and "VERIFIED: gateway confirmed 0 %" in notices[-1]
    assert len(payloads(rig, "incident_opened")) == 1 and kinds(rig)[-1] == "guard_stopped"


async def test_a_human_who_acknowledges_the_leaking_rollback_lets_the_guard_stop(plan, state_dir, clock):
    traffic = Traffic(9.97)
    rig = checked_rig(plan, state_dir, clock, traffic)
    await rig.start()
    assert (await rig.engine.kill("kill switch pulled from the cockpit")).ok
    guard = simulated_guard(rig, state_dir)
    task = asyncio.ensure_future(guard.run(wait=False))
    try:
        await until("the incident", lambda: rig.engine.state.incidents, task)
        assert rig.engine.acknowledge("INC-1", "Bob Oncall").ok
        why = await asyncio.wait_for(task, 60)
    finally:
        guard.stop()
    assert why.startswith("the rollout is rolled back; canary traffic NOT ~0 (canary request rate still 9.97 req/s")
    assert why.endswith("and INC-1 acknowledged by Bob Oncall")
    assert rig.engine.state.incidents["INC-1"].open  # nobody says it was fixed: it was taken


async def test_the_rounds_go_on_while_the_traffic_check_hangs_and_sigterm_cuts_it_short(plan, state_dir, clock):
    """Issue 5: a Prometheus that does not answer the traffic check holds up no round, no
    acknowledgement, and no SIGTERM; the guard says what the check knew when it stopped."""
    from cockpit.core import events as ev

    traffic = Traffic(9.97)
    rig = checked_rig(plan, state_dir, clock, traffic)
    await rig.start()
    rig.engine._append(ev.IncidentOpened(incident="INC-1", level="L1", reason="by hand"))
    rig.engine._append(ev.NotificationQueued(channel="#sre-oncall", purpose="page", text="t", incident="INC-1", level="L1"))
    traffic.hold()  # the check's first reading hangs
    assert (await rig.engine.kill("kill switch pulled from the cockpit")).ok
    guard = simulated_guard(rig, state_dir)
    task = asyncio.ensure_future(guard.run(wait=False))
    try:
        await until("the check is asking", traffic.waiting.is_set, task)
        await until("a round", lambda: guard.latest() is not None, task)
        first = guard.latest().rounds
        await until("three more rounds", lambda: guard.latest().rounds >= first + 3, task)
        assert rig.engine.acknowledge("INC-1", "Bob Oncall").ok
        await until("the acknowledgement told", lambda: any(
            p.purpose == "acknowledge" for p in payloads(rig, "notification_queued")), task)
        assert not rig.engine.rollback_check.done() and not payloads(rig, "rollback_verified")  # still hanging
        guard.stop()  # SIGTERM
        why = await asyncio.wait_for(task, 60)
        assert not traffic.gate.is_set()  # it stopped with the reading still hanging
    finally:
        guard.stop()
        traffic.release()
    assert why == "stopped" and rig.engine.rollback_check.cancelled()
    [stopped] = payloads(rig, "guard_stopped")
    assert stopped.reason == ("stopped (SIGTERM or the demo ended); the canary traffic check was cut short "
                              "(no reading yet): the next guard checks again")


async def test_re_pulls_of_an_unconfirmed_kill_are_one_kill_one_incident_one_notice(plan, state_dir, clock):
    """Issue 6: the guard pulls an unconfirmed kill again and again: Emergency is paged once, the
    rollback channel told once (and once more when it is confirmed), the reason is not nested, and
    KILL NOT CONFIRMED after N attempts is escalated once."""
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    rig.world.gateway_down = True
    assert not (await rig.engine.kill("kill switch pulled from the cockpit")).ok
    guard = simulated_guard(rig, state_dir)
    assert await guard.acquire(wait=False)
    await guard.page()
    for round_ in range(16):  # pulled again at rounds 0, 1, 3, 7 and 15 (backing off)
        if round_ == 8:
            rig.world.gateway_down = False
        await rig.tick()
        await guard._repull_unconfirmed_kill()
        await guard.page()
    st = rig.engine.state
    assert st.status == "rolled_back" and len(payloads(rig, "kill_requested")) == 6
    assert st.kill.reason == "kill switch pulled from the cockpit" and st.kill.pulls == 6
    assert payloads(rig, "kill_requested")[1].reason == "guard re-pulls the unconfirmed kill: kill switch pulled from the cockpit"
    assert [(o.incident, o.level) for o in payloads(rig, "incident_opened")] == [("INC-1", "Emergency")]
    assert not payloads(rig, "incident_escalated") and [r.incident for r in payloads(rig, "incident_resolved")] == ["INC-1"]
    assert len([p for p in payloads(rig, "notification_queued") if p.purpose == "page"]) == 1
    notices = [p.text for p in payloads(rig, "notification_queued") if p.purpose == "rollback"]
    assert len(notices) == 2 and "KILL NOT CONFIRMED" in notices[0] and "gateway confirmed canary at 0 %" in notices[1]
    assert len(payloads(rig, "escalated")) == 1
    guard.release("test over")
