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
    if not target.parent.is_dir():
        print(f"{target}: no directory {target.parent}; create it first", file=sys.stderr)
        return EXIT_USAGE
    if target.is_dir():
        print(f"{target}: is a directory; give a file name such as {target / 'plan.toml'}", file=sys.stderr)
        return EXIT_USAGE
    if target.exists() and not args.force:
        print(f"{target}: exists; pass --force to overwrite", file=sys.stderr)
        return EXIT_USAGE
    header = "# cockpit starter plan (the IntelGraph v0.1.0 seed); edit, then: cockpit check-config FILE\n"
    try:
        target.write_text(header + tomli_w.dumps(dump_plan(seed_plan())))
    except OSError as e:
        print(f"{target}: cannot write: {e.strerror}", file=sys.stderr)
        return EXIT_USAGE
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


def _identity(role: str):
    import getpass
    import socket

    from cockpit.core.events import Actor

    return Actor(user=getpass.getuser(), host=socket.gethostname().split(".")[0], role=role)


def cmd_demo(args) -> int:
    import asyncio
    import tempfile

    from cockpit import demo

    state_dir = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    actor = _identity("captain")
    engine, monitor, _world, people = demo.build(args.scenario, state_dir, speed=args.speed, actor=actor)
    if args.headless:
        status = asyncio.run(demo.run_headless(engine, monitor, people, out=sys.stdout))
        print(f"journal: {state_dir / 'journal.jsonl'}  ({status})")
        return EXIT_OK
    from cockpit.tui.app import CockpitApp

    app = CockpitApp(engine, monitor, who=str(actor), theme=args.theme)
    app.call_later(lambda: app.run_worker(people.sign_off(), group="demo"))
    app.run()
    monitor.close()
    print(f"demo journal: {state_dir / 'journal.jsonl'}")
    return EXIT_OK


def _open_engine(args, *, observer: bool):
    """The engine for `run` (captain: lock, gateway) or `observe` (read-only, no credentials)."""
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.engine import Engine, EngineError
    from cockpit.journal import CaptainLock, CaptainLockHeld, Journal, JournalError

    plan = _plan_or_exit(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    actor = _identity("observer" if observer else "captain")
    clock = SystemClock()
    try:
        if observer:
            if not (state_dir / "journal.jsonl").exists():
                print(f"{state_dir}: no journal yet; the captain starts it with `cockpit run`", file=sys.stderr)
                raise SystemExit(EXIT_USAGE)
            engine = Engine(plan, Journal(state_dir, readonly=True), clock=clock, actor=actor)
            engine.ensure_plan()
            return engine, actor, None
        lock = CaptainLock(state_dir, user=actor.user, host=actor.host, pid=__import__("os").getpid(), since=f"{clock.now():%Y-%m-%d %H:%M:%SZ}")
        lock.acquire()
        from cockpit.adapters import checks
        from cockpit.adapters.factory import build_gateway

        gateway = build_gateway(plan, plan.kill_switch.gateway)
        metrics = _metrics(plan)
        runner = checks.runner(clock=clock, base_dir=Path(args.config).resolve().parent, metrics=metrics)
        journal = Journal(state_dir)
        if journal.quarantined:
            print(f"journal: torn tail quarantined: {journal.quarantined}", file=sys.stderr)
        engine = Engine(plan, journal, clock=clock, actor=actor, gateway=gateway, check_runner=runner, metrics=metrics)
        engine.ensure_plan()
        return engine, actor, lock
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


def _metrics(plan):
    if plan.prometheus is None:
        return None
    from cockpit.adapters.prometheus import build_metrics

    return build_metrics(plan)


def cmd_run(args, observer: bool = False) -> int:
    from cockpit.monitor import Monitor
    from cockpit.tui.app import CockpitApp

    engine, actor, lock = _open_engine(args, observer=observer)
    monitor = Monitor(engine, engine.metrics if not observer else _metrics(engine.plan))
    try:
        CockpitApp(engine, monitor, who=str(actor), theme=args.theme).run()
    finally:
        monitor.close()
        if lock is not None:
            lock.release()
    return EXIT_OK


def cmd_observe(args) -> int:
    return cmd_run(args, observer=True)


def _speed(text: str) -> float:
    """--speed: a finite number of rollout seconds per wall second, above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value <= 1_000_000):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not a speed: give a number above 0 (60 makes a minute a second)")
    return value


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

    s = sub.add_parser("observe", help="watch the captain's rollout, read-only")
    s.add_argument("--config", required=True)
    s.add_argument("--theme")
    s.set_defaults(func=cmd_observe)

    from cockpit.adapters.simulator import SCENARIOS

    s = sub.add_parser("demo", help="the cockpit on an embedded simulated rollout")
    s.add_argument("--scenario", choices=SCENARIOS, default="latency-regression")
    s.add_argument("--speed", type=_speed, default=60.0, help="rollout seconds per wall second (default 60)")
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
