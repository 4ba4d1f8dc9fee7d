"""One suite, both backends: what the engine, the guard and the session rely on from a journal holds for the
file journal and for the journal on etcd alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.store import verify as file_journal
from cockpit.store.chain import JournalError, ReadOnlyJournal, Scan, encode_line
from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_journal import EtcdJournal, journal_key
from cockpit.store.etcd_journal import verify as etcd_verify
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL
from tests.conftest import T0

PREFIX = "/cockpit/contract/v1"


@dataclass
class Backend:
    writer: Callable[[str], Journal | EtcdJournal]  # a writer on another host (or process), by name
    reader: Callable[[], Journal | EtcdJournal]  # a read-only face
    verify: Callable[[], Scan]
    side_dir: Callable[[str], Path]  # where that writer keeps events aside
    tamper: Callable[[int, bytes | None], None]  # replace event `seq`'s stored line (None: delete it), as an intruder


@pytest.fixture(params=["file", "etcd"])
def backend(request, tmp_path) -> Backend:
    if request.param == "file":
        state = tmp_path / "state"

        def tamper_file(seq: int, line: bytes | None) -> None:
            path = state / JOURNAL
            lines = path.read_bytes().splitlines(keepends=True)
            lines[seq - 1:seq] = [] if line is None else [line]
            path.write_bytes(b"".join(lines))

        return Backend(lambda name: Journal(state), lambda: Journal(state, readonly=True),
                       lambda: file_journal.verify(state), lambda name: state, tamper_file)
    cluster = request.getfixturevalue("etcd1")
    client = EtcdClient(cluster.endpoints)

    def tamper_etcd(seq: int, line: bytes | None) -> None:
        if line is None:
            client.delete(journal_key(PREFIX, seq))
        else:
            client.put(journal_key(PREFIX, seq), line)

    return Backend(lambda name: EtcdJournal(EtcdClient(cluster.endpoints), PREFIX, tmp_path / name),
                   lambda: EtcdJournal(EtcdClient(cluster.endpoints), PREFIX, readonly=True),
                   lambda: etcd_verify(EtcdClient(cluster.endpoints), PREFIX), lambda name: tmp_path / name,
                   tamper_etcd)


def _stored(records: list[ev.Record], seq: int) -> bytes:
    return encode_line(records[seq - 1])[0]


def test_appends_chain_and_a_reopen_reads_them_back(backend, actor):
    j = backend.writer("a")
    for i in range(5):
        _, record = j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0 + timedelta(seconds=i))
        assert record.seq == i + 1
    assert j.records[0].prev == ev.GENESIS
    assert all(b.prev == a.hash for a, b in zip(j.records, j.records[1:], strict=False))
    assert backend.writer("b").records == j.records == backend.reader().records
    scan = backend.verify()
    assert scan.problem is None and scan.head is None and scan.records == j.records


def test_an_append_returns_what_another_writer_appended_first_and_a_poll_sees_it(backend, actor):
    a, b = backend.writer("a"), backend.writer("b")
    face = backend.reader()
    a.append(ev.Noted(text="from a"), actor=actor, ts=T0)
    others, mine = b.append(ev.Noted(text="from b"), actor=actor, ts=T0)
    assert [r.payload.text for r in others] == ["from a"] and mine.seq == 2
    assert [r.payload.text for r in face.poll()] == ["from a", "from b"]
    assert face.poll() == []
    assert [r.seq for r in a.poll()] == [2]


def test_a_read_only_journal_refuses_appends_and_keeping_aside(backend, actor):
    backend.writer("a").append(ev.Noted(text="x"), actor=actor, ts=T0)
    face = backend.reader()
    with pytest.raises(ReadOnlyJournal):
        face.append(ev.Noted(text="y"), actor=actor, ts=T0)
    with pytest.raises(ReadOnlyJournal):
        face.keep_aside(ev.Noted(text="y"), actor=actor, ts=T0, error="e")


def test_an_event_kept_aside_is_journaled_late_by_the_next_append_in_order(backend, actor):
    j = backend.writer("a")
    j.append(ev.Noted(text="before"), actor=actor, ts=T0)
    side = j.keep_aside(ev.KillRequested(reason="store would not take it"), actor=actor,
                        ts=T0 + timedelta(seconds=1), error="the store did not answer")
    assert side.parent == backend.side_dir("a")
    others, record = j.append(ev.Noted(text="after"), actor=actor, ts=T0 + timedelta(seconds=2))
    assert [r.payload.KIND for r in others] == ["journaled_late", "kill_requested"]
    assert others[1].ts == T0 + timedelta(seconds=1)  # its own time, not the time it was journaled
    assert [r.payload.KIND for r in backend.reader().records] == ["note", "journaled_late", "kill_requested", "note"]
    assert not side.exists()
    assert backend.verify().problem is None
    assert fold(backend.reader().records).status == fold(j.records).status


def test_an_event_that_would_not_replay_is_refused_and_nothing_is_appended(backend, actor):
    j = backend.writer("a")
    with pytest.raises(JournalError, match="not a valid event"):
        j.append(ev.TrafficShiftRequested(phase=0, weight="five"), actor=actor, ts=T0)  # type: ignore[arg-type]
    assert backend.reader().records == []


def _five(backend: Backend, actor: ev.Actor) -> list[ev.Record]:
    j = backend.writer("a")
    for i in range(5):
        j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0 + timedelta(seconds=i))
    records = list(j.records)
    j.close()
    return records


def test_verify_names_an_edited_event_by_its_line_on_both_stores(backend, actor):
    records = _five(backend, actor)
    backend.tamper(3, _stored(records, 3).replace(b"note 2", b"note X"))
    scan = backend.verify()
    assert scan.problem is not None and (scan.problem.line, scan.problem.reason) == (3, "edited"), scan.problems
    assert "its hash does not match its content" in scan.problem.detail
    assert [r.seq for r in scan.records] == [1, 2]  # what reads before the edit


def test_verify_names_a_deleted_event_on_both_stores(backend, actor):
    _five(backend, actor)
    backend.tamper(2, None)
    scan = backend.verify()
    assert scan.problem is not None and "seq 2" in str(scan.problems), scan.problems
    assert [r.seq for r in scan.records] == [1]


def test_a_line_that_is_not_utf8_is_a_named_problem_not_an_exception_on_both_stores(backend, actor):
    records = _five(backend, actor)
    backend.tamper(4, _stored(records, 4).replace(b"note 3", b"n\xffte 3"))
    scan = backend.verify()
    assert scan.problem is not None and scan.problem.line == 4, scan.problems
    assert any("not UTF-8" in p.detail for p in scan.problems), scan.problems


def test_a_rollout_killed_on_either_store_replays_to_the_state_the_engine_holds(backend, plan, clock, actor):
    """The engine's whole path — the plan, sign-offs, the start, a kill read back — on either journal; a face
    that replays the store folds to the very state the engine acted on."""
    from cockpit.engine import Engine
    from tests.support import MemoryGateway, passing_runner
    from tests.test_engine import live, run

    gateway = MemoryGateway()
    e = Engine(plan, backend.writer("captain"), clock=clock, actor=actor, gateway=gateway,
               check_runner=passing_runner())
    e.ensure_plan()
    live(e, clock)
    clock.advance(timedelta(minutes=3))
    out = run(e.kill("p95 regression"))
    assert out.ok and e.state.status == "rolled_back" and gateway.enabled is False
    replayed = fold(backend.reader().records)
    assert replayed == e.state and replayed.kill is not None and replayed.kill.result is not None
    assert backend.verify().problem is None
