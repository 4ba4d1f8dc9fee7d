"""Freeze windows, from the seed's "Outside Tuesday 20:00-23:00Z freeze": the edges to the minute, in UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cockpit.core.freeze import WEEKDAYS, active_freeze, describe, in_freeze

SEED = ("tuesday", "20:00", "23:00")
TUESDAY = datetime(2026, 11, 24, tzinfo=UTC)  # the Tuesday before tests.conftest.T0
assert TUESDAY.weekday() == 1


def at(day: datetime, hh: int, mm: int, ss: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


@pytest.mark.parametrize(
    "now, inside",
    [
        (at(TUESDAY, 19, 59, 59), False),  # one second before the window
        (at(TUESDAY, 20, 0), True),  # the first minute is frozen
        (at(TUESDAY, 20, 0, 30), True),
        (at(TUESDAY, 21, 30), True),
        (at(TUESDAY, 22, 59, 59), True),  # the last second is frozen
        (at(TUESDAY, 23, 0), False),  # 23:00Z is the end: open again
        (at(TUESDAY, 9, 0), False),
        (at(TUESDAY - timedelta(days=1), 21, 0), False),  # Monday, same time
        (at(TUESDAY + timedelta(days=1), 21, 0), False),  # Wednesday, same time
        (at(TUESDAY + timedelta(days=7), 20, 0), True),  # every week
    ],
)
def test_seed_window_edges(now, inside):
    assert in_freeze(SEED, now) is inside


@pytest.mark.parametrize(
    "local, inside",
    [
        # 22:00 in UTC+2 is 20:00Z: inside, although the local clock reads 22:00.
        (datetime(2026, 11, 24, 22, 0, tzinfo=timezone(timedelta(hours=2))), True),
        # 21:30 on Tuesday in UTC-3 is 00:30Z on Wednesday: outside.
        (datetime(2026, 11, 24, 21, 30, tzinfo=timezone(timedelta(hours=-3))), False),
        # 19:30 on Tuesday in UTC-1 is 20:30Z: inside.
        (datetime(2026, 11, 24, 19, 30, tzinfo=timezone(timedelta(hours=-1))), True),
    ],
)
def test_window_is_in_utc_whatever_the_offset(local, inside):
    assert in_freeze(SEED, local) is inside


@pytest.fixture
def bastion_in_new_york(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_window_is_in_utc_whatever_the_bastion_timezone(bastion_in_new_york):
    # 20:00Z on Tuesday is 15:00 in New York; the window is Z, not the bastion's local time.
    assert in_freeze(SEED, at(TUESDAY, 20, 0)) is True
    assert in_freeze(SEED, at(TUESDAY, 23, 30)) is False  # 18:30 in New York


def test_weekday_names_follow_python_weekday():
    assert WEEKDAYS[TUESDAY.weekday()] == "tuesday"
    assert [WEEKDAYS[(TUESDAY + timedelta(days=d)).weekday()] for d in range(7)] == [
        "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "monday",
    ]


def test_describe():
    assert describe(SEED) == "Tuesday 20:00-23:00Z"
    assert describe(("friday", "09:30", "10:00")) == "Friday 09:30-10:00Z"


def test_active_freeze_names_the_window_that_applies():
    friday = ("friday", "00:00", "06:00")
    windows = [friday, SEED]
    assert active_freeze(windows, at(TUESDAY, 20, 0)) == SEED
    assert active_freeze(windows, at(TUESDAY + timedelta(days=3), 5, 59)) == friday
    assert active_freeze(windows, at(TUESDAY, 19, 59)) is None
    assert active_freeze([], at(TUESDAY, 21, 0)) is None
