"""The rehearsal view: a lane per trigger over the rehearsed span (ok, breaching, fired, no data),
at 80x24 and 120x40 (looked at as PNGs before they were kept), and how a lane's cells are chosen."""

from __future__ import annotations

import pytest

from cockpit.rehearsal import Rehearsal, Timing, TriggerRun
from cockpit.tui.rehearsal_view import RehearsalApp, cells, lanes

T0 = 1_715_000_400.0  # 2024-05-06 13:00:00Z
DAY = 86400.0


def week() -> Rehearsal:
    """A quiet week as `rehearse` reports it: one trigger fired twice, one breached without firing,
    one had a gap of no data, one stayed ok."""
    end = T0 + 7 * DAY
    r = Rehearsal(timing=Timing(15.0, 15.0), quiet=(T0, end), quiet_rounds=40_321)
    r.quiet_triggers = {
        "error_rate": TriggerRun("error_rate", "rollback", 0.02, (
            (T0, T0 + 2.5 * DAY, "ok"), (T0 + 2.5 * DAY + 15, T0 + 2.5 * DAY + 300, "breaching"),
            (T0 + 2.5 * DAY + 315, T0 + 2.5 * DAY + 1200, "fired"), (T0 + 2.5 * DAY + 1215, T0 + 5 * DAY, "ok"),
            (T0 + 5 * DAY + 15, T0 + 5 * DAY + 600, "fired"), (T0 + 5 * DAY + 615, end, "ok")),
            (T0 + 2.5 * DAY + 315, T0 + 5 * DAY + 15)),
        "api_p95_regression": TriggerRun("api_p95_regression", "rollback", 20.0, (
            (T0, T0 + 4 * DAY, "ok"), (T0 + 4 * DAY + 15, T0 + 4 * DAY + 180, "breaching"),
            (T0 + 4 * DAY + 195, end, "ok")), ()),
        "path_p95": TriggerRun("path_p95", "page", 1200.0, (
            (T0, T0 + DAY, "ok"), (T0 + DAY + 15, T0 + 1.5 * DAY, "no_data"), (T0 + 1.5 * DAY + 15, end, "ok")), ()),
        "security_violation": TriggerRun("security_violation", "rollback", 0.0, ((T0, end, "ok"),), ()),
    }
    r.not_rehearsed = ["trigger supply_chain: check-backed (runs a command now; there is no history of it)"]
    return r


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_rehearsal_view_looks(snap_compare, size):
    assert snap_compare(RehearsalApp(week()), terminal_size=size)


@pytest.mark.parametrize("timeline,width,want", [
    ([(0, 100, "ok")], 4, ("ok",) * 4),
    ([(0, 49, "ok"), (50, 100, "no_data")], 4, ("ok", "ok", "no_data", "no_data")),
    # a one-round fire inside a long ok slice still shows: a cell is its slice's worst state
    ([(0, 30, "ok"), (31, 31, "fired"), (32, 100, "ok")], 4, ("ok", "fired", "ok", "ok")),
    ([(0, 30, "ok"), (31, 31, "breaching"), (32, 33, "no_data"), (34, 100, "ok")], 4, ("ok", "breaching", "ok", "ok")),
    ([(50, 100, "ok")], 4, (None, None, "ok", "ok")),  # no round judged before 50: nothing drawn there
])
def test_a_cell_shows_the_worst_state_of_its_slice(timeline, width, want):
    assert cells(timeline, 0.0, 100.0, width) == want


def test_each_lane_says_what_it_adds_up_to():
    span, found = lanes(week(), 60)
    assert span == (T0, T0 + 7 * DAY)
    said = {lane.id: lane.said for lane in found}
    assert said["error_rate"] == "fired 2 times, first 2024-05-09 01:05:15Z"
    assert said["api_p95_regression"] == said["path_p95"] == "never fired"
    assert all(len(lane.cells) == 60 for lane in found)
