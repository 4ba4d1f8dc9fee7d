"""Which escalation levels apply now, from what is firing and what was escalated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cockpit.core import events as ev
from cockpit.core.state import RolloutState

EMERGENCY = "Emergency"


def current_escalations(state: RolloutState) -> list[tuple[datetime, ev.Escalated]]:
    """The explicit escalations that still apply: those said while a kill was not confirmed (KILL NOT
    CONFIRMED after N attempts) are over once the gateway confirmed it; the journal keeps them."""
    k = state.kill
    if state.status != "rolled_back" or k is None:
        return list(state.escalations)
    return [(at, e) for at, e in state.escalations if at < k.requested_at]


def with_names(text: str, names: Mapping[str, str]) -> str:
    """A journaled reason that names trigger ids, said with the triggers' names."""
    for trigger_id, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"trigger {trigger_id} ", f"{name} ")
    return text


def active_levels(state: RolloutState, trigger_levels: Mapping[str, str],
                  names: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Level -> the reasons it applies (firing or breaching triggers, explicit escalations still current,
    a kill not confirmed, canary traffic not falling after a confirmed one). `names`: trigger id ->
    the name faces say it by (the id itself without one)."""
    names = names or {}
    levels: dict[str, list[str]] = {}
    for trigger_id, t in sorted(state.triggers.items()):
        if t.breaching and not t.no_data and trigger_id in trigger_levels:
            word = "fired" if t.fired else "breaching"
            levels.setdefault(trigger_levels[trigger_id], []).append(f"{names.get(trigger_id, trigger_id)} {word}")
    for _, e in current_escalations(state):
        levels.setdefault(e.level, []).append(with_names(e.reason, names))
    if state.status == "kill_unconfirmed":
        levels.setdefault(EMERGENCY, []).append("KILL NOT CONFIRMED")
    if leaking(state):
        levels.setdefault(EMERGENCY, []).append(ROLLBACK_NOT_VERIFIED)
    return levels


ROLLBACK_NOT_VERIFIED = "ROLLBACK NOT VERIFIED: canary traffic NOT ~0"


def leaking(state: RolloutState) -> bool:
    """Rolled back at the gateway, but the canary still takes traffic: an Emergency until it falls."""
    return state.status == "rolled_back" and state.kill is not None and state.kill.leaking
