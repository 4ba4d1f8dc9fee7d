"""One spelling per fact (core.words): every branch pinned, edge cases included."""

import math
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cockpit.core import words
from cockpit.core.compare import Comparison

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (-0.0, "0s"),
        (0.0004, "0ms"),  # under a second: whole milliseconds, never "0s"
        (0.4, "400ms"),
        (0.9999, "999ms"),
        (1, "1s"),
        (1.5, "1s"),  # cut, not rounded: a stopwatch
        (45, "45s"),
        (59.5, "59s"),
        (59.99, "59s"),
        (59.99999976, "1m00s"),  # float noise of a minute from timestamps is a minute
        (45.5, "45s"),
        (1.999996, "1s"),
        (60, "1m00s"),
        (61, "1m01s"),
        (239.5, "3m59s"),
        (240, "4m00s"),
        (3599.9, "59m59s"),
        (3600, "1h00m00s"),
        (3700, "1h01m40s"),  # not 1h1m40s, 61m40s nor 1h01m
        (36000, "10h00m00s"),
        (86399, "23h59m59s"),
        (86400, "1d00h00m00s"),
        (90061, "1d01h01m01s"),
        (366 * 86400, "366d00h00m00s"),
        (-5, "-5s"),  # a clock that went backwards is shown
        (-0.5, "-500ms"),
        (-3700, "-1h01m40s"),
        (NAN, "—"),
        (INF, "—"),
        (-INF, "—"),
        (timedelta(minutes=20), "20m00s"),
        (timedelta(hours=1, minutes=1, seconds=40), "1h01m40s"),
        (timedelta(seconds=-65), "-1m05s"),
    ],
)
def test_duration(seconds, text):
    assert words.duration(seconds) == text


@pytest.mark.parametrize(
    "v, unit, text",
    [
        (None, "ms", "—"),
        (NAN, "ratio", "—"),
        (NAN, "", "—"),
        (INF, "", "+Inf"),
        (-INF, "ms", "-Inf ms"),
        (INF, "ratio", "+Inf %"),
        (0.0006939, "ratio", "0.0694 %"),  # the report's raw 0.0006939
        (0.024, "ratio", "2.4 %"),
        (0.02, "ratio", "2 %"),
        (0.0, "ratio", "0 %"),
        (0.999, "ratio", "99.9 %"),
        (0.9995, "ratio", "99.95 %"),
        (0.10, "ratio", "10 %"),
        (-0.05, "ratio", "-5 %"),
        (1e-9, "ratio", "<0.001 %"),  # a very small ratio is not 0
        (-1e-9, "ratio", ">-0.001 %"),
        (1e6, "ratio", "100,000,000 %"),  # a very large one, whole
        (12.345, "%", "12.3 %"),
        (248.8, "ms", "249 ms"),  # the report's 248.8 without its unit
        (248.5, "ms", "248 ms"),
        (12.34, "ms", "12.3 ms"),
        (1200.0, "ms", "1,200 ms"),
        (1234.4, "ms", "1,234 ms"),
        (0.35, "s", "350 ms"),  # latencies read in ms
        (1.5, "s", "1,500 ms"),
        (17250.0, "$", "$17,250"),
        (0.5, "req/s", "0.5 req/s"),
        (3.0, "alerts", "3 alerts"),
        (1200.0, "", "1,200"),  # a count, with its thousands separator
        (1200, "", "1,200"),
        (0.123456, "", "0.123"),
        (0.5, "", "0.5"),
        (0.9995, "", "0.9995"),
        (0.0, "", "0"),
        (-0.0, "", "0"),
        (1e20, "", "100,000,000,000,000,000,000"),
    ],
)
def test_value_with_its_unit(v, unit, text):
    assert words.value(v, unit) == text


def test_a_value_without_a_unit_is_the_number_alone():
    assert words.value(1200.0) == "1,200"
    assert words.value(None) == "—"


@pytest.mark.parametrize(
    "x, text",
    [
        (0, "0"),
        (-0.0, "0"),
        (0.0004, "<0.001"),
        (-0.0004, ">-0.001"),
        (0.000999, "<0.001"),
        (0.001, "0.001"),  # the smallest said as a number
        (-0.001, "-0.001"),
        (0.00123456, "0.00123"),
        (0.0694, "0.0694"),
        (0.06939, "0.0694"),
        (2.5, "2.5"),
        (2.456, "2.46"),
        (73.46, "73.5"),
        (10, "10"),
        (100, "100"),
        (248.8, "249"),
        (999.4, "999"),
        # just under a round number: a digit more rather than read as it (never 1e+03 either)
        (0.9995, "0.9995"),  # beside "≥ 0.999", not "1"
        (-0.9995, "-0.9995"),
        (0.99949, "0.999"),
        (9.9996, "9.9996"),
        (99.95, "99.95"),  # 99.95 % availability is not 100 %
        (99.96, "99.96"),
        (999.5, "999.5"),
        (999.96, "999.96"),
        (-999.6, "-999.6"),
        (0.9999996, "1"),  # six digits at most
        (999.99999, "1000"),
        (1000, "1,000"),
        (1000.5, "1,000"),
        (1234.5, "1,234"),
        (1_000_000, "1,000,000"),
    ],
)
def test_numbers_have_three_significant_digits_and_no_exponent(x, text):
    assert words._number(x) == text


@pytest.mark.parametrize(
    "p, text",
    [(75, "75 %"), (87.5, "87.5 %"), (73.456, "73.5 %"), (100, "100 %"), (0, "0 %"), (-12.5, "-12.5 %"),
     (1250, "1,250 %"), (None, "—"), (NAN, "—"), (INF, "+Inf %")],
)
def test_percent(p, text):
    assert words.percent(p) == text


@pytest.mark.parametrize(
    "v, currency, text",
    [
        (1696.2, "USD", "$1,696"),
        (12450.4, "USD", "$12,450"),
        (0.0, "USD", "$0"),
        (0.4, "USD", "$0"),
        (-0.4, "USD", "$0"),  # rounds to nothing: no minus
        (-1.6, "USD", "-$2"),
        (-100.0, "USD", "-$100"),  # an overrun reads -$100, not $-100
        (-8370.2, "USD", "-$8,370"),
        (1234.5, "EUR", "1,234 EUR"),
        (-250.0, "EUR", "-250 EUR"),
        (0.0, "EUR", "0 EUR"),
        (None, "USD", "—"),  # no spend data is no data, never $0
        (NAN, "USD", "—"),
        (INF, "USD", "+Inf"),
        (1e12, "USD", "$1,000,000,000,000"),
    ],
)
def test_money(v, currency, text):
    assert words.money(v, currency) == text


def test_money_is_dollars_unless_the_plan_says_otherwise():
    assert words.money(18000) == "$18,000"


@pytest.mark.parametrize(
    "n, text",
    [(0, "0"), (7, "7"), (1200, "1,200"), (-1200, "-1,200"), (1234567, "1,234,567")],
)
def test_count(n, text):
    assert words.count(n) == text


@pytest.mark.parametrize(
    "n, word, plural, text",
    [(1, "sample", None, "1 sample"), (0, "sample", None, "0 samples"), (3, "sample", None, "3 samples"),
     (1200, "sample", None, "1,200 samples"), (2, "entry", "entries", "2 entries"), (1, "entry", "entries", "1 entry")],
)
def test_plural(n, word, plural, text):
    assert words.plural(n, word, plural) == text


@pytest.mark.parametrize(
    "comparison, text",
    [(Comparison.LT, "<"), (Comparison.LE, "≤"), (Comparison.GT, ">"), (Comparison.GE, "≥"), (Comparison.EQ, "="),
     (Comparison.NE, "≠"), ("<=", "≤"), (">=", "≥"), ("==", "="), ("!=", "≠"), ("<", "<"), (">", ">"), ("~", "~")],
)
def test_symbol(comparison, text):
    assert words.symbol(comparison) == text


@pytest.mark.parametrize(
    "comparison, threshold, unit, text",
    [(Comparison.GE, 0.02, "ratio", "≥ 2 %"), (Comparison.LE, 1200, "ms", "≤ 1,200 ms"), (Comparison.EQ, 0, "", "= 0"),
     (">", 285.4, "ms", "> 285 ms"), (Comparison.GT, None, "ms", "> —")],
)
def test_limit(comparison, threshold, unit, text):
    assert words.limit(comparison, threshold, unit) == text


def test_a_limit_without_a_unit_is_the_number_alone():
    assert words.limit(Comparison.LT, 1200) == "< 1,200"


UTC = UTC
T = datetime(2026, 11, 26, 14, 3, 7, 900_000, tzinfo=UTC)


@pytest.mark.parametrize(
    "ts, clock, stamp",
    [
        (T, "14:03:07Z", "2026-11-26 14:03:07Z"),  # seconds cut, as durations are
        (T.astimezone(timezone(timedelta(hours=-8))), "14:03:07Z", "2026-11-26 14:03:07Z"),  # said in UTC
        (datetime(2026, 11, 26, 23, 30, tzinfo=timezone(timedelta(hours=-2))), "01:30:00Z", "2026-11-27 01:30:00Z"),
        (datetime(2026, 11, 26, 14, 3, 7), "14:03:07Z", "2026-11-26 14:03:07Z"),  # naive: taken as UTC
        (None, "—", "—"),
    ],
)
def test_clock_and_stamp(ts, clock, stamp):
    assert words.clock(ts) == clock
    assert words.stamp(ts) == stamp


@pytest.fixture
def bastion_in_los_angeles(monkeypatch):
    """The machine's own time zone is not UTC: what a face shows must not move with it."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_do_not_follow_the_machines_time_zone(bastion_in_los_angeles):
    assert datetime(2026, 11, 26, 14, 3, 7).astimezone().utcoffset() == timedelta(hours=-8)  # the zone took
    assert words.clock(datetime(2026, 11, 26, 14, 3, 7)) == "14:03:07Z"  # naive: as it is
    assert words.clock(T) == "14:03:07Z"
    assert words.stamp(T) == "2026-11-26 14:03:07Z"


def test_no_data_is_one_dash():
    assert words.NO_DATA == "—"
