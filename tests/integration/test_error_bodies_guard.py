"""A real guard process on a real Prometheus and a real HAProxy, paging through channels that fail:
every channel echoes its secret URL's path in 400 and 500 bodies, or answers 500 with 400 KB.
The kill lands at its due time all the same, and no piece of a token reaches the journal,
guard.log, the guard's stderr, the report (md and html) or an evidence bundle, while the words
of a secret URL (a channel's name) stay readable in guard.log.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w

from cockpit.core.state import fold
from cockpit.store.locks import guard_holder
from tests.conftest import ROOT
from tests.integration.prom import PromServer
from tests.integration.test_cli_traffic import Captain, canary_about, canary_hits, cockpit
from tests.integration.test_guard_processes import (
    BAD,
    ERRORS,
    FOR_S,
    POLL_S,
    STEP_S,
    breach_began,
    first,
    guarded_config,
    records,
    stop_guards,
    wait_for,
    watched,
)
from tests.receiver import Answer, Receiver
from tests.test_redact import TOKEN, pieces_in

pytestmark = pytest.mark.integration

TOKEN2 = "Zq9xW2eR7tY5uI3oP1aS"  # the #error-budget hook's token, after words that name channels
ROUTING_KEY = "R0UT1NG-K3Y-5e5e5e5e5e5e"
SLACK_ENVS = ("COCKPIT_SLACK_SRE_URL", "COCKPIT_SLACK_SECURITY_URL", "COCKPIT_SLACK_RELEASE_URL",
              "COCKPIT_SLACK_FINOPS_URL")


def paging_config(tmp_path: Path, haproxy, prom: PromServer, rx: Receiver, *, retries: int, backoff: float,
                  page_trigger: bool = False) -> tuple[Path, dict[str, str]]:
    """guarded_config with every channel on the receiver; (config, the guard's environment)."""
    config = guarded_config(tmp_path, haproxy, prom)
    data = tomllib.loads(config.read_text())
    for ch in data["channels"].values():
        ch.update(retries=retries, backoff=backoff, timeout=5)
    data["channels"]["pagerduty_sre"]["url"] = f"{rx.url}/v2/enqueue"
    if page_trigger:  # pages from the first round on, so deliveries fail all through the soak
        data["triggers"].append({
            "id": "latency_page", "name": "Latency (page only)", "query": "it_canary_latency_s", "comparison": ">",
            "threshold": 1.0, "for": "0s", "action": "page", "level": "L1", "no_data": "hold", "unit": "s",
        })
    config.write_text(tomli_w.dumps(data))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_PD_SRE_ROUTING_KEY": ROUTING_KEY,
           **{name: f"{rx.url}/{TOKEN}/hook" for name in SLACK_ENVS},
           "COCKPIT_SLACK_ERROR_BUDGET_URL": f"{rx.url}/hooks/error-budget/{TOKEN2}"}
    return config, env


def guard(config: Path, env: dict[str, str], err: Path) -> subprocess.Popen:
    """`cockpit guard` in the foreground (its log on stderr, as an operator would watch it)."""
    return subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config)],
                            stdout=err.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)


def guarding(state_dir: Path, proc: subprocess.Popen) -> None:
    wait_for("the guard holds the lock", lambda: (guard_holder(state_dir) or {}).get("pid") == proc.pid, 20)


def kill_on_time(state_dir: Path, haproxy, prom: PromServer) -> datetime:
    """The kill confirmed, the canary's weight read back 0 within one poll of the due time (returned)."""
    result = wait_for("the kill's result", lambda: first(state_dir, "kill_result"), FOR_S + 60)
    due = datetime.fromtimestamp(breach_began(prom) + FOR_S, UTC)
    assert result.payload.confirmed and result.payload.observed_weight == 0
    assert due - timedelta(seconds=STEP_S) <= result.ts <= due + timedelta(seconds=POLL_S + STEP_S + 3), (result.ts, due)
    assert canary_hits(haproxy) == 0
    return due


def test_a_secret_url_echoed_in_400_and_500_bodies_leaves_no_piece_of_its_token_anywhere(tmp_path, haproxy):
    echoes = [Answer(500, body="no route for POST {path}"), Answer(400, body="." * 100 + " {path} (unknown hook)"),
              Answer(500, body='{"error":"' + "." * 113 + '{path}"}'), Answer(400, body="<pre>bad hook {path}</pre>")]
    with watched(tmp_path) as (prom, exporter), Receiver(*echoes) as rx:
        config, env = paging_config(tmp_path, haproxy, prom, rx, retries=1, backoff=0.05)
        captain = Captain(config)
        captain.go_live()
        captain.engine.journal.close()
        state_dir = captain.state_dir
        proc = guard(config, env, tmp_path / "guard.err")
        try:
            guarding(state_dir, proc)
            exporter.set(**{ERRORS: BAD})
            kill_on_time(state_dir, haproxy, prom)
            wait_for("the guard stops by itself", lambda: proc.poll() is not None, 60)
        finally:
            if proc.poll() is None:
                proc.kill()
            stop_guards(state_dir)
        done = [r.payload for r in records(state_dir) if r.kind == "notified"]
        assert {n.channel for n in done} >= {"#sre-oncall", "pagerduty_sre", "#error-budget"}
        assert all(not n.delivered and n.error.startswith(("HTTP 400", "HTTP 500")) for n in done)
        assert {s.path for s in rx.seen} >= {f"/{TOKEN}/hook", f"/hooks/error-budget/{TOKEN2}"}  # the secret was used
        evidence = cockpit("evidence", "--rollback", "--config", str(config), env=env)
        assert evidence.returncode in (0, 1), evidence.stderr  # 1: incomplete (no Grafana here), still written
        for fmt in ("md", "html"):
            made = cockpit("report", "--state-dir", str(state_dir), "--format", fmt, "-o", str(tmp_path / f"report.{fmt}"))
            assert made.returncode == 0, made.stderr

    guard_log = (state_dir / "guard.log").read_text()
    assert "NOT SENT to #error-budget" in guard_log and "NOT SENT to #sre-oncall" in guard_log  # its words stay words
    assert "/<redacted>/hook" in (state_dir / "journal.jsonl").read_text()
    looked = []
    for path in [tmp_path / "guard.err", tmp_path / "report.md", tmp_path / "report.html", *tmp_path.rglob("*")]:
        if path.is_file() and "prom" not in path.relative_to(tmp_path).parts:
            text = path.read_bytes().decode(errors="replace")
            for secret in (TOKEN, TOKEN2, ROUTING_KEY):
                assert not pieces_in(text, secret), f"{path}: {pieces_in(text, secret)}"
            looked.append(path.relative_to(tmp_path).as_posix())
    assert {"guard.err", "report.md", "report.html", "state/journal.jsonl", "state/guard.log"} <= set(looked)
    assert any(p.startswith("IntelGraph") or "/rollback/" in p for p in looked), looked  # an evidence bundle


def test_channels_answering_500_with_400_kb_never_delay_the_kill(tmp_path, haproxy):
    """Item 2 of issue 20: with every channel answering 500 and 400 KB of letters and digits, the
    guard froze on its first round (minutes scrubbing) and the breach was never acted on."""
    rng = random.Random(20)
    junk = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(4000))
    with watched(tmp_path, it_canary_latency_s=5.0) as (prom, exporter), \
            Receiver(Answer(500, body=junk, size=400_000, first=400_000)) as rx:
        # 5 retries from 0.5 s, doubling: each page is tried for 15 s, across the due time
        config, env = paging_config(tmp_path, haproxy, prom, rx, retries=5, backoff=0.5, page_trigger=True)
        captain = Captain(config)
        captain.go_live()
        assert canary_about(haproxy, 5)
        captain.engine.journal.close()
        state_dir = captain.state_dir
        proc = guard(config, env, tmp_path / "guard.err")
        try:
            wait_for("pages tried and failed", lambda: len(rx.seen) >= 4, 60)
            exporter.set(**{ERRORS: BAD})  # the breach begins while the channels fail
            due = kill_on_time(state_dir, haproxy, prom).timestamp() - time.time() + time.monotonic()
            assert rx.seen[3].at < due  # the channels were failing before the kill was due
            wait_for("a page tried before the kill was due and again after it", lambda: any(  # in flight across it
                s.at > due and any(t.at < due and (t.path, t.body) == (s.path, s.body) for t in rx.seen) for s in rx.seen), 60)
            wait_for("the pages given up", lambda: len([r for r in records(state_dir) if r.kind == "notified"]) >= 2, 90)
        finally:  # (a guard done with its rollout flushes deliveries that still retry: not this test's matter)
            proc.kill()
            proc.wait(timeout=30)
    done = [r.payload for r in records(state_dir) if r.kind == "notified"]
    assert done and all(not n.delivered and n.error.startswith("HTTP 500: ") for n in done)
    assert max(len(n.error) for n in done) <= 300 and all(len(t) <= 300 for n in done for t in n.tries)
    assert fold(records(state_dir)).status == "rolled_back"
