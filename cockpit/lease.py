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

from cockpit.statedir import SHARED_MODE, make_dir, open_file

GUARD_LOCK = "guard.lock"


class HolderLock:
    """A kernel flock on one file of the state dir that also records who holds it. The kernel
    frees it the instant its holder dies, so a dead holder never blocks anyone; the file keeps the
    last holder's identity, so the next one can say whom it took over from."""

    def __init__(self, path: Path, identity: dict, doing: str):
        self.path = Path(path)
        self.identity = identity
        self.doing = doing  # for the one-line error: "taking the captain lock"
        self.previous: dict = {}  # what the file said when we took it: a holder that died
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks. True when we hold it. Raises StateDirError
        when the file cannot be opened (permissions, a read-only disk), in one line."""
        if self._fd >= 0:
            return True
        make_dir(self.path.parent)
        fd, _ = open_file(self.path, os.O_RDWR | os.O_CREAT, SHARED_MODE, self.doing)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.previous = _read(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(self.identity).encode(), 0)
            os.fsync(fd)
        except OSError:
            pass  # a full disk: the lock is held all the same (who holds it is only for display)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


class GuardLease(HolderLock):
    """The guard lock of a state dir (see the module's docstring)."""

    def __init__(self, state_dir: Path, identity: dict):
        super().__init__(Path(state_dir) / GUARD_LOCK, identity, "taking the guard lock")


def holder(path: Path) -> dict | None:
    """Who holds a HolderLock's file now (a live process), or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # none, or not ours to read: say nothing rather than fail
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd) or {"user": "?", "host": "?", "pid": "?"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def guard_holder(state_dir: Path) -> dict | None:
    """Who holds the guard lock now, or None."""
    return holder(Path(state_dir) / GUARD_LOCK)


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
