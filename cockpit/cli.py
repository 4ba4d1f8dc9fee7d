"""The `cockpit` command: run, observe, demo, and the headless subcommands (headless.py, commands.py).

Every subcommand's --help says what it does, what it needs and its exit codes (one table for all:
exits.py); errors go to stderr, results to stdout; `--json` prints one document on stdout with
the same exit code as the text."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from cockpit import __version__
from cockpit import headless as h
from cockpit.exits import Exit, summary
from cockpit.headless import subcommand
from cockpit.refused import Refused, refusal


def _plan_or_refuse(path: str):
    from cockpit.config import ConfigError, load_plan

    try:
        return load_plan(Path(path))
    except ConfigError as e:
        raise Refused(*e.errors) from None


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


def _reported(command):
    """A subcommand run as headless.Report runs one: a refusal said on stderr with its code, and
    with --json one document on stdout (every word the command prints goes to stderr then)."""
    def run(args) -> int:
        return h._run(lambda: command(args), args)

    run.__doc__ = command.__doc__
    return run


@_reported
def cmd_check_config(args) -> int:
    plan = _plan_or_refuse(args.file)
    h.report.outcome = "valid"
    h.report.facts.update(file=args.file, release=plan.release.name, version=plan.release.version,
                          phases=[p.weight for p in plan.phases], checks=len(plan.preflight),
                          triggers=len(plan.triggers), sign_offs=len(plan.sign_offs), warnings=[])
    print(
        f"{args.file}: ok: {plan.release.name} {plan.release.version}, "
        f"{len(plan.phases)} phases ({'/'.join(str(p.weight) for p in plan.phases)} %), "
        f"{len(plan.preflight)} checks, {len(plan.triggers)} triggers, {len(plan.sign_offs)} sign-offs"
    )
    for where, channel in plan.undeclared_channels():
        warning = f"{where}: {channel!r} is not in [channels]: what goes to it is journaled as not delivered"
        h.report.facts["warnings"].append(warning)
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    return Exit.OK


def cmd_init(args) -> int:
    import tomli_w

    from cockpit.config import dump_plan
    from cockpit.seed import seed_plan

    target = Path(args.file)
    if not target.parent.is_dir():
        raise Refused(f"{target}: no directory {target.parent}; create it first")
    if target.is_dir():
        raise Refused(f"{target}: is a directory; give a file name such as {target / 'plan.toml'}")
    if target.exists() and not args.force:
        raise Refused(f"{target}: exists; pass --force to overwrite")
    header = "# cockpit starter plan (the IntelGraph v0.1.0 seed); edit, then: cockpit check-config FILE\n"
    try:
        target.write_text(header + tomli_w.dumps(dump_plan(seed_plan())))
    except OSError as e:
        raise Refused(f"{target}: cannot write: {e.strerror}") from None
    print(f"{target}: written")
    return Exit.OK


def _state_dir(args, plan=None) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    if getattr(args, "config", None):
        from cockpit.config import resolve_state_dir

        return resolve_state_dir(plan or _plan_or_refuse(args.config), Path(args.config))
    return Path("state")


def cmd_verify(args) -> int:
    """Exit 0 when the chain is intact and ends where the head record says, 1 when not (every
    problem named by line, one a line), 2 when there is no journal to check."""
    from cockpit.journal import JOURNAL, JournalError, verify
    from cockpit.status import kept_aside

    state_dir = _state_dir(args)
    path = state_dir / JOURNAL
    h.report.facts.update(journal=str(path))
    try:
        scan = verify(state_dir)
    except JournalError as e:
        raise Refused(str(e)) from None
    aside = kept_aside(state_dir)
    for line in aside:
        print(f"{path}: {line}", file=sys.stderr)
    problems = scan.problems + [scan.head] if scan.head else scan.problems
    last = scan.records[-1].hash if scan.records else None
    h.report.facts.update(intact_events=len(scan.records), readable_events=len(scan.salvaged), last_hash=last,
                          head_record=_has_head(state_dir), kept_aside=aside)
    if problems:
        h.report.outcome = "does not verify"
        h.report.problems += [str(p) for p in problems]
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        readable = len(scan.salvaged) - len(scan.records)
        more = f"; {readable} events after them still read" if readable else ""
        print(f"{path}: the first {len(scan.records)} events are intact{more}", file=sys.stderr)
        return Exit.FAIL
    h.report.outcome = "intact"
    head = "head agrees" if _has_head(state_dir) else "no head record yet (the next append writes one)"
    print(f"{path}: ok: {len(scan.records)} events, chain intact, head {last[:12] if last else '-'} ({head})")
    return Exit.OK


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
            _status_once(args, clear=True)  # one screen a second
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


def _status_once(args, *, clear: bool = False) -> int:
    from cockpit.clock import SystemClock
    from cockpit.core.events import GENESIS
    from cockpit.core.guardsight import face_now
    from cockpit.core.state import fold
    from cockpit.journal import JOURNAL, JournalError, read_captain, verify
    from cockpit.lease import guard_holder
    from cockpit.published import guard_sight, read_published
    from cockpit.status import guard_json, headline_json, journal_alarms, status_json, status_lines
    from cockpit.unjournaled import kept_records

    state_dir = _state_dir(args)
    if not state_dir.exists() or state_dir.is_dir() and not (state_dir / JOURNAL).exists():
        said = (f"{state_dir}: no journal yet: the rollout has not started (the captain starts it with `cockpit run`)"
                if state_dir.exists() else
                f"{state_dir}: no such directory: no rollout has started there "
                "(check the path; `cockpit run` makes it)")
        print(said, file=sys.stderr)
        return _status_document(args, Exit.REFUSED, {"status": "not started", "state_dir": str(state_dir),
                                                     "events": 0, "refusals": [said]})
    try:
        scan = verify(state_dir)
        captain = read_captain(state_dir)
    except (JournalError, OSError) as e:
        raise Refused(str(e)) from None
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
    from cockpit.journal import TAIL

    broken = next((str(p) for p in scan.problems if p.reason not in TAIL), "")  # a torn tail alone is no broken chain
    seen = headline_json(plan, state, live, now, sight, broken) if plan is not None else None
    code = Exit.FAIL if alarms else Exit.OK
    if clear and not args.json:  # the screen cleared only once the next one is ready: Ctrl-C never leaves it blank
        terminal(sys.stdout).write("\x1b[H\x1b[2J")
    if not args.json:
        print("\n".join([f"JOURNAL  {a}" for a in alarms] + status_lines(state, now, captain, guard, seen)))
    for alarm in alarms:
        print(f"{state_dir}: {alarm}", file=sys.stderr)
    return _status_document(args, code, {**status_json(state, now, captain), **(seen or {}), "guard": guard,
                                         "journal_problems": alarms})


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
        from cockpit.whoami import whoami

        actor = whoami("captain")
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
    return Exit.OK


def _demo_build(args, state_dir: Path, actor):
    """The demo's engine, guard, world and people, or Refused: a --state-dir whose journal is
    not a demo's (or not a journal) is said in one line."""
    from cockpit import demo
    from cockpit.engine import EngineError
    from cockpit.journal import JournalError

    try:
        return demo.build(args.scenario, state_dir, speed=args.speed, actor=actor)
    except (JournalError, EngineError) as e:
        raise Refused(f"{state_dir}: {e}" if str(state_dir) not in str(e) else str(e),
                      "give a new --state-dir, or none (a temporary one)") from None


def _demo_headless(args, state_dir: Path) -> int:
    import asyncio

    from cockpit import demo
    from cockpit.whoami import whoami

    engine, guard, _world, people = _demo_build(args, state_dir, whoami("captain"))  # or Refused, said by main
    print(f"{demo.banner(args.speed)}; {demo.watch_hint(state_dir)}", flush=True)
    if note := demo.speed_note(args.speed):
        print(note, flush=True)
    status = asyncio.run(demo.run_headless(engine, guard, people, out=sys.stdout))
    print(f"journal: {state_dir / 'journal.jsonl'}  ({status})")
    return Exit.OK


def cmd_run(args) -> int:
    """The captain's screen. A guard is started detached first (by the loader, under the lock),
    so the rollout is watched whether or not this terminal stays."""
    from cockpit.tui.app import CockpitApp, Loaded

    held = []

    def load() -> Loaded:  # after the first frame: the plan validated, the lock, the engine, the guard
        from cockpit.published import GuardFeed
        from cockpit.session import GuardKeeper, captain

        warnings: list[str] = []
        session = captain(_plan_or_refuse(args.config), Path(args.config), warn=warnings.append)
        held.append(session.lock)
        state_dir = session.engine.journal.state_dir
        keeper = GuardKeeper(Path(args.config), state_dir, str(session.actor))
        keeper(session.engine.state)
        return Loaded(session.engine, str(session.actor), feed=GuardFeed(state_dir), keeper=keeper, warnings=warnings)

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
    return Exit.OK


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
        return Exit.REFUSED  # (session.observer_engine says the same when the state dir comes from --config)

    def load() -> Loaded:  # after the first frame: the journal read, the plan it carries
        from cockpit.engine import EngineError
        from cockpit.journal import JournalError
        from cockpit.session import SessionError, observer

        local = _plan_or_refuse(args.config) if args.config else None
        state_dir = Path(args.state_dir) if args.state_dir else _state_dir(args, plan=local)
        try:
            engine, feed = observer(state_dir, local)
        except (SessionError, JournalError, EngineError) as e:
            raise Refused(f"{state_dir}: {e}" if str(state_dir) not in str(e) else str(e)) from None
        return Loaded(engine, str(engine.actor), feed=feed)

    where = (f"in {Path(args.state_dir)}" if args.state_dir
             else f"of the plan {args.config}" if args.config else "in state")
    app = CockpitApp(loader=load, loading=f"loading the journal {where}", theme=args.theme)
    _screen(app)
    if (loaded := app.wait_loaded()) is not None:
        print(_leaving(loaded))
    return Exit.OK


def cmd_guard(args) -> int:
    """The one evaluator, with no terminal: see cockpit/guard.py."""
    import asyncio
    import logging
    import signal

    from cockpit import session
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.engine import EngineError
    from cockpit.guard import setup_logging
    from cockpit.journal import JournalError
    from cockpit.session import SessionError, guard_engine
    from cockpit.whoami import whoami

    plan = _plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    actor = whoami("guard")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(state_dir, stderr=not args.quiet)
        engine = guard_engine(plan, Path(args.config), actor)
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
    guard = session.guard(engine, state_dir, reason=args.reason, evidence_base=Path(args.config).parent)

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
        return Exit.UNRECORDED
    return Exit.OK if why != "another guard holds the lock" else Exit.LOCKED


@_reported
def cmd_ack(args) -> int:
    """Acknowledge an incident: it stops climbing, and the guard tells every channel it paged
    (PagerDuty gets `acknowledge` with the incident's dedup key). Needs no captain lock: whoever
    is on call acknowledges from wherever they are; the journal's lock orders the append."""
    from cockpit.config import resolve_state_dir
    from cockpit.engine import EngineError
    from cockpit.journal import JournalError
    from cockpit.narrate import line
    from cockpit.session import captain_engine
    from cockpit.whoami import whoami

    plan = _plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    if not (state_dir / "journal.jsonl").exists():
        raise Refused(f"{state_dir}: no journal: nothing has been paged")
    try:
        engine = captain_engine(plan, Path(args.config), whoami("cli"), needs="journal")  # no captain lock
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


@_reported
def cmd_evidence(args) -> int:
    """Build a bundle now (the current phase by default), journal its manifest's hash; exit 1 when
    the bundle is incomplete (it says which files are missing and why), 2 when none could be made."""
    from cockpit import evidence
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.journal import Journal, JournalError
    from cockpit.session import build_metrics
    from cockpit.whoami import whoami

    plan = _plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    if not (state_dir / "journal.jsonl").exists():
        raise Refused(f"{state_dir}: no journal: the rollout has not started")
    try:
        journal = Journal(state_dir, actor=whoami("evidence"))
    except JournalError as e:
        raise Refused(f"{state_dir}: {e}") from None
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
        raise Refused(f"evidence: {e}") from None
    h.report.facts.update(bundle=str(bundle.dir), files=len(bundle.files), missing=dict(sorted(bundle.missing.items())),
                          manifest_sha256=bundle.manifest_sha256, journaled=False)
    actor = whoami("evidence")
    try:
        evidence.journal_bundle(lambda payload: journal.append(payload, actor=actor, ts=now),
                                bundle, evidence.evidence_root(plan, Path(args.config).parent))
    except JournalError as e:
        h.report.outcome = "written, not journaled"
        h.report.problems.append(f"not journaled: {e}")
        print(f"{bundle.dir}: written, but NOT JOURNALED: {e}", file=sys.stderr)
        return Exit.FAIL
    h.report.facts["journaled"] = True
    print(f"{bundle.dir}: {len(bundle.files)} files, manifest sha256 {bundle.manifest_sha256} (journaled)")
    for name, why in sorted(bundle.missing.items()):
        h.report.problems.append(f"missing {name}: {why}")
        print(f"  missing {name}: {why}")
    if not bundle.complete:
        h.report.outcome = "incomplete"
    return Exit.OK if bundle.complete else Exit.FAIL


@_reported
def cmd_verify_any(args) -> int:
    """`verify --evidence DIR`: the bundle against its manifest; otherwise the journal's chain."""
    if not getattr(args, "evidence", None):
        return cmd_verify(args)
    from cockpit.evidence import EvidenceError, manifest_files, manifest_sha, verify_bundle

    bundle = Path(args.evidence)
    h.report.facts.update(bundle=str(bundle))
    try:
        manifest_files(bundle)
    except EvidenceError as e:  # nothing to check the files against
        raise Refused(str(e)) from None
    problems = verify_bundle(bundle)
    for problem in problems:
        print(f"{bundle}: {problem}", file=sys.stderr)
    if problems:
        h.report.outcome = "does not verify"
        h.report.problems += problems
        return Exit.FAIL
    sha = manifest_sha(bundle)
    h.report.facts.update(manifest_sha256=sha)
    vouched = ""
    if args.state_dir or args.config:  # and the journal vouches for this manifest
        from cockpit.journal import JournalError, verify

        try:
            scan = verify(_state_dir(args))
        except JournalError as e:
            raise Refused(str(e)) from None
        hit = [r for r in scan.records if r.kind == "evidence_collected" and r.payload.sha256 == sha]
        if not hit:
            said = f"the journal has no evidence_collected event for manifest sha256 {sha}"
            h.report.outcome = "not journaled"
            h.report.problems.append(said)
            print(f"{bundle}: {said}", file=sys.stderr)
            return Exit.FAIL
        h.report.facts.update(journaled_as=hit[-1].seq)
        vouched = f", journaled as event {hit[-1].seq}"
    h.report.outcome = "intact"
    print(f"{bundle}: ok: every file matches manifest.json (sha256 {sha[:16]}{vouched})")
    return Exit.OK


@_reported
def cmd_done(args) -> int:
    """Tick off a post-deployment item; journaled with who did it."""
    from cockpit.clock import SystemClock
    from cockpit.core import events as ev
    from cockpit.core.postdeploy import tick_refusal
    from cockpit.core.state import fold
    from cockpit.journal import Journal, JournalError
    from cockpit.whoami import whoami

    state_dir = _state_dir(args)
    if not (state_dir / "journal.jsonl").exists():
        raise Refused(f"{state_dir}: no journal: the rollout has not started")
    actor = whoami("captain")
    if args.item == "auto":  # the items the cockpit can show done itself (needs the plan, for metrics)
        return _auto_tick(args, state_dir, actor)
    try:
        journal = Journal(state_dir, actor=actor)
        if not args.name.strip():
            raise Refused("done: give --name (who did it)")
        if why := tick_refusal(fold(journal.records), args.item):
            raise refusal([why])
        _, record = journal.append(ev.PostDeploymentDone(item=args.item, name=args.name.strip(), evidence=args.note),
                                   actor=actor, ts=SystemClock().now())
    except JournalError as e:
        raise Refused(f"{state_dir}: {e}") from None
    h.report.written.append(record.seq)
    h.report.facts.update(ticked=[args.item])
    print(f"{args.item}: done by {args.name.strip()} (journal event {record.seq})")
    return Exit.OK


def _auto_tick(args, state_dir: Path, actor) -> int:
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError
    from cockpit.evidence import auto_tick
    from cockpit.journal import Journal, JournalError
    from cockpit.session import build_metrics

    if not args.config:
        raise Refused("done auto: give --config (the SLOs are measured from the plan's Prometheus)")
    plan = _plan_or_refuse(args.config)
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
        raise Refused(f"{state_dir}: {e}") from None
    h.report.facts.update(ticked=[t.item for t in ticks])
    for t in ticks:
        print(f"{t.item}: done by the cockpit: {t.evidence}")
    if not ticks:
        print("nothing the cockpit can tick itself now")
    return Exit.OK


def cmd_replay(args) -> int:
    from cockpit.tui.replay import ReplayError, replay_app

    state_dir = _state_dir(args)
    try:
        app = replay_app(state_dir, speed=args.speed, theme=args.theme)
    except ReplayError as e:  # 1 as `verify` and `status` for a chain that does not verify; 2 for no journal
        raise Refused(f"refused: {e}", code=Exit.FAIL if _does_not_verify(state_dir) else Exit.REFUSED) from None
    app.run()
    return Exit.OK


def _does_not_verify(state_dir: Path) -> bool:
    """A journal there whose chain or head does not verify (not: no journal, or none readable)."""
    from cockpit.journal import JOURNAL, JournalError, verify

    try:
        scan = verify(state_dir) if (state_dir / JOURNAL).is_file() else None
    except (JournalError, OSError):
        return False
    return scan is not None and bool(scan.problems or scan.head)


@_reported
def cmd_report(args) -> int:
    """Written from the journal's intact events; exit 1, as `status`, when the journal does not
    verify (the report says so at its top); `-o -` writes it to stdout."""
    from cockpit.journal import JournalError
    from cockpit.report import ReportError, scrubbed, write_report

    state_dir = _state_dir(args)
    to_stdout = args.output == "-"
    if to_stdout and args.json:
        raise Refused("report: -o - writes the report to stdout, where --json writes its document: "
                                    "give -o FILE with --json")
    try:
        if to_stdout:
            text = scrubbed(state_dir, args.format)
        else:
            path = write_report(state_dir, fmt=args.format, out=Path(args.output) if args.output else None)
        problems = _report_problems(state_dir)
    except (ReportError, JournalError) as e:
        raise Refused(f"report: {e}") from None
    h.report.facts.update(report="-" if to_stdout else str(path), format=args.format, journal_problems=problems)
    if to_stdout:
        sys.stdout.write(text)
    else:
        print(f"{path}: written")
    for problem in problems:
        print(problem, file=sys.stderr)
    h.report.outcome = "written, journal problems" if problems else "written"
    h.report.problems += problems
    return Exit.FAIL if problems else Exit.OK


def _report_problems(state_dir: Path) -> list[str]:
    """Why the report does not tell the whole rollout: the journal's chain or head does not verify
    (the report covers the events before the first problem), or events wait aside, not journaled."""
    from cockpit.journal import JOURNAL, verify
    from cockpit.unjournaled import ASIDE, read_kept

    scan = verify(state_dir)
    path = state_dir / JOURNAL
    bad = [f"{path}: JOURNAL PROBLEM: {p}" for p in (scan.problems + [scan.head] if scan.head else scan.problems)]
    if bad:
        bad.append(f"{path}: the report covers the first {len(scan.records)} events, those intact "
                   "(`cockpit verify` names every problem)")
    try:
        kept, unreadable = read_kept(state_dir)
    except OSError as e:
        return bad + [f"{state_dir / ASIDE}: cannot be read: {e.strerror or e}"]
    if kept or unreadable:
        bad.append(f"{state_dir / ASIDE}: {len(kept) + unreadable} events wait there, not journaled yet and not in "
                   "the report (the next append journals them)")
    return bad


READS = "read access to the state dir (--state-dir DIR, or --config PLAN to find it; default ./state); no credential"


def _state_dir_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--state-dir", help="the rollout's state dir")
    s.add_argument("--config", help="find the state dir from the plan (no credential is loaded)")


def _register_plans(sub) -> None:
    """check-config, init, verify, status: what reads a plan or a journal."""
    s = subcommand(sub, "check-config", "validate a plan: every field, every PromQL query, offline",
                   "A valid plan is summed up in one line on stdout; each error names its field on stderr "
                   "(FILE: field.path: message). A channel that [channels] lacks is a warning.",
                   needs="the plan file alone: no state dir, no credential, no network",
                   codes={Exit.OK: "valid", Exit.REFUSED: "invalid (each error names its field) or unreadable"})
    s.add_argument("file", metavar="FILE")
    h.add_json(s)
    s.set_defaults(func=cmd_check_config)

    s = subcommand(sub, "init", "write a starter plan (the IntelGraph seed plan, as TOML) to FILE",
                   "Edit it, then check it with `cockpit check-config FILE`. A file is never overwritten without "
                   "--force.", needs="a directory to write FILE in",
                   codes={Exit.OK: "written",
                          Exit.REFUSED: "not written (FILE exists, no such directory, cannot write)"})
    s.add_argument("file", metavar="FILE")
    s.add_argument("--force", action="store_true", help="overwrite FILE")
    s.set_defaults(func=cmd_init)

    s = subcommand(sub, "verify", "check the journal's hash chain and head record, or an evidence bundle",
                   "Every problem is named by line on stderr (an edited, deleted, reordered or unreadable line, a "
                   "cut-off tail, a missing or disagreeing head record), then how many events are intact. With "
                   "--evidence DIR: every file of the bundle against its manifest.json, and with --state-dir or "
                   "--config too, that the journal vouches for that manifest.", needs=READS,
                   codes={Exit.OK: "intact (the chain, and the head agrees; or every file of the bundle)",
                          Exit.FAIL: "does not verify (each problem named)",
                          Exit.REFUSED: "no journal (or no manifest) to check, or it cannot be read"})
    _state_dir_arguments(s)
    s.add_argument("--evidence", metavar="DIR", help="check a bundle against its manifest instead "
                   "(with --state-dir/--config: and that the journal vouches for it)")
    h.add_json(s)
    s.set_defaults(func=cmd_verify_any)

    s = subcommand(sub, "status", "the rollout's state: headline, phase, gates, who guards it, journal problems",
                   "From the journal and the guard's last round (guard.json); asks Prometheus and the gateway "
                   "nothing. A journal problem (torn, tampered, cut off, events kept aside) is said first, as "
                   "JOURNAL lines, and the rollout is shown from every event that still reads.", needs=READS,
                   codes={Exit.OK: "shown", Exit.FAIL: "shown, but the journal has a problem (said first; `cockpit "
                          "verify` names every one)", Exit.REFUSED: "no journal there (the rollout has not started, "
                          "or no such directory) or it cannot be read"})
    _state_dir_arguments(s)
    h.add_json(s)
    s.add_argument("--watch", action="store_true", help="redraw once a second until Ctrl-C (exit 0)")
    s.set_defaults(func=cmd_status)


def _register_screens(sub) -> None:
    """run, observe, guard, demo: the screens, and the guard that needs none."""
    s = subcommand(sub, "run", "the release captain's screen (one captain at a time)",
                   "Takes the captain lock, journals the plan on first use and starts a guard, detached, that "
                   "watches the triggers whether or not this terminal stays; then the screen. When it closes, "
                   "says where the rollout stands and who guards it.",
                   needs="the plan (--config), a state dir this user may write (a member of its group), the "
                   "gateway's and Prometheus' credentials; a terminal",
                   codes={Exit.OK: "the screen closed", Exit.REFUSED: "refused (an invalid plan, a journal that "
                          "cannot be written or runs another plan)", Exit.LOCKED: "a captain holds the captain "
                          "lock (naming the holder)"})
    s.add_argument("--config", required=True, help="the plan the captain runs")
    s.add_argument("--theme", help="a theme's name (themes/); one not found is said, and the default used")
    s.set_defaults(func=cmd_run)

    s = subcommand(sub, "observe", "watch the captain's rollout, read-only",
                   "The captain's screen with no action: the journal and the guard's published round, followed "
                   "once a second; no credential is loaded and Prometheus is not asked.",
                   needs="read access to the state dir (--state-dir DIR, or --config PLAN to find it); a terminal",
                   codes={Exit.OK: "the screen closed", Exit.REFUSED: "no journal there, or it cannot be read"})
    _state_dir_arguments(s)
    s.add_argument("--theme", help="a theme's name (themes/)")
    s.set_defaults(func=cmd_observe)

    s = subcommand(sub, "guard", "the one evaluator: polls Prometheus, judges the triggers and pulls the kill",
                   "Holds the guard lock of the plan's state dir (a standby waits and takes over when the holder "
                   "dies), evaluates every poll interval, publishes guard.json for the screens and logs to "
                   "guard.log. Stops by itself when the rollout is completed or rolled back. `cockpit run` starts "
                   "one detached; run it yourself (or from contrib/cockpit-guard@.service) for a standby. On a "
                   "state dir it cannot write (read-only, full, not its files) it guards all the same: what it "
                   "cannot record is held, said on stderr and journaled late; it stays until then.",
                   needs="the plan (--config), the gateway's and Prometheus' credentials, no terminal",
                   codes={Exit.OK: "done (the rollout completed or rolled back) or stopped by SIGTERM",
                          Exit.REFUSED: "cannot start", Exit.LOCKED: "another guard holds the lock (--no-wait)",
                          Exit.UNRECORDED: "stopped with events nothing could record (printed on stderr as "
                          "unjournaled.jsonl lines)"})
    s.add_argument("--config", required=True, help="the plan the captain runs")
    s.add_argument("--reason", default="", help="journaled with the takeover (who started it and why)")
    s.add_argument("--no-wait", action="store_true", help="exit 3 instead of standing by when a guard runs")
    s.add_argument("--quiet", action="store_true", help="log to guard.log only, not to stderr")
    s.set_defaults(func=cmd_guard)

    from cockpit.adapters.simulator import SCENARIO_LINES, SCENARIOS

    themes = ", ".join(sorted(p.stem for p in (Path(__file__).parent / "themes").glob("*.toml")))
    s = subcommand(sub, "demo", "the cockpit on an embedded simulated rollout",
                   "The seed plan on a simulated service and gateway, on an accelerated clock; the guard runs in "
                   "this process. Watch it from a second terminal with the `cockpit observe --state-dir DIR` it "
                   "prints.", needs="nothing else: the simulated service and gateway run in this process; a "
                   "terminal, or --headless",
                   codes={Exit.OK: "the demo ended (the screen closed, or --headless ran to the end)",
                          Exit.REFUSED: "refused (a --state-dir that holds another journal)"})
    s.epilog += "\n\nscenarios:\n" + "\n".join(f"  {k:<20} {v}" for k, v in SCENARIO_LINES.items()) \
        + f"\n\nthemes (--theme): {themes}"
    s.add_argument("--scenario", choices=SCENARIOS, default="latency-regression")
    s.add_argument("--speed", type=_speed, default=60.0,
                   help="rollout seconds per wall second (default 60, at most 1800)")
    s.add_argument("--state-dir", help="keep the demo journal here (default: a temporary dir)")
    s.add_argument("--headless", action="store_true", help="no screen: a scripted captain, events printed")
    s.add_argument("--theme", help="a theme's name (below)")
    s.set_defaults(func=cmd_demo)


def _register_aftercare(sub) -> None:
    """evidence, done, replay, report (issue 11), and ack (issue 10)."""
    s = subcommand(sub, "evidence", "write the evidence bundle now (current phase, --phase N, --final or --rollback)",
                   "Collects the plan's [evidence] files, the budget, Prometheus' and the journal's records and "
                   "the screen, writes manifest.json (every file's sha256) and journals the manifest's hash. A file "
                   "that could not be collected is NAME.missing.json, saying why.",
                   needs="the plan (--config), a state dir it may write, and the evidence sources' credentials "
                   "(Prometheus, Grafana, ...)",
                   codes={Exit.OK: "complete and journaled", Exit.FAIL: "incomplete (each missing file named, with "
                          "why), or written but not journaled", Exit.REFUSED: "no journal (the rollout has not "
                          "started), or no bundle could be made"})
    s.add_argument("--config", required=True, help="the plan the captain runs")
    which = s.add_mutually_exclusive_group()
    which.add_argument("--phase", type=int, metavar="N", help="phase number (1-based)")
    which.add_argument("--final", action="store_true", help="the final bundle (after completion)")
    which.add_argument("--rollback", action="store_true", help="the rollback bundle (after a kill)")
    h.add_json(s)
    s.set_defaults(func=cmd_evidence)

    s = subcommand(sub, "done", "tick off a post-deployment item, journaled with who did it",
                   "ITEM is an id of the plan's [[post_deployment]]; they fall due counted from completion. ITEM "
                   "auto ticks those the cockpit can show itself (slos_met from the plan's Prometheus, with "
                   "--config).", needs="a state dir it may write (--state-dir DIR, or --config PLAN); auto: the "
                   "plan and its Prometheus",
                   codes={Exit.OK: "journaled (auto: what could be ticked, maybe nothing)",
                          Exit.REFUSED: "refused (no such item, not completed yet, done already, no --name) or "
                          "no journal"})
    s.add_argument("item", metavar="ITEM", help="the item's id in the plan's [[post_deployment]], or auto")
    s.add_argument("--name", default="", help="who did it (required for an item)")
    s.add_argument("--note", default="", help="what shows it (a link, a document)")
    _state_dir_arguments(s)
    h.add_json(s)
    s.set_defaults(func=cmd_done)

    s = subcommand(sub, "replay", "a past rollout in the same screen, read-only, with a time cursor",
                   "Keys: right/left step, PgDn/PgUp jump 10, Home/End, N next phase, decision, fire or kill, "
                   "space play, +/- speed. A journal whose chain does not verify is refused, naming the line.",
                   needs="read access to the state dir (--state-dir DIR, or --config PLAN); a terminal",
                   codes={Exit.OK: "the screen closed", Exit.FAIL: "refused: the journal does not verify (the "
                          "line named)", Exit.REFUSED: "no journal, an empty one, or one whose plan does not load "
                          "here"})
    _state_dir_arguments(s)
    s.add_argument("--speed", type=_speed, default=60.0, help="rollout seconds per wall second when playing")
    s.add_argument("--theme", help="a theme's name (themes/)")
    s.set_defaults(func=cmd_replay)

    s = subcommand(sub, "report", "one document of the rollout: timeline, gates, triggers, kill, budget, evidence",
                   "Markdown or HTML (no external assets), to report.md / report.html in the state dir, to -o FILE, "
                   "or to stdout with -o -. A journal that does not verify is reported from its intact events, "
                   "says so at its top and on stderr, and exits 1, as `status` does.",
                   needs=f"{READS}; write access where it writes",
                   codes={Exit.OK: "written", Exit.FAIL: "written, but the journal does not verify (said on stderr "
                          "and at the top of the report)", Exit.REFUSED: "no journal, no plan in it, or cannot write"})
    _state_dir_arguments(s)
    s.add_argument("--format", choices=("md", "html"), default="md")
    s.add_argument("--output", "-o", metavar="FILE", help="the file to write, - for stdout (default: report.md / "
                   "report.html in the state dir)")
    h.add_json(s)
    s.set_defaults(func=cmd_report)

    s = subcommand(sub, "ack", "acknowledge a page (INC-n): it stops climbing; every channel paged is told",
                   "Whoever is on call acknowledges from wherever they are (no captain lock; the journal's lock "
                   "orders the append); the guard tells the channels (PagerDuty gets acknowledge with the "
                   "incident's dedup key).", needs="the plan (--config) and a state dir it may write; no credential",
                   codes={Exit.OK: "journaled", Exit.REFUSED: "refused (no such incident open, acknowledged "
                          "already) or no journal"})
    s.add_argument("incident", help="the incident, e.g. INC-1 (cockpit status and the escalation pane show it)")
    s.add_argument("--name", required=True, help="who takes it; journaled and sent to the channels")
    s.add_argument("--config", required=True, help="the plan the rollout runs")
    h.add_json(s)
    s.set_defaults(func=cmd_ack)


class Version(argparse.Action):
    """`cockpit --version`: the installed release, and exit 0."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, help="print cockpit's version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"cockpit {__version__}")
        parser.exit(Exit.OK)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill("Terminal release cockpit for canary rollouts. `cockpit SUBCOMMAND --help` says "
                                  "what each does, what it needs and its exit codes.", h.WIDTH),
        epilog=summary() + "\n\n" + textwrap.fill("Errors go to stderr, results to stdout. --json (where offered): "
                                                  "one JSON document on stdout, the words on stderr, the same exit "
                                                  "code.", h.WIDTH))
    p.add_argument("--version", action=Version)
    sub = p.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    _register_plans(sub)  # check-config, init, verify, status
    _register_screens(sub)  # run, observe, guard, demo
    from cockpit import commands

    h.register(sub)  # kill, shift, reconcile
    commands.register(sub)  # every other captain action: preflight, sign-off, waive, start, decide, ...
    _register_aftercare(sub)  # evidence, done, replay, report, ack
    from cockpit import rehearsal_command

    rehearsal_command.register(sub)  # rehearse (issue 24)
    return p


def declared_exit_codes() -> dict[str, dict[Exit, str]]:
    """Each subcommand's exit codes, as its --help says them (for the README's table: exits.markdown)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: parser.exit_codes for name, parser in sub.choices.items()}


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
    h.report = h.Report(args.command, bool(getattr(args, "json", False)))  # a command's own _run makes its own
    try:
        return args.func(args)
    except Refused as e:  # a screen that could not load, or any refusal: said once the terminal is back
        _say(e)
        return _failed(e.code, refusals=e.reasons)
    except KeyboardInterrupt:
        return _failed(Exit.INTERRUPTED)
    except BrokenPipeError:  # `cockpit status | head`: the reader has gone, nothing more to say
        sys.stdout = open(os.devnull, "w")
        return Exit.OK
    except OSError as e:  # a path the OS refuses (too long, not a directory, denied): one line, not a traceback
        print(said := os_problem(e), file=sys.stderr)
        return _failed(Exit.REFUSED, refusals=[said])
    except Exception as e:
        # A plan problem found late (a secret's variable unset): one line per field. Only a command
        # that imported cockpit.config can raise one; importing it here (pydantic) would cost every
        # start, the screen's first frame included.
        config = sys.modules.get("cockpit.config")
        if config is not None and isinstance(e, config.ConfigError):
            lines = [f"{getattr(args, 'config', None) or 'config'}: {line}" for line in e.errors]
            print("\n".join(lines), file=sys.stderr)
            return _failed(Exit.REFUSED, refusals=lines)
        return _crashed(args, e)


def _crashed(args, e: Exception) -> int:
    """A bug: said in one line, then its traceback for the report; exit 5 (kill says its own)."""
    import traceback

    said = f"cockpit {args.command} CRASHED: {type(e).__name__}: {e}"
    print(said, "details (a bug in cockpit: report it with them):", traceback.format_exc().rstrip(), sep="\n",
          file=sys.stderr)
    return _failed(Exit.CRASHED, problems=[said])


def _failed(code: int, *, refusals: Sequence[str] = (), problems: Sequence[str] = ()) -> int:
    """What ended a command before its --json document: the document all the same, with that code."""
    h.report.refusals += refusals
    h.report.problems += problems
    h.report.print_document(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
