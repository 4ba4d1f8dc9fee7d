"""A real `prometheus-alertmanager` (Debian package) on a free loopback port, with no cluster port
(`--cluster.listen-address=` empty). Skips when the binary is missing; fails under CI=true."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.loopback import LoopbackServer, require

CONFIG = """route:
  receiver: "null"
  group_wait: 0s
receivers:
  - name: "null"
"""


def require_alertmanager() -> str:
    return require(("prometheus-alertmanager|alertmanager",), "prometheus-alertmanager")[0]


class LoopbackAlertmanager(LoopbackServer):
    name = "alertmanager"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.binary = require_alertmanager()

    def argv(self) -> list[str]:
        return [self.binary, f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=", "--log.level=warn"]

    def __enter__(self) -> LoopbackAlertmanager:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "alertmanager.yml").write_text(CONFIG)
        self.launch()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

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
        ends = datetime.now(UTC) + timedelta(minutes=30)
        self.post("/api/v2/alerts", [{"labels": labels, "endsAt": ends.isoformat().replace("+00:00", "Z")}])
