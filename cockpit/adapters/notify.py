"""Delivering messages to channels: Slack-compatible webhooks, PagerDuty Events v2, generic JSON webhooks.

Bounded retries with backoff on 5xx, 429 (its Retry-After honoured) and timeouts; any other
answer is final. Delivery runs in the background (`Notifier`: a bounded queue and a few worker
tasks), so no kill, round or key waits on a webhook. Secrets (a Slack URL, a routing key, a
token) are resolved once, remembered by `redact` and never put in a result, a log line or an
error: results say the channel's name and what answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from cockpit import redact
from cockpit.adapters import error_body
from cockpit.config import ChannelConfig, ConfigError, PagerDutyChannel, Plan, SlackChannel, WebhookChannel
from cockpit.core import events as ev
from cockpit.core import words
from cockpit.core.paging import dedup_key

if TYPE_CHECKING:
    import httpx  # imported where a request is made: the demo's simulated channels never load it

log = logging.getLogger("cockpit.notify")
QUEUE_SIZE = 256  # a burst larger than this is refused at once (and journaled as not sent)
WORKERS = 4
PD_ACTIONS = {"page": "trigger", "acknowledge": "acknowledge", "resolve": "resolve"}
SNIPPET = 120  # characters of a failed answer's body said in its error
ERROR_LIMIT = 300  # characters of an error or a try journaled
WHO_LIMIT = 120  # characters of who acknowledged, as PagerDuty says it
ACK_BYTES = 1 << 20  # PagerDuty's answer about one incident key is a few KB; more is not read
ACK_WAIT_S = 0.5  # how long a round waits for PagerDuty's acknowledgements; a slower poll is read next round


@dataclass(frozen=True)
class Message:
    channel: str
    purpose: str
    text: str
    incident: str = ""
    level: str = ""
    release: str = ""
    version: str = ""
    ref: int = 0  # the outbox seq, for a dedup key when there is no incident

    @classmethod
    def of(cls, queued: ev.NotificationQueued, plan: Plan, seq: int = 0) -> Message:
        return cls(queued.channel, queued.purpose, queued.text, queued.incident, queued.level,
                   plan.release.name, plan.release.version, seq)


@dataclass
class Delivery:
    """The outcome after every try: what the journal's Notified says."""

    delivered: bool
    attempts: int
    tries: list[str] = field(default_factory=list)
    error: str = ""
    status: int | None = None

    def notified(self, seq: int, queued: ev.NotificationQueued) -> ev.Notified:
        return ev.Notified(
            channel=queued.channel, text=queued.text, delivered=self.delivered,
            error=redact.scrub(self.error, ERROR_LIMIT), queued=seq, purpose=queued.purpose, incident=queued.incident,
            attempts=self.attempts, tries=tuple(redact.scrub(t, ERROR_LIMIT) for t in self.tries),
        )


class Channel:
    """One configured channel with its secrets resolved: builds a request, sends it with retries."""

    def __init__(self, name: str, config: ChannelConfig, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.name = name
        self.config = config
        self.sleep = sleep
        self.problem = ""  # a secret that could not be read: every delivery fails with this
        self._url = ""
        self._secret = ""
        try:
            if isinstance(config, SlackChannel):
                self._url = _secret_url(config.url, f"channels.{name}.url")
            elif isinstance(config, PagerDutyChannel):
                self._url, self._secret = config.url, config.routing_key.resolve(f"channels.{name}.routing_key")
            else:
                self._url = config.url
                self._secret = config.token.resolve(f"channels.{name}.token") if config.token else ""
        except ConfigError as e:
            self.problem = "; ".join(e.errors)

    @property
    def kind(self) -> str:
        return self.config.type

    @property
    def polls_acknowledgement(self) -> bool:
        return isinstance(self.config, PagerDutyChannel) and self.config.api_token is not None and not self.problem

    async def acknowledged_by(self, key: str, client: httpx.AsyncClient | None = None) -> str | None:
        """PagerDuty's own acknowledgement of the incident with this dedup key: who, or None.
        Polled with the REST API read token (`api_token`); any failure reads as "not yet"."""
        cfg = self.config
        if not isinstance(cfg, PagerDutyChannel) or cfg.api_token is None:
            return None
        try:
            token = cfg.api_token.resolve(f"channels.{self.name}.api_token")
        except ConfigError as e:
            log.error("channel %s: cannot poll PagerDuty: %s", self.name, "; ".join(e.errors))
            return None
        import httpx

        headers = {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"}
        own = client is None
        client = client or httpx.AsyncClient()
        timeout = cfg.timeout.total_seconds()
        try:
            async with asyncio.timeout(timeout):
                async with client.stream("GET", f"{cfg.api_url.rstrip('/')}/incidents", params={"incident_key": key},
                                         headers=headers, timeout=timeout) as r:
                    if r.status_code != 200:  # its body is not read at all
                        return None
                    data, more = await error_body.read_bytes(r, ACK_BYTES)
            if more:
                log.warning("channel %s: PagerDuty's answer is larger than %d bytes: not read", self.name, ACK_BYTES)
                return None
            incidents = json.loads(data).get("incidents", [])
        except (TimeoutError, httpx.HTTPError, ValueError, AttributeError) as e:
            log.warning("channel %s: cannot poll PagerDuty: %s", self.name, type(e).__name__)
            return None
        finally:
            if own:
                await client.aclose()
        for inc in incidents if isinstance(incidents, list) else []:
            if isinstance(inc, dict) and inc.get("status") in ("acknowledged", "resolved"):
                acks = inc.get("acknowledgements") or []
                who = ((acks[-1].get("acknowledger") or {}).get("summary")
                       if acks and isinstance(acks[-1], dict) else None)
                return redact.scrub(str(who or "PagerDuty"), WHO_LIMIT)  # a name, journaled: never a page of text
        return None

    def request(self, m: Message) -> tuple[str, dict[str, str], dict[str, Any]]:
        """(method, headers, JSON body) for this message."""
        cfg = self.config
        if isinstance(cfg, SlackChannel):
            context = " · ".join(x for x in (m.purpose, m.incident, m.level, f"{m.release} {m.version}".strip()) if x)
            return "POST", {}, {
                "text": m.text,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": m.text}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
                ],
            }
        if isinstance(cfg, PagerDutyChannel):
            action = PD_ACTIONS.get(m.purpose, "trigger")
            key = dedup_key(f"{m.release} {m.version}", m.incident or f"{m.purpose}-{m.ref}")
            body: dict[str, Any] = {"routing_key": self._secret, "event_action": action, "dedup_key": key}
            if action == "trigger":
                body["payload"] = {
                    "summary": m.text[:1024], "source": cfg.source, "severity": cfg.severity,
                    "component": m.release, "group": m.level or m.purpose,
                    "custom_details": {"incident": m.incident, "level": m.level, "purpose": m.purpose,
                                       "version": m.version},
                }
            return "POST", {}, body
        assert isinstance(cfg, WebhookChannel)
        fields = {"text": m.text, "purpose": m.purpose, "incident": m.incident, "level": m.level,
                  "channel": m.channel, "release": m.release, "version": m.version}
        template = cfg.body or {"text": "{text}", "purpose": "{purpose}", "incident": "{incident}", "level": "{level}",
                                "release": "{release}", "version": "{version}"}
        headers = dict(cfg.headers)
        if self._secret:
            headers[cfg.token_header] = cfg.token_prefix + self._secret
        return cfg.method, headers, _fill(template, fields)

    async def send(self, m: Message, client: httpx.AsyncClient | None = None) -> Delivery:
        """Try once, then retry 5xx, 429 and timeouts up to `retries` times with backoff."""
        if self.problem:
            return Delivery(False, 0, [], f"channel {self.name} cannot be used: {self.problem}")
        import httpx

        method, headers, body = self.request(m)
        cfg = self.config
        timeout = cfg.timeout.total_seconds()
        own = client is None
        client = client or httpx.AsyncClient(timeout=timeout)
        tries: list[str] = []
        error, status = "", None
        try:
            for attempt in range(cfg.retries + 1):
                wait = cfg.backoff.total_seconds() * 2**attempt
                started = time.monotonic()
                try:
                    status, snippet, retry_after = await self._try(client, method, headers, body, timeout)
                except (TimeoutError, httpx.TimeoutException):
                    status, error = None, f"timed out after {words.duration(timeout)}"
                    tries.append(error)
                except httpx.HTTPError as e:
                    status, error = None, f"cannot connect: {type(e).__name__}"
                    tries.append(error)
                else:
                    if 200 <= status < 300:
                        tries.append(f"HTTP {status} in {words.duration(time.monotonic() - started)}")
                        return Delivery(True, attempt + 1, tries, "", status)
                    error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
                    if status == 429:
                        after = _retry_after(retry_after)
                        if after is not None:
                            if after > cfg.max_retry_after.total_seconds():
                                tries.append(f"HTTP 429, Retry-After {words.duration(after)} "
                                             f"(longer than {words.duration(cfg.max_retry_after)})")
                                error = f"HTTP 429: Retry-After {words.duration(after)} is longer than max_retry_after"
                                break
                            wait = after
                        tries.append("HTTP 429"
                                     + (f", Retry-After {words.duration(after)}" if after is not None else ""))
                    elif status >= 500:
                        tries.append(f"HTTP {status}")
                    else:
                        tries.append(error)
                        break  # 4xx: retrying the same request cannot help
                if attempt < cfg.retries:
                    log.warning("channel %s: %s; retrying in %.2gs", self.name, tries[-1], wait)
                    await self.sleep(wait)
        finally:
            if own:
                await client.aclose()
        return Delivery(False, len(tries), tries, error, status)

    async def _try(self, client: httpx.AsyncClient, method: str, headers: dict[str, str], body: Any,
                   timeout: float) -> tuple[int, str, str | None]:
        """One request, bounded in total by the channel's timeout: (status, what its body said,
        Retry-After). The body is read only as far as SNIPPET characters of it need (a channel
        answering 500 with 400 KB costs a few KB), and scrubbed."""
        async with asyncio.timeout(timeout):
            async with client.stream(method, self._url, json=body, headers=headers, timeout=timeout) as r:
                return r.status_code, await error_body.read(r, SNIPPET), r.headers.get("retry-after")


def _secret_url(ref, field: str) -> str:
    """A webhook URL that is itself the secret (Slack's /services/T…/B…/…, or a token in any
    segment): resolved like any secret, and so remembered as a whole; `redact` scrubs every
    token-like part of it, wherever it shows, and leaves its scheme, host and plain words alone."""
    from urllib.parse import urlsplit

    value = ref.resolve(field)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([f"{field}: secret: not an http(s) URL"])
    return value


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number, or an HTTP date from now)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _fill(template: Any, fields: dict[str, str]) -> Any:
    """Replace {name} placeholders in every string of a JSON template (no format-string evaluation)."""
    if isinstance(template, str):
        for k, v in fields.items():
            template = template.replace("{" + k + "}", v)
        return template
    if isinstance(template, dict):
        return {k: _fill(v, fields) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, fields) for v in template]
    return template


Result = Callable[[int, ev.NotificationQueued, Delivery], object]  # what it answers is not read


class Notifier:
    """Delivers queued messages in the background: `submit` never waits on the network.

    `on_result(seq, queued, delivery)` is called on the event loop when a message is delivered
    or finally fails (the guard journals it); a message already in flight is not sent twice.
    """

    def __init__(self, plan: Plan, on_result: Result, *, workers: int = WORKERS, queue_size: int = QUEUE_SIZE,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.plan = plan
        self.on_result = on_result
        self.channels = {name: Channel(name, cfg, sleep=sleep) for name, cfg in plan.channels.items()}
        self._queue: asyncio.Queue[tuple[int, ev.NotificationQueued]] = asyncio.Queue(maxsize=queue_size)
        self._workers_n = workers
        self._workers: list[asyncio.Task] = []
        self._in_flight: set[int] = set()
        self._client: httpx.AsyncClient | None = None
        self._ack_poll: asyncio.Future[dict[str, str]] | None = None

    async def poll_acknowledgements(self, incidents: list[tuple[str, str]],
                                    wait_s: float = ACK_WAIT_S) -> dict[str, str]:
        """(incident, channel) pairs paged on PagerDuty -> {incident: who acknowledged it there}.
        Polled beside the rounds: a round waits at most `wait_s` for the answers; a slower poll's
        answers are returned by the next call (which starts no new poll while one runs)."""
        if self._ack_poll is None:
            release = f"{self.plan.release.name} {self.plan.release.version}"
            asks = [(inc, self.channels[ch]) for inc, ch in incidents
                    if ch in self.channels and self.channels[ch].polls_acknowledgement]
            if not asks:
                return {}
            self._start()
            self._ack_poll = asyncio.ensure_future(self._poll(release, asks))
        await asyncio.wait({self._ack_poll}, timeout=wait_s)
        if not self._ack_poll.done():
            return {}
        poll, self._ack_poll = self._ack_poll, None
        return poll.result() if not poll.cancelled() and poll.exception() is None else {}

    async def _poll(self, release: str, asks: list[tuple[str, Channel]]) -> dict[str, str]:
        answers = await asyncio.gather(*(ch.acknowledged_by(dedup_key(release, inc), self._client) for inc, ch in asks))
        return {inc: who for (inc, _), who in zip(asks, answers, strict=False) if who}

    def submit(self, seq: int, queued: ev.NotificationQueued) -> bool:
        """Queue one message for delivery; False when it is already in flight or was refused."""
        if seq in self._in_flight:
            return False
        self._start()
        channel = self.channels.get(queued.channel)
        if channel is None:
            self._report(seq, queued, Delivery(False, 0, [], f"no channel {queued.channel!r} configured in [channels]"))
            return False
        try:
            self._queue.put_nowait((seq, queued))
        except asyncio.QueueFull:
            self._report(seq, queued, Delivery(False, 0, [], f"delivery queue full ({self._queue.maxsize} waiting)"))
            return False
        self._in_flight.add(seq)
        return True

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    async def drain(self) -> None:
        """Wait until every queued message is delivered or has failed."""
        if self._workers:
            await self._queue.join()

    async def close(self) -> None:
        polls = [self._ack_poll] if self._ack_poll is not None else []
        for w in self._workers + polls:
            w.cancel()
        await asyncio.gather(*self._workers, *polls, return_exceptions=True)
        self._ack_poll = None
        self._workers.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _start(self) -> None:
        if not self._workers:
            import httpx

            self._client = httpx.AsyncClient()
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._work()) for _ in range(self._workers_n)]

    async def _work(self) -> None:
        while True:
            seq, queued = await self._queue.get()
            try:
                message = Message.of(queued, self.plan, seq)
                try:
                    delivery = await self.channels[queued.channel].send(message, self._client)
                except Exception as e:  # noqa: BLE001 - a bug in one delivery must not stop the others
                    delivery = Delivery(False, 1, [],
                                        f"delivery crashed: {type(e).__name__}: {redact.scrub(str(e), ERROR_LIMIT)}")
                self._report(seq, queued, delivery)
            finally:
                self._in_flight.discard(seq)
                self._queue.task_done()

    def _report(self, seq: int, queued: ev.NotificationQueued, delivery: Delivery) -> None:
        if delivery.delivered:
            log.info("sent to %s (%s%s) after %d attempt(s)", queued.channel, queued.purpose,
                     f" {queued.incident}" if queued.incident else "", delivery.attempts)
        else:
            log.error("NOT SENT to %s (%s%s): %s", queued.channel, queued.purpose,
                      f" {queued.incident}" if queued.incident else "", redact.scrub(delivery.error, ERROR_LIMIT))
        try:
            self.on_result(seq, queued, delivery)
        except Exception as e:  # noqa: BLE001
            log.error("cannot record the delivery to %s: %s", queued.channel, redact.scrub(str(e), ERROR_LIMIT))


class SimulatedNotifier(Notifier):
    """The demo's channels: every message is "delivered" at once to nowhere (said so in its tries),
    so the demo shows the whole paging flow with no webhook and no secret."""

    def __init__(self, plan: Plan, on_result: Result):
        self.plan = plan
        self.on_result = on_result
        self.channels = {}
        self._workers = []
        self._in_flight = set()
        self._client = None
        self._ack_poll = None

    def submit(self, seq: int, queued: ev.NotificationQueued) -> bool:
        self._report(seq, queued, Delivery(True, 1, ["simulated (demo): not sent anywhere"]))
        return True

    async def poll_acknowledgements(self, incidents: list[tuple[str, str]],
                                    wait_s: float = ACK_WAIT_S) -> dict[str, str]:
        return {}

    async def drain(self) -> None:
        return None
