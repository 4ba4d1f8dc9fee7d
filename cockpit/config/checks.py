"""The plan's cross-field checks (references, duplicates, required sections) and the offline PromQL check."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from cockpit.config.preflight import RehearsalCheck

if TYPE_CHECKING:
    from cockpit.config.plan import Plan


def plan_problems(plan: Plan) -> list[str]:
    """Every cross-field problem of the plan, as `field.path: message` lines (empty: none); the plan
    refuses to be built with any, so a bad plan never starts."""
    errors: list[str] = []
    weights = [p.weight for p in plan.phases]
    if any(b <= a for a, b in zip(weights, weights[1:], strict=False)):
        errors.append(f"phases: weights must strictly increase, got {weights}")
    if weights[-1] != 100:
        errors.append(f"phases: the last phase must reach weight 100, got {weights[-1]}")
    for i, phase in enumerate(plan.phases):
        for owner in phase.gate.owners:
            if owner not in plan.roles:
                errors.append(f"phases.{i}.gate.owners: {owner!r} is not a declared role")
    for i, role in enumerate(plan.sign_offs):
        if role not in plan.roles:
            errors.append(f"sign_offs.{i}: {role!r} is not a declared role")
    levels = [lvl.level for lvl in plan.escalation]
    for where, what, items in (
        ("phases", "phase names", [p.name for p in plan.phases]),
        ("sign_offs", "sign-offs", plan.sign_offs),
        ("escalation", "levels", levels),
    ):
        try:
            _no_duplicates(what, items)
        except ValueError as e:
            errors.append(f"{where}: {e}")
    for i, lvl in enumerate(plan.escalation):
        for owner in lvl.owners:
            if owner not in plan.roles:
                errors.append(f"escalation.{i}.owners: {owner!r} is not a declared role")
    check_ids = [c.id for c in plan.preflight]
    for i, trig in enumerate(plan.triggers):
        if trig.level not in levels:
            errors.append(f"triggers.{i}.level: {trig.level!r} is not a declared escalation level")
        if trig.check is not None and trig.check not in check_ids:
            errors.append(f"triggers.{i}.check: {trig.check!r} is not a declared preflight check")
        if trig.query is not None and plan.prometheus is None:
            errors.append(f"triggers.{i}.query: a query trigger needs a [prometheus] section")
    query_triggers = [t.id for t in plan.triggers if t.query is not None]
    for i, pre in enumerate(plan.preflight):
        if isinstance(pre, RehearsalCheck):
            errors += [f"preflight.{i}.triggers: {t!r} is not a query-backed trigger" for t in pre.triggers
                       if t not in query_triggers]
            if plan.prometheus is None:
                errors.append(f"preflight.{i}.type: a rehearsal check needs a [prometheus] section")
    for name, items in (("preflight", check_ids), ("triggers", [t.id for t in plan.triggers])):
        dupes = sorted({x for x in items if items.count(x) > 1})
        if dupes:
            errors.append(f"{name}: duplicate ids {dupes}")
    for i, item in enumerate(plan.post_deployment):  # issue 11
        if item.owner not in plan.roles:
            errors.append(f"post_deployment.{i}.owner: {item.owner!r} is not a declared role")
    try:
        _no_duplicates("post-deployment ids", [item.id for item in plan.post_deployment])
    except ValueError as e:
        errors.append(f"post_deployment: {e}")
    for i, phase in enumerate(plan.phases):
        for j, c in enumerate(phase.gate.auto):
            if c.source == "alertmanager" and plan.alertmanager is None:
                errors.append(f"phases.{i}.gate.auto.{j}.source: "
                              "an alertmanager criterion needs an [alertmanager] section")
            if c.source == "judge" and plan.judge is None:
                errors.append(f"phases.{i}.gate.auto.{j}.source: a judge criterion needs a [judge] section")
    for i, lvl in enumerate(plan.escalation):  # extra pages are new: they must name a channel
        errors += [f"escalation.{i}.pages: no channel {c!r} in [channels]"
                   for c in lvl.pages if c not in plan.channels]
    for where, name in plan.undeclared_channels():  # a typo of a declared name sends nowhere: refused
        if near := difflib.get_close_matches(name, list(plan.channels), n=1, cutoff=0.75):
            errors.append(f"{where}: no channel {name!r} in [channels] (did you mean {near[0]!r}?)")
    if plan.judge is not None and plan.prometheus is None:
        errors.append("judge: the judge reads both tracks from Prometheus: it needs a [prometheus] section")
    if plan.kill_switch.gateway not in plan.gateways:
        errors.append(f"kill_switch.gateway: {plan.kill_switch.gateway!r} is not a declared gateway")
    dialect = plan.prometheus.dialect if plan.prometheus else "promql"
    for where, query in plan.queries():
        problem = query_problem(query, dialect)
        if problem:
            errors.append(f"{where}: {problem}")
    return errors


def query_problem(query: str, dialect: str = "promql") -> str | None:
    """Why a query cannot run, or None. PromQL is parsed offline, so a typo fails check-config,
    not the first evaluation in the middle of a rollout."""
    if not query.strip():
        return "empty query"
    if dialect != "promql":
        return None
    import promql_parser  # Python bindings of the Rust PromQL parser; imported when a plan is checked

    try:
        promql_parser.parse(query)
    except ValueError as e:
        return f"PromQL does not parse: {e}"
    return None


def _no_duplicates(what: str, items: list[str]) -> None:
    dupes = sorted({x for x in items if items.count(x) > 1})
    if dupes:
        raise ValueError(f"duplicate {what} {dupes}")
