"""What the evidence bundle collects (Grafana, Jaeger, OPA, the screen) and the post-deployment plan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, model_validator

from cockpit.config.fields import Count, Duration, FilePath, Ident, Model, Name, PositiveDuration
from cockpit.config.secrets import SecretRef
from cockpit.config.urls import _plain_url


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
