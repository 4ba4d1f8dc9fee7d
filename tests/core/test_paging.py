"""Paging on an explicit `now` (pure): a fired trigger pages its level; unacknowledged it climbs
exactly at its level's ack timeout, not a second before; an acknowledgement stops it and is told
to every channel paged; KILL NOT CONFIRMED pages Emergency at once; a verified rollback or a
cleared breach resolves; the rollback channel hears every rollback once (again when it got better)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from cockpit.core import events as ev
from cockpit.core import paging
from cockpit.core.paging import LevelPolicy, Policy, round_events
from tests.conftest import T0
from tests.core.journal import At, at_phase, state

SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
REL = "IntelGraph Platform v0.1.0"
FIRE_AT = T0 + timedelta(minutes=10)

LEVELS = (
    LevelPolicy("L1", ("#sre-oncall", "pagerduty_sre"), 600.0),
    LevelPolicy("L2", ("#security-incidents",), 600.0),
    LevelPolicy("L3", ("#intelgraph-release",), 900.0),
    LevelPolicy("Emergency", ("#error-budget",)),
)
POLICY = Policy(LEVELS, release=REL, rollback_channel="#error-budget")


def fired(trigger="error_rate", level="L1", detail="0.9 > 0.5 for 5m"):
    return ev.TriggerFired(trigger=trigger, action="page", level=level, value=0.9, threshold=0.5, window_s=300, detail=detail)


class Log:
    """A journal in memory: the live rollout, then (time, payload) pairs; each round's events are applied."""

    def __init__(self, plan, *later, start=True):
        self.plan = plan
        self.items = [At(p, ts) for ts, p in later]
        self.start = start

    def add(self, ts, *payloads):
        self.items += [At(p, ts) for p in payloads]
        return self

    @property
    def state(self):
        return state(self.plan, *(at_phase(self.plan) if self.start else ()), *self.items)

    def round(self, now, policy=POLICY):
        out = round_events(self.state, policy, now)
        self.add(now, *out)
        return out


def kinds(out):
    return [(type(p).__name__, getattr(p, "level", ""), getattr(p, "channel", ""), getattr(p, "purpose", "")) for p in out]


def paged(plan, policy=POLICY, **kw):
    log = Log(plan).add(FIRE_AT, ev.TriggerBreached(trigger="error_rate", value=0.9, threshold=0.5), fired(**kw))
    return log, log.round(FIRE_AT, policy)


# --- opening --------------------------------------------------------------------------------------


def test_a_fired_trigger_opens_an_incident_and_pages_every_destination_of_its_level_once(plan):
    log, out = paged(plan)
    assert kinds(out) == [
        ("IncidentOpened", "L1", "", ""),
        ("NotificationQueued", "L1", "#sre-oncall", "page"),
        ("NotificationQueued", "L1", "pagerduty_sre", "page"),
    ]
    reason = "trigger error_rate fired: 0.9 > 0.5 for 5m"
    assert out[0] == ev.IncidentOpened(incident="INC-1", level="L1", reason=reason, trigger="error_rate")
    assert {p.text for p in out[1:]} == {f"{REL}: L1 paged (INC-1): {reason}"}
    assert {p.incident for p in out[1:]} == {"INC-1"}
    inc = log.state.incidents["INC-1"]
    assert (inc.level, inc.levels, inc.trigger, inc.opened_at, inc.paged_at) == ("L1", ["L1"], "error_rate", FIRE_AT, FIRE_AT)
    assert inc.channels == {"#sre-oncall": {"page"}, "pagerduty_sre": {"page"}}
    assert log.round(FIRE_AT + SEC) == []  # once, not once per round
    assert paging.open_incidents(log.state) == [inc]


def test_no_levels_no_paging(plan):
    _, out = paged(plan, Policy(()))
    assert out == []


def test_a_level_the_policy_does_not_know_pages_the_first_level(plan):
    _, out = paged(plan, level="P9")
    assert kinds(out)[0] == ("IncidentOpened", "L1", "", "")


def test_a_level_with_no_destinations_is_journaled_but_sends_nothing(plan):
    policy = Policy((LevelPolicy("L1", ()), LevelPolicy("Emergency", ("#e",))))
    _, out = paged(plan, policy)
    assert kinds(out) == [("IncidentOpened", "L1", "", "")]


def test_a_release_less_policy_says_the_message_without_a_leading_colon(plan):
    _, out = paged(plan, Policy(LEVELS))
    assert out[1].text == "L1 paged (INC-1): trigger error_rate fired: 0.9 > 0.5 for 5m"


def test_each_firing_opens_its_own_incident_numbered_in_order(plan):
    log = Log(plan).add(FIRE_AT, fired("error_rate"), fired("security_violation", level="L2"))
    out = log.round(FIRE_AT)
    opened = [p for p in out if isinstance(p, ev.IncidentOpened)]
    assert [(p.incident, p.trigger, p.level) for p in opened] == [("INC-1", "error_rate", "L1"), ("INC-2", "security_violation", "L2")]
    assert [p.incident for p in out if isinstance(p, ev.NotificationQueued)] == ["INC-1", "INC-1", "INC-2"]
    # cleared and fired again later: a new incident, numbered after the ones journaled
    log.add(FIRE_AT + MIN, ev.TriggerCleared(trigger="error_rate"))
    log.add(FIRE_AT + 2 * MIN, fired("error_rate"))
    again = log.round(FIRE_AT + 2 * MIN)
    assert [(p.incident, p.trigger) for p in again if isinstance(p, ev.IncidentOpened)] == [("INC-3", "error_rate")]


def test_a_trigger_fired_before_its_incident_was_opened_is_not_paged_twice_but_a_later_firing_is(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT + MIN, fired())  # fired again (a new window) while the incident is open
    assert [p.incident for p in log.round(FIRE_AT + MIN) if isinstance(p, ev.IncidentOpened)] == ["INC-2"]
    log2, _ = paged(plan)
    log2.add(FIRE_AT, fired())  # the same instant as the incident: already paged
    assert log2.round(FIRE_AT + SEC) == []


# --- climbing -------------------------------------------------------------------------------------


def test_an_unacknowledged_page_climbs_exactly_at_its_ack_timeout_and_not_a_second_before(plan):
    log, _ = paged(plan)
    assert log.round(FIRE_AT + 10 * MIN - SEC) == []
    out = log.round(FIRE_AT + 10 * MIN)
    assert kinds(out) == [("IncidentEscalated", "L2", "", ""), ("NotificationQueued", "L2", "#security-incidents", "page")]
    reason = "L1 did not acknowledge within 10m: trigger error_rate fired: 0.9 > 0.5 for 5m"
    assert out[0] == ev.IncidentEscalated(incident="INC-1", level="L2", reason=reason)
    assert out[1].text == f"{REL}: L2 paged (INC-1): {reason}" and out[1].incident == "INC-1"
    inc = log.state.incidents["INC-1"]
    assert (inc.level, inc.levels, inc.paged_at, inc.opened_at) == ("L2", ["L1", "L2"], FIRE_AT + 10 * MIN, FIRE_AT)
    # L2's timer runs from when L2 was paged, not from the opening
    assert log.round(FIRE_AT + 20 * MIN - SEC) == []
    assert kinds(log.round(FIRE_AT + 20 * MIN))[0] == ("IncidentEscalated", "L3", "", "")
    assert log.round(FIRE_AT + 35 * MIN - SEC) == []
    top = log.round(FIRE_AT + 35 * MIN)
    assert kinds(top) == [("IncidentEscalated", "Emergency", "", ""), ("NotificationQueued", "Emergency", "#error-budget", "page")]
    assert top[0].reason.startswith("L3 did not acknowledge within 15m: ")
    assert log.round(FIRE_AT + timedelta(days=1)) == []  # Emergency has no timeout: it stays
    assert log.state.incidents["INC-1"].levels == ["L1", "L2", "L3", "Emergency"]


def test_the_last_level_never_climbs_even_with_a_timeout(plan):
    policy = Policy((LevelPolicy("L1", ("#a",), 60.0), LevelPolicy("Emergency", ("#e",), 60.0)))
    log, _ = paged(plan, policy)
    assert kinds(log.round(FIRE_AT + MIN, policy))[0] == ("IncidentEscalated", "Emergency", "", "")
    assert log.round(FIRE_AT + timedelta(hours=1), policy) == []


def test_a_level_without_a_timeout_or_unknown_to_the_policy_does_not_climb(plan):
    still = Policy((LevelPolicy("L1", ("#a",)), LevelPolicy("Emergency", ("#e",), 60.0)))
    log, _ = paged(plan, still)
    assert log.round(FIRE_AT + timedelta(days=1), still) == []
    # an incident journaled at a level a later policy no longer has
    other = Policy((LevelPolicy("P1", ("#a",), 1.0), LevelPolicy("Emergency", ("#e",), 1.0)))
    assert log.round(FIRE_AT + timedelta(days=2), other) == []


@pytest.mark.parametrize("seconds, text", [(600, "10m"), (90, "1m30s"), (45, "45s"), (3600, "1h"), (5400, "1h30m"),
                                           (3661, "1h1m1s"), (0, "0s"), (59.9, "59s")])
def test_timeouts_are_said_in_hours_minutes_seconds(seconds, text):
    assert paging._seconds(seconds) == text


# --- acknowledging --------------------------------------------------------------------------------


def test_an_acknowledgement_stops_the_climb_and_is_told_to_every_channel_paged_once(plan):
    log, _ = paged(plan)
    log.round(FIRE_AT + 10 * MIN)  # now L1 and L2 were paged
    log.add(FIRE_AT + 11 * MIN, ev.IncidentAcknowledged(incident="INC-1", name="bob", via="pagerduty"))
    told = log.round(FIRE_AT + 11 * MIN)
    assert kinds(told) == [
        ("NotificationQueued", "L2", "#security-incidents", "acknowledge"),
        ("NotificationQueued", "L2", "#sre-oncall", "acknowledge"),
        ("NotificationQueued", "L2", "pagerduty_sre", "acknowledge"),
    ]
    assert {p.text for p in told} == {f"{REL}: INC-1 acknowledged by bob (pagerduty)"}
    assert {p.incident for p in told} == {"INC-1"}
    assert log.round(FIRE_AT + timedelta(hours=5)) == []  # no more climbing, told once
    inc = log.state.incidents["INC-1"]
    assert (inc.level, inc.acked_by, inc.acked_via, inc.acked_at) == ("L2", "bob", "pagerduty", FIRE_AT + 11 * MIN)


def test_an_acknowledgement_a_second_before_the_timeout_means_no_climb(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT + 10 * MIN - SEC, ev.IncidentAcknowledged(incident="INC-1", name="ann"))
    assert [p.purpose for p in log.round(FIRE_AT + 10 * MIN)] == ["acknowledge", "acknowledge"]
    assert log.state.incidents["INC-1"].levels == ["L1"]


def test_acknowledged_incidents_only_tell_channels_that_were_paged(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT, ev.NotificationQueued(channel="#other", purpose="message", text="x", incident="INC-1"))
    log.add(FIRE_AT + MIN, ev.IncidentAcknowledged(incident="INC-1", name="ann", via="cli"))
    assert [p.channel for p in log.round(FIRE_AT + MIN)] == ["#sre-oncall", "pagerduty_sre"]


# --- KILL NOT CONFIRMED ---------------------------------------------------------------------------


def unconfirmed(log, at, trigger="error_rate", error="gateway timeout"):
    return log.add(at, ev.KillRequested(reason="p95 breach", trigger=trigger), ev.KillResult(confirmed=False, error=error))


def test_kill_not_confirmed_climbs_the_triggers_incident_to_emergency_at_once(plan):
    log, _ = paged(plan)
    unconfirmed(log, FIRE_AT + MIN)
    out = log.round(FIRE_AT + MIN)
    assert kinds(out)[:2] == [("IncidentEscalated", "Emergency", "", ""), ("NotificationQueued", "Emergency", "#error-budget", "page")]
    assert out[0] == ev.IncidentEscalated(incident="INC-1", level="Emergency", reason="KILL NOT CONFIRMED: gateway timeout")
    assert out[1].text == f"{REL}: Emergency paged (INC-1): KILL NOT CONFIRMED: gateway timeout"
    assert not [p for p in out if isinstance(p, ev.IncidentEscalated) and p.level != "Emergency"]  # no L2 on top
    assert [p for p in log.round(FIRE_AT + 2 * MIN) if isinstance(p, (ev.IncidentEscalated, ev.IncidentOpened))] == []


def test_kill_not_confirmed_in_the_round_its_trigger_fired_climbs_the_incident_just_opened(plan):
    log = Log(plan).add(FIRE_AT, fired())
    unconfirmed(log, FIRE_AT)
    out = log.round(FIRE_AT)
    assert [(type(p).__name__, p.incident, p.level) for p in out if not isinstance(p, ev.NotificationQueued)] == [
        ("IncidentOpened", "INC-1", "L1"), ("IncidentEscalated", "INC-1", "Emergency")]
    assert log.state.incidents["INC-1"].levels == ["L1", "Emergency"]
    assert not [p for p in log.round(FIRE_AT + timedelta(hours=1)) if isinstance(p, ev.IncidentEscalated)]


def test_an_operators_kill_not_confirmed_opens_an_emergency_incident(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, trigger="", error="")
    out = log.round(FIRE_AT)
    assert out[0] == ev.IncidentOpened(incident="INC-1", level="Emergency", reason="KILL NOT CONFIRMED", trigger="")
    assert kinds(out)[1] == ("NotificationQueued", "Emergency", "#error-budget", "page")
    assert [p for p in log.round(FIRE_AT + MIN) if isinstance(p, ev.IncidentOpened)] == []


def test_a_trigger_kill_whose_incident_is_gone_opens_a_new_emergency_incident(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT + MIN, ev.IncidentResolved(incident="INC-1", reason="by hand"))
    unconfirmed(log, FIRE_AT + 2 * MIN)
    out = log.round(FIRE_AT + 2 * MIN)
    assert out[0] == ev.IncidentOpened(incident="INC-2", level="Emergency", reason="KILL NOT CONFIRMED: gateway timeout", trigger="")


def test_kill_not_confirmed_picks_the_incident_of_its_own_trigger(plan):
    log = Log(plan).add(FIRE_AT, fired("security_violation", level="L2"), fired("error_rate"))
    log.round(FIRE_AT)
    # opened in trigger order: INC-1 error_rate, INC-2 security_violation
    unconfirmed(log, FIRE_AT + MIN, trigger="security_violation")
    out = log.round(FIRE_AT + MIN)
    assert [(p.incident, p.level) for p in out if isinstance(p, ev.IncidentEscalated)] == [("INC-2", "Emergency")]


def test_no_emergency_page_while_the_kill_is_in_flight_or_confirmed(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT + MIN, ev.KillRequested(reason="r", trigger="error_rate"))
    assert log.round(FIRE_AT + MIN) == []
    log.add(FIRE_AT + 2 * MIN, ev.KillResult(confirmed=True))
    assert not [p for p in log.round(FIRE_AT + 2 * MIN) if isinstance(p, (ev.IncidentEscalated, ev.IncidentOpened))]


def test_a_kill_result_without_a_request_is_kill_not_confirmed_too(plan):
    log = Log(plan).add(FIRE_AT, ev.KillResult(confirmed=False, error="no answer"))
    out = log.round(FIRE_AT)
    assert out[0] == ev.IncidentOpened(incident="INC-1", level="Emergency", reason="KILL NOT CONFIRMED: no answer", trigger="")


# --- resolving ------------------------------------------------------------------------------------


def test_a_cleared_breach_resolves_and_tells_every_channel_paged_once(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT + 3 * MIN, ev.TriggerCleared(trigger="error_rate"))
    out = log.round(FIRE_AT + 3 * MIN)
    assert out[0] == ev.IncidentResolved(incident="INC-1", reason="the breach of error_rate cleared")
    assert kinds(out[1:]) == [("NotificationQueued", "L1", "#sre-oncall", "resolve"), ("NotificationQueued", "L1", "pagerduty_sre", "resolve")]
    assert {p.text for p in out[1:]} == {f"{REL}: INC-1 resolved: the breach of error_rate cleared"}
    assert {p.incident for p in out[1:]} == {"INC-1"}
    inc = log.state.incidents["INC-1"]
    assert (inc.open, inc.resolved_at, inc.resolution) == (False, FIRE_AT + 3 * MIN, "the breach of error_rate cleared")
    assert log.round(FIRE_AT + timedelta(hours=1)) == []  # resolved: it neither climbs nor resolves again


def test_a_breach_still_breaching_does_not_resolve(plan):
    log, _ = paged(plan)
    assert log.round(FIRE_AT + 5 * MIN) == []


def test_a_cleared_breach_resolves_only_while_live(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT + MIN, ev.KillRequested(reason="r", trigger="error_rate"), ev.TriggerCleared(trigger="error_rate"))
    assert not [p for p in log.round(FIRE_AT + MIN) if isinstance(p, ev.IncidentResolved)]  # killing


def test_an_incident_without_a_trigger_does_not_resolve_on_its_own(plan):
    log = Log(plan).add(FIRE_AT, ev.IncidentOpened(incident="INC-1", level="L1", reason="by hand"))
    assert log.round(FIRE_AT + MIN) == []


def rolled_back(log, at, trigger="error_rate"):
    return log.add(at, ev.KillRequested(reason="p95 breach", trigger=trigger), ev.KillResult(confirmed=True))


def resolutions(out):
    return [(p.incident, p.reason) for p in out if isinstance(p, ev.IncidentResolved)]


def test_a_confirmed_rollback_resolves_when_no_traffic_check_is_expected(plan):
    log, _ = paged(plan)
    rolled_back(log, FIRE_AT + MIN)
    out = log.round(FIRE_AT + MIN)
    assert resolutions(out) == [("INC-1", "rolled back: the gateway confirmed 0 %")]
    assert [p.channel for p in out if getattr(p, "purpose", "") == "resolve"] == ["#sre-oncall", "pagerduty_sre"]


def test_with_a_traffic_check_expected_only_a_verified_rollback_resolves(plan):
    policy = Policy(LEVELS, release=REL, verify_expected=True)
    log, _ = paged(plan, policy)
    rolled_back(log, FIRE_AT + MIN)
    assert resolutions(log.round(FIRE_AT + MIN, policy)) == []
    log.add(FIRE_AT + 2 * MIN, ev.RollbackVerified(ok=False, detail="canary still 3 req/s"))
    assert resolutions(log.round(FIRE_AT + 2 * MIN, policy)) == []
    log.add(FIRE_AT + 3 * MIN, ev.RollbackVerified(ok=True, detail="canary 0 req/s"))
    assert resolutions(log.round(FIRE_AT + 3 * MIN, policy)) == [("INC-1", "rolled back and verified: canary 0 req/s")]


def test_a_kill_not_confirmed_does_not_resolve(plan):
    log, _ = paged(plan)
    unconfirmed(log, FIRE_AT + MIN)
    log.add(FIRE_AT + MIN, ev.TriggerCleared(trigger="error_rate"))
    assert resolutions(log.round(FIRE_AT + MIN)) == []


def test_resolve_is_told_only_to_channels_paged_and_not_told_twice(plan):
    log, _ = paged(plan)
    log.add(FIRE_AT, ev.NotificationQueued(channel="#sre-oncall", purpose="resolve", text="x", incident="INC-1"),
            ev.NotificationQueued(channel="#other", purpose="acknowledge", text="x", incident="INC-1"))
    log.add(FIRE_AT + MIN, ev.TriggerCleared(trigger="error_rate"))
    out = log.round(FIRE_AT + MIN)
    assert [p.channel for p in out if isinstance(p, ev.NotificationQueued)] == ["pagerduty_sre"]


# --- the rollback channel -------------------------------------------------------------------------


def rollback_notices(out):
    return [p for p in out if isinstance(p, ev.NotificationQueued) and p.purpose == "rollback"]


def test_the_rollback_channel_hears_a_confirmed_rollback_once(plan):
    log, _ = paged(plan)
    rolled_back(log, FIRE_AT + MIN)
    st = log.state
    [notice] = rollback_notices(log.round(FIRE_AT + MIN))
    assert (notice.channel, notice.incident, notice.level) == ("#error-budget", "", "")
    assert notice.text == (f"{REL}: ROLLBACK by trigger error_rate (p95 breach): gateway confirmed canary at 0 % "
                           f"(no traffic check configured); journal head {st.last_hash}")
    assert rollback_notices(log.round(FIRE_AT + 2 * MIN)) == []


def test_an_unconfirmed_kill_is_told_then_told_again_when_it_is_confirmed(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, trigger="")
    [first] = rollback_notices(log.round(FIRE_AT))
    assert "ROLLBACK by operator alice@bastion (p95 breach): KILL NOT CONFIRMED: gateway timeout; journal head" in first.text
    assert rollback_notices(log.round(FIRE_AT + MIN)) == []  # still unconfirmed: not again
    log.add(FIRE_AT + 2 * MIN, ev.KillResult(confirmed=True))
    [better] = rollback_notices(log.round(FIRE_AT + 2 * MIN))
    assert "gateway confirmed canary at 0 %" in better.text
    assert rollback_notices(log.round(FIRE_AT + 3 * MIN)) == []


def test_a_second_unconfirmed_result_is_not_told_again(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, trigger="")
    log.round(FIRE_AT)
    log.add(FIRE_AT + MIN, ev.KillResult(confirmed=False, error="again"))
    assert rollback_notices(log.round(FIRE_AT + MIN)) == []


def test_a_confirmed_notice_queued_before_a_new_result_is_not_repeated(plan):
    log = Log(plan)
    rolled_back(log, FIRE_AT, trigger="")
    log.round(FIRE_AT)
    log.add(FIRE_AT + MIN, ev.KillResult(confirmed=True))  # a re-assert, confirmed again
    assert rollback_notices(log.round(FIRE_AT + MIN)) == []


def test_an_unconfirmed_notice_upgraded_only_by_a_later_result(plan):
    # the notice was queued at the same instant as the confirmed result: it already said the result
    log = Log(plan).add(FIRE_AT, ev.KillRequested(reason="r"), ev.KillResult(confirmed=True))
    log.add(FIRE_AT, ev.NotificationQueued(channel="#error-budget", purpose="rollback", text="KILL NOT CONFIRMED: old"))
    assert rollback_notices(log.round(FIRE_AT + MIN)) == []


def test_a_notice_from_an_earlier_kill_does_not_silence_this_one(plan):
    log = Log(plan).add(FIRE_AT - MIN, ev.NotificationQueued(channel="#error-budget", purpose="rollback", text="old"))
    rolled_back(log, FIRE_AT, trigger="")
    assert len(rollback_notices(log.round(FIRE_AT))) == 1


def test_no_rollback_notice_without_a_channel_a_kill_or_a_result(plan):
    log = Log(plan)
    rolled_back(log, FIRE_AT, trigger="")
    assert rollback_notices(round_events(log.state, Policy(LEVELS, release=REL), FIRE_AT)) == []
    requested = Log(plan).add(FIRE_AT, ev.KillRequested(reason="r"))
    assert rollback_notices(requested.round(FIRE_AT)) == []
    assert rollback_notices(Log(plan).round(FIRE_AT)) == []


def test_with_a_traffic_check_expected_the_notice_waits_for_the_verdict(plan):
    policy = Policy(LEVELS, release=REL, rollback_channel="#error-budget", verify_expected=True)
    log = Log(plan)
    rolled_back(log, FIRE_AT)
    assert rollback_notices(log.round(FIRE_AT, policy)) == []
    log.add(FIRE_AT + MIN, ev.RollbackVerified(ok=True, detail="canary 0 req/s"))
    [n] = rollback_notices(log.round(FIRE_AT + MIN, policy))
    assert "): VERIFIED: gateway confirmed 0 %, canary 0 req/s; journal head " in n.text


@pytest.mark.parametrize("verified, verdict", [
    (None, "gateway confirmed canary at 0 % (no traffic check configured)"),
    (ev.RollbackVerified(ok=True, detail="0 req/s"), "VERIFIED: gateway confirmed 0 %, 0 req/s"),
    (ev.RollbackVerified(ok=False, detail="3 req/s"), "rollback NOT VERIFIED: 3 req/s"),
])
def test_rollback_text_says_the_verdict(plan, verified, verdict):
    log = Log(plan)
    rolled_back(log, FIRE_AT)
    if verified:
        log.add(FIRE_AT, verified)
    st = log.state
    assert paging.rollback_text(st, POLICY) == f"{REL}: ROLLBACK by trigger error_rate (p95 breach): {verdict}; journal head {st.last_hash}"


def test_rollback_text_without_a_release_and_without_a_result(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, error="timeout")
    st = log.state
    assert paging.rollback_text(st, Policy(LEVELS)) == f"ROLLBACK by trigger error_rate (p95 breach): KILL NOT CONFIRMED: timeout; journal head {st.last_hash}"
    assert paging.rollback_text(Log(plan).add(FIRE_AT, ev.KillRequested(reason="r")).state, POLICY) is None
    assert paging.rollback_text(Log(plan).state, POLICY) is None
    # verify expected, not confirmed: said at once (nothing to wait for)
    assert "KILL NOT CONFIRMED" in paging.rollback_text(st, Policy(LEVELS, verify_expected=True))


# --- policy, ids, deliveries, spend controls ------------------------------------------------------


def test_policy_levels_in_climbing_order():
    assert POLICY.level("L2") is LEVELS[1] and POLICY.level("P9") is None
    assert POLICY.after("L1") is LEVELS[1] and POLICY.after("L3") is LEVELS[3]
    assert POLICY.after("Emergency") is None and POLICY.after("P9") is None
    assert POLICY.emergency is LEVELS[3]


@pytest.mark.parametrize("release, key", [
    ("IntelGraph Platform v0.1.0", "cockpit-intelgraph-platform-v0.1.0-INC-1"),
    ("", "cockpit-INC-1"),
    ("  !! ", "cockpit-INC-1"),
    ("A_b/c", "cockpit-a-b-c-INC-1"),
    ("-x-", "cockpit-x-INC-1"),
])
def test_dedup_key_is_stable_and_slugged(release, key):
    assert paging.dedup_key(release, paging.incident_id(1)) == key


def test_pending_deliveries_oldest_first(plan):
    q = lambda c: ev.NotificationQueued(channel=c, purpose="page", text="t", incident="INC-1")  # noqa: E731
    log = Log(plan).add(FIRE_AT, q("#a"), q("#b"), q("#c"), q("#d"))
    st = log.state
    seqs = sorted(st.outbox)
    log.add(FIRE_AT + MIN, ev.Notified(channel="#b", text="t", delivered=True, queued=seqs[1]),
            ev.Notified(channel="#c", text="t", delivered=False, error="HTTP 500", queued=seqs[2]),
            ev.Notified(channel="#z", text="t", delivered=False, error="direct"))  # an older, direct notice
    st = log.state
    assert [(s, q.channel) for s, q in paging.pending_deliveries(st)] == [(seqs[0], "#a"), (seqs[3], "#d")]
    assert st.outbox[seqs[2]].result.error == "HTTP 500"  # failed: not pending
    assert st.outbox[seqs[1]].result.delivered and st.outbox[seqs[0]].result is None


def test_budget_month_and_spend_controls_run_once_per_crossing_per_month(plan):
    from datetime import datetime
    assert paging.budget_month(datetime(2026, 3, 9, tzinfo=UTC)) == "2026-03"
    assert paging.budget_month(datetime(987, 11, 1, tzinfo=UTC)) == "0987-11"
    alert = lambda pct, month: ev.BudgetAlerted(at_pct=pct, spent=1, budget=2, channel="#c", action="a", month=month)  # noqa: E731
    log = Log(plan).add(FIRE_AT, alert(80.0, "2026-11"), alert(50.0, "2026-11"), alert(100.0, "2026-11"), alert(90.0, "2026-10"))
    st = log.state
    assert paging.spend_controls_due(st, {50.0, 80.0, 90.0, 100.0}, "2026-11") == [50.0, 80.0, 100.0]
    assert paging.spend_controls_due(st, {80.0}, "2026-11") == [80.0]
    log.add(FIRE_AT, ev.SpendControlRan(at_pct=80.0, month="2026-11", action="argv: x", ok=False),
            ev.SpendControlRan(at_pct=50.0, month="2026-10", action="argv: x", ok=True))
    assert paging.spend_controls_due(log.state, {50.0, 80.0, 100.0}, "2026-11") == [50.0, 100.0]
    assert paging.spend_controls_due(log.state, {90.0}, "2026-10") == [90.0]


# --- every incident of a round is looked at, not only the first --------------------------------------


def test_a_breaching_trigger_that_has_not_fired_does_not_stop_the_others_from_paging(plan):
    log = Log(plan).add(FIRE_AT, ev.TriggerBreached(trigger="api_p95_regression", value=400, threshold=350), fired("error_rate"))
    assert [p.trigger for p in log.round(FIRE_AT) if isinstance(p, ev.IncidentOpened)] == ["error_rate"]


def test_a_trigger_already_paged_does_not_stop_a_new_firing_after_it(plan):
    log, _ = paged(plan)  # error_rate: INC-1
    log.add(FIRE_AT + MIN, fired("security_violation", level="L2"))
    assert [(p.incident, p.trigger) for p in log.round(FIRE_AT + MIN) if isinstance(p, ev.IncidentOpened)] == [("INC-2", "security_violation")]


def test_each_unacknowledged_incident_climbs_on_its_own_timer(plan):
    log = Log(plan).add(FIRE_AT, fired("error_rate"), fired("security_violation", level="L2"))
    log.round(FIRE_AT)
    log.add(FIRE_AT + MIN, ev.IncidentAcknowledged(incident="INC-1", name="ann"))
    out = log.round(FIRE_AT + 10 * MIN)
    assert [(p.incident, p.level) for p in out if isinstance(p, ev.IncidentEscalated)] == [("INC-2", "L3")]
    # an incident at a level that never climbs comes first: the next one still climbs
    still = Policy((LevelPolicy("L1", ("#a",)), LevelPolicy("L2", ("#b",), 60.0), LevelPolicy("L3", ("#c",)),
                    LevelPolicy("Emergency", ("#e",))))
    log2 = Log(plan).add(FIRE_AT, fired("error_rate"), fired("security_violation", level="L2"))
    log2.round(FIRE_AT, still)
    assert [(p.incident, p.level) for p in log2.round(FIRE_AT + MIN, still) if isinstance(p, ev.IncidentEscalated)] == [("INC-2", "L3")]


def test_an_acknowledgement_is_told_for_each_acknowledged_incident(plan):
    log = Log(plan).add(FIRE_AT, fired("error_rate"), fired("security_violation", level="L2"))
    log.round(FIRE_AT)
    log.add(FIRE_AT + MIN, ev.IncidentAcknowledged(incident="INC-2", name="ann"))
    assert [(p.incident, p.channel) for p in log.round(FIRE_AT + MIN)] == [("INC-2", "#security-incidents")]


def test_an_incident_that_cannot_resolve_does_not_keep_the_next_one_open(plan):
    log = Log(plan).add(FIRE_AT, fired("error_rate"), fired("security_violation", level="L2"))
    log.round(FIRE_AT)
    log.add(FIRE_AT + MIN, ev.TriggerCleared(trigger="security_violation"))
    assert resolutions(log.round(FIRE_AT + MIN)) == [("INC-2", "the breach of security_violation cleared")]


def test_a_trigger_that_fires_at_emergency_with_an_unconfirmed_kill_pages_emergency_once(plan):
    log = Log(plan).add(FIRE_AT, fired("error_rate", level="Emergency"))
    unconfirmed(log, FIRE_AT)
    out = log.round(FIRE_AT)
    assert [(type(p).__name__, p.level) for p in out if not isinstance(p, ev.NotificationQueued)] == [("IncidentOpened", "Emergency")]
    assert [p.channel for p in out if getattr(p, "purpose", "") == "page"] == ["#error-budget"]


def test_the_gateways_error_is_said_whole(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, trigger="", error="502 from LB-X: ")
    assert log.round(FIRE_AT)[0].reason == "KILL NOT CONFIRMED: 502 from LB-X"


@pytest.mark.parametrize("release, prefix", [("", ""), ("Xenon 2.0", "Xenon 2.0: ")])
def test_every_message_starts_with_the_release_or_with_nothing(plan, release, prefix):
    policy = Policy(LEVELS, release=release, rollback_channel="#error-budget")
    log, out = paged(plan, policy)
    assert out[1].text == f"{prefix}L1 paged (INC-1): trigger error_rate fired: 0.9 > 0.5 for 5m"
    climbed = log.round(FIRE_AT + 10 * MIN, policy)
    assert climbed[1].text.startswith(f"{prefix}L2 paged (INC-1): L1 did not acknowledge")
    log.add(FIRE_AT + 11 * MIN, ev.IncidentAcknowledged(incident="INC-1", name="bob", via="screen"))
    told = log.round(FIRE_AT + 11 * MIN, policy)
    assert {p.text for p in told} == {f"{prefix}INC-1 acknowledged by bob (screen)"}
    log.add(FIRE_AT + 12 * MIN, ev.TriggerCleared(trigger="error_rate"))
    resolved = [p for p in log.round(FIRE_AT + 12 * MIN, policy) if isinstance(p, ev.NotificationQueued)]
    assert {p.text for p in resolved} == {f"{prefix}INC-1 resolved: the breach of error_rate cleared"}
    rolled_back(log, FIRE_AT + 13 * MIN)
    st = log.state
    assert paging.rollback_text(st, policy) == (f"{prefix}ROLLBACK by trigger error_rate (p95 breach): gateway confirmed canary at 0 % "
                                                f"(no traffic check configured); journal head {st.last_hash}")


def test_kill_not_confirmed_pages_emergency_even_when_another_incident_is_already_there(plan):
    # security_violation climbed to Emergency unacknowledged; then error_rate pulls the kill and it fails:
    # Emergency was paged about something else, not about the kill. It must hear KILL NOT CONFIRMED.
    log = Log(plan).add(FIRE_AT, fired("security_violation", level="L3"))
    log.round(FIRE_AT)
    log.round(FIRE_AT + 15 * MIN)  # INC-1 at Emergency
    log.add(FIRE_AT + 16 * MIN, fired("error_rate"))
    log.round(FIRE_AT + 16 * MIN)  # INC-2 at L1
    unconfirmed(log, FIRE_AT + 17 * MIN)
    out = log.round(FIRE_AT + 17 * MIN)
    assert [(p.incident, p.level, p.reason) for p in out if isinstance(p, ev.IncidentEscalated)] == [
        ("INC-2", "Emergency", "KILL NOT CONFIRMED: gateway timeout")]
    assert not [p for p in log.round(FIRE_AT + 18 * MIN) if isinstance(p, (ev.IncidentEscalated, ev.IncidentOpened))]  # once


def test_kill_not_confirmed_repages_an_incident_that_climbed_to_emergency_before_the_kill_failed(plan):
    log, _ = paged(plan)
    for m in (10, 20, 35):
        log.round(FIRE_AT + m * MIN)  # INC-1 climbed to Emergency, nobody acknowledged
    unconfirmed(log, FIRE_AT + 40 * MIN)
    out = log.round(FIRE_AT + 40 * MIN)
    assert [(p.incident, p.level, p.reason) for p in out if isinstance(p, ev.IncidentEscalated)] == [
        ("INC-1", "Emergency", "KILL NOT CONFIRMED: gateway timeout")]
    assert [p.channel for p in out if getattr(p, "purpose", "") == "page"] == ["#error-budget"]
    assert not [p for p in log.round(FIRE_AT + 41 * MIN) if isinstance(p, ev.IncidentEscalated)]  # once


# --- one incident per kill, however often it is pulled again (issue 6) -----------------------------

REPULL = ev.KillRequested(reason="guard re-pulls the unconfirmed kill: p95 breach")


def incidents_paged(out):
    return [(type(p).__name__, p.incident, p.level) for p in out if isinstance(p, (ev.IncidentOpened, ev.IncidentEscalated))]


@pytest.mark.parametrize("trigger, first", [("", ("IncidentOpened", "INC-1", "Emergency")),
                                            ("error_rate", ("IncidentEscalated", "INC-1", "Emergency"))])
def test_re_pulls_of_an_unconfirmed_kill_page_one_incident_and_tell_the_rollback_channel_once(plan, trigger, first):
    log = paged(plan)[0] if trigger else Log(plan)
    unconfirmed(log, FIRE_AT + MIN, trigger=trigger)
    out = log.round(FIRE_AT + MIN)
    assert incidents_paged(out) == [first] and len(rollback_notices(out)) == 1
    for i in range(2, 6):  # the guard pulls it again, and again the gateway does not answer
        at = FIRE_AT + i * MIN
        log.add(at, ev.KillRequested(reason=REPULL.reason, trigger=trigger))
        assert log.round(at) == []  # re-pulling: nothing new to say
        log.add(at, ev.KillResult(confirmed=False, error="gateway timeout"))
        out = log.round(at)
        assert incidents_paged(out) == [] and rollback_notices(out) == []
        assert [p for p in out if isinstance(p, ev.NotificationQueued) and p.purpose == "page"] == []
    assert [i.id for i in log.state.incidents.values()] == ["INC-1"]
    assert log.state.kill.reason == "p95 breach" and log.state.kill.pulls == 5


def test_a_re_pull_confirmed_at_last_resolves_the_one_incident_and_upgrades_the_notice(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, trigger="")
    log.round(FIRE_AT)
    log.add(FIRE_AT + MIN, REPULL, ev.KillResult(confirmed=False, error="again"))
    log.round(FIRE_AT + MIN)
    log.add(FIRE_AT + 2 * MIN, REPULL, ev.KillResult(confirmed=True))
    out = log.round(FIRE_AT + 2 * MIN)
    assert resolutions(out) == [("INC-1", "rolled back: the gateway confirmed 0 %")]
    [notice] = rollback_notices(out)
    assert "ROLLBACK by operator alice@bastion (p95 breach): gateway confirmed canary at 0 %" in notice.text
    assert incidents_paged(out) == []


def test_a_new_failure_of_an_earlier_paged_emergency_is_still_told(plan):
    # Emergency was paged about something else before this kill failed: the failure is still said.
    log = Log(plan).add(FIRE_AT, ev.IncidentOpened(incident="INC-1", level="Emergency", reason="other", trigger="x"))
    unconfirmed(log, FIRE_AT + MIN, trigger="")
    assert incidents_paged(log.round(FIRE_AT + MIN)) == [("IncidentOpened", "INC-2", "Emergency")]
    log.add(FIRE_AT + 2 * MIN, REPULL, ev.KillResult(confirmed=False, error="x"))
    assert incidents_paged(log.round(FIRE_AT + 2 * MIN)) == []


def test_kill_incident_is_the_triggers_else_the_kills_own(plan):
    log = Log(plan).add(FIRE_AT - MIN, ev.IncidentOpened(incident="INC-1", level="L3", reason="before the kill", trigger=""))
    assert paging.kill_incident(log.state) is None  # no kill
    log.add(FIRE_AT, ev.IncidentOpened(incident="INC-2", level="L1", reason="r", trigger="error_rate"),
            ev.KillRequested(reason="r", trigger="error_rate"))
    assert paging.kill_incident(log.state).id == "INC-2"
    operator = Log(plan).add(FIRE_AT - MIN, ev.IncidentOpened(incident="INC-1", level="L3", reason="before", trigger=""),
                             ev.IncidentOpened(incident="INC-2", level="L1", reason="r", trigger="error_rate"))
    operator.add(FIRE_AT, ev.KillRequested(reason="r"))
    assert paging.kill_incident(operator.state) is None  # neither from before the kill nor a trigger's
    operator.add(FIRE_AT, ev.IncidentOpened(incident="INC-3", level="Emergency", reason="k", trigger=""))
    assert paging.kill_incident(operator.state).id == "INC-3"
    operator.add(FIRE_AT, ev.IncidentResolved(incident="INC-3", reason="done"))
    assert paging.kill_incident(operator.state) is None


# --- canary traffic that does not fall after a confirmed kill (issue 4) --------------------------------

CHECKED = Policy(LEVELS, release=REL, rollback_channel="#error-budget", verify_expected=True)
LEAK = ev.RollbackVerified(ok=False, detail="canary request rate still 9.97/s 2m after the kill")
FELL = ev.RollbackVerified(ok=True, detail="canary request rate 0/s at 30s after the gateway confirmed")


def test_canary_traffic_not_falling_after_an_operators_kill_pages_emergency_once(plan):
    log = Log(plan)
    rolled_back(log, FIRE_AT, trigger="")
    assert incidents_paged(log.round(FIRE_AT, CHECKED)) == []  # waiting for the verdict
    log.add(FIRE_AT + 2 * MIN, LEAK)
    out = log.round(FIRE_AT + 2 * MIN, CHECKED)
    assert out[0] == ev.IncidentOpened(incident="INC-1", level="Emergency", trigger="",
                                       reason="ROLLBACK NOT VERIFIED: canary request rate still 9.97/s 2m after the kill")
    assert kinds(out)[1] == ("NotificationQueued", "Emergency", "#error-budget", "page")
    [notice] = rollback_notices(out)
    assert "rollback NOT VERIFIED: canary request rate still 9.97/s" in notice.text
    assert resolutions(out) == []
    # still not falling, the kill re-asserted and confirmed again: the same leak, not paged again
    log.add(FIRE_AT + 5 * MIN, ev.KillRequested(reason="guard re-asserts the kill"), ev.KillResult(confirmed=True), LEAK)
    assert log.round(FIRE_AT + 5 * MIN, CHECKED) == []
    assert log.round(FIRE_AT + timedelta(hours=2), CHECKED) == []  # Emergency never climbs
    # traffic falls: the incident resolves, the rollback channel hears the better news once
    log.add(FIRE_AT + 6 * MIN, FELL)
    out = log.round(FIRE_AT + 6 * MIN, CHECKED)
    assert resolutions(out) == [("INC-1", f"rolled back and verified: {FELL.detail}")]
    [better] = rollback_notices(out)
    assert f"VERIFIED: gateway confirmed 0 %, {FELL.detail}" in better.text
    assert log.round(FIRE_AT + 7 * MIN, CHECKED) == []


def test_canary_traffic_not_falling_climbs_the_triggers_incident(plan):
    log, _ = paged(plan, CHECKED)
    rolled_back(log, FIRE_AT + MIN)
    log.add(FIRE_AT + 2 * MIN, LEAK)
    out = log.round(FIRE_AT + 2 * MIN, CHECKED)
    assert out[0] == ev.IncidentEscalated(incident="INC-1", level="Emergency", reason=f"ROLLBACK NOT VERIFIED: {LEAK.detail}")


def test_a_leak_after_a_kill_not_confirmed_repages_the_kills_own_incident(plan):
    log = Log(plan)
    unconfirmed(log, FIRE_AT, trigger="")
    log.round(FIRE_AT, CHECKED)  # INC-1 at Emergency: KILL NOT CONFIRMED
    log.add(FIRE_AT + MIN, REPULL, ev.KillResult(confirmed=True))
    assert incidents_paged(log.round(FIRE_AT + MIN, CHECKED)) == []
    log.add(FIRE_AT + 3 * MIN, LEAK)
    out = log.round(FIRE_AT + 3 * MIN, CHECKED)
    assert incidents_paged(out) == [("IncidentEscalated", "INC-1", "Emergency")]
    assert out[0].reason.startswith("ROLLBACK NOT VERIFIED")
    assert list(log.state.incidents) == ["INC-1"]


def test_a_leak_that_fell_and_rose_again_is_told_again(plan):
    log = Log(plan)
    rolled_back(log, FIRE_AT, trigger="")
    log.add(FIRE_AT + MIN, LEAK)
    log.round(FIRE_AT + MIN, CHECKED)
    log.add(FIRE_AT + 2 * MIN, FELL)
    log.round(FIRE_AT + 2 * MIN, CHECKED)
    log.add(FIRE_AT + 3 * MIN, LEAK)
    out = log.round(FIRE_AT + 3 * MIN, CHECKED)
    assert incidents_paged(out) == [("IncidentOpened", "INC-2", "Emergency")]


@pytest.mark.parametrize("payloads, expected", [
    ([], None),
    ([ev.KillRequested(reason="r")], None),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=True)], None),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=True), FELL], None),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=False, error="e")], (1, "KILL NOT CONFIRMED: e")),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=False)], (1, "KILL NOT CONFIRMED")),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=False, error="e"), REPULL], (1, "KILL NOT CONFIRMED: e")),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=True), LEAK], (2, f"ROLLBACK NOT VERIFIED: {LEAK.detail}")),
    ([ev.KillRequested(reason="r"), ev.KillResult(confirmed=True), ev.RollbackVerified(ok=False, detail="")],
     (2, "ROLLBACK NOT VERIFIED")),
    # a verdict journaled before any confirmed result says nothing yet (the kill is in flight)
    ([ev.KillRequested(reason="r"), ev.RollbackVerified(ok=False, detail="9/s")], None),
])
def test_kill_failure_says_since_when_and_why(plan, payloads, expected):
    log = Log(plan)
    for i, p in enumerate(payloads):
        log.add(FIRE_AT + i * MIN, p)
    got = paging.kill_failure(log.state)
    assert got == (None if expected is None else (FIRE_AT + expected[0] * MIN, expected[1]))


# --- a live rollout without its protection ---------------------------------------------------------

HOLD_AT = T0 + timedelta(minutes=3)


def holding(trigger="error_rate", detail="Error Rate: cannot see for 45s, holding: queries failing: connection refused"):
    return ev.TriggerBreached(trigger=trigger, value=None, threshold=0.02, detail=detail, no_data=True)


def test_a_guard_that_cannot_see_for_five_minutes_pages_the_first_level_once_and_resolves_when_it_sees(plan):
    log = Log(plan).add(HOLD_AT, holding()).add(HOLD_AT + MIN, holding("api_p95_regression", "Performance: ..."))
    assert log.round(HOLD_AT + 5 * MIN - SEC) == []  # not yet five minutes
    out = log.round(HOLD_AT + 5 * MIN)
    reason = ("the guard cannot see: error_rate, api_p95_regression holding for want of data since "
              f"{HOLD_AT:%H:%M:%S}Z: Error Rate: cannot see for 45s, holding: queries failing: connection refused")
    assert out[0] == ev.IncidentOpened(incident="INC-1", level="L1", reason=reason, trigger=paging.BLIND)
    assert kinds(out[1:]) == [("NotificationQueued", "L1", "#sre-oncall", "page"), ("NotificationQueued", "L1", "pagerduty_sre", "page")]
    assert log.round(HOLD_AT + 6 * MIN) == []  # one page per spell
    log.add(HOLD_AT + 7 * MIN, ev.TriggerCleared(trigger="error_rate"))
    assert log.round(HOLD_AT + 7 * MIN) == []  # one trigger still holds: the spell goes on
    log.add(HOLD_AT + 8 * MIN, ev.TriggerCleared(trigger="api_p95_regression"))
    out = log.round(HOLD_AT + 8 * MIN)
    assert out[0] == ev.IncidentResolved(incident="INC-1", reason="every trigger sees again")
    assert [(p.channel, p.purpose) for p in out[1:]] == [("#sre-oncall", "resolve"), ("pagerduty_sre", "resolve")]
    assert log.round(HOLD_AT + 9 * MIN) == []


def test_a_new_hold_keeps_the_spell_open_though_younger_than_five_minutes(plan):
    log = Log(plan).add(HOLD_AT, holding())
    assert [type(p).__name__ for p in log.round(HOLD_AT + 5 * MIN)][0] == "IncidentOpened"
    log.add(HOLD_AT + 6 * MIN, ev.TriggerCleared(trigger="error_rate"), holding("path_p95", "Path Queries: ..."))
    assert log.round(HOLD_AT + 6 * MIN) == []  # path_p95 holds for 0 s: still blind, not resolved
    # and a spell of its own pages again once the first has ended
    log.add(HOLD_AT + 7 * MIN, ev.TriggerCleared(trigger="path_p95"))
    assert [type(p).__name__ for p in log.round(HOLD_AT + 7 * MIN)][0] == "IncidentResolved"
    log.add(HOLD_AT + 8 * MIN, holding())
    assert log.round(HOLD_AT + 12 * MIN) == []
    out = log.round(HOLD_AT + 13 * MIN)
    assert out[0].incident == "INC-2" and out[0].trigger == paging.BLIND


def test_the_wait_before_a_blind_page_is_the_policys(plan):
    log = Log(plan).add(HOLD_AT, holding())
    quick = Policy(LEVELS, release=REL, blind_page_s=60.0)
    assert log.round(HOLD_AT + 59 * SEC, quick) == []
    assert log.round(HOLD_AT + 60 * SEC, quick)[0].trigger == paging.BLIND


def test_a_measured_breach_is_not_blindness(plan):
    log = Log(plan).add(HOLD_AT, ev.TriggerBreached(trigger="error_rate", value=0.9, threshold=0.02))
    assert log.round(HOLD_AT + 30 * MIN) == []


def drift(agrees=False, share=0):
    return ev.GatewayReconciled(journal_weight=5, observed_weight=share, observed_enabled=True, agrees=agrees,
                                detail="" if agrees else f"the gateway gives the canary {share} %, the phase 5 %",
                                observed_share=share)


def test_gateway_drift_pages_at_once_and_resolves_when_the_gateway_agrees(plan):
    log = Log(plan).add(HOLD_AT, drift())
    out = log.round(HOLD_AT)
    assert out[0] == ev.IncidentOpened(incident="INC-1", level="L1", trigger=paging.DRIFT,
                                       reason="GATEWAY DRIFT: the gateway gives the canary 0 %, the phase 5 %")
    assert {p.text for p in out[1:]} == {f"{REL}: L1 paged (INC-1): GATEWAY DRIFT: the gateway gives the canary 0 %, the phase 5 %"}
    assert log.round(HOLD_AT + MIN) == []
    log.add(HOLD_AT + 2 * MIN, drift(agrees=True, share=5))
    out = log.round(HOLD_AT + 2 * MIN)
    assert out[0] == ev.IncidentResolved(incident="INC-1", reason="the gateway agrees with the phase again")


def test_a_rollout_that_is_no_longer_live_ends_the_spell(plan):
    log = Log(plan).add(HOLD_AT, holding(), drift())
    opened = log.round(HOLD_AT + 5 * MIN)
    assert sorted(p.trigger for p in opened if isinstance(p, ev.IncidentOpened)) == [paging.BLIND, paging.DRIFT]
    log.add(HOLD_AT + 6 * MIN, ev.RolloutCompleted())
    out = log.round(HOLD_AT + 6 * MIN)
    assert [p for p in out if isinstance(p, ev.IncidentResolved)] == [
        ev.IncidentResolved(incident="INC-1", reason="the rollout is completed"),
        ev.IncidentResolved(incident="INC-2", reason="the rollout is completed"),
    ]
    assert paging.unprotected(log.state, POLICY, HOLD_AT + 7 * MIN) == {}


def test_a_hold_without_a_detail_is_said_without_a_dangling_colon(plan):
    log = Log(plan).add(HOLD_AT, holding(detail=""))
    (opened, *_) = log.round(HOLD_AT + 5 * MIN)
    assert opened.reason == f"the guard cannot see: error_rate holding for want of data since {HOLD_AT:%H:%M:%S}Z"


def test_a_kill_that_is_not_confirmed_ends_the_blind_spell_in_words(plan):
    log = Log(plan).add(HOLD_AT, holding())
    assert log.round(HOLD_AT + 5 * MIN)[0].trigger == paging.BLIND
    unconfirmed(log, HOLD_AT + 6 * MIN, trigger="")
    resolved = [p for p in log.round(HOLD_AT + 6 * MIN) if isinstance(p, ev.IncidentResolved)]
    assert resolved == [ev.IncidentResolved(incident="INC-1", reason="the rollout is kill unconfirmed")]
