"""The side file: events the journal would not take (disk full, file-size limit, I/O error,
a broken chain), kept fsync'd in the state dir until the journal takes writes again.

A kill must reach the gateway whatever state the journal is in, and what it did must not be
forgotten: its events wait here and are journaled, with their own times and actors, by the
next append that succeeds (or the next writable open); then the file is removed.

One JSON object a line: {"ts", "actor", "kind", "payload", "error"}; `error` says why the
journal refused it. An event an engine has already folded (engine.Held) also carries "pseq", the
provisional seq it was folded at: a `notified` kept beside its `notification_queued` refers to it
by that seq, and `write_late` gives it the queued message's journaled seq.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec

from cockpit.core.events import (
    Actor,
    JournaledLate,
    Notified,
    Payload,
    Record,
    RecordError,
    make_record,
    parse_record,
)
from cockpit.store.statedir import SHARED_MODE, open_file

ASIDE = "unjournaled.jsonl"
UNNUMBERED = 2 * 10**12  # provisional seqs for kept events written without one (an older cockpit's)


@dataclass(frozen=True)
class KeptEvent:
    ts: datetime
    actor: Actor
    payload: Payload
    error: str
    pseq: int = 0  # the provisional seq an engine folded it at (0: none)


def kept_line(payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> bytes:
    """One side-file line, as the journal's encoder writes it (also what `cockpit kill` prints
    when not even the side file can be written: append it here later and it is journaled)."""
    doc = {"ts": ts, "actor": actor, "kind": payload.KIND, "payload": payload, "error": error}
    if pseq:
        doc["pseq"] = pseq
    return msgspec.json.encode(doc) + b"\n"


def keep(state_dir: Path, payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> Path:
    """Append one event to the side file, fsync'd (the caller holds the journal's lock)."""
    path = Path(state_dir) / ASIDE
    line = kept_line(payload, actor=actor, ts=ts, error=error, pseq=pseq)
    fd, created = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, SHARED_MODE, "keeping an unjournaled event")
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fd = os.open(state_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def read_kept(state_dir: Path) -> tuple[list[KeptEvent], int]:
    """The kept events in order, and how many lines could not be read (a torn last line)."""
    path = Path(state_dir) / ASIDE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    kept, bad = [], 0
    for raw in data.splitlines():
        try:
            doc = json.loads(raw)
            envelope = {"hash": "", "v": 1, "seq": 1, "prev": "",
                        **{k: doc[k] for k in ("ts", "actor", "kind", "payload")}}
            record = parse_record(msgspec.json.encode(envelope))
            pseq = doc.get("pseq", 0)
            kept.append(KeptEvent(record.ts, record.actor, record.payload, str(doc.get("error", "")),
                                  pseq if isinstance(pseq, int) and not isinstance(pseq, bool) else 0))
        except (ValueError, KeyError, TypeError, RecordError, RecursionError):  # not JSON, not an event, too deep
            bad += 1
    return kept, bad


def kept_records(state_dir: Path, head: str) -> list[Record]:
    """The kept events as the records an engine folded them as (its provisional seqs, the journal's
    head as their hash), for every face to fold on top of the journal's: they are facts all the same
    (a kill verified at the gateway while the journal would not take it reads as a rollback, not as
    LIVE at 5 %). [] when there are none, or the side file cannot be read."""
    try:
        kept, _ = read_kept(state_dir)
    except OSError:
        return []
    return [msgspec.structs.replace(make_record(seq=k.pseq or UNNUMBERED + i, ts=k.ts, actor=k.actor, payload=k.payload,
                                                prev=head), hash=head) for i, k in enumerate(kept)]


def kept_stamp(state_dir: Path) -> tuple[int, int, int] | None:
    """What changes when the side file does (None: there is none), so a face reads it only then."""
    try:
        st = (Path(state_dir) / ASIDE).stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def write_late(kept: list[KeptEvent], recent: list[Record], write: Callable[..., Record], *, actor: Actor,
               now: datetime) -> list[Record]:
    """Journal the kept events in order, each with its own time and actor, after a JournaledLate
    that counts them; `write(payload, actor=, ts=)` appends one line. An event already in `recent`
    (a crash between journaling them and clearing the file) is not written twice. A `notified`
    that names its queued message by provisional seq names the seq it is journaled at."""
    seqs: dict[int, int] = {}  # provisional seq -> journaled seq
    todo: list[KeptEvent] = []
    for k in kept:
        payload = relinked(k.payload, seqs)
        done = next((r for r in reversed(recent) if r.ts == k.ts and r.actor == k.actor and r.payload == payload), None)
        if done is None:
            todo.append(k)
        elif k.pseq:
            seqs[k.pseq] = done.seq
    if not todo:
        return []
    written = [write(JournaledLate(count=len(todo), error=todo[0].error), actor=actor, ts=now)]
    for k in todo:
        record = write(relinked(k.payload, seqs), actor=k.actor, ts=k.ts)
        if k.pseq:
            seqs[k.pseq] = record.seq
        written.append(record)
    return written


def relinked(payload: Payload, seqs: dict[int, int]) -> Payload:
    """A delivery's reference to its queued message, moved from a provisional seq to a journaled one."""
    if isinstance(payload, Notified) and payload.queued in seqs:
        return msgspec.structs.replace(payload, queued=seqs[payload.queued])
    return payload


def clear(state_dir: Path, unreadable: int) -> None:
    """Remove the side file once its events are journaled; unreadable lines are kept aside."""
    path = Path(state_dir) / ASIDE
    if unreadable:
        os.replace(path, path.with_name(f"{ASIDE}.unreadable-{datetime.now():%Y%m%dT%H%M%S}"))
    else:
        os.unlink(path)
    fd = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
