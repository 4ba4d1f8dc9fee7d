"""The store: where a rollout's journal, its locks and the guard's published round are kept, behind one interface.

`Store` says what the captain, the guard, the kill and the faces ask of it; `FileStore` keeps it all
in one state dir on this bastion (the modules of this package). Importing this module opens nothing
and loads none of them: `cockpit.store.chain` (a journal's lines and their chain, no file I/O) is the
part every store shares.

    the journal     append, read, follow, repair       journal.py (acting when unwritable: unwritable.py)
    verify          the chain, its end against the head verify.py, head.py, chain.py
    the locks       the guard lease, the captain lock   locks.py (their files' modes: statedir.py)
    the round       publish, read, the face's feed      published.py
    kept aside      events the journal would not take   kept.py

`EtcdStore` (etcd_store.py) is its sibling on etcd, for several bastions; session.open_store picks one by
the plan's `[state]`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cockpit.core.evaluation import Evaluation
    from cockpit.core.events import Actor, Payload, Record
    from cockpit.core.guardsight import GuardSight
    from cockpit.store.chain import Problem, Scan
    from cockpit.store.kept import KeptEvent


class JournalLike(Protocol):
    """What an engine and a guard use of a journal: its records, the new ones, an append, and the
    side file for what it would not take. `Journal` and `UnwritableJournal` are two of these."""

    @property
    def state_dir(self) -> Path: ...  # this host's dir: the kept events, guard.log, evidence
    @property
    def path(self) -> Path | str: ...  # where the journal is, for the words that name it (etcd:/prefix)
    @property
    def readonly(self) -> bool: ...  # an observer's: every write refused
    @property
    def remote(self) -> bool: ...  # across the network (etcd): a screen reads it on a thread, never waits on it
    @property
    def unanswered(self) -> str | None: ...  # why the last read got no answer from the store (None: it answered)
    @property
    def broken(self) -> str | None: ...  # why its chain or head does not verify (it is followed, not written)
    @property
    def quarantined(self) -> str | None: ...  # what an open or an append moved aside, said once
    @property
    def write_error(self) -> str | None: ...  # a repair or late journaling that failed on open
    @property
    def head_error(self) -> str | None: ...  # the head record could not be updated (the journal was)
    @property
    def torn(self) -> Problem | None: ...  # a dead writer's fragment, or junk, at its end
    @property
    def records(self) -> list[Record]: ...

    def poll(self) -> list[Record]: ...
    def append(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]: ...
    def journal_kept(self) -> list[Record]: ...
    def keep_aside(self, payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> Path: ...
    def close(self) -> None: ...


class Lease(Protocol):
    """The guard lease: one holder; `previous` names whom it took over from. A kernel lock is free the
    instant its holder dies and has no epoch; etcd's lease expires after its TTL unless renewed, and
    its epoch fences the holder's appends (`fence`) so a deposed holder can neither append nor act.
    `try_acquire`, `renew`, `still_holder` and `holder` raise when the store cannot be reached."""

    @property
    def held(self) -> bool: ...
    @property
    def previous(self) -> dict: ...
    @property
    def read_only(self) -> bool: ...  # held without the right to write (a read-only file system)
    @property
    def epoch(self) -> int | None: ...  # None for a kernel lock
    @property
    def fence(self) -> tuple[bytes, int] | None: ...  # (key, epoch) for the journal's fenced appends
    @property
    def lost(self) -> str | None: ...  # why it is no longer ours, once it was

    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...
    def renew(self) -> bool: ...  # each round: False once it is lost (a kernel lock: True while held)
    def still_holder(self) -> bool: ...  # before every gateway call: the epoch is still the current one
    def valid_for(self) -> float: ...  # seconds it is ours at least, by this host's clock (a kernel lock: inf)
    def holder(self) -> dict | None: ...  # who holds it now (with its epoch on etcd)


class CaptainHold(Protocol):
    """The captain lock once taken (`Store.captain_lock`): `took_over` names a holder that died holding it."""

    @property
    def took_over(self) -> dict | None: ...

    def release(self) -> None: ...


class Feed(Protocol):
    """A face's view of the guard: its latest published round, and what the face sees of it for itself."""

    def latest(self) -> Evaluation | None: ...
    def sight(self) -> GuardSight: ...


class Store(Protocol):
    """One rollout's store, in the operator's words. `state_dir` is this host's own dir (guard.log,
    evidence, the events kept aside) whatever keeps the journal."""

    state_dir: Path

    # -- the journal
    def started(self) -> bool: ...  # a journal is there: the captain started the rollout
    def journal(self, *, actor: Actor | None = None) -> JournalLike: ...  # writable: the captain, a command
    def reader(self) -> JournalLike: ...  # read-only: an observer, a follower, a replay
    def acting(self, *, salvage: bool = False) -> JournalLike: ...  # whatever the store allows: the kill, the guard
    def verify(self) -> Scan: ...  # every problem named by line, and the end against the head
    def writer_busy(self) -> bool: ...  # an append is in flight (a fragment at the end is no torn line yet)

    # -- the locks
    def guard_lease(self, identity: dict) -> Lease: ...
    def guard_holder(self) -> dict | None: ...  # who holds the guard lease now, by the kernel's (the store's) word
    def guarding(self) -> dict | None: ...  # the holder, when it is one that may act
    def captain_lock(self, *, user: str, host: str, pid: int, since: str) -> CaptainHold: ...  # taken, or refused
    def captain(self) -> dict | None: ...  # who holds the captain lock now

    # -- the guard's published round
    def publish(self, evaluation: Evaluation) -> None: ...  # raises OSError: the guard says it once
    def published(self) -> Evaluation | None: ...
    def feed(self) -> Feed: ...
    def guard_sight(self, holder: dict | None) -> GuardSight: ...  # what `status`, looking once, sees of the guard

    # -- what the journal would not take
    def kept(self) -> tuple[list[KeptEvent], int]: ...  # the kept events, and how many lines do not read
    def kept_records(self, head: str) -> list[Record]: ...  # as an engine folded them, for every face


class FileStore:
    """The store in one state dir on this bastion: journal.jsonl and journal.head, flock'd lock files,
    guard.json, unjournaled.jsonl (DESIGN.md: the bastion's permission model, store/statedir.py)."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)

    # -- the journal

    def started(self) -> bool:
        from cockpit.store.verify import JOURNAL

        return (self.state_dir / JOURNAL).exists()

    def journal(self, *, actor: Actor | None = None) -> JournalLike:
        from cockpit.store.journal import Journal

        return Journal(self.state_dir, actor=actor)

    def reader(self) -> JournalLike:
        from cockpit.store.journal import Journal

        return Journal(self.state_dir, readonly=True)

    def acting(self, *, salvage: bool = False) -> JournalLike:
        from cockpit.store.unwritable import acting_journal

        return acting_journal(self.state_dir, salvage=salvage)

    def verify(self) -> Scan:
        from cockpit.store.verify import verify

        return verify(self.state_dir)

    def writer_busy(self) -> bool:
        from cockpit.store.verify import writer_busy

        return writer_busy(self.state_dir)

    # -- the locks

    def guard_lease(self, identity: dict) -> Lease:
        from cockpit.store.locks import GuardLease

        return GuardLease(self.state_dir, identity)

    def guard_holder(self) -> dict | None:
        from cockpit.store.locks import guard_holder

        return guard_holder(self.state_dir)

    def guarding(self) -> dict | None:
        from cockpit.store.locks import guarding

        return guarding(self.state_dir)

    def captain_lock(self, *, user: str, host: str, pid: int, since: str) -> CaptainHold:
        from cockpit.store.locks import CaptainLock

        return CaptainLock(self.state_dir, user=user, host=host, pid=pid, since=since).acquire()

    def captain(self) -> dict | None:
        from cockpit.store.locks import read_captain

        return read_captain(self.state_dir)

    # -- the guard's published round

    def publish(self, evaluation: Evaluation) -> None:
        from cockpit.store.published import publish

        publish(self.state_dir, evaluation)

    def published(self) -> Evaluation | None:
        from cockpit.store.published import read_published

        return read_published(self.state_dir)

    def feed(self) -> Feed:
        from cockpit.store.published import GuardFeed

        return GuardFeed(self.state_dir)

    def guard_sight(self, holder: dict | None) -> GuardSight:
        from cockpit.store.published import guard_sight

        return guard_sight(self.state_dir, holder)

    # -- what the journal would not take

    def kept(self) -> tuple[list[KeptEvent], int]:
        from cockpit.store.kept import read_kept

        return read_kept(self.state_dir)

    def kept_records(self, head: str) -> list[Record]:
        from cockpit.store.kept import kept_records

        return kept_records(self.state_dir, head)


if TYPE_CHECKING:  # mypy proves the file store is a Store
    _: type[Store] = FileStore
