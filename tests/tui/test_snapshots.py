"""How each pane and dialog looks, at 80x24 and 120x40, on a frozen clock.

Update with `pytest tests/tui/test_snapshots.py --snapshot-update` only after looking at the
report (convert an SVG with `rsvg-convert x.svg -o x.png` to look at it).
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input

from tests.tui.scenes import Scene

SIZES = [(80, 24), (120, 40)]


def scene(tmp_path, state: str) -> Scene:
    if state == "preflight":
        return asyncio.run(Scene(tmp_path / "s").preflight(signed=3))
    if state == "ready":
        return asyncio.run(Scene(tmp_path / "s").preflight())
    if state == "breaching":
        return asyncio.run(Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=6))
    if state == "rolled-back":
        return asyncio.run(Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=12))
    raise ValueError(state)


async def _still(pilot) -> None:
    """No blinking cursors: a snapshot shows what stays on screen."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", ["preflight", "breaching", "rolled-back"])
def test_main_screen(snap_compare, tmp_path, state, size):
    s = scene(tmp_path, state)
    press = ["2"] if state == "preflight" else []  # compact layout: the preflight tab
    assert snap_compare(s.app(), terminal_size=size, press=press, run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "key, state",
    [("k", "breaching"), ("g", "breaching"), ("w", "preflight"), ("o", "preflight"), ("question_mark", "breaching"), ("s", "ready"), ("q", "breaching")],
    ids=["kill", "gate", "waive", "sign-off", "help", "confirm-start", "confirm-quit"],
)
def test_dialog(snap_compare, tmp_path, key, state, size):
    s = scene(tmp_path, state)
    assert snap_compare(s.app(), terminal_size=size, press=[key], run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_observer(snap_compare, tmp_path, size):
    s = scene(tmp_path, "breaching")
    assert snap_compare(s.observer_app(), terminal_size=size, run_before=_still)


@pytest.mark.parametrize("pane", ["3", "4", "5"], ids=["budget", "escalation", "timeline"])
def test_compact_tabs(snap_compare, tmp_path, pane):
    s = scene(tmp_path, "rolled-back")
    assert snap_compare(s.app(), terminal_size=(80, 24), press=[pane], run_before=_still)
