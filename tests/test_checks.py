"""Preflight runners against real commands, a real local HTTP server and real report files."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cockpit.adapters import checks
from cockpit.config import CommandCheck, FreezeWindowCheck, HttpCheck, ReportCheck
from tests.conftest import T0


def cmd(argv, timeout="5s"):
    return CommandCheck(id="c", name="c", type="command", argv=argv, timeout=timeout)


def test_command_pass_fail_and_output_tail():
    ok = asyncio.run(checks.command(cmd(["sh", "-c", "echo verified signature"])))
    assert (ok.status, ok.detail) == ("pass", "exit 0: verified signature")
    bad = asyncio.run(checks.command(cmd(["false"])))
    assert (bad.status, bad.evidence["exit"]) == ("fail", 1)


def test_command_that_hangs_is_a_timed_out_failure_and_its_children_die():
    started = time.monotonic()
    out = asyncio.run(checks.command(cmd(["sh", "-c", "sleep 30 & sleep 30"], timeout="1s")))
    assert out.status == "fail" and out.detail == "timed out after 1s"
    assert time.monotonic() - started < 10


def test_missing_command_is_an_error_naming_it():
    out = asyncio.run(checks.command(cmd(["/nonexistent/cosign", "verify"])))
    assert out.status == "error" and "cannot run /nonexistent/cosign" in out.detail


def test_freeze_window_is_pure_on_the_injected_clock():
    fw = FreezeWindowCheck(id="f", name="f", type="freeze_window", weekday="tuesday", start="20:00", end="23:00")
    assert checks.freeze_window(fw, T0).status == "pass"  # a Thursday
    tuesday_night = T0.replace(day=24, hour=20, minute=30)
    assert checks.freeze_window(fw, tuesday_night).status == "fail"
    assert checks.freeze_window(fw, tuesday_night.replace(hour=23, minute=0)).status == "pass"


@pytest.fixture
def http_server():
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        routes = {
            "/health": (200, {"sealed": False, "version": "1.15"}),
            "/sealed": (200, {"sealed": True}),
            "/broken": (503, {"errors": ["down"]}),
        }
        seen_auth: list = []

        def do_GET(self):
            Handler.seen_auth.append(self.headers.get("Authorization"))
            if self.path == "/slow":
                time.sleep(2)
            status, body = self.routes.get(self.path, (404, {}))
            data = json.dumps(body).encode() if self.path != "/text" else b"not json"
            self.send_response(200 if self.path == "/text" else status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except BrokenPipeError:
                pass  # the client gave up (the timeout test): that is the point

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Handler
    server.shutdown()
    server.server_close()


def http_check(url, **kw):
    return HttpCheck(id="h", name="h", type="http", url=url, **kw)


def test_http_check_status_json_expectation_timeout_and_token(http_server):
    base, handler = http_server
    expect = {"path": "sealed", "comparison": "==", "value": False}
    ok = asyncio.run(checks.http(http_check(f"{base}/health", expect_json=expect), token="t0ken"))
    assert ok.status == "pass" and "sealed = false" in ok.detail
    assert handler.seen_auth[-1] == "Bearer t0ken" and "t0ken" not in json.dumps(ok.evidence)
    sealed = asyncio.run(checks.http(http_check(f"{base}/sealed", expect_json=expect)))
    assert sealed.status == "fail" and "sealed = true (fails == false)" in sealed.detail
    broken = asyncio.run(checks.http(http_check(f"{base}/broken")))
    assert broken.status == "fail" and "HTTP 503, expected 200" in broken.detail
    text = asyncio.run(checks.http(http_check(f"{base}/text", expect_json=expect)))
    assert text.status == "fail" and "not JSON" in text.detail
    slow = asyncio.run(checks.http(http_check(f"{base}/slow", timeout=1)))
    assert slow.status == "fail" and "timed out after 1s" in slow.detail


def test_http_check_dead_endpoint_is_an_error_naming_it():
    out = asyncio.run(checks.http(http_check("http://127.0.0.1:9/health")))
    assert out.status == "error" and "http://127.0.0.1:9/health" in out.detail


def test_report_check_reads_the_scanners_json(tmp_path):
    report = tmp_path / "trivy.json"
    report.write_text(json.dumps({"summary": {"critical": 0, "high": 3}, "results": [{"id": "CVE-1"}]}))
    rc = lambda path, value, op="==": ReportCheck(  # noqa: E731
        id="r", name="r", type="report", file=report, expect={"path": path, "comparison": op, "value": value}
    )
    assert checks.report(rc("summary.critical", 0)).status == "pass"
    assert checks.report(rc("summary.high", 0)).status == "fail"
    assert checks.report(rc("summary.high", 5, "<=")).status == "pass"
    assert checks.report(rc("results.0.id", "CVE-1")).status == "pass"
    missing = checks.report(rc("summary.medium", 0))
    assert missing.status == "fail" and "no 'medium'" in missing.detail
    report.write_text("{not json")
    assert checks.report(rc("summary.critical", 0)).status == "error"
    gone = ReportCheck(id="r", name="r", type="report", file=tmp_path / "none.json", expect={"path": "a", "value": 0})
    out = checks.report(gone)
    assert out.status == "error" and "none.json: cannot read" in out.detail


def test_the_engine_runner_dispatches_each_type(tmp_path, plan):
    from cockpit.clock import ManualClock

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "trivy-intelgraph-v0.1.0.json").write_text('{"summary": {"critical": 0}}')
    run = checks.runner(clock=ManualClock(T0), base_dir=tmp_path)
    # Every check but the http one, whose URL is not on loopback (tests talk only to 127.0.0.1).
    by_id = {c.id: asyncio.run(run(c)) for c in plan.preflight if c.type != "http"}
    assert by_id["freeze_window"].status == "pass"
    assert by_id["cve_status"].status == "pass"
    assert by_id["image_provenance"].status == "error" and "cannot run cosign" in by_id["image_provenance"].detail
    assert by_id["staging_success"].detail == "no [prometheus] configured for a promql check"
