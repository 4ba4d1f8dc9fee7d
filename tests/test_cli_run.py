"""`cockpit run` and `cockpit observe`: one captain at a time; observers load no credentials."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import tomli_w

from cockpit.config import dump_plan
from cockpit.journal import CaptainLock


def _config(tmp_path, plan) -> str:
    data = dump_plan(plan)
    data["state_dir"] = str(tmp_path / "state")
    data["gateways"]["edge"]["url"] = "http://127.0.0.1:9/flags"  # never called in these tests
    data["gateways"]["edge"].pop("read_url", None)
    path = tmp_path / "plan.toml"
    path.write_text(tomli_w.dumps(data))
    return str(path)


def test_a_second_captain_is_refused_with_the_holders_identity(tmp_path, plan):
    config = _config(tmp_path, plan)
    lock = CaptainLock(tmp_path / "state", user="alice", host="bastion", pid=os.getpid(), since="2026-11-26 14:00:00Z").acquire()
    try:
        res = subprocess.run([sys.executable, "-m", "cockpit", "run", "--config", config], capture_output=True, text=True, timeout=60)
    finally:
        lock.release()
    assert res.returncode == 3
    assert "captain lock held by alice@bastion" in res.stderr and f"pid {os.getpid()}" in res.stderr
    assert "cockpit observe" in res.stderr


def test_observe_needs_a_journal_and_says_so(tmp_path, plan):
    config = _config(tmp_path, plan)
    res = subprocess.run([sys.executable, "-m", "cockpit", "observe", "--config", config], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "no journal yet" in res.stderr and "cockpit run" in res.stderr


def test_an_observer_never_loads_gateway_credentials(tmp_path, plan, monkeypatch, clock, actor):
    from cockpit.cli import _open_engine
    from cockpit.engine import Engine
    from cockpit.journal import Journal

    from cockpit.config import load_plan

    config = _config(tmp_path, plan)
    captain = Engine(load_plan(config), Journal(tmp_path / "state"), clock=clock, actor=actor)
    captain.ensure_plan()  # the captain has started the journal
    monkeypatch.delenv("COCKPIT_GATEWAY_TOKEN", raising=False)  # a captain would be refused without it

    def no_gateway(*a, **kw):
        raise AssertionError("an observer built a gateway")

    monkeypatch.setattr("cockpit.adapters.factory.build_gateway", no_gateway)
    engine, who, lock = _open_engine(argparse.Namespace(config=config, theme=None), observer=True)
    assert engine.follower and engine.gateway is None and lock is None and who.role == "observer"
    assert engine.journal.readonly


def test_a_captain_without_its_gateway_token_is_refused_naming_the_variable(tmp_path, plan):
    config = _config(tmp_path, plan)
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_GATEWAY_TOKEN"}
    res = subprocess.run([sys.executable, "-m", "cockpit", "run", "--config", config], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 2 and "COCKPIT_GATEWAY_TOKEN" in res.stderr
