"""A real haproxy on loopback in front of two tiny HTTP servers, `stable` and `canary`."""

from __future__ import annotations

import collections
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.integration.loopback import PortTaken, free_port

BACKEND = "be_app"


def find_haproxy() -> str | None:
    """The haproxy binary, also where a non-root PATH lacks /usr/sbin."""
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
    )


def haproxy_or_skip() -> str:
    """Skip with a reason when haproxy is missing; in CI (CI=true) a missing binary fails."""
    import pytest

    binary = find_haproxy()
    if binary:
        return binary
    reason = "haproxy not installed (Debian: apt-get install -y --no-install-recommends haproxy)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so this is a failure, not a skip")
    pytest.skip(reason)


class NamedServer(ThreadingHTTPServer):
    """Answers every GET with its own name and counts what it served."""

    daemon_threads = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.hits = 0
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _NameHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        """haproxy resets idle keep-alive connections; that is not a test failure."""

    def count(self) -> None:
        with self._lock:
            self.hits += 1


class _NameHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise Nagle + delayed ACK add a false 40 ms

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.count()
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class LoopbackHAProxy:
    """One haproxy process with a unix and a TCP admin socket; start(), stop(), route(n)."""

    binary: str
    stable_weight: int = 100
    canary_weight: int = 0
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ckgw", dir="/tmp")))
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.socket = str(self.dir / "admin.sock")  # short: unix paths stop at 108 bytes
        self.stable = NamedServer("stable")
        self.canary = NamedServer("canary")
        for server in (self.stable, self.canary):
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self.config = self.dir / "haproxy.cfg"
        self._pick_ports()
        self.started_once = False

    def _pick_ports(self) -> None:
        """Free ports for the frontend and the TCP admin socket, written into the config."""
        self.tcp_socket = f"127.0.0.1:{free_port()}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        return f"""\
global
    stats socket {self.socket} mode 600 level admin
    stats socket ipv4@{self.tcp_socket} level admin
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend fe_app
    bind 127.0.0.1:{self.port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    server stable 127.0.0.1:{self.stable.server_port} weight {self.stable_weight}
    server canary 127.0.0.1:{self.canary.server_port} weight {self.canary_weight}
"""

    def start(self, ready_within_s: float = 5.0) -> None:
        """Run haproxy and wait until it answers. A port another test bound between picking and
        binding is picked afresh on a first start (a restart keeps its ports: the test knows them)."""
        for attempt in range(3):
            try:
                self._start(ready_within_s)
                self.started_once = True
                return
            except PortTaken:
                if self.started_once or attempt == 2:
                    raise
                self._pick_ports()

    def _start(self, ready_within_s: float) -> None:
        check = subprocess.run([self.binary, "-c", "-q", "-f", str(self.config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejected {self.config}: {check.stderr or check.stdout}")
        self.log = open(self.dir / "haproxy.log", "wb")
        self.process = subprocess.Popen([self.binary, "-f", str(self.config), "-db"], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + ready_within_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                failure = PortTaken if "Address already in use" in self._log_text() else RuntimeError
                raise failure(f"haproxy exited {self.process.returncode}: {self._log_text()}")
            if self._answers() and self.process.poll() is None:  # ours answered, not a neighbour's
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"haproxy not ready within {ready_within_s}s: {self._log_text()}")

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(self.socket)
                s.sendall(b"show info\n")
                if b"Name: HAProxy" not in _read_all(s):
                    return False
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _log_text(self) -> str:
        return (self.dir / "haproxy.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Stop haproxy; the backends and the directory stay for a restart or close()."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if getattr(self, "log", None):
            self.log.close()

    def close(self) -> None:
        """Stop everything and remove the directory."""
        self.stop()
        for server in (self.stable, self.canary):
            server.shutdown()
            server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def route(self, requests: int) -> collections.Counter:
        """Send `requests` GETs through the frontend; count who answered, by name or status."""
        seen: collections.Counter = collections.Counter()
        with httpx.Client(timeout=5) as client:
            for _ in range(requests):
                response = client.get(self.url)
                seen[response.text if response.status_code == 200 else f"HTTP {response.status_code}"] += 1
        return seen


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
