"""The journal on etcd: the file journal's lines, one key per event, each append one compare-and-swap on a head key.

Keys under the prefix:
    {prefix}/journal/{seq:020d}   the event's line, byte for byte as the file journal writes it (hash, chain, "\\n")
    {prefix}/head                 {"seq": n, "hash": "<hash of event n>"}

An append is one txn: if the head key's mod_revision is still the one this journal last read (and, when
fenced, the guard key's create_revision is still the writer's epoch), put the event and the head; else
read what the other writer appended and try again on the new head. So two writers never fork the chain,
and an append is acknowledged only once etcd has committed it to a quorum.

Reading is a paginated range over the journal keys at one revision; a poll is a range from the next seq
(one bounded request, the same on any member after a failover, no stream to keep open between rounds);
`follow` waits on a watch from the next revision for a face that wants to block. The lines are checked
by the file journal's own `scan_bytes`, so `verify` is the same code on both backends.

When etcd cannot be reached, an append raises JournalError as a full disk does: the engine keeps the
event aside in the local side file (unjournaled.py) and the next append that goes through journals it late.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from cockpit.core.events import GENESIS, Actor, Payload, Record, make_record
from cockpit.store.chain import (
    Deposed,
    JournalError,
    Problem,
    ReadOnlyJournal,
    Scan,
    StoreUnreachable,
    checked_line,
    encode_line,
    scan_bytes,
)
from cockpit.store.etcd_client import (
    Compare,
    EtcdClient,
    EtcdError,
    EtcdRefused,
    EtcdUnreachable,
    get,
    prefix_end,
    put,
)
from cockpit.store.head import HEADED, Head, compare
from cockpit.store.journal import default_actor
from cockpit.store.kept import ASIDE, clear, keep, read_kept, write_late
from cockpit.store.statedir import LOCK_MODE, StateDirError, make_dir, open_file

PAGE = 5000  # events per range request (a replay: fewer, bigger answers)
APPEND_WITHIN_S = 30.0  # an append that lost this long to other writers gives up (JournalError)
ASIDE_LOCK = "unjournaled.lock"  # the local side file's lock (several processes of one host keep events aside)

log = logging.getLogger("cockpit.store.etcd")


def journal_base(prefix: str) -> bytes:
    """What every event's key starts with."""
    return f"{prefix}/journal/".encode()


def journal_key(prefix: str, seq: int) -> bytes:
    return f"{prefix}/journal/{seq:020d}".encode()


def head_key(prefix: str) -> bytes:
    return f"{prefix}/head".encode()


def _head_value(seq: int, digest: str) -> bytes:
    return json.dumps({"seq": seq, "hash": digest}).encode()


def _read_head(value: bytes, where: str) -> Head:
    try:
        doc = json.loads(value)
        return Head(int(doc["seq"]), str(doc["hash"]))
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        raise JournalError(f"{where}: not a head record ({len(value)} bytes)") from None


class EtcdJournal:
    """One rollout's journal on etcd, with the surface of journal.Journal that the engine, the guard and
    the session use (records, poll, append, journal_kept, keep_aside, close, readonly, broken, torn).

    `local_dir`: this host's own dir for the side file (events kept while etcd cannot be reached);
    None for a read-only face. `fence`: (key, epoch) — every append is conditional on that key's
    create_revision being the epoch (the guard lease's; set it with `fenced`)."""

    remote = True  # every read may wait on the network: a screen reads it on a thread
    unanswered: str | None = None  # why the last poll got no answer from etcd (a screen says RECORD UNREACHABLE)

    def __init__(self, client: EtcdClient, prefix: str, local_dir: Path | None = None, *, readonly: bool = False,
                 actor: Actor | None = None, salvage: bool = False, page: int = PAGE):
        self.client = client
        self.prefix = prefix.rstrip("/")
        self.path = f"etcd:{self.prefix}"  # how messages name the journal
        self.state_dir = Path(local_dir) if local_dir is not None else None  # the side file's dir (engine follows it)
        self.readonly = readonly
        self.actor = actor or default_actor()
        self.page = page
        self.broken: str | None = None
        self.quarantined: str | None = None  # nothing to quarantine: a txn is never torn
        self.torn: Problem | None = None
        self.head_error: str | None = None
        self.write_error: str | None = None
        self.fence: tuple[bytes, int] | None = None
        self._records: list[Record] = []
        self._top, self._last_hash = 0, GENESIS
        self._head_rev = 0  # the head key's mod_revision as last read (0: no head yet)
        self._rev = 0  # the store revision of the last read
        self._said: str | None = None
        self._lock = threading.Lock()  # one append or poll at a time in this process
        self._aside_fd = -1
        if not readonly:
            if self.state_dir is None:
                raise JournalError(f"{self.path}: a writable etcd journal needs a local dir for the side file")
            try:
                make_dir(self.state_dir)
                self._aside_fd, _ = open_file(self.state_dir / ASIDE_LOCK, os.O_RDWR | os.O_CREAT, LOCK_MODE,
                                              "taking the side file's lock")
            except StateDirError as e:
                raise JournalError(str(e)) from None
        try:
            self._read_new()
        except JournalError as e:
            if not salvage or isinstance(e, JournalUnreachable):
                raise
            self.broken = str(e)
            return
        if not readonly:
            try:
                with self._aside():
                    self._journal_kept()
            except JournalError as e:
                self.write_error = str(e)  # reading works; the next append tries again

    def fenced(self, key: bytes | None, epoch: int = 0) -> None:
        """Make every append conditional on `key`'s create_revision being `epoch` (None: unfenced)."""
        self.fence = (key, epoch) if key is not None else None

    # -- reading ---------------------------------------------------------------------------------

    @property
    def records(self) -> list[Record]:
        return self._records

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    @property
    def revision(self) -> int:
        """The store revision this journal has read up to (a watch from the next one misses nothing)."""
        return self._rev

    def poll(self) -> list[Record]:
        """New events appended since we last looked (by anyone). A trouble is raised once (JournalError
        naming it), not at every poll; a broken journal's poll returns nothing."""
        if self.broken:
            return []
        try:
            with self._lock:
                new = self._read_new()
        except JournalError as e:
            self.unanswered = str(e) if isinstance(e, StoreUnreachable) else None
            if str(e) == self._said and not self.broken:
                return []
            self._said = str(e)
            raise
        self._said = self.unanswered = None
        return new

    def follow(self, within_s: float) -> list[Record]:
        """Wait up to `within_s` for events after what was read (a watch from the next revision), then read them."""
        if self.broken:
            return []
        try:
            base = journal_base(self.prefix)
            self.client.watch(base, prefix_end(base), start_revision=self._rev + 1, within_s=within_s)
        except EtcdRefused:
            pass  # compacted past our revision: the range below reads by seq all the same
        except EtcdUnreachable as e:
            raise JournalUnreachable(f"{self.path}: following the journal: {e}") from None
        return self.poll()

    def _read_new(self) -> list[Record]:
        """The events past the last one read, and the head, at one revision; checked as the file journal
        checks its lines. A problem marks the journal broken (nothing more is appended) and raises."""
        end = prefix_end(journal_base(self.prefix))
        start = journal_key(self.prefix, self._top + 1)
        try:
            res = self.client.txn([], [get(head_key(self.prefix)), get(start, end, limit=self.page)])
            pairs = [(kv.key, kv.value) for kv in res.ranges[1]]
            rev = res.revision
            if res.more[1] and pairs:
                pairs += _fetch(self.client, journal_base(self.prefix), pairs[-1][0] + b"\0", end, rev, self.page)
        except EtcdUnreachable as e:
            raise JournalUnreachable(f"{self.path}: cannot read: {e}") from None
        except EtcdError as e:
            raise JournalError(f"{self.path}: cannot read: {e}") from None
        head_kv = res.ranges[0][0] if res.ranges[0] else None
        self._rev = rev
        if not pairs and head_kv is not None and head_kv.mod_revision == self._head_rev:
            return []
        scan = scan_bytes(b"".join(value for _, value in pairs), start_seq=self._top + 1, prev_hash=self._last_hash,
                          first_line=self._top + 1)
        problems = list(scan.problems)
        if misplaced := _misplaced(pairs[: len(scan.records)], self.prefix, self._top + 1):
            problems.append(misplaced)
        if problems:
            more_ = f"; and {len(problems) - 1} more problems after it" if len(problems) > 1 else ""
            self.broken = f"{self.path}: {problems[0]}{more_} (run `cockpit verify`)"
            salvaged = [r for r in scan.salvaged if r.seq > self._top]  # every line that still reads, as salvage
            self._records.extend(salvaged)  # opens a broken file journal: the kill needs a state to act on
            if salvaged:
                self._top, self._last_hash = salvaged[-1].seq, salvaged[-1].hash
            raise JournalError(f"{self.broken}: nothing more is appended")
        new = scan.records
        top = new[-1].seq if new else self._top
        last = new[-1].hash if new else self._last_hash
        head = _read_head(head_kv.value, f"{self.path}/head") if head_kv is not None else None
        if (head is None and top > 0) or (head is not None and head != Head(top, last)):
            found = compare(head, top, lambda seq: last if seq == top else None)
            reason, detail = found or ("head differs", f"the head says {head}, the journal ends at event {top}")
            self.broken = f"{self.path}: line {top}: {reason}: {detail} (run `cockpit verify`)"
            raise JournalError(f"{self.broken}: nothing more is appended")
        self._records.extend(new)
        self._top, self._last_hash = top, last
        self._head_rev = head_kv.mod_revision if head_kv is not None else 0
        return new

    # -- writing ---------------------------------------------------------------------------------

    def append(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]:
        """Append one event, committed by a quorum before returning.

        Returns (events appended first: other writers', events kept aside; the new record). Raises
        JournalError naming the store when the event could not be journaled (etcd unreachable: the
        engine keeps it aside), Deposed when the fence moved (nothing appended)."""
        self._writable()
        with self._lock, self._aside():
            others = self._journal_kept()
            more, record = self._write(payload, actor=actor, ts=ts)
        return others + more, record

    def journal_kept(self) -> list[Record]:
        """Journal the events kept aside now (a guard retries each round); returns what was appended."""
        self._writable()
        with self._lock, self._aside():
            return self._journal_kept()

    def keep_aside(self, payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> Path:
        """Keep an event etcd would not take in the local side file, fsync'd; the next append that goes
        through journals it. Raises JournalError when even that cannot be written."""
        if self.readonly or self.state_dir is None:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        checked_line(make_record(seq=1, ts=ts, actor=actor, payload=payload, prev=GENESIS),
                      f"{self.state_dir / ASIDE}: nothing kept aside")
        try:
            with self._aside():
                return keep(self.state_dir, payload, actor=actor, ts=ts, error=error, pseq=pseq)
        except StateDirError as e:
            raise JournalError(str(e)) from None
        except OSError as e:
            raise JournalError(f"{self.state_dir / ASIDE}: cannot keep the event aside either: "
                               f"{e.strerror or e}") from None

    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        if self.broken:
            raise JournalError(f"{self.broken}: nothing is appended to a journal that does not verify")

    def _journal_kept(self) -> list[Record]:
        assert self.state_dir is not None
        try:
            kept, unreadable = read_kept(self.state_dir)
        except OSError as e:
            raise JournalError(f"{self.state_dir / ASIDE}: reading the kept events: {e.strerror or e}") from None
        if not kept and not unreadable:
            return []
        written = self._read_new()  # an event kept aside may have been committed after all (an answer lost)

        def write(payload: Payload, *, actor: Actor, ts: datetime) -> Record:
            more, record = self._write(payload, actor=actor, ts=ts)
            written.extend(more)
            written.append(record)
            return record

        write_late(kept, self._records[-500:], write, actor=self.actor, now=datetime.now(UTC))
        try:
            clear(self.state_dir, unreadable)
        except OSError as e:
            raise JournalError(f"{self.state_dir / ASIDE}: clearing the kept events: {e.strerror or e}") from None
        return written

    def _write(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]:
        """One event on the head this journal knows; when another writer moved the head, its events are
        read and the event is built again on the new head. A txn whose answer was lost (a member died
        mid-call) and that was applied is found among the events read back: it is ours, not appended twice."""
        others: list[Record] = []
        tried: set[bytes] = set()  # lines sent whose outcome we may not know
        deadline = time.monotonic() + APPEND_WITHIN_S
        while True:
            record = msgspec.structs.replace(
                make_record(seq=self._top + 1, ts=ts, actor=actor, payload=payload, prev=self._last_hash), v=HEADED)
            line, record = checked_line(record, f"{self.path}: nothing appended")
            head = head_key(self.prefix)
            conditions = [Compare(head, "mod", self._head_rev)]
            failure = [get(head)]
            if self.fence is not None:
                conditions.append(Compare(self.fence[0], "create", self.fence[1]))
                failure.append(get(self.fence[0]))
            tried.add(line)
            try:
                res = self.client.txn(conditions, [put(journal_key(self.prefix, record.seq), line),
                                                   put(head, _head_value(record.seq, record.hash))], failure)
            except EtcdUnreachable as e:
                raise JournalUnreachable(f"{self.path}: cannot append: {e}; the journal ends at event {self._top} "
                                   "as far as this process knows") from None
            except EtcdError as e:
                raise JournalError(f"{self.path}: cannot append: {e}") from None
            if res.succeeded:
                self._records.append(record)
                self._top, self._last_hash = record.seq, record.hash
                self._head_rev = self._rev = res.revision  # the txn's revision is the head's new mod_revision
                return others, record
            if self.fence is not None:
                holder = res.ranges[1][0] if res.ranges[1] else None
                if holder is None or holder.create_revision != self.fence[1]:
                    now = f"held since epoch {holder.create_revision}" if holder else "held by nobody"
                    raise Deposed(f"{self.path}: not appended: this writer's epoch {self.fence[1]} is no longer "
                                  f"current (the guard lease is {now})")
            new = self._read_new()  # another writer appended: take its events in, and build ours on them
            for i, r in enumerate(new):
                if encode_line(r)[0] in tried:  # our own earlier try, applied after all
                    return others + new[:i] + new[i + 1:], r
            others += new
            if time.monotonic() > deadline:
                raise JournalError(f"{self.path}: not appended: other writers moved the head for "
                                   f"{APPEND_WITHIN_S:g} s")

    def _aside(self) -> _SideLock:
        return _SideLock(self._aside_fd)

    def close(self) -> None:
        if self._aside_fd >= 0:
            os.close(self._aside_fd)
            self._aside_fd = -1


def _misplaced(pairs: list[tuple[bytes, bytes]], prefix: str, first: int) -> Problem | None:
    """The first event stored under another key than its seq's (the scan checked the seqs in key order)."""
    base = journal_base(prefix)
    for i, (key, _) in enumerate(pairs):
        if key[len(base):] != b"%020d" % (first + i) or not key.startswith(base):
            return Problem(first + i, "misplaced", f"line {first + i} is stored under {key.decode(errors='replace')}")
    return None


def _fetch(client: EtcdClient, base: bytes, key: bytes, end: bytes, revision: int,
           page: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of [key, end) at one revision (`key`: just past a journal key). A long replay
    reads its seq range in slices, one per member at once: the JSON gateway spends ~40 us a key serving
    a range, so one member alone takes 4 s for 100,000 events."""
    total = client.count(key, end, revision=revision)
    slices = min(len(client.endpoints), max(1, total // (4 * page)))
    if slices == 1:
        return [pair for part in client.values(key, end, revision=revision, page=page) for pair in part]
    first = int(key[len(base):len(base) + 20]) + 1  # the seq after the key `key` is just past
    step = -(-total // slices)
    bounds = [key] + [base + b"%020d" % (first + k * step) for k in range(1, slices)] + [end]

    def read(k: int) -> list[tuple[bytes, bytes]]:
        return [pair for part in client.values(bounds[k], bounds[k + 1], revision=revision, page=page, spread=k)
                for pair in part]

    with ThreadPoolExecutor(slices) as pool:
        return [pair for part in pool.map(read, range(slices)) for pair in part]


class JournalUnreachable(StoreUnreachable):
    """etcd did not answer: the kind of JournalError the engine keeps aside and journals late. Its name
    is read by people (the evidence's "not collected: JournalUnreachable: ..."), so it is a word."""


class _SideLock:
    """The local side file's flock (nothing when read-only)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


def verify(client: EtcdClient, prefix: str, *, page: int = PAGE) -> Scan:
    """Check the whole chain on etcd and its end against the head key, read at one revision, without
    changing anything: the file journal's scan over the stored lines, every problem named by line."""
    return snapshot(client, prefix, page=page)[1]


def snapshot(client: EtcdClient, prefix: str, *, page: int = PAGE) -> tuple[bytes, Scan]:
    """The stored lines, joined as the file journal holds them, and what verify finds in them."""
    prefix = prefix.rstrip("/")
    base = journal_base(prefix)
    where = f"etcd:{prefix}"
    try:
        res = client.txn([], [get(head_key(prefix)), get(base, prefix_end(base), limit=page)])
        pairs = [(kv.key, kv.value) for kv in res.ranges[1]]
        if res.more[1] and pairs:
            pairs += _fetch(client, base, pairs[-1][0] + b"\0", prefix_end(base), res.revision, page)
    except EtcdError as e:
        raise JournalError(f"{where}: cannot read: {e}") from None
    data = b"".join(value for _, value in pairs)
    scan = scan_bytes(data)
    if misplaced := _misplaced(pairs, prefix, 1):
        scan.problems.append(misplaced)
        scan.problems.sort(key=lambda p: p.line)
    head_kv = res.ranges[0][0] if res.ranges[0] else None
    hashes = scan.hashes()
    top = max(hashes, default=0)
    if head_kv is None:
        if any(r.v >= HEADED for r in scan.salvaged):
            scan.head = Problem(scan.lines + 1, "head missing", f"{where}/head is gone, but the events were written "
                                                                "with one: events cut off the end cannot be ruled out")
        return data, scan
    try:
        head = _read_head(head_kv.value, f"{where}/head")
    except JournalError as e:
        scan.head = Problem(scan.lines, "head unreadable", str(e))
        return data, scan
    found = compare(head, top, hashes.get)
    if found is None and head.seq != top:
        found = ("head behind", f"the head says {head.seq} events, etcd holds {top}: written apart, not in one txn")
    if found is not None:
        reason, detail = found
        scan.head = Problem({"truncated": scan.lines + 1, "rehashed": head.seq}.get(reason, head.seq + 1), reason,
                            detail)
    return data, scan
