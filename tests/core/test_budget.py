"""Budget burn against the seed: $18,000 + $5,000 = $23,000 a month, projected $14,630 (64 %),
safety margin $8,370 (36 %), alerts at 75 / 85 / 95 / 100 % of actual spend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cockpit.core.budget import BudgetBurn, CategoryBurn, alerts_due, burn, month_fraction, next_alert

UTC = UTC
# November 2026 has 30 days; the 16th at 00:00Z is exactly half of it gone.
MID_NOVEMBER = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def categories(plan):
    return plan.budget.categories


@pytest.fixture
def alerts(plan):
    return plan.budget.alerts


def test_the_seed_budget_is_what_the_plan_says(categories, alerts):
    assert [(c.id, c.monthly, c.projected) for c in categories] == [
        ("infrastructure", 18000, 12450), ("llm_usage", 5000, 2180),
    ]
    assert [a.at_pct for a in alerts] == [75, 85, 95, 100]


@pytest.mark.parametrize(
    "now, fraction",
    [
        (datetime(2026, 11, 16, tzinfo=UTC), 0.5),
        (datetime(2026, 11, 1, 12, tzinfo=UTC), 0.5 / 30),
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), (29 * 24 + 23) / (30 * 24)),
        (datetime(2026, 2, 15, tzinfo=UTC), 14 / 28),  # February: 28 days
        (datetime(2028, 2, 15, tzinfo=UTC), 14 / 29),  # a leap February: 29 days
        (datetime(2026, 12, 16, 12, tzinfo=UTC), 15.5 / 31),  # December: 31 days
        # Local time is converted first: 01:00 on Dec 1 at UTC+2 is 23:00Z on Nov 30.
        (datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))), (29 * 24 + 23) / (30 * 24)),
    ],
)
def test_month_fraction(now, fraction):
    assert month_fraction(now) == pytest.approx(fraction, rel=1e-12)


def test_month_fraction_at_the_month_boundary():
    last = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    assert month_fraction(last) == pytest.approx(1 - 1 / (30 * 86400), rel=1e-12)
    # The first instant of December is a new month, not the end of November; never zero (it divides).
    assert month_fraction(datetime(2026, 12, 1, tzinfo=UTC)) == 1e-6


def test_early_in_the_month_the_plan_projection_holds(categories):
    """Until a quarter of the month is gone, one day's spend must not extrapolate: the plan's numbers stand."""
    b = burn(categories, {"infrastructure": 900.0, "llm_usage": 100.0}, datetime(2026, 11, 3, tzinfo=UTC))
    assert [r.projected for r in b.categories] == [12450, 2180]
    assert (b.monthly, b.spent, b.projected) == (23000, 1000.0, 14630)
    assert b.safety_margin == 8370  # the seed's "$8,370 (36 %)"
    assert round(100 * b.safety_margin / b.monthly) == 36
    assert round(b.projected_pct) == 64  # the seed's "$14,630 (64 %)"
    assert b.month_fraction == pytest.approx(2 / 30)


def test_early_spend_above_the_plan_projection_is_the_projection(categories):
    b = burn(categories, {"infrastructure": 13000.0, "llm_usage": None}, datetime(2026, 11, 3, tzinfo=UTC))
    assert [r.projected for r in b.categories] == [13000.0, 2180]


def test_past_a_quarter_of_the_month_spend_extrapolates(categories):
    b = burn(categories, {"infrastructure": 6000.0, "llm_usage": 1500.0}, MID_NOVEMBER)
    infra, llm = b.categories
    assert (infra.spent, infra.projected) == (6000.0, 12000.0)  # half the month, so twice the spend
    assert (llm.spent, llm.projected) == (1500.0, 3000.0)
    assert (b.spent, b.projected, b.monthly) == (7500.0, 15000.0, 23000)
    assert b.safety_margin == 8000.0
    assert b.pct == pytest.approx(100 * 7500 / 23000)
    assert b.projected_pct == pytest.approx(100 * 15000 / 23000)
    assert infra.pct == pytest.approx(100 * 6000 / 18000)
    assert infra.projected_pct == pytest.approx(100 * 12000 / 18000)
    assert (infra.id, infra.name, infra.monthly) == ("infrastructure", "Infrastructure", 18000)


@pytest.mark.parametrize(
    "now, extrapolated",
    [
        (datetime(2026, 2, 7, 23, 59, tzinfo=UTC), False),  # February: 28 days, a quarter is 7 days
        (datetime(2026, 2, 8, tzinfo=UTC), True),  # exactly a quarter gone
        (datetime(2026, 2, 8, 0, 1, tzinfo=UTC), True),
    ],
)
def test_the_quarter_month_edge(categories, now, extrapolated):
    b = burn(categories, {"infrastructure": 1000.0, "llm_usage": 100.0}, now)
    frac = month_fraction(now)
    assert b.categories[0].projected == (pytest.approx(1000.0 / frac) if extrapolated else 12450)


def test_unknown_spend_is_not_zero_spend(categories):
    b = burn(categories, {"infrastructure": None}, MID_NOVEMBER)  # llm_usage not reported at all
    infra, llm = b.categories
    assert infra.spent is None and infra.pct is None and llm.spent is None and llm.pct is None
    assert (infra.projected, llm.projected) == (12450, 2180)  # no spend to extrapolate: the plan's figures
    assert b.spent == 0.0


def at_pct(categories, pct: float) -> BudgetBurn:
    """A burn whose actual spend is `pct` % of the $23,000 budget, split by category size."""
    return burn(categories, {"infrastructure": 180.0 * pct, "llm_usage": 50.0 * pct}, MID_NOVEMBER)


@pytest.mark.parametrize(
    "pct, already, due",
    [
        (74.99, set(), []),
        (75.0, set(), [75]),  # "75 % Budget": spend landing exactly on 75 % raises the warning
        (80.0, set(), [75]),
        (80.0, {75.0}, []),  # raised once
        (85.0, {75.0}, [85]),
        (96.0, set(), [75, 85, 95]),
        (96.0, {75.0, 85.0}, [95]),
        (100.0, {75.0, 85.0, 95.0}, [100]),  # "100 % Budget": spend controls at exactly the budget
        (120.0, {75.0, 85.0, 95.0, 100.0}, []),
    ],
)
def test_alerts_due_at_exactly_the_threshold(categories, alerts, pct, already, due):
    b = at_pct(categories, pct)
    assert b.pct == pytest.approx(pct)
    assert [a.at_pct for a in alerts_due(b, alerts, already)] == due


def test_alerts_follow_actual_spend_not_the_projection(categories, alerts):
    # Half the month gone, 50 % spent: projected 100 %, but nothing has been spent past 75 % yet.
    b = at_pct(categories, 50.0)
    assert b.projected_pct == pytest.approx(100.0)
    assert alerts_due(b, alerts, set()) == []


@pytest.mark.parametrize(
    "pct, nxt",
    [(0.0, 75), (74.99, 75), (75.0, 85), (84.99, 85), (85.0, 95), (95.0, 100), (99.99, 100), (100.0, None), (130.0, None)],
)
def test_next_alert(categories, alerts, pct, nxt):
    found = next_alert(at_pct(categories, pct), alerts)
    assert (found.at_pct if found else None) == nxt
    if found:
        assert found.action == {75: "Warning to #finops", 85: "Escalation to FinOps team", 95: "Emergency budget review",
                                100: "Automatic spend controls activated"}[nxt]


def test_category_burn_percentages():
    row = CategoryBurn("x", "X", monthly=200.0, spent=50.0, projected=300.0)
    assert (row.pct, row.projected_pct) == (25.0, 150.0)
    assert CategoryBurn("x", "X", monthly=200.0, spent=None, projected=0.0).pct is None


def test_month_fraction_counts_from_midnight_sharp():
    # Half a second past mid-November is half the month and half a second, not half the month.
    now = datetime(2026, 11, 16, 0, 0, 0, 500_000, tzinfo=UTC)
    assert month_fraction(now) == pytest.approx((15 * 86400 + 0.5) / (30 * 86400), rel=1e-12)


@pytest.fixture
def bastion_in_new_york(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_month_is_the_utc_month_whatever_the_bastion_timezone(bastion_in_new_york):
    # 03:00Z on December 1 is still November 30 in New York; the budget month is UTC's: December.
    assert month_fraction(datetime(2026, 12, 1, 3, 0, tzinfo=UTC)) == pytest.approx(3 / (31 * 24))


def test_a_category_with_no_projection_and_no_spend_projects_nothing():
    from types import SimpleNamespace

    cats = [SimpleNamespace(id="new", name="New", monthly=1000.0, projected=0.0)]
    early = datetime(2026, 11, 3, tzinfo=UTC)
    assert burn(cats, {"new": None}, early).projected == 0.0
    assert burn(cats, {"new": 0.0}, early).projected == 0.0
    assert burn(cats, {"new": 0.5}, early).projected == 0.5


def _read(categories, infra, llm=None):
    return burn(categories, {"infrastructure": infra, "llm_usage": llm}, MID_NOVEMBER)


@pytest.mark.parametrize(
    "last, infra, alerted, journaled",
    [
        (None, None, False, False),  # nothing read: nothing to journal, even the first time
        (None, None, True, False),
        (None, 0.0, False, True),  # the first read that reads, even $0
        ({"infrastructure": 1000.0}, 1229.0, False, False),  # moved $229: under 1 % of $23,000
        ({"infrastructure": 1000.0}, 1230.0, False, True),  # exactly 1 %
        ({"infrastructure": 1000.0}, 770.0, False, True),  # a fall counts (a new month)
        ({"infrastructure": 1000.0}, 771.0, False, False),
        ({"infrastructure": 1000.0}, 1000.0, True, True),  # an alert journals its spend beside it
        ({"infrastructure": 800.0, "llm_usage": 200.0}, 1229.0, False, False),  # the last read's total
    ],
)
def test_a_spend_read_is_journaled_first_then_when_it_moves_one_percent_or_with_an_alert(categories, last, infra, alerted, journaled):
    from cockpit.core.budget import spend_moved

    assert spend_moved(last, _read(categories, infra), alerted) is journaled
