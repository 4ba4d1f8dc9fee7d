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
    if state == "blind":
        return asyncio.run(Scene(tmp_path / "s", "no-data").live(phase=1, into_soak_min=3))
    if state in ("judge-marginal", "judge-fail"):
        return asyncio.run(Scene(tmp_path / "s", state).live(phase=0, into_soak_min=21 if state == "judge-marginal" else 8))
    if state == "decided":
        s = asyncio.run(Scene(tmp_path / "s").live(phase=1, into_soak_min=21))
        assert s.engine.decide("po", "GO", "Priya", "UI E2E confirmed").ok  # entered by the captain for the owner
        return s
    raise ValueError(state)


async def _still(pilot) -> None:
    """No blinking cursors: a snapshot shows what stays on screen."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def _pressing(*keys: str):
    """Press the keys before the shot, then still the cursors of whatever they opened (a dialog's
    field mounts after its key: stilled only then, its blink would decide the picture)."""

    async def run_before(pilot) -> None:
        await pilot.pause()  # the screen settled (its pane focused after the first refresh), as a captain finds it
        await pilot.press(*keys)
        await pilot.pause()
        await _still(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", ["preflight", "breaching", "rolled-back", "blind", "decided"])
def test_main_screen(snap_compare, tmp_path, state, size):
    s = scene(tmp_path, state)
    press = ["2"] if state == "preflight" else []  # compact layout: the preflight tab
    assert snap_compare(s.app(), terminal_size=size, press=press, run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "key, state",
    [("K", "breaching"), (("K", *"v0.1.0"), "breaching"), ("g", "decided"), ("g", "breaching"), ("w", "preflight"), ("o", "preflight"), ("question_mark", "breaching"), ("s", "ready"), ("q", "breaching")],
    ids=["kill", "kill-typed", "gate-decided", "gate", "waive", "sign-off", "help", "confirm-start", "confirm-quit"],
)
def test_dialog(snap_compare, tmp_path, key, state, size):
    s = scene(tmp_path, state)
    press = list(key) if isinstance(key, tuple) else [key]
    assert snap_compare(s.app(), terminal_size=size, run_before=_pressing(*press))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_observer(snap_compare, tmp_path, size):
    s = scene(tmp_path, "breaching")
    assert snap_compare(s.observer_app(), terminal_size=size, run_before=_still)


@pytest.mark.parametrize("pane", ["3", "4", "5"], ids=["budget", "escalation", "timeline"])
def test_compact_tabs(snap_compare, tmp_path, pane):
    s = scene(tmp_path, "rolled-back")
    assert snap_compare(s.app(), terminal_size=(80, 24), press=[pane], run_before=_still)


def test_badge_on_a_tab_while_another_is_shown(snap_compare, tmp_path):
    """80x24, the Budget tab open while Performance breaches: the banner and the Phase and
    Escalation tabs' badges say so."""
    s = scene(tmp_path, "breaching")
    assert snap_compare(s.app(), terminal_size=(80, 24), press=["3"], run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_demo_header(snap_compare, tmp_path, size):
    from cockpit import demo

    s = scene(tmp_path, "breaching")
    assert snap_compare(s.app(banner=demo.banner(60)), terminal_size=size, run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_legend(snap_compare, tmp_path, size):
    s = scene(tmp_path, "rolled-back")
    assert snap_compare(s.app(), terminal_size=size, press=["question_mark"], run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_whole_journal_scrolled(snap_compare, tmp_path, size):
    """`j`: every event, newest first, scrolled down a page and two lines."""
    s = scene(tmp_path, "rolled-back")
    assert snap_compare(s.app(), terminal_size=size, run_before=_pressing("J", "pagedown", "down", "down"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_journal_filtered(snap_compare, tmp_path, size):
    """`/` and words: only the lines that carry them (here the trigger that rolled back)."""
    s = scene(tmp_path, "rolled-back")
    assert snap_compare(s.app(), terminal_size=size, run_before=_pressing("J", "slash", *"performance"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", ["judge-marginal", "judge-fail"])
def test_the_analysis_view(snap_compare, tmp_path, state, size):
    """`A`: the judge's latest judgment per phase, metric by metric, the shift drawn against its band."""
    s = scene(tmp_path, state)
    assert snap_compare(s.app(), terminal_size=size, run_before=_pressing("A"))
