"""The kill path needs no writable state dir (DESIGN.md principle 7), end to end on a real HAProxy and
a real Prometheus, with the state dir on a tmpfs (root only):

- remounted read-only: `cockpit kill` and a `cockpit guard` started on it pull the canary to 0 at
  HAProxy (the guard within one poll of the trigger's due time), say that nothing could be recorded
  and print the events as side-file lines, which journal them once appended there;
- filled after the start: the guard kills within one poll of the due time, pages and sends the
  rollback notice to a real HTTP receiver while the disk is full, and once the disk has room every
  event is journaled late, in order, each `notified` naming its queued message, `cockpit verify` clean;
- `kill --reason` with a byte that is not UTF-8: its kill_requested is journaled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from cockpit.core.state import fold
from cockpit.store.kept import ASIDE
from cockpit.store.locks import GuardLease
from tests.conftest import ROOT
from tests.integration.test_cli_traffic import VERSION, Captain, canary_hits, cockpit
from tests.integration.test_guard_processes import (
    BAD,
    ERRORS,
    FOR_S,
    POLL_S,
    STEP_S,
    breach_began,
    guarded_config,
    records,
    wait_for,
    watched,
)
from tests.integration.test_kill_torn_journal import canary_weight
from tests.receiver import Receiver

pytestmark = pytest.mark.integration

LAND_S = 2.0  # beyond one poll: the round's queries, the kill's runtime-API call, a busy machine


@pytest.fixture
def disk(tmp_path):
    """A 2 MiB tmpfs for the state dir (as in the issue), unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def remount(disk: Path, how: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{how}", str(disk)], check=True)


def on_disk(config: Path, disk: Path, **extra) -> Path:
    """The config with its state dir on the tmpfs (and `extra` top-level tables replaced)."""
    import tomllib

    data = tomllib.loads(config.read_text())
    data["state_dir"] = str(disk / "state")
    data.update(extra)
    config.write_text(tomli_w.dumps(data))
    return config


def first_zero(haproxy, deadline: float) -> float:
    """The wall-clock instant HAProxy's canary weight first reads 0 (polled every 0.1 s)."""
    while time.time() < deadline:
        if canary_weight(haproxy) == "0":
            return time.time()
        time.sleep(0.1)
    raise AssertionError("the canary weight never read 0")


def printed(stderr: str) -> list[dict]:
    """The side-file lines a command or guard printed (each a JSON object on a line of its own)."""
    lines = []
    for line in stderr.splitlines():
        at = line.find('{"ts":')
        if at >= 0:
            lines.append(json.loads(line[at:]))
    return lines


def guard_process(config: Path, err: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config), "--reason", "test"],
                            stdout=subprocess.DEVNULL, stderr=open(err, "wb"), stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)


def journal_late_by_hand(config: Path, state_dir: Path, lines: list[dict]) -> subprocess.CompletedProcess:
    """What the printed lines are for: appended to the side file, the next append journals them."""
    with open(state_dir / ASIDE, "a") as f:
        for doc in lines:
            f.write(json.dumps(doc) + "\n")
    return cockpit("note", "--config", str(config), "the state dir takes writes again")


# -- a read-only state dir --------------------------------------------------------------------------


def test_cockpit_kill_on_a_read_only_state_dir_reaches_haproxy_and_prints_what_it_could_not_record(
        tmp_path, haproxy, disk):
    from tests.integration.haproxy import BACKEND
    from tests.integration.test_cli_traffic import rollout_config

    config = on_disk(rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND}), disk)
    captain = Captain(config)
    captain.go_live()
    captain.engine.journal.close()
    state_dir = captain.state_dir
    before = captain.journal_bytes()
    assert canary_weight(haproxy) == "5"
    remount(disk, "ro")
    try:
        res = cockpit("kill", "--config", str(config), "--reason", "p95 regression", "--confirm", VERSION, "--no-wait")
        assert canary_weight(haproxy) == "0" and canary_hits(haproxy) == 0  # the kill reached HAProxy
        assert res.returncode == 7, (res.stdout, res.stderr)
        assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge," in res.stdout
        assert res.stderr.startswith("STATE DIR NOT WRITABLE: ") and "read-only file system" in res.stderr
        assert "NOTHING RECORDED: neither the journal nor unjournaled.jsonl could take" in res.stderr
        assert "Traceback" not in res.stderr
        lines = printed(res.stderr)
        assert [d["kind"] for d in lines] == ["kill_requested", "kill_result"]
        assert lines[0]["payload"]["reason"] == "p95 regression" and lines[1]["payload"]["confirmed"] is True
        assert captain.journal_bytes() == before
        assert "exit codes:" in (help_text := cockpit("kill", "--help").stdout) and "7 VERIFIED at the gateway but " \
            "NOTHING RECORDED" in " ".join(help_text.split())
    finally:
        remount(disk, "rw")
    done = journal_late_by_hand(config, state_dir, lines)
    assert done.returncode == 0, done.stderr
    kinds = [r.kind for r in records(state_dir)]
    assert kinds[-4:] == ["journaled_late", "kill_requested", "kill_result", "note"]
    assert fold(records(state_dir)).status == "rolled_back"
    verify = cockpit("verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_guard_started_on_a_read_only_state_dir_kills_within_a_poll_and_prints_what_it_could_not_record(
        tmp_path, haproxy, disk):
    with watched(tmp_path) as (prom, exporter):
        config = on_disk(guarded_config(tmp_path, haproxy, prom), disk)
        captain = Captain(config)
        captain.go_live()
        captain.engine.journal.close()
        state_dir = captain.state_dir
        lease = GuardLease(state_dir, {"pid": 1, "host": "earlier"})  # a guard ran here before: its lock file stays
        assert lease.try_acquire()
        lease.release()
        remount(disk, "ro")
        err = tmp_path / "guard.err"
        guard = guard_process(config, err)
        try:
            wait_for("the guard holds the lock", lambda: b"holds the guard lock" in err.read_bytes(), 20)
            exporter.set(**{ERRORS: BAD})  # the breach begins once the guard watches
            landed = first_zero(haproxy, time.time() + FOR_S + 60)
            due = breach_began(prom) + FOR_S
            print(f"canary weight 0 at due {landed - due:+.2f}s (poll {POLL_S}s)")
            assert due - STEP_S <= landed <= due + POLL_S + LAND_S, landed - due
            assert canary_hits(haproxy) == 0
            wait_for("the guard says it stays", lambda: b"the guard stays until the state dir takes writes"
                     in err.read_bytes(), 60)
            assert guard.poll() is None
            guard.send_signal(signal.SIGTERM)
            assert guard.wait(timeout=30) == 7
        finally:
            if guard.poll() is None:
                guard.kill()
            remount(disk, "rw")
    said = err.read_text()
    assert "Traceback" not in said
    assert "guard.log cannot be written (Read-only file system): its lines go to stderr" in said
    assert "STATE DIR NOT WRITABLE: " in said
    assert "holding the guard lock through a read-only descriptor" in said
    assert "JOURNAL NOT WRITTEN (kill_requested): " in said and "held in this process's memory only: KILL SENT · pulled by" in said
    assert "NOT RECORDED: stopping with " in said
    lines = printed(said.split("NOT RECORDED: stopping with ", 1)[1])
    kinds = [d["kind"] for d in lines]
    assert kinds[0] == "guard_started" and kinds[-1] == "guard_stopped"
    assert kinds.index("trigger_fired") < kinds.index("kill_requested") < kinds.index("kill_result") \
        < kinds.index("rollback_verified")
    kill = lines[kinds.index("kill_requested")]
    requested = datetime.fromisoformat(kill["ts"].replace("Z", "+00:00"))
    assert requested <= datetime.fromtimestamp(landed, UTC)
    assert kill["payload"]["trigger"] == "error_rate" and kill["actor"]["role"] == "guard"
    done = journal_late_by_hand(config, state_dir, lines)  # the lines journal them, late and in order
    assert done.returncode == 0, done.stderr
    state = fold(records(state_dir))
    assert state.status == "rolled_back" and state.kill.trigger == "error_rate" and state.kill.verified.ok
    verify = cockpit("verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr


# -- a disk filled after the start -------------------------------------------------------------------


def fill(disk: Path, captain: Captain) -> None:
    """Fill the disk, then the journal's last page with the captain's notes, until it refuses one."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    for _ in range(100):
        if not captain.engine.note("the captain watches " + "." * 120).ok:
            return
    raise AssertionError("the journal still takes notes on a full disk")


CHANNELS = ("#sre-oncall", "pagerduty_sre", "#security-incidents", "#intelgraph-release", "#error-budget", "#finops")


def test_a_disk_filled_after_the_start_kills_pages_and_journals_every_event_late(tmp_path, haproxy, disk):
    with watched(tmp_path) as (prom, exporter), Receiver() as rx:
        channels = {name: {"type": "webhook", "url": f"{rx.url}/{name.strip('#')}", "backoff": 0.05}
                    for name in CHANNELS}
        config = on_disk(guarded_config(tmp_path, haproxy, prom), disk, channels=channels)
        captain = Captain(config)
        captain.go_live()
        state_dir = captain.state_dir
        err = tmp_path / "guard.err"
        guard = guard_process(config, err)
        try:
            wait_for("the guard started", lambda: any(r.kind == "guard_started" for r in records(state_dir)), 20)
            fill(disk, captain)
            journaled = len(records(state_dir))
            full = exporter.set(**{ERRORS: BAD})  # the breach begins once the disk is full
            landed = first_zero(haproxy, time.time() + FOR_S + 60)
            due = breach_began(prom) + FOR_S
            assert due - FOR_S >= full  # full before the breach began
            print(f"canary weight 0 at due {landed - due:+.2f}s (poll {POLL_S}s)")
            assert due - STEP_S <= landed <= due + POLL_S + LAND_S, landed - due
            paths = lambda: [s.path for s in rx.seen]  # noqa: E731
            wait_for("L1 paged and the rollback notice sent", lambda: "/sre-oncall" in paths()
                     and "/error-budget" in paths(), 60)
            assert [r.kind for r in records(state_dir)[journaled:]] == []  # all of it while the disk is full
            page = next(s.body for s in rx.seen if s.path == "/sre-oncall")
            assert "L1 paged (INC-1)" in json.dumps(page)
            assert "ROLLBACK by trigger error_rate" in json.dumps(next(s.body for s in rx.seen
                                                                       if s.path == "/error-budget"))
            assert guard.poll() is None  # it stays: its memory alone holds what happened
            os.unlink(disk / "filler")
            assert guard.wait(timeout=60) == 0  # journaled late, then done
        finally:
            if guard.poll() is None:
                guard.kill()
            captain.engine.journal.close()
    said = err.read_text()
    assert "Traceback" not in said, said[max(0, said.find("Traceback") - 600):][:4000]
    assert "journaled late: " in said, said
    all_records = records(state_dir)
    late = all_records[journaled:]
    kinds = [r.kind for r in late]
    assert kinds[0] == "journaled_late"
    for kind in ("trigger_breached", "trigger_fired", "kill_requested", "kill_result", "incident_opened",
                 "notification_queued", "notified", "rollback_verified", "incident_resolved"):
        assert kind in kinds, kind
    # the kill first; the incident (the paging step) and the traffic check (a task beside the rounds) follow
    # it in whichever order they finish: both orders are what happened
    assert kinds.index("trigger_fired") < kinds.index("kill_requested") < kinds.index("kill_result") \
        < min(kinds.index("incident_opened"), kinds.index("rollback_verified"))
    count = late[0].payload.count
    assert [r.ts for r in late[1:count + 1]] == sorted(r.ts for r in late[1:count + 1])  # their own times
    fired = next(r for r in late if r.kind == "trigger_fired")
    assert fired.actor.role == "guard" and fired.ts <= datetime.fromtimestamp(landed, UTC)
    by_seq = {r.seq: r for r in all_records}
    notified = [r for r in late if r.kind == "notified"]
    for r in notified:  # each delivery names its queued message's journaled seq
        queued = by_seq[r.payload.queued]
        assert queued.kind == "notification_queued" and queued.seq < r.seq
        assert (queued.payload.channel, queued.payload.text) == (r.payload.channel, r.payload.text)
    assert all(n.payload.delivered for n in notified)
    assert len(rx.seen) == len(notified)  # each message sent once
    state = fold(all_records)
    assert state.status == "rolled_back" and state.kill.verified.ok and all_records[-1].kind == "guard_stopped"
    verify = cockpit("verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr


# -- a byte that is not UTF-8 -----------------------------------------------------------------------


def test_kill_with_a_latin1_reason_journals_its_kill_requested(tmp_path, haproxy):
    from tests.integration.haproxy import BACKEND
    from tests.integration.test_cli_traffic import rollout_config

    config = rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})
    captain = Captain(config)
    captain.go_live()
    res = subprocess.run([sys.executable, "-m", "cockpit", "kill", "--config", str(config), "--reason",
                          b"caf\xe9 latency", "--confirm", VERSION, "--no-wait"], capture_output=True, cwd=ROOT,
                         stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert canary_weight(haproxy) == "0"
    seen = captain.engine.refresh()
    assert [r.kind for r in seen][:2] == ["kill_requested", "kill_result"]
    reason = seen[0].payload.reason
    assert reason.startswith("caf") and reason.endswith(" latency") and reason.encode()  # journaled, encodable
    assert not (captain.state_dir / ASIDE).exists()
    captain.engine.journal.close()
    assert cockpit("verify", "--config", str(config)).returncode == 0
