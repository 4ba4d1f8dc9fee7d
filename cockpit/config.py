"""The canary plan as validated pydantic models, loaded from TOML; every error names its field."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from cockpit.core.compare import Comparison

# --- small types -------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def _parse_duration(value: Any) -> Any:
    """Accept "20m", "1h30m", "45s", "0s" or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m and any(m.groups()):
            h, mi, s = (int(g or 0) for g in m.groups())
            return timedelta(hours=h, minutes=mi, seconds=s)
    raise ValueError(f'not a duration: {value!r} (write it like "20m", "1h30m" or "45s")')


def format_duration(td: timedelta) -> str:
    total = int(td.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return out or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value):
        return time(int(value[:2]), int(value[3:]))
    raise ValueError(f'not a UTC time of day: {value!r} (write it like "20:00")')


ClockTime = Annotated[
    time, BeforeValidator(_parse_hhmm), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)
]
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Model(BaseModel):
    """Strict base: unknown keys are errors, so a typo never silently disables a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Model):
    """A secret named by reference: an environment variable or a file. The value never lives in config."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "SecretRef":
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"

    def resolve(self) -> str:
        """Read the secret now; the error names where it looked, never a value."""
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError([f"secret: environment variable {self.env} is not set"])
            return value
        try:
            return Path(self.file).read_text().strip()  # type: ignore[arg-type]
        except OSError as e:
            raise ConfigError([f"secret: cannot read file {self.file}: {e.strerror}"]) from None


# --- release, roles, sign-offs -----------------------------------------------------------------


class Release(Model):
    name: str
    version: str
    environment: str
    region: str
    data_residency: str = ""
    chatops: str = ""  # the authorising ChatOps line, checked against this plan


class Role(Model):
    title: str
    people: list[str] = []
    contact: str = ""


# --- preflight checks --------------------------------------------------------------------------


class Expectation(Model):
    """A value found at a dotted path in JSON, compared to a literal: `summary.critical == 0`."""

    path: str
    comparison: Comparison = Comparison.EQ
    value: float | str | bool


class _Check(Model):
    id: Ident
    name: str
    description: str = ""


class FreezeWindowCheck(_Check):
    type: Literal["freeze_window"]
    weekday: Weekday
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> "FreezeWindowCheck":
        if self.end <= self.start:
            raise ValueError("end must be after start (a window within one UTC day)")
        return self


class CommandCheck(_Check):
    type: Literal["command"]
    argv: list[str] = Field(min_length=1)
    timeout: Duration = timedelta(seconds=60)


class HttpCheck(_Check):
    type: Literal["http"]
    url: str
    expect_status: int = 200
    expect_json: Expectation | None = None
    timeout: Duration = timedelta(seconds=10)
    token: SecretRef | None = None


class PromQLCheck(_Check):
    type: Literal["promql"]
    query: str
    comparison: Comparison
    threshold: float


class ReportCheck(_Check):
    type: Literal["report"]
    file: Path
    expect: Expectation


Check = Annotated[
    Union[FreezeWindowCheck, CommandCheck, HttpCheck, PromQLCheck, ReportCheck],
    Field(discriminator="type"),
]


# --- phases and gates --------------------------------------------------------------------------


class Criterion(Model):
    """An automatic gate criterion: a metric comparison over the phase's soak."""

    id: Ident
    name: str
    query: str
    comparison: Comparison
    threshold: float
    unit: str = ""


class Gate(Model):
    owners: list[Ident] = Field(min_length=1)
    auto: list[Criterion] = []
    manual: list[str] = []


class Phase(Model):
    name: str
    weight: int = Field(ge=1, le=100)
    soak: Duration
    gate: Gate


# --- triggers, kill switch, escalation ---------------------------------------------------------

Action = Literal["rollback", "hold", "page"]
NoData = Literal["breach", "hold", "ignore"]


class Trigger(Model):
    """A rule that acts on its own: a query (or a re-run check) that breaches for its window."""

    id: Ident
    name: str
    query: str | None = None
    check: Ident | None = None
    comparison: Comparison = Comparison.GT
    threshold: float | None = None
    baseline: str | None = None  # PromQL for the baseline, e.g. staging p95
    above_baseline_pct: float | None = None
    for_: Duration = Field(alias="for")
    action: Action
    level: str
    no_data: NoData = "hold"
    interval: Duration | None = None  # how often a check-backed trigger re-runs its check
    unit: str = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> "Trigger":
        if (self.query is None) == (self.check is None):
            raise ValueError("give exactly one of query or check")
        if self.query is not None:
            relative = self.baseline is not None or self.above_baseline_pct is not None
            if relative and (self.baseline is None or self.above_baseline_pct is None):
                raise ValueError("a relative threshold needs both baseline and above_baseline_pct")
            if relative == (self.threshold is not None):
                raise ValueError("give either threshold, or baseline with above_baseline_pct")
        return self


class KillSwitch(Model):
    gateway: Ident
    flag: str = "canary.enable"
    value: bool = False
    notify: str = ""  # channel told of a rollback, e.g. "#error-budget"
    verify_query: str | None = None  # canary request rate; must fall to ~0 after the kill
    verify_within: Duration = timedelta(minutes=2)
    retries: int = Field(default=3, ge=0, le=10)


class EscalationLevel(Model):
    level: str
    name: str
    scope: str
    owners: list[Ident] = Field(min_length=1)
    contacts: list[str] = []
    channel: str = ""


# --- budget and evidence -----------------------------------------------------------------------


class BudgetCategory(Model):
    id: Ident
    name: str
    monthly: float = Field(gt=0)
    projected: float = Field(ge=0)
    spend_query: str | None = None  # month-to-date spend, if a cost exporter has it


class BudgetAlert(Model):
    at_pct: float = Field(gt=0, le=200)
    channel: str
    action: str


class Budget(Model):
    currency: str = "USD"
    categories: list[BudgetCategory] = Field(min_length=1)
    alerts: list[BudgetAlert] = []

    @field_validator("alerts")
    @classmethod
    def _increasing(cls, alerts: list[BudgetAlert]) -> list[BudgetAlert]:
        pcts = [a.at_pct for a in alerts]
        if pcts != sorted(set(pcts)):
            raise ValueError("alert thresholds must strictly increase")
        return alerts


class Evidence(Model):
    dir: Path = Path("evidence")
    per_phase: list[str] = []
    final: list[str] = []


# --- connections -------------------------------------------------------------------------------


def _no_secret_headers(headers: dict[str, str]) -> dict[str, str]:
    """Literal headers are for non-secrets; a credential goes in `token`, which names where it lives."""
    for key in headers:
        if key.lower() in {"authorization", "x-api-key", "cookie"}:
            raise ValueError(f"header {key} carries a secret: use token = {{ env = \"...\" }}")
    return headers


class Prometheus(Model):
    url: str
    timeout: Duration = timedelta(seconds=5)
    poll_interval: Duration = timedelta(seconds=15)
    step: Duration = timedelta(seconds=30)
    verify_tls: bool = True
    headers: dict[str, str] = {}
    token: SecretRef | None = None

    _no_literal_secrets = field_validator("headers")(lambda cls, h: _no_secret_headers(h))


class HaproxyGateway(Model):
    type: Literal["haproxy"]
    socket: str
    backend: str
    canary_server: str = "canary"
    stable_server: str = "stable"
    timeout: Duration = timedelta(seconds=2)
    maint_on_kill: bool = False


class HttpGateway(Model):
    """A JSON flag API: one request per flag change, a GET that reads both back."""

    type: Literal["http"]
    url: str
    method: Literal["PUT", "POST", "PATCH"] = "PUT"
    read_url: str | None = None
    weight_flag: str = "canary.weight"
    enabled_field: str = "canary.enable"
    weight_field: str = "canary.weight"
    timeout: Duration = timedelta(seconds=2)
    token: SecretRef | None = None
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    headers: dict[str, str] = {}  # non-secret headers only
    name_key: str = "flag"  # body {name_key: flag, value_key: value}; "" sends {flag: value}
    value_key: str = "value"

    _no_literal_secrets = field_validator("headers")(lambda cls, h: _no_secret_headers(h))

    @field_validator("url", "read_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        return url


class SimulatedGateway(Model):
    type: Literal["simulated"]


GatewayConfig = Annotated[
    Union[HaproxyGateway, HttpGateway, SimulatedGateway], Field(discriminator="type")
]


# --- the plan ----------------------------------------------------------------------------------


class Plan(Model):
    """The whole canary plan. Cross-field rules are checked here, so a bad plan never starts."""

    state_dir: Path = Path("state")  # relative to the config file
    release: Release
    roles: dict[Ident, Role] = Field(min_length=1)
    sign_offs: list[Ident] = []
    preflight: list[Check] = []
    phases: list[Phase] = Field(min_length=1)
    triggers: list[Trigger] = []
    kill_switch: KillSwitch
    escalation: list[EscalationLevel] = Field(min_length=1)
    budget: Budget
    evidence: Evidence = Evidence()
    prometheus: Prometheus | None = None
    gateways: dict[Ident, GatewayConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_field(self) -> "Plan":
        errors: list[str] = []
        weights = [p.weight for p in self.phases]
        if any(b <= a for a, b in zip(weights, weights[1:])):
            errors.append(f"phases: weights must strictly increase, got {weights}")
        if weights[-1] != 100:
            errors.append(f"phases: the last phase must reach weight 100, got {weights[-1]}")
        for i, phase in enumerate(self.phases):
            for owner in phase.gate.owners:
                if owner not in self.roles:
                    errors.append(f"phases.{i}.gate.owners: {owner!r} is not a declared role")
        for i, role in enumerate(self.sign_offs):
            if role not in self.roles:
                errors.append(f"sign_offs.{i}: {role!r} is not a declared role")
        levels = [lvl.level for lvl in self.escalation]
        for i, lvl in enumerate(self.escalation):
            for owner in lvl.owners:
                if owner not in self.roles:
                    errors.append(f"escalation.{i}.owners: {owner!r} is not a declared role")
        check_ids = [c.id for c in self.preflight]
        for i, trig in enumerate(self.triggers):
            if trig.level not in levels:
                errors.append(f"triggers.{i}.level: {trig.level!r} is not a declared escalation level")
            if trig.check is not None and trig.check not in check_ids:
                errors.append(f"triggers.{i}.check: {trig.check!r} is not a declared preflight check")
            if trig.query is not None and self.prometheus is None:
                errors.append(f"triggers.{i}.query: a query trigger needs a [prometheus] section")
        for name, items in (("preflight", check_ids), ("triggers", [t.id for t in self.triggers])):
            dupes = sorted({x for x in items if items.count(x) > 1})
            if dupes:
                errors.append(f"{name}: duplicate ids {dupes}")
        if self.kill_switch.gateway not in self.gateways:
            errors.append(f"kill_switch.gateway: {self.kill_switch.gateway!r} is not a declared gateway")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # Helpers the engine and the screen share.
    def role_title(self, role: str) -> str:
        r = self.roles.get(role)
        return r.title if r else role

    def level(self, name: str) -> EscalationLevel | None:
        return next((lvl for lvl in self.escalation if lvl.level == name), None)

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.preflight if c.id == check_id), None)


# --- loading -----------------------------------------------------------------------------------


class ConfigError(Exception):
    """A config that cannot be used; `errors` are lines of the form `field.path: message`."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def _loc(loc: tuple[Any, ...]) -> str:
    # Drop pydantic's union-branch tags (e.g. "command" in preflight.1.command.argv).
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def _describe(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def parse_plan(data: dict[str, Any]) -> Plan:
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            where = _loc(err["loc"])
            msg = _describe(err)
            if not where and "; " in msg:  # cross-field errors carry their own paths
                lines.extend(msg.split("; "))
            else:
                lines.append(f"{where}: {msg}" if where else msg)
        raise ConfigError(lines) from None


def load_plan(path: Path) -> Plan:
    """Read and validate a plan; errors are `FILE: field.path: message` lines."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError([f"{path}: TOML syntax: {e}"]) from None
    try:
        return parse_plan(data)
    except ConfigError as e:
        raise ConfigError([f"{path}: {line}" for line in e.errors]) from None


def resolve_state_dir(plan: Plan, config_path: Path) -> Path:
    """A relative state_dir is relative to the config file, not to wherever the captain stands."""
    return plan.state_dir if plan.state_dir.is_absolute() else Path(config_path).parent / plan.state_dir


def plan_digest(plan: Plan) -> str:
    """A stable fingerprint of the plan, journaled so a restart notices a changed plan.

    Defaults are left out, so a new optional setting in a later cockpit does not read as a change.
    """
    return hashlib.sha256(plan.model_dump_json(by_alias=True, exclude_defaults=True).encode()).hexdigest()


def dump_plan(plan: Plan) -> dict[str, Any]:
    """The plan as TOML-ready data (no None values, durations as "20m")."""
    return plan.model_dump(mode="json", by_alias=True, exclude_none=True)
