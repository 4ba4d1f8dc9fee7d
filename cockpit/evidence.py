"""The evidence bundle: per-phase, final and rollback files with a sha256 manifest the journal vouches for.

`collect` writes `evidence/<release>-<version>/phase-<n>/` (or `final/`, `rollback/`): the plan's
named files, each saying where its data came from and for what time range, an SVG (and PNG) of
the cockpit's own screen, and `manifest.json` (every file's sha256 and size, the journal's head
hash). A collector that fails writes a file that says why; nothing here raises into the rollout.
`journal_bundle` appends `EvidenceCollected` with the manifest's hash; `verify_bundle` names
changed, missing and added files. Every text written is scrubbed of secrets first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit import redact
from cockpit.adapters import collectors
from cockpit.adapters.collectors import CollectorError
from cockpit.config import Plan
from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.compare import Comparison
from cockpit.core.state import fold
from cockpit.narrate import line

MANIFEST = "manifest.json"
SCREEN = "cockpit_screen"  # .svg and .png of the cockpit's own screen at collection time
KINDS = ("phase", "final", "rollback")


class EvidenceError(Exception):
    """A bundle that cannot be written at all (its directory), or a path that leaves the evidence dir."""


@dataclass
class Bundle:
    dir: Path
    name: str  # "phase-1", "final", "rollback"
    phase: int | None  # index of the phase (0-based) for phase and rollback bundles
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {sha256, size}
    missing: dict[str, str] = field(default_factory=dict)  # name -> why its data is not there
    manifest_sha256: str = ""
    journal_head: str = ""

    @property
    def complete(self) -> bool:
        return not self.missing


# --- where bundles live ------------------------------------------------------------------------


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "release"


def evidence_root(plan: Plan, base_dir: Path) -> Path:
    d = plan.evidence.dir
    return d if d.is_absolute() else Path(base_dir) / d


def release_dir(plan: Plan, base_dir: Path) -> Path:
    return evidence_root(plan, base_dir) / f"{_slug(plan.release.name)}-{_slug(plan.release.version)}"


def inside(root: Path, name: str) -> Path:
    """root/name, refusing a name that is absolute, has a directory part or `..`, or leaves root."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or Path(name).is_absolute():
        raise EvidenceError(f"{name!r} is not a plain file name inside {root}")
    path = Path(root) / name
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise EvidenceError(f"{name!r} leaves {root}")
    return path


def file_names(plan: Plan, which: str, phase: int | None) -> list[str]:
    """The plan's named files for a bundle; `{phase}` is the phase number (1-based)."""
    per_phase = [n.replace("{phase}", str((phase or 0) + 1)) for n in plan.evidence.per_phase]
    if which == "phase":
        return per_phase
    if which == "final":
        return list(plan.evidence.final)
    return per_phase + list(plan.evidence.final)  # rollback: the failed phase's files and the account so far


# --- time ranges from the journal --------------------------------------------------------------


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def phase_range(records: list[ev.Record], phase: int, now: datetime) -> tuple[datetime, datetime]:
    """From the phase's (last) start to the next phase, the completion, the confirmed kill, or now."""
    start = None
    for r in records:
        if isinstance(r.payload, ev.PhaseStarted) and r.payload.phase == phase:
            start = r.ts
    if start is None:
        raise EvidenceError(f"phase {phase + 1} has not started in this journal")
    for r in records:
        if r.ts < start:
            continue
        p = r.payload
        if (isinstance(p, ev.PhaseStarted) and p.phase != phase) or isinstance(p, ev.RolloutCompleted) or (
            isinstance(p, ev.KillResult) and p.confirmed
        ):
            return start, r.ts
    return start, now


def rollout_range(records: list[ev.Record], now: datetime) -> tuple[datetime, datetime]:
    start = next((r.ts for r in records if isinstance(r.payload, ev.RolloutStarted)), None)
    if start is None:
        raise EvidenceError("the rollout has not started in this journal")
    end = now
    for r in records:
        if isinstance(r.payload, ev.RolloutCompleted) or (isinstance(r.payload, ev.KillResult) and r.payload.confirmed):
            end = r.ts
    return start, end


# --- the files ---------------------------------------------------------------------------------


@dataclass
class Context:
    plan: Plan
    records: list[ev.Record]
    base_dir: Path
    state_dir: Path | None
    now: datetime
    phase: int | None
    phase_from: datetime
    phase_to: datetime
    rollout_from: datetime
    rollout_to: datetime
    metrics: Any = None
    step_s: float = 30.0

    def doc(self, name: str, source: str, span: tuple[datetime, datetime], data: Any = None,
            error: str = "") -> dict[str, Any]:
        out = {
            "file": name,
            "release": self.plan.release.name,
            "version": self.plan.release.version,
            "phase": None if self.phase is None else self.phase + 1,
            "source": source,
            "time_range": {"from": _iso(span[0]), "to": _iso(span[1])},
            "collected_at": _iso(self.now),
            "ok": not error,
        }
        if error:
            out["error"] = error
        if data is not None:
            out["data"] = data
        return out

    @property
    def phase_span(self) -> tuple[datetime, datetime]:
        return self.phase_from, self.phase_to

    @property
    def rollout_span(self) -> tuple[datetime, datetime]:
        return self.rollout_from, self.rollout_to


def _k6(ctx: Context, name: str) -> tuple[Any, str]:
    cfg = ctx.plan.evidence.k6_summary
    if cfg is None:
        why = "k6 summary not provided: evidence.k6_summary names where `k6 run --summary-export` writes"
        return ctx.doc(name, "k6 (not provided)", ctx.phase_span, error=why), "k6 summary not provided"
    rel = Path(str(cfg).replace("{phase}", str((ctx.phase or 0) + 1)))
    path = rel if rel.is_absolute() else ctx.base_dir / rel
    try:
        summary = collectors.k6_summary(path)
    except CollectorError as e:
        return ctx.doc(name, f"k6 summary export {path}", ctx.phase_span, error=str(e)), str(e)
    data = {"highlights": collectors.k6_highlights(summary), "summary": summary}
    return ctx.doc(name, f"k6 summary export {path}", ctx.phase_span, data), ""


def _grafana(ctx: Context, name: str) -> tuple[Any, str]:
    cfg = ctx.plan.evidence.grafana
    if cfg is None:
        return None, "Grafana is not configured (evidence.grafana); the cockpit's own screen is cockpit_screen.svg"
    try:
        png, where = collectors.grafana_png(cfg, ctx.phase_from, ctx.phase_to)
    except CollectorError as e:
        return None, str(e)
    return png, ""


def _jaeger(ctx: Context, name: str) -> tuple[Any, str]:
    cfg = ctx.plan.evidence.jaeger
    if cfg is None:
        return ctx.doc(name, "Jaeger (not configured)", ctx.phase_span,
                       error="Jaeger is not configured (evidence.jaeger)"), "Jaeger is not configured"
    try:
        traces, where = collectors.jaeger_traces(cfg, ctx.phase_from, ctx.phase_to)
    except CollectorError as e:
        return ctx.doc(name, f"Jaeger query API {redact.public_url(cfg.url)}", ctx.phase_span, error=str(e)), str(e)
    data = {**collectors.trace_summary(traces), "raw": traces}
    return ctx.doc(name, f"Jaeger query API {where}", ctx.phase_span, data), ""


def _opa_data(ctx: Context, span: tuple[datetime, datetime]) -> tuple[str, Any, str]:
    cfg = ctx.plan.evidence.opa
    if cfg is None:
        return "OPA (not configured)", None, "OPA decision logs are not configured (evidence.opa)"
    if cfg.file is not None:
        source = f"OPA decision log {cfg.file}"
    else:
        assert cfg.url is not None  # the plan's check (OpaEvidence): exactly one of file or url
        source = f"OPA {redact.public_url(cfg.url)}"
    try:
        decisions, where = collectors.opa_decisions(cfg, span[0], span[1], ctx.base_dir)
    except CollectorError as e:
        return source, None, str(e)
    denied = [d.get("decision_id") for d in decisions
              if isinstance(d.get("result"), dict) and d["result"].get("allow") is False
              or d.get("result") is False]
    return f"OPA {where}", {"count": len(decisions), "denied": denied, "decisions": decisions}, ""


def _opa(ctx: Context, name: str) -> tuple[Any, str]:
    source, data, error = _opa_data(ctx, ctx.phase_span)
    return ctx.doc(name, source, ctx.phase_span, data, error), error


def _between(ctx: Context, span: tuple[datetime, datetime], *types) -> list[ev.Record]:
    return [r for r in ctx.records if span[0] <= r.ts <= span[1] and isinstance(r.payload, types)]


def _cost(ctx: Context, name: str) -> tuple[Any, str]:
    b = ctx.plan.budget
    monthly = sum(c.monthly for c in b.categories)
    projected = sum(c.projected for c in b.categories)
    data: dict[str, Any] = {
        "currency": b.currency,
        "plan": {
            "monthly_budget": monthly,
            "projected": projected,
            "projected_pct": round(100 * projected / monthly, 1),
            "safety_margin": monthly - projected,
            "categories": [{"id": c.id, "name": c.name, "monthly": c.monthly, "projected": c.projected}
                           for c in b.categories],
        },
        "alerts": [{"at": _iso(r.ts), "at_pct": p.at_pct, "spent": p.spent, "channel": p.channel}
                   for r in _between(ctx, ctx.phase_span, ev.BudgetAlerted)
                   if isinstance(p := r.payload, ev.BudgetAlerted)],
    }
    source = "the plan's budget figures; budget alerts from the journal"
    live = _published(ctx)
    if live is not None and live.budget is not None:
        burn = live.budget
        data["observed"] = {"spent_month_to_date": burn.spent, "projected_month_end": burn.projected,
                            "month_fraction": burn.month_fraction,
                            "round_at": _iso(live.at) if hasattr(live, "at") else None}
        data["delta_vs_projection"] = round(burn.projected - projected, 2)
        data["delta_vs_projection_pct"] = (round(100 * (burn.projected - projected) / projected, 2)
                                           if projected else None)
        source += "; spend from the guard's last published round (guard.json)"
    return ctx.doc(name, source, ctx.phase_span, data), ""


def _published(ctx: Context):
    if ctx.state_dir is None:
        return None
    from cockpit.session import open_store

    return open_store(ctx.plan, state_dir=ctx.state_dir).published()


def _criteria(ctx: Context, phases: list[int]) -> list:
    seen: dict[str, Any] = {}
    for i in phases:
        for c in ctx.plan.phases[i].gate.auto:
            if c.source != "judge":  # a judgment is no threshold: judgment.json holds it
                seen[c.id] = c
    return list(seen.values())


def _worst(cmp: Comparison, values: list[float]) -> float:
    return max(values) if cmp in (Comparison.LT, Comparison.LE) else min(values)


def _observe(ctx: Context, criterion, span: tuple[datetime, datetime]) -> dict[str, Any]:
    """A criterion over a span: from Prometheus (a range query) when there is a metrics source,
    else from the values the journal holds (criterion_evaluated)."""
    if ctx.metrics is not None:
        try:
            got = ctx.metrics.range(criterion.query, span[0], span[1], ctx.step_s)
        except Exception as e:  # noqa: BLE001 - a metrics source that raises is a failed collector
            got = None
            err = f"{type(e).__name__}: {e}"
        if got is not None and got.status == "ok" and got.samples:
            vals = [s.value for s in got.samples]
            return {"source": "prometheus range query", "samples": len(vals), "min": min(vals), "max": max(vals),
                    "avg": sum(vals) / len(vals), "last": vals[-1], "worst": _worst(criterion.comparison, vals)}
        err = (got.error or got.status) if got is not None else err
        fallback = "prometheus: " + redact.scrub(str(err), 200)
    else:
        fallback = "no metrics source"
    vals = [p.value for r in _between(ctx, span, ev.CriterionEvaluated)
            if isinstance(p := r.payload, ev.CriterionEvaluated)
            and p.criterion == criterion.id and p.value is not None]
    if not vals:
        return {"source": f"journal (criterion_evaluated); {fallback}", "samples": 0, "error": "no value observed"}
    return {"source": f"journal (criterion_evaluated, journaled on changes); {fallback}", "samples": len(vals),
            "min": min(vals), "max": max(vals), "last": vals[-1], "worst": _worst(criterion.comparison, vals)}


def _last_phase(ctx: Context) -> int:
    started = [r.payload.phase for r in ctx.records if isinstance(r.payload, ev.PhaseStarted)]
    return started[-1] if started else 0


def _baseline(ctx: Context, name: str) -> tuple[Any, str]:
    last = _last_phase(ctx)
    span = phase_range(ctx.records, last, ctx.now)
    rows = []
    for c in _criteria(ctx, [last]):
        rows.append({"id": c.id, "name": c.name, "query": c.query, "unit": c.unit, **_observe(ctx, c, span)})
    missing = [r["id"] for r in rows if "worst" not in r]
    source = "prometheus" if ctx.metrics is not None else "journal (no metrics source)"
    error = f"no value for {', '.join(missing)}" if missing else ""
    return ctx.doc(name, f"the gate criteria of the final soak (phase {last + 1}) from {source}", span,
                   {"criteria": rows}, error), error


def _slo(ctx: Context, name: str) -> tuple[Any, str]:
    rows = []
    for c in _criteria(ctx, list(range(len(ctx.plan.phases)))):
        seen = _observe(ctx, c, ctx.rollout_span)
        worst = seen.get("worst")
        rows.append({"slo": c.name, "id": c.id, "target": words.limit(c.comparison, c.threshold, c.unit),
                     "threshold": c.threshold, "comparison": c.comparison.value, "observed_worst": worst,
                     "met": None if worst is None else c.comparison.holds(worst, c.threshold), "observed": seen})
    unknown = [r["id"] for r in rows if r["met"] is None]
    error = f"not observed: {', '.join(unknown)}" if unknown else ""
    data = {"slos": rows, "all_met": bool(rows) and all(r["met"] for r in rows)}
    return ctx.doc(name, "the plan's SLOs (gate criteria) over the rollout", ctx.rollout_span, data, error), error


def progression(plan_doc: ev.PlanLoaded | None, records: list[ev.Record]) -> dict[str, Any]:
    """The rollout from the journal: phases, weights, times, decisions, criteria, triggers, kill."""
    phases: list[dict[str, Any]] = []
    out: dict[str, Any] = {"started_at": None, "completed_at": None, "phases": phases, "shifts": [], "triggers": [],
                           "kill": None, "sign_offs": [], "checks": {}, "escalations": [], "timeline": []}
    current: dict[str, Any] | None = None
    for r in records:
        p = r.payload
        out["timeline"].append(line(r, plan_doc))
        if isinstance(p, ev.RolloutStarted):
            out["started_at"] = _iso(r.ts)
        elif isinstance(p, ev.RolloutCompleted):
            out["completed_at"] = _iso(r.ts)
            if current is not None:
                current["ended_at"] = _iso(r.ts)
        elif isinstance(p, ev.PhaseStarted):
            if current is not None:
                current["ended_at"] = _iso(r.ts)
            spec = plan_doc.phases[p.phase] if plan_doc else None
            current = {"phase": p.phase + 1, "name": spec.name if spec else "", "weight": p.weight,
                       "started_at": _iso(r.ts),
                       "ended_at": None, "decisions": [], "criteria": []}
            phases.append(current)
        elif isinstance(p, ev.GateDecided):
            target = next((ph for ph in reversed(phases) if ph["phase"] == p.phase + 1), current)
            if target is not None:
                target["decisions"].append({"role": p.role, "decision": p.decision, "name": p.name, "note": p.note,
                                            "at": _iso(r.ts)})
        elif isinstance(p, ev.CriterionEvaluated) and current is not None:
            current["criteria"].append({"criterion": p.criterion, "passed": p.passed, "value": p.value,
                                        "at": _iso(r.ts)})
        elif isinstance(p, (ev.TrafficShiftResult,)):
            out["shifts"].append({"at": _iso(r.ts), "weight": p.weight, "verified": p.verified,
                                  "observed": p.observed_weight})
        elif isinstance(p, (ev.TriggerBreached, ev.TriggerCleared, ev.TriggerFired)):
            out["triggers"].append({"at": _iso(r.ts), "kind": r.kind, "trigger": p.trigger,
                                    "value": getattr(p, "value", None), "threshold": getattr(p, "threshold", None)})
        elif isinstance(p, ev.KillRequested):
            out["kill"] = {"requested_at": _iso(r.ts), "reason": p.reason, "trigger": p.trigger, "by": str(r.actor)}
        elif isinstance(p, ev.KillResult) and out["kill"] is not None:
            out["kill"].update({"confirmed": p.confirmed, "result_at": _iso(r.ts),
                                "observed_weight": p.observed_weight, "error": p.error})
        elif isinstance(p, ev.RollbackVerified) and out["kill"] is not None:
            out["kill"].update({"traffic_verified": p.ok, "traffic_detail": p.detail})
        elif isinstance(p, ev.SignedOff):
            out["sign_offs"].append({"role": p.role, "name": p.name, "at": _iso(r.ts)})
        elif isinstance(p, ev.CheckRan):
            out["checks"][p.check] = {"status": p.status, "detail": p.detail, "at": _iso(r.ts)}
        elif isinstance(p, ev.Escalated):
            out["escalations"].append({"at": _iso(r.ts), "level": p.level, "reason": p.reason})
    return out


def _progression(ctx: Context, name: str) -> tuple[Any, str]:
    plan_doc = fold(ctx.records).plan
    return ctx.doc(name, "the journal (journal.jsonl)", ctx.rollout_span, progression(plan_doc, ctx.records)), ""


def _security(ctx: Context, name: str) -> tuple[Any, str]:
    security_levels = {lvl.level for lvl in ctx.plan.escalation if "secur" in (lvl.name + lvl.scope).lower()}
    triggers = []
    for t in ctx.plan.triggers:
        if not (t.level in security_levels or t.check is not None or t.for_.total_seconds() == 0):
            continue
        events = [(r, p) for r in _between(ctx, ctx.rollout_span, ev.TriggerBreached, ev.TriggerFired)
                  if isinstance(p := r.payload, ev.TriggerBreached | ev.TriggerFired) and p.trigger == t.id]
        triggers.append({"id": t.id, "name": t.name, "level": t.level, "breached": len(events) > 0,
                         "events": [{"at": _iso(r.ts), "kind": r.kind, "detail": p.detail} for r, p in events]})
    checks = {}
    for r in ctx.records:
        if isinstance(r.payload, ev.CheckRan):
            checks[r.payload.check] = {"status": r.payload.status, "detail": r.payload.detail, "at": _iso(r.ts),
                                       "evidence": r.payload.evidence}
        elif isinstance(r.payload, ev.CheckWaived):
            checks.setdefault(r.payload.check, {})["waived"] = r.payload.reason
    opa_source, opa, opa_error = _opa_data(ctx, ctx.rollout_span)
    data = {
        "security_triggers": triggers,
        "violations": [t["id"] for t in triggers if t["breached"]],
        "preflight_checks": checks,  # image provenance, CVE status and the rest, as journaled
        "opa": opa if opa is not None else {"error": opa_error},
        "compliant": not any(t["breached"] for t in triggers)
        and all(c.get("status") == "pass" or c.get("waived") for c in checks.values()),
    }
    source = f"the journal (security triggers, preflight checks); {opa_source}"
    return ctx.doc(name, source, ctx.rollout_span, data, ""), (f"OPA: {opa_error}" if opa_error else "")


JUDGMENT = "judgment.json"


def _judgment(ctx: Context, name: str) -> tuple[Any, str]:
    """The phase's judgments from the journal: the latest whole (every metric's class, shift,
    interval, band, effect, samples and why), and each one's time, verdict and score."""
    import msgspec

    made = [r for r in _between(ctx, ctx.phase_span, ev.JudgmentMade)
            if isinstance(r.payload, ev.JudgmentMade) and r.payload.phase == ctx.phase]
    if not made:
        why = "the judge made no judgment in this phase (a soak shorter than its first interval?)"
        return ctx.doc(name, "the journal (judgment_made)", ctx.phase_span, error=why), why
    latest = made[-1]
    data = {"latest": {"at": _iso(latest.ts), **msgspec.to_builtins(latest.payload)},
            "judgments": [{"at": _iso(r.ts), "verdict": p.verdict, "score": p.score}
                          for r in made if isinstance(p := r.payload, ev.JudgmentMade)]}
    return ctx.doc(name, "the journal (judgment_made)", ctx.phase_span, data), ""


def _unknown(ctx: Context, name: str) -> tuple[Any, str]:
    why = f"no collector makes {name!r} (known: k6, grafana, jaeger, opa, cost, baseline, progression, security, slo)"
    return ctx.doc(name, "none", ctx.phase_span, error=why), why


COLLECTORS: list[tuple[str, Callable[[Context, str], tuple[Any, str]]]] = [
    ("k6", _k6), ("grafana", _grafana), ("jaeger", _jaeger), ("opa", _opa), ("cost", _cost),
    ("baseline", _baseline), ("progression", _progression), ("security", _security), ("slo", _slo),
]


def collector_for(name: str) -> Callable[[Context, str], tuple[Any, str]]:
    low = name.lower()
    return next((fn for key, fn in COLLECTORS if key in low), _unknown)


# --- the cockpit's own screen -----------------------------------------------------------------


def capture_screen(plan: Plan, state_dir: Path, now: datetime, svg: Path, *, size=(120, 40),
                   timeout_s: float = 30.0) -> str:
    """The cockpit's screen as an observer sees it at `now`, saved as SVG by `python -m
    cockpit.screenshot` in a process of its own, within `timeout_s`: Textual never runs in the caller
    (the guard), whose stdout and stderr it would take over while it draws. The plan goes to it on
    stdin, as the journal carries it. Returns "" or why not."""
    from cockpit.config import dump_plan
    from cockpit.session import cockpit_env

    argv = [sys.executable, "-m", "cockpit.screenshot", str(Path(state_dir).resolve()), str(svg.resolve()),
            "--at", now.isoformat(), "--size", f"{size[0]}x{size[1]}"]
    try:
        done = subprocess.run(argv, input=json.dumps(dump_plan(plan)), capture_output=True, text=True,
                              timeout=timeout_s, env=cockpit_env())
    except subprocess.TimeoutExpired:
        return f"the screen did not render within {words.duration(timeout_s)}"
    except OSError as e:
        return f"cannot start {sys.executable}: {e.strerror or e}"
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        return said[-1][-300:] if said else f"the screen's process exited {done.returncode}"
    if not svg.is_file():
        return "the screen's process wrote no SVG"
    svg.write_text(redact.scrub(svg.read_text(), markup=True))  # scrubbed like any other text of the bundle
    return ""


def svg_to_png(svg: Path, png: Path) -> str:
    """PNG of an SVG with rsvg-convert, or why not."""
    exe = shutil.which("rsvg-convert")
    if exe is None:
        return "rsvg-convert is not installed (Debian librsvg2-bin)"
    try:
        proc = subprocess.run([exe, str(svg), "-o", str(png)], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "rsvg-convert did not finish within 60s"
    if proc.returncode != 0:
        return f"rsvg-convert exit {proc.returncode}: {proc.stderr.decode(errors='replace')[:200]}"
    return ""


# --- the bundle --------------------------------------------------------------------------------


def _sha(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(redact.scrub_tree(doc), indent=2, sort_keys=False, default=str) + "\n")


def collect(
    plan: Plan,
    records: list[ev.Record],
    *,
    base_dir: Path,
    which: str,
    now: datetime,
    phase: int | None = None,
    state_dir: Path | None = None,
    metrics=None,
    screen: bool | None = None,
) -> Bundle:
    """Write one bundle (`which` is "phase", "final" or "rollback"; `phase` a 0-based index, the
    current phase by default) and its manifest. Collector failures are files that say why."""
    if which not in KINDS:
        raise EvidenceError(f"no bundle kind {which!r} ({', '.join(KINDS)})")
    state = fold(records)
    phase = _bundle_phase(plan, state.phase, which, phase)
    r_from, r_to = rollout_range(records, now)
    if which == "final":
        p_from, p_to = r_from, r_to
    else:
        assert phase is not None  # a phase or rollback bundle without one raised above
        p_from, p_to = phase_range(records, phase, now)
    name = {"phase": f"phase-{(phase or 0) + 1}", "final": "final", "rollback": "rollback"}[which]
    root = release_dir(plan, base_dir)
    target = inside(root, name)
    ctx = Context(plan, records, Path(base_dir), state_dir, now, phase, p_from, p_to, r_from, r_to, metrics,
                  plan.prometheus.step.total_seconds() if plan.prometheus else 30.0)
    work = _workdir(root, name)
    bundle = Bundle(target, name, phase, journal_head=state.last_hash)
    _collect_files(ctx, work, bundle, file_names(plan, which, phase))
    if plan.judge is not None and which != "final":  # issue 23: the judge's judgments of the phase, with its numbers
        content, why = _judgment(ctx, JUDGMENT)
        _write_json(work / JUDGMENT, content)
        if why:
            bundle.missing[JUDGMENT] = why
    if screen if screen is not None else plan.evidence.screen:
        _draw_screen(plan, state_dir, now, work, bundle)
    _write_manifest(work, bundle, {
        "bundle": name,
        "release": plan.release.name,
        "version": plan.release.version,
        "phase": None if phase is None else phase + 1,
        "created_at": _iso(now),
        "time_range": {"from": _iso(p_from), "to": _iso(p_to)},
        "journal": {"head": state.last_hash, "seq": state.seq},
    })
    try:
        if target.exists():  # an earlier bundle of the same name is kept beside, never overwritten in place
            target.rename(inside(root, f"{name}.replaced-{now:%Y%m%dT%H%M%S}-{os.getpid()}"))
        work.rename(target)
    except OSError as e:
        raise EvidenceError(f"{target}: cannot write: {e.strerror}") from None
    return bundle


def _bundle_phase(plan: Plan, soaking: int | None, which: str, phase: int | None) -> int | None:
    """The phase a bundle is of: the one asked, else the phase soaking (a final bundle needs none)."""
    if phase is None and which != "final":
        phase = soaking
        if phase is None:
            raise EvidenceError("no phase has started in this journal")
    if phase is not None and not 0 <= phase < len(plan.phases):
        raise EvidenceError(f"no phase {phase + 1} in this plan (it has {len(plan.phases)})")
    return phase


def _workdir(root: Path, name: str) -> Path:
    """A fresh directory beside the bundle's, renamed into place once the bundle is whole."""
    work = inside(root, f".{name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
    except OSError as e:
        raise EvidenceError(f"{work}: cannot create: {e.strerror}") from None
    return work


def _collect_files(ctx: Context, work: Path, bundle: Bundle, names: Iterable[str]) -> None:
    """Each collector's file; one that has nothing (or fails) leaves a sidecar saying why."""
    for fname in names:
        path = inside(work, fname)
        try:
            content, why = collector_for(fname)(ctx, fname)
        except Exception as e:  # noqa: BLE001 - a collector's bug is one missing file, never a stopped rollout
            content, why = None, f"the collector failed: {type(e).__name__}: {e}"
        why = redact.scrub(why, 500)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            _write_json(path, content)
        else:  # nothing to put under this name: a sidecar says why, the manifest lists it missing
            _write_json(path.with_name(fname + ".missing.json"), ctx.doc(fname, "none", ctx.phase_span, error=why))
        if why:
            bundle.missing[fname] = why


def _draw_screen(plan: Plan, state_dir: Path | None, now: datetime, work: Path, bundle: Bundle) -> None:
    """The captain's screen as SVG (and PNG when rsvg-convert is here), or why not."""
    if state_dir is None:
        bundle.missing[f"{SCREEN}.svg"] = "no state dir to draw the screen from"
        return
    why = capture_screen(plan, state_dir, now, work / f"{SCREEN}.svg")
    if why:
        bundle.missing[f"{SCREEN}.svg"] = redact.scrub(why, 500)
    elif shutil.which("rsvg-convert"):
        if why := svg_to_png(work / f"{SCREEN}.svg", work / f"{SCREEN}.png"):
            bundle.missing[f"{SCREEN}.png"] = why


def _write_manifest(work: Path, bundle: Bundle, head: dict[str, Any]) -> None:
    """Every file's hash and size, what is missing and why, after `head`; the manifest's own hash on the bundle."""
    for path in sorted(work.iterdir()):
        sha, size = _sha(path)
        bundle.files[path.name] = {"sha256": sha, "size": size}
    _write_json(work / MANIFEST, {**head, "files": bundle.files, "missing": bundle.missing,
                                  "complete": bundle.complete})
    bundle.manifest_sha256 = _sha(work / MANIFEST)[0]


def journal_bundle(append: Callable[[ev.Payload], Any], bundle: Bundle, base_dir_root: Path) -> Any:
    """EvidenceCollected for the bundle: the manifest's hash, so the journal vouches for the bundle."""
    try:
        rel = str((bundle.dir / MANIFEST).relative_to(base_dir_root))
    except ValueError:
        rel = str(bundle.dir / MANIFEST)
    n = len(bundle.files)
    not_there = ", ".join(f"{name} ({why[:60]})" for name, why in sorted(bundle.missing.items()))
    detail = f"{n} files" + (f"; not collected: {not_there}" if bundle.missing else "; complete")
    return append(ev.EvidenceCollected(phase=None if bundle.name == "final" else bundle.phase, file=rel,
                                       sha256=bundle.manifest_sha256, ok=bundle.complete,
                                       detail=redact.scrub(detail, 500)))


# --- checking a bundle -------------------------------------------------------------------------


def manifest_files(bundle_dir: Path) -> dict[str, Any]:
    """The manifest's files (name -> {sha256, size}), or EvidenceError naming the manifest and
    what is wrong with it (unreadable, not JSON, nested too deeply, no files table)."""
    path = Path(bundle_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except OSError as e:
        raise EvidenceError(f"{path}: no readable manifest: {e.strerror}: give the bundle's directory") from None
    except RecursionError:  # json nests as deep as the file says; the parser's stack does not
        raise EvidenceError(f"{path}: not a manifest (nested too deeply): "
                            "the bundle was not written by the cockpit") from None
    except (ValueError, KeyError, TypeError) as e:
        raise EvidenceError(f"{path}: not a manifest ({type(e).__name__}): "
                            "the bundle was not written by the cockpit") from None
    if not isinstance(files, dict):
        raise EvidenceError(f"{path}: not a manifest (files is not a table): the bundle was not written by the cockpit")
    return files


def verify_bundle(bundle_dir: Path) -> list[str]:
    """Every difference between the bundle on disk and its manifest: changed, missing, added.
    A manifest or a file that cannot be read is a problem named here, never an exception."""
    bundle_dir = Path(bundle_dir)
    try:
        files = manifest_files(bundle_dir)
    except EvidenceError as e:
        return [str(e)]
    problems = []
    for name, want in sorted(files.items()):
        if not isinstance(want, dict):
            problems.append(f"manifest entry {name!r} is not a table of sha256 and size")
            continue
        try:
            path = inside(bundle_dir, name)
            if not path.is_file():
                problems.append(f"missing: {name}")
                continue
            sha, size = _sha(path)
        except EvidenceError as e:
            problems.append(f"manifest names a path outside the bundle: {e}")
            continue
        except (OSError, ValueError) as e:  # a name too long, a NUL in it, a file this user cannot read
            problems.append(f"cannot check {name!r}: {getattr(e, 'strerror', None) or e}")
            continue
        if (sha, size) != (want.get("sha256"), want.get("size")):
            problems.append(f"changed: {name} (sha256 {sha[:12]}, {size} bytes; "
                            f"manifest {str(want.get('sha256'))[:12]}, {want.get('size')} bytes)")
    try:
        extra = sorted(path.name for path in bundle_dir.iterdir() if path.name != MANIFEST and path.name not in files)
    except OSError as e:
        extra = []
        problems.append(f"{bundle_dir}: cannot list: {e.strerror}")
    problems += [f"added: {name}" for name in extra]
    return problems


def manifest_sha(bundle_dir: Path) -> str:
    return _sha(Path(bundle_dir) / MANIFEST)[0]


# --- the guard's hook: a bundle when a phase ends, on rollback and on completion ---------------


class EvidenceHook:
    """Follows the engine's records and collects in the background (a worker thread), then
    journals the manifest's hash. Scheduling is all it does inside the record's fold: the kill
    path is never waited on, and a failed collection is logged, never raised."""

    def __init__(self, engine, *, state_dir: Path, base_dir: Path, log=None):
        import logging

        self.engine = engine
        self.state_dir = Path(state_dir)
        self.base_dir = Path(base_dir)
        self.log = log or logging.getLogger("cockpit.evidence")
        self.tasks: set[asyncio.Task] = set()
        self.bundles: list[Bundle] = []
        self._phase = engine.state.phase
        engine.subscribe(self._on_record)

    def _on_record(self, record: ev.Record) -> None:
        p = record.payload
        if isinstance(p, ev.PhaseStarted):
            if self._phase is not None and self._phase != p.phase:
                self._schedule("phase", self._phase, record.seq)
            self._phase = p.phase
        elif isinstance(p, ev.RolloutCompleted):
            if self._phase is not None:
                self._schedule("phase", self._phase, record.seq)
            self._schedule("final", None, record.seq)
        elif isinstance(p, ev.KillResult) and p.confirmed and self.engine.state.status == "rolled_back":
            if not any(t.get_name() == "evidence-rollback" and not t.done() for t in self.tasks):
                self._schedule("rollback", self._phase, record.seq)

    def _schedule(self, which: str, phase: int | None, after_seq: int) -> None:
        if which == "rollback" and phase is None:
            return  # a kill before any phase started has no phase evidence to capture
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._collect(which, phase, after_seq), name=f"evidence-{which}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _collect(self, which: str, phase: int | None, after_seq: int = 0) -> Bundle | None:
        e = self.engine
        now = e.clock.now()
        records = list(e.journal.records)
        name = {"phase": f"phase-{(phase or 0) + 1}", "final": "final", "rollback": "rollback"}[which]
        if any(isinstance(r.payload, ev.EvidenceCollected) and r.seq > after_seq
               and r.payload.file.endswith(f"/{name}/manifest.json") for r in records):
            return None  # another guard (the one this one took over from) collected it already
        try:
            bundle = await asyncio.to_thread(
                collect, e.plan, records, base_dir=self.base_dir, which=which, now=now, phase=phase,
                state_dir=self.state_dir, metrics=e.metrics,
            )
        except Exception as err:  # noqa: BLE001 - evidence never stops the guard
            self.log.error("evidence %s%s not collected: %s", which, "" if phase is None else f" {phase + 1}", err)
            return None
        self.bundles.append(bundle)
        try:
            journal_bundle(e.record, bundle, evidence_root(e.plan, self.base_dir))  # held and journaled late if need be
        except Exception as err:  # noqa: BLE001
            self.log.error("evidence %s written to %s but not journaled: %s", which, bundle.dir, err)
        if which == "final":  # "evidence bundle complete" ticks itself once the journal vouches for it
            try:
                auto_tick(e.plan, list(e.journal.records), e._append, e.clock.now(), e.metrics)
            except Exception as err:  # noqa: BLE001
                self.log.error("post-deployment self-check failed: %s", err)
        self.log.info("evidence %s: %s (%d files%s)", bundle.name, bundle.dir, len(bundle.files),
                      f", missing {', '.join(sorted(bundle.missing))}" if bundle.missing else "")
        return bundle

    async def drain(self, timeout_s: float = 120.0) -> None:
        """Wait for collections under way (the guard does before it exits)."""
        while self.tasks:
            done, pending = await asyncio.wait(set(self.tasks), timeout=timeout_s)
            if pending:
                self.log.error("evidence still collecting after %gs: left behind", timeout_s)
                return


# --- post-deployment items the cockpit ticks itself -----------------------------------------


def slos_met_proof(plan: Plan, records: list[ev.Record], now: datetime, metrics, item_due_s: float) -> str:
    """When the window [completion, completion + due] has passed and every SLO (gate criterion)
    held over all of it (Prometheus range queries), the evidence in one line; else ""."""
    from datetime import timedelta

    state = fold(records)
    if state.completed_at is None or metrics is None:
        return ""
    end = state.completed_at + timedelta(seconds=item_due_s)
    if now < end:
        return ""
    ctx = Context(plan, records, Path("."), None, now, None, state.completed_at, end, state.completed_at, end, metrics,
                  plan.prometheus.step.total_seconds() if plan.prometheus else 30.0)
    said = []
    for c in _criteria(ctx, list(range(len(plan.phases)))):
        seen = _observe(ctx, c, (state.completed_at, end))
        if not seen.get("source", "").startswith("prometheus") or "worst" not in seen:
            return ""
        if not c.comparison.holds(seen["worst"], c.threshold):
            return ""
        said.append(f"{c.id} worst {words.value(seen['worst'], c.unit)} "
                    f"{words.limit(c.comparison, c.threshold, c.unit)}")
    return f"SLOs met {words.stamp(state.completed_at)}..{words.stamp(end)}: " + ", ".join(said) if said else ""


def auto_tick(plan: Plan, records: list[ev.Record], append: Callable[[ev.Payload], Any], now: datetime,
              metrics=None) -> list[ev.PostDeploymentDone]:
    """Journal the post-deployment items the cockpit can show done now, with what shows it."""
    from cockpit.core import postdeploy

    state = fold(records)
    proof = ""
    for item in plan.post_deployment:
        if item.auto == "slos_met" and item.id not in state.post_deployment:
            proof = slos_met_proof(plan, records, now, metrics, item.due.total_seconds())
            break
    ticks = postdeploy.self_ticks(state, now, slos_met=proof)
    for tick in ticks:
        append(tick)
    return ticks
