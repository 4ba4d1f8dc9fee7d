"""A real single-node VictoriaMetrics (Debian `victoria-metrics`) on a free loopback port, fed the
same series as the Prometheus backfill through its import API (Prometheus text, milliseconds),
then flushed so that queries see them. Skips when the binary is missing; fails under CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterable

from tests.integration.prom import Series, free_port

READY_TIMEOUT_S = 15.0


def require_victoria_metrics() -> str:
    found = shutil.which("victoria-metrics")
    if found is None:
        import pytest

        reason = "victoria-metrics not on PATH: install the Debian package `victoria-metrics` (make system-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return found


def prometheus_text(series: Iterable[Series]) -> str:
    lines = []
    for s in series:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        selector = f"{s.name}{{{labels}}}" if labels else s.name
        lines += [f"{selector} {value!r} {int(round(ts * 1000))}" for ts, value in sorted(s.points)]
    return "\n".join(lines) + "\n"


class VictoriaServer:
    """Same interface as PromServer: start(), stop(), url."""

    engine = "victoria-metrics"

    def __init__(self, workdir: Path, series: Iterable[Series] = ()) -> None:
        self.binary = require_victoria_metrics()
        self.workdir = Path(workdir)
        self.series = list(series)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "VictoriaServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._log = open(self.workdir / "victoria.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, f"-storageDataPath={self.workdir / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=WARN"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited: {(self.workdir / 'victoria.log').read_text()[-800:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("victoria-metrics not ready")
            time.sleep(0.05)
        if self.series:
            req = urllib.request.Request(f"{self.url}/api/v1/import/prometheus", data=prometheus_text(self.series).encode(),
                                         method="POST")
            with urllib.request.urlopen(req, timeout=30) as answer:
                assert answer.status in (200, 204)
            with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30) as answer:
                assert answer.status == 200
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
