"""The plan's field types (durations, times, names, paths, numbers) and the strict model base."""

from __future__ import annotations

import math
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, Strict

_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
MAX_DURATION = timedelta(days=366)  # longer than any rollout's wait; beyond it is a typo (or 1e20)


def _parse_duration(value: Any) -> Any:
    """Accept "20m", "1h30m", "45s", "0s" or a number of seconds, from 0 up to MAX_DURATION."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        h, mi, s = (int(g or 0) for g in m.groups())
        seconds = float(h * 3600 + mi * 60 + s)
    else:
        raise ValueError(f'not a duration: {value!r} (write it like "20m", "1h30m" or "45s")')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r} (a duration is 0 or more)")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {value!r} is longer than {MAX_DURATION.days} days")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def _positive(td: timedelta) -> timedelta:
    if td <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return td


def _plan_duration(td: timedelta) -> str:
    """The plan's own spelling of a duration ("1h1m40s"), as `dump_plan` writes it back to TOML.
    Not words for people (core.words.duration is): the journal's plan document and `plan_digest`
    are made of it, so another spelling would read as a changed plan to a running rollout."""
    total = int(td.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return out or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_parse_duration),
    PlainSerializer(_plan_duration, return_type=str),
]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]  # soaks, timeouts, intervals


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value):
        return time(int(value[:2]), int(value[3:]))
    raise ValueError(f'not a UTC time of day: {value!r} (write it like "20:00")')


ClockTime = Annotated[
    time, BeforeValidator(_parse_hhmm), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)
]
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


def _plain(value: str) -> str:
    """A name is shown on every face and typed to confirm: no character that a terminal would
    act on or hide (control, bidi, zero-width, NUL; core.visible.HIDDEN)."""
    from cockpit.core.visible import HIDDEN, escape

    if found := HIDDEN.search(value):
        raise ValueError(f"contains the control, bidi or invisible character {escape(found.group())} at "
                         f"position {found.start() + 1}: write the name in plain characters")
    return value


# A name or label the faces show (release, phase, trigger, role, channel...): plain characters only.
Name = Annotated[str, AfterValidator(_plain)]


def _a_path(value: Path) -> Path:
    if "\x00" in str(value):
        raise ValueError("contains a NUL character: no file can have that path")
    return value


FilePath = Annotated[Path, AfterValidator(_a_path)]  # the OS refuses a NUL in a path: said here, by field

# Numbers are TOML numbers, never booleans (weight = true is not 1), and finite (a NaN threshold
# would make every comparison false and silently disable the rule that uses it).
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Count = Annotated[int, Strict()]


def _haproxy_name(value: str) -> str:
    from cockpit.adapters.gateway_haproxy import check_name

    return check_name(value)


# HAProxy's identifier characters: the only text a runtime-API command is built from.
HaproxyName = Annotated[str, AfterValidator(_haproxy_name)]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Model(BaseModel):
    """Strict base: unknown keys are errors, so a typo never silently disables a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)
