"""The engine against a real HTTP flag API on loopback: the token is sent and never journaled,
logged or printed; a 500 or a stalled API is KILL NOT CONFIRMED, escalated and journaled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cockpit.clock import ManualClock
from cockpit.core.state import fold
from cockpit.store.journal import Journal
from tests.conftest import T0
from tests.integration.flag_server import FlagServer
from tests.integration.rollout import advance, engine_on, go_live, plan_for

pytestmark = pytest.mark.integration

TOKEN = "tok-3b7e91-engine-not-a-real-secret"


@pytest.fixture
def flags():
    server = FlagServer()
    yield server
    server.close()


@pytest.fixture
def engine(flags, tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", TOKEN)
    plan = plan_for({"type": "http", "url": f"{flags.url}/flags", "timeout": 0.3,
                     "token": {"env": "COCKPIT_GATEWAY_TOKEN"}})
    return engine_on(plan, tmp_path / "state", ManualClock(T0))


def run(engine, body):
    """One event loop for the whole scenario (the gateway's client belongs to it), then close."""

    async def go():
        try:
            return await body()
        finally:
            await engine.gateway.close()

    return asyncio.run(go())


def everything_written(engine, capsys, caplog) -> str:
    out = capsys.readouterr()
    return "\n".join([engine.journal.path.read_text(), out.out, out.err, caplog.text])


def test_kill_turns_the_flag_off_and_keeps_the_weight(engine, flags, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG/INFO

    async def body():
        await go_live(engine)
        await advance(engine, engine.clock)
        return await engine.kill("p95 regression")

    out = run(engine, body)
    assert out.ok, out.reasons
    assert flags.flags == {"canary.enable": False, "canary.weight": 25}  # flag off, weight untouched
    result = next(r.payload for r in out.records if r.kind == "kill_result")
    assert (result.observed_enabled, result.observed_weight) == (False, 25)
    assert engine.state.status == "rolled_back" and engine.state.weight == 0  # flag off is 0 %
    assert flags.requests and all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in flags.requests)
    written = everything_written(engine, capsys, caplog)
    assert f"HTTP Request: PUT {flags.url}/flags" in caplog.text  # the logs were captured, and are clean
    assert TOKEN not in written and TOKEN[:12] not in written


@pytest.mark.parametrize("fault", ["http-500", "timeout"])
def test_a_failing_flag_api_is_kill_not_confirmed(engine, flags, capsys, caplog, fault):
    caplog.set_level(logging.DEBUG)

    async def body():
        await go_live(engine)
        if fault == "http-500":
            flags.status = 500
        else:
            flags.delay_s = 1.0  # the gateway's timeout is 0.3 s
        return await engine.kill("error spike")

    out = run(engine, body)
    assert not out.ok
    url = f"PUT {flags.url}/flags"
    expected = f"{url}: HTTP 500" if fault == "http-500" else f"{url}: no answer within 300ms"
    assert out.reasons[0].startswith(f"KILL NOT CONFIRMED: {expected}"), out.reasons
    assert [r.kind for r in out.records] == ["kill_requested", "kill_result", "escalated"]
    result = out.records[1].payload
    assert result.confirmed is False and result.attempts == 4
    assert len([r for r in flags.requests if r.method == "PUT" and b"canary.enable" in r.body]) == 4
    journaled = fold(Journal(engine.journal.state_dir, readonly=True).records)
    assert journaled.status == "kill_unconfirmed" and journaled.escalations[-1][1].level == "Emergency"
    assert TOKEN not in everything_written(engine, capsys, caplog)
