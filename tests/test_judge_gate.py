"""A gate with a Marginal judgment never advances on its own: it waits for its owners' GO given
after the judgment, from the screen (the go/no-go dialog shows the judgment) and from `cockpit
decide`; Pass and Fail decide the gate as any criterion does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w
from textual.widgets import Input

from cockpit.clock import SystemClock
from cockpit.config import load_plan
from cockpit.core import events as ev
from cockpit.core import rules
from cockpit.engine import Engine
from cockpit.seed import judged_seed_data
from cockpit.store.journal import Journal
from cockpit.tui.dialogs import GateDialog
from tests.test_cli_actions import SETUP, VERSION, cockpit, flags, guard, journal, no_terminal, ready, refused, state  # noqa: F401
from tests.tui.scenes import Scene, text_of


@pytest.fixture
def config(tmp_path, flags) -> Path:  # noqa: F811 - the judged seed plan, as tests.test_cli_actions' config
    data = judged_seed_data()
    data["state_dir"] = str(tmp_path / "state")
    data["gateways"] = {"edge": {"type": "http", "url": f"{flags.url}/flags", "timeout": "2s"}}
    data["preflight"] = [{"id": "builds", "name": "Builds", "type": "command", "argv": ["true"]},
                         {"id": "data_plane", "name": "Data Plane", "type": "command", "argv": ["false"]}]
    data["triggers"] = [t for t in data["triggers"] if t.get("query")]
    for phase in data["phases"]:
        phase["soak"] = "0s"
    path = tmp_path / "plan.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def guard_judges(config: Path, verdict: str) -> None:
    """What the guard journals: the other criteria met, and a judgment of the phase."""
    plan = load_plan(config)
    engine = Engine(plan, Journal(Path(plan.state_dir)), clock=SystemClock(), actor=SETUP)
    phase = engine.state.phase
    for c in plan.phases[phase].gate.auto:
        if c.source != "judge":
            engine.observe_criterion(c.id, True, 0.0, f"{c.name}: ok")
    now = engine.clock.now()
    engine.observe_judgment(ev.JudgmentMade(
        phase=phase, score=100.0, verdict=verdict, reason="score 100 passes, but the spread grew on API p95: a human decides",
        window_start=now - timedelta(minutes=20), window_end=now, criteria=("judgment",)))
    engine.journal.close()


def test_a_marginal_gate_waits_for_cockpit_decide(capsys, config, guard):  # noqa: F811
    ready(capsys, config)
    assert cockpit(capsys, "start", "--config", str(config), "--confirm", VERSION)[0] == 0
    assert cockpit(capsys, "decide", "1", "sre", "go", "--config", str(config), "--name", "Sam")[0] == 0  # before the judgment
    guard_judges(config, "Marginal")
    reasons = refused(capsys, config, "advance", "--confirm", VERSION)
    assert len(reasons) == 1 and reasons[0].startswith(
        "criterion judgment judged Marginal (score 100): the owners decide; waiting for a GO given since "), reasons
    assert reasons[0].endswith(" from: SRE")
    assert cockpit(capsys, "decide", "1", "sre", "go", "--config", str(config), "--name", "Sam", "--note", "spread seen, accepted")[0] == 0
    code, out, err = cockpit(capsys, "advance", "--config", str(config), "--confirm", VERSION)
    assert code == 0, err
    assert state(config).phase == 1


def test_a_fail_judgment_refuses_the_advance_whatever_the_owners_say(capsys, config, guard):  # noqa: F811
    ready(capsys, config)
    assert cockpit(capsys, "start", "--config", str(config), "--confirm", VERSION)[0] == 0
    guard_judges(config, "Fail")
    assert cockpit(capsys, "decide", "1", "sre", "go", "--config", str(config), "--name", "Sam")[0] == 0
    reasons = refused(capsys, config, "advance", "--confirm", VERSION)
    assert reasons == ["criterion judgment not met: judged Fail: score 100 passes, but the spread grew on API p95: a human decides"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_a_marginal_gate_waits_for_the_owners_go_from_the_screen(tmp_path):
    """The judge-marginal demo: the guard judges the spread ×5 Marginal; the simulated owners
    (who GO once every criterion is met) do not; the captain's screen shows why and records the GO."""
    scene = await Scene(tmp_path / "s", scenario="judge-marginal").live(phase=0, into_soak_min=21)
    engine = scene.engine
    assert engine.state.gates[0].judged.judgment.verdict == "Marginal"
    assert engine.state.gates[0].decisions == {}  # the demo's owners did not GO on their own
    out = await engine.advance()
    assert not out.ok and out.reasons[0].startswith("criterion judgment judged Marginal (score 100): the owners decide")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, GateDialog)
        shown = " ".join(text_of(dialog.query_one("#summary")).split())  # as read, not as wrapped
        assert "Judge Phase 1: Marginal · score 100 · score 100 passes, but the spread grew on API p95" in shown
        assert "Pass API p95: spread ×5" in shown and "▲ judged Marginal: score 100 passes" in shown
        dialog.query_one("#name", Input).value = "Sam"
        await pilot.click("#go")
        await pilot.pause()
        await pilot.press("escape")
    assert rules.advance_refusals(engine.state, engine.clock.now()) == []
    assert (await engine.advance()).ok and engine.state.phase == 1


@pytest.mark.anyio
@pytest.mark.parametrize("scenario, status, verdicts", [
    ("judge-pass", "live", {"Pass"}),
    ("judge-fail", "rolled_back", {"Fail"}),
])
async def test_the_pass_and_fail_demos(tmp_path, scenario, status, verdicts):
    scene = await Scene(tmp_path / "s", scenario=scenario).live(phase=0, into_soak_min=21)
    made = [r.payload for r in scene.engine.journal.records if r.kind == "judgment_made"]
    assert {j.verdict for j in made} == verdicts and scene.engine.state.status == status
    if scenario == "judge-pass":
        assert len(made) == 17 and (await scene.engine.advance()).ok  # the demo's owners GO on a Pass
    else:
        assert len(made) == 3  # judged at 5, 6 and 7 minutes; the third Fail in a row rolled it back
        kill = next(r.payload for r in scene.engine.journal.records if r.kind == "kill_requested")
        assert kill.trigger == "judge" and "critical metric API p95 is High" in kill.reason


@pytest.mark.anyio
async def test_the_analysis_view_opens_from_its_key_and_the_palette_for_captain_and_observer(tmp_path):
    from cockpit.tui.analysis import AnalysisScreen

    scene = await Scene(tmp_path / "s", scenario="judge-fail").live(phase=0, into_soak_min=8)
    for app in (scene.app(), scene.observer_app()):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("A")
            await pilot.pause()
            assert isinstance(app.screen, AnalysisScreen)
            shown = " ".join(text_of(app.screen.query_one("#analysis-lines")).split())
            assert "Phase 1: Fail" in shown and "✗ API p95 High canary 316 ms base 247 ms" in shown
            assert "canary higher: shift +71.3 ms (98 % interval +58.7 ms to +85.8 ms" in shown
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, AnalysisScreen)
            assert app.check_action("analysis", ()) is True
            assert "analysis" in [action for action, _label, _help in app.PALETTE]
            await app.run_action("analysis")  # as the palette's hit runs it
            await pilot.pause()
            assert isinstance(app.screen, AnalysisScreen)


@pytest.mark.anyio
async def test_the_analysis_view_of_a_plan_without_a_judge_says_how_to_add_one(tmp_path):
    from cockpit.tui.analysis import AnalysisScreen

    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=3)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AnalysisScreen)
        assert "This plan has no [judge]" in text_of(app.screen.query_one("#analysis-lines"))
