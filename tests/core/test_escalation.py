"""Which escalation levels apply: the seed's matrix L1 (SRE) / L2 (Security) / L3 (PO/TL) / Emergency."""

from __future__ import annotations

import pytest

from cockpit.core import events as ev
from cockpit.core.escalation import EMERGENCY, ROLLBACK_NOT_VERIFIED, active_levels, current_escalations, leaking
from tests.core.journal import at_phase, state


@pytest.fixture
def levels(plan):
    return {t.id: t.level for t in plan.triggers}


def test_the_seed_trigger_levels(levels, plan):
    assert levels == {"api_p95_regression": "L1", "path_p95": "L1", "error_rate": "L1", "security_violation": "L2", "supply_chain": "L2"}
    assert [lvl.level for lvl in plan.escalation] == ["L1", "L2", "L3", EMERGENCY] and EMERGENCY == "Emergency"


def breached(trigger, **kw):
    return ev.TriggerBreached(trigger=trigger, value=1.0, threshold=0.5, **kw)


def fired(trigger, level):
    return ev.TriggerFired(trigger=trigger, action="rollback", level=level, value=1.0, threshold=0.5, window_s=0, detail="d")


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], {}),
        ([breached("error_rate")], {"L1": ["error_rate breaching"]}),
        ([breached("error_rate"), ev.TriggerCleared(trigger="error_rate")], {}),
        ([fired("security_violation", "L2")], {"L2": ["security_violation fired"]}),
        # Sorted by trigger id within a level; a breach and a fire side by side.
        ([breached("path_p95"), fired("error_rate", "L1"), breached("api_p95_regression")],
         {"L1": ["api_p95_regression breaching", "error_rate fired", "path_p95 breaching"]}),
        # Holding for want of data is not a breach: nobody is paged for it.
        ([breached("path_p95", no_data=True)], {}),
        ([breached("path_p95", no_data=True), fired("path_p95", "L1")], {"L1": ["path_p95 fired"]}),
        # A trigger the plan does not map to a level is not escalated.
        ([breached("unknown_trigger")], {}),
        ([ev.Escalated(level="L3", reason="UI broken"), ev.Escalated(level="L3", reason="feedback")], {"L3": ["UI broken", "feedback"]}),
        ([breached("error_rate"), ev.Escalated(level="L1", reason="paged by hand")], {"L1": ["error_rate breaching", "paged by hand"]}),
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=False, error="refused")], {EMERGENCY: ["KILL NOT CONFIRMED"]}),
        ([ev.KillRequested(reason="x")], {}),
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=True)], {}),
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=False), ev.Escalated(level=EMERGENCY, reason="all hands")],
         {EMERGENCY: ["all hands", "KILL NOT CONFIRMED"]}),
        # Issue 6: once the gateway confirmed the kill, what was escalated while it was not is over.
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=False), ev.Escalated(level=EMERGENCY, reason="all hands"),
          ev.KillRequested(reason="again"), ev.KillResult(confirmed=True)], {}),
        # ... but not what was escalated before the kill (the journal keeps both)
        ([ev.Escalated(level="L3", reason="UI broken"), ev.KillRequested(reason="x"), ev.KillResult(confirmed=True)],
         {"L3": ["UI broken"]}),
        ([ev.KillRequested(reason="x"), ev.Escalated(level="L3", reason="during")], {"L3": ["during"]}),
        # Issue 4: canary traffic NOT ~0 after a confirmed kill is an Emergency until it falls.
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="9/s")],
         {EMERGENCY: [ROLLBACK_NOT_VERIFIED]}),
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="9/s"),
          ev.RollbackVerified(ok=True, detail="0/s")], {}),
        ([ev.KillRequested(reason="x"), ev.KillResult(confirmed=True), ev.RollbackVerified(ok=True, detail="0/s")], {}),
    ],
)
def test_active_levels(plan, levels, events, expected):
    assert active_levels(state(plan, *at_phase(plan), *events), levels) == expected


def test_current_escalations_and_leaking(plan):
    before = state(plan, *at_phase(plan), ev.Escalated(level="L3", reason="UI"))
    assert [e.reason for _, e in current_escalations(before)] == ["UI"] and not leaking(before)
    unconfirmed = state(plan, *at_phase(plan), ev.KillRequested(reason="x"), ev.KillResult(confirmed=False),
                        ev.Escalated(level=EMERGENCY, reason="KILL NOT CONFIRMED after 4 attempts"))
    assert [e.reason for _, e in current_escalations(unconfirmed)] == ["KILL NOT CONFIRMED after 4 attempts"]
    assert not leaking(unconfirmed)
    leak = state(plan, *at_phase(plan), ev.KillRequested(reason="x"), ev.KillResult(confirmed=True),
                 ev.RollbackVerified(ok=False, detail="9/s"))
    assert leaking(leak) and current_escalations(leak) == []


def test_an_escalation_said_in_the_instant_of_the_kill_is_over_with_it(plan):
    from datetime import timedelta

    from tests.conftest import T0
    from tests.core.journal import At

    kill_at = T0 + timedelta(hours=1)
    st = state(plan, *at_phase(plan), At(ev.Escalated(level="L3", reason="before"), kill_at - timedelta(seconds=1)),
               At(ev.KillRequested(reason="x"), kill_at), At(ev.Escalated(level=EMERGENCY, reason="during"), kill_at),
               At(ev.KillResult(confirmed=True), kill_at + timedelta(seconds=1)))
    assert [e.reason for _, e in current_escalations(st)] == ["before"]
