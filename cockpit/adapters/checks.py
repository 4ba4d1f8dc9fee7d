"""Preflight check runners: a command, an HTTP endpoint, a JSON report, PromQL, a rehearsal. Each returns an outcome.

A runner never raises and never hangs past its timeout: a failure to run is an `error`
outcome with the reason, so the cockpit shows it instead of freezing or crashing. Every
outcome's detail and evidence is scrubbed of secrets before it is cut and journaled.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit import redact
from cockpit.adapters.metrics import MetricsSource
from cockpit.config import (
    CommandCheck,
    ConfigError,
    Expectation,
    FreezeWindowCheck,
    HttpCheck,
    PromQLCheck,
    RehearsalCheck,
    ReportCheck,
)
from cockpit.core import words
from cockpit.core.compare import Comparison
from cockpit.core.events import CheckStatus
from cockpit.core.freeze import describe, in_freeze

TAIL = 2000  # characters of output kept as evidence
SCRUB_MARGIN = 1024  # scrubbed beyond the tail, so a secret cut by the tail's start is scrubbed whole


@dataclass(frozen=True)
class Outcome:
    status: CheckStatus
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


def freeze_window(check: FreezeWindowCheck, now) -> Outcome:
    window = (check.weekday, check.start.strftime("%H:%M"), check.end.strftime("%H:%M"))
    if in_freeze(window, now):
        return Outcome("fail", f"inside the {describe(window)} freeze", {"now": now.isoformat()})
    return Outcome("pass", f"outside the {describe(window)} freeze", {"now": now.isoformat()})


async def command(check: CommandCheck, cwd: Path | None = None) -> Outcome:
    """Run argv without a shell; pass on exit 0. A timeout kills the whole process group."""
    timeout = check.timeout.total_seconds()
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *check.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as e:
        return Outcome("error", f"cannot run {check.argv[0]}: {e.strerror}", {"argv": check.argv})
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        took = time.monotonic() - started
        return Outcome("fail", f"timed out after {words.duration(timeout)}", {"argv": check.argv}, took)
    took = time.monotonic() - started
    tail = redact.scrub(out[-4 * (TAIL + SCRUB_MARGIN):].decode(errors="replace")[-(TAIL + SCRUB_MARGIN):])[-TAIL:]
    evidence = {"argv": check.argv, "exit": proc.returncode, "output_tail": tail}
    last = tail.strip().splitlines()[-1] if tail.strip() else ""
    if proc.returncode == 0:
        return Outcome("pass", f"exit 0{': ' + last if last else ''}", evidence, took)
    return Outcome("fail", f"exit {proc.returncode}{': ' + last if last else ''}", evidence, took)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def http(check: HttpCheck, token: str | None = None) -> Outcome:
    import httpx  # imported here: the screen draws before httpx's import cost is paid

    redact.remember(token)
    url = redact.public_url(check.url)  # journaled and shown: no user info, no secret query values
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=check.timeout.total_seconds()) as client:
            resp = await client.get(check.url, headers=headers)
    except httpx.TimeoutException:
        return Outcome("fail", f"{url}: timed out after {words.duration(check.timeout)}")
    except httpx.HTTPError as e:
        return Outcome("error", redact.scrub(f"{url}: {type(e).__name__}: {e}"))
    took = time.monotonic() - started
    evidence: dict[str, Any] = {"url": url, "status": resp.status_code}
    if resp.status_code != check.expect_status:
        return Outcome("fail", f"{url}: HTTP {resp.status_code}, expected {check.expect_status}", evidence, took)
    if check.expect_json is None:
        return Outcome("pass", f"HTTP {resp.status_code}", evidence, took)
    try:
        doc = resp.json()
    except ValueError:
        return Outcome("fail", f"{url}: the answer is not JSON", evidence, took)
    ok, detail = expect(doc, check.expect_json)
    return Outcome("pass" if ok else "fail", f"HTTP {resp.status_code}, {detail}", evidence, took)


def report(check: ReportCheck, base: Path | None = None) -> Outcome:
    path = check.file if check.file.is_absolute() or base is None else base / check.file
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        return Outcome("error", f"{path}: cannot read: {e.strerror}")
    except ValueError as e:
        return Outcome("error", f"{path}: not JSON: {e}")
    ok, detail = expect(doc, check.expect)
    return Outcome("pass" if ok else "fail", f"{path.name}: {detail}", {"file": str(path)})


def lookup(doc: Any, path: str) -> Any:
    """Follow a dotted path (`summary.critical`, `results.0.id`) into JSON; KeyError names the step."""
    node = doc
    for step in path.split("."):
        if isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            raise KeyError(step)
    return node


def expect(doc: Any, expectation: Expectation) -> tuple[bool, str]:
    try:
        actual = lookup(doc, expectation.path)
    except KeyError as e:
        return False, f"{expectation.path}: no {e.args[0]!r} in the document"
    wanted = expectation.value
    op = expectation.comparison
    shown = f"{expectation.path} = {json.dumps(actual)}"
    if isinstance(wanted, (bool, str)) or isinstance(actual, (bool, str)):
        same = type(actual) is type(wanted) and actual == wanted
        if op not in (Comparison.EQ, Comparison.NE):
            return False, f"{shown}: {op.value} needs numbers"
        ok = same if op is Comparison.EQ else not same
    elif isinstance(actual, (int, float)):
        ok = op.holds(float(actual), float(wanted))
    else:
        return False, f"{shown}: not a number"
    return ok, f"{shown} ({'meets' if ok else 'fails'} {op.value} {json.dumps(wanted)})"


async def promql(check: PromQLCheck, metrics: MetricsSource | None, now) -> Outcome:
    if metrics is None:
        return Outcome("error", "no [prometheus] configured for a promql check")
    result = await asyncio.to_thread(metrics.instant, check.query, now)
    if result.status != "ok":
        return Outcome("error" if result.status == "error" else "fail", result.error or "no data")
    assert result.value is not None  # an instant answer that is ok carries its value (QueryResult)
    ok = check.comparison.holds(result.value, check.threshold)
    detail = (f"{words.value(result.value)} {'meets' if ok else 'fails'} "
              f"{words.limit(check.comparison, check.threshold)}")
    return Outcome("pass" if ok else "fail", detail, {"query": check.query, "value": result.value})


FIRES_SHOWN = 5  # fire times said per trigger in a rehearsal check's detail (the evidence keeps 100)


def rehearsal(check: RehearsalCheck, plan, metrics: MetricsSource | None, now) -> Outcome:
    """The plan's triggers rehearsed over the last `days` before `now` (a span the team calls healthy):
    fail with each trigger's fire times, pass when none would have fired."""
    from cockpit.adapters.prom_range import HistoryError
    from cockpit.rehearsal import RehearsalError, fetcher, rehearse

    if metrics is None or plan is None:
        return Outcome("error", "no [prometheus] configured for a rehearsal check")
    end = now.timestamp()
    span = (end - check.days * 86400, end)
    started = time.monotonic()
    try:
        got = rehearse(plan, fetcher(metrics), quiet=span, only=check.triggers or None,
                       substitute=check.substitute, criteria=False)
    except (RehearsalError, HistoryError) as e:
        return Outcome("error", str(e))
    took = time.monotonic() - started
    fired = {tid: run.fires for tid, run in got.quiet_triggers.items() if run.fires}
    evidence = {"from": _iso(span[0]), "to": _iso(span[1]), "rounds": got.quiet_rounds,
                "triggers": sorted(got.quiet_triggers), "samples_sha256": got.samples_digest(),
                "fired": {tid: [_iso(ts) for ts in fires[:100]] for tid, fires in fired.items()}}
    over = f"over the last {words.duration(span[1] - span[0])}"
    if not got.quiet_triggers:
        return Outcome("error", "no query-backed trigger to rehearse", evidence, took)
    blind = [tid for tid, run in got.quiet_triggers.items() if all(state == "no_data" for *_, state in run.timeline)]
    if blind:  # no history is no evidence: a query that reads only the canary passes nothing
        return Outcome("error", f"no data {over} for {', '.join(blind)}: does the query read the stable version? "
                       f"(substitute rewrites it)", evidence, took)
    if not fired:
        return Outcome("pass", f"{words.plural(len(got.quiet_triggers), 'trigger')} would not have fired {over}",
                       evidence, took)
    said = []
    for tid, fires in fired.items():
        times = ", ".join(words.stamp(datetime.fromtimestamp(ts, UTC)) for ts in fires[:FIRES_SHOWN])
        more = f" and {len(fires) - FIRES_SHOWN} more" if len(fires) > FIRES_SHOWN else ""
        said.append(f"{tid} {words.plural(len(fires), 'time')} ({times}{more})")
    return Outcome("fail", f"would have fired {over}: " + "; ".join(said), evidence, took)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def runner(*, clock, base_dir: Path, metrics: MetricsSource | None = None, plan=None):
    """The engine's check runner: dispatch on the check's type. Secrets resolve at call time."""

    async def run(check) -> Outcome:
        outcome = await _dispatch(check)
        return replace(outcome, detail=redact.scrub(outcome.detail), evidence=redact.scrub_tree(outcome.evidence))

    async def _dispatch(check) -> Outcome:
        match check:
            case FreezeWindowCheck():
                return freeze_window(check, clock.now())
            case CommandCheck():
                return await command(check, cwd=base_dir)
            case HttpCheck():
                try:
                    token = check.token.resolve(f"preflight.{check.id}.token") if check.token else None
                except ConfigError as e:
                    return Outcome("error", str(e))
                return await http(check, token=token)
            case ReportCheck():
                return report(check, base_dir)
            case PromQLCheck():
                return await promql(check, metrics, clock.now())
            case RehearsalCheck():
                return await asyncio.to_thread(rehearsal, check, plan, metrics, clock.now())
        return Outcome("error", f"unknown check type {type(check).__name__}")

    return run
