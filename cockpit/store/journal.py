"""The file journal: one state dir's journal.jsonl, appended with fsync under the append lock, read, followed, repaired.

It is read two ways. Strictly, for `verify` and for every command but the kill: the intact
events up to the first problem, and every problem named by line. Tolerantly, for the kill and
the guard (`Journal(..., salvage=True)`): every line that still reads as a record, before and
after a bad one, so one bad byte in line 20 of 100 cannot make a live rollout read as not started.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from cockpit.core.events import (
    GENESIS,
    Actor,
    Payload,
    Record,
    TornTailQuarantined,
    make_record,
)
from cockpit.store.chain import JournalError, Problem, ReadOnlyJournal, checked_line, scan_bytes
from cockpit.store.head import HEAD, HEADED, Head, write_head
from cockpit.store.kept import ASIDE, clear, keep, read_kept, write_late
from cockpit.store.statedir import LOCK_MODE, SHARED_MODE, StateDirError, explain, make_dir, open_file
from cockpit.store.verify import APPEND_LOCK, JOURNAL, READ_NOW, head_before_reading, head_problem, writer_busy
from cockpit.whoami import whoami

REFUSED = ("truncated", "rehashed", "head unreadable", "head missing")  # head problems nothing writes past

log = logging.getLogger("cockpit.journal")


def default_actor() -> Actor:
    """Who the journal's own repairs are by: this process's user, acting as the journal."""
    return whoami("journal")


def _ignore_file_size_signal() -> None:
    """Past a file-size limit (ulimit -f) the kernel kills the writer with SIGXFSZ, leaving a
    torn line; ignored, the write fails with EFBIG and is undone like any failed write."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except ValueError as e:  # a path no file system takes (a NUL byte)
        raise JournalError(f"{path}: {e}") from None


def _refusal(path: Path, problems: list[Problem]) -> str:
    more = f"; and {len(problems) - 1} more problems after it" if len(problems) > 1 else ""
    return f"{path}: {problems[0]}{more} (run `cockpit verify`)"


class Journal:
    """One state dir's journal. Writers serialise on a file lock; readers never lock.

    Open it writable (captain, headless commands) or read-only (observer). A writable open,
    and every append, first moves a torn final line (a writer that died mid-append) or junk
    lines another writer left at the end to a side file and journals that it did
    (`quarantined` says so), then journals any events kept aside while the journal could not
    be written (`kept.py`). Every open compares the journal's end with the head record: a
    cut-off or re-hashed tail, or a head gone from a journal that kept one, is refused by name.
    """

    remote = False  # a local file: read where it is asked for
    unanswered: str | None = None  # a file answers (or is broken, which `broken` says)

    def __init__(self, state_dir: Path, *, readonly: bool = False, actor: Actor | None = None, salvage: bool = False):
        """`salvage`: a journal whose chain or head does not verify opens all the same, with every
        event that still reads and no writes (`broken` says why): the kill needs a state to act on
        and a lock to keep its events aside under; nothing else may use it. Reading it never raises."""
        self.broken: str | None = None
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / JOURNAL
        self.readonly = readonly
        self.actor = actor or default_actor()
        self.quarantined: str | None = None  # what a writable open or append moved aside, said once
        self.torn: Problem | None = None  # a fragment a dead writer left, or junk (read-only: it stays)
        self.head_error: str | None = None  # the head record could not be updated (the journal was)
        self.write_error: str | None = None  # a repair or late journaling that failed on open
        self._records: list[Record] = []
        self._offset = 0  # just past the last line read
        self._fragment = 0  # bytes after the last line read, as last read
        self._tail: Problem | None = None  # those bytes when they hold complete junk lines
        self._last_hash = GENESIS  # the hash of the event with the highest seq read
        self._top = 0  # the highest seq read
        self._lines = 0  # complete lines read (a broken journal's lines and events differ)
        self._said: str | None = None  # the follow's trouble last raised: said once
        self._told: str | None = None  # a broken journal's trouble last logged: said once
        self._lock_fd = -1
        if not readonly:
            _ignore_file_size_signal()
            try:
                make_dir(self.state_dir)
                self._lock_fd, _ = open_file(self.state_dir / APPEND_LOCK, os.O_RDWR | os.O_CREAT, LOCK_MODE,
                                             "taking the journal's append lock")
            except StateDirError as e:
                raise JournalError(str(e)) from None
            except ValueError as e:  # a path no file system takes (a NUL byte)
                raise JournalError(f"{self.state_dir}: {e}") from None
            with self._locked():
                try:
                    self._load()
                    self._check_head(fix=True)
                except JournalError as e:
                    if not salvage:
                        raise
                    self._salvage(str(e))
                    return
                try:
                    self._repair()
                    self._journal_kept()
                except JournalError as e:
                    self.write_error = str(e)  # reading works; the next append tries again
        elif _exists(self.path):
            head = head_before_reading(self.state_dir)
            self._load()
            self._check_head(fix=False, head=head)

    # -- reading ---------------------------------------------------------------------------

    @property
    def records(self) -> list[Record]:
        return self._records

    def _read(self, start: int = 0) -> bytes:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < start:
                    raise JournalError(f"{self.path}: is {size} bytes, was {start} when last read: "
                                       "cut while open (run `cockpit verify`)")
                f.seek(max(start - 1, 0))
                if start and f.read(1) != b"\n":  # every line read ends there: an edit moved the lines
                    raise JournalError(f"{self.path}: changed before offset {start}, where line {self._lines} "
                                       "ended when last read: rewritten while open (run `cockpit verify`)")
                return f.read()
        except FileNotFoundError:
            if start or not self.state_dir.is_dir():
                raise JournalError(f"{self.path}: the journal is gone") from None
            return b""
        except OSError as e:
            raise JournalError(str(explain(self.path, e, "reading the journal"))) from None
        except ValueError as e:  # a path no file system takes (a NUL byte)
            raise JournalError(f"{self.path}: {e}") from None

    def _load(self) -> None:
        data = self._read()
        scan = scan_bytes(data)
        if not scan.tail_only:
            raise JournalError(_refusal(self.path, scan.problems))
        self._accept(scan.records, scan.good_bytes)
        self._fragment = len(data) - scan.good_bytes
        self._tail = scan.problem if scan.problem and scan.problem.reason == "garbage" else None
        if scan.problem and (self._tail or not self.readonly or self._writer_gone()):
            self.torn = scan.problem

    def _salvage(self, why: str) -> None:
        """Open broken: every event that still reads, no writes. A journal that cannot be read at
        all (not there, a directory, not ours to read) raises JournalError: nothing to act on."""
        self.broken = self._told = why
        self._records, self._offset, self._fragment, self._tail = [], 0, 0, None
        self._top, self._last_hash, self._lines = 0, GENESIS, 0
        self._read(0)
        self._follow(tell=False)

    def _check_head(self, *, fix: bool, head=READ_NOW) -> None:
        if head is READ_NOW:
            head = head_before_reading(self.state_dir)
        problem = head_problem(self.state_dir, self._records, head)
        if problem and problem.reason in REFUSED:
            raise JournalError(f"{self.path}: {problem} (run `cockpit verify`)")
        if fix and (problem or head != self._head()):
            self._write_head()  # behind (a crash after an append), or a journal older than heads

    def poll(self) -> list[Record]:
        """New complete records appended since we last looked (by us or another process).

        A fragment without a line end is a write in flight while its writer holds the append
        lock. When the lock is free its writer is dead: a writable journal quarantines it, and
        junk lines another writer left at the end (and returns the repair with the new records);
        a read-only one reports them in `torn`.

        A problem is raised once (a JournalError naming it), not at every poll: a journal found
        broken here is followed on tolerantly, as `salvage` opens one, and what goes wrong after
        that is logged once. A broken journal's poll never raises.
        """
        if self.broken:
            return self._follow()
        try:
            new = self._poll()
        except JournalError as e:
            if str(e) == self._said and not self.broken:
                return []
            self._said = str(e)
            raise
        self._said = None
        return new

    def _poll(self) -> list[Record]:
        new = self._read_new()
        if self._fragment and self._lock_fd >= 0:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return new  # a writer is mid-append
            try:
                new += self._read_new()
                try:
                    new += self._repair()
                except JournalError as e:  # the next append tries again, and says so
                    self.write_error = str(e)
                    self._tell(str(e))
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        elif self._fragment:
            self.torn = self._tail or (self._fragment_problem() if self._writer_gone() else None)
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
        """The intact journal's new lines. A problem that is not at its end breaks it: what still
        reads is taken in (as `salvage` would), appends are refused, and JournalError names it."""
        data = self._read(self._offset)
        end = data.rfind(b"\n")
        self._fragment = len(data) - (end + 1)
        if end == -1:
            self._tail = None
            return []  # nothing complete yet: a line being written is not torn until its writer dies
        scan = scan_bytes(
            data[: end + 1],
            start_seq=self._top + 1,
            prev_hash=self._last_hash,
            first_line=self._lines + 1,
        )
        if not scan.tail_only:
            self.broken = self._told = _refusal(self.path, scan.problems)
            self._follow(tell=False)  # the caller folds them in from `records` (engine._catch_up)
            raise JournalError(f"{self.broken}: the journal broke while open; it is followed as it reads, "
                               "and nothing more is appended")
        self._accept(scan.records, scan.good_bytes)
        self._fragment = len(data) - scan.good_bytes
        self._tail = scan.problem  # complete junk lines at the end (a fragment alone is not scanned)
        return scan.records

    def _follow(self, *, tell: bool = True) -> list[Record]:
        """A broken journal's new lines: every one that still reads, in seq order; never an
        exception. What is wrong with them is logged, once (unless the caller says it)."""
        try:
            data = self._read(self._offset)
        except JournalError as e:
            self._tell(str(e))
            return []
        end = data.rfind(b"\n")
        if end == -1:
            return []
        chunk = data[: end + 1]
        scan = scan_bytes(chunk, start_seq=self._top + 1, prev_hash=self._last_hash, first_line=self._lines + 1)
        if scan.problems and tell:
            self._tell(f"{self.path}: " + "; ".join(str(p) for p in scan.problems))
        new = [r for r in scan.salvaged if r.seq > self._top]
        self._records.extend(new)
        if new:
            self._top, self._last_hash = new[-1].seq, new[-1].hash
        self._offset += len(chunk)
        self._lines += scan.lines
        return new

    def _tell(self, trouble: str) -> None:
        """Log a trouble the follow cannot raise, once (and again when it changes)."""
        if trouble != self._told:
            self._told = trouble
            log.error("journal: %s", trouble)

    def _accept(self, records: list[Record], nbytes: int) -> None:
        if records:
            self._records.extend(records)
            self._top, self._last_hash = records[-1].seq, records[-1].hash
            self._lines += len(records)
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

    def journal_kept(self) -> list[Record]:
        """Journal the events kept aside now, with nothing of the caller's (a guard retries each
        round); returns what was appended, others' new lines first. Raises JournalError as append."""
        if self.readonly:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        if self.broken:
            raise JournalError(f"{self.broken}: nothing is appended to a journal that does not verify")
        with self._locked():
            return self._read_new() + self._repair() + self._journal_kept()

    def keep_aside(self, payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> Path:
        """Keep an event the journal would not take in the side file, fsync'd; the next append
        that succeeds journals it. Raises JournalError when even that cannot be written.
        `pseq`: the provisional seq an engine folded it at (kept.write_late)."""
        if self.readonly:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        checked_line(make_record(seq=1, ts=ts, actor=actor, payload=payload, prev=GENESIS),
                      f"{self.state_dir / ASIDE}: nothing kept aside")  # the next append could not journal it
        try:
            with self._locked():
                return keep(self.state_dir, payload, actor=actor, ts=ts, error=error, pseq=pseq)
        except StateDirError as e:
            raise JournalError(str(e)) from None
        except OSError as e:
            raise JournalError(f"{self.state_dir / ASIDE}: cannot keep the event aside either: "
                               f"{e.strerror or e}") from None

    def _repair(self) -> list[Record]:
        """Holding the lock, just after reading the journal's new lines, nobody is mid-append:
        the bytes past the last record are a dead writer's fragment or another writer's junk
        lines. Move them aside, cut the journal back, and journal the repair."""
        if not self._fragment:
            return []
        keep_at, data = self._offset, self._read(self._offset)
        if not data:
            self._fragment = 0
            return []
        problem = self._tail or Problem(self._lines + 1, "torn", f"{len(data)} bytes without a line end")
        try:
            side = self._quarantine(data, keep_at, problem)
        except OSError as e:
            raise JournalError(f"{self.path}: a {'garbage' if self._tail else 'torn'} tail ({len(data)} bytes at "
                               f"offset {keep_at}) cannot be moved aside: {e.strerror or e}") from None
        self._fragment = 0
        self._tail = None
        self.torn = None
        return [self._write(TornTailQuarantined(offset=keep_at, size=len(data), moved_to=side.name,
                                                detail=str(problem)), actor=self.actor, ts=_now())]

    def _quarantine(self, tail: bytes, keep: int, problem: Problem) -> Path:
        """Move a torn or junk tail aside (never delete it) so the good lines before it stay usable."""
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
        written = write_late(kept, self._records[-500:], self._write, actor=self.actor, now=_now())  # once, in order
        try:
            clear(self.state_dir, unreadable)
        except OSError as e:
            raise JournalError(str(explain(self.state_dir / ASIDE, e, "clearing the kept events"))) from None
        return written

    def _write(self, payload: Payload, *, actor: Actor, ts: datetime) -> Record:
        """One line at the journal's end, fsync'd; on any failure cut back to where it was."""
        line, record = checked_line(
            self._headed(make_record(seq=self._top + 1, ts=ts, actor=actor, payload=payload, prev=self._last_hash)),
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
        code = errno.errorcode.get(e.errno, "") if e.errno is not None else ""
        what = f"{self.path}: cannot append: {e.strerror or e} [{code or e.errno}]"
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError as e2:
            self._fragment = max(self._fragment, 1)
            return JournalError(f"{what}; cutting back the partial line failed too ({e2.strerror or e2}): "
                                "the next append moves it aside")
        return JournalError(f"{what}; the journal still ends at event {self._top}")

    def _headed(self, record: Record) -> Record:
        """Written while the head record is kept, a line says so (its format version): a journal
        with such a line whose head is gone is said to be, and not taken for one from before heads."""
        return record if self.head_error else msgspec.structs.replace(record, v=HEADED)

    def _head(self) -> Head:
        return Head(self._top, self._last_hash)

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


def _now() -> datetime:
    return datetime.now(UTC)


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

