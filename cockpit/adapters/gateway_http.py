"""The HTTP flag gateway: `canary.enable` and the canary weight through a JSON feature-flag API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from cockpit import redact
from cockpit.adapters import error_body
from cockpit.adapters.gateway import GatewayError, GatewayState
from cockpit.core import words
from cockpit.redact import REDACTED

BODY_LIMIT = 200  # characters of an error body kept, after scrubbing
READ_LIMIT = 1 << 20  # bytes of a read-back read at most


class _TokenAuth(httpx.Auth):
    """Adds the token header at send time, so the token lives in one object whose repr hides it."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request

    def __repr__(self) -> str:
        return f"<token in {self._header}: {REDACTED}>"


class _Endpoint:
    """A URL whose repr is its public form, so a traceback's locals never show credentials."""

    def __init__(self, url: str) -> None:
        self.raw = url
        self.public = redact.public_url(url)  # and remembers the URL's credentials for scrubbing

    def __repr__(self) -> str:
        return self.public


class HTTPFlagGateway:
    """Sets flags with one JSON request each and reads them back with a GET.

    The body is `{name_key: flag, value_key: value}` (default `{"flag": ..., "value": ...}`);
    with `name_key=None` it is `{flag: value}`. The read-back fields are dotted paths into the
    JSON, where a key may itself contain dots (`"canary.enable"` finds `{"canary.enable": x}` as
    well as `{"canary": {"enable": x}}`). `weight_flag=None` means the API has no weight.
    The token arrives resolved; it is sent only in `token_header` and never appears in a
    message, repr or chained exception.
    """

    def __init__(
        self,
        url: str,
        *,
        method: str = "PUT",
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        token_header: str = "Authorization",
        token_prefix: str = "Bearer ",
        flag: str = "canary.enable",
        weight_flag: str | None = "canary.weight",
        read_url: str | None = None,
        enabled_field: str = "canary.enable",
        weight_field: str | None = "canary.weight",
        name_key: str | None = "flag",
        value_key: str = "value",
        timeout_s: float = 2.0,
    ) -> None:
        self.url = _Endpoint(url)
        self.read_url = _Endpoint(read_url or url)
        self.method = method.upper()
        self.flag = flag
        self.weight_flag = weight_flag
        self.enabled_field = enabled_field
        self.weight_field = weight_field
        self.name_key = name_key
        self.value_key = value_key
        self.timeout_s = timeout_s
        self.name = f"http {self.url.public}"
        self._headers = dict(headers or {})
        header_value = f"{token_prefix}{token}" if token else None
        redact.remember(token)
        self._auth = _TokenAuth(token_header, header_value) if header_value else None
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        token = REDACTED if self._auth else None
        return f"HTTPFlagGateway({self.url.public!r}, method={self.method!r}, token={token!r})"

    async def set_weight(self, weight: int) -> None:
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ValueError(f"canary weight must be an integer 0..100, got {weight!r}")
        if self.weight_flag is None:
            raise GatewayError(f"{self.method} {self.url.public}: no weight flag configured")
        await self._set(self.weight_flag, weight)

    async def set_enabled(self, enabled: bool) -> None:
        await self._set(self.flag, bool(enabled))

    async def read(self) -> GatewayState:
        data = await self._send("GET", self.read_url, None)
        enabled = _as_bool(_lookup(data, self.enabled_field.split(".")))
        weight = None
        if self.weight_field is not None:
            weight = _as_weight(_lookup(data, self.weight_field.split(".")))
        if enabled is None or (self.weight_field is not None and weight is None):
            found = f"{self.enabled_field}={_short(data, self.enabled_field)}"
            if self.weight_field is not None:
                found += f", {self.weight_field}={_short(data, self.weight_field)}"
            message = f"GET {self.read_url.public}: read-back has {found} (want true/false and 0..100)"
            raise GatewayError(redact.scrub(message))
        return GatewayState(weight=weight, enabled=enabled, detail=f"read from {self.read_url.public}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _set(self, name: str, value: object) -> None:
        body = {name: value} if self.name_key is None else {self.name_key: name, self.value_key: value}
        await self._send(self.method, self.url, body)

    async def _send(self, method: str, endpoint: _Endpoint, body: object) -> Any:
        """One request, bounded in total by timeout_s; every failure is a GatewayError without secrets.
        A body is read only as far as it is used: an error's as far as BODY_LIMIT shown characters
        need, a read-back's up to READ_LIMIT bytes (a flag API's answer is small)."""
        where = f"{method} {endpoint.public}"
        if self._client is None:  # created here so it belongs to the running event loop
            self._client = httpx.AsyncClient(headers=self._headers, auth=self._auth, timeout=self.timeout_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._client.stream(method, endpoint.raw, json=body) as response:
                    answer = f"HTTP {response.status_code}"
                    if not response.is_success:
                        raise GatewayError(f"{where}: {answer} {await error_body.read(response, BODY_LIMIT)!r}")
                    data, more = await error_body.read_bytes(response, READ_LIMIT)  # read whole: the connection is kept
        except (TimeoutError, httpx.TimeoutException):  # total bound, or httpx's own per-phase one
            raise GatewayError(f"{where}: no answer within {words.duration(self.timeout_s)}") from None
        except httpx.HTTPError as exc:
            raise GatewayError(redact.scrub(f"{where}: {type(exc).__name__}: {exc}", 500)) from None
        if method != "GET":
            return None
        if more:
            raise GatewayError(f"{where}: {answer} but longer than {READ_LIMIT} bytes (not a flag API's read-back?)")
        try:
            return json.loads(data)
        except ValueError:
            raise GatewayError(f"{where}: {answer} but not JSON: "
                               f"{error_body.shown(data, BODY_LIMIT, encoding=response.encoding)!r}") from None


def _lookup(data: Any, parts: list[str]) -> Any:
    """Follow a dotted path, preferring the longest key that matches (keys may contain dots)."""
    if not parts:
        return data
    if not isinstance(data, Mapping):
        return None
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in data:
            found = _lookup(data[key], parts[cut:])
            if found is not None:
                return found
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _as_weight(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and 0 <= number <= 100 else None


def _short(data: Any, path: str) -> str:
    return redact.scrub(json.dumps(_lookup(data, path.split("."))), limit=40)
