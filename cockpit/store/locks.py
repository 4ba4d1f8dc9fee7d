"""The guard lock and the captain lock: one holder each, freed the instant it dies, seen by watchers through the kernel.

A lock is a kernel flock on a file that only the state dir's group may open (statedir.LOCK_MODE):
flock works on a read-only descriptor, so a lock file a watcher can open is a lock a watcher can
hold. Watchers still see who holds a lock without opening it: /proc/locks lists every flock with
its holder's pid and the file's device:inode, and a stat needs no open. Who that holder is (user,
host, since) is in a side file anyone may read (`guard.holder`), believed only where it names the
pid the kernel lists, started when that process started (a reused pid is not the holder it names).

An older cockpit made these files 0664: the first holder that may brings one to 0660, and a lock
file held by a process outside the group (it opened the file while it was 0664) is swapped for a
fresh one, so the next holder is one that may act.

One bastion: /proc/locks lists this host's locks, so a holder is a process on this host. A lock
file on a network file system held from another host is not listed, and reads as free to a
watcher (the kernel still refuses a second holder). The next step puts these locks on etcd
(DESIGN.md, "Growing past one bastion") behind the same `try_acquire`, `release`, `holder`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import pwd
import time
from pathlib import Path

from cockpit.store.chain import JournalError
from cockpit.store.statedir import LOCK_MODE, SHARED_MODE, StateDirError, explain, make_dir, open_file, read_regular
from cockpit.whoami import whoami

GUARD_LOCK = "guard.lock"
SWAP_LOCK = "swap.lock"  # held while a lock file held by an outsider is swapped for a fresh one
PROC_LOCKS = "/proc/locks"
SWAP_WAIT_S = 1.0  # how long a holder waits for another's swap (it takes microseconds)


def holder_file(lock: Path) -> Path:
    """Where a lock's holder says who it is: `guard.lock` -> `guard.holder`, readable by all."""
    return Path(lock).with_suffix(".holder")


class HolderLock:
    """A kernel flock on one file of the state dir, and a side file that says who holds it. The kernel
    frees it the instant its holder dies, so a dead holder never blocks anyone; the side file keeps
    the last holder's identity, so the next one can say whom it took over from."""

    def __init__(self, path: Path, identity: dict, doing: str):
        self.path = Path(path)
        self.identity = identity
        self.doing = doing  # for the one-line error: "taking the captain lock"
        self.previous: dict = {}  # what the side file said when we took it: a holder that died
        self.read_only = False  # held through a read-only descriptor (a read-only file system)
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never waits on its holder (only, at most a second, on another
        holder's swap of a lock file). True when we hold it. Raises StateDirError when the file
        cannot be opened (permissions, a read-only disk without the file), in one line."""
        if self._fd >= 0:
            return True
        make_dir(self.path.parent)
        for _ in range(3):  # the file was swapped between our open and our flock: take the new one
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if _swap_if_usurped(self.path):
                    continue
                return False
            if not _settle(fd, self.path):
                os.close(fd)  # closing frees the flock on the file no longer at our path
                continue
            self._fd = fd
            self.previous = _read_json(holder_file(self.path))
            _write_holder(holder_file(self.path), {**self.identity, "start": _start_time(os.getpid())})
            return True
        return False

    def release(self) -> None:
        if self._fd >= 0:
            side = holder_file(self.path)
            if _read_json(side).get("start") == _start_time(os.getpid()):
                _unlink(side)  # a clean release: the next holder took over from nobody
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> int:
        """The lock file, made 0660 (never the umask's mode). On a read-only file system an existing
        one is opened read-only: flock needs no more, and the guard must still start (issue 20)."""
        try:
            fd, _ = open_file(self.path, os.O_RDWR | os.O_CREAT, LOCK_MODE, self.doing)
        except StateDirError:
            if not _read_only(self.path.parent):
                raise
            try:
                fd = os.open(self.path, os.O_RDONLY)
                self.read_only = True
                return fd
            except OSError:
                raise explain(self.path, OSError(errno.EROFS, "read-only file system"), self.doing) from None
        return fd


class GuardLease(HolderLock):
    """The guard lock of a state dir (see the module's docstring). A kernel lock has no epoch and
    needs no renewal: its holder holds it as long as it lives, and nobody else can take it before."""

    epoch: int | None = None
    fence: tuple[bytes, int] | None = None
    lost: str | None = None

    def __init__(self, state_dir: Path, identity: dict):
        super().__init__(Path(state_dir) / GUARD_LOCK, identity, "taking the guard lock")

    def renew(self) -> bool:
        return self.held

    def still_holder(self) -> bool:
        return self.held

    def valid_for(self) -> float:
        return math.inf if self.held else 0.0

    def holder(self) -> dict | None:
        return holder(self.path)


# --- who holds a lock, by the kernel's word -----------------------------------------------------


def holder_pids(path: Path) -> list[int | None] | None:
    """The pids holding a flock on `path` as /proc/locks lists them, exclusive holders first; None
    for a holder the kernel lists without a pid here (another pid namespace). [] when free, and
    None when /proc/locks cannot be read (not Linux): then nobody can say."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    try:
        with open(PROC_LOCKS, "rb") as f:
            listing = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    exact, by_inode = [], []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":  # "->": a waiter; POSIX and OFD locks do not block a flock
            continue
        kind, pid, where = parts[3], _int(parts[4]), parts[5]
        entry = (kind != "WRITE", pid if pid and pid > 0 else None)
        if where == key:
            exact.append(entry)
        elif where.startswith("00:") and where.rsplit(":", 1)[-1] == str(st.st_ino):
            by_inode.append(entry)
    if not exact and os.major(st.st_dev) == 0:
        exact = by_inode  # btrfs and overlay stat a file on another anonymous device than the lock's
    return [pid for _, pid in sorted(exact, key=lambda e: e[0])]


def holder(path: Path) -> dict | None:
    """Who holds a HolderLock's file now (a live process), or None when nobody does: the kernel's
    pid, with the user, host and since its side file says when that file names this very process;
    otherwise the process's owner on this host, marked `verified: False`. `outsider`: the holder may
    not open the lock file now (a process outside the group that opened an older cockpit's 0664 file)."""
    pids = holder_pids(path)
    if not pids:
        return None
    pid = pids[0]
    said = _read_json(holder_file(path))
    start = _start_time(pid) if pid is not None else None
    outsider = pid is not None and _may_open(pid, path) is False
    if pid is not None and said.get("pid") == pid and start is not None and said.get("start") == start:
        return {"user": said.get("user", "?"), "host": said.get("host", "?"), "pid": pid,
                "since": said.get("since", "?"),
                "verified": True, "outsider": outsider}
    return {"user": _owner(pid), "host": whoami("holder").host if pid is not None else "?",
            "pid": pid if pid is not None else "?", "since": "?", "verified": False, "outsider": outsider}


def guard_holder(state_dir: Path) -> dict | None:
    """Who holds the guard lock now, or None."""
    return holder(Path(state_dir) / GUARD_LOCK)


def guarding(state_dir: Path) -> dict | None:
    """The guard lock's holder when it is one that may act: a process outside the group holding an
    older cockpit's 0664 file is no guard (the next guard swaps that file away)."""
    found = guard_holder(state_dir)
    return None if found is None or found["outsider"] else found


def guard_lock_pid(state_dir: Path) -> int | None:
    """The pid that holds the guard lock, by the kernel's word (None: nobody, or not visible here)."""
    pids = holder_pids(Path(state_dir) / GUARD_LOCK)
    return pids[0] if pids else None


# --- a lock file an outsider holds, and one an older cockpit made 0664 ------------------------------


def _settle(fd: int, path: Path) -> bool:
    """We hold the flock on `fd`: is it still the file at `path`, and is that file 0660? An older
    cockpit's 0664 file is brought to 0660 when we own it (or are root); otherwise it is swapped
    for a fresh one while we hold it, and False says to take the new one. Done under the swap lock,
    so no swap can come between a holder's check and its holding (two holders of two files)."""
    with _SwapLock(path.parent) as swapping:
        if not swapping.held:
            return False  # another holder is swapping for longer than it takes: try again later
        try:
            mine, there = os.fstat(fd), os.stat(path)
        except OSError:
            return False
        if (mine.st_dev, mine.st_ino) != (there.st_dev, there.st_ino):
            return False
        if mine.st_mode & 0o007 == 0:
            return True
        try:
            os.fchmod(fd, LOCK_MODE)
            return True
        except OSError:
            pass
        return not _swap(path)  # not ours to chmod: a fresh 0660 file takes its place


def _swap_if_usurped(path: Path) -> bool:
    """The lock is held: when every holder the kernel lists may not open the file now (it opened an
    older cockpit's 0664 file), put a fresh 0660 file in its place, so the lock is ours to take.
    A holder we cannot see (hidden /proc, another pid namespace) counts as one that may act: a lock
    is never swapped away from a holder that might be a guard, which would make two."""
    if not _usurped(path):
        return False
    with _SwapLock(path.parent) as swapping:
        return swapping.held and _usurped(path) and _swap(path)


def _usurped(path: Path) -> bool:
    pids = holder_pids(path)
    return pids is not None and bool(pids) and all(pid is not None and _may_open(pid, path) is False for pid in pids)


def _swap(path: Path) -> bool:
    """A fresh 0660 file renamed over `path` (a new inode: nobody holds it yet). False when it cannot be."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, LOCK_MODE)
        os.fchmod(fd, LOCK_MODE)
        os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        _unlink(tmp)
        return False


class _SwapLock:
    """The state dir's swap lock (0660, so only the group can hold it), taken for at most SWAP_WAIT_S.
    Without one (a read-only disk, a file we cannot open) nothing can be swapped either: held."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / SWAP_LOCK
        self.fd = -1
        self.held = False

    def __enter__(self) -> _SwapLock:
        try:
            self.fd, _ = open_file(self.path, os.O_RDWR | os.O_CREAT, LOCK_MODE, "taking the swap lock")
        except Exception:  # noqa: BLE001 - StateDirError: no swap lock, so no swap to wait for
            self.held = True
            return self
        deadline = time.monotonic() + SWAP_WAIT_S
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return self
                time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        if self.fd >= 0:
            os.close(self.fd)


# --- the process behind a pid -----------------------------------------------------------------------


def _may_open(pid: int, path: Path) -> bool | None:
    """Whether process `pid` may open `path` for writing now: root, the file's owner, or a member of
    its group (a 0660 file). None when we cannot tell (the process is gone, or /proc hides it)."""
    try:
        st = os.stat(path)
        status = Path(f"/proc/{pid}/status").read_text(errors="replace")
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    try:
        fsuid = int(fields["Uid"].split()[3])
        groups = {int(fields["Gid"].split()[3]), *(int(g) for g in fields.get("Groups", "").split())}
    except (KeyError, IndexError, ValueError):
        return None
    return fsuid == 0 or fsuid == st.st_uid or st.st_gid in groups


def _start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat): a reused pid has another."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _owner(pid: int | None) -> str:
    if pid is None:
        return "?"
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return "?"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# --- the side file --------------------------------------------------------------------------------


def _write_holder(path: Path, identity: dict) -> None:
    """Atomically (temp file, rename), readable by all. Best effort: a full or read-only disk keeps
    the lock held and only the holder's name unsaid (watchers see the kernel's pid)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SHARED_MODE)
        try:
            os.fchmod(fd, SHARED_MODE)
            os.write(fd, json.dumps(identity).encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        _unlink(tmp)


def _read_json(path: Path) -> dict:
    try:
        got = json.loads(read_regular(path, 4096) or b"{}")
    except (OSError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


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
    """Only one captain per state dir: a HolderLock on captain.lock (0660: no watcher can hold
    it), so a dead captain's lock is free at once; captain.holder says who holds it, for the refusal
    message and for `status`."""

    def __init__(self, state_dir: Path, *, user: str, host: str, pid: int, since: str):
        self._lock = HolderLock(Path(state_dir) / CAPTAIN_LOCK,
                                {"user": user, "host": host, "pid": pid, "since": since},
                                "taking the captain lock")
        self.path, self.identity = self._lock.path, self._lock.identity
        self.took_over: dict | None = None

    def acquire(self) -> CaptainLock:
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
