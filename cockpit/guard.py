"""The guard: the one process that evaluates the triggers and acts, with or without a screen.

It holds the guard lease of its store (`Store.guard_lease`: the file store's kernel lock, free the
instant its holder dies; or etcd's lease, see below), follows the journal, runs the monitor's rounds
(poll → evaluate → journal transitions → the engine's kill path) and publishes each round's
`Evaluation`, which the captain's screen, observers and `status` render. A standby waits on the
lease and takes over when it is free (a kernel lock: within a fraction of a second of the holder's
death; etcd: within the lease's TTL and one standby poll); every takeover is journaled.

On etcd the lease has an **epoch** (the guard key's create revision), journaled in `guard_started`.
Every append is fenced on it, the lease is renewed each round, and the epoch is re-checked before
every gateway call made for the guard (`Engine.may_act`): a guard that finds it lost the lease (a
renewal refused, an append refused, another holder seen) stops acting at once, says DEPOSED in
guard.log and exits 9. HAProxy cannot check a token, so the kill stays idempotent (weight 0, flag off).

When etcd does not answer, the trade-off is availability of the kill over its exclusivity, and
never the other way round for anything else:
  - the guard keeps judging and pulls the kill on a breach; the kill does not wait on the store: once
    one etcd call found no member (at most `[state] timeout` per endpoint, once), its events are kept
    aside in this host's side file at once and journaled late, in order, when etcd answers again (the
    guard stays until then: no other bastion can see that file); until it answers no round asks it
    anything: the lease's renewal is tried in a worker thread beside the rounds;
  - while the lease may still be ours (`valid_for()` > 0) it acts as the holder;
  - once it has not renewed for the whole TTL, another guard may hold the lease. If etcd answers
    and names another holder (or none), it is DEPOSED: nothing more is appended or sent. If etcd
    does not answer from here at all, no other holder is visible, and it still pulls the kill on a
    breach, said loudly: a duplicate kill is harmless (the same weight 0), a missed kill is not.
    Its appends stay fenced, so what it kept aside is never journaled by it once another guard holds
    the lease; the guard never re-asserts a weight other than the kill's.

It stops by itself when there is nothing left to protect: the rollout completed, rolled back
with the rollback check done, or still in preflight with no captain at the screen.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cockpit import guard_work, rollback_check
from cockpit.core import events as ev
from cockpit.core.evaluation import Evaluation, GuardId
from cockpit.core.guardsight import GuardSight
from cockpit.engine import Engine
from cockpit.monitor import Monitor
from cockpit.store import FileStore, Store
from cockpit.store.chain import JournalError
from cockpit.store.locks import GUARD_LOCK
from cockpit.store.published import PUBLISHED
from cockpit.store.statedir import StateDirError

LOG = "guard.log"
STANDBY_POLL_S = 0.25  # how often a standby tries the lock: takeover well within a second
REKILL_MAX_S = 300.0  # an unconfirmed kill is pulled again with backoff up to this interval (a leaking one re-asserted)
FLUSH_S = 120.0  # how long a guard that is done waits for deliveries still retrying
STOP_DRAIN_S = 1.0  # how long a guard stopped by SIGTERM waits for them (the next guard delivers the rest)
ACK_POLL_S = 10.0  # a PagerDuty that does not answer about acknowledgements delays no round longer

log = logging.getLogger("cockpit.guard")


class Guard:
    def __init__(
        self, engine: Engine, monitor: Monitor, state_dir: Path, identity: GuardId, *, reason: str = "", attended=None,
        evidence_base: Path | None = None,
        notifier=None,
        store: Store | None = None,
    ):
        """`attended()` says whether a captain is at a screen (default: the captain lock is held).
        `evidence_base` (the config file's directory): collect the evidence bundles from here.
        `notifier` delivers the queued messages (default: the plan's channels, adapters.notify).
        `store`: the plan's (session.open_store); default the file store in `state_dir`."""
        self.engine = engine
        if notifier is None:
            from cockpit.adapters.notify import Notifier

            notifier = Notifier(engine.plan, engine.record_delivery)
        self.notifier = notifier
        self.state_dir = Path(state_dir)
        self.store: Store = store if store is not None else FileStore(self.state_dir)
        self.attended = attended or self._captain_at_a_screen
        self.monitor = monitor
        self.identity = identity
        self.reason = reason
        self.lease = self.store.guard_lease(
            {"user": identity.user, "host": identity.host, "pid": identity.pid, "since": identity.since.isoformat()})
        self.epoch = 0  # the lease's epoch while it held it (0: a kernel lock has none)
        self.deposed = ""  # the DEPOSED line: it lost the lease and acts no more (exit 9)
        self._unreachable = ""  # why the store did not answer, said once a spell
        self._renewing: asyncio.Future | None = None  # a renewal tried beside the rounds while the store hangs
        self.stopping = asyncio.Event()
        self._latest: Evaluation | None = None
        self._rekill_at: datetime | None = None
        self._rekill_every = 0.0
        self._reassert_at: datetime | None = None
        self._reassert_every = 0.0
        self._said: asyncio.Task | None = None  # the last canary traffic check whose outcome was logged
        self._said_text = ""
        self._lock_fd: int | None = None  # the guard lock taken read-only (-1: guarding without it)
        self._publish_error = ""
        self._waits_to_record = ""  # why it stays although done: events only its memory holds (said once)
        self.unrecorded: list = []  # engine.Held events it stopped with that nothing could record
        self.evidence = None
        if evidence_base is not None:  # issue 11: bundles when a phase ends, on rollback, on completion
            from cockpit.evidence import EvidenceHook

            self.evidence = EvidenceHook(engine, state_dir=self.state_dir, base_dir=Path(evidence_base))

    # -- the feed every face reads --------------------------------------------------------------

    def latest(self) -> Evaluation | None:
        return self._latest

    def sight(self) -> GuardSight:
        """What a face in this process sees of its own guard: itself, while it holds the lock, and
        its last round's age on its own clock (in wall seconds)."""
        age = None
        if self._latest is not None and self._latest.at is not None:
            age = max(0.0, (self.engine.clock.now() - self._latest.at).total_seconds()) / self._speed()
        return GuardSight(self.identity.pid if self.lease.held else None, age)

    def _speed(self) -> float:
        return float(getattr(self.engine.clock, "speed", 1.0))

    def publish(self) -> Evaluation:
        """This round, to the faces: in process, and atomically to guard.json (temp file, rename)."""
        self._latest = self.monitor.snapshot(self.identity)
        if self.engine.store_down:  # published where the store is: not asked again this round (faces see its age)
            return self._latest
        try:
            self.store.publish(self._latest)
            self._publish_error = ""
        except OSError as e:  # the faces go UNGUARDED on a stale file; the guard itself keeps guarding
            if str(e) != self._publish_error:  # once, not every round
                log.error("cannot publish %s: %s", self.state_dir / PUBLISHED, e)
            self._publish_error = str(e)
        return self._latest

    # -- the lock -------------------------------------------------------------------------------

    async def acquire(self, *, wait: bool = True) -> bool:
        """Take the guard lock; as a standby, wait for it (until stopped). Journals the takeover."""
        announced = False
        while not self._try_lock():
            if not wait or self.stopping.is_set():
                return False
            if not announced:
                holder = _holder_of(self.store)
                log.info("standby: the guard lock is held by %s; taking over when it dies", holder)
                announced = True
            await self._wait(STANDBY_POLL_S, wall=True)
        prev = self.lease.previous
        took_over = f"{prev.get('pid')}@{prev.get('host')}" if prev.get("pid") else ""
        if (fence := self.lease.fence) is not None:  # every append from now on is conditional on our epoch
            self.epoch = fence[1]
            fenced = getattr(self.engine.journal, "fenced", None)
            if fenced is not None:
                fenced(*fence)
            self.engine.may_act = self._may_act
        try:
            self.engine.refresh()
        except Exception as e:  # noqa: BLE001 - a bad journal does not stop the watch (the kill keeps its events aside)
            log.error("cannot follow the journal: %s", e)
        self._append(ev.GuardStarted(pid=self.identity.pid, host=self.identity.host, reason=self.reason,
                                     took_over=took_over, speed=self._speed(), epoch=self.epoch))
        log.info("guard %s holds the guard lock%s%s", self.identity, f" (epoch {self.epoch})" if self.epoch else "",
                 f" (took over from {took_over})" if took_over else "")
        return True

    def _try_lock(self) -> bool:
        """The guard lock. On a state dir this guard cannot write (read-only, not its files) it is
        taken through a read-only descriptor (flock needs no other); when it cannot be opened at all,
        the guard guards without it and says so: another guard may act too, and a kill is idempotent."""
        if self._lock_fd is not None:
            return True
        why, held = None, False
        try:
            held = self.lease.try_acquire()
        except (StateDirError, OSError) as e:
            why = str(e)
        except Exception as e:  # noqa: BLE001 - a store that does not answer: nobody can say who holds the lease
            self._store_unreachable(e, "standby")
            return False
        path = self.state_dir / GUARD_LOCK  # the file store's: only its lease raises these
        if why is None:
            if held and self.lease.read_only:
                log.warning("%s: a read-only file system: holding the guard lock through a read-only descriptor",
                            path)
            return held
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            log.error("NO GUARD LOCK: %s; and %s cannot be opened read-only (%s): guarding WITHOUT the lock "
                      "(another guard may act too; a kill is idempotent)", why, path, e.strerror or e)
            self._lock_fd = -1
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as e:
            os.close(fd)
            log.error("NO GUARD LOCK: %s; flock on %s failed (%s): guarding WITHOUT the lock", why, path,
                      e.strerror or e)
            self._lock_fd = -1
            return True
        log.warning("%s: holding the guard lock through a read-only descriptor (the file still names its last "
                    "holder)", why)
        self._lock_fd = fd
        return True

    def release(self, why: str) -> None:
        if self.deposed:
            log.error("guard %s stopped: %s", self.identity, why)
            if held := self.engine.held:
                log.error("DEPOSED with %d events this guard could not journal (%s): they are not journaled by it; "
                          "%s", len(held), held[0].error, "; ".join(h.record.kind for h in held[:20]))
            return
        if self.lease.held or self._lock_fd is not None:
            self._append(ev.GuardStopped(pid=self.identity.pid, host=self.identity.host, reason=why))
            self.lease.release()
            if self._lock_fd is not None and self._lock_fd >= 0:
                os.close(self._lock_fd)
            self._lock_fd = None
        log.info("guard %s stopped: %s", self.identity, why)
        self._say_unrecorded()

    def _say_unrecorded(self) -> None:
        """Stopping with events only this process held: print them, loudly, as side-file lines."""
        from cockpit.store.kept import ASIDE, kept_line

        self.unrecorded = list(self.engine.unrecorded)
        if not self.unrecorded:
            return
        log.error("NOT RECORDED: stopping with %d events that neither the journal nor %s could take (%s); "
                  "append these lines to %s once it can be written, and the next append journals them:",
                  len(self.unrecorded), ASIDE, self.unrecorded[0].error, self.state_dir / ASIDE)
        for h in self.unrecorded:
            r = h.record
            log.error("%s", kept_line(r.payload, actor=r.actor, ts=r.ts, error=h.error, pseq=r.seq).decode().rstrip())

    def _captain_at_a_screen(self) -> bool:
        """The captain lock is held; a store that cannot say is taken as yes (the guard stays)."""
        try:
            return self.store.captain() is not None
        except JournalError:
            return True

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, *, wait: bool = True) -> str:
        """Guard until there is nothing left to protect, or until stopped. Returns why it ended."""
        if not await self.acquire(wait=wait):
            return "stopped while standing by" if self.stopping.is_set() else "another guard holds the lock"
        why = "stopped"
        try:
            await self._resume()
            while not self.stopping.is_set():
                if not await self.round():
                    break  # deposed: it acts no more
                if done := self.finished():
                    await self.flush()  # the rollback notice and the resolves go out before it stops
                    why = done
                    break
                await self._wait(self.monitor.until_due())  # a round every poll interval, from its start
        finally:
            stopped = self.stopping.is_set() or bool(self.deposed)
            cut_short = self._cancel_rollback_check() if stopped else ""
            if self.evidence is not None and not self.deposed:
                await self.evidence.drain()
            self.monitor.close()
            try:
                if not self.deposed:  # a deposed guard delivers nothing more: the holder does
                    await asyncio.wait_for(self.notifier.drain(), STOP_DRAIN_S if stopped else FLUSH_S)
            except TimeoutError:
                log.error("stopping with messages still being delivered (they are delivered by the next guard)")
            await self.notifier.close()
            if self.deposed:
                why = self.deposed
            self.release(why if not stopped else self.deposed or "stopped (SIGTERM or the demo ended)" + cut_short)
        return why

    def stop(self) -> None:
        self.stopping.set()

    async def round(self) -> bool:
        """One round: renew the lease, journal late what waits, poll, evaluate and act, page, publish.
        False once the guard is deposed (it acts no more)."""
        if not self.engine.store_down and not self._renew():
            return False
        self._journal_late()
        await self.monitor.poll()  # its faults are logged by the monitor (cockpit.monitor)
        if not self._acting():
            return False
        await self._repull_unconfirmed_kill()
        await self._watch_leaking_rollback()
        if not self._acting():
            return False
        await self.page()  # starts the canary traffic check after a kill; it runs beside the rounds
        self._check_outcome()
        self.publish()
        if self.engine.store_down:  # renewed beside the rounds: no round waits on a store that hangs
            return self._renew_beside()
        return True

    # -- the lease, each round and before every gateway call ------------------------------------

    def _renew(self) -> bool:
        """Renew the lease (each round). False once it is lost: the guard is deposed and stops. A
        store that does not answer keeps the guard guarding (the module's docstring: the trade-off)."""
        if not self.epoch or self.deposed:
            return not self.deposed  # a kernel lock: held as long as this process lives
        return self._renewal(self.lease.renew)

    def _renew_beside(self) -> bool:
        """While the store does not answer, the renewal is tried in a worker thread beside the rounds,
        and what it found is taken in at the round after it ended (as `_renew` takes it)."""
        if self._renewing is None:
            self._renewing = asyncio.ensure_future(asyncio.to_thread(self.lease.renew))
            return True
        if not self._renewing.done():
            return True
        tried, self._renewing = self._renewing, None
        return self._renewal(tried.result)

    def _renewal(self, renewed: Callable[[], bool]) -> bool:
        """What a renewal found: no answer keeps the guard guarding; a lease lost deposes it."""
        try:
            held = renewed()
        except Exception as e:  # noqa: BLE001 - a store that does not answer stops no round
            self._store_unreachable(e, "renewing the guard lease")
            return True
        self._store_answers()
        if not held:
            self._lost(self.lease.lost or "the guard lease could not be renewed")
        return not self.deposed

    def _may_act(self) -> str:
        """The engine asks before every gateway call: "" while this guard may act, else the DEPOSED line."""
        if self.deposed:
            return self.deposed
        if not self.engine.store_down:
            try:
                if self.lease.still_holder():
                    return ""
            except Exception as e:  # noqa: BLE001 - the store does not answer: the trade-off below
                self._store_unreachable(e, "re-checking the epoch before a gateway call")
            else:
                return "" if self._lost(self.lease.lost or "the guard lease is no longer ours") else self.deposed
        left = self.lease.valid_for()
        if left > 0:
            log.warning("STORE UNREACHABLE: acting on the guard lease, ours for %.1f s more by this host's clock", left)
        else:
            log.error("STORE UNREACHABLE for longer than the lease's TTL and no other guard is visible from here: "
                      "pulling the kill all the same (a duplicate kill is harmless, a missed one is not)")
        return ""

    def _acting(self) -> bool:
        """False once the guard is deposed (its engine saw an append refused, or a re-check failed)."""
        if self.engine.deposed and not self.deposed:
            self._depose(self.engine.deposed)
        return not self.deposed

    def _lost(self, why: str) -> bool:
        """The lease is no longer ours: taken again when nobody holds it (it expired while the store did
        not answer, and no other guard took it: this one stands down only if another can take over);
        else the guard is deposed. True when it holds the lease again, on a new epoch."""
        try:
            again = self.lease.try_acquire()
        except Exception as e:  # noqa: BLE001 - nobody can say who holds it: it acts no more on it
            self._depose(f"{why}; and the store does not answer to take it again: {e}")
            return False
        if not again or (fence := self.lease.fence) is None:
            self._depose(self.lease.lost or why)  # who took it since, when the refused re-take learned it
            return False
        before, self.epoch = self.epoch, fence[1]
        fenced = getattr(self.engine.journal, "fenced", None)
        if fenced is not None:
            fenced(*fence)
        log.warning("the guard lease was lost (%s) and nobody took it: taken again, epoch %d -> %d", why, before,
                    self.epoch)
        self._append(ev.GuardStarted(pid=self.identity.pid, host=self.identity.host, epoch=self.epoch,
                                     reason=f"the guard lease expired (epoch {before}) and nobody took it: taken again",
                                     took_over=f"{self.identity.pid}@{self.identity.host}", speed=self._speed()))
        return True

    def _depose(self, why: str) -> str:
        """Stop acting at once, and say so loudly: nothing more is appended, delivered or sent."""
        if self.deposed:
            return self.deposed
        try:
            holder = self.lease.holder()
        except Exception:  # noqa: BLE001 - who holds it now is said when it can be read
            holder = None
        if holder:
            self.deposed = (f"DEPOSED: guard lease lost to {holder.get('user', '?')}@{holder.get('host', '?')} "
                            f"(pid {holder.get('pid', '?')}) (epoch {self.epoch} < {holder.get('epoch', '?')}); "
                            f"not acting ({why})")
        else:
            self.deposed = f"DEPOSED: guard lease lost (epoch {self.epoch}; {why}); not acting"
        self.engine.deposed = self.engine.deposed or self.deposed
        self.engine.may_act = lambda: self.deposed
        log.error("%s", self.deposed)
        self._set_aside_kept()
        return self.deposed

    def _set_aside_kept(self) -> None:
        """What this host kept aside while cut off is not journaled: the holder's journal moved on
        without it (what it did at the gateway, the holder reads back). The side file is renamed for a
        human to read, so that no later process on this host journals it late."""
        from cockpit.store.kept import ASIDE

        side = self.state_dir / ASIDE
        if not side.exists():
            return
        kept = self.state_dir / f"{side.stem}.deposed-{self.epoch}{side.suffix}"
        try:
            os.replace(side, kept)
        except OSError as e:
            log.error("DEPOSED: %s could not be set aside (%s): the next process on this host journals it late",
                      side, e.strerror or e)
            return
        log.error("DEPOSED: the events this guard kept aside are not journaled: set aside in %s", kept)

    def _store_unreachable(self, e: Exception, doing: str) -> None:
        why = f"the store does not answer ({doing}): {e}"
        if not self.epoch:  # a standby: nobody can say who holds the lease; it waits
            if not self._unreachable:
                log.error("STORE UNREACHABLE: %s; standing by until it answers", why)
            self._unreachable = why
            return
        self.engine.store_down = "the store does not answer (STORE UNREACHABLE in guard.log)"
        if not self._unreachable:  # once a spell, not every round
            log.error("STORE UNREACHABLE: %s; guarding all the same: the kill is pulled on a breach and its events "
                      "are kept in %s and journaled late when the store answers", why, self.state_dir)
        self._unreachable = why

    def _store_answers(self) -> None:
        if self._unreachable or self.engine.store_down:
            log.warning("the store answers again: journaling late what was kept aside")
        self._unreachable, self.engine.store_down = "", ""

    # -- paging ---------------------------------------------------------------------------------

    async def page(self) -> None:
        """Open, climb and resolve incidents, run spend controls, and hand every queued message
        to the notifier, which delivers in the background (no round waits on a webhook)."""
        engine = self.engine
        try:
            guard_work.paging_round(engine)
            await guard_work.run_spend_controls(engine)
            await guard_work.manage_silence(engine, self.monitor.alertmanager())
        except Exception as e:  # noqa: BLE001 - paging trouble never stops the watch
            log.error("paging round failed: %s", e)
        st = engine.state
        if (st.status == "rolled_back" and st.kill is not None and st.kill.verified is None
                and st.kill.result is not None):
            rollback_check.start(engine)  # a kill pulled elsewhere (CLI --no-wait) is verified here
        from cockpit.core.paging import open_incidents, pending_deliveries

        for seq, queued in pending_deliveries(st):
            self.notifier.submit(engine.delivery_key(seq), queued)  # the key it was first submitted under
        paged = [(i.id, ch) for i in open_incidents(st) if not i.acknowledged
                 for ch, purposes in i.channels.items() if "page" in purposes]
        try:
            acked = await asyncio.wait_for(self.notifier.poll_acknowledgements(paged), ACK_POLL_S) if paged else {}
        except TimeoutError:
            acked = {}
        for incident, who in acked.items():
            out = engine.acknowledge(incident, who, via="pagerduty")
            if out.ok:
                log.info("%s acknowledged in PagerDuty by %s", incident, who)

    async def flush(self, rounds: int = 3) -> None:
        """Page, wait for the deliveries, page again (a resolve follows a verdict), a few times."""
        from cockpit.core.paging import pending_deliveries

        for _ in range(rounds):
            await self.page()
            try:
                await asyncio.wait_for(self.notifier.drain(), FLUSH_S)
            except TimeoutError:
                return
            if not pending_deliveries(self.engine.state):
                return

    async def _resume(self) -> None:
        """A rollout that a dead process left mid-kill is pulled again at once (engine.reconcile)."""
        st = self.engine.state
        if st.status == "killing" and self.engine.gateway is not None:
            log.warning("the journal has a kill without a result: pulling it again")
            await self.engine.reconcile()

    def _journal_late(self) -> None:
        """Each round: events the journal would not take are journaled as soon as it takes writes
        (a store that did not answer is tried again by the lease's renewal first)."""
        if self.engine.store_down:
            return
        if self.engine.held and (n := self.engine.write_held()):
            log.warning("journaled late: %d events the journal would not take%s", n,
                        f"; {len(self.engine.held)} still wait" if self.engine.held else "")

    def finished(self) -> str:
        """Why the guard may stop now, or "" while the rollout still needs watching, or while this
        process alone holds events the journal has not taken (they would be lost with it)."""
        done = self._done()
        if done and self.epoch and (kept := self.engine.held):  # this host's side file: no other bastion sees it
            if done != self._waits_to_record:
                log.error("%s, but %d events wait to be journaled (%s): the guard stays until the store takes them",
                          done, len(kept), kept[0].error)
            self._waits_to_record = done
            return ""
        if done and (held := self.engine.unrecorded):
            if done != self._waits_to_record:  # once, not every round
                log.error("%s, but %d events are held in memory only (%s): the guard stays until the state dir "
                          "takes writes (SIGTERM stops it and prints them)", done, len(held), held[0].error)
            self._waits_to_record = done
            return ""
        return done

    def _done(self) -> str:
        """Why the rollout needs this guard no longer: after a kill, not until the canary traffic
        check has said ~0, or a human acknowledged that it did not."""
        st = self.engine.state
        if st.status == "completed":
            return "the rollout is completed"
        if st.status == "rolled_back":
            from cockpit.core.paging import kill_incident

            check = self.engine.rollback_check
            if check is not None and not check.done():
                return ""
            k = st.kill
            if k is not None and rollback_check.can_verify(self.engine) and k.verified is None:
                return ""  # the check has not said yet (it is started again each round)
            if k is not None and k.leaking:
                inc = kill_incident(st)
                if inc is None or not inc.acknowledged:
                    return ""
                assert k.verified is not None  # leaking
                return (f"the rollout is rolled back; canary traffic NOT ~0 ({k.verified.detail}) and "
                        f"{inc.id} acknowledged by {inc.acked_by}")
            return "the rollout is rolled back and the kill verified"
        if st.status == "preflight" and not self.attended():
            return "the rollout has not started and no captain is at the screen"
        return ""

    async def _repull_unconfirmed_kill(self) -> None:
        """KILL NOT CONFIRMED is not the end: pull it again, backing off, until the gateway confirms."""
        st, now = self.engine.state, self.engine.clock.now()
        if st.status != "kill_unconfirmed" or st.kill is None or self.engine.gateway is None:
            self._rekill_at, self._rekill_every = None, 0.0
            return
        if self._rekill_at is not None and now < self._rekill_at:
            return
        self._rekill_every = min(REKILL_MAX_S, max(self.monitor.poll_s, 2 * self._rekill_every))
        self._rekill_at = now + timedelta(seconds=self._rekill_every)
        log.warning("the kill is NOT CONFIRMED: pulling it again")
        out = await self.engine.kill(f"guard re-pulls the unconfirmed kill: {st.kill.reason}", trigger=st.kill.trigger)
        log.warning("re-pulled kill: %s", "VERIFIED" if out.ok else "; ".join(out.reasons))

    async def _watch_leaking_rollback(self) -> None:
        """The gateway confirmed the kill but the canary still takes traffic: look at its traffic
        again every round (beside the rounds, never blocking them) and re-assert the kill, backing
        off like a re-pull, until it falls or a human acknowledges the incident."""
        from cockpit.core.paging import kill_incident

        st, now = self.engine.state, self.engine.clock.now()
        k = st.kill
        if st.status != "rolled_back" or k is None or not k.leaking or self.engine.gateway is None:
            self._reassert_at, self._reassert_every = None, 0.0
            return
        inc = kill_incident(st)
        if inc is not None and inc.acknowledged:
            return  # a human has it: the guard stops this round
        rollback_check.start_recheck(self.engine)  # unless a check still runs: its verdict comes in a later round
        if self._reassert_at is None:  # the first round of the leak: the kill was just pulled
            self._reassert_every = self.monitor.poll_s
            self._reassert_at = now + timedelta(seconds=self._reassert_every)
            return
        if now < self._reassert_at:
            return
        self._reassert_every = min(REKILL_MAX_S, 2 * self._reassert_every)
        self._reassert_at = now + timedelta(seconds=self._reassert_every)
        assert k.verified is not None  # leaking
        log.warning("canary traffic NOT ~0 after the kill (%s): re-asserting the kill",
                    self.engine.rollback_last or k.verified.detail)
        out = await self.engine.kill("guard re-asserts the kill: canary traffic NOT ~0", trigger=k.trigger)
        log.warning("re-asserted kill: %s", "gateway confirms" if out.ok else "; ".join(out.reasons))

    def _check_outcome(self) -> None:
        """A canary traffic check that ended is logged: an error (it is started again next round),
        or a reading that says NOT ~0 when it differs from the last one logged."""
        check = self.engine.rollback_check
        if check is None or not check.done() or check.cancelled() or check is self._said:
            return
        self._said = check
        if (e := check.exception()) is not None:
            log.error("the canary traffic check failed: %s", e)
            self.engine.rollback_check = None
        elif not check.result().ok and (said := "; ".join(check.result().reasons)) != self._said_text:
            log.warning("%s", said)  # once per reading that changed, not once per round
            self._said_text = said

    def _cancel_rollback_check(self) -> str:
        """Stopped mid-check: cancel it; say what it read last (the next guard checks again)."""
        check = self.engine.rollback_check
        if check is None or check.done():
            return ""
        check.cancel()
        last = self.engine.rollback_last
        return f"; the canary traffic check was cut short ({last or 'no reading yet'}): the next guard checks again"

    async def _wait(self, seconds: float, *, wall: bool = False) -> None:
        """Sleep on the engine's clock (or the wall), cut short by stop()."""
        sleep = asyncio.ensure_future(asyncio.sleep(seconds) if wall else self.engine.clock.sleep(seconds))
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({sleep, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (sleep, stop):
                f.cancel()

    def _append(self, payload: ev.Payload) -> None:
        """The guard's own comings and goings: journaled, or held and journaled late (said in the log)."""
        try:
            self.engine.record(payload)
        except Exception as e:  # noqa: BLE001 - guarding matters more than saying so in the journal
            log.error("cannot journal %s: %s", payload.KIND, e)


def _holder_of(store: Store) -> str:
    h = store.guard_holder() or {}
    return f"{h.get('pid', '?')}@{h.get('host', '?')}"


class ShownFormatter(logging.Formatter):
    """guard.log is read in terminals (`tail -f`): a server's error or a reason in it has its
    control and bidi characters shown as escapes (core.visible), as on every face."""

    def format(self, record: logging.LogRecord) -> str:
        from cockpit.core.visible import visible

        return visible(super().format(record), newlines=True)


def setup_logging(state_dir: Path, *, stderr: bool) -> None:
    """Plain lines to guard.log in the state dir (and stderr in the foreground). Never fails: a
    guard.log that cannot be written (a read-only or full disk) sends its lines to stderr."""
    fmt = ShownFormatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    root = logging.getLogger("cockpit")
    root.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [LogFile(Path(state_dir) / LOG, stderr_too=stderr)]
    if stderr:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)


class LogFile(logging.Handler):
    """guard.log, one unbuffered append a line. A line it cannot take goes to stderr instead
    (unless stderr has it already), and why is said there once per spell; it is tried again
    with the next line, so the file takes lines again once the disk does."""

    def __init__(self, path: Path, *, stderr_too: bool):
        super().__init__()
        self.path = Path(path)
        self.stderr_too = stderr_too
        self.failing = ""  # why the last line could not be written ("" while it can)
        self._fd = -1

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:  # noqa: BLE001 - logging's own contract: a bad record is reported, not raised
            self.handleError(record)
            return
        error = self._write(line.encode(errors="backslashreplace"))
        if error and error != self.failing:
            sys.stderr.write(f"guard: {self.path} cannot be written ({error}): its lines go to stderr\n")
        self.failing = error
        if error and not self.stderr_too:
            sys.stderr.write(line)
        if error:
            sys.stderr.flush()

    def _write(self, data: bytes) -> str:
        try:
            if self._fd < 0:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o664)
            os.write(self._fd, data)
            return ""
        except OSError as e:
            return e.strerror or str(e)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        super().close()
