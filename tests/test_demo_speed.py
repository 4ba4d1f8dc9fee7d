"""The demo at speeds where its rounds are far apart: each round judges every sample since the
last, so a breach between two rounds still rolls the canary back; above MAX_SPEED the speed is
capped, and the header and the headless output say so. The real `cockpit demo --headless`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cockpit import demo
from tests.conftest import ROOT

DEMO_TIMEOUT_S = 120  # a run that never ends gives up after 400 rounds of a wall second: never wait that long


def headless(tmp_path, scenario: str, speed: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "demo", "--headless", "--scenario", scenario, "--speed", speed,
         "--state-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, cwd=ROOT,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.splitlines()


def test_a_tenant_breach_between_two_rounds_at_600x_fires_security_and_kills(tmp_path):
    """At 600x the guard runs a round every 10 rollout minutes; the cross-tenant access lasts 5."""
    lines = headless(tmp_path, "tenant-breach", "600")
    assert lines[0].startswith("DEMO · simulated · 600x; watch it")
    said = [line.split(" ", 1)[1] for line in lines[1:-1]]  # without the time
    fired = next(s for s in said if "FIRED" in s)
    assert fired.startswith("trigger Security FIRED (rollback, L2): Security 1 > 0 (between rounds, ")
    assert said[-3].startswith("KILL SENT · pulled by trigger Security")
    assert said[-2].startswith("KILL VERIFIED ") and said[-2].endswith(" · the gateway reads the canary off: canary share 0 %")
    assert said[-1].startswith("guard ") and said[-1].endswith(" stopped: the demo ended")
    assert lines[-1].endswith("(rolled_back)")
    assert not any("NOT met" in s for s in said)  # the trigger acted before any gate could see it


def test_a_speed_beyond_the_cap_is_capped_and_says_so(tmp_path):
    lines = headless(tmp_path, "tenant-breach", "100000")
    assert lines[0].startswith("DEMO · simulated · 1800x (100000x asked: capped); watch it")
    assert lines[1] == ("speed 100000x is capped at 1800x: the guard runs a round every wall second, each judging "
                        "every sample since the last, and a round judges at most an hour of them")
    assert any("trigger Security FIRED" in line for line in lines) and lines[-1].endswith("(rolled_back)")


@pytest.mark.parametrize(
    "asked,speed,banner,note",
    [
        (60.0, 60.0, "DEMO · simulated · 60x", ""),
        (1800.0, 1800.0, "DEMO · simulated · 1800x", ""),
        (1800.5, 1800.0, "DEMO · simulated · 1800x (1800.5x asked: capped)", "speed 1800.5x is capped at 1800x: "),
        (0.5, 0.5, "DEMO · simulated · 0.5x", ""),
    ],
)
def test_the_demo_runs_at_the_speed_asked_up_to_the_cap(asked, speed, banner, note):
    assert demo.demo_speed(asked) == speed
    assert demo.banner(asked) == banner
    assert demo.speed_note(asked).startswith(note) and bool(demo.speed_note(asked)) == bool(note)


def test_a_capped_demo_runs_its_clock_and_rounds_at_the_cap(tmp_path):
    from cockpit.core.events import Actor

    engine, guard, _world, _people = demo.build("healthy", tmp_path / "s", speed=100_000, actor=Actor(user="a", host="b"))
    try:
        assert engine.clock.speed == demo.MAX_SPEED and guard.monitor.poll_s == demo.MAX_SPEED
    finally:
        guard.monitor.close()
