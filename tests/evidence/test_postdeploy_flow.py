"""The post-deployment plan end to end: self-ticked with evidence, ticked with `cockpit done`, overdue in `status`."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from cockpit import evidence
from cockpit.cli import main
from cockpit.core import postdeploy
from cockpit.core.state import fold
from cockpit.status import status_lines
from cockpit.store.journal import Journal
from tests.evidence.test_bundle import SECRET, Backend, run_rollout, wired_plan


def test_completion_self_ticks_evidence_then_slos_after_four_hours_then_people_and_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COCKPIT_GRAFANA_TOKEN", SECRET)
    backend = Backend()
    try:
        plan = wired_plan(backend, tmp_path / "state")
        engine = asyncio.run(run_rollout(tmp_path / "state", "healthy", plan, monkeypatch))
    finally:
        backend.stop()
    state = engine.state
    assert state.status == "completed"
    at, tick = state.post_deployment["evidence_audit"]  # the final bundle was complete: ticked itself
    assert tick.auto and tick.evidence.startswith("final bundle IntelGraph-Platform-v0.1.0/final/manifest.json sha256 ")
    assert "monitor_slos" not in state.post_deployment

    done = state.completed_at
    # before the 0-4 h window has passed, the SLOs cannot be said met over it
    assert evidence.auto_tick(plan, engine.journal.records, engine._append, done + timedelta(hours=2), engine.metrics) == []
    ticks = evidence.auto_tick(plan, engine.journal.records, engine._append, done + timedelta(hours=4, minutes=1), engine.metrics)
    assert [t.item for t in ticks] == ["monitor_slos"]
    assert "api_p95 worst" in ticks[0].evidence and "error_rate worst" in ticks[0].evidence

    state_dir = tmp_path / "state"
    assert main(["done", "cost_tracking", "--name", "Fran", "--note", "FIN-123", "--state-dir", str(state_dir)]) == 0
    assert main(["done", "cost_tracking", "--name", "Fran", "--state-dir", str(state_dir)]) == 2  # refused, as any
    assert "was done at" in capsys.readouterr().err
    assert main(["done", "no_such_item", "--name", "Fran", "--state-dir", str(state_dir)]) == 2
    records = Journal(state_dir, readonly=True).records
    assert records[-1].kind == "post_deployment_done" and records[-1].payload.name == "Fran"

    later = fold(records)
    text = "\n".join(status_lines(later, done + timedelta(hours=5), None))
    assert "post-dep 3/12 done; 2 OVERDUE: baseline_data" in text and "security_enforcement" in text
    assert "cost_tracking (due" not in text  # done, so not overdue
    rows = {r.id: r for r in postdeploy.rows(later, done + timedelta(hours=5))}
    assert rows["monitor_slos"].done_by == "cockpit" and rows["cost_tracking"].done_by == "Fran"
