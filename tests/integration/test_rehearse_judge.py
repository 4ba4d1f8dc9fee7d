"""The judge rehearsed against a real Prometheus: on the backfilled data the live guard judges
(tests/integration/test_judge_prometheus.py), the rehearsal's judgment of a soak at its end is the
one the guard journaled at that time (verdict, score, every metric's numbers and sample counts), its
rollback comes at the guard's kill, and a quiet span counts the soaks it would have judged Fail."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from cockpit.adapters.prometheus import build_metrics
from cockpit.rehearsal import fetcher, labels, rehearse
from cockpit.rehearsal_text import document, lines
from tests.integration.prom import PromServer, Series
from tests.integration.test_judge_prometheus import (
    LATENCY,
    MIN,
    SERIES,
    SOAK,
    T,
    drive,
    judged_plan,
    judgments,
)

pytestmark = pytest.mark.integration

Q = T.timestamp() - 3 * 3600  # a quiet span of two hours, well before the rollouts' data
SHIFTED = (Q + 1800, Q + 2400)  # the canary 30 % slower for exactly one 10-minute soak of it


def quiet(track, seed, shift):
    rng = random.Random(seed)
    points = []
    for k in range(int(7200 / 5) + 1):
        ts = Q + 5 * k
        median = 240.0 * (1.3 if shift and SHIFTED[0] <= ts < SHIFTED[1] else 1.0)
        points.append((ts, max(0.0, rng.gauss(median, 0.10 * median))))
    return Series("latency_ms", {"track": track, "scenario": "quiet"}, points)


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    server = PromServer(tmp_path_factory.mktemp("prom"), [*SERIES, quiet("baseline", 11, False),
                                                          quiet("canary", 12, True)]).start()
    yield server
    server.stop()


def rehearsed(plan, **kw):
    source = build_metrics(plan)
    try:
        return rehearse(plan, fetcher(source), **kw), source.endpoint
    finally:
        source.close()


def at_soak_end(engine):
    """The guard's judgment journaled at the soak's end."""
    return next(r.payload for r in judgments(engine) if r.ts == T + SOAK)


def test_a_30_percent_shift_is_rehearsed_fail_exactly_as_the_guard_judged_it_at_the_soaks_end(prom, tmp_path):
    plan = judged_plan(prom.url, "plus30", [LATENCY])
    engine, _ = drive(plan, tmp_path, T + SOAK)
    live = at_soak_end(engine)
    got, endpoint = rehearsed(plan, at=T.timestamp())
    (soak,) = got.judged  # phase 2's gate does not read the judge
    assert soak.phase == 0 and soak.gated and soak.at == (T + SOAK).timestamp()
    assert soak.made == live  # verdict, score, reason, window, every metric's numbers and counts
    assert live.verdict == "Fail" and live.metrics[0].classification == "High"
    assert (live.metrics[0].canary_samples, live.metrics[0].baseline_samples) == (241, 241)
    assert got.gate_failed == 0 and got.killed_at is None  # held at the gate, not killed (action = gate)
    text = "\n".join(lines(got, labels(plan)))
    assert "gate judgment: judged FAIL, score 0 at the soak's end: the rollout would have held here" in text
    assert "latency: High (241 canary, 241 baseline samples): canary higher: shift +" in text
    doc = document(got, plan_digest="d", plan_path="p", endpoint=endpoint)
    judged = doc["results"]["rollout"]["judged"][0]
    assert (judged["verdict"], judged["score"], judged["metrics"][0]["classification"]) == ("Fail", 0, "High")
    canary = plan.judge.query(LATENCY["query"], "canary")
    assert any(k.startswith(canary) and h["points"] == 241 and len(h["sha256"]) == 64
               for k, h in doc["histories"].items())


def test_a_5_percent_shift_with_10_percent_allowed_is_rehearsed_pass_as_the_guard_judged_it(prom, tmp_path):
    plan = judged_plan(prom.url, "plus5", [{**LATENCY, "allowed_increase": 1.1}])
    engine, _ = drive(plan, tmp_path, T + SOAK)
    live = at_soak_end(engine)
    got, _ = rehearsed(plan, at=T.timestamp())
    assert got.judged[0].made == live
    assert (live.verdict, live.score, live.metrics[0].classification) == ("Pass", 100, "Pass")
    assert got.gate_failed is None and got.killed_at is None


def test_three_fail_judgments_in_a_row_kill_the_rehearsed_rollout_when_the_guard_killed(prom, tmp_path):
    plan = judged_plan(prom.url, "plus30", [LATENCY], action="rollback", **{"for": 3})
    engine, _ = drive(plan, tmp_path, T + 6 * MIN)
    kill = next(r for r in engine.journal.records if r.kind == "kill_requested")
    got, _ = rehearsed(plan, at=T.timestamp())
    assert got.killed_by == "judge" and got.killed_at == kill.ts.timestamp() == (T + 3 * MIN).timestamp()
    assert got.killed_in_phase == 0
    (soak,) = got.judged
    assert (soak.judgments, soak.fails, soak.rolled_back_at, soak.made) == (3, 3, kill.ts.timestamp(), None)
    assert "KILLED at" in "\n".join(lines(got, labels(plan)))


def test_a_quiet_span_counts_the_one_soak_the_judge_would_have_failed(prom):
    plan = judged_plan(prom.url, "quiet", [{**LATENCY, "allowed_increase": 1.1}], soak="10m")
    got, _ = rehearsed(plan, quiet=(Q, Q + 7200))
    (q,) = got.quiet_judged
    assert (q.phase, q.soaks, q.failed, q.marginal, q.not_judged) == (0, 12, (SHIFTED[0],), (), 0)
    assert "of 12 soaks judged, 1 would have been Fail" in "\n".join(lines(got, labels(plan)))
    assert got.results_json()["quiet"]["judged"][0]["failed"] == 1


def test_a_rollout_rehearsed_from_the_shifts_start_is_judged_fail_over_its_whole_soak(prom):
    """The quiet span's one Fail, laid as a rollout from --at: the same soak, the same verdict."""
    plan = judged_plan(prom.url, "quiet", [{**LATENCY, "allowed_increase": 1.1}], soak="10m")
    got, _ = rehearsed(plan, at=SHIFTED[0])
    assert got.judged[0].made is not None and got.judged[0].made.verdict == "Fail"
    assert got.judged[0].made.window_end - got.judged[0].made.window_start == timedelta(minutes=10)
