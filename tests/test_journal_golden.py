"""A journal written before the events moved from pydantic to msgspec still reads, verifies and
folds: tests/fixtures/journal_v1_all_kinds.jsonl holds one event of every kind, written by the
pydantic events and never regenerated."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import msgspec

from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.store.chain import _BODY_AT, encode_line, scan_bytes
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL, verify
from tests.fixtures.journal_v1_all_kinds import GUARD, LATER, T0, events

GOLDEN = Path(__file__).parent / "fixtures" / "journal_v1_all_kinds.jsonl"


def _lines() -> list[bytes]:
    return GOLDEN.read_bytes().splitlines(keepends=True)


def test_the_golden_journal_holds_every_kind():
    """...but those added after it was written (LATER: they have their own round trip)."""
    kinds = [ev.parse_record(line).kind for line in _lines()]
    assert set(kinds) == {p.KIND for p in ev.PAYLOADS} - {p.KIND for p in LATER}
    assert set(kinds).isdisjoint(p.KIND for p in LATER)


def test_kinds_added_after_the_golden_journal_round_trip():
    prev = ev.GENESIS
    for seq, payload in enumerate(LATER, start=1):
        line, prev = encode_line(ev.make_record(seq=seq, ts=T0, actor=GUARD, payload=payload, prev=prev))
        assert ev.parse_record(line).payload == payload


def test_the_golden_journal_verifies_and_reads_back_its_values():
    scan = scan_bytes(GOLDEN.read_bytes())
    assert scan.problem is None
    assert scan.good_bytes == GOLDEN.stat().st_size
    expected = events()
    assert len(scan.records) == len(expected) == len(_lines())
    prev = ev.GENESIS
    for seq, (record, (ts, actor, payload)) in enumerate(zip(scan.records, expected, strict=False), start=1):
        assert (record.seq, record.v, record.prev, record.kind) == (seq, 1, prev, payload.KIND)
        assert record.ts == ts and record.ts.utcoffset() == ts.utcoffset()
        assert record.actor == actor and type(record.payload) is type(payload)
        assert record.payload == payload, payload.KIND
        prev = record.hash


def test_the_golden_journal_keeps_its_value_shapes():
    by_kind = {}
    for record in scan_bytes(GOLDEN.read_bytes()).records:
        by_kind.setdefault(record.kind, []).append(record.payload)
    plan = by_kind["plan_loaded"][0]
    assert isinstance(plan.phases, tuple) and isinstance(plan.phases[0], ev.PhaseSpec)
    assert plan.freeze == (("fri", "16:00", "23:59"), ("sat", "00:00", "23:59")) and isinstance(plan.freeze[0], tuple)
    assert plan.document["nested"] == [[1, 2.5], ["x"]] and plan.document["none"] is None
    assert isinstance(plan.phases[0].soak_s, float)
    naive = by_kind["silence_created"][1].ends_at
    assert naive.tzinfo is None
    assert str(by_kind["check_ran"][1].duration_s) == "-0.0"


def test_each_golden_line_encodes_again_to_the_same_bytes():
    """Byte for byte, but for one known difference: a float written with an exponent is 1.5e20 and
    1e16 in msgspec's JSON where pydantic wrote 1.5e+20 and 1e+16. Both read as the same float,
    and a line's hash covers its bytes as written, so such an old line still verifies (above)."""
    differ = []
    for line, record in zip(_lines(), scan_bytes(GOLDEN.read_bytes()).records, strict=False):
        again, digest = encode_line(record)
        assert ev.parse_record(again[:-1]) == msgspec.structs.replace(record, hash=digest)
        if again == line:
            assert digest == record.hash
            continue
        differ.append(record.kind)
        without_hash = again[_BODY_AT:]
        assert without_hash == re.sub(rb"(\d)e\+(\d)", rb"\1e\2", line[_BODY_AT:])
    assert differ == ["budget_alerted"]  # the line with 1.5e+20 and 1e+16, and no other


def test_a_journal_of_the_golden_lines_opens_folds_and_takes_appends(tmp_path):
    shutil.copy(GOLDEN, tmp_path / JOURNAL)
    assert verify(tmp_path).problem is None
    j = Journal(tmp_path)
    assert len(j.records) == len(_lines())
    state = fold(j.records)
    assert state.seq == len(_lines())
    _, record = j.append(ev.Noted(text="after the upgrade"), actor=events()[0][1], ts=events()[-1][0])
    j.close()
    assert record.seq == len(_lines()) + 1
    scan = verify(tmp_path)
    assert scan.problem is None and scan.head is None and scan.records[-1] == record
