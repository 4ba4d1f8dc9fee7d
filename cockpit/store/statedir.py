"""The state dir's files and who may touch them: the bastion's permission model in one place.

The state dir belongs to a group (say `cockpit`): its members may act (run, kill, shift),
everyone else on the bastion may only watch (observe, status, verify). So the dir is
setgid (new files take its group) and group-writable; the journal, its head record, the side
file, guard.json and the locks' holder files are group-writable and world-readable; the lock
files (the journal's append lock, the guard lock, the captain lock) are group-only: flock works
on a read-only descriptor, so a watcher who could open one could hold it and stall a kill.
"""

from __future__ import annotations

import errno
import grp
import os
import stat
from pathlib import Path

DIR_MODE = 0o2775  # setgid: files made here belong to the dir's group, whoever makes them
SHARED_MODE = 0o664  # journal, head record, side file, holder files: the group writes, all read
LOCK_MODE = 0o660  # the append, guard and captain locks: only those who may act may open (so hold) them


class StateDirError(Exception):
    """A state dir or one of its files cannot be used; one line that says what to do."""


def group_of(path: Path) -> str:
    try:
        gid = path.stat().st_gid
    except OSError:
        return "?"
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def explain(path: Path, e: OSError, doing: str) -> StateDirError:
    """One line for an OSError on a state-dir file, naming the file and what to do."""
    path = Path(path)
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM):
        where = path if path.is_dir() else path.parent
        group = group_of(where)
        if doing.startswith("reading"):
            return StateDirError(
                f"{path}: permission denied ({doing}): watchers need read access to the state dir and its "
                f"files (mode {DIR_MODE:o} on the dir, {SHARED_MODE:o} on the journal); ask an admin"
            )
        return StateDirError(
            f"{path}: permission denied ({doing}): only members of group {group!r} (the state dir's group) "
            f"may act on this rollout; ask an admin to add you (usermod -aG {group} $USER, then log in again), "
            "or watch read-only with `cockpit observe`"
        )
    if e.errno == errno.EROFS:
        return StateDirError(f"{path}: read-only file system ({doing}): the state dir must be writable to act")
    if isinstance(e, IsADirectoryError) or e.errno == errno.EISDIR:
        return StateDirError(f"{path}: is a directory where a file belongs ({doing}): move it away")
    if isinstance(e, NotADirectoryError) or e.errno in (errno.ENOTDIR, errno.EEXIST):
        return StateDirError(f"{path}: a file stands where the state dir (a directory) belongs ({doing})")
    return StateDirError(f"{path}: {e.strerror or e} ({doing})")


def make_dir(path: Path) -> None:
    """Create the state dir (and parents) the first time, setgid and group-writable."""
    path = Path(path)
    if path.is_dir():
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)
    except OSError as e:
        raise explain(path, e, "creating the state dir") from None


def open_file(path: Path, flags: int, mode: int, doing: str) -> tuple[int, bool]:
    """os.open with the model's mode (not the umask's) on a file we create; (fd, created)."""
    path = Path(path)
    try:
        if flags & os.O_CREAT:
            try:
                fd = os.open(path, flags | os.O_EXCL, mode)
            except FileExistsError:
                return os.open(path, flags & ~os.O_CREAT), False
            os.fchmod(fd, mode)
            return fd, True
        return os.open(path, flags), False
    except OSError as e:
        raise explain(path, e, doing) from None


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """A state-dir file another user may have replaced, read without waiting on it: a FIFO or a
    device where a file belongs raises OSError at once instead of blocking the reader (a face, a
    standby guard). `limit`: read at most this many bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        chunks, left = [], limit if limit is not None else -1
        while left != 0:
            chunk = os.read(fd, 1 << 16 if left < 0 else min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left = left - len(chunk) if left > 0 else left
        return b"".join(chunks)
    finally:
        os.close(fd)
