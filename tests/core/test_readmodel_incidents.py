"""What the on-call sees in the escalation pane: each open incident at the level paged last, with
who acknowledged it or the time left before it climbs; every page that could not be sent; the
`ack` action while an incident waits. Also the preflight refusals the screen's offer follows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core import rules
from cockpit.core.readmodel import available_actions, escalation_rows, incident_lines
from cockpit.core.state import RolloutState
from tests.conftest import T0
from tests.core.journal import At, at_phase, ready, state

T1 = T0 + timedelta(minutes=10)
SEC = timedelta(seconds=1)


def opened(incident="INC-1", level="L1"):
    return ev.IncidentOpened(incident=incident, level=level, reason="trigger error_rate fired: x")


def lines(plan, *payloads, now=T1):
    return incident_lines(plan, state(plan, *payloads), now)


@pytest.mark.parametrize("after, said", [
    (timedelta(0), "INC-1 NOT acknowledged: climbs in 10m00s"),
    (SEC, "INC-1 NOT acknowledged: climbs in 9m59s"),
    (timedelta(minutes=9, seconds=51), "INC-1 NOT acknowledged: climbs in 9s"),
    (timedelta(minutes=10), "INC-1 NOT acknowledged: climbs in 0s"),
    (timedelta(minutes=30), "INC-1 NOT acknowledged: climbs in 0s"),  # never a negative timer
])
def test_an_unacknowledged_incident_shows_its_timer(plan, after, said):
    assert lines(plan, At(opened(), T1), now=T1 + after) == {"L1": [said]}


def test_the_timer_runs_from_the_last_page(plan):
    climbed = ev.IncidentEscalated(incident="INC-1", level="L3", reason="no ack")
    assert lines(plan, At(opened(), T1), At(climbed, T1 + timedelta(minutes=20)), now=T1 + timedelta(minutes=21)) == {
        "L3": ["INC-1 NOT acknowledged: climbs in 14m00s"]}


def test_without_a_clock_or_a_timeout_no_timer(plan):
    assert lines(plan, At(opened(), T1), now=None) == {"L1": ["INC-1 NOT acknowledged"]}
    assert lines(plan, At(opened(level="Emergency"), T1)) == {"Emergency": ["INC-1 NOT acknowledged"]}


def test_acknowledged_says_by_whom_and_resolved_says_nothing(plan):
    acked = lines(plan, At(opened(), T1), At(opened("INC-2", "L2"), T1),
                  At(ev.IncidentAcknowledged(incident="INC-1", name="bob"), T1), now=T1 + SEC)
    assert acked == {"L1": ["INC-1 acknowledged by bob"], "L2": ["INC-2 NOT acknowledged: climbs in 9m59s"]}
    assert lines(plan, At(opened(), T1), At(ev.IncidentResolved(incident="INC-1", reason="ok"), T1)) == {}


def q(channel, purpose="page", incident="INC-1", level="L1"):
    return ev.NotificationQueued(channel=channel, purpose=purpose, text="t", incident=incident, level=level)


def failed(seq, channel, error="HTTP 500", delivered=False):
    return ev.Notified(channel=channel, text="t", delivered=delivered, error=error, queued=seq)


def test_a_page_that_could_not_be_sent_is_said_at_the_incidents_level(plan):
    # seq 1 is the plan; 2 opened, 3..8 queued
    got = lines(plan, At(opened(), T1), At(q("#sre-oncall"), T1), At(q("pagerduty_sre"), T1),
                At(q("#x", "acknowledge"), T1), At(q("#y", "resolve"), T1), At(q("#z", "rollback", ""), T1),
                At(q("#w", "budget", ""), T1),
                At(ev.IncidentEscalated(incident="INC-1", level="L2", reason="r"), T1),
                At(failed(3, "#sre-oncall"), T1), At(failed(4, "pagerduty_sre", "", True), T1),
                At(failed(5, "#x", "timeout"), T1), At(failed(6, "#y", "HTTP 404"), T1),
                At(failed(7, "#z"), T1), At(failed(8, "#w"), T1),
                At(ev.IncidentAcknowledged(incident="INC-1", name="ann"), T1))
    assert got == {"L2": ["INC-1 acknowledged by ann", "NOT SENT to #sre-oncall (INC-1): HTTP 500",
                          "NOT SENT to #x (INC-1): timeout", "NOT SENT to #y (INC-1): HTTP 404"]}


def test_a_failed_page_of_an_unknown_incident_is_said_at_its_queued_level(plan):
    got = lines(plan, At(q("#a", incident="INC-4", level="L3"), T1), At(failed(2, "#a"), T1), At(q("#b", incident="INC-5"), T1))
    assert got == {"L3": ["NOT SENT to #a (INC-4): HTTP 500"]}


def test_the_escalation_rows_carry_the_incident_lines(plan):
    st = state(plan, *at_phase(plan), At(opened(), T1), At(q("#a", level="L1"), T1), At(failed(len(at_phase(plan)) + 3, "#a"), T1))
    rows = {r.level: r for r in escalation_rows(plan, st, T1 + SEC)}
    assert rows["L1"].reasons == ("INC-1 NOT acknowledged: climbs in 9m59s", "NOT SENT to #a (INC-1): HTTP 500")
    assert rows["L1"].applies and rows["L1"].role == "alarm"
    assert not rows["L2"].applies
    assert escalation_rows(plan, st)[0].reasons == ("INC-1 NOT acknowledged", "NOT SENT to #a (INC-1): HTTP 500")


def test_the_ack_action_is_offered_while_an_incident_waits(plan):
    live = [*at_phase(plan)]
    assert "ack" not in available_actions(state(plan, *live))
    assert "ack" in available_actions(state(plan, *live, opened()))
    assert available_actions(state(plan, *live, opened())) == {"advance", "gate", "kill", "note", "ack"}
    assert "ack" not in available_actions(state(plan, *live, opened(), ev.IncidentAcknowledged(incident="INC-1", name="b")))
    assert "ack" not in available_actions(state(plan, *live, opened(), ev.IncidentResolved(incident="INC-1", reason="r")))
    assert "ack" in available_actions(state(plan, *live, opened(), ev.IncidentResolved(incident="INC-1", reason="r"), opened("INC-2")))


def test_preflight_checks_run_only_before_the_start(plan):
    assert rules.preflight_refusals(RolloutState()) == ["no plan loaded in this journal"]
    assert rules.preflight_refusals(state(plan)) == []
    assert rules.preflight_refusals(state(plan, *ready(plan))) == []
    assert rules.preflight_refusals(state(plan, *at_phase(plan))) == ["preflight checks run before the rollout starts"]


def test_a_plan_whose_levels_carry_no_timeout_shows_no_timer(plan):
    from types import SimpleNamespace as NS
    bare = NS(escalation=[NS(level="L1", ack_timeout=None)])
    assert incident_lines(bare, state(plan, At(opened(), T1)), T1) == {"L1": ["INC-1 NOT acknowledged"]}


def test_the_read_model_shows_the_timer_at_now(plan):
    from cockpit.core.readmodel import read_model
    st = state(plan, *at_phase(plan), At(opened(), T1))
    rows = {r.level: r for r in read_model(plan, st, None, T1 + timedelta(minutes=4)).escalation}
    assert rows["L1"].reasons == ("INC-1 NOT acknowledged: climbs in 6m00s",)


def test_a_resolved_incident_does_not_hide_the_open_ones_after_it(plan):
    got = lines(plan, At(opened(), T1), At(ev.IncidentResolved(incident="INC-1", reason="ok"), T1), At(opened("INC-2"), T1))
    assert got == {"L1": ["INC-2 NOT acknowledged: climbs in 10m00s"]}
