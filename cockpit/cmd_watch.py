"""Watching a rollout: `status` (once, or --watch), the captain's screen (`run`) and the observer's (`observe`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cockpit import headless as h
from cockpit.cmd_shared import plan_or_refuse, screen, store_of
from cockpit.exits import Exit
from cockpit.refused import Refused
from cockpit.shown import terminal


def cmd_status(args) -> int:
    """The rollout from the journal's intact events and the guard's last round; exit 1 when the
    journal has a problem (torn, tampered, cut off, events kept aside), said first and loudly."""
    config = plan_or_refuse(args.config) if args.config else None
    store = store_of(args, config)  # opened once: --watch asks the same store (one etcd client) each second
    if not args.watch:
        return _status_once(args, store, config)
    import time

    try:
        while True:
            _status_once(args, store, config, clear=True)  # one screen a second
            time.sleep(1.0)
    except KeyboardInterrupt:
        return Exit.OK


STATUS_OUTCOMES = {Exit.OK: "shown", Exit.FAIL: "journal problems", Exit.REFUSED: "refused"}


def _status_document(args, code: Exit, doc: dict) -> Exit:
    """`status --json`: the rollout's document, with the exit code the text gives."""
    if args.json:
        h.report.printed = True
        print(json.dumps({"command": "status", "outcome": STATUS_OUTCOMES[code], "exit_code": int(code), **doc},
                         indent=2))
    return code


def _config_differs(args, config, state) -> str:
    """What the --config plan differs in from the plan the journal runs ("" : the same, or no plan journaled).
    The journal's plan is what status shows; a config that is not it is said, never silently read past."""
    from cockpit.config import same_plan
    from cockpit.engine import plan_differences, plan_snapshot

    if config is None or state.plan is None or same_plan(config, state.plan.digest):
        return ""
    return (f"{args.config}: not the plan the journal runs ({state.plan.digest[:12]})"
            f"{plan_differences(state.plan.document, plan_snapshot(config).document)}; shown: the journal's plan")


def _status_once(args, store, config=None, *, clear: bool = False) -> int:
    from cockpit.clock import SystemClock
    from cockpit.core.events import GENESIS
    from cockpit.core.guardsight import face_now
    from cockpit.core.state import fold
    from cockpit.status import guard_json, headline_json, journal_alarms, status_json, status_lines
    from cockpit.store import FileStore
    from cockpit.store.chain import TAIL, JournalError

    state_dir, local = store.state_dir, isinstance(store, FileStore)
    named = state_dir if local else getattr(store, "where", state_dir)  # etcd: the endpoint and prefix
    try:
        started = store.started() if not local or state_dir.is_dir() else state_dir.exists()
    except JournalError as e:
        raise Refused(str(e)) from None
    if not started:
        said = (f"{named}: no journal yet: the rollout has not started (the captain starts it with `cockpit run`)"
                if not local or state_dir.exists() else
                f"{state_dir}: no such directory: no rollout has started there "
                "(check the path; `cockpit run` makes it)")
        print(said, file=sys.stderr)
        return _status_document(args, Exit.REFUSED, {"status": "not started", "state_dir": str(state_dir),
                                                     "events": 0, "refusals": [said]})
    try:
        scan = store.verify()
        captain = store.captain()
    except (JournalError, OSError) as e:
        raise Refused(str(e)) from None
    alarms = journal_alarms(state_dir, scan, store=store)
    # A bad line 20 of 100 does not make a live rollout read as not started, and what a guard or a
    # kill kept aside (the journal would not take it) is a fact all the same: a kill verified at the
    # gateway reads ROLLED BACK, not LIVE 5 %.
    head = scan.salvaged[-1].hash if scan.salvaged else GENESIS
    state = fold(scan.salvaged + store.kept_records(head))
    live = store.published()
    holder = store.guard_holder()
    sight = store.guard_sight(holder)
    plan = _journaled_plan(state)
    now = face_now(plan, state, live, sight, SystemClock().now())
    guard = guard_json(plan, state, live, sight, holder)
    broken = next((str(p) for p in scan.problems if p.reason not in TAIL), "")  # a torn tail alone is no broken chain
    seen = headline_json(plan, state, live, now, sight, broken) if plan is not None else None
    code = Exit.FAIL if alarms else Exit.OK
    differs = _config_differs(args, config, state)
    if clear and not args.json:  # the screen cleared only once the next one is ready: Ctrl-C never leaves it blank
        terminal(sys.stdout).write("\x1b[H\x1b[2J")
    if not args.json:
        print("\n".join([f"JOURNAL  {a}" for a in alarms] + status_lines(state, now, captain, guard, seen)))
    for said in [f"{named}: {alarm}" for alarm in alarms] + ([differs] if differs else []):
        print(said, file=sys.stderr)
    return _status_document(args, code, {**status_json(state, now, captain), **(seen or {}), "guard": guard,
                                         "journal_problems": alarms} | ({"config_differs": differs} if differs else {}))


def _journaled_plan(state):
    """The plan the journal runs, parsed (None without one that parses here)."""
    from cockpit.config import ConfigError, parse_journaled_plan

    if state.plan is None:
        return None
    try:
        return parse_journaled_plan(dict(state.plan.document))
    except (ConfigError, ValueError):
        return None


def cmd_run(args) -> int:
    """The captain's screen. A guard is started detached first (by the loader, under the lock),
    so the rollout is watched whether or not this terminal stays."""
    from cockpit.tui.app import CockpitApp, Loaded

    held, stores = [], []

    def load() -> Loaded:  # after the first frame: the plan validated, the lock, the engine, the guard
        from cockpit.session import GuardKeeper, captain

        warnings: list[str] = []
        session = captain(plan_or_refuse(args.config), Path(args.config), warn=warnings.append)
        held.append(session.lock)
        stores.append(session.store)
        keeper = GuardKeeper(Path(args.config), session.store.state_dir, str(session.actor), store=session.store)
        keeper(session.engine.state)
        feed = session.store.feed()
        feed.latest()  # the one look a feed waits for: here, on the loader's thread (etcd: EtcdFeed)
        return Loaded(session.engine, str(session.actor), feed=feed, keeper=keeper, warnings=warnings)

    app = CockpitApp(loader=load, loading=f"loading the plan {args.config} and its journal", theme=args.theme)
    try:
        screen(app)
    finally:
        loaded = app.wait_loaded()
        for lock in held:
            lock.release()
    for warning in loaded.warnings if loaded is not None else ():
        print(warning, file=sys.stderr)
    if loaded is not None:
        print(_leaving(loaded, stores[0]))
    return Exit.OK


def _leaving(loaded, store) -> str:
    """What the terminal says once the screen has gone: where the rollout stands (the screen's
    headline) and who watches it now, so a quit never leaves a blank prompt and a guess."""
    from cockpit.core.readmodel import headline
    from cockpit.store.chain import JournalError

    engine = loaded.engine
    try:
        engine.refresh()
    except Exception:  # noqa: BLE001 - the state as last read is still worth saying
        pass
    live = loaded.feed.latest() if loaded.feed is not None else None
    sight = loaded.feed.sight() if loaded.feed is not None else None
    head = headline(engine.plan, engine.state, live, engine.clock.now(), sight=sight)
    try:
        holder = store.guarding()
    except JournalError as e:
        holder, unseen = None, str(e)
    else:
        unseen = ""
    if unseen:
        watch = f"whether a guard watches the triggers cannot be seen: {unseen}"
    elif holder:
        watch = f"guard {holder.get('pid')}@{holder.get('host')} watches the triggers"
    elif engine.state.live:
        watch = "NO GUARD runs: start one with `cockpit guard --config PLAN` or `cockpit run`"
    else:
        watch = "no guard runs (nothing to watch)"
    said = f"{engine.plan.release.name} {engine.plan.release.version}: {head.text}; {watch}"
    engine.write_held()  # what the screen did while the journal would not take it: one more try
    if lost := engine.unrecorded:
        from cockpit.store.kept import ASIDE, kept_line

        said += (f"\nNOTHING RECORDED: {len(lost)} events neither the journal nor {ASIDE} took ({lost[0].error}); "
                 f"append these lines to {engine.journal.state_dir / ASIDE} once it can be written:\n" + "".join(
                     kept_line(h.record.payload, actor=h.record.actor, ts=h.record.ts, error=h.error,
                               pseq=h.record.seq).decode() for h in lost).rstrip())
    return said


def cmd_observe(args) -> int:
    """Read-only: the journal and the guard's published evaluation; no credentials, no Prometheus."""
    from cockpit.tui.app import CockpitApp, Loaded

    if args.state_dir and not args.config and not (Path(args.state_dir) / "journal.jsonl").exists():  # said first
        print(f"{Path(args.state_dir)}: no journal yet; the captain starts it with `cockpit run`", file=sys.stderr)
        return Exit.REFUSED  # (session.observer_engine says the same when the state dir comes from --config)

    def load() -> Loaded:  # after the first frame: the journal read, the plan it carries
        from cockpit.engine import EngineError
        from cockpit.session import SessionError, observer, where
        from cockpit.store.chain import JournalError

        local = plan_or_refuse(args.config) if args.config else None
        store = store_of(args, plan=local)
        stores.append(store)
        named = where(store)
        try:
            engine, feed = observer(store.state_dir, local, store=store)
        except (SessionError, JournalError, EngineError) as e:
            raise Refused(f"{named}: {e}" if named not in str(e) else str(e)) from None
        if feed is not None:
            feed.latest()  # the one look a feed waits for: here, on the loader's thread (etcd: EtcdFeed)
        return Loaded(engine, str(engine.actor), feed=feed)

    stores: list = []

    where = (f"in {Path(args.state_dir)}" if args.state_dir
             else f"of the plan {args.config}" if args.config else "in state")
    app = CockpitApp(loader=load, loading=f"loading the journal {where}", theme=args.theme)
    screen(app)
    if (loaded := app.wait_loaded()) is not None:
        print(_leaving(loaded, stores[0]))
    return Exit.OK
