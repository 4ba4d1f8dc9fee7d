"""The `cockpit` command: run, observe, demo, and the headless subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _plan_or_exit(path: str):
    from cockpit.config import ConfigError, load_plan

    try:
        return load_plan(Path(path))
    except ConfigError as e:
        for line in e.errors:
            print(line, file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def cmd_check_config(args) -> int:
    plan = _plan_or_exit(args.file)
    print(
        f"{args.file}: ok: {plan.release.name} {plan.release.version}, "
        f"{len(plan.phases)} phases ({'/'.join(str(p.weight) for p in plan.phases)} %), "
        f"{len(plan.preflight)} checks, {len(plan.triggers)} triggers, {len(plan.sign_offs)} sign-offs"
    )
    return EXIT_OK


def cmd_init(args) -> int:
    import tomli_w

    from cockpit.config import dump_plan
    from cockpit.seed import seed_plan

    target = Path(args.file)
    if target.exists() and not args.force:
        print(f"{target}: exists; pass --force to overwrite", file=sys.stderr)
        return EXIT_USAGE
    header = "# cockpit starter plan (the IntelGraph v0.1.0 seed); edit, then: cockpit check-config FILE\n"
    target.write_text(header + tomli_w.dumps(dump_plan(seed_plan())))
    print(f"{target}: written")
    return EXIT_OK


def _state_dir(args) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    if getattr(args, "config", None):
        from cockpit.config import resolve_state_dir

        return resolve_state_dir(_plan_or_exit(args.config), Path(args.config))
    return Path("state")


def cmd_verify(args) -> int:
    from cockpit.journal import JournalError, verify

    state_dir = _state_dir(args)
    try:
        scan = verify(state_dir)
    except JournalError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    path = state_dir / "journal.jsonl"
    if scan.problem:
        print(f"{path}: {scan.problem}", file=sys.stderr)
        print(f"{path}: the first {len(scan.records)} events are intact", file=sys.stderr)
        return EXIT_FAIL
    last = scan.records[-1].hash[:12] if scan.records else "-"
    print(f"{path}: ok: {len(scan.records)} events, chain intact, head {last}")
    return EXIT_OK


def cmd_status(args) -> int:
    from cockpit.journal import Journal, JournalError, read_captain
    from cockpit.status import status_lines, status_json
    from cockpit.clock import SystemClock

    state_dir = _state_dir(args)
    try:
        journal = Journal(state_dir, readonly=True)
    except JournalError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    if not journal.records:
        print(f"{state_dir}: no journal events yet", file=sys.stderr)
        return EXIT_USAGE
    from cockpit.core.state import fold

    state = fold(journal.records)
    now = SystemClock().now()
    captain = read_captain(state_dir)
    if args.json:
        print(json.dumps(status_json(state, now, captain), indent=2))
    else:
        print("\n".join(status_lines(state, now, captain)))
    return EXIT_OK


def cmd_demo(args) -> int:
    import asyncio
    import tempfile

    from cockpit import demo

    state_dir = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    from cockpit.session import identity

    actor = identity("captain")
    engine, guard, _world, people = demo.build(args.scenario, state_dir, speed=args.speed, actor=actor)
    if args.headless:
        print(f"{demo.banner(args.speed)}; {demo.watch_hint(state_dir)}", flush=True)
        status = asyncio.run(demo.run_headless(engine, guard, people, out=sys.stdout))
        print(f"journal: {state_dir / 'journal.jsonl'}  ({status})")
        return EXIT_OK
    from cockpit.tui.app import CockpitApp

    print(demo.watch_hint(state_dir), flush=True)
    app = CockpitApp(engine, who=str(actor), theme=args.theme, guard=guard, banner=demo.banner(args.speed))
    app.call_later(lambda: app.run_worker(people.sign_off(), group="demo"))
    app.run()
    guard.stop()
    guard.monitor.close()
    print(f"demo journal: {state_dir / 'journal.jsonl'}")
    return EXIT_OK


def _captain(args):
    """The captain's engine under the captain lock (credentials resolved here), or exit."""
    import os

    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.engine import EngineError
    from cockpit.journal import CaptainLock, CaptainLockHeld, JournalError
    from cockpit.session import captain_engine, identity

    plan = _plan_or_exit(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    actor = identity("captain")
    try:
        lock = CaptainLock(state_dir, user=actor.user, host=actor.host, pid=os.getpid(),
                           since=f"{SystemClock().now():%Y-%m-%d %H:%M:%SZ}").acquire()
        engine = captain_engine(plan, Path(args.config), actor)
        engine.ensure_plan()
        return engine, actor, lock, state_dir
    except CaptainLockHeld as e:
        print(f"refused: {e}", file=sys.stderr)
        raise SystemExit(3) from None
    except (JournalError, EngineError) as e:
        print(f"{state_dir}: {e}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    except ConfigError as e:
        for line in e.errors:
            print(f"{args.config}: {line}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def cmd_run(args) -> int:
    """The captain's screen. A guard is started detached first, so the rollout is watched
    whether or not this terminal stays."""
    from cockpit.guard import GuardFeed
    from cockpit.session import GuardKeeper
    from cockpit.tui.app import CockpitApp

    engine, actor, lock, state_dir = _captain(args)
    keeper = GuardKeeper(Path(args.config), state_dir, str(actor))
    try:
        keeper(engine.state)
        CockpitApp(engine, GuardFeed(state_dir), who=str(actor), theme=args.theme, keeper=keeper).run()
    finally:
        lock.release()
    return EXIT_OK


def cmd_observe(args) -> int:
    """Read-only: the journal and the guard's published evaluation; no credentials, no Prometheus."""
    from cockpit.engine import EngineError
    from cockpit.guard import GuardFeed
    from cockpit.journal import JournalError
    from cockpit.session import SessionError, identity, observer_engine
    from cockpit.tui.app import CockpitApp

    state_dir = _state_dir(args)
    local = _plan_or_exit(args.config) if args.config else None
    actor = identity("observer")
    try:
        engine = observer_engine(state_dir, local, actor)
    except (SessionError, JournalError, EngineError) as e:
        print(f"{state_dir}: {e}" if str(state_dir) not in str(e) else str(e), file=sys.stderr)
        return EXIT_USAGE
    CockpitApp(engine, GuardFeed(state_dir), who=str(actor), theme=args.theme).run()
    return EXIT_OK


def cmd_guard(args) -> int:
    """The one evaluator, with no terminal: see cockpit/guard.py."""
    import asyncio
    import os
    import signal

    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.core.evaluation import GuardId
    from cockpit.engine import EngineError
    from cockpit.guard import Guard, setup_logging
    from cockpit.journal import JournalError
    from cockpit.monitor import Monitor
    from cockpit.session import SessionError, guard_engine, identity

    plan = _plan_or_exit(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    actor = identity("guard")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(state_dir, stderr=not args.quiet)
        engine = guard_engine(plan, Path(args.config), actor)
    except (SessionError, JournalError, EngineError, OSError) as e:
        print(f"guard: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as e:
        for line in e.errors:
            print(f"{args.config}: {line}", file=sys.stderr)
        return EXIT_USAGE
    ident = GuardId(user=actor.user, host=actor.host, pid=os.getpid(), since=engine.clock.now())
    guard = Guard(engine, Monitor(engine, engine.metrics), state_dir, ident, reason=args.reason)

    async def main() -> str:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, guard.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # no terminal to lose
        try:
            return await guard.run(wait=not args.no_wait)
        finally:
            if engine.gateway is not None:
                await engine.gateway.close()

    why = asyncio.run(main())
    print(f"guard: {why}", file=sys.stderr) if not args.quiet else None
    return EXIT_OK if why != "another guard holds the lock" else 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cockpit", description="Terminal release cockpit for canary rollouts.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("check-config", help="validate a plan; exit 0 when valid, 2 otherwise")
    s.add_argument("file")
    s.set_defaults(func=cmd_check_config)

    s = sub.add_parser("init", help="write a starter plan (the seed) to FILE")
    s.add_argument("file")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("verify", help="check the journal's hash chain; names the first bad line")
    s.add_argument("--state-dir")
    s.add_argument("--config")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("status", help="the rollout's state, from the journal alone")
    s.add_argument("--state-dir")
    s.add_argument("--config")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("run", help="the release captain's cockpit (one captain at a time)")
    s.add_argument("--config", required=True)
    s.add_argument("--theme")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("observe", help="watch the captain's rollout, read-only (needs only read access to the state dir)")
    s.add_argument("--state-dir", help="the rollout's state dir")
    s.add_argument("--config", help="find the state dir from the plan (no credentials are loaded)")
    s.add_argument("--theme")
    s.set_defaults(func=cmd_observe)

    s = sub.add_parser(
        "guard",
        help="the one evaluator: polls Prometheus, judges the triggers and pulls the kill, with no terminal",
        description="Holds the guard lock of the plan's state dir (a standby waits and takes over when the "
        "holder dies), evaluates every poll interval, publishes guard.json for the screens and logs to "
        "guard.log. Stops by itself when the rollout is completed or rolled back. `cockpit run` starts one "
        "detached; run it yourself (or from contrib/cockpit-guard@.service) for a standby. "
        "Exit codes: 0 done or stopped by SIGTERM, 2 cannot start, 3 another guard holds the lock (--no-wait).",
    )
    s.add_argument("--config", required=True)
    s.add_argument("--reason", default="", help="journaled with the takeover (who started it and why)")
    s.add_argument("--no-wait", action="store_true", help="exit 3 instead of standing by when a guard runs")
    s.add_argument("--quiet", action="store_true", help="log to guard.log only, not to stderr")
    s.set_defaults(func=cmd_guard)

    from cockpit.adapters.simulator import SCENARIOS

    s = sub.add_parser("demo", help="the cockpit on an embedded simulated rollout")
    s.add_argument("--scenario", choices=SCENARIOS, default="latency-regression")
    s.add_argument("--speed", type=float, default=60.0, help="rollout seconds per wall second (default 60)")
    s.add_argument("--state-dir", help="keep the demo journal here (default: a temporary dir)")
    s.add_argument("--headless", action="store_true", help="no screen: a scripted captain, events printed")
    s.add_argument("--theme")
    s.set_defaults(func=cmd_demo)
    from cockpit import headless; headless.register(sub)  # noqa: E702 (kill, shift, reconcile)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
