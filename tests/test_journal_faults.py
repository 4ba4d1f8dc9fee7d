"""A journal in trouble never stops the kill: a dead writer's fragment, a file-size limit, a full
disk. The journal stays valid (cut back to its last complete line, fragments moved aside and
the repair journaled), and the kill still reaches the gateway, its events kept aside and
journaled as soon as the journal takes writes again."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.engine import Engine
from cockpit.store.chain import JournalError
from cockpit.store.journal import Journal
from cockpit.store.kept import ASIDE
from cockpit.store.verify import JOURNAL, verify
from tests.conftest import ROOT
from tests.support import MemoryGateway, passing_runner
from tests.test_engine import live, run


def spawn(code: str, *args: str, limit: int | None = None, stdin=None) -> subprocess.Popen:
    """A second cockpit process; with `limit`, under `ulimit -f` (bytes), SIGXFSZ ignored."""

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=limited if limit is not None else None)


def finish(p: subprocess.Popen) -> str:
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return out


_DIES_MID_APPEND = """
    import os, sys
    fd = os.open(os.path.join(sys.argv[1], "journal.jsonl"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'{"hash":"4b1d","v":1,"seq":99,"ts":"2026-11-26T14:')
    os._exit(0)  # dies mid-append: no line end, no cleanup
"""


@pytest.fixture
def engine(plan, state_dir, clock, actor):
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway(),
               check_runner=passing_runner())
    e.ensure_plan()
    live(e, clock)
    return e


def test_an_append_never_glues_onto_a_dead_writers_fragment(engine, state_dir):
    before = len(engine.journal.records)
    finish(spawn(_DIES_MID_APPEND, str(state_dir)))
    assert verify(state_dir).problem.reason == "torn"
    out = engine.note("after the other process died")
    assert out.ok
    kinds = [r.kind for r in engine.journal.records[before:]]
    assert kinds == ["torn_tail_quarantined", "note"]
    repair = engine.journal.records[before].payload
    assert (state_dir / repair.moved_to).read_bytes().startswith(b'{"hash":"4b1d"')
    assert engine.journal.quarantined and "moved to journal.jsonl.torn-at-" in engine.journal.quarantined
    scan = verify(state_dir)
    assert scan.problem is None and scan.head is None and len(scan.records) == before + 2


_HOLDS_THE_LOCK_MID_APPEND = """
    import fcntl, os, sys
    lock = os.open(os.path.join(sys.argv[1], "journal.lock"), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    fd = os.open(os.path.join(sys.argv[1], "journal.jsonl"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'{"hash":"')
    print("mid-append", flush=True)
    sys.stdin.read()  # stays mid-append until told, then dies without finishing the line
    os._exit(0)
"""


def test_followers_tell_a_write_in_flight_from_a_dead_writers_fragment(engine, state_dir):
    observer = Journal(state_dir, readonly=True)
    n = len(engine.journal.records)
    writer = spawn(_HOLDS_THE_LOCK_MID_APPEND, str(state_dir), stdin=subprocess.PIPE)
    assert writer.stdout.readline().strip() == "mid-append"
    assert observer.poll() == [] and observer.torn is None  # in flight: its writer holds the lock
    assert engine.refresh() == [] and (state_dir / JOURNAL).stat().st_size > engine.journal._offset
    writer.stdin.close()
    assert writer.wait(timeout=30) == 0
    assert observer.poll() == []
    assert observer.torn is not None and observer.torn.reason == "torn"  # said, not raised
    repaired = engine.refresh()  # the captain's follow takes the free lock and moves it aside
    assert [r.kind for r in repaired] == ["torn_tail_quarantined"]
    assert [r.kind for r in observer.poll()] == ["torn_tail_quarantined"] and observer.torn is None
    assert len(engine.journal.records) == n + 1 and verify(state_dir).problem is None


_KILL_UNDER_A_FILE_SIZE_LIMIT = """
    import asyncio, json, logging, sys
    from datetime import datetime, timezone
    from cockpit.clock import ManualClock
    from cockpit.core import events as ev
    from cockpit.core.triggers import WindowVerdict
    from cockpit.engine import Engine
    from cockpit.store.chain import JournalError
    from cockpit.store.journal import Journal
    from cockpit.seed import seed_plan
    from tests.support import MemoryGateway

    journal = Journal(sys.argv[1])
    gateway = MemoryGateway()
    gateway.weight = 5
    engine = Engine(seed_plan(), journal, clock=ManualClock(datetime.now(timezone.utc)),
                    actor=ev.Actor(user="bob", host="bastion", role="cli"), gateway=gateway)
    report = {}
    try:
        journal.append(ev.Noted(text="x" * 300), actor=engine.actor, ts=engine.clock.now())
    except JournalError as e:
        report["append"] = str(e)
    if sys.argv[2] == "operator":
        out = asyncio.run(engine.kill("p95 regression"))
        report.update(ok=out.ok, reasons=out.reasons, unjournaled=[p.KIND for p in out.unjournaled])
    else:
        trigger = next(t for t in engine.plan.triggers if t.action == "rollback")
        fired = WindowVerdict(state="fired", value=0.05, threshold=0.02, comparison=">", breaching_for_s=600,
                              needed_s=600, coverage=1.0, at=0.0, why="error rate 5 % above 2 % for 10m")
        said = []
        logging.getLogger("cockpit").addHandler(type("Said", (logging.Handler,), {"emit": lambda h, r: said.append(r.getMessage())})())
        asyncio.run(engine.observe_trigger(trigger, fired))  # never raises: what was not journaled is logged
        report["alarm"] = said[0] if said else ""
        report["trigger"] = trigger.id
    report["gateway"] = gateway.calls
    report["enabled"] = gateway.enabled
    print(json.dumps(report))
"""


@pytest.mark.parametrize("who", ["operator", "trigger"])
def test_a_file_size_limit_mid_append_cuts_back_and_the_kill_still_goes_out(engine, state_dir, who):
    journal = state_dir / JOURNAL
    before = journal.read_bytes()
    child = spawn(_KILL_UNDER_A_FILE_SIZE_LIMIT, str(state_dir), who, limit=len(before) + 120)
    report = json.loads(finish(child))
    assert report["append"].startswith(f"{journal}: cannot append: File too large [EFBIG]")
    assert report["append"].endswith(f"the journal still ends at event {len(engine.journal.records)}")
    assert journal.read_bytes() == before  # the partial line was cut back, nothing glued on
    assert verify(state_dir).problem is None
    assert "set_enabled False" in report["gateway"] and report["enabled"] is False  # the kill went out
    kept = [json.loads(line)["kind"] for line in (state_dir / ASIDE).read_text().splitlines()]
    if who == "operator":
        assert report["ok"] is True
        assert report["unjournaled"] == ["kill_requested", "kill_result"] == kept
        assert report["reasons"][0].startswith("JOURNAL NOT WRITTEN (kill_requested): ")
        assert f"kept in {state_dir / ASIDE}" in report["reasons"][0]
    else:
        assert kept == ["trigger_breached", "trigger_fired", "kill_requested", "kill_result"]
        assert report["alarm"].startswith(f"trigger {report['trigger']}: kill pulled: VERIFIED at the gateway; ")
    # the captain's next append journals the kept events, late but in order, and clears the side file
    n = len(engine.journal.records)
    assert engine.note("the journal takes writes again").ok
    late = engine.journal.records[n:]
    assert [r.kind for r in late] == ["journaled_late", *kept, "note"]
    assert late[0].payload.count == len(kept) and "File too large" in late[0].payload.error
    assert {r.actor.user for r in late[1:-1]} == {"bob"}
    assert not (state_dir / ASIDE).exists()
    assert engine.state.status == "rolled_back"
    assert verify(state_dir).problem is None and fold(verify(state_dir).records).status == "rolled_back"


def test_kept_events_are_journaled_by_the_next_writable_open(engine, state_dir, actor, clock):
    engine.journal.keep_aside(ev.Noted(text="kept"), actor=actor, ts=clock.now(), error="disk full")
    engine.journal.close()
    reopened = Journal(state_dir)
    assert [r.kind for r in reopened.records[-2:]] == ["journaled_late", "note"]
    assert not (state_dir / ASIDE).exists()
    again = Journal(state_dir)  # journaled once, not twice
    assert len(again.records) == len(reopened.records)


def test_a_crash_between_journaling_kept_events_and_clearing_them_journals_them_once(engine, state_dir, actor, clock):
    ts = clock.now()
    engine.journal.keep_aside(ev.Noted(text="kept"), actor=actor, ts=ts, error="disk full")
    kept_line = (state_dir / ASIDE).read_bytes()
    engine.note("journals the kept one")
    (state_dir / ASIDE).write_bytes(kept_line)  # as if the process died before removing the side file
    n = len(engine.journal.records)
    engine.note("next")
    assert [r.kind for r in engine.journal.records[n:]] == ["note"] and not (state_dir / ASIDE).exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (root only): a disk that really fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 512):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_a_full_disk_mid_append_keeps_the_journal_valid_and_the_kill_goes_out(plan, clock, actor, small_disk):
    state_dir = small_disk / "state"
    gateway = MemoryGateway()
    engine = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=gateway, check_runner=passing_runner())
    engine.ensure_plan()
    live(engine, clock)
    fill(small_disk)
    for _ in range(100):  # the journal's last page fills up too
        before = (state_dir / JOURNAL).read_bytes()
        if not (noted := engine.note("n" * 200)).ok:
            break
    assert noted.reasons == [f"JOURNAL NOT WRITTEN: {state_dir / JOURNAL}: cannot append: No space left on device "
                             f"[ENOSPC]; the journal still ends at event {len(engine.journal.records)}: "
                             "not recorded, and nothing was sent to the gateway"], noted.reasons
    assert (state_dir / JOURNAL).read_bytes() == before  # the partial line was cut back
    out = run(engine.kill("p95 regression"))
    assert out.ok and gateway.enabled is False  # the gateway confirms, whatever the disk says
    unjournaled = [p.KIND for p in out.unjournaled]
    assert "kill_result" in unjournaled  # what did not fit is said, what fitted is journaled
    assert sorted([r.kind for r in out.records] + unjournaled) == ["kill_requested", "kill_result"]
    said = "\n".join(out.reasons)
    assert "JOURNAL NOT WRITTEN (kill_result)" in said
    assert "NOT KEPT either" in said and "held in this process's memory only: KILL VERIFIED " in said
    assert engine.state.status == "rolled_back"  # folded all the same: the guard's paging sees the kill
    assert [h.record.kind for h in engine.unrecorded] == ["kill_result"]
    assert verify(state_dir).problem is None
    assert engine.write_held() == 0 and engine.unrecorded  # still full: still held, nothing raised
    os.unlink(small_disk / "filler")
    n = len(engine.journal.records)
    assert engine.write_held() == 1 and engine.held == []  # room again: journaled late (the guard's retry)
    assert [r.kind for r in engine.journal.records[n:]] == ["journaled_late", "kill_result"]
    assert engine.state.status == "rolled_back" and engine.state.seq == len(engine.journal.records)
    clock.advance(timedelta(seconds=5))
    assert run(engine.kill("p95 regression, journaled this time")).ok  # pulled again: now it is journaled
    scan = verify(state_dir)
    assert engine.state.status == "rolled_back" and scan.problem is None and scan.head is None


def test_a_kill_with_a_journal_broken_mid_file_still_reaches_the_gateway(engine, state_dir):
    path = state_dir / JOURNAL
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1] + [b'{"glued": true}\n'] + lines[-1:]))  # a line no cockpit wrote
    out = run(engine.kill("p95 regression"))
    assert out.ok and engine.gateway.enabled is False
    assert out.reasons[0].startswith(f"JOURNAL NOT WRITTEN (kill_requested): {path}: changed before offset ")
    assert (state_dir / ASIDE).exists()


_ADVANCE_UNDER_A_FILE_SIZE_LIMIT = """
    import asyncio, json, sys
    from datetime import datetime
    from cockpit.clock import ManualClock
    from cockpit.core import events as ev
    from cockpit.engine import Engine
    from cockpit.store.journal import Journal
    from cockpit.seed import seed_plan
    from tests.support import MemoryGateway

    gateway = MemoryGateway()
    gateway.weight = 5
    engine = Engine(seed_plan(), Journal(sys.argv[1]), clock=ManualClock(datetime.fromisoformat(sys.argv[2])),
                    actor=ev.Actor(user="bob", host="bastion", role="cli"), gateway=gateway)
    out = asyncio.run(engine.advance())
    print(json.dumps(dict(ok=out.ok, reasons=out.reasons, written=[r.kind for r in out.records],
                          unjournaled=[p.KIND for p in out.unjournaled], gateway=gateway.calls, weight=gateway.weight)))
"""


def _advance_under(limit_after: int, state_dir, clock) -> dict:
    before = (state_dir / JOURNAL).stat().st_size
    child = spawn(_ADVANCE_UNDER_A_FILE_SIZE_LIMIT, str(state_dir), clock.now().isoformat(), limit=before + limit_after)
    return json.loads(finish(child))


def _advance_lines(engine, state_dir, clock, tmp_path) -> list[int]:
    """The sizes of the lines an advance writes, found by doing it once in a copy of the state dir."""
    import shutil

    dry = tmp_path / "dry"
    shutil.copytree(state_dir, dry)
    n = len(engine.journal.records)
    report = _advance_under(10**9, dry, clock)
    assert report["ok"] and report["written"] == ["traffic_shift_requested", "traffic_shift_result", "phase_started"]
    return [len(line) + 1 for line in (dry / JOURNAL).read_bytes().splitlines()[n:]]


def test_an_advance_whose_journal_fills_after_the_gateway_moved_keeps_its_result_aside(engine, state_dir, clock, tmp_path):
    """The journal takes the intent, then not the read-back: the shift is done and verified at the
    gateway, so the advance says so, with JOURNAL NOT WRITTEN, and nothing raises; the result and the
    phase start wait in the side file and are journaled, in order, by the next append."""
    from tests.test_engine import pass_gate

    pass_gate(engine, clock)
    intent, _result, _phase = _advance_lines(engine, state_dir, clock, tmp_path)
    report = _advance_under(intent + 10, state_dir, clock)
    assert report["ok"] is True
    assert report["weight"] == 25 and "set_weight 25" in report["gateway"]
    assert report["written"] == ["traffic_shift_requested"]
    assert report["unjournaled"] == ["traffic_shift_result", "phase_started"]
    assert report["reasons"][0].startswith("JOURNAL NOT WRITTEN (traffic_shift_result): ")
    assert "File too large" in report["reasons"][0] and f"kept in {state_dir / ASIDE}" in report["reasons"][0]
    assert verify(state_dir).problem is None  # cut back, nothing half-written
    n = len(engine.journal.records)
    assert engine.note("the disk has room again").ok
    late = [r.kind for r in engine.journal.records[n:]]
    assert late == ["traffic_shift_requested", "journaled_late", "traffic_shift_result", "phase_started", "note"]
    assert engine.state.weight == 25 and engine.state.phase == 1 and engine.state.pending_shift is None


def test_an_advance_whose_journal_will_not_take_the_intent_sends_nothing(engine, state_dir, clock, tmp_path):
    from tests.test_engine import pass_gate

    pass_gate(engine, clock)
    intent, _result, _phase = _advance_lines(engine, state_dir, clock, tmp_path)
    report = _advance_under(intent - 10, state_dir, clock)
    assert report["ok"] is False and report["written"] == [] and report["unjournaled"] == []
    assert report["gateway"] == [] and report["weight"] == 5
    assert report["reasons"] == [report["reasons"][0]] and report["reasons"][0].startswith("JOURNAL NOT WRITTEN: ")
    assert report["reasons"][0].endswith("not recorded, and nothing was sent to the gateway")
    assert not (state_dir / ASIDE).exists() and verify(state_dir).problem is None


def test_a_note_the_journal_refuses_is_refused_in_words(engine, state_dir, monkeypatch):
    """The screen calls the engine from key handlers: a journal error must come back as a refusal
    the screen shows, never as an exception that takes the captain's screen down."""
    def full(*_a, **_k):
        raise JournalError(f"{state_dir / JOURNAL}: cannot append: No space left on device [ENOSPC]")

    calls = list(engine.gateway.calls)
    monkeypatch.setattr(engine.journal, "append", full)
    for out in (engine.note("x"), engine.decide("sre", "GO", "alice"), run(engine.shift(5))):
        assert not out.ok and out.reasons[0].startswith("JOURNAL NOT WRITTEN: ") and "ENOSPC" in out.reasons[0]
    assert engine.gateway.calls == calls  # the re-assert's intent was not journaled: nothing sent
