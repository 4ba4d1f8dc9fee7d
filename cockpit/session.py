"""The one place that builds engines and sessions: the captain's, an observer's, the guard's, the
headless commands', the demo's, a replay's and the evidence screen's.

Each says which journal it opens (writable, read-only, or acting on whatever the state dir allows)
and which adapters it wires. Credentials are resolved here and only here, for those that act (the
captain, the guard, the kill); a follower (an observer, a replay, a refused command, the evidence
screen) gets a read-only journal, no adapter and no credential. Who acts is `whoami`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.clock import SystemClock
from cockpit.config import ConfigError, Plan, parse_journaled_plan, resolve_state_dir
from cockpit.core.events import Actor
from cockpit.engine import Engine, EngineError
from cockpit.refused import NOTHING_CHANGED, Refused
from cockpit.store import CaptainHold, Feed, FileStore, JournalLike, Store
from cockpit.store.chain import JournalError
from cockpit.store.locks import CaptainLockHeld
from cockpit.store.unwritable import UnwritableJournal as _Unwritable
from cockpit.whoami import whoami

if TYPE_CHECKING:
    from cockpit.guard import Guard
    from cockpit.monitor import Monitor

RESPAWN_AFTER_S = 10.0  # a guard that the keeper started gets this long to take the lock
QUICK_EXIT_S = 60.0  # a guard that ended sooner than this after its start is not started again at once:
RESPAWN_MAX_S = 300.0  # the wait doubles, up to this (a guard that finds nothing to protect, again and again)
NEEDS = ("gateway", "checks", "journal")  # what a captain's engine wires: see captain_engine


class SessionError(Exception):
    """The session cannot open; the message names the state dir or file."""


def _said(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- the store --------------------------------------------------------------------------------------


def open_store(plan: Plan, config: Path | None = None, *, state_dir: Path | None = None) -> Store:
    """The store the plan names (`[state]`): the file store in its state dir (the default), or etcd,
    its password resolved here (and scrubbed from every line). `state_dir`: this host's own dir
    (guard.log, evidence, events kept aside), else the plan's, relative to `config`."""
    if state_dir is None:
        if config is None:
            raise ValueError("open_store: give the config path or the state dir")
        state_dir = resolve_state_dir(plan, config)
    spec = plan.state
    if spec.store != "etcd":
        return FileStore(state_dir)
    import math
    from datetime import timedelta

    from cockpit.core.guardsight import DEFAULT_POLL_S
    from cockpit.store.etcd_client import EtcdClient, Tls
    from cockpit.store.etcd_store import EtcdStore

    def near(path: Path | None) -> str | None:  # a relative TLS file is relative to the config file
        if path is None:
            return None
        return str(path if path.is_absolute() or config is None else Path(config).parent / path)

    password = spec.password.resolve("state.password") if spec.password is not None else None
    tls = Tls(near(spec.ca_file), near(spec.cert_file), near(spec.key_file)) if spec.ca_file or spec.cert_file else None
    client = EtcdClient(spec.endpoints, timeout_s=spec.timeout.total_seconds(), user=spec.user, password=password,
                        tls=tls)
    poll = plan.prometheus.poll_interval if plan.prometheus else timedelta(seconds=DEFAULT_POLL_S)
    return EtcdStore(client, spec.key_prefix(plan.release.name, plan.release.version), state_dir,
                     lease_ttl_s=math.ceil(spec.ttl(poll).total_seconds()))


def where(store: Store) -> str:
    """How the words name a store: its state dir, or etcd:<prefix>."""
    return str(getattr(store, "where", store.state_dir))


# --- engines ------------------------------------------------------------------------------------


def captain_engine(plan: Plan, config: Path, actor: Actor, *, clock=None, warn=None, journal=None,
                   needs: str = "gateway", store: Store | None = None) -> Engine:
    """A writable engine for the captain. `needs`: "gateway" (the gateway, the check runner and the
    metrics source: the screen, and the commands that move traffic), "checks" (the check runner and
    the metrics source, no gateway credential: preflight) or "journal" (no adapter at all: sign-offs,
    decisions, notes, acknowledgements). `warn(line)` says what the captain must know (default:
    stderr; a screen loading in a thread collects it). `journal`: one opened already (the guard's,
    which may not be writable or may not verify). `store`: the plan's, opened already."""
    if needs not in NEEDS:
        raise ValueError(f"needs: {needs!r} is not one of {', '.join(NEEDS)}")
    clock = clock or SystemClock()
    metrics = build_metrics(plan) if needs != "journal" else None
    runner = gateway = None
    if needs != "journal":
        from cockpit.adapters import checks

        runner = checks.runner(clock=clock, base_dir=Path(config).resolve().parent, metrics=metrics, plan=plan)
    if needs == "gateway":
        from cockpit.adapters.factory import build_gateway

        gateway = build_gateway(plan, plan.kill_switch.gateway)
    journal = journal or (store or open_store(plan, config)).journal()
    if journal.quarantined:
        (warn or _said)(f"journal: torn tail quarantined: {journal.quarantined}")
    return Engine(plan, journal, clock=clock, actor=actor, gateway=gateway, check_runner=runner, metrics=metrics)


def build_metrics(plan: Plan):
    if plan.prometheus is None:
        return None
    from cockpit.adapters.prometheus import build_metrics as build

    return build(plan)


def kill_engine(plan: Plan, state_dir: Path, actor: Actor, *, metrics: bool = False, journal=None,
                warn: Callable[[str], None] = _said) -> Engine:
    """The engine of a kill (or a traffic command) from a terminal: the kill switch's gateway (its
    credential resolved here; a ConfigError before anything is opened), the metrics source when
    `metrics` and the plan checks the canary's traffic after the kill, and a journal acting on
    whatever the state dir allows (`Store.acting`: the kill needs no writable one)."""
    from cockpit.adapters.factory import build_gateway

    gateway = build_gateway(plan)
    source = None
    if metrics and plan.kill_switch.verify_query:
        try:
            source = build_metrics(plan)
        except ConfigError as e:  # the kill matters more than its second check
            warn(f"warning: no canary traffic check: {'; '.join(e.errors)}")
    journal = journal or open_store(plan, state_dir=state_dir).acting()
    return Engine(plan, journal, clock=SystemClock(), actor=actor, gateway=gateway, metrics=source)


def follower_engine(plan: Plan, state_dir: Path, actor: Actor, *, clock=None) -> Engine:
    """A follower on a read-only journal with no adapter and no credential: what a command reads
    before it may act (a refused one must not so much as create the state dir), a replay, the
    evidence screen. It refuses every command (engine.READ_ONLY)."""
    return Engine(plan, open_store(plan, state_dir=state_dir).reader(), clock=clock or SystemClock(), actor=actor)


def observer_engine(state_dir: Path, local_plan: Plan | None, actor: Actor, *, clock=None,
                    store: Store | None = None) -> Engine:
    """A follower on a read-only journal. The plan comes from the journal itself, so an observer
    needs no credentials and no config (a local config is used only for an older journal, or to say
    where the store is: etcd, with the observer's own read-only user)."""
    store = store or FileStore(state_dir)
    if not store.started():
        raise SessionError(f"{where(store)}: no journal yet; the captain starts it with `cockpit run`")
    journal = store.reader()
    engine_plan = local_plan
    journaled = _journaled_plan(journal)
    if journaled is not None:
        engine_plan = journaled
    if engine_plan is None:
        journal.close()
        raise SessionError(f"{state_dir}: the journal carries no plan document; pass --config with the captain's plan")
    engine = Engine(engine_plan, journal, clock=clock or SystemClock(), actor=actor)
    if journaled is None:
        engine.ensure_plan()  # an older journal: the local config must be the captain's
    return engine


def _journaled_plan(journal: JournalLike) -> Plan | None:
    from cockpit.core.state import fold

    loaded = fold(journal.records).plan
    if loaded is None or not loaded.document:
        return None
    return parse_journaled_plan(dict(loaded.document))


def demo_engine(plan: Plan, state_dir: Path, actor: Actor, *, clock, world, metrics, check_runner) -> Engine:
    """The demo's engine: a writable journal, the simulated world's gateway and metrics, its checks;
    no credential (adapters.simulator)."""
    from cockpit.adapters.simulator import SimulatedGateway

    return Engine(plan, open_store(plan, state_dir=state_dir).journal(), clock=clock, actor=actor,
                  gateway=SimulatedGateway(world),
                  check_runner=check_runner, metrics=metrics)


def guard_engine(plan: Plan, config: Path, actor: Actor, *, store: Store | None = None) -> Engine:
    """The guard's engine: the captain's adapters, on the plan the journal already runs. A state dir
    it cannot write (read-only, full, not this user's) or a journal that does not verify does not
    stop it: the kill path needs neither; what it cannot record is held and journaled late."""
    import logging

    store = store or open_store(plan, config)
    journal = store.acting(salvage=True)
    said = logging.getLogger("cockpit.guard")
    if getattr(journal, "broken", None):
        said.error("JOURNAL BROKEN: %s: guarding all the same, on the %d events that still read; what cannot be "
                   "journaled is held and kept aside", journal.broken, len(journal.records))
    if isinstance(journal, _Unwritable):
        said.error("STATE DIR NOT WRITABLE: %s: guarding all the same; what cannot be recorded is said here "
                   "and journaled as soon as the state dir takes writes", journal.why)
    if getattr(journal, "unreachable", False):  # etcd's (store/etcd_store.py): not imported for the file store
        said.error("STORE UNREACHABLE: %s: guarding all the same; what cannot be journaled is kept aside here "
                   "and journaled as soon as etcd answers", journal.write_error)
    try:
        engine = captain_engine(plan, config, actor, journal=journal, warn=said.warning, store=store)
    except BaseException:
        journal.close()
        raise
    journaled = engine.state.plan
    if journaled is None:
        if engine.journal.broken:  # its plan line does not read: the config's plan is all there is to guard
            from cockpit.engine import plan_snapshot

            engine.state.plan = plan_snapshot(plan)
            return engine
        raise SessionError(f"{engine.journal.path}: no plan journaled yet; the captain starts it with `cockpit run`")
    if not _same_plan(plan, journaled.digest):
        raise SessionError(
            f"{config}: this config ({_digest(plan)[:12]}) differs from the plan in the journal "
            f"({journaled.digest[:12]}); "
            "a guard evaluates only the plan the rollout runs"
        )
    return engine


# --- sessions: an engine with what holds it --------------------------------------------------------


def captain_lock(state_dir: Path, actor: Actor, clock=None, *, store: Store | None = None) -> CaptainHold:
    """The captain lock, held in `actor`'s name (CaptainLockHeld names the holder; JournalError:
    a state dir, or an etcd, where it cannot be taken)."""
    from cockpit.core import words

    return (store or FileStore(state_dir)).captain_lock(user=actor.user, host=actor.host, pid=os.getpid(),
                                             since=words.stamp((clock or SystemClock()).now()))


@dataclass
class Captain:
    """The captain's session: the engine, the captain lock it holds, and the events that journaled
    the plan on first use (said by a headless command, as it says every event it journals)."""

    engine: Engine
    lock: CaptainHold
    plan_journaled: list = field(default_factory=list)
    store: Store = field(default_factory=lambda: FileStore(Path("state")))  # the plan's (open_store)

    @property
    def actor(self) -> Actor:
        return self.engine.actor


def captain(plan: Plan, config: Path, *, needs: str = "gateway", warn=None) -> Captain:
    """The captain's session: the captain lock, then the engine (`captain_engine`) with the plan
    journaled on first use. Refused (exit 3 naming the holder while a screen runs, else 2) when
    either cannot be had; the lock is not left held then."""
    actor = whoami("captain")
    state_dir = resolve_state_dir(plan, config)
    store = open_store(plan, config)
    named = where(store)
    try:
        lock = captain_lock(state_dir, actor, store=store)
    except CaptainLockHeld as e:
        from cockpit.exits import Exit

        raise Refused(f"refused: {e}", NOTHING_CHANGED, code=Exit.LOCKED) from None
    except JournalError as e:
        raise Refused(f"refused: {e}" if named in str(e) else f"refused: {named}: {e}",
                      NOTHING_CHANGED) from None
    engine = None
    try:
        engine = captain_engine(plan, config, actor, warn=warn, needs=needs, store=store)
        before = engine.state.seq
        engine.ensure_plan()
        return Captain(engine, lock, engine.journal.records[before:], store)
    except BaseException as e:
        if engine is not None:
            engine.journal.close()
        lock.release()  # nothing opens: the next captain must not find it held
        if isinstance(e, (JournalError, EngineError)):
            raise Refused(f"refused: {e}" if named in str(e) else f"refused: {named}: {e}",
                          NOTHING_CHANGED) from None
        if isinstance(e, ConfigError):
            raise Refused(*e.errors, NOTHING_CHANGED) from None
        raise


def observer(state_dir: Path, local_plan: Plan | None, *, store: Store | None = None) -> tuple[Engine, Feed]:
    """An observer's session: the follower engine (`observer_engine`) and the guard's published
    rounds, on the face's own clock (the guard's in a demo: store.published.FollowedClock).
    `store`: the local plan's (`open_store`), else the file store in `state_dir`."""
    from cockpit.store.published import FollowedClock

    store = store or FileStore(state_dir)
    feed = store.feed()
    clock = FollowedClock(feed)
    engine = observer_engine(state_dir, local_plan, whoami("observer"), clock=clock, store=store)
    clock.follow(engine)
    return engine, feed


def guard(engine: Engine, state_dir: Path, *, monitor: Monitor | None = None, identity=None, **kw) -> Guard:
    """The guard's session around its engine: the monitor (the engine's metrics source, by default),
    the guard lock in the engine's actor's name (this process, since now), and what the guard
    takes (`reason`, `attended`, `evidence_base`, `notifier`, `store`: see guard.Guard)."""
    from cockpit.core.evaluation import GuardId
    from cockpit.guard import Guard
    from cockpit.monitor import Monitor

    actor = engine.actor
    identity = identity or GuardId(user=actor.user, host=actor.host, pid=os.getpid(), since=engine.clock.now())
    return Guard(engine, monitor or Monitor(engine, engine.metrics), state_dir, identity, **kw)


def _digest(plan: Plan) -> str:
    from cockpit.config import plan_digest

    return plan_digest(plan)


def _same_plan(plan: Plan, digest: str) -> bool:
    from cockpit.config import same_plan

    return same_plan(plan, digest)


class GuardKeeper:
    """The captain's screen keeps a guard running: it starts one detached from the terminal (its
    own session, no controlling tty), so a dropped SSH session, `q` or a crash leaves the rollout
    watched; and it starts another when the guard lock is free while the rollout needs one."""

    def __init__(self, config: Path, state_dir: Path, who: str, *, store: Store | None = None):
        self.config = Path(config).resolve()
        self.state_dir = Path(state_dir)
        self.store = store or FileStore(self.state_dir)
        self.who = who
        self.process: subprocess.Popen | None = None
        self._spawned_at = 0.0
        self._wait_s = 0.0  # before the next start, after guards that ended quickly
        self._seen_end = False  # the current process's end has been counted

    def __call__(self, state) -> str:
        """Called once a second with the rollout state; returns what to tell the captain, if anything."""
        if state.status in ("completed", "rolled_back"):
            return ""
        if (self.process is not None and self.process.poll() is None
                and time.monotonic() - self._spawned_at < RESPAWN_AFTER_S):
            return ""  # just started: give it time to take the lock
        try:
            if self.store.guarding() is not None:
                return ""
        except JournalError as e:  # etcd out of reach: nobody can say whether a guard holds the lease
            return f"cannot see the guard: {e}"
        if self.process is not None and self.process.poll() is not None and not self._seen_end:
            self._seen_end = True  # it ended: quickly means it found nothing to protect, or could not start
            quick = time.monotonic() - self._spawned_at < QUICK_EXIT_S
            self._wait_s = min(RESPAWN_MAX_S, max(1.0, 2 * self._wait_s)) if quick else 0.0
        if self.process is not None and time.monotonic() - self._spawned_at < self._wait_s:
            return ""
        first = self.process is None
        died = "" if first else self._why_it_ended()
        reason = (f"started by {self.who}'s screen" if first
                  else f"restarted by {self.who}'s screen: no guard held the lock")
        self.spawn(reason)
        return "" if first else f"no guard was running{died}: started a new one"

    def _why_it_ended(self) -> str:
        """The last guard's exit code and its last log line, so a guard that cannot start says why."""
        code = self.process.poll() if self.process is not None else None
        if code in (None, 0):
            return ""
        try:
            last = (self.state_dir / "guard.log").read_text(errors="replace").strip().splitlines()[-1]
        except (OSError, IndexError):
            last = "no guard.log"
        return f" (the last one exited {code}: {last[-200:]})"

    def spawn(self, reason: str) -> subprocess.Popen:
        if self.process is not None:
            self.process.poll()  # reap a dead one
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "guard", "--config", str(self.config), "--reason", reason, "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # setsid: no controlling terminal, no SIGHUP when the SSH session drops
            close_fds=True,
            cwd="/",
            env=cockpit_env(),
        )
        self._spawned_at = time.monotonic()
        self._seen_end = False
        return self.process


def cockpit_env() -> dict[str, str]:
    """The environment of a process this one starts (a guard, the evidence screen): this one's, with
    the directory this cockpit is imported from first on PYTHONPATH, so it runs the same code."""
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
