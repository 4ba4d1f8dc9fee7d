"""The guard's latest round as data: what every face (screen, observer, `status`) renders.

One process evaluates (the guard); it publishes an `Evaluation` after every round, and the
faces read it back instead of asking Prometheus themselves, so the captain, every observer
and `status` see the same verdicts. Pure data with a JSON form; no I/O here. Whether a round is
the guard's and fresh is a face's judgement (core.guardsight), never the file's claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from cockpit.core.budget import BudgetBurn, CategoryBurn
from cockpit.core.compare import Comparison
from cockpit.core.triggers import TriggerTrack, WindowVerdict


@dataclass(frozen=True)
class GuardId:
    """Who evaluates: the guard process, for "GUARD pid@host" and the takeover journal line."""

    user: str
    host: str
    pid: int
    since: datetime

    def __str__(self) -> str:
        return f"{self.pid}@{self.host}"


@dataclass(frozen=True)
class Health:
    """One connection as the header shows it: up, down (since when, how many failures) or not used."""

    name: str
    ok: bool | None = None  # None: not checked (or not used)
    detail: str = ""
    since: datetime | None = None
    failures: int = 0  # consecutive rounds with a failure
    endpoint: str = ""  # where it points (credentials stripped)


@dataclass(frozen=True)
class CriterionView:
    passed: bool | None = None  # None: not evaluated yet (or too little data)
    value: float | None = None
    detail: str = "not evaluated yet"


@dataclass(frozen=True)
class Evaluation:
    """One round of the guard: every trigger's track, the current gate's criteria, budget, health."""

    at: datetime | None = None  # when the round ran (None: no round yet)
    rounds: int = 0
    poll_s: float = 15.0
    guard: GuardId | None = None
    tracks: Mapping[str, TriggerTrack] = field(default_factory=dict)
    periods: Mapping[str, float] = field(default_factory=dict)  # per trigger: how often it is judged
    criteria: Mapping[str, CriterionView] = field(default_factory=dict)
    soak: tuple[int, datetime] | None = None  # (phase, soak start) the criteria were judged over
    budget: BudgetBurn | None = None
    health: Mapping[str, Health] = field(default_factory=dict)
    faults: tuple[str, ...] = ()

    def gauge(self, trigger_id: str, now: datetime) -> tuple[TriggerTrack, float | None]:
        """(track, stale age in seconds or None when fresh); inf when it never had an answer."""
        track = self.tracks.get(trigger_id, TriggerTrack())
        period = max(self.poll_s, self.periods.get(trigger_id, self.poll_s))
        return track, track.stale_for(now.timestamp(), period)

    def criteria_for(self, phase: int | None, soak_start: datetime | None) -> Mapping[str, CriterionView]:
        """The criteria verdicts when they were judged over this soak, else none."""
        if self.soak is None or phase is None or (phase, soak_start) != self.soak:
            return {}
        return self.criteria

    # -- the published form --------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _ts(self.at),
            "rounds": self.rounds,
            "poll_s": self.poll_s,
            "guard": None if self.guard is None else {
                "user": self.guard.user, "host": self.guard.host, "pid": self.guard.pid, "since": _ts(self.guard.since),
            },
            "tracks": {k: _track_json(t) for k, t in self.tracks.items()},
            "periods": dict(self.periods),
            "criteria": {k: {"passed": c.passed, "value": _json_float(c.value), "detail": c.detail}
                         for k, c in self.criteria.items()},
            "soak": None if self.soak is None else [self.soak[0], _ts(self.soak[1])],
            "budget": None if self.budget is None else _budget_json(self.budget),
            "health": {k: {"name": h.name, "ok": h.ok, "detail": h.detail, "since": _ts(h.since),
                           "failures": h.failures, "endpoint": h.endpoint} for k, h in self.health.items()},
            "faults": list(self.faults),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Evaluation:
        g = d.get("guard")
        soak = d.get("soak")
        return cls(
            at=_dt(d.get("at")),
            rounds=int(d.get("rounds", 0)),
            poll_s=float(d.get("poll_s", 15.0)),
            guard=None if not g else GuardId(g["user"], g["host"], int(g["pid"]), _dt(g["since"])),
            tracks={k: _track(t) for k, t in d.get("tracks", {}).items()},
            periods={k: float(v) for k, v in d.get("periods", {}).items()},
            criteria={k: CriterionView(c["passed"], _from_json_float(c["value"]), c["detail"])
                      for k, c in d.get("criteria", {}).items()},
            soak=None if not soak else (int(soak[0]), _dt(soak[1])),
            budget=None if not d.get("budget") else _budget(d["budget"]),
            health={k: Health(h["name"], h["ok"], h["detail"], _dt(h["since"]), int(h["failures"]), h["endpoint"])
                    for k, h in d.get("health", {}).items()},
            faults=tuple(d.get("faults", ())),
        )


# -- JSON helpers: datetimes as ISO text, non-finite numbers as text (JSON has none) ----------------


def _ts(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


@overload
def _dt(s: str) -> datetime: ...
@overload
def _dt(s: str | None) -> datetime | None: ...
def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def _json_float(v: float | None) -> float | str | None:
    """A float as guard.json keeps it (a file format, not words for people: core.words says values)."""
    if v is None or math.isfinite(v):
        return v
    return repr(v)  # "inf", "-inf", "nan"


@overload
def _from_json_float(v: float | str) -> float: ...
@overload
def _from_json_float(v: float | str | None) -> float | None: ...
def _from_json_float(v: float | str | None) -> float | None:
    return None if v is None else float(v)


def _verdict_json(v: WindowVerdict) -> dict[str, Any]:
    return {
        "state": v.state, "value": _json_float(v.value), "threshold": _json_float(v.threshold),
        "comparison": v.comparison.value,
        "breaching_for_s": v.breaching_for_s, "needed_s": v.needed_s, "coverage": v.coverage, "at": v.at, "why": v.why,
    }


def _verdict(d: Mapping[str, Any]) -> WindowVerdict:
    return WindowVerdict(
        state=d["state"], value=_from_json_float(d["value"]), threshold=_from_json_float(d["threshold"]),
        comparison=Comparison(d["comparison"]), breaching_for_s=float(d["breaching_for_s"]),
        needed_s=float(d["needed_s"]), coverage=float(d["coverage"]), at=float(d["at"]), why=d["why"],
    )


def _track_json(t: TriggerTrack) -> dict[str, Any]:
    return {
        "verdict": None if t.verdict is None else _verdict_json(t.verdict),
        "last_good_at": t.last_good_at,
        "last_error": t.last_error,
        "history": [_json_float(v) for v in t.history],
    }


def _track(d: Mapping[str, Any]) -> TriggerTrack:
    return TriggerTrack(
        verdict=None if d.get("verdict") is None else _verdict(d["verdict"]),
        last_good_at=d.get("last_good_at"),
        last_error=d.get("last_error"),
        history=tuple(_from_json_float(v) for v in d.get("history", ())),
    )


def _budget_json(b: BudgetBurn) -> dict[str, Any]:
    return {
        "categories": [{"id": c.id, "name": c.name, "monthly": c.monthly, "spent": _json_float(c.spent),
                        "projected": _json_float(c.projected)}
                       for c in b.categories],
        "monthly": b.monthly, "spent": _json_float(b.spent), "projected": _json_float(b.projected),
        "month_fraction": b.month_fraction,
    }


def _budget(d: Mapping[str, Any]) -> BudgetBurn:
    return BudgetBurn(
        categories=tuple(CategoryBurn(c["id"], c["name"], float(c["monthly"]), _from_json_float(c["spent"]),
                                      _from_json_float(c["projected"]))
                         for c in d["categories"]),
        monthly=float(d["monthly"]), spent=_from_json_float(d["spent"]), projected=_from_json_float(d["projected"]),
        month_fraction=float(d["month_fraction"]),
    )
