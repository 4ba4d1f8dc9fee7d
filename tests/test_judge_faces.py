"""A judgment as the other faces show it: `status` (one line, and its JSON), the report (a
section per phase judged) and the evidence bundle (judgment.json per phase)."""

from __future__ import annotations

import asyncio
import json

import pytest

from cockpit import report
from cockpit.evidence import collect
from cockpit.status import status_json, status_lines
from tests.tui.scenes import Scene


@pytest.fixture(scope="module")
def marginal(tmp_path_factory):
    return asyncio.run(Scene(tmp_path_factory.mktemp("judge") / "s", "judge-marginal").live(phase=0, into_soak_min=21))


def test_status_says_the_judgment_in_one_line(marginal):
    state, now = marginal.engine.state, marginal.clock.now()
    lines = status_lines(state, now, None)
    (judged,) = [ln for ln in lines if ln.startswith("judge    ")]
    assert judged.startswith("judge    Phase 1: Marginal · score 100 · score 100 passes, but the spread grew on API p95")
    assert judged.endswith("· the owners decide")
    doc = status_json(state, now, None)["judgment"]
    assert (doc["phase"], doc["verdict"], doc["owners_decide"]) == ("Phase 1", "Marginal", True)
    assert [m["name"] for m in doc["metrics"]] == ["API p95", "Error rate"] and doc["metrics"][0]["canary_samples"] == 41
    json.dumps(doc)  # a JSON document: every number finite or null


def test_status_of_a_plan_without_a_judge_has_no_judge_line(tmp_path):
    scene = asyncio.run(Scene(tmp_path / "s").live(phase=0, into_soak_min=6))
    state = scene.engine.state
    assert status_json(state, scene.clock.now(), None)["judgment"] is None
    assert not any(ln.startswith("judge") for ln in status_lines(state, scene.clock.now(), None))


def test_the_report_has_a_judgments_section(marginal):
    doc, _ = report.build(marginal.state_dir)
    text = report.to_markdown(doc)
    assert "## Judgments (the canary against its baseline)" in text
    assert "**Phase 1: Marginal**, score 100" in text and "17 judgments in the phase" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("| API p95 |"))
    assert "| Pass |" in row and "spread ×5" in row and "| 41 / 41 |" in row


def test_the_phase_bundle_carries_judgment_json(marginal, tmp_path):
    engine = marginal.engine
    bundle = collect(engine.plan, engine.journal.records, base_dir=tmp_path, which="phase", now=marginal.clock.now(),
                     phase=0, state_dir=marginal.state_dir, screen=False)
    assert "judgment.json" in bundle.files and "judgment.json" not in bundle.missing
    doc = json.loads((bundle.dir / "judgment.json").read_text())
    assert doc["ok"] and doc["phase"] == 1 and doc["source"] == "the journal (judgment_made)"
    latest = doc["data"]["latest"]
    assert (latest["verdict"], latest["score"], latest["criteria"]) == ("Marginal", 100.0, ["judgment"])
    p95 = latest["metrics"][0]
    assert (p95["name"], p95["classification"], p95["spread_flagged"], p95["canary_samples"]) == ("API p95", "Pass", True, 41)
    assert p95["lower"] < p95["estimate"] < p95["upper"] and p95["band"] > 0
    assert [j["verdict"] for j in doc["data"]["judgments"]][-6:] == ["Marginal"] * 6
    assert len(doc["data"]["judgments"]) == 17


def test_a_plan_without_a_judge_has_no_judgment_json(tmp_path):
    scene = asyncio.run(Scene(tmp_path / "s").live(phase=0, into_soak_min=6))
    bundle = collect(scene.engine.plan, scene.engine.journal.records, base_dir=tmp_path / "ev", which="phase",
                     now=scene.clock.now(), phase=0, state_dir=scene.state_dir, screen=False)
    assert "judgment.json" not in bundle.files
