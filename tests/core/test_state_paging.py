"""The fold of each paging and post-deployment event kind: incidents, the outbox, spend controls,
silences, post-deployment ticks (pure, one event at a time)."""

from __future__ import annotations

from datetime import timedelta

from cockpit.core import events as ev
from cockpit.core.state import Incident, Outbound
from tests.conftest import T0
from tests.core.journal import At, state

SEC = timedelta(seconds=1)
T1, T2, T3 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)


def opened(incident="INC-1", level="L1", trigger="error_rate"):
    return ev.IncidentOpened(incident=incident, level=level, reason="trigger fired", trigger=trigger)


def test_an_opened_incident_is_open_unacknowledged_and_paged_at_its_level(plan):
    s = state(plan, At(opened(), T1))
    assert s.incidents == {"INC-1": Incident("INC-1", "L1", "trigger fired", "error_rate", T1, T1, ["L1"])}
    inc = s.incidents["INC-1"]
    assert inc.open and not inc.acknowledged
    assert (inc.acked_by, inc.acked_via, inc.acked_at, inc.resolved_at, inc.resolution, inc.channels) == ("", "", None, None, "", {})


def test_an_escalation_moves_the_level_and_restarts_the_timer(plan):
    s = state(plan, At(opened(), T1), At(ev.IncidentEscalated(incident="INC-1", level="L2", reason="no ack"), T2),
              At(ev.IncidentEscalated(incident="INC-1", level="L3", reason="no ack"), T3),
              At(ev.IncidentEscalated(incident="INC-9", level="L2", reason="?"), T3))
    inc = s.incidents["INC-1"]
    assert (inc.level, inc.paged_at, inc.opened_at, inc.levels, inc.reason) == ("L3", T3, T1, ["L1", "L2", "L3"], "trigger fired")
    assert set(s.incidents) == {"INC-1"}  # an escalation of an unknown incident opens nothing


def test_the_first_acknowledgement_stands(plan):
    s = state(plan, At(opened(), T1), At(ev.IncidentAcknowledged(incident="INC-1", name="bob", via="pagerduty"), T2),
              At(ev.IncidentAcknowledged(incident="INC-1", name="carol", via="screen"), T3),
              At(ev.IncidentAcknowledged(incident="INC-7", name="dan"), T3))
    inc = s.incidents["INC-1"]
    assert (inc.acked_by, inc.acked_via, inc.acked_at, inc.acknowledged, inc.open) == ("bob", "pagerduty", T2, True, True)
    assert set(s.incidents) == {"INC-1"}
    assert ev.IncidentAcknowledged(incident="INC-1", name="x").via == "cli"


def test_the_first_resolution_stands(plan):
    s = state(plan, At(opened(), T1), At(ev.IncidentResolved(incident="INC-1", reason="cleared"), T2),
              At(ev.IncidentResolved(incident="INC-1", reason="again"), T3),
              At(ev.IncidentResolved(incident="INC-4", reason="?"), T3))
    inc = s.incidents["INC-1"]
    assert (inc.open, inc.resolved_at, inc.resolution) == (False, T2, "cleared")
    assert set(s.incidents) == {"INC-1"}


def q(channel, purpose="page", incident="INC-1"):
    return ev.NotificationQueued(channel=channel, purpose=purpose, text=f"{purpose} to {channel}", incident=incident, level="L1")


def test_queued_messages_fill_the_outbox_by_seq_and_the_incidents_channels(plan):
    s = state(plan, At(opened(), T1), At(q("#a"), T1), At(q("#a", "acknowledge"), T2), At(q("#b"), T2),
              At(q("#c", "message", incident=""), T2), At(q("#d", incident="INC-5"), T3))
    assert [(seq, o.at, o.queued.channel, o.result) for seq, o in s.outbox.items()] == [
        (3, T1, "#a", None), (4, T2, "#a", None), (5, T2, "#b", None), (6, T2, "#c", None), (7, T3, "#d", None)]
    assert s.outbox[5] == Outbound(5, T2, q("#b"))
    assert s.incidents["INC-1"].channels == {"#a": {"page", "acknowledge"}, "#b": {"page"}}
    assert set(s.incidents) == {"INC-1"}


def test_a_delivery_result_lands_on_its_queued_message_only(plan):
    ok = ev.Notified(channel="#a", text="t", delivered=True, queued=2, attempts=2, tries=("HTTP 500", "HTTP 202"))
    s = state(plan, At(q("#a"), T1), At(q("#b"), T1),
              At(ev.Notified(channel="#x", text="direct", delivered=False, error="e"), T2),  # queued=0: an older notice
              At(ev.Notified(channel="#y", text="t", delivered=True, queued=99), T2),  # no such queued message
              At(ok, T2))
    assert s.outbox[2].result == ok and s.outbox[3].result is None
    assert set(s.outbox) == {2, 3}
    assert (ok.purpose, ok.incident, ev.Notified(channel="c", text="t").queued) == ("", "", 0)


def test_spend_controls_by_month_and_crossing(plan):
    a = ev.SpendControlRan(at_pct=80.0, month="2026-11", action="argv: scale-down", ok=True, exit_status=0)
    b = ev.SpendControlRan(at_pct=80.0, month="2026-12", action="webhook: https://h/p", ok=False, exit_status=500, detail="HTTP 500")
    s = state(plan, a, b)
    assert s.spend_controls == {("2026-11", 80.0): a, ("2026-12", 80.0): b}


def test_silences_live_until_they_expire(plan):
    one = ev.SilenceCreated(silence_id="s1", matchers={"app": "intelgraph"}, ends_at=T3, comment="rollout")
    two = ev.SilenceCreated(silence_id="s2", matchers={"app": "x"}, ends_at=T3)
    s = state(plan, one, two, ev.SilenceExpired(silence_id="s1"), ev.SilenceExpired(silence_id="nope", ok=False, detail="404"))
    assert s.silences == {"s2": two}
    assert state(plan, one).silences == {"s1": one}


def test_the_first_post_deployment_tick_of_an_item_stands(plan):
    first = ev.PostDeploymentDone(item="cost_tracking", name="Fran", evidence="FIN-1")
    s = state(plan, At(first, T1), At(ev.PostDeploymentDone(item="cost_tracking", name="Gus"), T2),
              At(ev.PostDeploymentDone(item="hardening", name="cockpit", auto=True), T3))
    assert s.post_deployment["cost_tracking"] == (T1, first)
    assert s.post_deployment["hardening"][0] == T3 and s.post_deployment["hardening"][1].auto
    assert set(s.post_deployment) == {"cost_tracking", "hardening"}


def test_an_empty_journal_has_no_incidents_outbox_controls_silences_or_ticks():
    from cockpit.core.state import fold
    s = fold([])
    assert (s.incidents, s.outbox, s.spend_controls, s.silences, s.post_deployment) == ({}, {}, {}, {}, {})


def test_new_kinds_are_appended_in_order_and_round_trip():
    kinds = [p.KIND for p in ev.PAYLOADS]
    assert kinds[-12:] == ["post_deployment_done", "incident_opened", "incident_escalated", "incident_acknowledged",
                           "incident_resolved", "notification_queued", "spend_control_ran", "silence_created", "silence_expired",
                           "round_late", "judgment_made", "spend_read"]
    assert len(set(kinds)) == len(kinds)
