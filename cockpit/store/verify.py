"""A state dir's journal read without changing anything: `verify` (the whole chain, and its end
against the head record), the head comparison every open makes, and whether a writer is mid-append."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cockpit.core.events import Record
from cockpit.store.chain import JournalError, Problem, Scan, scan_bytes
from cockpit.store.head import HEAD, HEADED, HeadUnreadable, compare, read_head
from cockpit.store.statedir import explain

JOURNAL = "journal.jsonl"
APPEND_LOCK = "journal.lock"


def verify(state_dir: Path) -> Scan:
    """Check the whole chain of a state dir's journal, and its end against the head record,
    without changing anything: every problem, named by line."""
    state_dir = Path(state_dir)
    path = state_dir / JOURNAL
    head = head_before_reading(state_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not state_dir.is_dir():
            raise JournalError(f"{state_dir}: no state dir here") from None
        raise JournalError(f"{path}: no journal here") from None
    except OSError as e:
        raise JournalError(str(explain(path, e, "reading the journal"))) from None
    except ValueError as e:  # a path no file system takes (a NUL byte)
        raise JournalError(f"{path}: {e}") from None
    scan = scan_bytes(data)
    hashes = scan.hashes() if scan.later or scan.claims else None
    scan.head = head_problem(state_dir, scan.salvaged, head, hashes=hashes, lines=scan.lines)
    return scan


def head_before_reading(state_dir: Path):
    """The head record read *before* the journal: a writer appends first and moves the head after,
    so a reader that looked at the journal first could see a head one event ahead of it and call
    an append in flight a truncation."""
    try:
        return read_head(state_dir)
    except HeadUnreadable as e:
        return e


READ_NOW = object()


def head_problem(state_dir: Path, records: list[Record], head=READ_NOW, *, hashes: dict[int, str] | None = None,
                 lines: int | None = None) -> Problem | None:
    """The journal's end against the head record (None when they agree, or when there is none and
    never was). `records`: seq 1, 2, ... in order, unless `hashes` (seq -> hash of every event the
    file holds or names) says what it holds; `lines`: how many the file has. `head`: as read before
    the journal was (see head_before_reading)."""
    if head is READ_NOW:
        head = head_before_reading(state_dir)
    lines = len(records) if lines is None else lines
    if isinstance(head, HeadUnreadable):
        return Problem(lines, "head unreadable", str(head))
    if head is None:
        headed = next((r for r in records if r.v >= HEADED), None)
        if headed is None:
            return None  # a journal from before head records
        return Problem(lines + 1, "head missing", f"{HEAD} is gone, but event {headed.seq} was written by a journal "
                                                  "that keeps one: lines cut off the journal's end cannot be ruled out")
    if hashes is not None:
        found = compare(head, max(hashes, default=0), hashes.get)
    else:
        found = compare(head, records[-1].seq if records else 0,
                        lambda seq: records[seq - 1].hash if 0 < seq <= len(records) else None)
    if found is None:
        return None
    reason, detail = found
    line = {"truncated": lines + 1, "rehashed": head.seq}.get(reason, head.seq + 1)
    return Problem(line, reason, detail)


def writer_busy(state_dir: Path) -> bool:
    """Whether a writer holds the append lock now (its line may be in flight); False when the
    lock is free, or cannot be opened (a watcher outside the group cannot tell)."""
    try:
        fd = os.open(Path(state_dir) / APPEND_LOCK, os.O_RDONLY)
    except (OSError, ValueError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
