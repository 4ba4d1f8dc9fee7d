"""Which escalation levels apply now, from what is firing and what was escalated."""

from __future__ import annotations

from cockpit.core.state import RolloutState

EMERGENCY = "Emergency"


def active_levels(state: RolloutState, trigger_levels: dict[str, str]) -> dict[str, list[str]]:
    """Level -> the reasons it applies (firing or breaching triggers, explicit escalations, a kill)."""
    levels: dict[str, list[str]] = {}
    for trigger_id, t in sorted(state.triggers.items()):
        if t.breaching and not t.no_data and trigger_id in trigger_levels:
            word = "fired" if t.fired else "breaching"
            levels.setdefault(trigger_levels[trigger_id], []).append(f"{trigger_id} {word}")
    for _, e in state.escalations:
        levels.setdefault(e.level, []).append(e.reason)
    if state.status == "kill_unconfirmed":
        levels.setdefault(EMERGENCY, []).append("KILL NOT CONFIRMED")
    return levels
