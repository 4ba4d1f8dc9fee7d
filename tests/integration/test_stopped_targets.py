"""A trigger's data stops when its target's scrape fails (up == 0), while rate(...[5m]) still
answers from old samples: `PrometheusSource.stopped` says so, against a real Prometheus that keeps
the job and instance labels (the lab drops them; tests/integration/test_lab.py covers that case)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cockpit.adapters.prometheus import PrometheusSource
from tests.integration.prom import require_prometheus
from tests.lab import LabPrometheus

pytestmark = pytest.mark.integration

QUERY = 'sum(rate(reqs_total{track="canary"}[1m]))'


class Exporter:
    """One target with one counter; `failing` makes its scrape answer 500."""

    def __init__(self) -> None:
        self.failing, self.count = False, 0.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                exporter.count += 10
                body = b"scrape fails\n" if exporter.failing else f'reqs_total{{track="canary"}} {exporter.count}\n'.encode()
                self.send_response(500 if exporter.failing else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answers(prom: str, query: str) -> list[dict]:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=3) as answer:
        return json.loads(answer.read())["data"]["result"]


def until(what: str, check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:g}s")


def test_a_target_whose_scrape_fails_has_stopped_and_one_that_is_back_has_not(tmp_path):
    require_prometheus()
    exporter = Exporter()
    prom = LabPrometheus(tmp_path / "prom", exporter.target, drop_target_labels=False)
    source = PrometheusSource(prom.url, timeout_s=5)
    try:
        prom.start()

        def status() -> str:
            return source.stopped(QUERY, datetime.now(UTC)).status

        until("two scrapes", lambda: answers(prom.url, QUERY))
        series = answers(prom.url, 'reqs_total{track="canary"}')[0]["metric"]
        assert series["job"] == "intelgraph" and series["instance"] == exporter.target  # labels kept
        assert status() == "no_data"
        exporter.failing = True
        until("the data has stopped", lambda: status() == "ok")
        assert answers(prom.url, "up")[0]["value"][1] == "0"
        assert answers(prom.url, QUERY)  # while the query itself still answers from old samples
        exporter.failing = False
        until("live data again", lambda: status() == "no_data")
    finally:
        source.close()
        prom.stop()
        exporter.close()
