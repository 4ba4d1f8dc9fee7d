"""The side file: events the journal would not take (disk full, file-size limit, I/O error,
a broken chain), kept fsync'd in the state dir until the journal takes writes again.

A kill must reach the gateway whatever state the journal is in, and what it did must not be
forgotten: its events wait here and are journaled, with their own times and actors, by the
next append that succeeds (or the next writable open); then the file is removed.

One JSON object a line: {"ts", "actor", "kind", "payload", "error"}; `error` says why the
journal refused it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec

from cockpit.core.events import Actor, Payload, RecordError, parse_record
from cockpit.statedir import SHARED_MODE, open_file

ASIDE = "unjournaled.jsonl"


@dataclass(frozen=True)
class KeptEvent:
    ts: datetime
    actor: Actor
    payload: Payload
    error: str


def keep(state_dir: Path, payload: Payload, *, actor: Actor, ts: datetime, error: str) -> Path:
    """Append one event to the side file, fsync'd (the caller holds the journal's lock)."""
    path = Path(state_dir) / ASIDE
    line = msgspec.json.encode({  # the journal's encoder: what the journal would have written
        "ts": ts, "actor": actor, "kind": payload.KIND, "payload": payload, "error": error,
    }) + b"\n"
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
            envelope = {"hash": "", "v": 1, "seq": 1, "prev": "", **{k: doc[k] for k in ("ts", "actor", "kind", "payload")}}
            record = parse_record(msgspec.json.encode(envelope))
            kept.append(KeptEvent(record.ts, record.actor, record.payload, str(doc.get("error", ""))))
        except (ValueError, KeyError, TypeError, RecordError, RecursionError):  # not JSON, not an event, too deep
            bad += 1
    return kept, bad


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
