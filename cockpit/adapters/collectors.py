"""Evidence collectors at the edge: a k6 summary file, Grafana's render API, Jaeger's query API, OPA's decision logs.

Each returns its data or raises `CollectorError` with a one-line reason (scrubbed of secrets);
none blocks longer than its timeout.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from cockpit import redact
from cockpit.core import words

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 32 << 20  # an evidence file larger than this is not evidence of a canary phase


class CollectorError(Exception):
    """Why a collector gave nothing: one line, no secret."""

    def __init__(self, reason: str):
        super().__init__(redact.scrub(reason, 500))


def _headers(token_ref, field: str) -> dict[str, str]:
    if token_ref is None:
        return {}
    from cockpit.config import ConfigError

    try:
        return {"Authorization": f"Bearer {token_ref.resolve(field)}"}
    except ConfigError as e:
        raise CollectorError(str(e)) from None


def _get(url: str, params: dict[str, Any], headers: dict[str, str], timeout_s: float) -> httpx.Response:
    where = redact.public_url(url)
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            resp = client.get(url, params=params, headers=headers)
    except httpx.TimeoutException:
        raise CollectorError(f"{where}: no answer within {words.duration(timeout_s)} (timeout)") from None
    except httpx.HTTPError as e:
        raise CollectorError(f"{where}: {type(e).__name__}: {e}") from None
    if resp.status_code != 200:
        raise CollectorError(f"{where}: HTTP {resp.status_code}: {resp.text[:200]}")
    if len(resp.content) > MAX_BYTES:
        raise CollectorError(f"{where}: answer larger than {MAX_BYTES >> 20} MiB")
    return resp


def _json(resp: httpx.Response, where: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        content_type = resp.headers.get('content-type', 'no content type')
        raise CollectorError(f"{where}: the answer is not JSON ({content_type})") from None


# --- k6 ----------------------------------------------------------------------------------------


def k6_summary(path: Path) -> dict[str, Any]:
    """A `k6 run --summary-export FILE` document: {"metrics": {name: {stat: number}}, "root_group": {...}}."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise CollectorError(f"{path}: cannot read: {e.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise CollectorError(f"{path}: larger than {MAX_BYTES >> 20} MiB")
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise CollectorError(f"{path}: not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) or not doc["metrics"]:
        raise CollectorError(f"{path}: not a k6 summary export (no \"metrics\" object)")
    for name, stats in doc["metrics"].items():
        if not isinstance(stats, dict) or not all(
            isinstance(v, (int, float, bool)) or isinstance(v, dict) for v in stats.values()
        ):
            raise CollectorError(f"{path}: metric {name!r} is not an object of numbers")
    if "root_group" in doc and not isinstance(doc["root_group"], dict):
        raise CollectorError(f"{path}: root_group is not an object")
    return doc


def k6_highlights(doc: dict[str, Any]) -> dict[str, Any]:
    """The figures a reader looks for first: request duration percentiles, failure rate, checks."""
    m = doc["metrics"]
    out: dict[str, Any] = {}
    dur = m.get("http_req_duration", {})
    for stat in ("avg", "med", "p(90)", "p(95)", "max"):
        if stat in dur:
            out[f"http_req_duration_{stat}_ms"] = dur[stat]
    failed = m.get("http_req_failed", {})
    if "value" in failed:
        out["http_req_failed_rate"] = failed["value"]
    reqs = m.get("http_reqs", {})
    if "count" in reqs:
        out["http_reqs"] = reqs["count"]
    checks = m.get("checks", {})
    if "passes" in checks or "fails" in checks:
        out["checks_passed"], out["checks_failed"] = checks.get("passes", 0), checks.get("fails", 0)
    return out


# --- Grafana -----------------------------------------------------------------------------------


def grafana_png(cfg, start: datetime, end: datetime) -> tuple[bytes, str]:
    """The dashboard rendered to PNG by Grafana's render API; returns (png, the public URL asked)."""
    url = f"{cfg.url.rstrip('/')}/render/d/{cfg.dashboard}"
    params = {
        "orgId": cfg.org_id,
        "from": int(start.timestamp() * 1000),
        "to": int(end.timestamp() * 1000),
        "width": cfg.width,
        "height": cfg.height,
        "tz": "UTC",
    }
    resp = _get(url, params, _headers(cfg.token, "evidence.grafana.token"), cfg.timeout.total_seconds())
    where = redact.public_url(str(resp.url))
    if not resp.content.startswith(PNG_MAGIC):
        kind = resp.headers.get("content-type", "no content type")
        raise CollectorError(f"{where}: the answer is not a PNG image ({kind}, {len(resp.content)} bytes)")
    return resp.content, where


# --- Jaeger ------------------------------------------------------------------------------------


def jaeger_traces(cfg, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], str]:
    """Traces of the service from Jaeger's query API ({"data": [trace, ...]}); returns (traces, URL)."""
    url = f"{cfg.url.rstrip('/')}/api/traces"
    params = {
        "service": cfg.service,
        "start": int(start.timestamp() * 1_000_000),  # microseconds
        "end": int(end.timestamp() * 1_000_000),
        "limit": cfg.limit,
    }
    resp = _get(url, params, _headers(cfg.token, "evidence.jaeger.token"), cfg.timeout.total_seconds())
    where = redact.public_url(str(resp.url))
    doc = _json(resp, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise CollectorError(f"{where}: not a Jaeger query answer (no \"data\" list)")
    for i, trace in enumerate(doc["data"]):
        if not isinstance(trace, dict) or "traceID" not in trace or not isinstance(trace.get("spans"), list):
            raise CollectorError(f"{where}: data[{i}] is not a trace (traceID and spans)")
    if doc.get("errors"):
        raise CollectorError(f"{where}: Jaeger reports errors: {json.dumps(doc['errors'])[:200]}")
    return doc["data"], where


def trace_summary(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """Per trace: id, span count, root duration (ms); and the latency distribution over them."""
    rows = []
    for t in traces:
        spans = t["spans"]
        durations = [s.get("duration", 0) for s in spans if isinstance(s, dict)]
        rows.append({"traceID": t["traceID"], "spans": len(spans), "duration_ms": max(durations, default=0) / 1000})
    ds = sorted(r["duration_ms"] for r in rows)
    dist = {}
    if ds:
        dist = {"count": len(ds), "min_ms": ds[0], "p50_ms": ds[len(ds) // 2],
                "p95_ms": ds[min(len(ds) - 1, int(0.95 * len(ds)))], "max_ms": ds[-1]}
    return {"traces": rows, "latency": dist}


# --- OPA ---------------------------------------------------------------------------------------


def _decisions(doc: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("result"), list):
        doc = doc["result"]
    if not isinstance(doc, list) or not all(isinstance(d, dict) for d in doc):
        raise CollectorError(f"{where}: not a list of OPA decisions")
    for i, d in enumerate(doc):
        if "decision_id" not in d:
            raise CollectorError(f"{where}: entry {i} is not an OPA decision log (no decision_id)")
    return doc


def _in_range(decision: dict[str, Any], start: datetime, end: datetime) -> bool:
    ts = decision.get("timestamp")
    if not isinstance(ts, str):
        return True
    try:
        at = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return True
    return start <= at <= end


def opa_decisions(cfg, start: datetime, end: datetime, base_dir: Path) -> tuple[list[dict[str, Any]], str]:
    """OPA decision-log entries (decision_id, path, result, timestamp) within the range."""
    if cfg.file is not None:
        path = cfg.file if cfg.file.is_absolute() else Path(base_dir) / cfg.file
        where = str(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise CollectorError(f"{path}: cannot read: {getattr(e, 'strerror', None) or 'not text'}") from None
        try:
            doc = json.loads(text)
        except ValueError:  # the decision-log plugin's console output: one JSON object per line
            try:
                doc = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError as e:
                raise CollectorError(f"{path}: neither JSON nor JSON Lines: {e}") from None
    else:
        resp = _get(cfg.url, {}, _headers(cfg.token, "evidence.opa.token"), cfg.timeout.total_seconds())
        where = redact.public_url(str(resp.url))
        doc = _json(resp, where)
    decisions = _decisions(doc, where)
    return [d for d in decisions if _in_range(d, start, end)], where
