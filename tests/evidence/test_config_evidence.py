"""The evidence and post-deployment sections of the plan: every error names its field."""

from __future__ import annotations

import pytest

from cockpit.config import ConfigError, dump_plan, parse_plan
from cockpit.seed import seed_plan


def _with(**evidence):
    data = dump_plan(seed_plan())
    data["evidence"].update(evidence)
    return data


def test_the_seed_carries_its_evidence_files_and_post_deployment_plan():
    plan = seed_plan()
    assert len(plan.evidence.per_phase) == 5 and len(plan.evidence.final) == 4
    assert [i.due.total_seconds() / 3600 for i in plan.post_deployment] == [4] * 4 + [24] * 4 + [168] * 4
    assert {i.id: i.auto for i in plan.post_deployment if i.auto} == {"monitor_slos": "slos_met", "evidence_audit": "evidence_complete"}


@pytest.mark.parametrize("evidence, said", [
    ({"opa": {"file": "a.jsonl", "url": "http://127.0.0.1:8181/logs"}}, "evidence.opa: Value error, give exactly one of file or url"),
    ({"grafana": {"url": "http://user:pw@grafana.local", "dashboard": "d"}}, "evidence.grafana.url"),
    ({"grafana": {"url": "http://grafana.local", "dashboard": "../x"}}, "evidence.grafana.dashboard"),
    ({"jaeger": {"url": "http://jaeger.local/?token=abc", "service": "s"}}, "evidence.jaeger.url"),
    ({"final": ["a/../../b.json"]}, "evidence.final.0"),
])
def test_bad_evidence_settings_name_their_field(evidence, said):
    with pytest.raises(ConfigError) as e:
        parse_plan(_with(**evidence))
    assert any(line.startswith(said.split(":")[0]) for line in e.value.errors), e.value.errors


def test_a_post_deployment_owner_must_be_a_role_and_ids_unique():
    data = dump_plan(seed_plan())
    data["post_deployment"][0]["owner"] = "intern"
    data["post_deployment"][1]["id"] = data["post_deployment"][2]["id"]
    with pytest.raises(ConfigError) as e:
        parse_plan(data)
    assert "post_deployment.0.owner: 'intern' is not a declared role" in e.value.errors
    assert any(line.startswith("post_deployment: duplicate post-deployment ids") for line in e.value.errors)
