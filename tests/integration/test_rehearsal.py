"""The rehearsal against the live guard, on one backfilled Prometheus: the same trigger fires at the same step.

The live side is the Monitor and Engine on a ManualClock (tests/integration/test_monitor_prometheus.py's
harness), every round a real query; the rehearsal fetches the same span's history once and steps
the guard's rounds over it. Scenarios: a regression at a known time, a short breach that must not
fire, a gap that must hold, and a breach older than the rollout (its window clipped at the start).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.adapters.prometheus import PrometheusSource
from cockpit.rehearsal import fetcher, rehearse, sweep_limits
from tests.integration.prom import PromServer, Series
from tests.integration.test_monitor_prometheus import drive, plan_for, trigger

pytestmark = pytest.mark.integration

T = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
t0 = T.timestamp()


def ratio(scenario, at):
    """canary_error_ratio{scenario} every 15 s from T-40m to T+60m; `at(offset_s)` is its value, None: no sample."""
    pts = [(t0 + k * 15.0, at(k * 15.0)) for k in range(-160, 241)]
    return Series("canary_error_ratio", {"scenario": scenario}, [(ts, v) for ts, v in pts if v is not None])


SERIES = [
    ratio("regress", lambda s: 0.03 if s >= 7 * 60 else 0.004),  # fires at T+12m
    ratio("blip", lambda s: 0.03 if 3 * 60 <= s < 6 * 60 else 0.004),  # 3 minutes: never 5
    ratio("gap", lambda s: None if 5 * 60 <= s < 20 * 60 else 0.004),  # no data from T+10m (5m lookback) to T+20m
    ratio("early", lambda s: 0.03),  # breaching since before the rollout started at T
    # a quiet day before the rollout: two short breaches, one long one (for the false-alarm count)
    Series("quiet_ratio", {}, [(t0 - 6 * 3600 + k * 15.0,
                                0.03 if (600 <= k < 610) or (900 <= k < 960) or (1200 <= k < 1205) else 0.004)
                               for k in range(4 * 240)]),
    Series("stable_p95_ms", {}, [(t0 + k * 15.0, 240.0) for k in range(-160, 241)]),
]


def page(id, scenario, for_="5m", no_data="hold"):
    return trigger(id, f'canary_error_ratio{{scenario="{scenario}"}}', ">=", for_, threshold=0.02, action="page",
                   no_data=no_data, unit="ratio")


TRIGGERS = [page("regress", "regress"), page("blip", "blip"), page("gap", "gap"), page("early", "early")]
CRITERIA = [
    {"id": "p95_ok", "name": "p95 < 300 ms", "query": "stable_p95_ms", "comparison": "<", "threshold": 300, "unit": "ms"},
    {"id": "errors_low", "name": "errors < 1 %", "query": 'canary_error_ratio{scenario="regress"}', "comparison": "<",
     "threshold": 0.01, "unit": "ratio"},
]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    with PromServer(tmp_path_factory.mktemp("rehearse"), SERIES) as server:
        yield server


@pytest.fixture(scope="module")
def live(prom, tmp_path_factory):
    state = tmp_path_factory.mktemp("live-state")
    return drive(plan_for(prom.url, TRIGGERS, criteria=CRITERIA), state, T + 30 * MIN, started=T), state


def test_each_trigger_fires_at_the_same_step_as_the_live_guard(prom, live):
    guard, _ = live
    plan = plan_for(prom.url, TRIGGERS, criteria=CRITERIA)
    got = rehearse(plan, fetcher(PrometheusSource(prom.url, timeout_s=10)), at=t0)
    fired_live = {r.payload.trigger: r.ts.timestamp() for r in guard.records("trigger_fired")}
    fired_rehearsed = {k: run.acted_at for k, run in got.triggers.items() if run.acted_at is not None
                       and run.acted_at <= (T + 30 * MIN).timestamp()}
    assert fired_live == fired_rehearsed == {"regress": t0 + 12 * 60, "early": t0 + 5 * 60}
    assert got.triggers["regress"].breached_at == t0 + 7 * 60 and got.triggers["regress"].fired_at == t0 + 12 * 60
    assert got.triggers["blip"].fired_at is None  # a 3-minute breach of a 5-minute window
    # The window clipped at the start: a breach older than the rollout fires for_ after the start, not at once.
    assert got.triggers["early"].fired_at == t0 + 300 and got.triggers["early"].breached_at == t0


def test_a_gap_holds_as_the_live_guard_holds(prom, live):
    guard, _ = live
    plan = plan_for(prom.url, TRIGGERS, criteria=CRITERIA)
    got = rehearse(plan, fetcher(PrometheusSource(prom.url, timeout_s=10)), at=t0, only=["gap"])
    held_live = [r.ts.timestamp() for r in guard.records("trigger_breached", trigger="gap") if r.payload.no_data]
    cleared_live = [r.ts.timestamp() for r in guard.records("trigger_cleared", trigger="gap")]
    runs = [(a, b) for a, b, state in got.triggers["gap"].timeline if state == "no_data"]
    assert held_live and runs[0][0] == held_live[0]
    assert cleared_live and runs[0][1] + got.timing.poll_s == cleared_live[0]
    assert got.triggers["gap"].fired_at is None and guard.records("trigger_fired", trigger="gap") == []


def test_gate_criteria_read_at_the_end_of_the_soak_as_the_guard_journals_them(prom, live):
    guard, _ = live
    plan = plan_for(prom.url, TRIGGERS, criteria=CRITERIA)
    got = rehearse(plan, fetcher(PrometheusSource(prom.url, timeout_s=10)), at=t0)
    read = {c.id: c for c in got.criteria}
    journaled = {r.payload.criterion: r.payload.passed for r in guard.records("criterion_evaluated")}
    assert journaled == {"p95_ok": True, "errors_low": False}
    assert read["p95_ok"].met is True and read["errors_low"].met is False and read["errors_low"].worst == 0.03
    assert got.gate_failed == 0 and got.killed_at is None  # pages only: nothing rolls back


def test_a_rollback_trigger_kills_the_rehearsed_rollout_when_the_live_one_is_killed(prom, tmp_path):
    triggers = [dict(page("regress", "regress"), action="rollback"), page("blip", "blip")]
    plan = plan_for(prom.url, triggers)
    guard = drive(plan, tmp_path, T + 14 * MIN, started=T)
    (kill,) = guard.records("kill_requested")
    got = rehearse(plan, fetcher(PrometheusSource(prom.url, timeout_s=10)), at=t0)
    assert got.killed_at == kill.ts.timestamp() == t0 + 12 * 60
    assert got.killed_by == "regress" and got.killed_in_phase == 0


def test_a_past_rollout_is_rehearsed_from_its_journal(prom, live):
    guard, state = live
    plan = plan_for(prom.url, TRIGGERS, criteria=CRITERIA)
    got = rehearse(plan, fetcher(PrometheusSource(prom.url, timeout_s=10)), journal_dir=state)
    assert got.from_journal and got.at == t0
    assert [(p.index, p.start) for p in got.phases] == [(0, t0)]  # it never left phase 1
    assert got.triggers["regress"].acted_at == t0 + 12 * 60


def test_a_quiet_span_counts_each_fire_once(prom):
    plan = plan_for(prom.url, [trigger("q", "quiet_ratio", ">=", "5m", threshold=0.02, action="page")])
    got = rehearse(plan, fetcher(PrometheusSource(prom.url, timeout_s=10)), quiet=(t0 - 6 * 3600, t0 - 2 * 3600))
    run = got.quiet_triggers["q"]
    # 150 s and 75 s breaches do not fire; the 15-minute one fires once, 5 minutes after it began.
    assert run.fires == (t0 - 6 * 3600 + 900 * 15 + 300,)
    assert got.quiet_rounds == 4 * 3600 // 15 + 1


def test_a_sweep_matches_the_single_threshold_rehearsal_at_each_point(prom):
    name, limits = sweep_limits("regress=0.002:0.04:0.002")
    triggers = [page("regress", "regress")]
    plan = plan_for(prom.url, triggers)
    fetch = fetcher(PrometheusSource(prom.url, timeout_s=10))
    quiet = (t0 - 30 * 60, t0)  # the ratio sits at 0.4 % there
    swept = rehearse(plan, fetch, at=t0, quiet=quiet, sweep=(name, limits))
    assert [r.limit for r in swept.sweep[1]] == limits and len(limits) == 20
    for row in swept.sweep[1]:
        one = plan_for(prom.url, [page("regress", "regress") | {"threshold": row.limit}])
        alone = rehearse(one, fetch, at=t0, quiet=quiet)
        assert row.detected_at == alone.triggers["regress"].fired_at
        assert row.quiet_fires == len(alone.quiet_triggers["regress"].fires)
    detected = {r.limit: r.detected_at for r in swept.sweep[1]}
    assert detected[0.02] == t0 + 12 * 60 and detected[0.04] is None  # 3 % never reaches 4 %
    assert detected[0.002] is not None and detected[0.002] < t0 + 12 * 60  # 0.4 % breaches from the start
    fires = {r.limit: r.quiet_fires for r in swept.sweep[1]}
    assert fires[0.002] == fires[0.004] == 1 and fires[0.006] == 0  # a threshold at the quiet level fires on it


def plan_file(path, url, triggers, criteria=(), **prometheus):
    import tomli_w

    path.write_text(tomli_w.dumps({
        "release": {"name": "it", "version": "v1", "environment": "test", "region": "loopback"},
        "roles": {"sre": {"title": "SRE"}},
        "phases": [{"name": "Phase 1", "weight": 5, "soak": "20m", "gate": {"owners": ["sre"], "auto": list(criteria)}},
                   {"name": "Phase 2", "weight": 100, "soak": "20m", "gate": {"owners": ["sre"]}}],
        "triggers": triggers,
        "kill_switch": {"gateway": "edge"},
        "gateways": {"edge": {"type": "simulated"}},
        "escalation": [{"level": "L1", "name": "SRE", "scope": "all", "owners": ["sre"], "channel": "#sre"}],
        "budget": {"categories": [{"id": "infra", "name": "Infra", "monthly": 1000, "projected": 500}]},
        "prometheus": {"url": url, "poll_interval": "15s", "step": "30s", **prometheus},
    }))
    return path


def test_the_command_says_it_in_words_and_writes_one_reproducible_document(prom, tmp_path, capsys, monkeypatch):
    import json

    from cockpit.cli import main

    triggers = [dict(page("regress", "regress"), action="rollback"), page("blip", "blip")]
    monkeypatch.setenv("REHEARSE_TOKEN", "s3cret-token")  # the credential is sent, and never written
    config = plan_file(tmp_path / "plan.toml", prom.url, triggers, CRITERIA, token={"env": "REHEARSE_TOKEN"})
    argv = ["rehearse", "--config", str(config), "--at", "2024-05-14T12:00:00Z",
            "--quiet-from", str(t0 - 30 * 60), "--quiet-to", str(t0), "--sweep", "regress=0.01:0.03:0.01"]
    assert main([*argv, "-o", str(tmp_path / "a.json")]) == 1  # killed
    said = capsys.readouterr().out
    assert "regress: breached 12:07:00Z, FIRED 12:12:00Z (12m00s in), rollback" in said
    assert "KILLED at 2024-05-14 12:12:00Z by regress" in said and "gate errors_low: NOT MET" in said
    assert "blip: would have fired 0 times" in said and "never fired: blip" in said
    assert main([*argv, "-o", "-"]) == 1
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((tmp_path / "a.json").read_text())
    assert printed == written  # two runs on the same data: the same document
    assert "s3cret" not in json.dumps(written) + said and written["prometheus"] == prom.url
    assert len(written["plan_digest"]) == len(written["samples_sha256"]) == 64
    res = written["results"]
    assert res["rollout"]["killed_at"] == t0 + 720 and res["rollout"]["killed_by"] == "regress"
    assert [r["detected_at"] for r in res["sweep"]["rows"]] == [t0 + 720, t0 + 720, t0 + 720]
    assert main([*argv, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 1 and doc["rehearsal"]["samples_sha256"] == written["samples_sha256"]


def test_a_prometheus_that_does_not_answer_is_refused_naming_it(tmp_path, capsys):
    from cockpit.cli import main
    from tests.integration.prom import free_port

    url = f"http://127.0.0.1:{free_port()}"
    config = plan_file(tmp_path / "plan.toml", url, [page("regress", "regress")])
    assert main(["rehearse", "--config", str(config), "--at", str(t0)]) == 2
    err = capsys.readouterr().err
    assert f"prometheus at {url}" in err and "connection refused" in err and "Traceback" not in err


def test_arguments_that_cannot_be_rehearsed_are_refused(prom, tmp_path, capsys):
    from cockpit.cli import main

    config = plan_file(tmp_path / "plan.toml", prom.url, [page("regress", "regress")])
    for extra, words in ((["--at", "yesterday"], "--at 'yesterday'"), ([], "a span to rehearse on"),
                         (["--at", str(t0), "--sweep", "nope=1:2:1"], "no query-backed trigger"),
                         (["--at", str(t0), "--sweep", "regress=1:2"], "TRIGGER=LOW:HIGH:STEP"),
                         (["--quiet-from", str(t0)], "both --quiet-from and --quiet-to")):
        assert main(["rehearse", "--config", str(config), *extra]) == 2
        assert words in capsys.readouterr().err


# -- the preflight check `rehearsal`: the triggers would not have fired on the stable version ------------------------

STABLE_DAY = [  # the stable version's error ratio over the 6 hours before T: one 15-minute breach at T-3h
    Series("release_ratio", {"track": "stable"}, [(t0 - 6 * 3600 + k * 15.0, 0.03 if 720 <= k < 780 else 0.004)
                                                  for k in range(6 * 240)]),
]


def plan_with_check(url, threshold, **check):
    from cockpit.config import parse_plan

    return parse_plan({
        "release": {"name": "it", "version": "v1", "environment": "test", "region": "loopback"},
        "roles": {"sre": {"title": "SRE"}},
        "preflight": [{"id": "quiet_week", "name": "Quiet on stable", "type": "rehearsal", "days": 0.25,
                       "substitute": {'track="canary"': 'track="stable"'}, **check}],
        "phases": [{"name": "Phase 1", "weight": 100, "soak": "20m", "gate": {"owners": ["sre"]}}],
        "triggers": [trigger("errors", 'release_ratio{track="canary"}', ">=", "5m", threshold=threshold,
                             action="rollback", unit="ratio")],
        "kill_switch": {"gateway": "edge"},
        "gateways": {"edge": {"type": "simulated"}},
        "escalation": [{"level": "L1", "name": "SRE", "scope": "all", "owners": ["sre"], "channel": "#sre"}],
        "budget": {"categories": [{"id": "infra", "name": "Infra", "monthly": 1000, "projected": 500}]},
        "prometheus": {"url": url, "poll_interval": "15s", "step": "15s"},
    })


@pytest.fixture(scope="module")
def stable_prom(tmp_path_factory):
    with PromServer(tmp_path_factory.mktemp("stable"), STABLE_DAY) as server:
        yield server


def test_a_plan_that_would_have_rolled_back_a_healthy_release_fails_preflight_with_the_times(stable_prom, tmp_path):
    import asyncio

    from cockpit.adapters import checks
    from cockpit.adapters.prometheus import build_metrics
    from cockpit.adapters.simulator import SimulatedGateway, SimulatedWorld
    from cockpit.clock import ManualClock
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from cockpit.store.journal import Journal

    plan = plan_with_check(stable_prom.url, 0.02)
    clock = ManualClock(T)
    metrics = build_metrics(plan)
    engine = Engine(plan, Journal(tmp_path), clock=clock, actor=Actor(user="it", host="loopback"),
                    gateway=SimulatedGateway(SimulatedWorld("healthy")),
                    check_runner=checks.runner(clock=clock, base_dir=tmp_path, metrics=metrics, plan=plan))
    engine.ensure_plan()
    out = asyncio.run(engine.run_preflight())
    (ran,) = [r.payload for r in out.records]
    # The breach began at T-3h; a 5-minute window fires 5 minutes later, on the stable version's own data.
    assert ran.check == "quiet_week" and ran.status == "fail", ran.detail
    assert "would have fired over the last 6h00m00s: errors 1 time (2024-05-14 09:05:00Z)" in ran.detail
    assert ran.evidence["fired"] == {"errors": ["2024-05-14T09:05:00+00:00"]}
    assert ran.evidence["from"] == "2024-05-14T06:00:00+00:00" and len(ran.evidence["samples_sha256"]) == 64
    assert asyncio.run(engine.start()).ok is False  # a failed check keeps the rollout from starting


def test_a_plan_quiet_on_the_stable_version_passes_and_one_reading_no_history_is_an_error(stable_prom, tmp_path):
    from cockpit.adapters import checks
    from cockpit.adapters.prometheus import build_metrics

    quiet = plan_with_check(stable_prom.url, 0.05)  # 3 % never reaches 5 %
    got = checks.rehearsal(quiet.preflight[0], quiet, build_metrics(quiet), T)
    assert got.status == "pass" and got.detail == "1 trigger would not have fired over the last 6h00m00s"
    canary = plan_with_check(stable_prom.url, 0.02, substitute={})  # reads the canary, which had no traffic
    got = checks.rehearsal(canary.preflight[0], canary, build_metrics(canary), T)
    assert got.status == "error" and "no data over the last 6h00m00s for errors" in got.detail


def test_a_rehearsal_check_names_triggers_that_are_not_query_backed():
    from cockpit.config import ConfigError

    with pytest.raises(ConfigError) as e:
        plan_with_check("http://127.0.0.1:9", 0.02, triggers=["nope"])
    assert "preflight.0.triggers: 'nope' is not a query-backed trigger" in str(e.value.errors)


def test_the_command_shows_the_lanes_on_the_screen_with_screen(prom, tmp_path):
    import json
    import sys
    import time

    from tests.e2e.test_demo_tmux import Terminal

    config = plan_file(tmp_path / "plan.toml", prom.url, [trigger("q", "quiet_ratio", ">=", "5m", threshold=0.02,
                                                                  action="page", level="L1")])
    command = (f"env -u COLUMNS -u LINES {sys.executable} -m cockpit rehearse --config {config} --screen "
               f"--quiet-from {t0 - 6 * 3600} --quiet-to {t0 - 2 * 3600} -o {tmp_path / 'doc.json'}; echo $? > {tmp_path / 'rc'}")
    term = Terminal(command)
    try:
        # the 15-minute breach fires once, 5 minutes after it began (test_a_quiet_span_counts_each_fire_once)
        screen = term.wait_for("quiet span 2024-05-14 06:00:00Z to 2024-05-14 10:00:00Z", "fired 1 time, first "
                               "2024-05-14 09:50:00Z", "█ fired")
        lane = next(line for line in screen.splitlines() if line.lstrip().startswith("q "))
        assert "█" in lane and "─" in lane  # ok, then fired, then ok again
        term.keys("q")
        deadline = time.monotonic() + 30
        while not term.dead() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        term.close()
    assert (tmp_path / "rc").read_text().strip() == "1"  # it would have fired on the quiet span
    assert json.loads((tmp_path / "doc.json").read_text())["results"]["quiet"]["triggers"]["q"]["fires"] == 1


def test_the_palette_asks_the_span_and_shows_the_lanes(stable_prom, tmp_path):
    import asyncio

    from textual.widgets import Input, Label, Static

    from cockpit.adapters.prometheus import build_metrics
    from cockpit.clock import ManualClock
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from cockpit.store.journal import Journal
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.rehearsal_view import AskSpan, RehearsalScreen

    plan = plan_with_check(stable_prom.url, 0.02)
    engine = Engine(plan, Journal(tmp_path), clock=ManualClock(T), actor=Actor(user="it", host="loopback"),
                    metrics=build_metrics(plan))
    engine.ensure_plan()

    async def drive():
        app = CockpitApp(engine, who="it@loopback", watch=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await app.run_action("rehearse")
            await pilot.pause()
            assert isinstance(app.screen, AskSpan)
            app.screen.query_one(Input).value = "soon"
            await pilot.press("enter")
            await pilot.pause()
            assert "give a number of days" in str(app.screen.query_one("#ask-error", Label).render())
            app.screen.query_one(Input).value = "0.25"  # the 6 hours before T
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, RehearsalScreen)
            shown = str(app.screen.query_one("#rehearsal-lanes", Static).render())
            assert "errors" in shown and "fired 1 time, first 2024-05-14 09:05:00Z" in shown
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, RehearsalScreen)

    asyncio.run(drive())
