"""The guard in one process, on a ManualClock and the simulated world: the lock, the published
round, when it stops, and the unconfirmed kill it keeps pulling. Separate processes on a real
Prometheus and HAProxy are in tests/integration/test_guard_processes.py."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
import subprocess
import sys

import pytest

from cockpit.core.evaluation import Evaluation, GuardId
from cockpit.guard import Guard
from cockpit.published import PUBLISHED, GuardFeed
from cockpit.lease import guard_holder
from cockpit.monitor import Monitor
from tests.conftest import ROOT, T0
from tests.rig import Rig

pytestmark = pytest.mark.anyio


def guard_for(rig: Rig, state_dir, pid: int, **kw) -> Guard:
    ident = GuardId(user="guard", host="bastion", pid=pid, since=T0)
    return Guard(rig.engine, rig.monitor, state_dir, ident, attended=lambda: True, **kw)


def holder_process(state_dir, pid_label: int) -> subprocess.Popen:
    """Another process that takes the guard lock and holds it until killed."""
    code = (
        "import sys, time; from cockpit.lease import GuardLease; "
        f"l = GuardLease({str(state_dir)!r}, {{'pid': {pid_label}, 'host': 'bastion'}}); "
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


async def test_guarded_means_a_round_within_three_poll_intervals(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock, poll_s=15)
    await rig.start()
    await rig.tick()
    live = rig.monitor.snapshot()
    assert live.guarded(clock.now()) and live.guarded(clock.now() + timedelta(seconds=45))
    assert not live.guarded(clock.now() + timedelta(seconds=46))
    assert not Evaluation().guarded(clock.now())  # no round at all


async def test_one_guard_at_a_time_and_a_takeover_is_journaled(plan, state_dir, clock):
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    other = holder_process(state_dir, 101)  # a guard in another process holds the lock
    try:
        mine = guard_for(rig, state_dir, 202)
        assert not await mine.acquire(wait=False)  # the lock is held: no second evaluator
        assert guard_holder(state_dir)["pid"] == 101
    finally:
        other.kill()  # SIGKILL: no clean release, the kernel frees the lock
        other.wait()
    assert await mine.acquire(wait=False)
    started = [r.payload for r in rig.engine.journal.records if r.kind == "guard_started"]
    assert [(g.pid, g.took_over) for g in started] == [(202, "101@bastion")]
    assert rig.engine.state.guard.pid == 202 and guard_holder(state_dir)["pid"] == 202
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
    assert guard_holder(state_dir)["pid"] == 202


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
