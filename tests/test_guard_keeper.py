"""The captain's screen keeps a guard running, but does not start one a second when each guard it
starts ends at once (one that finds nothing to protect, or cannot start): the wait doubles."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

from cockpit import session
from cockpit.session import QUICK_EXIT_S, RESPAWN_MAX_S, GuardKeeper


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def keeper(tmp_path, monkeypatch, clock: Clock, *, exits: bool = True) -> tuple[GuardKeeper, list[float]]:
    k = GuardKeeper(tmp_path / "plan.toml", tmp_path, "alice")
    started: list[float] = []

    def spawn(reason: str):
        started.append(clock.t)
        k.process = subprocess.Popen(["true"] if exits else ["sleep", "30"])
        k.process.wait() if exits else None
        k._spawned_at, k._seen_end = clock.t, False
        return k.process

    monkeypatch.setattr(session.time, "monotonic", clock)
    monkeypatch.setattr(k, "spawn", spawn)
    return k, started


LIVE = SimpleNamespace(status="live")


def test_guards_that_end_at_once_are_started_again_ever_later(tmp_path, monkeypatch):
    clock = Clock()
    k, started = keeper(tmp_path, monkeypatch, clock)
    for _ in range(1200):  # 20 minutes, once a second
        k(LIVE)
        clock.t += 1.0
    gaps = [b - a for a, b in zip(started, started[1:], strict=False)]
    assert gaps[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # not once a second for good
    assert max(gaps) == RESPAWN_MAX_S and len(started) < 15


def test_a_guard_that_ran_a_while_is_replaced_at_once_when_it_ends(tmp_path, monkeypatch):
    clock = Clock()
    k, started = keeper(tmp_path, monkeypatch, clock)
    for _ in range(8):  # a few quick ends: the wait has grown
        k(LIVE)
        clock.t += 1.0
    assert k._wait_s >= 4.0
    k.process = subprocess.Popen(["sleep", "30"])  # then one that guards
    k._spawned_at, k._seen_end = clock.t, False
    clock.t += QUICK_EXIT_S + 5
    k.process.kill()
    k.process.wait()
    n = len(started)
    assert k(LIVE) != "" and len(started) == n + 1  # replaced at once, and the captain is told
    assert k._wait_s == 0.0


def test_a_rolled_back_rollout_needs_no_guard(tmp_path, monkeypatch):
    clock = Clock()
    k, started = keeper(tmp_path, monkeypatch, clock)
    assert k(SimpleNamespace(status="rolled_back")) == "" and started == []
