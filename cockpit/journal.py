"""The append-only, hash-chained JSON Lines journal: append with fsync, lock, tail, verify.

A line is `{"hash":"<sha256 of the rest>",<the rest>}`: the hash covers the bytes of the
line without its own hash field, and the rest carries the previous line's hash, so an
edited, deleted, reordered or torn line breaks the chain at a line we can name.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import getpass
import hashlib
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import msgspec

from cockpit.core.events import (
    GENESIS, Actor, JournaledLate, Payload, Record, RecordError, TornTailQuarantined, make_record, parse_record,
)
from cockpit.lease import HolderLock, holder
from cockpit.journal_head import HEAD, Head, HeadUnreadable, compare, read_head, write_head
from cockpit.statedir import LOCK_MODE, SHARED_MODE, StateDirError, explain, make_dir, open_file
from cockpit.unjournaled import ASIDE, clear, keep, read_kept

JOURNAL = "journal.jsonl"
APPEND_LOCK = "journal.lock"
_PREFIX = b'{"hash":"'
_BODY_AT = len(_PREFIX) + 64 + 2  # after `{"hash":"<64 hex>",`
_NO_HASH = b'{"hash":"",'  # how a record with hash="" starts when encoded (hash is its first field)
_ENCODE = msgspec.json.Encoder().encode


class JournalError(Exception):
    """The journal cannot be used as it is; the message names the file and the line."""


class ReadOnlyJournal(JournalError):
    pass


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _encode(record: Record) -> tuple[bytes, str]:
    """The record's line (its hash field set from the rest of the line) and that hash."""
    rest = _ENCODE(msgspec.structs.replace(record, hash=""))[len(_NO_HASH):]
    digest = _hash(b"{" + rest)
    return _PREFIX + digest.encode() + b'",' + rest + b"\n", digest


def _invalid(e: RecordError) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.payload.phase`" as "payload.phase: Expected `int`, got `str`"."""
    what, sep, where = str(e).rpartition(" - at `$")
    return f"{where.lstrip('.').rstrip('`')}: {what}" if sep else str(e)


@dataclass
class Problem:
    line: int  # 1-based
    reason: str  # "torn", "edited", "reordered", "deleted", "invalid"
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.detail}"


@dataclass
class Scan:
    """What reading a journal file found: the good records, and the first problem if any."""

    records: list[Record] = field(default_factory=list)
    good_bytes: int = 0  # offset just past the last good line
    problem: Problem | None = None
    head: Problem | None = None  # the journal's end against the head record (verify only)


def _check_line(raw: bytes, lineno: int, prev_hash: str, expect_seq: int) -> tuple[Record | None, Problem | None]:
    try:
        record = parse_record(raw)
    except RecordError as e:
        return None, Problem(lineno, "invalid", _invalid(e))
    if not raw.startswith(_PREFIX) or _hash(b"{" + raw[_BODY_AT:]) != record.hash:
        return None, Problem(lineno, "edited", f"seq {record.seq}: its hash does not match its content")
    if record.seq != expect_seq:
        reason = "reordered" if record.seq < expect_seq else "deleted"
        detail = f"expected seq {expect_seq}, found seq {record.seq}"
        if reason == "deleted":
            detail += f" (lines with seq {expect_seq}..{record.seq - 1} are missing or moved)"
        return None, Problem(lineno, reason, detail)
    if record.prev != prev_hash:
        return None, Problem(lineno, "edited", f"seq {record.seq}: prev does not match the hash of line {lineno - 1}")
    return record, None


def scan_bytes(data: bytes, *, start_seq: int = 1, prev_hash: str = GENESIS, first_line: int = 1) -> Scan:
    """Check every line; stop at the first problem. An unterminated last line is torn.

    The happy path is one validation and one hash per line; the reasons are worked out
    (by `_check_line`) only for the first line that fails.
    """
    scan = Scan()
    records = scan.records
    lines = data.split(b"\n")
    tail = lines.pop()  # what follows the last line end: b"" unless the last write was torn
    seq, offset, sha256, parse = start_seq, 0, hashlib.sha256, parse_record
    paused = gc.isenabled()
    if paused:
        gc.disable()  # replay allocates many small objects that live on: collections only waste time
    try:
        for i, raw in enumerate(lines):
            try:
                record = parse(raw)
            except RecordError:
                record = None
            if (
                record is None
                or record.seq != seq
                or record.prev != prev_hash
                or not raw.startswith(_PREFIX)
                or sha256(b"{" + raw[_BODY_AT:]).hexdigest() != record.hash
            ):
                scan.problem = _diagnose(lines, i, first_line + i, prev_hash, seq, tail)
                break
            records.append(record)
            prev_hash = record.hash
            seq += 1
            offset += len(raw) + 1
        else:
            if tail:
                scan.problem = Problem(first_line + len(lines), "torn", f"{len(tail)} bytes without a line end")
    finally:
        if paused:
            gc.freeze()  # the records live as long as the process: later collections need not scan them
            gc.enable()
    scan.good_bytes = offset
    return scan


def _diagnose(lines: list[bytes], i: int, lineno: int, prev_hash: str, seq: int, tail: bytes) -> Problem:
    raw = lines[i]
    _, problem = _check_line(raw, lineno, prev_hash, seq)
    last = i == len(lines) - 1 and not tail
    if problem.reason == "invalid" and last and not _is_json(raw):
        return Problem(lineno, "torn", "the last line is not complete JSON")  # a crash mid-write, not tampering
    if problem.reason == "deleted":
        return _moved_or_deleted(b"\n".join(lines[i + 1 :]), problem, seq)
    return problem


def _moved_or_deleted(rest: bytes, problem: Problem, expected: int) -> Problem:
    """A seq gap is a reorder when the missing seq turns up further down, else a deletion."""
    for k, raw in enumerate(rest.splitlines(), start=problem.line + 1):
        try:
            seq = json.loads(raw).get("seq")
        except (ValueError, AttributeError):
            continue
        if seq == expected:
            return Problem(problem.line, "reordered", f"expected seq {expected} here; it stands at line {k}")
    return problem


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
        return True
    except ValueError:
        return False


def verify(state_dir: Path) -> Scan:
    """Check the whole chain of a state dir's journal, and its end against the head record,
    without changing anything."""
    path = Path(state_dir) / JOURNAL
    head = _head_before_reading(Path(state_dir))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not Path(state_dir).is_dir():
            raise JournalError(f"{state_dir}: no state dir here") from None
        raise JournalError(f"{path}: no journal here") from None
    except OSError as e:
        raise JournalError(str(explain(path, e, "reading the journal"))) from None
    scan = scan_bytes(data)
    if scan.problem is None or scan.problem.reason == "torn":
        scan.head = head_problem(Path(state_dir), scan.records, head)
    return scan


def _head_before_reading(state_dir: Path):
    """The head record read *before* the journal: a writer appends first and moves the head after,
    so a reader that looked at the journal first could see a head one event ahead of it and call
    an append in flight a truncation."""
    try:
        return read_head(state_dir)
    except HeadUnreadable as e:
        return e


_READ_NOW = object()


def head_problem(state_dir: Path, records: list[Record], head=_READ_NOW) -> Problem | None:
    """The journal's end against the head record (None when they agree or there is none).
    `head`: as read before the journal was (see _head_before_reading); read now by default."""
    if head is _READ_NOW:
        head = _head_before_reading(state_dir)
    if isinstance(head, HeadUnreadable):
        return Problem(len(records), "head unreadable", str(head))
    found = compare(head, [r.hash for r in records])
    if found is None:
        return None
    reason, detail = found
    line = {"truncated": len(records) + 1, "rehashed": head.seq}.get(reason, head.seq + 1)
    return Problem(line, reason, detail)


def writer_busy(state_dir: Path) -> bool:
    """Whether a writer holds the append lock now (its line may be in flight); False when the
    lock is free, or cannot be opened (a watcher outside the group cannot tell)."""
    try:
        fd = os.open(Path(state_dir) / APPEND_LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _default_actor() -> Actor:
    """Who the journal's own repairs are by: this process's user, acting as the journal."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Actor(user=user, host=socket.gethostname().split(".")[0], role="journal")


def _ignore_file_size_signal() -> None:
    """Past a file-size limit (ulimit -f) the kernel kills the writer with SIGXFSZ, leaving a
    torn line; ignored, the write fails with EFBIG and is undone like any failed write."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class Journal:
    """One state dir's journal. Writers serialise on a file lock; readers never lock.

    Open it writable (captain, headless commands) or read-only (observer). A writable open,
    and every append, first moves a torn final line (a writer that died mid-append) to a side
    file and journals that it did (`quarantined` says so), then journals any events kept
    aside while the journal could not be written (`unjournaled`). Every open compares the
    journal's end with the head record: a cut-off or re-hashed tail is refused by name.
    """

    def __init__(self, state_dir: Path, *, readonly: bool = False, actor: Actor | None = None, salvage: bool = False):
        """`salvage`: a journal whose chain or head does not verify opens all the same, with its
        intact events and no writes (`broken` says why): the kill needs a state to act on and a
        lock to keep its events aside under; nothing else may use it."""
        self.broken: str | None = None
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / JOURNAL
        self.readonly = readonly
        self.actor = actor or _default_actor()
        self.quarantined: str | None = None  # what a writable open or append moved aside, said once
        self.torn: Problem | None = None  # a fragment a dead writer left (read-only: it stays)
        self.head_error: str | None = None  # the head record could not be updated (the journal was)
        self.write_error: str | None = None  # a repair or late journaling that failed on open
        self._records: list[Record] = []
        self._offset = 0
        self._fragment = 0  # bytes after the last line end, as last read
        self._last_hash = GENESIS
        self._lock_fd = -1
        if not readonly:
            _ignore_file_size_signal()
            try:
                make_dir(self.state_dir)
                self._lock_fd, _ = open_file(self.state_dir / APPEND_LOCK, os.O_RDWR | os.O_CREAT, LOCK_MODE,
                                             "taking the journal's append lock")
            except StateDirError as e:
                raise JournalError(str(e)) from None
            with self._locked():
                try:
                    self._load()
                    self._check_head(fix=True)
                except JournalError as e:
                    if not salvage:
                        raise
                    self.broken = str(e)
                    self._records = verify(self.state_dir).records  # the events before the break
                    return
                try:
                    self._repair()
                    self._journal_kept()
                except JournalError as e:
                    self.write_error = str(e)  # reading works; the next append tries again
        elif self.path.exists():
            head = _head_before_reading(self.state_dir)
            self._load()
            self._check_head(fix=False, head=head)

    # -- reading ---------------------------------------------------------------------------

    @property
    def records(self) -> list[Record]:
        return self._records

    def _read(self, start: int = 0) -> bytes:
        try:
            with open(self.path, "rb") as f:
                f.seek(start)
                return f.read()
        except FileNotFoundError:
            if start or not self.state_dir.is_dir():
                raise JournalError(f"{self.path}: the journal is gone") from None
            return b""
        except OSError as e:
            raise JournalError(str(explain(self.path, e, "reading the journal"))) from None

    def _load(self) -> None:
        data = self._read()
        scan = scan_bytes(data)
        if scan.problem and scan.problem.reason != "torn":
            raise JournalError(f"{self.path}: {scan.problem} (run `cockpit verify`)")
        self._records = scan.records
        self._offset = scan.good_bytes
        self._fragment = len(data) - scan.good_bytes
        self._last_hash = scan.records[-1].hash if scan.records else GENESIS
        self.torn = scan.problem if scan.problem and (not self.readonly or self._writer_gone()) else None

    def _check_head(self, *, fix: bool, head=_READ_NOW) -> None:
        problem = head_problem(self.state_dir, self._records, head)
        if problem and problem.reason in ("truncated", "rehashed", "head unreadable"):
            raise JournalError(f"{self.path}: {problem} (run `cockpit verify`)")
        if fix and (problem or read_head(self.state_dir) != self._head()):
            self._write_head()  # behind (a crash after an append), or a journal older than heads

    def poll(self) -> list[Record]:
        """New complete records appended since we last looked (by us or another process).

        A fragment without a line end is a write in flight while its writer holds the append
        lock. When the lock is free its writer is dead: a writable journal quarantines it (and
        returns the repair with the new records); a read-only one reports it in `torn`.
        """
        new = self._read_new()
        if self._fragment and self._lock_fd >= 0:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return new  # a writer is mid-append
            try:
                new += self._read_new()
                new += self._repair()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        elif self._fragment:
            self.torn = self._fragment_problem() if self._writer_gone() else None
        else:
            self.torn = None
        return new

    def _fragment_problem(self) -> Problem:
        return Problem(len(self._records) + 1, "torn", f"{self._fragment} bytes without a line end "
                       f"at offset {self._offset} (a writer died mid-append; the next append moves them aside)")

    def _writer_gone(self) -> bool:
        """Whether no writer holds the append lock (read-only side: a shared lock, tried once).
        When the lock cannot be opened we cannot tell: say nothing rather than cry torn."""
        return (self.state_dir / APPEND_LOCK).exists() and os.access(self.state_dir / APPEND_LOCK, os.R_OK) \
            and not writer_busy(self.state_dir)

    def _read_new(self) -> list[Record]:
        data = self._read(self._offset)
        end = data.rfind(b"\n")
        self._fragment = len(data) - (end + 1)
        if end == -1:
            return []  # nothing complete yet: a line being written is not torn until its writer dies
        scan = scan_bytes(
            data[: end + 1],
            start_seq=len(self._records) + 1,
            prev_hash=self._last_hash,
            first_line=len(self._records) + 1,
        )
        if scan.problem:
            raise JournalError(f"{self.path}: {scan.problem}")
        self._accept(scan.records, scan.good_bytes)
        return scan.records

    def _accept(self, records: list[Record], nbytes: int) -> None:
        if records:
            self._records.extend(records)
            self._last_hash = records[-1].hash
        self._offset += nbytes

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    # -- writing (every method below runs under the append lock) ---------------------------------

    def append(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]:
        """Append one event, fsync'd before returning.

        Returns (records appended first: other processes', a repair, events kept aside; the new
        record), so a caller folds them in order and never misses a kill pulled from another
        terminal. Raises JournalError naming the file when the event could not be journaled;
        the journal then still ends at its last complete line.
        """
        if self.readonly:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        if self.broken:
            raise JournalError(f"{self.broken}: nothing is appended to a journal that does not verify")
        with self._locked():
            others = self._read_new()
            others += self._repair()
            others += self._journal_kept()
            record = self._write(payload, actor=actor, ts=ts)
        return others, record

    def keep_aside(self, payload: Payload, *, actor: Actor, ts: datetime, error: str) -> Path:
        """Keep an event the journal would not take in the side file, fsync'd; the next append
        that succeeds journals it. Raises JournalError when even that cannot be written."""
        if self.readonly:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        _checked_line(make_record(seq=1, ts=ts, actor=actor, payload=payload, prev=GENESIS),
                      f"{self.state_dir / ASIDE}: nothing kept aside")  # the next append could not journal it
        try:
            with self._locked():
                return keep(self.state_dir, payload, actor=actor, ts=ts, error=error)
        except StateDirError as e:
            raise JournalError(str(e)) from None
        except OSError as e:
            raise JournalError(f"{self.state_dir / ASIDE}: cannot keep the event aside either: "
                               f"{e.strerror or e}") from None

    def _repair(self) -> list[Record]:
        """Holding the lock nobody is mid-append: bytes past the last line end are a dead
        writer's fragment. Move them aside, cut the journal back, and journal the repair."""
        if not self._fragment:
            return []
        keep_at, data = self._offset, self._read(self._offset)
        if not data or b"\n" in data:
            return self._read_new()  # it was completed meanwhile (cannot happen under the lock)
        problem = Problem(len(self._records) + 1, "torn", f"{len(data)} bytes without a line end")
        try:
            side = self._quarantine(data, keep_at, problem)
        except OSError as e:
            raise JournalError(f"{self.path}: a torn tail ({len(data)} bytes at offset {keep_at}) cannot be "
                               f"moved aside: {e.strerror or e}") from None
        self._fragment = 0
        self.torn = None
        return [self._write(TornTailQuarantined(offset=keep_at, size=len(data), moved_to=side.name,
                                                detail=str(problem)), actor=self.actor, ts=_now())]

    def _quarantine(self, tail: bytes, keep: int, problem: Problem) -> Path:
        """Move a torn tail aside (never delete it) so the good lines before it stay usable."""
        side = self.path.with_name(f"{JOURNAL}.torn-at-{keep}")
        n = 0
        while side.exists():
            n += 1
            side = side.with_name(f"{JOURNAL}.torn-at-{keep}.{n}")
        fd, _ = open_file(side, os.O_WRONLY | os.O_CREAT, SHARED_MODE, "moving a torn tail aside")
        try:
            _write_all(fd, tail)
            os.fsync(fd)
        finally:
            os.close(fd)
        with open(self.path, "r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
        _fsync_dir(self.state_dir)
        self.quarantined = f"{problem}; {len(tail)} bytes moved to {side.name}"
        return side

    def _journal_kept(self) -> list[Record]:
        """Journal the events kept aside while the journal could not be written, then clear them."""
        try:
            kept, unreadable = read_kept(self.state_dir)
        except OSError as e:
            raise JournalError(str(explain(self.state_dir / ASIDE, e, "reading the kept events"))) from None
        if not kept and not unreadable:
            return []
        recent = self._records[-500:]
        todo = [k for k in kept if not any(
            r.ts == k.ts and r.actor == k.actor and r.payload == k.payload for r in recent)]  # a crash mid-way
        written = []
        if todo:
            written.append(self._write(JournaledLate(count=len(todo), error=todo[0].error), actor=self.actor, ts=_now()))
            written += [self._write(k.payload, actor=k.actor, ts=k.ts) for k in todo]
        try:
            clear(self.state_dir, unreadable)
        except OSError as e:
            raise JournalError(str(explain(self.state_dir / ASIDE, e, "clearing the kept events"))) from None
        return written

    def _write(self, payload: Payload, *, actor: Actor, ts: datetime) -> Record:
        """One line at the journal's end, fsync'd; on any failure cut back to where it was."""
        line, record = _checked_line(
            make_record(seq=len(self._records) + 1, ts=ts, actor=actor, payload=payload, prev=self._last_hash),
            f"{self.path}: nothing appended")
        try:
            fd, created = open_file(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, SHARED_MODE,
                                    "appending to the journal")
        except StateDirError as e:
            raise JournalError(str(e)) from None
        try:
            size = os.fstat(fd).st_size
            if size != self._offset:
                raise JournalError(f"{self.path}: is {size} bytes, expected {self._offset}: "
                                   "changed behind the append lock; nothing appended")
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError as e:
                raise self._undo(fd, size, e) from None
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.state_dir)
        self._accept([record], len(line))
        self._write_head()
        return record

    def _undo(self, fd: int, size: int, e: OSError) -> JournalError:
        """A failed write (disk full, file-size limit, I/O error, short write): cut it back."""
        what = f"{self.path}: cannot append: {e.strerror or e} [{errno.errorcode.get(e.errno, e.errno)}]"
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError as e2:
            self._fragment = max(self._fragment, 1)
            return JournalError(f"{what}; cutting back the partial line failed too ({e2.strerror or e2}): "
                                "the next append moves it aside")
        return JournalError(f"{what}; the journal still ends at event {len(self._records)}")

    def _head(self) -> Head:
        return Head(len(self._records), self._last_hash)

    def _write_head(self) -> None:
        try:
            write_head(self.state_dir, self._head())
            self.head_error = None
        except OSError as e:
            self.head_error = f"{self.state_dir / HEAD}: not updated: {e.strerror or e}"

    def _locked(self):
        return _FileLock(self._lock_fd)

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def _checked_line(record: Record, refused: str) -> tuple[bytes, Record]:
    """The record's line, and the record as a replay will read it back from that line.

    An event struct is not validated when it is built; its line is, here, by the decoder a
    replay uses: a line that would not replay (a wrong type, a kind that is not its payload's)
    is refused with JournalError, and the record kept in memory equals what a replay will see
    (tuples, not lists; floats where a float is due)."""
    try:
        line, _ = _encode(record)
        return line, parse_record(line[:-1])
    except (msgspec.MsgspecError, TypeError, ValueError) as e:  # not valid; not encodable (a Path, a lone surrogate)
        why = _invalid(e) if isinstance(e, RecordError) else str(e)
        raise JournalError(f"{refused}: {record.kind} is not a valid event: {why}") from None


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _FileLock:
    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n == 0:
            raise OSError(errno.EIO, "short write: the file system took nothing")
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the captain lock ---------------------------------------------------------------------------

CAPTAIN_LOCK = "captain.lock"


class CaptainLockHeld(Exception):
    def __init__(self, holder: dict):
        self.holder = holder
        super().__init__(
            f"captain lock held by {holder.get('user')}@{holder.get('host')} "
            f"(pid {holder.get('pid')}, since {holder.get('since')}); "
            "watch with `cockpit observe` instead"
        )


class CaptainLock:
    """Only one captain per state dir: a lease.HolderLock on captain.lock (0660: no watcher can hold
    it), so a dead captain's lock is free at once; captain.holder says who holds it, for the refusal
    message and for `status`."""

    def __init__(self, state_dir: Path, *, user: str, host: str, pid: int, since: str):
        self._lock = HolderLock(Path(state_dir) / CAPTAIN_LOCK, {"user": user, "host": host, "pid": pid, "since": since},
                                "taking the captain lock")
        self.path, self.identity = self._lock.path, self._lock.identity
        self.took_over: dict | None = None

    def acquire(self) -> "CaptainLock":
        try:
            free = self._lock.try_acquire()
        except StateDirError as e:
            raise JournalError(str(e)) from None
        if not free:
            raise CaptainLockHeld(holder(self.path) or {"user": "?", "host": "?", "pid": "?"})
        if self._lock.previous.get("pid"):
            self.took_over = self._lock.previous  # its holder died without releasing: the kernel freed it
        return self

    def release(self) -> None:
        self._lock.release()


def read_captain(state_dir: Path) -> dict | None:
    """Who holds the captain lock now, or None (a process outside the group is no captain)."""
    found = holder(Path(state_dir) / CAPTAIN_LOCK)
    return None if found is None or found["outsider"] else found
