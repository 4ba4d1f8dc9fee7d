"""Rollouts in known states on a frozen clock, for pilot and snapshot tests of the screen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cockpit import demo
from cockpit.clock import ManualClock
from cockpit.core.evaluation import GuardId
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from cockpit.store.published import GuardFeed
from cockpit.tui.app import CockpitApp
from tests.conftest import T0

CAPTAIN = Actor(user="alice", host="bastion", role="captain")


GUARD = GuardId(user="alice", host="bastion", pid=4242, since=T0)


class Scene:
    """An engine, its guard and a simulated world on a ManualClock, driven to a state.

    The guard's rounds are driven by hand (`poll`), and each is published to guard.json as
    the guard process would, so an observer app renders the same evaluation."""

    def __init__(self, state_dir: Path, scenario: str = "healthy", identity: GuardId = GUARD):
        """`identity`: the guard's (GUARD, pid 4242, for pictures that do not depend on this test's pid)."""
        self.state_dir = state_dir
        self.clock = ManualClock(T0)
        self.engine, self.guard, self.world, self.people = demo.build(
            scenario, state_dir, clock=self.clock, actor=CAPTAIN, poll_s=60, identity=identity,
            check_s=0,  # a scene waits for every check it starts: a simulated check's real 0.3 s shows nowhere
        )
        self.monitor = self.guard.monitor

    async def poll(self) -> None:
        """One guard round, with any check run it started finished: a run that ends on real time
        (the simulated checks take 0.3 s) must not decide what a snapshot shows."""
        await self.monitor.poll()
        await self.monitor.settle()
        self.guard.publish()

    async def soak(self, minutes: float) -> None:
        """Let rollout time pass, polling once a minute as the captain's monitor would."""
        for _ in range(int(minutes)):
            self.clock.advance(timedelta(minutes=1))
            await self.poll()
            if self.engine.rollback_check is not None:
                # Its sleeps move the shared ManualClock: let it finish before the next poll, so
                # the time and the journal are the same on every run.
                await self.engine.rollback_check

    async def preflight(self, signed: int = 5) -> Scene:
        await self.guard.acquire(wait=False)  # as the demo's guard: the lock held, guard_started journaled
        await self.engine.run_preflight()
        for role in self.engine.plan.sign_offs[:signed]:
            self.engine.sign_off(role, demo.PEOPLE[role], "approved")
        await self.poll()
        return self

    async def live(self, *, phase: int = 0, into_soak_min: float = 7) -> Scene:
        """Started, advanced to `phase` with every earlier gate passed, `into_soak_min` into its soak."""
        await self.preflight()
        await self.engine.start()
        await self.poll()
        for _ in range(phase):
            await self.soak(21)
            out = await self.engine.advance()
            assert out.ok, out.reasons
        await self.soak(into_soak_min)
        return self

    def app(self, **kw) -> CockpitApp:
        return CockpitApp(self.engine, self.guard, who=str(CAPTAIN), watch=False, **kw)

    def observer_app(self) -> CockpitApp:
        follower = Engine(self.engine.plan, Journal(self.state_dir, readonly=True), clock=self.clock, actor=Actor(user="bob", host="bastion", role="observer"))
        follower.ensure_plan()
        return CockpitApp(follower, ObserverFeed(self.state_dir, self.guard), who="bob@bastion", watch=False)


class ObserverFeed(GuardFeed):
    """An observer's feed on a frozen clock: guard.json as any observer reads it, and the sight the
    guard's own process has (the lock held under GUARD's pid, the round's age on the scene's clock),
    so a picture does not depend on this test's pid or on real seconds. The sight a face takes of a
    real guard (the kernel's holder, the file's ctime) is tested in test_guard.py and test_status_guard.py."""

    def __init__(self, state_dir: Path, guard):
        super().__init__(state_dir)
        self.guard = guard

    def sight(self):
        return self.guard.sight()


def text_of(widget) -> str:
    """What a Static pane shows, as plain text at its width on screen."""
    import io

    from rich.console import Console

    width = widget.content_region.width or 100
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()
