"""HAProxyGateway against a real haproxy on loopback: the split follows the weights, the kill holds."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time

import pytest

from cockpit.adapters.gateway import GatewayError
from cockpit.adapters.gateway_haproxy import HAProxyGateway
from tests.integration.haproxy import BACKEND

pytestmark = pytest.mark.integration

REQUESTS = 200




def gateway(socket_path: str, **kwargs) -> HAProxyGateway:
    kwargs.setdefault("canary_server", "canary")
    return HAProxyGateway(socket_path, backend=BACKEND, stable_server="stable", timeout_s=1.0, **kwargs)


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("via", ["unix", "tcp"])
def test_split_follows_each_phase_weight(haproxy, via):
    g = gateway(haproxy.socket if via == "unix" else haproxy.tcp_socket)
    for weight in (5, 25, 50, 100):
        run(g.set_weight(weight))
        before = haproxy.canary.hits
        seen = haproxy.route(REQUESTS)
        expected = REQUESTS * weight // 100  # 5 % of 200 is 10
        assert abs(seen["canary"] - expected) <= 2, (weight, seen)
        assert seen["canary"] + seen["stable"] == REQUESTS, seen  # no 503 in between
        assert haproxy.canary.hits - before == seen["canary"]  # the canary itself saw them
        state = run(g.read())
        assert (state.weight, state.enabled) == (weight, True), state


def test_raising_canary_after_stable_only_traffic_keeps_the_split(haproxy):
    """After ~1000 stable-only requests, lowering stable before raising the canary from 0 sent
    all 200 requests to the canary on haproxy 2.6 (roundrobin positions); raising first does not."""
    g = gateway(haproxy.socket)
    run(g.set_weight(0))
    assert haproxy.route(1000)["canary"] == 0
    run(g.set_weight(50))
    assert abs(haproxy.route(REQUESTS)["canary"] - 100) <= 2


@pytest.mark.parametrize("maint_on_kill", [False, True])
def test_kill_sends_nothing_to_the_canary(haproxy, maint_on_kill):
    g = gateway(haproxy.socket, maint_on_kill=maint_on_kill)
    run(g.set_weight(50))
    assert abs(haproxy.route(20)["canary"] - 10) <= 2  # the canary was taking traffic
    run(g.set_enabled(False))
    before = haproxy.canary.hits
    seen = haproxy.route(REQUESTS)
    assert seen == {"stable": REQUESTS}
    assert haproxy.canary.hits == before
    state = run(g.read())
    assert (state.weight, state.enabled) == (0, False)
    assert ("maint" in state.detail) is maint_on_kill, state.detail


def test_kill_at_full_canary_keeps_serving_from_stable(haproxy):
    g = gateway(haproxy.socket)
    run(g.set_weight(100))
    run(g.set_enabled(False))
    assert haproxy.route(REQUESTS) == {"stable": REQUESTS}


def test_kill_twice_is_harmless(haproxy):
    g = gateway(haproxy.socket, maint_on_kill=True)
    run(g.set_weight(25))
    run(g.set_enabled(False))
    run(g.set_enabled(False))
    assert run(g.read()).enabled is False
    assert haproxy.route(50) == {"stable": 50}


def test_enable_lifts_maintenance_and_the_weight_comes_back(haproxy):
    g = gateway(haproxy.socket, maint_on_kill=True)
    run(g.set_weight(25))
    run(g.set_enabled(False))
    run(g.set_enabled(True))
    state = run(g.read())
    assert "maint" not in state.detail
    assert (state.weight, state.enabled) == (0, False)  # enabled again only once it has weight
    run(g.set_weight(5))
    assert run(g.read()).enabled is True
    assert abs(haproxy.route(REQUESTS)["canary"] - 10) <= 2


def test_a_fresh_adapter_reads_back_what_was_set(haproxy):
    """As after an engine restart: a new instance, even over the other socket, sees the state."""
    run(gateway(haproxy.socket).set_weight(25))
    state = run(gateway(haproxy.tcp_socket).read())
    assert (state.weight, state.enabled) == (25, True)
    run(gateway(haproxy.socket, maint_on_kill=True).set_enabled(False))
    state = run(gateway(haproxy.tcp_socket).read())
    assert (state.weight, state.enabled) == (0, False)
    assert "canary weight 0 maint" in state.detail


@pytest.mark.parametrize("via", ["unix", "tcp"])
def test_stopped_haproxy_is_a_quick_gateway_error(haproxy, via):
    path = haproxy.socket if via == "unix" else haproxy.tcp_socket
    haproxy.stop()
    g = gateway(path)
    started = time.monotonic()
    with pytest.raises(GatewayError) as caught:
        run(g.set_enabled(False))
    assert time.monotonic() - started < 0.5
    assert path in str(caught.value) and "set weight be_app/stable 100" in str(caught.value)
    with pytest.raises(GatewayError, match="get weight"):
        run(g.read())


def test_missing_socket_names_the_path():
    g = gateway("/tmp/ckgw-absent/admin.sock")
    with pytest.raises(GatewayError, match=r"/tmp/ckgw-absent/admin.sock.*No such file"):
        run(g.read())


def test_a_socket_that_never_answers_times_out():
    """A listener that accepts and stays silent: bounded by timeout_s, not hanging."""
    path = tempfile.mktemp(prefix="ckgw", dir="/tmp")
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(path)
        silent.listen()
        g = HAProxyGateway(path, backend=BACKEND, canary_server="canary", stable_server="stable", timeout_s=0.3)
        started = time.monotonic()
        try:
            with pytest.raises(GatewayError, match=r"no answer within 300ms"):
                run(g.set_enabled(False))
        finally:
            os.unlink(path)
        assert time.monotonic() - started < 1.0


def test_unknown_server_is_refused_loudly(haproxy):
    g = gateway(haproxy.socket, canary_server="canary-typo")
    with pytest.raises(GatewayError, match="No such server"):
        run(g.set_weight(5))
    with pytest.raises(GatewayError, match="No such server"):
        run(g.read())
    assert haproxy.route(20) == {"stable": 20}  # nothing changed


def test_unknown_backend_is_refused_loudly(haproxy):
    g = HAProxyGateway(haproxy.socket, backend="be_typo", canary_server="canary", stable_server="stable")
    with pytest.raises(GatewayError, match="be_typo"):
        run(g.set_enabled(False))


@pytest.mark.parametrize("weight", [-1, 101, 5.0, True])
def test_weight_outside_0_to_100_is_a_caller_error(weight):
    with pytest.raises(ValueError):
        run(gateway("/tmp/unused.sock").set_weight(weight))


@pytest.mark.parametrize(("ci", "outcome"), [(None, pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_missing_haproxy_skips_except_in_ci(monkeypatch, ci, outcome):
    import tests.integration.haproxy as harness

    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    monkeypatch.setattr(harness.os, "access", lambda path, mode: False)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="haproxy not installed"):
        harness.haproxy_or_skip()


@pytest.mark.parametrize("field", ["backend", "canary_server", "stable_server"])
@pytest.mark.parametrize("name", ["canary;disable server be/stable", "be\nshow info", "be/stable", "", "c a"])
def test_names_that_are_not_plain_haproxy_names_are_refused_before_any_command(field, name):
    names = {"backend": "be", "canary_server": "canary", "stable_server": "stable", field: name}
    with pytest.raises(ValueError, match="not a plain HAProxy name"):
        HAProxyGateway("/nonexistent.sock", **names)


@pytest.mark.parametrize("cmd", ["get weight be/canary; disable server be/stable", "show info\nshutdown sessions"])
def test_one_command_at_a_time(cmd):
    gateway = HAProxyGateway("/nonexistent.sock", backend="be", canary_server="canary", stable_server="stable")
    with pytest.raises(ValueError, match="one runtime-API command at a time"):
        asyncio.run(gateway.command(cmd))
