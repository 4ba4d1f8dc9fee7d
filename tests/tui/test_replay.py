"""`cockpit replay`: step to an event and the screen is the fold up to it; jump, play, refuse a broken chain."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.core.state import STATUS_WORDS, fold
from cockpit.narrate import say
from cockpit.tui.replay import PLAY_TICK_S, ReplayError, replay_app
from tests.tui.scenes import text_of

GOLDEN = Path(__file__).resolve().parent.parent / "evidence" / "golden" / "rollback.jsonl"


@pytest.fixture
def state_dir(tmp_path) -> Path:
    """A copy of a journal from another machine: a latency regression, phase 1 passed, rolled back in phase 2."""
    d = tmp_path / "copied" / "state"
    d.mkdir(parents=True)
    shutil.copy(GOLDEN, d / "journal.jsonl")
    return d


def _kinds(app) -> list[str]:
    return [r.kind for r in app.records]


def test_stepping_shows_each_moment_as_the_fold_up_to_it(state_dir):
    async def go():
        app = replay_app(state_dir, cursor=1)
        records = app.records
        fired = _kinds(app).index("trigger_fired") + 1
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.cursor == 1 and app.engine.state.plan is not None and app.engine.state.status == "preflight"
            for _ in range(15):
                await pilot.press("right")
            await pilot.pause()
            assert app.cursor == 16
            want = fold(records[:16])
            got = app.engine.state
            assert (got.status, got.phase, got.weight, got.seq, got.last_hash) == (want.status, want.phase, want.weight, 16, records[15].hash)
            assert app.engine.clock.now() == records[15].ts
            assert records[15].ts.strftime("%H:%M:%S") in text_of(app.query_one("#timeline"))
            assert say(records[15], want.plan) in text_of(app.query_one("#timeline"))
            # PageDown jumps, Left steps back, N goes to the next decision or fire
            await pilot.press("pagedown", "left")
            await pilot.pause()
            assert app.cursor == 25
            while app.cursor < fired:
                await pilot.press("N")
                await pilot.pause()
            assert app.cursor == fired and records[fired - 1].kind == "trigger_fired"
            st = app.engine.state
            assert st.status == "live" and st.triggers["api_p95_regression"].fired is not None
            assert "FIRED" in text_of(app.query_one("#banner")).upper() or "ROLLBACK" in text_of(app.query_one("#banner")).upper()
            await pilot.press("end")
            await pilot.pause()
            assert app.cursor == len(records) and app.engine.state.status == "rolled_back"
            assert STATUS_WORDS["rolled_back"] in text_of(app.query_one("#banner"))
            await pilot.press("home")
            await pilot.pause()
            assert app.cursor == 1 and app.engine.state.status == "preflight"
            assert f"event 1/{len(records)}" in text_of(app.query_one("#header"))

    asyncio.run(go())


def test_replay_is_read_only(state_dir):
    async def go():
        app = replay_app(state_dir)
        n = len(app.records)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for key in ("k", "a", "s", "g", "n", "c"):
                await pilot.press(key)
            await pilot.pause()
            assert not app.check_action("kill", ()) and not app.check_action("advance", ())
        assert app.engine.follower
        assert len(fold(app.engine.journal.records).recent) == n and (state_dir / "journal.jsonl").read_bytes() == GOLDEN.read_bytes()

    asyncio.run(go())


def test_play_moves_rollout_time_at_the_chosen_speed(state_dir):
    async def go():
        app = replay_app(state_dir, cursor=1, speed=1200.0)  # 20 rollout minutes a wall second
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("space")
            assert app.playing
            for _ in range(100):  # a few ticks, however loaded the machine (bounded: 10 s)
                if app.cursor > 1:
                    break
                await pilot.pause(0.1)
            mid, at = app.cursor, app._play_at  # read together: no tick comes between them
            await pilot.press("space")
            assert not app.playing
            played = at - app.times[0]
            assert 1 < mid < len(app.records)  # some minutes in: phase 1, not yet the end
            ticks = played / (PLAY_TICK_S * 1200.0)  # each 0.1 s tick moves 2 rollout minutes
            assert ticks >= 1 and abs(ticks - round(ticks)) < 1e-6
            assert app.times[mid - 1] <= at < app.times[mid]  # the cursor is where play stood
            await pilot.press("plus")
            assert app.speed == 1200.0  # already the fastest
            await pilot.press("minus")
            assert app.speed == 300.0

    asyncio.run(go())


def test_a_journal_whose_chain_breaks_is_refused_saying_where(state_dir, capsys):
    lines = (state_dir / "journal.jsonl").read_text().splitlines(keepends=True)
    lines[9] = lines[9].replace("Sana", "Mallory")
    (state_dir / "journal.jsonl").write_text("".join(lines))
    with pytest.raises(ReplayError, match="line 10"):
        replay_app(state_dir)
    assert main(["replay", "--state-dir", str(state_dir)]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "line 10" in err and "the first 9 events are intact" in err


def test_replay_mid_rollout_snapshot(state_dir, snap_compare):
    """Phase 2 soaking, the performance trigger breaching: event 25 of 32 (looked at as PNG)."""
    app = replay_app(state_dir, cursor=25)
    assert snap_compare(app, terminal_size=(120, 40))
