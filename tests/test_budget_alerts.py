"""Budget alerts that act: each 75/85/95/100 % crossing is journaled and queued to its channel
once per month (not once per poll; a new month starts over), and the 100 % spend control (a
command, argv and no shell) runs once, journaled with its exit status."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from cockpit import guard_work
from cockpit.clock import ManualClock
from cockpit.config import dump_plan, parse_plan
from cockpit.core.budget import burn
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from tests.receiver import Receiver
from tests.rig import ACTOR

pytestmark = pytest.mark.anyio
NOV_28 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def with_spend_control(plan, control: dict):
    data = dump_plan(plan)
    data["budget"]["alerts"][-1]["spend_control"] = control
    return parse_plan(data)


def spend(engine, clock, pct: float):
    total = sum(c.monthly for c in engine.plan.budget.categories)
    first = engine.plan.budget.categories[0].id
    return guard_work.observe_budget(engine, burn(engine.plan.budget.categories, {first: total * pct / 100}, clock.now()))


def alerted(records):
    return [(r.payload.at_pct, r.payload.month) for r in records if r.kind == "budget_alerted"]


async def test_one_alert_per_crossing_per_month_and_the_spend_control_runs_once(plan, state_dir, tmp_path):
    runs = tmp_path / "runs.txt"
    code = f"import sys; open({str(runs)!r}, 'a').write('ran\\n'); print('scaled down 3 services'); sys.exit(3)"
    p = with_spend_control(plan, {"argv": [sys.executable, "-c", code], "timeout": "10s"})
    clock = ManualClock(NOV_28)
    engine = Engine(p, Journal(state_dir), clock=clock, actor=ACTOR)
    engine.ensure_plan()

    assert alerted(spend(engine, clock, 70)) == []
    first = spend(engine, clock, 80)
    assert alerted(first) == [(75.0, "2026-11")]
    queued = [r.payload for r in first if r.kind == "notification_queued"]
    assert [(q.channel, q.purpose) for q in queued] == [("#finops", "budget")] and "alert 75 %" in queued[0].text
    for _ in range(5):  # polled again and again: nothing new
        clock.advance(60)
        assert spend(engine, clock, 80) == []
    assert alerted(spend(engine, clock, 101)) == [(85.0, "2026-11"), (95.0, "2026-11"), (100.0, "2026-11")]
    assert [r.kind for r in spend(engine, clock, 102)] == ["spend_read"]  # moved 1 % of the budget: journaled, no alert

    for _ in range(3):
        ran = await guard_work.run_spend_controls(engine)
        assert len(ran) <= 1
    controls = [r.payload for r in engine.journal.records if r.kind == "spend_control_ran"]
    assert len(controls) == 1 and runs.read_text() == "ran\n"
    c = controls[0]
    assert (c.at_pct, c.month, c.ok, c.exit_status) == (100.0, "2026-11", False, 3)
    assert c.detail == "exit 3: scaled down 3 services" and c.action.startswith("argv: ")

    clock.advance((datetime(2026, 12, 1, 0, 5, tzinfo=UTC) - clock.now()).total_seconds())  # a new month
    assert [r.kind for r in spend(engine, clock, 2)] == ["spend_read"]  # a new month's spend, no alert
    assert await guard_work.run_spend_controls(engine) == []
    assert alerted(spend(engine, clock, 76)) == [(75.0, "2026-12")]
    assert spend(engine, clock, 76) == []
    assert alerted(spend(engine, clock, 100)) == [(85.0, "2026-12"), (95.0, "2026-12"), (100.0, "2026-12")]
    assert len(await guard_work.run_spend_controls(engine)) == 1  # once more, for December
    assert runs.read_text() == "ran\nran\n"
    assert len([r for r in engine.journal.records if r.kind == "budget_alerted"]) == 8


async def test_a_spend_control_webhook(plan, state_dir):
    with Receiver() as rx:
        p = with_spend_control(plan, {"webhook": f"{rx.url}/spend-controls"})
        clock = ManualClock(NOV_28)
        engine = Engine(p, Journal(state_dir), clock=clock, actor=ACTOR)
        engine.ensure_plan()
        spend(engine, clock, 100)
        ran = await guard_work.run_spend_controls(engine)
        assert await guard_work.run_spend_controls(engine) == []
    assert len(rx.seen) == 1 and rx.seen[0].path == "/spend-controls"
    assert ran[0].payload.ok and ran[0].payload.exit_status == 200
