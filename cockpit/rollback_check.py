"""The second verification of a kill: the canary's request rate falls to ~0 once the gateway confirmed it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from cockpit.core import events as ev
from cockpit.core import words
from cockpit.outcome import Outcome

if TYPE_CHECKING:
    from cockpit.adapters.metrics import MetricsSource
    from cockpit.engine import Engine

NEAR_ZERO_RPS = 0.01  # a canary request rate at or below this counts as "no traffic" after a kill


NO_SOURCE = "no canary traffic query (kill_switch.verify_query) or no metrics source"


def _traffic(engine: Engine) -> tuple[MetricsSource, str] | None:
    """The metrics source and the canary traffic query a verification reads; None without
    either, and in an observer (it never journals a verdict)."""
    query = engine.plan.kill_switch.verify_query
    if not query or engine.metrics is None or engine.follower:
        return None
    return engine.metrics, query


def can_verify(engine: Engine) -> bool:
    return _traffic(engine) is not None


def start(engine: Engine) -> None:
    """Run `verify` beside the kill, not inside it: the kill returns as soon as the
    gateway confirms. Callers that want the verdict await `engine.rollback_check`."""
    if not can_verify(engine) or (engine.rollback_check and not engine.rollback_check.done()):
        return
    verified = engine.state.kill.verified if engine.state.kill else None
    if verified is not None and verified.ok:
        return
    engine.rollback_check = asyncio.get_running_loop().create_task(verify(engine))


async def verify(engine: Engine) -> Outcome:
    """After the gateway confirmed the kill, the canary's request rate must fall to ~0 within
    `verify_within`, polled on the engine's clock; the verdict is journaled either way."""
    if refused := engine._guard():
        return refused
    ks = engine.plan.kill_switch
    if (traffic := _traffic(engine)) is None:
        return Outcome.refused([NO_SOURCE])
    metrics, query = traffic
    kill = engine.state.kill
    if kill is None or kill.result is None or not kill.result.confirmed:
        return Outcome.refused(["the gateway has not confirmed a kill"])
    within = ks.verify_within.total_seconds()
    prom = engine.plan.prometheus
    interval = max(0.5, min(prom.poll_interval.total_seconds() if prom else 15.0, within / 4 or 0.5))
    started = engine.clock.now()
    while True:
        now = engine.clock.now()
        elapsed = (now - started).total_seconds()
        answer = await asyncio.to_thread(metrics.instant, query, now)
        fell, last = _canary_reading(answer)
        if fell:
            detail = (f"canary request rate {words.value(answer.value, 'req/s')} at {words.duration(elapsed)}"
                      " after the gateway confirmed")
            return _verdict(engine, True, detail)
        engine.rollback_last = f"{last} {words.duration(elapsed)} after the gateway confirmed"
        if elapsed >= within:
            return _verdict(engine, False, f"{last} {words.duration(ks.verify_within)} after the kill")
        await engine.clock.sleep(min(interval, within - elapsed))


def start_recheck(engine: Engine) -> asyncio.Task | None:
    """Canary traffic did not fall after a confirmed kill: look again, once, beside the rounds
    (the guard asks every round until it falls). None when a check runs already or none is due."""
    k = engine.state.kill
    if (not can_verify(engine) or engine.state.status != "rolled_back" or k is None or not k.leaking
            or (engine.rollback_check and not engine.rollback_check.done())):
        return None
    engine.rollback_check = asyncio.get_running_loop().create_task(recheck(engine))
    return engine.rollback_check


async def recheck(engine: Engine) -> Outcome:
    """One look at the canary's request rate: journaled only when it fell to ~0 (the leak is
    journaled already, once; a reading that says the same again is not a new fact)."""
    if (traffic := _traffic(engine)) is None:  # start_recheck starts none without one
        return Outcome.refused([NO_SOURCE])
    metrics, query = traffic
    now = engine.clock.now()
    answer = await asyncio.to_thread(metrics.instant, query, now)
    k = engine.state.kill
    if k is None or not k.leaking:
        return Outcome(True)  # verified meanwhile (another check, another process)
    fell, last = _canary_reading(answer)
    if fell:
        since = words.duration(now - k.requested_at)
        rate = words.value(answer.value, 'req/s')
        return _verdict(engine, True, f"canary request rate {rate}, {since} after the kill")
    engine.rollback_last = last
    return Outcome(False, [f"ROLLBACK NOT VERIFIED: {last}"])


def _verdict(engine: Engine, ok: bool, detail: str) -> Outcome:
    verdict = ev.RollbackVerified(ok=ok, detail=detail)
    record = engine.record(verdict)
    return Outcome(ok, [] if ok else [f"ROLLBACK NOT VERIFIED: {detail}"], [record] if record else [],
                   [] if record else [verdict])


def _canary_reading(answer) -> tuple[bool, str]:
    """Whether the canary's request rate fell to ~0, and what a reading that did not says."""
    if answer.status == "ok" and answer.value is not None:
        if answer.value <= NEAR_ZERO_RPS:
            return True, ""
        return False, f"canary request rate still {words.value(answer.value, 'req/s')}"
    if answer.status == "error":
        return False, f"canary traffic query failed: {answer.error}"
    return False, "the canary traffic query has no data"
