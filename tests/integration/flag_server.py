"""A tiny feature-flag API on loopback: stores flags, records requests, can fail or stall on demand."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class FlagServer(ThreadingHTTPServer):
    """PUT/POST {"flag": name, "value": v} or {name: v} stores flags; GET /flags answers them flat,
    GET /nested as {"data": {"canary": {"enable": .., "weight": ..}}}.

    Set `status` (e.g. 500) to fail every request, `delay_s` to stall before answering, and
    `raw_answer` to send that body instead of JSON (on GET, or with a failing `status`).
    """

    daemon_threads = True

    def __init__(self) -> None:
        self.flags: dict[str, object] = {"canary.enable": True, "canary.weight": 0}
        self.requests: list[SeenRequest] = []
        self.status = 200
        self.delay_s = 0.0
        self.raw_answer: bytes | None = None
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _FlagHandler)
        self.url = f"http://127.0.0.1:{self.server_port}"
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (timeout tests) resets the connection; that is expected."""


class _FlagHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the adapter's client expects
    disable_nagle_algorithm = True  # otherwise Nagle + delayed ACK add a false 40 ms

    server: FlagServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle(b"")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    do_POST = do_PUT

    def _handle(self, body: bytes) -> None:
        server = self.server
        with server.lock:
            server.requests.append(SeenRequest(self.command, self.path, dict(self.headers.items()), body, self.client_address[1]))
        if server.delay_s:
            time.sleep(server.delay_s)
        if server.status != 200:
            return self._answer(server.status, server.raw_answer or {"error": "flag store unavailable"})
        if self.command == "GET":
            return self._answer(200, server.raw_answer if server.raw_answer is not None else self._flags())
        try:
            change = json.loads(body)
            name, value = (change["flag"], change["value"]) if "flag" in change else next(iter(change.items()))
        except (ValueError, KeyError, StopIteration, TypeError):
            return self._answer(400, {"error": "want {flag, value} or {name: value}"})
        with server.lock:
            server.flags[name] = value
        self._answer(200, {"ok": True})

    def _flags(self) -> object:
        with self.server.lock:
            flags = dict(self.server.flags)
        if self.path.startswith("/nested"):
            return {"data": {"canary": {"enable": flags.get("canary.enable"), "weight": flags.get("canary.weight")}}}
        return flags

    def _answer(self, status: int, payload: object) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout tests)

    def log_message(self, format: str, *args: object) -> None:
        pass
