"""The guard on a real etcd, in one process, two "bastions" (each its own engine, client, local dir and
gateway counter on one simulated world): its epoch journaled and fencing every append, a standby that
takes over after the TTL and names whom from, a deposed holder that appends and sends nothing, and both
sides of the unreachable-store trade-off (guard.py's docstring): a holder cut off from every member
still kills on a breach and journals it late; a holder partitioned while the other side took over is
deposed when it sees etcd again, and what it kept aside is never journaled.

Separate guard processes on a real HAProxy and Prometheus: test_guard_two_bastions.py."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec
import pytest

from cockpit import narrate
from cockpit.adapters.simulator import SimulatedGateway, SimulatedMetrics, SimulatedWorld, seed_series
from cockpit.core import events as ev
from cockpit.core.evaluation import GuardId
from cockpit.engine import Engine
from cockpit.guard import Guard
from cockpit.monitor import Monitor
from cockpit.store import FileStore
from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_journal import EtcdJournal, verify
from cockpit.store.etcd_lease import EtcdGuardLease
from cockpit.store.kept import ASIDE, read_kept
from tests.conftest import T0
from tests.support import passing_runner

pytestmark = pytest.mark.anyio
PREFIX = "/cockpit/intelgraph/v0.1.0"
TTL_S = 2
CAPTAIN = ev.Actor(user="alice", host="bastion-a", role="captain")


class CountingGateway(SimulatedGateway):
    """The simulated world's gateway, counting what this bastion sent (a kill: set_enabled / set_weight)."""

    def __init__(self, world):
        super().__init__(world)
        self.sent: list[str] = []
        self.sent_at: list[float] = []  # time.monotonic() of each

    async def set_enabled(self, enabled: bool) -> None:
        self.sent.append(f"set_enabled {enabled}")
        self.sent_at.append(time.monotonic())
        await super().set_enabled(enabled)

    async def set_weight(self, weight: int) -> None:
        self.sent.append(f"set_weight {weight}")
        await super().set_weight(weight)


class EtcdRoom:
    """What a guard asks of its store, on etcd: the lease; the published round stays in its local dir.
    (Test-only wiring of the real etcd pieces until the plan's store factory opens an EtcdStore.)"""

    def __init__(self, client: EtcdClient, state_dir: Path):
        self.client, self.state_dir = client, state_dir
        self.files = FileStore(state_dir)

    def guard_lease(self, identity: dict) -> EtcdGuardLease:
        return EtcdGuardLease(self.client, PREFIX, identity, ttl_s=TTL_S)

    def guard_holder(self) -> dict | None:
        return EtcdGuardLease(self.client, PREFIX, {}).holder()

    def captain(self) -> dict | None:
        return None

    def publish(self, evaluation) -> None:
        self.files.publish(evaluation)


class Bastion:
    """One bastion: its etcd client (its own endpoints), local dir, engine, gateway counter and guard."""

    def __init__(self, name: str, pid: int, endpoints: list[str], tmp_path: Path, plan, clock, world):
        self.client = EtcdClient(endpoints, timeout_s=0.5, connect_s=0.3)
        self.state_dir = tmp_path / name
        self.gateway = CountingGateway(world)
        actor = ev.Actor(user="guard", host=name, role="guard")
        self.engine = Engine(plan, EtcdJournal(self.client, PREFIX, self.state_dir, actor=actor), clock=clock,
                             actor=actor, gateway=self.gateway, check_runner=passing_runner())
        self.monitor = Monitor(self.engine, SimulatedMetrics(world, series=seed_series(plan)), poll_s=15.0, step_s=30.0)
        self.guard = Guard(self.engine, self.monitor, self.state_dir, GuardId(user="guard", host=name, pid=pid, since=T0),
                           attended=lambda: True, store=EtcdRoom(self.client, self.state_dir), notifier=Quiet())

    def appended(self, records) -> list[ev.Record]:
        return [r for r in records if r.actor.host == self.guard.identity.host]


class Quiet:
    """A notifier for a plan whose channels are not reachable here: messages are queued and journaled,
    never sent (the rounds' paging is not what these tests look at)."""

    def submit(self, key, queued) -> None:
        pass

    async def poll_acknowledgements(self, paged) -> dict:
        return {}

    async def drain(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def live(plan, clock, world, endpoints, tmp_path) -> None:
    """The captain starts the rollout on etcd: 5 % live from now."""
    client = EtcdClient(endpoints)
    engine = Engine(plan, EtcdJournal(client, PREFIX, tmp_path / "captain", actor=CAPTAIN), clock=clock, actor=CAPTAIN,
                    gateway=SimulatedGateway(world), check_runner=passing_runner())
    engine.ensure_plan()
    assert (await engine.run_preflight()).ok
    for role in plan.sign_offs:
        assert engine.sign_off(role, f"{role}-person").ok
    assert (await engine.start()).ok
    engine.journal.close()


def verifies(endpoints) -> bool:
    scan = verify(EtcdClient(endpoints), PREFIX)
    return not scan.problems and scan.head is None


def journal(endpoints) -> list[ev.Record]:
    return EtcdJournal(EtcdClient(endpoints), PREFIX, readonly=True).records


async def answered(clock, guard: Guard, done, within_s: float = 15.0) -> bool:
    """Rounds, a tenth of a second apart on the wall (a renewal tried beside them while etcd did not
    answer ends in its worker thread), until `done()`; what the last round returned."""
    deadline, going = time.monotonic() + within_s, True
    while time.monotonic() < deadline:
        clock.advance(15)
        going = await guard.round()
        await guard.monitor.settle()
        if done() or not going:
            return going
        await asyncio.sleep(0.1)
    raise AssertionError("not within the time given")


async def rounds(clock, guard: Guard, n: int) -> None:
    for _ in range(n):
        clock.advance(15)
        assert await guard.round()
        await guard.monitor.settle()


@pytest.fixture
def world(clock):
    return SimulatedWorld("tenant-breach", clock=lambda: clock.now().timestamp())  # a cross-tenant access 3 min in


async def test_the_guard_journals_its_epoch_and_every_append_is_fenced_on_it(etcd1, plan, clock, world, tmp_path):
    await live(plan, clock, world, etcd1.endpoints, tmp_path)
    a = Bastion("bastion-a", 101, etcd1.endpoints, tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    started = journal(etcd1.endpoints)[-1]
    assert started.kind == "guard_started" and started.payload.epoch == a.guard.lease.epoch > 0
    assert a.engine.journal.fence == a.guard.lease.fence
    assert b'"epoch"' not in msgspec.json.encode(ev.GuardStarted(pid=1, host="h"))  # a kernel lock's: bytes unchanged
    await rounds(clock, a.guard, 3)
    assert a.guard.lease.valid_for() > 0 and not a.guard.deposed


async def test_a_standby_takes_over_after_the_ttl_and_the_paused_holder_appends_and_sends_nothing(
        etcd1, plan, clock, world, tmp_path, caplog):
    await live(plan, clock, world, etcd1.endpoints, tmp_path)
    a = Bastion("bastion-a", 101, etcd1.endpoints, tmp_path, plan, clock, world)
    b = Bastion("bastion-b", 202, etcd1.endpoints, tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    await rounds(clock, a.guard, 2)
    paused = time.monotonic()  # a's last renewal: it is paused from here (a GC, a frozen VM)
    took = await asyncio.wait_for(b.guard.acquire(wait=True), TTL_S + 5)
    print(f"standby took over {time.monotonic() - paused:.2f} s after the holder's last renewal (TTL {TTL_S} s)")
    assert took
    started = journal(etcd1.endpoints)[-1]
    assert started.kind == "guard_started" and started.payload.took_over == "101@bastion-a"
    assert started.payload.epoch == b.guard.epoch > a.guard.epoch
    before = len(journal(etcd1.endpoints))
    caplog.set_level(logging.INFO, "cockpit")
    out = await a.engine.kill("the paused holder wakes mid-round and pulls the kill")  # its re-check comes first
    assert not out.ok and "DEPOSED" in out.reasons[0]
    assert not await a.guard.round()  # the next round: deposed, it stops
    assert a.gateway.sent == [] and a.appended(journal(etcd1.endpoints)[before:]) == []
    said = [r.getMessage() for r in caplog.records if "DEPOSED: guard lease lost to" in r.getMessage()]
    assert said and f"guard@bastion-b (pid 202) (epoch {a.guard.epoch} < {b.guard.epoch}); not acting" in said[0]
    for _ in range(14):  # b guards on: the breach 3 minutes in is killed once, by b
        clock.advance(15)
        await b.guard.round()
        await b.monitor.settle()
    records = journal(etcd1.endpoints)
    assert [r.actor.host for r in records if r.kind == "kill_requested"] == ["bastion-b"]
    assert world.enabled is False and a.gateway.sent == [] and b.gateway.sent == ["set_enabled False"]
    assert verifies(etcd1.endpoints)


async def test_an_append_refused_by_the_fence_deposes_the_guard_and_nothing_is_kept_aside(
        etcd1, plan, clock, world, tmp_path):
    await live(plan, clock, world, etcd1.endpoints, tmp_path)
    a = Bastion("bastion-a", 101, etcd1.endpoints, tmp_path, plan, clock, world)
    b = Bastion("bastion-b", 202, etcd1.endpoints, tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    assert await asyncio.wait_for(b.guard.acquire(wait=True), TTL_S + 5)
    before = len(journal(etcd1.endpoints))
    assert a.engine.record(ev.Noted(text="written by a guard that does not know it was deposed")) is None
    assert "not appended: this writer's epoch" in a.engine.deposed
    assert not a.guard._acting() and a.guard.deposed.startswith("DEPOSED: guard lease lost to guard@bastion-b")
    assert len(journal(etcd1.endpoints)) == before and a.engine.held == []
    assert read_kept(a.state_dir) == ([], 0)


async def test_a_holder_cut_off_from_every_member_still_kills_on_a_breach_and_journals_it_late(
        etcd3, plan, clock, world, tmp_path, caplog):
    """One side of the trade-off: the store does not answer at all (every member hangs, for longer than
    the TTL): no other guard is visible, the guard kills at once, keeps the events aside, and journals
    them late when etcd answers again."""
    await live(plan, clock, world, etcd3.endpoints, tmp_path)
    a = Bastion("bastion-a", 101, etcd3.endpoints, tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    await rounds(clock, a.guard, 2)
    caplog.set_level(logging.INFO, "cockpit")
    for m in etcd3.members:
        m.stop()
    try:
        await rounds(clock, a.guard, 1)  # the renewal finds no member: the store is unreachable
        assert a.engine.store_down
        time.sleep(TTL_S + 0.5)  # past the lease's TTL by this host's clock
        assert a.guard.lease.valid_for() == 0
        killed = None
        for _ in range(12):
            began = time.monotonic()
            clock.advance(15)
            assert await a.guard.round()
            if killed is None and a.gateway.sent:
                killed = a.gateway.sent_at[0] - began
            await a.monitor.settle()
        assert a.gateway.sent == ["set_enabled False"] and world.enabled is False
        print(f"the kill reached the gateway {killed:.3f} s into its round with every etcd member hanging")
        kept = [k.payload.KIND for k in read_kept(a.state_dir)[0]]
        assert {"trigger_fired", "kill_requested", "kill_result"} <= set(kept)
    finally:
        for m in etcd3.members:
            m.cont()
    etcd3.wait_ready()
    assert await answered(clock, a.guard, lambda: not a.engine.held)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "STORE UNREACHABLE" in said and "pulling the kill all the same" in said
    records = journal(etcd3.endpoints)
    kinds = [r.kind for r in records]
    assert "journaled_late" in kinds and kinds.count("kill_requested") == 1
    assert kinds.index("journaled_late") < kinds.index("trigger_fired") < kinds.index("kill_requested")
    assert a.engine.held == [] and read_kept(a.state_dir) == ([], 0) and not a.guard.deposed
    assert verifies(etcd3.endpoints)


async def test_a_partitioned_holder_is_deposed_when_it_sees_the_other_side_took_over_and_journals_nothing(
        etcd3, plan, clock, world, tmp_path, caplog):
    """The other side of the trade-off: the holder talks to one member only, which hangs (a partition);
    the other side takes over after the TTL; when the holder sees etcd again it learns it was deposed:
    it appends nothing, sends nothing more, and sets aside what it kept (no process journals it)."""
    await live(plan, clock, world, etcd3.endpoints, tmp_path)
    cut = etcd3.members[0]
    a = Bastion("bastion-a", 101, [cut.url], tmp_path, plan, clock, world)
    b = Bastion("bastion-b", 202, [m.url for m in etcd3.members[1:]], tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    await rounds(clock, a.guard, 1)
    caplog.set_level(logging.INFO, "cockpit")
    cut.stop()
    try:
        standby = asyncio.ensure_future(b.guard.acquire(wait=True))
        for _ in range(2):  # a keeps judging, cut off; it notes the rollout's rounds aside
            await rounds(clock, a.guard, 1)
        assert a.engine.store_down
        a.engine.record(ev.Noted(text="noted while cut off"))
        assert await asyncio.wait_for(standby, TTL_S + 10)
        assert b.guard.epoch > a.guard.epoch
    finally:
        cut.cont()
    etcd3.wait_ready()
    taken = len(journal(etcd3.endpoints))
    assert not await answered(clock, a.guard, lambda: False)  # it renews: refused, the other side holds it: deposed
    assert a.guard.deposed.startswith("DEPOSED: guard lease lost to guard@bastion-b (pid 202)")
    for _ in range(14):
        clock.advance(15)
        await b.guard.round()
        await b.monitor.settle()
    records = journal(etcd3.endpoints)
    assert a.appended(records[taken:]) == [] and "noted while cut off" not in str([r.payload for r in records])
    assert a.gateway.sent == [] and b.gateway.sent == ["set_enabled False"]
    assert [r.actor.host for r in records if r.kind == "kill_requested"] == ["bastion-b"]
    assert not (a.state_dir / ASIDE).exists() and list(a.state_dir.glob("unjournaled.deposed-*.jsonl"))
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "STORE UNREACHABLE" in said and "are not journaled: set aside in" in said
    assert verifies(etcd3.endpoints)


async def test_a_lease_that_expired_with_no_other_guard_is_taken_again_on_a_new_epoch_and_the_guard_acts(
        etcd1, plan, clock, world, tmp_path):
    """A guard stands down only if another can take over: its lease expired (a pause past the TTL) and
    nobody took it, so the next renewal takes it again, journals it, and the guard goes on acting."""
    await live(plan, clock, world, etcd1.endpoints, tmp_path)
    a = Bastion("bastion-a", 101, etcd1.endpoints, tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    first = a.guard.epoch
    time.sleep(TTL_S + 1.5)  # paused past the TTL: etcd expires the lease and its key
    assert EtcdRoom(EtcdClient(etcd1.endpoints), tmp_path).guard_holder() is None
    await rounds(clock, a.guard, 1)
    assert a.guard.epoch > first and not a.guard.deposed
    again = [r for r in journal(etcd1.endpoints) if r.kind == "guard_started"][-1]
    assert again.payload.epoch == a.guard.epoch and again.payload.took_over == "101@bastion-a"
    told = narrate.say(again)  # its own lease again: no dead guard taken over from
    assert "taking over from dead guard" not in told and "expired (epoch" in told, told
    assert a.engine.journal.fence == a.guard.lease.fence
    await rounds(clock, a.guard, 12)  # the breach 3 minutes in: killed, on the new epoch
    assert a.gateway.sent == ["set_enabled False"] and world.enabled is False
    assert [r.kind for r in journal(etcd1.endpoints)].count("kill_requested") == 1
    assert verifies(etcd1.endpoints)


async def test_etcd_lost_mid_round_costs_the_kill_one_etcd_call_at_most(etcd3, plan, clock, world, tmp_path):
    """The store stops answering after the round's renewal, as the breach comes: the first append that
    finds no member marks the store down for the guard's engine, and the rest of the kill path (the
    epoch's re-check included) keeps its events at once instead of asking etcd again."""
    await live(plan, clock, world, etcd3.endpoints, tmp_path)
    a = Bastion("bastion-a", 101, etcd3.endpoints, tmp_path, plan, clock, world)
    assert await a.guard.acquire(wait=False)
    await rounds(clock, a.guard, 11)  # 2m45s: the cross-tenant access comes at 3m
    clock.advance(15)
    assert a.guard._renew() and not a.engine.store_down  # the round's renewal went through
    for m in etcd3.members:
        m.stop()
    try:
        began = time.monotonic()
        await a.monitor.poll()
        assert a.gateway.sent == ["set_enabled False"] and world.enabled is False
        print(f"the kill reached the gateway {a.gateway.sent_at[0] - began:.2f} s into the poll; one etcd call "
              f"finding no member takes {3 * a.client.timeout_s:g} s here (timeout x 3 endpoints)")
        assert a.engine.store_down
        kept = [k.payload.KIND for k in read_kept(a.state_dir)[0]]
        assert kept[:4] == ["trigger_breached", "trigger_fired", "kill_requested", "kill_result"], kept
    finally:
        for m in etcd3.members:
            m.cont()
    etcd3.wait_ready()
    assert await answered(clock, a.guard, lambda: not a.engine.held)
    kinds = [r.kind for r in journal(etcd3.endpoints)]
    assert a.engine.held == [] and kinds.count("kill_requested") == 1 and "journaled_late" in kinds
    assert verifies(etcd3.endpoints)
