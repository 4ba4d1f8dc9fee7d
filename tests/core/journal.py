"""Journal records for core tests, built in memory: the seed plan's snapshot, then the payloads given."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from cockpit.core import events as ev
from cockpit.core.state import RolloutState, fold
from cockpit.engine import plan_snapshot
from tests.conftest import T0

ACTOR = ev.Actor(user="alice", host="bastion")


class At:
    """A payload written at a given time, by a given actor (else one second after the one before, by alice)."""

    def __init__(self, payload: ev.Payload, ts: datetime | None = None, actor: ev.Actor | None = None):
        self.payload, self.ts, self.actor = payload, ts, actor


def journaled(record: ev.Record, digest: str) -> ev.Record:
    """The record with this hash, as a replay reads it back: encoded and validated by parse_record,
    as the journal does when it writes one (tuples, not lists; floats where a float is due)."""
    return ev.parse_record(msgspec.json.encode(msgspec.structs.replace(record, hash=digest)))


def records(plan, *payloads, gap=timedelta(seconds=1), start=T0) -> list[ev.Record]:
    out, prev, ts = [], ev.GENESIS, start
    for i, p in enumerate((plan_snapshot(plan),) + payloads):
        at = p if isinstance(p, At) else At(p)
        ts = at.ts or (start if i == 0 else ts + gap)
        r = ev.make_record(seq=i + 1, ts=ts, actor=at.actor or ACTOR, payload=at.payload, prev=prev)
        r = journaled(r, f"{i + 1:064x}")
        prev = r.hash
        out.append(r)
    return out


def state(plan, *payloads, **kw) -> RolloutState:
    return fold(records(plan, *payloads, **kw))


def ready(plan):
    return [ev.CheckRan(check=c.id, status="pass", detail="ok") for c in plan.preflight] + [
        ev.SignedOff(role=r, name=r) for r in plan.sign_offs
    ]


def at_phase(plan, phase=0):
    return ready(plan) + [ev.RolloutStarted(), ev.PhaseStarted(phase=phase, weight=plan.phases[phase].weight)]


def gate_met(plan, phase=0):
    spec = plan.phases[phase]
    return [ev.CriterionEvaluated(phase=phase, criterion=c.id, passed=True, detail="ok") for c in spec.gate.auto] + [
        ev.GateDecided(phase=phase, role=r, decision="GO", name=r) for r in spec.gate.owners
    ]
