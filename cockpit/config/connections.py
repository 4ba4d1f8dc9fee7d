"""Connections the plan reads and acts through: Prometheus and the traffic gateways."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, StrictBool, field_validator

from cockpit.config.fields import HaproxyName, Model, PositiveDuration
from cockpit.config.secrets import SecretRef
from cockpit.config.urls import _header_name, _no_secret_headers, _plain_url


class Prometheus(Model):
    url: str
    # "promql": check-config parses every query with the PromQL parser. A Prometheus-compatible
    # engine with its own extensions (VictoriaMetrics' MetricsQL) says "metricsql": queries are
    # then only required to be non-empty, and the engine itself judges them.
    dialect: Literal["promql", "metricsql"] = "promql"
    timeout: PositiveDuration = timedelta(seconds=5)
    poll_interval: PositiveDuration = timedelta(seconds=15)
    step: PositiveDuration = timedelta(seconds=30)
    verify_tls: StrictBool = True
    headers: dict[str, str] = {}
    token: SecretRef | None = None
    token_header: str = "Authorization"  # the token is sent as token_prefix + token in this header
    token_prefix: str = "Bearer "

    _no_literal_secrets = field_validator("headers")(lambda cls, h: _no_secret_headers(h))
    _plain_url = field_validator("url")(lambda cls, url: _plain_url(url))
    _token_header = field_validator("token_header")(lambda cls, h: _header_name(h))


class HaproxyGateway(Model):
    type: Literal["haproxy"]
    socket: Annotated[str, Field(min_length=1)]
    backend: HaproxyName
    canary_server: HaproxyName = "canary"
    stable_server: HaproxyName = "stable"
    timeout: PositiveDuration = timedelta(seconds=2)
    maint_on_kill: StrictBool = False


class HttpGateway(Model):
    """A JSON flag API: one request per flag change, a GET that reads both back."""

    type: Literal["http"]
    url: str
    method: Literal["PUT", "POST", "PATCH"] = "PUT"
    read_url: str | None = None
    weight_flag: str = "canary.weight"
    enabled_field: str = "canary.enable"
    weight_field: str = "canary.weight"
    timeout: PositiveDuration = timedelta(seconds=2)
    token: SecretRef | None = None
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    headers: dict[str, str] = {}  # non-secret headers only
    name_key: str = "flag"  # body {name_key: flag, value_key: value}; "" sends {flag: value}
    value_key: str = "value"

    _no_literal_secrets = field_validator("headers")(lambda cls, h: _no_secret_headers(h))
    _plain_url = field_validator("url", "read_url")(lambda cls, url: _plain_url(url))
    _token_header = field_validator("token_header")(lambda cls, h: _header_name(h))


class SimulatedGateway(Model):
    type: Literal["simulated"]


GatewayConfig = Annotated[
    HaproxyGateway | HttpGateway | SimulatedGateway, Field(discriminator="type")
]
