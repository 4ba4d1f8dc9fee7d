"""`demo`: the cockpit on an embedded simulated rollout, on a screen or --headless."""

from __future__ import annotations

import sys
from pathlib import Path

from cockpit.cmd_shared import screen
from cockpit.exits import Exit
from cockpit.refused import Refused


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
        screen(app)
    finally:
        loaded = app.wait_loaded()
        if loaded is not None and loaded.guard is not None:  # the demo's loader always builds one
            loaded.guard.stop()
            loaded.guard.monitor.close()
    print(f"demo journal: {state_dir / 'journal.jsonl'}")
    return Exit.OK


def _demo_build(args, state_dir: Path, actor):
    """The demo's engine, guard, world and people, or Refused: a --state-dir whose journal is
    not a demo's (or not a journal) is said in one line."""
    from cockpit import demo
    from cockpit.engine import EngineError
    from cockpit.store.chain import JournalError

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
