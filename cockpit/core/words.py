"""One spelling per fact for people: durations, values with their units, money, percentages, times, comparisons.

Every face (the captain's screen, observers, replay, `status`, the report, evidence) and every
message (refusals, verdicts, the journal's wording) says a fact through these functions, so one
fact reads the same wherever it is read. Machine formats (the journal, guard.json, the plan's own
TOML spelling) are not words and do not come from here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

NO_DATA = "—"  # a value nobody measured (None, NaN): a dash, never "0" and never "?"

_SYMBOLS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


def duration(seconds: float | timedelta) -> str:
    """`45s`, `4m00s`, `1h01m40s`, `1d02h00m00s`: every unit from the largest down to seconds,
    two digits after the first, so a countdown keeps its width and never reads `61m40s`.

    Whole seconds are cut, not rounded: a stopwatch does not show a second that has not passed
    (and Python's round() reads 58.5 as 58 but 59.5 as 60); first to the microsecond, a
    datetime's resolution, so a minute computed as 59.99999976 from float timestamps is a minute.
    Under a second it is whole milliseconds (`400ms`, as Prometheus writes them), so a short wait
    is never said as `0s`.
    A negative duration keeps its minus (`-5s`): a clock that went backwards is shown, not
    hidden; callers that mean "not yet" or "over" say so themselves. Not a number: no data.
    """
    s = round(seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds), 6)
    if not math.isfinite(s):
        return NO_DATA
    if s < 0:
        return "-" + duration(-s)
    if 0 < s < 1:
        return f"{int(s * 1000)}ms"
    d, rest = divmod(int(s), 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if d:
        return f"{d}d{h:02d}h{m:02d}m{sec:02d}s"
    if h:
        return f"{h}h{m:02d}m{sec:02d}s"
    if m:
        return f"{m}m{sec:02d}s"
    return f"{sec}s"


def _number(x: float) -> str:
    """Three significant digits and never an exponent (`0.0694`, `2.5`, `73.5`, `249`); from
    1,000 up the whole number with thousands separators (`1,200`): digits a person compares
    against a threshold, not a float's noise. A value just under a round number never reads as
    it: rounding that would reach the next power of ten takes a digit more, up to six (0.9995 is
    `0.9995`, not `1`, beside `≥ 0.999`; 99.95 % availability is not `100 %`). Below 0.001 it
    says so (`<0.001`) rather than show a row of zeros, or `0`, which would read as none at all."""
    size = abs(x)
    if size >= 1000:
        return f"{x:,.0f}"
    if size < 0.001:
        sign = (x > 0) - (x < 0)
        return {1: "<0.001", 0: "0", -1: ">-0.001"}[sign]  # 0 and -0.0 are "0"
    digits, power = 3, 10.0 ** (math.floor(math.log10(size)) + 1)  # the next power of ten above it
    while digits < 6 and abs(float(f"{x:.{digits}g}")) >= power:
        digits += 1
    return f"{x:.{digits}g}"


def _amount(x: float | None) -> str:
    """A number or what stands for it: no data for None and NaN (Prometheus' NaN is no traffic),
    `+Inf`/`-Inf` as Prometheus writes them (a histogram quantile past its last bucket)."""
    if x is None or math.isnan(x):
        return NO_DATA
    if math.isinf(x):
        return "+Inf" if x == math.inf else "-Inf"
    return _number(x)


def percent(p: float | None) -> str:
    """A share already in percent: `75 %`, `87.5 %`, `0.0694 %` (a space before the sign, as
    the plan's names write it: "Error Rate ≥ 2 %")."""
    text = _amount(p)
    return text if text == NO_DATA else f"{text} %"


def value(v: float | None, unit: str = "") -> str:
    """A measured value in the unit the plan declares for it (config.example.toml): `ratio` as a
    percentage (`0.0694 %`), `s` in milliseconds (latencies are read in ms: `350 ms`), `$` as
    money; any other unit after the number (`248 ms`, `12.3 %`, `3 req/s`); none: the number
    alone, counts with thousands separators (`1,200`)."""
    if v is None or math.isnan(v):
        return NO_DATA
    if unit == "ratio":
        return percent(v * 100)
    if unit == "s":
        return value(v * 1000, "ms")
    if unit == "$":
        return money(v)
    text = _amount(v)
    return f"{text} {unit}" if unit else text


def count(n: int) -> str:
    """A whole number of things, with thousands separators: `1,200`."""
    return f"{n:,}"


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 sample`, `1,200 samples`: counts read as words."""
    return f"{count(n)} {word if n == 1 else (words or word + 's')}"


def money(v: float | None, currency: str = "USD") -> str:
    """Whole units of the plan's currency: `$1,696` for USD, `1,696 EUR` for any other; an
    overrun reads `-$100`, not `$-100`; no spend data is no data, never `$0`."""
    if v is None or not math.isfinite(v):
        return _amount(v)
    whole = round(v)
    minus = "-" if whole < 0 else ""
    digits = f"{abs(whole):,}"
    return f"{minus}${digits}" if currency == "USD" else f"{minus}{digits} {currency}"


def symbol(comparison: Any) -> str:
    """A comparison as people write it: `≤`, `≥`, `=`, `≠`, `<`, `>` (the plan writes `<=`, `==`)."""
    text = str(comparison)  # a Comparison is a StrEnum: its str is its value
    return _SYMBOLS.get(text, text)


def limit(comparison: Any, threshold: float | None, unit: str = "") -> str:
    """A threshold with its comparison and unit: `≥ 2 %`, `≤ 1,200 ms`, `= 0`."""
    return f"{symbol(comparison)} {value(threshold, unit)}"


def _utc(ts: datetime) -> datetime:
    """Times are UTC (the clocks give aware UTC times); a naive one is taken as UTC as it is, never
    converted from the machine's local time, which the pure core does not know."""
    return ts if ts.tzinfo is None else ts.astimezone(UTC)


def clock(ts: datetime | None) -> str:
    """A time of day on a screen or in a message: `14:03:07Z` (UTC, said so: the captain's
    bastion, the guard and the observers may sit in different time zones)."""
    return NO_DATA if ts is None else f"{_utc(ts):%H:%M:%S}Z"


def stamp(ts: datetime | None) -> str:
    """A date and time for documents and for anything that may be another day (the report,
    the journal view, a due date, a lock's holder): `2025-06-01 14:03:07Z`."""
    return NO_DATA if ts is None else f"{_utc(ts):%Y-%m-%d %H:%M:%S}Z"
