"""Collectors against real loopback servers answering like Grafana and Jaeger, a real k6 summary file, and their failures."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from cockpit.adapters import collectors
from cockpit.adapters.collectors import CollectorError
from cockpit.config import GrafanaEvidence, JaegerEvidence, OpaEvidence
from tests.conftest import T0
from tests.evidence.servers import K6_SUMMARY, OPA_DECISIONS, Backend

START, END = T0, T0 + timedelta(minutes=20)


@pytest.fixture
def backend():
    b = Backend()
    yield b
    b.stop()


def test_grafana_render_api_gives_a_png_for_the_phase(backend):
    cfg = GrafanaEvidence(url=backend.url, dashboard="intelgraph-canary", width=800, height=400)
    png, where = collectors.grafana_png(cfg, START, END)
    assert png.startswith(collectors.PNG_MAGIC)
    path, query, _ = backend.seen[-1]
    assert path == "/render/d/intelgraph-canary"
    assert query["from"] == str(int(START.timestamp() * 1000)) and query["to"] == str(int(END.timestamp() * 1000))
    assert (query["width"], query["height"]) == ("800", "400")


def test_grafana_token_is_sent_by_reference_and_never_said(backend, monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN_T", "glsa_s3cretvalue_0123456789")
    backend.mode = "500"
    cfg = GrafanaEvidence(url=backend.url, dashboard="d1", token={"env": "GRAFANA_TOKEN_T"})
    with pytest.raises(CollectorError) as e:
        collectors.grafana_png(cfg, START, END)
    assert backend.seen[-1][2]["Authorization"] == "Bearer glsa_s3cretvalue_0123456789"
    assert "HTTP 500" in str(e.value) and "s3cret" not in str(e.value)


@pytest.mark.parametrize("mode, said", [("500", "HTTP 500"), ("bad", "not a PNG image (text/html"), ("slow", "timeout")])
def test_grafana_failures_say_why(backend, mode, said):
    backend.mode, backend.delay_s = mode, 2.0
    cfg = GrafanaEvidence(url=backend.url, dashboard="d1", timeout="1s")
    t = time.monotonic()
    with pytest.raises(CollectorError, match=said.replace("(", r"\(")):
        collectors.grafana_png(cfg, START, END)
    assert time.monotonic() - t < 1.9  # the timeout bounds it


def test_jaeger_query_api_traces_for_the_phase(backend):
    cfg = JaegerEvidence(url=backend.url, service="intelgraph-api", limit=5)
    traces, _ = collectors.jaeger_traces(cfg, START, END)
    path, query, _ = backend.seen[-1]
    assert path == "/api/traces" and query["service"] == "intelgraph-api" and query["limit"] == "5"
    assert query["start"] == str(int(START.timestamp() * 1_000_000))  # microseconds
    summary = collectors.trace_summary(traces)
    assert [t["spans"] for t in summary["traces"]] == [2, 1]
    assert summary["latency"]["max_ms"] == 412.0


@pytest.mark.parametrize("mode, said", [("500", "HTTP 500"), ("bad", "no \"data\" list"), ("slow", "timeout")])
def test_jaeger_failures_say_why(backend, mode, said):
    backend.mode, backend.delay_s = mode, 2.0
    cfg = JaegerEvidence(url=backend.url, service="s", timeout="1s")
    with pytest.raises(CollectorError, match=said):
        collectors.jaeger_traces(cfg, START, END)


def test_opa_from_http_and_from_a_jsonl_file(backend, tmp_path):
    decisions, _ = collectors.opa_decisions(OpaEvidence(url=backend.url + "/logs"), START, END, tmp_path)
    assert [d["decision_id"] for d in decisions] == ["c7e2a1b0-0001", "c7e2a1b0-0002"]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(d) for d in OPA_DECISIONS) + "\n")
    decisions, _ = collectors.opa_decisions(OpaEvidence(file="d.jsonl"), START, START + timedelta(minutes=5, seconds=30), tmp_path)
    assert [d["decision_id"] for d in decisions] == ["c7e2a1b0-0001"]  # only the range asked
    backend.mode = "bad"
    with pytest.raises(CollectorError, match="no decision_id"):
        collectors.opa_decisions(OpaEvidence(url=backend.url + "/logs"), START, END, tmp_path)


def test_a_real_k6_summary_export_is_ingested_and_its_shape_checked(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(K6_SUMMARY))
    doc = collectors.k6_summary(path)
    hl = collectors.k6_highlights(doc)
    assert hl["http_req_duration_p(95)_ms"] == 318.6 and hl["http_req_failed_rate"] == 0.002 and hl["checks_failed"] == 12
    path.write_text(json.dumps({"root_group": {}, "data": []}))
    with pytest.raises(CollectorError, match="not a k6 summary export"):
        collectors.k6_summary(path)
    path.write_text("{not json")
    with pytest.raises(CollectorError, match="not JSON"):
        collectors.k6_summary(path)
    with pytest.raises(CollectorError, match="cannot read"):
        collectors.k6_summary(tmp_path / "absent.json")
