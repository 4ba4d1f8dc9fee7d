"""The plan: the seed loads field for field; bad plans fail with the field's path; init round-trips."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import timedelta

import pytest
import tomli_w

from cockpit.config import ConfigError, dump_plan, load_plan, parse_plan
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def cockpit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_the_example_encodes_the_seed_plan(plan):
    assert (plan.release.name, plan.release.version, plan.release.region) == ("IntelGraph Platform", "v0.1.0", "us-west-2")
    assert [p.weight for p in plan.phases] == [5, 25, 50, 100]
    assert all(p.soak == timedelta(minutes=20) for p in plan.phases)
    assert [p.gate.owners for p in plan.phases] == [
        ["sre"], ["po", "tech_lead"], ["sre", "security"], ["po", "tech_lead", "security", "sre", "finops"]
    ]
    assert "UI E2E functionality confirmed" in plan.phases[1].gate.manual
    assert [(t.id, t.for_, t.action) for t in plan.triggers] == [
        ("api_p95_regression", timedelta(minutes=10), "rollback"),
        ("path_p95", timedelta(minutes=10), "rollback"),
        ("error_rate", timedelta(minutes=5), "rollback"),
        ("security_violation", timedelta(0), "rollback"),
        ("supply_chain", timedelta(0), "rollback"),
    ]
    assert plan.triggers[0].above_baseline_pct == 20 and plan.triggers[2].threshold == 0.02
    assert (plan.kill_switch.flag, plan.kill_switch.value, plan.kill_switch.notify) == ("canary.enable", False, "#error-budget")
    assert [lvl.level for lvl in plan.escalation] == ["L1", "L2", "L3", "Emergency"]
    assert [(c.id, c.monthly, c.projected) for c in plan.budget.categories] == [
        ("infrastructure", 18000, 12450), ("llm_usage", 5000, 2180)
    ]
    assert [a.at_pct for a in plan.budget.alerts] == [75, 85, 95, 100]
    assert len(plan.evidence.per_phase) == 5 and len(plan.evidence.final) == 4
    assert plan.sign_offs == ["po", "tech_lead", "security", "sre", "finops"]
    assert [c.type for c in plan.preflight] == ["freeze_window", "command", "report", "command", "http", "promql"]


def _seed_data() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def _errors(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_plan(data)
    return info.value.errors


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["phases"][0].__setitem__("weight", "five"), "phases.0.weight: Input should be a valid integer"),
        (lambda d: d["release"].__setitem__("verison", "v1"), "release.verison: unknown key"),
        (lambda d: d["phases"][3].__setitem__("weight", 90), "phases: the last phase must reach weight 100, got 90"),
        (lambda d: d["phases"][1].__setitem__("weight", 5), "phases: weights must strictly increase, got [5, 5, 50, 100]"),
        (lambda d: d["phases"][2]["gate"].__setitem__("owners", ["sre", "qa"]), "phases.2.gate.owners: 'qa' is not a declared role"),
        (lambda d: d["escalation"][0].__setitem__("owners", ["nobody"]), "escalation.0.owners: 'nobody' is not a declared role"),
        (lambda d: d["triggers"][1].__setitem__("level", "L9"), "triggers.1.level: 'L9' is not a declared escalation level"),
        (lambda d: d["triggers"][0].__setitem__("for", "ten minutes"), "triggers.0.for: not a duration: 'ten minutes'"),
        (lambda d: d["triggers"][1].pop("threshold"), "triggers.1: give either threshold, or baseline with above_baseline_pct"),
        (lambda d: d["kill_switch"].__setitem__("gateway", "nope"), "kill_switch.gateway: 'nope' is not a declared gateway"),
        (lambda d: d["prometheus"].__setitem__("headers", {"Authorization": "Bearer x"}), "prometheus.headers: header Authorization carries a secret"),
        (lambda d: d["gateways"]["edge"].__setitem__("token", {"value": "s3cret"}), "gateways.edge.http.token.value: unknown key"),
    ],
)
def test_bad_plans_name_the_field(mutate, expected):
    data = _seed_data()
    mutate(data)
    errors = _errors(data)
    assert any(e.startswith(expected) for e in errors), errors


def test_check_config_exit_codes_and_messages(tmp_path):
    ok = cockpit("check-config", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "5/25/50/100" in ok.stdout

    data = _seed_data()
    data["phases"][3]["weight"] = 90
    data["release"]["typo"] = True
    bad = tmp_path / "bad.toml"
    bad.write_text(tomli_w.dumps(data))
    res = cockpit("check-config", str(bad))
    assert res.returncode == 2
    assert f"{bad}: release.typo: unknown key" in res.stderr.splitlines()

    syntax = tmp_path / "syntax.toml"
    syntax.write_text('[release]\nname = "x"\nversion = \n')
    res = cockpit("check-config", str(syntax))
    assert res.returncode == 2
    assert f"{syntax}: TOML syntax:" in res.stderr and "line 3" in res.stderr and "column" in res.stderr

    res = cockpit("check-config", str(tmp_path / "missing.toml"))
    assert res.returncode == 2 and "cannot read" in res.stderr


def test_init_round_trips(tmp_path, plan):
    target = tmp_path / "starter.toml"
    res = cockpit("init", str(target))
    assert res.returncode == 0, res.stderr
    assert load_plan(target) == plan
    assert cockpit("init", str(target)).returncode == 2  # never overwrites without --force
    again = parse_plan(tomllib.loads(tomli_w.dumps(dump_plan(plan))))
    assert again == plan


def test_secret_refs_resolve_from_env_or_file_and_name_the_source(tmp_path, monkeypatch):
    from cockpit.config import SecretRef

    monkeypatch.setenv("COCKPIT_TEST_TOKEN", "abc")
    assert SecretRef(env="COCKPIT_TEST_TOKEN").resolve() == "abc"
    f = tmp_path / "token"
    f.write_text("xyz\n")
    assert SecretRef(file=f).resolve() == "xyz"
    with pytest.raises(ConfigError, match="COCKPIT_UNSET_TOKEN is not set"):
        SecretRef(env="COCKPIT_UNSET_TOKEN").resolve()
    with pytest.raises(ConfigError, match="cannot read file"):
        SecretRef(file=tmp_path / "nope").resolve()


def test_a_journaled_plan_from_an_older_cockpit_drops_settings_this_one_no_longer_knows(plan):
    from cockpit.config import ConfigError, dump_plan, parse_journaled_plan

    old = dump_plan(plan)
    old["evidence"]["timeout"] = "60s"  # a setting an older cockpit had
    old["phases"][0]["gate"]["retired"] = True
    assert parse_journaled_plan(old) == plan
    assert old["evidence"]["timeout"] == "60s"  # the journal's document is not changed
    broken = dump_plan(plan)
    broken["phases"][0]["weight"] = "lots"
    with pytest.raises(ConfigError, match="phases.0.weight"):
        parse_journaled_plan(broken)
