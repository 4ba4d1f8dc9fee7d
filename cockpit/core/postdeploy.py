"""The post-deployment plan as rows: each item's due time (from completion), done or overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.state import RolloutState

ItemState = Literal["waiting", "open", "due_soon", "overdue", "done"]
SOON = timedelta(hours=1)  # an open item due within this is "due soon"


@dataclass(frozen=True)
class ItemRow:
    id: str
    name: str
    owner: str
    due_after: timedelta  # counted from completion
    due_at: datetime | None  # None until the rollout completed
    state: ItemState
    done_at: datetime | None = None
    done_by: str = ""  # a person's name, or "cockpit" for a self-ticked item
    evidence: str = ""
    auto: str = ""  # the check the cockpit runs itself ("evidence_complete", "slos_met"), if any

    @property
    def word(self) -> str:
        return {"waiting": "waiting", "open": "open", "due_soon": "DUE SOON", "overdue": "OVERDUE",
                "done": "done"}[self.state]


def _seconds(value: Any) -> float:
    """A due time as the journaled plan document carries it ("4h", "1h30m", or seconds)."""
    if isinstance(value, (int, float)):
        return float(value)
    total, number = 0.0, ""
    for c in str(value):
        if c.isdigit():
            number += c
        elif c in "hms" and number:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[c]
            number = ""
    return total


def plan_items(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("post_deployment", []) or [])


def rows(state: RolloutState, now: datetime) -> list[ItemRow]:
    """Every item of the journaled plan, in plan order, as it stands at `now`."""
    if state.plan is None:
        return []
    out = []
    for item in plan_items(state.plan.document):
        after = timedelta(seconds=_seconds(item.get("due", 0)))
        due_at = state.completed_at + after if state.completed_at is not None else None
        done = state.post_deployment.get(item["id"])
        if done is not None:
            at, p = done
            out.append(ItemRow(item["id"], item["name"], item.get("owner", ""), after, due_at, "done", at,
                               "cockpit" if p.auto else p.name, p.evidence, item.get("auto") or ""))
            continue
        if due_at is None:
            st: ItemState = "waiting"
        elif now > due_at:
            st = "overdue"
        elif due_at - now <= SOON:
            st = "due_soon"
        else:
            st = "open"
        out.append(ItemRow(item["id"], item["name"], item.get("owner", ""), after, due_at, st,
                           auto=item.get("auto") or ""))
    return out


def tick_refusal(state: RolloutState, item: str) -> str:
    """Why `item` cannot be ticked off now, or ""."""
    ids = [i["id"] for i in plan_items(state.plan.document)] if state.plan else []
    if item not in ids:
        return f"no post-deployment item {item!r} (items: {', '.join(ids) or 'none in this plan'})"
    if state.status != "completed":
        return "the post-deployment plan starts when the rollout has completed"
    if item in state.post_deployment:
        at, p = state.post_deployment[item]
        return f"{item} was done at {words.stamp(at)} ({'cockpit' if p.auto else p.name})"
    return ""


def evidence_complete(state: RolloutState) -> str:
    """What shows the evidence is complete (a final bundle journaled with every file), or ""."""
    finals = [e for e in state.evidence if e.phase is None and e.file.endswith("manifest.json") and "/final/" in e.file]
    good = [e for e in finals if e.ok]
    return f"final bundle {good[-1].file} sha256 {good[-1].sha256[:16]}" if good else ""


def self_ticks(state: RolloutState, now: datetime, *, slos_met: str = "") -> list[ev.PostDeploymentDone]:
    """The ticks the cockpit may journal itself now: `evidence_complete` from the journal,
    `slos_met` when the caller measured the SLOs met over 0-4 h after completion (its evidence)."""
    if state.status != "completed":
        return []
    out = []
    for row in rows(state, now):
        if row.state == "done" or not row.auto:
            continue
        proof = evidence_complete(state) if row.auto == "evidence_complete" else slos_met
        if proof:
            out.append(ev.PostDeploymentDone(item=row.id, name="cockpit", auto=True, evidence=proof))
    return out
