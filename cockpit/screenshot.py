"""`python -m cockpit.screenshot STATE_DIR SVG --at TIME`: the cockpit's screen as an observer sees it at a
moment, drawn headless to SVG.

The evidence bundle's picture, drawn in a short-lived process of its own (evidence.capture_screen
starts it, with a timeout) so that Textual never runs in the guard. The plan comes on stdin as the
journal carries it (config.dump_plan); the journal is opened read-only. Exit 0 with the SVG written,
2 with one line on stderr saying why not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (give WIDTHxHEIGHT, such as 120x40)") from None
    return width, height


async def draw(plan, state_dir: Path, now: datetime, svg: Path, size: tuple[int, int]) -> None:
    from cockpit.clock import ManualClock
    from cockpit.core.events import Actor
    from cockpit.session import follower_engine, open_store
    from cockpit.tui.app import CockpitApp

    engine = follower_engine(plan, state_dir, Actor(user="evidence", host="cockpit", role="observer"),
                             clock=ManualClock(now))
    try:
        app = CockpitApp(engine, open_store(plan, state_dir=state_dir).feed(), who="evidence (read-only)",
                         watch=False)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.save_screenshot(filename=svg.name, path=str(svg.parent))
    finally:
        engine.journal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cockpit.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("svg", type=Path, help="the file to write")
    parser.add_argument("--at", required=True, type=datetime.fromisoformat, help="the moment, ISO 8601 with its zone")
    parser.add_argument("--size", type=_size, default=(120, 40), help="WIDTHxHEIGHT in cells (default 120x40)")
    args = parser.parse_args(argv)
    try:
        from cockpit.config import ConfigError, parse_journaled_plan

        try:
            plan = parse_journaled_plan(json.loads(sys.stdin.read()))
        except ConfigError as e:
            raise ValueError(f"the plan on stdin: {'; '.join(e.errors)}") from None
        asyncio.run(draw(plan, args.state_dir, args.at, args.svg, args.size))
    except Exception as e:  # noqa: BLE001 - a screen that cannot be drawn is a missing file, said why
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
