"""The HAProxy gateway: canary and stable weights and the kill, over HAProxy's runtime API."""

from __future__ import annotations

import asyncio
import re

from cockpit import redact
from cockpit.adapters.gateway import GatewayError, GatewayState
from cockpit.core import words

# srv_admin_state bits that mean "in maintenance" (forced, inherited, config,
# resolution, hostname). The drain bits (0x08, 0x10) are not maintenance: a
# draining server still serves sticky sessions.
_MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40
_GET_WEIGHT = re.compile(r"^(\d+) \(initial (\d+)\)$")
# HAProxy's identifier characters (letters, digits, - _ . :). A backend or server name is the
# only text a runtime-API command is built from: a ";" or a newline would start another command.
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
ANSWER_LIMIT = 200


def check_name(name: str) -> str:
    """`name` if it is a plain HAProxy identifier; ValueError saying what is allowed otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain HAProxy name (1-64 of letters, digits, - _ . :)")
    return name


class HAProxyGateway:
    """Steers one backend's canary and stable servers through a stats socket at `level admin`.

    `socket` is a unix socket path or `host:port` (a TCP stats socket). HAProxy has
    no flag of its own: the canary counts as enabled while its weight is above 0
    and it is not in maintenance.
    """

    def __init__(
        self,
        socket: str,
        *,
        backend: str,
        canary_server: str,
        stable_server: str,
        timeout_s: float = 2.0,
        maint_on_kill: bool = False,
    ) -> None:
        for name in (backend, canary_server, stable_server):
            check_name(name)  # again here: no command is ever built from unchecked text
        self.socket = socket
        self.backend = backend
        self.canary = f"{backend}/{canary_server}"
        self.stable = f"{backend}/{stable_server}"
        self.timeout_s = timeout_s
        self.maint_on_kill = maint_on_kill
        self.name = f"haproxy {socket} {backend}"
        self._tcp = _parse_tcp(socket)

    def __repr__(self) -> str:
        return f"HAProxyGateway({self.socket!r}, canary={self.canary!r}, stable={self.stable!r})"

    async def set_weight(self, weight: int) -> None:
        """Canary gets `weight`, stable `100 - weight`, as absolute numbers (`N%` is relative to
        the initial weight). The server whose weight rises is set first: the backend never has
        both at 0, and roundrobin keeps the split exact (lowering stable before raising the
        canary from 0 sent every request to the canary for hundreds of requests on 2.6)."""
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ValueError(f"canary weight must be an integer 0..100, got {weight!r}")
        steps = [(self.stable, 100 - weight), (self.canary, weight)]
        if weight > await self._get_weight(self.canary):
            steps.reverse()
        for server, value in steps:
            await self._set(f"set weight {server} {value}")

    async def set_enabled(self, enabled: bool) -> None:
        """False is the kill: stable to 100, then canary to 0 (and maintenance when
        `maint_on_kill`). True only lifts maintenance; the caller restores the weight."""
        if not enabled:
            await self._set(f"set weight {self.stable} 100")
            await self._set(f"set weight {self.canary} 0")
            if self.maint_on_kill:
                await self._set(f"set server {self.canary} state maint")
            return
        admin = await self._admin_states()
        if admin.get(self.canary, 0) & _MAINT_BITS:
            await self._set(f"set server {self.canary} state ready")

    async def read(self) -> GatewayState:
        """The canary's share of traffic, counting a server in maintenance as weight 0."""
        canary = await self._get_weight(self.canary)
        stable = await self._get_weight(self.stable)
        admin = await self._admin_states()
        canary_maint = bool(admin.get(self.canary, 0) & _MAINT_BITS)
        stable_maint = bool(admin.get(self.stable, 0) & _MAINT_BITS)
        live_canary = 0 if canary_maint else canary
        live_stable = 0 if stable_maint else stable
        total = live_canary + live_stable
        share = (live_canary * 100 + total // 2) // total if total else 0
        detail = f"{self.canary} weight {canary}{' maint' if canary_maint else ''}, " \
                 f"{self.stable} weight {stable}{' maint' if stable_maint else ''}"
        if total == 0:
            detail += "; no server takes traffic"
        return GatewayState(weight=share, enabled=live_canary > 0, detail=detail)

    async def close(self) -> None:
        """Nothing to close: every command opens and closes its own connection."""

    async def command(self, cmd: str) -> str:
        """Send one command on a fresh connection and return the whole answer."""
        if any(c in cmd for c in ";\r\n"):  # HAProxy would run what follows as further commands
            raise ValueError(f"one runtime-API command at a time, without ; or line breaks: {cmd!r}")
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._tcp:
                    reader, writer = await asyncio.open_connection(*self._tcp)
                else:
                    reader, writer = await asyncio.open_unix_connection(self.socket)
                try:
                    writer.write(cmd.encode() + b"\n")
                    await writer.drain()
                    answer = await reader.read()
                finally:
                    writer.close()
        except TimeoutError:
            raise GatewayError(
                f"haproxy {self.socket}: {cmd!r} got no answer within {words.duration(self.timeout_s)}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise GatewayError(f"haproxy {self.socket}: {cmd!r} failed: {reason}") from None
        return answer.decode(errors="replace")

    def _refused(self, cmd: str, answer: str) -> GatewayError:
        shown = redact.scrub(answer.strip(), limit=ANSWER_LIMIT)
        return GatewayError(f"haproxy {self.socket}: {cmd!r} answered {shown!r}")

    async def _set(self, cmd: str) -> None:
        answer = (await self.command(cmd)).strip()
        if answer:  # success is an empty line; errors such as "No such server." carry no status
            raise self._refused(cmd, answer)

    async def _get_weight(self, server: str) -> int:
        cmd = f"get weight {server}"
        answer = (await self.command(cmd)).strip()
        match = _GET_WEIGHT.match(answer)
        if not match:
            raise self._refused(cmd, answer)
        return int(match.group(1))

    async def _admin_states(self) -> dict[str, int]:
        """`show servers state BACKEND` as {"backend/server": srv_admin_state}."""
        cmd = f"show servers state {self.backend}"
        answer = await self.command(cmd)
        lines = [line for line in answer.splitlines() if line.strip()]
        header = next((line for line in lines if line.startswith("# be_id")), None)
        if header is None:
            raise self._refused(cmd, answer)
        columns = header[2:].split()
        be, srv, admin = (columns.index(c) for c in ("be_name", "srv_name", "srv_admin_state"))
        states: dict[str, int] = {}
        for line in lines:
            fields = line.split()
            if not line.startswith("#") and len(fields) > admin:
                states[f"{fields[be]}/{fields[srv]}"] = int(fields[admin])
        return states


def _parse_tcp(socket: str) -> tuple[str, int] | None:
    """`host:port` means a TCP stats socket; anything else is a unix socket path."""
    host, sep, port = socket.rpartition(":")
    if sep and host and "/" not in socket and port.isdigit():
        return host.strip("[]"), int(port)
    return None
