"""`cockpit status` says who guards the rollout, and what an empty state dir is, as a script needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.clock import ManualClock
from cockpit.core.evaluation import GuardId
from cockpit.guard import Guard
from cockpit.store.published import PUBLISHED
from tests.conftest import ROOT, T0
from tests.rig import Rig

pytestmark = pytest.mark.anyio


def status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", "status", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_status_json_on_a_state_dir_without_events_is_a_valid_document_with_the_texts_exit_code(tmp_path):
    for where, said in ((tmp_path / "missing", "no such directory"), (tmp_path, "the rollout has not started")):
        res = status("--state-dir", str(where), "--json")
        assert res.returncode == 2 and said in res.stderr, res.stderr
        assert json.loads(res.stdout) == {"command": "status", "outcome": "refused", "exit_code": 2,
                                          "status": "not started", "state_dir": str(where), "events": 0,
                                          "refusals": [res.stderr.strip()]}
        text = status("--state-dir", str(where))
        assert text.returncode == 2 and text.stderr == res.stderr and text.stdout == ""


def this_guard(rig: Rig, state_dir, **kw) -> Guard:
    """A guard in this process, under its own pid: the kernel's holder, guard.json's and the journal's agree."""
    ident = GuardId("guard", "bastion", os.getpid(), T0)
    return Guard(rig.engine, rig.monitor, state_dir, ident, attended=lambda: True, **kw)


def guard_doc(state_dir) -> tuple[dict, str]:
    """`status --json`'s guard and headline, and text `status`'s guard line: they must agree."""
    doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
    text = status("--state-dir", str(state_dir)).stdout
    line = next(ln for ln in text.splitlines() if ln.startswith("guard "))
    headline = next(ln for ln in text.splitlines() if ln.startswith("headline "))
    assert headline.split()[1] == doc["headline"].split()[0]  # the same word (a countdown may tick between the two)
    return doc, line


def forge(state_dir, **claims) -> None:
    """What a group member can do: rename a file of their own over guard.json, claiming anything."""
    doc = json.loads((state_dir / PUBLISHED).read_text())
    doc.update(claims)
    tmp = state_dir / ".forged"
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, state_dir / PUBLISHED)


FAR = datetime(2099, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "claims",
    [
        {"at": (T0 - timedelta(hours=3)).isoformat(), "speed": 2.0, "wall_at": 1.0},  # an old round on a "fast" clock
        {"wall_at": FAR.timestamp()},  # published "in the future"
        {"at": FAR.isoformat(), "poll_s": 1e9},  # a round from the future that is never stale
        {},  # the dead guard's own last round, renamed in afresh
    ],
    ids=["old-at-and-speed", "future-wall-at", "future-at-and-huge-poll", "renamed-afresh"],
)
async def test_a_forged_round_after_the_guard_died_is_unguarded(plan, state_dir, claims):
    """Issue 20: guard.json is not a guard. With the guard's lock freed (it died), any file, however
    fresh its times, reads UNGUARDED, and JSON and text agree: holder null, not guarded."""
    rig = Rig(plan, state_dir, ManualClock(datetime.now(UTC)))
    await rig.start()
    await rig.tick()
    guard = this_guard(rig, state_dir)
    assert await guard.acquire(wait=False)
    guard.publish()
    doc, line = guard_doc(state_dir)
    assert doc["guard"]["state"] == "live" and doc["guard"]["guarded"] is True  # (it was guarded)
    guard.lease.release()  # as the kernel frees a SIGKILLed guard's lock: no guard_stopped journaled
    forge(state_dir, **claims)
    doc, line = guard_doc(state_dir)
    why = f"guard {os.getpid()}@bastion no longer holds the guard lock"
    assert doc["guard"] == {"state": "unguarded", "holder": None, "last_round_s": doc["guard"]["last_round_s"],
                            "guarded": False, "unguarded": True, "why": why, "stopped_at": None, "text": "UNGUARDED"}
    assert doc["guard"]["last_round_s"] < 60  # its ctime is fresh: the holder, not the time, decides
    assert line == f"guard    UNGUARDED: {why}; nothing evaluates the triggers (start `cockpit guard`)"
    assert doc["headline"].startswith(f"UNGUARDED: {why}")


async def test_a_round_not_from_the_lock_holder_is_unguarded(plan, state_dir):
    """The guard lives and holds the lock, but guard.json names another guard: not its round."""
    rig = Rig(plan, state_dir, ManualClock(datetime.now(UTC)))
    await rig.start()
    await rig.tick()
    guard = this_guard(rig, state_dir)
    assert await guard.acquire(wait=False)
    try:
        guard.publish()
        forge(state_dir, guard={"user": "guard", "host": "bastion", "pid": 1, "since": T0.isoformat()})
        doc, line = guard_doc(state_dir)
        assert doc["guard"]["holder"] == f"{os.getpid()}@bastion" and doc["guard"]["unguarded"] is True
        assert doc["guard"]["why"] == f"guard.json is not from the guard lock's holder (pid {os.getpid()})"
        guard.publish()  # the guard's next round
        doc, line = guard_doc(state_dir)
        assert doc["guard"]["state"] == "live" and line.startswith(f"guard    {os.getpid()}@bastion, last round ")
    finally:
        guard.release("test over")


async def test_status_names_the_guard_that_holds_the_lock(plan, state_dir):
    clock = ManualClock(datetime.now(UTC))
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    await rig.tick()
    guard = this_guard(rig, state_dir)
    assert await guard.acquire(wait=False)
    guard.publish()
    try:
        doc, line = guard_doc(state_dir)
        assert doc["guard"]["holder"] == f"{os.getpid()}@bastion" and doc["guard"]["guarded"] is True
        assert doc["guard"]["unguarded"] is False and doc["guard"]["last_round_s"] < 45
        assert line.startswith(f"guard    {os.getpid()}@bastion, last round ")
    finally:
        guard.release("test over")


async def test_a_stopped_guard_says_stopped_and_when(plan, state_dir):
    """Issue 21: after a rollback the guard stops; status says so, with when, never "last round 0s ago"."""
    rig = Rig(plan, state_dir, ManualClock(datetime.now(UTC)))
    await rig.start()
    await rig.tick()
    guard = this_guard(rig, state_dir)
    assert await guard.acquire(wait=False)
    guard.publish()
    await rig.engine.kill("drill")
    guard.release("the rollout is rolled back and the kill verified")
    stopped = rig.engine.state.guard_stop.at
    doc, line = guard_doc(state_dir)
    assert doc["status"] == "ROLLED BACK"
    assert doc["guard"] == {"state": "stopped", "holder": None, "last_round_s": doc["guard"]["last_round_s"],
                            "guarded": False, "unguarded": False, "why": "the rollout is rolled back and the kill verified",
                            "stopped_at": stopped.isoformat(),
                            "text": f"guard {os.getpid()}@bastion stopped at {stopped:%H:%M:%S}Z: "
                                    "the rollout is rolled back and the kill verified"}
    assert line == f"guard    {os.getpid()}@bastion stopped at {stopped:%H:%M:%S}Z: the rollout is rolled back and the kill verified"


async def test_status_says_the_screens_headline_the_sources_and_open_incidents(plan, state_dir):
    """`cockpit status` words the rollout as the screen does (the read model's headline), names the
    sources' health from the guard's round, lists open incidents, and has no soak once rolled back."""
    from cockpit.adapters.gateway import GatewayState
    from cockpit.core import events as ev

    clock = ManualClock(datetime.now(UTC))
    rig = Rig(plan, state_dir, clock)
    await rig.start()
    await rig.tick()
    guard = this_guard(rig, state_dir)
    assert await guard.acquire(wait=False)
    rig.engine.observe_gateway(GatewayState(weight=0, enabled=True))
    rig.engine._append(ev.IncidentOpened(incident="INC-1", level="L1", reason="error_rate breaching", trigger="error_rate"))
    guard.publish()
    text = status("--state-dir", str(state_dir)).stdout
    assert "status   LIVE   canary weight 0 %" in text
    assert "headline GATEWAY DRIFT: the gateway reads canary 0 %, but Phase 1 soaks at 5 % by the journal" in text
    assert "sources  prometheus ok, gateway ok" in text
    said = next(ln for ln in text.splitlines() if ln.startswith("incident "))  # the read model's incident line
    assert said.startswith("incident INC-1 L1 opened ") and said.endswith(": error_rate breaching; NOT acknowledged"), said
    assert "next     acknowledge INC-1 (L1): cockpit ack INC-1 --name NAME --config PLAN" in text  # the step, as a command
    doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
    assert doc["headline"].startswith("GATEWAY DRIFT: ") and doc["gateway_drift"].startswith("the gateway reads canary 0 %")
    assert doc["incidents"] == [{"id": "INC-1", "level": "L1", "reason": "error_rate breaching",
                                 "opened_at": doc["incidents"][0]["opened_at"], "acknowledged_by": None}]
    assert doc["sources"]["prometheus"]["ok"] is True and doc["soak_remaining_s"] > 0
    await rig.engine.kill("drill")
    rig.engine._append(ev.RollbackVerified(ok=False, detail="canary request rate still 9.97 req/s 2m00s after the kill"))
    doc = json.loads(status("--state-dir", str(state_dir), "--json").stdout)
    assert doc["status"] == "ROLLED BACK" and doc["soak_remaining_s"] is None
    assert doc["kill"]["traffic_fell"] is False
    said = next(ln for ln in status("--state-dir", str(state_dir)).stdout.splitlines() if ln.startswith("kill "))
    assert said.startswith("kill     KILL VERIFIED ") and ": drill · the gateway reads the canary off: canary share 0 % · " \
        "ROLLBACK NOT VERIFIED: canary traffic NOT ~0: canary request rate still 9.97 req/s 2m00s after the kill" in said, said  # the read model's kill line
    assert doc["kill"]["line"] == said.removeprefix("kill     ")
    assert "soak" not in next(ln for ln in status("--state-dir", str(state_dir)).stdout.splitlines() if ln.startswith("phase"))
    guard.release("test over")


# --- a real guard process: the headless demo ---------------------------------------------------------


def _demo(state_dir, speed: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cockpit", "demo", "--headless", "--speed", speed, "--scenario", "healthy",
                             "--state-dir", str(state_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


async def _observer_header(state_dir) -> tuple[str, str]:
    """What `cockpit observe` shows in its header and banner, built as cmd_observe builds it."""
    from cockpit.core.events import Actor
    from cockpit.session import observer_engine
    from cockpit.store.published import FollowedClock, GuardFeed
    from cockpit.tui.app import CockpitApp
    from tests.tui.scenes import text_of

    feed = GuardFeed(state_dir)
    clock = FollowedClock(feed)
    engine = observer_engine(state_dir, None, Actor(user="bob", host="bastion", role="observer"), clock=clock)
    clock.follow(engine)
    app = CockpitApp(engine, feed, who="bob@bastion", watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return text_of(app.query_one("#header")), text_of(app.query_one("#banner"))


async def test_a_fake_round_renamed_in_every_second_after_the_guard_is_sigkilled(tmp_path):
    """Issue 20's run: SIGKILL the guard, rename a fresh-looking guard.json in every second: status
    (text and JSON) and an observer say UNGUARDED every time, never HEALTHY."""
    state_dir = tmp_path / "demo"
    demo = _demo(state_dir, "1")  # a real guard: the lock, guard_started, a round every 15 s
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                (state_dir / PUBLISHED).exists() and json.loads(status("--state-dir", str(state_dir), "--json").stdout)
                .get("status") == "LIVE"):
            time.sleep(0.2)
        doc, line = guard_doc(state_dir)
        assert doc["guard"]["state"] == "live" and doc["guard"]["holder"] == f"{demo.pid}@{doc['guard']['holder'].split('@')[1]}"
        header, _ = await _observer_header(state_dir)
        assert f"guard ● {demo.pid}@" in header, header
    finally:
        demo.kill()  # SIGKILL: no guard_stopped, the kernel frees the lock
        demo.wait(timeout=10)
    last = json.loads((state_dir / PUBLISHED).read_text())
    for _ in range(4):
        forge(state_dir, at=datetime.now(UTC).isoformat(), rounds=last["rounds"] + 1)
        doc, line = guard_doc(state_dir)
        assert (doc["guard"]["state"], doc["guard"]["holder"], doc["guard"]["guarded"]) == ("unguarded", None, False)
        assert line.startswith(f"guard    UNGUARDED: guard {demo.pid}@") and doc["headline"].startswith("UNGUARDED")
        header, banner = await _observer_header(state_dir)
        assert "UNGUARDED" in header and "guard ●" not in header and banner.strip().startswith("UNGUARDED"), header
        time.sleep(1.0)


async def test_a_demo_that_ended_says_its_guard_stopped(tmp_path):
    """Issue 21: the demo's guard stops with it; status and an observer say stopped, with when."""
    state_dir = tmp_path / "demo"
    demo = _demo(state_dir, "600")
    assert demo.wait(timeout=120) == 0
    doc, line = guard_doc(state_dir)
    stopped = datetime.fromisoformat(doc["guard"]["stopped_at"])
    assert (doc["guard"]["state"], doc["guard"]["holder"], doc["guard"]["guarded"], doc["guard"]["unguarded"]) == (
        "stopped", None, False, False)
    assert line.startswith("guard    ") and f"stopped at {stopped:%H:%M:%S}Z: the demo ended" in line
    header, banner = await _observer_header(state_dir)
    assert f"guard stopped {stopped:%H:%M:%S}" in header and "guard ●" not in header, header


def test_an_observer_of_a_demo_follows_its_accelerated_clock_by_the_journals_speed(tmp_path):
    """The demo journals its guard's speed (guard_started); an observer's clock follows the believed
    round by it, so its soak reads as the captain's, while a file claiming another speed changes nothing."""
    from cockpit.core.events import Actor
    from cockpit.session import observer_engine
    from cockpit.store.journal import Journal
    from cockpit.store.published import FollowedClock, GuardFeed

    state_dir = tmp_path / "demo"
    demo = _demo(state_dir, "60")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (state_dir / PUBLISHED).exists():
            time.sleep(0.1)
        time.sleep(2.0)  # two wall seconds: two minutes of the demo's rollout
        started = next(r for r in Journal(state_dir, readonly=True).records if r.kind == "guard_started")
        assert started.payload.speed == 60.0
        feed = GuardFeed(state_dir)
        clock = FollowedClock(feed)
        engine = observer_engine(state_dir, None, Actor(user="bob", host="bastion", role="observer"), clock=clock)
        clock.follow(engine)
        live = feed.latest()
        followed, wall = clock.now(), datetime.now(UTC)
        assert live.at <= followed <= live.at + timedelta(seconds=3 * 60)  # at most three rounds past the last
        assert (followed - wall).total_seconds() > 60  # the demo's clock, well ahead of the wall's
        forge(state_dir, speed=1.0, wall_at=1.0)  # what the file claims is not read
        assert live.at <= clock.now() <= live.at + timedelta(seconds=3 * 60)
    finally:
        demo.kill()
        demo.wait(timeout=10)
