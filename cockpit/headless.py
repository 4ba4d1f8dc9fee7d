"""`cockpit kill`, `cockpit shift` and `cockpit reconcile`: the engine's traffic commands without a
screen, and what every headless command shares (refusals, confirmation, the captain lock, `--json`).
The other captain actions (preflight, sign-off, start, decide, advance, ...) are in commands.py.

Exit codes: one table for every subcommand (cockpit/exits.py); each subcommand's --help lists
those it exits with, in its own words (`subcommand`).

The kill needs no writable state dir: on a read-only one, a full one or one this user may only
read, it reaches the gateway and reads it back all the same, and says what it could not record.

Who may run what:
- `kill` needs no captain lock: an emergency from a second terminal must work while the
  captain's screen runs. The journal's file lock orders the appends; the captain's engine
  folds the kill in on its next refresh. Confirmed by typing the release version.
- `shift` and `reconcile` drive the rollout, so they take the captain lock (refused, naming
  the holder, while a captain runs), as every command in commands.py does (`as_captain`).
  `shift` follows `rules.shift_refusals` and is confirmed like `kill`; `reconcile` only reads the
  gateway back and journals what it found (and pulls an interrupted kill again), so it asks nothing.
- After a command that moves traffic, no screen keeps a guard running: `keep_guarded` starts one.

`--json`: one document on stdout (`Report.document`), the words on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from cockpit.exits import TABLE, Exit, said
from cockpit.refused import NOTHING_CHANGED, Refused, refusal

KILL_EXIT_CODES = {
    Exit.OK: "VERIFIED and journaled (and, without --no-wait, the canary traffic fell)",
    Exit.FAIL: "KILL NOT CONFIRMED (act on the gateway by hand), or the canary traffic did not fall",
    Exit.REFUSED: "refused, nothing sent",
    Exit.UNJOURNALED: "VERIFIED at the gateway but the journal did not take it (kept in unjournaled.jsonl, "
                      "journaled by the next append)",
    Exit.CRASHED: "crashed (read the gateway back)",
    Exit.FAIL_UNJOURNALED: "KILL NOT CONFIRMED and not journaled (kept)",
    Exit.UNRECORDED: "VERIFIED at the gateway but NOTHING RECORDED (a read-only, full or unwritable state dir: the "
                     "events are printed on stderr as unjournaled.jsonl lines)",
    Exit.FAIL_UNRECORDED: "KILL NOT CONFIRMED and nothing recorded",
}
TRAFFIC_EXIT_CODES = {
    Exit.OK: "done, VERIFIED at the gateway and journaled",
    Exit.FAIL: "the gateway does not confirm the shift (the journal says so)",
    Exit.REFUSED: "refused (the reasons are printed, as the screen says them), nothing sent",
    Exit.LOCKED: "a captain holds the captain lock (a screen runs), nothing sent",
    Exit.UNJOURNALED: "VERIFIED at the gateway but the journal did not take what followed (kept in "
                      "unjournaled.jsonl, journaled by the next append)",
    Exit.FAIL_UNJOURNALED: "not confirmed and not journaled",
    Exit.UNRECORDED: "VERIFIED but nothing could record what followed (it is printed on stderr as "
                     "unjournaled.jsonl lines)",
    Exit.FAIL_UNRECORDED: "not confirmed and nothing recorded",
}
CONFIRM_VERSION = "type the release version at a terminal, or --confirm VERSION without one"
TRAFFIC_NEEDS = ("the plan (--config), the captain lock (refused while a screen runs), the gateway's credential and a "
                 "state dir it may write; afterwards a guard watches the triggers (one is started, detached, when "
                 "none runs)")


WIDTH = 100  # --help's paragraphs, wrapped


def subcommand(sub, name: str, summary: str, description: str, *, needs: str, codes: dict[Exit, str],
               confirmation: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does, what it needs, how it is confirmed, and the
    exit codes it exits with (in its own words; each a row of exits.TABLE, kept as `exit_codes`)."""
    epilog = [textwrap.fill(f"needs: {needs}", WIDTH)]
    if confirmation:
        epilog.append(textwrap.fill(f"confirmation: {confirmation}", WIDTH))
    s = sub.add_parser(name, help=summary.replace("%", "%%"),  # help is %-formatted, the rest is not
                       description=textwrap.fill(f"{summary}. {description}".strip(), WIDTH),
                       epilog="\n".join([*epilog, said(codes, WIDTH)]),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.exit_codes = codes
    return s


def register(sub: argparse._SubParsersAction) -> None:
    s = subcommand(sub, "kill", "pull the kill switch: canary to 0 % at the gateway, read back, journaled",
                   "Then, when the plan names kill_switch.verify_query, waits up to verify_within for the canary's "
                   "request rate to fall to ~0 (--no-wait skips that).",
                   needs="the plan (--config) and the gateway's credential; no captain lock and no writable state "
                   "dir: works while a captain's screen runs, and on a journal that does not verify",
                   confirmation=CONFIRM_VERSION, codes=KILL_EXIT_CODES)
    s.add_argument("--config", required=True, help="the plan the captain runs")
    s.add_argument("--reason", required=True, help="why, in words; journaled and sent with the notification")
    s.add_argument("--confirm", metavar="VERSION", help="the release version; required without a terminal")
    s.add_argument("--no-wait", action="store_true",
                   help="do not wait for the canary's request rate to fall (kill_switch.verify_query)")
    add_json(s)
    s.set_defaults(func=cmd_kill)

    s = subcommand(sub, "shift", "shift the canary to a phase weight outside the screen (same rules)",
                   "Up one phase is an advance (the same gate rules); the current weight is re-asserted at the "
                   "gateway; an earlier phase's weight is a partial rollback that restarts that phase's soak and "
                   "gate.", needs=TRAFFIC_NEEDS, confirmation=CONFIRM_VERSION, codes=TRAFFIC_EXIT_CODES)
    s.add_argument("--config", required=True, help="the plan the captain runs")
    s.add_argument("--weight", required=True, type=int, help="a phase weight: the next, the current, or a lower one")
    s.add_argument("--confirm", metavar="VERSION", help="the release version; required without a terminal")
    add_json(s)
    s.set_defaults(func=cmd_shift)

    s = subcommand(sub, "reconcile", "read the gateway back and journal whether it agrees with the journal",
                   "A kill that was interrupted (requested, no result) is pulled again.",
                   needs="the plan (--config), the captain lock, the gateway's credential and a state dir it may "
                   "write", confirmation="none (it only reads the gateway back, and pulls an interrupted kill again)",
                   codes={Exit.OK: "the gateway agrees with the journal", Exit.FAIL: "it disagrees or cannot be read",
                          Exit.REFUSED: "refused", Exit.LOCKED: "a captain holds the captain lock"})
    s.add_argument("--config", required=True, help="the plan the captain runs")
    add_json(s)
    s.set_defaults(func=cmd_reconcile)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout (outcome, exit code, refusals, what it did); "
                             "the words go to stderr; the same exit code as without it")


class Report:
    """What one command did, for `--json`: the outcome, the refusal reasons, the journal seqs written."""

    def __init__(self, command: str = "", as_json: bool = False):
        self.command = command
        self.as_json = as_json
        self.refusals: list[str] = []
        self.problems: list[str] = []  # tried, but not confirmed: why
        self.written: list[int] = []
        self.events: list[str] = []
        self.facts: dict = {}  # command-specific: status, weight, guard, ...
        self.outcome = ""  # overrides the exit code's word (preflight: "checks failed")

    printed = False

    def print_document(self, code: int) -> None:
        """The one document on stdout (with --json), once."""
        if self.as_json and not self.printed:
            self.printed = True
            print(json.dumps(self.document(code), indent=2), flush=True)

    def document(self, code: int) -> dict:
        return {"command": self.command, "outcome": self.outcome or TABLE[Exit(code)].outcome, "exit_code": code,
                "refusals": self.refusals, "problems": self.problems, "written": self.written,
                "events": self.events, **self.facts}


report = Report()  # one command per process; _run() sets it


def _say(*lines: str, err: bool = False) -> None:
    """Words for the operator: stdout, or stderr when stdout carries the JSON document."""
    print("\n".join(lines), file=sys.stderr if err or report.as_json else sys.stdout, flush=True)


def _load(config: str):
    """The plan, its state dir, and the rollout state as the journal has it (read-only: a
    refused command must not so much as create the state dir)."""
    from cockpit.config import ConfigError, load_plan, resolve_state_dir
    from cockpit.engine import EngineError
    from cockpit.session import follower_engine
    from cockpit.store.chain import JournalError
    from cockpit.whoami import whoami

    try:
        plan = load_plan(Path(config))
    except ConfigError as e:
        raise Refused(*e.errors) from None
    state_dir = resolve_state_dir(plan, Path(config))
    try:
        reader = follower_engine(plan, state_dir, whoami("cli"))
        reader.ensure_plan()  # the same plan the captain runs, or refuse
    except JournalError as e:
        raise Refused(f"{state_dir}: {e}") from JournalBroken(str(e))
    except EngineError as e:
        raise Refused(f"{state_dir}: {e}") from None
    return plan, state_dir, reader.state


class JournalBroken(Exception):
    """The journal cannot be read as it is: every command refuses, except the kill."""


def _kill_on_a_broken_journal(args) -> int:
    """The kill reaches the gateway whatever state the journal is in: on a journal whose chain
    or head does not verify (tampered, cut off, unreadable line), it acts on the intact events,
    keeps its own aside (unjournaled.jsonl) and says, loudly, that nothing was journaled."""
    from cockpit.config import load_plan, resolve_state_dir
    from cockpit.session import open_store

    plan = load_plan(Path(args.config))
    state_dir = resolve_state_dir(plan, Path(args.config))
    journal = open_store(plan, Path(args.config)).acting(salvage=True)  # not even writable: its events are printed
    _say(f"JOURNAL BROKEN: {journal.broken}", "pulling the kill all the same, on the "
         f"{len(journal.records)} intact events; its events are kept aside, not journaled", err=True)
    report.problems.append(f"journal broken: {journal.broken}")
    if not args.reason.strip():
        raise Refused("refused: the kill switch needs a reason (--reason)")
    ks = plan.kill_switch
    _confirm(plan, args.confirm, f"pull the kill switch on {plan.release.name} {plan.release.version} "
                                 f"({ks.flag}={str(ks.value).lower()} at gateway {ks.gateway}, canary to 0 %)")
    engine = _engine(plan, state_dir, "cli", metrics=False, journal=journal)
    return asyncio.run(_kill_async(engine, args.reason))


def _confirm(plan, given: str | None, what: str) -> None:
    """The operator types the release version: at a terminal when asked, else with --confirm."""
    version = plan.release.version
    if given is None:
        if not sys.stdin.isatty():
            raise Refused(f"refused: no terminal to confirm at; pass --confirm {version} to {what}",
                          NOTHING_CHANGED)
        print(f"About to {what}.\nType the release version ({version}) to confirm: ", end="", file=sys.stderr,
              flush=True)  # stderr: stdout stays for the words, or the JSON document
        given = sys.stdin.readline()
    if given.strip() != version:
        raise Refused(f"refused: {given.strip()!r} is not the release version {version}", NOTHING_CHANGED)


def _engine(plan, state_dir, role: str, *, metrics: bool = False, journal=None):
    """The kill's engine (session.kill_engine: the gateway's credential resolved there), and what
    the operator must know about the journal it acts on."""
    from cockpit.config import ConfigError
    from cockpit.engine import EngineError
    from cockpit.session import kill_engine
    from cockpit.store.chain import JournalError
    from cockpit.store.unwritable import UnwritableJournal
    from cockpit.whoami import whoami

    try:
        engine = kill_engine(plan, state_dir, whoami(role), metrics=metrics, journal=journal,
                             warn=lambda line: _say(line, err=True))
    except ConfigError as e:
        raise Refused(*e.errors, NOTHING_CHANGED) from None
    journal = engine.journal  # acting on whatever the state dir allows: the kill needs no writable one
    unwritable = isinstance(journal, UnwritableJournal)
    if journal.quarantined:
        _say(f"journal: torn tail quarantined: {journal.quarantined}", err=True)
    if getattr(journal, "unreachable", False):  # etcd's (store/etcd_store.py), not imported on the file store's path
        _say(f"STORE UNREACHABLE: {journal.why}", "pulling the kill all the same: its events are kept aside in "
             f"{journal.state_dir} and journaled once etcd answers", err=True)
    elif unwritable:
        if journal.why not in (journal.broken or ""):  # a broken one was said already
            _say(f"STATE DIR NOT WRITABLE: {journal.why}", "pulling the kill all the same: what it does cannot "
                 "be recorded here, so its events are printed below", err=True)
    elif journal.write_error:
        _say(f"journal: {journal.write_error}", err=True)
    try:
        engine.ensure_plan()
    except EngineError as e:
        journal.close()
        raise Refused(f"refused: {state_dir}: {e}", NOTHING_CHANGED) from None
    except JournalError as e:
        if not (unwritable or journal.broken):
            journal.close()
            raise Refused(f"refused: {state_dir}: {e}", NOTHING_CHANGED) from None
        _say(f"warning: the plan is not journaled ({e}): pulling the kill on {plan.release.name} "
             f"{plan.release.version} as the config says", err=True)
    return engine


def _print_records(engine, records) -> None:
    from cockpit.narrate import line

    for record in records:
        text = line(record, engine.state.plan)
        report.written.append(record.seq)
        report.events.append(text)
        _say(f"  {text}")


def _run(main: Callable[[], int], args=None) -> int:
    """Run one command; a refusal is said on stderr with its exit code. `--json`: whatever the
    command prints goes to stderr, and stdout gets one document (`Report.document`), exit code in it."""
    global report
    report = Report(getattr(args, "command", "") or "", bool(getattr(args, "json", False)))
    out = sys.stdout
    if report.as_json:
        sys.stdout = sys.stderr  # a stray print cannot break the document
    try:
        code = main()
    except Refused as e:
        _say(*e.lines, err=True)
        report.refusals += e.reasons
        code = e.code
    finally:
        if sys.stdout is sys.stderr:
            sys.stdout = out
    report.print_document(code)
    return code


# -- kill --------------------------------------------------------------------------------------


def cmd_kill(args) -> int:
    def guarded() -> int:
        try:
            return _kill(args)
        except Refused:
            raise
        except Exception as e:  # noqa: BLE001 - the operator must know the kill's fate is unknown
            import traceback

            report.problems.append(f"crashed: {type(e).__name__}: {e}")
            _say(f"cockpit kill CRASHED: {type(e).__name__}: {e}",
                 "the kill may or may not have reached the gateway: read it back (cockpit reconcile, or the gateway)",
                 "details:", traceback.format_exc().rstrip(), err=True)
            return Exit.CRASHED

    return _run(guarded, args)


def _kill(args) -> int:
    from cockpit.core import rules

    try:
        plan, state_dir, state = _load(args.config)
    except Refused as e:
        if not isinstance(e.__cause__ or e.__context__, JournalBroken):
            raise
        return _kill_on_a_broken_journal(args)
    if reasons := rules.kill_refusals(state):
        raise refusal(reasons)
    if not args.reason.strip():
        raise Refused("refused: the kill switch needs a reason (--reason)")
    ks = plan.kill_switch
    _confirm(plan, args.confirm, f"pull the kill switch on {plan.release.name} {plan.release.version} "
                                 f"({ks.flag}={str(ks.value).lower()} at gateway {ks.gateway}, canary to 0 %)")
    engine = _engine(plan, state_dir, "cli", metrics=not args.no_wait)
    return asyncio.run(_kill_async(engine, args.reason))


async def _kill_async(engine, reason: str) -> int:
    try:
        out = await engine.kill(reason)
        if not out.records and not out.unjournaled:
            raise refusal(out.reasons)
        _print_records(engine, out.records)
        report.problems += out.reasons
        done = [r.payload for r in out.records] + out.unjournaled
        result = next(p for p in done if p.KIND == "kill_result")
        engine.write_held()  # one more try: the disk may have room again
        if out.unjournaled and not engine.unrecorded:  # else _say_unrecorded says it all
            _say(*(r for r in out.reasons if r.startswith("JOURNAL NOT WRITTEN")), err=True)
        if not out.ok:
            from cockpit.core.readmodel import kill_answer

            head, detail, _ = kill_answer(result, None)  # the kill line's words, as the screen and status say it
            _say(f"{head} · {detail}",
                 f"escalated to {engine.plan.escalation[-1].level}: act on the gateway by hand")
            if _say_unrecorded(engine):
                return Exit.FAIL_UNRECORDED
            return Exit.FAIL_UNJOURNALED if out.unjournaled else Exit.FAIL
        from cockpit.core.readmodel import kill_read_back

        _say(f"VERIFIED: {kill_read_back(result)} (gateway {engine.plan.kill_switch.gateway}, "
             f"{engine.plan.kill_switch.flag}={str(result.observed_enabled).lower()})")
        if _say_unrecorded(engine):
            return Exit.UNRECORDED
        if out.unjournaled:
            _say("the canary is off at the gateway, but the JOURNAL DOES NOT SAY SO YET "
                 f"({len(out.unjournaled)} events not journaled): free the disk or fix the journal; "
                 "the next append journals them", err=True)
            return Exit.UNJOURNALED
        if engine.rollback_check is None:
            return Exit.OK
        return await _wait_for_traffic(engine)
    finally:
        _state_facts(engine)
        if engine.rollback_check and not engine.rollback_check.done():
            engine.rollback_check.cancel()
        await engine.gateway.close()
        if hasattr(engine.metrics, "close"):
            engine.metrics.close()
        engine.journal.close()


def _say_unrecorded(engine) -> bool:
    """Events that neither the journal nor the side file took, this process about to end: said
    loudly on stderr, each as the side-file line that journals it once appended there."""
    from cockpit.narrate import line
    from cockpit.store.kept import ASIDE, kept_line

    engine.write_held()  # one more try: the disk may have room again
    lost = engine.unrecorded
    if not lost:
        return False
    side = engine.journal.state_dir / ASIDE
    report.problems.append(f"NOTHING RECORDED: {len(lost)} events: {lost[0].error}")
    report.facts["unrecorded"] = [kept_line(h.record.payload, actor=h.record.actor, ts=h.record.ts, error=h.error,
                                            pseq=h.record.seq).decode().rstrip() for h in lost]
    _say(f"NOTHING RECORDED: neither the journal nor {ASIDE} could take what this command did at the gateway "
         f"({lost[0].error}).",
         *(f"  {line(h.record, engine.state.plan)}" for h in lost),
         f"The {len(lost)} events it would have journaled, as lines to append to {side} once the state dir "
         "can be written (the next append journals them, late and in order):",
         *report.facts["unrecorded"], err=True)
    return True


async def _wait_for_traffic(engine) -> int:
    from cockpit.core import words

    within = words.duration(engine.plan.kill_switch.verify_within)
    _say(f"waiting up to {within} for the canary's request rate to fall to ~0 "
         "(Ctrl-C stops waiting; the kill stands)")
    verdict = await engine.rollback_check
    _print_records(engine, verdict.records)
    if verdict.ok:
        said = verdict.records[-1].payload if verdict.records else verdict.unjournaled[-1]  # journaled or held
        _say(f"ROLLBACK VERIFIED by canary traffic: {said.detail}")
        return Exit.OK
    _say(verdict.reasons[0])
    report.problems += verdict.reasons
    return Exit.FAIL


# -- the captain's commands: one flow, under the captain lock ----------------------------------


def as_captain(args, act: Callable, *, needs: str) -> int:
    """Run `await act(engine)` as the captain (session.captain: the captain lock first, refused with
    exit 3 naming the holder while a screen runs, then the engine, the plan journaled on first use as
    `run` does). `needs`: what the engine wires (session.captain_engine): "gateway", "checks" or
    "journal" (sign-offs, decisions and notes need no credential)."""
    from cockpit.config import ConfigError, load_plan
    from cockpit.session import captain

    config = Path(args.config)
    try:
        plan = load_plan(config)
    except ConfigError as e:
        raise Refused(*e.errors) from None
    session = captain(plan, config, needs=needs)
    try:
        _print_records(session.engine, session.plan_journaled)
        return asyncio.run(_acting(session.engine, act))
    finally:
        session.lock.release()


def _say_next(engine) -> None:
    """What the rollout waits for now, in the words `status` and the screen say it (the read model's next step)."""
    from cockpit.narrate import next_line

    if said := next_line(engine.plan, engine.state, engine.clock.now()):
        _say(f"next     {said}")


def _state_facts(engine) -> None:
    """Where the rollout stands after the command, for `--json`."""
    from cockpit.core.state import STATUS_WORDS

    st = engine.state
    report.facts.update(status=STATUS_WORDS[st.status], weight=st.weight,
                        phase=None if st.phase is None else engine.plan.phases[st.phase].name)


async def _acting(engine, act: Callable) -> int:
    try:
        code = await act(engine)
        _say_next(engine)
        return code
    finally:
        _state_facts(engine)
        if engine.gateway is not None:
            await engine.gateway.close()
        if hasattr(engine.metrics, "close"):
            engine.metrics.close()
        engine.journal.close()


GUARD_WAIT_S = 15.0  # how long a fresh guard gets to take the guard lock before we say it did not


def keep_guarded(config: Path, engine) -> None:
    """A rollout moved from the command line has no screen to keep a guard running: start one,
    detached (session.GuardKeeper), when none holds the guard lock, and say who watches."""
    import time

    from cockpit.config import resolve_state_dir
    from cockpit.core import words
    from cockpit.session import GuardKeeper, open_store

    if not engine.state.live:
        return
    state_dir = resolve_state_dir(engine.plan, Path(config))
    store = open_store(engine.plan, Path(config))
    keeper = GuardKeeper(Path(config), state_dir, str(engine.actor))  # it only spawns one here
    holder = store.guarding()
    if holder is None:
        keeper.spawn(f"started by {engine.actor}'s `cockpit {report.command}`: no screen keeps one")
        deadline = time.monotonic() + GUARD_WAIT_S
        while (holder := store.guarding()) is None and (keeper.process is None or keeper.process.poll() is None) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
    if holder is not None:
        report.facts["guard"] = f"{holder.get('pid')}@{holder.get('host')}"
        _say(f"guard {report.facts['guard']} watches the triggers")
        return
    report.facts["guard"] = None
    code = keeper.process.poll() if keeper.process is not None else None
    pid = keeper.process.pid if keeper.process is not None else "?"
    why = f"the guard started exited {code}: {_last_log_line(state_dir)}" if code is not None else (
        f"the guard started (pid {pid}) does not hold the guard lock "
        f"after {words.duration(GUARD_WAIT_S)}")
    report.problems.append(f"UNGUARDED: {why}")
    _say(f"UNGUARDED: nothing evaluates the triggers: {why}; start one: cockpit guard --config {config}", err=True)


def _last_log_line(state_dir: Path) -> str:
    try:
        return (state_dir / "guard.log").read_text(errors="replace").strip().splitlines()[-1][-200:]
    except (OSError, IndexError):
        return "no guard.log"


# -- shift and reconcile -------------------------------------------------------------------------


def cmd_shift(args) -> int:
    return _run(lambda: as_captain(args, lambda engine: _shift(engine, args), needs="gateway"), args)


async def _shift(engine, args) -> int:
    from cockpit.core import rules

    plan, state = engine.plan, engine.state
    if reasons := rules.shift_refusals(state, args.weight, engine.clock.now()):
        raise refusal(reasons)
    target = rules.phase_of_weight(state, args.weight)
    kind = ("advance to" if target == rules.next_phase(state) else
            "re-assert" if target == state.phase else "roll back to")
    _confirm(plan, args.confirm, f"{kind} {plan.phases[target].name} on {plan.release.name} {plan.release.version}: "
                                 f"canary from {state.weight} % to {args.weight} %")
    out = await engine.shift(args.weight)  # the rules again, in the engine
    return moved(engine, out, Path(args.config), lambda: f"VERIFIED: the gateway reads canary {args.weight} %")


def moved(engine, out, config: Path, verified: Callable[[], str]) -> int:
    """A command that moved traffic (shift, start, advance): said, verified at the gateway or
    not, journaled or kept aside, then kept guarded. Exit 0/1 as for any command; 4 and 6 as for
    the kill when the journal did not take what happened after the gateway call."""
    if not out.records and not out.unjournaled:
        raise refusal(out.reasons)
    _print_records(engine, out.records)
    unwritten = [r for r in out.reasons if r.startswith("JOURNAL NOT WRITTEN")]
    if not out.ok:
        report.problems += out.reasons
        _say(f"SHIFT NOT CONFIRMED: {'; '.join(r for r in out.reasons if r not in unwritten)}")
    else:
        report.problems += unwritten
        _say(verified())
    if out.unjournaled:
        _say(*unwritten, "the gateway has changed, but the JOURNAL DOES NOT SAY SO YET "
             f"({len(out.unjournaled)} events not journaled): free the disk or fix the journal; "
             "the next append journals them", err=True)
    unrecorded = _say_unrecorded(engine)
    keep_guarded(config, engine)  # live, and the gateway or the journal unsure: all the more reason to watch
    if unrecorded:
        return Exit.UNRECORDED if out.ok else Exit.FAIL_UNRECORDED
    if out.unjournaled:
        return Exit.UNJOURNALED if out.ok else Exit.FAIL_UNJOURNALED
    return Exit.OK if out.ok else Exit.FAIL


def cmd_reconcile(args) -> int:
    return _run(lambda: as_captain(args, _reconcile, needs="gateway"), args)


async def _reconcile(engine) -> int:
    out = await engine.reconcile()
    if not out.records:
        raise refusal(out.reasons)
    _print_records(engine, out.records)
    report.problems += out.reasons
    return Exit.OK if out.ok else Exit.FAIL
