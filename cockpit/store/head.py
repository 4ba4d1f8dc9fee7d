"""The head record: how many events the journal holds and the last one's hash, kept beside it.

The hash chain names an edited, deleted or reordered line, but not a tail cut off at a line
end nor a last line edited and re-hashed: both leave a valid chain. The head record, replaced
atomically after every append, remembers where the journal ended. A writer that dies between
its append and the head update leaves the head one event behind: that is not tampering.

Deleting the head with the tail would hide the cut, so the proof that a journal keeps a head
is in its chained lines: each line written while the head is kept has format version HEADED.
A journal with such a line and no head is named ("head missing"), never taken for one from
before head records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cockpit.store.statedir import SHARED_MODE

HEAD = "journal.head"
HEADED = 2  # a line's `v` when written by a journal that keeps a head record (1: from before)


@dataclass(frozen=True)
class Head:
    seq: int  # events in the journal
    hash: str  # the hash of event `seq` (the genesis hash when seq is 0)


class HeadUnreadable(Exception):
    pass


def read_head(state_dir: Path) -> Head | None:
    """The head record, or None when there is none (a journal from before head records)."""
    path = Path(state_dir) / HEAD
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # ValueError: a path with a NUL byte
        raise HeadUnreadable(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        doc = json.loads(data)
        return Head(int(doc["seq"]), str(doc["hash"]))
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        raise HeadUnreadable(f"{path}: not a head record ({len(data)} bytes)") from None


def write_head(state_dir: Path, head: Head) -> None:
    """Replace the head record atomically: temp file, fsync, rename, fsync the dir."""
    state_dir = Path(state_dir)
    tmp = state_dir / f".{HEAD}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SHARED_MODE)
    try:
        os.fchmod(fd, SHARED_MODE)
        os.write(fd, json.dumps({"seq": head.seq, "hash": head.hash}).encode() + b"\n")
        os.fsync(fd)
    except OSError:
        os.close(fd)
        _unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, state_dir / HEAD)
    except OSError:
        _unlink(tmp)
        raise
    fd = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def compare(head: Head | None, n: int, hash_of: Callable[[int], str | None]) -> tuple[str, str] | None:
    """(reason, detail) when the journal's events (the last one's seq, and each one's hash by seq:
    None for one no line holds) disagree with the head.

    Reasons: "truncated" (fewer events than the head says), "rehashed" (the head's last event
    has another hash now), "head behind" (more than one event appended without the head).
    """
    if head is None:
        return None
    short = head.hash[:12]
    if head.seq > n:
        return "truncated", f"the head record says {head.seq} events ending in {short}, the journal has {n}"
    found = hash_of(head.seq) if head.seq > 0 else None
    if found is not None and found != head.hash:
        return "rehashed", (
            f"the head record says event {head.seq} has hash {short}, the journal's event {head.seq} "
            f"has {found[:12]}: it was edited and re-hashed"
        )
    if head.seq < n - 1:
        return "head behind", (
            f"the head record says {head.seq} events, the journal has {n}: "
            f"{n - head.seq} events were appended without updating it"
        )
    return None
