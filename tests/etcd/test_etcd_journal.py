"""The journal on a real etcd: the file journal's bytes, one unforked chain under concurrent writers and a
killed leader, fencing, pagination, failover, and a kill journaled late when etcd does not answer."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.engine import Engine
from cockpit.store.chain import JournalError, ReadOnlyJournal
from cockpit.store.etcd_client import EtcdClient, EtcdRefused, prefix_end
from cockpit.store.etcd_journal import Deposed, EtcdJournal, head_key, journal_base, journal_key, verify
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL
from tests.conftest import T0
from tests.support import MemoryGateway, passing_runner
from tests.test_engine import live, run

PREFIX = "/cockpit/intelgraph/v0.1.0"

PAYLOADS = [
    ev.RolloutStarted(),
    ev.TrafficShiftRequested(phase=0, weight=5),
    ev.Noted(text="canary at 5 % — ünïcode and \"quotes\" survive"),
    ev.KillRequested(reason="error rate 4.1 % > 2 %", trigger="error_rate"),
    ev.GuardStarted(pid=4242, host="bastion-b", reason="took over"),
]


def _stored(client: EtcdClient, prefix: str = PREFIX) -> list[bytes]:
    base = journal_base(prefix)
    return [kv.value for page in client.pages(base, prefix_end(base)) for kv in page]


def test_an_etcd_journal_holds_the_file_journals_bytes_and_verifies(etcd1, tmp_path, actor):
    file_journal = Journal(tmp_path / "file")
    client = EtcdClient(etcd1.endpoints)
    j = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor)
    for i, payload in enumerate(PAYLOADS):
        ts = T0 + timedelta(seconds=i)
        file_journal.append(payload, actor=actor, ts=ts)
        _, record = j.append(payload, actor=actor, ts=ts)
        assert record == file_journal.records[-1]
    assert b"".join(_stored(client)) == (tmp_path / "file" / JOURNAL).read_bytes()  # byte for byte
    head = client.get(head_key(PREFIX))
    assert head is not None and head.value == b'{"seq": 5, "hash": "%s"}' % j.records[-1].hash.encode()

    again = EtcdJournal(client, PREFIX, readonly=True)  # a face on another host replays it
    assert again.records == file_journal.records
    assert fold(again.records).status == fold(file_journal.records).status
    scan = verify(client, PREFIX)
    assert scan.problem is None and scan.head is None and len(scan.records) == 5
    with pytest.raises(ReadOnlyJournal):
        again.append(ev.Noted(text="x"), actor=actor, ts=T0)


def test_verify_names_an_edited_or_deleted_event_and_the_head_by_line(etcd1, tmp_path, actor):
    client = EtcdClient(etcd1.endpoints)
    j = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor)
    for i in range(6):
        j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0 + timedelta(seconds=i))
    line3 = client.get(journal_key(PREFIX, 3))
    assert line3 is not None
    client.put(journal_key(PREFIX, 3), line3.value.replace(b"note 2", b"note X"))
    scan = verify(client, PREFIX)
    assert scan.problem is not None and (scan.problem.line, scan.problem.reason) == (3, "edited")
    with pytest.raises(JournalError, match="line 3: edited"):
        EtcdJournal(client, PREFIX, tmp_path / "local2", actor=actor)
    salvaged = EtcdJournal(client, PREFIX, tmp_path / "local3", actor=actor, salvage=True)
    assert salvaged.broken and "line 3: edited" in salvaged.broken
    assert [r.seq for r in salvaged.records] == [1, 2, 4, 5, 6]  # every line that still reads, as the file's salvage
    assert salvaged.poll() == []
    with pytest.raises(JournalError, match="does not verify"):
        salvaged.append(ev.Noted(text="after"), actor=actor, ts=T0)

    client.put(journal_key(PREFIX, 3), line3.value)  # put back: verifies again
    client.delete(journal_key(PREFIX, 6))  # the last event cut off: only the head can tell
    scan = verify(client, PREFIX)
    assert scan.problem is None and scan.head is not None and scan.head.reason == "truncated"
    client.delete(head_key(PREFIX))
    assert verify(client, PREFIX).head.reason == "head missing"


def test_two_writers_appending_at_once_make_one_chain_with_every_acknowledged_event(etcd3, tmp_path, actor):
    n = 40
    acked: dict[str, list[ev.Record]] = {"a": [], "b": []}
    together = threading.Barrier(2, timeout=30)  # each append starts beside the other's: they race every time

    def writer(name: str) -> None:
        j = EtcdJournal(EtcdClient(etcd3.endpoints), PREFIX, tmp_path / name, actor=actor)
        for i in range(n):
            together.wait()
            _, record = j.append(ev.Noted(text=f"{name} {i}"), actor=actor, ts=T0 + timedelta(seconds=i))
            acked[name].append(record)

    threads = [threading.Thread(target=writer, args=(name,)) for name in acked]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    client = EtcdClient(etcd3.endpoints)
    scan = verify(client, PREFIX)
    assert scan.problem is None and scan.head is None
    assert len(scan.records) == 2 * n  # nothing lost, nothing twice
    by_seq = {r.seq: r for r in scan.records}
    for records in acked.values():
        assert len(records) == n
        assert all(by_seq[r.seq] == r for r in records)  # each acknowledged event is where it was acknowledged
        assert [r.payload.text for r in records] == [f"{records[0].payload.text.split()[0]} {i}" for i in range(n)]
    interleaved = [r.payload.text.split()[0] for r in scan.records]
    assert interleaved != sorted(interleaved)  # they raced (neither ran all its appends first)


def test_a_writer_that_missed_appends_builds_on_them_and_returns_them_first(etcd1, tmp_path, actor):
    client = EtcdClient(etcd1.endpoints)
    a = EtcdJournal(client, PREFIX, tmp_path / "a", actor=actor)
    b = EtcdJournal(EtcdClient(etcd1.endpoints), PREFIX, tmp_path / "b", actor=actor)
    a.append(ev.Noted(text="a1"), actor=actor, ts=T0)
    a.append(ev.Noted(text="a2"), actor=actor, ts=T0)
    others, mine = b.append(ev.Noted(text="b1"), actor=actor, ts=T0)
    assert [r.payload.text for r in others] == ["a1", "a2"] and mine.seq == 3 and mine.prev == others[-1].hash
    assert [r.seq for r in a.poll()] == [3]


def test_a_fenced_writer_whose_epoch_is_stale_appends_nothing(etcd1, tmp_path, actor):
    client = EtcdClient(etcd1.endpoints)
    guard = f"{PREFIX}/guard".encode()
    epoch = client.put(guard, b"old holder")  # a fresh key: its create revision is the put's revision
    j = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor)
    j.fenced(guard, epoch)
    j.append(ev.Noted(text="while current"), actor=actor, ts=T0)
    client.delete(guard)
    client.put(guard, b"new holder")  # taken over: a new key, a later create revision
    with pytest.raises(Deposed, match=f"epoch {epoch} is no longer current"):
        j.append(ev.KillRequested(reason="stale guard"), actor=actor, ts=T0)
    assert [r.payload.KIND for r in EtcdJournal(client, PREFIX, readonly=True).records] == ["note"]
    client.delete(guard)
    with pytest.raises(Deposed, match="held by nobody"):
        j.append(ev.KillRequested(reason="stale guard"), actor=actor, ts=T0)
    assert len(_stored(client)) == 1


def test_replay_and_poll_page_through_more_events_than_one_range_returns(etcd3, tmp_path, actor):
    client = EtcdClient(etcd3.endpoints)
    j = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor, page=7)
    reader = EtcdJournal(client, PREFIX, readonly=True, page=7)
    for i in range(20):
        j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0)
    assert [r.seq for r in reader.poll()] == list(range(1, 21))  # pages of 7 from one member
    for i in range(20, 130):
        j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0)
    assert [r.seq for r in reader.poll()] == list(range(21, 131))  # pages of 7 from three slices, one per member
    assert EtcdJournal(client, PREFIX, readonly=True, page=7).records == j.records
    assert verify(client, PREFIX, page=7).records == j.records
    assert reader.poll() == []
    line = client.get(journal_key(PREFIX, 100))
    client.delete(journal_key(PREFIX, 100))
    client.put(journal_key(PREFIX, 100)[:-1] + b"x", line.value)  # the line stored under a key out of place
    scan = verify(client, PREFIX, page=7)
    assert scan.problem is not None and scan.problem.line == 100


def test_follow_returns_what_another_writer_appends_while_it_waits(etcd1, tmp_path, actor):
    client = EtcdClient(etcd1.endpoints)
    writer = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor)
    reader = EtcdJournal(EtcdClient(etcd1.endpoints), PREFIX, readonly=True)
    started = time.monotonic()
    assert reader.follow(0.3) == [] and time.monotonic() - started >= 0.3  # bounded: nothing came
    timer = threading.Timer(0.2, lambda: writer.append(ev.Noted(text="later"), actor=actor, ts=T0))
    timer.start()
    got = reader.follow(5.0)
    timer.join()
    assert [r.payload.text for r in got] == ["later"]


def test_follow_from_a_revision_compacted_away_reads_by_seq_all_the_same(etcd1, tmp_path, actor):
    client = EtcdClient(etcd1.endpoints)
    writer = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor)
    reader = EtcdJournal(EtcdClient(etcd1.endpoints), PREFIX, readonly=True)
    for i in range(3):
        writer.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0)
    client.call("/v3/kv/compaction", {"revision": str(writer.revision), "physical": True}, "compaction")
    with pytest.raises(EtcdRefused, match="compacted"):
        client.watch(journal_base(PREFIX), prefix_end(journal_base(PREFIX)), start_revision=reader.revision + 1,
                     within_s=1.0)
    assert [r.payload.text for r in reader.follow(1.0)] == ["note 0", "note 1", "note 2"]


def test_a_dead_first_endpoint_is_passed_over_and_no_endpoint_is_a_journal_error(etcd1, tmp_path, actor):
    dead = "http://127.0.0.1:9"  # discard: nothing listens
    j = EtcdJournal(EtcdClient([dead, *etcd1.endpoints]), PREFIX, tmp_path / "local", actor=actor)
    j.append(ev.Noted(text="through the second endpoint"), actor=actor, ts=T0)
    etcd1.members[0].stop()  # hangs: connections accepted by the kernel, never answered
    try:
        j.client = EtcdClient([dead, *etcd1.endpoints], timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(JournalError) as e:
            j.append(ev.Noted(text="nobody answers"), actor=actor, ts=T0)
        assert time.monotonic() - started < 3
        assert dead in str(e.value) and etcd1.endpoints[0] in str(e.value) and "timed out" in str(e.value)
        assert str(e.value).startswith(f"etcd:{PREFIX}: cannot append")
    finally:
        etcd1.members[0].cont()
    # The txn that timed out sat in the stopped member's socket and may be applied once it runs again: an
    # unknown outcome, never a fork. The next append builds on whatever was committed, and says so.
    j.client = EtcdClient(etcd1.endpoints)
    others, record = j.append(ev.Noted(text="after"), actor=actor, ts=T0)
    texts = [r.payload.text for r in EtcdJournal(j.client, PREFIX, readonly=True).records]
    assert texts in (["through the second endpoint", "after"],
                     ["through the second endpoint", "nobody answers", "after"])
    assert [r.payload.text for r in others] == texts[1:-1] and record.seq == len(texts)
    assert verify(j.client, PREFIX).problem is None


@pytest.mark.parametrize("fault", ["kill", "stop"])
def test_losing_the_leader_during_a_burst_of_appends_loses_no_acknowledged_event(etcd3, tmp_path, actor, fault):
    """SIGKILL: the leader is gone. SIGSTOP: it hangs, holding the txns it had accepted, which its
    followers' new leader never sees, or that run when it wakes (the head's compare then refuses them)."""
    client = EtcdClient(etcd3.endpoints, timeout_s=1.0)
    j = EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor)
    acked: list[ev.Record] = []
    refused: list[str] = []
    stop = threading.Event()

    def burst() -> None:
        i = 0
        while not stop.is_set() and i < 400:
            try:
                acked.append(j.append(ev.Noted(text=f"burst {i}"), actor=actor, ts=T0)[1])
            except JournalError as e:
                refused.append(str(e))  # not acknowledged: the engine keeps it aside
            i += 1

    t = threading.Thread(target=burst)
    t.start()
    while len(acked) < 30 and t.is_alive():
        time.sleep(0.01)
    leader = etcd3.leader()
    if fault == "kill":
        leader.kill()
    else:
        leader.stop()
    at_kill = len(acked)
    deadline = time.monotonic() + 15
    while len(acked) < at_kill + 30 and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(30)
    assert len(acked) >= at_kill + 30, refused[:3]  # the burst carried on with the new leader
    if fault == "stop":
        leader.cont()
        etcd3.wait_ready()
    scan = verify(EtcdClient([m.url for m in etcd3.members if m is not leader]), PREFIX)
    assert scan.problem is None and scan.head is None
    by_seq = {r.seq: r for r in scan.records}
    assert all(by_seq.get(r.seq) == r for r in acked)  # every acknowledged append is there, where it said
    assert len({r.payload.text for r in scan.records}) == len(scan.records)  # none twice


def test_a_kill_while_etcd_does_not_answer_reaches_the_gateway_and_is_journaled_late(etcd1, tmp_path, plan, clock,
                                                                                      actor):
    client = EtcdClient(etcd1.endpoints, timeout_s=0.5)
    gateway = MemoryGateway()
    engine = Engine(plan, EtcdJournal(client, PREFIX, tmp_path / "local", actor=actor), clock=clock, actor=actor,
                    gateway=gateway, check_runner=passing_runner())
    engine.ensure_plan()
    live(engine, clock)
    assert gateway.weight > 0
    etcd1.members[0].stop()
    try:
        out = run(engine.kill("etcd is down and the canary burns"))
        assert gateway.weight == 0 and not gateway.enabled  # the kill never waited on the store
        assert any("JOURNAL NOT WRITTEN" in r for r in out.reasons)
        assert (tmp_path / "local" / "unjournaled.jsonl").exists()  # kept aside, on this host
    finally:
        etcd1.members[0].cont()
    assert engine.write_held() > 0
    records = EtcdJournal(EtcdClient(etcd1.endpoints), PREFIX, readonly=True).records
    kinds = [r.payload.KIND for r in records]
    # The kill's intent may be journaled late, or may have been committed after all (its txn waited in the
    # stopped member's socket and ran on SIGCONT): once either way, and what followed it journaled late.
    assert kinds.count("kill_requested") == 1 and kinds.count("kill_result") == 1 and "journaled_late" in kinds
    assert kinds.index("kill_requested") < kinds.index("kill_result")
    assert not engine.held
    assert verify(client, PREFIX).problem is None
    assert fold(records).status == engine.state.status
