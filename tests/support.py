"""Test doubles that implement the real protocols in memory, with faults on demand."""

from __future__ import annotations

from cockpit.adapters.checks import Outcome
from cockpit.adapters.gateway import GatewayError, GatewayState


class MemoryGateway:
    """A gateway that keeps weight and flag in memory; `down` makes every call fail."""

    name = "memory"

    def __init__(self):
        self.weight = 0
        self.enabled = True
        self.down = False
        self.stuck = False  # accepts writes but reads back the old state
        self.calls: list[str] = []

    def _check(self, what: str):
        self.calls.append(what)
        if self.down:
            raise GatewayError(f"memory gateway: {what}: connection refused")

    async def set_weight(self, weight: int) -> None:
        self._check(f"set_weight {weight}")
        if not self.stuck:
            self.weight = weight

    async def set_enabled(self, enabled: bool) -> None:
        self._check(f"set_enabled {enabled}")
        if not self.stuck:
            self.enabled = enabled
            if not enabled:
                self.weight = 0

    async def read(self) -> GatewayState:
        self._check("read")
        return GatewayState(weight=self.weight, enabled=self.enabled)

    async def close(self) -> None:
        pass


def passing_runner(failing: set[str] = frozenset()):
    async def run(check):
        if check.id in failing:
            return Outcome("fail", f"{check.id} failed on purpose")
        return Outcome("pass", f"{check.id} ok")

    return run
