"""Faces of one guard: a captain's screen restarted mid-phase shows what it left, and an observer
with no Prometheus at all shows the guard's live gauges."""

from __future__ import annotations

import pytest

from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.published import GuardFeed
from cockpit.journal import Journal
from cockpit.tui.app import CockpitApp
from tests.tui.scenes import CAPTAIN, Scene, text_of

pytestmark = pytest.mark.anyio

PANES = ("#phase", "#preflight", "#budget", "#escalation", "#timeline")


async def screen_text(app: CockpitApp) -> dict[str, str]:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return {p: text_of(app.query_one(p)) for p in PANES}


async def test_a_restarted_captain_screen_shows_exactly_what_it_left(tmp_path):
    scene = await Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=6)
    scene.engine.decide("po", "GO", "Priya", "UI E2E confirmed")  # a gate decision in flight
    before = await screen_text(scene.app())
    assert "Performance" in before["#phase"] and "Priya" in before["#phase"]
    # The screen dies; a new one opens the same journal and reads the same guard round.
    scene.engine.journal.close()
    engine = Engine(scene.engine.plan, Journal(scene.state_dir), clock=scene.clock, actor=CAPTAIN)
    engine.ensure_plan()
    after = await screen_text(CockpitApp(engine, GuardFeed(scene.state_dir), who=str(CAPTAIN), watch=False))
    assert after == before  # phase, soak remaining, gate decisions, breaching triggers: all as they were


async def test_an_observer_without_prometheus_shows_the_guards_live_gauges(tmp_path):
    scene = await Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=6)
    follower = Engine(scene.engine.plan, Journal(scene.state_dir, readonly=True), clock=scene.clock,
                      actor=Actor(user="bob", host="bastion", role="observer"))
    assert follower.metrics is None and follower.gateway is None  # nothing to ask Prometheus with
    seen = await screen_text(CockpitApp(follower, GuardFeed(scene.state_dir), who="bob@bastion", watch=False))
    mine = await screen_text(scene.app())
    assert seen == mine
    track, _ = scene.guard.latest().gauge("api_p95_regression", scene.clock.now())
    assert f"{track.verdict.value:,.0f} ms" in seen["#phase"]  # the live value, from the guard's round
