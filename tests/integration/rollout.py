"""A seed-plan rollout pointed at a real gateway on loopback, driven through the engine in one event loop.

One loop per scenario matters: the HTTP gateway's client belongs to the loop that made it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.adapters.factory import build_gateway
from cockpit.clock import Clock
from cockpit.config import Plan, dump_plan, parse_plan
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.seed import seed_plan
from cockpit.store.journal import Journal
from tests.support import passing_runner

CAPTAIN = Actor(user="alice", host="bastion", role="captain")


def plan_data(gateway: dict[str, Any], **kill_switch: Any) -> dict[str, Any]:
    """The seed plan as data, its one gateway replaced, kill switch fields overridden."""
    data = dump_plan(seed_plan())
    data["gateways"] = {"edge": gateway}
    data["kill_switch"].update(kill_switch)
    return data


def plan_for(gateway: dict[str, Any], **kill_switch: Any) -> Plan:
    return parse_plan(plan_data(gateway, **kill_switch))


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


def engine_on(plan: Plan, state_dir: Path, clock: Clock, *, metrics=None, actor: Actor = CAPTAIN) -> Engine:
    """A captain engine with the real gateway the plan names, built by the factory."""
    engine = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=build_gateway(plan),
                    check_runner=passing_runner(), metrics=metrics)
    engine.ensure_plan()
    return engine


async def go_live(engine: Engine) -> None:
    """Preflight, every sign-off, start: the canary at the first phase's weight."""
    assert (await engine.run_preflight()).ok
    for role in engine.plan.sign_offs:
        assert engine.sign_off(role, f"{role}-person").ok
    out = await engine.start()
    assert out.ok, out.reasons


def satisfy_gate(engine: Engine, clock) -> None:
    """The soak elapsed, every criterion met, every owner said GO (on a ManualClock)."""
    spec = engine.plan.phases[engine.state.phase]
    if hasattr(clock, "advance"):
        clock.advance(spec.soak + timedelta(seconds=1))
    for c in spec.gate.auto:
        engine.observe_criterion(c.id, True, 0.0, f"{c.name}: ok")
    for role in spec.gate.owners:
        assert engine.decide(role, "GO", f"{role}-person").ok


async def advance(engine: Engine, clock) -> None:
    satisfy_gate(engine, clock)
    out = await engine.advance()
    assert out.ok, out.reasons
