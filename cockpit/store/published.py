"""The guard's published round as a face reads it: guard.json, and what the face sees of the guard for itself.

Kept apart from the guard itself so that a face (observer, `status`) loads nothing that
evaluates: no monitor, no engine, no adapters. A face believes nothing guard.json says about
time: it takes the guard lock's holder from the kernel (locks.guard_lock_pid) and the round's
age from its own clocks and the file's ctime (which only the kernel sets; the file's owner can
set its mtime), and the core judges (core.guardsight).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cockpit.clock import SystemClock
from cockpit.core.evaluation import Evaluation
from cockpit.core.guardsight import GuardSight, face_now
from cockpit.store.locks import guard_lock_pid
from cockpit.store.statedir import read_regular

PUBLISHED = "guard.json"


def publish(state_dir: Path, evaluation: Evaluation) -> None:
    """The guard's round, atomically (temp file, rename); raises OSError (the guard says it once)."""
    path = Path(state_dir) / PUBLISHED
    tmp = path.with_name(f".{PUBLISHED}.{os.getpid()}")
    tmp.write_text(json.dumps(evaluation.to_json(), separators=(",", ":")))
    os.replace(tmp, path)


def read_published(state_dir: Path) -> Evaluation | None:
    """The guard's latest published round, or None (no guard yet, or a file being replaced)."""
    try:
        return Evaluation.from_json(json.loads(read_regular(Path(state_dir) / PUBLISHED)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def guard_sight(state_dir: Path, holder: dict | None, *, wall=time.time) -> GuardSight:
    """What a face that looks once (`status`) sees of the guard: the lock's holder (locks.guard_holder,
    so what it names and what is judged are one reading), and the file's age by the wall clock."""
    try:
        age = max(0.0, wall() - (Path(state_dir) / PUBLISHED).stat().st_ctime)
    except OSError:
        age = None
    pid = holder.get("pid") if holder else None
    return GuardSight(pid if isinstance(pid, int) else None, age)


class GuardFeed:
    """A face's view of the guard: re-reads guard.json only when it changed, and sees for itself who
    holds the guard lock and how long ago the file last changed.

    The age is the older of two readings: the wall clock against the file's ctime, and this face's
    monotonic clock since it first saw the file as it is (a wall clock set back cannot make an old
    round look fresh)."""

    def __init__(self, state_dir: Path, *, wall=time.time, monotonic=time.monotonic):
        self.path = Path(state_dir) / PUBLISHED
        self.wall, self.monotonic = wall, monotonic
        self._stamp: tuple[int, ...] | None = None
        self._latest: Evaluation | None = None
        self._seen: tuple[tuple[int, ...], float] | None = None  # (the file as it is, when we first saw it so)

    def latest(self) -> Evaluation | None:
        try:
            st = self.path.stat()
        except OSError:
            return self._latest
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            fresh = read_published(self.path.parent)
            if fresh is not None:
                self._latest, self._stamp = fresh, stamp
        return self._latest

    def sight(self) -> GuardSight:
        try:
            st = self.path.stat()
        except OSError:
            return GuardSight(guard_lock_pid(self.path.parent), None)
        stamp = (st.st_ino, st.st_ctime_ns, st.st_size)
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, self.monotonic())
        age = max(0.0, self.wall() - st.st_ctime, self.monotonic() - self._seen[1])
        return GuardSight(guard_lock_pid(self.path.parent), age)


class FollowedClock:
    """A face's clock: its own wall clock; in a demo (an accelerated clock, by the journal's word),
    the guard's, so an observer of a demo sees the soak the captain sees (core.guardsight.face_now).
    `follow(engine)` once the face's engine exists: until then, the wall."""

    def __init__(self, feed, fallback=None):
        """`feed`: a GuardFeed (its `latest` and `sight`)."""
        self.feed = feed
        self.fallback = fallback or SystemClock()
        self.engine = None

    def follow(self, engine) -> FollowedClock:
        self.engine = engine
        return self

    def now(self):
        wall = self.fallback.now()
        if self.engine is None:
            return wall
        return face_now(self.engine.plan, self.engine.state, self.feed.latest(), self.feed.sight(), wall)

    async def sleep(self, seconds: float) -> None:
        await self.fallback.sleep(seconds)
