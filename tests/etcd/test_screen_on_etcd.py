"""A captain's screen on etcd when etcd stops answering (no quorum, every member hung): the screen's
event loop never waits on the store, the headline says RECORD UNREACHABLE and since when, and it
clears once etcd answers. Against a real etcd member, SIGSTOPped (connections hang, as without quorum)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cockpit.config import load_plan
from cockpit.desk import Desk
from cockpit.session import captain
from cockpit.store.etcd_journal import JournalUnreachable
from cockpit.store.etcd_store import EtcdFeed
from tests.etcd.test_etcd_store import PREFIX, etcd_plan
from tests.integration.test_guard_processes import wait_for


def test_a_screens_desk_on_etcd_goes_on_while_no_member_answers_and_says_record_unreachable(tmp_path, plan, etcd1):
    config = etcd_plan(tmp_path, "a", plan, etcd1.endpoints, timeout="1s")
    session = captain(load_plan(config), config, needs="journal")
    engine = session.engine
    desk = Desk(engine)
    member = etcd1.members[0]

    async def main() -> None:
        await desk.keep_up()
        assert desk.unanswered_since is None and desk.shown().model.headline.word == "PREFLIGHT"
        member.stop()
        try:
            reading = asyncio.ensure_future(desk.keep_up())
            for _ in range(5):
                await asyncio.sleep(0)  # the loop runs on: the read waits on a thread (1 s), not here
            assert not reading.done() and engine.journal.unanswered is None  # still waiting on etcd
            failed, _said = await reading
        finally:
            member.cont()
        assert isinstance(failed, JournalUnreachable) and "etcd" in str(failed)
        assert engine.journal.unanswered == str(failed)
        assert desk.unanswered_since is not None
        head = desk.shown().model.headline
        assert head.word == "RECORD UNREACHABLE" and head.role == "alarm"
        assert head.detail.startswith(f"no answer since {desk.unanswered_since:%H:%M:%S}Z; shown as last read")
        asked = []  # the store's calls from here (the real client, counted)
        call = session.store.client.call
        session.store.client.call = lambda *a, **k: asked.append(a[0]) or call(*a, **k)
        out = engine.note("written while etcd is silent")  # the kill's events take this way to its side file
        assert not out.ok and "not asked again before it answers a read" in out.reasons[0], out.reasons
        assert asked == []  # refused at once: an action (the kill) never waits on a store that did not answer
        session.store.client.call = call
        failed, _said = await desk.keep_up()  # etcd answers again: the headline is the rollout's own
        assert failed is None and engine.journal.unanswered is None and desk.unanswered_since is None
        assert desk.shown().model.headline.word == "PREFLIGHT"

    try:
        asyncio.run(main())
    finally:
        session.lock.release()
        engine.journal.close()


def test_a_feed_waits_only_for_its_first_look_then_answers_from_the_last_while_the_next_is_in_flight(
        tmp_path, plan, etcd1):
    """`status` reads what etcd holds (the first look is waited for); a screen asking many times a frame
    is answered from the last look while the next one waits on a member that does not answer."""
    config = etcd_plan(tmp_path, "a", plan, etcd1.endpoints, timeout="1s")
    session = captain(load_plan(config), config, needs="journal")
    ticks = iter(range(0, 1000, 10))  # a monotonic clock 10 s on at each look: every ask is due
    feed = EtcdFeed(session.store.client, PREFIX, monotonic=lambda: float(next(ticks)))
    member = etcd1.members[0]
    try:
        assert feed.latest() is None and feed._looking is None  # looked, on this thread: nothing published yet
        member.stop()
        try:
            assert feed.latest() is None  # answered at once from the last look ...
            assert feed._looking is not None and feed._looking.is_alive()  # ... while the next waits on etcd
            feed._looking.join(timeout=10)
        finally:
            member.cont()
        assert not feed._looking.is_alive()
    finally:
        session.lock.release()
        session.engine.journal.close()


def test_a_kill_with_every_member_hung_asks_etcd_once_at_open_then_goes_to_the_gateway(tmp_path, plan, etcd1, actor):
    """`cockpit kill` when etcd has no quorum: the open gets no answer (its one wait), and the kill's
    events go to this host's side file without asking etcd again, so the gateway is called at once."""
    from cockpit.clock import SystemClock
    from cockpit.engine import Engine
    from cockpit.store.etcd_client import EtcdClient
    from cockpit.store.etcd_store import EtcdStore, UnreachableJournal
    from tests.support import MemoryGateway

    store = EtcdStore(EtcdClient(etcd1.endpoints, timeout_s=0.5), PREFIX, tmp_path / "a", lease_ttl_s=10)
    member = etcd1.members[0]
    member.stop()
    try:
        acting = store.acting(salvage=True)  # the one wait: the open
        assert isinstance(acting, UnreachableJournal) and acting.unanswered == acting.broken
        asked = []
        call = store.client.call
        store.client.call = lambda *a, **k: asked.append(a[0]) or call(*a, **k)
        gateway = MemoryGateway()
        gateway.weight = 5
        engine = Engine(plan, acting, clock=SystemClock(), actor=actor, gateway=gateway)
        out = asyncio.run(engine.kill("p95 while etcd is silent"))
    finally:
        member.cont()
    assert gateway.calls[0] == "set_enabled False" and gateway.enabled is False  # pulled ...
    assert asked == []  # ... without one more call to etcd
    assert out.unjournaled and any("STORE UNREACHABLE" in r or "no endpoint answered" in r for r in out.reasons)
    kinds = [k.payload.KIND for k in store.kept()[0]]
    assert kinds[:2] == ["kill_requested", "kill_result"], kinds


@pytest.mark.parametrize("taken_meanwhile", [False, True], ids=["nobody-took-it", "another-captain-took-it"])
def test_a_captain_lock_lost_to_a_partition_longer_than_its_ttl_is_taken_again_unless_another_took_it(
        etcd1, taken_meanwhile):
    """The lab found it: etcd without quorum for longer than the lock's TTL, and the captain's screen no
    longer held the captain lock once etcd answered (guards at preflight then stopped, "no captain at the
    screen", and a second captain could have started). The lock is taken again under a new lease if
    nobody took it since; if another captain did, it stays theirs and this one says it lost it."""
    from cockpit.store.etcd_client import EtcdClient
    from cockpit.store.etcd_store import EtcdCaptainLock, EtcdStore
    from cockpit.store.locks import CaptainLockHeld

    store = EtcdStore(EtcdClient(etcd1.endpoints, timeout_s=0.5), PREFIX, Path("/nonexistent"), lease_ttl_s=2)
    alice = {"user": "alice", "host": "bastion-a", "pid": 101, "since": "2026-12-05T14:00:00+00:00"}
    bob = {"user": "bob", "host": "bastion-b", "pid": 202, "since": "2026-12-05T14:05:00+00:00"}
    held = EtcdCaptainLock(store.client, PREFIX, alice, ttl_s=2).acquire()
    first = held.lease
    member = etcd1.members[0]
    member.stop()
    try:
        import time

        time.sleep(3.5)  # past the TTL, with no renewal reaching etcd
        if taken_meanwhile:
            held._stop.set()  # alice's renewals held back (still inside the partition) while bob takes the lock
            held._thread.join(5)
    finally:
        member.cont()
    wait_for("etcd expires the lease", lambda: store.client.time_to_live(first) < 0, 30)
    if taken_meanwhile:
        other = EtcdCaptainLock(store.client, PREFIX, bob, ttl_s=2).acquire()
        held._stop.clear()
        held._keep()  # one pass: the lease expired, the lock is bob's
        assert held.lost is not None and "another took it" in held.lost
        assert store.captain()["user"] == "bob"
        other.release()
    else:
        wait_for("the lock is taken again", lambda: held.lease != first and store.captain() == alice, 30)
        assert held.lost is None and store.client.time_to_live(held.lease) > 0
        with pytest.raises(CaptainLockHeld):  # a second captain is refused again
            EtcdCaptainLock(store.client, PREFIX, bob, ttl_s=2).acquire()
        held.release()
