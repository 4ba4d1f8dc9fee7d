"""A rehearsal in words (the text output) and as one reproducibility document (plan digest, span,
endpoint, samples' hash, results)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cockpit import __version__
from cockpit.core import words
from cockpit.rehearsal import Rehearsal, phase_of
from cockpit.rehearsal_judging import SoakJudged

DOCUMENT_VERSION = 1


def _t(ts: float | None) -> str:
    return words.stamp(None if ts is None else datetime.fromtimestamp(ts, UTC))


def _c(ts: float | None) -> str:
    return words.clock(None if ts is None else datetime.fromtimestamp(ts, UTC))


def document(r: Rehearsal, *, plan_digest: str, plan_path: str, endpoint: str) -> dict[str, Any]:
    """Everything two people need to compare rehearsals: inputs, the data's hash, the results."""
    spans: dict[str, Any] = {}
    if r.at is not None:
        spans["rollout"] = {"from": r.at, "to": r.phases[-1].end if r.phases else r.at,
                            "from_utc": _t(r.at), "laid_from": "journal" if r.from_journal else "--at"}
    if r.quiet is not None:
        spans["quiet"] = {"from": r.quiet[0], "to": r.quiet[1], "from_utc": _t(r.quiet[0]), "to_utc": _t(r.quiet[1])}
    return {
        "rehearsal": DOCUMENT_VERSION,
        "cockpit": __version__,
        "plan": plan_path,
        "plan_digest": plan_digest,
        "prometheus": endpoint,
        "spans": spans,
        "poll_s": r.timing.poll_s,
        "step_s": r.timing.step_s,
        "samples_sha256": r.samples_digest(),
        "histories": {q: {"points": len(h.samples), "expected": h.expected, "chunks": h.chunks,
                          "retried": h.retried, "sha256": h.digest()} for q, h in sorted(r.histories.items())},
        "results": r.results_json(),
    }


def _judged(j: SoakJudged, r: Rehearsal) -> list[str]:
    """A soak's judgment: the verdict its gate reads, each metric's class and why; the rollback."""
    out = []
    if j.rolled_back_at is not None:
        out.append(f"  judge: ROLLED BACK at {_c(j.rolled_back_at)} ({words.duration(j.rolled_back_at - (r.at or 0))} "
                   f"in), {words.plural(j.fails, 'Fail judgment')} of {j.judgments} in the soak")
    m = j.made
    if m is None:
        return out + ([] if j.rolled_back_at is not None else [f"  judge: not judged at the soak's end: {j.why}"])
    held = {"Fail": ": the rollout would have held here" if j.gated else "",
            "Marginal": ": waits for the owners' GO" if j.gated else ""}.get(m.verdict, "")
    gate = f"gate {', '.join(m.criteria)}" if m.criteria else "judge"
    out.append(f"  {gate}: judged {m.verdict.upper() if m.verdict == 'Fail' else m.verdict}, score "
               f"{words.value(m.score)} at the soak's end{held}: {m.reason}")
    if j.judgments:
        out.append(f"    {words.plural(j.judgments, 'judgment')} in the soak, {j.fails} Fail")
    for x in m.metrics:
        out.append(f"    {x.name}: {x.classification} ({x.canary_samples} canary, {x.baseline_samples} baseline "
                   f"samples): {x.reason}")
    return out


def lines(r: Rehearsal, names: Mapping[str, str]) -> list[str]:
    """The text output: per phase, when each trigger breached and fired and what each gate read;
    the kill; the quiet span's counts; the sweep's table."""
    out: list[str] = []
    if r.at is not None:
        laid = "its journal's phase starts" if r.from_journal else "the plan's soaks back to back"
        out.append(f"rollout rehearsed from {_t(r.at)} ({laid}), a round every {words.duration(r.timing.poll_s)}, "
                   f"step {words.duration(r.timing.step_s)}")
        for p in r.phases:
            out.append(f"phase {p.index + 1} {p.name}: {_c(p.start)} to {_c(p.end)}")
            for tid, run in r.triggers.items():
                if run.acted_at is not None and phase_of(r.phases, run.acted_at) == p:
                    late = r.killed_at is not None and run.acted_at > r.killed_at
                    after = " (after the kill: not watched by then)" if late else ""
                    took = (run.fired_at or run.acted_at) - r.at
                    out.append(f"  {tid}: breached {_c(run.breached_at)}, FIRED {_c(run.fired_at)} "
                               f"({words.duration(took)} in), {run.action}{after}: {run.why}")
            for c in r.criteria:
                if c.phase == p.index:
                    word = {True: "met", False: "NOT MET", None: "not enough data"}[c.met]
                    out.append(f"  gate {c.id}: {word} at the soak's end: {c.why}")
            for j in r.judged:
                if j.phase == p.index:
                    out.extend(_judged(j, r))
        never = [tid for tid, run in r.triggers.items() if run.acted_at is None]
        if never:
            out.append(f"never fired: {', '.join(never)}")
        if r.killed_at is not None:
            by = r.killed_by or "?"
            out.append(f"KILLED at {_t(r.killed_at)} by {by} ({names.get(by, by)}), "
                       f"in phase {(r.killed_in_phase or 0) + 1}")
        else:
            out.append("would not have been killed")
        if r.gate_failed is not None:
            out.append(f"the gate of phase {r.gate_failed + 1} would have failed: the rollout would have held there")
    if r.quiet is not None:
        hours = (r.quiet[1] - r.quiet[0]) / 3600
        out.append(f"quiet span {_t(r.quiet[0])} to {_t(r.quiet[1])}: {words.plural(r.quiet_rounds, 'round')}")
        for tid, run in r.quiet_triggers.items():
            first = f" (first {_t(run.fires[0])})" if run.fires else ""
            rate = f", {len(run.fires) / hours * 24:.2f} a day" if hours > 0 and run.fires else ""
            out.append(f"  {tid}: would have fired {words.plural(len(run.fires), 'time')}{rate}{first}")
        for q in r.quiet_criteria:
            out.append(f"  gate {q.id} (phase {q.phase + 1}): {len(q.failed)} of {words.plural(q.soaks, 'soak')} "
                       f"would have failed" + (f", {q.unknown} with too little data" if q.unknown else ""))
        for qj in r.quiet_judged:
            out.append(f"  judge (phase {qj.phase + 1}): of {words.plural(qj.soaks, 'soak')} judged, "
                       f"{len(qj.failed)} would have been Fail, {len(qj.marginal)} Marginal"
                       + (f", {qj.not_judged} not judged (too few samples)" if qj.not_judged else ""))
    if r.sweep is not None:
        tid, rows = r.sweep
        out.append(f"sweep of {tid}: limit, fires on the quiet span, detected after the start")
        for row in rows:
            fires = "-" if row.quiet_fires is None else str(row.quiet_fires)
            found = "never" if row.detected_at is None else (
                f"{_c(row.detected_at)} (+{words.duration(row.detected_at - r.at)})" if r.at is not None else "-")
            out.append(f"  {row.limit:>12g}  {fires:>6}  {found}")
    for why in r.not_rehearsed:
        out.append(f"not rehearsed: {why}")
    return out
