"""The canary plan as validated pydantic models, loaded from TOML; every error names its field."""

from __future__ import annotations

import copy
import difflib
import hashlib
import math
import os
import re
import stat
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from cockpit import redact
from cockpit.core.compare import Comparison

# --- small types -------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
MAX_DURATION = timedelta(days=366)  # longer than any rollout's wait; beyond it is a typo (or 1e20)


def _parse_duration(value: Any) -> Any:
    """Accept "20m", "1h30m", "45s", "0s" or a number of seconds, from 0 up to MAX_DURATION."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        h, mi, s = (int(g or 0) for g in m.groups())
        seconds = float(h * 3600 + mi * 60 + s)
    else:
        raise ValueError(f'not a duration: {value!r} (write it like "20m", "1h30m" or "45s")')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r} (a duration is 0 or more)")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {value!r} is longer than {MAX_DURATION.days} days")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def _positive(td: timedelta) -> timedelta:
    if td <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return td


def _plan_duration(td: timedelta) -> str:
    """The plan's own spelling of a duration ("1h1m40s"), as `dump_plan` writes it back to TOML.
    Not words for people (core.words.duration is): the journal's plan document and `plan_digest`
    are made of it, so another spelling would read as a changed plan to a running rollout."""
    total = int(td.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return out or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_parse_duration),
    PlainSerializer(_plan_duration, return_type=str),
]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]  # soaks, timeouts, intervals


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


def _plain(value: str) -> str:
    """A name is shown on every face and typed to confirm: no character that a terminal would
    act on or hide (control, bidi, zero-width, NUL; core.visible.HIDDEN)."""
    from cockpit.core.visible import HIDDEN, escape

    if found := HIDDEN.search(value):
        raise ValueError(f"contains the control, bidi or invisible character {escape(found.group())} at "
                         f"position {found.start() + 1}: write the name in plain characters")
    return value


# A name or label the faces show (release, phase, trigger, role, channel...): plain characters only.
Name = Annotated[str, AfterValidator(_plain)]


def _a_path(value: Path) -> Path:
    if "\x00" in str(value):
        raise ValueError("contains a NUL character: no file can have that path")
    return value


FilePath = Annotated[Path, AfterValidator(_a_path)]  # the OS refuses a NUL in a path: said here, by field

# Numbers are TOML numbers, never booleans (weight = true is not 1), and finite (a NaN threshold
# would make every comparison false and silently disable the rule that uses it).
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Count = Annotated[int, Strict()]


def _haproxy_name(value: str) -> str:
    from cockpit.adapters.gateway_haproxy import check_name

    return check_name(value)


# HAProxy's identifier characters: the only text a runtime-API command is built from.
HaproxyName = Annotated[str, AfterValidator(_haproxy_name)]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Model(BaseModel):
    """Strict base: unknown keys are errors, so a typo never silently disables a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Model):
    """A secret named by reference: an environment variable or a file. The value never lives in config."""

    env: str | None = None
    file: FilePath | None = None

    @field_validator("env")
    @classmethod
    def _a_variable(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not an environment variable name")
        return name

    @field_validator("file", mode="before")
    @classmethod
    def _a_path(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path names no file")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"

    def resolve(self, field: str | None = None) -> str:
        """Read the secret now and remember it for scrubbing; the error names `field` (the
        config field, e.g. "prometheus.token") and where it looked, never a value."""
        where = f"{field}: secret" if field else "secret"
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError([f"{where}: environment variable {self.env} is not set"])
        else:
            try:
                value = Path(self.file).read_text().strip()  # type: ignore[arg-type]
            except (OSError, UnicodeDecodeError) as e:
                reason = getattr(e, "strerror", None) or "not text"
                raise ConfigError([f"{where}: cannot read file {self.file}: {reason}"]) from None
            if not value:
                raise ConfigError([f"{where}: file {self.file} is empty"])
        redact.remember(value)
        return value


# --- release, roles, sign-offs -----------------------------------------------------------------


def _version(value: str) -> str:
    """The version is typed to confirm the kill: it must be exactly what an operator can type."""
    if not value:
        raise ValueError("must not be empty (the kill switch is confirmed by typing it)")
    if value != value.strip():
        raise ValueError(f"{value!r} has leading or trailing whitespace (the kill could never be confirmed)")
    return value  # (and plain characters only: the version is a Name)


class Release(Model):
    name: Name
    version: Annotated[Name, AfterValidator(_version)]
    environment: Name
    region: Name
    data_residency: Name = ""
    chatops: str = ""  # the authorising ChatOps line, checked against this plan


class Role(Model):
    title: Name
    people: list[Name] = []
    contact: Name = ""


# --- preflight checks --------------------------------------------------------------------------


def _literal(value: Any) -> Any:
    """What an expectation compares with: true/false, a finite number or a string."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError("give true/false, a number or a string")
    return value


class Expectation(Model):
    """A value found at a dotted path in JSON, compared to a literal: `summary.critical == 0`."""

    path: str
    comparison: Comparison = Comparison.EQ
    value: Annotated[StrictBool | float | str, BeforeValidator(_literal)]


class _Check(Model):
    id: Ident
    name: Name
    description: str = ""


class FreezeWindowCheck(_Check):
    type: Literal["freeze_window"]
    weekday: Weekday
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindowCheck:
        if self.end <= self.start:
            raise ValueError("end must be after start (a window within one UTC day)")
        return self


class CommandCheck(_Check):
    type: Literal["command"]
    argv: list[str] = Field(min_length=1)
    timeout: PositiveDuration = timedelta(seconds=60)


class HttpCheck(_Check):
    type: Literal["http"]
    url: str
    expect_status: Annotated[Count, Field(ge=100, le=599)] = 200
    expect_json: Expectation | None = None
    timeout: PositiveDuration = timedelta(seconds=10)
    token: SecretRef | None = None

    _plain_url = field_validator("url")(lambda cls, url: _plain_url(url))


class PromQLCheck(_Check):
    type: Literal["promql"]
    query: str
    comparison: Comparison
    threshold: Number


class ReportCheck(_Check):
    type: Literal["report"]
    file: FilePath
    expect: Expectation


class RehearsalCheck(_Check):
    """The plan's query-backed triggers rehearsed over the last `days` (cockpit.rehearsal, quiet span):
    passes when none would have fired. The trigger queries read the canary; `substitute` rewrites
    each query and baseline (`'track="canary"' = 'track="stable"'`) so they read the stable version."""

    type: Literal["rehearsal"]
    days: Annotated[float, Strict(), Field(gt=0, le=30, allow_inf_nan=False)] = 7.0
    triggers: list[Ident] = []  # only these; none: every query-backed trigger
    substitute: dict[str, str] = {}


Check = Annotated[
    FreezeWindowCheck | CommandCheck | HttpCheck | PromQLCheck | ReportCheck | RehearsalCheck,
    Field(discriminator="type"),
]


# --- phases and gates --------------------------------------------------------------------------


class Criterion(Model):
    """An automatic gate criterion: a metric comparison over the phase's soak. With
    source = "alertmanager" the value is the number of alerts firing in Alertmanager (active, not
    silenced, not inhibited; only those with `labels`), sampled every round of the soak."""

    id: Ident
    name: Name
    query: str = ""
    comparison: Comparison | None = None  # None only for source = "judge"
    threshold: Number | None = None
    unit: Name = ""
    source: Literal["prometheus", "alertmanager", "judge"] = "prometheus"
    labels: dict[str, str] = {}

    @model_validator(mode="after")
    def _a_query(self) -> Criterion:
        if self.source == "judge":  # the plan's [judge] decides: Pass passes, Marginal waits for the owners, Fail fails
            given = [k for k, v in (("query", self.query), ("comparison", self.comparison),
                                    ("threshold", self.threshold)) if v not in ("", None)]
            if given:
                raise ValueError(f"a judge criterion takes no {', '.join(given)}: [judge] says how it is judged")
            return self
        if self.source == "prometheus" and not self.query.strip():
            raise ValueError("a prometheus criterion needs a query")
        if self.comparison is None or self.threshold is None:
            raise ValueError(f"a {self.source} criterion needs a comparison and a threshold")
        return self


class Gate(Model):
    owners: list[Ident] = Field(min_length=1)
    auto: list[Criterion] = []
    manual: list[Name] = []

    @field_validator("owners")
    @classmethod
    def _unique_owners(cls, owners: list[str]) -> list[str]:
        _no_duplicates("roles", owners)
        return owners

    @field_validator("auto")
    @classmethod
    def _unique_criteria(cls, auto: list[Criterion]) -> list[Criterion]:
        _no_duplicates("criterion ids", [c.id for c in auto])
        return auto


class Phase(Model):
    name: Annotated[Name, Field(min_length=1)]
    weight: Annotated[Count, Field(ge=1, le=100)]
    soak: Duration  # "0s" is no soak: the gate alone decides (test rigs); never negative
    gate: Gate


# --- triggers, kill switch, escalation ---------------------------------------------------------

Action = Literal["rollback", "hold", "page"]
NoData = Literal["breach", "hold", "ignore"]
QueryFailure = Literal["hold", "breach"]


class Trigger(Model):
    """A rule that acts on its own: a query (or a re-run check) that breaches for its window."""

    id: Ident
    name: Name
    query: str | None = None
    check: Ident | None = None
    comparison: Comparison = Comparison.GT
    threshold: Number | None = None
    baseline: str | None = None  # PromQL for the baseline, e.g. staging p95
    above_baseline_pct: Number | None = None
    for_: Duration = Field(alias="for")
    action: Action
    level: Name
    no_data: NoData = "hold"  # Prometheus answered with no series (or only NaN): what that means
    # Prometheus did not answer (unreachable, timed out, HTTP error) for two polls: the trigger is
    # blind. "hold" blocks advancing and never acts; "breach" counts it as breaching (fail closed).
    on_query_failure: QueryFailure = "hold"
    interval: PositiveDuration | None = None  # how often a check-backed trigger re-runs its check
    unit: Name = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
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
    flag: Name = "canary.enable"
    value: StrictBool = False
    notify: Name = ""  # channel told of a rollback, e.g. "#error-budget"
    verify_query: str | None = None  # canary request rate; must fall to ~0 after the kill
    verify_within: PositiveDuration = timedelta(minutes=2)
    retries: Annotated[Count, Field(ge=0, le=10)] = 3


class EscalationLevel(Model):
    level: Name
    name: Name
    scope: str
    owners: list[Ident] = Field(min_length=1)
    contacts: list[Name] = []
    channel: Name = ""
    pages: list[Name] = []  # more channels paged at this level (e.g. a PagerDuty service)
    ack_timeout: PositiveDuration | None = None  # unacknowledged this long: the next level is paged

    def destinations(self) -> list[str]:
        return list(dict.fromkeys([c for c in [self.channel, *self.pages] if c]))


# --- budget and evidence -----------------------------------------------------------------------


class BudgetCategory(Model):
    id: Ident
    name: Name
    monthly: Annotated[Number, Field(gt=0)]
    projected: Annotated[Number, Field(ge=0)]
    spend_query: str | None = None  # month-to-date spend, if a cost exporter has it


class BudgetAlert(Model):
    at_pct: Annotated[Number, Field(gt=0, le=200)]
    channel: Name
    action: str
    spend_control: SpendControl | None = None  # run once when this crossing is reached in a month


class Budget(Model):
    currency: Name = "USD"
    categories: list[BudgetCategory] = Field(min_length=1)
    alerts: list[BudgetAlert] = []

    @field_validator("alerts")
    @classmethod
    def _increasing(cls, alerts: list[BudgetAlert]) -> list[BudgetAlert]:
        pcts = [a.at_pct for a in alerts]
        if pcts != sorted(set(pcts)):
            raise ValueError("alert thresholds must strictly increase")
        return alerts

    @field_validator("categories")
    @classmethod
    def _unique(cls, categories: list[BudgetCategory]) -> list[BudgetCategory]:
        _no_duplicates("category ids", [c.id for c in categories])
        return categories


# --- evidence and the post-deployment plan (issue 11) ------------------------------------------


def _bundle_name(name: str) -> str:
    """An evidence file name stays inside its bundle: one plain name, no directory, no `..`."""
    plain = name.replace("{phase}", "1")
    if not plain.strip() or plain in (".", "..") or "/" in plain or "\\" in plain or plain.startswith("~"):
        raise ValueError(f"{name!r} is not a plain file name (no directories, no '..', not absolute)")
    if any(ord(c) < 32 or ord(c) == 127 for c in plain) or plain == "manifest.json":
        raise ValueError(f"{name!r} is not a usable evidence file name")
    return name


BundleName = Annotated[str, AfterValidator(_bundle_name)]


class GrafanaEvidence(Model):
    """Grafana's render API: GET {url}/render/d/{dashboard}?from&to&width&height (PNG)."""

    url: Annotated[str, AfterValidator(_plain_url)]
    dashboard: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    org_id: Count = 1
    width: Annotated[Count, Field(ge=100, le=4000)] = 1600
    height: Annotated[Count, Field(ge=100, le=4000)] = 900
    timeout: PositiveDuration = timedelta(seconds=30)
    token: SecretRef | None = None


class JaegerEvidence(Model):
    """Jaeger's query API: GET {url}/api/traces?service&start&end&limit (JSON)."""

    url: Annotated[str, AfterValidator(_plain_url)]
    service: Annotated[str, Field(min_length=1)]
    limit: Annotated[Count, Field(ge=1, le=1000)] = 20
    timeout: PositiveDuration = timedelta(seconds=10)
    token: SecretRef | None = None


class OpaEvidence(Model):
    """OPA decision logs: a JSON (Lines) file the decision-log plugin writes, or an HTTP endpoint."""

    file: FilePath | None = None
    url: Annotated[str | None, AfterValidator(_plain_url)] = None
    timeout: PositiveDuration = timedelta(seconds=10)
    token: SecretRef | None = None

    @model_validator(mode="after")
    def _one_source(self) -> OpaEvidence:
        if (self.file is None) == (self.url is None):
            raise ValueError("give exactly one of file or url")
        return self


class Evidence(Model):
    dir: FilePath = Path("evidence")  # relative to the config file
    per_phase: list[BundleName] = []  # {phase} is the phase number
    final: list[BundleName] = []
    k6_summary: FilePath | None = None  # where k6 --summary-export writes; {phase} is the phase number
    grafana: GrafanaEvidence | None = None
    jaeger: JaegerEvidence | None = None
    opa: OpaEvidence | None = None
    screen: StrictBool = True  # an SVG (and PNG where rsvg-convert exists) of the cockpit's own screen


PostDeployCheck = Literal["evidence_complete", "slos_met"]


class PostDeploymentItem(Model):
    """One item of the post-deployment plan, due `due` after the rollout completed."""

    id: Ident
    name: Name
    owner: Ident
    due: Duration
    auto: PostDeployCheck | None = None  # the cockpit ticks it itself when this holds


# --- connections -------------------------------------------------------------------------------


_USE_TOKEN = 'use token = { env = "VARIABLE" } (or { file = "..." })'
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
_AUTH_SCHEME = re.compile(r"^\s*(bearer|basic|token|digest)\s+\S", re.I)


def _no_secret_headers(headers: dict[str, str]) -> dict[str, str]:
    """Literal headers are for non-secrets; a credential goes in `token`, which names where it lives."""
    for key, value in headers.items():
        if not _HEADER_NAME.match(key):
            raise ValueError(f"{key!r} is not a valid header name")
        if redact.secret_name(key) or _AUTH_SCHEME.match(value):
            raise ValueError(f"header {key} carries a secret: {_USE_TOKEN}")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError(f"header {key}: the value contains control characters")
    return headers


def _plain_url(url: str | None) -> str | None:
    """An http(s) URL with a host and no credentials: a URL is journaled and shown, a secret never is."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise ValueError(f"not a URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {redact.public_url(url)!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"the URL carries credentials (user:password@): {_USE_TOKEN}")
    secret_params = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if redact.secret_name(k)]
    if secret_params:
        raise ValueError(f"the URL carries a secret in its query ({', '.join(secret_params)}): {_USE_TOKEN}")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValueError("the URL contains spaces or control characters")
    return url


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


def _header_name(name: str) -> str:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    return name


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


# --- paging: channels, acknowledgement timers, spend controls, Alertmanager ----------------------
# (one block; the fields that refer to it are EscalationLevel.pages/ack_timeout,
# BudgetAlert.spend_control and Plan.channels/alertmanager)


class _Channel(Model):
    retries: Annotated[Count, Field(ge=0, le=10)] = 3  # after the first try: 5xx, 429 and timeouts only
    timeout: PositiveDuration = timedelta(seconds=5)
    backoff: Duration = timedelta(seconds=1)  # doubled per retry; a 429's Retry-After wins
    max_retry_after: PositiveDuration = timedelta(seconds=60)  # a longer Retry-After gives up instead


class SlackChannel(_Channel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): the URL is the secret."""

    type: Literal["slack"]
    url: SecretRef


class PagerDutyChannel(_Channel):
    """PagerDuty Events API v2: trigger, acknowledge, resolve with a dedup_key per incident."""

    type: Literal["pagerduty"]
    routing_key: SecretRef
    url: str = "https://events.pagerduty.com/v2/enqueue"
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    source: str = "cockpit"
    # PagerDuty's own acknowledgement: with a REST API read token, the guard polls the incident
    # (GET {api_url}/incidents?incident_key=DEDUP_KEY) each round while it is open and not acknowledged.
    api_token: SecretRef | None = None
    api_url: str = "https://api.pagerduty.com"

    _plain_url = field_validator("url", "api_url")(lambda cls, url: _plain_url(url))


class WebhookChannel(_Channel):
    """Any JSON webhook: each string in `body` has {text}, {purpose}, {incident}, {level}, {channel},
    {release} and {version} replaced; the default body is {"text": "{text}", ...}."""

    type: Literal["webhook"]
    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = {}
    token: SecretRef | None = None
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    body: dict[str, Any] = {}

    _no_literal_secrets = field_validator("headers")(lambda cls, h: _no_secret_headers(h))
    _plain_url = field_validator("url")(lambda cls, url: _plain_url(url))
    _token_header = field_validator("token_header")(lambda cls, h: _header_name(h))


ChannelConfig = Annotated[SlackChannel | PagerDutyChannel | WebhookChannel, Field(discriminator="type")]


class SpendControl(Model):
    """The budget's "automatic spend controls activated": a command (argv, no shell) or a webhook."""

    argv: list[str] | None = None
    webhook: str | None = None
    timeout: PositiveDuration = timedelta(seconds=60)
    token: SecretRef | None = None  # sent to the webhook as a bearer token

    _plain_url = field_validator("webhook")(lambda cls, url: _plain_url(url))

    @model_validator(mode="after")
    def _one(self) -> SpendControl:
        if (self.argv is None) == (self.webhook is None):
            raise ValueError("give exactly one of argv or webhook")
        if self.argv is not None and not self.argv:
            raise ValueError("argv: give at least the program")
        return self

    def describe(self) -> str:
        return f"argv: {' '.join(self.argv)}" if self.argv else f"webhook: {redact.public_url(self.webhook or '')}"


class Alertmanager(Model):
    """Alertmanager's v2 API: "all monitoring alerts quiet", and a silence for expected noise."""

    url: str
    timeout: PositiveDuration = timedelta(seconds=5)
    filter: dict[str, str] = {}  # only alerts with these labels count (e.g. {service = "intelgraph"})
    silence: dict[str, str] = {}  # alerts the plan names as expected noise during the rollout
    silence_for: PositiveDuration = timedelta(hours=4)
    token: SecretRef | None = None

    _plain_url = field_validator("url")(lambda cls, url: _plain_url(url))


# --- the judge (issue 23) ----------------------------------------------------------------------

JUDGE_TRACK = "$track"  # in a judge query: the track's label matchers (baseline or canary)
JUDGE_WINDOW = "$window"  # in an events or exposure query: the judged window, e.g. 20m


class JudgeMetric(Model):
    """One judged metric (`[[judge.metrics]]`), field for field a core.judge.MetricRule, plus its
    query with $track. events and exposure (both or neither, with $track and $window): the
    window's event count and exposure per track, for the count test on sparse metrics."""

    name: Name
    query: str
    unit: Name = ""
    direction: Literal["increase", "decrease", "either"] = "either"
    groups: list[Name] = Field(default=["default"], min_length=1)
    critical: StrictBool = False
    must_have_data: StrictBool = False
    nan_strategy: Literal["remove", "replace"] = "remove"
    remove_outliers: StrictBool = False
    outlier_factor: Annotated[Number, Field(gt=0)] = 3.0
    effect_measure: Literal["mean_ratio", "cles"] = "mean_ratio"
    allowed_increase: Annotated[Number, Field(gt=0)] | None = None
    allowed_decrease: Annotated[Number, Field(gt=0)] | None = None
    critical_increase: Annotated[Number, Field(gt=0)] | None = None
    critical_decrease: Annotated[Number, Field(gt=0)] | None = None
    events: str | None = None
    exposure: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> JudgeMetric:
        if JUDGE_TRACK not in self.query:
            raise ValueError(f"query: needs {JUDGE_TRACK} where the track's labels go, e.g. {{{JUDGE_TRACK}}}")
        if (self.events is None) != (self.exposure is None):
            raise ValueError("give both events and exposure (the count test needs both), or neither")
        for key, q in (("events", self.events), ("exposure", self.exposure)):
            if q is not None and JUDGE_TRACK not in q:
                raise ValueError(f"{key}: needs {JUDGE_TRACK} where the track's labels go")
        return self


class Judge(Model):
    """The canary judged against its baseline (`[judge]`), Kayenta's way (core.judge): every
    `interval` over the phase's soak, on range queries for both tracks. A gate criterion with
    source = "judge" uses it; action = "rollback" also pulls the kill switch after `for`
    consecutive Fail judgments."""

    baseline: Annotated[str, Field(min_length=1)]  # label matchers, e.g. 'app="api",track="baseline"'
    canary: Annotated[str, Field(min_length=1)]
    interval: PositiveDuration = timedelta(minutes=1)
    metrics: list[JudgeMetric] = Field(min_length=1)
    group_weights: dict[Name, Annotated[Number, Field(gt=0, le=100)]] = {}
    pass_score: Annotated[Number, Field(ge=0, le=100)] = 95.0
    marginal_score: Annotated[Number, Field(ge=0, le=100)] = 75.0
    tolerance: Annotated[Number, Field(ge=0)] = 0.25
    confidence: Annotated[Number, Field(gt=0, lt=1)] = 0.98
    min_samples: Annotated[Count, Field(ge=2)] = 10
    spread_limit: Annotated[Number, Field(gt=1)] | None = 2.0
    spread_resamples: Annotated[Count, Field(ge=10, le=10_000)] = 200
    seed: Count = 0
    action: Literal["gate", "rollback"] = "gate"  # rollback: a Fail `for` judgments in a row pulls the kill switch
    for_: Annotated[Count, Field(ge=1, le=100)] = Field(default=3, alias="for")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> Judge:
        if self.marginal_score > self.pass_score:
            raise ValueError(f"marginal_score ({self.marginal_score:g}) must not be above "
                             f"pass_score ({self.pass_score:g})")
        _no_duplicates("metric names", [m.name for m in self.metrics])
        groups = {g for m in self.metrics for g in m.groups}
        errors = [f"group_weights.{g}: no metric is in group {g!r}" for g in self.group_weights if g not in groups]
        if sum(self.group_weights.values()) > 100:
            errors.append(f"group_weights: the weights add up to {sum(self.group_weights.values()):g}, more than 100")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def query(self, template: str, track: Literal["baseline", "canary"], window_s: float = 0.0) -> str:
        """A metric's query for one track: $track is its label matchers, $window the judged window."""
        return (template.replace(JUDGE_TRACK, self.baseline if track == "baseline" else self.canary)
                .replace(JUDGE_WINDOW, f"{max(int(window_s), 1)}s"))

    def rules(self):
        """The core judge's rules (core.judge.JudgeRules), field for field."""
        from cockpit.core.judge import Direction, EffectMeasure, JudgeRules, MetricRule, NanStrategy

        return JudgeRules(
            metrics=tuple(MetricRule(
                name=m.name, unit=m.unit, direction=Direction(m.direction), groups=tuple(m.groups),
                critical=m.critical, must_have_data=m.must_have_data, nan_strategy=NanStrategy(m.nan_strategy),
                remove_outliers=m.remove_outliers, outlier_factor=m.outlier_factor,
                effect_measure=EffectMeasure(m.effect_measure), allowed_increase=m.allowed_increase,
                allowed_decrease=m.allowed_decrease, critical_increase=m.critical_increase,
                critical_decrease=m.critical_decrease,
            ) for m in self.metrics),
            group_weights=tuple(self.group_weights.items()), pass_score=self.pass_score,
            marginal_score=self.marginal_score, tolerance=self.tolerance, confidence=self.confidence,
            min_samples=self.min_samples, spread_limit=self.spread_limit,
            spread_resamples=self.spread_resamples, seed=self.seed,
        )


# --- the plan ----------------------------------------------------------------------------------


class Plan(Model):
    """The whole canary plan. Cross-field rules are checked here, so a bad plan never starts."""

    state_dir: FilePath = Path("state")  # relative to the config file
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
    post_deployment: list[PostDeploymentItem] = []  # issue 11: the checklist after completion
    channels: dict[Name, ChannelConfig] = {}  # by the names levels, alerts and the kill switch use
    alertmanager: Alertmanager | None = None
    judge: Judge | None = None  # issue 23: the canary judged against its baseline

    @model_validator(mode="after")
    def _cross_field(self) -> Plan:
        errors: list[str] = []
        weights = [p.weight for p in self.phases]
        if any(b <= a for a, b in zip(weights, weights[1:], strict=False)):
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
        for where, what, items in (
            ("phases", "phase names", [p.name for p in self.phases]),
            ("sign_offs", "sign-offs", self.sign_offs),
            ("escalation", "levels", levels),
        ):
            try:
                _no_duplicates(what, items)
            except ValueError as e:
                errors.append(f"{where}: {e}")
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
        query_triggers = [t.id for t in self.triggers if t.query is not None]
        for i, pre in enumerate(self.preflight):
            if isinstance(pre, RehearsalCheck):
                errors += [f"preflight.{i}.triggers: {t!r} is not a query-backed trigger" for t in pre.triggers
                           if t not in query_triggers]
                if self.prometheus is None:
                    errors.append(f"preflight.{i}.type: a rehearsal check needs a [prometheus] section")
        for name, items in (("preflight", check_ids), ("triggers", [t.id for t in self.triggers])):
            dupes = sorted({x for x in items if items.count(x) > 1})
            if dupes:
                errors.append(f"{name}: duplicate ids {dupes}")
        for i, item in enumerate(self.post_deployment):  # issue 11
            if item.owner not in self.roles:
                errors.append(f"post_deployment.{i}.owner: {item.owner!r} is not a declared role")
        try:
            _no_duplicates("post-deployment ids", [item.id for item in self.post_deployment])
        except ValueError as e:
            errors.append(f"post_deployment: {e}")
        for i, phase in enumerate(self.phases):
            for j, c in enumerate(phase.gate.auto):
                if c.source == "alertmanager" and self.alertmanager is None:
                    errors.append(f"phases.{i}.gate.auto.{j}.source: "
                                  "an alertmanager criterion needs an [alertmanager] section")
                if c.source == "judge" and self.judge is None:
                    errors.append(f"phases.{i}.gate.auto.{j}.source: a judge criterion needs a [judge] section")
        for i, lvl in enumerate(self.escalation):  # extra pages are new: they must name a channel
            errors += [f"escalation.{i}.pages: no channel {c!r} in [channels]"
                       for c in lvl.pages if c not in self.channels]
        for where, c in self.undeclared_channels():  # a typo of a declared name sends nowhere: refused
            if near := difflib.get_close_matches(c, list(self.channels), n=1, cutoff=0.75):
                errors.append(f"{where}: no channel {c!r} in [channels] (did you mean {near[0]!r}?)")
        if self.judge is not None and self.prometheus is None:
            errors.append("judge: the judge reads both tracks from Prometheus: it needs a [prometheus] section")
        if self.kill_switch.gateway not in self.gateways:
            errors.append(f"kill_switch.gateway: {self.kill_switch.gateway!r} is not a declared gateway")
        dialect = self.prometheus.dialect if self.prometheus else "promql"
        for where, query in self.queries():
            problem = query_problem(query, dialect)
            if problem:
                errors.append(f"{where}: {problem}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def undeclared_channels(self) -> list[tuple[str, str]]:
        """(field, name) of every channel the plan sends to that [channels] does not declare, when
        it declares any: those messages are journaled as not delivered. check-config warns."""
        if not self.channels:
            return []
        named = [(f"escalation.{i}.channel", lvl.channel) for i, lvl in enumerate(self.escalation)]
        named += [(f"budget.alerts.{i}.channel", a.channel) for i, a in enumerate(self.budget.alerts)]
        named.append(("kill_switch.notify", self.kill_switch.notify))
        return [(where, c) for where, c in named if c and c not in self.channels]

    # Helpers the engine and the screen share.
    def role_title(self, role: str) -> str:
        r = self.roles.get(role)
        return r.title if r else role

    def level(self, name: str) -> EscalationLevel | None:
        return next((lvl for lvl in self.escalation if lvl.level == name), None)

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.preflight if c.id == check_id), None)

    def queries(self) -> list[tuple[str, str]]:
        """Every PromQL expression of the plan, with its field path."""
        found = [(f"preflight.{i}.query", c.query) for i, c in enumerate(self.preflight) if isinstance(c, PromQLCheck)]
        for i, phase in enumerate(self.phases):
            found += [(f"phases.{i}.gate.auto.{j}.query", c.query) for j, c in enumerate(phase.gate.auto)
                      if c.source == "prometheus"]
        for i, trig in enumerate(self.triggers):
            found += [(f"triggers.{i}.{k}", q) for k, q in (("query", trig.query), ("baseline", trig.baseline))
                      if q is not None]
        if self.kill_switch.verify_query is not None:
            found.append(("kill_switch.verify_query", self.kill_switch.verify_query))
        if self.judge is not None:
            for i, m in enumerate(self.judge.metrics):
                for key, q in (("query", m.query), ("events", m.events), ("exposure", m.exposure)):
                    if q is not None:
                        found += [(f"judge.metrics.{i}.{key} ({track})", self.judge.query(q, track, 300))
                                  for track in ("canary", "baseline")]
        for i, cat in enumerate(self.budget.categories):
            if cat.spend_query is not None:
                found.append((f"budget.categories.{i}.spend_query", cat.spend_query))
        return found


def query_problem(query: str, dialect: str = "promql") -> str | None:
    """Why a query cannot run, or None. PromQL is parsed offline, so a typo fails check-config,
    not the first evaluation in the middle of a rollout."""
    if not query.strip():
        return "empty query"
    if dialect != "promql":
        return None
    import promql_parser  # Python bindings of the Rust PromQL parser; imported when a plan is checked

    try:
        promql_parser.parse(query)
    except ValueError as e:
        return f"PromQL does not parse: {e}"
    return None


def _no_duplicates(what: str, items: list[str]) -> None:
    dupes = sorted({x for x in items if items.count(x) > 1})
    if dupes:
        raise ValueError(f"duplicate {what} {dupes}")


# --- loading -----------------------------------------------------------------------------------


class ConfigError(Exception):
    """A config that cannot be used; `errors` are lines of the form `field.path: message`."""

    def __init__(self, errors: list[str]):
        errors = [_one_line(e) for e in errors]
        super().__init__("\n".join(errors))
        self.errors = errors


def _one_line(text: str) -> str:
    """A message echoes what the file says (keys, values): it stays one line of printable text,
    so a key such as "\\r" or an escape sequence cannot forge or hide other lines on a terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


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


def parse_journaled_plan(document: dict[str, Any]) -> Plan:
    """The plan a journal carries, as this cockpit reads it. A journal written by an older cockpit
    may carry settings this one no longer knows: they are dropped (the chain vouches for the
    document, and nothing this cockpit does can depend on them); every other rule applies."""
    data = copy.deepcopy(document)
    for _ in range(64):
        try:
            return Plan.model_validate(data)
        except ValidationError as e:
            unknown = [err["loc"] for err in e.errors() if err["type"] == "extra_forbidden"]
            if not unknown or not all(_drop(data, loc) for loc in unknown):
                return parse_plan(data)  # a real problem: said field by field
    return parse_plan(data)


def _drop(data: Any, loc: tuple) -> bool:
    for key in loc[:-1]:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(data, dict) and loc[-1] in data:
        del data[loc[-1]]
        return True
    return False


MAX_PLAN_BYTES = 1 << 20  # a plan is a few kilobytes; a megabyte is not a plan


def read_plan_text(path: Path) -> str:
    """The file's text, if it is a regular file of at most MAX_PLAN_BYTES of UTF-8.

    Opened without blocking, so a FIFO is refused instead of waited on; /dev/zero is not regular.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from None
    except UnicodeEncodeError:  # a lone surrogate: no file on this system has that name
        raise ConfigError([f"{path}: cannot read: not a file name this system can spell"]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError([f"{path}: not a regular file"])
        raw = os.read(fd, MAX_PLAN_BYTES + 1)
        while len(raw) <= MAX_PLAN_BYTES and (more := os.read(fd, MAX_PLAN_BYTES + 1 - len(raw))):
            raw += more
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_PLAN_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_PLAN_BYTES // 1024} KiB; a plan is a few kilobytes"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: not UTF-8 text (byte {e.start})"]) from None


def load_plan(path: Path) -> Plan:
    """Read and validate a plan; errors are `FILE: field.path: message` lines."""
    text = read_plan_text(Path(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: TOML syntax: {e}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}: TOML nested too deeply"]) from None
    try:
        return parse_plan(data)
    except RecursionError:
        raise ConfigError([f"{path}: nested too deeply"]) from None
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
