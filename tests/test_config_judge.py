"""The plan's [judge]: the example's commented judge loads when switched on, maps one to one onto
the core judge's rules, and every mistake names its field."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from cockpit.config import ConfigError, load_plan, parse_plan
from cockpit.core.judge import Direction, JudgeRules, MetricRule, NanStrategy
from tests.judged import EXAMPLE, judged_example_text, write_judged_example


def _judged() -> dict:
    return tomllib.loads(judged_example_text())


def test_the_seed_example_has_no_judge_until_switched_on(tmp_path):
    assert load_plan(EXAMPLE).judge is None
    plan = load_plan(write_judged_example(tmp_path / "judged.toml"))
    assert plan.judge is not None
    assert [[c.id for c in p.gate.auto if c.source == "judge"] for p in plan.phases] == [["judgment"]] * 4
    assert plan.judge.action == "rollback" and plan.judge.for_ == 3


def test_judge_maps_onto_the_core_rules_field_for_field(tmp_path):
    plan = load_plan(write_judged_example(tmp_path / "judged.toml"))
    rules = plan.judge.rules()
    assert isinstance(rules, JudgeRules)
    assert (rules.pass_score, rules.marginal_score, rules.tolerance, rules.confidence) == (95, 75, 0.25, 0.98)
    p95, errors = rules.metrics
    assert p95 == MetricRule(name="API p95", unit="ms", direction=Direction.INCREASE, critical=True, allowed_increase=1.1)
    assert errors.nan_strategy is NanStrategy.REPLACE and errors.name == "Error rate"


def test_track_and_window_are_filled_in(tmp_path):
    judge = load_plan(write_judged_example(tmp_path / "judged.toml")).judge
    assert judge.query(judge.metrics[0].query, "canary").count('track="canary"') == 1
    events = judge.query(judge.metrics[1].events, "baseline", 1200)
    assert 'track="baseline",code=~"5.."' in events and "[1200s]" in events


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["judge"]["metrics"][0].__setitem__("query", "up"), "judge.metrics.0: query: needs $track"),
    (lambda d: d["judge"]["metrics"][0].__setitem__("direction", "up"), "judge.metrics.0.direction: Input should be 'increase', 'decrease' or 'either'"),
    (lambda d: d["judge"]["metrics"][1].pop("exposure"), "judge.metrics.1: give both events and exposure"),
    (lambda d: d["judge"]["metrics"][0].__setitem__("allowed_increase", -1), "judge.metrics.0.allowed_increase: Input should be greater than 0"),
    (lambda d: d["judge"].__setitem__("marginal_score", 99), "judge: marginal_score (99) must not be above pass_score (95)"),
    (lambda d: d["judge"].__setitem__("pass_score", 101), "judge.pass_score: Input should be less than or equal to 100"),
    (lambda d: d["judge"].__setitem__("interval", "0s"), "judge.interval:"),
    (lambda d: d["judge"].__setitem__("action", "page"), "judge.action: Input should be 'gate' or 'rollback'"),
    (lambda d: d["judge"].__setitem__("for", 0), "judge.for: Input should be greater than or equal to 1"),
    (lambda d: d["judge"].__setitem__("group_weights", {"latency": 50}), "judge: group_weights.latency: no metric is in group 'latency'"),
    (lambda d: d["judge"]["metrics"][1].__setitem__("name", "API p95"), "judge: duplicate metric names ['API p95']"),
    (lambda d: d["judge"]["metrics"][0].__setitem__("query", "rate(x{$track}[1m]"), "judge.metrics.0.query (canary): PromQL does not parse"),
    (lambda d: d["judge"].__setitem__("tolerence", 0.3), "judge.tolerence: unknown key"),
    (lambda d: d.pop("judge"), "phases.0.gate.auto.4.source: a judge criterion needs a [judge] section"),
    (lambda d: d.pop("prometheus"), "judge: the judge reads both tracks from Prometheus"),
    (lambda d: d["phases"][0]["gate"]["auto"][4].__setitem__("threshold", 1), "phases.0.gate.auto.4: a judge criterion takes no threshold"),
    (lambda d: d["phases"][0]["gate"]["auto"][0].pop("comparison"), "phases.0.gate.auto.0: a prometheus criterion needs a comparison and a threshold"),
])
def test_bad_judges_name_the_field(mutate, expected):
    data = _judged()
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_plan(data)
    assert any(e.startswith(expected) for e in info.value.errors), info.value.errors


def test_check_config_names_the_judge_field(tmp_path):
    good = write_judged_example(tmp_path / "judged.toml")
    ok = subprocess.run([sys.executable, "-m", "cockpit", "check-config", str(good)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("marginal_score = 75", "marginal_score = 99"))
    res = subprocess.run([sys.executable, "-m", "cockpit", "check-config", str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert f"{bad}: judge: marginal_score (99) must not be above pass_score (95)" in res.stderr.splitlines(), res.stderr
    assert "Traceback" not in res.stderr
