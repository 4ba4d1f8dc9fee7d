"""Post-deployment items on the edges of time: due at exactly their offset from completion,
due soon within the hour before, overdue one second after; the plan document's due forms."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from cockpit.core import events as ev
from cockpit.core import postdeploy
from cockpit.core.postdeploy import ItemRow
from tests.conftest import T0
from tests.core.journal import At, at_phase, state

SEC = timedelta(seconds=1)
DONE = T0 + timedelta(hours=2)


def completed(plan, *more):
    return state(plan, *at_phase(plan), At(ev.RolloutCompleted(), DONE), *more)


def row(st, now, item="monitor_slos"):
    return {r.id: r for r in postdeploy.rows(st, now)}[item]


@pytest.mark.parametrize("after, expected", [
    (timedelta(0), "open"),
    (timedelta(hours=3) - SEC, "open"),
    (timedelta(hours=3), "due_soon"),  # exactly an hour before: due soon
    (timedelta(hours=4) - SEC, "due_soon"),
    (timedelta(hours=4), "due_soon"),  # due at exactly its offset: not overdue yet
    (timedelta(hours=4) + SEC, "overdue"),  # one second after
])
def test_an_item_falls_due_at_exactly_its_offset_from_completion(plan, after, expected):
    st = completed(plan)
    r = row(st, DONE + after)
    assert (r.state, r.due_at, r.due_after) == (expected, DONE + timedelta(hours=4), timedelta(hours=4))
    assert [x.id for x in _overdue(st, DONE + after) if x.id == "monitor_slos"] == (["monitor_slos"] if expected == "overdue" else [])


@pytest.mark.parametrize("state_, word", [("waiting", "waiting"), ("open", "open"), ("due_soon", "DUE SOON"), ("overdue", "OVERDUE"), ("done", "done")])
def test_row_words(state_, word):
    assert ItemRow("i", "n", "o", timedelta(0), None, state_).word == word


def test_before_completion_every_item_waits_without_a_due_time(plan):
    st = state(plan, *at_phase(plan))
    r = row(st, DONE + timedelta(days=30))
    assert (r.state, r.due_at, r.done_at, r.done_by, r.evidence, r.auto, r.owner) == ("waiting", None, None, "", "", "slos_met", "sre")
    assert row(st, DONE, "baseline_data").auto == ""
    assert _overdue(st, DONE + timedelta(days=30)) == []


def _overdue(st, now):
    return [r for r in postdeploy.rows(st, now) if r.state == "overdue"]


def test_no_plan_no_rows():
    from cockpit.core.state import RolloutState
    assert postdeploy.rows(RolloutState(), DONE) == []
    assert postdeploy.tick_refusal(RolloutState(), "x") == "no post-deployment item 'x' (items: none in this plan)"


def test_a_done_row_says_who_when_and_with_what(plan):
    st = completed(plan, At(ev.PostDeploymentDone(item="monitor_slos", name="cockpit", auto=True, evidence="SLOs met"), DONE + SEC),
                   At(ev.PostDeploymentDone(item="baseline_data", name="Sam", evidence="grafana"), DONE + 2 * SEC))
    auto, person = row(st, DONE + timedelta(days=9)), row(st, DONE + timedelta(days=9), "baseline_data")
    assert auto == ItemRow("monitor_slos", "Monitor all SLO metrics continuously", "sre", timedelta(hours=4), DONE + timedelta(hours=4),
                           "done", DONE + SEC, "cockpit", "SLOs met", "slos_met")
    assert (person.state, person.done_at, person.done_by, person.evidence, person.auto) == ("done", DONE + 2 * SEC, "Sam", "grafana", "")
    assert postdeploy.tick_refusal(st, "monitor_slos") == f"monitor_slos was done at {DONE + SEC:%Y-%m-%d %H:%M:%S}Z (cockpit)"
    assert postdeploy.tick_refusal(st, "baseline_data") == f"baseline_data was done at {DONE + 2 * SEC:%Y-%m-%d %H:%M:%S}Z (Sam)"
    assert "monitor_slos" not in [r.id for r in postdeploy.self_ticks(st, DONE, slos_met="SLOs met again")]


def test_tick_refusals_name_the_items(plan):
    st = completed(plan)
    said = postdeploy.tick_refusal(st, "nope")
    assert said.startswith("no post-deployment item 'nope' (items: monitor_slos, baseline_data, ")
    assert said.endswith(", hardening, next_release)")
    assert postdeploy.tick_refusal(state(plan), "hardening") == "the post-deployment plan starts when the rollout has completed"


@pytest.mark.parametrize("value, seconds", [
    ("4h", 14400.0), ("1h30m", 5400.0), ("90s", 90.0), ("2m5s", 125.0), (90, 90.0), (1.5, 1.5), ("", 0.0), ("h", 0.0),
    ("10", 0.0),  # a bare number in text is no duration
])
def test_due_forms(value, seconds):
    assert postdeploy._seconds(value) == seconds


def test_items_of_a_plan_document():
    assert postdeploy.plan_items({}) == []
    assert postdeploy.plan_items({"post_deployment": None}) == []
    assert postdeploy.plan_items({"post_deployment": [{"id": "a"}]}) == [{"id": "a"}]


def test_an_item_without_owner_due_or_auto(plan):
    st = completed(plan)
    st.plan = msgspec.structs.replace(st.plan, document={"post_deployment": [{"id": "x", "name": "X", "auto": None}]})
    [r] = postdeploy.rows(st, DONE)
    assert (r.owner, r.due_after, r.due_at, r.state, r.auto) == ("", timedelta(0), DONE, "due_soon", "")
    assert postdeploy.rows(st, DONE + SEC)[0].state == "overdue"


def final(ok=True, file="R/final/manifest.json", phase=None, sha="ab" * 32):
    return ev.EvidenceCollected(phase=phase, file=file, sha256=sha, ok=ok)


@pytest.mark.parametrize("evidence, proof", [
    ([], ""),
    ([final(ok=False)], ""),
    ([final(phase=0)], ""),  # a phase's bundle is not the final one
    ([final(file="R/final/report.html")], ""),
    ([final(file="R/phase-0/manifest.json")], ""),
    ([final(), final(sha="cd" * 32)], "final bundle R/final/manifest.json sha256 cdcdcdcdcdcdcdcd"),  # the last good one
    ([final(), final(ok=False, sha="ef" * 32)], "final bundle R/final/manifest.json sha256 abababababababab"),
])
def test_evidence_is_complete_with_a_good_final_bundle(plan, evidence, proof):
    assert postdeploy.evidence_complete(completed(plan, *evidence)) == proof


def test_self_ticks_only_after_completion_and_only_for_auto_items(plan):
    live = state(plan, *at_phase(plan), final())
    assert postdeploy.self_ticks(live, DONE, slos_met="ok") == []
    ticks = postdeploy.self_ticks(completed(plan, final()), DONE, slos_met="ok")
    assert ticks == [ev.PostDeploymentDone(item="monitor_slos", name="cockpit", auto=True, evidence="ok"),
                     ev.PostDeploymentDone(item="evidence_audit", name="cockpit", auto=True,
                                           evidence="final bundle R/final/manifest.json sha256 abababababababab")]
    assert [t.item for t in postdeploy.self_ticks(completed(plan), DONE, slos_met="ok")] == ["monitor_slos"]


def test_rows_say_name_and_owner_whether_done_or_not(plan):
    st = completed(plan, At(ev.PostDeploymentDone(item="x", name="guard@bastion", auto=True, evidence="e"), DONE))
    st.plan = msgspec.structs.replace(st.plan, document={"post_deployment": [{"id": "x", "name": "X"}, {"id": "y", "name": "Y"}]})
    done, todo = postdeploy.rows(st, DONE)
    assert (done.name, done.owner, done.done_by, done.state) == ("X", "", "cockpit", "done")  # self-ticked: said as the cockpit
    assert (todo.name, todo.owner) == ("Y", "")
    assert postdeploy.tick_refusal(st, "x") == f"x was done at {DONE:%Y-%m-%d %H:%M:%S}Z (cockpit)"


def test_unknown_units_count_nothing():
    assert postdeploy._seconds("4X") == 0.0
