"""`cockpit kill`, `cockpit shift` and `cockpit reconcile`: the engine's traffic commands without a screen.

Exit codes:
  0  done and verified
  1  tried but not verified (KILL NOT CONFIRMED, a shift the gateway does not confirm, canary
     traffic that does not fall)
  2  refused or misconfigured, and 3 captain lock held (as `cockpit run`): both with nothing
     journaled and nothing sent to the gateway
  4  `kill` only: VERIFIED at the gateway, but the journal did not take its events: they are
     kept in the state dir's unjournaled.jsonl (journaled by the next append) or, if even that
     failed, printed for you to write down
  5  crashed: an unexpected error; the kill may or may not have reached the gateway: read it
     back (`cockpit reconcile`, or the gateway itself)
  6  `kill` only: KILL NOT CONFIRMED and the journal did not take its events either

Who may run what:
- `kill` needs no captain lock: an emergency from a second terminal must work while the
  captain's screen runs. The journal's file lock orders the appends; the captain's engine
  folds the kill in on its next refresh. Confirmed by typing the release version.
- `shift` and `reconcile` drive the rollout, so they take the captain lock (refused, naming
  the holder, while a captain runs). `shift` follows `rules.shift_refusals` and is confirmed
  like `kill`; `reconcile` only reads the gateway back and journals what it found (and pulls
  an interrupted kill again), so it asks nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3  # 3: another captain holds the lock, as for `run`
EXIT_UNJOURNALED, EXIT_CRASHED, EXIT_FAIL_UNJOURNALED = 4, 5, 6
KILL_EXIT_CODES = """exit codes: 0 VERIFIED and journaled; 1 KILL NOT CONFIRMED (act on the gateway by hand);
2 refused, nothing sent; 4 VERIFIED at the gateway but the journal did not take it (kept in
unjournaled.jsonl or printed); 5 crashed (read the gateway back); 6 KILL NOT CONFIRMED and not journaled"""


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("kill", help="pull the kill switch: canary to 0 %% at the gateway, read back, journaled",
                       epilog=KILL_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--config", required=True, help="the plan the captain runs")
    s.add_argument("--reason", required=True, help="why, in words; journaled and sent with the notification")
    s.add_argument("--confirm", metavar="VERSION", help="the release version; required without a terminal")
    s.add_argument("--no-wait", action="store_true",
                   help="do not wait for the canary's request rate to fall (kill_switch.verify_query)")
    s.set_defaults(func=cmd_kill)

    s = sub.add_parser("shift", help="shift the canary to a phase weight outside the screen (same rules)")
    s.add_argument("--config", required=True)
    s.add_argument("--weight", required=True, type=int, help="a phase weight: the next, the current, or a lower one")
    s.add_argument("--confirm", metavar="VERSION", help="the release version; required without a terminal")
    s.set_defaults(func=cmd_shift)

    s = sub.add_parser("reconcile", help="read the gateway back and journal whether it agrees with the journal")
    s.add_argument("--config", required=True)
    s.set_defaults(func=cmd_reconcile)


def _say(*lines: str, err: bool = False) -> None:
    print("\n".join(lines), file=sys.stderr if err else sys.stdout, flush=True)


def _actor(role: str):
    from cockpit.core.events import Actor

    return Actor(user=getpass.getuser(), host=socket.gethostname(), role=role)


class Refused(Exception):
    """Nothing was changed; the lines say why."""

    def __init__(self, *lines: str, code: int = EXIT_USAGE):
        super().__init__("\n".join(lines))
        self.lines = lines
        self.code = code


def _load(config: str):
    """The plan, its state dir, and the rollout state as the journal has it (read-only: a
    refused command must not so much as create the state dir)."""
    from cockpit.config import ConfigError, load_plan, resolve_state_dir
    from cockpit.engine import Engine, EngineError
    from cockpit.journal import Journal, JournalError
    from cockpit.clock import SystemClock

    try:
        plan = load_plan(Path(config))
    except ConfigError as e:
        raise Refused(*e.errors) from None
    state_dir = resolve_state_dir(plan, Path(config))
    try:
        reader = Engine(plan, Journal(state_dir, readonly=True), clock=SystemClock(), actor=_actor("cli"))
        reader.ensure_plan()  # the same plan the captain runs, or refuse
    except (EngineError, JournalError) as e:
        raise Refused(f"{state_dir}: {e}") from None
    return plan, state_dir, reader.state


def _confirm(plan, given: str | None, what: str) -> None:
    """The operator types the release version: at a terminal when asked, else with --confirm."""
    version = plan.release.version
    if given is None:
        if not sys.stdin.isatty():
            raise Refused(f"refused: no terminal to confirm at; pass --confirm {version} to {what}",
                          "nothing was changed")
        try:
            given = input(f"About to {what}.\nType the release version ({version}) to confirm: ")
        except EOFError:
            given = ""
    if given.strip() != version:
        raise Refused(f"refused: {given.strip()!r} is not the release version {version}", "nothing was changed")


def _engine(plan, state_dir, role: str, *, metrics: bool = False):
    """A writable engine with the real gateway; credentials are resolved here and only here."""
    from cockpit.adapters.factory import build_gateway
    from cockpit.adapters.prometheus import build_metrics
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError
    from cockpit.engine import Engine, EngineError
    from cockpit.journal import Journal, JournalError

    try:
        gateway = build_gateway(plan)
    except ConfigError as e:
        raise Refused(*e.errors, "nothing was changed") from None
    source = None
    if metrics and plan.kill_switch.verify_query:
        try:
            source = build_metrics(plan)
        except ConfigError as e:  # the kill matters more than its second check
            _say(f"warning: no canary traffic check: {'; '.join(e.errors)}", err=True)
    try:
        journal = Journal(state_dir)
    except JournalError as e:
        raise Refused(f"refused: {e}", "nothing was changed") from None
    if journal.quarantined:
        _say(f"journal: torn tail quarantined: {journal.quarantined}", err=True)
    if journal.write_error:
        _say(f"journal: {journal.write_error}", err=True)
    engine = Engine(plan, journal, clock=SystemClock(), actor=_actor(role), gateway=gateway, metrics=source)
    try:
        engine.ensure_plan()
    except (EngineError, JournalError) as e:
        journal.close()
        raise Refused(f"refused: {state_dir}: {e}", "nothing was changed") from None
    return engine


def _print_records(engine, records) -> None:
    from cockpit.narrate import line

    for record in records:
        _say(f"  {line(record, engine.state.plan)}")


def _run(main: Callable[[], int]) -> int:
    try:
        return main()
    except Refused as e:
        _say(*e.lines, err=True)
        return e.code


# -- kill --------------------------------------------------------------------------------------


def cmd_kill(args) -> int:
    try:
        return _run(lambda: _kill(args))
    except Exception as e:  # noqa: BLE001 - the operator must know the kill's fate is unknown
        import traceback

        _say(f"cockpit kill CRASHED: {type(e).__name__}: {e}",
             "the kill may or may not have reached the gateway: read it back (cockpit reconcile, or the gateway)",
             "details:", traceback.format_exc().rstrip(), err=True)
        return EXIT_CRASHED


def _kill(args) -> int:
    from cockpit.core import rules

    plan, state_dir, state = _load(args.config)
    if reasons := rules.kill_refusals(state):
        raise Refused(*(f"refused: {r}" for r in reasons))
    if not args.reason.strip():
        raise Refused("refused: the kill switch needs a reason (--reason)")
    ks = plan.kill_switch
    _confirm(plan, args.confirm, f"pull the kill switch on {plan.release.name} {plan.release.version} "
                                 f"({ks.flag}={str(ks.value).lower()} at gateway {ks.gateway}, canary to 0 %)")
    engine = _engine(plan, state_dir, "cli", metrics=not args.no_wait)
    return asyncio.run(_kill_async(engine, args.reason))


async def _kill_async(engine, reason: str) -> int:
    try:
        out = await engine.kill(reason)
        if not out.records and not out.unjournaled:
            _say(*(f"refused: {r}" for r in out.reasons), err=True)
            return EXIT_USAGE
        _print_records(engine, out.records)
        done = [r.payload for r in out.records] + out.unjournaled
        result = next(p for p in done if p.KIND == "kill_result")
        if out.unjournaled:
            _say(*(r for r in out.reasons if r.startswith("JOURNAL NOT WRITTEN")), err=True)
        if not out.ok:
            _say(f"KILL NOT CONFIRMED after {result.attempts} attempts: {result.error}",
                 f"escalated to {engine.plan.escalation[-1].level}: act on the gateway by hand")
            return EXIT_FAIL_UNJOURNALED if out.unjournaled else EXIT_FAIL
        _say(f"VERIFIED: gateway {engine.plan.kill_switch.gateway} reads the canary off "
             f"({engine.plan.kill_switch.flag}={str(result.observed_enabled).lower()}, weight {result.observed_weight})")
        if out.unjournaled:
            _say("the canary is off at the gateway, but the JOURNAL DOES NOT SAY SO YET "
                 f"({len(out.unjournaled)} events not journaled): free the disk or fix the journal; "
                 "the next append journals them", err=True)
            return EXIT_UNJOURNALED
        if engine.rollback_check is None:
            return EXIT_OK
        return await _wait_for_traffic(engine)
    finally:
        if engine.rollback_check and not engine.rollback_check.done():
            engine.rollback_check.cancel()
        await engine.gateway.close()
        if hasattr(engine.metrics, "close"):
            engine.metrics.close()
        engine.journal.close()


async def _wait_for_traffic(engine) -> int:
    from cockpit.config import format_duration

    within = format_duration(engine.plan.kill_switch.verify_within)
    _say(f"waiting up to {within} for the canary's request rate to fall to ~0 "
         "(Ctrl-C stops waiting; the kill stands)")
    verdict = await engine.rollback_check
    _print_records(engine, verdict.records)
    if verdict.ok:
        _say(f"ROLLBACK VERIFIED by canary traffic: {verdict.records[-1].payload.detail}")
        return EXIT_OK
    _say(verdict.reasons[0])
    return EXIT_FAIL


# -- shift and reconcile: the captain's commands -------------------------------------------------


def _captain_lock(state_dir):
    from cockpit.journal import CaptainLock, CaptainLockHeld, JournalError

    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%MZ")
    try:
        return CaptainLock(state_dir, user=getpass.getuser(), host=socket.gethostname(), pid=os.getpid(),
                           since=since).acquire()
    except CaptainLockHeld as e:
        raise Refused(f"refused: {e}", "nothing was changed", code=EXIT_LOCKED) from None
    except JournalError as e:
        raise Refused(f"refused: {e}", "nothing was changed") from None


def cmd_shift(args) -> int:
    return _run(lambda: _shift(args))


def _shift(args) -> int:
    from cockpit.core import rules

    plan, state_dir, state = _load(args.config)
    now = datetime.now(timezone.utc)
    if reasons := rules.shift_refusals(state, args.weight, now):
        raise Refused(*(f"refused: {r}" for r in reasons))
    target = rules.phase_of_weight(state, args.weight)
    kind = ("advance to" if target == rules.next_phase(state) else
            "re-assert" if target == state.phase else "roll back to")
    _confirm(plan, args.confirm, f"{kind} {plan.phases[target].name} on {plan.release.name} {plan.release.version}: "
                                 f"canary from {state.weight} % to {args.weight} %")
    lock = _captain_lock(state_dir)
    try:
        engine = _engine(plan, state_dir, "captain")
        return asyncio.run(_shift_async(engine, args.weight))
    finally:
        lock.release()


async def _shift_async(engine, weight: int) -> int:
    try:
        out = await engine.shift(weight)  # the rules again, now under the captain lock
        if not out.records:
            _say(*(f"refused: {r}" for r in out.reasons), err=True)
            return EXIT_USAGE
        _print_records(engine, out.records)
        if out.ok:
            _say(f"VERIFIED: the gateway reads canary {engine.state.weight} %")
            return EXIT_OK
        _say(f"SHIFT NOT CONFIRMED: {'; '.join(out.reasons)}")
        return EXIT_FAIL
    finally:
        await engine.gateway.close()
        engine.journal.close()


def cmd_reconcile(args) -> int:
    return _run(lambda: _reconcile(args))


def _reconcile(args) -> int:
    plan, state_dir, _ = _load(args.config)
    lock = _captain_lock(state_dir)
    try:
        engine = _engine(plan, state_dir, "captain")
        return asyncio.run(_reconcile_async(engine))
    finally:
        lock.release()


async def _reconcile_async(engine) -> int:
    try:
        out = await engine.reconcile()
        if not out.records:
            _say(*(f"refused: {r}" for r in out.reasons), err=True)
            return EXIT_USAGE
        _print_records(engine, out.records)
        return EXIT_OK if out.ok else EXIT_FAIL
    finally:
        await engine.gateway.close()
        engine.journal.close()
