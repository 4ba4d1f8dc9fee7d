"""The tamper suite: each way of changing a journal after the fact is named by `cockpit verify`
(exit 1) and said first and loudly by `cockpit status` (exit 1), and a captain refuses to run on it."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from cockpit.engine import Engine
from cockpit.store.chain import JournalError
from cockpit.store.head import HEAD
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL
from tests.conftest import ROOT
from tests.support import MemoryGateway, passing_runner


@pytest.fixture
def journal(plan, state_dir, clock, actor):
    """A journal with a plan and seven notes (eight events), as a captain left it."""
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway(), check_runner=passing_runner())
    e.ensure_plan()
    for i in range(7):
        assert e.note(f"note {i}").ok
    e.journal.close()
    return state_dir / JOURNAL


def cockpit(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def rehash(line: bytes) -> bytes:
    body = b"{" + line[75:].rstrip(b"\n")
    return b'{"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'",' + body[1:] + b"\n"


def cut_tail(ls):
    del ls[-2:]


def rehash_last(ls):
    ls[-1] = rehash(ls[-1].replace(b"note 6", b"note X"))


def delete_middle(ls):
    del ls[4]


def swap(ls):
    ls[3], ls[4] = ls[4], ls[3]


def tear(ls):
    ls.append(b'{"hash":"9f2c","v":1,"seq":10,"ts":"2026-')


@pytest.mark.parametrize("tamper, verify_says, status_says", [
    (cut_tail, "line 7: truncated: the head record says 8 events ending in ", "TRUNCATED: the head record says 8"),
    (rehash_last, "line 8: rehashed: the head record says event 8 has hash ", "REHASHED: the head record says event 8"),
    (delete_middle, "line 5: deleted: expected seq 5, found seq 6", "DELETED: line 5: deleted"),
    (swap, "line 4: reordered: expected seq 4 here; it stands at line 5", "REORDERED: line 4: reordered"),
    (tear, "line 9: torn: 41 bytes without a line end", "TORN TAIL: line 9: torn"),
], ids=["tail-cut", "last-line-rehashed", "middle-line-deleted", "lines-swapped", "torn-tail"])
def test_tampering_is_named_by_verify_and_said_by_status(journal, state_dir, tamper, verify_says, status_says):
    lines = journal.read_bytes().splitlines(keepends=True)
    tamper(lines)
    journal.write_bytes(b"".join(lines))
    verified = cockpit("verify", "--state-dir", str(state_dir))
    assert verified.returncode == 1, verified
    assert verify_says in verified.stderr
    status = cockpit("status", "--state-dir", str(state_dir))
    assert status.returncode == 1, status
    assert status.stdout.startswith(f"JOURNAL  {status_says}")  # first, before the rollout
    assert status_says in status.stderr and "Traceback" not in status.stderr
    if tamper is not tear:
        with pytest.raises(JournalError, match="run `cockpit verify`"):
            Journal(state_dir)  # a captain refuses to run on it


def test_a_head_one_event_behind_is_a_crash_not_tampering(journal, state_dir, actor, clock):
    from cockpit.core import events as ev

    head = (state_dir / HEAD).read_bytes()
    j = Journal(state_dir)
    j.append(ev.Noted(text="the writer dies before updating the head"), actor=actor, ts=clock.now())
    j.close()
    (state_dir / HEAD).write_bytes(head)  # the head as the crash left it
    verified = cockpit("verify", "--state-dir", str(state_dir))
    assert verified.returncode == 0 and "9 events, chain intact" in verified.stdout
    assert cockpit("status", "--state-dir", str(state_dir)).returncode == 0
    Journal(state_dir).close()  # a writable open brings the head up to date
    assert (state_dir / HEAD).read_bytes() != head


def test_a_head_two_events_behind_is_named(journal, state_dir, actor, clock):
    from cockpit.core import events as ev

    head = (state_dir / HEAD).read_bytes()
    j = Journal(state_dir)
    for text in ("one", "two"):
        j.append(ev.Noted(text=text), actor=actor, ts=clock.now())
    j.close()
    (state_dir / HEAD).write_bytes(head)
    verified = cockpit("verify", "--state-dir", str(state_dir))
    assert verified.returncode == 1
    assert "head behind: the head record says 8 events, the journal has 10" in verified.stderr
