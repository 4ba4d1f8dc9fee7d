"""The guard as separate processes on a real Prometheus and a real HAProxy: the captain's
terminal goes (SIGHUP, SIGKILL) and the rollout stays watched; a guard dies and its standby
takes over; two guards on one breach pull one kill.

Prometheus holds half an hour of healthy history and scrapes an exporter every second; the test
turns the error ratio bad once what must come first has happened (the captain gone, a standby in
charge). The trigger needs 6 s of breach, judged on a 1 s step every 2 s; each test reads when the
breach began from Prometheus and asserts *when* the kill lands.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w

from cockpit.core.state import fold
from cockpit.store.journal import Journal
from cockpit.store.locks import guard_holder, read_captain
from tests.conftest import ROOT
from tests.e2e.test_demo_tmux import Terminal
from tests.integration.haproxy import BACKEND
from tests.integration.prom import Exporter, PromServer, Series
from tests.integration.test_cli_traffic import Captain, canary_about, canary_hits, cockpit, rollout_config

pytestmark = pytest.mark.integration

STEP_S, FOR_S, POLL_S = 1, 6, 2  # a window of six steps and three rounds: "held for all of it" still means something
ERRORS = "it_canary_error_ratio"
GOOD, BAD, THRESHOLD = 0.004, 0.03, 0.02
HOST = socket.gethostname().split(".")[0]


def history(now: float, values: dict[str, float]) -> list[Series]:
    """Every 5 s for the last 30 minutes, each series at its value: what came before the test."""
    grid = [now - 1800 + k * 5 for k in range(360)]
    return [Series(name, {}, [(t, value) for t in grid]) for name, value in values.items()]


@contextmanager
def watched(tmp_path: Path, **values: float) -> Iterator[tuple[PromServer, Exporter]]:
    """A Prometheus with healthy history (errors 0.4 %, no canary traffic after a kill, unless
    `values` say otherwise), scraping an exporter that goes on from there as the test sets it."""
    values = {ERRORS: GOOD, "it_canary_rps": 0.0, **values}  # it_canary_rps: the canary's traffic after the kill
    with Exporter(**values) as exporter, PromServer(tmp_path / "prom", history(time.time(), values),
                                                     scrape=exporter) as prom:
        yield prom, exporter


def breach_began(prom: PromServer) -> float:
    """When the breach the guard acted on began: the first sample of the error ratio's last run at
    or over the threshold, as Prometheus holds it."""
    began = None
    for ts, value in prom.samples(ERRORS):
        began = (began or ts) if value >= THRESHOLD else None
    assert began is not None, prom.samples(ERRORS)[-5:]
    return began


def guarded_config(tmp_path: Path, haproxy, prom: PromServer) -> Path:
    """The seed plan on the loopback haproxy, one error trigger on the watched series, 2 s polls."""
    path = rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})
    import tomllib

    data = tomllib.loads(path.read_text())
    data["prometheus"] = {"url": prom.url, "timeout": "2s", "poll_interval": f"{POLL_S}s", "step": f"{STEP_S}s"}
    data["triggers"] = [{
        "id": "error_rate", "name": "Error Rate ≥ 2 %", "query": ERRORS, "comparison": ">=",
        "threshold": THRESHOLD, "for": f"{FOR_S}s", "action": "rollback", "level": "L1", "no_data": "hold", "unit": "ratio",
    }]
    data["kill_switch"].update(verify_query="it_canary_rps", verify_within="4s")
    path.write_text(tomli_w.dumps(data))
    return path


def records(state_dir: Path):
    return Journal(state_dir, readonly=True).records


def wait_for(what, check, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g}s")


def first(state_dir: Path, kind: str, **fields):
    for r in records(state_dir):
        if r.kind == kind and all(getattr(r.payload, k) == v for k, v in fields.items()):
            return r
    return None


def guard_processes(config: Path) -> list[int]:
    """The pids of every `cockpit guard` on this config: the holder and any standby (the screen
    starts a second one when the first takes longer than RESPAWN_AFTER_S to take the lock)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"guard" in argv and str(Path(config).resolve()).encode() in argv:
            pids.append(int(proc.name))
    return pids


def stop_guards(state_dir: Path) -> None:
    """Leave no guard behind, whatever the test did (bounded)."""
    for _ in range(3):
        holder = guard_holder(state_dir)
        if not holder or not isinstance(holder.get("pid"), int):
            return
        try:
            os.kill(holder["pid"], signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            wait_for("guard stops", lambda: guard_holder(state_dir) is None, 10)
        except AssertionError:
            os.kill(holder["pid"], signal.SIGKILL)


@pytest.mark.parametrize("how", ["SIGHUP", "SIGKILL"])
def test_the_captains_terminal_goes_and_the_guard_rolls_back_at_the_due_time(tmp_path, haproxy, how):
    with watched(tmp_path) as (prom, exporter):
        config = guarded_config(tmp_path, haproxy, prom)
        captain = Captain(config)  # preflight and sign-offs, journaled; the screen starts the rollout
        asyncio.run(captain.engine.run_preflight())
        for role in captain.plan.sign_offs:
            assert captain.engine.sign_off(role, f"{role}-person").ok
        captain.engine.journal.close()
        state_dir = captain.state_dir
        term = Terminal(f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m cockpit run --config {config}")
        try:
            term.wait_for("Sign-offs 5/5")
            guard_pid = wait_for("a guard started by the screen", lambda: (guard_holder(state_dir) or {}).get("pid"), 20)
            term.keys("s")
            term.wait_for("Start the rollout?")
            term.keys("y")
            wait_for("phase 1 live", lambda: first(state_dir, "phase_started"), 20)
            assert canary_about(haproxy, 5)  # 5 % of 200 requests, as roundrobin splits them
            captain_pid = read_captain(state_dir)["pid"]
            if how == "SIGHUP":
                term.close()  # the terminal goes: tmux hangs up on the captain's screen
            else:
                os.kill(captain_pid, signal.SIGKILL)
            wait_for("the captain gone", lambda: read_captain(state_dir) is None, 15)
            gone = exporter.set(**{ERRORS: BAD})  # the breach begins once nobody is at the screen

            fired = wait_for("the trigger fired", lambda: first(state_dir, "trigger_fired"), FOR_S + 60)
            result = wait_for("the kill's result", lambda: first(state_dir, "kill_result"), 20)
            began = breach_began(prom)
            assert began >= gone  # nobody at the screen before the breach began
            due = datetime.fromtimestamp(began + FOR_S, UTC)
            print(f"breach {began - gone:+.2f}s after the captain was gone; fired {(fired.ts - due).total_seconds():+.2f}s, "
                  f"read back 0 {(result.ts - due).total_seconds():+.2f}s from the due time")
            assert due - timedelta(seconds=STEP_S) <= fired.ts <= due + timedelta(seconds=2 * POLL_S + STEP_S + 3)
            assert fired.payload.trigger == "error_rate" and fired.actor.role == "guard"
            kill = first(state_dir, "kill_requested")
            assert kill.payload.trigger == "error_rate" and kill.actor.role == "guard"
            started = first(state_dir, "guard_started", pid=guard_pid)
            assert started is not None and "started by" in started.payload.reason
            assert result.payload.confirmed and result.payload.observed_weight == 0
            assert canary_hits(haproxy) == 0  # HAProxy sends the canary nothing
            # Its job done, the guard stops by itself once the canary's traffic is seen at ~0.
            wait_for("every guard stops", lambda: not guard_processes(config) and guard_holder(state_dir) is None, 45)
            journaled = records(state_dir)
            state = fold(journaled)
            assert state.status == "rolled_back" and state.kill.verified.ok
            assert journaled[-1].kind == "guard_stopped"  # each guard's last word, a standby's too
            kinds = [r.kind for r in journaled]
            assert kinds.count("guard_started") == kinds.count("guard_stopped")
        finally:
            term.close()
            stop_guards(state_dir)
    verify = cockpit("verify", "--state-dir", str(state_dir))
    assert verify.returncode == 0, verify.stderr
    log = (state_dir / "guard.log").read_text()
    assert f"guard {guard_pid}@{HOST} holds the guard lock" in log and "stopped: the rollout is rolled back" in log


def test_a_standby_takes_over_a_dead_guard_and_two_guards_pull_one_kill(tmp_path, haproxy):
    with watched(tmp_path) as (prom, exporter):
        config = guarded_config(tmp_path, haproxy, prom)
        captain = Captain(config)
        captain.go_live()
        captain.engine.journal.close()
        state_dir = captain.state_dir
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        def guard(name: str) -> subprocess.Popen:
            log = open(tmp_path / f"{name}.err", "wb")
            return subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config), "--reason", name],
                                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)

        procs = [guard("first")]
        a = procs[0]
        try:
            wait_for("the first guard holds the lock", lambda: (guard_holder(state_dir) or {}).get("pid") == a.pid, 20)
            b = guard("standby")
            c = guard("second standby")
            procs += [b, c]
            wait_for("both stand by", lambda: all(b"standby" in (tmp_path / f"{n}.err").read_bytes()
                                                  for n in ("standby", "second standby")), 20)
            a.kill()  # SIGKILL: no goodbye, the kernel frees the lock
            a.wait(timeout=10)
            died = time.monotonic()
            took = wait_for("a standby took over", lambda: first(state_dir, "guard_started", took_over=f"{a.pid}@{HOST}"), 10)
            takeover_s = time.monotonic() - died
            assert took.payload.pid in (b.pid, c.pid) and takeover_s < 10
            taken = exporter.set(**{ERRORS: BAD})  # the breach begins once the standby is in charge

            wait_for("the kill verified", lambda: (r := first(state_dir, "kill_result")) and r.payload.confirmed, FOR_S + 60)
            assert breach_began(prom) >= taken and took.ts.timestamp() < taken  # the takeover came before the breach
            wait_for("the rollback checked", lambda: first(state_dir, "rollback_verified"), 40)
            kinds = [r.kind for r in records(state_dir)]
            assert kinds.count("trigger_fired") == 1 and kinds.count("kill_requested") == 1
            fired = first(state_dir, "trigger_fired")
            assert fired.actor.role == "guard" and canary_hits(haproxy) == 0
            # The one that acted holds the lock; the other still stands by, and neither acted twice.
            for proc in (b, c):
                proc.send_signal(signal.SIGTERM)
            for proc in (b, c):
                proc.wait(timeout=20)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            stop_guards(state_dir)
    verify = cockpit("verify", "--state-dir", str(state_dir))
    assert verify.returncode == 0, verify.stderr


def test_a_kill_whose_canary_traffic_does_not_fall_pages_emergency_and_the_guard_stays_until_it_falls(tmp_path, haproxy):
    """Issue 4: the gateway confirms the kill, but the canary keeps taking traffic (a client that
    ignores the gateway). The guard pages Emergency once, keeps watching and re-asserting the kill,
    and stops only once the canary's request rate is seen at ~0."""
    with watched(tmp_path, it_canary_rps=9.97) as (prom, exporter):  # the traffic falls when the test says
        config = guarded_config(tmp_path, haproxy, prom)
        captain = Captain(config)
        captain.go_live()
        captain.engine.journal.close()
        state_dir = captain.state_dir
        log = open(tmp_path / "guard.err", "wb")
        guard = subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config), "--reason", "watch"],
                                 stdout=log, stderr=log, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                 cwd=ROOT)
        try:
            wait_for("the guard holds the lock", lambda: (guard_holder(state_dir) or {}).get("pid") == guard.pid, 20)
            kill = cockpit("kill", "--config", str(config), "--reason", "x", "--confirm", "v0.1.0", "--no-wait")
            assert kill.returncode == 0, kill.stdout + kill.stderr
            opened = wait_for("Emergency paged", lambda: first(state_dir, "incident_opened"), 60)
            assert (opened.payload.incident, opened.payload.level) == ("INC-1", "Emergency")
            assert opened.payload.reason.startswith("ROLLBACK NOT VERIFIED: canary request rate still 9.97 req/s")
            wait_for("the kill re-asserted", lambda: first(
                state_dir, "kill_requested", reason="guard re-asserts the kill: canary traffic NOT ~0"), 30)
            assert guard.poll() is None and first(state_dir, "guard_stopped") is None  # still watching
            exporter.set(it_canary_rps=0.0)  # only now does the canary's traffic fall: the guard stayed for the leak
            guard.wait(timeout=60)
        finally:
            if guard.poll() is None:
                guard.kill()
            stop_guards(state_dir)
    state = fold(records(state_dir))
    assert state.status == "rolled_back" and state.kill.verified.ok and state.kill.reason == "x"
    assert [i.id for i in state.incidents.values()] == ["INC-1"] and not state.incidents["INC-1"].open
    stopped = [r for r in records(state_dir) if r.kind == "guard_stopped"]
    assert [r.payload.reason for r in stopped] == ["the rollout is rolled back and the kill verified"]
    verify = cockpit("verify", "--state-dir", str(state_dir))
    assert verify.returncode == 0, verify.stderr
