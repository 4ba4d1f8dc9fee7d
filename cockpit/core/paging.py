"""Incidents, acknowledgement timers and escalation climbing, as events due at an explicit `now`.

Pure: `round_events(state, policy, now)` says what the guard must journal this round (open an
incident for a fired trigger, climb an unacknowledged page to the next level, page Emergency at
once on KILL NOT CONFIRMED or on canary traffic that did not fall after a confirmed kill
(one incident per kill, however often it is pulled again), resolve on a verified rollback or a cleared breach, queue
every message that goes with it, tell the rollback channel). The guard journals them and delivers the
queued messages; nothing here sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.state import Incident, RolloutState


@dataclass(frozen=True)
class LevelPolicy:
    level: str
    destinations: tuple[str, ...]  # channel names paged at this level
    ack_timeout_s: float | None = None  # None: this level never climbs by itself


@dataclass(frozen=True)
class Policy:
    levels: tuple[LevelPolicy, ...]  # in climbing order; the last is Emergency
    release: str = ""  # "IntelGraph v0.1.0", said in every message
    rollback_channel: str = ""  # kill_switch.notify: told of every rollback
    verify_expected: bool = False  # a canary traffic check follows a confirmed kill
    blind_page_s: float = 300.0  # a live rollout whose triggers hold for want of data this long pages the first level

    def level(self, name: str) -> LevelPolicy | None:
        return next((lvl for lvl in self.levels if lvl.level == name), None)

    def after(self, name: str) -> LevelPolicy | None:
        names = [lvl.level for lvl in self.levels]
        if name not in names or names.index(name) + 1 >= len(names):
            return None
        return self.levels[names.index(name) + 1]

    @property
    def emergency(self) -> LevelPolicy:
        return self.levels[-1]


def incident_id(n: int) -> str:
    return f"INC-{n}"


def dedup_key(release: str, incident: str) -> str:
    """PagerDuty's dedup_key: one incident there per incident here, stable across retries and climbs."""
    slug = "".join(c if c.isalnum() or c in ".-" else "-" for c in release.lower()).strip("-")
    return f"cockpit-{slug}-{incident}" if slug else f"cockpit-{incident}"


def open_incidents(state: RolloutState) -> list[Incident]:
    return [i for i in state.incidents.values() if i.open]


def pending_deliveries(state: RolloutState) -> list[tuple[int, ev.NotificationQueued]]:
    """Queued messages with no delivery result yet, oldest first."""
    return [(seq, o.queued) for seq, o in sorted(state.outbox.items()) if o.result is None]


@dataclass
class _Round:
    state: RolloutState
    policy: Policy
    now: datetime
    out: list[ev.Payload] = field(default_factory=list)
    opened: dict[str, str] = field(default_factory=dict)  # trigger -> incident opened this round
    levels: dict[str, str] = field(default_factory=dict)  # incident -> level, as of this round

    def page(self, incident: str, level: str, reason: str) -> None:
        lvl = self.policy.level(level)
        for channel in lvl.destinations if lvl else ():
            text = f"{self.policy.release}: {level} paged ({incident}): {reason}".lstrip(": ")
            self.out.append(ev.NotificationQueued(channel=channel, purpose="page", text=text, incident=incident,
                                                  level=level))

    def open(self, level: str, reason: str, trigger: str) -> str:
        incident = incident_id(len(self.state.incidents) + len(self.opened) + 1)
        self.out.append(ev.IncidentOpened(incident=incident, level=level, reason=reason, trigger=trigger))
        self.opened[trigger or f"#{incident}"] = incident
        self.levels[incident] = level
        self.page(incident, level, reason)
        return incident

    def climb(self, incident: str, level: str, reason: str) -> None:
        self.out.append(ev.IncidentEscalated(incident=incident, level=level, reason=reason))
        self.levels[incident] = level
        self.page(incident, level, reason)


def round_events(state: RolloutState, policy: Policy, now: datetime) -> list[ev.Payload]:
    """What the guard journals this round, in order. Applying them and asking again gives []."""
    if not policy.levels:
        return []
    r = _Round(state, policy, now)
    _open_for_fired_triggers(r)
    _open_while_unprotected(r)
    _emergency_on_kill_failure(r)
    _climb_unacknowledged(r)
    _tell_acknowledged(r)
    _resolve(r)
    _rollback_notice(r)
    return r.out


def _open_for_fired_triggers(r: _Round) -> None:
    for trigger_id, t in sorted(r.state.triggers.items()):
        if t.fired is None or t.fired_at is None:
            continue
        if any(i.trigger == trigger_id and i.opened_at >= t.fired_at for i in r.state.incidents.values()):
            continue
        level = t.fired.level if r.policy.level(t.fired.level) else r.policy.levels[0].level
        r.open(level, f"trigger {trigger_id} fired: {t.fired.detail}", trigger_id)


BLIND = "#blind"  # the incident of a guard that cannot see (not a trigger id: no trigger starts with #)
DRIFT = "#drift"  # the incident of a gateway whose canary share is not the phase's


def unprotected(state: RolloutState, policy: Policy, now: datetime) -> dict[str, str]:
    """What leaves a live rollout without its protection, by incident key: triggers that have held
    for want of data for `blind_page_s` (Prometheus down, the canary's scrapes failing: nothing can
    fire), and a gateway whose canary share is not the phase's (the triggers judge other traffic)."""
    if state.status != "live":
        return {}
    out = {}
    blind = sorted((t.breaching_since, trigger_id, t.detail) for trigger_id, t in state.triggers.items()
                   if t.no_data and t.breaching_since is not None)
    if blind and (now - blind[0][0]).total_seconds() >= policy.blind_page_s:
        since, _, detail = blind[0]
        ids = ", ".join(trigger_id for _, trigger_id, _ in blind)
        out[BLIND] = (f"the guard cannot see: {ids} holding for want of data since {words.clock(since)}"
                      + (f": {detail}" if detail else ""))
    if state.gateway_drift:
        out[DRIFT] = f"GATEWAY DRIFT: {state.gateway_drift}"
    return out


def _open_while_unprotected(r: _Round) -> None:
    """Page the first level once per spell; `_resolve` ends it when the spell ends."""
    for key, reason in unprotected(r.state, r.policy, r.now).items():
        if not any(i.trigger == key for i in open_incidents(r.state)):
            r.open(r.policy.levels[0].level, reason, key)


def kill_incident(state: RolloutState) -> Incident | None:
    """The open incident that belongs to the kill: its trigger's, else one opened since it was pulled
    with no trigger of its own (the kill's Emergency page). A kill has one incident, re-pulls or not."""
    k = state.kill
    if k is None:
        return None
    incidents = open_incidents(state)
    mine = [i for i in incidents if k.trigger and i.trigger == k.trigger]
    mine += [i for i in incidents if not i.trigger and i.opened_at >= k.requested_at]
    return mine[0] if mine else None


def kill_failure(state: RolloutState) -> tuple[datetime, str] | None:
    """Since when and why Emergency must hear of the kill: the gateway did not confirm it, or it
    confirmed it and the canary's own traffic did not fall to ~0. None while neither."""
    k = state.kill
    if k is None:
        return None
    if state.status == "kill_unconfirmed":  # a result said so: it dated the failure
        assert k.failed_at is not None and k.result is not None
        return k.failed_at, _said("KILL NOT CONFIRMED", k.result.error)
    if state.status == "rolled_back" and k.unverified_since is not None:  # the last verdict: NOT ~0
        assert k.verified is not None
        return k.unverified_since, _said("ROLLBACK NOT VERIFIED", k.verified.detail)
    return None


def _said(what: str, detail: str) -> str:
    return f"{what}: {detail}".rstrip(": ")  # the detail whole, without a dangling colon


def _emergency_on_kill_failure(r: _Round) -> None:
    st = r.state
    failure = kill_failure(st)
    if failure is None:
        return
    since, reason = failure
    emergency = r.policy.emergency.level
    # Emergency must hear of this failure: a page there from before it (another incident, or this
    # one climbed by its timers) did not say it. Paged there since the failure: once is enough,
    # however many times the kill is pulled again.
    told = {i.id: i.level for i in open_incidents(st) if i.paged_at >= since} | r.levels
    if emergency in told.values():
        return
    assert st.kill is not None  # a kill failure is a kill's
    mine = r.opened.get(st.kill.trigger)  # opened this round for its trigger ("" is never a key)
    if mine is None:
        inc = kill_incident(st)
        mine = inc.id if inc is not None else None
    if mine is not None:
        r.climb(mine, emergency, reason)
    else:
        r.open(emergency, reason, "")


def _climb_unacknowledged(r: _Round) -> None:
    for inc in open_incidents(r.state):
        if inc.acknowledged or inc.id in r.levels:
            continue
        lvl = r.policy.level(inc.level)
        if lvl is None or lvl.ack_timeout_s is None:
            continue
        waited = (r.now - inc.paged_at).total_seconds()
        nxt = r.policy.after(inc.level)
        if waited >= lvl.ack_timeout_s and nxt is not None:
            r.climb(inc.id, nxt.level,
                    f"{inc.level} did not acknowledge within {_seconds(lvl.ack_timeout_s)}: {inc.reason}")


def _tell_acknowledged(r: _Round) -> None:
    """An acknowledgement (from the CLI, the screen or PagerDuty) goes to every channel paged."""
    for inc in open_incidents(r.state):
        if not inc.acknowledged:
            continue
        for channel, purposes in sorted(inc.channels.items()):
            if "page" in purposes and "acknowledge" not in purposes:
                text = f"{r.policy.release}: {inc.id} acknowledged by {inc.acked_by} ({inc.acked_via})".lstrip(": ")
                r.out.append(ev.NotificationQueued(channel=channel, purpose="acknowledge", text=text, incident=inc.id,
                                                   level=inc.level))


def _rolled_back_and_verified(st: RolloutState, policy: Policy) -> str:
    if st.status != "rolled_back" or st.kill is None:
        return ""
    if not policy.verify_expected:
        return "rolled back: the gateway confirmed 0 %"
    if st.kill.verified is not None and st.kill.verified.ok:
        return f"rolled back and verified: {st.kill.verified.detail}"
    return ""


def _resolve(r: _Round) -> None:
    st = r.state
    done = _rolled_back_and_verified(st, r.policy)
    spells = unprotected(st, r.policy, r.now)
    for inc in open_incidents(st):
        reason = done
        t = st.triggers.get(inc.trigger) if inc.trigger else None
        if not reason and t is not None and not t.breaching and st.status == "live":
            reason = f"the breach of {inc.trigger} cleared"
        if not reason and inc.trigger in (BLIND, DRIFT) and inc.trigger not in spells:
            reason = _spell_ended(st, inc.trigger)
        if not reason:
            continue
        r.out.append(ev.IncidentResolved(incident=inc.id, reason=reason))
        for channel, purposes in sorted(inc.channels.items()):
            if "page" in purposes and "resolve" not in purposes:
                text = f"{r.policy.release}: {inc.id} resolved: {reason}".lstrip(": ")
                r.out.append(ev.NotificationQueued(channel=channel, purpose="resolve", text=text, incident=inc.id,
                                                   level=inc.level))


def _spell_ended(st: RolloutState, key: str) -> str:
    if st.status != "live":
        return f"the rollout is {st.status.replace('_', ' ')}"
    if key == BLIND:
        return "every trigger sees again" if not any(t.no_data and t.breaching for t in st.triggers.values()) else ""
    return "the gateway agrees with the phase again"


def rollback_text(st: RolloutState, policy: Policy) -> str | None:
    """The seed's emergency notice: release, trigger or operator, verified result, journal head."""
    k = st.kill
    if k is None or k.result is None:
        return None
    if k.result.confirmed and policy.verify_expected and k.verified is None:
        return None  # wait for the canary traffic verdict: the notice says it
    by = f"trigger {k.trigger}" if k.trigger else f"operator {k.by}"
    if not k.result.confirmed:
        verdict = f"KILL NOT CONFIRMED: {k.result.error}"
    elif k.verified is None:
        verdict = "gateway confirmed canary at 0 % (no traffic check configured)"
    elif k.verified.ok:
        verdict = f"VERIFIED: gateway confirmed 0 %, {k.verified.detail}"
    else:
        verdict = f"rollback NOT VERIFIED: {k.verified.detail}"
    return f"{policy.release}: ROLLBACK by {by} ({k.reason}): {verdict}; journal head {st.last_hash}".lstrip(": ")


def _rollback_notice(r: _Round) -> None:
    st, channel = r.state, r.policy.rollback_channel
    if not channel or st.kill is None or st.kill.result_at is None:
        return
    text = rollback_text(st, r.policy)
    if text is None:
        return
    since = [o for o in st.outbox.values() if o.queued.purpose == "rollback" and o.at >= st.kill.requested_at]
    if since:
        last = since[-1]
        assert st.kill.result is not None  # it has a result_at
        upgraded = st.kill.result.confirmed and "KILL NOT CONFIRMED" in last.queued.text and last.at < st.kill.result_at
        traffic_fell = (st.kill.verified is not None and st.kill.verified.ok
                        and "rollback NOT VERIFIED" in last.queued.text)
        if not (upgraded or traffic_fell):
            return
    r.out.append(ev.NotificationQueued(channel=channel, purpose="rollback", text=text))


def budget_month(now: datetime) -> str:
    return f"{now.year:04d}-{now.month:02d}"


def spend_controls_due(state: RolloutState, pcts_with_action: set[float], month: str) -> list[float]:
    """Crossings this month whose spend control has not run yet (it runs once per crossing per month)."""
    return sorted(
        pct for pct, alert in state.budget_alerts.items()
        if pct in pcts_with_action and alert.month == month and (month, pct) not in state.spend_controls
    )


def _seconds(s: float) -> str:
    s = int(s)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec else "") or "0s"
