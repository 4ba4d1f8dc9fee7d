"""When a spell of late rounds is journaled (core.rounds), table-driven: when it begins, when it
gets twice as late or skips samples, and once when it ends, with its worst round; never per round."""

from __future__ import annotations

import pytest

from cockpit.core.rounds import SPELL_ENDS_AFTER, LateNews, LateRound, LateSpell, late_spell, lateness

POLL = 15.0
T = 1_000.0  # the round before: every sample since was judged


def late(late_s: float, *, wall: float = 0.0, since: float = T, unjudged: float = 0.0) -> LateRound:
    return LateRound(late_s=late_s, wall_late_s=wall, judged_since=since, unjudged_s=unjudged)


ON_TIME = late(0.2)
SPELL = LateSpell(worst=late(20.0), said_s=20.0, late_rounds=1)

CASES = [
    # id, spell before, this round, spell after, journaled
    ("on time, no spell", None, ON_TIME, None, None),
    ("exactly one poll interval late is on time", None, late(POLL), None, None),
    ("later than one poll interval begins a spell", None, late(15.5, wall=0.4),
     LateSpell(worst=late(15.5, wall=0.4), said_s=15.5), LateNews(late(15.5, wall=0.4), 1)),
    ("samples left unjudged begin a spell however late", None, late(0.0, unjudged=0.5),
     LateSpell(worst=late(0.0, unjudged=0.5), said_s=0.0), LateNews(late(0.0, unjudged=0.5), 1)),
    ("later, but not twice as late: counted, not journaled", SPELL, late(39.9, since=T + 50),
     LateSpell(worst=late(39.9, since=T + 50), said_s=20.0, late_rounds=2), None),
    ("less late: the worst stays", LateSpell(worst=late(30.0), said_s=20.0, late_rounds=2), late(25.0, since=T + 50),
     LateSpell(worst=late(30.0), said_s=20.0, late_rounds=3), None),
    ("as late as the worst: the first stays the worst", LateSpell(worst=late(30.0), said_s=20.0, late_rounds=2),
     late(30.0, since=T + 50), LateSpell(worst=late(30.0), said_s=20.0, late_rounds=3), None),
    ("twice as late as said: journaled again", SPELL, late(40.0, since=T + 50),
     LateSpell(worst=late(40.0, since=T + 50), said_s=40.0, late_rounds=2), LateNews(late(40.0, since=T + 50), 2)),
    ("samples left unjudged in a spell: journaled", SPELL, late(16.0, unjudged=0.5),
     LateSpell(worst=SPELL.worst, said_s=16.0, late_rounds=2), LateNews(late(16.0, unjudged=0.5), 2)),
    ("a late round after some on time: the count starts again",
     LateSpell(worst=late(20.0), said_s=20.0, late_rounds=2, on_time=SPELL_ENDS_AFTER - 1), late(16.0),
     LateSpell(worst=late(20.0), said_s=20.0, late_rounds=3, on_time=0), None),
    ("one round on time does not end it", SPELL, ON_TIME,
     LateSpell(worst=late(20.0), said_s=20.0, late_rounds=1, on_time=1), None),
    ("nor the ninth", LateSpell(worst=late(20.0), said_s=20.0, late_rounds=4, on_time=SPELL_ENDS_AFTER - 2), ON_TIME,
     LateSpell(worst=late(20.0), said_s=20.0, late_rounds=4, on_time=SPELL_ENDS_AFTER - 1), None),
    ("the tenth on time ends it, said with its worst round",
     LateSpell(worst=late(80.0, wall=1.5), said_s=40.0, late_rounds=7, on_time=SPELL_ENDS_AFTER - 1), ON_TIME,
     None, LateNews(late(80.0, wall=1.5), 7, caught_up=True)),
]


@pytest.mark.parametrize("before,this,after,news", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_spell_of_late_rounds_is_journaled_when_it_begins_worsens_and_ends(before, this, after, news):
    assert late_spell(before, this, POLL) == (after, news)


def test_a_guard_late_every_round_for_a_day_journals_a_handful_of_lines():
    """15 s rounds that fall 1 s further behind each round, then catch up: 5,760 rounds."""
    spell, said = None, []
    for i in range(5760):
        spell, news = late_spell(spell, late(16.0 + i), POLL)
        said += [news] if news else []
    for _ in range(SPELL_ENDS_AFTER):
        spell, news = late_spell(spell, ON_TIME, POLL)
        said += [news] if news else []
    assert [n.round.late_s for n in said] == [16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 5775.0]
    assert [n.caught_up for n in said] == [False] * 9 + [True] and said[-1].late_rounds == 5760
    assert spell is None


def test_a_flapping_guard_journals_its_spell_once():
    spell, said = None, []
    for i in range(200):
        spell, news = late_spell(spell, late(20.0) if i % 2 else ON_TIME, POLL)
        said += [news] if news else []
    assert said == [LateNews(late(20.0), 1)] and spell.late_rounds == 100


@pytest.mark.parametrize("due,started,late_s", [(None, 50.0, 0.0), (40.0, 30.0, 0.0), (40.0, 40.0, 0.0), (40.0, 87.5, 47.5)])
def test_lateness_is_how_long_after_it_was_due_a_round_started(due, started, late_s):
    assert lateness(due, started) == late_s
