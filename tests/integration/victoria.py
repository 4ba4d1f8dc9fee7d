"""A real single-node VictoriaMetrics (Debian `victoria-metrics`) on a free loopback port, fed the
same series as the Prometheus backfill through its import API (Prometheus text, milliseconds),
then flushed so that queries see them. Skips when the binary is missing; fails under CI=true."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from pathlib import Path

from tests.integration.loopback import LoopbackServer, require
from tests.integration.prom import Series


def require_victoria_metrics() -> str:
    return require(("victoria-metrics",), "victoria-metrics")[0]


def prometheus_text(series: Iterable[Series]) -> str:
    lines = []
    for s in series:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        selector = f"{s.name}{{{labels}}}" if labels else s.name
        lines += [f"{selector} {value!r} {int(round(ts * 1000))}" for ts, value in sorted(s.points)]
    return "\n".join(lines) + "\n"


class VictoriaServer(LoopbackServer):
    """Same interface as PromServer: start(), stop(), url."""

    engine = name = "victoria-metrics"
    ready_path = "/health"

    def __init__(self, workdir: Path, series: Iterable[Series] = ()) -> None:
        super().__init__(workdir)
        self.binary = require_victoria_metrics()
        self.series = list(series)

    def argv(self) -> list[str]:
        return [self.binary, f"-storageDataPath={self.workdir / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=WARN"]

    def start(self) -> VictoriaServer:
        self.launch()
        if self.series:
            req = urllib.request.Request(f"{self.url}/api/v1/import/prometheus", data=prometheus_text(self.series).encode(),
                                         method="POST")
            with urllib.request.urlopen(req, timeout=30) as answer:
                assert answer.status in (200, 204)
            with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30) as answer:
                assert answer.status == 200
        return self
