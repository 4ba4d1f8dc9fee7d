"""The acceptance lab (tests/lab.py) comes up, the seed plan's trigger queries get data from its
Prometheus, the canary's traffic follows the HAProxy weight, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.adapters.prometheus import PrometheusSource
from tests.conftest import ROOT
from tests.integration.haproxy import haproxy_or_skip
from tests.integration.prom import require_prometheus

pytestmark = pytest.mark.integration


def get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


def instant(prom: str, query: str) -> list[float]:
    body = json.loads(get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})))
    return [float(r["value"][1]) for r in body["data"]["result"]]


def wait_for(what: str, check, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if value := check():
                return value
        except OSError as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:g}s ({last})")


def test_the_lab_feeds_the_seed_plans_triggers_and_stops_cleanly():
    require_prometheus()
    haproxy_or_skip()
    lab_dir = Path(tempfile.mkdtemp(prefix="lab", dir="/tmp"))  # short: the admin socket lives here
    proc = subprocess.Popen([sys.executable, "-m", "tests.lab", "up", str(lab_dir)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        info = wait_for("lab.json", lambda: (lab_dir / "lab.json").exists() and json.loads((lab_dir / "lab.json").read_text()), 20)
        control, prom = info["control"], info["prometheus"]
        plan = tomllib.loads((lab_dir / "plan.toml").read_text())
        assert plan["prometheus"]["url"] == prom and plan["gateways"]["edge"]["socket"] == info["haproxy_socket"]
        check = subprocess.run([sys.executable, "-m", "cockpit", "check-config", str(lab_dir / "plan.toml")],
                               cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr

        json.loads(get(f"{control}/set?error_ratio=0.05&p95_ms=900"))
        for cmd in ("set weight be_app/canary 5", "set weight be_app/stable 95"):
            assert get(f"{control}/haproxy?" + urllib.parse.urlencode({"cmd": cmd})).strip() == ""
        wait_for("the canary's 10 rps", lambda: json.loads(get(f"{control}/status"))["rates"]["canary_rps"] == 10, 5)

        queries = {t["id"]: t["query"] for t in plan["triggers"] if "query" in t}
        queries["baseline"] = next(t["baseline"] for t in plan["triggers"] if "baseline" in t)
        queries["verify"] = plan["kill_switch"]["verify_query"]

        def all_answer():
            values = {name: instant(prom, q) for name, q in queries.items()}
            return values if all(v and not math.isnan(v[0]) for v in values.values()) else None

        values = wait_for("every trigger query answers a number", all_answer, 20)
        assert values["error_rate"][0] == pytest.approx(0.05, rel=0.02)
        assert values["api_p95_regression"][0] == pytest.approx(900, rel=0.02)
        assert values["baseline"][0] == pytest.approx(250, rel=0.02)
        assert values["path_p95"][0] == pytest.approx(800, rel=0.02)
        assert values["security_violation"] == [0]
        assert instant(prom, plan["preflight"][-1]["query"]) == [pytest.approx(0.9995)]  # staging_success, backfilled

        # The exporter's scrape fails: every trigger query still answers from the last minutes of
        # old samples, and `stopped` tells the monitor that the data behind them has stopped.
        source = PrometheusSource(prom, timeout_s=5)
        triggers = [name for name in queries if name not in ("baseline", "verify")]

        def stopped() -> dict[str, str]:
            at = datetime.now(UTC)
            return {name: source.stopped(queries[name], at).status for name in triggers}

        assert set(stopped().values()) == {"no_data"}  # live data
        get(f"{control}/set?scrape_fail=1")
        wait_for("every trigger's data has stopped", lambda: set(stopped().values()) == {"ok"}, 15)
        assert all(v and not math.isnan(v[0]) for v in (instant(prom, queries[t]) for t in triggers))  # still answering
        get(f"{control}/set?scrape_fail=0")
        wait_for("live data again", lambda: set(stopped().values()) == {"no_data"}, 15)
        source.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=5)
            raise AssertionError("the lab did not stop within 20 s of Ctrl-C") from None
        finally:
            shutil.rmtree(lab_dir, ignore_errors=True)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert b"lab: stopped" in out
    with pytest.raises(OSError):
        get(f"{prom}/-/ready", timeout=1)


def test_the_lab_on_etcd_writes_a_plan_whose_record_is_on_its_three_members_and_stops_them():
    """`up --etcd`: the plan says [state] store = "etcd" on the lab's three members (lab.json names
    them), check-config accepts it, a note goes to etcd (no journal in the state dir) and `status`
    reads it there, from a second plan whose state dir is elsewhere; a member killed through
    /fault is said killed and the record still reads; Ctrl-C stops every member."""
    require_prometheus()
    haproxy_or_skip()
    from tests.etcd_cluster import ETCD

    if not Path(ETCD).exists():
        pytest.fail(f"{ETCD} is missing: install the Debian package etcd-server (make system-deps)")
    lab_dir = Path(tempfile.mkdtemp(prefix="lab", dir="/tmp"))
    proc = subprocess.Popen([sys.executable, "-m", "tests.lab", "up", str(lab_dir), "--etcd"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})

    def cockpit(*args: str, plan: Path = lab_dir / "plan.toml") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cockpit", *args, "--config", str(plan)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    try:
        info = wait_for("lab.json", lambda: (lab_dir / "lab.json").exists() and json.loads((lab_dir / "lab.json").read_text()), 30)
        members = info["etcd"]
        assert [m["member"] for m in members] == [1, 2, 3] and all(m["state"] == "running" and m["pid"] for m in members)
        plan = tomllib.loads((lab_dir / "plan.toml").read_text())
        assert plan["state"] == {"store": "etcd", "endpoints": [m["url"] for m in members], "prefix": info["etcd_prefix"]}
        check = subprocess.run([sys.executable, "-m", "cockpit", "check-config", str(lab_dir / "plan.toml")],
                               cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr

        note = cockpit("note", "the lab on etcd")
        assert note.returncode == 0, note.stdout + note.stderr
        assert not list((lab_dir / "state").glob("journal*"))  # the record is on etcd, not in the state dir
        elsewhere = lab_dir / "elsewhere"  # a second host: its own state dir, its nearest member first
        elsewhere.mkdir()
        import tomli_w

        (elsewhere / "plan.toml").write_text(tomli_w.dumps(
            {**plan, "state_dir": str(elsewhere / "state"), "state": {**plan["state"], "endpoints": plan["state"]["endpoints"][::-1]}}))

        def noted(plan_path: Path) -> bool:
            status = cockpit("status", "--json", plan=plan_path)
            assert status.returncode == 0, status.stdout + status.stderr
            return any("the lab on etcd" in json.dumps(e) for e in json.loads(status.stdout)["last_events"])

        assert noted(elsewhere / "plan.toml")
        killed = json.loads(get(f"{info['control']}/fault?etcd_member=3&action=kill"))
        assert killed == {"etcd_member": "3", "url": members[2]["url"], "state": "killed"}
        assert [m["state"] for m in json.loads(get(f"{info['control']}/status"))["etcd"]] == ["running", "running", "killed"]
        assert noted(elsewhere / "plan.toml")  # its first endpoint is the one killed: the next answers
        refused = json.loads(get(f"{info['control']}/fault?etcd_member=4&action=stop"))
        assert refused["etcd_member"].startswith("refused: give etcd_member=1..3&action=stop|cont|kill|start")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=5)
            raise AssertionError("the lab did not stop within 20 s of Ctrl-C") from None
        finally:
            shutil.rmtree(lab_dir, ignore_errors=True)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    for m in members:
        with pytest.raises(ProcessLookupError):
            os.kill(m["pid"], 0)
