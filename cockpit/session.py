"""One place that wires a session: the captain, an observer, the guard, and the guard's keeper.

Credentials are resolved here for the captain and the guard only; an observer gets a
read-only journal, the plan the journal carries, and the guard's published evaluation.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from cockpit.clock import SystemClock
from cockpit.config import Plan, parse_journaled_plan, resolve_state_dir
from cockpit.core.events import Actor
from cockpit.engine import Engine, EngineError
from cockpit.journal import Journal
from cockpit.unwritable import UnwritableJournal as _Unwritable
from cockpit.unwritable import acting_journal

RESPAWN_AFTER_S = 10.0  # a guard that the keeper started gets this long to take the lock
QUICK_EXIT_S = 60.0  # a guard that ended sooner than this after its start is not started again at once:
RESPAWN_MAX_S = 300.0  # the wait doubles, up to this (a guard that finds nothing to protect, again and again)


class SessionError(Exception):
    """The session cannot open; the message names the state dir or file."""


def identity(role: str) -> Actor:
    return Actor(user=getpass.getuser(), host=socket.gethostname().split(".")[0], role=role)


def captain_engine(plan: Plan, config: Path, actor: Actor, *, clock=None, warn=None, journal=None) -> Engine:
    """A writable engine with the gateway, the check runner and the metrics source. `warn(line)`
    says what the captain must know (default: stderr; a screen loading in a thread collects it).
    `journal`: one opened already (the guard's, which may not be writable or may not verify)."""
    from cockpit.adapters import checks
    from cockpit.adapters.factory import build_gateway

    clock = clock or SystemClock()
    state_dir = resolve_state_dir(plan, config)
    metrics = build_metrics(plan)
    runner = checks.runner(clock=clock, base_dir=Path(config).resolve().parent, metrics=metrics)
    gateway = build_gateway(plan, plan.kill_switch.gateway)
    journal = journal or Journal(state_dir)
    if journal.quarantined:
        line = f"journal: torn tail quarantined: {journal.quarantined}"
        if warn is not None:
            warn(line)
        else:
            print(line, file=sys.stderr)
    return Engine(plan, journal, clock=clock, actor=actor, gateway=gateway, check_runner=runner, metrics=metrics)


def build_metrics(plan: Plan):
    if plan.prometheus is None:
        return None
    from cockpit.adapters.prometheus import build_metrics as build

    return build(plan)


def observer_engine(state_dir: Path, local_plan: Plan | None, actor: Actor, *, clock=None) -> Engine:
    """A follower on a read-only journal. The plan comes from the journal itself, so an observer
    needs no credentials and no config (a local config is used only for an older journal)."""
    if not (Path(state_dir) / "journal.jsonl").exists():
        raise SessionError(f"{state_dir}: no journal yet; the captain starts it with `cockpit run`")
    journal = Journal(state_dir, readonly=True)
    engine_plan = local_plan
    journaled = _journaled_plan(journal)
    if journaled is not None:
        engine_plan = journaled
    if engine_plan is None:
        raise SessionError(f"{state_dir}: the journal carries no plan document; pass --config with the captain's plan")
    engine = Engine(engine_plan, journal, clock=clock or SystemClock(), actor=actor)
    if journaled is None:
        engine.ensure_plan()  # an older journal: the local config must be the captain's
    return engine


def _journaled_plan(journal: Journal) -> Plan | None:
    from cockpit.core.state import fold

    loaded = fold(journal.records).plan
    if loaded is None or not loaded.document:
        return None
    return parse_journaled_plan(dict(loaded.document))


def guard_engine(plan: Plan, config: Path, actor: Actor) -> Engine:
    """The guard's engine: the captain's adapters, on the plan the journal already runs. A state dir
    it cannot write (read-only, full, not this user's) or a journal that does not verify does not
    stop it: the kill path needs neither; what it cannot record is held and journaled late."""
    import logging

    journal = acting_journal(resolve_state_dir(plan, config), salvage=True)
    said = logging.getLogger("cockpit.guard")
    if getattr(journal, "broken", None):
        said.error("JOURNAL BROKEN: %s: guarding all the same, on the %d events that still read; what cannot be "
                   "journaled is held and kept aside", journal.broken, len(journal.records))
    if isinstance(journal, _Unwritable):
        said.error("STATE DIR NOT WRITABLE: %s: guarding all the same; what cannot be recorded is said here "
                   "and journaled as soon as the state dir takes writes", journal.why)
    try:
        engine = captain_engine(plan, config, actor, journal=journal, warn=said.warning)
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
    if journaled.digest != _digest(plan):
        raise SessionError(
            f"{config}: this config ({_digest(plan)[:12]}) differs from the plan in the journal ({journaled.digest[:12]}); "
            "a guard evaluates only the plan the rollout runs"
        )
    return engine


def _digest(plan: Plan) -> str:
    from cockpit.config import plan_digest

    return plan_digest(plan)


class GuardKeeper:
    """The captain's screen keeps a guard running: it starts one detached from the terminal (its
    own session, no controlling tty), so a dropped SSH session, `q` or a crash leaves the rollout
    watched; and it starts another when the guard lock is free while the rollout needs one."""

    def __init__(self, config: Path, state_dir: Path, who: str):
        self.config = Path(config).resolve()
        self.state_dir = Path(state_dir)
        self.who = who
        self.process: subprocess.Popen | None = None
        self._spawned_at = 0.0
        self._wait_s = 0.0  # before the next start, after guards that ended quickly
        self._seen_end = False  # the current process's end has been counted

    def __call__(self, state) -> str:
        """Called once a second with the rollout state; returns what to tell the captain, if anything."""
        from cockpit.lease import guarding

        if state.status in ("completed", "rolled_back"):
            return ""
        if self.process is not None and self.process.poll() is None and time.monotonic() - self._spawned_at < RESPAWN_AFTER_S:
            return ""  # just started: give it time to take the lock
        if guarding(self.state_dir) is not None:
            return ""
        if self.process is not None and self.process.poll() is not None and not self._seen_end:
            self._seen_end = True  # it ended: quickly means it found nothing to protect, or could not start
            quick = time.monotonic() - self._spawned_at < QUICK_EXIT_S
            self._wait_s = min(RESPAWN_MAX_S, max(1.0, 2 * self._wait_s)) if quick else 0.0
        if self.process is not None and time.monotonic() - self._spawned_at < self._wait_s:
            return ""
        first = self.process is None
        died = "" if first else self._why_it_ended()
        reason = f"started by {self.who}'s screen" if first else f"restarted by {self.who}'s screen: no guard held the lock"
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
            env={**os.environ, "PYTHONPATH": _package_root() + os.pathsep + os.environ.get("PYTHONPATH", "")},
        )
        self._spawned_at = time.monotonic()
        self._seen_end = False
        return self.process


def _package_root() -> str:
    """Where this cockpit is imported from, so the guard runs the same code as the screen."""
    return str(Path(__file__).resolve().parent.parent)
