"""A watcher outside the group cannot stop the guard (issue 20, item 4), end to end on a real HAProxy
and a real Prometheus: a guard holds the lock, a standby waits, a second Unix user (nobody, outside
the state dir's group) tries to hold the guard lock, and the first guard is SIGKILLed. The standby
takes over within 10 s and the kill lands at the trigger's due time; HAProxy reads the canary at 0.

On a lock file this cockpit made (0660) the outsider cannot even open it. On an older cockpit's 0664
file it opened before the upgrade, it takes the old file's lock the instant the holder dies (a
blocked flock wins over the standby's 0.25 s polls): the standby swaps the file for a fresh one.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.store.locks import GUARD_LOCK, guard_holder, holder_pids
from tests.conftest import ROOT
from tests.integration.test_cli_traffic import Captain, canary_hits, cockpit
from tests.integration.test_guard_processes import (
    BAD,
    ERRORS,
    FOR_S,
    HOST,
    POLL_S,
    STEP_S,
    breach_began,
    first,
    guarded_config,
    stop_guards,
    wait_for,
    watched,
)
from tests.integration.test_kill_torn_journal import canary_weight
from tests.test_lock_outsider import Outsider, older_lock_file
from tests.test_state_dir_errors import GROUP

pytestmark = pytest.mark.integration


@pytest.fixture
def bastion_base():
    """A base dir anyone may traverse, with the state dir as the README says an admin makes it."""
    if os.geteuid() != 0:
        pytest.skip("acting as a second Unix user needs root")
    base = Path(tempfile.mkdtemp(prefix="cklock", dir="/tmp"))
    os.chmod(base, 0o755)
    state_dir = base / "state"
    state_dir.mkdir()
    os.chown(state_dir, 0, GROUP)
    os.chmod(state_dir, 0o2775)
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=True)


@pytest.mark.parametrize("lock_file", ["made-0660", "older-0664"])
def test_an_outsider_cannot_keep_the_standby_from_pulling_the_kill(tmp_path, haproxy, bastion_base, lock_file):
    with watched(tmp_path) as (prom, exporter):
        config = guarded_config(bastion_base, haproxy, prom)
        captain = Captain(config)
        captain.go_live()
        captain.engine.journal.close()
        state_dir = captain.state_dir
        lock = state_dir / GUARD_LOCK
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs: list[subprocess.Popen] = []
        outsider = None

        def guard(name: str) -> subprocess.Popen:
            log = open(tmp_path / f"{name}.err", "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config), "--reason", name],
                                          stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=ROOT))
            return procs[-1]

        try:
            if lock_file == "older-0664":
                older_lock_file(lock)  # as an older cockpit left it; the outsider opens it now
                outsider = Outsider(lock, wait=True)
                assert outsider.said == "opened"
            a = guard("first")
            wait_for("the first guard holds the lock", lambda: (guard_holder(state_dir) or {}).get("pid") == a.pid, 20)
            assert stat.S_IMODE(lock.stat().st_mode) == 0o660  # the first holder (its owner, root) chmods an older file
            if outsider is None:
                outsider = Outsider(lock, wait=True)
                assert outsider.said == "cannot open: Permission denied"  # so it can hold nothing
            b = guard("standby")
            wait_for("the standby waits", lambda: b"standby" in (tmp_path / "standby.err").read_bytes(), 20)
            if lock_file == "older-0664":
                outsider.go()  # blocked in the kernel on the old file: it wins the instant the holder dies
            a.kill()  # SIGKILL: the kernel frees the lock
            a.wait(timeout=10)
            died = time.monotonic()
            if lock_file == "older-0664":
                assert outsider.held() == "held"  # the attack: the outsider holds the old file
            took = wait_for("the standby took over", lambda: first(state_dir, "guard_started", took_over=f"{a.pid}@{HOST}"), 10)
            takeover_s = time.monotonic() - died
            assert took.payload.pid == b.pid and takeover_s < 10
            assert holder_pids(lock) == [b.pid] and stat.S_IMODE(lock.stat().st_mode) == 0o660
            taken = exporter.set(**{ERRORS: BAD})  # the breach begins after the takeover

            result = wait_for("the kill's result", lambda: first(state_dir, "kill_result"), FOR_S + 60)
            began = breach_began(prom)
            assert began >= taken
            due = datetime.fromtimestamp(began + FOR_S, UTC)  # its first breaching sample plus its `for`
            fired = first(state_dir, "trigger_fired")
            assert fired.actor.role == "guard" and fired.payload.trigger == "error_rate"
            assert result.payload.confirmed and result.payload.observed_weight == 0
            # Read back 0 within one poll of the due time (a second more for the gateway's round trip),
            # and never before the breach could be seen (test_guard_processes' lower bound).
            earliest = due - timedelta(seconds=STEP_S)
            assert earliest <= fired.ts <= result.ts <= due + timedelta(seconds=POLL_S + 1), (due, fired.ts, result.ts)
            assert canary_weight(haproxy) == "0" and canary_hits(haproxy) == 0
            print(f"takeover {takeover_s:.2f}s; fired {(fired.ts - due).total_seconds():+.2f}s, "
                  f"read back 0 {(result.ts - due).total_seconds():+.2f}s from the due time")
        finally:
            if outsider is not None:
                outsider.stop()
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            stop_guards(state_dir)
    verify = cockpit("verify", "--state-dir", str(state_dir))
    assert verify.returncode == 0, verify.stderr
