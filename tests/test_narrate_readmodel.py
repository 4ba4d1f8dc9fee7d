"""The headless commands' narration says the kill, incidents and the next step in the read model's
words (issue 21): `cockpit kill`, `advance` and the timeline print the sentences the screen and
`status` show, from the same journal."""

from __future__ import annotations

from datetime import timedelta

from cockpit.core import events as ev
from cockpit.core import readmodel as rm
from cockpit.core.state import fold
from cockpit.narrate import COMMANDS, next_line, say
from cockpit.status import headline_json, status_lines
from tests.core.journal import at_phase as live
from tests.core.journal import gate_met, ready, records

PULL = ev.KillRequested(reason="trigger api_p95_regression fired: p95 412 ms", trigger="api_p95_regression")


def _said(plan, *payloads):
    """The journal's records, its state, and narrate's line for its last record."""
    recs = records(plan, *live(plan), *payloads)
    return recs, fold(recs), say(recs[-1], fold(recs).plan)


def test_a_kill_is_narrated_as_the_kill_line_says_it(plan):
    _, state, pulled = _said(plan, PULL)
    assert pulled == rm.kill_line(plan, state).text == "KILL SENT · pulled by trigger Performance"
    _, state, answered = _said(plan, PULL, ev.KillResult(confirmed=True, attempts=1, observed_enabled=False))
    k = rm.kill_line(plan, state)
    assert answered == f"{k.head} · {k.detail}"
    assert answered.startswith("KILL VERIFIED ") and k.detail in answered
    _, state, failed = _said(plan, PULL, ev.KillResult(confirmed=False, attempts=4, error="HTTP 500"))
    k = rm.kill_line(plan, state)
    assert failed == f"{k.head} · {k.detail}" == "KILL NOT CONFIRMED · 4 attempts: HTTP 500"
    for ok, detail in ((True, "0.00/s"), (False, "3.1/s")):
        _, state, traffic = _said(plan, PULL, ev.KillResult(confirmed=True), ev.RollbackVerified(ok=ok, detail=detail))
        assert traffic == rm.kill_line(plan, state).traffic
    assert traffic == "ROLLBACK NOT VERIFIED: canary traffic NOT ~0: 3.1/s"


def test_a_person_s_kill_names_who_pulled_it_and_why_as_the_kill_line_does(plan):
    _, state, pulled = _said(plan, ev.KillRequested(reason="trigger path_p95 looks bad"))
    assert pulled == rm.kill_line(plan, state).text == "KILL SENT · pulled by alice@bastion: Path Queries looks bad"


def test_incidents_are_narrated_in_the_words_of_their_row(plan):
    page = ev.IncidentOpened(incident="INC-1", level="L1", reason="trigger api_p95_regression fired",
                             trigger="api_p95_regression")
    _, state, opened = _said(plan, page)
    [row] = rm.incident_rows(state)
    assert opened == rm.incident_opened(row.id, row.levels, row.reason, row.opened_at)
    assert row.text.startswith(opened) and "Performance fired" in opened  # the trigger's name, not its id
    _, state, acked = _said(plan, page, ev.IncidentAcknowledged(incident="INC-1", name="Sam", via="cli"))
    [row] = rm.incident_rows(state)
    assert acked == f"INC-1 acknowledged by {row.acked}" and f"; acknowledged by {row.acked}" in row.text
    _, state, resolved = _said(plan, page, ev.IncidentResolved(incident="INC-1", reason="the rollback is verified"))
    [row] = rm.incident_rows(state)
    assert resolved == f"INC-1 resolved {row.resolved}" and row.text.endswith(f"; resolved {row.resolved}")


def test_the_next_step_is_the_one_status_and_the_read_model_give(plan):
    for payloads, at in (((), timedelta(0)), (ready(plan), timedelta(hours=1)),
                         (live(plan) + gate_met(plan), timedelta(hours=1))):
        recs = records(plan, *payloads)
        state = fold(recs)
        now = recs[-1].ts + at
        step = rm.read_model(plan, state, None, now).next_step
        said = next_line(plan, state, now)
        assert step is not None and said.startswith(f"{step.text}: cockpit "), said
        assert said == f"{step.text}: {COMMANDS[step.action].format(*step.args)}"
        seen = headline_json(plan, state, None, now)
        assert seen["next_step"]["command"] in said
        assert f"next     {said}" in status_lines(state, now, None, seen=seen)
