"""The journal validates an event when it writes it (msgspec structs are not validated when built):
its line is read back with the decoder a replay uses, a line that would not replay is refused
with nothing written, and the record kept in memory is the one a replay reads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.core import events as ev
from cockpit.store.chain import JournalError
from cockpit.store.head import read_head
from cockpit.store.journal import Journal
from cockpit.store.kept import ASIDE, read_kept
from cockpit.store.verify import JOURNAL, verify
from tests.conftest import T0

NAN = float("nan")


@pytest.mark.parametrize("payload, says", [
    (ev.Noted(text=5), "note is not a valid event: payload.text: Expected `str`, got `int`"),
    (ev.GateDecided(phase=1, role="sre", decision="maybe", name="bob"),
     "gate_decided is not a valid event: payload.decision: Invalid enum value 'maybe'"),
    (ev.TrafficShiftRequested(weight="25", phase=1), "payload.weight: Expected `int`, got `str`"),
    (ev.TrafficShiftResult(weight=25, verified=1), "payload.verified: Expected `bool`, got `int`"),
    (ev.PhaseStarted(phase=1, weight=25.0), "payload.weight: Expected `int`, got `float`"),
    (ev.TriggerFired(trigger="t", action="rollback", level="L1", value=1.0, threshold=1.0, window_s=NAN, detail=""),
     "payload.window_s: Expected `float`, got `null`"),  # NaN is written as null: it would not replay
    (ev.CheckRan(check="c", status="pass", detail="", evidence={"file": Path("/x")}),
     "check_ran is not a valid event: Encoding objects of type PosixPath is unsupported"),
    (ev.Notified(channel="c", text="t", tries=("ok", 2)), "payload.tries[1]: Expected `str`, got `int`"),
    (ev.Noted(text="argv not UTF-8: \udcff"), "note is not a valid event: 'utf-8' codec can't encode character '\\udcff'"),
], ids=lambda v: getattr(v, "KIND", ""))
def test_an_event_that_would_not_replay_is_refused_and_nothing_is_written(state_dir, actor, payload, says):
    j = Journal(state_dir)
    j.append(ev.Noted(text="before"), actor=actor, ts=T0)
    before, head = (state_dir / JOURNAL).read_bytes(), read_head(state_dir)
    with pytest.raises(JournalError) as e:
        j.append(payload, actor=actor, ts=T0 + timedelta(seconds=1))
    assert f"{state_dir / JOURNAL}: nothing appended: " in str(e.value) and says in str(e.value)
    assert (state_dir / JOURNAL).read_bytes() == before and read_head(state_dir) == head and len(j.records) == 1
    _, record = j.append(ev.Noted(text="after"), actor=actor, ts=T0 + timedelta(seconds=2))
    j.close()
    assert record.seq == 2 and verify(state_dir).records[-1] == record


def test_a_bad_actor_is_refused_too(state_dir):
    j = Journal(state_dir)
    with pytest.raises(JournalError, match=r"actor.user: Expected `str`, got `int`"):
        j.append(ev.Noted(text="x"), actor=ev.Actor(user=1000, host="bastion"), ts=T0)
    assert not (state_dir / JOURNAL).exists() or (state_dir / JOURNAL).read_bytes() == b""


def test_the_record_kept_in_memory_is_the_one_a_replay_reads(state_dir, actor):
    j = Journal(state_dir)
    written = [
        j.append(p, actor=actor, ts=T0 + timedelta(seconds=i))[1]
        for i, p in enumerate([
            ev.Notified(channel="c", text="t", tries=["HTTP 500", "HTTP 202"]),  # a list where a tuple is due
            ev.CheckRan(check="c", status="pass", detail="", duration_s=2),  # an int where a float is due
            ev.TriggerBreached(trigger="t", value=NAN, threshold=1.0),  # NaN, written as null
            ev.CheckRan(check="c", status="pass", detail="", evidence={"argv": ("deploy", "--dry-run")}),
        ])
    ]
    j.close()
    assert written == verify(state_dir).records == Journal(state_dir, readonly=True).records
    assert written[0].payload.tries == ("HTTP 500", "HTTP 202")
    assert isinstance(written[1].payload.duration_s, float)
    assert written[2].payload.value is None
    assert written[3].payload.evidence == {"argv": ["deploy", "--dry-run"]}  # Any: a JSON array reads as a list


def test_an_event_that_would_not_replay_is_not_kept_aside_either(state_dir, actor):
    j = Journal(state_dir)
    with pytest.raises(JournalError, match=rf"{ASIDE}: nothing kept aside: note is not a valid event: payload.text"):
        j.keep_aside(ev.Noted(text=None), actor=actor, ts=T0, error="disk full")
    assert not (state_dir / ASIDE).exists()
    j.keep_aside(ev.TriggerBreached(trigger="t", value=NAN, threshold=None), actor=actor, ts=T0, error="disk full")
    j.close()
    kept, unreadable = read_kept(state_dir)
    assert unreadable == 0 and kept[0].payload == ev.TriggerBreached(trigger="t", value=None, threshold=None)
    j = Journal(state_dir)  # a writable open journals what was kept
    assert [r.kind for r in j.records] == ["journaled_late", "trigger_breached"]
    j.close()
