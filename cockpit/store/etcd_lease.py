"""The guard lease on etcd, with fencing: one holder across bastions, an epoch that deposes a paused one.

`{prefix}/guard` is created, only if absent (txn: create_revision == 0), bound to an etcd lease of a
few poll intervals, its value the holder's identity (user, host, pid, since). The key's create_revision
is the holder's **epoch**: it only grows, since a new holder creates the key anew. The holder renews the
lease each round; every append it makes is conditional on the key's create_revision still being its
epoch (EtcdJournal.fenced), so a holder paused past the TTL (a GC, a frozen VM, a partition) cannot
append after a standby took over, and `still_holder` lets it re-check before a gateway call.

`{prefix}/guard-last` (no lease: it outlives every holder) is written in the same txn, so its
mod_revision is the last epoch anyone took. A holder that lost the lease takes it again only if that is
still its own epoch: if another guard held it in between (took over while this one was cut off, then
stopped), this one is deposed and journals nothing of what it kept aside.

A lock alone is no mutual exclusion (etcd-io/etcd#11457): the fence is what makes the stale holder's
writes fail; the gateway calls themselves stay idempotent (a kill, a re-assert of the same weight).
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

from cockpit.store.etcd_client import KV, Compare, EtcdClient, EtcdError, EtcdRefused, delete, get, put

TTL_S = 6  # a few guard poll intervals (etcd grants no less than 1.5 election timeouts: 2 s by default)


def guard_key(prefix: str) -> bytes:
    return f"{prefix.rstrip('/')}/guard".encode()


def last_key(prefix: str) -> bytes:
    """Who took the guard lease last; its mod_revision is that holder's epoch."""
    return f"{prefix.rstrip('/')}/guard-last".encode()


class EtcdGuardLease:
    """The guard lock on etcd: `try_acquire`, `release`, `held`, `holder`, like lease.GuardLease, and
    `keepalive` each round, `still_holder` before acting, `wait` for a standby, `epoch` for the fence."""

    read_only = False  # the file lease's read-only file system has no etcd counterpart

    def __init__(self, client: EtcdClient, prefix: str, identity: dict, *, ttl_s: int = TTL_S):
        self.client = client
        self.key = guard_key(prefix)
        self.last = last_key(prefix)
        self.identity = identity
        self.ttl_s = ttl_s
        self.epoch: int | None = None  # the guard key's create_revision while we hold it
        self.held_epoch: int | None = None  # the last epoch we held: taken again only if nobody took one since
        self.lease: int = 0
        self.previous: dict = {}  # the holder last seen before we took it (a standby's wait saw it go)
        self.lost: str | None = None  # why we no longer hold it, once we held it
        self._renewed_at = 0.0  # monotonic time the last successful renewal was sent
        self._granted_ttl = 0

    @property
    def held(self) -> bool:
        return self.epoch is not None

    @property
    def fence(self) -> tuple[bytes, int] | None:
        """(key, epoch) for EtcdJournal.fenced, or None when not held."""
        return (self.key, self.epoch) if self.epoch is not None else None

    def try_acquire(self) -> bool:
        """Take the guard lease if nobody holds it, and, once we held it, nobody took it since; never
        waits. True when we hold it. Raises EtcdError when etcd cannot be reached (then nobody can say
        who holds it)."""
        if self.epoch is not None:
            return True
        current = self.client.get(self.key)
        if current is not None:
            self.previous = _identity(current)
            if not cleared_stray(self.client, self.key, current):
                return False
        sent = time.monotonic()
        lease, granted = self.client.grant(self.ttl_s)
        value = json.dumps({**self.identity, "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode()
        try:
            ours_last = [] if self.held_epoch is None else [Compare(self.last, "mod", self.held_epoch)]
            res = self.client.txn([Compare(self.key, "create", 0), *ours_last],
                                  [put(self.key, value, lease), put(self.last, value)], [get(self.key), get(self.last)])
        except EtcdError:
            self._revoke(lease)
            raise
        if not res.succeeded:
            self._revoke(lease)
            if res.ranges and res.ranges[0]:
                self.previous = _identity(res.ranges[0][0])
            elif len(res.ranges) > 1 and res.ranges[1]:  # free, but another took it since our epoch
                since = res.ranges[1][0]
                self.previous = _identity(since)
                self.lost = (f"the guard lease was taken by {_who(self.previous)} (epoch {since.mod_revision}) "
                             f"after ours (epoch {self.held_epoch})")
            return False
        self.epoch, self.lease, self.lost = res.revision, lease, None  # created in this txn: create_revision
        self.held_epoch = self.epoch
        self._renewed_at, self._granted_ttl = sent, granted
        return True

    def keepalive(self) -> bool:
        """Renew the lease (each round). False when it is lost (expired, revoked): we are deposed and
        `lost` says why. Raises EtcdError when etcd cannot be reached: `valid_for` says how long the
        lease may still be ours by our own clock."""
        if self.epoch is None:
            return False
        sent = time.monotonic()
        ttl = self.client.keepalive(self.lease)
        if ttl <= 0:
            self._deposed(f"the lease expired or was revoked (epoch {self.epoch})")
            return False
        self._renewed_at, self._granted_ttl = sent, ttl
        return True

    def renew(self) -> bool:
        """The guard's renewal each round (the Lease's word for `keepalive`)."""
        return self.keepalive()

    def valid_for(self) -> float:
        """Seconds the lease is ours at least, counted from the last renewal sent (0 when not held)."""
        if self.epoch is None:
            return 0.0
        return max(0.0, self._renewed_at + self._granted_ttl - time.monotonic())

    def still_holder(self) -> bool:
        """Re-check, before a gateway call: the key exists and is the one we created (our epoch)."""
        if self.epoch is None:
            return False
        current = self.client.get(self.key)
        if current is None or current.create_revision != self.epoch:
            now = f"held since epoch {current.create_revision} by {_who(_identity(current))}" if current else "free"
            self._deposed(f"the guard lease is {now}, not ours (epoch {self.epoch})")
            return False
        return True

    def release(self) -> None:
        """Revoke the lease: the key goes with it, and a standby takes over at once."""
        if self.epoch is not None:
            lease, self.epoch, self.lease = self.lease, None, 0
            self._revoke(lease)

    def holder(self) -> dict | None:
        """Who holds the guard lease now (identity, epoch, lease), or None."""
        current = self.client.get(self.key)
        return {**_identity(current), "epoch": current.create_revision, "lease": current.lease} if current else None

    def wait(self, within_s: float) -> bool:
        """A standby: wait up to `within_s` for the guard key to go (its holder's lease expired or was
        revoked), then try to take it. True when we hold it."""
        deadline = time.monotonic() + within_s
        while not self.try_acquire():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            kvs, _, rev = self.client.range(self.key, keys_only=True)
            if not kvs:
                continue  # gone between the two reads: try again at once
            for event in self.client.watch(self.key, start_revision=rev + 1, within_s=left):
                if event.type == "DELETE":
                    break
        return True

    def _deposed(self, why: str) -> None:
        self.lost = why
        self.epoch, self.lease = None, 0

    def _revoke(self, lease: int) -> None:
        try:
            self.client.revoke(lease)
        except EtcdRefused:
            pass  # gone already
        except EtcdError:
            pass  # it expires within its TTL all the same


def cleared_stray(client: EtcdClient, key: bytes, current: KV) -> bool:
    """A lock key bound to no lease was put by hand (etcdctl put, a restore, someone with write access):
    no process keeps it alive, so it would never go and would hold off every guard or captain for good.
    Delete it, if it is still that value; True when it went (the lock can be taken now)."""
    if current.lease:
        return False
    return client.txn([Compare(key, "mod", current.mod_revision)], [delete(key)]).succeeded


def _identity(kv: KV) -> dict:
    try:
        doc = json.loads(kv.value)
        return doc if isinstance(doc, dict) else {}
    except ValueError:
        return {}


def _who(identity: dict) -> str:
    return f"{identity.get('user', '?')}@{identity.get('host', '?')} (pid {identity.get('pid', '?')})"


def identity(user: str, host: str) -> dict:
    """This process as a guard lease's holder."""
    return {"user": user, "host": host, "pid": os.getpid()}
