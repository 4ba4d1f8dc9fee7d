"""An observer's header says what the journal says of the rollout (issue 21): a demo's journal reads
DEMO · simulated in the badge, and a guard that stops while the observer watches reads stopped, with
when, never `guard ● 4242@bastion 0s` on a clock that froze with the guard's."""

from __future__ import annotations

import os

import pytest

from cockpit.core.evaluation import GuardId
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from cockpit.store.published import GuardFeed
from cockpit.tui.app import CockpitApp
from tests.conftest import T0
from tests.tui.scenes import Scene, text_of

pytestmark = pytest.mark.anyio

ME = GuardId(user="alice", host="bastion", pid=os.getpid(), since=T0)  # a guard the kernel names as this process


def _observer(scene: Scene) -> CockpitApp:
    follower = Engine(scene.engine.plan, Journal(scene.state_dir, readonly=True), clock=scene.clock,
                      actor=Actor(user="bob", host="bastion", role="observer"))
    return CockpitApp(follower, GuardFeed(scene.state_dir), who="bob@bastion", watch=False)


async def test_an_observer_of_a_demo_says_demo_in_its_badge(tmp_path):
    scene = await Scene(tmp_path / "s", identity=ME).live(phase=0, into_soak_min=3)
    app = _observer(scene)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = text_of(app.query_one("#header"))
    assert "DEMO · simulated · OBSERVER" in header and "read-only" not in header, header


async def test_a_running_observer_says_the_guard_stopped_when_it_stops(tmp_path):
    scene = await Scene(tmp_path / "s", "latency-regression", identity=ME).live(phase=1, into_soak_min=12)
    assert scene.engine.state.status == "rolled_back"
    app = _observer(scene)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = text_of(app.query_one("#header"))
        assert f"guard ● {os.getpid()}@bastion" in before, before  # the guard still holds the lock
        scene.guard.release("the rollout is rolled back and the kill verified")
        stopped = scene.engine.state.guard_stop.at
        app.desk.follow()  # the once-a-second tick: the journal's guard_stopped folded in
        app.refresh_view()
        await pilot.pause()
        after = text_of(app.query_one("#header"))
    assert f"guard stopped {stopped:%H:%M:%S}" in after and "guard ●" not in after, after


async def test_the_phase_pane_after_a_rollback_reads_the_read_models_track_and_gate(tmp_path):
    """Issue 21: not `▶25%` and `Product Owner: waiting` after a rollback; the key that ticks a
    checklist step only on the captain's screen."""
    scene = await Scene(tmp_path / "s", "latency-regression", identity=ME).live(phase=1, into_soak_min=12)
    assert scene.engine.state.status == "rolled_back"
    seen = {}
    for name, app in (("captain", scene.app()), ("observer", _observer(scene))):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            seen[name] = text_of(app.query_one("#phase"))
    for text in seen.values():
        assert "✗25%" in text and "▶" not in text, text
        assert "Product Owner: not decided" in text and "waiting" not in text, text
    assert "tick it when done (c)" in seen["captain"]
    assert "tick it when done" in seen["observer"] and "(c)" not in seen["observer"], seen["observer"]
