"""Secrets kept out of every line the cockpit journals or shows: scrub first, then cut.

One place for it. Every secret this process resolves (`SecretRef.resolve`, a token handed to an
adapter, credentials inside a URL) is remembered here, and `scrub` removes each of them, and
every piece of eight characters or more of each, from any text before it is shortened, stored
or printed (of a secret URL, its token-like parts: its host and words are not secret). Scrubbing pieces, not only whole values, is what makes a body cut in the middle of
a token, or a server that echoes half of one, safe as well.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
PIECE = 8  # no run of this many characters of a known secret survives a scrub
SHORT = 6  # a secret shorter than PIECE is replaced whole; shorter than this, it cannot be told from text

# Query parameters and header names that carry credentials by their name.
_SECRET_NAME = re.compile(
    r"(^|[-_.])(token|key|secret|password|passwd|pwd|auth|authorization|credentials?|signature|sig|session)$"
    r"|^(authorization|proxy-authorization|cookie|set-cookie|apikey|api_key|access_token|x-amz-security-token)$",
    re.I,
)
# Credentials in text we did not resolve ourselves: URL user info and an auth scheme's value.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*@)")
# (a value with a digit or a symbol: "Basic checks passed" is prose, "Basic dXNlcjpw..." is not)
_AUTH_VALUE = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token)(?P<sep>\s+)(?P<value>(?=[^\s]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,})", re.I
)
_QUERY_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)=(?P<value>[^&\s#'\"<>]+)")

_lock = threading.Lock()
_known: set[str] = set()
_pieces: frozenset[str] = frozenset()
_whole: tuple[str, ...] = ()


def remember(*secrets: str | None) -> None:
    """Add secrets (and the forms they take when quoted, escaped or URL-encoded) to those scrubbed."""
    global _pieces, _whole
    forms = set()
    for secret in secrets:
        for part in _secret_parts(secret or ""):
            forms.update({part, quote(part, safe=""), unquote(part), json.dumps(part)[1:-1], repr(part)[1:-1]})
    with _lock:
        if forms <= _known:
            return
        if not _known:
            _scrub_log_records()
        _known.update(f for f in forms if len(f) >= SHORT)
        _pieces = frozenset(f[i : i + PIECE] for f in _known for i in range(len(f) - PIECE + 1))
        _whole = tuple(sorted((f for f in _known if len(f) < PIECE), key=len, reverse=True))


_WORDS = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")  # "services", "security-incidents": a path's words, not a token


def _secret_parts(secret: str) -> list[str]:
    """What of a secret must never show. A token or password: all of it. A secret URL (a Slack or
    PagerDuty webhook): the token-like parts of its path, query and user info, not its scheme,
    host or plain words, so that `https://hooks.slack.com/services/` or a channel name in
    ordinary text is not mistaken for a piece of it."""
    if len(secret) < SHORT:
        return []
    parts = urlsplit(secret) if "://" in secret else None
    if parts is None or not parts.netloc:
        return [secret]
    pieces = re.split(r"[/?&=#]", f"{parts.path}?{parts.query}") + [parts.password or ""]
    return [p for p in pieces if len(p) >= SHORT and not _WORDS.fullmatch(p)]


def scrub(text: str, limit: int | None = None) -> str:
    """`text` without any known secret or piece of one, without URL credentials or auth values;
    then, and only then, cut to `limit` characters."""
    text = _without_pieces(str(text))
    for value in _whole:
        text = text.replace(value, REDACTED)
    text = _USERINFO.sub(lambda m: m["scheme"], text)
    text = _AUTH_VALUE.sub(lambda m: f"{m['scheme']}{m['sep']}{REDACTED}", text)
    text = _QUERY_PAIR.sub(_pair, text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def scrub_tree(value: Any) -> Any:
    """`scrub` applied to every string inside JSON-like data (evidence dicts, argv lists)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_tree(v) for v in value]
    return value


def public_url(url: str) -> str:
    """The URL as it may be journaled and shown: no user info, secret-looking query values redacted,
    no fragment. Remembers what it removed, so the same values are scrubbed from any text."""
    parts = urlsplit(url)
    remember(*url_secrets(url))
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the text, it carries no credential
        port = None
        netloc = parts.netloc.rpartition("@")[2]
    if port:
        netloc = f"{netloc}:{port}"
    pairs = [(k, REDACTED if secret_name(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = urlencode(pairs, safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries: the password and secret-looking query values.
    (The user name is dropped from shown URLs too, but is not scrubbed from all text.)"""
    parts = urlsplit(url)
    found = [parts.password]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if secret_name(k)]
    return [f for f in found if f]


def secret_name(name: str) -> bool:
    """True for a header or query parameter whose name says it carries a credential
    (Authorization, Proxy-Authorization, Cookie, X-Auth-Token, *-Token, *-Key, api_key, ...)."""
    return bool(_SECRET_NAME.search(name.strip()))


def known_count() -> int:
    """How many forms of secrets are remembered (for reprs that say so without saying them)."""
    return len(_known)


def _scrub_log_records() -> None:
    """Every log record made from now on is scrubbed as it is made (libraries log request URLs)."""
    make = logging.getLogRecordFactory()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
            return record
        record.msg, record.args = scrub(message), None
        return record

    logging.setLogRecordFactory(scrubbed)


def _without_pieces(text: str) -> str:
    pieces = _pieces
    if not pieces or len(text) < PIECE:
        return text
    covered = bytearray(len(text))
    for i in range(len(text) - PIECE + 1):
        if text[i : i + PIECE] in pieces:
            covered[i : i + PIECE] = b"\x01" * PIECE
    if not any(covered):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(REDACTED)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _pair(m: re.Match[str]) -> str:
    return f"{m['name']}={REDACTED}" if secret_name(m["name"]) else m[0]
