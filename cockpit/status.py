"""`cockpit status`: the rollout as text or JSON, from the journal alone, its problems first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.core import words
from cockpit.core.readmodel import (
    RolloutState,
    advance_refusals,
    demo_marker,
    incident_rows,
    kill_line,
    outcome,
    phase_view,
    soak_left,
    step_now,
)
from cockpit.core.visible import visible
from cockpit.narrate import command, line


def _phase(state: RolloutState) -> dict[str, Any] | None:
    if state.phase is None or state.plan is None:
        return None
    spec = state.plan.phases[state.phase]
    return {"index": state.phase + 1, "name": spec.name, "weight": spec.weight}


def status_json(state: RolloutState, now: datetime, captain: dict | None) -> dict[str, Any]:
    plan = state.plan
    left = soak_left(state, now)
    gates = {}
    for i, spec in enumerate(plan.phases if plan else ()):
        gate = state.gates.get(i)
        gates[spec.name] = {
            "owners": list(spec.owners),
            "decisions": {r: {"decision": d.decision, "name": d.name, "at": d.at.isoformat()}
                          for r, d in (gate.decisions.items() if gate else ())},
            "criteria": {c: {"passed": s.passed, "detail": s.detail}
                         for c, s in (gate.criteria.items() if gate else ())},
        }
    return {
        "release": f"{plan.release} {plan.version}" if plan else None,
        "status": outcome(state),
        "phase": _phase(state),
        "where": phase_view(plan, state).text if plan else None,
        "demo": (demo_marker(state) or None) if plan else None,
        "weight": state.weight,
        "soak_remaining_s": None if left is None else int(left.total_seconds()),
        "advance_refusals": advance_refusals(state, now),
        "checks": {k: {"status": c.status, "waived": c.waived, "detail": c.detail} for k, c in state.checks.items()},
        "sign_offs": {r: {"name": s.name, "at": s.at.isoformat()} for r, s in state.sign_offs.items()},
        "gates": gates,
        "kill": None
        if state.kill is None
        else {
            "reason": state.kill.reason,
            "confirmed": state.kill.result.confirmed if state.kill.result else None,
            "traffic_fell": None if state.kill.verified is None else state.kill.verified.ok,
            "traffic_detail": state.kill.verified.detail if state.kill.verified else None,
            "line": _kill_text(plan, state),
        },
        "incidents": [_incident(i) for i in state.incidents.values() if i.open],
        "incident_lines": [row.text for row in incident_rows(state)],  # open and past, as every face says them
        "gateway_drift": state.gateway_drift or None,
        "judgment": _judgment(state),
        "captain": captain,
        "events": state.seq,
        "last_events": [line(r, plan) for r in list(state.recent)[-10:]],
    }


def _kill_text(plan, state: RolloutState) -> str:
    """The read model's kill line, whole: head, who pulled it and why, the gateway's answer, the traffic."""
    k = kill_line(plan, state)
    assert k is not None  # status_json asks only when state.kill is set
    return " · ".join(part for part in (k.head, k.why, k.detail, k.traffic) if part)


def _next(plan, state: RolloutState, now: datetime) -> dict[str, Any] | None:
    """The read model's next step (core.readmodel.step_now), with the command that takes it."""
    step = step_now(plan, state, now)
    return None if step is None else {"action": step.action, "text": step.text, "command": command(step)}


def _judgment(state: RolloutState) -> dict[str, Any] | None:
    """The judge's latest judgment of the phase soaking (or of the last phase judged): issue 23."""
    from cockpit.core.judgeview import judgment_views

    views = judgment_views(state.plan, state) if state.plan else {}
    view = views.get(state.phase) if state.phase in views else (views[max(views)] if views else None)
    if view is None:
        return None
    judged = state.gates[view.phase].judged
    assert judged is not None  # judgment_view gives a view only of a phase the judge judged
    made = judged.judgment
    return {"phase": view.phase_name, "verdict": view.verdict, "score": made.score, "reason": made.reason,
            "at": view.at.isoformat(), "owners_decide": view.marginal_waits, "line": view.line,
            "metrics": [{"name": m.name, "classification": m.classification, "estimate": m.estimate, "lower": m.lower,
                         "upper": m.upper, "band": m.band, "effect": m.effect, "canary_samples": m.canary_samples,
                         "baseline_samples": m.baseline_samples, "reason": m.reason} for m in made.metrics]}


def _incident(i) -> dict[str, Any]:
    return {"id": i.id, "level": i.level, "reason": i.reason, "opened_at": i.opened_at.isoformat(),
            "acknowledged_by": i.acked_by or None}


def headline_json(plan, state: RolloutState, live, now: datetime, sight=None,
                  journal_broken: str = "") -> dict[str, Any]:
    """The screen's headline (the read model's, so status and the screen never disagree) and the
    health of each source as the guard's last round saw it. `sight`: what `status` saw of the guard."""
    from cockpit.core.readmodel import PASS, breach_ages, gate_view, headline, trigger_rows

    rows = trigger_rows(plan, state, live, now)
    # the gate's criteria as the screen marks them: one met at the soak's end beside its own trigger breaching is ▲
    criteria = [{"id": c.id, "name": c.name, "met": c.met, "holds_now": c.met is True and c.mark == PASS,
                 "mark": c.mark, "text": c.text}
                for c in gate_view(plan, state, live, rows).criteria if c.met is not None]
    head = headline(plan, state, live, now, rows, sight=sight, journal_broken=journal_broken)
    health = {k: {"ok": h.ok, "detail": h.detail, "since": h.since.isoformat() if h.since else None}
              for k, h in (live.health.items() if live is not None else ()) if h.ok is not None}
    # a breach's age as its gauge and the headline say it, not since its journal record
    advance = advance_refusals(state, now, breach_ages(rows))
    return {"headline": head.text, "sources": health, "next_step": _next(plan, state, now), "advance_refusals": advance,
            "criteria": criteria}


def guard_json(plan, state: RolloutState, live, sight, holder: dict | None) -> dict[str, Any]:
    """Who evaluates the triggers, as the read model judges it on what `status` saw itself (`sight`:
    the guard lock's holder by the kernel, guard.json's age by this clock): `state` is live,
    unguarded, stopped or none; `holder` the lock's holder (null: nobody, so never guarded)."""
    from cockpit.core.readmodel import guard_health

    g = guard_health(plan, state, live, sight)
    return {
        "state": g.state,
        "holder": _holder(holder),
        "last_round_s": None if g.age_s is None else round(g.age_s, 1),
        "guarded": g.guarded,
        "unguarded": g.state == "unguarded",
        "why": g.why or None,
        "stopped_at": g.stopped_at.isoformat() if g.stopped_at else None,
        "text": g.text,
    }


def _holder(holder: dict | None) -> str | None:
    """`4242@bastion`; a lock (an etcd key put by hand) naming no pid and host says that, not `None@None`."""
    if not holder:
        return None
    pid, host = holder.get("pid"), holder.get("host")
    if isinstance(pid, int) and isinstance(host, str) and host:
        return visible(f"{pid}@{host}")
    return "a holder that names no pid and host"


def guard_line(doc: dict[str, Any]) -> str:
    g = doc["guard"]
    if g["state"] == "unguarded":
        return f"guard    UNGUARDED: {g['why']}; nothing evaluates the triggers (start `cockpit guard`)"
    if g["state"] == "live":
        return f"guard    {g['holder']}, last round {words.duration(g['last_round_s'])} ago"
    if g["state"] == "stopped":
        return f"guard    {g['text'].removeprefix('guard ')}"
    return "guard    none" + (f" (the guard lock is held by {g['holder']}: {g['why']})" if g["holder"] else "")


def status_lines(state: RolloutState, now: datetime, captain: dict | None, guard: dict | None = None,
                 seen: dict | None = None) -> list[str]:
    """`seen`: headline_json's document (the headline and the sources' health), when the plan parses.
    Every line with its control and bidi characters shown (a note cannot paint a status line)."""
    plan = state.plan
    doc = status_json(state, now, captain)
    out = [
        f"{doc['release']}  {plan.environment}/{plan.region}" + (f"  {doc['demo']}" if doc["demo"] else "")
        if plan else "(no plan)",
        f"status   {doc['status']}   canary weight {state.weight} %",
    ]
    if seen is not None:  # the screen's headline says more than the status word
        out.insert(2, f"headline {seen['headline']}")
        down = [f"{k} DOWN since {words.clock(datetime.fromisoformat(h['since']) if h['since'] else None)}: "
                f"{h['detail']}"
                for k, h in seen["sources"].items() if h["ok"] is False]
        if seen["sources"]:
            out.append("sources  " + ("; ".join(down) if down else ", ".join(f"{k} ok" for k in seen["sources"])))
    if guard is not None:
        out.append(guard_line({"guard": guard}))
    if captain:
        out.append(f"captain  {captain.get('user')}@{captain.get('host')} "
                   f"(pid {captain.get('pid')}, since {captain.get('since')})")
    if doc["phase"]:  # where it stands and the canary's confirmed share: `Phase 2 (2/4) rolled back · canary 0 %`
        left = doc["soak_remaining_s"]
        soak = f", soak {words.duration(left)} left" if left is not None else ""
        out.append(f"phase    {doc['where']}{soak}")
    out.append("checks   " + ", ".join(f"{k} {('WAIVED' if c['waived'] else c['status'].upper())}"
                                       for k, c in doc["checks"].items()))
    if plan:
        signed = [f"{plan.roles.get(r, r)} ({doc['sign_offs'][r]['name']})"
                  for r in plan.sign_offs if r in doc["sign_offs"]]
        missing = [plan.roles.get(r, r) for r in plan.sign_offs if r not in doc["sign_offs"]]
        out.append(f"sign-off {len(signed)}/{len(plan.sign_offs)}"
                   + (f"  missing: {', '.join(missing)}" if missing else ""))
    for name, gate in doc["gates"].items():
        if gate["decisions"]:
            assert plan is not None  # status_json lists gates only from a plan's phases
            ds = ", ".join(f"{plan.roles.get(r, r)} {d['decision']} ({d['name']})"
                           for r, d in gate["decisions"].items())
            out.append(f"gate     {name}: {ds}")
    for c in seen["criteria"] if seen is not None else ():  # met at the soak's end, its own trigger breaching now
        if c["met"] and not c["holds_now"]:
            out.append(f"gate     {c['mark']} {c['name']}: {c['text']}")
    if doc["judgment"]:
        out.append(f"judge    {doc['judgment']['line'].removeprefix('Judge ')}")
    refused = seen["advance_refusals"] if seen is not None else doc["advance_refusals"]
    if refused:
        out.append("advance  refused: " + "; ".join(refused))
    for said in doc["incident_lines"]:
        out.append(f"incident {said}")
    if doc["kill"]:
        out.append(f"kill     {doc['kill']['line']}")
    if seen is not None and seen.get("next_step"):  # the read model's step, said as the command that takes it
        out.append(f"next     {seen['next_step']['text']}: {seen['next_step']['command']}")
    if state.status == "completed" and (post := _post_deployment(state, now)):  # issue 11
        out.append(post)
    out.append(f"journal  {doc['events']} events; latest:")
    out.extend(f"  {ln}" for ln in doc["last_events"])
    return [visible(ln) for ln in out]


def _post_deployment(state: RolloutState, now: datetime) -> str:
    from cockpit.core.postdeploy import rows

    items = rows(state, now)
    if not items:
        return ""
    done = sum(1 for r in items if r.state == "done")
    late = [r for r in items if r.state == "overdue"]
    said = f"post-dep {done}/{len(items)} done"
    if late:
        said += f"; {len(late)} OVERDUE: " + ", ".join(f"{r.id} (due {words.stamp(r.due_at)})" for r in late)
    return said


def kept_aside(state_dir: Path, store=None) -> list[str]:
    """Events a kill (or a trigger) could not journal, waiting in the side file (this host's)."""
    from cockpit.store import FileStore
    from cockpit.store.kept import ASIDE

    try:
        kept, unreadable = (store or FileStore(state_dir)).kept()
    except OSError as e:
        return [f"{ASIDE}: cannot be read: {e.strerror or e}"]
    if not kept and not unreadable:
        return []
    kinds = ", ".join(k.payload.KIND for k in kept) + (f" and {unreadable} unreadable lines" if unreadable else "")
    return [f"NOT JOURNALED YET: {len(kept)} events kept in {ASIDE} ({kinds}): shown here, and journaled by "
            "the next append"]


def journal_alarms(state_dir: Path, scan, *, most: int = 5, store=None) -> list[str]:
    """What is wrong with the journal, in the order an operator needs it, one line a problem (the
    first `most`; `cockpit verify` names them all); [] when nothing is. `store`: the plan's (default:
    the file store in `state_dir`)."""
    from cockpit.store import FileStore
    from cockpit.store.chain import TAIL

    alarms = []
    problems = list(scan.problems)
    tail = problems.pop() if problems and problems[-1].reason in TAIL else None
    for n, problem in enumerate(problems[:most]):
        said = f"{problem.reason.upper()}: {problem}"
        if n == 0:
            said += (f": status shows the {len(scan.salvaged)} events that still read "
                     f"({len(scan.records)} intact before it) (run `cockpit verify`)")
        alarms.append(said)
    if len(problems) > most:
        alarms.append(f"... and {len(problems) - most} more problems (run `cockpit verify`)")
    if tail and tail.reason == "garbage":
        fate = getattr(store, "garbage_fate", "the next append moves them aside")
        alarms.append(f"GARBAGE TAIL: {tail} (another writer's lines; {fate})")
    elif tail and not (store or FileStore(state_dir)).writer_busy():  # torn, and not a write in flight
        alarms.append(f"TORN TAIL: {tail} (a writer died mid-append; the next append moves it aside)")
    if scan.head:
        alarms.append(f"{scan.head.reason.upper()}: {scan.head.detail} (line {scan.head.line}; run `cockpit verify`)")
    return alarms + kept_aside(state_dir, store)
