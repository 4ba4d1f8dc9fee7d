"""What the journal will not take is folded all the same and journaled late (engine.Held): on a real
full disk (a tmpfs, root only) the guard still kills, pages and sends the rollback notice through
real HTTP receivers; once the disk has room every event is journaled, in order, with its own time
and actor, each `notified` naming its queued message's journaled seq, and the state equals a replay.
Also: an event is never lost for a byte it cannot encode."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess

import pytest

from cockpit import guard_work
from cockpit.core import events as ev
from cockpit.core.evaluation import GuardId
from cockpit.core.paging import pending_deliveries
from cockpit.core.state import fold
from cockpit.engine import PROVISIONAL, Engine, escaped, recordable
from cockpit.guard import Guard
from cockpit.store.journal import Journal
from cockpit.store.kept import ASIDE
from cockpit.store.verify import JOURNAL, verify
from tests.conftest import T0
from tests.receiver import Answer, Receiver
from tests.rig import Rig
from tests.support import MemoryGateway, passing_runner
from tests.test_engine import live, run
from tests.test_guard_paging import ROUTING_KEY, paged_plan


@pytest.fixture
def disk(tmp_path):
    """A 512 KiB tmpfs: a disk that really fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk, engine: Engine) -> None:
    """Fill the disk, then the journal's last page with notes, until the journal refuses."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    for size in (120, 40, 10, 1):  # shorter and shorter: what room is left is less than the shortest event
        for _ in range(100):
            if not engine.note("f" + "n" * size).ok:
                break
        else:
            raise AssertionError("the journal still takes notes on a full disk")


def check_late_journal(records: list[ev.Record], first_late: int) -> None:
    """Every `notified` names a `notification_queued` before it, of its channel and text."""
    by_seq = {r.seq: r for r in records}
    for r in records:
        if r.kind == "notified" and r.payload.queued:
            queued = by_seq.get(r.payload.queued)
            assert queued is not None and queued.kind == "notification_queued", (r.seq, r.payload.queued)
            assert (queued.payload.channel, queued.payload.text) == (r.payload.channel, r.payload.text)
            assert queued.seq < r.seq
    assert all(r.seq < PROVISIONAL for r in records)
    late = records[first_late:]
    assert late[0].kind == "journaled_late" and late[0].payload.count >= 6


@pytest.mark.anyio
async def test_a_full_disk_kills_pages_and_journals_everything_late(plan, clock, monkeypatch, disk):
    state_dir = disk / "state"
    with Receiver() as sre, Receiver(Answer(202, body='{"status":"success"}')) as pd, Receiver() as budget, \
            Receiver() as other:
        monkeypatch.setenv("T_SLACK_SRE", f"{sre.url}/services/sre")
        monkeypatch.setenv("T_SLACK_BUDGET", f"{budget.url}/services/budget")
        monkeypatch.setenv("T_PD_KEY", ROUTING_KEY)
        p = paged_plan(plan, sre.url, f"{pd.url}/v2/enqueue", budget.url, other.url)
        rig = Rig(p, state_dir, clock, "error-spike")
        rig.engine.metrics = rig.metrics  # the canary traffic check after the kill, as in a real guard
        await rig.start()
        await rig.to_phase(1)  # the error spike starts at 25 %
        guard = Guard(rig.engine, rig.monitor, state_dir, GuardId(user="guard", host="bastion", pid=101, since=T0),
                      attended=lambda: True)
        fill(disk, rig.engine)
        journaled = len(rig.engine.journal.records)
        running = asyncio.ensure_future(guard.run(wait=False))
        try:
            for _ in range(600):  # the rollback notice goes out with the disk full
                if budget.seen or running.done():
                    break
                await asyncio.sleep(0.05)
            assert budget.seen, "no rollback notice while the disk is full"
            on_disk_now = Journal(state_dir, readonly=True).records[journaled:]
            assert [r.kind for r in on_disk_now] in ([], ["guard_started"])  # it fitted in the last page, or not
            side = state_dir / ASIDE  # not even in the side file (made, but nothing fits): in the guard's memory
            assert not side.exists() or side.stat().st_size == 0
            assert rig.world.enabled is False and rig.engine.state.status == "rolled_back"
            assert "L1 paged (INC-1)" in sre.seen[0].body["text"] and pd.bodies()[0]["event_action"] == "trigger"
            notice = budget.seen[0].body["text"]
            assert "ROLLBACK by trigger" in notice and "VERIFIED: gateway confirmed 0 %" in notice
            assert notice.endswith(f"journal head {rig.engine.journal.records[-1].hash}")  # the real head
            await asyncio.sleep(0.5)
            assert not running.done()  # done, but it stays: its memory alone holds the events
            assert rig.engine.unrecorded and all(h.record.seq > PROVISIONAL for h in rig.engine.held)
            os.unlink(disk / "filler")
            why = await asyncio.wait_for(running, 30)
        finally:
            if not running.done():
                guard.stop()
                await asyncio.wait_for(running, 10)
    assert why == "the rollout is rolled back and the kill verified"
    records = rig.engine.journal.records
    if records[journaled].kind == "guard_started":
        journaled += 1
    kinds = [r.kind for r in records[journaled:]]
    assert kinds[0] == "journaled_late"
    for kind in ("trigger_breached", "trigger_fired", "kill_requested", "kill_result",
                 "incident_opened", "notification_queued", "notified", "rollback_verified", "incident_resolved"):
        assert kind in kinds, kind
    # the incident (paging step) and the traffic check (a task beside the rounds) follow the kill in either order
    assert kinds.index("trigger_fired") < kinds.index("kill_requested") < kinds.index("kill_result") \
        < min(kinds.index("incident_opened"), kinds.index("rollback_verified"))
    check_late_journal(records, journaled)
    late = records[journaled + 1: journaled + 1 + records[journaled].payload.count]
    assert [r.ts for r in late] == sorted(r.ts for r in late)  # their own times, in order
    assert {r.actor for r in late} == {rig.engine.actor}
    results = [r.payload for r in records if r.kind == "notified"]
    assert results and all(n.delivered for n in results)
    assert len(sre.seen) == len([n for n in results if n.channel == "#sre-oncall"])  # each sent once
    assert len(budget.seen) == 1  # the rollback notice, once
    assert pending_deliveries(rig.engine.state) == []
    scan = verify(state_dir)
    assert scan.problem is None and scan.head is None
    replay = fold(scan.records)  # replay equals live
    live_state = rig.engine.state
    assert (replay.status, replay.seq, replay.last_hash) == (live_state.status, live_state.seq, live_state.last_hash)
    assert {k: v.result for k, v in replay.outbox.items()} == {k: v.result for k, v in live_state.outbox.items()}
    assert {k: (v.level, v.resolution) for k, v in replay.incidents.items()} == \
        {k: (v.level, v.resolution) for k, v in live_state.incidents.items()}


@pytest.fixture
def engine(plan, state_dir, clock, actor):
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway(),
               check_runner=passing_runner())
    e.ensure_plan()
    live(e, clock)
    return e


def test_a_captains_note_while_events_are_held_comes_before_them_and_replay_equals_live(plan, clock, actor,
                                                                                              disk, caplog):
    """Another process appends while the guard holds events in memory (the disk had room for one
    note): its line keeps its place, the held ones follow, late and in order; the state refolds."""
    state_dir = disk / "state"
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway(),
               check_runner=passing_runner())
    e.ensure_plan()
    live(e, clock)
    fill(disk, e)
    out = run(e.kill("p95 regression"))
    assert out.ok and e.state.status == "rolled_back" and [h.record.kind for h in e.unrecorded] == [
        "kill_requested", "kill_result"]
    guard_work.paging_round(e)  # the rollback notice is queued, held
    queued = [(seq, q) for seq, q in pending_deliveries(e.state) if q.purpose == "rollback"]
    assert queued and queued[0][0] > PROVISIONAL
    key = e.delivery_key(queued[0][0])
    os.unlink(disk / "filler")
    captain = Journal(state_dir)  # another process's append while ours are held in memory
    captain.append(ev.Noted(text="captain: watching"), actor=ev.Actor(user="bob", host="b"), ts=clock.now())
    captain.close()
    e.refresh()
    assert e.state.status == "rolled_back" and len(e.held) == 3  # still folded, on top of the note
    from cockpit.adapters.notify import Delivery

    with caplog.at_level(logging.WARNING, logger="cockpit.engine"):
        e.record_delivery(key, queued[0][1], Delivery(True, 1, ["HTTP 200"]))  # appends: the held go first
    assert e.held == []
    assert "journaled late: 3 events the journal would not take, before notified" in caplog.text  # said, as a round says it
    kinds = [r.kind for r in e.journal.records[-6:]]
    assert kinds == ["note", "journaled_late", "kill_requested", "kill_result", "notification_queued", "notified"]
    notified, queued_line = e.journal.records[-1], e.journal.records[-2]
    assert notified.payload.queued == queued_line.seq and e.delivery_key(queued_line.seq) == key
    assert verify(state_dir).problem is None
    replay = fold(e.journal.records)
    assert replay.seq == e.state.seq and replay.outbox[queued_line.seq].result == e.state.outbox[queued_line.seq].result


def test_held_events_in_the_side_file_are_relinked_by_whoever_journals_them(engine, state_dir, clock):
    """The side file can be written, the journal not (a journal that does not verify, repaired
    later by hand): a `notified` kept beside its queued message names it by provisional seq, and
    the process that journals the side file names the journaled seq."""
    path = state_dir / JOURNAL
    good = path.read_bytes()
    first, rest = good.split(b"\n", 1)
    path.write_bytes(first + b'\n{"glued": true}\n' + rest)  # a line no cockpit wrote, mid-file: every append refused
    guard_work.paging_round(engine)
    out = run(engine.kill("p95 regression"))
    assert out.ok and engine.held and all(h.kept for h in engine.held)
    guard_work.paging_round(engine)
    (seq, q), = [(s, q) for s, q in pending_deliveries(engine.state) if q.purpose == "rollback"]
    from cockpit.adapters.notify import Delivery

    engine.record_delivery(engine.delivery_key(seq), q, Delivery(True, 1, ["HTTP 200"]))
    assert [h.record.kind for h in engine.held][-2:] == ["notification_queued", "notified"]
    assert engine.held[-1].record.payload.queued == seq > PROVISIONAL
    path.write_bytes(good)  # repaired by hand
    other = Journal(state_dir)  # the next writable open journals the side file
    late = [r for r in other.records if r.seq > len(good.splitlines())]
    assert [r.kind for r in late][0] == "journaled_late"
    by_kind = {r.kind: r for r in late}
    assert by_kind["notified"].payload.queued == by_kind["notification_queued"].seq
    assert not (state_dir / ASIDE).exists() and verify(state_dir).problem is None


def test_an_event_is_never_lost_for_a_byte_it_cannot_encode(engine, actor, clock):
    """kill --reason $'\\xe9' from a Latin-1 terminal reaches us as a lone surrogate (surrogateescape)."""
    out = run(engine.kill("spike \udce9 at the edge"))
    assert out.ok and out.reasons == [] and not engine.held
    kill = next(r for r in engine.journal.records if r.kind == "kill_requested")
    assert kill.payload.reason == "spike \\xe9 at the edge"
    assert recordable(ev.Noted(text="\ud800"), actor, clock.now()) == ev.Noted(text="\\ud800")
    assert escaped(("a\udcff", {"k\udc80": ["b"]})) == ("a\\xff", {"k\\x80": ["b"]})
    bad = recordable(ev.TriggerFired(trigger="t", action="rollback", level="L1", value=1.0, threshold=0.5,
                                     window_s=float("nan"), detail="x"), actor, clock.now())
    assert isinstance(bad, ev.Noted) and bad.text.startswith("trigger_fired could not be journaled as it was: ")
    assert engine.note(bad.text).ok  # it is a note a replay reads


def test_a_guard_on_a_read_only_state_dir_with_no_lock_file_guards_and_says_so(plan, clock, actor, disk, caplog,
                                                                             capfd):
    """No guard ever ran here, so there is no guard.lock to flock read-only: it guards without it, loudly;
    its guard.log goes to stderr; what it journals is held in its memory."""
    import logging

    from cockpit.guard import LogFile
    from cockpit.monitor import Monitor
    from cockpit.store.unwritable import UnwritableJournal, acting_journal

    state_dir = disk / "state"
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=MemoryGateway(), check_runner=passing_runner())
    e.ensure_plan()
    live(e, clock)
    e.journal.close()
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    try:
        journal = acting_journal(state_dir)
        assert isinstance(journal, UnwritableJournal) and "read-only file system" in journal.why
        engine = Engine(plan, journal, clock=clock, actor=actor, gateway=MemoryGateway())
        assert engine.state.status == "live" and not engine.follower
        guard = Guard(engine, Monitor(engine, None), state_dir, GuardId(user="g", host="b", pid=7, since=T0),
                      attended=lambda: True)
        with caplog.at_level(logging.INFO, logger="cockpit"):
            assert asyncio.run(guard.acquire(wait=False)) is True
        said = caplog.text
        assert "NO GUARD LOCK: " in said and "guarding WITHOUT the lock" in said
        assert [h.record.kind for h in engine.unrecorded] == ["guard_started"]
        handler = LogFile(state_dir / "guard.log", stderr_too=False)
        for text in ("first", "second"):
            handler.emit(logging.LogRecord("cockpit.guard", logging.ERROR, __file__, 1, text, None, None))
        err = capfd.readouterr().err
        assert err.count("guard.log cannot be written (Read-only file system): its lines go to stderr") == 1
        assert err.endswith("first\nsecond\n")
        guard.release("test over")
        assert [h.record.kind for h in engine.unrecorded] == ["guard_started", "guard_stopped"]
        assert guard.unrecorded and "NOT RECORDED: stopping with 2 events" in caplog.text
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    assert engine.write_held() == 2 and engine.held == []  # writable again: journaled late, in order
    assert [r.kind for r in engine.journal.records[-3:]] == ["journaled_late", "guard_started", "guard_stopped"]
    assert verify(state_dir).problem is None


def test_every_face_folds_what_another_process_kept_aside(plan, state_dir, clock, actor, capsys):
    """A guard's kill on a journal that does not verify is kept in the side file: the captain's
    screen, an observer, `cockpit status` and a guard started after it read ROLLED BACK (not LIVE
    5 %, which sent the captain's screen into starting a guard a second in the lab); once the journal
    is repaired and the events are journaled late, nothing is folded twice."""
    from cockpit.cli import main
    from cockpit.core.paging import pending_deliveries

    gw = MemoryGateway()
    guard = Engine(plan, Journal(state_dir), clock=clock, actor=ev.Actor(user="g", host="b", role="guard"), gateway=gw,
                   check_runner=passing_runner())
    guard.ensure_plan()
    live(guard, clock)
    captain = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=gw)
    observer = Engine(plan, Journal(state_dir, readonly=True), clock=clock, actor=actor)
    assert captain.state.status == observer.state.status == "live"
    path = state_dir / JOURNAL
    good = path.read_bytes()
    first, rest = good.split(b"\n", 1)
    path.write_bytes(first + b'\n{"glued": true}\n' + rest)  # another writer's line, mid-file
    out = run(guard.kill("p95 regression"))
    guard_work.paging_round(guard)
    assert out.ok and guard.held and all(h.kept for h in guard.held) and guard.state.status == "rolled_back"
    for face in (captain, observer):
        try:
            face.refresh()
        except Exception:  # noqa: BLE001 - the follow names the rewrite once; the state is folded all the same
            pass
        assert face.state.status == "rolled_back" and face.state.kill.result.confirmed, face.state.status
        assert len(face.state.outbox) == len(guard.state.outbox) >= 1  # the rollback notice, queued aside
    restarted = Engine(plan, Journal(state_dir, salvage=True), clock=clock, actor=guard.actor, gateway=gw)
    assert restarted.state.status == "rolled_back" and restarted.state.kill.trigger == guard.state.kill.trigger
    assert [q.channel for _, q in pending_deliveries(restarted.state)] == [
        q.channel for _, q in pending_deliveries(guard.state)]  # the same outbox: nothing new to send
    assert main(["status", "--state-dir", str(state_dir)]) == 1
    said = capsys.readouterr().out
    assert "status   ROLLED BACK   canary weight 0 %" in said and "NOT JOURNALED YET" in said

    path.write_bytes(good)  # repaired by hand; the guard's next round journals what it kept
    guard.journal.close()
    guard.journal = Journal(state_dir)
    assert guard.write_held() and not guard.held and not (state_dir / ASIDE).exists()
    observer.journal.close()
    observer = Engine(plan, Journal(state_dir, readonly=True), clock=clock, actor=actor)
    replay = fold(Journal(state_dir, readonly=True).records)
    assert observer.state.status == replay.status == "rolled_back"
    assert len(replay.outbox) == len(observer.state.outbox) >= 1 and observer.state.seq == replay.seq
