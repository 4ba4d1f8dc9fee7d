"""The guard lease on a real etcd: one holder, renewal, expiry, a standby's takeover with a larger epoch,
and a holder paused past its TTL (SIGSTOP) that resumes and can append nothing."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.core import events as ev
from cockpit.store.etcd_client import EtcdClient, EtcdUnreachable
from cockpit.store.etcd_journal import Deposed, EtcdJournal, verify
from cockpit.store.etcd_lease import EtcdGuardLease, guard_key
from tests.conftest import T0

PREFIX = "/cockpit/intelgraph/v0.1.0"
ROOT = Path(__file__).resolve().parents[2]


def _lease(etcd, who: str, ttl_s: int = 2) -> EtcdGuardLease:
    return EtcdGuardLease(EtcdClient(etcd.endpoints), PREFIX, {"user": who, "host": f"{who}-host", "pid": 1},
                          ttl_s=ttl_s)


def test_one_holder_at_a_time_and_a_release_frees_it_at_once(etcd1):
    a, b = _lease(etcd1, "alice"), _lease(etcd1, "bob")
    assert a.try_acquire() and a.held and a.epoch is not None
    assert not b.try_acquire() and not b.held
    assert b.previous["user"] == "alice"
    holder = b.holder()
    assert holder is not None and holder["user"] == "alice" and holder["epoch"] == a.epoch and holder["lease"] == a.lease
    assert a.still_holder()
    first = a.epoch
    a.release()
    assert not a.held and a.fence is None
    assert b.try_acquire() and b.epoch > first  # the epoch only grows
    assert not a.still_holder()


def test_keepalive_holds_it_past_the_ttl_and_without_it_the_lease_expires(etcd1):
    a = _lease(etcd1, "alice", ttl_s=2)
    assert a.try_acquire()
    for _ in range(8):  # 4 s: twice the TTL, renewed every half second
        time.sleep(0.5)
        assert a.keepalive()
    assert a.still_holder() and 0 < a.valid_for() <= 2
    time.sleep(3.5)  # no renewal for longer than the TTL
    assert not a.keepalive()
    assert not a.held and "expired" in (a.lost or "")
    assert _lease(etcd1, "bob").holder() is None


def test_a_standby_waits_while_the_holder_renews_and_takes_over_when_it_stops(etcd1):
    a, b = _lease(etcd1, "alice", ttl_s=2), _lease(etcd1, "bob", ttl_s=2)
    assert a.try_acquire()
    started = time.monotonic()
    assert not b.wait(0.5) and time.monotonic() - started < 1.5  # bounded, and nothing to take
    assert a.keepalive()
    stopped = time.monotonic()  # alice stops renewing (a dead guard)
    assert b.wait(10)
    took = time.monotonic() - stopped
    assert took < 2 + 1.0, took  # within the TTL (plus etcd's expiry check)
    assert b.epoch > a.epoch
    assert b.previous["user"] == "alice"
    assert not a.still_holder() and "bob@bob-host" in (a.lost or "")


HOLDER = """
import json, os, select, sys
from datetime import UTC, datetime
from cockpit.core import events as ev
from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_journal import Deposed, EtcdJournal
from cockpit.store.etcd_lease import EtcdGuardLease

endpoints, prefix, local = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
client = EtcdClient(endpoints)
actor = ev.Actor(user="guard-a", host="bastion-a", role="guard")
lease = EtcdGuardLease(client, prefix, {"user": "guard-a", "host": "bastion-a", "pid": os.getpid()}, ttl_s=2)
assert lease.try_acquire()
journal = EtcdJournal(client, prefix, local, actor=actor)
journal.fenced(*lease.fence)
journal.append(ev.GuardStarted(pid=os.getpid(), host="bastion-a"), actor=actor, ts=datetime.now(UTC))
print(json.dumps({"epoch": lease.epoch}), flush=True)
while True:
    ready, _, _ = select.select([sys.stdin], [], [], 0.3)
    if not ready:
        lease.keepalive()
        continue
    sys.stdin.readline()  # "act": a guard that resumes after a pause acts at once, before its next renewal
    try:
        journal.append(ev.KillRequested(reason="the paused guard's kill"), actor=actor, ts=datetime.now(UTC))
        print(json.dumps({"appended": True}), flush=True)
    except Deposed as e:
        print(json.dumps({"deposed": str(e)}), flush=True)
    print(json.dumps({"keepalive": lease.keepalive(), "lost": lease.lost}), flush=True)
    break
"""


def _line(proc: subprocess.Popen, within_s: float = 10) -> dict:
    ready, _, _ = select.select([proc.stdout], [], [], within_s)
    assert ready, "the holder said nothing"
    return json.loads(proc.stdout.readline())


def test_a_holder_paused_past_its_ttl_is_deposed_and_its_append_refused(etcd3, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, json.dumps(etcd3.endpoints), PREFIX, str(tmp_path / "a")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        old_epoch = _line(proc)["epoch"]
        standby = _lease(etcd3, "guard-b", ttl_s=2)
        assert not standby.try_acquire()
        os.kill(proc.pid, signal.SIGSTOP)  # a frozen VM: no renewals, no appends
        paused = time.monotonic()
        assert standby.wait(10)
        assert time.monotonic() - paused < 2 + 1.0
        assert standby.epoch > old_epoch and standby.previous["user"] == "guard-a"
        journal = EtcdJournal(standby.client, PREFIX, tmp_path / "b",
                              actor=ev.Actor(user="guard-b", host="bastion-b", role="guard"))
        journal.fenced(*standby.fence)
        journal.append(ev.GuardStarted(pid=2, host="bastion-b", reason="took over"), actor=journal.actor, ts=T0)

        proc.stdin.write("act\n")
        proc.stdin.flush()
        os.kill(proc.pid, signal.SIGCONT)
        said = _line(proc)
        assert "deposed" in said and f"epoch {old_epoch} is no longer current" in said["deposed"]
        assert _line(proc) == {"keepalive": False, "lost": f"the lease expired or was revoked (epoch {old_epoch})"}
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait(5)
    scan = verify(standby.client, PREFIX)
    assert scan.problem is None and scan.head is None
    assert [(r.actor.user, r.payload.KIND) for r in scan.records] == [("guard-a", "guard_started"),
                                                                       ("guard-b", "guard_started")]
    assert standby.still_holder() and standby.client.get(guard_key(PREFIX)).create_revision == standby.epoch


def test_a_holder_cut_off_from_etcd_cannot_renew_and_the_other_side_takes_over(etcd3, tmp_path):
    """A partition: the holder talks to one member only, and that member stops answering. The holder cannot
    say it lost the lease, but its own clock says it may no longer count on it; a standby that reaches the
    other two members takes over, and once the member answers again the old holder's append is refused."""
    cut = etcd3.members[0]
    guard_a = ev.Actor(user="guard-a", host="bastion-a", role="guard")
    holder = EtcdGuardLease(EtcdClient([cut.url], timeout_s=0.5), PREFIX, {"user": "guard-a"}, ttl_s=2)
    assert holder.try_acquire()
    journal = EtcdJournal(holder.client, PREFIX, tmp_path / "a", actor=guard_a)
    journal.fenced(*holder.fence)
    standby = EtcdGuardLease(EtcdClient([m.url for m in etcd3.members[1:]]), PREFIX, {"user": "guard-b"}, ttl_s=2)
    cut.stop()
    try:
        with pytest.raises(EtcdUnreachable, match=f"{cut.url}: timed out"):
            holder.keepalive()
        assert holder.held  # nobody told it otherwise
        assert standby.wait(15)
        assert holder.valid_for() == 0  # by its own clock the lease is over: it must not act on it
        assert standby.epoch > holder.epoch
    finally:
        cut.cont()
    holder.client = journal.client = EtcdClient([cut.url], timeout_s=5)
    with pytest.raises(Deposed):
        journal.append(ev.KillRequested(reason="the cut-off guard's kill"), actor=guard_a, ts=T0)
    assert not holder.keepalive() and not holder.held
    assert [r.payload.KIND for r in EtcdJournal(standby.client, PREFIX, readonly=True).records] == []


def test_a_lost_lease_is_taken_again_only_if_nobody_took_it_since(etcd1):
    """A holder whose lease expired (cut off, no renewal) takes it again when nobody took it in
    between; if another guard held it in between (took over, then stopped), the old holder's
    try_acquire is refused although the lease is free, and `lost` names who took it."""
    a = _lease(etcd1, "alice", ttl_s=2)
    assert a.try_acquire()
    first = a.epoch
    a.client.revoke(a.lease)  # expired, as after a partition longer than the TTL
    assert not a.keepalive() and not a.held
    assert a.try_acquire() and a.epoch > first  # nobody took it: taken again, a new epoch
    second = a.epoch
    a.client.revoke(a.lease)
    assert not a.keepalive()
    b = _lease(etcd1, "bob", ttl_s=2)
    assert b.try_acquire() and b.epoch > second  # the other side takes over...
    b.release()  # ...and stops: the lease is free again
    assert b.holder() is None
    assert not a.try_acquire() and not a.held
    assert a.previous["user"] == "bob"
    assert a.lost == f"the guard lease was taken by bob@bob-host (pid 1) (epoch {b.held_epoch}) after ours (epoch {second})"
    c = _lease(etcd1, "carol", ttl_s=2)
    assert c.try_acquire()  # a guard that never held it takes a free lease as before
