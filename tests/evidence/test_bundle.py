"""A simulated rollout to completion and one to rollback write every named file plus a manifest
the journal vouches for; `cockpit verify --evidence` catches a changed, deleted or added file."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit import demo, evidence
from cockpit.cli import main
from cockpit.clock import ManualClock
from cockpit.config import ConfigError, dump_plan, parse_plan
from cockpit.core import rules
from cockpit.core.evaluation import GuardId
from cockpit.core.events import Actor
from tests.conftest import T0
from tests.evidence.servers import K6_SUMMARY, OPA_DECISIONS, Backend

CAPTAIN = Actor(user="alice", host="bastion", role="captain")
GUARD = GuardId(user="alice", host="bastion", pid=4242, since=T0)
SECRET = "glsa_v3ry-s3cret-grafana-token"


@pytest.fixture
def backend():
    b = Backend()
    yield b
    b.stop()


def wired_plan(backend: Backend, base: Path):
    """The demo's plan with every collector configured: loopback Grafana and Jaeger, a k6 file per phase, OPA's log."""
    data = dump_plan(demo.demo_plan())
    data["evidence"].update({
        "k6_summary": "k6/summary_{phase}.json",
        "grafana": {"url": backend.url, "dashboard": "intelgraph-canary", "token": {"env": "COCKPIT_GRAFANA_TOKEN"}},
        "jaeger": {"url": backend.url, "service": "intelgraph-api"},
        "opa": {"file": "opa/decisions.jsonl"},
    })
    (base / "k6").mkdir(parents=True)
    for n in range(1, 5):
        (base / "k6" / f"summary_{n}.json").write_text(json.dumps(K6_SUMMARY))
    (base / "opa").mkdir()
    (base / "opa" / "decisions.jsonl").write_text("\n".join(json.dumps(d) for d in OPA_DECISIONS) + "\n")
    return parse_plan(data)


async def run_rollout(state_dir: Path, scenario: str, plan=None, monkeypatch=None):
    if plan is not None:
        monkeypatch.setattr(demo, "demo_plan", lambda: plan)
    clock = ManualClock(T0)
    engine, guard, _world, people = demo.build(scenario, state_dir, clock=clock, actor=CAPTAIN, poll_s=60,
                                               identity=GUARD, evidence=True)
    await people.sign_off()
    assert (await engine.start()).ok
    for _ in range(200):
        clock.advance(timedelta(minutes=1))
        await guard.monitor.poll()
        guard.publish()
        if engine.rollback_check is not None:
            await engine.rollback_check
        if engine.state.status not in ("live",):
            break
        if not rules.advance_refusals(engine.state, clock.now()):
            await engine.advance()
    await guard.evidence.drain()
    guard.monitor.close()
    return engine


def named_files(plan, bundle: str) -> list[str]:
    if bundle == "final":
        return list(plan.evidence.final)
    n = bundle.split("-")[1] if bundle.startswith("phase-") else None
    per = [f.replace("{phase}", n or "?") for f in plan.evidence.per_phase]
    return per


def test_completion_writes_every_phase_and_the_final_bundle_complete(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("COCKPIT_GRAFANA_TOKEN", SECRET)
    plan = wired_plan(backend, tmp_path / "state")
    engine = asyncio.run(run_rollout(tmp_path / "state", "healthy", plan, monkeypatch))
    assert engine.state.status == "completed"
    root = evidence.release_dir(plan, tmp_path / "state")
    assert sorted(p.name for p in root.iterdir()) == ["final", "phase-1", "phase-2", "phase-3", "phase-4"]
    journaled = {e.file: e for e in engine.state.evidence}
    for bundle in ("phase-1", "phase-2", "phase-3", "phase-4", "final"):
        d = root / bundle
        manifest = json.loads((d / "manifest.json").read_text())
        for name in named_files(plan, bundle):
            assert (d / name).is_file() and name in manifest["files"], (bundle, name)
        assert manifest["missing"] == {} and manifest["complete"] is True, manifest["missing"]
        assert "cockpit_screen.svg" in manifest["files"]
        assert manifest["journal"]["head"] and len(manifest["journal"]["head"]) == 64
        # the journal vouches for the manifest
        entry = journaled[f"IntelGraph-Platform-v0.1.0/{bundle}/manifest.json"]
        assert entry.sha256 == evidence.manifest_sha(d) and entry.ok
        assert evidence.verify_bundle(d) == []
        for path in d.iterdir():  # no secret in the bundle
            assert SECRET.encode() not in path.read_bytes() and b"s3cret-grafana" not in path.read_bytes()
    k6 = json.loads((root / "phase-2" / "k6_performance_results_2.json").read_text())
    assert k6["ok"] and k6["source"].endswith("k6/summary_2.json") and k6["time_range"]["from"] < k6["time_range"]["to"]
    assert (root / "phase-1" / "grafana_dashboard_snapshot_1.png").read_bytes().startswith(b"\x89PNG")
    slo = json.loads((root / "final" / "performance_slo_validation.json").read_text())
    assert slo["data"]["all_met"] is True and {r["id"] for r in slo["data"]["slos"]} >= {"api_p95", "path_p95", "error_rate"}
    prog = json.loads((root / "final" / "complete_canary_progression.json").read_text())
    assert [p["weight"] for p in prog["data"]["phases"]] == [5, 25, 50, 100] and prog["data"]["completed_at"]
    sec = json.loads((root / "final" / "security_compliance_report.json").read_text())
    assert sec["data"]["opa"]["denied"] == ["c7e2a1b0-0002"] and sec["data"]["violations"] == []
    # a phase's time range is that phase's soak, from the journal
    p1 = json.loads((root / "phase-1" / "manifest.json").read_text())["time_range"]
    assert p1["from"] == "2026-11-26T14:00:00Z"


def test_rollback_writes_the_failed_phase_and_the_account_so_far(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("COCKPIT_GRAFANA_TOKEN", SECRET)
    plan = wired_plan(backend, tmp_path / "state")
    engine = asyncio.run(run_rollout(tmp_path / "state", "latency-regression", plan, monkeypatch))
    assert engine.state.status == "rolled_back"
    d = evidence.release_dir(plan, tmp_path / "state") / "rollback"
    manifest = json.loads((d / "manifest.json").read_text())
    phase = engine.state.phase + 1
    for name in [f.replace("{phase}", str(phase)) for f in plan.evidence.per_phase] + list(plan.evidence.final):
        assert (d / name).is_file(), name
    assert manifest["complete"], manifest["missing"]
    prog = json.loads((d / "complete_canary_progression.json").read_text())["data"]
    assert prog["kill"]["confirmed"] is True and prog["kill"]["trigger"]
    assert any(e.file.endswith("rollback/manifest.json") for e in engine.state.evidence)


def test_the_demo_without_collectors_says_why_each_is_missing(tmp_path):
    engine = asyncio.run(run_rollout(tmp_path / "state", "healthy"))
    d = evidence.release_dir(engine.plan, tmp_path / "state") / "phase-1"
    manifest = json.loads((d / "manifest.json").read_text())
    assert set(manifest["missing"]) == {"k6_performance_results_1.json", "grafana_dashboard_snapshot_1.png",
                                        "jaeger_trace_samples_1.json", "opa_decision_logs_1.json"}
    k6 = json.loads((d / "k6_performance_results_1.json").read_text())
    assert not k6["ok"] and "not provided" in k6["error"]
    why = json.loads((d / "grafana_dashboard_snapshot_1.png.missing.json").read_text())
    assert "Grafana is not configured" in why["error"]
    assert (d / "cost_delta_analysis_1.json").is_file()
    assert evidence.verify_bundle(d) == []
    entry = [e for e in engine.state.evidence if e.file.endswith("phase-1/manifest.json")][0]
    assert not entry.ok and "not collected: " in entry.detail


def test_failing_collectors_write_why_and_never_block_the_kill(tmp_path, backend, monkeypatch):
    """Grafana and Jaeger answering after 3 s with 1 s timeouts: the kill returns at once; the
    rollback bundle names both failures (500 and bad shapes: test_collectors.py)."""
    import time

    monkeypatch.setenv("COCKPIT_GRAFANA_TOKEN", SECRET)
    plan = wired_plan(backend, tmp_path / "state")
    data = dump_plan(plan)
    data["evidence"]["grafana"]["timeout"] = "1s"
    data["evidence"]["jaeger"]["timeout"] = "1s"
    plan = parse_plan(data)
    backend.mode, backend.delay_s = "slow", 3.0

    async def go():
        monkeypatch.setattr(demo, "demo_plan", lambda: plan)
        clock = ManualClock(T0)
        engine, guard, _w, people = demo.build("healthy", tmp_path / "state", clock=clock, actor=CAPTAIN, poll_s=60,
                                               identity=GUARD, evidence=True)
        await people.sign_off()
        await engine.start()
        clock.advance(timedelta(minutes=3))
        t = time.monotonic()
        out = await engine.kill("drill")
        took = time.monotonic() - t
        await guard.evidence.drain()
        return engine, out, took

    engine, out, took = asyncio.run(go())
    assert out.ok and took < 1.0
    d = evidence.release_dir(plan, tmp_path / "state") / "rollback"
    manifest = json.loads((d / "manifest.json").read_text())
    assert "timeout" in manifest["missing"]["grafana_dashboard_snapshot_1.png"]
    assert "timeout" in manifest["missing"]["jaeger_trace_samples_1.json"]
    jaeger = json.loads((d / "jaeger_trace_samples_1.json").read_text())
    assert jaeger["ok"] is False and "timeout" in jaeger["error"]
    assert SECRET not in (d / "grafana_dashboard_snapshot_1.png.missing.json").read_text()


def test_verify_names_a_changed_a_deleted_and_an_added_file(tmp_path, capsys):
    engine = asyncio.run(run_rollout(tmp_path / "state", "healthy"))
    root = evidence.release_dir(engine.plan, tmp_path / "state")
    d = root / "final"
    assert main(["verify", "--evidence", str(d), "--state-dir", str(tmp_path / "state")]) == 0
    assert "journaled as event" in capsys.readouterr().out
    for damage, said in (("change", "changed: complete_canary_progression.json"),
                         ("delete", "missing: security_compliance_report.json"),
                         ("add", "added: extra.txt")):
        copy = tmp_path / f"copy-{damage}"
        shutil.copytree(d, copy)
        if damage == "change":
            f = copy / "complete_canary_progression.json"
            b = bytearray(f.read_bytes())
            b[100] ^= 1
            f.write_bytes(bytes(b))
        elif damage == "delete":
            (copy / "security_compliance_report.json").unlink()
        else:
            (copy / "extra.txt").write_text("x")
        assert main(["verify", "--evidence", str(copy)]) == 1
        assert said in capsys.readouterr().err
    # a manifest rewritten to match a change is no longer the one the journal vouches for
    copy = tmp_path / "copy-forged"
    shutil.copytree(d, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["created_at"] = "2020-01-01T00:00:00Z"
    (copy / "manifest.json").write_text(json.dumps(m))
    assert main(["verify", "--evidence", str(copy), "--state-dir", str(tmp_path / "state")]) == 1
    assert "no evidence_collected event" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["../escape_{phase}.json", "/etc/passwd", "sub/dir.json", "..", "manifest.json"])
def test_evidence_names_stay_inside_the_bundle(name):
    data = dump_plan(demo.demo_plan())
    data["evidence"]["per_phase"] = [name]
    with pytest.raises(ConfigError, match="evidence.per_phase.0"):
        parse_plan(data)
    with pytest.raises(evidence.EvidenceError):
        evidence.inside(Path("/tmp/x"), name.replace("{phase}", "1")) if name != "manifest.json" else (_ for _ in ()).throw(evidence.EvidenceError(""))


def test_cli_evidence_builds_on_demand_and_journals(tmp_path, capsys):
    import tomli_w

    engine = asyncio.run(run_rollout(tmp_path / "state", "healthy"))
    config = tmp_path / "plan.toml"
    config.write_text(tomli_w.dumps(dump_plan(demo.demo_plan())))
    before = len(engine.journal.records)
    assert main(["evidence", "--config", str(config), "--phase", "2"]) == 1  # incomplete: no collectors here
    out = capsys.readouterr().out
    d = tmp_path / "evidence" / "IntelGraph-Platform-v0.1.0" / "phase-2"  # evidence.dir is relative to the config
    assert f"{d}: " in out and "missing k6_performance_results_2.json: k6 summary not provided" in out
    assert main(["verify", "--evidence", str(d), "--config", str(config)]) == 0
    from cockpit.store.journal import Journal

    records = Journal(tmp_path / "state", readonly=True).records
    assert len(records) == before + 1 and records[-1].kind == "evidence_collected"
    assert main(["evidence", "--config", str(config), "--phase", "9"]) == 2
    assert "no phase 9" in capsys.readouterr().err


def test_a_guard_that_takes_over_does_not_collect_again_what_is_journaled(tmp_path):
    """A standby folds the whole journal when it takes the lock: bundles already journaled stay as they are."""
    from cockpit.engine import Engine
    from cockpit.store.journal import Journal

    engine = asyncio.run(run_rollout(tmp_path / "state", "healthy"))
    before = len(engine.journal.records)
    root = evidence.release_dir(engine.plan, tmp_path / "state")
    stamps = {p.name: (p / "manifest.json").stat().st_mtime_ns for p in root.iterdir()}

    async def takeover():
        fresh = Engine(engine.plan, Journal(tmp_path / "state"), clock=ManualClock(T0 + timedelta(hours=3)), actor=CAPTAIN)
        fresh.state = fold_upto(fresh.journal.records, 1)
        hook = evidence.EvidenceHook(fresh, state_dir=tmp_path / "state", base_dir=tmp_path / "state")
        for record in fresh.journal.records[1:]:  # as engine.refresh() folds them after a takeover
            fresh.state.apply(record)
            hook._on_record(record)
        await hook.drain()
        return hook, fresh

    hook, fresh = asyncio.run(takeover())
    assert hook.bundles == [] and len(Journal(tmp_path / "state", readonly=True).records) == before
    assert {p.name: (p / "manifest.json").stat().st_mtime_ns for p in root.iterdir()} == stamps


def fold_upto(records, n):
    from cockpit.core.state import fold

    return fold(records[:n])
