"""A real `prometheus-alertmanager` (Debian package) on a free loopback port, with no cluster port
(`--cluster.listen-address=` empty). Skips when the binary is missing; fails under CI=true."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.integration.prom import free_port

READY_TIMEOUT_S = 15.0
CONFIG = """route:
  receiver: "null"
  group_wait: 0s
receivers:
  - name: "null"
"""


def require_alertmanager() -> str:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if found is None:
        reason = "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager; make system-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return found


class LoopbackAlertmanager:
    def __init__(self, workdir: Path):
        self.binary = require_alertmanager()
        self.workdir = Path(workdir)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LoopbackAlertmanager":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(CONFIG)
        self.port = free_port()
        self._log = open(self.workdir / "alertmanager.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={config}", f"--storage.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {(self.workdir / 'alertmanager.log').read_text()[-800:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("alertmanager not ready")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def post(self, path: str, body) -> dict | list | None:
        req = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def get(self, path: str):
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as answer:
            return json.loads(answer.read())

    def fire(self, **labels: str) -> None:
        ends = datetime.now(timezone.utc) + timedelta(minutes=30)
        self.post("/api/v2/alerts", [{"labels": labels, "endsAt": ends.isoformat().replace("+00:00", "Z")}])
