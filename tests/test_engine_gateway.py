"""The engine's gateway paths in memory: reconcile after a crash, operator shifts, the rollback's
second verification by canary traffic, and the adapter factory's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit import rollback_check
from cockpit.adapters.factory import build_gateway
from cockpit.adapters.metrics import QueryResult
from cockpit.config import ConfigError, dump_plan, parse_plan
from cockpit.core import events as ev
from cockpit.core.state import fold
from cockpit.engine import Engine
from cockpit.store.journal import Journal
from tests.support import MemoryGateway, passing_runner
from tests.test_engine import kinds, live, pass_gate, run


class FlagGateway(MemoryGateway):
    """Like an HTTP flag API: the kill turns the flag off and leaves the weight where it was."""

    async def set_enabled(self, enabled: bool) -> None:
        self._check(f"set_enabled {enabled}")
        if not self.stuck:
            self.enabled = enabled


class ScriptedMetrics:
    """A MetricsSource answering the verify query from a list, then repeating the last answer."""

    def __init__(self, *answers: QueryResult):
        self.answers = list(answers)
        self.asked: list = []

    def instant(self, query, at):
        self.asked.append((query, at))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def range(self, query, start, end, step_s):  # pragma: no cover - not used here
        raise AssertionError("verify_rollback uses instant queries")


def rate(v: float) -> QueryResult:
    return QueryResult(status="ok", value=v)


def make(plan, state_dir, clock, actor, gateway, metrics=None) -> Engine:
    e = Engine(plan, Journal(state_dir), clock=clock, actor=actor, gateway=gateway,
               check_runner=passing_runner(), metrics=metrics)
    e.ensure_plan()
    return e


@pytest.fixture
def gateway():
    return MemoryGateway()


@pytest.fixture
def engine(plan, state_dir, clock, actor, gateway):
    return make(plan, state_dir, clock, actor, gateway)


def restart(engine, gateway, metrics=None) -> Engine:
    """A new engine over the same state dir, as after the captain's process died."""
    engine.journal.close()
    return Engine(engine.plan, Journal(engine.journal.state_dir), clock=engine.clock, actor=engine.actor,
                  gateway=gateway, metrics=metrics)


# -- reconcile -----------------------------------------------------------------------------------


def test_reconcile_after_a_clean_restart_agrees(engine, clock, gateway):
    live(engine, clock)
    again = restart(engine, gateway)
    out = run(again.reconcile())
    assert out.ok and kinds(out.records) == ["gateway_reconciled"]
    p = out.records[0].payload
    assert (p.agrees, p.journal_weight, p.observed_share) == (True, 5, 5)
    assert "as journaled" in p.detail


def test_a_crash_after_the_shift_intent_is_resolved_by_the_read_back(engine, clock, gateway):
    """The process died after journaling the intent and calling the gateway, before the result."""
    live(engine, clock)
    pass_gate(engine, clock)
    engine._append(ev.TrafficShiftRequested(weight=25, phase=1))
    gateway.weight = 25  # the call went through
    again = restart(engine, gateway)
    assert again.state.pending_shift is not None
    assert run(again.advance()).reasons == ["a traffic shift to 25 % is not confirmed yet"]
    out = run(again.reconcile())
    assert out.ok and kinds(out.records) == ["gateway_reconciled", "phase_started"]
    assert "the shift to 25 % has no journaled result (interrupted)" in out.records[0].payload.detail
    assert "it took effect; Phase 2 starts now" in out.records[0].payload.detail
    assert (again.state.phase, again.state.weight, again.state.pending_shift) == (1, 25, None)
    assert fold(Journal(engine.journal.state_dir, readonly=True).records) == again.state


def test_a_crash_before_the_gateway_call_leaves_the_old_weight(engine, clock, gateway):
    live(engine, clock)
    pass_gate(engine, clock)
    engine._append(ev.TrafficShiftRequested(weight=25, phase=1))
    again = restart(engine, gateway)
    out = run(again.reconcile())
    assert out.ok and kinds(out.records) == ["gateway_reconciled"]
    assert "it did not take effect, still 5 %" in out.records[0].payload.detail
    assert (again.state.phase, again.state.weight, again.state.pending_shift) == (0, 5, None)
    assert run(again.advance()).ok and again.state.phase == 1  # the captain simply advances again


def test_a_gateway_changed_behind_the_journal_is_a_loud_disagreement(engine, clock, gateway):
    live(engine, clock)
    gateway.weight = 50
    out = run(restart(engine, gateway).reconcile())
    assert not out.ok
    assert out.reasons == ["the journal says 5 % (live) but the gateway reads weight 50, canary.enable=true (canary share 50 %)"]


def test_an_unreadable_gateway_keeps_a_pending_shift_pending(engine, clock, gateway):
    live(engine, clock)
    engine._append(ev.TrafficShiftRequested(weight=25, phase=1))
    gateway.down = True
    again = restart(engine, gateway)
    out = run(again.reconcile())
    assert not out.ok and "cannot read the gateway back: memory gateway: read: connection refused" in out.reasons[0]
    assert "the shift to 25 % stays unconfirmed" in out.reasons[0]
    assert again.state.pending_shift is not None and again.state.shift_error == out.reasons[0]


def test_an_interrupted_kill_is_pulled_again_on_restart(engine, clock, gateway):
    live(engine, clock)
    engine._append(ev.KillRequested(reason="error spike"))
    assert gateway.enabled is True  # died before the gateway call
    again = restart(engine, gateway)
    assert again.state.status == "killing"
    out = run(again.reconcile())
    assert out.ok and kinds(out.records) == ["gateway_reconciled", "kill_requested", "kill_result"]
    assert "has no journaled result (interrupted): pulling it again" in out.records[0].payload.detail
    assert again.state.status == "rolled_back" and gateway.enabled is False


def test_a_flag_kill_that_keeps_the_weight_reads_as_zero(plan, state_dir, clock, actor):
    gw = FlagGateway()
    e = make(plan, state_dir, clock, actor, gw)
    live(e, clock)
    assert run(e.kill("manual")).ok and gw.weight == 5 and gw.enabled is False
    out = run(restart(e, gw).reconcile())
    p = out.records[0].payload
    assert out.ok and (p.observed_weight, p.observed_enabled, p.observed_share) == (5, False, 0)
    gw.enabled = True  # someone re-enabled the canary by hand
    again = restart(e, gw)
    out = run(again.reconcile())
    assert not out.ok and out.reasons[0].startswith("the journal says 0 % (rolled_back) but the gateway reads weight 5")
    assert again.state.weight == 5 and again.state.status == "rolled_back"


def test_a_shift_with_the_flag_off_is_not_a_shift(plan, state_dir, clock, actor):
    gw = FlagGateway()
    gw.enabled = False
    e = make(plan, state_dir, clock, actor, gw)
    from tests.test_engine import ready

    ready(e)
    out = run(e.start())
    assert not out.ok
    assert out.reasons == ["gateway reads back weight 5, canary.enable=false, wanted 5 %"]
    assert e.state.phase is None and e.state.weight == 0


# -- operator shifts -----------------------------------------------------------------------------


def test_shift_rules(engine, clock, gateway):
    assert run(engine.shift(5)).reasons == ["the rollout has not started"]
    live(engine, clock)
    assert run(engine.shift(10)).reasons == ["10 % is not a phase weight (5/25/50/100 %)"]
    assert run(engine.shift(50)).reasons == ["50 % would skip Phase 2 (25 %) and its gate: shift one phase at a time"]
    assert run(engine.shift(25)).reasons[-1] == "waiting for GO from: SRE"  # up is an advance: same gate
    pass_gate(engine, clock)
    out = run(engine.shift(25))
    assert out.ok and kinds(out.records) == ["traffic_shift_requested", "traffic_shift_result", "phase_started"]
    assert (engine.state.phase, gateway.weight) == (1, 25)


def test_shift_to_the_current_weight_reasserts_it_without_restarting_the_soak(engine, clock, gateway):
    live(engine, clock)
    started = engine.state.phase_started_at
    gateway.weight = 7  # drifted
    clock.advance(60)
    out = run(engine.shift(5))
    assert out.ok and kinds(out.records) == ["traffic_shift_requested", "traffic_shift_result"]
    assert gateway.weight == 5 and engine.state.phase_started_at == started


def test_shift_down_is_a_partial_rollback_that_restarts_the_phase_and_its_gate(engine, clock, gateway):
    live(engine, clock)
    pass_gate(engine, clock)
    assert run(engine.advance()).ok and engine.state.phase == 1
    out = run(engine.shift(5))
    assert out.ok and (engine.state.phase, engine.state.weight, gateway.weight) == (0, 5, 5)
    assert engine.state.phase_started_at == clock.now()
    assert engine.state.gate(0).decisions == {}  # the first GO no longer counts
    reasons = run(engine.advance()).reasons
    assert "Phase 1 soak has 20m00s left" in reasons and "waiting for GO from: SRE" in reasons


def test_no_shift_after_the_kill(engine, clock):
    live(engine, clock)
    run(engine.kill("x"))
    assert run(engine.shift(5)).reasons == ["the rollout is ROLLED BACK"]


# -- the second verification -----------------------------------------------------------------------


def test_kill_starts_the_traffic_verification_beside_it(plan, state_dir, clock, actor, gateway):
    metrics = ScriptedMetrics(rate(30.0), rate(12.0), rate(0.0))
    e = make(plan, state_dir, clock, actor, gateway, metrics)
    live(e, clock)

    async def go():
        out = await e.kill("p95 regression")
        assert out.ok and e.rollback_check is not None and not e.rollback_check.done()
        assert kinds(out.records) == ["kill_requested", "kill_result"]
        return await e.rollback_check

    verdict = run(go())
    assert verdict.ok and kinds(verdict.records) == ["rollback_verified"]
    assert verdict.records[0].payload.detail == "canary request rate 0 req/s at 30s after the gateway confirmed"
    assert [q for q, _ in metrics.asked] == [plan.kill_switch.verify_query] * 3
    assert e.state.kill.verified.ok


def test_traffic_that_does_not_fall_is_journaled_not_verified_within_the_window(plan, state_dir, clock, actor, gateway):
    metrics = ScriptedMetrics(rate(30.0))
    e = make(plan, state_dir, clock, actor, gateway, metrics)
    live(e, clock)
    start = clock.now()

    async def go():
        await e.kill("p95 regression")
        return await e.rollback_check

    verdict = run(go())
    assert not verdict.ok
    assert verdict.reasons == ["ROLLBACK NOT VERIFIED: canary request rate still 30 req/s 2m00s after the kill"]
    assert clock.now() - start == timedelta(minutes=2)  # bounded by verify_within, on the engine's clock
    assert len(metrics.asked) == 9  # every 15 s (the plan's poll interval), both ends included
    assert e.state.kill.verified.ok is False


@pytest.mark.parametrize(
    "answer, says",
    [
        (QueryResult(status="no_data"), "the canary traffic query has no data"),
        (QueryResult.failed("prometheus http://p:9090: connection refused"), "canary traffic query failed: prometheus"),
    ],
)
def test_no_data_or_an_error_is_not_a_verification(plan, state_dir, clock, actor, gateway, answer, says):
    e = make(plan, state_dir, clock, actor, gateway, ScriptedMetrics(answer))
    live(e, clock)
    run(e.kill("x"))  # the check task dies with this loop; run it ourselves
    verdict = run(rollback_check.verify(e))
    assert not verdict.ok and says in verdict.reasons[0]


def test_verify_rollback_refusals(plan, state_dir, clock, actor, gateway):
    e = make(plan, state_dir, clock, actor, gateway)
    live(e, clock)
    assert run(rollback_check.verify(e)).reasons == ["no canary traffic query (kill_switch.verify_query) or no metrics source"]
    e.metrics = ScriptedMetrics(rate(0))
    assert run(rollback_check.verify(e)).reasons == ["the gateway has not confirmed a kill"]
    gateway.down = True
    run(e.kill("x"))
    assert e.rollback_check is None  # an unconfirmed kill has no traffic to verify yet
    assert run(rollback_check.verify(e)).reasons == ["the gateway has not confirmed a kill"]


# -- the factory -----------------------------------------------------------------------------------


def _plan_with(gateway: dict, **extra):
    data = dump_plan(__import__("cockpit.seed", fromlist=["seed_plan"]).seed_plan())
    data["gateways"] = {"edge": gateway}
    data.update(extra)
    return parse_plan(data)


def test_factory_builds_the_http_gateway_with_its_token_resolved_now(monkeypatch):
    p = _plan_with({"type": "http", "url": "http://127.0.0.1:1/flags", "token": {"env": "COCKPIT_GATEWAY_TOKEN"},
                    "headers": {"X-Team": "release"}, "name_key": ""})
    with pytest.raises(ConfigError) as info:
        build_gateway(p)
    assert info.value.errors == ["gateways.edge.token: secret: environment variable COCKPIT_GATEWAY_TOKEN is not set"]
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", "tok-zz9-secret")
    gw = build_gateway(p)
    assert gw.name == "http http://127.0.0.1:1/flags" and gw.name_key is None and gw.flag == "canary.enable"
    assert "tok-zz9-secret" not in repr(gw) and "tok-zz9-secret" not in repr(vars(gw))


def test_factory_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r'gateways.edge.type: "simulated" steers only the demo'):
        build_gateway(_plan_with({"type": "simulated"}))
    long = "/tmp/" + "s" * 120 + ".sock"
    with pytest.raises(ConfigError, match=r"gateways.edge.socket: unix socket path is 130 bytes; the limit is 107"):
        build_gateway(_plan_with({"type": "haproxy", "socket": long, "backend": "be"}))
    with pytest.raises(ConfigError, match=r"gateways.nope: no such gateway \(declared: edge\)"):
        build_gateway(_plan_with({"type": "haproxy", "socket": "/tmp/a.sock", "backend": "be"}), "nope")
    gw = build_gateway(_plan_with({"type": "haproxy", "socket": "127.0.0.1:9999", "backend": "be", "maint_on_kill": True}))
    assert gw.canary == "be/canary" and gw.maint_on_kill and gw.timeout_s == 2.0
    with pytest.raises(ConfigError, match=r"gateways.edge.http.url: not an http\(s\) URL"):
        _plan_with({"type": "http", "url": "gateway.example.internal/flags"})
    with pytest.raises(ConfigError, match=r"gateways.edge.http.headers: header Authorization carries a secret"):
        _plan_with({"type": "http", "url": "http://x/flags", "headers": {"Authorization": "Bearer x"}})


def test_factory_builds_the_simulated_gateway_only_with_a_world():
    from cockpit.adapters.simulator import SimulatedGateway, SimulatedWorld

    assert isinstance(build_gateway(_plan_with({"type": "simulated"}), world=SimulatedWorld()), SimulatedGateway)


# -- gateway drift: the guard's read-back each round -------------------------------------------------


def test_a_gateway_that_loses_the_canary_weight_is_journaled_once_and_blocks_the_advance(engine, clock, gateway):
    """Someone (or a restarted HAProxy) sets the canary to 0 % behind the journal's back: the guard's
    read is journaled as GATEWAY DRIFT once, the fold believes the gateway (canary 0 %), the advance
    is refused, and a re-assert of the phase's weight ends it."""
    from cockpit.adapters.gateway import GatewayState

    live(engine, clock)
    pass_gate(engine, clock)
    assert engine.observe_gateway(GatewayState(weight=5, enabled=True)) is None  # agrees: nothing journaled
    drift = engine.observe_gateway(GatewayState(weight=0, enabled=True))
    assert drift is not None and drift.payload.agrees is False
    assert (drift.payload.journal_weight, drift.payload.observed_share) == (5, 0)
    said = "the gateway reads canary 0 %, but Phase 1 soaks at 5 % by the journal: changed outside the cockpit?"
    assert drift.payload.detail == said and engine.state.gateway_drift == said and engine.state.weight == 0
    assert engine.observe_gateway(GatewayState(weight=0, enabled=True)) is None  # said once, not every round
    assert run(engine.advance()).reasons[0] == (f"GATEWAY DRIFT: {said}; re-assert the phase's weight "
                                                "(cockpit shift --weight N) or roll back")
    again = restart(engine, gateway)  # the captain's restart compares with the phase, not the drifted weight
    gateway.weight = 0
    assert not run(again.reconcile()).ok and again.state.gateway_drift
    out = run(again.shift(5))
    assert out.ok and gateway.weight == 5 and again.state.gateway_drift == "" and again.state.weight == 5
    assert again.observe_gateway(GatewayState(weight=5, enabled=True)) is None


def test_a_drift_that_ends_by_itself_is_journaled_as_agreeing_again(engine, clock):
    from cockpit.adapters.gateway import GatewayState

    live(engine, clock)
    engine.observe_gateway(GatewayState(weight=0, enabled=True))
    back = engine.observe_gateway(GatewayState(weight=5, enabled=True))
    assert back.payload.agrees and back.payload.detail == "the gateway reads canary 5 % again, as the journal says"
    assert engine.state.gateway_drift == "" and engine.state.weight == 5
    flag_off = engine.observe_gateway(GatewayState(weight=5, enabled=False))  # the flag off is 0 %, whatever the weight
    assert flag_off.payload.observed_share == 0 and engine.state.gateway_drift


def test_no_drift_is_read_while_a_shift_is_in_flight_or_before_a_phase(engine, clock, gateway):
    from cockpit.adapters.gateway import GatewayState

    assert engine.observe_gateway(GatewayState(weight=50, enabled=True)) is None  # preflight: nothing expected
    live(engine, clock)
    engine._append(ev.TrafficShiftRequested(weight=25, phase=1))
    assert engine.observe_gateway(GatewayState(weight=25, enabled=True)) is None
