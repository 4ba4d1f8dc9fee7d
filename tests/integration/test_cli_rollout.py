"""A whole rollout driven from the command line only, as a script or a ChatOps bot would: a real
Prometheus fed healthy data, a real HAProxy, the guard the CLI starts judging triggers and gate
criteria. And the other side: while a captain's screen holds the captain lock, every captain
action from the CLI is refused naming the holder, while `cockpit kill` still works."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cockpit.core.state import fold
from cockpit.store.journal import Journal
from cockpit.store.locks import guard_holder, read_captain
from tests.conftest import ROOT
from tests.e2e.test_demo_tmux import Terminal
from tests.integration.haproxy import BACKEND
from tests.integration.prom import PromServer, Series
from tests.integration.test_cli_traffic import canary_about, canary_hits, cockpit, rollout_config
from tests.integration.test_guard_processes import stop_guards, wait_for

pytestmark = pytest.mark.integration

VERSION = "v0.1.0"
APPROVAL = "/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag"
STEP_S = 1


def healthy(now: float) -> list[Series]:
    """Every second from 20 minutes ago to 10 minutes ahead: a canary well inside every limit."""
    grid = [now - 1200 + k * STEP_S for k in range(1800)]
    return [
        Series("it_canary_error_ratio", {}, [(t, 0.004) for t in grid]),
        Series("it_canary_p95_ms", {}, [(t, 210.0) for t in grid]),
        Series("it_staging_slo", {}, [(t, 0.9995) for t in grid]),
    ]


def scripted_config(tmp_path: Path, haproxy, prom_url: str) -> Path:
    """The seed plan on the loopback HAProxy and Prometheus: checks, triggers and gate criteria on
    the backfilled series, 2-second soaks, 1-second polls."""
    path = rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})
    data = tomllib.loads(path.read_text())
    data["prometheus"] = {"url": prom_url, "timeout": "2s", "poll_interval": "1s", "step": f"{STEP_S}s"}
    data["preflight"] = [
        {"id": "staging_success", "name": "Staging Success", "type": "promql", "query": "it_staging_slo",
         "comparison": ">=", "threshold": 0.999},
        {"id": "builds", "name": "Builds", "type": "command", "argv": ["true"]},
    ]
    data["triggers"] = [
        {"id": "error_rate", "name": "Error Rate ≥ 2 %", "query": "it_canary_error_ratio", "comparison": ">=",
         "threshold": 0.02, "for": "5s", "action": "rollback", "level": "L1", "no_data": "hold", "unit": "ratio"},
        {"id": "api_p95", "name": "API p95 > 1200 ms", "query": "it_canary_p95_ms", "comparison": ">",
         "threshold": 1200, "for": "5s", "action": "rollback", "level": "L1", "no_data": "hold", "unit": "ms"},
    ]
    criteria = [
        {"id": "error_rate", "name": "Error rate < 1 %", "query": "it_canary_error_ratio", "comparison": "<",
         "threshold": 0.01, "unit": "ratio"},
        {"id": "api_p95", "name": "API p95 ≤ 350 ms", "query": "it_canary_p95_ms", "comparison": "<=",
         "threshold": 350, "unit": "ms"},
    ]
    for phase in data["phases"]:
        phase["soak"] = "2s"  # three samples at the 1 s step: a criterion held over the soak, not one reading
        phase["gate"]["auto"] = criteria
    data["kill_switch"]["verify_query"] = "it_canary_rps_never_backfilled"
    path.write_text(tomli_w.dumps(data))
    return path


def ok(*args: str) -> subprocess.CompletedProcess:
    res = cockpit(*args)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res


def status(config: Path) -> dict:
    return json.loads(cockpit("status", "--config", str(config), "--json").stdout)


def records(state_dir: Path):
    return Journal(state_dir, readonly=True).records


def test_a_rollout_through_every_phase_from_the_command_line_only(tmp_path, haproxy):
    with PromServer(tmp_path / "prom", healthy(time.time())) as prom:
        config = scripted_config(tmp_path, haproxy, prom.url)
        c = str(config)
        state_dir = tmp_path / "state"
        try:
            assert cockpit("status", "--config", c, "--json").returncode == 2  # not started: as the text says it
            assert status(config)["status"] == "not started"
            res = ok("preflight", "--config", c)
            assert "check staging_success: PASS" in res.stdout and "the start waits for: sign-off missing" in res.stdout
            ok("approve", APPROVAL, "--config", c, "--name", "@product-owner")
            for role in ("po", "tech_lead", "security", "sre", "finops"):
                res = ok("sign-off", role, "--config", c, "--name", f"{role}-person")
            assert "ready to start: cockpit start" in res.stdout

            res = ok("start", "--config", c, "--confirm", VERSION, "--json")
            doc = json.loads(res.stdout)
            assert (doc["outcome"], doc["status"], doc["phase"], doc["weight"]) == ("done", "LIVE", "Phase 1", 5)
            guard = doc["guard"]
            assert f"guard {guard} watches the triggers" in res.stderr  # the words, on stderr under --json
            assert canary_about(haproxy, 5)

            for phase, weight in ((1, 25), (2, 50), (3, 100), (4, None)):
                owners = tomllib.loads(config.read_text())["phases"][phase - 1]["gate"]["owners"]
                for role in owners:
                    ok("decide", str(phase), role, "go", "--config", c, "--name", f"{role}-person", "--note", "looks good")
                # the guard journals the criteria met once the soak is over; a script waits for that
                wait_for(f"phase {phase}'s gate passed", lambda: status(config)["advance_refusals"] == [], 60)
                if phase == 1:  # one step by `shift`: an advance by weight, the same gate
                    res = ok("shift", "--config", c, "--weight", "25", "--confirm", VERSION, "--json")
                else:
                    res = ok("advance", "--config", c, "--confirm", VERSION, "--json")
                doc = json.loads(res.stdout)
                if weight is not None:
                    assert (doc["weight"], doc["guard"]) == (weight, guard)  # the same guard watches
                    assert canary_about(haproxy, weight)
            assert doc["status"] == "COMPLETED" and "guard" not in doc
            assert canary_hits(haproxy) == 200  # the canary is the release

            wait_for("the guard stops by itself", lambda: guard_holder(state_dir) is None, 30)
            res = ok("reconcile", "--config", c, "--json")
            assert json.loads(res.stdout)["outcome"] == "done"
        finally:
            stop_guards(state_dir)
    journal = records(state_dir)
    kinds = [r.kind for r in journal]
    assert kinds.count("phase_started") == 4 and kinds[-2:] == ["guard_stopped", "gateway_reconciled"]
    assert kinds.count("guard_started") == 1 and f"{journal[kinds.index('guard_started')].payload.pid}@" in guard
    met = [(r.payload.phase, r.payload.criterion) for r in journal if r.kind == "criterion_evaluated" and r.payload.passed]
    assert sorted(met) == [(p, c) for p in range(4) for c in ("api_p95", "error_rate")]
    assert not any(r.kind in ("trigger_breached", "kill_requested") for r in journal)
    assert all(r.actor.role == "captain" for r in journal if r.kind in ("gate_decided", "phase_started", "signed_off"))
    assert fold(journal).status == "completed"
    assert cockpit("verify", "--state-dir", str(state_dir)).returncode == 0


def at_terminal(*args: str, typed: bytes) -> tuple[int, str]:
    """The CLI with a pty on stdin, as an operator at a terminal runs it."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", *args], stdin=follower, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(follower)
    os.write(leader, typed)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    return proc.returncode, out


def test_a_captains_screen_refuses_the_cli_but_not_its_kill(tmp_path, haproxy):
    config = rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})
    data = tomllib.loads(config.read_text())  # every check is waived below: no trigger re-runs one (that one may not be waived)
    data["triggers"] = [t for t in data["triggers"] if not t.get("check")]
    config.write_text(tomli_w.dumps(data))
    c = str(config)
    state_dir = tmp_path / "state"
    for check in ("image_provenance", "cve_status", "data_plane", "secrets", "staging_success"):
        ok("waive", check, "--config", c, "--reason", "verified by hand for the test")
    for role in ("po", "tech_lead", "security", "sre", "finops"):
        ok("sign-off", role, "--config", c, "--name", f"{role}-person")
    term = None
    try:
        code, out = at_terminal("start", "--config", c, typed=b"v0.2.0\n")
        assert code == 2 and f"Type the release version ({VERSION}) to confirm:" in out
        assert "refused: 'v0.2.0' is not the release version v0.1.0" in out and canary_hits(haproxy) == 0
        code, out = at_terminal("start", "--config", c, typed=f"{VERSION}\n".encode())
        assert code == 0, out
        assert "VERIFIED: the gateway reads canary 5 %" in out and "watches the triggers" in out
        assert canary_about(haproxy, 5)

        term = Terminal(f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m cockpit run --config {c}")
        term.wait_for("Phase 1 (1/4)")
        captain = wait_for("the screen holds the captain lock", lambda: read_captain(state_dir), 20)
        before = len(records(state_dir))
        for args in (["note", "from a script"], ["sign-off", "sre", "--name", "x"], ["decide", "1", "sre", "go", "--name", "x"],
                     ["advance", "--confirm", VERSION], ["shift", "--weight", "5", "--confirm", VERSION], ["reconcile"]):
            res = cockpit(*args, "--config", c, "--json")
            doc = json.loads(res.stdout)
            assert res.returncode == 3 and doc["outcome"] == "refused: captain lock held", args
            holder = f"captain lock held by {captain['user']}@{captain['host']} (pid {captain['pid']}"
            assert doc["refusals"][0].startswith(holder) and doc["written"] == [], args
            assert f"refused: {holder}" in res.stderr
        changed = ("note", "signed_off", "gate_decided", "traffic_shift_requested")
        assert not any(r.kind in changed for r in records(state_dir)[before:])

        res = cockpit("kill", "--config", c, "--reason", "p95 regression", "--confirm", VERSION, "--no-wait", "--json")
        doc = json.loads(res.stdout)
        assert res.returncode == 0 and doc["outcome"] == "done" and doc["status"] == "ROLLED BACK", res.stderr
        kinds = {r.seq: r.kind for r in records(state_dir)}
        assert [kinds[s] for s in doc["written"]][:2] == ["kill_requested", "kill_result"]
        assert canary_hits(haproxy) == 0
        term.wait_for("ROLLED BACK")  # the captain's screen folds the CLI's kill in
    finally:
        if term is not None:
            term.close()
        stop_guards(state_dir)
