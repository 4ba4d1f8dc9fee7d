"""The store on etcd: one rollout's journal, guard lease, captain lock and published round under one key
prefix that every bastion of the group reaches; guard.log, evidence and kept events stay in this host's dir.

Keys under the prefix, besides the journal's (etcd_journal.py) and the guard lease's (etcd_lease.py):
    {prefix}/captain         the captain's identity, bound to a lease its process keeps alive
    {prefix}/captain.last    the last captain's identity until it releases cleanly (whom the next took over from)
    {prefix}/published       the guard's latest round (guard.json's JSON), bound to a lease granted with it

A face believes nothing the round says about time: its age is the published lease's (granted TTL less
what is left, by the etcd leader's clock: a value's owner cannot set it) and, for a face that keeps
looking, its own monotonic clock since the value last changed (its mod_revision), the older of the two.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.core.evaluation import Evaluation
from cockpit.core.events import GENESIS, Actor, Payload, Record, make_record
from cockpit.core.guardsight import GuardSight
from cockpit.store.chain import JournalError, Scan, checked_line
from cockpit.store.etcd_client import KV, Compare, EtcdClient, EtcdError, delete, get, put
from cockpit.store.etcd_journal import ASIDE_LOCK, EtcdJournal, head_key
from cockpit.store.etcd_journal import verify as verify_chain
from cockpit.store.etcd_lease import EtcdGuardLease, cleared_stray, guard_key
from cockpit.store.kept import ASIDE, KeptEvent, keep, kept_records, read_kept
from cockpit.store.locks import CaptainLockHeld
from cockpit.store.statedir import LOCK_MODE, StateDirError, make_dir, open_file

if TYPE_CHECKING:
    from cockpit.store import CaptainHold, Feed, JournalLike, Lease, Store

PUBLISHED_TTL_S = 3600  # a published round's lease: its age is read from it; a round older than this is gone
SEEN_FOR_S = 0.5  # a feed asks etcd at most this often (a screen asks its clock many times a frame)


class EtcdStoreError(JournalError):
    """etcd could not be read or written for what a face or a command asked; names the endpoints."""


def captain_key(prefix: str) -> bytes:
    return f"{prefix}/captain".encode()


def last_captain_key(prefix: str) -> bytes:
    return f"{prefix}/captain.last".encode()


def published_key(prefix: str) -> bytes:
    return f"{prefix}/published".encode()


class EtcdStore:
    """One rollout's store on etcd (`[state] store = "etcd"`): the client (endpoints, auth, TLS resolved by
    the session), the key prefix, this host's state dir, and the guard lease's TTL in seconds."""

    # what becomes of junk put under the journal's keys: an append is one txn, so nothing tears and
    # nothing is moved aside; the journal takes no more events until someone deletes the key
    garbage_fate = "nothing more is appended until that key is deleted (run `cockpit verify`)"

    def __init__(self, client: EtcdClient, prefix: str, state_dir: Path, *, lease_ttl_s: int):
        self.client = client
        self.prefix = prefix.rstrip("/")
        self.state_dir = Path(state_dir)
        self.lease_ttl_s = lease_ttl_s
        self.where = f"etcd:{self.prefix}"

    def _get(self, key: bytes, what: str) -> KV | None:
        try:
            return self.client.get(key)
        except EtcdError as e:
            raise EtcdStoreError(f"{self.where}: {what}: {e}") from None

    # -- the journal

    def started(self) -> bool:
        return self._get(head_key(self.prefix), "reading the journal's head") is not None

    def journal(self, *, actor: Actor | None = None) -> JournalLike:
        return _Journal(self.client, self.prefix, self.state_dir, actor=actor)

    def reader(self) -> JournalLike:
        return _Reader(self.client, self.prefix, self.state_dir)

    def acting(self, *, salvage: bool = False) -> JournalLike:
        """The journal, or one that reads nothing yet when etcd cannot be reached: the kill never waits
        on the store; what it appends is kept aside here and journaled once etcd answers."""
        try:
            return _Journal(self.client, self.prefix, self.state_dir, salvage=salvage)
        except JournalError as e:
            return UnreachableJournal(lambda: _Journal(self.client, self.prefix, self.state_dir, salvage=salvage),
                                      self.state_dir, self.where, str(e))

    def verify(self) -> Scan:
        return verify_chain(self.client, self.prefix)

    def writer_busy(self) -> bool:
        return False  # an append is one txn: no fragment is ever seen

    # -- the locks

    def guard_lease(self, identity: dict) -> Lease:
        return EtcdGuardLease(self.client, self.prefix, identity, ttl_s=self.lease_ttl_s)

    def guard_holder(self) -> dict | None:
        kv = self._get(guard_key(self.prefix), "reading the guard lease")
        if kv is None or not kv.lease:
            return None  # a key bound to no lease is no process's: the next guard clears it
        return {**_identity(kv), "epoch": kv.create_revision, "lease": kv.lease, "outsider": False}

    def guarding(self) -> dict | None:
        return self.guard_holder()  # only a user whose role may write can hold the key

    def captain_lock(self, *, user: str, host: str, pid: int, since: str) -> CaptainHold:
        return EtcdCaptainLock(self.client, self.prefix, {"user": user, "host": host, "pid": pid, "since": since},
                               ttl_s=self.lease_ttl_s).acquire()

    def captain(self) -> dict | None:
        kv = self._get(captain_key(self.prefix), "reading the captain lock")
        return _identity(kv) if kv is not None else None

    # -- the guard's published round

    def publish(self, evaluation: Evaluation) -> None:
        """The round, bound to a lease of its own (its age, for every face); the last round's lease revoked."""
        value = json.dumps(evaluation.to_json(), separators=(",", ":")).encode()
        key = published_key(self.prefix)
        try:
            lease, _ = self.client.grant(PUBLISHED_TTL_S)
            res = self.client.txn([], [get(key), put(key, value, lease)])
        except EtcdError as e:
            raise OSError(f"{self.where}: publishing the round: {e}") from None
        before = res.ranges[0][0].lease if res.ranges and res.ranges[0] else 0
        if before:
            try:
                self.client.revoke(before)
            except EtcdError:
                pass  # it expires all the same

    def published(self) -> Evaluation | None:
        try:
            kv = self.client.get(published_key(self.prefix))
        except EtcdError:
            return None
        return _evaluation(kv.value) if kv is not None else None

    def feed(self) -> Feed:
        return EtcdFeed(self.client, self.prefix)

    def guard_sight(self, holder: dict | None) -> GuardSight:
        pid = holder.get("pid") if holder else None
        try:
            kv = self.client.get(published_key(self.prefix))
            age = _lease_age(self.client, kv) if kv is not None else None
        except EtcdError:
            age = None
        return GuardSight(pid if isinstance(pid, int) else None, age)

    # -- what the journal would not take: this host's side file

    def kept(self) -> tuple[list[KeptEvent], int]:
        return read_kept(self.state_dir)

    def kept_records(self, head: str) -> list[Record]:
        return kept_records(self.state_dir, head)


def _identity(kv: KV) -> dict:
    try:
        doc = json.loads(kv.value)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _evaluation(value: bytes) -> Evaluation | None:
    try:
        return Evaluation.from_json(json.loads(value))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _lease_age(client: EtcdClient, kv: KV) -> float | None:
    """Seconds since the round was published, by its lease (granted TTL less the TTL left)."""
    if not kv.lease:
        return None
    answer = client.call("/v3/lease/timetolive", {"ID": str(kv.lease)}, "lease time-to-live")
    left, granted = int(answer.get("TTL", -1)), int(answer.get("grantedTTL", 0))
    return float(max(0, granted - left)) if left >= 0 and granted else None


class _Journal(EtcdJournal):
    """The etcd journal as a store opens it: always with this host's dir (a JournalLike's state_dir)."""

    state_dir: Path


class _Reader(_Journal):
    """An observer's journal: read-only, with this host's dir to name (the engine follows its side file)."""

    def __init__(self, client: EtcdClient, prefix: str, state_dir: Path):
        super().__init__(client, prefix, readonly=True)
        self.state_dir = state_dir


class EtcdFeed:
    """A face's view of the guard on etcd: the round re-read only when its mod_revision moved, the guard
    lease's holder, and the round's age: the older of its lease's age and this face's monotonic clock
    since it first saw the value as it is. etcd out of reach: the last sight, getting older.

    Only the first look is waited for (a one-shot `status` says what etcd holds); after it, each look
    runs on a thread of its own, one at a time, and `latest`/`sight` answer from the last one at once:
    a screen asks many times a frame, and a store without quorum answers in seconds or not at all."""

    def __init__(self, client: EtcdClient, prefix: str, *, monotonic=time.monotonic):
        self.client, self.prefix, self.monotonic = client, prefix.rstrip("/"), monotonic
        self._latest: Evaluation | None = None
        self._seen: tuple[int, float] | None = None  # (the value's mod_revision, when we first saw it so)
        self._pid: int | None = None
        self._lease_age: float | None = None
        self._asked = -SEEN_FOR_S
        self._looked = False
        self._looking: threading.Thread | None = None  # the look in flight, after the first

    def _look(self) -> None:
        now = self.monotonic()
        if now - self._asked < SEEN_FOR_S:
            return
        self._asked = now
        if not self._looked:
            self._looked = True
            self._look_now(now)
        elif self._looking is None or not self._looking.is_alive():
            self._looking = threading.Thread(target=self._look_now, args=(now,), name="etcd-feed", daemon=True)
            self._looking.start()

    def _look_now(self, now: float) -> None:
        try:
            res = self.client.txn([], [get(published_key(self.prefix)), get(guard_key(self.prefix))])
            round_kv = res.ranges[0][0] if res.ranges[0] else None
            holder = res.ranges[1][0] if res.ranges[1] else None
            self._lease_age = _lease_age(self.client, round_kv) if round_kv is not None else None
        except EtcdError:
            return
        pid = _identity(holder).get("pid") if holder is not None else None
        self._pid = pid if isinstance(pid, int) else None
        if round_kv is None:
            self._seen = None
            return
        if self._seen is None or self._seen[0] != round_kv.mod_revision:
            fresh = _evaluation(round_kv.value)
            if fresh is not None:
                self._latest = fresh
            self._seen = (round_kv.mod_revision, now)

    def latest(self) -> Evaluation | None:
        self._look()
        return self._latest

    def sight(self) -> GuardSight:
        self._look()
        if self._seen is None:
            return GuardSight(self._pid, None)
        ages = [self.monotonic() - self._seen[1]] + ([self._lease_age] if self._lease_age is not None else [])
        return GuardSight(self._pid, max(0.0, *ages))


class EtcdCaptainLock:
    """Only one captain per prefix, from any bastion: `{prefix}/captain` created only if absent, bound to
    a lease a daemon thread of this process keeps alive, so a dead captain's lock goes within the TTL."""

    def __init__(self, client: EtcdClient, prefix: str, identity: dict, *, ttl_s: int):
        self.client, self.prefix, self.identity, self.ttl_s = client, prefix.rstrip("/"), identity, ttl_s
        self.took_over: dict | None = None
        self.lost: str | None = None  # why the lock went while held (its lease expired: etcd out of reach)
        self.lease = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, *, again: bool = True) -> EtcdCaptainLock:
        """Taken, or CaptainLockHeld naming the holder; JournalError when etcd cannot be reached."""
        key, last = captain_key(self.prefix), last_captain_key(self.prefix)
        value = json.dumps(self.identity).encode()
        where = f"etcd:{self.prefix}"
        try:
            lease, _ = self.client.grant(self.ttl_s)
            res = self.client.txn([Compare(key, "create", 0)], [get(last), put(key, value, lease), put(last, value)],
                                  [get(key)])
        except EtcdError as e:
            raise EtcdStoreError(f"{where}: taking the captain lock: {e}") from None
        if not res.succeeded:
            self._revoke(lease)
            current = res.ranges[0][0] if res.ranges and res.ranges[0] else None
            try:
                if current is not None and again and cleared_stray(self.client, key, current):
                    return self.acquire(again=False)  # a key no process keeps: nobody holds the lock
            except EtcdError as e:
                raise EtcdStoreError(f"{where}: taking the captain lock: {e}") from None
            holder = _identity(current) if current is not None else {}
            raise CaptainLockHeld(holder or {"user": "?", "host": "?", "pid": "?"})
        previous = _identity(res.ranges[0][0]) if res.ranges and res.ranges[0] else {}
        if previous.get("pid"):
            self.took_over = previous  # its holder's lease expired without a release
        self.lease = lease
        self._thread = threading.Thread(target=self._keep, name="captain-lock", daemon=True)
        self._thread.start()
        return self

    def _keep(self) -> None:
        while not self._stop.wait(max(0.5, self.ttl_s / 3)):
            try:
                if self.client.keepalive(self.lease) <= 0 and not self._retake():
                    self.lost = f"the captain lock's lease expired (etcd:{self.prefix}/captain) and another took it"
                    return
            except EtcdError:
                continue  # the lease may still be ours: the next renewal tries again

    def _retake(self) -> bool:
        """The lease expired while etcd was out of reach (a partition longer than the TTL): take the lock
        again under a new lease if nobody took it since (`captain.last` still names this captain)."""
        key, last = captain_key(self.prefix), last_captain_key(self.prefix)
        value = json.dumps(self.identity).encode()
        lease, _ = self.client.grant(self.ttl_s)
        res = self.client.txn([Compare(key, "create", 0), Compare(last, "value", value)], [put(key, value, lease)])
        if not res.succeeded:
            self._revoke(lease)
            return False
        self.lease = lease
        return True

    def release(self) -> None:
        """Revoke the lease (the key goes with it) and clear the last holder: the next captain took over from nobody."""
        if not self.lease:
            return
        self._stop.set()
        lease, self.lease = self.lease, 0
        try:
            self.client.txn([Compare(last_captain_key(self.prefix), "value", json.dumps(self.identity).encode())],
                            [delete(last_captain_key(self.prefix))])
        except EtcdError:
            pass
        self._revoke(lease)

    def _revoke(self, lease: int) -> None:
        try:
            self.client.revoke(lease)
        except EtcdError:
            pass  # it expires within its TTL all the same


class UnreachableJournal:
    """The journal a kill or a guard acts on when etcd cannot be reached at open (store/unwritable.py's
    sibling): it reads nothing yet (`broken` says why, so the kill acts on no events: a needless kill
    costs nothing), keeps every event aside in this host's side file, and becomes the etcd journal,
    with every event it holds, as soon as etcd answers."""

    readonly = False  # an engine acts on it: its events are kept, not refused
    unreachable = True  # what the kill and the guard say: STORE UNREACHABLE
    remote = True

    def __init__(self, opener, state_dir: Path, where: str, why: str):
        self.opener = opener
        self.state_dir = Path(state_dir)
        self.path = where
        self.why = why
        self.broken: str | None = why
        self.write_error: str | None = why
        self.quarantined: str | None = None
        self.head_error: str | None = None
        self.torn = None
        self._journal: EtcdJournal | None = None
        self._unseen: list[Record] = []  # what the journal held when it opened: not yet handed to the engine
        self._opening = threading.Lock()  # a screen's poll on a thread and an append here open it once
        self._unanswered: str | None = why  # the open got no answer: a kill's events go aside without asking again

    @property
    def records(self) -> list[Record]:
        return self._journal.records if self._journal is not None else []

    def _open(self) -> EtcdJournal:
        with self._opening:
            if self._journal is None:
                try:
                    self._journal = self.opener()
                except JournalError as e:
                    self.write_error = str(e)
                    raise
                self.broken = self._journal.broken
                self.write_error = self._journal.write_error
                self._unseen = list(self._journal.records)
            return self._journal

    def _handed(self, records: list[Record]) -> list[Record]:
        unseen, self._unseen = self._unseen, []
        return unseen + records

    @property
    def unanswered(self) -> str | None:
        """Why its open or its last poll got no answer (a screen's or a command's engine then keeps its events
        aside at once; a guard's asks again through its lease)."""
        return self._journal.unanswered if self._journal is not None else self._unanswered

    def poll(self) -> list[Record]:
        try:
            journal = self._open()
        except JournalError as e:
            self._unanswered = str(e)
            return []
        self._unanswered = None
        return self._handed(journal.poll())

    def append(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]:
        others, record = self._open().append(payload, actor=actor, ts=ts)
        return self._handed(others), record

    def journal_kept(self) -> list[Record]:
        return self._handed(self._open().journal_kept())

    def keep_aside(self, payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> Path:
        """Into this host's side file, with no word from etcd (as EtcdJournal.keep_aside does)."""
        checked_line(make_record(seq=1, ts=ts, actor=actor, payload=payload, prev=GENESIS),
                     f"{self.state_dir / ASIDE}: nothing kept aside")
        try:
            make_dir(self.state_dir)
            fd, _ = open_file(self.state_dir / ASIDE_LOCK, os.O_RDWR | os.O_CREAT, LOCK_MODE,
                              "taking the side file's lock")
        except StateDirError as e:
            raise JournalError(str(e)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return keep(self.state_dir, payload, actor=actor, ts=ts, error=error, pseq=pseq)
        except StateDirError as e:
            raise JournalError(str(e)) from None
        except OSError as e:
            raise JournalError(f"{self.state_dir / ASIDE}: cannot keep the event aside either: "
                               f"{e.strerror or e}") from None
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


if TYPE_CHECKING:  # mypy proves the etcd store is a Store
    _: type[Store] = EtcdStore
