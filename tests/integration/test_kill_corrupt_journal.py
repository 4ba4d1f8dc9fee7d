"""Issue 20, items 1 and 8, end to end on a real HAProxy (and a real Prometheus for the guard):
a journal with a non-UTF-8 byte in a middle line, with another writer's garbage line at its end,
or with journal.head deleted and its last lines cut off. `cockpit kill --no-wait` and a running
`cockpit guard` with a breaching trigger still take the canary to weight 0 at HAProxy (read back
over its runtime API) within one poll of the due time; no traceback reaches stderr or guard.log;
`cockpit verify` names the problem by line (exit 1); every event the kill acknowledged is
journaled, or kept in unjournaled.jsonl when the journal does not verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.store.head import HEAD
from cockpit.store.journal import Journal
from cockpit.store.kept import ASIDE
from cockpit.store.locks import guard_holder
from cockpit.store.verify import JOURNAL
from tests.conftest import ROOT
from tests.integration.test_cli_traffic import VERSION, Captain, cockpit
from tests.integration.test_guard_processes import (
    BAD,
    ERRORS,
    FOR_S,
    POLL_S,
    breach_began,
    guarded_config,
    stop_guards,
    wait_for,
    watched,
)
from tests.integration.test_kill_torn_journal import canary_weight

pytestmark = pytest.mark.integration

NOTES = 14  # the live rollout's journal gets this many notes, so that it has a line 20 in its middle


def bad_byte(state_dir: Path, lines: list[bytes]) -> str:
    lines[19] = lines[19].replace(b'"host":"', b'"host":"r\xffot', 1)  # `r\xffot` inside line 20
    return "line 20: invalid: not UTF-8: byte 0xff at column "


def bad_byte_in_the_plan(state_dir: Path, lines: list[bytes]) -> str:
    lines[0] = lines[0].replace(b'"host":"', b'"host":"r\xffot', 1)  # the line the plan is journaled in
    return "line 1: invalid: not UTF-8: byte 0xff at column "


def garbage_tail(state_dir: Path, lines: list[bytes]) -> str:
    lines.append(b"GET /healthz 200 (another writer's log line)\n")
    return f"line {len(lines)}: garbage: 1 line at the end (45 bytes) is not a journal record"


def head_gone_tail_cut(state_dir: Path, lines: list[bytes]) -> str:
    del lines[-3:]
    (state_dir / HEAD).unlink()
    return f"line {len(lines) + 1}: head missing: {HEAD} is gone"


CORRUPTIONS = [bad_byte, garbage_tail, head_gone_tail_cut]
BROKEN = {bad_byte: True, bad_byte_in_the_plan: True, garbage_tail: False, head_gone_tail_cut: True}  # does the journal still take appends?


def corrupt(state_dir: Path, corruption) -> tuple[str, list[tuple[int, str]]]:
    """Damage the journal; returns what verify must say, and the (seq, hash) of every event
    that must still read (all the acknowledged ones the damage did not touch)."""
    path = state_dir / JOURNAL
    before = [(r.seq, r.hash) for r in Journal(state_dir, readonly=True).records]
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) > 25
    says = corruption(state_dir, lines)
    path.write_bytes(b"".join(lines))
    if corruption is bad_byte:
        before = [e for e in before if e[0] != 20]
    elif corruption is bad_byte_in_the_plan:
        before = before[1:]
    elif corruption is head_gone_tail_cut:
        before = before[:-3]
    return says, before


def still_read(state_dir: Path) -> list[tuple[int, str]]:
    return [(r.seq, r.hash) for r in Journal(state_dir, salvage=True).records]


def kept_kinds(state_dir: Path) -> list[str]:
    path = state_dir / ASIDE
    return [json.loads(line)["kind"] for line in path.read_text().splitlines()] if path.exists() else []


def verified_naming(state_dir: Path, says: str) -> None:
    res = cockpit("verify", "--state-dir", str(state_dir))
    assert res.returncode == 1 and says in res.stderr, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    status = cockpit("status", "--state-dir", str(state_dir))
    assert status.returncode == 1 and "Traceback" not in status.stderr + status.stdout, status.stderr
    assert "status   LIVE" in status.stdout  # the events after a bad line still count: not PREFLIGHT


@pytest.mark.parametrize("corruption", CORRUPTIONS + [bad_byte_in_the_plan], ids=lambda c: c.__name__)
def test_cockpit_kill_on_a_corrupt_journal_takes_the_canary_to_0_at_haproxy(tmp_path, haproxy, corruption):
    from tests.integration.haproxy import BACKEND
    from tests.integration.test_cli_traffic import rollout_config

    config = rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})
    captain = Captain(config)
    captain.go_live()
    for i in range(NOTES):
        assert captain.engine.note(f"note {i}").ok
    captain.engine.journal.close()
    state_dir = captain.state_dir
    says, acknowledged = corrupt(state_dir, corruption)
    verified_naming(state_dir, says)
    assert canary_weight(haproxy) == "5"

    res = cockpit("kill", "--config", str(config), "--reason", "x", "--confirm", VERSION, "--no-wait")
    assert canary_weight(haproxy) == "0", (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge," in res.stdout
    seen = [r.kind for r in Journal(state_dir, salvage=True).records]
    if BROKEN[corruption]:  # the journal does not verify: the kill's events wait aside
        assert res.returncode == 4 and res.stderr.startswith("JOURNAL BROKEN: "), (res.stdout, res.stderr)
        assert kept_kinds(state_dir) == ["kill_requested", "kill_result"]
        assert "kill_requested" not in seen
    else:  # junk at the end is moved aside (and that is journaled); the kill is journaled
        assert res.returncode == 0, (res.stdout, res.stderr)
        assert "journal: torn tail quarantined: line " in res.stderr and "garbage" in res.stderr
        assert seen[-3:] == ["torn_tail_quarantined", "kill_requested", "kill_result"]
        assert not kept_kinds(state_dir)
        assert cockpit("verify", "--state-dir", str(state_dir)).returncode == 0
    assert set(acknowledged) <= set(still_read(state_dir))


@pytest.mark.parametrize("corruption", CORRUPTIONS + [bad_byte_in_the_plan], ids=lambda c: c.__name__)
def test_a_running_guard_on_a_corrupt_journal_kills_within_a_poll_of_the_due_time(tmp_path, haproxy, corruption):
    with watched(tmp_path) as (prom, exporter):
        config = guarded_config(tmp_path, haproxy, prom)
        captain = Captain(config)
        captain.go_live()
        for i in range(NOTES):
            assert captain.engine.note(f"note {i}").ok
        captain.engine.journal.close()
        state_dir = captain.state_dir
        says, acknowledged = corrupt(state_dir, corruption)
        err = tmp_path / "guard.err"
        with open(err, "wb") as out:
            guard = subprocess.Popen([sys.executable, "-m", "cockpit", "guard", "--config", str(config), "--reason", "t"],
                                     stdout=out, stderr=out, stdin=subprocess.DEVNULL, cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_for("the guard holds the lock, or ends", lambda: guard.poll() is not None
                     or (guard_holder(state_dir) or {}).get("pid") == guard.pid, 20)
            assert guard.poll() is None, err.read_text()
            assert canary_weight(haproxy) == "5"
            exporter.set(**{ERRORS: BAD})  # the breach begins once the guard watches
            zero_at = wait_for("the canary at weight 0 at haproxy",
                               lambda: canary_weight(haproxy) == "0" and time.time(), FOR_S + 30)
            due = breach_began(prom) + FOR_S  # the first breaching sample, plus the trigger's `for`
            wait_for("the kill's result journaled or kept", lambda: "kill_result" in (
                [r.kind for r in Journal(state_dir, salvage=True).records] + kept_kinds(state_dir)), 10)
            kinds = [r.kind for r in Journal(state_dir, salvage=True).records] + kept_kinds(state_dir)
            assert {"trigger_fired", "kill_requested", "kill_result"} <= set(kinds)
            if BROKEN[corruption]:
                assert {"trigger_fired", "kill_requested", "kill_result"} <= set(kept_kinds(state_dir))
            else:
                assert not kept_kinds(state_dir)
            ended = guard.poll()  # None: still guarding; a guard whose rollback is verified may stop by itself
        finally:
            if guard.poll() is None:
                guard.terminate()
                guard.wait(timeout=20)
            stop_guards(state_dir)
    late = zero_at - due
    print(f"{corruption.__name__}: canary 0 at haproxy {late:+.2f}s after the due time")
    assert late <= POLL_S + 1.0, f"{late:.2f}s after the due time"  # one poll, and a second for the round itself
    log = (state_dir / "guard.log").read_text()
    assert "Traceback" not in log and "Traceback" not in err.read_text(), log
    assert ended is None or (ended == 0 and "stopped: the rollout is rolled back" in log), (ended, log)
    if BROKEN[corruption]:
        assert log.count("JOURNAL BROKEN") == 1, log  # said once, not once a round
    else:
        assert "moved to journal.jsonl.torn-at-" in log or "torn_tail_quarantined" in [
            r.kind for r in Journal(state_dir, readonly=True).records]
    res = cockpit("verify", "--state-dir", str(state_dir))
    assert (res.returncode == 1) is BROKEN[corruption] and "Traceback" not in res.stderr
    if BROKEN[corruption]:
        assert says in res.stderr, res.stderr
    assert set(acknowledged) <= set(still_read(state_dir))
