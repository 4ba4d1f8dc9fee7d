"""Secrets kept out of every line the cockpit journals or shows: scrubbed by their known values, in linear time.

Every secret this process resolves (`SecretRef.resolve`, a token handed to an adapter, credentials
inside a URL) is remembered here, and `scrub` removes each of them, and every piece of eight
characters or more of each, from any text before it is shortened, stored or printed, also where
the text percent- or JSON-escapes them. Scrubbing pieces, not only whole values, is what makes a
body cut in the middle of a token, or a server that echoes half of one, safe as well.

A secret URL (a Slack webhook) is a secret as a whole: every token-like part of it goes, whatever
segment it is in; its scheme, host and plain words ("services", "security-incidents") are ordinary
text and stay ordinary text everywhere else. Credentials nobody told us about (URL user info, an
auth scheme's value, a query value named like a credential) are caught by patterns, a second net.

Linear in the text, whatever it holds: the known pieces are found by looking up every fifth
four-character window in a set (an eight-character piece always holds one such window), escapes
are decoded only around themselves, and the second net's patterns cannot restart inside a run of
letters. A text cut to `limit` is scrubbed
over `limit` plus the reach of a secret first (`scan_size`), so a cut never splits a secret unseen.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
MARKUP_REDACTED = "&lt;redacted&gt;"  # the same, written inside HTML or SVG
PIECE = 8  # no run of this many characters of a known secret survives a scrub
SHORT = 6  # a secret shorter than PIECE is replaced whole; shorter than this, it cannot be told from text
STRIDE = 5  # every STRIDE-th window of GRAM characters is looked up: a PIECE always holds one of them
GRAM = PIECE - STRIDE + 1
NET_REACH = 256  # how long an unknown credential the second net still sees whole across a cut

# Query parameters and header names that carry credentials by their name.
_SECRET_WORDS = "token|key|secret|password|passwd|pwd|auth|authorization|credentials?|signature|sig|session"
_SECRET_NAMES = "authorization|proxy-authorization|cookie|set-cookie|apikey|api_key|access_token|x-amz-security-token"
_SECRET_NAME = re.compile(rf"(^|[-_.])({_SECRET_WORDS})$|^({_SECRET_NAMES})$", re.I)

# The second net, in two patterns that cannot restart inside a run (so a long run of letters is
# walked once, not once per letter): URL user info, found from its "://"; an auth scheme's value
# (with a digit or a symbol: "Basic checks passed" is prose, "Basic dXNlcjpw..." is not) and a
# query value whose name ends in a credential word ("api_key", "X-Auth-Token"), found from a
# word's start (the look-behind fails at once inside a run).
_USERINFO = re.compile(r"://(?P<userinfo>[^/?#@\s]*@)")
_CREDENTIAL = re.compile(
    rf"(?<![A-Za-z0-9])(?:(?:{_SECRET_WORDS}|cookie|apikey)=(?P<value>[^&\s#'\"<>]+)"
    r"|(?<!_)(?:Bearer|Basic|Token)\s+(?P<auth>(?=[^\s]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}))",
    re.I,
)
# Escapes a server may write a secret in: runs of %XX (UTF-8), \uXXXX, \xXX, \/.
_ESCAPE = re.compile(r"((?:%[0-9A-Fa-f]{2})+|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}|\\/)")
# A URL's plain words ("services", "security-incidents", "v2" is not one): not a token.
_WORDS = re.compile(r"[A-Za-z][a-z]{0,11}(?:[-_.~][A-Za-z][a-z]{0,11})*")


@dataclass(frozen=True)
class _Known:
    """What `scrub` looks for, replaced as a whole when a secret is added (readers never lock)."""

    forms: frozenset[str] = frozenset()  # every form of every secret part (SHORT characters or more)
    pieces: frozenset[str] = frozenset()  # every PIECE-long window of the forms
    grams: frozenset[str] = frozenset()  # every GRAM-long window of the pieces
    whole: tuple[str, ...] = ()  # forms shorter than PIECE: found whole
    longest: int = 0  # the longest secret part (its escaped forms are up to six times as long)


_lock = threading.Lock()
_known = _Known()


def remember(*secrets: str | None) -> None:
    """Add secrets (and the forms they take when quoted, escaped or URL-encoded) to those scrubbed."""
    global _known
    parts = [part for secret in secrets for part in _secret_parts(secret or "")]
    forms = {f for part in parts for f in _forms(part) if len(f) >= SHORT}
    with _lock:
        known = _known
        if forms <= known.forms:
            return
        if not known.forms:
            _scrub_log_records()
        new = forms - known.forms
        pieces = {f[i : i + PIECE] for f in new for i in range(len(f) - PIECE + 1)}
        grams = {p[i : i + GRAM] for p in pieces for i in range(PIECE - GRAM + 1)}
        everything = known.forms | new
        _known = _Known(
            forms=everything, pieces=known.pieces | pieces, grams=known.grams | grams,
            whole=tuple(sorted((f for f in everything if len(f) < PIECE), key=len, reverse=True)),
            longest=max(known.longest, *(len(p) for p in parts)),
        )


def _forms(part: str) -> set[str]:
    return {part, quote(part, safe=""), quote_plus(part, safe=""), unquote(part), json.dumps(part)[1:-1],
            repr(part)[1:-1], html.escape(part)}


def _secret_parts(secret: str) -> list[str]:
    """What of a secret must never show. A token or password: all of it. A secret URL (a Slack or
    PagerDuty webhook): every part of its path, query, fragment and user info that is not a plain
    word, alone and with its neighbours (so a short token between slashes still goes in context),
    wherever it is; not its scheme, host, port or plain words, so that `https://hooks.slack.com/`
    or a channel name in ordinary text is not mistaken for a piece of it."""
    if len(secret) < SHORT:
        return []
    parts = urlsplit(secret) if "://" in secret else None
    if parts is None or not parts.netloc:
        return [secret]
    found = [parts.username or "", parts.password or ""]
    for section in (parts.path, parts.query, parts.fragment):
        run: list[str] = []
        for segment in re.split(r"([/?&=#;,])", section) + ["/"]:
            if re.fullmatch(r"[/?&=#;,]", segment):
                run.append(segment)
            elif segment and not _WORDS.fullmatch(unquote(segment)):
                found.append(segment)
                run.append(segment)
            else:  # a plain word ends a run of tokens
                found.append("".join(run).strip("/?&=#;,"))
                run = []
        found.append("".join(run).strip("/?&=#;,"))
    return [p for p in dict.fromkeys(found) if len(p) >= SHORT]


def scan_size(limit: int) -> int:
    """How many characters of a text to scrub so that its first `limit` may be shown: a reader
    of error bodies reads about this much (times four, in UTF-8 bytes) and no more."""
    return limit + _reach(_known)


def scrub(text: str, limit: int | None = None, *, more: bool = False, markup: bool = False) -> str:
    """`text` without any known secret or piece of one, without URL credentials or auth values;
    then, and only then, cut to `limit` characters. A long text is cut before it is scrubbed, but
    only where the cut cannot split a secret that would then show. `more`: the text is itself the
    start of a longer one (a body read only in part). `markup`: the text is HTML or SVG, where a
    bare `<redacted>` would be read as a tag (an SVG that no longer parses, a word that vanishes)."""
    text, known = str(text), _known
    if limit is None:
        spans = _spans(text, known)
        if markup:
            spans = [(start, end, MARKUP_REDACTED if said == REDACTED else said) for start, end, said in spans]
        return _apply(text, spans)
    reach = _reach(known)
    keep = limit + reach
    while True:
        part = text[:keep]
        spans = _spans(part, known)
        out = _apply(part, spans)
        if not (more or keep < len(text)):
            break
        shown = _shown_before(spans, len(part) - reach)  # what may show of a text cut at its end
        if shown >= limit or keep >= len(text):
            if shown < len(out):
                out = out[:shown] + "…"
            break
        keep *= 2  # secrets so many and so long (or user info so long) that it shrank: scrub more
    if len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


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


# --- finding what to replace: (start, end, replacement) spans of the text, in one pass each ---------


def _reach(known: _Known) -> int:
    """How far past a cut a secret can reach and still be missed before it (escaped: six characters each)."""
    return max(NET_REACH, 6 * known.longest) + PIECE


def _spans(text: str, known: _Known) -> list[tuple[int, int, str]]:
    spans = _known_spans(text, known)
    if known.forms and ("%" in text or "\\" in text):
        spans += _escaped_spans(text, known)
    spans += _net_spans(text)
    return _merged(spans)


def _known_spans(text: str, known: _Known) -> list[tuple[int, int, str]]:
    """Every piece of a known secret in `text`: a set lookup of every STRIDE-th GRAM-long window
    (a piece at j holds the window at the multiple of STRIDE in j..j+STRIDE-1), then the pieces
    around each window found. Linear in the text whatever it holds."""
    spans: list[tuple[int, int, str]] = []
    n, pieces, grams = len(text), known.pieces, known.grams
    if pieces and n >= PIECE:
        for i in [i for i in range(0, n - GRAM + 1, STRIDE) if text[i : i + GRAM] in grams]:
            for j in range(max(0, i - STRIDE + 1), min(i, n - PIECE) + 1):
                if text[j : j + PIECE] in pieces:
                    spans.append((j, j + PIECE, REDACTED))
    for short in known.whole:
        at = text.find(short)
        while at >= 0:
            spans.append((at, at + len(short), REDACTED))
            at = text.find(short, at + len(short))
    return spans


def _escaped_spans(text: str, known: _Known) -> list[tuple[int, int, str]]:
    """Known pieces written with escapes (`Tok%33n`, `\\u0054ok3n`): a piece that holds an escape
    lies within PIECE - 1 characters of it, so only those stretches are decoded and looked at (or,
    where escapes are everywhere, all of the text at once), and what is found is mapped back to the
    escaped text it came from."""
    parts = _ESCAPE.split(text)  # text, escape, text, escape, ..., text
    if len(parts) == 1:
        return []
    starts = list(accumulate(map(len, parts), initial=0))  # where each part starts in `text`
    if len(parts) > len(text) // 32:
        plain = parts[:]
        table = {e: _unescape(e) for e in set(parts[1::2])}
        plain[1::2] = [table[e] for e in parts[1::2]]
        return _mapped(plain, starts, list(map(len, parts)), known)
    reach = PIECE - 1
    spans: list[tuple[int, int, str]] = []
    k = 1
    while k < len(parts):
        first = k
        while k + 2 < len(parts) and len(parts[k + 1]) < 2 * reach:  # escapes close together: one stretch
            k += 2
        # the stretch: the end of the text before the first escape, up to the start of the one after the last
        before = parts[first - 1][-reach:]
        plain, where, sizes = [before], [starts[first] - len(before)], [len(before)]
        for j in range(first, k + 1, 2):
            after = parts[j + 1] if j < k else parts[j + 1][:reach]
            plain += [_unescape(parts[j]), after]
            where += [starts[j], starts[j + 1]]
            sizes += [len(parts[j]), len(after)]
        spans += _mapped(plain, where, sizes, known)
        k += 2
    return spans


def _mapped(plain: list[str], where: list[int], sizes: list[int], known: _Known) -> list[tuple[int, int, str]]:
    """Known pieces in decoded segments (text, escape, text, ...: each decoded, where it starts in
    the escaped text and how long it is there), as spans of the escaped text (an escape goes whole)."""
    ends = list(accumulate(map(len, plain)))

    def back(at: int, end: bool) -> int:
        k = bisect_right(ends, at - end)  # the segment holding the character at (or before) `at`
        if k % 2:  # an escape: all of it
            return where[k] + sizes[k] if end else where[k]
        return where[k] + at - (ends[k] - len(plain[k]))

    return [(back(a, False), back(b, True), r) for a, b, r in _known_spans("".join(plain), known)]


def _unescape(escape: str) -> str:
    if escape.startswith("%"):
        return bytes.fromhex(escape.replace("%", "")).decode("utf-8", "replace")
    if escape == "\\/":
        return "/"
    return chr(int(escape[2:], 16))


def _net_spans(text: str) -> list[tuple[int, int, str]]:
    """The second net: URL user info (dropped), auth values and credential-named query values."""
    spans: list[tuple[int, int, str]] = []
    if "@" in text:
        spans += [(m.start("userinfo"), m.end("userinfo"), "") for m in _USERINFO.finditer(text)]
    for m in _CREDENTIAL.finditer(text):
        said = "value" if m.start("value") >= 0 else "auth"
        spans.append((m.start(said), m.end(said), REDACTED))
    return spans


def _merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Sorted and without overlaps: a span inside another is the outer one's; spans that overlap
    (or touch, both redacted) become one redaction."""
    out: list[tuple[int, int, str]] = []
    for start, end, said in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out:
            s0, e0, said0 = out[-1]
            if end <= e0:
                continue
            if start < e0 or (start == e0 and said == said0 == REDACTED):
                out[-1] = (s0, end, REDACTED)
                continue
        out.append((start, end, said))
    return out


def _apply(text: str, spans: list[tuple[int, int, str]]) -> str:
    out, pos = [], 0
    for start, end, said in spans:
        out += [text[pos:start], said]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _shown_before(spans: list[tuple[int, int, str]], end: int) -> int:
    """How long the scrubbed text is that comes from the text before `end` (a span begun there counts whole)."""
    size, pos = 0, 0
    for start, stop, said in spans:
        if start >= end:
            break
        size += start - pos + len(said)
        pos = stop
    return size + max(0, end - pos)
