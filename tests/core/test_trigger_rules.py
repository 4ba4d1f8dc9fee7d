"""The guard's rules around a window, on their edges: a clock behind the journal, a check's label."""

from __future__ import annotations

import pytest

from cockpit.adapters.metrics import Sample
from cockpit.core.triggers import MIN_COVERAGE, check_verdict, coverage_needed


def test_a_canary_not_started_yet_by_this_clock_needs_one_sample():
    # a clock 5 s behind the journal's start, 1 s steps over 10 s: 1 of 11 samples, not 2
    assert coverage_needed(1005.0, 1000.0, 10, 1) == pytest.approx(MIN_COVERAGE * 1 / 11)


def test_a_check_backed_verdict_says_the_checks_name():
    fired = check_verdict([Sample(0.0, 1.0)], for_s=0, interval_s=300, now=0, no_data="breach", label="Supply Chain")
    assert fired.state == "fired" and fired.why.startswith("Supply Chain ")
