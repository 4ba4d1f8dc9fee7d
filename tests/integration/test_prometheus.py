"""Triggers against a real Prometheus fed by backfill: when each fires, and how failures read.

One Prometheus serves every scenario (one set of series per scenario label).
Evaluation times are explicit, relative to T, the moment each scenario goes bad.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from cockpit.adapters.prometheus import PrometheusSource
from cockpit.core.compare import Comparison
from tests.integration.prom import (
    PromServer,
    Series,
    Trigger,
    evaluate,
    fixed_answer_server,
    free_port,
    silent_server,
)

pytestmark = pytest.mark.integration

T = datetime(2024, 5, 14, 12, 0, tzinfo=UTC).timestamp()  # fixed: the data is deterministic
MIN = 60.0
SCRAPE = 15.0


def gauge(name, labels, value_at, *, start=T - 40 * MIN, end=T + 40 * MIN, counter=False):
    points = [(start + i * SCRAPE, value_at(start + i * SCRAPE)) for i in range(int((end - start) / SCRAPE) + 1)]
    return Series(name, labels, points, counter=counter)


def from_t(before, after):
    return lambda ts: after if ts >= T else before


SERIES = [
    gauge("canary_error_ratio", {"scenario": "healthy"}, lambda ts: 0.004),
    gauge("canary_error_ratio", {"scenario": "spike"}, from_t(0.004, 0.024)),
    gauge("api_p95_seconds", {"track": "staging"}, lambda ts: 0.240),
    gauge("api_p95_seconds", {"track": "canary", "scenario": "healthy"}, lambda ts: 0.246),
    gauge("api_p95_seconds", {"track": "canary", "scenario": "plus25"}, from_t(0.240, 0.300)),
    gauge("api_p95_seconds", {"track": "canary", "scenario": "plus15"}, from_t(0.240, 0.276)),
    gauge("path3_p95_ms", {"scenario": "healthy"}, lambda ts: 810.0),
    gauge("path3_p95_ms", {"scenario": "slow"}, from_t(810.0, 1300.0)),
    gauge("cross_tenant_access_total", {"scenario": "healthy"}, lambda ts: 0.0, counter=True),
    gauge("cross_tenant_access_total", {"scenario": "breach"}, from_t(0.0, 1.0), counter=True),
    gauge("young_p95_ms", {}, lambda ts: 1500.0, start=T - 3 * MIN),  # born three minutes before T
    gauge("gone_ratio", {}, lambda ts: 0.5, end=T - 20 * MIN),  # stopped reporting 20 minutes before T
]


def error_rate(scenario):
    return Trigger(f'canary_error_ratio{{scenario="{scenario}"}}', Comparison.GE, 0.02, 5 * MIN)


def api_p95(scenario):
    return Trigger(
        f'api_p95_seconds{{track="canary",scenario="{scenario}"}}', Comparison.GT, 0.0, 10 * MIN,
        baseline_query='api_p95_seconds{track="staging"}', pct=20,
    )


def path_p95(scenario):
    return Trigger(f'path3_p95_ms{{scenario="{scenario}"}}', Comparison.GT, 1200, 10 * MIN)


def cross_tenant(scenario):
    return Trigger(f'sum(increase(cross_tenant_access_total{{scenario="{scenario}"}}[5m]))', Comparison.GT, 0, 0)


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    with PromServer(tmp_path_factory.mktemp("prom"), SERIES) as server:
        yield server


@pytest.fixture(scope="module")
def source(prom):
    src = PrometheusSource(prom.url, timeout_s=5.0)
    yield src
    src.close()


def state_at(source, trigger, minutes_after_t):
    verdict, error = evaluate(source, trigger, T + minutes_after_t * MIN)
    assert error is None, error
    return verdict


def test_healthy_canary_fires_nothing(source):
    healthy = [error_rate("healthy"), api_p95("healthy"), path_p95("healthy"), cross_tenant("healthy")]
    for minutes in (-20, 0, 5, 10, 20, 30):
        for trigger in healthy:
            verdict = state_at(source, trigger, minutes)
            assert verdict.state == "ok", (trigger.query, minutes, verdict.why)
            assert verdict.coverage == 1.0


def test_error_rate_from_t_fires_at_t_plus_5m_not_4m(source):
    trigger = error_rate("spike")
    before, at_4m, at_4m30, at_5m = (state_at(source, trigger, m) for m in (-1, 4, 4.5, 5))
    assert before.state == "ok"
    assert at_4m.state == "breaching" and at_4m.breaching_for_s == 4 * MIN
    assert at_4m30.state == "breaching"
    assert at_5m.fired and at_5m.breaching_for_s == 5 * MIN and at_5m.value == pytest.approx(0.024)


def test_p95_25_percent_over_staging_fires_after_10m(source):
    trigger = api_p95("plus25")
    at_9m30, at_10m = state_at(source, trigger, 9.5), state_at(source, trigger, 10)
    assert at_9m30.state == "breaching" and at_9m30.breaching_for_s == 9.5 * MIN
    assert at_10m.fired
    assert at_10m.threshold == pytest.approx(0.288)  # staging 240 ms + 20 %


def test_p95_15_percent_over_staging_never_fires(source):
    trigger = api_p95("plus15")
    for minutes in (5, 10, 20, 30):
        assert state_at(source, trigger, minutes).state == "ok"


def test_three_hop_path_p95_over_1200ms_fires_after_10m(source):
    trigger = path_p95("slow")
    assert state_at(source, trigger, 9).state == "breaching"
    assert state_at(source, trigger, 10).fired


def test_cross_tenant_access_once_fires_at_once(source):
    trigger = cross_tenant("breach")
    assert state_at(source, trigger, -0.5).state == "ok"
    at_t = state_at(source, trigger, 0)
    assert at_t.fired and at_t.needed_s == 0
    assert state_at(source, trigger, 4).fired  # still inside increase()'s 5m lookback


def test_three_minute_old_series_is_not_ten_minutes_sustained(source):
    for policy in ("hold", "ignore"):
        trigger = Trigger("young_p95_ms", Comparison.GT, 1200, 10 * MIN, no_data=policy)
        young = state_at(source, trigger, 0)
        assert not young.fired and young.breaching_for_s == 3 * MIN
        assert young.coverage == pytest.approx(7 / 21)
        assert not state_at(source, trigger, 6.5).fired  # 9.5 minutes old, though 95 % covered
        assert state_at(source, trigger, 7).fired  # ten minutes old: now it is sustained


@pytest.mark.parametrize(
    "policy,state", [("hold", "no_data_hold"), ("ignore", "no_data_ignored"), ("breach", "fired")]
)
def test_no_data_under_each_policy(source, policy, state):
    for query in ("gone_ratio", 'canary_error_ratio{scenario="does-not-exist"}'):
        verdict = state_at(source, Trigger(query, Comparison.GE, 0.02, 5 * MIN, no_data=policy), 0)
        assert verdict.state == state and verdict.coverage == 0.0


def test_instant_shapes_and_multi_series(source):
    at = datetime.fromtimestamp(T, UTC)
    assert source.instant('scalar(api_p95_seconds{track="staging"})', at).value == pytest.approx(0.24)
    assert source.instant('api_p95_seconds{track="staging"}', at).value == pytest.approx(0.24)
    assert source.instant("absent_metric_xyz", at).status == "no_data"
    many = source.instant("canary_error_ratio", at)
    assert many.status == "error"
    assert many.error == f"prometheus at {source.endpoint}: query returned 2 series; aggregate it to one (sum/max)"
    # NaN is an answer about the canary (a ratio over zero traffic), not a failed Prometheus.
    nan = source.instant("0/0", at)
    assert (nan.status, nan.error, nan.note) == ("no_data", None, "answered only NaN: a ratio over zero traffic?")


def test_a_ratio_over_zero_traffic_is_no_data_not_a_failed_source(source):
    start = datetime.fromtimestamp(T - 300, UTC)
    nan = source.range("0/0", start, datetime.fromtimestamp(T, UTC), 30)
    assert (nan.status, nan.error, nan.samples) == ("no_data", None, ())
    assert nan.note == "answered only NaN: a ratio over zero traffic?"
    assert source.range("absent_metric_xyz", start, datetime.fromtimestamp(T, UTC), 30).note == ""


def test_bad_promql_names_endpoint_and_parse_error(source):
    result = source.instant("rate(", datetime.fromtimestamp(T, UTC))
    assert result.status == "error"
    assert result.error.startswith(f"prometheus at {source.endpoint}: HTTP 400:")
    assert "parse error" in result.error


# --- faults: each is an error QueryResult naming the endpoint, quickly, never an exception ----------

NOW = datetime.fromtimestamp(T, UTC)


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_prometheus_not_started():
    url = f"http://127.0.0.1:{free_port()}"
    src = PrometheusSource(url, timeout_s=2.0)
    result, took = timed(lambda: src.range("up", NOW, NOW, 30))
    assert result.status == "error"
    assert result.error == f"prometheus at {url}: connection refused (is Prometheus running?)"
    assert took < 1.0


def test_prometheus_killed_mid_run(tmp_path):
    with PromServer(tmp_path) as server:
        src = PrometheusSource(server.url, timeout_s=2.0)
        assert src.instant("vector(1)", NOW).value == 1.0
        server.kill()
        result, took = timed(lambda: src.instant("vector(1)", NOW))
    assert result.status == "error" and result.error.startswith(f"prometheus at {server.url}: ")
    assert "refused" in result.error or "connection" in result.error
    assert took < 1.0


def test_prometheus_slower_than_the_timeout():
    with silent_server() as url:
        src = PrometheusSource(url, timeout_s=0.3)
        result, took = timed(lambda: src.instant("up", NOW))
    assert result.status == "error"
    assert result.error == f"prometheus at {url}: no answer within 300ms (timed out)"
    assert 0.25 < took < 1.5


@pytest.mark.parametrize(
    "body,content_type,status,expected",
    [
        (b"<html>login</html>", "text/html", 200, "not JSON"),
        (b'{"status":"success","data":{"resultType":"vector","result":"nope"}}', "application/json", 200,
         "unexpected result"),
        (b'{"status":"success"}', "application/json", 200, "unexpected answer (KeyError"),
        (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"],"values":[[1,"x"]]}]}}',
         "application/json", 200, "is not a number"),
        (b"upstream unavailable", "text/plain", 503, "HTTP 503: upstream unavailable"),
    ],
    ids=["html", "wrong-result-type", "no-data-key", "non-numeric", "503"],
)
def test_garbage_answers(body, content_type, status, expected):
    with fixed_answer_server(body, status=status, content_type=content_type) as url:
        src = PrometheusSource(url, timeout_s=2.0)
        for result, took in (timed(lambda: src.instant("up", NOW)), timed(lambda: src.range("up", NOW, NOW, 30))):
            assert result.status == "error"
            assert result.error.startswith(f"prometheus at {url}: ") and expected in result.error
            assert took < 1.0


def test_auth_headers_are_sent_but_never_shown():
    seen: list[dict] = []
    with fixed_answer_server(b'{"status":"error","error":"bad token"}', status=401, seen=seen) as url:
        src = PrometheusSource(url, headers={"Authorization": "Bearer s3cr3t"})
        result = src.instant("up", NOW)
    assert seen and seen[0].get("Authorization") == "Bearer s3cr3t"
    assert result.error == f"prometheus at {url}: HTTP 401: bad token"
    assert "s3cr3t" not in repr(src)


def test_credentials_in_the_url_are_not_shown():
    port = free_port()
    src = PrometheusSource(f"http://ops:pw-in-url@127.0.0.1:{port}/prom/?x=1&api_key=key-in-url", timeout_s=2.0)
    result = src.instant("up", NOW)
    assert result.error.startswith(f"prometheus at http://127.0.0.1:{port}/prom/?x=1&api_key=<redacted>: ")
    for secret in ("pw-in-url", "key-in-url", "ops:"):
        assert secret not in result.error and secret not in repr(src)


def test_importing_the_adapter_does_not_load_the_http_client():
    """Start-up time of the TUI: requests and prometheus_api_client load on the first query only."""
    import subprocess
    import sys

    code = (
        "import sys, cockpit.adapters.prometheus, cockpit.adapters.simulator;"
        "print(sorted(m for m in ('requests', 'prometheus_api_client', 'urllib3') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
