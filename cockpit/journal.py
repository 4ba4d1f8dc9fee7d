"""The append-only, hash-chained JSON Lines journal: append with fsync, lock, tail, verify.

A line is `{"hash":"<sha256 of the rest>",<the rest>}`: the hash covers the bytes of the
line without its own hash field, and the rest carries the previous line's hash, so an
edited, deleted, reordered or torn line breaks the chain at a line we can name.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError

from cockpit.core.events import GENESIS, Actor, Payload, Record, make_record, parse_record

JOURNAL = "journal.jsonl"
APPEND_LOCK = "journal.lock"
_PREFIX = b'{"hash":"'
_BODY_AT = len(_PREFIX) + 64 + 2  # after `{"hash":"<64 hex>",`


class JournalError(Exception):
    """The journal cannot be used as it is; the message names the file and the line."""


class ReadOnlyJournal(JournalError):
    pass


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _encode(record: Record) -> tuple[bytes, str]:
    body = record.model_dump_json(exclude={"hash"}).encode()
    digest = _hash(body)
    return _PREFIX + digest.encode() + b'",' + body[1:] + b"\n", digest


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


def _check_line(raw: bytes, lineno: int, prev_hash: str, expect_seq: int) -> tuple[Record | None, Problem | None]:
    try:
        record = parse_record(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, Problem(lineno, "invalid", f"{where}: {first['msg']}")
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
            except ValidationError:
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
    """Check the whole chain of a state dir's journal without changing anything."""
    path = Path(state_dir) / JOURNAL
    if not path.exists():
        raise JournalError(f"{path}: no journal here")
    return scan_bytes(path.read_bytes())


class Journal:
    """One state dir's journal. Writers serialise on a file lock; readers never lock.

    Open it writable (captain, headless commands) or read-only (observer). On a writable
    open a torn final line is moved to a side file and reported in `quarantined`.
    """

    def __init__(self, state_dir: Path, *, readonly: bool = False):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / JOURNAL
        self.readonly = readonly
        self.quarantined: str | None = None
        self._records: list[Record] = []
        self._offset = 0
        self._last_hash = GENESIS
        if not readonly:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.state_dir / APPEND_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            with self._locked():
                self._load(repair=True)
        else:
            self._lock_fd = -1
            if self.path.exists():
                self._load(repair=False)

    # -- reading ---------------------------------------------------------------------------

    @property
    def records(self) -> list[Record]:
        return self._records

    def _load(self, *, repair: bool) -> None:
        data = self.path.read_bytes() if self.path.exists() else b""
        scan = scan_bytes(data)
        if scan.problem and scan.problem.reason != "torn":
            raise JournalError(f"{self.path}: {scan.problem} (run `cockpit verify`)")
        if scan.problem and repair:
            self._quarantine(data[scan.good_bytes :], scan.good_bytes, scan.problem)
        self._records = scan.records
        self._offset = scan.good_bytes
        self._last_hash = scan.records[-1].hash if scan.records else GENESIS

    def _quarantine(self, tail: bytes, keep: int, problem: Problem) -> None:
        """Move a torn tail aside (never delete it) so the good lines before it stay usable."""
        side = self.path.with_name(f"{JOURNAL}.torn-at-{keep}")
        n = 0
        while side.exists():
            n += 1
            side = side.with_name(f"{JOURNAL}.torn-at-{keep}.{n}")
        with open(side, "wb") as f:
            f.write(tail)
            os.fsync(f.fileno())
        with open(self.path, "r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
        _fsync_dir(self.state_dir)
        self.quarantined = f"{problem}; {len(tail)} bytes moved to {side.name}"

    def poll(self) -> list[Record]:
        """New complete records appended since we last looked (by us or another process)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n")
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

    # -- writing ---------------------------------------------------------------------------

    def append(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]:
        """Append one event, fsync'd before returning.

        Returns (records other processes appended first, the new record), so a caller folds
        both in order and never misses a kill pulled from another terminal.
        """
        if self.readonly:
            raise ReadOnlyJournal(f"{self.path}: opened read-only (observer mode)")
        with self._locked():
            others = self.poll()
            record = make_record(seq=len(self._records) + 1, ts=ts, actor=actor, payload=payload, prev=self._last_hash)
            line, digest = _encode(record)
            record = record.model_copy(update={"hash": digest})
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                created = os.fstat(fd).st_size == 0
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.state_dir)
            self._accept([record], len(line))
        return others, record

    def _locked(self):
        return _FileLock(self._lock_fd)

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


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
    """Only one captain per state dir. A kernel lock (flock), so a dead captain's lock is free.

    The file also records who holds it, for the refusal message and for `status`.
    """

    def __init__(self, state_dir: Path, *, user: str, host: str, pid: int, since: str):
        self.path = Path(state_dir) / CAPTAIN_LOCK
        self.identity = {"user": user, "host": host, "pid": pid, "since": since}
        self.took_over: dict | None = None
        self._fd = -1

    def acquire(self) -> "CaptainLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise CaptainLockHeld(holder) from None
        previous = _read_holder(fd)
        if previous.get("pid"):
            self.took_over = previous  # its holder died without releasing: the kernel freed it
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.identity).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}


def read_captain(state_dir: Path) -> dict | None:
    """Who holds the captain lock now, or None."""
    path = Path(state_dir) / CAPTAIN_LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or {"user": "?", "host": "?", "pid": "?"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
