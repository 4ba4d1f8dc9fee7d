"""Shared fixtures: the seed plan, a state dir, a manual clock, and engines built on them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.clock import ManualClock
from cockpit.config import Plan
from cockpit.core.events import Actor
from cockpit.seed import seed_plan

ROOT = Path(__file__).resolve().parent.parent
# A Thursday, well outside the seed's Tuesday 20:00-23:00Z freeze.
T0 = datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch):
    """Keep a developer's own environment out of tests."""
    monkeypatch.delenv("COCKPIT_GATEWAY_TOKEN", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture(scope="session")
def plan() -> Plan:
    return seed_plan()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def actor() -> Actor:
    return Actor(user="alice", host="bastion", role="captain")


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


def _known_seconds() -> dict[str, float]:
    lines = (ROOT / "tests" / "durations.txt").read_text().splitlines()
    return {node: float(s) for s, node in (line.split(" ", 1) for line in lines if line and not line.startswith("#"))}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Tell each xdist worker how the controller distributes (pytest_collection_modifyitems)."""
    node.workerinput["dist"] = node.config.getoption("dist")


def pytest_collection_modifyitems(config, items):
    """Under `--dist worksteal` the long tests start first, spread over the workers: xdist hands
    each worker one contiguous share of the collection and idle workers steal the tail of a busy
    one's share, so a long test queued late in a share ends the run alone. Each share here begins
    with its long tests (the longest first, each to the share with the fewest seconds so far), then
    the rest in collection order. Every worker computes the same order (xdist requires it)."""
    given = getattr(config, "workerinput", {})  # a worker's (xdist sets its own `dist` to "no")
    workers = given.get("workercount", 0)
    if workers < 2 or given.get("dist") != "worksteal":
        return
    known = _known_seconds()
    slow = sorted((i for i in items if i.nodeid in known), key=lambda i: -known[i.nodeid])
    rest = [i for i in items if i.nodeid not in known]
    sizes, left = [], len(items)
    for k in range(workers):  # the shares xdist's worksteal scheduler cuts (WorkStealingScheduling.check_schedule)
        sizes.append(left // (workers - k))
        left -= sizes[-1]
    shares: list[list] = [[] for _ in sizes]
    loads = [0.0] * workers
    for item in slow:
        k = min((k for k in range(workers) if len(shares[k]) < sizes[k]), key=lambda k: loads[k])
        shares[k].append(item)
        loads[k] += known[item.nodeid]
    ordered = []
    for k, share in enumerate(shares):
        fill = sizes[k] - len(share)
        ordered += share + rest[:fill]
        rest = rest[fill:]
    items[:] = ordered
