"""The plan's [state]: the file journal by default, etcd when asked, and every mistake names its field."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.config import ConfigError, load_plan, parse_plan, plan_digest

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
ETCD = {"store": "etcd", "endpoints": ["http://127.0.0.1:2379", "http://127.0.0.1:22379"]}


def _with(state: dict) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["state"] = state
    return data


def test_the_file_store_is_the_default_and_leaves_the_plan_digest_alone():
    plan = load_plan(EXAMPLE)
    assert plan.state.store == "file" and plan.state.endpoints == []
    assert plan_digest(parse_plan(_with({"store": "file"}))) == plan_digest(plan)


def test_an_etcd_store_takes_its_prefix_and_lease_from_the_plan():
    plan = parse_plan(_with(dict(ETCD)))
    assert plan.state.key_prefix(plan.release.name, plan.release.version) == "/cockpit/IntelGraph_Platform/v0.1.0"
    assert plan.state.ttl(timedelta(seconds=15)) == timedelta(seconds=45)  # three polls
    assert plan.state.ttl(timedelta(seconds=2)) == timedelta(seconds=10)  # never under 10s
    named = parse_plan(_with(ETCD | {"prefix": "/cockpit/intelgraph/v0.1.0", "lease_ttl": "20s"}))
    assert named.state.key_prefix("x", "y") == "/cockpit/intelgraph/v0.1.0"
    assert named.state.ttl(timedelta(seconds=15)) == timedelta(seconds=20)
    secured = parse_plan(_with({"store": "etcd", "endpoints": ["https://10.0.0.1:2379"], "user": "guard",
                                "password": {"env": "ETCD_PASSWORD"}, "ca_file": "/etc/etcd/ca.pem",
                                "cert_file": "/etc/etcd/guard.pem", "key_file": "/etc/etcd/guard-key.pem"}))
    assert secured.state.password is not None and secured.state.password.describe() == "env ETCD_PASSWORD"


@pytest.mark.parametrize("state, expected", [
    ({"store": "etcd"}, 'state: store = "etcd" needs endpoints'),
    ({"store": "consul"}, "state.store: Input should be 'file' or 'etcd'"),
    ({"endpoints": ["http://127.0.0.1:2379"]}, 'state: endpoints: only for store = "etcd"'),
    (ETCD | {"endpoints": ["http://root:hunter2@127.0.0.1:2379"]},
     "state.endpoints: the URL carries credentials (user:password@): use user = \"...\" and password = {"),
    (ETCD | {"endpoints": ["127.0.0.1:2379"]}, "state.endpoints: not an http(s) URL with a host"),
    (ETCD | {"prefix": "/cockpit/intelgraph/"}, "state.prefix: '/cockpit/intelgraph/' is not a key prefix"),
    (ETCD | {"prefix": "cockpit"}, "state.prefix: 'cockpit' is not a key prefix"),
    (ETCD | {"prefix": "/cockpit/../other"}, "state.prefix: '/cockpit/../other' is not a key prefix"),
    (ETCD | {"user": "guard"}, "state: give both user and password"),
    (ETCD | {"password": {"env": "ETCD_PASSWORD"}}, "state: give both user and password"),
    (ETCD | {"password": "hunter2", "user": "guard"}, "state.password: Input should be a valid dictionary"),
    (ETCD | {"cert_file": "/etc/etcd/guard.pem"}, "state: give both cert_file and key_file"),
    (ETCD | {"ca_file": "/etc/etcd/ca.pem"}, "state: TLS files are given but an endpoint is http://"),
    (ETCD | {"lease_ttl": "10s"}, "state.lease_ttl: 10s is not longer than prometheus.poll_interval (15s)"),
    (ETCD | {"lease_tll": "20s"}, "state.lease_tll: unknown key"),
])
def test_bad_state_stores_name_the_field(state, expected):
    with pytest.raises(ConfigError) as info:
        parse_plan(_with(state))
    assert any(e.startswith(expected) for e in info.value.errors), info.value.errors
    assert "hunter2" not in str(info.value.errors)


def test_the_examples_commented_state_block_loads_when_switched_on():
    text = EXAMPLE.read_text()
    block = text[text.index("# [state]"):].split("\n\n", 1)[0]
    data = tomllib.loads(text) | tomllib.loads("\n".join(line.removeprefix("# ") for line in block.splitlines()))
    plan = parse_plan(data)
    assert plan.state.store == "etcd" and len(plan.state.endpoints) == 3
    assert plan.state.key_prefix(plan.release.name, plan.release.version) == "/cockpit/intelgraph/v0.1.0"


def test_two_bastions_run_one_plan_wherever_each_keeps_the_record():
    """Each bastion names its own state_dir and its nearest etcd member first: the plan is the same plan."""
    from cockpit.config import same_plan
    from cockpit.config.plan import _digest

    a = parse_plan(_with(ETCD) | {"state_dir": "/srv/cockpit/a"})
    b = parse_plan(_with(ETCD | {"endpoints": list(reversed(ETCD["endpoints"]))}) | {"state_dir": "/var/lib/b"})
    assert plan_digest(a) == plan_digest(b) == plan_digest(load_plan(EXAMPLE))
    legacy = _digest(a, {"state"})  # a journal fingerprinted before [state] existed kept state_dir in it
    assert legacy != plan_digest(a) and same_plan(a, legacy) and same_plan(a, plan_digest(b))
    changed = parse_plan(_with(ETCD) | {"state_dir": "/srv/cockpit/a"} | {"sign_offs": ["po"]})
    assert not same_plan(changed, plan_digest(a))
