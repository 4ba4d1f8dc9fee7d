"""Secrets planted everywhere a value can be journaled or printed never come out, not even in part.

A gateway token, a Prometheus token and URL credentials are echoed back by real loopback servers
(flag API error bodies of every length, Prometheus errors) and printed by real preflight commands;
then the journal, stdout, stderr and the logs are searched for every piece of eight characters or
more of each secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.adapters import checks
from cockpit.adapters.factory import build_gateway
from cockpit.adapters.gateway import GatewayError
from cockpit.adapters.gateway_http import HTTPFlagGateway
from cockpit.adapters.prometheus import build_metrics
from cockpit.clock import SystemClock
from cockpit.config import HttpCheck, parse_plan
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from tests.conftest import ROOT
from tests.integration.flag_server import FlagServer
from tests.integration.prom import fixed_answer_server
from tests.integration.rollout import CAPTAIN, go_live, plan_data, write_config
from tests.support import passing_runner

pytestmark = pytest.mark.integration

TOKEN = "tk-Qz7Wm3Xv9Lp2Rb8Nc4Hd6Jf1"  # the gateway's, from COCKPIT_GATEWAY_TOKEN
PROM_TOKEN = "pt-Hy4Dm8Ls2Fk6Wx9Qa1Ze5"  # Prometheus', from COCKPIT_PROMETHEUS_TOKEN
URL_PASSWORD = "pw-Gx5Kt8Ys2Ue4Mi7Oa3"
URL_KEY = "ak-Vn6Bq1Zr9Cw3Ej5Tu8"
SECRETS = (TOKEN, PROM_TOKEN, URL_PASSWORD, URL_KEY)
VERSION = "v0.1.0"


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[i:j] for i in range(len(secret)) for j in range(i + size, len(secret) + 1)}


def assert_no_leak(text: str, where: str, secrets=SECRETS) -> None:
    for secret in secrets:
        found = sorted((p for p in pieces(secret) if p in text), key=len, reverse=True)
        assert not found, f"{where}: {found[0]!r} of a secret is in {text[max(0, text.find(found[0]) - 60):][:160]!r}"


def echo(n: int, *, at_end: bool) -> bytes:
    """An error body of exactly n characters that echoes the request's credentials: at its end
    (so a cut at 200 falls inside the token for some n) or from its start (a server that cut it)."""
    said = f"denied: Authorization: Bearer {TOKEN} for http://ops:{URL_PASSWORD}@gw/flags?api_key={URL_KEY}"
    text = ("." * n + said)[-n:] if at_end else (said + "." * n)[:n]
    return text.encode()


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", TOKEN)
    monkeypatch.setenv("COCKPIT_PROMETHEUS_TOKEN", PROM_TOKEN)


@pytest.fixture
def flags():
    server = FlagServer()
    yield server
    server.close()


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and urllib3 log every request at DEBUG/INFO
    return caplog


def test_gateway_error_bodies_of_every_length_never_carry_a_secret(flags, logs):
    """The adapter, given credentials in its URL and a token, against bodies of 1..450 characters."""
    url = f"http://ops:{URL_PASSWORD}@127.0.0.1:{flags.server_port}/flags?api_key={URL_KEY}"
    shown: list[str] = []

    async def sweep():
        gateway = HTTPFlagGateway(url, token=TOKEN, timeout_s=2.0)
        shown.append(repr(gateway) + gateway.name)
        for n in range(1, 451):
            for at_end in (True, False):
                flags.raw_answer = echo(n, at_end=at_end)
                flags.status = 500
                with pytest.raises(GatewayError) as failed:
                    await gateway.set_enabled(False)
                shown.append(str(failed.value))
                flags.status = 200  # a read-back that is not JSON echoes its body too
                with pytest.raises(GatewayError) as failed:
                    await gateway.read()
                shown.append(str(failed.value))
        await gateway.close()

    asyncio.run(sweep())
    assert len(shown) == 1 + 450 * 2 * 2
    assert any("HTTP 500" in s and "Bearer <redacted>" in s for s in shown)
    for text in shown:
        assert_no_leak(text, "gateway error")
    assert_no_leak(logs.text, "logs")


def seed_with(tmp_path: Path, flags: FlagServer, prom_url: str, **overrides) -> dict:
    """The seed plan on the loopback flag API with both tokens by reference."""
    data = plan_data({"type": "http", "url": f"{flags.url}/flags", "timeout": "1s",
                      "token": {"env": "COCKPIT_GATEWAY_TOKEN"}}, retries=0)
    data["state_dir"] = str(tmp_path / "state")
    data["preflight"] = [c for c in data["preflight"] if c["type"] != "freeze_window"]
    data["prometheus"] = {"url": prom_url, "timeout": "2s", "token": {"env": "COCKPIT_PROMETHEUS_TOKEN"}}
    data.update(overrides)
    return data


@pytest.mark.parametrize("n", [1, 8, 100, 192, 199, 200, 201, 210, 226, 300, 450])
def test_a_failed_kill_journals_no_piece_of_the_token(n, tmp_path, flags, env, logs):
    """Through the engine: the echoed body reaches the journal as the kill's error, scrubbed of
    every secret the plan gives the cockpit. (The body's URL credentials were never given to it:
    8 bare characters of one cannot be known for a secret, unless another test in the same
    process happened to give it that URL first.)"""
    plan = parse_plan(seed_with(tmp_path, flags, "http://127.0.0.1:9"))
    engine = Engine(plan, Journal(tmp_path / "state"), clock=SystemClock(), actor=CAPTAIN,
                    gateway=build_gateway(plan), check_runner=passing_runner())
    engine.ensure_plan()

    async def live_then_kill():
        await go_live(engine)
        flags.status, flags.raw_answer = 500, echo(n, at_end=n % 2 == 0)
        out = await engine.kill("spike")
        await engine.gateway.close()
        return out

    out = asyncio.run(live_then_kill())
    assert not out.ok
    journal = (tmp_path / "state" / "journal.jsonl").read_text()
    assert '"kind":"kill_result"' in journal.replace(" ", "") and "HTTP 500" in journal
    given = (TOKEN, PROM_TOKEN)
    assert_no_leak(journal, "journal", given)
    assert_no_leak(" ".join(out.reasons), "kill outcome", given)
    assert_no_leak(logs.text, "logs", given)


def test_cockpit_kill_prints_and_journals_no_piece_of_the_token(tmp_path, flags, env):
    """A real `cockpit kill` in a second process, against a flag API that echoes the header in a 500."""
    config = write_config(tmp_path / "plan.toml", seed_with(tmp_path, flags, "http://127.0.0.1:9"))
    plan = parse_plan(seed_with(tmp_path, flags, "http://127.0.0.1:9"))
    engine = Engine(plan, Journal(tmp_path / "state"), clock=SystemClock(), actor=CAPTAIN,
                    gateway=build_gateway(plan), check_runner=passing_runner())
    engine.ensure_plan()

    async def live():
        await go_live(engine)
        await engine.gateway.close()

    asyncio.run(live())
    for n in (210, 450):
        flags.status, flags.raw_answer = 500, echo(n, at_end=True)
        res = subprocess.run(
            [sys.executable, "-m", "cockpit", "kill", "--config", str(config), "--reason", "spike",
             "--confirm", VERSION, "--no-wait"],
            capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert res.returncode != 0 and "NOT CONFIRMED" in res.stdout, (res.stdout, res.stderr)
        assert_no_leak(res.stdout, "stdout")
        assert_no_leak(res.stderr, "stderr")
    assert_no_leak((tmp_path / "state" / "journal.jsonl").read_text(), "journal")


def prometheus_error(n: int) -> bytes:
    """A Prometheus 400 whose error message echoes the Authorization header, padded to put the
    token across the 160-character cut of a shown error for some n."""
    return json.dumps({"status": "error", "errorType": "bad_data",
                       "error": "." * n + f" Authorization: Bearer {PROM_TOKEN} (echoed)"}).encode()


def test_prometheus_errors_never_carry_the_token(tmp_path, flags, env, logs):
    """Instant and range queries against servers that echo the token, and through a promql check."""
    shown: list[str] = []
    now = datetime.now(UTC)
    for n in range(0, 200, 7):
        with fixed_answer_server(prometheus_error(n), status=400) as url:
            source = build_metrics(parse_plan(seed_with(tmp_path, flags, url)))
            shown += [source.instant("up", now).error, source.range("up", now, now, 30).error]
            source.close()
    html = f"<html><pre>GET /api/v1/query Authorization: Bearer {PROM_TOKEN}</pre></html>".encode()
    with fixed_answer_server(html, status=502, content_type="text/html") as url:
        source = build_metrics(parse_plan(seed_with(tmp_path, flags, url)))
        shown.append(source.instant("up", now).error)
        source.close()
    assert all(shown) and any("HTTP 400" in s for s in shown)
    for text in shown:
        assert_no_leak(text, "prometheus error")

    with fixed_answer_server(prometheus_error(150), status=400) as url:
        plan = parse_plan(seed_with(tmp_path, flags, url))
        metrics = build_metrics(plan)
        runner = checks.runner(clock=SystemClock(), base_dir=tmp_path, metrics=metrics)
        engine = Engine(plan, Journal(tmp_path / "state"), clock=SystemClock(), actor=CAPTAIN,
                        gateway=build_gateway(plan), check_runner=runner, metrics=metrics)
        engine.ensure_plan()
        asyncio.run(engine.run_preflight("staging_success"))
        metrics.close()
    journal = (tmp_path / "state" / "journal.jsonl").read_text()
    assert "staging_success" in journal
    assert_no_leak(journal, "journal")
    assert_no_leak(logs.text, "logs")


def test_preflight_output_and_reports_journal_no_piece_of_a_secret(tmp_path, flags, env, logs, monkeypatch):
    """Real commands print the tokens (one cut by the 2000-character tail right inside the token)
    and a URL with credentials from their environment, a report holds a token; the captain's
    engine runs them and journals outcome and evidence. (The plan itself holds no secret: it is
    journaled as it is.)"""
    monkeypatch.setenv("REGISTRY_PASSWORD", URL_PASSWORD)
    monkeypatch.setenv("REGISTRY_KEY", URL_KEY)
    pad = "z" * (checks.TAIL - 12)
    report = tmp_path / "reports" / "trivy-intelgraph-v0.1.0.json"
    report.parent.mkdir()
    report.write_text(json.dumps({"summary": {"critical": f"Bearer {TOKEN}"}}))
    preflight = [
        {"id": "image_provenance", "name": "Tail cut inside the token", "type": "command",
         "argv": ["sh", "-c", 'printf "%s" "$COCKPIT_GATEWAY_TOKEN"; printf "%s" "$0"; exit 3', pad]},
        {"id": "last_line", "name": "Token on the last line", "type": "command",
         "argv": ["sh", "-c", 'echo "curl -H \'Authorization: Bearer $COCKPIT_PROMETHEUS_TOKEN\' "'
                              '"http://ops:$REGISTRY_PASSWORD@registry/v2/?api_key=$REGISTRY_KEY"; '
                              'echo "token $COCKPIT_GATEWAY_TOKEN"']},
        {"id": "echo_env", "name": "Prints its environment", "type": "command", "argv": ["env"]},
        {"id": "cve_status", "name": "CVE Status", "type": "report", "file": str(report),
         "expect": {"path": "summary.critical", "comparison": "==", "value": 0}},
    ]
    plan = parse_plan(seed_with(tmp_path, flags, "http://127.0.0.1:9", preflight=preflight))
    metrics = build_metrics(plan)  # the captain resolves both tokens at start, as `cockpit run` does
    engine = Engine(plan, Journal(tmp_path / "state"), clock=SystemClock(), actor=CAPTAIN,
                    gateway=build_gateway(plan), metrics=metrics,
                    check_runner=checks.runner(clock=SystemClock(), base_dir=tmp_path, metrics=metrics))
    engine.ensure_plan()
    out = asyncio.run(engine.run_preflight())
    metrics.close()
    journal = (tmp_path / "state" / "journal.jsonl").read_text()
    for check in ("image_provenance", "last_line", "echo_env", "cve_status"):
        assert check in journal
    assert "<redacted>" in journal
    assert_no_leak(journal, "journal")
    assert_no_leak(" ".join(out.reasons), "preflight outcome")
    assert_no_leak(logs.text, "logs")


@pytest.fixture
def health():
    seen: list[dict] = []
    with fixed_answer_server(b'{"sealed": false}', seen=seen) as url:
        yield url, seen


def test_an_http_check_with_credentials_in_its_url_shows_none(health, tmp_path, logs):
    """check-config refuses such a URL; the runner still never journals one (evidence, errors)."""
    url, seen = health
    base = url.replace("http://", f"http://ops:{URL_PASSWORD}@")
    run = checks.runner(clock=SystemClock(), base_dir=tmp_path)
    outcomes = []
    for target in (f"{base}/v1/sys/health?api_key={URL_KEY}&format=json",
                   f"http://ops:{URL_PASSWORD}@127.0.0.1:9/health?api_key={URL_KEY}"):  # refused: an error
        check = HttpCheck.model_construct(id="vault", name="Vault", type="http", url=target, expect_status=200,
                                          expect_json=None, timeout=timedelta(seconds=2), token=None)
        outcomes.append(asyncio.run(run(check)))
    assert outcomes[0].status == "pass" and seen  # the credentials were still sent
    assert outcomes[0].evidence["url"].endswith("/v1/sys/health?api_key=<redacted>&format=json")
    assert outcomes[1].status == "error"
    for o in outcomes:
        assert_no_leak(o.detail + json.dumps(o.evidence), "http check")
    assert_no_leak(logs.text, "logs")
