"""Comparisons used by checks, criteria and triggers, in the operator's notation."""

from __future__ import annotations

import operator
from enum import StrEnum


class Comparison(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="

    def holds(self, value: float, threshold: float) -> bool:
        """True when `value <op> threshold` holds."""
        return bool(_OPS[self](value, threshold))


_OPS = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.EQ: operator.eq,
    Comparison.NE: operator.ne,
}
