"""The engine: owns the journal, the clock and the adapters; runs commands with no screen.

Every command checks the core's rules first and returns an Outcome with the refusal
reasons when it may not run. Every side effect is journaled around: intent, the call,
the read-back, the verified result. The screen and the CLI only call these commands.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec

from cockpit import rollback_check
from cockpit.adapters.gateway import Gateway, GatewayError, GatewayState
from cockpit.adapters.metrics import MetricsSource
from cockpit.clock import Clock
from cockpit.config import Check, Plan, dump_plan, plan_digest, same_plan
from cockpit.core import events as ev
from cockpit.core import rules, words
from cockpit.core.state import KillState, RolloutState, fold
from cockpit.outcome import Outcome
from cockpit.store import JournalLike
from cockpit.store.chain import Deposed, JournalError, StoreUnreachable
from cockpit.store.kept import kept_records, kept_stamp


class CheckAnswer(Protocol):
    """What a check runner answers (adapters.checks.Outcome): journaled as a CheckRan."""

    @property
    def status(self) -> ev.CheckStatus: ...
    @property
    def detail(self) -> str: ...
    @property
    def evidence(self) -> dict[str, Any]: ...
    @property
    def duration_s(self) -> float: ...


CheckRunner = Callable[[Check], Awaitable[CheckAnswer]]
READ_ONLY = "observer mode: read-only (this terminal cannot change the rollout)"


log = logging.getLogger("cockpit.engine")


class EngineError(Exception):
    """The engine cannot run on this journal/config as they are."""


# Provisional seqs: far past any journal's end (so nothing they key, the outbox, meets a journaled
# seq), and apart per process (the side file may hold two processes' events).
PROVISIONAL = 10**12
_PROVISIONAL_SEQS = itertools.count(PROVISIONAL + os.getpid() * 10**6 + 1)


@dataclass
class Held:
    """An event the journal would not take (a full or read-only disk, a broken chain), folded all the same.

    The state moves on without the journal: an incident opened, a page queued, a kill requested
    while the disk is full are in the state, so pages go out, the escalation climbs and the rollback
    notice is sent. The event is folded as a provisional record (seq from PROVISIONAL; hash the
    journal's head then, which a rollback notice quotes) and kept in the side file when it can be
    written, else in memory (never a later one in the file before an earlier one in memory). The
    first append that works journals them late, in order, with their own times and actors: the
    engine's own, a round's retry (`write_held`), or another process's for the side file. When the
    journal shows them, the state is folded again from the journal with what still waits on top,
    so it equals a replay (the core's fold stays pure and deterministic). A `notified` names its
    queued message by provisional seq until that is journaled (store.kept.write_late relinks it);
    a delivery keeps the key it started under (`Engine.delivery_key`)."""

    record: ev.Record
    error: str  # why the journal refused it
    kept: bool = False  # in the side file; else in this process's memory only


def _same_event(held: ev.Record, journaled: ev.Record) -> bool:
    """A held record and a journaled line are one event (its reference to a queued message aside)."""
    if (held.kind, held.ts, held.actor) != (journaled.kind, journaled.ts, journaled.actor):
        return False
    a, b = held.payload, journaled.payload
    if isinstance(a, ev.Notified) and isinstance(b, ev.Notified):
        a, b = msgspec.structs.replace(a, queued=0), msgspec.structs.replace(b, queued=0)
    return a == b


def recordable(payload: ev.Payload, actor: ev.Actor, ts) -> ev.Payload:
    """The payload as a replay will read it back from its line. An event is never lost for its
    text: a string the journal cannot encode (a non-UTF-8 byte from a terminal reaches us as a lone
    surrogate) is written with it escaped (\\xe9), and an event not valid even so becomes a note
    that says what it was."""
    for candidate in (payload, escaped(payload)):
        try:
            line = msgspec.json.encode(ev.make_record(seq=1, ts=ts, actor=actor, payload=candidate, prev=ev.GENESIS))
            return ev.parse_record(line).payload
        except (msgspec.MsgspecError, TypeError, ValueError):  # UnicodeEncodeError is a ValueError
            continue
    fields = {f: getattr(payload, f, None) for f in payload.__struct_fields__}
    return ev.Noted(text=escaped(f"{payload.KIND} could not be journaled as it was: {fields!r}"))


def escaped(value):
    """`value` with every lone surrogate in its strings written out: a byte smuggled in by
    surrogateescape as \\xNN, any other as \\uNNNN. Structs, tuples, lists and dicts are walked."""
    if isinstance(value, str):
        try:
            value.encode()
            return value
        except UnicodeEncodeError:
            return "".join(_escape_char(c) for c in value)
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(value, **{f: escaped(getattr(value, f)) for f in value.__struct_fields__})
    if isinstance(value, (tuple, list)):
        return type(value)(escaped(v) for v in value)
    if isinstance(value, dict):
        return {escaped(k): escaped(v) for k, v in value.items()}
    return value


def _escape_char(c: str) -> str:
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:
        return f"\\x{n - 0xDC00:02x}"
    return f"\\u{n:04x}" if 0xD800 <= n <= 0xDFFF else c


NOT_RECORDED = "not recorded, and nothing was sent to the gateway"


def journal_refuses(command):
    """A command whose journal write fails is refused, in words, instead of raising.

    Every gateway call is journaled first (its intent), so a write that fails before one
    means nothing was sent; what a command learns after a gateway call is kept aside
    (`Engine._keep`) rather than raised. The screen and the CLI then say it like any refusal.
    """
    def refused(e: Exception) -> Outcome:
        return Outcome.refused([f"JOURNAL NOT WRITTEN: {e}: {NOT_RECORDED}"])

    if inspect.iscoroutinefunction(command):
        @functools.wraps(command)
        async def run_async(*args, **kwargs) -> Outcome:
            try:
                return await command(*args, **kwargs)
            except (JournalError, OSError) as e:
                return refused(e)
        return run_async

    @functools.wraps(command)
    def run(*args, **kwargs) -> Outcome:
        try:
            return command(*args, **kwargs)
        except (JournalError, OSError) as e:
            return refused(e)
    return run


def plan_snapshot(plan: Plan) -> ev.PlanLoaded:
    return ev.PlanLoaded(
        release=plan.release.name,
        version=plan.release.version,
        environment=plan.release.environment,
        region=plan.release.region,
        digest=plan_digest(plan),
        phases=tuple(
            ev.PhaseSpec(
                name=p.name,
                weight=p.weight,
                soak_s=p.soak.total_seconds(),
                owners=tuple(p.gate.owners),
                criteria=tuple(c.id for c in p.gate.auto),
                manual=tuple(p.gate.manual),
            )
            for p in plan.phases
        ),
        checks=tuple(c.id for c in plan.preflight),
        sign_offs=tuple(plan.sign_offs),
        roles={k: r.title for k, r in plan.roles.items()},
        triggers=tuple(t.id for t in plan.triggers),
        freeze=tuple(
            (c.weekday, c.start.strftime("%H:%M"), c.end.strftime("%H:%M"))
            for c in plan.preflight
            if c.type == "freeze_window"
        ),
        document=dump_plan(plan),
    )


NOT_THE_PLAN = {"state", "state_dir"}  # where the record is kept: two bastions may differ (config.same_plan)


def plan_differences(journaled: dict, here: dict, most: int = 3) -> str:
    """"; it differs in release.name ('a' in the journal, 'b' here), ...": what a person must restore,
    or ask about (another rollout on the same prefix), instead of two digests. Empty when nothing shows."""
    found: list[str] = []

    def walk(was: Any, now: Any, at: str) -> None:
        if was == now or len(found) > most:
            return
        if isinstance(was, dict) and isinstance(now, dict):
            for key in sorted(set(was) | set(now), key=str):
                if not (at == "" and key in NOT_THE_PLAN):
                    walk(was.get(key), now.get(key), f"{at}.{key}" if at else str(key))
        elif isinstance(was, list) and isinstance(now, list) and len(was) == len(now):
            for i, (a, b) in enumerate(zip(was, now, strict=True)):
                walk(a, b, f"{at}[{i}]")
        else:
            found.append(f"{at} ({_shown(was)} in the journal, {_shown(now)} here)")

    walk(journaled or {}, here, "")
    if not found:
        return ""
    more = ", and more" if len(found) > most else ""
    return f"; it differs in {', '.join(found[:most])}{more}"


def _shown(value: Any) -> str:
    text = "absent" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Engine:
    def __init__(
        self,
        plan: Plan,
        journal: JournalLike,
        *,
        clock: Clock,
        actor: ev.Actor,
        gateway: Gateway | None = None,
        check_runner: CheckRunner | None = None,
        metrics: MetricsSource | None = None,
    ):
        self.plan = plan
        self.journal = journal
        self.clock = clock
        self.actor = escaped(actor)  # a user or host name the journal could not encode loses no event
        self.gateway = gateway
        self.check_runner = check_runner
        self.metrics = metrics  # blocking: only ever called in a worker thread
        self.rollback_check: asyncio.Task | None = None  # the second verification of a confirmed kill
        self.rollback_last = ""  # what the canary traffic check read last ("" before any reading)
        self.follower = journal.readonly
        self.state: RolloutState = fold(journal.records)
        self._journaled = len(journal.records)  # how many of the journal's records are folded
        self.held: list[Held] = []  # folded, not journaled yet, oldest first
        self._late: dict[int, int] = {}  # provisional seq -> the seq it was journaled at
        self._first: dict[int, int] = {}  # the other way round (delivery_key)
        self._keep_error = ""  # why the side file refused the last event kept in memory
        self._others: list[ev.Record] = []  # other processes' kept events, folded on top (`_follow_kept`)
        self._kept_stamp: tuple[int, int, int] | None = None
        self.running_checks: set[str] = set()
        self._listeners: list[Callable[[ev.Record], None]] = []
        self._kill_lock = asyncio.Lock()
        self.silence_failed = False  # Alertmanager refused the rollout's silence (said once; guard_work)
        # The guard's fence (on a store with a lease epoch): asked before every gateway call made on
        # the guard's behalf; "" while this engine may act, else why not (the guard was deposed).
        self.may_act: Callable[[], str] | None = None
        self.deposed = ""  # why this engine acts and appends no more: its guard lost the lease
        self.store_down = ""  # why the store cannot be reached (the guard says): events are kept at once
        if self._follow_kept():
            self._refold()

    # -- journal -------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[ev.Record], None]) -> None:
        """Called with every record folded in, ours or another process's, in journal order."""
        self._listeners.append(listener)

    def _fold(self, records: list[ev.Record]) -> None:
        for record in records:
            self.state.apply(record)
            for listener in self._listeners:
                listener(record)

    def _append(self, payload: ev.Payload) -> ev.Record:
        """Journal one event, or raise JournalError: when the journal will not take it, and when
        events held before it cannot be journaled first (they come first: the journal keeps order)."""
        payload = recordable(payload, self.actor, self.clock.now())
        if self.store_down:  # a guard's, on a store that did not answer: not asked again this round
            raise StoreUnreachable(self.store_down)
        if self.may_act is None and (silent := self.journal.unanswered):  # a screen's last read got no answer:
            raise StoreUnreachable(f"{silent} (not asked again before it answers a read)")  # a kill does not wait
        try:
            if self.held:
                if n := self.write_held():  # said here too: a delivery's record may journal them before a round does
                    log.warning("journaled late: %d events the journal would not take, before %s", n, payload.KIND)
                if self.held:
                    raise JournalError(f"{self.held[0].error} ({len(self.held)} earlier events wait to be "
                                       "journaled first)")
            _, record = self.journal.append(self._relinked(payload), actor=self.actor, ts=self.clock.now())
        except StoreUnreachable as e:
            self._store_lost(e)
            raise
        finally:
            self._catch_up()  # what the journal read, failed or not, is folded all the same
        return record

    def _catch_up(self) -> list[ev.Record]:
        """Fold the journal's records not folded yet; held events among them were journaled late
        (by us, a round's retry or another process's append): the state is folded again from the
        journal, with what still waits on top, so that it is what a replay will read."""
        records = self.journal.records
        new = records[self._journaled:]
        self._journaled = len(records)
        fresh, late = [], False
        for r in new:
            if self.held and _same_event(self.held[0].record, r):
                pseq = self.held.pop(0).record.seq
                self._late[pseq], self._first[r.seq], late = r.seq, pseq, True
            else:
                fresh.append(r)
        kept_changed = self._follow_kept()
        if not (late or kept_changed or self._others):
            self._fold(fresh)
            return new
        for h in self.held:
            h.record = msgspec.structs.replace(h.record, payload=self._relinked(h.record.payload))
        self._refold()
        for record in fresh:
            for listener in self._listeners:
                listener(record)
        return new

    def _refold(self) -> None:
        """The state folded again from the journal, with what is not journaled yet on top: our own
        held events, then other processes' kept ones."""
        self.state = fold(self.journal.records)
        for record in [h.record for h in self.held] + self._others:
            self.state.apply(record)

    def _follow_kept(self) -> bool:
        """Read the side file again when it changed: the events another process (a guard, a
        `cockpit kill`) keeps there because the journal would not take them are facts every face
        folds, so that a kill verified at the gateway never reads as LIVE. True when they changed."""
        state_dir = self.journal.state_dir
        stamp = kept_stamp(state_dir)
        if stamp == self._kept_stamp:
            return False
        self._kept_stamp = stamp
        mine = {h.record.seq for h in self.held}
        head = self.journal.records[-1].hash if self.journal.records else ev.GENESIS
        others = [r for r in kept_records(state_dir, head) if r.seq not in mine] if stamp else []
        if not others and not self._others:
            return False
        self._others = others
        return True

    def _keep(self, payload: ev.Payload, alarms: list[str], aside: list[ev.Payload]) -> ev.Record | None:
        """Journal it; when the journal will not take it, hold it (`Held`) and say so in `alarms`.

        For what must happen whatever state the journal is in (the kill and what leads to it, what
        the guard learns): the caller goes on, and puts `alarms` in front of the operator.
        """
        payload = recordable(payload, self.actor, self.clock.now())
        if self.deposed:
            alarms.append(f"NOT APPENDED ({payload.KIND}): {self.deposed}")
            return None
        try:
            return self._append(payload)  # a guard's store that did not answer is not asked again: kept at once
        except Deposed as e:
            self.deposed = str(e)
            alarms.append(f"NOT APPENDED ({payload.KIND}): {e}")
            return None
        except (JournalError, OSError) as e:
            error = str(e)
        aside.append(payload)
        record, kept = self._hold(payload, error)
        if isinstance(kept, Path):
            where = f"kept in {kept}; journaled when the journal takes writes again"
        else:
            from cockpit.narrate import say

            why = "" if kept in error else f" ({kept})"
            where = f"NOT KEPT either{why}: held in this process's memory only: {say(record)}"
        alarms.append(f"JOURNAL NOT WRITTEN ({payload.KIND}): {error}; {where}")
        return None

    def record(self, payload: ev.Payload) -> ev.Record | None:
        """Journal what the guard learns or does; never raises: what the journal will not take is
        held (and folded) all the same, and said in the log. None when it was not journaled."""
        if self.follower:
            return None  # an observer never writes, not even aside
        alarms: list[str] = []
        record = self._keep(payload, alarms, [])
        for alarm in alarms:
            log.error("%s", alarm)
        return record

    # -- what the journal would not take --------------------------------------------------------

    def _hold(self, payload: ev.Payload, error: str) -> tuple[ev.Record, Path | str]:
        """Fold it as a provisional record and keep it: in the side file when it can be written
        (and every event held before it is there), else in memory. Returns the record and the
        side file, or why it is in memory only."""
        head = self.journal.records[-1].hash if self.journal.records else ev.GENESIS
        record = ev.make_record(seq=next(_PROVISIONAL_SEQS), ts=self.clock.now(), actor=self.actor,
                                payload=self._relinked(payload), prev=head)
        held = Held(msgspec.structs.replace(record, hash=head), error)
        self.held.append(held)
        kept = self._keep_in_order()
        self._fold([held.record])
        return held.record, kept if kept is not None else self._keep_error  # None: this one, the last, was refused

    def _keep_in_order(self) -> Path | None:
        """Put the held events the side file lacks there, oldest first; stop at the first it refuses
        (a later one never goes before an earlier one). The side file, or None when one was refused."""
        path = None
        for h in self.held:
            if h.kept:
                continue
            r = h.record
            try:
                path = self.journal.keep_aside(self._relinked(r.payload), actor=r.actor, ts=r.ts, error=h.error,
                                               pseq=r.seq)
            except (JournalError, OSError) as e:
                self._keep_error = str(e)
                return None
            h.kept = True
        return path

    def write_held(self) -> int:
        """Journal the held events now, late and in order, if the journal takes them: through the
        side file (one JournaledLate before them, under one lock), or one by one when only the journal
        can be written. Never raises; returns how many were journaled. The guard calls it each round."""
        before = len(self.held)
        if not before or self.deposed:
            return 0
        try:
            self._keep_in_order()
            if self.held[0].kept:
                self.journal.journal_kept()
                self._catch_up()
                for h in self.held:  # journaled and cleared: one still here was lost with the side file
                    h.kept = False
                self._keep_in_order()
            if self.held and not any(h.kept for h in self.held):
                first = self.held[0]
                self.journal.append(ev.JournaledLate(count=len(self.held), error=first.error), actor=self.actor,
                                    ts=self.clock.now())
                for h in list(self.held):
                    r = h.record
                    self.journal.append(self._relinked(r.payload), actor=r.actor, ts=r.ts)
                    self._catch_up()
        except Deposed as e:
            self.deposed = str(e)  # a deposed guard journals nothing late: the holder's journal moved on
        except (JournalError, OSError):
            pass  # still held: tried again next round
        finally:
            self._catch_up()
        return before - len(self.held)

    @property
    def unrecorded(self) -> list[Held]:
        """Held events in this process's memory only: lost if it ends before the journal takes them."""
        return [h for h in self.held if not h.kept]

    def delivery_key(self, seq: int) -> int:
        """The key a queued message is delivered under: the seq it was first folded at, so that a
        delivery started before it was journaled late is not started again under its new seq."""
        return self._first.get(seq, seq)

    def _relinked(self, payload: ev.Payload) -> ev.Payload:
        from cockpit.store.kept import relinked

        return relinked(payload, self._late)

    def refresh(self) -> list[ev.Record]:
        """Fold in what other processes appended (an observer's follow, a headless kill). A store
        that does not answer is not asked each round: the guard asks it again through its lease."""
        try:
            if not self.store_down:
                self._poll()
        finally:
            new = self._catch_up()
        return new

    async def follow(self) -> list[ev.Record]:
        """refresh() with the journal read on a thread, folded in here: a screen on a journal across the
        network (etcd) goes on drawing and taking keys while the store does not answer (no quorum)."""
        try:
            if not self.store_down:
                await asyncio.to_thread(self._poll)
        finally:
            new = self._catch_up()
        return new

    def _poll(self) -> None:
        try:
            self.journal.poll()
        except StoreUnreachable as e:
            self._store_lost(e)
            raise

    def _store_lost(self, e: StoreUnreachable) -> None:
        """A guard's engine on etcd (it has a fence): the kill path that follows keeps its events at once,
        asking a store that did not answer no more until the guard's renewal finds it again."""
        if self.may_act is not None:
            self.store_down = str(e)

    def ensure_plan(self) -> None:
        """Journal the plan on first run; refuse a changed plan once the rollout is live."""
        snapshot = plan_snapshot(self.plan)
        current = self.state.plan
        if current is not None and same_plan(self.plan, current.digest):
            return
        if self.follower:
            if current is None:
                raise EngineError("the journal has no plan yet: start the captain first (cockpit run)")
            raise EngineError(
                f"this config ({snapshot.digest[:12]}) differs from the plan the captain runs ({current.digest[:12]})"
                f"{plan_differences(current.document, snapshot.document)}"
            )
        if current is not None and self.state.status != "preflight":
            raise EngineError(
                f"the config changed (plan {current.digest[:12]} -> {snapshot.digest[:12]}) "
                f"but the rollout is {self.state.status}: restore the config it started with"
                f"{plan_differences(current.document, snapshot.document)}"
            )
        self._append(snapshot)

    def _guard(self) -> Outcome | None:
        return Outcome.refused([READ_ONLY]) if self.follower else None

    # -- preflight -----------------------------------------------------------------------------

    @journal_refuses
    async def run_preflight(self, check_id: str | None = None) -> Outcome:
        """Run one check, or all of them concurrently; each result is journaled with its evidence."""
        if refused := self._guard():
            return refused
        if self.check_runner is None:
            return Outcome.refused(["no check runner configured"])
        checks = [c for c in self.plan.preflight if check_id in (None, c.id)]
        if not checks:
            return Outcome.refused([f"no preflight check named {check_id}"])
        checks = [c for c in checks if c.id not in self.running_checks]
        self.running_checks.update(c.id for c in checks)
        try:
            outcomes = await asyncio.gather(*(self.check_runner(c) for c in checks))
        finally:
            self.running_checks.difference_update(c.id for c in checks)
        records = [
            self._append(
                ev.CheckRan(
                    check=c.id, status=o.status, detail=o.detail, evidence=o.evidence, duration_s=o.duration_s
                )
            )
            for c, o in zip(checks, outcomes, strict=False)
        ]
        return Outcome(True, records=records)

    @journal_refuses
    def waive(self, check: str, reason: str) -> Outcome:
        if refused := self._guard():
            return refused
        if reasons := rules.waive_refusals(self.state, check, reason):
            return Outcome.refused(reasons)
        return Outcome(True, records=[self._append(ev.CheckWaived(check=check, reason=reason.strip()))])

    @journal_refuses
    def sign_off(self, role: str, name: str, note: str = "") -> Outcome:
        if refused := self._guard():
            return refused
        if not name.strip():
            return Outcome.refused(["a sign-off needs the signer's name"])
        if reasons := rules.sign_off_refusals(self.state, role):
            return Outcome.refused(reasons)
        return Outcome(True, records=[self._append(ev.SignedOff(role=role, name=name.strip(), note=note))])

    # -- the rollout ---------------------------------------------------------------------------

    @journal_refuses
    async def start(self) -> Outcome:
        """Start the rollout and shift to the first phase's weight."""
        if refused := self._guard():
            return refused
        if reasons := rules.start_refusals(self.state, self.clock.now()):
            return Outcome.refused(reasons)
        started = self._append(ev.RolloutStarted())
        outcome = await self._enter_phase(0)
        outcome.records.insert(0, started)
        return outcome

    @journal_refuses
    async def advance(self) -> Outcome:
        """Move to the next phase, or from the last phase complete the rollout."""
        if refused := self._guard():
            return refused
        if reasons := rules.advance_refusals(self.state, self.clock.now()):
            return Outcome.refused(reasons)
        nxt = rules.next_phase(self.state)
        if nxt is None:
            return Outcome(True, records=[self._append(ev.RolloutCompleted())])
        return await self._enter_phase(nxt)

    async def _enter_phase(self, phase: int) -> Outcome:
        weight = self.plan.phases[phase].weight
        shifted = await self._shift(weight, phase)
        if not shifted.ok:
            return shifted
        aside = shifted.unjournaled  # kept in order: a write that works again journals them first
        record = self._keep(ev.PhaseStarted(phase=phase, weight=weight), shifted.reasons, aside)
        return Outcome(True, shifted.reasons, shifted.records + [r for r in [record] if r], aside)

    async def _shift(self, weight: int, phase: int) -> Outcome:
        """Intent, gateway call, read-back, verified result: never "done" on the caller's word."""
        if self.gateway is None:
            return Outcome.refused(["no gateway configured"])
        intent = self._append(ev.TrafficShiftRequested(weight=weight, phase=phase))
        alarms: list[str] = []  # from here on the gateway may have changed: a failed write is kept aside
        aside: list[ev.Payload] = []
        try:
            await self.gateway.set_weight(weight)
            seen = await self.gateway.read()
        except GatewayError as e:
            result = self._keep(ev.TrafficShiftResult(weight=weight, verified=False, error=str(e)), alarms, aside)
            return Outcome(False, [f"traffic shift to {weight} % failed: {e}"] + alarms,
                           [r for r in (intent, result) if r], aside)
        share = self._share(seen)
        verified = share == weight
        error = "" if verified else f"gateway reads back {self._describe(seen)}, wanted {weight} %"
        result = self._keep(
            ev.TrafficShiftResult(weight=weight, verified=verified, observed_weight=share, error=error), alarms, aside
        )
        return Outcome(verified, ([error] if error else []) + alarms, [r for r in (intent, result) if r], aside)

    def _share(self, seen: GatewayState) -> int | None:
        """The canary's real share of traffic: 0 with the kill flag set, whatever weight it keeps."""
        return 0 if seen.enabled is self.plan.kill_switch.value else seen.weight

    def _describe(self, seen: GatewayState) -> str:
        flag = self.plan.kill_switch.flag
        return f"weight {seen.weight}, {flag}={'unknown' if seen.enabled is None else str(seen.enabled).lower()}"

    @journal_refuses
    async def shift(self, weight: int) -> Outcome:
        """An operator shift outside the TUI (see rules.shift_refusals): up one phase is an advance;
        the current weight is re-asserted; an earlier phase's weight is a partial rollback that
        restarts that phase's soak and gate."""
        if refused := self._guard():
            return refused
        if reasons := rules.shift_refusals(self.state, weight, self.clock.now()):
            return Outcome.refused(reasons)
        target = rules.phase_of_weight(self.state, weight)
        assert target is not None  # shift_refusals refuses a weight no phase has
        if target == rules.next_phase(self.state):
            return await self.advance()
        if target == self.state.phase:
            return await self._shift(weight, target)
        return await self._enter_phase(target)

    @journal_refuses
    async def reconcile(self) -> Outcome:
        """On start-up: read the gateway back and compare it with the journal.

        A shift intent without a result (a crash in between) is resolved by what the gateway
        reads; an interrupted phase start is completed when the shift took effect; a kill
        without a result is pulled again. A disagreement is journaled loudly, never corrected
        behind the operator's back (someone may have changed the gateway on purpose).
        """
        if refused := self._guard():
            return refused
        if self.state.plan is None:
            return Outcome.refused(["no plan loaded in this journal"])
        if self.gateway is None:
            return Outcome.refused(["no gateway configured"])
        st = self.state
        if st.status == "killing" and st.kill is not None:
            return await self._resume_kill(st.kill)
        pending = st.pending_shift
        try:
            seen = await self.gateway.read()
        except GatewayError as e:
            detail = f"cannot read the gateway back: {e}"
            if pending:
                detail += f"; the shift to {pending.weight} % stays unconfirmed"
            record = self._append(ev.GatewayReconciled(
                journal_weight=st.weight, observed_weight=None, observed_enabled=None, agrees=False, detail=detail
            ))
            return Outcome(False, [detail], [record])
        share = self._share(seen)
        agrees, detail, completes = self._compare(share, seen, pending)
        records = [self._append(ev.GatewayReconciled(
            journal_weight=st.weight, observed_weight=seen.weight, observed_enabled=seen.enabled,
            observed_share=share, agrees=agrees, detail=detail,
        ))]
        if completes is not None:
            assert share is not None  # it equals the pending shift's weight
            records.append(self._append(ev.PhaseStarted(phase=completes, weight=share)))
        return Outcome(agrees, [] if agrees else [detail], records)

    def _compare(self, share: int | None, seen: GatewayState, pending: ev.TrafficShiftRequested | None
                 ) -> tuple[bool, str, int | None]:
        """(agrees, what the operator should read, the interrupted phase start to complete)."""
        st, reads = self.state, f"the gateway reads {self._describe(seen)} (canary share {share} %)"
        if pending is not None:
            what = f"the shift to {pending.weight} % has no journaled result (interrupted)"
            if share == pending.weight:
                assert st.plan is not None  # reconcile refuses a journal without one
                starts = pending.phase if 0 <= pending.phase != st.phase and st.status == "live" else None
                then = f"; {st.plan.phases[starts].name} starts now" if starts is not None else ""
                return True, f"{what}; {reads}: it took effect{then}", starts
            if share == st.weight:
                return True, f"{what}; {reads}: it did not take effect, still {st.weight} %", None
            return False, f"{what}; {reads}: neither {pending.weight} % nor {st.weight} %", None
        phase_share = rules.expected_share(st)  # a drift the guard journaled lowered st.weight, not the phase's
        expected = (0 if st.status in ("rolled_back", "kill_unconfirmed")
                    else st.weight if phase_share is None else phase_share)
        if share == expected:
            note = ("; the kill is still NOT CONFIRMED in the journal: pull it again"
                    if st.status == "kill_unconfirmed" else "")
            return True, f"{reads}, as journaled{note}", None
        return False, f"the journal says {expected} % ({st.status}) but {reads}", None

    async def _resume_kill(self, kill: KillState) -> Outcome:
        """A kill requested with no result journaled: the process died mid-kill. Pull it again."""
        detail = (f"the kill pulled at {words.clock(kill.requested_at)} by {kill.by} has no journaled result "
                  "(interrupted): pulling it again")
        alarms: list[str] = []
        aside: list[ev.Payload] = []
        record = self._keep(ev.GatewayReconciled(
            journal_weight=self.state.weight, observed_weight=None, observed_enabled=None, agrees=False, detail=detail
        ), alarms, aside)
        out = await self.kill(f"resuming the interrupted kill: {kill.reason}", trigger=kill.trigger)
        return Outcome(out.ok, [detail] + alarms + out.reasons, [r for r in [record] if r] + out.records,
                       aside + out.unjournaled)

    @journal_refuses
    def decide(self, role: str, decision: str, name: str, note: str = "") -> Outcome:
        """Record one owner role's GO or NO-GO for the current phase's gate."""
        if refused := self._guard():
            return refused
        if decision not in ("GO", "NO-GO"):
            return Outcome.refused([f"a decision is GO or NO-GO, not {decision!r}"])
        if not name.strip():
            return Outcome.refused(["a decision needs the name of who decided"])
        phase = self.state.phase if self.state.phase is not None else -1
        if reasons := rules.decide_refusals(self.state, phase, role):
            return Outcome.refused(reasons)
        said: ev.Decision = "GO" if decision == "GO" else "NO-GO"  # one of the two, refused above otherwise
        payload = ev.GateDecided(phase=phase, role=role, decision=said, name=name.strip(), note=note.strip())
        return Outcome(True, records=[self._append(payload)])

    def observe_gateway(self, seen: GatewayState) -> ev.Record | None:
        """The guard's read of the gateway each round: a share that is not the journal's is
        journaled once (GATEWAY DRIFT: the advance is refused until it agrees), and so is its end."""
        if self.follower:
            return None
        share = self._share(seen)
        drift = rules.gateway_drift(self.state, share)
        if drift == self.state.gateway_drift:
            return None  # agrees, or the drift is journaled already
        expected = rules.expected_share(self.state)
        return self.record(ev.GatewayReconciled(
            journal_weight=self.state.weight if expected is None else expected, observed_weight=seen.weight,
            observed_enabled=seen.enabled, observed_share=share, agrees=not drift,
            detail=drift or f"the gateway reads canary {share} % again, as the journal says",
        ))

    def observe_criterion(self, criterion: str, passed: bool, value: float | None, detail: str) -> ev.Record | None:
        """The monitor's verdict on a gate criterion; journaled only when the verdict changes."""
        if self.follower or self.state.phase is None or not self.state.live:
            return None
        previous = self.state.gate(self.state.phase).criteria.get(criterion)
        if previous is not None and previous.passed == passed:
            return None
        return self.record(
            ev.CriterionEvaluated(phase=self.state.phase, criterion=criterion, passed=passed, value=value,
                                  detail=detail)
        )

    def observe_judgment(self, judgment: ev.JudgmentMade) -> ev.Record | None:
        """The guard's judgment of the canary against its baseline (cockpit.judging): every one is
        journaled, so the gate, the faces and the evidence read the same numbers."""
        if self.follower or self.state.phase is None or not self.state.live:
            return None
        return self.record(judgment)

    async def observe_trigger(self, trigger, verdict) -> list[ev.Record]:
        """The monitor's verdict on a trigger. Journals transitions only; a fired trigger acts.

        `trigger` is the config Trigger, `verdict` a core.triggers.WindowVerdict.
        A journal that will not take the verdict does not stop the action: a fired rollback
        trigger still pulls the kill (the verdict is held and folded: it fires once), and what the
        journal did not take is said in the log.
        """
        if self.follower or self.state.status != "live":
            return []
        current = self.state.triggers.get(trigger.id)
        breaching_now = verdict.state in ("breaching", "fired", "no_data_hold")
        no_data = verdict.state == "no_data_hold"
        records: list[ev.Record | None] = []
        alarms: list[str] = []
        aside: list[ev.Payload] = []
        if breaching_now and (current is None or not current.breaching or current.no_data != no_data):
            payload = ev.TriggerBreached(
                trigger=trigger.id, value=verdict.value, threshold=verdict.threshold, detail=verdict.why,
                no_data=no_data,
            )
            records.append(self._keep(payload, alarms, aside))
        elif not breaching_now and current is not None and current.breaching:
            records.append(self._keep(ev.TriggerCleared(trigger=trigger.id, detail=verdict.why), alarms, aside))
        if verdict.state == "fired" and (current is None or current.fired is None):
            fired = ev.TriggerFired(
                trigger=trigger.id,
                action=trigger.action,
                level=trigger.level,
                value=verdict.value,
                threshold=verdict.threshold,
                window_s=verdict.needed_s,
                detail=verdict.why,
            )
            records.append(self._keep(fired, alarms, aside))
            records += await self._act(trigger, verdict, alarms)
        if alarms:
            log.error("trigger %s: %s", trigger.id, "; ".join(alarms))
        return [r for r in records if r is not None]

    async def _act(self, trigger, verdict, alarms: list[str]) -> list[ev.Record]:
        if trigger.action == "rollback":
            out = await self.kill(f"trigger {trigger.id} fired: {verdict.why}", trigger=trigger.id)
            if out.unjournaled:
                verdict_word = "VERIFIED at the gateway" if out.ok else "KILL NOT CONFIRMED"
                alarms.insert(0, f"kill pulled: {verdict_word}")
                alarms += [r for r in out.reasons if r not in alarms]
            return out.records
        if trigger.action == "page":
            level = self.plan.level(trigger.level)
            channel = level.channel if level else ""
            payload = ev.Escalated(level=trigger.level, reason=f"{trigger.name}: {verdict.why}", channel=channel)
            return [r for r in [self._keep(payload, alarms, [])] if r]
        return []  # hold: a breaching trigger already blocks advancing until it clears

    @journal_refuses
    def acknowledge(self, incident: str, name: str, via: str = "cli") -> Outcome:
        """Someone has it: the incident stops climbing, and every channel paged is told."""
        if refused := self._guard():
            return refused
        inc = self.state.incidents.get(incident)
        if not name.strip():
            return Outcome.refused(["an acknowledgement needs the name of who acknowledges"])
        if inc is None:
            known = ", ".join(sorted(i.id for i in self.state.incidents.values() if i.open)) or "none open"
            return Outcome.refused([f"no incident {incident} (open: {known})"])
        if not inc.open:
            return Outcome.refused([f"{incident} is resolved already ({inc.resolution})"])
        if inc.acknowledged:
            return Outcome.refused([f"{incident} was acknowledged by {inc.acked_by} at {words.clock(inc.acked_at)}"])
        return Outcome(True, records=[self._append(ev.IncidentAcknowledged(incident=incident, name=name.strip(),
                                                                           via=via))])

    def record_delivery(self, key: int, queued: ev.NotificationQueued, delivery) -> ev.Record | None:
        """A delivery's outcome (the Notifier's callback): journaled, delivered or not. `key`: the
        seq the message was submitted under (delivery_key); the result names the seq it has now."""
        return self.record(delivery.notified(self._late.get(key, key), queued))

    @journal_refuses
    def post_deploy_done(self, item: str, name: str, note: str = "") -> Outcome:
        """Tick an item of the post-deployment plan off, with who did it (core.postdeploy's rule)."""
        from cockpit.core.postdeploy import tick_refusal

        if refused := self._guard():
            return refused
        if not name.strip():
            return Outcome.refused(["a post-deployment item needs the name of who did it"])
        if why := tick_refusal(self.state, item):
            return Outcome.refused([why])
        return Outcome(True, records=[self._append(ev.PostDeploymentDone(item=item, name=name.strip(),
                                                                         evidence=note.strip()))])

    @journal_refuses
    def note(self, text: str) -> Outcome:
        if refused := self._guard():
            return refused
        if not text.strip():
            return Outcome.refused(["an empty note"])
        return Outcome(True, records=[self._append(ev.Noted(text=text.strip()))])

    # -- the kill switch -----------------------------------------------------------------------

    async def kill(self, reason: str, *, trigger: str = "") -> Outcome:
        """Pull the kill switch: flag off at the gateway, read back, journal the verdict.

        Idempotent (a second pull re-asserts the flag); bounded retries with backoff; a kill
        the gateway does not confirm is KILL NOT CONFIRMED and escalates to Emergency. A
        journal that will not take its events never stops it: they are kept aside (Outcome
        `unjournaled`) and the reasons say JOURNAL NOT WRITTEN, confirmed or not.
        """
        if refused := self._guard():
            return refused
        if reasons := rules.kill_refusals(self.state):
            # A journal that does not verify may have lost the start or the plan: "not started" is
            # then a guess, and a needless kill costs nothing. A completed rollout stays refused.
            if not (getattr(self.journal, "broken", None) and self.state.status != "completed"):
                return Outcome.refused(reasons)
        if not reason.strip():
            return Outcome.refused(["the kill switch needs a reason"])
        if self.gateway is None:
            return Outcome.refused(["no gateway configured"])
        if why := self._fenced_off():
            return Outcome.refused([why])
        async with self._kill_lock:
            records: list[ev.Record] = []
            alarms: list[str] = []  # the journal would not take an event: said loudly, kept aside
            aside: list[ev.Payload] = []

            def journal(payload: ev.Payload) -> None:
                if (record := self._keep(payload, alarms, aside)) is not None:
                    records.append(record)

            before = self.state.kill
            # A re-pull of a kill the gateway already failed to confirm: Emergency was told of it once.
            failed_before = (before is not None and before.failed_at is not None
                             and self.state.status == "kill_unconfirmed")
            journal(ev.KillRequested(reason=reason.strip(), trigger=trigger))
            attempts, error, seen = await self._pull_flag(self.gateway)
            confirmed = not error
            journal(
                ev.KillResult(
                    confirmed=confirmed,
                    attempts=attempts,
                    observed_weight=seen.weight if seen else None,
                    observed_enabled=seen.enabled if seen else None,
                    error=error,
                )
            )
            if not confirmed and not failed_before:
                emergency = self.plan.escalation[-1]
                journal(
                    ev.Escalated(
                        level=emergency.level,
                        reason=f"KILL NOT CONFIRMED after {attempts} attempts: {error}",
                        channel=emergency.channel,
                    )
                )
            if confirmed:
                rollback_check.start(self)  # on the result as folded, journaled or held
            # The rollback notice to kill_switch.notify (release, trigger or operator, verified
            # result, journal head) is queued by the guard's paging round (paging.round_events).
            reasons = ([] if confirmed else [f"KILL NOT CONFIRMED: {error}"]) + alarms
            return Outcome(confirmed, reasons, records, aside)

    def _fenced_off(self) -> str:
        """Why this engine may not call the gateway for its guard now ("" when it may): asked before
        every call, so a guard deposed while it waited (paused, partitioned) never reaches the gateway."""
        if not self.deposed and self.may_act is not None:
            self.deposed = self.may_act()
        return f"NOT SENT to the gateway: {self.deposed}" if self.deposed else ""

    async def _pull_flag(self, gateway: Gateway) -> tuple[int, str, GatewayState | None]:
        """Set the kill flag and read it back, with bounded retries and backoff: the attempts made,
        the last error ("" once the gateway reads the flag back as set) and what it read last."""
        ks = self.plan.kill_switch
        attempts, error, seen = 0, "", None
        for attempt in range(ks.retries + 1):
            if why := self._fenced_off():
                return attempts, why, seen
            attempts += 1
            try:
                await gateway.set_enabled(ks.value)
                seen = await gateway.read()
                if seen.enabled is ks.value:  # the flag off is 0 % share, whatever weight it keeps
                    error = ""
                    break
                error = f"gateway reads back {ks.flag}={seen.enabled}, weight {seen.weight}"
            except GatewayError as e:
                error = str(e)
            if attempt < ks.retries:
                await asyncio.sleep(0.1 * 2**attempt)  # real backoff: the network is not on our clock
        return attempts, error, seen
