"""The guard's published round, as every face reads it: stale gauges, the current soak's criteria,
and the JSON form that must give back every field (and nothing it must not be believed for)."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cockpit.core.budget import BudgetBurn, CategoryBurn
from cockpit.core.compare import Comparison
from cockpit.core.evaluation import CriterionView, Evaluation, GuardId, Health
from cockpit.core.triggers import TriggerTrack, WindowVerdict
from tests.conftest import T0

SEC = timedelta(seconds=1)
INF, NAN = math.inf, math.nan
CEST = timezone(timedelta(hours=2))


def verdict(state="ok", value=0.004, threshold=0.02, *, at=T0.timestamp(), comparison=Comparison.GE, **kw) -> WindowVerdict:  # noqa: B008 - T0 is a constant
    return WindowVerdict(
        state=state, value=value, threshold=threshold, comparison=comparison,
        breaching_for_s=kw.get("breaching_for_s", 0.0), needed_s=kw.get("needed_s", 300.0),
        coverage=kw.get("coverage", 1.0), at=at, why=kw.get("why", "error rate 0.4 %, fires at ≥ 2 % for 5m"),
    )


# --- gauges: stale after two of the trigger's periods ------------------------------------------

ANSWERED = TriggerTrack().record(verdict(at=T0.timestamp()))  # last good answer at T0
NEVER_ANSWERED = TriggerTrack(last_error="connection refused")


@pytest.mark.parametrize(
    "case, poll_s, periods, track, after_s, stale",
    [
        ("fresh right after the answer", 15.0, {}, ANSWERED, 0, None),
        ("fresh at exactly two polls", 15.0, {}, ANSWERED, 30, None),
        ("stale one second later, with its age", 15.0, {}, ANSWERED, 31, 31.0),
        ("the poll interval is the guard's", 5.0, {}, ANSWERED, 11, 11.0),
        ("a check-backed trigger: fresh at two of its periods", 15.0, {"t": 60.0}, ANSWERED, 120, None),
        ("a check-backed trigger: stale one second later", 15.0, {"t": 60.0}, ANSWERED, 121, 121.0),
        ("another trigger's period does not count", 15.0, {"other": 60.0}, ANSWERED, 31, 31.0),
        ("never judged faster than the guard polls", 15.0, {"t": 5.0}, ANSWERED, 30, None),
        ("never judged faster than the guard polls, stale after", 15.0, {"t": 5.0}, ANSWERED, 31, 31.0),
        ("never answered, only failed", 15.0, {}, NEVER_ANSWERED, 0, INF),
        ("not evaluated yet is not stale", 15.0, {}, TriggerTrack(), 3600, None),
    ],
)
def test_a_gauge_goes_stale_after_two_of_its_periods(case, poll_s, periods, track, after_s, stale):
    e = Evaluation(at=T0, poll_s=poll_s, tracks={"t": track}, periods=periods)
    assert e.gauge("t", T0 + after_s * SEC) == (track, stale)


def test_a_trigger_the_round_does_not_know_shows_an_empty_track():
    e = Evaluation(at=T0, tracks={"t": ANSWERED}, periods={"t": 15.0})
    assert e.gauge("new", T0 + 3600 * SEC) == (TriggerTrack(), None)


# --- gate criteria: only the soak they were judged over ----------------------------------------

CRITERIA = {"api_p95": CriterionView(True, 312.0, "API p95 ≤ 350 ms throughout 5m00s (worst 312 ms)")}


@pytest.mark.parametrize(
    "case, soak, phase, soak_start, shown",
    [
        ("this phase, this soak", (1, T0), 1, T0, True),
        ("the first phase is phase 0", (0, T0), 0, T0, True),
        ("another phase", (1, T0), 2, T0, False),
        ("the same phase re-entered later", (1, T0), 1, T0 + SEC, False),
        ("the same phase, no soak start", (1, T0), 1, None, False),
        ("no phase", (1, T0), None, T0, False),
        ("no phase, no soak", (1, T0), None, None, False),
        ("criteria never judged", None, 1, T0, False),
        ("criteria never judged, no phase", None, None, None, False),
    ],
)
def test_criteria_count_only_for_the_soak_they_were_judged_over(case, soak, phase, soak_start, shown):
    e = Evaluation(at=T0, criteria=CRITERIA, soak=soak)
    assert e.criteria_for(phase, soak_start) == (CRITERIA if shown else {})


# --- the published form: every field comes back ------------------------------------------------

GUARD = GuardId(user="alice", host="bastion", pid=4242, since=T0 - 600 * SEC)

FULL = Evaluation(
    at=T0 + 12.5 * SEC,
    rounds=42,
    poll_s=10.0,
    guard=GUARD,
    tracks={
        "error_rate": TriggerTrack(
            verdict=verdict("breaching", 0.024, 0.02, at=T0.timestamp() + 12.5, breaching_for_s=120.0,
                            needed_s=300.0, coverage=0.9, why="error rate 2.4 % ≥ 2 % for 2m00s of 5m00s"),
            last_good_at=T0.timestamp() + 12.5,
            last_error=None,
            history=(0.004, 0.024, INF, -INF),
        ),
        "api_p95": TriggerTrack(
            verdict=verdict("no_data_hold", None, INF, at=T0.timestamp(), comparison=Comparison.LE, coverage=0.0,
                            needed_s=600.0, why="api p95: no data in the last 10m00s, holding"),
            last_good_at=T0.timestamp(),
            last_error="timeout after 5s",
            history=(312.0, 1250.0),
        ),
        "floor": TriggerTrack(verdict=verdict("fired", -INF, -INF, comparison=Comparison.LT, breaching_for_s=60.0)),
        "odd": TriggerTrack(verdict=verdict("ok", NAN, NAN), history=(NAN, 1.0)),
        "cve": TriggerTrack(last_error="scanner unreachable"),
        "never": TriggerTrack(),
    },
    periods={"error_rate": 10.0, "cve": 300.0},
    criteria={
        "api_p95": CriterionView(True, 312.0, "API p95 ≤ 350 ms throughout 5m00s (worst 312 ms)"),
        "errors": CriterionView(False, INF, "errors reached +Inf 1m00s into the soak"),
        "floor": CriterionView(False, -INF, "floor reached -Inf"),
        "odd": CriterionView(None, NAN, "odd"),
        "pending": CriterionView(),
    },
    soak=(2, T0 - 300 * SEC),
    budget=BudgetBurn(
        categories=(
            CategoryBurn("infrastructure", "Infrastructure", 18000.0, 9000.5, 18001.0),
            CategoryBurn("llm_usage", "LLM usage", 5000.0, None, INF),
            CategoryBurn("odd", "Odd", 1.0, NAN, -INF),
        ),
        monthly=23000.0,
        spent=INF,
        projected=NAN,
        month_fraction=0.5,
    ),
    health={
        "prometheus": Health("prometheus", True, "ok", T0 - 60 * SEC, 0, "http://prom:9090"),
        "gateway": Health("gateway", False, "connection refused", datetime(2026, 11, 26, 15, 59, tzinfo=CEST), 3, "haproxy:9999"),
        "chatops": Health("chatops"),
    },
    faults=("budget: no data", "trigger cve: scanner unreachable"),
)


def published(e: Evaluation) -> dict:
    """What a face reads back: strict JSON text (no NaN/Infinity tokens), parsed again."""
    return json.loads(json.dumps(e.to_json(), allow_nan=False))


def test_a_full_round_comes_back_field_for_field():
    back = Evaluation.from_json(published(FULL))
    # repr compares NaN as text (nan != nan) and shows int/float, tz offsets and enum members.
    for f in fields(Evaluation):  # field by field first, so a failure names the field
        assert repr(getattr(back, f.name)) == repr(getattr(FULL, f.name)), f.name
    assert repr(back) == repr(FULL)


def test_non_finite_numbers_keep_their_sign_and_kind():
    back = Evaluation.from_json(published(FULL))
    assert back.tracks["error_rate"].history[2:] == (INF, -INF)
    assert back.tracks["floor"].verdict.value == -INF and back.tracks["floor"].verdict.threshold == -INF
    assert back.tracks["api_p95"].verdict.threshold == INF and back.tracks["api_p95"].verdict.value is None
    assert math.isnan(back.tracks["odd"].verdict.value) and math.isnan(back.tracks["odd"].history[0])
    assert (back.criteria["errors"].value, back.criteria["floor"].value, back.criteria["pending"].value) == (INF, -INF, None)
    assert math.isnan(back.criteria["odd"].value)
    cats = back.budget.categories
    assert (cats[1].spent, cats[1].projected, cats[2].projected, back.budget.spent) == (None, INF, -INF, INF)
    assert math.isnan(cats[2].spent) and math.isnan(back.budget.projected)


def test_the_guard_and_its_times_come_back():
    back = Evaluation.from_json(published(FULL))
    assert back.guard == GUARD and str(back.guard) == "4242@bastion"
    assert back.at == T0 + 12.5 * SEC and back.soak == (2, T0 - 300 * SEC)
    assert back.health["gateway"].since.utcoffset() == timedelta(hours=2)
    assert back.health["gateway"].since == datetime(2026, 11, 26, 13, 59, tzinfo=UTC)


def test_no_round_yet_comes_back_as_no_round_yet():
    assert Evaluation.from_json(published(Evaluation())) == Evaluation()


FULL_JSON = published(FULL)


@pytest.mark.parametrize("key", list(FULL_JSON))
def test_a_field_the_document_leaves_out_reads_as_its_default(key):
    """Every other field is still read; the missing one is what an Evaluation has by default."""
    doc = {k: v for k, v in FULL_JSON.items() if k != key}
    assert getattr(FULL, key) != getattr(Evaluation(), key)  # else leaving it out would prove nothing
    assert repr(Evaluation.from_json(doc)) == repr(replace(FULL, **{key: getattr(Evaluation(), key)}))


@pytest.mark.parametrize("key, empty", [("guard", None), ("soak", None), ("budget", None)])
def test_a_null_guard_soak_or_budget_reads_as_none(key, empty):
    doc = dict(FULL_JSON, **{key: empty})
    assert getattr(Evaluation.from_json(doc), key) is None


@pytest.mark.parametrize("key", ["verdict", "last_good_at", "last_error", "history"])
def test_a_track_field_left_out_reads_as_its_default(key):
    assert getattr(FULL.tracks["api_p95"], key) != getattr(TriggerTrack(), key)
    track = {k: v for k, v in FULL_JSON["tracks"]["api_p95"].items() if k != key}
    back = Evaluation.from_json(dict(FULL_JSON, tracks={"api_p95": track})).tracks["api_p95"]
    assert repr(back) == repr(replace(FULL.tracks["api_p95"], **{key: getattr(TriggerTrack(), key)}))


def test_an_empty_track_reads_as_not_evaluated_yet():
    back = Evaluation.from_json({"tracks": {"t": {}}})
    assert back.tracks == {"t": TriggerTrack()}


def test_the_times_and_speed_a_file_claims_are_not_read():
    """An older guard.json (or a forged one) with `speed` and `wall_at` reads as the same round:
    a face judges freshness by its own clock and the lock's holder (core.guardsight), never by these."""
    claimed = dict(FULL_JSON, speed=2.0, wall_at=4102444800.0)
    assert repr(Evaluation.from_json(claimed)) == repr(FULL)
    assert "speed" not in FULL_JSON and "wall_at" not in FULL_JSON
