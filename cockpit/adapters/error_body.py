"""What a server said in a body we only show: a bounded number of bytes, streamed and stopped, then scrubbed and cut.

A server that answers 500 with 400 KB (or 400 MB) must not cost the cockpit more than the few
hundred characters it shows: the body is read only as far as `redact.scan_size` needs for them
(in UTF-8 bytes, four per character at worst), the connection is dropped after that, and what
was read is scrubbed knowing it may go on (`redact.scrub(..., more=True)`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from cockpit import redact

if TYPE_CHECKING:
    import httpx
    import requests


def budget(limit: int) -> int:
    """Bytes to read for `limit` shown characters: every character a secret could reach across the cut."""
    return 4 * redact.scan_size(limit)


async def read_bytes(response: httpx.Response, most: int) -> tuple[bytes, bool]:
    """At most `most` bytes of a streamed httpx response's body, and whether it went on."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > most:
            return bytes(data[:most]), True
    return bytes(data), False


async def read(response: httpx.Response, limit: int) -> str:
    """A streamed httpx response's body as it may be shown: one line, scrubbed, at most `limit` characters."""
    data, more = await read_bytes(response, budget(limit))
    return shown(data, limit, more=more, encoding=response.encoding)


def read_sync(response: requests.Response, limit: int, *, timeout_s: float) -> str:
    """The same for a `requests` response not yet read (stream=True, or a response hook),
    stopping after `timeout_s` too (a server that sends a byte a second); closes it."""
    most, data, more = budget(limit), bytearray(), False
    deadline = time.monotonic() + timeout_s
    try:
        for chunk in response.iter_content(chunk_size=4096):
            data += chunk
            if len(data) > most or time.monotonic() > deadline:
                more = True
                break
    except Exception:  # noqa: BLE001 - a body that breaks off is shown as far as it came
        more = True
    finally:
        response.close()
    return shown(bytes(data[:most]), limit, more=more, encoding=response.encoding)


def shown(data: bytes, limit: int, *, more: bool = False, encoding: str | None = None) -> str:
    """Bytes of a body as one line of at most `limit` characters, scrubbed before it is cut."""
    most = budget(limit)
    if len(data) > most:
        data, more = data[:most], True
    try:
        text = data.decode(encoding or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = data.decode("utf-8", "replace")
    return redact.scrub(" ".join(text.split()), limit, more=more)
