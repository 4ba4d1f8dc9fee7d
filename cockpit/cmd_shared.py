"""What every subcommand shares: the plan its --config names (or the refusal), its state dir, its
screen, and a run as headless.Report runs one (a refusal said, --json one document)."""

from __future__ import annotations

import sys
from pathlib import Path

from cockpit import headless as h
from cockpit.refused import Refused


def plan_or_refuse(path: str):
    from cockpit.config import ConfigError, load_plan

    try:
        return load_plan(Path(path))
    except ConfigError as e:
        raise Refused(*e.errors) from None


def screen(app) -> None:
    """Run a screen that loads its engine after its first frame; what refused the load is raised
    here, once the terminal is back (main says it and exits with its code). With no terminal on
    stderr (where Textual draws) no one sees a frame: load first, so a refusal is its lines alone."""
    if not sys.stderr.isatty():
        app.load_now()
    app.exit_on_sigterm = True
    app.run()
    if app.load_error is not None:
        raise app.load_error


def reported(command):
    """A subcommand run as headless.Report runs one: a refusal said on stderr with its code, and
    with --json one document on stdout (every word the command prints goes to stderr then)."""
    def run(args) -> int:
        return h._run(lambda: command(args), args)

    run.__doc__ = command.__doc__
    return run


def store_of(args, plan=None):
    """The store of the plan --config names (`[state]`: the file store, or etcd with this host's dir,
    --state-dir if given); without --config, the file store in --state-dir (or ./state)."""
    if getattr(args, "config", None):
        from cockpit.session import open_store

        local = Path(args.state_dir) if getattr(args, "state_dir", None) else None
        return open_store(plan or plan_or_refuse(args.config), Path(args.config), state_dir=local)
    from cockpit.store import FileStore

    return FileStore(state_dir_of(args))


def state_dir_of(args, plan=None) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    if getattr(args, "config", None):
        from cockpit.config import resolve_state_dir

        return resolve_state_dir(plan or plan_or_refuse(args.config), Path(args.config))
    return Path("state")
