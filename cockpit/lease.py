"""The guard lock: exactly one evaluator per state dir, freed the instant its holder dies.

A kernel flock on `guard.lock`, like the captain lock. The file also records who holds it
(for "GUARD pid@host" and the takeover line). Behind this small interface (`try_acquire`,
`release`, `holder`) a later step can put an etcd lease, so that a standby guard on a second
bastion takes over; this is the single-host version.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

GUARD_LOCK = "guard.lock"


class GuardLease:
    def __init__(self, state_dir: Path, identity: dict):
        self.path = Path(state_dir) / GUARD_LOCK
        self.identity = identity
        self.previous: dict = {}  # what the file said when we took it: a holder that died
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks. True when we hold it."""
        if self._fd >= 0:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.previous = _read(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.identity).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def guard_holder(state_dir: Path) -> dict | None:
    """Who holds the guard lock now (a live process), or None when nobody does."""
    path = Path(state_dir) / GUARD_LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd) or {"pid": "?", "host": "?"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
