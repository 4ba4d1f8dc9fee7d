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
