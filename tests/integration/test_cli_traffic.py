"""`cockpit kill`, `cockpit shift` and `cockpit reconcile` as an operator runs them, in a second process,
against a real haproxy and a real flag API, while a captain's engine holds the same journal open."""

from __future__ import annotations

import asyncio
import getpass
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.adapters.factory import build_gateway
from cockpit.clock import SystemClock
from cockpit.core import events as ev
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from cockpit.store.locks import CaptainLock
from tests.conftest import ROOT
from tests.integration.flag_server import FlagServer
from tests.integration.haproxy import BACKEND, LoopbackHAProxy, free_port
from tests.integration.rollout import CAPTAIN, go_live, plan_data, satisfy_gate, write_config
from tests.support import passing_runner

pytestmark = pytest.mark.integration

VERSION = "v0.1.0"
TOKEN = "tok-c11-8f2a-not-a-real-secret"


def cockpit(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in a fresh process with no terminal on stdin; the token only when passed in `env`."""
    inherited = {k: v for k, v in os.environ.items() if k != "COCKPIT_GATEWAY_TOKEN"}
    full_env = {**inherited, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=full_env, timeout=timeout, cwd=ROOT)


def rollout_config(tmp_path: Path, gateway: dict, **kill_switch) -> Path:
    """The seed plan on this gateway, without the freeze window and with no soak, so that the
    wall clock the CLI runs on never decides a test."""
    data = plan_data(gateway, **kill_switch)
    data["state_dir"] = str(tmp_path / "state")
    data["preflight"] = [c for c in data["preflight"] if c["type"] != "freeze_window"]
    for phase in data["phases"]:
        phase["soak"] = "0s"
    data["prometheus"]["url"] = f"http://127.0.0.1:{free_port()}"  # nothing listens
    return write_config(tmp_path / "plan.toml", data)


class Captain:
    """The captain's engine in this process, holding the journal open as the screen would."""

    def __init__(self, config: Path):
        from cockpit.config import load_plan

        self.plan = load_plan(config)
        self.state_dir = Path(self.plan.state_dir)
        self.engine = Engine(self.plan, Journal(self.state_dir), clock=SystemClock(), actor=CAPTAIN,
                             gateway=build_gateway(self.plan), check_runner=passing_runner())
        self.engine.ensure_plan()

    def go_live(self) -> None:
        asyncio.run(go_live(self.engine))

    def journal_bytes(self) -> bytes:
        return (self.state_dir / "journal.jsonl").read_bytes()




@pytest.fixture
def config(haproxy, tmp_path):
    return rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})


@pytest.fixture
def captain(config):
    c = Captain(config)
    c.go_live()
    yield c
    c.engine.journal.close()
    from tests.integration.test_guard_processes import stop_guards

    stop_guards(c.state_dir)  # a shift from the command line starts a guard (no screen keeps one)


def canary_hits(rig: LoopbackHAProxy, n: int = 200) -> int:
    return rig.route(n)["canary"]


def canary_about(rig: LoopbackHAProxy, weight: int) -> bool:
    """200 requests split as the weight says, within roundrobin's ±2 (as the adapter tests allow)."""
    return abs(canary_hits(rig) - 2 * weight) <= 2


# -- kill ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm, says", [
    (None, f"refused: no terminal to confirm at; pass --confirm {VERSION} to pull the kill switch"),
    ("v0.1.1", f"refused: 'v0.1.1' is not the release version {VERSION}"),
    ("", f"refused: '' is not the release version {VERSION}"),
])
def test_kill_without_the_right_confirmation_changes_nothing(config, captain, haproxy, confirm, says):
    before = captain.journal_bytes()
    args = ["kill", "--config", str(config), "--reason", "p95 regression"]
    res = cockpit(*args, *(["--confirm", confirm] if confirm is not None else []))
    assert res.returncode == 2, res
    assert res.stderr.startswith(says) and "nothing was changed" in res.stderr
    assert captain.journal_bytes() == before
    assert canary_about(haproxy, 5)  # still 5 % of 200


def test_kill_from_a_second_process_while_the_captain_runs(config, captain, haproxy):
    lock = CaptainLock(captain.state_dir, user="alice", host="bastion", pid=os.getpid(), since="now").acquire()
    try:
        res = cockpit("kill", "--config", str(config), "--reason", "p95 regression", "--confirm", VERSION, "--no-wait")
    finally:
        lock.release()
    assert res.returncode == 0, res.stderr
    assert "KILL SENT · pulled by" in res.stdout
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge, canary.enable=false)" in res.stdout
    assert canary_hits(haproxy) == 0
    seen = captain.engine.refresh()  # the captain folds in what the other process appended
    assert [r.kind for r in seen] == ["kill_requested", "kill_result"]
    assert {(r.actor.user, r.actor.role) for r in seen} == {(getpass.getuser(), "cli")}
    assert captain.engine.state.status == "rolled_back"


def test_kill_at_a_terminal_asks_for_the_version(config, captain, haproxy):
    def at_terminal(typed: bytes) -> tuple[int, str]:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "kill", "--config", str(config), "--reason", "typed", "--no-wait"],
            stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        os.close(follower)
        os.write(leader, typed)
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            os.close(leader)
        return proc.returncode, out

    code, out = at_terminal(b"v0.1\n")
    assert code == 2 and f"Type the release version ({VERSION}) to confirm:" in out
    assert "refused: 'v0.1' is not the release version" in out and canary_about(haproxy, 5)
    code, out = at_terminal(f"{VERSION}\n".encode())
    assert code == 0 and "VERIFIED" in out and canary_hits(haproxy) == 0


def test_kill_with_haproxy_down_exits_1_and_says_not_confirmed(config, captain, haproxy):
    haproxy.stop()
    res = cockpit("kill", "--config", str(config), "--reason", "spike", "--confirm", VERSION, "--no-wait")
    assert res.returncode == 1
    assert "KILL NOT CONFIRMED · 4 attempts: haproxy " in res.stdout
    assert "escalated to Emergency" in res.stdout
    captain.engine.refresh()
    assert captain.engine.state.status == "kill_unconfirmed"


def test_kill_waits_for_the_traffic_check_and_says_when_it_cannot(tmp_path, haproxy):
    config = rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND},
                            verify_within="1s")
    captain = Captain(config)
    captain.go_live()
    res = cockpit("kill", "--config", str(config), "--reason", "spike", "--confirm", VERSION)
    assert res.returncode == 1, res.stderr
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge," in res.stdout
    assert "waiting up to 1s for the canary's request rate to fall to ~0" in res.stdout
    assert "ROLLBACK NOT VERIFIED: canary traffic query failed: " in res.stdout
    captain.engine.refresh()
    assert captain.engine.state.kill.verified.ok is False


def test_kill_before_the_rollout_starts_is_refused(config):
    Captain(config)  # the plan journaled, nothing started
    res = cockpit("kill", "--config", str(config), "--reason", "x", "--confirm", VERSION)
    assert res.returncode == 2
    assert res.stderr.strip() == "refused: the rollout has not started: the canary has no traffic to take away"


# -- the HTTP flag API from the CLI ---------------------------------------------------------------


@pytest.fixture
def flags():
    server = FlagServer()
    yield server
    server.close()


def http_captain(tmp_path, flags, monkeypatch) -> tuple[Path, Captain]:
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", TOKEN)
    config = rollout_config(tmp_path, {"type": "http", "url": f"{flags.url}/flags", "timeout": "1s",
                                       "token": {"env": "COCKPIT_GATEWAY_TOKEN"}})
    captain = Captain(config)

    async def live_then_close():
        await go_live(captain.engine)
        await captain.engine.gateway.close()

    asyncio.run(live_then_close())
    return config, captain


def test_http_kill_sends_the_token_and_never_shows_it(tmp_path, flags, monkeypatch):
    config, captain = http_captain(tmp_path, flags, monkeypatch)
    res = cockpit("kill", "--config", str(config), "--reason", "spike", "--confirm", VERSION, "--no-wait",
                  env={"COCKPIT_GATEWAY_TOKEN": TOKEN})
    assert res.returncode == 0, res.stderr
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge, canary.enable=false)" in res.stdout
    assert flags.flags["canary.enable"] is False
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in flags.requests)
    for text in (res.stdout, res.stderr, captain.journal_bytes().decode()):
        assert TOKEN not in text


def test_http_kill_without_the_token_is_refused_naming_the_field(tmp_path, flags, monkeypatch):
    config, captain = http_captain(tmp_path, flags, monkeypatch)
    before, seen = captain.journal_bytes(), len(flags.requests)
    res = cockpit("kill", "--config", str(config), "--reason", "spike", "--confirm", VERSION)
    assert res.returncode == 2
    assert "gateways.edge.token: secret: environment variable COCKPIT_GATEWAY_TOKEN is not set" in res.stderr
    assert captain.journal_bytes() == before and len(flags.requests) == seen


def test_http_kill_against_a_500_exits_1(tmp_path, flags, monkeypatch):
    config, captain = http_captain(tmp_path, flags, monkeypatch)
    flags.status = 500
    res = cockpit("kill", "--config", str(config), "--reason", "spike", "--confirm", VERSION, "--no-wait",
                  env={"COCKPIT_GATEWAY_TOKEN": TOKEN})
    assert res.returncode == 1
    assert f"KILL NOT CONFIRMED · 4 attempts: PUT {flags.url}/flags: HTTP 500" in res.stdout
    assert TOKEN not in res.stdout + res.stderr + captain.journal_bytes().decode()


# -- shift and reconcile -------------------------------------------------------------------------


def shift(config: Path, weight: int, confirm: str | None = VERSION) -> subprocess.CompletedProcess:
    return cockpit("shift", "--config", str(config), "--weight", str(weight),
                   *(["--confirm", confirm] if confirm is not None else []))


def test_shift_refusals_change_nothing(config, captain, haproxy):
    before = captain.journal_bytes()
    assert shift(config, 50).stderr.strip() == \
        "refused: 50 % would skip Phase 2 (25 %) and its gate: shift one phase at a time"
    assert shift(config, 30).stderr.strip() == "refused: 30 % is not a phase weight (5/25/50/100 %)"
    res = shift(config, 25)  # the next phase, but its gate is not passed
    assert res.returncode == 2 and "refused: waiting for GO from: SRE" in res.stderr
    satisfy_gate(captain.engine, captain.engine.clock)
    res = shift(config, 25, confirm="yes")
    assert res.returncode == 2 and "refused: 'yes' is not the release version" in res.stderr
    lock = CaptainLock(captain.state_dir, user="alice", host="bastion", pid=os.getpid(), since="14:00Z").acquire()
    try:
        res = shift(config, 25)
    finally:
        lock.release()
    assert res.returncode == 3 and "refused: captain lock held by alice@bastion" in res.stderr  # as `run`
    assert [r.kind for r in captain.engine.refresh()] == []
    assert captain.journal_bytes()[: len(before)] == before and canary_about(haproxy, 5)


def test_shift_up_a_phase_and_back_down(config, captain, haproxy):
    satisfy_gate(captain.engine, captain.engine.clock)
    res = shift(config, 25)
    assert res.returncode == 0, res.stderr
    assert "VERIFIED: the gateway reads canary 25 %" in res.stdout and "Phase 2 soaking at 25 %" in res.stdout
    assert canary_about(haproxy, 25)
    res = shift(config, 5)  # a partial rollback: Phase 1 again, with a fresh soak and gate
    assert res.returncode == 0, res.stderr
    assert canary_about(haproxy, 5)
    captain.engine.refresh()
    assert (captain.engine.state.phase, captain.engine.state.weight) == (0, 5)
    assert captain.engine.state.gate(0).decisions == {}
    actors = {r.actor.role for r in captain.engine.journal.records if r.kind == "traffic_shift_requested"}
    assert actors == {"captain"}


def test_reconcile_resolves_an_interrupted_shift(config, captain, haproxy):
    satisfy_gate(captain.engine, captain.engine.clock)
    captain.engine._append(ev.TrafficShiftRequested(weight=25, phase=1))  # and then the captain died
    asyncio.run(captain.engine.gateway.set_weight(25))
    captain.engine.journal.close()
    res = cockpit("reconcile", "--config", str(config))
    assert res.returncode == 0, res.stderr
    assert "gateway read-back agrees with the journal: the shift to 25 % has no journaled result" in res.stdout
    assert "Phase 2 soaking at 25 %" in res.stdout
    state = Captain(config).engine.state
    assert (state.phase, state.weight, state.pending_shift) == (1, 25, None)
