"""HTTPFlagGateway against a real HTTP flag server on loopback: token sent, never shown, failures loud."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import traceback

import pytest
from rich.console import Console
from rich.traceback import Traceback

from cockpit.adapters.gateway import GatewayError
from cockpit.adapters.gateway_http import HTTPFlagGateway
from tests.integration.flag_server import FlagServer

pytestmark = pytest.mark.integration

TOKEN = "tok-5f1d9c0e-not-a-real-secret"
URL_PASSWORD, URL_KEY = "pw-77c1", "k-88d2"  # kept away from the assertions, whose source tracebacks show


@pytest.fixture
def flags():
    server = FlagServer()
    yield server
    server.close()


def gateway(server: FlagServer, **kwargs) -> HTTPFlagGateway:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("read_url", f"{server.url}/flags")
    return HTTPFlagGateway(f"{server.url}/flags", timeout_s=0.5, **kwargs)


def run(gw: HTTPFlagGateway, *calls):
    """Run calls on one gateway in one event loop, then close it; returns the last result."""

    async def go():
        try:
            result = None
            for call in calls:
                result = await call(gw)
            return result
        finally:
            await gw.close()

    return asyncio.run(go())


def everything_shown(exc: BaseException) -> str:
    """What an operator or a log could ever see of an error: message, repr, traceback, and
    Textual-style rich traceback with local variables."""
    console = Console(file=io.StringIO(), width=200)
    console.print(Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=True))
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc)), console.file.getvalue()])


def test_kill_sends_the_flag_with_the_token(flags):
    run(gateway(flags), lambda g: g.set_enabled(False))
    sent = flags.requests[-1]
    assert (sent.method, sent.path) == ("PUT", "/flags")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(sent.body) == {"flag": "canary.enable", "value": False}
    assert flags.flags["canary.enable"] is False


def test_custom_method_header_and_body_shape(flags):
    g = gateway(flags, method="post", token_header="X-Api-Key", token_prefix="",
                headers={"X-Team": "release"}, name_key=None)
    run(g, lambda g: g.set_weight(25))
    sent = flags.requests[-1]
    assert sent.method == "POST"
    assert sent.headers["X-Api-Key"] == TOKEN and "Authorization" not in sent.headers
    assert sent.headers["X-Team"] == "release"
    assert json.loads(sent.body) == {"canary.weight": 25}
    assert flags.flags["canary.weight"] == 25


def test_read_back_reports_what_was_set(flags):
    state = run(gateway(flags), lambda g: g.set_weight(5), lambda g: g.set_enabled(False), lambda g: g.read())
    assert (state.weight, state.enabled) == (5, False)
    assert flags.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_read_back_follows_a_nested_path(flags):
    flags.flags.update({"canary.enable": True, "canary.weight": 50})
    g = gateway(flags, read_url=f"{flags.url}/nested", enabled_field="data.canary.enable",
                weight_field="data.canary.weight")
    state = run(g, lambda g: g.read())
    assert (state.weight, state.enabled) == (50, True)


def test_a_fresh_adapter_reads_back_the_state(flags):
    run(gateway(flags), lambda g: g.set_weight(25))
    state = run(gateway(flags), lambda g: g.read())
    assert (state.weight, state.enabled) == (25, True)


def test_calls_share_one_keep_alive_connection(flags):
    run(gateway(flags), lambda g: g.set_weight(5), lambda g: g.set_enabled(True), lambda g: g.read())
    assert len({r.client_port for r in flags.requests}) == 1


def test_read_back_with_a_missing_or_wrong_field_fails(flags):
    flags.flags["canary.enable"] = "maybe"
    with pytest.raises(GatewayError, match=r"canary.enable=\"maybe\".*want true/false"):
        run(gateway(flags), lambda g: g.read())
    g = gateway(flags, enabled_field="flags.kill")
    with pytest.raises(GatewayError, match=r"flags.kill=null"):
        run(g, lambda g: g.read())


def test_a_500_is_a_gateway_error_without_the_token(flags):
    flags.status = 500
    with pytest.raises(GatewayError) as caught:
        run(gateway(flags), lambda g: g.set_enabled(False))
    assert f"PUT {flags.url}/flags: HTTP 500" in str(caught.value)
    assert flags.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent
    assert TOKEN not in everything_shown(caught.value)


def test_a_timeout_is_a_gateway_error_within_the_bound(flags):
    flags.delay_s = 2.0
    started = time.monotonic()
    with pytest.raises(GatewayError, match=r"no answer within 500ms") as caught:
        run(gateway(flags), lambda g: g.set_enabled(False))
    assert time.monotonic() - started < 1.5
    assert flags.url in str(caught.value)
    assert TOKEN not in everything_shown(caught.value)


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_connection_refused_names_the_url(flags, header):
    url = flags.url
    flags.close()
    with pytest.raises(GatewayError, match=rf"PUT {url}/flags: ConnectError") as caught:
        run(gateway(flags, token_header=header), lambda g: g.set_enabled(False))
    assert TOKEN not in everything_shown(caught.value)


def test_bad_json_read_back_is_a_gateway_error(flags):
    flags.raw_answer = b"<html>gateway maintenance</html>"
    with pytest.raises(GatewayError, match=r"GET .*/flags: HTTP 200 but not JSON") as caught:
        run(gateway(flags), lambda g: g.read())
    assert TOKEN not in everything_shown(caught.value)


def test_an_echoed_token_is_scrubbed_from_the_message(flags):
    """A gateway that echoes the request in its error body must not leak the token through us."""
    flags.status = 401
    flags.raw_answer = f'{{"error": "bad credentials: Bearer {TOKEN}"}}'.encode()
    with pytest.raises(GatewayError) as caught:
        run(gateway(flags), lambda g: g.set_enabled(False))
    assert "HTTP 401" in str(caught.value) and "bad credentials: Bearer <redacted>" in str(caught.value)
    assert TOKEN not in everything_shown(caught.value)


def test_secrets_in_the_url_are_not_shown(flags):
    g = HTTPFlagGateway(f"http://user:{URL_PASSWORD}@127.0.0.1:{flags.server_port}/flags?api_key={URL_KEY}",
                        token=TOKEN, timeout_s=0.5)
    flags.status = 503
    with pytest.raises(GatewayError) as caught:
        run(g, lambda g: g.set_enabled(False))
    shown = everything_shown(caught.value) + repr(g) + g.name
    assert f"127.0.0.1:{flags.server_port}/flags" in shown
    for secret in (URL_PASSWORD, URL_KEY, TOKEN):
        assert secret not in shown


def test_the_token_never_reaches_logs(flags, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    run(gateway(flags), lambda g: g.set_weight(5), lambda g: g.read())
    flags.status = 500
    with pytest.raises(GatewayError):
        run(gateway(flags), lambda g: g.set_enabled(False))
    assert caplog.records, "expected httpx/httpcore to log something at DEBUG"
    assert TOKEN not in caplog.text


def test_repr_hides_the_token(flags):
    g = gateway(flags)
    assert TOKEN not in repr(g) and "<redacted>" in repr(g)
    assert TOKEN not in repr(vars(g))


def test_no_weight_flag_means_set_weight_is_refused(flags):
    g = gateway(flags, weight_flag=None, weight_field=None)
    with pytest.raises(GatewayError, match="no weight flag configured"):
        run(g, lambda g: g.set_weight(5))
    state = run(gateway(flags, weight_flag=None, weight_field=None), lambda g: g.read())
    assert (state.weight, state.enabled) == (None, True)
