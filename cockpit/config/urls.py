"""What a URL or a header in the plan may carry: http(s) with a host, never a credential."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from cockpit import redact

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


def _header_name(name: str) -> str:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    return name
