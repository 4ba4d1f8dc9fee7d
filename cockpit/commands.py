"""Every captain action as a subcommand, for scripts, runbooks and ChatOps bots.

`preflight`, `sign-off`, `waive`, `start`, `decide`, `advance`, `note` and `approve` call the
same engine commands as the screen's keys, and check the same core rules first (core/rules.py,
core/chatops.py), so a refusal reads exactly as the screen's. Each takes the captain lock: while
a captain's screen runs, they refuse (exit 3, naming the holder); `kill` alone does not wait
for it (headless.py). Commands that move traffic (`start`, `advance`) ask for the release version
at a terminal and need `--confirm VERSION` without one, then make sure a guard watches the
triggers, since no screen will.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cockpit import headless as h
from cockpit.exits import Exit
from cockpit.headless import CONFIRM_VERSION, TRAFFIC_EXIT_CODES, TRAFFIC_NEEDS
from cockpit.refused import Refused, refusal

RECORD = dict(
    needs="the plan (--config), the captain lock (refused while a screen runs) and a state dir it may write; "
          "no credential",
    confirmation="none (it only journals, under the captain lock)",
    codes={Exit.OK: "journaled",
           Exit.REFUSED: "refused (the reasons are printed, as the screen says them, a journal that will not take "
                         "the write among them), nothing journaled but the plan on first use",
           Exit.LOCKED: "a captain holds the captain lock (a screen runs), nothing journaled"})
TRAFFIC = dict(needs=TRAFFIC_NEEDS, confirmation=CONFIRM_VERSION, codes=TRAFFIC_EXIT_CODES)
PREFLIGHT = dict(
    needs="the plan (--config), the captain lock, a state dir it may write, and what the checks read "
          "(Prometheus' credential); no gateway credential",
    confirmation="none (checks only read)",
    codes={Exit.OK: "every check run passed", Exit.FAIL: "a check failed or erred (journaled with its evidence)",
           Exit.REFUSED: "refused (no such check; the rollout has started)",
           Exit.LOCKED: "a captain holds the captain lock (a screen runs)"})


def _parser(sub, name: str, summary: str, description: str, said: dict) -> argparse.ArgumentParser:
    s = h.subcommand(sub, name, summary, description, **said)
    s.add_argument("--config", required=True, help="the plan the captain runs")
    return s


def register(sub: argparse._SubParsersAction) -> None:
    s = _parser(sub, "preflight", "run the preflight checks (or one) and journal each result with its evidence",
                "Then says what the start still waits for.", PREFLIGHT)
    s.add_argument("--check", metavar="ID", help="run only this check (its id in the plan)")
    _done(s, cmd_preflight)

    s = _parser(sub, "sign-off", "record one of the required sign-offs before the start",
                "ROLE is the role id in the plan (po, tech_lead, security, sre, finops in the seed).", RECORD)
    s.add_argument("role", metavar="ROLE")
    s.add_argument("--name", required=True, help="who signs (journaled)")
    s.add_argument("--note", default="approved", help="journaled with the sign-off (default: approved)")
    _done(s, cmd_sign_off)

    s = _parser(sub, "waive", "waive a preflight check with a reason, before the start",
                "The waiver and its reason are journaled; the check then counts as satisfied.", RECORD)
    s.add_argument("check", metavar="CHECK", help="the check's id in the plan")
    s.add_argument("--reason", required=True, help="why (journaled)")
    _done(s, cmd_waive)

    s = _parser(sub, "start", "start the rollout: the canary takes the first phase's weight at the gateway",
                "Needs every preflight check passed or waived, every sign-off, and no freeze window.", TRAFFIC)
    s.add_argument("--confirm", metavar="VERSION", help="the release version; required without a terminal")
    _done(s, cmd_start)

    s = _parser(sub, "decide", "record an owner's GO or NO-GO for the current phase's gate",
                "PHASE is the phase number (1 for the first) or its name; ROLE a role id that owns that gate.",
                RECORD)
    s.add_argument("phase", metavar="PHASE")
    s.add_argument("role", metavar="ROLE")
    s.add_argument("decision", type=str.lower, choices=("go", "no-go"))
    s.add_argument("--name", required=True, help="who decided (journaled)")
    s.add_argument("--note", default="", help="journaled with the decision")
    _done(s, cmd_decide)

    s = _parser(sub, "advance", "advance to the next phase, or complete the rollout from the last one",
                "Needs the soak done, every gate criterion met, a GO from every owner, no trigger breaching "
                "and no freeze window.", TRAFFIC)
    s.add_argument("--confirm", metavar="VERSION", help="the release version; required without a terminal")
    _done(s, cmd_advance)

    s = _parser(sub, "note", "add a free-text note to the journal",
                "It is journaled with who wrote it and when, and shows in the timeline, `status` and the report; "
                "its text is shown, never obeyed (control characters come out as escapes).", RECORD)
    s.add_argument("text", metavar="TEXT")
    _done(s, cmd_note)

    s = _parser(sub, "approve", "check a ChatOps approval line against the plan and journal it when it matches",
                'LINE as sent in chat: "/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 '
                'kill-switch:gateway-flag". A line that does not match is refused, field by field.', RECORD)
    s.add_argument("line", metavar="LINE")
    s.add_argument("--name", help="who sent it in chat (default: you)")
    _done(s, cmd_approve)


def _done(parser: argparse.ArgumentParser, func) -> None:
    h.add_json(parser)
    parser.set_defaults(func=func)


def _captain(args, act, *, needs: str = "journal") -> int:
    return h._run(lambda: h.as_captain(args, act, needs=needs), args)


def _journaled(engine, out) -> int:
    """A record-only command's outcome: its records said, or the engine's refusal verbatim."""
    if not out.ok:
        raise refusal(out.reasons)
    h._print_records(engine, out.records)
    return Exit.OK


def _before_start(engine) -> None:
    """What the start still waits for (core.rules.start_refusals), while in preflight."""
    from cockpit.core import rules

    if engine.state.status != "preflight":
        return
    waiting = rules.start_refusals(engine.state, engine.clock.now())
    h.report.facts["start_refusals"] = waiting
    h._say("ready to start: cockpit start" if not waiting else "the start waits for: " + "; ".join(waiting))


# -- preflight, sign-offs, waivers ---------------------------------------------------------------


def cmd_preflight(args) -> int:
    async def act(engine) -> int:
        from cockpit.core import rules

        if reasons := rules.preflight_refusals(engine.state):
            raise refusal(reasons)
        out = await engine.run_preflight(args.check)
        if not out.ok:
            raise refusal(out.reasons)
        h._print_records(engine, out.records)
        failed = [r.payload.check for r in out.records if r.payload.status != "pass"]
        _before_start(engine)
        if failed:
            h.report.outcome = "checks failed"
            h.report.problems += [f"check {c} did not pass" for c in failed]
            return Exit.FAIL
        return Exit.OK

    return _captain(args, act, needs="checks")


def cmd_sign_off(args) -> int:
    async def act(engine) -> int:
        code = _journaled(engine, engine.sign_off(args.role, args.name, args.note))
        _before_start(engine)
        return code

    return _captain(args, act)


def cmd_waive(args) -> int:
    async def act(engine) -> int:
        code = _journaled(engine, engine.waive(args.check, args.reason))
        _before_start(engine)
        return code

    return _captain(args, act)


# -- gates, notes, approvals ---------------------------------------------------------------------


def phase_index(plan, text: str) -> int:
    """"2" or "Phase 2" -> 1; anything else is refused, naming the phases."""
    names = [p.name.casefold() for p in plan.phases]
    if text.isdigit() and 1 <= int(text) <= len(plan.phases):
        return int(text) - 1
    if text.strip().casefold() in names:
        return names.index(text.strip().casefold())
    listed = ", ".join(f"{i + 1} ({p.name})" for i, p in enumerate(plan.phases))
    raise Refused(f"refused: no phase {text!r}: give its number or name: {listed}")


def cmd_decide(args) -> int:
    async def act(engine) -> int:
        from cockpit.core import rules

        if reasons := rules.decide_refusals(engine.state, phase_index(engine.plan, args.phase), args.role):
            raise refusal(reasons)
        return _journaled(engine, engine.decide(args.role, args.decision.upper(), args.name, args.note))

    return _captain(args, act)


def cmd_note(args) -> int:
    async def act(engine) -> int:
        return _journaled(engine, engine.note(args.text))

    return _captain(args, act)


def chatops_mismatches(plan, line: str) -> list[str]:
    """The line against the plan, field by field, as the screen's palette checks it."""
    from cockpit.core import chatops

    return chatops.mismatches(
        line,
        version=plan.release.version,
        environment=plan.release.environment,
        region=plan.release.region,
        residency=plan.release.data_residency,
        steps=tuple(p.weight for p in plan.phases),
    )


def cmd_approve(args) -> int:
    async def act(engine) -> int:
        if problems := chatops_mismatches(engine.plan, args.line):
            raise Refused("refused: the ChatOps line does NOT match the plan", *(f"refused: {p}" for p in problems))
        name = engine.actor.user if args.name is None else args.name  # you: as the journal names you
        if not name.strip():
            raise refusal(["an approval needs the name of who sent it (--name)"])
        text = f"ChatOps approval from {name.strip()} checked against the plan: {args.line.strip()}"
        return _journaled(engine, engine.note(text))

    return _captain(args, act)


# -- the commands that move traffic --------------------------------------------------------------


def cmd_start(args) -> int:
    async def act(engine) -> int:
        from cockpit.core import rules

        plan = engine.plan
        if reasons := rules.start_refusals(engine.state, engine.clock.now()):
            raise refusal(reasons)
        first = plan.phases[0]
        h._confirm(plan, args.confirm, f"start {plan.release.name} {plan.release.version}: "
                                       f"{first.name}, the canary takes {first.weight} % of traffic")
        return await _moved(engine, args, await engine.start())

    return _captain(args, act, needs="gateway")


def cmd_advance(args) -> int:
    async def act(engine) -> int:
        from cockpit.core import rules

        plan, state = engine.plan, engine.state
        if reasons := rules.advance_refusals(state, engine.clock.now()):
            raise refusal(reasons)
        nxt = rules.next_phase(state)
        what = (f"complete {plan.release.name} {plan.release.version}: final validation passed, the canary is "
                "the release" if nxt is None else
                f"advance {plan.release.name} {plan.release.version} to {plan.phases[nxt].name}: "
                f"canary from {state.weight} % to {plan.phases[nxt].weight} %")
        h._confirm(plan, args.confirm, what)
        return await _moved(engine, args, await engine.advance())

    return _captain(args, act, needs="gateway")


async def _moved(engine, args, out) -> int:
    """A start or advance: said, verified at the gateway or not, and then kept guarded."""
    def verified() -> str:
        st = engine.state
        if st.status == "completed":
            return f"COMPLETED: {engine.plan.release.name} {engine.plan.release.version} is the release"
        if out.unjournaled:  # the fold has not seen the phase start: say what the gateway read
            return f"VERIFIED: the gateway reads canary {out.unjournaled[0].weight} %"
        phase = engine.plan.phases[st.phase]
        return f"VERIFIED: the gateway reads canary {st.weight} %; {phase.name} soaks for {_soak(phase.soak)}"

    return h.moved(engine, out, Path(args.config), verified)


def _soak(soak) -> str:
    from cockpit.core import words

    return words.duration(soak)
