"""The first frame comes before the plan: drawn at once, saying that it loads, with nothing to do
but quit until the loader has made the engine; then exactly the screen an engine opens with.
A loader that refuses ends the screen, and the refusal (message and exit code) reaches the caller."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cockpit.tui.app import MUTATING, TITLES, CockpitApp, Loaded
from tests.tui.scenes import CAPTAIN, Scene, text_of

pytestmark = pytest.mark.anyio

PANES = ("#phase", "#preflight", "#budget", "#escalation", "#timeline")
KEYS = ["a", "g", "k", "s", "r", "o", "w", "n", "c", "e", "j", "question_mark", "1", "3", "ctrl+p"]


class Gate:
    """A loader that waits for the test to let it finish, then hands over a scene's engine."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.release = threading.Event()
        self.filled = asyncio.Event()

    def __call__(self) -> Loaded:
        assert self.release.wait(60), "the test never released the loader"
        return Loaded(self.scene.engine, str(CAPTAIN), guard=self.scene.guard, started=lambda app: self.filled.set())


def notes(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def test_the_loading_frame_refuses_every_action_but_quit(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()  # checks passed, all signed: Start would be offered
    before = len(scene.engine.journal.records)
    gate = Gate(scene)
    app = CockpitApp(loader=gate, loading="loading the plan p.toml and its journal", watch=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert "loading the plan p.toml and its journal" in text_of(app.query_one("#banner"))
            assert {p: app.query_one(p).border_title for p in PANES} == {f"#{k}": v for k, v in TITLES.items()}
            for key in KEYS:
                await pilot.press(key)
                await pilot.pause()
                assert app.screen is app.screen_stack[0], f"{key} opened {app.screen}"
            enabled = [ab.binding for ab in app.screen.active_bindings.values() if ab.enabled]
            assert {b.action for b in enabled if b.show} == {"quit_cockpit"}  # the footer offers quit, nothing else
            own = {b.action for b in CockpitApp.BINDINGS}
            assert {b.action for b in enabled} & own == {"quit_cockpit"}
            assert not any(app.check_action(a, ()) for a in [*MUTATING, "command_palette", "journal", "help"])

            from cockpit.tui.palette import CockpitCommands

            provider = CockpitCommands(app.screen)
            assert [h async for h in provider.discover()] == []
            # Buttons and palette hits reach the methods directly: each refuses while loading.
            for action in (app.action_kill, app.action_start, app.action_advance, app.action_gate, app.action_waive,
                           app.action_sign_off, app.action_note, app.action_run_checks, app.action_journal,
                           app.action_help):
                action()
            app.check_chatops("/approve v0.1.0")
            await pilot.pause()
            assert app.screen is app.screen_stack[0]
            assert sum("nothing can be done yet" in n for n in notes(app)) >= 11
            assert len(scene.engine.journal.records) == before  # nothing was journaled

            gate.release.set()
            await gate.filled.wait()
            await pilot.pause()
            assert "IntelGraph" in text_of(app.query_one("#header"))
            assert app.check_action("start", ()) and app.check_action("note", ())  # now the state decides
            await pilot.press("s")
            await pilot.pause()
            assert type(app.screen).__name__ == "Confirm"
    finally:
        gate.release.set()


async def test_once_loaded_the_panes_show_what_an_engine_opens_with(tmp_path):
    scene = await Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=6)
    gate = Gate(scene)
    gate.release.set()
    loaded = CockpitApp(loader=gate, watch=False)
    async with loaded.run_test(size=(120, 40)) as pilot:
        await gate.filled.wait()
        await pilot.pause()
        via_loader = {p: _lines(loaded.query_one(p)) for p in ("#header", "#banner", *PANES)}
        footer = sorted(ab.binding.key for ab in loaded.screen.active_bindings.values() if ab.enabled and ab.binding.show)
    direct = scene.app()
    async with direct.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert via_loader == {p: _lines(direct.query_one(p)) for p in ("#header", "#banner", *PANES)}
        assert footer == sorted(ab.binding.key for ab in direct.screen.active_bindings.values() if ab.enabled and ab.binding.show)


async def test_quit_works_while_loading_and_the_caller_gets_what_was_loaded(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()
    gate = Gate(scene)
    app = CockpitApp(loader=gate, watch=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("q")
            await pilot.pause()
            assert app._exit
    finally:
        gate.release.set()
    assert (await asyncio.to_thread(app.wait_loaded)).engine is scene.engine  # so the CLI can close it


async def test_a_refused_load_ends_the_screen_with_its_code(tmp_path):
    from cockpit.refused import Refused

    def refuse() -> Loaded:
        raise Refused("plan.toml: phases.0.weight: Input should be less than or equal to 100", code=2)

    app = CockpitApp(loader=refuse, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await asyncio.to_thread(app.wait_loaded)
        await pilot.pause()
    assert app.return_code == 2
    assert isinstance(app.load_error, Refused) and app.load_error.lines == (
        "plan.toml: phases.0.weight: Input should be less than or equal to 100",)


def test_the_frame_titles_are_the_panes_titles():
    from cockpit.tui import panes

    assert TITLES == {"preflight": panes.PreflightPane.TITLE, "phase": panes.PhasePane.TITLE,
                      "budget": panes.BudgetPane.TITLE, "escalation": panes.EscalationPane.TITLE,
                      "timeline": panes.TimelinePane.TITLE}


def test_the_first_frame_imports_neither_pydantic_nor_the_engine():
    """What `cockpit demo` imports before its frame: Textual and the screen, not the plan's models."""
    import subprocess
    import sys

    probe = ("import sys; import cockpit.cli as c; c.build_parser(); from cockpit.tui.app import CockpitApp; "
             "from cockpit.tui.themes import load_themes; load_themes(); from cockpit.demo import banner, watch_hint; "
             "print(sorted(m for m in ('pydantic', 'cockpit.config', 'cockpit.engine', 'cockpit.store.journal', "
             "'cockpit.core.events', 'httpx', 'prometheus_api_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_screen_ended_before_the_loaders_turn_never_loads():
    """Quit before the loader's thread began: the caller is not kept waiting, and the loader
    does not run later (nothing would close what it opened)."""
    called = []
    app = CockpitApp(loader=lambda: called.append(1), watch=False)
    assert app.wait_loaded() is None
    app._load()
    assert called == [] and app.loaded is None


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_loading_frame_looks(snap_compare, size):
    """The frame while the plan loads: the panes' boxes (one, as a tab, at 80x24), the line saying
    what loads, and quit alone in the footer. (This loader hands over no engine, so the frame stays
    as it is for the picture; one that blocks would hold the app's exit, which joins its thread.)"""
    app = CockpitApp(loader=lambda: None, loading="loading the plan plan.toml and its journal", watch=False)
    assert snap_compare(app, terminal_size=size)


# --- the frame a screen kept (tui/kept.py) ----------------------------------------------------------

LOADING = "loading the plan p.toml and its journal"


async def kept_once(pilot, tmp_path) -> None:
    """Until the screen has kept its frame (KEEP_AFTER_S after it was filled)."""
    frames = tmp_path / "cache" / "cockpit" / "frames"
    for _ in range(100):
        if list(frames.glob("*.json")):
            return
        await pilot.pause(0.1)
    raise AssertionError("no frame kept")


def rows_of(app) -> dict[str, list[str]]:
    from cockpit.tui.rows import Rows

    return {w.id: [line.text for line in w.lines] for w in app.query(Rows) if w.id != "banner"}


async def test_a_screen_started_again_shows_the_frame_it_kept_while_it_loads(tmp_path):
    """The second start of the same screen shows the panes as the first drew them (a preflight
    row, a trigger row) under a line saying it loads and when they were drawn; nothing can be done
    until the plan is loaded, and then the screen draws its own."""
    scene = await Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=6)
    first = Gate(scene)
    first.release.set()
    app = CockpitApp(loader=first, loading=LOADING, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await first.filled.wait()
        await kept_once(pilot, tmp_path)
        drawn = rows_of(app)
    assert any("Freeze Window" in row for row in drawn["preflight"]) and any("Performance" in row for row in drawn["phase"])
    assert len(list((tmp_path / "cache" / "cockpit" / "frames").glob("*.json"))) == 1

    second = Gate(scene)
    again = CockpitApp(loader=second, loading=LOADING, watch=False)
    try:
        async with again.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert rows_of(again) == drawn  # every pane and the header, row for row
            banner = text_of(again.query_one("#banner"))
            assert LOADING in banner and "the panes as this screen drew them at" in banner
            for key in KEYS:
                await pilot.press(key)
                await pilot.pause()
                assert again.screen is again.screen_stack[0], f"{key} opened {again.screen}"
            assert not any(again.check_action(a, ()) for a in [*MUTATING, "command_palette", "journal", "help"])
            second.release.set()
            await second.filled.wait()
            await pilot.pause()
            assert "BREACHING" in text_of(again.query_one("#banner"))  # its own headline, once loaded
    finally:
        second.release.set()


async def test_no_frame_is_kept_for_another_size_or_from_a_broken_file(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()
    first = Gate(scene)
    first.release.set()
    app = CockpitApp(loader=first, loading=LOADING, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await first.filled.wait()
        await kept_once(pilot, tmp_path)
    for size, spoil in (((80, 24), False), ((120, 40), True)):
        if spoil:
            for kept_file in (tmp_path / "cache" / "cockpit" / "frames").glob("*.json"):
                kept_file.write_text('{"v": 1, "at": "x", "rows": {"phase": [[["a", 5]]]')  # torn
        gate = Gate(scene)
        again = CockpitApp(loader=gate, loading=LOADING, watch=False)
        try:
            async with again.run_test(size=size) as pilot:
                await pilot.pause()
                assert all(rows == [] for rows in rows_of(again).values()), size
                assert "drew them" not in text_of(again.query_one("#banner"))
        finally:
            gate.release.set()


def _lines(widget) -> list[str]:
    """What a pane says, line by line, without the padding that fills a line to the pane's width (a line
    drawn before the layout gave it its width is padded on the next draw)."""
    return [line.rstrip() for line in text_of(widget).splitlines()]
