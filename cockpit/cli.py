"""The `cockpit` command: its parser, the dispatch, and what ends a command that failed (each
subcommand's work is in a module of its own: cmd_*.py, headless.py, commands.py, rehearsal_command.py).

Every subcommand's --help says what it does, what it needs and its exit codes (one table for all:
exits.py); errors go to stderr, results to stdout; `--json` prints one document on stdout with
the same exit code as the text."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from cockpit import __version__
from cockpit import headless as h
from cockpit.cmd_demo import cmd_demo
from cockpit.cmd_guard import cmd_ack, cmd_guard
from cockpit.cmd_journal import cmd_done, cmd_evidence, cmd_replay, cmd_report, cmd_verify_any
from cockpit.cmd_migrate import cmd_migrate
from cockpit.cmd_plan import cmd_check_config, cmd_init
from cockpit.cmd_watch import cmd_observe, cmd_run, cmd_status
from cockpit.exits import Exit, summary
from cockpit.headless import subcommand
from cockpit.refused import Refused
from cockpit.shown import Shown


def _say(refused: Refused) -> None:
    for line in refused.lines:
        print(line, file=sys.stderr)


def _speed(text: str) -> float:
    """--speed: a finite number of rollout seconds per wall second, above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value <= 1_000_000):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not a speed: give a number above 0 (60 makes a minute a second)")
    return value


READS = ("read access to the state dir (--state-dir DIR, or --config PLAN to find it; default ./state); no credential "
         "(a plan on etcd, [state] store = \"etcd\": its etcd user, whose role may read the prefix)")


def _state_dir_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--state-dir", help="the rollout's state dir")
    s.add_argument("--config", help="find the state dir, or the plan's etcd ([state]), from the plan (no credential "
                   "is loaded but the etcd user's password)")


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
                   needs="read access to the state dir (--state-dir DIR, or --config PLAN to find it; a plan on "
                   "etcd: its etcd user, whose role may read the prefix); a terminal",
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
                          "unjournaled.jsonl lines)",
                          Exit.DEPOSED: "deposed: another guard took the etcd lease; this one stopped acting"})
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
    s.epilog = (s.epilog or "") + "\n\nscenarios:\n" + "\n".join(f"  {k:<20} {v}" for k, v in SCENARIO_LINES.items()) \
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


def _register_migrate(sub) -> None:
    s = subcommand(sub, "migrate", "copy the rollout's journal between the plan's state dir and etcd, verified",
                   "--to etcd: the state dir's journal (journal.jsonl) to the plan's etcd prefix, which must hold "
                   "no journal yet; --to file: back from etcd into the state dir, which must hold none. The source "
                   "is verified first and the copy after (the lines are copied byte for byte: each keeps its hash). "
                   "Prints what it copied (events, head) and the [state] lines the plan needs from now on. Run it "
                   "with no captain at work: the copy stops if another writer appends.",
                   needs="the plan (--config); read access to the source, write access to the destination (on "
                   "etcd: a user whose role may write the prefix); for a plan still on the file store, --endpoints",
                   codes={Exit.OK: "copied, and the copy verifies", Exit.FAIL: "not copied: the source journal "
                          "does not verify (the problem named)", Exit.REFUSED: "not copied: no journal to copy, "
                          "the destination holds one already, etcd cannot be reached, or a misuse"})
    s.add_argument("--config", required=True, help="the plan: its state dir, and its etcd ([state]) if it names one")
    s.add_argument("--to", required=True, choices=("etcd", "file"), help="where the journal goes")
    s.add_argument("--endpoints", help="etcd client URLs, comma-separated, for a plan whose [state] is still the "
                   "file store (no auth: name the etcd in the plan's [state] for a user and password)")
    s.add_argument("--prefix", help="the key prefix with --endpoints (default /cockpit/<release>/<version>)")
    h.add_json(s)
    s.set_defaults(func=cmd_migrate)


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
    _register_migrate(sub)  # migrate (issue 25)
    from cockpit import rehearsal_command

    rehearsal_command.register(sub)  # rehearse (issue 24)
    return p


def declared_exit_codes() -> dict[str, dict[Exit, str]]:
    """Each subcommand's exit codes, as its --help says them (for the README's table: exits.markdown)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: parser.exit_codes for name, parser in sub.choices.items()}


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
    if e.filename is None:
        return f"{e.strerror or e}: try again"
    advice = ADVICE.get(e.errno, "check the path") if e.errno is not None else "check the path"
    return f"{e.filename}: {e.strerror or e}: {advice}"


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
        if _etcd_trouble(e):  # etcd out of reach or refusing: one line naming the endpoints, not a bug
            print(said := f"refused: {e}", file=sys.stderr)
            return _failed(Exit.REFUSED, refusals=[said])
        return _crashed(args, e)


def _etcd_trouble(e: Exception) -> bool:
    """An etcd store's error (only a command that opened one can raise it: nothing is imported here)."""
    client, store = sys.modules.get("cockpit.store.etcd_client"), sys.modules.get("cockpit.store.etcd_store")
    return (client is not None and isinstance(e, client.EtcdError)) or (
        store is not None and isinstance(e, store.EtcdStoreError))


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
