"""The simulated world behind `cockpit demo` and the core tests: a canary whose metrics answer to its weight.

`SimulatedWorld(scenario, seed)` holds the canary weight (0..100) and the
`canary.enable` flag as a history of changes, so every value is a function of
the query time and of that history: deterministic, no randomness but a seeded
hash. `SimulatedMetrics(world)` is a MetricsSource, `SimulatedGateway(world)` a
Gateway over the same world.

Queries it answers. A query is recognised by its exact text (whitespace
collapsed) through the `series` mapping, `DEMO_QUERIES` by default, or by
`sim:<model>` directly. Write these in the demo config:

    model                  demo query text                                   unit
    api_p95_canary         api_p95_ms{track="canary"}                        ms
    api_p95_staging        api_p95_ms{track="staging"}   (the baseline)      ms
    api_p95_stable         api_p95_ms{track="stable"}                        ms
    path3_p95_canary       path3_p95_ms{track="canary"}                      ms
    error_ratio_canary     error_ratio{track="canary"}                       ratio (0.02 = 2 %)
    cross_tenant_increase  sum(increase(cross_tenant_access_total[5m]))      count
    residency_increase     sum(increase(residency_violation_total[5m]))      count
    cpu_canary             cpu_utilisation{track="canary"}                   ratio
    canary_weight          canary_weight                                     percent of traffic
    canary_rps             (the seed's kill_switch.verify_query, rate[1m])   requests/s to the canary
    spend_infrastructure   budget_spend_usd{category="infrastructure"}       $ month to date
    spend_llm_usage        budget_spend_usd{category="llm_usage"}            $ month to date

Canary series exist only while the canary takes traffic (weight > 0 and the
flag on). Scenarios:
    healthy              canary within a few % of staging, errors ~0.05 % (inside the seed's 99.9 % availability)
    latency-regression   canary API p95 ~+35 % over staging while weight >= 25
    error-spike          canary error ratio ~2.6 % while weight >= 25
    tenant-breach        one cross-tenant access 3 minutes after weight first reached 5
    no-data              canary series vanish while weight >= 25
"""

from __future__ import annotations

import asyncio
import bisect
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from cockpit.adapters.gateway import GatewayError, GatewayState
from cockpit.adapters.metrics import QueryResult, Sample

SCENARIO_LINES = {  # what each demo scenario does, for `cockpit demo --help`
    "healthy": "canary within a few % of staging; every gate passes to 100 %",
    "latency-regression": "canary API p95 ~+35 % over staging from 25 %: Performance rolls it back (the default)",
    "error-spike": "canary errors ~2.6 % from 25 %: Error Rate rolls it back after 5 minutes",
    "tenant-breach": "one cross-tenant access 3 minutes into 5 %: Security rolls it back at once",
    "no-data": "canary series vanish from 25 %: the triggers hold, BLIND",
    "judge-pass": "the plan's judge on: canary p95 +3 % over its baseline (10 % allowed): judged Pass",
    "judge-marginal": "the plan's judge on: canary p95 spread ×5 at the same median: Marginal, the owners decide",
    "judge-fail": "the plan's judge on: canary p95 +30 % over its baseline: judged Fail, rolled back after 3",
}
SCENARIOS = tuple(SCENARIO_LINES)
PROJECTED_MONTH_USD = {"infrastructure": 12_450.0, "llm_usage": 2_180.0}  # canary-plan.md projections
CANARY_COST_SHARE = {"infrastructure": 0.04, "llm_usage": 0.06}  # extra spend at 100 % canary
STAGING_P95_MS = 240.0
PATH3_P95_MS = 780.0
TENANT_BREACH_AFTER_S = 180.0
HEALTHY_ERROR_RATIO = 0.0005  # 0.3 % would fail the seed's final gate (availability > 99.9 %) at 100 %
SERVICE_RPS = 120.0  # all of the service's traffic; the canary's rate is its share of this


class SimulatedWorld:
    """The canary's weight and flag over time, and the scenario that decides how it behaves."""

    def __init__(self, scenario: str = "healthy", seed: int = 0, *, clock: Callable[[], float] = time.time) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.seed = seed
        self.clock = clock
        self._times: list[float] = []
        self._states: list[tuple[int, bool]] = []  # (weight, enabled) from the matching time on
        self.gateway_down = False  # fault switch: the simulated gateway raises GatewayError
        self.gateway_delay_s = 0.0  # a slow gateway
        self.gateway_held: asyncio.Event | None = None  # a gateway that answers once this is set (tests)

    # --- weight and flag history ---------------------------------------

    def set_weight(self, weight: int, at: float | None = None) -> None:
        if not 0 <= weight <= 100:
            raise ValueError(f"canary weight {weight} is outside 0..100")
        self._change(at, weight=weight)

    def set_enabled(self, enabled: bool, at: float | None = None) -> None:
        self._change(at, enabled=enabled)

    def _change(self, at: float | None, *, weight: int | None = None, enabled: bool | None = None) -> None:
        ts = self.clock() if at is None else at
        old_weight, old_enabled = self.state_at(ts)
        state = (old_weight if weight is None else weight, old_enabled if enabled is None else enabled)
        i = bisect.bisect_right(self._times, ts)
        self._times.insert(i, ts)
        self._states.insert(i, state)

    def state_at(self, ts: float) -> tuple[int, bool]:
        i = bisect.bisect_right(self._times, ts)
        return self._states[i - 1] if i else (0, True)

    @property
    def weight(self) -> int:
        return self.state_at(self.clock())[0]

    @property
    def enabled(self) -> bool:
        return self.state_at(self.clock())[1]

    def share_at(self, ts: float) -> int:
        """Percent of traffic the canary actually takes: its weight, or 0 with the flag off."""
        weight, enabled = self.state_at(ts)
        return weight if enabled else 0

    def first_reached(self, share: int, until: float) -> float | None:
        """When the canary first took at least `share` percent, up to `until`."""
        for ts, (weight, enabled) in zip(self._times, self._states, strict=False):
            if ts > until:
                return None
            if enabled and weight >= share:
                return ts
        return None

    def _share_seconds(self, start: float, end: float) -> float:
        """Integral of share/100 over [start, end]: canary-seconds at full traffic."""
        edges = [start] + [t for t in self._times if start < t < end] + [end]
        return sum(self.share_at(a) / 100 * (b - a) for a, b in zip(edges, edges[1:], strict=False))

    # --- what the world measures ---------------------------------------

    def spend(self, category: str, at: float) -> float:
        """Month-to-date spend in dollars, on track for the plan's projection plus the canary's share."""
        if category not in PROJECTED_MONTH_USD:
            raise ValueError(f"unknown budget category {category!r}; one of {', '.join(PROJECTED_MONTH_USD)}")
        now = datetime.fromtimestamp(at, UTC)
        start = datetime(now.year, now.month, 1, tzinfo=UTC)
        end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
        month_s = (end - start).total_seconds()
        rate = PROJECTED_MONTH_USD[category] / month_s
        base = rate * (at - start.timestamp())
        extra = rate * CANARY_COST_SHARE[category] * self._share_seconds(start.timestamp(), at)
        return base + extra

    def value(self, model: str, ts: float) -> float | None:
        """The model's value at `ts`, or None when the series does not exist then."""
        fn = MODELS.get(model)
        if fn is None:
            raise KeyError(model)
        return fn(self, ts)

    def noise(self, model: str, ts: float, amplitude: float) -> float:
        """Seeded, time-bucketed jitter in [-amplitude, amplitude]: the same query time, the same value."""
        bucket = int(ts // 15)
        h = zlib.crc32(f"{self.seed}:{model}:{bucket}".encode()) / 0xFFFFFFFF
        return (2 * h - 1) * amplitude

    def _canary_visible(self, ts: float) -> bool:
        share = self.share_at(ts)
        if share == 0:
            return False
        return not (self.scenario == "no-data" and share >= 25)

    def _regressed(self, scenario: str, ts: float) -> bool:
        return self.scenario == scenario and self.share_at(ts) >= 25


def _api_p95_staging(w: SimulatedWorld, ts: float) -> float:
    return STAGING_P95_MS * (1 + w.noise("api_p95_staging", ts, 0.015))


def _api_p95_stable(w: SimulatedWorld, ts: float) -> float:
    return STAGING_P95_MS * (0.99 + w.noise("api_p95_stable", ts, 0.015))


def _api_p95_canary(w: SimulatedWorld, ts: float) -> float | None:
    if not w._canary_visible(ts):
        return None
    factor = 1.35 if w._regressed("latency-regression", ts) else 1.02 + 0.03 * w.share_at(ts) / 100
    return STAGING_P95_MS * factor * (1 + w.noise("api_p95_canary", ts, 0.015))


def _path3_p95_canary(w: SimulatedWorld, ts: float) -> float | None:
    if not w._canary_visible(ts):
        return None
    factor = 1.35 if w._regressed("latency-regression", ts) else 1.0 + 0.05 * w.share_at(ts) / 100
    return PATH3_P95_MS * factor * (1 + w.noise("path3_p95_canary", ts, 0.02))


def _error_ratio_canary(w: SimulatedWorld, ts: float) -> float | None:
    if not w._canary_visible(ts):
        return None
    base = 0.026 if w._regressed("error-spike", ts) else HEALTHY_ERROR_RATIO
    return base + w.noise("error_ratio_canary", ts, 0.0002 if base < 0.01 else 0.002)


def _cross_tenant_increase(w: SimulatedWorld, ts: float) -> float:
    if w.scenario != "tenant-breach":
        return 0.0
    first = w.first_reached(5, ts)
    if first is None:
        return 0.0
    breach_at = first + TENANT_BREACH_AFTER_S
    return 1.0 if breach_at <= ts < breach_at + 300 else 0.0  # increase(...[5m]) of one increment


def _cpu_canary(w: SimulatedWorld, ts: float) -> float | None:
    if not w._canary_visible(ts):
        return None
    return 0.30 + 0.35 * w.share_at(ts) / 100 + w.noise("cpu_canary", ts, 0.02)


JUDGE_NOISE = 0.17  # uniform ±17 %: a standard deviation of ~10 %, the judge's tracks' noise


def _judged(metric: str, track: str, centre: float) -> Callable[[SimulatedWorld, float], float | None]:
    """A judge metric on one track (the judge-* scenarios): the canary's p95 shifted or spread."""

    def model(w: SimulatedWorld, ts: float) -> float | None:
        if track == "canary" and not w._canary_visible(ts):
            return None
        factor, amplitude = 1.0, JUDGE_NOISE
        if track == "canary" and metric == "p95":
            factor = {"judge-pass": 1.03, "judge-fail": 1.30}.get(w.scenario, 1.0)
            amplitude *= 5 if w.scenario == "judge-marginal" else 1  # ±85 %: the spread ×5, the median held
        return centre * factor * (1 + w.noise(f"judge_{metric}_{track}", ts, amplitude))

    return model


MODELS: dict[str, Callable[[SimulatedWorld, float], float | None]] = {
    "api_p95_canary": _api_p95_canary,
    "api_p95_staging": _api_p95_staging,
    "api_p95_stable": _api_p95_stable,
    "path3_p95_canary": _path3_p95_canary,
    "error_ratio_canary": _error_ratio_canary,
    "cross_tenant_increase": _cross_tenant_increase,
    "residency_increase": lambda w, ts: 0.0,
    "cpu_canary": _cpu_canary,
    "canary_weight": lambda w, ts: float(w.share_at(ts)),
    # rate(...[1m]) of the canary's requests: it falls to 0 a minute after the kill, as Prometheus' would.
    "canary_rps": lambda w, ts: SERVICE_RPS * w._share_seconds(ts - 60.0, ts) / 60.0,
    "spend_infrastructure": lambda w, ts: w.spend("infrastructure", ts),
    "spend_llm_usage": lambda w, ts: w.spend("llm_usage", ts),
    # Gate criteria of the seed plan.
    "cost_delta_ratio": lambda w, ts: 0.03 + 0.04 * w.share_at(ts) / 100 + w.noise("cost_delta", ts, 0.005),
    "alerts_firing": lambda w, ts: (
        1.0 if w._regressed("latency-regression", ts) or w._regressed("error-spike", ts) else 0.0),
    "availability": lambda w, ts: 1.0 - (_error_ratio_canary(w, ts) or 0.0) * w.share_at(ts) / 100,
    "slo_compliance_staging": lambda w, ts: 0.9995,
    # The judge's metrics (issue 23), canary and baseline.
    **{f"judge_{m}_{t}": _judged(m, t, centre)
       for m, centre in (("p95", STAGING_P95_MS), ("errors", HEALTHY_ERROR_RATIO))
       for t in ("canary", "baseline")},
}

DEMO_QUERIES: dict[str, str] = {
    'api_p95_ms{track="canary"}': "api_p95_canary",
    'api_p95_ms{track="staging"}': "api_p95_staging",
    'api_p95_ms{track="stable"}': "api_p95_stable",
    'path3_p95_ms{track="canary"}': "path3_p95_canary",
    'error_ratio{track="canary"}': "error_ratio_canary",
    "sum(increase(cross_tenant_access_total[5m]))": "cross_tenant_increase",
    "sum(increase(residency_violation_total[5m]))": "residency_increase",
    'cpu_utilisation{track="canary"}': "cpu_canary",
    "canary_weight": "canary_weight",
    'budget_spend_usd{category="infrastructure"}': "spend_infrastructure",
    'budget_spend_usd{category="llm_usage"}': "spend_llm_usage",
}


# The seed plan's queries (config.example.toml) by the id that owns them: the plan's PromQL is
# real production PromQL, so the simulator recognises it by where it sits, not by its text.
SEED_MODELS: dict[str, str] = {
    # triggers (the api_p95_regression baseline is listed under "baseline:")
    "trigger:api_p95_regression": "api_p95_canary",
    "baseline:api_p95_regression": "api_p95_staging",
    "trigger:path_p95": "path3_p95_canary",
    "trigger:error_rate": "error_ratio_canary",
    "trigger:security_violation": "cross_tenant_increase",
    # gate criteria
    "criterion:api_p95": "api_p95_canary",
    "criterion:path_p95": "path3_p95_canary",
    "criterion:error_rate": "error_ratio_canary",
    "criterion:policy_violations": "cross_tenant_increase",
    "criterion:cost_delta": "cost_delta_ratio",
    "criterion:alerts_quiet": "alerts_firing",
    "criterion:availability": "availability",
    # budget, kill switch, preflight
    "budget:infrastructure": "spend_infrastructure",
    "budget:llm_usage": "spend_llm_usage",
    "kill_switch:verify_query": "canary_rps",  # falls to 0 a minute after the kill, as rate[1m] does
    "preflight:staging_success": "slo_compliance_staging",
    # the judge's metrics, per track (config.example.toml's commented [judge])
    **{f"judge:{name}:{t}": f"judge_{m}_{t}" for name, m in (("API p95", "p95"), ("Error rate", "errors"))
       for t in ("canary", "baseline")},
}


def seed_series(plan) -> dict[str, str]:
    """query text -> simulator model for a seed-shaped plan (`SimulatedMetrics(world, series=...)`).

    Keyed by the ids of SEED_MODELS, so an edited query still maps; ids the table does not know
    are left out (their queries answer with an error naming the models). Two ids that share a
    query text must agree on its model, else ValueError: one text cannot answer two ways.
    """
    found: list[tuple[str, str | None]] = []
    for t in plan.triggers:
        found += [(f"trigger:{t.id}", t.query), (f"baseline:{t.id}", t.baseline)]
    for phase in plan.phases:
        found += [(f"criterion:{c.id}", c.query) for c in phase.gate.auto]
    found += [(f"budget:{c.id}", c.spend_query) for c in plan.budget.categories]
    found.append(("kill_switch:verify_query", plan.kill_switch.verify_query))
    found += [(f"preflight:{c.id}", getattr(c, "query", None)) for c in plan.preflight]
    if plan.judge is not None:
        found += [(f"judge:{m.name}:{t}", plan.judge.query(m.query, t))
                  for m in plan.judge.metrics for t in ("canary", "baseline")]
    series: dict[str, str] = {}
    for key, query in found:
        model = SEED_MODELS.get(key)
        if query is None or model is None:
            continue
        text = _normal(query)
        if series.setdefault(text, model) != model:
            raise ValueError(f"{key}: query {query!r} is already simulated as {series[text]}, not {model}")
    return series


def _normal(query: str) -> str:
    return " ".join(query.split())


class SimulatedMetrics:
    """A MetricsSource over a SimulatedWorld; unknown queries are errors that say what it knows."""

    endpoint = "simulator"

    def __init__(self, world: SimulatedWorld, series: Mapping[str, str] | None = None) -> None:
        self.world = world
        self.series = {_normal(q): m for q, m in (DEMO_QUERIES if series is None else series).items()}
        unknown = sorted(set(self.series.values()) - set(MODELS))
        if unknown:
            raise ValueError(f"unknown simulator models {unknown}; known: {', '.join(MODELS)}")

    def _model(self, query: str) -> str | None:
        text = _normal(query)
        if text.startswith("sim:") and text[4:] in MODELS:
            return text[4:]
        return self.series.get(text)

    def _unknown(self, query: str) -> QueryResult:
        return QueryResult.failed(
            f"simulator: no model for query {query!r}; use sim:<model> or one of the demo queries "
            f"(models: {', '.join(MODELS)})"
        )

    def instant(self, query: str, at: datetime) -> QueryResult:
        model = self._model(query)
        if model is None:
            return self._unknown(query)
        value = self.world.value(model, at.timestamp())
        return QueryResult(status="no_data") if value is None else QueryResult(status="ok", value=value)

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> QueryResult:
        model = self._model(query)
        if model is None:
            return self._unknown(query)
        if step_s <= 0:
            return QueryResult.failed("simulator: step must be positive")
        t0, t1 = start.timestamp(), end.timestamp()
        samples = []
        for k in range(int((t1 - t0) // step_s) + 1):
            ts = t0 + k * step_s
            value = self.world.value(model, ts)
            if value is not None:
                samples.append(Sample(ts, value))
        if not samples:
            return QueryResult(status="no_data")
        return QueryResult(status="ok", value=samples[-1].value, samples=tuple(samples))


class SimulatedGateway:
    """The Gateway protocol over a SimulatedWorld; `world.gateway_down = True` makes every call fail."""

    name = "simulated"

    def __init__(self, world: SimulatedWorld) -> None:
        self.world = world

    async def _reach(self) -> None:
        if self.world.gateway_delay_s > 0:
            await asyncio.sleep(self.world.gateway_delay_s)
        if self.world.gateway_held is not None:
            await self.world.gateway_held.wait()
        if self.world.gateway_down:
            raise GatewayError("simulated gateway: unreachable (fault switch gateway_down is on)")

    async def set_weight(self, weight: int) -> None:
        await self._reach()
        if not isinstance(weight, int) or not 0 <= weight <= 100:
            raise GatewayError(f"simulated gateway: refused canary weight {weight!r} (0..100)")
        self.world.set_weight(weight)

    async def set_enabled(self, enabled: bool) -> None:
        await self._reach()
        self.world.set_enabled(bool(enabled))

    async def read(self) -> GatewayState:
        await self._reach()
        return GatewayState(weight=self.world.weight, enabled=self.world.enabled, detail="simulated")

    async def close(self) -> None:
        return None
