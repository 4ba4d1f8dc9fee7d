"""`guard`, the one evaluator with no terminal, and `ack`, a page it raised acknowledged."""

from __future__ import annotations

import sys
from pathlib import Path

from cockpit import headless as h
from cockpit.cmd_shared import plan_or_refuse, reported
from cockpit.exits import Exit
from cockpit.refused import Refused, refusal


def cmd_guard(args) -> int:
    """The one evaluator, with no terminal: see cockpit/guard.py."""
    import asyncio
    import logging
    import signal

    from cockpit import session
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.engine import EngineError
    from cockpit.guard import setup_logging
    from cockpit.session import SessionError, guard_engine, open_store
    from cockpit.store.chain import JournalError
    from cockpit.whoami import whoami

    plan = plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    actor = whoami("guard")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(state_dir, stderr=not args.quiet)
        store = open_store(plan, Path(args.config))
        engine = guard_engine(plan, Path(args.config), actor, store=store)
    except (SessionError, JournalError, EngineError, OSError) as e:
        logging.getLogger("cockpit.guard").error("cannot start: %s", e)
        if args.quiet:  # else the log's stderr handler has said it
            print(f"guard: cannot start: {e}", file=sys.stderr)
        return Exit.REFUSED
    except ConfigError as e:
        for line in e.errors:
            logging.getLogger("cockpit.guard").error("cannot start: %s: %s", args.config, line)
            if args.quiet:
                print(f"{args.config}: {line}", file=sys.stderr)
        return Exit.REFUSED
    guard = session.guard(engine, state_dir, reason=args.reason, evidence_base=Path(args.config).parent, store=store)

    async def main() -> str:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, guard.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # no terminal to lose
        try:
            return await guard.run(wait=not args.no_wait)
        except Exception:  # a detached guard's stderr goes nowhere: guard.log keeps why it ended
            logging.getLogger("cockpit.guard").exception("the guard ended on an error")
            raise
        finally:
            if engine.gateway is not None:
                await engine.gateway.close()

    why = asyncio.run(main())
    if not args.quiet:
        print(f"guard: {why}", file=sys.stderr)
    if guard.deposed:  # said in guard.log: another guard holds the lease; this one acted no more
        return Exit.DEPOSED
    if guard.unrecorded:  # printed on stderr and guard.log by the guard as it stopped
        return Exit.UNRECORDED
    return Exit.OK if why != "another guard holds the lock" else Exit.LOCKED


@reported
def cmd_ack(args) -> int:
    """Acknowledge an incident: it stops climbing, and the guard tells every channel it paged
    (PagerDuty gets `acknowledge` with the incident's dedup key). Needs no captain lock: whoever
    is on call acknowledges from wherever they are; the journal's lock orders the append."""
    from cockpit.config import resolve_state_dir
    from cockpit.engine import EngineError
    from cockpit.narrate import line
    from cockpit.session import captain_engine, open_store, where
    from cockpit.store.chain import JournalError
    from cockpit.whoami import whoami

    plan = plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    store = open_store(plan, Path(args.config))
    try:
        started = store.started()
    except JournalError as e:
        raise Refused(f"refused: {e}") from None
    if not started:
        raise Refused(f"{where(store)}: no journal: nothing has been paged")
    try:
        engine = captain_engine(plan, Path(args.config), whoami("cli"), needs="journal", store=store)  # no captain lock
        engine.ensure_plan()
    except (EngineError, JournalError) as e:
        raise Refused(f"refused: {state_dir}: {e}") from None
    try:
        out = engine.acknowledge(args.incident, args.name, via="cli")
        if not out.ok:
            raise refusal(out.reasons)
        for record in out.records:
            h.report.written.append(record.seq)
            h.report.events.append(said := line(record, engine.state.plan))
            print(said)
        return Exit.OK
    finally:
        engine.journal.close()
