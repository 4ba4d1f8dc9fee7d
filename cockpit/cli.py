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
