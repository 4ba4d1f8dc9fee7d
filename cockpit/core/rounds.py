"""Round lateness: how long after it was due a guard's round started, and when a spell of late rounds is journaled.

A round is due one poll interval after the previous one started. A round later than one more
poll interval (a slow Prometheus, a busy bastion, a pause, a demo faster than the machine)
still judges every sample since the previous one (core.triggers.judge_round), but the guard
says so: `round_late` is journaled when a spell of late rounds begins, again each time it gets
twice as bad, and once when it ends (SPELL_ENDS_AFTER rounds on time in a row), with the
worst figure. Never once per round: a guard late for a day writes a handful of lines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SPELL_ENDS_AFTER = 10  # rounds on time in a row that end a spell (so one that flaps journals once)
WORSE = 2.0  # a spell is journaled again when a round is this many times later than it last said


@dataclass(frozen=True)
class LateRound:
    """One round's timing: how late it started on the guard's clock and on the wall, and the
    previous round's time (every sample since was judged by this one)."""

    late_s: float
    wall_late_s: float
    judged_since: float
    unjudged_s: float = 0.0  # samples older than the catch-up bound that no round judged


@dataclass(frozen=True)
class LateSpell:
    """Late rounds since the first one, until SPELL_ENDS_AFTER rounds in a row are on time."""

    worst: LateRound  # the latest of its rounds
    said_s: float  # the lateness the journal said last
    late_rounds: int = 1
    on_time: int = 0  # rounds on time since the last late one


@dataclass(frozen=True)
class LateNews:
    """What the journal says: a late round (the one that began the spell, got twice as late, or
    skipped samples), or, once the spell ended, its worst round."""

    round: LateRound
    late_rounds: int
    caught_up: bool = False


def lateness(due: float | None, started: float) -> float:
    """How long after it was due a round started (0 for a first round, or one early)."""
    return 0.0 if due is None else max(0.0, started - due)


def late_spell(spell: LateSpell | None, late: LateRound, poll_s: float) -> tuple[LateSpell | None, LateNews | None]:
    """(the spell after this round, what to journal now or None). A round is late when it started
    more than one poll interval after it was due on the guard's clock, or left samples unjudged."""
    if late.late_s > poll_s or late.unjudged_s > 0:
        if spell is None:
            return LateSpell(worst=late, said_s=late.late_s), LateNews(late, 1)
        worst = late if late.late_s > spell.worst.late_s else spell.worst
        grown = replace(spell, worst=worst, late_rounds=spell.late_rounds + 1, on_time=0)
        if late.late_s >= WORSE * spell.said_s or late.unjudged_s > 0:
            return replace(grown, said_s=late.late_s), LateNews(late, grown.late_rounds)
        return grown, None
    if spell is None:
        return None, None
    if spell.on_time + 1 >= SPELL_ENDS_AFTER:
        return None, LateNews(spell.worst, spell.late_rounds, caught_up=True)
    return replace(spell, on_time=spell.on_time + 1), None
