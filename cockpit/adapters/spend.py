"""The budget's spend controls: run a command (argv, no shell) or call a webhook, with a timeout."""

from __future__ import annotations

import asyncio

import httpx

from cockpit import redact
from cockpit.config import ConfigError, SpendControl
from cockpit.core import words


async def run_spend_control(control: SpendControl) -> tuple[bool, int | None, str]:
    """(ok, exit status or HTTP status, what happened in one line, secrets scrubbed)."""
    timeout = control.timeout.total_seconds()
    if control.argv is not None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *control.argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as e:
            return False, None, f"cannot run {control.argv[0]}: {e.strerror}"
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return False, None, f"killed after {words.duration(timeout)}"
        tail = redact.scrub(out.decode(errors="replace").strip().splitlines()[-1] if out.strip() else "", 200)
        return proc.returncode == 0, proc.returncode, f"exit {proc.returncode}" + (f": {tail}" if tail else "")
    headers = {}
    try:
        if control.token is not None:
            headers["Authorization"] = "Bearer " + control.token.resolve("budget.alerts.spend_control.token")
    except ConfigError as e:
        return False, None, "; ".join(e.errors)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.post(control.webhook or "", json={"action": "spend_controls"}, headers=headers)
    except httpx.HTTPError as e:
        return False, None, f"webhook failed: {type(e).__name__}"
    return 200 <= r.status_code < 300, r.status_code, f"HTTP {r.status_code}"
