"""The acceptance lab: the seed plan against a real Prometheus and a real HAProxy on loopback.

    .venv/bin/python -m tests.lab up DIR [--soak 2m] [--poll 5s] [--rps 200] [--judge] [--etcd]

runs in the foreground until Ctrl-C (or SIGTERM), which stops everything it started. It starts:

- a simulated IntelGraph API exporter + control server (one http.server on 127.0.0.1:PORT),
  exposing the series every query of config.example.toml asks for, with real metric types:
  `http_requests_total{app,track,code}` counters, `http_request_duration_seconds` histograms
  (canary and the `env="staging"` baseline), `graph_path_query_duration_seconds{hops="3"}`,
  `intelgraph_cross_tenant_access_total`, `intelgraph_residency_violations_total`,
  `opa_policy_violations_total`, `intelgraph_cost_delta_ratio`, `intelgraph_cost_month_to_date_usd`,
  `intelgraph_slo_compliance{env="staging"}` (backfilled 26 h, so the preflight's 24 h query passes)
  and `ALERTS`. Counters grow monotonically, driven by the knobs below;
- Prometheus (the Debian binary), tsdb in DIR/prometheus, scraping the exporter every 1 s;
- HAProxy (tests/integration/haproxy.py) with an admin socket, backend `be_app`, servers
  `stable` (weight 100) and `canary` (weight 0). The exporter reads the weights from the admin
  socket every second: the canary's request rate is `rps * canary / (canary + stable)` (0 when the
  canary is in maintenance). While HAProxy is down, the last weights read are kept.
  A restarted HAProxy comes back with its configured weights (canary 0), as a real one would;
- writes DIR/plan.toml: config.example.toml pointed at all of this (soaks, `for` windows, ack
  timeouts shortened so a whole rollout fits in about 15 minutes; channels go to the control
  server's webhook receiver; preflight commands ask the control server), validated with
  `cockpit check-config`; and DIR/lab.json (urls, socket, pids) for scripts and the test;
- with `--etcd`, three etcd members on loopback (tests/etcd_cluster.py; fresh data dirs in DIR/etcd
  each `up`), and the plan's record kept on them: `[state] store = "etcd"`, their client URLs, the
  prefix /cockpit/lab/intelgraph/v0.1.0 (DIR/state then holds only this host's files: guard.log,
  what is kept aside while etcd does not answer). lab.json lists each member (url, pid, state).
  An observer "on another host" is a copy of plan.toml with its own state_dir.

Knobs (`GET /set?name=value&...`, `GET /knobs` shows them all; unknown names are refused):

    rps                 200     requests/s through the gateway, split by the HAProxy weights
    canary_rps          -1      >= 0 overrides the canary's request rate (ignores HAProxy)
    error_ratio         0.0005  canary share of requests answered 500
    stable_error_ratio  0.0005  stable share of requests answered 500
    p95_ms              240     canary API latency p95 (buckets shaped so histogram_quantile(0.95) gives it)
    staging_p95_ms      250     the staging baseline's p95 (the api_p95_regression trigger: canary > +20 %)
    staging_rps         20      staging request rate (for the baseline histogram)
    path_p95_ms         800     canary 3-hop path query p95 (trigger > 1200 ms)
    path_share          0.1     path queries per canary request
    cross_tenant        0       canary cross-tenant accesses per minute (trigger: any increase)
    residency           0       canary residency violations per minute
    opa_violations      0       canary OPA policy violations per minute (gate criteria)
    cost_delta          0.04    intelgraph_cost_delta_ratio{env="production"} (phase 2 gate < 0.10)
    spend_infra         9000    month-to-date USD, infrastructure (budget 18000)
    spend_llm           1500    month-to-date USD, LLM usage (budget 5000)
    slo_compliance      0.9995  intelgraph_slo_compliance{env="staging"} (preflight >= 0.999)
    alerts_firing       0       ALERTS{alertstate="firing",severity="warning"} series (phase 3 gate)
    scrape_fail         0       1: /metrics answers 500 (Prometheus marks every series stale)
    image_signed        1       0: the image_provenance check (and the supply_chain trigger) fails
    data_plane_ok       1       0: the data_plane preflight check fails
    vault_sealed        0       1: the secrets preflight check fails (sealed: true)
    check_delay_s       0       seconds every /check/... answer waits (a slow preflight command)
    baseline_rps        0       requests/s of the judge's baseline track (track="baseline"; `up --judge`: 20)
    baseline_p95_ms     240     the baseline track's API p95
    baseline_error_ratio 0.0005 the baseline track's share of requests answered 500
    p95_noise           0       relative spread of the API p95 of canary and baseline, drawn anew every
                                15 s (`up --judge`: 0.1), so the judge sees noise through rate(...[1m])
    canary_spread       1       the canary's p95 noise is this many times the baseline's

The judge (`up --judge`: the seed's commented [judge] and judge criteria switched on):
    Pass      p95_ms=252 (+5 % on baseline_p95_ms 240; the plan allows +10 %): Pass, score 100
    Fail      p95_ms=290 (+21 %): Fail, API p95 High; the Performance trigger (> staging 250 +20 %)
              reads ~310 through the buckets and the noise, and fires within its 1m `for` too
    Marginal  canary_spread=3 (the same median, triple the spread: flagged)

One-shots: `GET /bump?cross_tenant=3&residency=1&opa_violations=2` adds to those counters now.

Faults: `GET /fault?prometheus=stop|kill|start|hang|resume`, `GET /fault?haproxy=...` the same
(Prometheus restarts on the same port and tsdb; HAProxy on the same socket and port, with its
configured weights; `hang` is SIGSTOP: the process keeps its sockets and answers nothing, until
`resume`). `GET /fault?etcd_member=N&action=stop|cont|kill|start` (`up --etcd`): member N (1..3)
SIGSTOPped (it answers nothing: a partition seen from its side), SIGCONTed, SIGKILLed, or started
again on its data dir; one member lost keeps quorum, two lose it (the guard then says STORE
UNREACHABLE, pulls the kill on a breach all the same and journals it late). `GET /status` shows the processes, weights and rates; `GET /hooks` the webhooks received
(`GET /hooks?clear=1` empties the list); `GET /haproxy?cmd=get+weight+be_app/canary` runs one
HAProxy runtime-API command. Answers are JSON (but /metrics and /haproxy).

The plan's command checks run `python tests/lab.py probe URL NAME` (stdlib only): exit 0 when the
control server says the check passes.

Another rollout on the same lab: `python -m tests.lab again DIR NAME` writes DIR/plan-NAME.toml,
the same plan with its own state dir DIR/state-NAME (on etcd, its own prefix PREFIX-NAME too; the
lab keeps running). Mind that Prometheus
remembers: the seed's rate(...[5m]) queries still see an injected fault for 5 minutes after the
knob is put back, and a canary with no traffic keeps its last ratio in that window.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = "intelgraph-api"
API_BUCKETS = [0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]
ETCD_PREFIX = "/cockpit/lab/intelgraph/v0.1.0"  # `up --etcd`: the plan's [state] prefix
PATH_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1.0, 1.1, 1.2, 1.3, 1.5, 2.0, 3.0, 5.0, 10.0]

KNOBS: dict[str, float] = {
    "rps": 200, "canary_rps": -1, "error_ratio": 0.0005, "stable_error_ratio": 0.0005,
    "p95_ms": 240, "staging_p95_ms": 250, "staging_rps": 20, "path_p95_ms": 800, "path_share": 0.1,
    "cross_tenant": 0, "residency": 0, "opa_violations": 0, "cost_delta": 0.04,
    "spend_infra": 9000, "spend_llm": 1500, "slo_compliance": 0.9995, "alerts_firing": 0,
    "scrape_fail": 0, "image_signed": 1, "data_plane_ok": 1, "vault_sealed": 0, "check_delay_s": 0,
    "baseline_rps": 0, "baseline_p95_ms": 240, "baseline_error_ratio": 0.0005, "p95_noise": 0.0, "canary_spread": 1.0,
}
BUMPABLE = ("cross_tenant", "residency", "opa_violations")


# --- the simulated API --------------------------------------------------------------------------


class Histogram:
    """Cumulative bucket counts whose shape makes histogram_quantile(0.95, ...) give back the p95
    asked for: the bucket holding p95 ends the distribution, and the mass below it is set so
    that Prometheus' linear interpolation inside that bucket lands exactly on p95 (below the
    first bucket's bound or above the last one's, it is approximate)."""

    def __init__(self, buckets: list[float]) -> None:
        self.buckets = buckets
        self.counts = [0.0] * len(buckets)
        self.count = 0.0
        self.sum = 0.0

    def cdf(self, p95_s: float) -> list[float]:
        p95_s = max(p95_s, 1e-6)
        upper = next((i for i, le in enumerate(self.buckets) if le >= p95_s), None)
        if upper is None:  # past the last finite bucket: every observation lands in +Inf
            return [0.0] * len(self.buckets)
        hi = self.buckets[upper]
        if 0.95 * hi / p95_s <= 1.0:  # a straight line from 0 through (p95, 0.95) fits: exact
            return [min(1.0, 0.95 * le / p95_s) if i <= upper else 1.0 for i, le in enumerate(self.buckets)]
        lo = self.buckets[upper - 1] if upper else 0.0
        if not lo:  # below the first bucket's bound: approximate
            return [1.0] * len(self.buckets)
        r = (p95_s - lo) / (hi - lo)  # < 0.95 here
        at_lo = (0.95 - r) / (1 - r)
        return [at_lo * le / lo if i < upper else 1.0 for i, le in enumerate(self.buckets)]

    def observe(self, n: float, p95_s: float) -> None:
        if n <= 0:
            return
        for i, share in enumerate(self.cdf(p95_s)):
            self.counts[i] += n * share
        self.count += n
        self.sum += n * p95_s * 0.55

    def lines(self, name: str, labels: str) -> list[str]:
        out = [f'{name}_bucket{{{labels},le="{le:g}"}} {c!r}' for le, c in zip(self.buckets, self.counts, strict=False)]
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.count!r}')
        out.append(f"{name}_sum{{{labels}}} {self.sum!r}")
        out.append(f"{name}_count{{{labels}}} {self.count!r}")
        return out


class Simulation:
    """The IntelGraph API's counters, advanced by a thread every 0.25 s from the knobs and the
    HAProxy weights."""

    def __init__(self, admin_socket: str | None, backend: str = "be_app") -> None:
        self.lock = threading.Lock()
        self.knobs = dict(KNOBS)
        self.admin_socket = admin_socket
        self.backend = backend
        self.weights = {"canary": 0, "stable": 100, "canary_maint": False, "read_ok": False, "read_at": 0.0}
        self.requests: dict[tuple[str, str], float] = {
            (t, c): 0.0 for t in ("canary", "stable", "baseline") for c in ("200", "500")}
        self.api = Histogram(API_BUCKETS)
        self.staging = Histogram(API_BUCKETS)
        self.baseline = Histogram(API_BUCKETS)  # the judge's baseline track: the stable version, side by side
        self.noise = random.Random(7)  # the p95 noise: the same lab run after run
        self.wobble = {"canary": 0.0, "baseline": 0.0}  # this 15 s spell's draw
        self._wobble_at = 0.0
        self.path = Histogram(PATH_BUCKETS)
        self.security = {k: 0.0 for k in BUMPABLE}
        self.rates: dict[str, float] = {}
        self._stop = threading.Event()
        self._last = time.monotonic()
        self._last_weight_read = 0.0

    # HAProxy weights over the admin socket (one command per connection)
    def _ask(self, cmd: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.5)
            s.connect(self.admin_socket)
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def read_weights(self) -> None:
        if not self.admin_socket:
            return
        try:
            canary = int(self._ask(f"get weight {self.backend}/canary").split()[0])
            stable = int(self._ask(f"get weight {self.backend}/stable").split()[0])
            maint = False
            for line in self._ask(f"show servers state {self.backend}").splitlines():
                fields = line.split()
                if len(fields) > 6 and fields[3] == "canary":
                    maint = bool(int(fields[6]) & (0x01 | 0x02 | 0x04 | 0x20 | 0x40))
            with self.lock:
                self.weights.update(canary=canary, stable=stable, canary_maint=maint, read_ok=True, read_at=time.time())
        except (OSError, ValueError, IndexError):
            with self.lock:
                self.weights["read_ok"] = False  # HAProxy down: keep the last weights read

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_weight_read >= 1.0:
            self._last_weight_read = now
            self.read_weights()
        with self.lock:
            dt, self._last = now - self._last, now
            k, w = self.knobs, self.weights
            wc = 0 if w["canary_maint"] else w["canary"]
            total_w = wc + w["stable"]
            if k["canary_rps"] >= 0:
                canary_rps = k["canary_rps"]
                stable_rps = max(0.0, k["rps"] - canary_rps)
            else:
                canary_rps = k["rps"] * wc / total_w if total_w else 0.0
                stable_rps = k["rps"] * w["stable"] / total_w if total_w else 0.0
            if now - self._wobble_at >= 15.0:  # a slow wobble: rate(...[1m]) averages four spells, not 240 ticks
                self._wobble_at = now
                self.wobble = {t: self.noise.gauss(0.0, 1.0) for t in self.wobble}
            noise = k["p95_noise"]
            canary_p95 = k["p95_ms"] * max(0.05, 1 + noise * k["canary_spread"] * self.wobble["canary"])
            baseline_p95 = k["baseline_p95_ms"] * max(0.05, 1 + noise * self.wobble["baseline"])
            for track, rps, ratio in (("canary", canary_rps, k["error_ratio"]), ("stable", stable_rps, k["stable_error_ratio"]),
                                      ("baseline", max(k["baseline_rps"], 0.0), k["baseline_error_ratio"])):
                ratio = min(max(ratio, 0.0), 1.0)
                self.requests[(track, "500")] += rps * dt * ratio
                self.requests[(track, "200")] += rps * dt * (1 - ratio)
            self.api.observe(canary_rps * dt, canary_p95 / 1000)
            self.baseline.observe(max(k["baseline_rps"], 0.0) * dt, baseline_p95 / 1000)
            self.staging.observe(k["staging_rps"] * dt, k["staging_p95_ms"] / 1000)
            self.path.observe(canary_rps * k["path_share"] * dt, k["path_p95_ms"] / 1000)
            for name in BUMPABLE:
                self.security[name] += max(k[name], 0.0) / 60 * dt
            self.rates = {"canary_rps": round(canary_rps, 3), "stable_rps": round(stable_rps, 3)}

    def run(self) -> None:
        while not self._stop.wait(0.25):
            self.tick()

    def stop(self) -> None:
        self._stop.set()

    def exposition(self) -> str:
        with self.lock:
            k = self.knobs
            out = ["# HELP http_requests_total Requests served by the IntelGraph API.", "# TYPE http_requests_total counter"]
            for (track, code), value in sorted(self.requests.items()):
                if track == "baseline" and not value:
                    continue  # no baseline track until the judge's lab asks for one
                out.append(f'http_requests_total{{app="{APP}",env="production",track="{track}",code="{code}"}} {value!r}')
            out.append("# TYPE http_request_duration_seconds histogram")
            out += self.api.lines("http_request_duration_seconds", f'app="{APP}",env="production",track="canary"')
            out += self.staging.lines("http_request_duration_seconds", f'app="{APP}",env="staging"')
            if self.baseline.count:
                out += self.baseline.lines("http_request_duration_seconds", f'app="{APP}",env="production",track="baseline"')
            out.append("# TYPE graph_path_query_duration_seconds histogram")
            out += self.path.lines("graph_path_query_duration_seconds", f'app="{APP}",hops="3",track="canary"')
            for name, metric in (("cross_tenant", "intelgraph_cross_tenant_access_total"),
                                 ("residency", "intelgraph_residency_violations_total"),
                                 ("opa_violations", "opa_policy_violations_total")):
                out.append(f"# TYPE {metric} counter")
                out.append(f'{metric}{{app="{APP}",track="canary"}} {self.security[name]!r}')
            out.append("# TYPE intelgraph_cost_delta_ratio gauge")
            out.append(f'intelgraph_cost_delta_ratio{{env="production"}} {k["cost_delta"]!r}')
            out.append("# TYPE intelgraph_cost_month_to_date_usd gauge")
            out.append(f'intelgraph_cost_month_to_date_usd{{category="infrastructure"}} {k["spend_infra"]!r}')
            out.append(f'intelgraph_cost_month_to_date_usd{{category="llm_usage"}} {k["spend_llm"]!r}')
            out.append("# TYPE intelgraph_slo_compliance gauge")
            out.append(f'intelgraph_slo_compliance{{env="staging"}} {k["slo_compliance"]!r}')
            if k["alerts_firing"] > 0:
                out.append("# TYPE ALERTS gauge")
                for i in range(int(k["alerts_firing"])):
                    out.append(f'ALERTS{{alertname="LabAlert{i}",alertstate="firing",severity="warning"}} 1')
        return "\n".join(out) + "\n"


# --- Prometheus ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, within_s: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class LabPrometheus:
    """The Debian prometheus scraping the exporter every second; same port and tsdb on restart."""

    def __init__(self, workdir: Path, target: str, port: int | None = None, *, drop_target_labels: bool = True) -> None:
        self.binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.promtool = shutil.which("promtool") or "/usr/bin/promtool"
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.config = workdir / "prometheus.yml"
        workdir.mkdir(parents=True, exist_ok=True)
        # labeldrop job/instance: the scraped series are the backfilled ones, whatever the port
        drop = '    metric_relabel_configs:\n      - action: labeldrop\n        regex: "job|instance"\n'
        self.config.write_text(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: intelgraph
    static_configs:
      - targets: ["{target}"]
""" + (drop if drop_target_labels else ""))

    def backfill(self, slo: float) -> None:
        """26 h of intelgraph_slo_compliance{env="staging"} before now, once per tsdb, so the
        preflight's `min_over_time(avg_over_time(...[1h])[24h:1h])` has a whole day to look at."""
        marker = self.workdir / "backfilled"
        if marker.exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        now = int(time.time()) - 120
        lines = ["# TYPE intelgraph_slo_compliance gauge"]
        lines += [f'intelgraph_slo_compliance{{env="staging"}} {slo} {t}' for t in range(now - 26 * 3600, now, 60)]
        lines.append("# EOF")
        source = self.workdir / "backfill.om"
        source.write_text("\n".join(lines) + "\n")
        done = subprocess.run([self.promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(self.data)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {done.stderr[-500:]}")
        marker.write_text(str(now))

    def start(self) -> None:
        if self.running():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "prometheus.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=30d",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        if not _wait(f"{self.url}/-/ready", 30, self.proc):
            tail = (self.workdir / "prometheus.log").read_text(errors="replace")[-800:]
            self.stop()
            raise RuntimeError(f"prometheus not ready: {tail}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.running():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


# --- the plan -----------------------------------------------------------------------------------


def _seconds(text: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1}
    total, num = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            num += ch
        else:
            total += float(num) * units[ch]
            num = ""
    return total


def secrets_token(name: str) -> str:
    """A lab secret shaped as a real one (hex, no words), so that scrubbing it blanks no channel name."""
    return hashlib.sha256(f"cockpit-lab-{name}".encode()).hexdigest()[:32]


def write_plan(lab_dir: Path, control: str, prom_url: str, admin_socket: str, args: argparse.Namespace,
               etcd_endpoints: list[str] | None = None) -> Path:
    """config.example.toml pointed at the lab: its queries untouched, its clocks shortened; with etcd
    endpoints, the record kept on them (`[state] store = "etcd"`) under the lab's prefix."""
    import tomli_w

    if getattr(args, "judge", False):
        from cockpit.seed import judged_seed_text

        data = tomllib.loads(judged_seed_text((ROOT / "config.example.toml").read_text()))
        data["judge"]["interval"] = args.judge_interval
    else:
        data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["state_dir"] = str(lab_dir / "state")
    data["prometheus"].update(url=prom_url, timeout="2s", poll_interval=args.poll, step=args.step)
    for phase in data["phases"]:
        phase["soak"] = args.soak
    fors = {"api_p95_regression": args.for_latency, "path_p95": args.for_latency, "error_rate": args.for_errors}
    for trig in data["triggers"]:
        if trig["id"] in fors:
            trig["for"] = fors[trig["id"]]
        if "interval" in trig:
            trig["interval"] = "1m"
    probe = [sys.executable, str(Path(__file__).resolve()), "probe", control]
    for check in data["preflight"]:
        if check["id"] in ("image_provenance", "data_plane"):
            check["argv"] = probe + [check["id"]]
            check["timeout"] = "20s"
        elif check["id"] == "secrets":
            check["url"] = f"{control}/vault/v1/sys/health"
            check["timeout"] = "3s"
        elif check["type"] == "report":
            report = lab_dir / check["file"]
            report.parent.mkdir(parents=True, exist_ok=True)
            if not report.exists():
                report.write_text(json.dumps({"summary": {"critical": 0, "high": 2, "medium": 7}}))
            check["file"] = str(report)
    data["gateways"] = {"edge": {"type": "haproxy", "socket": admin_socket, "backend": "be_app",
                                 "canary_server": "canary", "stable_server": "stable"}}
    data["kill_switch"]["verify_within"] = "2m"
    for level in data["escalation"]:
        if "ack_timeout" in level:
            level["ack_timeout"] = args.ack
    secrets = lab_dir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets, 0o700)
    for name, channel in data.get("channels", {}).items():
        slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
        secret = secrets / slug
        if channel["type"] == "slack":
            secret.write_text(f"{control}/hook/{slug}\n")
            channel["url"] = {"file": str(secret)}
        elif channel["type"] == "pagerduty":
            secret.write_text(f"{secrets_token(slug)}\n")  # 32 hex digits, as PagerDuty's are: no words in it
            channel["routing_key"] = {"file": str(secret)}
            channel["url"] = f"{control}/hook/{slug}"
        os.chmod(secret, 0o600)
        channel.update(retries=1, timeout="2s", backoff="1s")
    for alert in data["budget"]["alerts"]:
        if "spend_control" in alert:
            alert["spend_control"] = {"argv": probe + ["spend_control"], "timeout": "20s"}
    data["evidence"]["dir"] = str(lab_dir / "evidence")
    if etcd_endpoints:
        data["state"] = {"store": "etcd", "endpoints": etcd_endpoints, "prefix": ETCD_PREFIX}
    path = lab_dir / "plan.toml"
    header = (f"# Written by `python -m tests.lab up {lab_dir}`: config.example.toml pointed at the lab.\n"
              f"# Prometheus {prom_url}, HAProxy {admin_socket} (backend be_app), control {control}\n\n")
    path.write_text(header + tomli_w.dumps(data))
    return path


# --- the control server -------------------------------------------------------------------------


class Lab:
    def __init__(self, lab_dir: Path, args: argparse.Namespace) -> None:
        self.dir = lab_dir.resolve()
        self.args = args
        self.hooks: list[dict] = []
        self.checks_run: list[dict] = []
        self.haproxy = None
        self.prom: LabPrometheus | None = None
        self.sim: Simulation | None = None
        self.etcd = None  # `up --etcd`: tests.etcd_cluster.Cluster, three members on loopback
        self.server: ThreadingHTTPServer | None = None
        self.control = ""
        self.lock = threading.Lock()

    # one handler for the exporter, the knobs, the faults, the webhooks and the checks
    def handler(self):
        lab = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _send(self, status: int, body: str | dict | list, kind: str = "application/json") -> None:
                data = (body if isinstance(body, str) else json.dumps(body, indent=1) + "\n").encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                try:
                    status, body, kind = lab.route(url.path, query)
                except Exception as exc:  # the control server answers, whatever went wrong
                    status, body, kind = 500, {"error": f"{type(exc).__name__}: {exc}"}, "application/json"
                self._send(status, body, kind)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                with lab.lock:
                    lab.hooks.append({"at": time.strftime("%H:%M:%S", time.gmtime()), "path": path, "body": body})
                    del lab.hooks[:-500]
                text = body.get("text") if isinstance(body, dict) else None
                summary = (body.get("payload") or {}).get("summary") if isinstance(body, dict) and "payload" in body else None
                lab.say(f"webhook {path}: {text or summary or (body.get('event_action') if isinstance(body, dict) else body)}")
                self._send(202 if path.endswith("pagerduty-sre") or "pagerduty" in path else 200,
                           {"status": "success"} if "pagerduty" in path else "ok",
                           "application/json" if "pagerduty" in path else "text/plain")

            do_PUT = do_POST

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def say(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S', time.gmtime())} lab: {text}", flush=True)

    def route(self, path: str, query: dict[str, str]) -> tuple[int, object, str]:
        sim = self.sim
        if path == "/metrics":
            if sim.knobs["scrape_fail"]:
                return 500, "scrape_fail knob is set\n", "text/plain"
            return 200, sim.exposition(), "text/plain; version=0.0.4"
        if path == "/knobs":
            return 200, sim.knobs, "application/json"
        if path == "/set":
            unknown = [k for k in query if k not in KNOBS]
            if unknown:
                return 400, {"error": f"unknown knob(s) {unknown}", "knobs": sorted(KNOBS)}, "application/json"
            try:
                values = {k: float(v) for k, v in query.items()}
            except ValueError as exc:
                return 400, {"error": str(exc)}, "application/json"
            with sim.lock:
                sim.knobs.update(values)
            self.say(f"set {values}")
            return 200, sim.knobs, "application/json"
        if path == "/bump":
            unknown = [k for k in query if k not in BUMPABLE]
            if unknown:
                return 400, {"error": f"bump only {BUMPABLE}"}, "application/json"
            with sim.lock:
                for k, v in query.items():
                    sim.security[k] += max(float(v), 0.0)
            self.say(f"bump {query}")
            return 200, sim.security, "application/json"
        if path == "/fault":
            return 200, self.fault(query), "application/json"
        if path == "/status":
            return 200, self.status(), "application/json"
        if path == "/haproxy":  # one runtime-API command, e.g. ?cmd=get weight be_app/canary
            cmd = query.get("cmd", "show servers state be_app")
            if any(c in cmd for c in ";\r\n"):
                return 400, {"error": "one command, without ; or line breaks"}, "application/json"
            try:
                return 200, sim._ask(cmd), "text/plain"
            except OSError as exc:
                return 503, {"error": f"haproxy admin socket: {exc}"}, "application/json"
        if path == "/hooks":
            with self.lock:
                hooks = list(self.hooks)
                if query.get("clear"):
                    self.hooks.clear()
            return 200, hooks, "application/json"
        if path.startswith("/check/"):
            name = path.removeprefix("/check/")
            delay = sim.knobs["check_delay_s"]
            if delay > 0:
                time.sleep(min(delay, 600))
            ok = {"image_provenance": sim.knobs["image_signed"] > 0,
                  "data_plane": sim.knobs["data_plane_ok"] > 0}.get(name, True)
            with self.lock:
                self.checks_run.append({"at": time.strftime("%H:%M:%S", time.gmtime()), "check": name, "ok": ok})
                del self.checks_run[:-200]
            detail = {"image_provenance": "cosign: signatures verified, SBOM attestation present" if ok else
                      "cosign: no matching signatures (image_signed=0)",
                      "data_plane": "S3 us-west-2 buckets: residency US, KMS CMK ok" if ok else
                      "S3 bucket intelgraph-prod-eu: residency EU (data_plane_ok=0)"}.get(name, f"{name} ran")
            return (200 if ok else 412), {"ok": ok, "detail": detail}, "application/json"
        if path == "/vault/v1/sys/health":
            sealed = sim.knobs["vault_sealed"] > 0
            return (503 if sealed else 200), {"initialized": True, "sealed": sealed, "standby": False}, "application/json"
        return 404, {"error": f"no {path}", "try": ["/knobs", "/set?k=v", "/bump?k=v", "/fault?prometheus=stop",
                                                    "/status", "/hooks", "/metrics"]}, "application/json"

    def fault(self, query: dict[str, str]) -> dict:
        if "etcd_member" in query:
            return self.etcd_fault(query.get("etcd_member", ""), query.get("action", ""))
        done = {}
        for what, how in query.items():
            if what not in ("prometheus", "haproxy") or how not in ("stop", "kill", "start", "hang", "resume"):
                done[what] = f"refused: give prometheus|haproxy = stop|kill|start|hang|resume, not {what}={how}"
                continue
            if how in ("hang", "resume"):  # SIGSTOP / SIGCONT: it holds its sockets and answers nothing
                proc = self.prom.proc if what == "prometheus" else self.haproxy.process
                if proc is None or proc.poll() is not None:
                    done[what] = "stopped"
                else:
                    proc.send_signal(signal.SIGSTOP if how == "hang" else signal.SIGCONT)
                    done[what] = "hung" if how == "hang" else "running"
                self.say(f"fault {what}={how}: {done[what]}")
                continue
            if what == "prometheus" and self.prom.running():
                self.prom.proc.send_signal(signal.SIGCONT)  # a hung one stops or restarts too
            if what == "haproxy" and self.haproxy.process and self.haproxy.process.poll() is None:
                self.haproxy.process.send_signal(signal.SIGCONT)
            if what == "prometheus":
                if how == "start":
                    self.prom.start()
                else:
                    self.prom.stop(signal.SIGKILL if how == "kill" else signal.SIGTERM)
                done[what] = "running" if self.prom.running() else "stopped"
            else:
                if how == "start":
                    if not (self.haproxy.process and self.haproxy.process.poll() is None):
                        self.haproxy.start()
                elif self.haproxy.process and self.haproxy.process.poll() is None:
                    if how == "kill":
                        self.haproxy.process.kill()
                        self.haproxy.process.wait(timeout=5)
                        self.haproxy.process = None
                    else:
                        self.haproxy.stop()
                done[what] = "running" if self.haproxy.process and self.haproxy.process.poll() is None else "stopped"
            self.say(f"fault {what}={how}: {done[what]}")
        self.write_info()
        return done

    def etcd_fault(self, which: str, action: str) -> dict:
        """`/fault?etcd_member=N&action=stop|cont|kill|start`: SIGSTOP (a member that answers nothing, a
        partition from its side), SIGCONT, SIGKILL, or start a killed one again on its data dir."""
        if self.etcd is None:
            return {"etcd_member": "refused: the lab runs without etcd (start it with `up --etcd`)"}
        n = len(self.etcd.members)
        if not which.isdigit() or not 1 <= int(which) <= n or action not in ("stop", "cont", "kill", "start"):
            return {"etcd_member": f"refused: give etcd_member=1..{n}&action=stop|cont|kill|start, "
                                   f"not etcd_member={which}&action={action}"}
        member = self.etcd.members[int(which) - 1]
        if action == "start":
            if not member.alive:
                initial = ",".join(f"{m.name}={m.peer_url}" for m in self.etcd.members)
                member.start(initial, f"cockpit-lab-{self.etcd.members[0].client_port}")
        elif not member.alive:
            pass
        elif action == "kill":
            member.kill()
        elif action == "stop":
            member.stop()
        else:
            member.cont()
        done = {"etcd_member": which, "url": member.url, "state": etcd_state(member)}
        self.say(f"fault etcd member {which} ({member.url}) {action}: {done['state']}")
        self.write_info()
        return done

    def etcd_info(self) -> list[dict] | None:
        if self.etcd is None:
            return None
        return [{"member": i + 1, "url": m.url, "pid": m.proc.pid if m.alive else None, "state": etcd_state(m),
                 "data_dir": str(m.data_dir), "log": str(m.log)} for i, m in enumerate(self.etcd.members)]

    def status(self) -> dict:
        with self.sim.lock:
            weights, rates = dict(self.sim.weights), dict(self.sim.rates)
        return {
            "prometheus": {"url": self.prom.url, "pid": self.prom.proc.pid if self.prom.running() else None},
            "haproxy": {"socket": self.haproxy.socket, "frontend": self.haproxy.url,
                        "pid": self.haproxy.process.pid if self.haproxy.process and self.haproxy.process.poll() is None else None},
            "weights": weights, "rates": rates, "knobs": self.sim.knobs,
            "hooks_received": len(self.hooks), "checks_run": self.checks_run[-10:],
            **({"etcd": self.etcd_info()} if self.etcd is not None else {}),
        }

    def write_info(self) -> None:
        info = {
            "control": self.control, "prometheus": self.prom.url, "prometheus_pid": self.prom.proc.pid if self.prom.running() else None,
            "haproxy_socket": self.haproxy.socket, "haproxy_frontend": self.haproxy.url, "backend": "be_app",
            "haproxy_pid": self.haproxy.process.pid if self.haproxy.process and self.haproxy.process.poll() is None else None,
            "plan": str(self.dir / "plan.toml"), "state_dir": str(self.dir / "state"), "lab_pid": os.getpid(),
            **({"etcd": self.etcd_info(), "etcd_prefix": ETCD_PREFIX} if self.etcd is not None else {}),
        }
        tmp = self.dir / "lab.json.tmp"
        tmp.write_text(json.dumps(info, indent=1) + "\n")
        tmp.replace(self.dir / "lab.json")

    def up(self) -> None:
        from tests.integration.haproxy import LoopbackHAProxy, find_haproxy

        self.dir.mkdir(parents=True, exist_ok=True)
        binary = find_haproxy()
        if not binary or not shutil.which("prometheus"):
            raise SystemExit("lab: needs the Debian packages prometheus and haproxy (make system-deps)")
        gw_dir = self.dir / "hap"
        if len(str(gw_dir / "admin.sock")) > 100:  # unix socket paths stop at 108 bytes
            import tempfile
            gw_dir = Path(tempfile.mkdtemp(prefix="labgw", dir="/tmp"))
        gw_dir.mkdir(parents=True, exist_ok=True)
        self.haproxy = LoopbackHAProxy(binary, dir=gw_dir)
        self.haproxy.start()
        self.sim = Simulation(self.haproxy.socket)
        self.sim.knobs["rps"] = self.args.rps
        if self.args.judge:  # a baseline track beside the canary, and noise for the judge to see through
            self.sim.knobs.update(baseline_rps=20, p95_noise=0.1)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.args.port), self.handler())
        self.server.daemon_threads = True
        self.control = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        threading.Thread(target=self.sim.run, daemon=True).start()
        self.prom = LabPrometheus(self.dir / "prometheus", f"127.0.0.1:{self.server.server_address[1]}")
        self.prom.backfill(KNOBS["slo_compliance"])
        self.prom.start()
        if self.args.etcd:
            self.etcd = start_etcd(self.dir / "etcd")
        plan = write_plan(self.dir, self.control, self.prom.url, self.haproxy.socket, self.args,
                          self.etcd.endpoints if self.etcd is not None else None)
        self.write_info()
        cockpit = ROOT / ".venv" / "bin" / "cockpit"
        cockpit_cmd = str(cockpit) if cockpit.exists() else "cockpit"
        check = subprocess.run([cockpit_cmd, "check-config", str(plan)], capture_output=True, text=True, cwd=ROOT)
        verdict = "valid" if check.returncode == 0 else f"INVALID (exit {check.returncode})"
        observe = (f"--config {plan}   (on etcd: any host with a copy of the plan, its own state_dir)"
                   if self.etcd is not None else f"--state-dir {self.dir / 'state'}")
        print(f"""
lab up in {self.dir}  (Ctrl-C stops everything)
  plan:        {plan}  -> check-config: {verdict}
{(check.stdout + check.stderr).strip()}
  prometheus:  {self.prom.url}  pid {self.prom.proc.pid}   (tsdb {self.prom.data})
  haproxy:     socket {self.haproxy.socket}  frontend {self.haproxy.url}  pid {self.haproxy.process.pid}
  control:     {self.control}   (exporter at /metrics)
{self.etcd_lines()}
  the captain:   {cockpit_cmd} run --config {plan}
  an observer:   {cockpit_cmd} observe {observe}
  status:        {cockpit_cmd} status --config {plan} [--json]
  verify:        {cockpit_cmd} verify --config {plan}
  kill from CLI: {cockpit_cmd} kill --config {plan} --reason "lab" --confirm v0.1.0
  next rollout:  {sys.executable} -m tests.lab again {self.dir} b   (plan-b.toml, state-b/)

  knobs:         curl -s '{self.control}/knobs'
                 curl -s '{self.control}/set?error_ratio=0.05'      (error_rate trigger >= 2 %)
                 curl -s '{self.control}/set?p95_ms=900'            (api_p95_regression, gate api_p95)
                 curl -s '{self.control}/bump?cross_tenant=1'       (security_violation, for 0s)
                 curl -s '{self.control}/set?image_signed=0'        (supply_chain, preflight)
  faults:        curl -s '{self.control}/fault?prometheus=stop'     (stop|kill|start)
                 curl -s '{self.control}/fault?haproxy=stop'        (stop|kill|start; restart resets weights)
                 curl -s '{self.control}/fault?prometheus=hang'     (hang|resume: SIGSTOP/SIGCONT, answers nothing)
                 curl -s '{self.control}/set?scrape_fail=1'         (the exporter's scrape fails)
{"                 curl -s '" + self.control + "/fault?etcd_member=1&action=stop'   (stop|cont|kill|start: SIGSTOP/SIGCONT/SIGKILL, start again)" + chr(10) if self.etcd else ""}  see:           curl -s '{self.control}/status'   curl -s '{self.control}/hooks'
  haproxy:       curl -s '{self.control}/haproxy?cmd=get+weight+be_app/canary'   (any runtime-API command)
""", flush=True)

    def etcd_lines(self) -> str:
        if self.etcd is None:
            return ""
        members = "\n".join(f"               member {i + 1}: {m.url}  pid {m.proc.pid}"
                             for i, m in enumerate(self.etcd.members))
        return f"  etcd:        [state] store = \"etcd\", prefix {ETCD_PREFIX}  (data in {self.dir / 'etcd'})\n{members}\n"

    def down(self) -> None:
        stop_cockpits(self.dir)  # before etcd, Prometheus and HAProxy go: a guard outlives the screen that started it
        if self.etcd is not None:
            self.etcd.close()
        for proc in (self.prom.proc if self.prom else None, self.haproxy.process if self.haproxy else None):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a hung process cannot stop
        if self.sim:
            self.sim.stop()
        if self.prom:
            self.prom.stop()
        if self.haproxy:
            self.haproxy.close() if str(self.haproxy.dir).startswith("/tmp/labgw") else self.haproxy.stop()
            for server in (self.haproxy.stable, self.haproxy.canary):
                server.shutdown()
                server.server_close()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        try:
            (self.dir / "lab.json").unlink()
        except OSError:
            pass


def stop_cockpits(lab_dir: Path, within_s: float = 10.0) -> list[int]:
    """SIGTERM every cockpit on one of this lab's plans and wait for it to stop: the screens first
    (a captain's screen starts a guard again when its guard stops), then the guards they started
    detached, in sessions of their own. The pids stopped."""
    stopped = []
    for commands in (("run", "observe", "demo"), ("guard",)):
        found = [pid for pid, argv in _cockpits(lab_dir.resolve()) if any(c in argv for c in commands)]
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and any(_running(pid) for pid in found):
            time.sleep(0.1)
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped += found
    return stopped


def _cockpits(lab_dir: Path) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process whose `--config` is a plan in `lab_dir`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "--config" in argv and argv.index("--config") + 1 < len(argv):
            config = Path(argv[argv.index("--config") + 1])
            if config.is_absolute() and config.resolve().parent == lab_dir and int(proc.name) != os.getpid():
                found.append((int(proc.name), argv))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a guard ended whose parent, the captain's screen, has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def etcd_state(member) -> str:
    return "killed" if not member.alive else "stopped (SIGSTOP)" if member.stopped else "running"


def start_etcd(workdir: Path):
    """Three etcd members on loopback (tests/etcd_cluster.py), each on a fresh data dir: the lab's
    record starts empty every `up`, as a state dir of a new lab does."""
    from tests.etcd_cluster import ETCD, Cluster

    if not Path(ETCD).exists():
        raise SystemExit("lab: --etcd needs the Debian package etcd-server (make system-deps)")
    shutil.rmtree(workdir, ignore_errors=True)
    cluster = Cluster(workdir, n=3)
    initial = ",".join(f"{m.name}={m.peer_url}" for m in cluster.members)
    for m in cluster.members:  # the lab's own token: Lab.etcd_fault starts a killed member again with it
        m.start(initial, f"cockpit-lab-{cluster.members[0].client_port}")
    try:
        cluster.wait_ready()
    except Exception:
        cluster.close()
        raise
    return cluster


def cmd_up(args: argparse.Namespace) -> int:
    lab = Lab(Path(args.dir), args)
    stopping = threading.Event()

    def on_signal(signum, frame) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        lab.up()
        while not stopping.wait(1.0):
            pass
    finally:
        print("lab: stopping", flush=True)
        lab.down()
        print("lab: stopped", flush=True)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    """A preflight command: ask the control server whether check NAME passes (stdlib only)."""
    try:
        with urllib.request.urlopen(f"{args.url}/check/{args.name}", timeout=600) as answer:
            print(json.loads(answer.read()).get("detail", "ok"))
            return 0
    except urllib.error.HTTPError as exc:
        try:
            print(json.loads(exc.read()).get("detail", f"HTTP {exc.code}"))
        except ValueError:
            print(f"HTTP {exc.code}")
        return 1
    except OSError as exc:
        print(f"lab control server unreachable: {exc}")
        return 2


def cmd_again(args: argparse.Namespace) -> int:
    """DIR/plan-NAME.toml: DIR/plan.toml with its own state dir, for another rollout on the same lab."""
    lab_dir = Path(args.dir).resolve()
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in args.name)
    data = tomllib.loads((lab_dir / "plan.toml").read_text())
    data["state_dir"] = str(lab_dir / f"state-{name}")
    if data.get("state", {}).get("store") == "etcd":  # its own record on the lab's etcd too
        data["state"]["prefix"] = f"{data['state']['prefix']}-{name}"
    import tomli_w

    path = lab_dir / f"plan-{name}.toml"
    path.write_text(tomli_w.dumps(data))
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the lab in the foreground")
    up.add_argument("dir")
    up.add_argument("--port", type=int, default=0, help="the control/exporter port (default: a free one)")
    up.add_argument("--soak", default="2m", help="every phase's soak (default 2m)")
    up.add_argument("--poll", default="5s", help="prometheus.poll_interval (default 5s)")
    up.add_argument("--step", default="5s", help="prometheus.step (default 5s)")
    up.add_argument("--for-latency", default="1m", help="`for` of the latency triggers (default 1m)")
    up.add_argument("--for-errors", default="30s", help="`for` of the error_rate trigger (default 30s)")
    up.add_argument("--ack", default="3m", help="escalation ack_timeout (default 3m)")
    up.add_argument("--rps", type=float, default=KNOBS["rps"], help="the rps knob at start (default 200)")
    up.add_argument("--judge", action="store_true",
                    help="the seed's [judge] and judge criteria on, a baseline track and p95 noise (issue 23)")
    up.add_argument("--etcd", action="store_true",
                    help="a three-member etcd on loopback too, and the plan's record on it ([state] store = \"etcd\")")
    up.add_argument("--judge-interval", default="30s", help="judge.interval with --judge (default 30s)")
    up.set_defaults(func=cmd_up)
    again = sub.add_parser("again", help="DIR/plan-NAME.toml: the lab's plan with its own state dir")
    again.add_argument("dir")
    again.add_argument("name")
    again.set_defaults(func=cmd_again)
    probe = sub.add_parser("probe", help="(used by the plan's command checks)")
    probe.add_argument("url")
    probe.add_argument("name")
    probe.set_defaults(func=cmd_probe)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(ROOT))
    import urllib.error  # noqa: F401 (probe)
    sys.exit(main())
