"""Issue 20, items 1 and 8: the journal read strictly for `verify` and every command but the kill
(every problem named by line, never an exception), and tolerantly for the kill and the guard
(every line that still reads, before and after a bad one); another writer's garbage line at
the end moved aside like a torn tail; a head deleted from a journal that kept one named."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.engine import Engine
from cockpit.store.chain import JournalError
from cockpit.store.head import HEAD, HEADED
from cockpit.store.journal import Journal
from cockpit.store.kept import read_kept
from cockpit.store.verify import JOURNAL, verify
from tests.conftest import ROOT
from tests.support import MemoryGateway, passing_runner
from tests.test_engine import live, run

GOLDEN = Path(__file__).parent / "fixtures" / "journal_v1_all_kinds.jsonl"


@pytest.fixture
def journal(plan, state_dir, clock, actor) -> Path:
    """A live rollout at 5 % with notes: 30 lines, as a captain left it."""
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway(), check_runner=passing_runner())
    e.ensure_plan()
    live(e, clock)
    while len(e.journal.records) < 30:
        assert e.note(f"note {len(e.journal.records)}").ok
    e.journal.close()
    return state_dir / JOURNAL


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def damage(path: Path, edit) -> list[bytes]:
    lines = lines_of(path)
    edit(lines)
    path.write_bytes(b"".join(lines))
    return lines


def bad_byte(n: int):
    def edit(lines):
        lines[n - 1] = lines[n - 1].replace(b'"host":"', b'"host":"r\xffot', 1)
    return edit


def column(path: Path, n: int) -> int:
    """Where line n's bad byte is, counted from 1."""
    return lines_of(path)[n - 1].index(b"\xff") + 1


def cockpit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_every_line_written_while_the_head_is_kept_says_so(journal):
    assert {r.v for r in Journal(journal.parent, readonly=True).records} == {HEADED}


def test_a_bad_byte_in_a_middle_line_is_named_and_every_other_line_still_reads(journal, state_dir, plan, actor):
    before = Journal(state_dir, readonly=True).records
    damage(journal, bad_byte(20))
    scan = verify(state_dir)
    bad = f"line 20: invalid: not UTF-8: byte 0xff at column {column(journal, 20)}"
    assert [str(p) for p in scan.problems] == [bad]
    assert scan.head is None  # the journal still ends where the head says
    assert scan.records == before[:19] and scan.salvaged == before[:19] + before[20:]
    with pytest.raises(JournalError, match="line 20: invalid: not UTF-8"):
        Journal(state_dir)  # the captain and every other command refuse it
    with pytest.raises(JournalError, match="line 20: invalid: not UTF-8"):
        Journal(state_dir, readonly=True)
    salvaged = Journal(state_dir, salvage=True, actor=actor)  # the kill and the guard act on the rest
    assert salvaged.records == scan.salvaged and fold(salvaged.records).status == "live"
    assert salvaged.broken.endswith(f"{bad} (run `cockpit verify`)")
    with pytest.raises(JournalError, match="nothing is appended to a journal that does not verify"):
        salvaged.append(ev.Noted(text="x"), actor=actor, ts=before[-1].ts)
    salvaged.keep_aside(ev.Noted(text="kept"), actor=actor, ts=before[-1].ts, error="broken")
    assert [k.payload for k in read_kept(state_dir)[0]] == [ev.Noted(text="kept")]


def test_the_kill_on_a_journal_with_a_bad_byte_reaches_the_gateway(journal, state_dir, plan, clock, actor):
    damage(journal, bad_byte(20))
    gateway = MemoryGateway()
    engine = Engine(plan, Journal(state_dir, salvage=True), clock=clock, actor=actor, gateway=gateway)
    assert engine.state.status == "live"  # the bad line 20 of 30 does not make it read as not started
    out = run(engine.kill("p95 regression"))
    assert out.ok and gateway.enabled is False
    assert [p.KIND for p in out.unjournaled] == ["kill_requested", "kill_result"]
    assert [k.payload.KIND for k in read_kept(state_dir)[0]] == ["kill_requested", "kill_result"]


def test_verify_and_status_say_each_problem_on_its_own_line_without_a_traceback(journal, state_dir):
    def edit(lines):
        bad_byte(5)(lines)
        lines[11], lines[12] = lines[12], lines[11]
        del lines[-2:]
        lines.append(b"another writer's line\n")
    damage(journal, edit)
    (state_dir / HEAD).unlink()
    verified = cockpit("verify", "--state-dir", str(state_dir))
    assert verified.returncode == 1 and "Traceback" not in verified.stderr
    path = state_dir / JOURNAL
    bad = f"line 5: invalid: not UTF-8: byte 0xff at column {column(journal, 5)}"
    assert verified.stderr.splitlines() == [
        f"{path}: {bad}",
        f"{path}: line 12: reordered: expected seq 12 here; it stands at line 13",
        f"{path}: line 29: garbage: 1 line at the end (22 bytes) is not a journal record "
        "(JSON is malformed: invalid character (byte 0))",
        f"{path}: line 30: head missing: {HEAD} is gone, but event 1 was written by a journal that keeps one: "
        "lines cut off the journal's end cannot be ruled out",
        f"{path}: the first 4 events are intact; 23 events after them still read",
    ]
    status = cockpit("status", "--state-dir", str(state_dir))
    assert status.returncode == 1 and "Traceback" not in status.stderr
    said = status.stdout.splitlines()
    assert said[:4] == [
        f"JOURNAL  INVALID: {bad}: status shows the 27 events that still read (4 intact before it) "
        "(run `cockpit verify`)",
        "JOURNAL  REORDERED: line 12: reordered: expected seq 12 here; it stands at line 13",
        "JOURNAL  GARBAGE TAIL: line 29: garbage: 1 line at the end (22 bytes) is not a journal record "
        "(JSON is malformed: invalid character (byte 0)) (another writer's lines; the next append moves them aside)",
        f"JOURNAL  HEAD MISSING: {HEAD} is gone, but event 1 was written by a journal that keeps one: lines cut off "
        "the journal's end cannot be ruled out (line 30; run `cockpit verify`)",
    ]
    assert any(line.startswith("status   LIVE") for line in said)


def test_a_garbage_line_at_the_end_is_moved_aside_by_the_next_append_and_journaled(journal, state_dir, actor):
    before = journal.read_bytes()
    journal.write_bytes(before + b"GET /healthz 200\n")
    scan = verify(state_dir)
    assert [(p.line, p.reason) for p in scan.problems] == [(31, "garbage")] and scan.head is None
    observer = Journal(state_dir, readonly=True)  # reads past it, changes nothing, says it
    assert len(observer.records) == 30 and observer.torn.reason == "garbage"
    j = Journal(state_dir, actor=actor)
    assert j.quarantined.startswith("line 31: garbage: 1 line at the end (17 bytes) is not a journal record")
    repair = j.records[-1].payload
    assert (repair.KIND, repair.offset, repair.size) == ("torn_tail_quarantined", len(before), 17)
    assert (state_dir / repair.moved_to).read_bytes() == b"GET /healthz 200\n"
    _, note = j.append(ev.Noted(text="appends work again"), actor=actor, ts=repair and j.records[-1].ts)
    assert note.seq == 32 and verify(state_dir).problems == [] and verify(state_dir).head is None
    assert [r.kind for r in observer.poll()] == ["torn_tail_quarantined", "note"] and observer.torn is None


def test_a_captain_following_the_journal_moves_another_writers_garbage_aside(plan, journal, state_dir, clock, actor):
    engine = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway())
    with open(journal, "ab") as f:
        f.write(b'{"note": "not a record"}\n{"hash":"x"}\n')
    repaired = engine.refresh()
    assert [r.kind for r in repaired] == ["torn_tail_quarantined"]
    assert repaired[0].payload.detail.startswith("line 31: garbage: 2 lines at the end (38 bytes)")
    assert engine.note("and on").ok and verify(state_dir).problems == []


def test_a_garbage_line_in_the_middle_breaks_the_chain(journal, state_dir):
    damage(journal, lambda lines: lines.insert(10, b"GET /healthz 200\n"))
    scan = verify(state_dir)
    assert [str(p) for p in scan.problems] == ["line 11: invalid: JSON is malformed: invalid character (byte 0)"]
    assert len(scan.salvaged) == 30
    with pytest.raises(JournalError, match="line 11: invalid"):
        Journal(state_dir)


def test_a_deleted_head_with_a_cut_tail_is_named_and_no_fresh_head_is_written(journal, state_dir):
    """Item 8: `rm journal.head` and a cut tail read "ok ... no head record yet", and the next append
    wrote a fresh head. The lines themselves say the journal kept a head (v2): its absence is named."""
    damage(journal, lambda lines: lines.__delitem__(slice(-3, None)))
    (state_dir / HEAD).unlink()
    scan = verify(state_dir)
    assert scan.problems == [] and scan.head.reason == "head missing" and scan.head.line == 28
    assert cockpit("verify", "--state-dir", str(state_dir)).returncode == 1
    assert cockpit("status", "--state-dir", str(state_dir)).returncode == 1
    with pytest.raises(JournalError, match="head missing"):
        Journal(state_dir)
    with pytest.raises(JournalError, match="head missing"):
        Journal(state_dir, readonly=True)
    assert not (state_dir / HEAD).exists()  # no fresh head papers over the cut
    salvaged = Journal(state_dir, salvage=True)
    assert len(salvaged.records) == 27 and fold(salvaged.records).status == "live"  # not PREFLIGHT


def test_a_journal_from_before_heads_still_reads_without_one(tmp_path):
    (tmp_path / JOURNAL).write_bytes(GOLDEN.read_bytes())
    scan = verify(tmp_path)
    assert scan.problems == [] and scan.head is None
    said = cockpit("verify", "--state-dir", str(tmp_path))
    assert said.returncode == 0 and "(no head record yet (the next append writes one))" in said.stdout
    j = Journal(tmp_path)  # upgraded: a head now, and lines that say so
    _, record = j.append(ev.Noted(text="after the upgrade"), actor=ev.Actor(user="a", host="b"), ts=j.records[-1].ts)
    assert record.v == HEADED and (tmp_path / HEAD).exists()
    (tmp_path / HEAD).unlink()
    assert verify(tmp_path).head.reason == "head missing"


def test_a_journal_that_breaks_while_open_is_said_once_then_followed(journal, state_dir, plan, clock, actor, caplog):
    engine = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway())
    lines = lines_of(journal)
    with open(journal, "ab") as f:
        f.write(lines[1])  # another writer copies line 2 to the end: a record, out of order
    with pytest.raises(JournalError, match="line 31: reordered: expected seq 31, found seq 2"):
        engine.refresh()
    assert engine.journal.broken and engine.refresh() == []  # said once; then followed, quietly
    assert not engine.note("refused").ok
    with open(journal, "ab") as f:
        f.write(b"junk\n")
    with caplog.at_level(logging.ERROR, logger="cockpit.journal"):
        assert engine.refresh() == [] and engine.refresh() == []
    said = [r for r in caplog.records if r.name == "cockpit.journal"]
    assert len(said) == 1 and "line 32: garbage" in said[0].getMessage() and said[0].exc_info is None
    out = run(engine.kill("p95 regression"))
    assert out.ok and [p.KIND for p in out.unjournaled] == ["kill_requested", "kill_result"]


def test_reading_a_salvaged_journal_never_raises(journal, state_dir, caplog):
    damage(journal, bad_byte(3))
    j = Journal(state_dir, salvage=True)
    with open(journal, "ab") as f:
        f.write(lines_of(journal)[5].replace(b'"host":"', b'"host":"r\xffot', 1))  # a copy, with a bad byte
    with caplog.at_level(logging.ERROR, logger="cockpit.journal"):
        assert j.poll() == []
        journal.write_bytes(journal.read_bytes()[:100])  # cut while open
        assert j.poll() == [] and j.poll() == []
        journal.unlink()
        assert j.poll() == []
    said = [r.getMessage() for r in caplog.records if r.name == "cockpit.journal"]
    assert len(said) == 3, said  # each trouble once: the bad line, the cut, the journal gone
    assert "line 31: garbage" in said[0] and "not UTF-8" in said[0] and "cut while open" in said[1] and "the journal is gone" in said[2]


def test_rounds_on_a_journal_that_does_not_verify_say_it_once_without_a_traceback(plan, state_dir, clock, caplog):
    """guard.log grew ~600 traceback lines a minute for one persistent journal problem."""
    from datetime import timedelta

    from cockpit.monitor import Monitor
    from tests.rig import ACTOR, Rig

    rig = Rig(plan, state_dir, clock, "tenant-breach")  # Security fires 3 minutes in, then breaches on
    run(rig.start())
    rig.engine.journal.close()
    damage(state_dir / JOURNAL, bad_byte(3))
    engine = Engine(plan, Journal(state_dir, salvage=True), clock=clock, actor=ACTOR, gateway=rig.engine.gateway)
    monitor = Monitor(engine, rig.metrics, poll_s=15.0, step_s=30.0)
    with caplog.at_level(logging.ERROR, logger="cockpit"):
        for _ in range(24):
            clock.advance(timedelta(seconds=15))
            run(monitor.poll())
    said = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert said and all(r.exc_info is None for r in said), [r.getMessage() for r in said]
    sources = [r.getMessage().split(":")[0] for r in said]  # "monitor trigger error_rate", "monitor gateway", ...
    assert len(sources) == len(set(sources)) <= len(plan.triggers) + 3, sources  # each once, not once a round
    assert all("line 3: invalid: not UTF-8" in r.getMessage() for r in said)
    seen = run(engine.gateway.read())
    assert seen.enabled is False  # the flag off (0 % share, whatever weight it keeps): Security's kill reached the gateway all the same
    assert [k.payload.KIND for k in read_kept(state_dir)[0]].count("kill_requested") == 1
