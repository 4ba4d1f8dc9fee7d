"""A small synchronous etcd v3 client over the JSON gateway (httpx): kv, txn, leases, watch, several endpoints.

etcd's gRPC API is also served as JSON on the client port (`/v3/kv/range`, `/v3/kv/txn`, `/v3/lease/*`,
`/v3/watch`): keys and values travel base64, 64-bit numbers as strings, and a field at its zero value
is left out. httpx speaks it with no gRPC, no protobuf (PyPI's `etcd3` breaks with protobuf >= 4).

Every call is bounded in time. A member that refuses the connection, hangs past the timeout, or says
it is unavailable (no leader yet) is left for the next endpoint; when none answers, EtcdUnreachable
names every endpoint and the operation. A write that timed out may still have been applied: callers
make their writes conditional (a txn's compare) so that trying it again is safe.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import msgspec

from cockpit import redact
from cockpit.adapters.error_body import budget, shown

MOST_BODY = 256 * 1024 * 1024  # a range page past this is not an answer we read
SHOWN = 200  # characters of a server's error we show
RETRYABLE_CODES = {4, 14}  # gRPC DEADLINE_EXCEEDED, UNAVAILABLE (no leader, leader changed): another member may answer
UNAUTHENTICATED = 16
TXN_TARGETS = {"value": "VALUE", "mod": "MOD", "create": "CREATE", "version": "VERSION"}
_TARGET_FIELD = {"VALUE": "value", "MOD": "mod_revision", "CREATE": "create_revision", "VERSION": "version"}


class EtcdError(Exception):
    """An etcd call failed; the message names the endpoint(s) and the operation, never a credential."""


class EtcdUnreachable(EtcdError):
    """No endpoint answered in time (refused, hung, unavailable): a write may or may not have been applied."""


class EtcdRefused(EtcdError):
    """A member answered and refused (bad request, permission denied, lease not found)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that selects every key starting with `prefix` (the prefix with its last byte + 1)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key


@dataclass(frozen=True)
class KV:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    @classmethod
    def parse(cls, doc: dict) -> KV:
        return cls(unb64(doc.get("key")), unb64(doc.get("value")), int(doc.get("create_revision", 0)),
                   int(doc.get("mod_revision", 0)), int(doc.get("version", 0)), int(doc.get("lease", 0)))


@dataclass(frozen=True)
class Compare:
    """One txn condition: `target` of `key` EQUAL (or NOT_EQUAL, GREATER, LESS) to `want`.
    A key that does not exist has revisions and version 0."""

    key: bytes
    target: str  # "value", "mod", "create", "version"
    want: int | bytes
    result: str = "EQUAL"

    def doc(self) -> dict:
        target = TXN_TARGETS[self.target]
        want = b64(self.want) if isinstance(self.want, bytes) else str(self.want)
        return {"key": b64(self.key), "target": target, "result": self.result, _TARGET_FIELD[target]: want}


def put(key: bytes, value: bytes, lease: int = 0) -> dict:
    doc: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        doc["lease"] = str(lease)
    return {"request_put": doc}


def get(key: bytes, range_end: bytes = b"", *, limit: int = 0) -> dict:
    doc: dict[str, Any] = {"key": b64(key)}
    if range_end:
        doc["range_end"] = b64(range_end)
    if limit:
        doc["limit"] = str(limit)
    return {"request_range": doc}


def delete(key: bytes, range_end: bytes = b"") -> dict:
    doc = {"key": b64(key)}
    if range_end:
        doc["range_end"] = b64(range_end)
    return {"request_delete_range": doc}


@dataclass
class TxnResult:
    succeeded: bool
    revision: int  # the store's revision after the txn (a write's own revision when it succeeded)
    ranges: list[list[KV]] = field(default_factory=list)  # each range op's kvs, in op order
    more: list[bool] = field(default_factory=list)  # each range op: more kvs past its limit


@dataclass(frozen=True)
class Event:
    type: str  # "PUT" or "DELETE"
    kv: KV


@dataclass(frozen=True)
class Tls:
    """Paths: the CA that signed the members' certificates, and this client's certificate and key (optional)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


class EtcdClient:
    """One etcd cluster through its endpoints, in order; the one that answered last is tried first."""

    def __init__(self, endpoints: Sequence[str], *, timeout_s: float = 2.0, connect_s: float = 0.5,
                 user: str | None = None, password: str | None = None, tls: Tls | None = None):
        if not endpoints:
            raise EtcdError("etcd: no endpoints given")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout_s = timeout_s
        self._timeout = httpx.Timeout(timeout_s, connect=min(connect_s, timeout_s))
        self._user, self._password = user, password
        redact.remember(password)
        self._token: str | None = None
        self._at = 0  # the endpoint tried first
        verify: ssl.SSLContext | bool = True
        if tls is not None:
            verify = ssl.create_default_context(cafile=tls.ca)
            if tls.cert:
                verify.load_cert_chain(tls.cert, tls.key)
        self._http = httpx.Client(transport=_bounded_transport(verify), timeout=self._timeout,
                                  follow_redirects=False, headers={"Content-Type": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EtcdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls -------------------------------------------------------------------------------

    def range(self, key: bytes, range_end: bytes = b"", *, limit: int = 0, revision: int = 0,
              keys_only: bool = False) -> tuple[list[KV], bool, int]:
        """(kvs in key order, more past `limit`, the revision read at)."""
        doc: dict[str, Any] = get(key, range_end, limit=limit)["request_range"]
        if revision:
            doc["revision"] = str(revision)
        if keys_only:
            doc["keys_only"] = True
        answer = self.call("/v3/kv/range", doc, "range")
        return ([KV.parse(kv) for kv in answer.get("kvs", ())], bool(answer.get("more")),
                int(answer["header"]["revision"]))

    def pages(self, key: bytes, range_end: bytes, *, page: int = 2000, revision: int = 0) -> Iterator[list[KV]]:
        """Every kv in [key, range_end), `page` at a time, all read at one revision (the first page's,
        unless given): a consistent snapshot however many pages it takes."""
        while True:
            kvs, more, at = self.range(key, range_end, limit=page, revision=revision)
            revision = revision or at
            if kvs:
                yield kvs
            if not more or not kvs:
                return
            key = kvs[-1].key + b"\0"

    def values(self, key: bytes, range_end: bytes, *, revision: int, page: int = 5000,
               spread: int = 0) -> Iterator[list[tuple[bytes, bytes]]]:
        """(key, value) pairs of [key, range_end) at `revision`, a page at a time: a replay's path, with
        no other field decoded. `spread`: start at that endpoint (parallel readers share the members)."""
        while True:
            doc = {**get(key, range_end, limit=page)["request_range"], "revision": str(revision)}
            answer = self.call("/v3/kv/range", doc, "range", spread=spread, shape=_Range)
            pairs = [(kv.key, kv.value) for kv in answer.kvs]
            if pairs:
                yield pairs
            if not answer.more or not pairs:
                return
            key = pairs[-1][0] + b"\0"

    def count(self, key: bytes, range_end: bytes = b"", *, revision: int = 0) -> int:
        """How many keys [key, range_end) holds (at `revision`)."""
        doc = {**get(key, range_end)["request_range"], "count_only": True}
        if revision:
            doc["revision"] = str(revision)
        return int(self.call("/v3/kv/range", doc, "count").get("count", 0))

    def get(self, key: bytes) -> KV | None:
        kvs, _, _ = self.range(key)
        return kvs[0] if kvs else None

    def put(self, key: bytes, value: bytes, *, lease: int = 0) -> int:
        """Put one key; returns the revision it was written at."""
        answer = self.call("/v3/kv/put", put(key, value, lease)["request_put"], "put")
        return int(answer["header"]["revision"])

    def delete(self, key: bytes, range_end: bytes = b"") -> int:
        """Delete a key (or a range); returns how many were deleted."""
        answer = self.call("/v3/kv/deleterange", delete(key, range_end)["request_delete_range"], "delete")
        return int(answer.get("deleted", 0))

    def txn(self, compare: Sequence[Compare], success: Sequence[dict], failure: Sequence[dict] = ()) -> TxnResult:
        """All compares true: the success ops, else the failure ops; atomically, at one revision."""
        answer = self.call("/v3/kv/txn", {"compare": [c.doc() for c in compare], "success": list(success),
                                          "failure": list(failure)}, "txn")
        result = TxnResult(bool(answer.get("succeeded")), int(answer["header"]["revision"]))
        for r in answer.get("responses", ()):
            if "response_range" in r:
                rr = r["response_range"]
                result.ranges.append([KV.parse(kv) for kv in rr.get("kvs", ())])
                result.more.append(bool(rr.get("more")))
        return result

    def grant(self, ttl_s: int) -> tuple[int, int]:
        """A new lease: (its id, the TTL granted)."""
        answer = self.call("/v3/lease/grant", {"TTL": str(ttl_s)}, "lease grant")
        return int(answer["ID"]), int(answer.get("TTL", 0))

    def keepalive(self, lease: int) -> int:
        """Renew a lease once; its TTL now, 0 when it has expired or was revoked."""
        answer = self.call("/v3/lease/keepalive", {"ID": str(lease)}, "lease keepalive")
        return int(answer.get("result", {}).get("TTL", 0))

    def time_to_live(self, lease: int) -> int:
        """Seconds left on a lease, -1 when there is no such lease (expired, revoked)."""
        answer = self.call("/v3/lease/timetolive", {"ID": str(lease)}, "lease time-to-live")
        return int(answer.get("TTL", -1))

    def revoke(self, lease: int) -> bool:
        """Revoke a lease (its keys are deleted with it); False when it was gone already."""
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)}, "lease revoke")
        except EtcdRefused as e:
            if e.code == 5:  # NOT_FOUND: expired already
                return False
            raise
        return True

    def status(self, endpoint: str | None = None) -> dict:
        """/v3/maintenance/status of one endpoint (the leader's member id is `leader`)."""
        return self.call("/v3/maintenance/status", {}, "status", only=endpoint)

    def watch(self, key: bytes, range_end: bytes = b"", *, start_revision: int, within_s: float) -> list[Event]:
        """The events on [key, range_end) from `start_revision`, as soon as there are some, or [] after
        `within_s`. A revision compacted away raises EtcdRefused (read with a range instead)."""
        create: dict[str, Any] = {"key": b64(key), "start_revision": str(start_revision)}
        if range_end:
            create["range_end"] = b64(range_end)
        deadline = time.monotonic() + within_s
        tried: list[str] = []
        for endpoint in self._order():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                return self._watch_one(endpoint, {"create_request": create}, deadline)
            except (httpx.TransportError, _Unavailable) as e:
                tried.append(f"{endpoint}: {_why(e, self.timeout_s)}")
                continue
        if tried:
            raise EtcdUnreachable(f"etcd watch: no endpoint answered ({'; '.join(tried)})")
        return []

    def _watch_one(self, endpoint: str, body: dict, deadline: float) -> list[Event]:
        timeout = httpx.Timeout(self.timeout_s, connect=self._timeout.connect,
                                read=max(0.05, deadline - time.monotonic()))
        _DEADLINE.at = deadline + self.timeout_s
        try:
            return self._watch_by(endpoint, body, deadline, timeout)
        finally:
            _DEADLINE.at = None

    def _watch_by(self, endpoint: str, body: dict, deadline: float, timeout: httpx.Timeout) -> list[Event]:
        try:
            with self._http.stream("POST", endpoint + "/v3/watch", json=body, headers=self._auth(),
                                   timeout=timeout) as response:
                if response.status_code != 200:
                    self._refused(endpoint, "watch", response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    doc = json.loads(line)
                    if "error" in doc:
                        err = doc["error"]
                        said = shown(str(err.get("message", err)).encode(), SHOWN)
                        raise EtcdRefused(f"etcd {endpoint}: watch: {said}",
                                          int(err.get("grpc_code", err.get("code", 0)) or 0))
                    result = doc.get("result", {})
                    if result.get("compact_revision") and result.get("canceled"):
                        raise EtcdRefused(f"etcd {endpoint}: watch: revision {body['create_request']['start_revision']}"
                                          f" is compacted (oldest kept: {result['compact_revision']})", 11)
                    events = [Event(e.get("type", "PUT"), KV.parse(e.get("kv", {}))) for e in result.get("events", ())]
                    if events:
                        self._at = self.endpoints.index(endpoint)
                        return events
                    if time.monotonic() >= deadline:
                        return []
        except httpx.ReadTimeout:
            return []  # nothing happened within the time given: an answer, not a failure
        return []

    # -- one call, endpoint by endpoint ----------------------------------------------------------

    def call(self, path: str, body: dict, what: str, *, only: str | None = None, spread: int = 0,
             shape: type | None = None) -> Any:
        """POST `body` to `path` on the first endpoint that answers; the answer's JSON. Raises
        EtcdRefused for a member's refusal, EtcdUnreachable when no endpoint answered."""
        tried: list[str] = []
        for endpoint in [only] if only else self._order(spread):
            try:
                answer = self._post(endpoint, path, body, what, shape)
            except (httpx.TransportError, _Unavailable) as e:
                tried.append(f"{endpoint}: {_why(e, self.timeout_s)}")
                continue
            if only is None:
                self._at = self.endpoints.index(endpoint)
            return answer
        raise EtcdUnreachable(f"etcd {what}: no endpoint answered ({'; '.join(tried)})")

    def _post(self, endpoint: str, path: str, body: dict, what: str, shape: type | None = None, *,
              again: bool = True) -> Any:
        """The answer's JSON: a dict, or `shape` (a msgspec Struct: base64 decoded to bytes, in C). The
        whole answer within the timeout: a member trickling a byte at a time never lets a read time out."""
        deadline = _DEADLINE.at = time.monotonic() + self.timeout_s
        try:
            return self._post_by(deadline, endpoint, path, body, what, shape, again=again)
        finally:
            _DEADLINE.at = None

    def _post_by(self, deadline: float, endpoint: str, path: str, body: dict, what: str, shape: type | None, *,
                 again: bool) -> Any:
        with self._http.stream("POST", endpoint + path, json=body, headers=self._auth(endpoint)) as response:
            if response.status_code == 200:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    _in_time(deadline)
                    if len(data) > MOST_BODY:
                        raise EtcdError(f"etcd {endpoint}: {what}: an answer over {MOST_BODY} bytes")
                try:
                    return json.loads(data) if shape is None else msgspec.json.decode(data, type=shape)
                except (ValueError, msgspec.DecodeError):
                    raise EtcdError(f"etcd {endpoint}: {what}: the answer is not JSON "
                                    f"({shown(bytes(data), SHOWN)})") from None
            try:
                self._refused(endpoint, what, response, deadline)
            except EtcdRefused as e:
                if e.code == UNAUTHENTICATED and again and self._user:
                    self._token = None  # expired: authenticate again, once
                    return self._post(endpoint, path, body, what, shape, again=False)
                raise
        raise AssertionError("unreachable")

    def _refused(self, endpoint: str, what: str, response: httpx.Response, deadline: float | None = None) -> None:
        """Raise what the member said (bounded, scrubbed); _Unavailable when another member may answer."""
        data = bytearray()
        most = budget(SHOWN)
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout_s
        for chunk in response.iter_bytes():
            data += chunk
            _in_time(deadline)
            if len(data) > most:
                break
        code, message = 0, shown(bytes(data), SHOWN, more=len(data) > most)
        try:
            doc = json.loads(bytes(data))
            code = int(doc.get("code", 0))
            message = shown(str(doc.get("message") or doc.get("error") or "").encode(), SHOWN)
        except (ValueError, TypeError, AttributeError):
            pass
        if code in RETRYABLE_CODES or response.status_code in (502, 503, 504):
            raise _Unavailable(f"HTTP {response.status_code}: {message}")
        raise EtcdRefused(f"etcd {endpoint}: {what}: HTTP {response.status_code}: {message}", code)

    def _order(self, spread: int = 0) -> list[str]:
        n = len(self.endpoints)
        return [self.endpoints[(self._at + spread + i) % n] for i in range(n)]

    def _auth(self, endpoint: str | None = None) -> dict[str, str]:
        """The token header when the cluster has users: authenticated once, again when it expires."""
        if not self._user:
            return {}
        if self._token is None:
            body = {"name": self._user, "password": self._password or ""}
            endpoint = endpoint or self.endpoints[self._at]
            with self._http.stream("POST", endpoint + "/v3/auth/authenticate", json=body) as response:
                if response.status_code != 200:
                    self._refused(endpoint, f"authenticating as {self._user}", response)
                token = json.loads(response.read()).get("token")
            if not token:
                raise EtcdRefused(f"etcd {endpoint}: authenticating as {self._user}: no token in the answer", 0)
            redact.remember(token)
            self._token = token
        return {"Authorization": self._token}


class _Kv(msgspec.Struct):
    key: bytes
    value: bytes = b""


class _Range(msgspec.Struct):
    """A range answer as a replay reads it: keys and values only."""

    kvs: list[_Kv] = []
    more: bool = False


class _Unavailable(Exception):
    """A member answered that it cannot serve now (no leader, leader changed): try the next one."""


_DEADLINE = threading.local()  # this thread's call must be answered by `at` (monotonic), headers and body


def _left(timeout: float | None) -> float | None:
    """A socket operation's timeout, cut to what is left of the call's: each read of a member that
    trickles its status line and headers a byte at a time comes within httpx's read timeout."""
    at = getattr(_DEADLINE, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the answer trickled in past the timeout")
    return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _BoundedStream(self.inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _BoundedBackend(httpcore.SyncBackend):
    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _BoundedStream(super().connect_tcp(*args, **kwargs))


def _bounded_transport(verify: ssl.SSLContext | bool) -> httpx.HTTPTransport:
    """httpx's transport whose sockets answer within the call's deadline (httpx bounds each read only)."""
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context()
    transport = httpx.HTTPTransport(verify=context)
    # httpx offers no public way to hand its transport a network backend: this private attribute is the one
    # place it is set; pyproject pins httpx below 0.30 and test_etcd_attacks' trickle cases fail if it stops working
    assert isinstance(transport._pool, httpcore.ConnectionPool), "httpx changed its transport: see _bounded_transport"
    transport._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=_BoundedBackend())
    return transport


def _in_time(deadline: float) -> None:
    """A transport timeout (the next endpoint is tried) once an answer has taken longer than the call's timeout."""
    if time.monotonic() > deadline:
        raise httpx.ReadTimeout("the answer trickled in past the timeout")


def _why(e: Exception, timeout_s: float) -> str:
    if isinstance(e, httpx.TimeoutException):
        return f"timed out after {timeout_s:g} s"
    if isinstance(e, httpx.ConnectError):
        refused = "refused" in str(e).lower()
        return "connection refused" if refused else f"cannot connect ({redact.scrub(str(e), SHOWN)})"
    return redact.scrub(str(e) or type(e).__name__, SHOWN)
