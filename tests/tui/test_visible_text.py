"""What a person typed or a server sent reaches the screen with its control and bidi characters
shown as escapes (issue 20, item 9): a note full of cursor moves, a U+202E and a U+200B cannot
paint a status, reverse a line or shift a pane's border, in the captain's screen or an observer."""

from __future__ import annotations

import asyncio

import pytest
from textual.geometry import Region

from cockpit.core.visible import HIDDEN
from tests.tui.scenes import Scene
from tests.tui.test_snapshots import _pressing

# A bidi override, a zero-width space, what the issue typed (`cockpit note $'ok\e[s\e[2;1H...'`)
# and markup-looking brackets: none of it may act, all of it must show.
HOSTILE = ("\u202eDEKCAB DELLOR\u202c zero\u200bwidth [/] [reverse]x ok\x1b[s\x1b[2;1H\x1b[2Kstatus   LIVE"
           "   canary weight 5 %\x1b[u")


def noted(tmp_path) -> Scene:
    """Preflight done; the journal holds the hostile note (the timeline shows it)."""
    s = Scene(tmp_path / "s")
    asyncio.run(s.preflight())
    assert s.engine.note(HOSTILE).ok
    return s


def killed(tmp_path) -> Scene:
    """Live, then killed by hand with the hostile text as the reason (the phase pane's kill line says it)."""
    s = Scene(tmp_path / "s")
    asyncio.run(s.live(phase=0, into_soak_min=2))
    assert asyncio.run(s.engine.kill(HOSTILE)).ok
    return s


def drawn(app) -> list[tuple[str, str]]:
    """Every pane on screen as it is drawn, border included: (pane id, line). Each line is
    exactly the pane's width in cells, as the terminal will count them."""
    lines = []
    for pane in app.screen.query(".pane"):
        if not pane.display or not pane.size.area:
            continue
        width, height = pane.outer_size
        for strip in pane.render_lines(Region(0, 0, width, height)):
            assert strip.cell_length == width, (pane.id, strip.text)
            lines.append((pane.id, strip.text))
    return lines


@pytest.mark.parametrize("size, tab", [((80, 24), "5"), ((80, 24), "1"), ((120, 40), None)], ids=["80x24-timeline", "80x24-phase", "120x40"])
@pytest.mark.parametrize("make", [noted, killed], ids=["note", "kill-reason"])
@pytest.mark.parametrize("observer", [False, True], ids=["captain", "observer"])
def test_hostile_text_is_shown_escaped_and_every_border_holds(tmp_path, make, observer, size, tab):
    s = make(tmp_path)
    app = s.observer_app() if observer else s.app()

    async def run() -> str:
        async with app.run_test(size=size) as pilot:
            if tab:
                await pilot.press(tab)
            await pilot.pause()
            lines = drawn(app)
            assert lines
            for pane, line in lines:
                assert HIDDEN.search(line) is None, (pane, line)  # nothing a terminal would act on or hide
                assert line[0] in "╭│╰" and line[-1] in "╮│╯", (pane, line)  # the border at both edges
            return "\n".join(line for _, line in lines)

    shown = asyncio.run(run())
    if make is noted and tab != "1":  # the timeline is on screen
        assert "\\u202eDEKCAB DELLOR\\u202c zero\\u200bwidth [/] [reverse]x" in shown, shown
    if make is killed and tab != "5":  # the phase pane's kill line
        for piece in ("\\u202eDEKCAB DELLOR\\u202c", "zero\\u200bwidth [/] [reverse]x", "ok\\x1b[s\\x1b[2;1H\\x1b[2Kstatus"):
            assert piece in shown, shown  # the reason wraps, whole, under itself


def test_an_observer_at_80x24_with_a_hostile_note(snap_compare, tmp_path):
    """The look: the note's escapes on the timeline's line, every border straight."""
    s = noted(tmp_path)
    assert snap_compare(s.observer_app(), terminal_size=(80, 24), run_before=_pressing("5"))


def test_a_kill_reason_full_of_escapes_at_80x24(snap_compare, tmp_path):
    s = killed(tmp_path)
    assert snap_compare(s.app(), terminal_size=(80, 24), run_before=_pressing("1"))
