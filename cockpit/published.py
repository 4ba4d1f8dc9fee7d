"""The guard's published round: written atomically by the guard, read by every face.

Kept apart from the guard itself so that a face (observer, `status`) loads nothing that
evaluates: no monitor, no engine, no adapters.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cockpit.clock import SystemClock
from cockpit.core.evaluation import Evaluation

PUBLISHED = "guard.json"


def read_published(state_dir: Path) -> Evaluation | None:
    """The guard's latest published round, or None (no guard yet, or a file being replaced)."""
    try:
        return Evaluation.from_json(json.loads((Path(state_dir) / PUBLISHED).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class GuardFeed:
    """A face's view of the guard: re-reads guard.json only when it changed."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / PUBLISHED
        self._stamp: tuple[int, int] | None = None
        self._latest: Evaluation | None = None

    def latest(self) -> Evaluation | None:
        try:
            st = self.path.stat()
        except OSError:
            return self._latest
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            fresh = read_published(self.path.parent)
            if fresh is not None:
                self._latest, self._stamp = fresh, stamp
        return self._latest


class FollowedClock:
    """A face's clock: the guard's own, read from its last round and the wall, so an observer of a
    demo (an accelerated clock) sees the soak the captain sees. The system clock when no guard has
    published one."""

    def __init__(self, latest, fallback=None):
        """`latest()` returns the guard's last round (a GuardFeed's `latest`)."""
        self.latest = latest
        self.fallback = fallback or SystemClock()

    def now(self):
        live = self.latest()
        followed = live.clock_now(time.time()) if live is not None else None
        return followed or self.fallback.now()

    async def sleep(self, seconds: float) -> None:
        await self.fallback.sleep(seconds)
