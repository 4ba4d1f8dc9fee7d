"""A real Prometheus on loopback for tests and benchmarks, fed by backfill, plus misbehaving stand-ins.

`PromServer(workdir, series).start()` writes the series as OpenMetrics text,
backfills them with `promtool tsdb create-blocks-from openmetrics`, starts
`prometheus` on a free 127.0.0.1 port with its own data dir, and waits for
`/-/ready`. `stop()` terminates, then kills. Every wait is bounded.
`require_prometheus()` skips when the binaries are missing, and fails under CI=true.
`PromServer(workdir, series, scrape=exporter)` also scrapes an `Exporter` every second: live
values the test sets as it goes (a breach that begins once what must come first has happened),
continuing the backfilled history of the same series.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from tests.integration.loopback import STOP_TIMEOUT_S, LoopbackServer, require
from tests.integration.loopback import free_port as free_port  # its users import it from here

if TYPE_CHECKING:
    from cockpit.core.compare import Comparison



def require_prometheus() -> tuple[str, str]:
    """Paths of prometheus and promtool, or skip (fail under CI=true) saying what to install."""
    prometheus, promtool = require(("prometheus", "promtool"), "prometheus")
    return prometheus, promtool


@dataclass
class Series:
    """One backfilled series: points are (unix seconds, value), oldest first."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)
    counter: bool = False  # name must then end in _total


def openmetrics(series: Iterable[Series]) -> str:
    """OpenMetrics text: one family per name, samples in time order, seconds, ending in `# EOF`."""
    families: dict[str, list[Series]] = {}
    for s in series:
        families.setdefault(s.name, []).append(s)
    lines: list[str] = []
    for name, members in families.items():
        counter = members[0].counter
        family = name.removesuffix("_total") if counter else name
        lines.append(f"# TYPE {family} {'counter' if counter else 'gauge'}")
        for s in members:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            selector = f"{name}{{{labels}}}" if labels else name
            for ts, value in sorted(s.points):
                lines.append(f"{selector} {value!r} {ts:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class Exporter:
    """A metrics page on loopback showing the values the test sets now, each sample stamped with
    the instant it is served: a value set at T is in every sample Prometheus takes after T, and in
    none before. Serves until the block ends."""

    def __init__(self, **values: float) -> None:
        self.values = dict(values)
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                with exporter._lock:
                    ms = int(time.time() * 1000)
                    body = "".join(f"{k} {v!r} {ms}\n" for k, v in exporter.values.items()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def set(self, **values: float) -> float:
        """From now on the page shows these values; returns the instant they took effect (to the
        millisecond, as samples are stamped: no sample with them is stamped earlier)."""
        with self._lock:
            self.values.update(values)
            return int(time.time() * 1000) / 1000

    def __enter__(self) -> Exporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=STOP_TIMEOUT_S)


SCRAPE_S = 1  # how often a PromServer scrapes its exporter


class PromServer(LoopbackServer):
    """One prometheus process with its own data dir under `workdir`; with `scrape`, it scrapes that
    exporter every SCRAPE_S into the same series as the backfill (no job or instance label), so the
    series must end before the start. Its first scrape comes about 5 s after ready (Prometheus
    hands targets to its scrapers on a 5 s tick)."""

    name = "prometheus"
    backfill_timeout_s = 60.0  # a week of many series (benchmarks/bench_rehearse.py) takes longer

    def __init__(self, workdir: Path, series: Iterable[Series] = (), *, scrape: Exporter | None = None) -> None:
        super().__init__(workdir)
        self.prometheus, self.promtool = require_prometheus()
        self.series = list(series)
        self.scrape = scrape

    def start(self) -> PromServer:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        if self.series:
            source = self.workdir / "backfill.om"
            source.write_text(openmetrics(self.series))
            done = subprocess.run(
                [self.promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
                capture_output=True, text=True, timeout=self.backfill_timeout_s,
            )
            if done.returncode != 0:
                raise RuntimeError(f"promtool backfill failed: {done.stderr.strip()[-500:]}")
        config = "global:\n  scrape_interval: 15s\n"
        if self.scrape is not None:
            config += (f"scrape_configs:\n  - job_name: live\n    scrape_interval: {SCRAPE_S}s\n"
                       f"    scrape_timeout: {SCRAPE_S}s\n    static_configs:\n"
                       f"      - targets: ['{self.scrape.target}']\n"
                       "    metric_relabel_configs:\n      - action: labeldrop\n        regex: job|instance\n")
        (self.workdir / "prometheus.yml").write_text(config)
        self.launch()
        return self

    def argv(self) -> list[str]:
        return [
            self.prometheus,
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=3650d",
            "--log.level=warn",
        ]

    def samples(self, name: str, seconds: int = 3600) -> list[tuple[float, float]]:
        """The raw samples of one series (no labels) over the last `seconds`, oldest first."""
        import json
        import urllib.parse

        query = urllib.parse.urlencode({"query": f"{name}[{seconds}s]", "time": f"{time.time():.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=10) as answer:
            result = json.load(answer)["data"]["result"]
        return [(float(ts), float(v)) for ts, v in result[0]["values"]] if result else []

    def __enter__(self) -> PromServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and says nothing until the block ends: a Prometheus too slow to answer."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(timeout=STOP_TIMEOUT_S)
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def _serve(handler) -> Iterator[str]:
    """A threaded HTTP server on a free loopback port for the block's duration."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_TIMEOUT_S)


@contextmanager
def fixed_answer_server(
    body: bytes, *, status: int = 200, content_type: str = "application/json", seen: list | None = None
) -> Iterator[str]:
    """Answers every request with the same body: garbage, wrong JSON, or an error page.

    When `seen` is given, each request's headers are appended to it (to check auth is sent).
    """

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if seen is not None:
                seen.append(dict(self.headers))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    with _serve(Handler) as url:
        yield url


@contextmanager
def delaying_proxy(upstream: str, marker: str, delay_s: float) -> Iterator[str]:
    """Forwards every request to `upstream`, holding those whose query mentions `marker` for `delay_s`.

    One slow query in front of a real Prometheus: the others go straight through, concurrently.
    """
    import urllib.error
    import urllib.parse

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def _forward(self, body: bytes | None) -> None:
            asked = urllib.parse.unquote_plus(self.path + (body or b"").decode("latin-1"))
            if marker in asked:
                time.sleep(delay_s)
            headers = {"Content-Type": self.headers.get("Content-Type", "")} if body else {}
            request = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status, data, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
            except urllib.error.HTTPError as e:
                status, data, kind = e.code, e.read(), e.headers.get("Content-Type", "")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._forward(None)

        def do_POST(self) -> None:  # noqa: N802
            self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def log_message(self, *args: object) -> None:
            pass

    with _serve(Handler) as url:
        yield url


@dataclass(frozen=True)
class Trigger:
    """A trigger as `evaluate` needs it: the config's Trigger without the parts it does not use."""

    query: str
    comparison: Comparison
    threshold: float
    for_s: float
    no_data: str = "hold"
    baseline_query: str | None = None
    pct: float | None = None


def evaluate(source, trigger: Trigger, now: float, *, step_s: float = 30.0, judged_until: float | None = None):
    """The monitor's round in miniature: baseline (if relative), a range over the window and every
    sample since `judged_until` (the last round; None: the window only), judged.

    Returns (WindowVerdict | None, error message | None).
    """
    from datetime import datetime

    from cockpit.core.triggers import judge_round, relative_threshold, round_bounds

    def at(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    threshold = trigger.threshold
    if trigger.baseline_query:
        baseline = source.instant(trigger.baseline_query, at(now))
        if baseline.status != "ok":
            return None, baseline.error or "baseline has no data"
        threshold = relative_threshold(baseline.value, trigger.pct)
    start, end = round_bounds(now, trigger.for_s, step_s, judged_until)
    result = source.range(trigger.query, at(start), at(end), step_s)
    if result.status == "error":
        return None, result.error
    verdict = judge_round(
        result.samples, judged_until=judged_until, comparison=trigger.comparison, threshold=threshold,
        for_s=trigger.for_s, step_s=step_s, now=now, no_data=trigger.no_data,
    )
    return verdict, None
