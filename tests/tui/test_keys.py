"""Keys users already know, and the pointer: K pulls the kill switch (k scrolls, as j does), Tab
moves between panes, the focused pane scrolls, tabs take a click, the 80x24 footer cuts no label,
the journal's long lines end in "…" and scroll sideways, a form never cancels silently; the
command palette offers the cockpit's themes only and a screenshot that says where it went."""

from __future__ import annotations

import os

import pytest
from textual.widgets import Footer, Select

from cockpit.core import events as ev
from cockpit.tui.app import PANES, CockpitApp
from cockpit.tui.dialogs import FormDialog, KillDialog
from cockpit.tui.journal_view import JournalScreen, LongLines
from tests.tui.scenes import Scene, text_of
from tests.tui.test_app import _scene_for, notes

pytestmark = pytest.mark.anyio


def _page(scene: Scene) -> None:
    """An open page nobody acknowledged: the footer offers `e Ack page` as well."""
    scene.engine._append(ev.IncidentOpened(incident="INC-1", level="L1", reason="trigger error_rate fired", trigger="error_rate"))


async def test_shift_k_opens_the_kill_dialog_and_k_only_scrolls(tmp_path):
    scene = await _scene_for(tmp_path, "soaking")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("k", "j", "k")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # no dialog: k and j are up and down
        await pilot.press("K")
        await pilot.pause()
        assert isinstance(app.screen, KillDialog)  # and it still asks for the version typed


async def test_j_k_and_the_arrows_scroll_the_focused_pane(tmp_path):
    scene = await _scene_for(tmp_path, "soaking")
    for i in range(30):
        scene.engine.note(f"note {i}")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("5")  # the timeline, focused
        timeline = app.query_one("#timeline")
        assert app.focused is timeline and timeline.max_scroll_y > 0
        await pilot.press("j", "j", "down")
        await pilot.pause()
        assert timeline.scroll_y == 3
        await pilot.press("k", "up")
        await pilot.pause()
        assert timeline.scroll_y == 1
        await pilot.press("end")
        await pilot.pause()
        assert timeline.scroll_y == timeline.max_scroll_y
        assert app.query_one("#budget").scroll_y == 0  # only the focused pane moved


async def test_the_timeline_scrolls_to_its_oldest_line_shown(tmp_path):
    """The timeline keeps more lines than its box shows: scrolled to the end, its last line is on screen."""
    scene = await _scene_for(tmp_path, "soaking")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        timeline = app.query_one("#timeline")
        await pilot.click("#timeline")
        assert app.focused is timeline
        rows = text_of(timeline).splitlines()
        assert len(rows) > timeline.scrollable_content_region.height
        await pilot.press("end")
        await pilot.pause()
        bottom = timeline.render_line(timeline.scrollable_content_region.height - 1).text
        assert rows[len(timeline.lines) - 1].strip()[:40] in bottom


async def test_tab_moves_between_panes_in_the_order_of_their_keys(tmp_path):
    scene = await _scene_for(tmp_path, "soaking")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:  # every pane on screen
        await pilot.pause()
        seen = [app.focused.id]
        for _ in PANES:
            await pilot.press("tab")
            seen.append(app.focused.id)
        assert seen == [*PANES, PANES[0]]
        await pilot.press("shift+tab")
        assert app.focused.id == PANES[-1]
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:  # compact: Tab shows the next tab
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused.id == "preflight" and app.query_one("#preflight").has_class("shown")
        assert not app.query_one("#phase").display or not app.query_one("#phase").has_class("shown")


async def test_a_click_on_a_tab_shows_its_pane(tmp_path):
    scene = await _scene_for(tmp_path, "soaking")
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        tabs = app.query_one("#tabs")
        start, _end, name = next(span for span in tabs.spans if span[2] == "budget")
        await pilot.click("#tabs", offset=(start + 2, 0))
        await pilot.pause()
        assert app.query_one("#budget").has_class("shown") and app.focused.id == "budget"
        assert "Budget burn" in app.query_one("#budget").border_title
        start, _end, name = next(span for span in tabs.spans if span[2] == "timeline")
        await pilot.click("#tabs", offset=(start + 1, 0))
        await pilot.pause()
        assert app.query_one("#timeline").has_class("shown") and not app.query_one("#budget").has_class("shown")


async def test_a_click_in_a_pane_focuses_it(tmp_path):
    scene = await _scene_for(tmp_path, "soaking")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#escalation")
        await pilot.pause()
        assert app.focused.id == "escalation"
        await pilot.press("tab")
        assert app.focused.id == "timeline"  # the next one after the pane clicked


@pytest.mark.parametrize("state", ["preflight", "soaking", "rolled-back", "completed"])
async def test_no_footer_label_is_cut_at_80x24(tmp_path, state):
    """With a page waiting (`e Ack page` offered too), every key the footer shows is whole and
    none lies under another: the palette key gives way at 80 columns."""
    scene = await _scene_for(tmp_path, state)
    _page(scene)
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        footer = app.query_one(Footer)
        for _ in range(100):  # the footer recomposes once the bindings settle (later under load)
            await pilot.pause(0.05)
            keys = [k for k in footer.query("FooterKey") if k.display]
            if any(k.description == "Ack page" for k in keys) and all(k.region.width for k in keys):
                break
        assert any(k.description == "Ack page" for k in keys)
        right = 0
        for key in sorted(keys, key=lambda k: k.region.x):
            label = str(key.render()).strip()
            assert key.region.x >= right and key.region.right <= footer.region.right, (label, key.region)
            assert key.region.width >= len(label), label
            right = key.region.right
        assert {k.description for k in keys} >= {"Quit", "Help", "Journal", "Note"}


async def test_the_journals_long_lines_end_in_an_ellipsis_and_scroll_sideways(tmp_path):
    scene = await _scene_for(tmp_path, "soaking")
    scene.engine.note("a long note: " + " ".join(f"word{i}" for i in range(60)) + " THE END")
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("J")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JournalScreen)
        assert "← → sideways" in text_of(screen.query_one("#journal-title"))
        lines = screen.query_one(LongLines)
        first = lines.render_line(0).text
        assert "a long note: word0" in first and first.endswith("…") and "THE END" not in first
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert lines.scroll_x > 0
        moved = lines.render_line(0).text
        assert moved.startswith("…") and moved.endswith("…")
        await pilot.press(*["ctrl+pagedown"] * 8)  # a page sideways at a time, to the line's end
        await pilot.pause()
        assert lines.scroll_x == lines.max_scroll_x
        assert lines.render_line(0).text.rstrip().endswith("THE END")


async def test_the_tick_a_step_dialog_never_cancels_silently(tmp_path):
    """Type what was done, Tab, Enter: Tab lands on Cancel; leaving says nothing was journaled."""
    scene = await _scene_for(tmp_path, "rolled-back")
    app = scene.app()
    before = len(scene.engine.journal.records)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog)
        await pilot.press(*"hotfix/p95", "tab", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, FormDialog)
        assert "Checklist: cancelled: nothing was journaled" in notes(app)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("escape")  # Escape too
        await pilot.pause()
        assert notes(app).count("Checklist: cancelled: nothing was journaled") == 2
    assert len(scene.engine.journal.records) == before


async def test_a_form_recorded_says_nothing_of_a_cancel(tmp_path):
    scene = await _scene_for(tmp_path, "rolled-back")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#step", Select).value = "hotfix branch created"
        await pilot.press(*"hotfix/p95", "enter")
        await pilot.pause()
        assert not any("cancelled" in n for n in notes(app))
    assert scene.engine.journal.records[-1].payload.text == "rollback step done: hotfix branch created: hotfix/p95"


# --- the command palette ------------------------------------------------------------------------


async def test_the_palette_offers_the_cockpits_themes_only(tmp_path):
    scene = await _scene_for(tmp_path, "rolled-back")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        themes = sorted(t for t in titles if t.startswith("Theme"))
        assert themes == ["Theme: cockpit-colorblind", "Theme: cockpit-dark", "Theme: cockpit-high-contrast",
                          "Theme: cockpit-light"]
        assert titles.count("Screenshot") == 1
        light = next(c for c in app.get_system_commands(app.screen) if c.title == "Theme: cockpit-light")
        light.callback()
        await pilot.pause()
        assert app.theme == "cockpit-light"
        assert "ROLLED BACK" in text_of(app.query_one("#banner"))


async def test_the_palettes_screenshot_says_where_it_saved_or_why_not(tmp_path, monkeypatch):
    scene = await _scene_for(tmp_path, "soaking")
    shots = tmp_path / "shots"
    shots.mkdir()
    monkeypatch.chdir(shots)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shot = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        shot.callback()
        await pilot.pause()
        saved = list(shots.glob("*.svg"))
        assert len(saved) == 1 and f"Screenshot: saved {saved[0]}" in notes(app)
        assert "Phases,&#160;triggers" in saved[0].read_text()
        os.rmdir(saved[0]) if saved[0].is_dir() else saved[0].unlink()
        shots.rmdir()  # the current directory is gone: nothing can be saved in it
        shot.callback()
        await pilot.pause()
        failed = [n for n in notes(app) if n.startswith("Screenshot: not saved in")]
        assert failed and "No such file or directory" in failed[0], notes(app)


def test_a_theme_that_does_not_exist_is_said_on_stderr(capsys):
    CockpitApp(loader=lambda: None, theme="nope")
    err = capsys.readouterr().err
    assert "theme 'nope' not found" in err and "cockpit-dark" in err
    CockpitApp(loader=lambda: None, theme="cockpit-light")
    CockpitApp(loader=lambda: None)
    assert capsys.readouterr().err == ""
