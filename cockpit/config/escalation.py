"""Who is told and what is spent: escalation levels, channels, the budget and its spend controls, Alertmanager."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from cockpit import redact
from cockpit.config.checks import _no_duplicates
from cockpit.config.fields import Count, Duration, Ident, Model, Name, Number, PositiveDuration
from cockpit.config.secrets import SecretRef
from cockpit.config.urls import _header_name, _no_secret_headers, _plain_url


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


# --- the budget --------------------------------------------------------------------------------


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
