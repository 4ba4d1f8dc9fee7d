"""One truth on every face (issue 21): from one journal and one guard round at each moment of a
rollout, the captain's screen, an observer, replay at that event, `cockpit status` (text and JSON)
and the report say the same headline, the same numbers in the same spelling, the same incidents and
the same guard state.

Each moment is built by the screen's scene builders (tests/tui/scenes.py) on a frozen clock, with a
guard this process holds (so the kernel names it as the holder of the guard lock, as it names a
real guard to a real observer and to `status`)."""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass

import pytest

from cockpit import demo, report
from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.evaluation import GuardId
from cockpit.core.events import Actor
from cockpit.core.readmodel import read_model
from cockpit.engine import Engine
from cockpit.replaying import Replay, load
from cockpit.status import guard_json, headline_json, status_json, status_lines
from cockpit.store.chain import JournalError
from cockpit.store.journal import Journal
from cockpit.store.locks import guard_holder
from cockpit.store.published import read_published
from cockpit.tui.app import CockpitApp
from cockpit.tui.replay import ReplayApp
from tests.conftest import T0
from tests.tui.scenes import ObserverFeed, Scene, text_of

ME = GuardId(user="alice", host="bastion", pid=os.getpid(), since=T0)  # the kernel names this process the guard lock's holder


async def _preflight(scene: Scene) -> None:
    await scene.preflight()


async def _soaking(scene: Scene) -> None:
    await scene.live(phase=0, into_soak_min=3)


async def _breaching(scene: Scene) -> None:
    await scene.live(phase=1, into_soak_min=6)


async def _kill_sent(scene: Scene) -> None:
    """The trigger fired and the kill is on its way: the gateway has not answered yet."""
    await scene.live(phase=1, into_soak_min=6)
    scene.engine._append(ev.TriggerFired(trigger="api_p95_regression", action="rollback", level="L1",
                                         value=330.0, threshold=285.0, window_s=600.0,
                                         detail="Performance 330 ms > 285 ms for 10m00s of 10m00s"))
    scene.engine._append(ev.IncidentOpened(incident="INC-1", level="L1", reason="Performance fired", trigger="api_p95_regression"))
    scene.engine._append(ev.KillRequested(reason="Performance fired", trigger="api_p95_regression"))
    scene.guard.publish()


async def _kill_not_confirmed(scene: Scene) -> None:
    await _kill_sent(scene)
    scene.engine._append(ev.KillResult(confirmed=False, attempts=3, error="timeout after 3 attempts"))
    scene.guard.publish()


async def _rolled_back(scene: Scene) -> None:
    await scene.live(phase=1, into_soak_min=12)


async def _completed(scene: Scene) -> None:
    await scene.live(phase=3, into_soak_min=21)
    out = await scene.engine.advance()
    assert out.ok, out.reasons
    await scene.poll()


async def _guard_dead(scene: Scene) -> None:
    await scene.live(phase=0, into_soak_min=3)
    scene.guard.lease.release()  # as the kernel frees a SIGKILLed guard's lock: nothing journaled


async def _guard_stopped_after_completion(scene: Scene) -> None:
    await _completed(scene)
    scene.guard.release("the rollout completed")


async def _demo(scene: Scene) -> None:
    """A demo as `cockpit demo --speed 60` runs it: the captain's screen carries its banner."""
    await scene.live(phase=0, into_soak_min=3)


MOMENTS = {
    "preflight": ("healthy", _preflight),
    "soaking": ("healthy", _soaking),
    "breaching": ("latency-regression", _breaching),
    "kill sent": ("latency-regression", _kill_sent),
    "kill not confirmed": ("latency-regression", _kill_not_confirmed),
    "rolled back": ("latency-regression", _rolled_back),
    "completed": ("healthy", _completed),
    "guard dead": ("healthy", _guard_dead),
    "guard stopped after completion": ("healthy", _guard_stopped_after_completion),
    "demo": ("healthy", _demo),
}


@dataclass
class Faces:
    captain: dict
    observer: dict
    replay: dict
    status_text: str
    status_doc: dict
    report_md: str
    model: object  # the read model the captain's screen rendered
    now: object  # the moment's time (the scene's clock)
    journaled_spend: str  # the spend the journal last read, as replay shows it ("" when none)
    replay_at: object  # the time replay stands at: the last event's
    replay_guard: object = None  # the guard the journal names at replay's cursor (None: none runs)
    replay_guard_since: object = None


async def _screen(app, panes=("#banner", "#header", "#phase", "#escalation", "#budget")) -> dict:
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        return {p: text_of(app.query_one(p)) for p in panes}


async def faces_at(tmp_path, moment: str) -> Faces:
    scenario, build = MOMENTS[moment]
    scene = Scene(tmp_path / "s", scenario, identity=ME)
    await build(scene)
    state_dir = scene.state_dir
    captain = await _screen(scene.app(banner=demo.banner(60) if moment == "demo" else ""))
    follower = Engine(scene.engine.plan, Journal(state_dir, readonly=True), clock=scene.clock,
                      actor=Actor(user="bob", host="bastion", role="observer"))
    observer = await _screen(CockpitApp(follower, ObserverFeed(state_dir, scene.guard), who="bob@bastion", watch=False))
    records, plan = load(state_dir)
    replay = await _screen(ReplayApp(Replay(records, plan, state_dir), cursor=len(records)))
    now = scene.clock.now()
    state = scene.engine.state
    live, holder = read_published(state_dir), guard_holder(state_dir)
    sight = scene.guard.sight()  # the round's age on the scene's clock (the kernel's holder: test_status_guard.py)
    guard = guard_json(plan, state, live, sight, holder)
    seen = headline_json(plan, state, live, now, sight)
    text = "\n".join(status_lines(state, now, None, guard, seen))
    doc = {**status_json(state, now, None), **seen, "guard": guard}
    md = report.render(state_dir, "md", now=now)
    model = read_model(plan, state, live, now, sight=scene.guard.sight())
    spend = state.spend
    said_spend = words.money(sum(spend.spent.values()), plan.budget.currency) if spend is not None else ""
    return Faces(captain, observer, replay, text, doc, md, model, now, said_spend, records[-1].ts, state.guard, state.guard_since)


def _first_word(headline: str) -> str:
    return re.split(r"[:·]| \d", headline, maxsplit=1)[0].strip()


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_every_face_says_the_same_headline_numbers_incidents_and_guard(tmp_path, moment):
    f = asyncio.run(faces_at(tmp_path, moment))
    m, doc, text = f.model, f.status_doc, f.status_text
    screens = {"captain": f.captain, "observer": f.observer}

    # The headline: the read model's, word for word and number for number, on every live face.
    head = m.headline.text
    assert doc["headline"] == head and f"headline {head}" in text.splitlines()
    for name, screen in screens.items():
        assert screen["#banner"].strip().startswith(head), (name, screen["#banner"])
    # Replay stands at the last event's time and holds what the journal holds: the same state, and
    # the same words when that event is now. A guard SIGKILLed leaves no word in the journal.
    said = f.replay["#banner"].strip()
    if moment != "guard dead":
        assert _first_word(said) == _first_word(head), (said, head)
        if f.replay_at == f.now:
            assert said.startswith(head), (said, head)

    # The numbers, in one spelling: where it stands, the canary's share, the soak left.
    where = m.phase.text  # "Phase 2 (2/4) rolled back · canary 0 %"
    canary = words.percent(doc["weight"])
    assert doc["where"] == where and f"canary weight {canary}" in text
    if m.phase.where != "Preflight":  # before the start, status has no phase line
        assert next(ln for ln in text.splitlines() if ln.startswith("phase")).startswith(f"phase    {where}")
    for name, screen in {**screens, "replay": f.replay}.items():
        assert f"canary {canary}" in screen["#header"], (name, screen["#header"])
        assert m.phase.where in screen["#header"], (name, screen["#header"])
        track = " ".join(step.text for step in m.phase.track)
        assert track.split() == [t for t in screen["#phase"].splitlines()[0].split() if "%" in t], (name, screen["#phase"])
    if doc["soak_remaining_s"] is not None:
        left = f"{words.duration(doc['soak_remaining_s'])} left"
        assert f"soak {left}" in text
        for name, screen in screens.items():
            assert left in screen["#phase"], (name, screen["#phase"])

    # A breach's age: one figure on the gauge, the headline and status's refused advance.
    refused = next((ln for ln in text.splitlines() if ln.startswith("advance  refused")), "")
    for row in m.triggers:
        if row.state == "breaching":
            age = words.duration(row.breached_s)
            assert row.pending.startswith(f"{age}/") and f"is breaching (for {age})" in refused, (row.pending, refused)
            assert doc["advance_refusals"] == list(m.refusals["advance"])

    # The budget: the round's spend live; in replay, the spend the journal last read, never "no data".
    total = m.budget.total
    assert total is not None and total.spent.startswith("$"), m.budget
    for name, screen in screens.items():
        assert total.spent in screen["#budget"], (name, screen["#budget"])
    assert f.journaled_spend and f"{f.journaled_spend} of" in f.replay["#budget"], f.replay["#budget"]
    assert "no spend data" not in f.replay["#budget"]

    # The kill and the incidents: the read model's lines on every face that says them.
    if m.kill is not None:
        line = " · ".join(part for part in (m.kill.head, m.kill.why, m.kill.detail, m.kill.traffic) if part)
        assert doc["kill"]["line"] == line and f"kill     {line}" in text
        assert f"| Requested | {words.stamp(m.kill.requested_at)}, {m.kill.why}" in f.report_md
        for name, screen in {**screens, "replay": f.replay}.items():
            assert m.kill.head in screen["#phase"], (name, screen["#phase"])
    else:
        assert doc["kill"] is None and "Not pulled." in f.report_md
    assert doc["incident_lines"] == [row.text for row in m.incidents]
    for row in m.incidents:
        assert f"incident {row.text}" in text
        assert f"| {row.id} | {row.levels} | {words.stamp(row.opened_at)} | {row.reason} |" in f.report_md
    if not m.incidents:
        assert "incident " not in text

    # The guard, as each face judged it: live with its round's age, UNGUARDED, or stopped and when.
    g, doc_g = m.guard, doc["guard"]
    assert (doc_g["state"], doc_g["guarded"], doc_g["unguarded"], doc_g["text"]) == (g.state, g.guarded, g.state == "unguarded", g.text)
    guard_line = next(ln for ln in text.splitlines() if ln.startswith("guard "))
    if g.state == "live":
        age = words.duration(g.age_s)
        assert guard_line == f"guard    {g.guard.pid}@{g.guard.host}, last round {age} ago" and doc_g["holder"] is not None
        for name, screen in screens.items():
            assert f"guard ● {g.guard.pid}@{g.guard.host} {age}" in screen["#header"], (name, screen["#header"])
    elif g.state == "unguarded":
        assert guard_line.startswith(f"guard    UNGUARDED: {g.why}") and doc_g["holder"] is None
        for name, screen in screens.items():
            assert "UNGUARDED" in screen["#header"] and "guard ●" not in screen["#header"], (name, screen["#header"])
    else:
        assert g.state == "stopped" and doc_g["holder"] is None and doc_g["stopped_at"] == g.stopped_at.isoformat()
        assert doc_g["why"] == g.why == "the rollout completed" and (doc_g["guarded"], doc_g["unguarded"]) == (False, False)
        assert guard_line == f"guard    {g.text.removeprefix('guard ')}"
        for name, screen in {**screens, "replay": f.replay}.items():
            assert f"guard stopped {words.clock(g.stopped_at)}" in screen["#header"] and "guard ●" not in screen["#header"], name

    # Replay says what the journal says of the guard at its cursor (started when), never a live round's age.
    journaled = f.replay_guard
    if journaled is not None:
        assert f"guard ● {journaled.pid}@{journaled.host} started {words.clock(f.replay_guard_since)}" in f.replay["#header"], f.replay["#header"]
    assert not re.search(r"guard ● \S+ \d", f.replay["#header"]), f.replay["#header"]

    # What the rollout is, and that a demo is one: status, the report, the observer, replay.
    assert f"outcome **{doc['status']}**" in f.report_md
    marker = m.demo
    assert marker.startswith("DEMO · simulated") and doc["demo"] == marker  # every scene runs the demo's simulated world
    assert text.splitlines()[0].endswith(marker) and marker in f.report_md.splitlines()[0]
    for name in ("observer", "replay"):
        assert "DEMO · simulated" in getattr(f, name)["#header"] or "REPLAY" in getattr(f, name)["#header"], name
    assert "DEMO · simulated · OBSERVER" in f.observer["#header"]
    if moment == "demo":
        assert "DEMO · simulated · 60x" in f.captain["#header"]
    else:
        assert "CAPTAIN alice@bastion" in f.captain["#header"]


def test_a_broken_journal_is_the_headline_on_the_captains_screen_observers_and_status(tmp_path):
    """Not a toast under SOAKING: every face's headline says the journal does not verify, that the
    guard still guards, and to run `cockpit verify`."""
    async def go():
        scene = Scene(tmp_path / "s", "healthy", identity=ME)
        await _soaking(scene)
        follower = Engine(scene.engine.plan, Journal(scene.state_dir, readonly=True), clock=scene.clock,
                          actor=Actor(user="bob", host="bastion", role="observer"))  # an observer watching when it breaks
        path = scene.state_dir / "journal.jsonl"
        last = path.read_bytes().splitlines(keepends=True)[-1]
        with path.open("ab") as f:  # the last event written twice: the chain breaks
            f.write(last)
        for engine in (scene.engine, follower):
            try:
                engine.refresh()
            except JournalError:  # each journal finds it broken while open (the screen says it, never dies)
                pass
        assert scene.engine.journal.broken
        captain = await _screen(scene.app())
        observer = await _screen(CockpitApp(follower, ObserverFeed(scene.state_dir, scene.guard), who="bob@bastion", watch=False))
        return captain, observer, follower
    captain, observer, follower = asyncio.run(go())
    said = "JOURNAL BROKEN: the journal does not verify; the guard still guards — run `cockpit verify`"
    assert follower.journal.broken
    for name, screen in {"captain": captain, "observer": observer}.items():
        assert screen["#banner"].strip().startswith(said), (name, screen["#banner"])
