"""The post-deployment plan on an injected clock: due times from completion, overdue, ticks, self-ticks."""

from __future__ import annotations

from datetime import timedelta

from cockpit.core import events as ev
from cockpit.core import postdeploy
from cockpit.core.state import fold
from cockpit.engine import plan_snapshot
from tests.conftest import T0

WHO = ev.Actor(user="alice", host="bastion")


def journal(plan, *payloads_at):
    records = []
    for seq, (at, payload) in enumerate([(T0, plan_snapshot(plan)), *payloads_at], start=1):
        records.append(ev.make_record(seq=seq, ts=at, actor=WHO, payload=payload, prev=""))
    return records


DONE_AT = T0 + timedelta(hours=1, minutes=30)


def completed(plan, *more):
    return journal(plan, (T0, ev.RolloutStarted()), (DONE_AT, ev.RolloutCompleted()), *more)


def test_items_wait_for_completion_then_fall_due_counted_from_it(plan):
    live = fold(journal(plan, (T0, ev.RolloutStarted())))
    assert {r.state for r in postdeploy.rows(live, T0 + timedelta(days=30))} == {"waiting"}
    state = fold(completed(plan))
    rows = {r.id: r for r in postdeploy.rows(state, DONE_AT + timedelta(hours=2))}
    assert len(rows) == 12  # the seed's 4 + 4 + 4 items
    assert rows["monitor_slos"].due_at == DONE_AT + timedelta(hours=4)
    assert rows["lessons_learned"].due_at == DONE_AT + timedelta(hours=24)
    assert rows["next_release"].due_at == DONE_AT + timedelta(days=7)
    assert rows["monitor_slos"].state == "open" and rows["monitor_slos"].owner == "sre"
    at = {r.id: r.state for r in postdeploy.rows(state, DONE_AT + timedelta(hours=3, minutes=30))}
    assert at["baseline_data"] == "due_soon" and at["baseline_report"] == "open"
    late = [r for r in postdeploy.rows(state, DONE_AT + timedelta(hours=4, seconds=1)) if r.state == "overdue"]
    assert [r.id for r in late] == ["monitor_slos", "baseline_data", "security_enforcement", "cost_tracking"]
    assert late[0].word == "OVERDUE"
    assert [r.state for r in postdeploy.rows(state, DONE_AT + timedelta(days=8))].count("overdue") == 12


def test_a_tick_is_journaled_once_and_ends_overdue(plan):
    tick = ev.PostDeploymentDone(item="cost_tracking", name="Fran", evidence="FIN-123")
    state = fold(completed(plan, (DONE_AT + timedelta(hours=5), tick)))
    row = {r.id: r for r in postdeploy.rows(state, DONE_AT + timedelta(hours=6))}["cost_tracking"]
    assert (row.state, row.done_by, row.evidence) == ("done", "Fran", "FIN-123")  # done late is done
    assert "was done at" in postdeploy.tick_refusal(state, "cost_tracking")
    assert "no post-deployment item 'nope'" in postdeploy.tick_refusal(state, "nope")
    assert postdeploy.tick_refusal(state, "hardening") == ""
    live = fold(journal(plan, (T0, ev.RolloutStarted())))
    assert "when the rollout has completed" in postdeploy.tick_refusal(live, "hardening")


def test_self_ticks_need_their_evidence(plan):
    state = fold(completed(plan))
    assert postdeploy.self_ticks(state, DONE_AT) == []  # no final bundle journaled, no SLO proof
    bundle = ev.EvidenceCollected(phase=None, file="IntelGraph-Platform-v0.1.0/final/manifest.json", sha256="ab" * 32, ok=True)
    incomplete = ev.EvidenceCollected(phase=None, file="IntelGraph-Platform-v0.1.0/final/manifest.json", sha256="cd" * 32, ok=False)
    assert postdeploy.self_ticks(fold(completed(plan, (DONE_AT, incomplete))), DONE_AT) == []
    ticks = postdeploy.self_ticks(fold(completed(plan, (DONE_AT, bundle))), DONE_AT, slos_met="SLOs met: api_p95 worst 250 <= 350")
    assert {t.item: t.evidence for t in ticks} == {
        "monitor_slos": "SLOs met: api_p95 worst 250 <= 350",
        "evidence_audit": "final bundle IntelGraph-Platform-v0.1.0/final/manifest.json sha256 abababababababab",
    }
    assert all(t.auto and t.name == "cockpit" for t in ticks)
