"""`cockpit report`: one document of a rollout, from its journal (Markdown, or HTML with no external assets).

Timeline, each gate with its owners' decisions and notes, each trigger's worst value against its
threshold, any kill with its verification, budget, the post-deployment plan, the evidence
manifests (checked against the files when they are found) and the journal's head hash.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.core import events as ev
from cockpit.core import postdeploy, words
from cockpit.core.readmodel import (
    WARN,
    RolloutState,
    demo_marker,
    incident_rows,
    kill_line,
    not_holding_now,
    not_now_text,
    outcome,
    rollout,
    trigger_rows,
)
from cockpit.core.visible import visible
from cockpit.narrate import say


class ReportError(Exception):
    pass


@dataclass
class Doc:
    """A document as blocks, rendered to Markdown or HTML: ("h1"|"h2"|"h3"|"p", text),
    ("table", headers, rows), ("svg", caption, svg text; HTML only)."""

    blocks: list[tuple] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append((f"h{level}", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, headers: list[str], rows: list[list[Any]]) -> None:
        self.blocks.append(("table", headers, [[("" if c is None else str(c)) for c in r] for r in rows]))

    def svg(self, caption: str, text: str) -> None:
        self.blocks.append(("svg", caption, text))


def _trigger_rows(state: RolloutState, records: list[ev.Record]) -> list[list[Any]]:
    doc = state.plan.document if state.plan else {}
    rows = []
    for t in doc.get("triggers", []):
        cmp = t.get("comparison", ">")
        values = [r.payload.value for r in records if isinstance(r.payload, (ev.TriggerBreached, ev.TriggerFired))
                  and r.payload.trigger == t["id"] and r.payload.value is not None]
        thresholds = [r.payload.threshold for r in records
                      if isinstance(r.payload, (ev.TriggerBreached, ev.TriggerFired))
                      and r.payload.trigger == t["id"] and r.payload.threshold is not None]
        worst = (min(values) if cmp in ("<", "<=") else max(values)) if values else None
        fired = [r for r in records if isinstance(r.payload, ev.TriggerFired) and r.payload.trigger == t["id"]]
        breaches = sum(1 for r in records if isinstance(r.payload, ev.TriggerBreached) and r.payload.trigger == t["id"])
        threshold = thresholds[-1] if thresholds else t.get("threshold")
        unit = t.get("unit", "")
        limit = words.limit(cmp, threshold, unit) if threshold is not None else (
            f"{words.symbol(cmp)} baseline +{words.percent(t.get('above_baseline_pct', 0))}" if t.get("baseline")
            else "(check)")
        rows.append([t["name"], words.value(worst, unit), limit, breaches,
                     f"FIRED {words.stamp(fired[-1].ts)} ({last.action})"
                     if fired and isinstance(last := fired[-1].payload, ev.TriggerFired) else "no"])
    return rows


def _judgments(d: Doc, plan, state: RolloutState, records: list[ev.Record]) -> None:
    """Issue 23: each phase's latest judgment of the canary against its baseline, metric by metric."""
    from cockpit.core.judgeview import judgment_views

    views = judgment_views(plan, state)
    if not views:
        return
    d.h(2, "Judgments (the canary against its baseline)")
    for phase, view in views.items():
        made = sum(1 for r in records if isinstance(r.payload, ev.JudgmentMade) and r.payload.phase == phase)
        d.p(f"**{view.phase_name}: {view.verdict}**, score {view.score}, judged {words.stamp(view.at)} over "
            f"{view.window} ({words.plural(made, 'judgment')} in the phase): {view.reason}"
            + (" · the owners decided" if view.marginal_waits else ""))
        d.table(["Metric", "Class", "Canary", "Baseline", "Shift (interval)", "Band", "Effect", "Samples", "Why"],
                [[m.name, m.classification, m.canary, m.baseline, m.shift, m.band, m.effect, m.samples, m.reason]
                 for m in view.metrics])


def _criterion_units(document: dict[str, Any], phase: int) -> dict[str, str]:
    """Criterion id -> its unit in the plan, so a gate's values read `248 ms`, not `248.5`."""
    phases = document.get("phases", [])
    auto = phases[phase].get("gate", {}).get("auto", []) if phase < len(phases) else []
    return {c["id"]: c.get("unit", "") for c in auto if "id" in c}


def _evidence_roots(state_dir: Path, state: RolloutState) -> list[Path]:
    configured = Path(str((state.plan.document if state.plan else {}).get("evidence", {}).get("dir", "evidence")))
    if configured.is_absolute():
        return [configured]
    return [state_dir.parent / configured, state_dir / configured]


def _observed_spend(state_dir: Path, state: RolloutState) -> list[tuple[str, float, float]]:
    """(bundle, spent, projected) from each journaled bundle's cost analysis found on disk, in order."""
    out = []
    for e in state.evidence:
        for root in _evidence_roots(state_dir, state):
            bundle = (root / e.file).parent
            for f in sorted(bundle.glob("cost_delta_analysis*.json")) if (root / e.file).is_file() else ():
                try:
                    seen = json.loads(f.read_text()).get("data", {}).get("observed")
                    out.append((bundle.name, float(seen["spent_month_to_date"]), float(seen["projected_month_end"])))
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue
    return out


def build(state_dir: Path, *, now: datetime | None = None, store=None) -> tuple[Doc, list[str]]:
    """The document, and the screen SVGs it embeds (paths) for HTML. `store`: the plan's (default:
    the file store in `state_dir`, which also holds the evidence either way)."""
    from cockpit.store import FileStore

    state_dir = Path(state_dir)
    store = store or FileStore(state_dir)
    where = getattr(store, "where", state_dir)
    if not store.started():
        raise ReportError(f"{where}: no journal")
    scan = store.verify()
    records = scan.records
    state = rollout(records)
    if state.plan is None:
        raise ReportError(f"{where}: the journal has no plan")
    plan = state.plan
    now = now or (records[-1].ts if records else datetime.now(UTC))
    d = Doc()
    head = records[-1].hash if records else ev.GENESIS
    problems = [str(p) for p in (scan.problem, scan.head) if p]
    _title(d, plan, state, records, head, problems)
    _summary(d, plan, state)
    _gates(d, plan, state, records, now)
    _judgments(d, plan, state, records)
    d.h(2, "Triggers")
    d.table(["Trigger", "Worst value", "Threshold", "Breaches", "Fired"], _trigger_rows(state, records))
    _kill(d, plan, state)
    _escalations(d, state)
    _budget(d, plan, state, records, state_dir)
    _post_deployment(d, plan, state, now)
    screens = _evidence(d, state, state_dir)
    d.h(2, "Timeline")
    d.table(["Time", "Who", "Event"], [[words.stamp(r.ts), str(r.actor), say(r, plan)] for r in records])
    d.h(2, "Journal")
    d.p(f"{len(records)} events, chain {'intact' if not problems else 'BROKEN'}, head `{head}`.")
    return d, screens


def _title(d: Doc, plan, state: RolloutState, records: list[ev.Record], head: str, problems: list[str]) -> None:
    """The title, the demo's marker (no report of a demo passes for production's) and the journal's problems."""
    demo = demo_marker(state)
    d.h(1, f"Rollout report: {plan.release} {plan.version}" + (f" — {demo}" if demo else ""))
    if demo:
        d.p(f"**{demo}**: a demo on a simulated service and gateway; no production traffic was shifted.")
    d.p(f"{plan.environment} / {plan.region} · outcome **{outcome(state)}** · "
        f"{len(records)} journal events · journal head `{head}`")
    if problems:
        d.p("**JOURNAL PROBLEM**: " + "; ".join(problems)
            + f" (this report covers the first {len(records)} intact events)")


def _summary(d: Doc, plan, state: RolloutState) -> None:
    d.h(2, "Summary")
    ended = state.completed_at or (state.kill.result_at if state.kill and state.kill.result_at else None)
    d.table(["", ""], [
        ["Started", words.stamp(state.started_at)],
        ["Ended", words.stamp(ended)],
        ["Duration", words.duration(ended - state.started_at) if ended and state.started_at else words.NO_DATA],
        ["Outcome", outcome(state)],
        ["Last phase", f"{state.phase + 1} {plan.phases[state.phase].name} ({plan.phases[state.phase].weight} %)"
         if state.phase is not None else words.NO_DATA],
        ["Sign-offs", ", ".join(f"{plan.roles.get(r, r)}: {s.name}" for r, s in state.sign_offs.items())
         or words.NO_DATA],
    ])


def _gates(d: Doc, plan, state: RolloutState, records: list[ev.Record], now: datetime) -> None:
    """Each phase: its owners, when it started, their decisions and its criteria (in the phase it
    stopped in, a met criterion whose own trigger fired since reads ▲ as on the screen)."""
    d.h(2, "Gates")
    not_now = _not_holding(plan, state, now)
    for i, spec in enumerate(plan.phases):
        starts = [r for r in records if isinstance(r.payload, ev.PhaseStarted) and r.payload.phase == i]
        decisions = [r for r in records if isinstance(r.payload, ev.GateDecided) and r.payload.phase == i]
        d.h(3, f"Phase {i + 1}: {spec.name} ({spec.weight} %)")
        d.p(f"Owners: {', '.join(plan.roles.get(o, o) for o in spec.owners)} · "
            + (f"started {words.stamp(starts[0].ts)}" if starts else "not reached"))
        if decisions:
            d.table(["Owner", "Decision", "Name", "At", "Note"],
                    [[plan.roles.get(p.role, p.role), p.decision, p.name, words.stamp(r.ts), p.note]
                     for r in decisions if isinstance(p := r.payload, ev.GateDecided)])
        gate = state.gates.get(i)
        units = _criterion_units(plan.document, i)
        if gate and gate.criteria:
            d.table(["Criterion", "Passed", "Value", "At"],
                    [[c, ("yes" + not_now.get(c, "") if i == state.phase else "yes") if s.passed else "NO",
                      words.value(s.value, units.get(c, "")), words.stamp(s.at)]
                     for c, s in gate.criteria.items()])


def _not_holding(plan, state: RolloutState, now: datetime) -> dict[str, str]:
    """Criterion id -> `, ▲ not now: Performance 322 ms FIRED` for the current phase's criteria whose
    own trigger breaches or fired as the journal ends (the read model's words, as the screen says them)."""
    from cockpit.config import ConfigError, parse_journaled_plan

    if state.phase is None:
        return {}
    try:
        view = parse_journaled_plan(plan.document)
    except ConfigError:
        return {}
    rows = trigger_rows(view, state, None, now)
    out = {}
    for c in view.phases[state.phase].gate.auto:
        if (row := not_holding_now(c, view, rows)) is not None:
            out[c.id] = f", {WARN} {not_now_text(row)}"
    return out


def _kill(d: Doc, plan, state: RolloutState) -> None:
    """The kill in the read model's words, as every face says them; a trigger's own account after them."""
    d.h(2, "Kill switch")
    if state.kill is None:
        d.p("Not pulled.")
        return
    k = state.kill
    result = k.result
    said = kill_line(plan, state)
    assert said is not None  # the kill is pulled (state.kill is set)
    d.table(["", ""], [
        ["Requested", f"{words.stamp(k.requested_at)}, {said.why}" + (f" ({k.reason})" if k.trigger else "")],
        ["Trigger", k.trigger or words.NO_DATA],
        ["Gateway", words.NO_DATA if result is None else ("CONFIRMED" if result.confirmed else "NOT CONFIRMED")
         + f" at {words.stamp(k.result_at)}: {said.detail}"
         + (f", {words.plural(result.attempts, 'attempt')}" if result.confirmed else "")],
        ["Traffic check", words.NO_DATA if k.verified is None
         else ("VERIFIED" if k.verified.ok else "NOT VERIFIED") + f": {k.verified.detail}"],
    ])


def _escalations(d: Doc, state: RolloutState) -> None:
    d.h(2, "Escalations")
    incidents = incident_rows(state)
    if incidents:  # open and past: a page that was resolved stays in the record
        d.table(["Incident", "Levels paged", "Opened", "Reason", "Acknowledged", "Resolved"],
                [[i.id, i.levels, words.stamp(i.opened_at), i.reason, i.acked or "NOT acknowledged",
                  i.resolved or "open"]
                 for i in incidents])
    if state.escalations:
        d.table(["At", "Level", "Reason"], [[words.stamp(at), e.level, e.reason] for at, e in state.escalations])
    if not incidents and not state.escalations:
        d.p("None.")


def _budget(d: Doc, plan, state: RolloutState, records: list[ev.Record], state_dir: Path) -> None:
    """The plan's budget, the spend the evidence bundles and the guard recorded, and the alerts raised."""
    d.h(2, "Budget")
    doc = plan.document
    cats = doc.get("budget", {}).get("categories", [])
    monthly = sum(c["monthly"] for c in cats)
    projected = sum(c["projected"] for c in cats)
    cur = doc.get("budget", {}).get("currency", "USD")
    money = lambda v: words.money(v, cur)  # noqa: E731
    d.p(f"Plan: {money(monthly)} a month, projected {money(projected)} ({words.percent(100 * projected / monthly)})."
        if monthly else "No budget.")
    spends = _observed_spend(state_dir, state)
    if spends:
        first, last = spends[0], spends[-1]
        d.p(f"Spend month to date (the guard's round, as the evidence bundles recorded it): "
            f"{money(first[1])} at {first[0]}, {money(last[1])} at {last[0]}; "
            f"month-end projection {money(last[2])}.")
    if state.spend is not None and state.spend_at is not None:
        d.p(f"Spend month to date as the guard last journaled it: {money(sum(state.spend.spent.values()))} "
            f"at {words.stamp(state.spend_at)}.")
    elif not spends:
        d.p("Spend: no evidence bundle recorded one here.")
    alerts = [r for r in records if isinstance(r.payload, ev.BudgetAlerted)]
    d.p("Alerts: " + ("; ".join(f"{words.stamp(r.ts)} {words.percent(p.at_pct)} ({money(p.spent)}): {p.action}"
                                for r in alerts if isinstance(p := r.payload, ev.BudgetAlerted)) or "none"))


def _post_deployment(d: Doc, plan, state: RolloutState, now: datetime) -> None:
    pd = postdeploy.rows(state, now) if state.status == "completed" else []
    if not pd:
        return
    d.h(2, "Post-deployment plan")
    d.p(f"As of {words.stamp(now)}; due times count from completion.")
    d.table(["Item", "Owner", "Due", "State", "Done"],
            [[r.name, plan.roles.get(r.owner, r.owner),
              words.stamp(r.due_at) if r.due_at else f"+{words.duration(r.due_after)}",
              r.word,
              f"{words.stamp(r.done_at)} {r.done_by}" + (f" ({r.evidence})" if r.evidence else "")
              if r.done_at else ""]
             for r in pd])


def _evidence(d: Doc, state: RolloutState, state_dir: Path) -> list[str]:
    """Each journaled bundle checked against the files found here; the screen SVGs of those that match."""
    d.h(2, "Evidence")
    screens: list[str] = []
    if not state.evidence:
        d.p("No evidence bundle was journaled.")
        return screens
    from cockpit.evidence import manifest_sha, verify_bundle

    roots = _evidence_roots(state_dir, state)
    rows = []
    for e in state.evidence:
        found = next((root / e.file for root in roots if (root / e.file).is_file()), None)
        if found is None:
            check = "files not found here"
        elif problems := verify_bundle(found.parent):
            check = "DIFFERS: " + "; ".join(problems)
        elif manifest_sha(found.parent) != e.sha256:
            check = "DIFFERS: manifest is not the one journaled"
        else:
            check = "matches"
            svg = found.parent / "cockpit_screen.svg"
            if svg.is_file():
                screens.append(str(svg))
        rows.append([e.file, f"`{e.sha256[:16]}`", "complete" if e.ok else "INCOMPLETE", e.detail, check])
    d.table(["Manifest", "sha256", "Bundle", "Detail", "On disk"], rows)
    return screens


# --- rendering ---------------------------------------------------------------------------------


def _md(text: str) -> str:
    """A block's text in Markdown: control and bidi characters shown as escapes (a note read in a
    terminal or an editor cannot move the cursor or reverse a line)."""
    return visible(text)


def _md_cell(text: str) -> str:
    return _md(text.replace("\n", " ")).replace("|", "\\|")


def to_markdown(d: Doc) -> str:
    out: list[str] = []
    for block in d.blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out += ["#" * int(kind[1]) + " " + _md(block[1]), ""]
        elif kind == "p":
            out += [_md(block[1]), ""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            out.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
            out.append("|" + "|".join("---" for _ in headers) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _inline(text: str) -> str:
    """Markdown's **bold** and `code` in HTML, everything else escaped (control and bidi
    characters as visible escapes, then HTML's)."""
    s = html.escape(visible(text))
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", s)


def standalone_svg(svg: str) -> str:
    """A Textual screenshot with no external asset: no web fonts (monospace stands in), no links."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"@font-face\s*\{[^}]*\}", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", "none", svg)
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")  # inline in HTML, the namespace is implied
    return svg.strip()


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #111; }
h1 { border-bottom: 2px solid #333; } h2 { border-bottom: 1px solid #999; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; width: 100%; font-size: 90%; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } code { font-size: 90%; word-break: break-all; }
figure { margin: 1em 0; page-break-inside: avoid; } figure svg { width: 100%; height: auto; border: 1px solid #999; }
@media print { body { max-width: none; margin: 0; } h2 { page-break-after: avoid; } tr { page-break-inside: avoid; } }
"""


def to_html(d: Doc, screens: list[str]) -> str:
    title = next((b[1] for b in d.blocks if b[0] == "h1"), "Rollout report")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(visible(title))}</title>",
           f"<style>{CSS}</style></head><body>"]
    for block in d.blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(h)}</th>" for h in block[1]) if any(block[1]) else ""
            body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block[2])
            thead = f"<thead><tr>{head}</tr></thead>" if head else ""
            out.append(f"<table>{thead}<tbody>{body}</tbody></table>")
    if screens:
        out.append("<h2>The cockpit's screen at each bundle</h2>")
        for path in screens:
            caption = f"{Path(path).parent.name}: {Path(path).name}"
            out.append(f"<figure>{standalone_svg(Path(path).read_text())}<figcaption>{html.escape(visible(caption))}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render(state_dir: Path, fmt: str = "md", *, now: datetime | None = None, store=None) -> str:
    d, screens = build(state_dir, now=now, store=store)
    if fmt == "md":
        return to_markdown(d)
    if fmt == "html":
        return to_html(d, screens)
    raise ReportError(f"no format {fmt!r} (md, html)")


def scrubbed(state_dir: Path, fmt: str = "md", *, now: datetime | None = None, store=None) -> str:
    """The report as it is written: every known secret scrubbed (`cockpit report -o -` prints it)."""
    from cockpit import redact

    return redact.scrub(render(state_dir, fmt, now=now, store=store), markup=fmt == "html")


def write_report(state_dir: Path, *, fmt: str = "md", out: Path | None = None, now: datetime | None = None,
                 store=None) -> Path:
    text = scrubbed(state_dir, fmt, now=now, store=store)
    path = out or Path(state_dir) / f"report.{fmt}"
    try:
        path.write_text(text)
    except OSError as e:
        raise ReportError(f"{path}: cannot write: {e.strerror}") from None
    return path
