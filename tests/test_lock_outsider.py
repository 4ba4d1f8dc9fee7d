"""Lock files no watcher can hold (issue 20, item 4): a second Unix user outside the state dir's group
tries to hold the guard lock and the captain lock. On files this cockpit made (0660) it cannot even
open them; on an older cockpit's 0664 file it opened before the upgrade, its lock is swapped away,
so captain commands are not refused and a guard takes the lock. Watchers still see who holds each
lock, by the kernel's word. The standby guard on real HAProxy and Prometheus is in
tests/integration/test_lock_outsider.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cockpit.store.locks import (
    CAPTAIN_LOCK,
    GUARD_LOCK,
    CaptainLock,
    GuardLease,
    guard_holder,
    holder_file,
    holder_pids,
    read_captain,
)
from tests.conftest import ROOT
from tests.test_state_dir_errors import _AS_USER, GROUP, NOBODY, as_user, bastion, live_captain  # noqa: F401 - bastion: a fixture

MEMBER = 1  # `daemon`, a member of the group: another user than the outsider (nobody)


def as_member(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a member of the state dir's group who is not root (cannot chmod root's files)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(_AS_USER), str(MEMBER), str(GROUP), *args],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})

_HOLD = """
    import fcntl, os, sys, time
    path, how = sys.argv[3], sys.argv[4]
    groups = [int(g) for g in sys.argv[2].split(",") if g]
    os.setgroups(groups)
    os.setgid(groups[0] if groups else int(sys.argv[1]))
    os.setuid(int(sys.argv[1]))
    try:
        fd = os.open(path, os.O_RDONLY)  # flock needs no more than a read-only descriptor
    except OSError as e:
        print("cannot open:", e.strerror, flush=True)
        sys.exit(0)
    print("opened", flush=True)
    if how == "wait":
        sys.stdin.readline()  # told when to try: after the holder has gone, as in the issue
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(120)
"""


class Outsider:
    """`nobody` outside the group (or in `groups`), opening a lock file read-only and holding it."""

    def __init__(self, path: Path, *, wait: bool = False, groups: tuple[int, ...] = ()):
        self.proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_HOLD), str(NOBODY), ",".join(map(str, groups)),
                                      str(path), "wait" if wait else "now"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd="/")
        self.said = self.proc.stdout.readline().strip()

    def go(self) -> None:
        """Try to take the lock now (blocking in the kernel until it is free)."""
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def try_now(self) -> str:
        self.go()
        return self.held()

    def held(self) -> str:
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def older_lock_file(path: Path) -> None:
    """A lock file as an older cockpit made it: 0664, the dir's group, owned by whoever made it (root)."""
    path.touch()
    os.chown(path, 0, GROUP)
    os.chmod(path, 0o664)


def mode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return stat.S_IMODE(st.st_mode), st.st_gid


def test_the_lock_files_are_the_groups_alone_and_watchers_still_see_the_holders(bastion):
    config, state_dir = bastion
    live_captain(config, state_dir).journal.close()
    guard = GuardLease(state_dir, {"user": "root", "host": "bastion", "pid": os.getpid(), "since": "14:00Z"})
    captain = CaptainLock(state_dir, user="alice", host="bastion", pid=os.getpid(), since="14:01Z").acquire()
    assert guard.try_acquire()
    try:
        for name in (GUARD_LOCK, CAPTAIN_LOCK, "swap.lock", "journal.lock"):
            assert mode(state_dir / name) == (0o660, GROUP), name
        for name in ("guard.holder", "captain.holder"):
            assert mode(state_dir / name) == (0o664, GROUP), name
        outsider = Outsider(state_dir / GUARD_LOCK)
        assert outsider.said == "cannot open: Permission denied"
        assert Outsider(state_dir / CAPTAIN_LOCK).said == "cannot open: Permission denied"
        # A watcher outside the group sees both holders without opening either file.
        doc = json.loads(as_user([], "status", "--config", str(config), "--json").stdout)
        assert doc["captain"] == {"user": "alice", "host": "bastion", "pid": os.getpid(), "since": "14:01Z",
                                  "verified": True, "outsider": False}
        assert doc["guard"]["holder"] == f"{os.getpid()}@bastion"
    finally:
        guard.release()
        captain.release()
    assert not (state_dir / "guard.holder").exists() and read_captain(state_dir) is None  # a clean release


@pytest.mark.parametrize("lock", [GUARD_LOCK, CAPTAIN_LOCK])
def test_an_outsider_holding_an_older_cockpits_lock_file_is_swapped_away(bastion, lock):
    """The attack of the issue: the file was 0664, the outsider opened it (read-only) and holds it."""
    config, state_dir = bastion
    live_captain(config, state_dir).journal.close()
    older_lock_file(state_dir / lock)
    outsider = Outsider(state_dir / lock)
    try:
        assert outsider.said == "opened" and outsider.held() == "held"
        seen = guard_holder(state_dir) if lock == GUARD_LOCK else None
        if seen is not None:  # what a watcher is told: a process outside the group, not a guard
            assert (seen["pid"], seen["user"], seen["verified"], seen["outsider"]) == (outsider.proc.pid, "nobody", False, True)
        if lock == CAPTAIN_LOCK:
            assert read_captain(state_dir) is None  # an outsider is no captain
            # A member of the group (who cannot chmod root's file) acts as captain.
            res = as_member("note", "--config", str(config), "a note while an outsider holds the old lock")
            assert res.returncode == 0, res.stdout + res.stderr
        else:
            lease = GuardLease(state_dir, {"user": "root", "host": "bastion", "pid": os.getpid(), "since": "now"})
            assert lease.try_acquire()
            assert guard_holder(state_dir)["pid"] == os.getpid() and guard_holder(state_dir)["verified"]
            lease.release()
        # The path holds a fresh 0660 file nobody outside the group can open; the outsider holds a file
        # no longer at the path.
        assert stat.S_IMODE((state_dir / lock).stat().st_mode) == 0o660
        assert holder_pids(state_dir / lock) == []
        assert Outsider(state_dir / lock).said == "cannot open: Permission denied"
    finally:
        outsider.stop()


def test_an_older_cockpits_free_lock_file_is_brought_to_0660(bastion):
    """Its owner (root here) chmods it; a member who may not chmod it swaps it for a fresh one."""
    config, state_dir = bastion
    live_captain(config, state_dir).journal.close()
    older_lock_file(state_dir / GUARD_LOCK)
    before = (state_dir / GUARD_LOCK).stat().st_ino
    lease = GuardLease(state_dir, {"pid": os.getpid()})
    assert lease.try_acquire()
    lease.release()
    assert mode(state_dir / GUARD_LOCK) == (0o660, GROUP) and (state_dir / GUARD_LOCK).stat().st_ino == before
    older_lock_file(state_dir / CAPTAIN_LOCK)
    res = as_member("note", "--config", str(config), "a member's note")
    assert res.returncode == 0, res.stdout + res.stderr
    after = state_dir / CAPTAIN_LOCK
    assert mode(after) == (0o660, GROUP) and after.stat().st_uid == MEMBER  # a fresh file, the member's


def test_an_outsider_waiting_on_an_older_lock_file_when_the_captain_dies(bastion):
    """The issue's run: the outsider flocks the moment the holder is gone; the next captain is not refused."""
    config, state_dir = bastion
    live_captain(config, state_dir).journal.close()
    older_lock_file(state_dir / CAPTAIN_LOCK)
    outsider = Outsider(state_dir / CAPTAIN_LOCK, wait=True)
    try:
        assert outsider.said == "opened"
        first = subprocess.Popen([sys.executable, "-c", "import os, sys, time; from cockpit.store.locks import CaptainLock; "
                                  f"CaptainLock({str(state_dir)!r}, user='ghost', host='bastion', pid=os.getpid(), "
                                  "since='13:00Z').acquire(); print('held', flush=True); time.sleep(60)"],
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert first.stdout.readline().strip() == "held"
        assert read_captain(state_dir)["user"] == "ghost"
        first.kill()  # the captain's terminal dies; the outsider, waiting, gets the old file's lock
        first.wait(timeout=10)
        assert outsider.try_now() == "held"
        res = as_member("note", "--config", str(config), "the next captain's note")
        assert res.returncode == 0, res.stdout + res.stderr  # not exit 3 "held by ?@?"
    finally:
        outsider.stop()


# --- believing a holder's side file (no second user needed) ---------------------------------------------


def test_a_side_file_is_believed_only_for_the_process_it_names(tmp_path):
    lease = GuardLease(tmp_path, {"user": "alice", "host": "bastion", "pid": os.getpid(), "since": "14:00Z"})
    assert lease.try_acquire()
    try:
        assert guard_holder(tmp_path) == {"user": "alice", "host": "bastion", "pid": os.getpid(), "since": "14:00Z",
                                          "verified": True, "outsider": False}
        said = json.loads(holder_file(tmp_path / GUARD_LOCK).read_text())
        for forged in ({**said, "pid": 1}, {**said, "start": said["start"] + 1}, {}):  # another pid; a reused pid
            holder_file(tmp_path / GUARD_LOCK).write_text(json.dumps(forged))
            seen = guard_holder(tmp_path)
            assert (seen["pid"], seen["verified"], seen["since"]) == (os.getpid(), False, "?")
    finally:
        lease.release()
    assert guard_holder(tmp_path) is None


def test_a_holder_in_another_process_is_listed_by_the_kernel(tmp_path):
    code = ("import os, time; from cockpit.store.locks import GuardLease; "
            f"GuardLease({str(tmp_path)!r}, {{'pid': os.getpid(), 'user': 'g', 'host': 'h'}}).try_acquire(); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "held"
        assert holder_pids(tmp_path / GUARD_LOCK) == [proc.pid]
        assert not GuardLease(tmp_path, {"pid": os.getpid()}).try_acquire()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while holder_pids(tmp_path / GUARD_LOCK) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder_pids(tmp_path / GUARD_LOCK) == []
    assert holder_pids(tmp_path / "missing.lock") == []


def test_a_fifo_where_a_side_file_belongs_never_blocks_a_reader(tmp_path):
    """A group member can rename a FIFO over guard.holder or guard.json: a standby taking the lock and
    every face read past it at once (a reader of a FIFO without a writer would wait for good)."""
    from cockpit.store.published import PUBLISHED, GuardFeed, read_published

    os.mkfifo(holder_file(tmp_path / GUARD_LOCK))
    os.mkfifo(tmp_path / PUBLISHED)
    lease = GuardLease(tmp_path, {"user": "alice", "host": "bastion", "pid": os.getpid(), "since": "14:00Z"})
    assert lease.try_acquire() and lease.previous == {}  # (and its own side file replaced the FIFO)
    try:
        assert guard_holder(tmp_path)["verified"]
        assert read_published(tmp_path) is None and GuardFeed(tmp_path).latest() is None
    finally:
        lease.release()
