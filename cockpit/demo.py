"""`cockpit demo`: the seed plan on an embedded simulated world, on an accelerated clock.

Everything is real but the world: the journal, the engine, the monitor and the screen are the
ones a captain uses. The stakeholders are simulated too: they sign off at the start and record
GO when their gate's criteria are met, so one person can watch a whole rollout.

The plan, the engine and the world are imported where they are built, not at the top: the
screen imports `banner` and `watch_hint` before its first frame, and builds the rest after it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.clock import Clock
    from cockpit.config import Plan
    from cockpit.core.evaluation import GuardId
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from cockpit.guard import Guard


MAX_SPEED = 1800.0  # a round a wall second judges half an hour of samples; one twice late still judges them all


def demo_speed(asked: float) -> float:
    """The speed the demo runs at: as asked, up to MAX_SPEED. Its guard runs a round every wall
    second, each judging every sample since the last (`speed` rollout seconds of them), and a
    round judges at most an hour (core.triggers.CATCH_UP_S): faster, samples would go unjudged."""
    return min(asked, MAX_SPEED)


def banner(speed: float) -> str:
    """What the demo's header says, so no screenshot of it passes for production (and a capped speed)."""
    shown = demo_speed(speed)
    return f"DEMO · simulated · {shown:g}x" + (f" ({speed:g}x asked: capped)" if shown < speed else "")


def speed_note(speed: float) -> str:
    """Why a speed was capped, for the headless output ("" when it was not)."""
    if demo_speed(speed) == speed:
        return ""
    return (f"speed {speed:g}x is capped at {MAX_SPEED:g}x: the guard runs a round every wall second, "
            f"each judging every sample since the last, and a round judges at most an hour of them")


def watch_hint(state_dir: Path) -> str:
    """How to watch this demo from a second terminal, as printed when it starts."""
    return f"watch it from another terminal: cockpit observe --state-dir {state_dir}"


PEOPLE = {"po": "Priya", "tech_lead": "Tomas", "security": "Sana", "sre": "Sam", "finops": "Fran"}


def demo_plan(scenario: str = "healthy") -> Plan:
    """The seed plan with its gateway swapped for the simulated one (nothing else changes); a
    judge-* scenario also switches on the seed's commented judge (without the count test's
    events, which the simulator does not model)."""
    from cockpit.config import parse_plan
    from cockpit.seed import judged_seed_data, seed_plan

    if scenario.startswith("judge-"):
        data = judged_seed_data()
        for metric in data["judge"]["metrics"]:
            metric.pop("events", None), metric.pop("exposure", None)
    else:
        data = seed_plan().model_dump(mode="json", by_alias=True, exclude_none=True)
    data["gateways"] = {data["kill_switch"]["gateway"]: {"type": "simulated"}}
    return parse_plan(data)


def demo_checks(clock: Clock, metrics, base_dir: Path, *, takes_s: float = 0.3):
    """Freeze window and PromQL checks run for real (on the demo clock and world); the rest are simulated,
    each taking `takes_s` real seconds (the pane shows it running; a frozen test scene passes 0)."""
    from cockpit.adapters import checks

    real = checks.runner(clock=clock, base_dir=base_dir, metrics=metrics)

    async def run(check) -> checks.Outcome:
        if check.type in ("freeze_window", "promql"):
            return await real(check)
        await asyncio.sleep(takes_s)
        return checks.Outcome("pass", f"{check.description or check.name} (simulated)", {"simulated": True})

    return run


class Stakeholders:
    """The simulated owners: sign-offs at the start, GO once their gate's criteria are met."""

    def __init__(self, engine: Engine):
        self.engine = engine

    async def sign_off(self) -> None:
        await self.engine.run_preflight()
        for role in self.engine.plan.sign_offs:
            self.engine.sign_off(role, PEOPLE.get(role, role), "approved (demo)")

    def on_round(self) -> None:
        from cockpit.core import rules

        e, s = self.engine, self.engine.state
        if s.status != "live" or s.phase is None:
            return
        left = rules.soak_remaining(s, e.clock.now())
        gate = s.gates.get(s.phase)
        spec = e.plan.phases[s.phase]
        met = gate is not None and all(gate.criteria.get(c.id) and gate.criteria[c.id].passed for c in spec.gate.auto)
        quiet = not any(t.breaching for t in s.triggers.values())
        if left is not None and left.total_seconds() == 0 and met and quiet:
            assert gate is not None  # met
            for role in spec.gate.owners:
                if role not in gate.decisions:
                    e.decide(role, "GO", PEOPLE.get(role, role), "criteria met (demo)")


def build(
    scenario: str,
    state_dir: Path,
    *,
    speed: float = 60.0,
    clock: Clock | None = None,
    actor: Actor,
    poll_s: float | None = None,
    identity: GuardId | None = None,
    evidence: bool = False,
    check_s: float = 0.3,
):
    """(engine, guard, world, stakeholders) for a demo rollout in `state_dir`: the guard runs in
    this process (the same code as `cockpit guard`), and publishes for `cockpit observe`.
    `check_s`: the real seconds a simulated check takes."""
    from cockpit import session
    from cockpit.adapters.notify import SimulatedNotifier
    from cockpit.adapters.simulator import SimulatedMetrics, SimulatedWorld, seed_series
    from cockpit.clock import AcceleratedClock
    from cockpit.monitor import Monitor

    plan = demo_plan(scenario) if scenario.startswith("judge-") else demo_plan()
    speed = demo_speed(speed)
    clock = clock or AcceleratedClock(speed)
    world = SimulatedWorld(scenario, clock=lambda: clock.now().timestamp())
    metrics = SimulatedMetrics(world, series=seed_series(plan))
    engine = session.demo_engine(plan, state_dir, actor, clock=clock, world=world, metrics=metrics,
                                 check_runner=demo_checks(clock, metrics, state_dir, takes_s=check_s))
    engine.ensure_plan()
    # a round a wall second (from 15x)
    monitor = Monitor(engine, metrics, poll_s=poll_s or max(15.0, speed), step_s=30.0)
    people = Stakeholders(engine)
    monitor.subscribe(people.on_round)
    guard = session.guard(engine, state_dir, monitor=monitor, identity=identity, reason="demo", attended=lambda: True,
                          evidence_base=state_dir if evidence else None,  # bundles under state_dir/evidence
                          notifier=SimulatedNotifier(plan, engine.record_delivery))
    return engine, guard, world, people


async def run_headless(engine: Engine, guard: Guard, people: Stakeholders, *, out, max_rounds: int = 400) -> str:
    """A scripted captain: start, advance whenever the core allows, print every journaled event."""
    from cockpit.core import rules
    from cockpit.narrate import line

    engine.subscribe(lambda r: print(line(r, engine.state.plan), file=out, flush=True))
    for r in engine.journal.records:
        print(line(r, engine.state.plan), file=out, flush=True)
    monitor = guard.monitor
    await guard.acquire(wait=False)  # its observers see a guard by the kernel's lock and the journal
    await people.sign_off()
    await engine.start()
    for _ in range(max_rounds):
        await monitor.poll()
        guard.publish()
        if engine.state.status != "live":
            break
        if not rules.advance_refusals(engine.state, engine.clock.now()):
            await engine.advance()
            if engine.state.status != "live":
                break
        await engine.clock.sleep(monitor.until_due())
    monitor.close()
    guard.release("the demo ended")
    return engine.state.status
