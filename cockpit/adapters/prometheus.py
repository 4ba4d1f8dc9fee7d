"""Prometheus as a MetricsSource: blocking queries with a timeout, every failure a QueryResult naming the endpoint.

Blocking on purpose (prometheus-api-client uses requests): callers run queries in
worker threads. The client is imported on first use, so importing this module
costs nothing at TUI start-up. Header values (auth) are never put in messages.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cockpit import redact
from cockpit.adapters import error_body
from cockpit.adapters.metrics import QueryResult, Sample
from cockpit.core import words

NAN_NOTE = "answered only NaN: a ratio over zero traffic?"
POOL_SIZE = 32  # concurrent trigger evaluations share one keep-alive pool
ERROR_LIMIT = 2000  # characters of a failed answer's body read for its `error` field (160 of it are shown)


class PrometheusSource:
    """One Prometheus server. `instant` and `range` never raise; a query must return one series."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
        verify_tls: bool = True,
        retries: int = 0,
    ) -> None:
        self.url = url.rstrip("/")
        self.endpoint = redact.public_url(self.url)  # and remembers the URL's credentials for scrubbing
        self.timeout_s = timeout_s
        self._headers = dict(headers or {})
        self._verify_tls = verify_tls
        self._retries = retries
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the headers
        return f"PrometheusSource({self.endpoint!r}, timeout_s={self.timeout_s})"

    def instant(self, query: str, at: datetime) -> QueryResult:
        """The value of a one-series query at `at` (an aware datetime)."""
        return self._guarded(query, lambda client: _parse_instant(
            client.custom_query(query, params={"time": f"{at.timestamp():.3f}"})
        ))

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> QueryResult:
        """Samples of a one-series query from `start` to `end` every `step_s` (aware datetimes)."""
        return self._guarded(query, lambda client: _parse_range(
            client.custom_query_range(query, start_time=start, end_time=end, step=f"{step_s:g}")
        ))

    def stopped(self, query: str, at: datetime) -> QueryResult:
        """Whether the data `query` reads has stopped arriving (`stopped_query`): a value when it
        has, no_data while it arrives (or when there is nothing to ask)."""
        stopped = stopped_query(query)
        if stopped is None:
            return QueryResult(status="no_data")
        return self._guarded(stopped, lambda client: _parse_instant(
            client.custom_query(stopped, params={"time": f"{at.timestamp():.3f}"})
        ))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # --- internals -------------------------------------------------------

    def _connect(self) -> Any:
        with self._lock:
            if self._client is None:
                import requests
                from prometheus_api_client import PrometheusConnect
                from requests.adapters import HTTPAdapter
                from urllib3.util.retry import Retry

                retry = Retry(total=self._retries, backoff_factor=0, status_forcelist=(), raise_on_status=False)
                session = requests.Session()
                session.hooks["response"].append(self._refuse_error_body)
                self._client = PrometheusConnect(
                    url=self.url,
                    headers=self._headers or None,
                    disable_ssl=not self._verify_tls,
                    retry=retry,
                    session=session,
                    timeout=self.timeout_s,
                )
                # PrometheusConnect mounts a 10-connection pool; concurrent evaluations want more.
                session.verify = self._verify_tls
                session.mount(self.url, HTTPAdapter(max_retries=retry, pool_maxsize=POOL_SIZE))
            return self._client

    def _refuse_error_body(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A failed answer ends the query here, before its body is read whole: only as much of it
        as the error shows is read (a Prometheus or proxy answering 400 KB costs a few KB)."""
        if response.status_code != 200:  # what prometheus-api-client takes for an error
            raise _ErrorAnswer(response.status_code,
                               error_body.read_sync(response, ERROR_LIMIT, timeout_s=self.timeout_s))

    def _guarded(self, query: str, call) -> QueryResult:
        where = f"prometheus at {self.endpoint}"
        try:
            client = self._connect()
            return call(client)
        except _Unexpected as exc:
            return QueryResult.failed(redact.scrub(f"{where}: {exc}"))
        except Exception as exc:  # noqa: BLE001 - a query never raises into the caller
            return QueryResult.failed(redact.scrub(f"{where}: {_describe(exc, self.timeout_s)}"))


class _Unexpected(Exception):
    """An answer that parsed but does not have the shape of a one-series result."""


class _ErrorAnswer(Exception):
    """An answer that is not a 200: its status and the start of its body, scrubbed."""

    def __init__(self, status: int, said: str) -> None:
        super().__init__(status, said)
        self.status, self.said = status, said


def _describe(exc: Exception, timeout_s: float) -> str:
    """Operator words for what went wrong; never includes request headers."""
    try:
        import requests
    except ImportError:
        return f"query failed: {type(exc).__name__}: {_short(str(exc))}"

    if isinstance(exc, _ErrorAnswer):
        return f"HTTP {exc.status}: {_error_field(exc.said) or 'empty answer'}"
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return "answered with something that is not JSON (is this a Prometheus?)"
    if isinstance(exc, requests.RequestException):
        text = _root_cause(exc)
        if "timed out" in text.lower() or isinstance(exc, requests.Timeout):
            return f"no answer within {words.duration(timeout_s)} (timed out)"
        if "refused" in text.lower():
            return "connection refused (is Prometheus running?)"
        if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
            return "host name does not resolve"
        if isinstance(exc, requests.exceptions.SSLError):
            return "TLS handshake failed (certificate?)"
        return f"connection failed: {_short(text)}"
    if isinstance(exc, (KeyError, TypeError, IndexError, AttributeError)):
        return f"unexpected answer ({type(exc).__name__}: {_short(str(exc))}); is this the Prometheus HTTP API?"
    return f"query failed: {type(exc).__name__}: {_short(str(exc))}"


def _error_field(said: str) -> str:
    """Prometheus' own `error` field of an error body, or the body as it came; the body may
    have been cut, so a JSON that does not end is read as far as its `error` goes."""
    try:
        detail = json.loads(said).get("error") or said
    except (ValueError, AttributeError):
        cut = re.search(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)', said)
        detail = cut[1] if cut else said
    return _short(str(detail).strip())


def _root_cause(exc: BaseException) -> str:
    parts = [str(exc)]
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if reason is not None:
        parts.append(str(reason))
    return " ".join(parts)


def _short(text: str, limit: int = 160) -> str:
    """One line of at most `limit` characters, scrubbed of secrets before it is cut."""
    return redact.scrub(" ".join(text.split()), limit=limit)


def _value(raw: Any) -> float:
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise _Unexpected(f"unexpected sample shape {_short(repr(raw), 60)}")
    try:
        return float(raw[1])
    except (TypeError, ValueError):
        raise _Unexpected(f"value {_short(repr(raw[1]), 40)} is not a number") from None


def _one_series(result: Any) -> dict | None:
    if not isinstance(result, list):
        raise _Unexpected(f"unexpected result {_short(repr(result), 60)}")
    if not result:
        return None
    if len(result) > 1:
        raise _Unexpected(f"query returned {len(result)} series; aggregate it to one (sum/max)")
    if not isinstance(result[0], dict):
        raise _Unexpected(f"unexpected series {_short(repr(result[0]), 60)}")
    return result[0]


def _parse_instant(result: Any) -> QueryResult:
    # A scalar(...) query answers [ts, "v"], a vector [{"metric": ..., "value": [ts, "v"]}].
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        value = _value(result)
    else:
        series = _one_series(result)
        if series is None:
            return QueryResult(status="no_data")
        value = _value(series.get("value"))
    if math.isnan(value):  # an answer about the canary (no traffic), not a failed source
        return QueryResult(status="no_data", note=NAN_NOTE)
    return QueryResult(status="ok", value=value)


def _parse_range(result: Any) -> QueryResult:
    series = _one_series(result)
    if series is None:
        return QueryResult(status="no_data")
    values = series.get("values")
    if not isinstance(values, list):
        raise _Unexpected("range answer without values")
    points = [Sample(float(raw[0]), _value(raw)) for raw in values]
    kept = tuple(p for p in points if not math.isnan(p.value))  # NaN points count as missing
    if not kept:
        return QueryResult(status="no_data", note=NAN_NOTE if points else "")
    return QueryResult(status="ok", value=kept[-1].value, samples=kept)


LOOKBACK_S = 300  # Prometheus' default lookback: an instant selector answers from this far back
STOPPED_WINDOW_S = 900  # how far back a dead target's series are still remembered (at least 3x the query's range):
# once they fall out of it, `sum(increase(x[5m])) or vector(0)` would read 0 again while the target is down


@functools.lru_cache(maxsize=256)
def stopped_query(query: str) -> str | None:
    """PromQL that answers only while the data `query` reads has stopped: for one of its selectors
    S (not those with `offset` or `@`, which look back on purpose), every target whose series of S
    were seen within the last 15 minutes (or three of the query's longest ranges) is down now
    (`up == 0`: its scrape fails). Then `rate(S[5m])` keeps answering from the last five minutes
    of old samples, and the trigger must not believe it. A target that went away (a pod replaced)
    is not down. Series whose `instance` label was dropped (relabelling, recording rules) cannot
    be matched with `up`: for them, all of them gone from an instant query (stale-marked: their
    scrape failed) is the sign. None: nothing to ask."""
    import promql_parser

    try:
        expr = promql_parser.parse(query)
    except ValueError:
        return None  # check-config refuses it; the query itself will fail loudly
    selectors: dict[str, None] = {}
    ranges = [LOOKBACK_S]

    def visit(node) -> None:
        if isinstance(node, (promql_parser.MatrixSelector, promql_parser.SubqueryExpr)):
            # a subquery always has its range (`[5m:1m]`); promql_parser's stub types it Optional
            assert node.range is not None
            ranges.append(int(node.range.total_seconds()))
        elif isinstance(node, promql_parser.VectorSelector) and node.offset is None and node.at is None:
            selectors[str(node)] = None

    promql_parser.walk(expr, visit)
    if not selectors:
        return None
    window = f"{max(STOPPED_WINDOW_S, 3 * max(ranges))}s"

    def stopped(s: str) -> str:
        seen = f"last_over_time({s}[{window}])"
        down = f"(count({seen} and on(job, instance) (up == 0)) unless count({seen} and on(job, instance) (up == 1)))"
        if "instance" in s or not s.endswith("}"):
            return down
        bare = s[:-1] + ("" if s.endswith("{}") else ",") + 'instance=""}'  # series whose target label was dropped
        return f"{down} or (count(last_over_time({bare}[{window}])) unless count({bare}))"

    return " or ".join(stopped(s) for s in selectors)


def build_metrics(plan) -> PrometheusSource | None:
    """The plan's `[prometheus]` as a PrometheusSource, or None when the plan has none.

    The token is resolved now (a missing one is a ConfigError naming `prometheus.token` and where
    it looked) and sent as `token_header: token_prefix + token` (by default `Authorization:
    Bearer ...`); it lives only in the source's headers, never in a message.
    """
    cfg = plan.prometheus
    if cfg is None:
        return None
    headers = dict(cfg.headers)
    if cfg.token is not None:
        headers[cfg.token_header] = f"{cfg.token_prefix}{cfg.token.resolve('prometheus.token')}"
    return PrometheusSource(
        cfg.url, timeout_s=cfg.timeout.total_seconds(), headers=headers, verify_tls=cfg.verify_tls
    )
