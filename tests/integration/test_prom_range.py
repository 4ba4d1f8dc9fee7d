"""History range queries against a real Prometheus: chunked under its points limit, retried, gaps kept as gaps."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest

from cockpit.adapters.prom_range import MAX_POINTS, HistoryError, chunks, fetch_history
from cockpit.adapters.prometheus import PrometheusSource
from tests.integration.prom import PromServer, Series, _serve, fixed_answer_server

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 0, 0, tzinfo=UTC).timestamp()
STEP = 15.0
N = 12_500  # more points than one range query may return (11,000)
HOLE = (T0 + 3000 * STEP, T0 + 3400 * STEP)  # 100 minutes without a sample


def value(i: int) -> float:
    return float(i % 997) + 0.25


def points():
    return [(T0 + i * STEP, value(i)) for i in range(N) if not HOLE[0] <= T0 + i * STEP < HOLE[1]]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    server = PromServer(tmp_path_factory.mktemp("prom-range"), [Series("long_series", {}, points())])
    with server:
        yield server


def test_chunks_cover_the_grid_once_and_stay_under_the_limit():
    cut = chunks(0.0, 30.0 * 24999, 30.0)
    assert [round((b - a) / 30.0) + 1 for a, b in cut] == [10_000, 10_000, 5_000]  # 25,000 points
    assert all(nxt[0] - prev[1] == 30.0 for prev, nxt in zip(cut, cut[1:], strict=False))  # no point twice, none skipped
    assert cut[0][0] == 0.0 and cut[-1][1] == 30.0 * 24999
    assert chunks(0.0, 0.0, 15.0) == [(0.0, 0.0)]
    assert chunks(0.0, 100.0, 15.0, points=3) == [(0.0, 30.0), (45.0, 75.0), (90.0, 90.0)]


def test_one_range_query_of_the_whole_span_is_refused_by_prometheus(prom):
    """Why chunks: the same span in one query is over Prometheus' limit."""
    source = PrometheusSource(prom.url, timeout_s=10)
    whole = source.range("long_series", _dt(T0), _dt(T0 + (N - 1) * STEP), STEP)
    assert whole.status == "error" and "11,000" in whole.error and prom.url.split("//")[1] in whole.error


def test_a_span_of_several_chunks_returns_every_sample_as_stored(prom):
    source = PrometheusSource(prom.url, timeout_s=10)
    got = fetch_history(source, "long_series", T0, T0 + (N - 1) * STEP, STEP)
    assert got.chunks == 2 and got.expected == N
    stored = dict(points())
    seen = {s.ts: s.value for s in got.samples}
    # Every stored sample comes back with its own value (no interpolation, none twice) ...
    assert all(seen[ts] == v for ts, v in stored.items())
    assert len(got.samples) == len(seen)
    # ... and in the hole only Prometheus' 5-minute lookback answers, with the last value seen before it.
    in_hole = sorted(ts for ts in seen if HOLE[0] <= ts < HOLE[1])
    assert in_hole and max(in_hole) <= HOLE[0] - STEP + 300
    assert {seen[ts] for ts in in_hole} == {stored[HOLE[0] - STEP]}
    assert not [ts for ts in seen if HOLE[0] + 300 <= ts < HOLE[1]]  # a gap stays a gap


def test_small_chunks_give_the_same_samples_and_hash(prom):
    source = PrometheusSource(prom.url, timeout_s=10)
    end = T0 + 2000 * STEP
    whole = fetch_history(source, "long_series", T0, end, STEP)
    small = fetch_history(source, "long_series", T0, end, STEP, points=137)
    assert small.chunks == 15 and whole.chunks == 1
    assert small.samples == whole.samples and small.digest() == whole.digest()


def test_a_chunk_that_fails_once_is_asked_again(prom):
    asked: list[str] = []
    with _failing_proxy(prom.url, fail_every=2, asked=asked) as url:  # every other request answers 503
        got = fetch_history(PrometheusSource(url, timeout_s=10), "long_series", T0, T0 + 2000 * STEP, STEP,
                            points=500, sleep=lambda s: None)
    direct = fetch_history(PrometheusSource(prom.url, timeout_s=10), "long_series", T0, T0 + 2000 * STEP, STEP)
    assert got.samples == direct.samples
    assert got.chunks == 5 and got.retried >= 2 and len(asked) == got.chunks + got.retried


def test_a_chunk_that_keeps_failing_names_the_endpoint_the_query_and_the_span():
    seen: list = []
    waits: list[float] = []
    with fixed_answer_server(b'{"status":"error","error":"overloaded"}', status=503, seen=seen) as url:
        with pytest.raises(HistoryError) as e:
            fetch_history(PrometheusSource(url, timeout_s=2), "up", T0, T0 + 3600, STEP, retries=2,
                          sleep=waits.append)
    said = str(e.value)
    assert url.split("//")[1] in said and "HTTP 503" in said and "overloaded" in said
    assert "'up'" in said and "2024-05-06T00:00:00Z" in said and "3 tries" in said
    assert len(seen) == 3 and waits == [0.5, 1.0]  # bounded: one try and two retries, backing off


def test_a_query_prometheus_refuses_is_not_asked_again(prom):
    with pytest.raises(HistoryError) as e:
        fetch_history(PrometheusSource(prom.url, timeout_s=5), "sum(rate(x[5m]", T0, T0 + 600, STEP,
                      sleep=lambda s: pytest.fail("retried a 400"))
    assert "HTTP 400" in str(e.value) and "1 try" in str(e.value)


def test_a_chunk_over_the_limit_is_refused_before_asking():
    with pytest.raises(ValueError, match="11000"):
        fetch_history(None, "up", T0, T0 + 3600, STEP, points=MAX_POINTS + 1)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _failing_proxy(upstream: str, *, fail_every: int, asked: list):
    """Forwards GETs to `upstream`; every `fail_every`-th request (the first included) answers 503."""

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            asked.append(self.path)
            if len(asked) % fail_every == 1:
                body, status = b'{"status":"error","error":"try again"}', 503
            else:
                with urllib.request.urlopen(upstream + self.path, timeout=10) as answer:
                    body, status = answer.read(), 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return _serve(Handler)
