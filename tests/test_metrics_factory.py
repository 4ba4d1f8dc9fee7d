"""build_metrics: the plan's [prometheus] section as a PrometheusSource; the token sent, never shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cockpit.adapters.prometheus import PrometheusSource, build_metrics
from cockpit.config import ConfigError, dump_plan, parse_plan
from tests.integration.prom import fixed_answer_server

SECRET = "s3cret-t0ken-value"
ANSWER = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}'


def with_prometheus(plan, **section):
    data = dump_plan(plan)
    data["prometheus"] = section
    return parse_plan(data)


def test_no_prometheus_section_means_no_source(plan):
    data = dump_plan(plan)
    data.pop("prometheus")
    data["triggers"] = [t for t in data["triggers"] if "check" in t]  # query triggers need [prometheus]
    assert build_metrics(parse_plan(data)) is None


def test_the_token_is_sent_as_a_bearer_header_and_never_shown(plan, monkeypatch):
    monkeypatch.setenv("COCKPIT_PROMETHEUS_TOKEN", SECRET)
    seen: list[dict] = []
    with fixed_answer_server(ANSWER, seen=seen) as url:
        source = build_metrics(with_prometheus(
            plan, url=url, timeout="3s", verify_tls=False, headers={"X-Scope-OrgID": "intelgraph"},
            token={"env": "COCKPIT_PROMETHEUS_TOKEN"},
        ))
        assert isinstance(source, PrometheusSource) and source.timeout_s == 3.0
        answer = source.instant("up", datetime.now(UTC))
        source.close()
    assert answer.status == "ok" and answer.value == 0.5
    assert len(seen) == 1
    assert seen[0]["Authorization"] == f"Bearer {SECRET}" and seen[0]["X-Scope-OrgID"] == "intelgraph"
    assert SECRET not in repr(source) and SECRET not in source.endpoint


def test_a_failing_query_does_not_carry_the_token_into_its_message(plan, monkeypatch):
    monkeypatch.setenv("COCKPIT_PROMETHEUS_TOKEN", SECRET)
    with fixed_answer_server(b"<html>no</html>", status=500, content_type="text/html") as url:
        source = build_metrics(with_prometheus(plan, url=url, token={"env": "COCKPIT_PROMETHEUS_TOKEN"}))
        answer = source.instant("up", datetime.now(UTC))
        source.close()
    assert answer.status == "error" and url in answer.error and SECRET not in answer.error


def test_a_missing_token_names_where_it_looked(plan, monkeypatch):
    monkeypatch.delenv("COCKPIT_PROMETHEUS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="^prometheus.token: secret: environment variable COCKPIT_PROMETHEUS_TOKEN is not set$"):
        build_metrics(with_prometheus(plan, url="http://127.0.0.1:9", token={"env": "COCKPIT_PROMETHEUS_TOKEN"}))


def test_the_token_goes_in_the_header_the_plan_names(plan, monkeypatch):
    """A Prometheus behind a proxy that wants X-Api-Key: the header is named, the value is a secret ref."""
    monkeypatch.setenv("COCKPIT_PROMETHEUS_TOKEN", SECRET)
    seen: list[dict] = []
    with fixed_answer_server(ANSWER, seen=seen) as url:
        source = build_metrics(with_prometheus(
            plan, url=url, token={"env": "COCKPIT_PROMETHEUS_TOKEN"}, token_header="X-Api-Key", token_prefix="",
        ))
        assert source.instant("up", datetime.now(UTC)).status == "ok"
        source.close()
    assert seen[0]["X-Api-Key"] == SECRET and "Authorization" not in seen[0]
