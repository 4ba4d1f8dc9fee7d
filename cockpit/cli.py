"""The `cockpit` command: run, observe, demo, and the headless subcommands (headless.py, commands.py)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_GUARD_UNRECORDED = 7  # `guard`: stopped with events nothing could record (as `kill` exits 7/8)


class Refused(Exception):
    """The command cannot go on: the lines to print on stderr, and the exit code. Raised where a
    screen loads (in a thread, while Textual owns the terminal) and said by `main` after it."""

    def __init__(self, code: int, *lines: str):
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


def _plan_or_refuse(path: str):
    from cockpit.config import ConfigError, load_plan

    try:
        return load_plan(Path(path))
    except ConfigError as e:
        raise Refused(EXIT_USAGE, *e.errors) from None


def _plan_or_exit(path: str):
    try:
        return _plan_or_refuse(path)
    except Refused as e:
        _say(e)
        raise SystemExit(e.code) from None


def _say(refused: Refused) -> None:
    for line in refused.lines:
        print(line, file=sys.stderr)


def _screen(app) -> None:
    """Run a screen that loads its engine after its first frame; what refused the load is raised
    here, once the terminal is back (main says it and exits with its code). With no terminal on
    stderr (where Textual draws) no one sees a frame: load first, so a refusal is its lines alone."""
    if not sys.stderr.isatty():
        app.load_now()
    app.run()
    if app.load_error is not None:
        raise app.load_error


def cmd_check_config(args) -> int:
    plan = _plan_or_exit(args.file)
    print(
        f"{args.file}: ok: {plan.release.name} {plan.release.version}, "
        f"{len(plan.phases)} phases ({'/'.join(str(p.weight) for p in plan.phases)} %), "
        f"{len(plan.preflight)} checks, {len(plan.triggers)} triggers, {len(plan.sign_offs)} sign-offs"
    )
    for where, channel in plan.undeclared_channels():
        print(f"{args.file}: warning: {where}: {channel!r} is not in [channels]: "
              "what goes to it is journaled as not delivered", file=sys.stderr)
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


def _state_dir(args, plan=None) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    if getattr(args, "config", None):
        from cockpit.config import resolve_state_dir

        return resolve_state_dir(plan or _plan_or_exit(args.config), Path(args.config))
    return Path("state")


def cmd_verify(args) -> int:
    """Exit 0 when the chain is intact and ends where the head record says, 1 when not (every
    problem named by line, one a line), 2 when there is no journal to check."""
    from cockpit.journal import JOURNAL, JournalError, verify
    from cockpit.status import kept_aside

    state_dir = _state_dir(args)
    try:
        scan = verify(state_dir)
    except JournalError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    path = state_dir / JOURNAL
    for line in kept_aside(state_dir):
        print(f"{path}: {line}", file=sys.stderr)
    problems = scan.problems + [scan.head] if scan.head else scan.problems
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        readable = len(scan.salvaged) - len(scan.records)
        more = f"; {readable} events after them still read" if readable else ""
        print(f"{path}: the first {len(scan.records)} events are intact{more}", file=sys.stderr)
        return EXIT_FAIL
    last = scan.records[-1].hash[:12] if scan.records else "-"
    head = "head agrees" if _has_head(state_dir) else "no head record yet (the next append writes one)"
    print(f"{path}: ok: {len(scan.records)} events, chain intact, head {last} ({head})")
    return EXIT_OK


def _has_head(state_dir: Path) -> bool:
    from cockpit.journal_head import HEAD

    return (state_dir / HEAD).exists()


def cmd_status(args) -> int:
    """The rollout from the journal's intact events and the guard's last round; exit 1 when the
    journal has a problem (torn, tampered, cut off, events kept aside), said first and loudly."""
    if not args.watch:
        return _status_once(args)
    import time

    try:
        while True:
            terminal(sys.stdout).write("\x1b[H\x1b[2J")  # clear, then draw: one screen a second
            _status_once(args)
            time.sleep(1.0)
    except KeyboardInterrupt:
        return EXIT_OK


def _status_once(args) -> int:
    from cockpit.clock import SystemClock
    from cockpit.core.guardsight import face_now
    from cockpit.core.events import GENESIS
    from cockpit.core.state import fold
    from cockpit.published import guard_sight, read_published
    from cockpit.journal import JournalError, read_captain, verify
    from cockpit.lease import guard_holder
    from cockpit.status import guard_json, headline_json, journal_alarms, status_json, status_lines
    from cockpit.unjournaled import kept_records

    state_dir = _state_dir(args)
    if not (state_dir / "journal.jsonl").exists() and state_dir.is_dir() or not state_dir.exists():
        if args.json:  # a valid document for machine callers: nothing has happened yet
            print(json.dumps({"status": "not started", "state_dir": str(state_dir), "events": 0}, indent=2))
            return EXIT_OK
        print(f"{state_dir}: no journal yet: the rollout has not started (the captain starts it with `cockpit run`)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        scan = verify(state_dir)
        captain = read_captain(state_dir)
    except (JournalError, OSError) as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    alarms = journal_alarms(state_dir, scan)
    # A bad line 20 of 100 does not make a live rollout read as not started, and what a guard or a
    # kill kept aside (the journal would not take it) is a fact all the same: a kill verified at the
    # gateway reads ROLLED BACK, not LIVE 5 %.
    head = scan.salvaged[-1].hash if scan.salvaged else GENESIS
    state = fold(scan.salvaged + kept_records(state_dir, head))
    live = read_published(state_dir)
    holder = guard_holder(state_dir)
    sight = guard_sight(state_dir, holder)
    plan = _journaled_plan(state)
    now = face_now(plan, state, live, sight, SystemClock().now())
    guard = guard_json(plan, state, live, sight, holder)
    seen = headline_json(plan, state, live, now, sight) if plan is not None else None
    if args.json:
        print(json.dumps({**status_json(state, now, captain), **(seen or {}), "guard": guard, "journal_problems": alarms},
                         indent=2))
    else:
        print("\n".join([f"JOURNAL  {a}" for a in alarms] + status_lines(state, now, captain, guard, seen)))
    for alarm in alarms:
        print(f"{state_dir}: {alarm}", file=sys.stderr)
    return EXIT_FAIL if alarms else EXIT_OK


def _journaled_plan(state):
    """The plan the journal runs, parsed (None without one that parses here)."""
    from cockpit.config import ConfigError, parse_journaled_plan

    if state.plan is None:
        return None
    try:
        return parse_journaled_plan(dict(state.plan.document))
    except (ConfigError, ValueError):
        return None


def cmd_demo(args) -> int:
    import tempfile

    state_dir = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    if args.headless:
        return _demo_headless(args, state_dir)
    from cockpit.demo import banner, watch_hint
    from cockpit.tui.app import CockpitApp, Loaded

    def load() -> Loaded:  # after the first frame: the plan, the journal, the simulated world
        from cockpit.session import identity

        actor = identity("captain")
        engine, guard, _world, people = _demo_build(args, state_dir, actor)
        return Loaded(engine, str(actor), guard=guard, banner=banner(args.speed),
                      started=lambda app: app.run_worker(people.sign_off(), group="demo"))

    print(watch_hint(state_dir), flush=True)
    app = CockpitApp(loader=load, loading="loading the demo: its plan, its journal and the simulated service",
                     theme=args.theme)
    try:
        _screen(app)
    finally:
        loaded = app.wait_loaded()
        if loaded is not None:
            loaded.guard.stop()
            loaded.guard.monitor.close()
    print(f"demo journal: {state_dir / 'journal.jsonl'}")
    return EXIT_OK


def _demo_build(args, state_dir: Path, actor):
    """The demo's engine, guard, world and people, or Refused: a --state-dir whose journal is
    not a demo's (or not a journal) is said in one line."""
    from cockpit import demo
    from cockpit.engine import EngineError
    from cockpit.journal import JournalError

    try:
        return demo.build(args.scenario, state_dir, speed=args.speed, actor=actor)
    except (JournalError, EngineError) as e:
        raise Refused(EXIT_USAGE, f"{state_dir}: {e}" if str(state_dir) not in str(e) else str(e),
                      "give a new --state-dir, or none (a temporary one)") from None


def _demo_headless(args, state_dir: Path) -> int:
    import asyncio

    from cockpit import demo
    from cockpit.session import identity

    engine, guard, _world, people = _demo_build(args, state_dir, identity("captain"))  # or Refused, said by main
    print(f"{demo.banner(args.speed)}; {demo.watch_hint(state_dir)}", flush=True)
    if note := demo.speed_note(args.speed):
        print(note, flush=True)
    status = asyncio.run(demo.run_headless(engine, guard, people, out=sys.stdout))
    print(f"journal: {state_dir / 'journal.jsonl'}  ({status})")
    return EXIT_OK


def _captain(args, warnings: list[str] | None = None):
    """The captain's engine under the captain lock (credentials resolved here), or Refused."""
    import os

    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.core import words
    from cockpit.engine import EngineError
    from cockpit.journal import CaptainLock, CaptainLockHeld, JournalError
    from cockpit.session import captain_engine, identity

    plan = _plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    actor = identity("captain")
    try:
        lock = CaptainLock(state_dir, user=actor.user, host=actor.host, pid=os.getpid(),
                           since=words.stamp(SystemClock().now())).acquire()
    except CaptainLockHeld as e:
        raise Refused(3, f"refused: {e}") from None
    except JournalError as e:
        raise Refused(EXIT_USAGE, f"{state_dir}: {e}") from None
    try:
        engine = captain_engine(plan, Path(args.config), actor, warn=warnings.append if warnings is not None else None)
        engine.ensure_plan()
        return engine, actor, lock, state_dir
    except BaseException as e:
        lock.release()  # the screen does not open: the next captain must not find it held
        if isinstance(e, (JournalError, EngineError)):
            raise Refused(EXIT_USAGE, f"{state_dir}: {e}") from None
        if isinstance(e, ConfigError):
            raise Refused(EXIT_USAGE, *(f"{args.config}: {line}" for line in e.errors)) from None
        raise


def cmd_run(args) -> int:
    """The captain's screen. A guard is started detached first (by the loader, under the lock),
    so the rollout is watched whether or not this terminal stays."""
    from cockpit.tui.app import CockpitApp, Loaded

    held = []

    def load() -> Loaded:  # after the first frame: the plan validated, the lock, the engine, the guard
        from cockpit.published import GuardFeed
        from cockpit.session import GuardKeeper

        warnings: list[str] = []
        engine, actor, lock, state_dir = _captain(args, warnings)
        held.append(lock)
        keeper = GuardKeeper(Path(args.config), state_dir, str(actor))
        keeper(engine.state)
        return Loaded(engine, str(actor), feed=GuardFeed(state_dir), keeper=keeper, warnings=warnings)

    app = CockpitApp(loader=load, loading=f"loading the plan {args.config} and its journal", theme=args.theme)
    try:
        _screen(app)
    finally:
        loaded = app.wait_loaded()
        for lock in held:
            lock.release()
    for warning in loaded.warnings if loaded is not None else ():
        print(warning, file=sys.stderr)
    if loaded is not None:
        print(_leaving(loaded))
    return EXIT_OK


def _leaving(loaded) -> str:
    """What the terminal says once the screen has gone: where the rollout stands (the screen's
    headline) and who watches it now, so a quit never leaves a blank prompt and a guess."""
    from cockpit.core.readmodel import headline
    from cockpit.lease import guarding

    engine = loaded.engine
    try:
        engine.refresh()
    except Exception:  # noqa: BLE001 - the state as last read is still worth saying
        pass
    live = loaded.feed.latest() if loaded.feed is not None else None
    sight = loaded.feed.sight() if loaded.feed is not None else None
    head = headline(engine.plan, engine.state, live, engine.clock.now(), sight=sight)
    holder = guarding(engine.journal.state_dir)
    if holder:
        watch = f"guard {holder.get('pid')}@{holder.get('host')} watches the triggers"
    elif engine.state.live:
        watch = "NO GUARD runs: start one with `cockpit guard --config PLAN` or `cockpit run`"
    else:
        watch = "no guard runs (nothing to watch)"
    said = f"{engine.plan.release.name} {engine.plan.release.version}: {head.text}; {watch}"
    engine.write_held()  # what the screen did while the journal would not take it: one more try
    if lost := engine.unrecorded:
        from cockpit.unjournaled import ASIDE, kept_line

        said += (f"\nNOTHING RECORDED: {len(lost)} events neither the journal nor {ASIDE} took ({lost[0].error}); "
                 f"append these lines to {engine.journal.state_dir / ASIDE} once it can be written:\n" + "".join(
                     kept_line(h.record.payload, actor=h.record.actor, ts=h.record.ts, error=h.error,
                               pseq=h.record.seq).decode() for h in lost).rstrip())
    return said


def cmd_observe(args) -> int:
    """Read-only: the journal and the guard's published evaluation; no credentials, no Prometheus."""
    from cockpit.tui.app import CockpitApp, Loaded

    if args.state_dir and not (Path(args.state_dir) / "journal.jsonl").exists():  # a stat: said before any screen
        print(f"{Path(args.state_dir)}: no journal yet; the captain starts it with `cockpit run`", file=sys.stderr)
        return EXIT_USAGE  # (session.observer_engine says the same when the state dir comes from --config)

    def load() -> Loaded:  # after the first frame: the journal read, the plan it carries
        from cockpit.engine import EngineError
        from cockpit.journal import JournalError
        from cockpit.published import FollowedClock, GuardFeed
        from cockpit.session import SessionError, identity, observer_engine

        local = _plan_or_refuse(args.config) if args.config else None
        state_dir = Path(args.state_dir) if args.state_dir else _state_dir(args, plan=local)
        actor = identity("observer")
        feed = GuardFeed(state_dir)
        clock = FollowedClock(feed)
        try:
            engine = observer_engine(state_dir, local, actor, clock=clock)
            clock.follow(engine)
        except (SessionError, JournalError, EngineError) as e:
            raise Refused(EXIT_USAGE, f"{state_dir}: {e}" if str(state_dir) not in str(e) else str(e)) from None
        return Loaded(engine, str(actor), feed=feed)

    where = f"in {Path(args.state_dir)}" if args.state_dir else f"of the plan {args.config}" if args.config else "in state"
    app = CockpitApp(loader=load, loading=f"loading the journal {where}", theme=args.theme)
    _screen(app)
    if (loaded := app.wait_loaded()) is not None:
        print(_leaving(loaded))
    return EXIT_OK


def cmd_guard(args) -> int:
    """The one evaluator, with no terminal: see cockpit/guard.py."""
    import asyncio
    import logging
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
        logging.getLogger("cockpit.guard").error("cannot start: %s", e)
        if args.quiet:  # else the log's stderr handler has said it
            print(f"guard: cannot start: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as e:
        for line in e.errors:
            logging.getLogger("cockpit.guard").error("cannot start: %s: %s", args.config, line)
            if args.quiet:
                print(f"{args.config}: {line}", file=sys.stderr)
        return EXIT_USAGE
    ident = GuardId(user=actor.user, host=actor.host, pid=os.getpid(), since=engine.clock.now())
    guard = Guard(engine, Monitor(engine, engine.metrics), state_dir, ident, reason=args.reason,
                  evidence_base=Path(args.config).parent)

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
    if not args.quiet:
        print(f"guard: {why}", file=sys.stderr)
    if guard.unrecorded:  # printed on stderr and guard.log by the guard as it stopped
        return EXIT_GUARD_UNRECORDED
    return EXIT_OK if why != "another guard holds the lock" else 3


def cmd_ack(args) -> int:
    """Acknowledge an incident: it stops climbing, and the guard tells every channel it paged
    (PagerDuty gets `acknowledge` with the incident's dedup key). Needs no captain lock: whoever
    is on call acknowledges from wherever they are; the journal's lock orders the append."""
    from cockpit.clock import SystemClock
    from cockpit.config import resolve_state_dir
    from cockpit.engine import Engine, EngineError
    from cockpit.journal import Journal, JournalError
    from cockpit.narrate import line
    from cockpit.session import identity

    plan = _plan_or_exit(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    if not (state_dir / "journal.jsonl").exists():
        print(f"{state_dir}: no journal: nothing has been paged", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine = Engine(plan, Journal(state_dir), clock=SystemClock(), actor=identity("cli"))
        engine.ensure_plan()
    except (EngineError, JournalError) as e:
        print(f"refused: {state_dir}: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        out = engine.acknowledge(args.incident, args.name, via="cli")
        if not out.ok:
            for reason in out.reasons:
                print(f"refused: {reason}", file=sys.stderr)
            return EXIT_USAGE
        for record in out.records:
            print(line(record, engine.state.plan))
        return EXIT_OK
    finally:
        engine.journal.close()


def _speed(text: str) -> float:
    """--speed: a finite number of rollout seconds per wall second, above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value <= 1_000_000):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not a speed: give a number above 0 (60 makes a minute a second)")
    return value


# --- issue 11: evidence, verify --evidence, done, replay, report ------------------------------


def cmd_evidence(args) -> int:
    """Build a bundle now (the current phase by default), journal its manifest's hash; exit 1 when
    the bundle is incomplete (it says which files are missing and why), 2 when none could be made."""
    from cockpit import evidence
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.journal import Journal, JournalError
    from cockpit.session import build_metrics, identity

    plan = _plan_or_exit(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    if not (state_dir / "journal.jsonl").exists():
        print(f"{state_dir}: no journal: the rollout has not started", file=sys.stderr)
        return EXIT_USAGE
    try:
        journal = Journal(state_dir, actor=identity("evidence"))
    except JournalError as e:
        print(f"{state_dir}: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        metrics = build_metrics(plan)
    except ConfigError as e:
        print(f"warning: no metrics source: {'; '.join(e.errors)}", file=sys.stderr)
        metrics = None
    which = "final" if args.final else "rollback" if args.rollback else "phase"
    phase = args.phase - 1 if args.phase is not None else None
    now = SystemClock().now()
    try:
        bundle = evidence.collect(plan, journal.records, base_dir=Path(args.config).parent, which=which, now=now,
                                  phase=phase, state_dir=state_dir, metrics=metrics)
    except evidence.EvidenceError as e:
        print(f"evidence: {e}", file=sys.stderr)
        return EXIT_USAGE
    actor = identity("evidence")
    try:
        evidence.journal_bundle(lambda payload: journal.append(payload, actor=actor, ts=now),
                                bundle, evidence.evidence_root(plan, Path(args.config).parent))
    except JournalError as e:
        print(f"{bundle.dir}: written, but NOT JOURNALED: {e}", file=sys.stderr)
        return EXIT_FAIL
    print(f"{bundle.dir}: {len(bundle.files)} files, manifest sha256 {bundle.manifest_sha256} (journaled)")
    for name, why in sorted(bundle.missing.items()):
        print(f"  missing {name}: {why}")
    return EXIT_OK if bundle.complete else EXIT_FAIL


def cmd_verify_any(args) -> int:
    """`verify --evidence DIR`: the bundle against its manifest; otherwise the journal's chain."""
    if not getattr(args, "evidence", None):
        return cmd_verify(args)
    from cockpit.evidence import EvidenceError, manifest_files, manifest_sha, verify_bundle

    bundle = Path(args.evidence)
    try:
        manifest_files(bundle)
    except EvidenceError as e:  # nothing to check the files against
        print(e, file=sys.stderr)
        return EXIT_USAGE
    problems = verify_bundle(bundle)
    for problem in problems:
        print(f"{bundle}: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAIL
    sha = manifest_sha(bundle)
    vouched = ""
    if args.state_dir or args.config:  # and the journal vouches for this manifest
        from cockpit.journal import JournalError, verify

        try:
            scan = verify(_state_dir(args))
        except JournalError as e:
            print(e, file=sys.stderr)
            return EXIT_USAGE
        hit = [r for r in scan.records if r.kind == "evidence_collected" and r.payload.sha256 == sha]
        if not hit:
            print(f"{bundle}: the journal has no evidence_collected event for manifest sha256 {sha}", file=sys.stderr)
            return EXIT_FAIL
        vouched = f", journaled as event {hit[-1].seq}"
    print(f"{bundle}: ok: every file matches manifest.json (sha256 {sha[:16]}{vouched})")
    return EXIT_OK


def cmd_done(args) -> int:
    """Tick off a post-deployment item; journaled with who did it."""
    from cockpit.clock import SystemClock
    from cockpit.core import events as ev
    from cockpit.core.postdeploy import tick_refusal
    from cockpit.core.state import fold
    from cockpit.journal import Journal, JournalError
    from cockpit.session import identity

    state_dir = _state_dir(args)
    if not (state_dir / "journal.jsonl").exists():
        print(f"{state_dir}: no journal: the rollout has not started", file=sys.stderr)
        return EXIT_USAGE
    actor = identity("captain")
    if args.item == "auto":  # the items the cockpit can show done itself (needs the plan, for metrics)
        return _auto_tick(args, state_dir, actor)
    try:
        journal = Journal(state_dir, actor=actor)
        if not args.name.strip():
            print("done: give --name (who did it)", file=sys.stderr)
            return EXIT_USAGE
        if why := tick_refusal(fold(journal.records), args.item):
            print(f"refused: {why}", file=sys.stderr)
            return EXIT_FAIL
        _, record = journal.append(ev.PostDeploymentDone(item=args.item, name=args.name.strip(), evidence=args.note),
                                   actor=actor, ts=SystemClock().now())
    except JournalError as e:
        print(f"{state_dir}: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.item}: done by {args.name.strip()} (journal event {record.seq})")
    return EXIT_OK


def _auto_tick(args, state_dir: Path, actor) -> int:
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError
    from cockpit.evidence import auto_tick
    from cockpit.journal import Journal, JournalError
    from cockpit.session import build_metrics

    if not args.config:
        print("done auto: give --config (the SLOs are measured from the plan's Prometheus)", file=sys.stderr)
        return EXIT_USAGE
    plan = _plan_or_exit(args.config)
    try:
        metrics = build_metrics(plan)
    except ConfigError as e:
        print(f"warning: no metrics source: {'; '.join(e.errors)}", file=sys.stderr)
        metrics = None
    now = SystemClock().now()
    try:
        journal = Journal(state_dir, actor=actor)
        ticks = auto_tick(plan, journal.records, lambda p: journal.append(p, actor=actor, ts=now), now, metrics)
    except JournalError as e:
        print(f"{state_dir}: {e}", file=sys.stderr)
        return EXIT_USAGE
    for t in ticks:
        print(f"{t.item}: done by the cockpit: {t.evidence}")
    if not ticks:
        print("nothing the cockpit can tick itself now")
    return EXIT_OK


def cmd_replay(args) -> int:
    from cockpit.tui.replay import ReplayError, replay_app

    try:
        app = replay_app(_state_dir(args), speed=args.speed, theme=args.theme)
    except ReplayError as e:
        print(f"refused: {e}", file=sys.stderr)
        return EXIT_FAIL
    app.run()
    return EXIT_OK


def cmd_report(args) -> int:
    from cockpit.journal import JournalError
    from cockpit.report import ReportError, write_report

    try:
        path = write_report(_state_dir(args), fmt=args.format, out=Path(args.output) if args.output else None)
    except (ReportError, JournalError) as e:
        print(f"report: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{path}: written")
    return EXIT_OK


def _register_aftercare(sub) -> None:
    """evidence, verify --evidence, done, replay, report (issue 11)."""
    s = sub.add_parser("evidence", help="write the evidence bundle now (current phase, --phase N, --final or --rollback)")
    s.add_argument("--config", required=True)
    which = s.add_mutually_exclusive_group()
    which.add_argument("--phase", type=int, metavar="N", help="phase number (1-based)")
    which.add_argument("--final", action="store_true")
    which.add_argument("--rollback", action="store_true")
    s.set_defaults(func=cmd_evidence)

    verify_parser = sub.choices["verify"]
    verify_parser.add_argument("--evidence", metavar="DIR", help="check a bundle against its manifest instead "
                               "(with --state-dir/--config: and that the journal vouches for it)")
    verify_parser.set_defaults(func=cmd_verify_any)

    s = sub.add_parser("done", help="tick off a post-deployment item (journaled); ITEM auto: those the cockpit can check")
    s.add_argument("item", help="the item's id in the plan's [[post_deployment]], or auto")
    s.add_argument("--name", default="", help="who did it (required for an item)")
    s.add_argument("--note", default="", help="what shows it (a link, a document)")
    s.add_argument("--state-dir")
    s.add_argument("--config")
    s.set_defaults(func=cmd_done)

    s = sub.add_parser("replay", help="a past rollout in the same screen, read-only, with a time cursor")
    s.add_argument("--state-dir")
    s.add_argument("--config")
    s.add_argument("--speed", type=_speed, default=60.0, help="rollout seconds per wall second when playing")
    s.add_argument("--theme")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("report", help="one document of the rollout: timeline, gates, triggers, kill, budget, evidence")
    s.add_argument("--state-dir")
    s.add_argument("--config")
    s.add_argument("--format", choices=("md", "html"), default="md")
    s.add_argument("--output", "-o", help="file to write (default: report.md / report.html in the state dir)")
    s.set_defaults(func=cmd_report)


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
    s.add_argument("--watch", action="store_true", help="redraw once a second until Ctrl-C")
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
        "It guards on a state dir it cannot write (read-only, full, not its files): what it cannot record is "
        "held, said on stderr and journaled late; it stays until then. "
        "Exit codes: 0 done or stopped by SIGTERM, 2 cannot start, 3 another guard holds the lock (--no-wait), "
        "7 stopped with events nothing could record (printed on stderr as unjournaled.jsonl lines).",
    )
    s.add_argument("--config", required=True)
    s.add_argument("--reason", default="", help="journaled with the takeover (who started it and why)")
    s.add_argument("--no-wait", action="store_true", help="exit 3 instead of standing by when a guard runs")
    s.add_argument("--quiet", action="store_true", help="log to guard.log only, not to stderr")
    s.set_defaults(func=cmd_guard)

    from cockpit.adapters.simulator import SCENARIOS

    from cockpit.adapters.simulator import SCENARIO_LINES

    themes = ", ".join(sorted(p.stem for p in (Path(__file__).parent / "themes").glob("*.toml")))
    s = sub.add_parser(
        "demo", help="the cockpit on an embedded simulated rollout",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The seed plan on a simulated service and gateway, on an accelerated clock; the guard runs "
        "in this process. Watch it from a second terminal with the `cockpit observe --state-dir DIR` it prints.",
        epilog="scenarios:\n" + "\n".join(f"  {k:<20} {v}" for k, v in SCENARIO_LINES.items())
        + f"\n\nthemes (--theme): {themes}",
    )
    s.add_argument("--scenario", choices=SCENARIOS, default="latency-regression")
    s.add_argument("--speed", type=_speed, default=60.0, help="rollout seconds per wall second (default 60, at most 1800)")
    s.add_argument("--state-dir", help="keep the demo journal here (default: a temporary dir)")
    s.add_argument("--headless", action="store_true", help="no screen: a scripted captain, events printed")
    s.add_argument("--theme")
    s.set_defaults(func=cmd_demo)
    from cockpit import commands, headless

    headless.register(sub)  # kill, shift, reconcile
    commands.register(sub)  # every other captain action: preflight, sign-off, waive, start, decide, ...
    _register_aftercare(sub)  # evidence, verify --evidence, done, replay, report

    # -- paging (issue 10) --
    s = sub.add_parser("ack", help="acknowledge a page (INC-n): it stops climbing; every channel paged is told")
    s.add_argument("incident", help="the incident, e.g. INC-1 (cockpit status and the escalation pane show it)")
    s.add_argument("--name", required=True, help="who takes it; journaled and sent to the channels")
    s.add_argument("--config", required=True, help="the plan the rollout runs")
    s.set_defaults(func=cmd_ack)
    return p


class Shown:
    """stdout or stderr as the command writes them: every line reaches the terminal with its
    control and bidi characters shown as escapes (core.visible), whoever wrote it (a refusal
    quoting a server's error, argparse quoting an argument, a traceback), and a character the
    terminal's encoding lacks as a backslash escape, never a UnicodeEncodeError. `terminal` is
    the stream itself, for the one escape the command means (`status --watch` clears the screen)."""

    def __init__(self, terminal):
        self.terminal = terminal

    @classmethod
    def around(cls, stream):
        if stream is None or isinstance(stream, cls):
            return stream
        if stream in (sys.__stdout__, sys.__stderr__) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
        return cls(stream)

    def write(self, text: str) -> int:
        from cockpit.core.visible import visible

        return self.terminal.write(visible(text, newlines=True))

    def __getattr__(self, name: str):
        return getattr(self.terminal, name)


def terminal(stream):
    """The stream under `Shown`, for a control sequence the command means to send."""
    return getattr(stream, "terminal", stream)


ADVICE = {
    errno.ENAMETOOLONG: "give a shorter path (at most 255 bytes a name, 4095 a path)",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a directory: check the path",
    errno.EISDIR: "give a file, not a directory",
    errno.EACCES: "ask for access, or run as a user of the state dir's group",
    errno.EPERM: "ask for access, or run as a user of the state dir's group",
    errno.ELOOP: "a symbolic link points to itself: check the path",
    errno.EROFS: "the file system is read-only: give a writable path",
    errno.ENOSPC: "the disk is full: free some space",
}


def os_problem(e: OSError) -> str:
    """One line for an OSError: the path, what the OS said, and what to do."""
    where = f"{e.filename}: " if e.filename is not None else ""
    advice = ADVICE.get(e.errno, "check the path") if e.filename is not None else "try again"
    return f"{where}{e.strerror or e}: {advice}"


PATH_ARGUMENTS = {"file", "config", "state_dir", "evidence", "output"}


def _text_arguments(args) -> None:
    """Every text argument (a reason, a note, a name) as it can be journaled: a byte the terminal
    sent that is not UTF-8 (Python gives it as a lone surrogate) becomes the four characters `\\xe9`,
    kept visibly, rather than text the journal cannot encode. Paths stay paths: the OS takes their bytes."""
    from cockpit.core.visible import SURROGATE, escape

    for name, value in vars(args).items():
        if isinstance(value, str) and name not in PATH_ARGUMENTS:
            setattr(args, name, SURROGATE.sub(lambda m: escape(m[0]), value))


def main(argv: list[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = shown = Shown.around(out), Shown.around(err)
    try:
        return _main(argv)
    finally:
        if (sys.stdout, sys.stderr) == shown:  # as they were (a pipe whose reader left keeps /dev/null)
            sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    _text_arguments(args)
    try:
        return args.func(args)
    except Refused as e:  # a screen that could not load: said once the terminal is back
        _say(e)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cockpit status | head`: the reader has gone, nothing more to say
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except OSError as e:  # a path the OS refuses (too long, not a directory, denied): one line, not a traceback
        print(os_problem(e), file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        # A plan problem found late (a secret's variable unset): one line per field. Only a command
        # that imported cockpit.config can raise one; importing it here (pydantic) would cost every
        # start, the screen's first frame included.
        config = sys.modules.get("cockpit.config")
        if config is None or not isinstance(e, config.ConfigError):
            raise
        for line in e.errors:
            print(f"{getattr(args, 'config', None) or 'config'}: {line}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
