"""Budget burn: spend against the monthly budget, the month-end projection, the next alert."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cockpit.core.planview import PlanBudgetAlert, PlanBudgetCategory

Alert = TypeVar("Alert", bound=PlanBudgetAlert)  # the caller's alert (the guard's carries its channel)


@dataclass(frozen=True)
class CategoryBurn:
    id: str
    name: str
    monthly: float
    spent: float | None  # month to date; None when unknown
    projected: float  # month-end: extrapolated from spend, else the plan's projection

    @property
    def pct(self) -> float | None:
        return None if self.spent is None else 100.0 * self.spent / self.monthly

    @property
    def projected_pct(self) -> float:
        return 100.0 * self.projected / self.monthly


@dataclass(frozen=True)
class BudgetBurn:
    categories: tuple[CategoryBurn, ...]
    monthly: float
    spent: float
    projected: float
    month_fraction: float  # how much of the month has gone

    @property
    def pct(self) -> float:
        return 100.0 * self.spent / self.monthly

    @property
    def projected_pct(self) -> float:
        return 100.0 * self.projected / self.monthly

    @property
    def safety_margin(self) -> float:
        """Budget left at month end if the projection holds (the plan's "$8,370 (36 %)")."""
        return self.monthly - self.projected


def month_fraction(now: datetime) -> float:
    now = now.astimezone(UTC)
    days = calendar.monthrange(now.year, now.month)[1]
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return min(1.0, max(1e-6, (now - start).total_seconds() / (days * 86400)))


def burn(categories: Iterable[PlanBudgetCategory], spent: dict[str, float | None], now: datetime) -> BudgetBurn:
    """`categories` are config BudgetCategory-like (id, name, monthly, projected)."""
    frac = month_fraction(now)
    rows = []
    for c in categories:
        s = spent.get(c.id)
        # Early in the month one day's spend extrapolates wildly; trust the plan until a week in.
        projected = s / frac if s is not None and frac >= 0.25 else max(c.projected, s or 0.0)
        rows.append(CategoryBurn(c.id, c.name, c.monthly, s, projected))
    return BudgetBurn(
        categories=tuple(rows),
        monthly=sum(r.monthly for r in rows),
        spent=sum(r.spent or 0.0 for r in rows),
        projected=sum(r.projected for r in rows),
        month_fraction=frac,
    )


def alerts_due(b: BudgetBurn, thresholds: Iterable[Alert], already: set[float]) -> list[Alert]:
    """Alerts (config BudgetAlert-like, with at_pct) crossed by actual spend and not yet raised."""
    return [a for a in thresholds if b.pct >= a.at_pct and a.at_pct not in already]


def next_alert(b: BudgetBurn, thresholds: Iterable[Alert]) -> Alert | None:
    return next((a for a in thresholds if b.pct < a.at_pct), None)


SPEND_STEP_PCT = 1.0  # a journaled spend read: when it moves by this much of the monthly budget


def spend_moved(last: dict[str, float] | None, b: BudgetBurn, alerted: bool) -> bool:
    """Whether the guard journals this read (`spend_read`): the first one that reads, any one with
    an alert, and then only when the spend moved by SPEND_STEP_PCT of the monthly budget."""
    if not any(c.spent is not None for c in b.categories):
        return False
    if last is None or alerted:
        return True
    return abs(b.spent - sum(last.values())) >= b.monthly * SPEND_STEP_PCT / 100
