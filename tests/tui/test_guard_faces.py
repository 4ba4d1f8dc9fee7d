"""Faces of one guard: a captain's screen restarted mid-phase shows what it left, an observer
with no Prometheus at all shows the guard's live gauges, and an observer judges the guard by the
kernel's lock and its own clock, never by what guard.json claims."""

from __future__ import annotations

import json
import os

import pytest

from cockpit.core.evaluation import GuardId
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from cockpit.store.published import PUBLISHED, GuardFeed
from cockpit.tui.app import CockpitApp
from tests.conftest import T0
from tests.tui.scenes import CAPTAIN, Scene, text_of

pytestmark = pytest.mark.anyio

PANES = ("#phase", "#preflight", "#budget", "#escalation", "#timeline")


async def screen_text(app: CockpitApp) -> dict[str, str]:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return {p: text_of(app.query_one(p)) for p in PANES}


ME = GuardId(user="alice", host="bastion", pid=os.getpid(), since=T0)  # a guard the kernel names as this process


async def test_a_restarted_captain_screen_shows_exactly_what_it_left(tmp_path):
    scene = await Scene(tmp_path / "s", "latency-regression", identity=ME).live(phase=1, into_soak_min=6)
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
    scene = await Scene(tmp_path / "s", "latency-regression", identity=ME).live(phase=1, into_soak_min=6)
    follower = Engine(scene.engine.plan, Journal(scene.state_dir, readonly=True), clock=scene.clock,
                      actor=Actor(user="bob", host="bastion", role="observer"))
    assert follower.metrics is None and follower.gateway is None  # nothing to ask Prometheus with
    seen = await screen_text(CockpitApp(follower, GuardFeed(scene.state_dir), who="bob@bastion", watch=False))
    mine = await screen_text(scene.app())
    assert seen == mine
    track, _ = scene.guard.latest().gauge("api_p95_regression", scene.clock.now())
    assert f"{track.verdict.value:,.0f} ms" in seen["#phase"]  # the live value, from the guard's round


# --- an observer judges the guard by the kernel's lock and its own clock (issue 20, issue 21) ----------------------


def _forge(state_dir, **claims) -> None:
    """A group member renames a file of their own over guard.json, claiming anything."""
    doc = json.loads((state_dir / PUBLISHED).read_text())
    doc.update(claims)
    tmp = state_dir / ".forged"
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, state_dir / PUBLISHED)


def _observer(scene: Scene) -> CockpitApp:
    """An observer as `cockpit observe` makes one: guard.json and the kernel's word on the guard lock."""
    follower = Engine(scene.engine.plan, Journal(scene.state_dir, readonly=True), clock=scene.clock,
                      actor=Actor(user="bob", host="bastion", role="observer"))
    return CockpitApp(follower, GuardFeed(scene.state_dir), who="bob@bastion", watch=False)


async def _header_and_banner(app: CockpitApp) -> tuple[str, str]:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return text_of(app.query_one("#header")), text_of(app.query_one("#banner"))


@pytest.mark.parametrize(
    "claims",
    [
        {"at": "2026-11-26T11:00:00+00:00", "speed": 2.0, "wall_at": 1.0},
        {"wall_at": 4102444800.0},
        {},
    ],
    ids=["old-at-and-speed", "future-wall-at", "renamed-afresh"],
)
async def test_an_observer_says_unguarded_for_a_forged_round_after_the_guard_died(tmp_path, claims):
    scene = await Scene(tmp_path / "s", identity=ME).live(phase=0, into_soak_min=6)
    header, banner = await _header_and_banner(_observer(scene))
    assert f"guard ● {os.getpid()}@bastion" in header and "UNGUARDED" not in banner  # the guard lives
    scene.guard.lease.release()  # as the kernel frees a SIGKILLed guard's lock: nothing journaled
    _forge(scene.state_dir, **claims)
    header, banner = await _header_and_banner(_observer(scene))
    assert "UNGUARDED" in header and "guard ●" not in header, header
    assert banner.strip().startswith(f"UNGUARDED: guard {os.getpid()}@bastion no longer holds the guard lock"), banner


async def test_an_observer_after_a_rollback_says_the_guard_stopped_and_when(tmp_path):
    """Issue 21: the guard stops after a rollback (as designed): not `guard ● 4102@vm 0s`."""
    scene = await Scene(tmp_path / "s", "latency-regression", identity=ME).live(phase=1, into_soak_min=12)
    assert scene.engine.state.status == "rolled_back"
    scene.guard.release("the rollout is rolled back and the kill verified")
    stopped = scene.engine.state.guard_stop.at
    header, banner = await _header_and_banner(_observer(scene))
    assert f"guard stopped {stopped:%H:%M:%S}" in header and "guard ●" not in header, header
    assert "UNGUARDED" not in header and banner.strip().startswith("ROLLED BACK")
