"""Preflight check runners: a command, an HTTP endpoint, a JSON report. Each returns an outcome.

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
    ReportCheck,
)
from cockpit.core import words
from cockpit.core.compare import Comparison
from cockpit.core.freeze import describe, in_freeze

TAIL = 2000  # characters of output kept as evidence
SCRUB_MARGIN = 1024  # scrubbed beyond the tail, so a secret cut by the tail's start is scrubbed whole


@dataclass(frozen=True)
class Outcome:
    status: str  # pass | fail | error
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
    ok = check.comparison.holds(result.value, check.threshold)
    detail = (f"{words.value(result.value)} {'meets' if ok else 'fails'} "
              f"{words.limit(check.comparison, check.threshold)}")
    return Outcome("pass" if ok else "fail", detail, {"query": check.query, "value": result.value})


def runner(*, clock, base_dir: Path, metrics: MetricsSource | None = None):
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
        return Outcome("error", f"unknown check type {type(check).__name__}")

    return run
