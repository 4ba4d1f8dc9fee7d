"""The journal's records: one typed decode per line, picked by its kind, that accepts nothing else
(pure, no I/O). msgspec does not validate when a struct is built: the journal validates a record
by reading its line back with `parse_record`, the decoder every replay uses."""

from __future__ import annotations

import json

import msgspec
import pytest

from cockpit.core import events as ev
from tests.conftest import T0

ALICE = ev.Actor(user="alice", host="bastion")


def line_of(payload: ev.Payload, **envelope) -> bytes:
    record = ev.make_record(seq=7, ts=T0, actor=ALICE, payload=payload, prev=ev.GENESIS)
    return msgspec.json.encode(msgspec.structs.replace(record, hash="ab" * 32, **envelope))


NOTE = line_of(ev.Noted(text="hello"))


def reason(line: bytes | str) -> str:
    with pytest.raises(msgspec.ValidationError) as e:
        ev.parse_record(line)
    return str(e.value)


def test_a_record_is_encoded_hash_first_in_the_order_of_its_fields():
    assert NOTE == (b'{"hash":"' + b"ab" * 32 + b'","v":1,"seq":7,"ts":"2026-11-26T14:00:00Z",'
                    b'"actor":{"user":"alice","host":"bastion","role":"captain"},"kind":"note",'
                    b'"payload":{"text":"hello"},"prev":"' + b"0" * 64 + b'"}')
    fields = ev.GatewayReconciled.__struct_fields__
    assert fields == ("journal_weight", "observed_weight", "observed_enabled", "agrees", "detail", "observed_share")


def test_make_record_builds_the_record_class_of_its_payloads_kind():
    payload = ev.GateDecided(phase=1, role="sre", decision="GO", name="bob")
    r = ev.make_record(seq=3, ts=T0, actor=ALICE, payload=payload, prev="p" * 64)
    assert isinstance(r, ev.Record) and type(r).__name__ == "GateDecidedRecord"
    assert (r.hash, r.v, r.seq, r.ts, r.actor, r.kind, r.payload, r.prev) == (
        "", ev.SCHEMA_VERSION, 3, T0, ALICE, "gate_decided", payload, "p" * 64)
    assert {type(ev.make_record(seq=1, ts=T0, actor=ALICE, payload=p(), prev="")).__name__
            for p in (ev.RolloutStarted, ev.RolloutCompleted)} == {"RolloutStartedRecord", "RolloutCompletedRecord"}


@pytest.mark.parametrize("payload", [
    ev.Noted(text="ünïcode ≥ 🚀"),
    ev.TriggerBreached(trigger="error_rate", value=None, threshold=0.02, no_data=True),
    ev.Notified(channel="slack", text="x", tries=("HTTP 500", "HTTP 202")),
    ev.PlanLoaded(release="r", version="v", environment="e", region="x", digest="d",
                  phases=(ev.PhaseSpec(name="5 %", weight=5, soak_s=1200.0, owners=("sre",)),), checks=(), sign_offs=(),
                  roles={"sre": "SRE"}, freeze=(("fri", "16:00", "23:59"),), document={"a": [1, {"b": None}]}),
    ev.SilenceCreated(silence_id="s", matchers={"env": "prod"}, ends_at=T0),
], ids=lambda p: p.KIND)
def test_a_line_reads_back_as_the_record_it_was(payload):
    line = line_of(payload)
    record = ev.parse_record(line)
    assert type(record) is type(ev.make_record(seq=1, ts=T0, actor=ALICE, payload=payload, prev=""))
    assert record == msgspec.structs.replace(ev.make_record(seq=7, ts=T0, actor=ALICE, payload=payload, prev=ev.GENESIS),
                                             hash="ab" * 32)
    assert ev.parse_record(line.decode()) == record  # a str reads as its bytes do


def test_reading_a_line_gives_tuples_and_floats_where_the_types_say():
    line = line_of(ev.Notified(channel="c", text="t", tries=["a", "b"]))  # a list: not validated when built
    assert ev.parse_record(line).payload.tries == ("a", "b")
    check = ev.parse_record(line_of(ev.CheckRan(check="c", status="pass", detail="", duration_s=2))).payload
    assert check.duration_s == 2.0 and isinstance(check.duration_s, float)


@pytest.mark.parametrize("edit, says", [
    ((b'"text":"hello"', b'"text":5'), "Expected `str`, got `int` - at `$.payload.text`"),
    ((b'"seq":7', b'"seq":"7"'), "Expected `int`, got `str` - at `$.seq`"),
    ((b'"seq":7', b'"seq":7.0'), "Expected `int`, got `float` - at `$.seq`"),
    ((b'"text":"hello"', b'"text":"hello","extra":1'), "Object contains unknown field `extra` - at `$.payload`"),
    ((b'"seq":7', b'"seq":7,"extra":1'), "Object contains unknown field `extra`"),
    ((b'"role":"captain"', b'"role":"captain","kind":"note"'), "Object contains unknown field `kind` - at `$.actor`"),
    ((b'"text":"hello"', b''), "Object missing required field `text` - at `$.payload`"),
    ((b'"ts":"2026-11-26T14:00:00Z"', b'"ts":"yesterday"'), "Invalid RFC3339 encoded datetime - at `$.ts`"),
    ((b'"payload":{"text":"hello"}', b'"payload":{"check":"c","reason":"r"}'), "Object contains unknown field `check` - at `$.payload`"),
])
def test_a_line_that_is_not_its_kinds_record_is_refused_saying_where(edit, says):
    assert reason(NOTE.replace(*edit)) == says


def test_the_kind_tag_must_match_the_payload_class():
    waived = line_of(ev.CheckWaived(check="c", reason="r"))
    assert reason(waived.replace(b'"kind":"check_waived"', b'"kind":"note"')) == \
        "Object contains unknown field `check` - at `$.payload`"
    assert reason(NOTE.replace(b'"kind":"note"', b'"kind":"check_waived"')) == \
        "Object contains unknown field `text` - at `$.payload`"


def test_a_line_whose_kind_is_unknown_or_missing_says_so():
    assert reason(NOTE.replace(b'"kind":"note"', b'"kind":"nope"')) == "Invalid event kind 'nope' - at `$.kind`"
    assert reason(NOTE.replace(b'"kind":"note",', b"")) == "Object missing required field `kind`"
    assert reason(NOTE.replace(b'"kind":"note"', b'"kind":7')) == "Expected `str`, got `int` - at `$.kind`"


def test_the_kind_is_read_where_the_journal_writes_it():
    later = NOTE.replace(b',"kind":"note"', b"").replace(b'"prev":', b'"kind":"note","prev":')
    assert ev.parse_record(later) == ev.parse_record(NOTE)  # the first `,"kind":"` of the line is the envelope's
    plan = line_of(ev.PlanLoaded(release="r", version="v", environment="e", region="x", digest="d", phases=(), checks=(),
                                 sign_offs=(), roles={}, document={"a": 1, "kind": "canary"}))
    assert ev.parse_record(plan).payload.document == {"a": 1, "kind": "canary"}
    behind = plan.replace(b',"kind":"plan_loaded"', b"").replace(b'"prev":', b'"kind":"plan_loaded","prev":')
    assert reason(behind) == "Invalid event kind 'plan_loaded' (the journal writes it after the actor) - at `$.kind`"
    spaced = json.dumps(json.loads(NOTE))  # `"kind": "note"`: not as the journal writes a line
    assert reason(spaced) == "Invalid event kind 'note' (the journal writes it after the actor) - at `$.kind`"
    first = b'{"kind":"note",' + NOTE[1:].replace(b',"kind":"note"', b"")
    assert reason(first) == "Invalid event kind 'note' (the journal writes it after the actor) - at `$.kind`"


def test_a_line_that_is_not_json_is_a_decode_error_not_a_validation_error():
    for torn in (NOTE[:40], NOTE[:-1]):
        with pytest.raises(ev.RecordError) as e:
            ev.parse_record(torn)
        assert not isinstance(e.value, msgspec.ValidationError)


def test_events_are_frozen_and_keyword_only():
    with pytest.raises(AttributeError):
        ALICE.user = "mallory"
    with pytest.raises(AttributeError):
        ev.parse_record(NOTE).payload.text = "edited"
    with pytest.raises(TypeError):
        ev.Actor("alice", "bastion")
    with pytest.raises(TypeError):
        ev.Noted("hello")


def test_an_actor_reads_as_user_at_host():
    assert str(ev.Actor(user="alice", host="bastion", role="observer")) == "alice@bastion"
    assert ALICE.role == "captain"


def test_every_payload_has_its_own_kind():
    kinds = [p.KIND for p in ev.PAYLOADS]
    assert len(set(kinds)) == len(kinds) == 39 and "" not in kinds and ev.Payload.KIND == ""


def not_utf8(line: bytes | str) -> str:
    with pytest.raises(ev.RecordError) as e:
        ev.parse_record(line)
    assert not isinstance(e.value, msgspec.ValidationError) and not isinstance(e.value, UnicodeError)
    return str(e.value)


@pytest.mark.parametrize("line, says", [
    (NOTE.replace(b'"host":"bastion"', b'"host":"r\xffot"'), "not UTF-8: byte 0xff at column 151"),  # a known kind
    (NOTE.replace(b'"kind":"note"', b'"kind":"n\xffte"'), "not UTF-8: byte 0xff at column "),  # no kind found
    (NOTE.replace(b'"text":"hello"', b'"text":"h\xc3llo"'), "not UTF-8: byte 0xc3 at column "),  # a sequence cut short
    (NOTE.replace(b'"text":"hello"', b'"text":"\xed\xa0\x80"'), "not UTF-8: byte 0xed at column "),  # a surrogate's bytes
    (NOTE.decode().replace("hello", "\udc80"), "not UTF-8: byte 0xed at column "),  # a str with a lone surrogate
])
def test_a_line_that_is_not_utf8_is_a_record_error_that_says_where(line, says):
    """Item 1 of issue 20: `r\\xffot` in a line raised UnicodeDecodeError through verify, status,
    the kill and the guard; it is a RecordError like any other line that is not a record."""
    said = not_utf8(line)
    assert said.startswith(says), said
    column = int(said.rsplit(" ", 1)[1])
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    assert raw[column - 1] >= 0x80 and raw[:column - 1].decode()  # the first byte that is not UTF-8, counted from 1


def test_where_a_line_stops_being_utf8_is_said_even_when_the_whole_line_decodes():
    assert ev._not_utf8(b"plain") == "not UTF-8"  # msgspec's error came from somewhere else: no column to give
