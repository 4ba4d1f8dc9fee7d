"""`cockpit rehearse`: the subcommand, its arguments and exit codes (the work is cockpit.rehearsal's)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from cockpit import headless as h
from cockpit.exits import Exit
from cockpit.headless import subcommand
from cockpit.refused import Refused

CODES = {
    Exit.OK: "rehearsed: the rollout would not have been killed nor held at a gate; nothing fired or failed on "
             "the quiet span",
    Exit.FAIL: "rehearsed: the rollout would have been killed or held at a gate, or a trigger would have fired "
               "(a criterion failed) on the quiet span",
    Exit.REFUSED: "refused: an invalid plan or argument, no [prometheus] in the plan, no journal, or Prometheus "
                  "gave no answer (the endpoint, the query and the span named)",
}


def register(sub) -> None:
    s = subcommand(sub, "rehearse", "judge a plan's triggers and gates over Prometheus history",
                   "The guard's own rules (every round at the plan's poll interval over range queries at its "
                   "step, chunked under Prometheus' 11,000 points): --at TIME (or --journal DIR, a past "
                   "rollout's phase starts) says per phase when each trigger would have breached and fired, what "
                   "each gate would have read at its soak's end, the [judge]'s judgment of each soak (verdict, "
                   "score, each metric's class and why; with action = rollback its kill), and whether and when "
                   "the rollout would have been killed; --quiet-from/--quiet-to count how often each would have "
                   "fired (or the judge judged Fail or Marginal) on a span known healthy; --sweep moves one "
                   "trigger's threshold. -o FILE writes the reproducibility document "
                   "(plan digest, spans, Prometheus URL without secrets, the samples' sha256, the results).",
                   needs="the plan (--config) and its Prometheus' credential; no state dir, no gateway",
                   codes=CODES)
    s.add_argument("--config", required=True, help="the plan to rehearse")
    when = s.add_mutually_exclusive_group()
    when.add_argument("--at", metavar="TIME",
                      help="the rollout's start: ISO 8601 (2024-05-14T12:00:00Z) or unix seconds")
    when.add_argument("--journal", metavar="DIR", help="a past rollout's state dir: its start and phase starts")
    s.add_argument("--quiet-from", metavar="T1", help="start of a span known healthy")
    s.add_argument("--quiet-to", metavar="T2", help="its end")
    s.add_argument("--sweep", metavar="TRIGGER=LOW:HIGH:STEP", help="rehearse one trigger at each threshold "
                   "(its percentage over the baseline for a relative one)")
    s.add_argument("--screen", action="store_true", help="show a lane per trigger over the span (ok, breaching, "
                   "fired, no data) on the terminal instead of the text; q leaves")
    s.add_argument("--output", "-o", metavar="FILE", help="write the reproducibility document (JSON); - for stdout")
    h.add_json(s)
    s.set_defaults(func=cmd_rehearse)


def moment(text: str, what: str) -> float:
    """ISO 8601 (a time without a zone is UTC) or unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"refused: {what} {text!r}: give ISO 8601 (2024-05-14T12:00:00Z) or unix seconds") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def cmd_rehearse(args) -> int:
    return h._run(lambda: _rehearse(args), args)


def _rehearse(args) -> int:
    from cockpit.adapters.prom_range import HistoryError
    from cockpit.adapters.prometheus import build_metrics
    from cockpit.config import ConfigError, load_plan, plan_digest
    from cockpit.rehearsal import RehearsalError, fetcher, labels, rehearse, sweep_limits
    from cockpit.rehearsal_text import document, lines

    if args.screen and (args.json or args.output == "-"):
        raise Refused("refused: --screen takes the terminal: give -o FILE for the document, without --json")
    if args.output == "-" and args.json:
        raise Refused("refused: -o - writes the document to stdout, where --json writes its own: give -o FILE")
    try:
        plan = load_plan(Path(args.config))
    except ConfigError as e:
        raise Refused(*e.errors) from None
    at = moment(args.at, "--at") if args.at else None
    if (args.quiet_from is None) != (args.quiet_to is None):
        raise Refused("refused: give both --quiet-from and --quiet-to")
    quiet = None
    if args.quiet_from is not None:
        quiet = (moment(args.quiet_from, "--quiet-from"), moment(args.quiet_to, "--quiet-to"))
        if quiet[1] <= quiet[0]:
            raise Refused("refused: --quiet-to must be after --quiet-from")
    if at is None and args.journal is None and quiet is None:
        raise Refused("refused: give --at TIME, --journal DIR or --quiet-from/--quiet-to: a span to rehearse on")
    if args.journal is not None and not Path(args.journal).is_dir():
        raise Refused(f"refused: --journal {args.journal}: no such directory")
    source = build_metrics(plan)
    if source is None:
        raise Refused(f"refused: {args.config}: the plan has no [prometheus] to rehearse on")
    try:
        sweep = sweep_limits(args.sweep) if args.sweep else None
        got = rehearse(plan, fetcher(source), at=at, journal_dir=args.journal, quiet=quiet, sweep=sweep)
    except (RehearsalError, HistoryError) as e:
        raise Refused(f"refused: {e}") from None
    finally:
        source.close()
    doc = document(got, plan_digest=plan_digest(plan), plan_path=args.config, endpoint=source.endpoint)
    if args.output == "-":
        print(json.dumps(doc, indent=2))
    elif args.screen:
        from cockpit.tui.rehearsal_view import RehearsalApp

        RehearsalApp(got).run()
        if args.output:
            Path(args.output).write_text(json.dumps(doc, indent=2) + "\n")
    else:
        h._say(*lines(got, labels(plan)))
        if args.output:
            Path(args.output).write_text(json.dumps(doc, indent=2) + "\n")
            h._say(f"written: {args.output}")
    h.report.facts.update(rehearsal=doc, output=args.output)
    bad = (got.killed_at is not None or got.gate_failed is not None
           or any(run.fires for run in got.quiet_triggers.values()) or any(c.failed for c in got.quiet_criteria)
           or any(j.failed for j in got.quiet_judged))
    sys.stdout.flush()
    return Exit.FAIL if bad else Exit.OK
