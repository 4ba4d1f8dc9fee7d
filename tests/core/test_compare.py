"""Comparisons in the operator's notation: each one below, at and above its threshold."""

from __future__ import annotations

import pytest

from cockpit.core.compare import Comparison

# value below / equal to / above the threshold 350 ("API p95 ≤ 350 ms")
TABLE = {
    "<": (True, False, False),
    "<=": (True, True, False),
    ">": (False, False, True),
    ">=": (False, True, True),
    "==": (False, True, False),
    "!=": (True, False, True),
}


@pytest.mark.parametrize("op", sorted(TABLE))
def test_each_comparison_at_its_threshold(op):
    c = Comparison(op)
    assert (c.holds(349.0, 350.0), c.holds(350.0, 350.0), c.holds(351.0, 350.0)) == TABLE[op]


def test_every_comparison_is_in_the_table():
    assert {c.value for c in Comparison} == set(TABLE)
