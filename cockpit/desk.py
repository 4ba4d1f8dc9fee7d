"""The captain's desk: what a screen shows of the rollout, and what it hands on for a person.

A screen lays out `Shown` (the core's read model and what it was built from) and hands each typed
decision of its dialogs (`KillOrder`, `GateDecision`, `Waiver`, ...) to the desk; the desk asks the
core's rules and the engine. Nothing in cockpit/tui computes a rollout rule or calls the engine.

This module's top imports nothing heavy: a screen imports it before its first frame; the engine,
the core and the plan's models are imported where they are used, once they are loaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.core import words

if TYPE_CHECKING:
    from cockpit.config import Plan
    from cockpit.core.evaluation import Evaluation
    from cockpit.core.guardsight import GuardSight
    from cockpit.core.judgeview import JudgmentView
    from cockpit.core.readmodel import GateView, GuardHealth, ReadModel, TimelineLine
    from cockpit.core.state import RolloutState
    from cockpit.engine import Engine, Outcome


# --- what a person decided (a dialog's result) ----------------------------------------------


@dataclass(frozen=True)
class KillOrder:
    reason: str


@dataclass(frozen=True)
class GateDecision:
    role: str
    decision: str  # GO | NO-GO
    name: str
    note: str = ""


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str


@dataclass(frozen=True)
class SignOff:
    role: str
    name: str
    note: str = ""


@dataclass(frozen=True)
class StepDone:
    """A step of the rollback procedure done by hand."""

    step: str
    what: str


@dataclass(frozen=True)
class ItemDone:
    """An item of the post-deployment plan done."""

    item: str
    name: str
    note: str = ""


@dataclass(frozen=True)
class PageAck:
    incident: str
    name: str


@dataclass(frozen=True)
class Note:
    text: str


# --- what the desk asks the screen to show -------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One option of a dialog's list: what it says, and the id it stands for."""

    label: str
    value: str


@dataclass(frozen=True)
class Question:
    """A yes/no put to the captain before a step that moves traffic or leaves the rollout unwatched."""

    title: str
    message: str
    yes: str


@dataclass(frozen=True)
class KillAsk:
    """What the kill dialog says: the version to type, the flag it sets, the weight it takes to 0."""

    version: str
    flag: str
    weight: int


@dataclass(frozen=True)
class GateAsk:
    """What the go/no-go dialog shows: its title, the owner roles (the first still waiting first
    in `waiting`), and the gate as the read model has it."""

    title: str
    owners: tuple[Choice, ...]
    waiting: tuple[str, ...]
    gate: GateView
    judgment: JudgmentView | None = None  # the judge's latest judgment of this phase (issue 23)


@dataclass(frozen=True)
class Shown:
    """One moment of the rollout as a screen shows it: the read model and what it was built from."""

    plan: Plan
    state: RolloutState
    live: Evaluation | None  # the guard's published round
    sight: GuardSight | None
    now: datetime
    running: frozenset[str]
    model: ReadModel
    post_deploy: tuple = ()  # the post-deployment plan's rows, after completion
    kill_why: str = ""  # who or what pulled the kill switch, in the plan's names


class Desk:
    """One screen's way to the rollout: the engine, the guard's published round (`feed`), the
    demo's in-process guard, and the keeper that starts a guard when none runs (captain)."""

    def __init__(self, engine: Engine, *, feed=None, guard=None, keeper: Callable | None = None):
        self.engine = engine
        self.feed = feed if feed is not None else guard
        self.guard = guard
        self.keeper = keeper
        self.unanswered_since: datetime | None = None  # the record (etcd) has not answered this screen since

    @property
    def observer(self) -> bool:
        return self.engine.follower

    @staticmethod
    def read_only() -> str:
        """What an observer is told when it tries to act (the engine's own words)."""
        from cockpit.engine import READ_ONLY

        return READ_ONLY

    @property
    def live(self) -> bool:
        """A rollout is live: quitting asks first."""
        return self.engine.state.live

    def rehearse(self, days: float):
        """The plan's triggers over the last `days` on Prometheus history (cockpit.rehearsal, quiet
        span): blocking, for a worker thread. Raises RehearsalError, which says why (a Prometheus
        that did not answer is named). The queries are read as the plan's `rehearsal` preflight check
        reads them (its `substitute`: the stable version's), when it has one."""
        from cockpit.adapters.prom_range import HistoryError
        from cockpit.config import RehearsalCheck
        from cockpit.rehearsal import RehearsalError, fetcher, rehearse

        if self.engine.metrics is None:
            raise RehearsalError("the plan has no [prometheus] to rehearse on")
        end = self.engine.clock.now().timestamp()
        check = next((c for c in self.engine.plan.preflight if isinstance(c, RehearsalCheck)), None)
        try:
            return rehearse(self.engine.plan, fetcher(self.engine.metrics), quiet=(end - days * 86400, end),
                            criteria=False, substitute=check.substitute if check else None)
        except HistoryError as e:
            raise RehearsalError(str(e)) from None

    # -- following ------------------------------------------------------------------------------

    def on_record(self, listener: Callable[[], None]) -> None:
        self.engine.subscribe(lambda record: listener())

    def on_round(self, listener: Callable[[], None]) -> None:
        if hasattr(self.feed, "subscribe"):
            self.feed.subscribe(listener)

    @property
    def remote(self) -> bool:
        """The record is across the network (etcd): a screen keeps up with it off its event loop."""
        return self.engine.journal.remote

    def follow(self) -> None:
        """Fold in what the guard and other terminals journaled (raises on a journal that broke)."""
        self.engine.refresh()

    async def keep_up(self) -> tuple[Exception | None, str]:
        """follow() and keep_guard() for a record across the network, each store call on a thread, so a
        store that does not answer never stops the screen: (what follow raised, what the keeper said)."""
        try:
            await self.engine.follow()
        except Exception as e:  # noqa: BLE001 - said on the screen, which goes on
            failed: Exception | None = e
        else:
            failed = None
        finally:
            self._heard()
        return failed, await asyncio.to_thread(self.keep_guard)

    def _heard(self) -> None:
        """Since when the record has not answered (the headline's RECORD UNREACHABLE), by the last read."""
        if self.engine.journal.unanswered is None:
            self.unanswered_since = None
        elif self.unanswered_since is None:
            self.unanswered_since = self.engine.clock.now()

    def keep_guard(self) -> str:
        """The keeper's turn (captain): what to tell the captain, if anything."""
        if self.keeper is None or self.observer:
            return ""
        try:
            return self.keeper(self.engine.state)
        except Exception as e:  # noqa: BLE001 - the screen outlives a failed spawn, and says so
            return f"cannot start a guard: {e}"

    def _sight(self):
        return self.feed.sight() if self.feed is not None else None

    def _latest(self):
        return self.feed.latest() if self.feed is not None else None

    def inputs(self) -> tuple:
        """Everything a screen is drawn from, as identities: the journal's position, the guard's
        round (the feed hands back the same object until a new one is published), the clock (a
        stopped clock, as a finished demo's, stays equal), what the screen shows of the guard (its
        own sight of it, judged: a dead guard's age runs on unseen) and what runs here."""
        from cockpit.core.guardsight import shown

        e, live = self.engine, self._latest()
        return (e.state.seq, live, e.clock.now(), shown(e.plan, e.state, live, self._sight()),
                frozenset(e.running_checks), self.unanswered_since)

    def shown(self) -> Shown:
        from cockpit.core.readmodel import read_model
        from cockpit.narrate import say

        e = self.engine
        state, live, sight, now = e.state, self._latest(), self._sight(), e.clock.now()
        running = frozenset(e.running_checks)
        model = read_model(e.plan, state, live, now, running=running, say=say, captain=not self.observer, sight=sight,
                           journal_broken=getattr(e.journal, "broken", None) or "",
                           unanswered=words.clock(self.unanswered_since) if self.unanswered_since else "")
        return Shown(e.plan, state, live, sight, now, running, model, self._post_deploy(now), self._kill_why())

    def _post_deploy(self, now: datetime) -> tuple:
        if self.engine.state.status != "completed":
            return ()
        from cockpit.core.postdeploy import rows

        return tuple(rows(self.engine.state, now))

    def _kill_why(self) -> str:
        k = self.engine.state.kill
        if k is None:
            return ""
        from cockpit.core.escalation import with_names
        from cockpit.core.readmodel import trigger_names

        names = trigger_names(self.engine.plan)
        # Pulled by a trigger: its FIRED row says why; by a person: their reason, whole.
        why = f"pulled by trigger {names.get(k.trigger, k.trigger)}" if k.trigger else f"pulled by {k.by}: {k.reason}"
        if k.result is not None and not k.result.confirmed:
            why = f"{k.result.attempts} attempts: {k.result.error} — ESCALATED TO EMERGENCY"
        return with_names(why, names)

    def journal_lines(self) -> list[TimelineLine]:
        """Every journal event, newest first, in the operator's words."""
        from cockpit.core.readmodel import TimelineLine, timeline_role
        from cockpit.narrate import say

        plan = self.engine.state.plan
        return [TimelineLine(r.ts, say(r, plan), timeline_role(r), r.kind)
                for r in reversed(self.engine.journal.records)]

    # -- what the screen may offer ----------------------------------------------------------------

    def actions(self) -> frozenset[str]:
        """The commands this state offers (the footer and the palette show no other)."""
        from cockpit.core.readmodel import available_actions

        return available_actions(self.engine.state)

    def checks(self) -> list[Choice]:
        return [Choice(c.name, c.id) for c in self.engine.plan.preflight]

    def check_help(self) -> dict[str, str]:
        return {c.id: c.description for c in self.engine.plan.preflight}

    def missing_sign_offs(self) -> list[Choice]:
        plan = self.engine.plan
        return [Choice(plan.role_title(r), r) for r in plan.sign_offs if r not in self.engine.state.sign_offs]

    def open_steps(self) -> list[Choice]:
        """The rollback procedure's manual steps not ticked yet."""
        from cockpit.core.readmodel import checklist, checklist_steps_open

        return [Choice(label, key)
                for label, key in checklist_steps_open(checklist(self.engine.plan, self.engine.state))]

    def open_items(self) -> list[Choice]:
        """The post-deployment plan's items not done yet."""
        from cockpit.core.postdeploy import rows

        return [Choice(f"{r.name} ({r.word})", r.id) for r in rows(self.engine.state, self.engine.clock.now())
                if r.state != "done"]

    def waiting_pages(self) -> list[Choice]:
        """Open incidents nobody has acknowledged."""
        return [Choice(f"{i.id} {i.level}: {i.reason}"[:60], i.id) for i in self.engine.state.incidents.values()
                if i.open and not i.acknowledged]

    def start_refusals(self) -> list[str]:
        from cockpit.core import rules

        return rules.start_refusals(self.engine.state, self.engine.clock.now())

    def start_question(self) -> Question:
        first = self.engine.plan.phases[0]
        return Question("Start the rollout?", f"{first.name}: the canary takes {first.weight} % of traffic.", "Start")

    def advance_refusals(self) -> list[str]:
        from cockpit.core import rules

        return rules.advance_refusals(self.engine.state, self.engine.clock.now())

    def advance_question(self) -> Question:
        from cockpit.core import rules

        state = self.engine.state
        nxt = rules.next_phase(state)
        if nxt is None:
            return Question("Complete the rollout?", "Final validation passed: the canary is the release.", "Complete")
        phase = self.engine.plan.phases[nxt]
        return Question(f"Advance to {phase.name}?",
                        f"The canary goes from {state.weight} % to {phase.weight} % of traffic.", "Advance")

    def kill_refusals(self) -> list[str]:
        from cockpit.core import rules

        return rules.kill_refusals(self.engine.state)

    def kill_ask(self) -> KillAsk:
        plan = self.engine.plan
        return KillAsk(plan.release.version, plan.kill_switch.flag, self.engine.state.weight)

    def gate_refusals(self) -> list[str]:
        return [] if self.engine.state.phase is not None else ["no phase is soaking yet"]

    def gate_ask(self, model: ReadModel) -> GateAsk:
        """The current phase's gate: its owner roles, those with no decision yet in the plan's order."""
        plan, state = self.engine.plan, self.engine.state
        phase = state.phase
        assert phase is not None, "a gate is asked only while a phase soaks (gate_refusals)"
        spec = plan.phases[phase]
        gate = state.gates.get(phase)
        decided = gate.decisions if gate else {}
        owners = tuple(Choice(plan.role_title(o), o) for o in spec.gate.owners)
        # a Marginal judgment: GOs before it did not see it
        since = gate.judged.marginal_since if gate and gate.judged else None
        waiting = tuple(o for o in spec.gate.owners if o not in decided or (since and decided[o].at < since))
        return GateAsk(f"GO / NO-GO: {spec.name} gate ({spec.weight} %)", owners, waiting, model.gate,
                       model.judgments.get(phase))

    def role_title(self, role: str) -> str:
        return self.engine.plan.role_title(role)

    def quit_question(self, guard_word: GuardHealth) -> Question | None:
        """None when quitting leaves nothing unwatched (an observer, a rollout not live)."""
        if self.observer or not self.engine.state.live:
            return None
        if self.guard is not None:
            why = "The rollout is live and its guard runs in this process: quitting stops the watch on the triggers."
        elif guard_word.guarded:
            why = (f"The rollout is live. Guard {guard_word.guard} keeps watching the triggers and rolls back on its "
                   "own.")
        else:
            why = ("The rollout is live and NO GUARD is running: triggers are not watched and nothing rolls back on "
                   "its own.")
        return Question("Quit the cockpit?", why, "Quit")

    # -- commands ---------------------------------------------------------------------------------

    def guarding(self):
        """The demo's in-process guard, to run beside the screen (a coroutine), or None."""
        return self.guard.run() if self.guard is not None else None

    async def reconcile(self) -> Outcome:
        return await self.engine.reconcile()

    async def run_checks(self, check_id: str | None = None) -> Outcome:
        return await self.engine.run_preflight(check_id)

    async def start(self) -> Outcome:
        return await self.engine.start()

    async def advance(self) -> Outcome:
        return await self.engine.advance()

    async def kill(self, order: KillOrder) -> Outcome:
        return await self.engine.kill(order.reason)

    def decide(self, d: GateDecision) -> Outcome:
        return self.engine.decide(d.role, d.decision, d.name, d.note)

    def waive(self, w: Waiver) -> Outcome:
        return self.engine.waive(w.check, w.reason)

    def sign_off(self, s: SignOff) -> Outcome:
        return self.engine.sign_off(s.role, s.name, s.note)

    def tick_step(self, s: StepDone) -> Outcome:
        from cockpit.core.readmodel import CHECKLIST_PREFIX

        return self.engine.note(f"{CHECKLIST_PREFIX}{s.step}: {s.what}")

    def item_done(self, i: ItemDone) -> Outcome:
        return self.engine.post_deploy_done(i.item, i.name, i.note)

    def acknowledge(self, a: PageAck) -> Outcome:
        return self.engine.acknowledge(a.incident, a.name, via="screen")

    def note(self, n: Note) -> Outcome:
        return self.engine.note(n.text)

    def chatops(self, line: str) -> list[str]:
        """A ChatOps approval line against the plan, field by field: its mismatches (none: it
        matches, and a captain's check of it is journaled)."""
        from cockpit.commands import chatops_mismatches

        problems = chatops_mismatches(self.engine.plan, line)
        if not problems and not self.observer:
            self.engine.note(f"ChatOps approval checked against the plan: {line}")
        return problems

