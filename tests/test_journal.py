"""The journal: fsync'd hash-chained appends, torn tails quarantined, tampering named by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.store.chain import JournalError, ReadOnlyJournal
from cockpit.store.journal import Journal
from cockpit.store.locks import CaptainLock, CaptainLockHeld, read_captain
from cockpit.store.verify import JOURNAL, verify
from tests.conftest import T0


def _fill(state_dir, actor, n=5):
    j = Journal(state_dir)
    for i in range(n):
        j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0 + timedelta(seconds=i))
    j.close()
    return state_dir / JOURNAL


def _lines(path):
    return path.read_bytes().splitlines(keepends=True)


def test_append_chains_and_reopens(state_dir, actor):
    path = _fill(state_dir, actor, 3)
    j = Journal(state_dir)
    assert [r.seq for r in j.records] == [1, 2, 3]
    assert j.records[0].prev == ev.GENESIS
    assert all(b.prev == a.hash for a, b in zip(j.records, j.records[1:], strict=False))
    first = json.loads(_lines(path)[0])
    assert set(first) == {"hash", "v", "seq", "ts", "actor", "kind", "payload", "prev"}
    assert first["actor"] == {"user": "alice", "host": "bastion", "role": "captain"}
    assert verify(state_dir).problem is None


@pytest.mark.parametrize(
    "tamper, line, reason",
    [
        (lambda ls: ls.__setitem__(2, ls[2].replace(b"note 2", b"note X")), 3, "edited"),
        (lambda ls: ls.__delitem__(1), 2, "deleted"),
        (lambda ls: ls.__setitem__(slice(1, 3), [ls[2], ls[1]]), 2, "reordered"),
        (lambda ls: ls.__setitem__(slice(3, 5), [ls[4], ls[3]]), 4, "reordered"),
        (lambda ls: ls.append(ls[1]), 6, "reordered"),
        (lambda ls: ls.__setitem__(0, ls[0].replace(b'"seq":1', b'"seq":1,"x":1')), 1, "invalid"),
    ],
)
def test_tampering_is_named_by_line(state_dir, actor, tamper, line, reason):
    path = _fill(state_dir, actor)
    lines = _lines(path)
    tamper(lines)
    path.write_bytes(b"".join(lines))
    problem = verify(state_dir).problem
    assert problem is not None and (problem.line, problem.reason) == (line, reason), problem
    with pytest.raises(JournalError, match=f"line {line}: {reason}"):
        Journal(state_dir)  # a captain refuses to run on a tampered journal


def test_a_rehashed_edit_still_breaks_the_chain(state_dir, actor):
    """Editing a line and recomputing its own hash is caught by the next line's prev."""
    import hashlib

    path = _fill(state_dir, actor)
    lines = _lines(path)
    body = b"{" + lines[1][75:].rstrip(b"\n").replace(b"note 1", b"note Y")
    lines[1] = b'{"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'",' + body[1:] + b"\n"
    path.write_bytes(b"".join(lines))
    problem = verify(state_dir).problem
    assert (problem.line, problem.reason) == (3, "edited")
    assert "prev does not match" in problem.detail


def test_cli_verify_names_the_line(state_dir, actor):
    path = _fill(state_dir, actor)
    ok = subprocess.run([sys.executable, "-m", "cockpit", "verify", "--state-dir", str(state_dir)], capture_output=True, text=True)
    assert ok.returncode == 0 and "5 events, chain intact" in ok.stdout
    lines = _lines(path)
    lines[3] = lines[3].replace(b"note 3", b"note 9")
    path.write_bytes(b"".join(lines))
    bad = subprocess.run([sys.executable, "-m", "cockpit", "verify", "--state-dir", str(state_dir)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "line 4: edited" in bad.stderr and "first 3 events are intact" in bad.stderr


def test_torn_tail_is_quarantined_and_the_rest_kept(state_dir, actor):
    path = _fill(state_dir, actor)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"hash":"abc","v":1,"seq":6,"ts":"2026-')  # a crash mid-write
    assert verify(state_dir).problem.reason == "torn"
    observer = Journal(state_dir, readonly=True)  # an observer reads past it, changes nothing
    assert len(observer.records) == 5 and path.read_bytes() != whole
    j = Journal(state_dir)
    assert j.quarantined and "line 6: torn" in j.quarantined
    assert len(j.records) == 6 and path.read_bytes().startswith(whole)
    repair = j.records[-1].payload  # the repair is journaled, by the journal itself
    assert (repair.KIND, repair.offset, repair.size) == ("torn_tail_quarantined", len(whole), 39)
    side = [p for p in state_dir.iterdir() if p.name.startswith(f"{JOURNAL}.torn")]
    assert [p.name for p in side] == [repair.moved_to] and side[0].read_bytes().startswith(b'{"hash":"abc"')
    _, rec = j.append(ev.Noted(text="after the crash"), actor=actor, ts=T0)
    assert rec.seq == 7 and verify(state_dir).problem is None


def test_observer_is_read_only_and_follows(state_dir, actor):
    _fill(state_dir, actor, 2)
    observer = Journal(state_dir, readonly=True)
    with pytest.raises(ReadOnlyJournal):
        observer.append(ev.Noted(text="x"), actor=actor, ts=T0)
    captain = Journal(state_dir)
    captain.append(ev.Noted(text="new"), actor=actor, ts=T0)
    new = observer.poll()
    assert [r.payload.text for r in new] == ["new"]
    assert observer.poll() == []


def test_partial_line_in_flight_is_not_seen_by_followers(state_dir, actor):
    path = _fill(state_dir, actor, 2)
    observer = Journal(state_dir, readonly=True)
    with open(path, "ab") as f:
        f.write(b'{"hash":"')
    assert observer.poll() == []


_WRITER = r"""
import sys
from datetime import datetime, timezone
from cockpit.store.journal import Journal
from cockpit.core import events as ev
j = Journal(sys.argv[1])
actor = ev.Actor(user=sys.argv[2], host="h")
for i in range(int(sys.argv[3])):
    _, r = j.append(ev.Noted(text=f"{sys.argv[2]} {i}"), actor=actor, ts=datetime.now(timezone.utc))
    print(r.seq, flush=True)
"""


def test_appends_from_several_processes_are_serialised(state_dir):
    state_dir.mkdir(parents=True)
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(state_dir), f"w{k}", "60"], stdout=subprocess.PIPE, text=True)
        for k in range(3)
    ]
    acked = set()
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        acked.update(int(x) for x in out.split())
    scan = verify(state_dir)
    assert scan.problem is None
    assert [r.seq for r in scan.records] == list(range(1, 181))
    assert acked == set(range(1, 181))


def test_the_engine_sees_appends_from_another_process(state_dir, actor):
    j = Journal(state_dir)
    j.append(ev.Noted(text="mine"), actor=actor, ts=T0)
    subprocess.run([sys.executable, "-c", _WRITER, str(state_dir), "other", "2"], check=True, capture_output=True)
    others, mine = j.append(ev.Noted(text="mine again"), actor=actor, ts=T0)
    assert [r.payload.text for r in others] == ["other 0", "other 1"]
    assert mine.seq == 4


def test_captain_lock_refuses_a_second_captain_with_the_holder(state_dir):
    first = CaptainLock(state_dir, user="alice", host="bastion", pid=os.getpid(), since="14:00Z").acquire()
    with pytest.raises(CaptainLockHeld) as info:
        CaptainLock(state_dir, user="bob", host="bastion", pid=1, since="14:05Z").acquire()
    assert "alice@bastion" in str(info.value) and "cockpit observe" in str(info.value)
    assert read_captain(state_dir)["user"] == "alice"
    first.release()
    assert read_captain(state_dir) is None


_HOLDER = r"""
import os, sys, time
from cockpit.store.locks import CaptainLock
CaptainLock(sys.argv[1], user="ghost", host="bastion", pid=os.getpid(), since="13:00Z").acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_dead_captains_lock_is_taken_over(state_dir):
    p = subprocess.Popen([sys.executable, "-c", _HOLDER, str(state_dir)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    with pytest.raises(CaptainLockHeld, match="ghost@bastion"):
        CaptainLock(state_dir, user="bob", host="bastion", pid=os.getpid(), since="14:05Z").acquire()
    p.kill()
    p.wait(timeout=10)
    lock = CaptainLock(state_dir, user="bob", host="bastion", pid=os.getpid(), since="14:06Z").acquire()
    assert lock.took_over["user"] == "ghost"
    assert read_captain(state_dir)["user"] == "bob"
    lock.release()
