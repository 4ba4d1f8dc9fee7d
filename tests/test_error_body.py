"""Every adapter that reads a failed answer's body reads a bounded part of it and hangs up: a real
receiver on loopback answers with 400 KB and with 400 MB (generated as it is sent), sends the first
64 KB, and notes whether the client hung up before the rest (a client that reads it all cannot).
What the adapter says is short, scrubbed, and carries no piece of a token the body echoes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cockpit.adapters import error_body
from cockpit.adapters.alertmanager import AlertmanagerClient, AlertmanagerError
from cockpit.adapters.gateway import GatewayError
from cockpit.adapters.gateway_http import HTTPFlagGateway
from cockpit.adapters.notify import ACK_BYTES, Channel
from cockpit.adapters.prometheus import PrometheusSource
from cockpit.config import Alertmanager
from tests.receiver import Answer, Receiver
from tests.test_notify import message, pagerduty, slack, with_channels
from tests.test_redact import TOKEN, pieces_in

SIZES = {"400 KB": 400_000, "400 MB": 400_000_000}


@pytest.fixture(autouse=True)
def _secret_url_known():
    """The guard knows the channel's secret URL (it resolved it); what a test here remembers is
    forgotten after it (the process scrubs every log line with what it knows)."""
    from cockpit import redact

    before = redact._known
    redact.remember(f"http://127.0.0.1:9/{TOKEN}/hook")
    yield
    redact._known = before
HUGE = "Tok3n " + "x9" * 50  # a body that echoes the token, then a long run of letters and digits


def huge(status: int, size: int, **kw) -> Answer:
    return Answer(status, body=HUGE.replace("Tok3n", f"/{TOKEN}/hook"), size=size, **kw)


def assert_bounded(rx: Receiver, size: int) -> None:
    assert rx.seen and all(s.hung_up and s.sent < size for s in rx.seen), [(s.sent, s.hung_up) for s in rx.seen]


@pytest.mark.anyio
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_a_channel_answering_500_with_a_huge_body(size, monkeypatch, plan):
    with Receiver(huge(500, size)) as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/{TOKEN}/hook")
        cfg = with_channels(plan, {"#sre-oncall": slack(retries=1, backoff=0.01)}).channels["#sre-oncall"]
        out = await Channel("#sre-oncall", cfg).send(message())
    assert not out.delivered and out.attempts == 2 and out.tries == ["HTTP 500", "HTTP 500"]
    assert out.error.startswith("HTTP 500: ") and "<redacted>/hook x9x9" in out.error and len(out.error) <= len("HTTP 500: ") + 120
    assert not pieces_in(out.error)
    assert_bounded(rx, size)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 500])
async def test_a_secret_url_echoed_by_the_channel_shows_no_piece_of_its_first_segment(status, monkeypatch, plan, caplog):
    """Issue 20's leak: the token in the URL's first path segment, echoed in a 400 or a 500 body."""
    bodies = ["no route for POST {path}", "." * 100 + " {path}", "." * 113 + "{path}", '{"error":"unknown hook {path}"}']
    with Receiver(*[Answer(status, body=b) for b in bodies]) as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/{TOKEN}/hook")
        cfg = with_channels(plan, {"#sre-oncall": slack(retries=0)}).channels["#sre-oncall"]
        outs = [await Channel("#sre-oncall", cfg).send(message()) for _ in bodies]
    assert all(rx_seen.path == f"/{TOKEN}/hook" for rx_seen in rx.seen)
    for out in outs:
        assert out.error.startswith(f"HTTP {status}") and not pieces_in(out.error + " ".join(out.tries)), out.error
    assert "<redacted>/hook" in outs[0].error
    assert not pieces_in(caplog.text)


@pytest.mark.anyio
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_the_gateway_reads_an_error_body_bounded(size):
    with Receiver(huge(500, size)) as rx:
        gateway = HTTPFlagGateway(f"{rx.url}/flags", token=TOKEN, timeout_s=5)
        with pytest.raises(GatewayError) as failed:
            await gateway.set_enabled(False)
        with pytest.raises(GatewayError) as failed_read:
            await gateway.read()
        await gateway.close()
    for e in (failed.value, failed_read.value):
        assert "HTTP 500" in str(e) and len(str(e)) < 400 and not pieces_in(str(e))
    assert_bounded(rx, size)


@pytest.mark.anyio
async def test_the_gateway_reads_at_most_a_megabyte_of_a_read_back():
    with Receiver(huge(200, 400_000_000, first=4 << 20)) as rx:
        gateway = HTTPFlagGateway(f"{rx.url}/flags", timeout_s=10)
        with pytest.raises(GatewayError, match="longer than 1048576 bytes"):
            await gateway.read()
        await gateway.close()
    assert_bounded(rx, 400_000_000)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_prometheus_reads_an_error_body_bounded(size):
    with Receiver(huge(500, size)) as rx:
        source = PrometheusSource(rx.url, timeout_s=5, headers={"Authorization": f"Bearer {TOKEN}"})
        result = source.instant("up", datetime.now(UTC))
        source.close()
    assert result.status == "error" and "HTTP 500: " in result.error and "<redacted>/hook x9x9" in result.error, result.error
    assert len(result.error) < 300 and not pieces_in(result.error)
    assert_bounded(rx, size)


def test_prometheus_still_says_its_own_error_field():
    with Receiver(Answer(400, body='{"status":"error","errorType":"bad_data","error":"parse error at char 3"}')) as rx:
        source = PrometheusSource(rx.url, timeout_s=5)
        result = source.instant("up{", datetime.now(UTC))
        source.close()
    assert result.error.endswith("HTTP 400: parse error at char 3")


def test_prometheus_says_the_error_field_of_a_body_it_read_only_in_part():
    body = '{"status":"error","errorType":"execution","error":"query processing would load too many samples ' + "y" * 30
    with Receiver(Answer(422, body=body, size=400_000_000)) as rx:
        source = PrometheusSource(rx.url, timeout_s=5)
        result = source.instant("up", datetime.now(UTC))
        source.close()
    assert "HTTP 422: query processing would load too many samples yyy" in result.error
    assert_bounded(rx, 400_000_000)


@pytest.mark.anyio
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_alertmanager_reads_an_error_body_bounded(size):
    with Receiver(huge(503, size)) as rx:
        client = AlertmanagerClient(Alertmanager(url=rx.url))
        with pytest.raises(AlertmanagerError) as failed:
            await client.firing()
    assert "HTTP 503: " in str(failed.value) and "<redacted>/hook x9x9" in str(failed.value) and len(str(failed.value)) < 400
    assert_bounded(rx, size)


@pytest.mark.anyio
@pytest.mark.parametrize("answer, bound", [
    (huge(500, 400_000_000), 1),  # a failed poll: its body is not read at all
    (huge(200, 400_000_000, first=4 << 20), 4 << 20),  # an answer larger than ACK_BYTES: not read past them
])
async def test_pagerduty_acknowledgement_polls_read_bounded(answer, bound, monkeypatch, plan):
    monkeypatch.setenv("TEST_PD_KEY", "R0UT1NGK3Y-pagerduty-0123456789abcdef")
    monkeypatch.setenv("TEST_PD_API", "pd-api-read-token-77777777")
    with Receiver(answer) as api:
        cfg = with_channels(plan, {"pd": pagerduty(api.url, api_token={"env": "TEST_PD_API"}, api_url=api.url)}).channels["pd"]
        assert await Channel("pd", cfg).acknowledged_by("cockpit-intelgraph-v0.1.0-INC-1") is None
    assert api.seen[0].hung_up and api.seen[0].sent <= max(bound, 1 << 16)
    assert ACK_BYTES < 4 << 20


def test_a_body_read_in_part_is_said_in_one_line_and_never_ends_in_a_token_start():
    """A body cut by the read shows at most what a secret starting at the cut cannot reach."""
    for n in (10, 150, 400, 2000):
        read = b"upstream\nsaid:\t" + b"z" * n + b" /" + TOKEN[:5].encode()
        said = error_body.shown(read, 200, more=True)
        assert TOKEN[:3] not in said and said.endswith("\u2026") and "\n" not in said and "\t" not in said
        assert error_body.shown(read, 200).startswith("upstream said: zzz")
    assert error_body.shown("caf\u00e9 ok".encode("latin-1"), 50, encoding="nonsense-charset") == "caf\ufffd ok"
