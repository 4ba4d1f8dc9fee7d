"""Property: whatever the captain does, folding is deterministic and replay equals live state."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.clock import ManualClock
from cockpit.core.events import Actor
from cockpit.core.state import fold
from cockpit.engine import Engine
from cockpit.journal import Journal
from tests.conftest import T0
from tests.support import MemoryGateway, passing_runner

ROLES = ["po", "tech_lead", "security", "sre", "finops"]
CHECKS = ["freeze_window", "image_provenance", "cve_status", "data_plane", "secrets", "staging_success"]

command = st.one_of(
    st.tuples(st.just("preflight"), st.sampled_from(CHECKS)),
    st.tuples(st.just("sign_off"), st.sampled_from(ROLES)),
    st.tuples(st.just("waive"), st.sampled_from(CHECKS)),
    st.tuples(st.just("start"), st.none()),
    st.tuples(st.just("advance"), st.none()),
    st.tuples(st.just("decide"), st.tuples(st.sampled_from(ROLES), st.sampled_from(["GO", "NO-GO"]))),
    st.tuples(st.just("criterion"), st.tuples(st.sampled_from(["api_p95", "error_rate", "cost_delta"]), st.booleans())),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=1500)),
    st.tuples(st.just("kill"), st.none()),
    st.tuples(st.just("gateway_down"), st.booleans()),
)


async def _drive(engine: Engine, clock: ManualClock, gateway: MemoryGateway, script) -> None:
    for name, arg in script:
        if name == "preflight":
            await engine.run_preflight(arg)
        elif name == "sign_off":
            engine.sign_off(arg, f"{arg}-person")
        elif name == "waive":
            engine.waive(arg, "accepted risk")
        elif name == "start":
            await engine.start()
        elif name == "advance":
            await engine.advance()
        elif name == "decide":
            engine.decide(arg[0], arg[1], "someone")
        elif name == "criterion":
            engine.observe_criterion(arg[0], arg[1], 0.1, "x")
        elif name == "wait":
            clock.advance(timedelta(seconds=arg))
        elif name == "kill":
            await engine.kill("because")
        elif name == "gateway_down":
            gateway.down = arg


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(command, max_size=40))
def test_replay_equals_live_and_fold_is_deterministic(plan, script):
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(T0)
        gateway = MemoryGateway()
        engine = Engine(
            plan, Journal(Path(tmp)), clock=clock, actor=Actor(user="p", host="h"),
            gateway=gateway, check_runner=passing_runner({"cve_status"}),
        )
        engine.ensure_plan()
        asyncio.run(_drive(engine, clock, gateway, script))
        records = Journal(Path(tmp), readonly=True).records
        assert fold(records) == engine.state
        assert fold(records) == fold(records)
        assert engine.state.seq == len(records)
