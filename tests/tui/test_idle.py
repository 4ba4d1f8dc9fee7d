"""A screen that idles: with nothing changed, a tick does no work; when one second passes, only the
rows whose text changed are repainted, and what they show is what a full repaint would show.

No timing here: the work is counted (refreshes of the read model, rows repainted), not measured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.console import Console
from rich.text import Text
from textual.visual import Visual, visualize

from cockpit.tui.panes import Spread
from cockpit.tui.rows import Rows
from tests.tui.scenes import Scene


def painted(app) -> dict[str, int]:
    return {pane.id: pane.painted_rows for pane in app.query(Rows)}


def on_screen(app) -> list[str]:
    """The screen as the terminal has it: the compositor's cached rows, each repainted only when dirty."""
    update = app.screen._compositor.render_full_update()
    return ["".join(segment.text for segment in strip) for strip in update.strips]


def counting_refreshes(app) -> list[int]:
    calls: list[int] = []
    refresh_view = app.refresh_view
    app.refresh_view = lambda: (calls.append(1), refresh_view())[-1]
    return calls


@pytest.mark.anyio
async def test_a_tick_with_nothing_changed_does_no_work(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=5)
    for app in (scene.app(), scene.observer_app()):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app._tick()  # the first tick after mount takes note of what the screen shows
            await pilot.pause()
            before, calls = painted(app), counting_refreshes(app)
            for _ in range(3):
                app._tick()  # the clock is frozen, no event, no round: nothing to do
                await pilot.pause()
            assert calls == []
            assert painted(app) == before


@pytest.mark.anyio
async def test_one_second_repaints_the_rows_that_show_time_and_no_other(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=5)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._tick()
        await pilot.pause()
        before, screen = painted(app), on_screen(app)
        scene.clock.advance(timedelta(seconds=1))
        app._tick()
        await pilot.pause()
        after = on_screen(app)
        rows = {pane: n - before[pane] for pane, n in painted(app).items() if n != before[pane]}
        changed = [(old, new) for old, new in zip(screen, after, strict=False) if old != new]
        # The header's clock and its guard-round age, the banner's countdown, the soak line: one
        # row each, and nothing else of any pane (the triggers, gate, budget, timeline stay put).
        assert rows == {"header": 2, "banner": 1, "phase": 1}
        assert len(changed) == 4
        clock, age, countdown, soak = changed
        assert clock[0].endswith("14:05:00Z") and clock[1].endswith("14:05:01Z")
        assert age[1].endswith("guard ● 4242@bastion 1s")
        assert "SOAKING 14m59s left" in countdown[1]
        assert "14m59s left of 20m00s" in soak[1]


@pytest.mark.anyio
async def test_rows_painted_one_by_one_are_what_a_full_repaint_shows(tmp_path):
    """Every pane, after a minute of seconds and a guard round: its rows equal Textual's own render."""
    scene = await Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=4)
    for app in (scene.app(), scene.observer_app()):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for second in range(60):
                scene.clock.advance(timedelta(seconds=1))
                if second == 30:
                    await scene.poll()
                app._tick()
                await pilot.pause()
            partial = on_screen(app)
            for pane in app.query(Rows):  # each row as Textual lays out the pane's whole content
                full = Visual.to_strips(pane, visualize(pane, pane.content), pane.laid_width, None, pane.visual_style)
                assert pane.lines == full, pane.id
            app.screen.refresh()  # everything repainted from scratch
            await pilot.pause()
            assert on_screen(app) == partial


@pytest.mark.anyio
async def test_a_journal_event_still_reaches_the_screen(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=5)
    app = scene.observer_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._tick()
        await pilot.pause()
        assert not any("a note for the idle test" in row for row in on_screen(app))
        assert scene.engine.note("a note for the idle test").ok
        app._tick()  # the observer folds the captain's event in and shows it
        await pilot.pause()
        assert any("a note for the idle test" in row for row in on_screen(app))


@pytest.mark.parametrize("width", [1, 5, 20, 31, 40, 79, 80, 100, 120, 200])
def test_a_spread_row_is_the_two_column_grid_segment_for_segment(width):
    """The header's rows skip the table's measuring; what they yield is what the table yielded."""
    import io

    console = Console(width=width, file=io.StringIO(), color_system="truecolor")
    lefts = [Text.assemble((" IntelGraph Platform v0.1.0 ", "bold"), (" production/us-west-2", ""), (" US-only", "grey50")),
             Text.assemble((" Phase 1 (1/4)", "bold"), ("  canary ", ""), ("5 %", "bold"), ("  shifting…", "bold yellow")),
             Text(""), Text("x" * 300)]
    rights = [Text.assemble((" OBSERVER read-only ", "bold reverse"), (" 14:05:01Z ", "bold"), no_wrap=True),
              Text.assemble(("  prometheus ", ""), ("● ok", "green"), ("  guard ", ""), ("● 4242@bastion 1s", "green")),
              Text(" UNGUARDED 2m55s ", "bold reverse red"), Text("")]
    for left in lefts:
        for right in rights:
            row = Spread(left, right)
            for options in (console.options, console.options.update(height=7)):
                assert list(console.render(row, options)) == list(console.render(row.table(), options)), (left, right)


@pytest.mark.anyio
async def test_memory_is_released_after_the_load_and_then_every_minute(tmp_path, monkeypatch):
    """Rich caches the width of every string it measures (up to 4096): a clock fills it with
    strings never shown again; the screen empties it (and trims the heap) every RELEASE_S."""
    from rich.cells import cached_cell_len

    from cockpit.tui import memory

    trims: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: trims.append)
    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=5)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._tick()  # the first tick after the load releases
        assert trims == [0]
        cached_cell_len("a string measured once, 20:13:05Z")
        app._tick()  # not yet due
        assert trims == [0] and cached_cell_len.cache_info().currsize > 0
        monkeypatch.setattr(memory, "RELEASE_S", 0.0)
        app._tick()  # due: emptied and trimmed
        assert trims == [0, 0] and cached_cell_len.cache_info().currsize == 0


def test_the_heap_trim_is_glibcs_here():
    from cockpit.tui import memory

    memory.release()  # on this Linux: no error, and the cache is empty after it
    assert memory._malloc_trim() is not None
