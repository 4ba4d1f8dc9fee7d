"""The critical case end to end, on a real haproxy: another process dies mid-append (or under a
file-size limit) and leaves a torn fragment; the captain's kill, an auto-rollback trigger's kill
and `cockpit kill` still reach haproxy (canary weight 0, read back over the runtime API), the
fragment is moved aside and journaled, `cockpit verify` is clean, and no acknowledged event is lost."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from cockpit.core.triggers import WindowVerdict
from cockpit.store.kept import ASIDE
from tests.conftest import ROOT
from tests.integration.haproxy import BACKEND
from tests.integration.test_cli_traffic import VERSION, Captain, canary_hits, cockpit, rollout_config

pytestmark = pytest.mark.integration

_DIES_MID_APPEND = """
    import os, sys
    fd = os.open(os.path.join(sys.argv[1], "journal.jsonl"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'{"hash":"4b1d","v":1,"seq":99,"ts":"2026-11-26T14:')
    os._exit(0)  # a `cockpit kill` that died mid-append: no line end
"""


def tear(state_dir) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_DIES_MID_APPEND), str(state_dir)], timeout=30)
    assert done.returncode == 0


def canary_weight(rig) -> str:
    """`get weight` straight from haproxy's runtime API: what the gateway really holds."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(rig.socket)
        s.sendall(f"get weight {BACKEND}/canary\n".encode())
        answer = b"".join(iter(lambda: s.recv(4096), b""))
    return answer.decode().split()[0]


@pytest.fixture
def config(haproxy, tmp_path):
    return rollout_config(tmp_path, {"type": "haproxy", "socket": haproxy.socket, "backend": BACKEND})


@pytest.fixture
def captain(config):
    c = Captain(config)
    c.go_live()
    yield c
    c.engine.journal.close()


def acknowledged(captain) -> list[tuple[int, str]]:
    return [(r.seq, r.hash) for r in captain.engine.journal.records]


def assert_clean_and_kept(config, captain, before) -> None:
    res = cockpit("verify", "--config", str(config))
    assert res.returncode == 0, res.stderr
    assert "chain intact" in res.stdout and "head agrees" in res.stdout
    records = Captain(config).engine.journal.records  # a fresh reader, from the file alone
    assert [(r.seq, r.hash) for r in records[: len(before)]] == before  # no acknowledged event lost


def test_the_captains_kill_after_a_torn_append_reaches_haproxy(config, captain, haproxy):
    assert canary_weight(haproxy) == "5"
    before = acknowledged(captain)
    tear(captain.state_dir)
    out = asyncio.run(captain.engine.kill("p95 regression"))  # what the screen's kill calls
    assert out.ok and out.reasons == [], out.reasons
    assert [r.kind for r in out.records][:2] == ["kill_requested", "kill_result"]
    after = [r.kind for r in captain.engine.journal.records[len(before):]]
    assert after[:3] == ["torn_tail_quarantined", "kill_requested", "kill_result"]  # never glued on
    assert canary_weight(haproxy) == "0" and canary_hits(haproxy) == 0
    assert captain.engine.state.status == "rolled_back"
    assert_clean_and_kept(config, captain, before)


def test_a_firing_trigger_after_a_torn_append_rolls_back_at_haproxy(config, captain, haproxy):
    before = acknowledged(captain)
    tear(captain.state_dir)
    trigger = next(t for t in captain.plan.triggers if t.action == "rollback")
    fired = WindowVerdict(state="fired", value=0.05, threshold=0.02, comparison=">", breaching_for_s=600,
                          needed_s=600, coverage=1.0, at=0.0, why="error rate 5 % above 2 % for 10m")
    asyncio.run(captain.engine.observe_trigger(trigger, fired))
    kinds = [r.kind for r in captain.engine.journal.records[len(before):]]
    assert kinds[:4] == ["torn_tail_quarantined", "trigger_breached", "trigger_fired", "kill_requested"]
    assert "kill_result" in kinds and canary_weight(haproxy) == "0" and canary_hits(haproxy) == 0
    assert captain.engine.state.kill.trigger == trigger.id and captain.engine.state.status == "rolled_back"
    assert_clean_and_kept(config, captain, before)


def test_cockpit_kill_after_a_torn_append_says_it_quarantined_and_kills(config, captain, haproxy):
    before = acknowledged(captain)
    tear(captain.state_dir)
    res = cockpit("kill", "--config", str(config), "--reason", "p95 regression", "--confirm", VERSION, "--no-wait")
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("journal: torn tail quarantined: line ")
    assert "bytes moved to journal.jsonl.torn-at-" in res.stderr
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge," in res.stdout and canary_weight(haproxy) == "0"
    seen = captain.engine.refresh()
    assert [r.kind for r in seen][:3] == ["torn_tail_quarantined", "kill_requested", "kill_result"]
    assert_clean_and_kept(config, captain, before)


def test_cockpit_kill_under_a_file_size_limit_kills_and_exits_4(config, captain, haproxy):
    before = acknowledged(captain)
    limit = (captain.state_dir / "journal.jsonl").stat().st_size + 100

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_GATEWAY_TOKEN"}
    res = subprocess.run([sys.executable, "-m", "cockpit", "kill", "--config", str(config), "--reason", "spike",
                          "--confirm", VERSION, "--no-wait"], capture_output=True, text=True, cwd=ROOT,
                         stdin=subprocess.DEVNULL, env={**env, "PYTHONPATH": str(ROOT)}, preexec_fn=limited,
                         timeout=60)
    assert res.returncode == 4, (res.stdout, res.stderr)
    assert "JOURNAL NOT WRITTEN (kill_requested): " in res.stderr and "File too large [EFBIG]" in res.stderr
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge," in res.stdout
    assert "the canary is off at the gateway, but the JOURNAL DOES NOT SAY SO YET" in res.stderr
    assert canary_weight(haproxy) == "0"
    kept = [json.loads(line)["kind"] for line in (captain.state_dir / ASIDE).read_text().splitlines()]
    assert kept == ["kill_requested", "kill_result"]
    assert captain.engine.note("the journal takes writes again").ok  # the captain journals them late
    assert captain.engine.state.status == "rolled_back" and not (captain.state_dir / ASIDE).exists()
    assert_clean_and_kept(config, captain, before)


@pytest.mark.parametrize("damage", ["edited middle line", "cut-off tail"])
def test_cockpit_kill_on_a_journal_that_does_not_verify_still_reaches_haproxy(config, captain, haproxy, damage):
    """Every other command refuses a tampered journal; the kill acts on the intact events, keeps its
    own aside, and exits 4: at the gateway, not in the journal."""
    captain.engine.journal.close()
    path = captain.state_dir / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    if damage == "edited middle line":
        lines[3] = lines[3].replace(b'"status":"pass"', b'"status":"fail"')  # a check's result, rewritten
    else:
        lines = lines[:-1]  # the phase start cut off: the head record still counts it
    path.write_bytes(b"".join(lines))
    assert cockpit("verify", "--config", str(config)).returncode == 1
    assert cockpit("note", "--config", str(config), "after the damage").returncode == 2  # others refuse
    res = cockpit("kill", "--config", str(config), "--reason", "p95 regression", "--confirm", VERSION, "--no-wait")
    assert res.returncode == 4, (res.stdout, res.stderr)
    assert res.stderr.startswith("JOURNAL BROKEN: ") and "pulling the kill all the same" in res.stderr
    assert "VERIFIED: the gateway reads the canary off: canary share 0 % (gateway edge," in res.stdout
    assert canary_weight(haproxy) == "0" and canary_hits(haproxy) == 0
    kept = [json.loads(line)["kind"] for line in (captain.state_dir / ASIDE).read_text().splitlines()]
    assert kept == ["kill_requested", "kill_result"]
    assert path.read_bytes() == b"".join(lines)  # the evidence of the damage is left as it was
