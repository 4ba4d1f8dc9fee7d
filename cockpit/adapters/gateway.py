"""The gateway protocol: set the canary weight and the kill flag, and read both back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class GatewayError(Exception):
    """A gateway call failed; the message names the endpoint and what it answered."""


@dataclass(frozen=True)
class GatewayState:
    """What the gateway says now. None means the gateway did not say."""

    weight: int | None  # canary share of traffic, 0..100
    enabled: bool | None  # the canary flag (canary.enable)
    detail: str = ""


class Gateway(Protocol):
    """Async. Every method raises GatewayError on failure; none returns before the gateway answered."""

    name: str

    async def set_weight(self, weight: int) -> None: ...

    async def set_enabled(self, enabled: bool) -> None: ...

    async def read(self) -> GatewayState: ...

    async def close(self) -> None: ...
