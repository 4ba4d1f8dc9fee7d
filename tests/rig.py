"""An engine and its monitor on a ManualClock, for tests that drive the poll loop round by round.

The simulated world shares the engine's clock, so a gateway change made by the engine (a
phase's shift, the kill switch) moves the canary's metrics at that same instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cockpit.adapters.metrics import QueryResult, Sample
from cockpit.adapters.simulator import SimulatedGateway, SimulatedMetrics, SimulatedWorld, seed_series
from cockpit.clock import ManualClock
from cockpit.config import Plan
from cockpit.core import rules
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.monitor import Monitor
from cockpit.store.journal import Journal
from tests.support import passing_runner

ACTOR = Actor(user="alice", host="bastion", role="captain")


class Rig:
    def __init__(self, plan: Plan, state_dir, clock: ManualClock, scenario: str = "healthy", *,
                 metrics=None, runner=None, poll_s: float = 15.0):
        self.plan, self.clock = plan, clock
        self.world = SimulatedWorld(scenario, clock=lambda: clock.now().timestamp())
        self.metrics = metrics if metrics is not None else SimulatedMetrics(self.world, series=seed_series(plan))
        self.engine = Engine(plan, Journal(state_dir), clock=clock, actor=ACTOR,
                             gateway=SimulatedGateway(self.world), check_runner=runner or passing_runner())
        self.engine.ensure_plan()
        self.monitor = Monitor(self.engine, self.metrics, poll_s=poll_s, step_s=30.0)
        self.t0 = clock.now()

    async def start(self) -> datetime:
        """Preflight, every sign-off, start: phase 1 soaks from the returned instant."""
        assert (await self.engine.run_preflight()).ok
        for role in self.plan.sign_offs:
            assert self.engine.sign_off(role, f"{role}-person").ok
        out = await self.engine.start()
        assert out.ok, out.reasons
        return self.clock.now()

    async def tick(self, rounds: int = 1) -> None:
        """Advance one poll interval and run one round (and let a check run it started finish)."""
        for _ in range(rounds):
            self.clock.advance(self.monitor.poll_s)
            await self.monitor.poll()
            await self.monitor.settle()

    async def until(self, when: datetime) -> None:
        while self.clock.now() < when:
            await self.tick()

    async def finish_phase(self) -> None:
        """Poll to the end of the soak, then every owner says GO (the advance is the caller's)."""
        phase = self.engine.state.phase
        while rules.soak_remaining(self.engine.state, self.clock.now()) > timedelta(0):
            await self.tick()
        for role in self.plan.phases[phase].gate.owners:
            assert self.engine.decide(role, "GO", f"{role}-person").ok

    async def to_phase(self, index: int) -> datetime:
        """Run the rollout through its gates up to phase `index`; returns when that phase started."""
        while self.engine.state.phase < index:
            await self.finish_phase()
            out = await self.engine.advance()
            assert out.ok, out.reasons
        return self.clock.now()

    def records(self, *kinds: str, trigger: str | None = None):
        return [
            r for r in self.engine.journal.records
            if (not kinds or r.kind in kinds) and (trigger is None or getattr(r.payload, "trigger", None) == trigger)
        ]

    def advance_refusals(self) -> list[str]:
        return rules.advance_refusals(self.engine.state, self.clock.now())


class Scripted:
    """A MetricsSource: the given queries follow hand-drawn functions of time, the rest go to `inner`.

    `fn(ts)` returns a value, or None for no sample at `ts`. `calls` counts queries by text.
    """

    endpoint = "scripted"

    def __init__(self, inner, curves: dict[str, object]):
        self.inner, self.curves = inner, curves
        self.calls: dict[str, int] = {}

    def instant(self, query: str, at: datetime) -> QueryResult:
        self.calls[query] = self.calls.get(query, 0) + 1
        if query not in self.curves:
            return self.inner.instant(query, at)
        value = self.curves[query](at.timestamp())
        return QueryResult("no_data") if value is None else QueryResult("ok", value=value)

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> QueryResult:
        self.calls[query] = self.calls.get(query, 0) + 1
        if query not in self.curves:
            return self.inner.range(query, start, end, step_s)
        t0, t1 = start.timestamp(), end.timestamp()
        points = [(t0 + k * step_s) for k in range(int((t1 - t0) // step_s) + 1)]
        samples = tuple(Sample(ts, v) for ts in points if (v := self.curves[query](ts)) is not None)
        return QueryResult("ok", value=samples[-1].value, samples=samples) if samples else QueryResult("no_data")


def variant(plan: Plan, trigger_id: str, **changes) -> Plan:
    """The plan with one trigger changed (e.g. action="page"), validated like a config."""
    from cockpit.config import dump_plan, parse_plan

    data = dump_plan(plan)
    for t in data["triggers"]:
        if t["id"] == trigger_id:
            t.update(changes)
    return parse_plan(data)
