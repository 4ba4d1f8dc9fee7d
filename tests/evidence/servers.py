"""Loopback HTTP servers that answer like Grafana's render API and Jaeger's query API (and fail on request)."""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (grey pixels), as Grafana's image renderer returns."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# The shape of GET /api/traces from jaeger-query (v1 HTTP JSON API), trimmed to two traces.
JAEGER_ANSWER = {
    "data": [
        {
            "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
            "spans": [
                {"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spanID": "00f067aa0ba902b7", "flags": 1,
                 "operationName": "GET /graph/path", "references": [], "startTime": 1795788000000000,
                 "duration": 412000, "tags": [{"key": "http.status_code", "type": "int64", "value": 200}],
                 "logs": [], "processID": "p1", "warnings": None},
                {"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spanID": "00f067aa0ba902b8", "flags": 1,
                 "operationName": "neo4j.query", "references": [{"refType": "CHILD_OF", "traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spanID": "00f067aa0ba902b7"}],
                 "startTime": 1795788000010000, "duration": 380000, "tags": [], "logs": [], "processID": "p1", "warnings": None},
            ],
            "processes": {"p1": {"serviceName": "intelgraph-api", "tags": [{"key": "hostname", "type": "string", "value": "canary-0"}]}},
            "warnings": None,
        },
        {
            "traceID": "5cf92f3577b34da6a3ce929d0e0e4737",
            "spans": [
                {"traceID": "5cf92f3577b34da6a3ce929d0e0e4737", "spanID": "10f067aa0ba902b7", "flags": 1,
                 "operationName": "GET /api/entities", "references": [], "startTime": 1795788001000000,
                 "duration": 95000, "tags": [], "logs": [], "processID": "p1", "warnings": None},
            ],
            "processes": {"p1": {"serviceName": "intelgraph-api", "tags": []}},
            "warnings": None,
        },
    ],
    "total": 0, "limit": 0, "offset": 0, "errors": None,
}


class Backend(ThreadingHTTPServer):
    """mode: "ok", "slow" (answers after `delay_s`), "500", "bad" (a wrong shape). `seen` keeps each request."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "ok"
        self.delay_s = 3.0
        self.seen: list[tuple[str, dict, dict]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True

    def log_message(self, *a):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self):  # noqa: N802
        server: Backend = self.server  # type: ignore[assignment]
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        server.seen.append((parts.path, query, dict(self.headers)))
        if server.mode == "slow":
            time.sleep(server.delay_s)
        if server.mode == "500":
            return self._send(500, b'{"message":"Internal Server Error"}', "application/json")
        if parts.path.startswith("/render/d/"):
            if server.mode == "bad":  # Grafana without the image renderer answers an HTML page
                return self._send(200, b"<html><body>Rendering failed</body></html>", "text/html")
            return self._send(200, tiny_png(), "image/png")
        if parts.path == "/api/traces":
            if server.mode == "bad":
                return self._send(200, json.dumps({"traces": []}).encode(), "application/json")
            return self._send(200, json.dumps(JAEGER_ANSWER).encode(), "application/json")
        if parts.path == "/logs":
            if server.mode == "bad":
                return self._send(200, b'[{"path": "x"}]', "application/json")
            return self._send(200, json.dumps(OPA_DECISIONS).encode(), "application/json")
        self._send(404, b"not found", "text/plain")


# OPA decision-log entries (the decision log plugin's event shape), one allowed and one denied.
OPA_DECISIONS = [
    {"decision_id": "c7e2a1b0-0001", "path": "intelgraph/authz/allow", "input": {"tenant": "t1", "resource_tenant": "t1"},
     "result": True, "timestamp": "2026-11-26T14:05:00Z", "labels": {"id": "opa-1", "version": "0.58.0"}},
    {"decision_id": "c7e2a1b0-0002", "path": "intelgraph/authz/allow", "input": {"tenant": "t1", "resource_tenant": "t2"},
     "result": False, "timestamp": "2026-11-26T14:06:00Z", "labels": {"id": "opa-1", "version": "0.58.0"}},
]

# A k6 `--summary-export` file, in k6's documented format.
K6_SUMMARY = {
    "root_group": {
        "name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": {},
        "checks": {"status is 200": {"name": "status is 200", "path": "::status is 200", "id": "6210a8cd14cd70477eba5c5e4cb3fb5f", "passes": 5988, "fails": 12}},
    },
    "metrics": {
        "http_req_duration": {"avg": 182.4, "min": 61.2, "med": 171.9, "max": 912.7, "p(90)": 281.3, "p(95)": 318.6,
                              "thresholds": {"p(95)<350": False}},
        "http_req_failed": {"passes": 12, "fails": 5988, "value": 0.002, "thresholds": {"rate<0.01": False}},
        "http_reqs": {"count": 6000, "rate": 49.99},
        "checks": {"passes": 5988, "fails": 12, "value": 0.998},
        "iterations": {"count": 6000, "rate": 49.99},
        "vus": {"value": 50, "min": 50, "max": 50},
    },
}
