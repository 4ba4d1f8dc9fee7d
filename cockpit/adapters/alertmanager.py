"""Alertmanager's v2 API: the alerts firing now (active, not silenced, not inhibited), and silences.

Feeds the gate criterion kind "alertmanager" ("all monitoring alerts quiet": the count of such
alerts, optionally filtered by label matchers), and the rollout's own silence for the alerts the
plan names as expected noise (created when the rollout is live, expired when it ends).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from cockpit import redact
from cockpit.adapters import error_body
from cockpit.config import Alertmanager as AlertmanagerConfig
from cockpit.config import ConfigError
from cockpit.core import words

ERROR_LIMIT = 200  # characters of an error's body shown


class AlertmanagerError(Exception):
    """Alertmanager did not answer, or answered something else than the API says."""


def matchers(labels: dict[str, str]) -> list[str]:
    """{"severity": "critical"} -> ['severity="critical"'] (the v2 API's filter syntax)."""
    return [f'{k}="{_quote(v)}"' for k, v in sorted(labels.items())]


def _quote(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


class AlertmanagerClient:
    def __init__(self, config: AlertmanagerConfig, *, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.url = config.url.rstrip("/")
        self.endpoint = redact.public_url(self.url)
        headers = {}
        if config.token is not None:
            try:
                headers["Authorization"] = "Bearer " + config.token.resolve("alertmanager.token")
            except ConfigError as e:
                raise AlertmanagerError("; ".join(e.errors)) from None
        self._headers = headers
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.timeout.total_seconds(), headers=self._headers,
                                 transport=self._transport)

    async def _call(self, method: str, path: str, **kw) -> Any:
        """One call, bounded in total by the timeout; an error's body is read only as far as it is shown."""
        timeout = self.config.timeout.total_seconds()
        try:
            async with asyncio.timeout(timeout), self._client() as client:
                async with client.stream(method, f"{self.url}{path}", **kw) as r:
                    if not 200 <= r.status_code < 300:
                        said = await error_body.read(r, ERROR_LIMIT)
                        raise AlertmanagerError(f"{self.endpoint}{path}: HTTP {r.status_code}: {said}")
                    content = await r.aread()
        except (TimeoutError, httpx.TimeoutException):
            raise AlertmanagerError(f"{self.endpoint}: no answer within {words.duration(timeout)}") from None
        except httpx.HTTPError as e:
            raise AlertmanagerError(f"{self.endpoint}: cannot connect ({type(e).__name__})") from None
        if not content:
            return None
        try:
            return json.loads(content)
        except ValueError:
            raise AlertmanagerError(f"{self.endpoint}{path}: not JSON") from None

    async def firing(self, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Alerts active now, not silenced, not inhibited; only those matching `labels` (and the plan's filter)."""
        want = {**self.config.filter, **(labels or {})}
        params = [("active", "true"), ("silenced", "false"), ("inhibited", "false"), ("unprocessed", "true")]
        params += [("filter", m) for m in matchers(want)]
        alerts = await self._call("GET", "/api/v2/alerts", params=params)
        if not isinstance(alerts, list):
            raise AlertmanagerError(f"{self.endpoint}/api/v2/alerts: not a list of alerts")
        return alerts

    async def create_silence(self, labels: dict[str, str], ends_at: datetime, comment: str, created_by: str = "cockpit",
                             starts_at: datetime | None = None) -> str:
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(labels.items())],
            "startsAt": _iso(starts_at or datetime.now(UTC)),
            "endsAt": _iso(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        answer = await self._call("POST", "/api/v2/silences", json=body)
        if not isinstance(answer, dict) or not answer.get("silenceID"):
            raise AlertmanagerError(f"{self.endpoint}/api/v2/silences: no silenceID in the answer")
        return str(answer["silenceID"])

    async def expire_silence(self, silence_id: str) -> None:
        await self._call("DELETE", f"/api/v2/silence/{silence_id}")

    async def silence(self, silence_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/v2/silence/{silence_id}")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
