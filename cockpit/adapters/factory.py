"""Builds the gateway a plan names, resolving its secret only at that moment.

Only the captain and the headless commands call it: an observer never builds a gateway,
so it never loads a credential. (The metrics source: `prometheus.build_metrics`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.adapters.gateway import Gateway
from cockpit.config import ConfigError, HaproxyGateway, HttpGateway, Plan, SimulatedGateway

if TYPE_CHECKING:
    from cockpit.adapters.simulator import SimulatedWorld

UNIX_PATH_MAX = 107  # sun_path is 108 bytes with its terminating NUL


def build_gateway(plan: Plan, name: str | None = None, *, world: SimulatedWorld | None = None) -> Gateway:
    """The gateway `gateways.NAME` (default: the kill switch's), ready to call.

    `simulated` needs the demo's `world`: outside the demo there is nothing for it to steer,
    so it is refused rather than silently pretending to roll back.
    """
    name = name or plan.kill_switch.gateway
    config = plan.gateways.get(name)
    where = f"gateways.{name}"
    if config is None:
        raise ConfigError([f"{where}: no such gateway (declared: {', '.join(sorted(plan.gateways))})"])
    if isinstance(config, HaproxyGateway):
        return _haproxy(config, where)
    if isinstance(config, HttpGateway):
        return _http(plan, config, where)
    if isinstance(config, SimulatedGateway):
        if world is None:
            raise ConfigError([f'{where}.type: "simulated" steers only the demo\'s simulated service (cockpit demo); '
                               'give a haproxy or http gateway to steer real traffic'])
        from cockpit.adapters.simulator import SimulatedGateway as Simulated

        return Simulated(world)
    raise ConfigError([f"{where}.type: unsupported gateway type {type(config).__name__}"])


def _haproxy(config: HaproxyGateway, where: str) -> Gateway:
    from cockpit.adapters.gateway_haproxy import HAProxyGateway, _parse_tcp

    if _parse_tcp(config.socket) is None and len(config.socket.encode()) > UNIX_PATH_MAX:
        raise ConfigError([f"{where}.socket: unix socket path is {len(config.socket.encode())} bytes; "
                           f"the limit is {UNIX_PATH_MAX} (use a shorter path or host:port)"])
    return HAProxyGateway(
        config.socket,
        backend=config.backend,
        canary_server=config.canary_server,
        stable_server=config.stable_server,
        timeout_s=config.timeout.total_seconds(),
        maint_on_kill=config.maint_on_kill,
    )


def _http(plan: Plan, config: HttpGateway, where: str) -> Gateway:
    from cockpit.adapters.gateway_http import HTTPFlagGateway

    token = config.token.resolve(f"{where}.token") if config.token else None
    return HTTPFlagGateway(
        config.url,
        method=config.method,
        headers=config.headers,
        token=token,
        token_header=config.token_header,
        token_prefix=config.token_prefix,
        flag=plan.kill_switch.flag,
        weight_flag=config.weight_flag,
        read_url=config.read_url,
        enabled_field=config.enabled_field,
        weight_field=config.weight_field,
        name_key=config.name_key or None,
        value_key=config.value_key,
        timeout_s=config.timeout.total_seconds(),
    )
