"""Freeze windows: is `now` (UTC) inside a weekly window such as Tuesday 20:00-23:00Z."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def in_freeze(window: tuple[str, str, str], now: datetime) -> bool:
    weekday, start, end = window
    now = now.astimezone(UTC)
    hhmm = now.strftime("%H:%M")
    return WEEKDAYS[now.weekday()] == weekday and start <= hhmm < end


def describe(window: tuple[str, str, str]) -> str:
    weekday, start, end = window
    return f"{weekday.capitalize()} {start}-{end}Z"


def active_freeze(windows: Iterable[tuple[str, str, str]], now: datetime) -> tuple[str, str, str] | None:
    return next((w for w in windows if in_freeze(w, now)), None)
