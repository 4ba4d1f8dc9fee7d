"""The screen's flows, driven as a captain (and an observer) would, with Pilot."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, Input, Select

from cockpit.tui.dialogs import Confirm, GateDialog, HelpScreen, KillDialog
from tests.tui.scenes import Scene, text_of

pytestmark = pytest.mark.anyio


def kinds(scene: Scene) -> list[str]:
    return [r.kind for r in scene.engine.journal.records]


def notes(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def test_advance_refused_shows_the_cores_reasons_verbatim(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=5)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(kinds(scene))
        await pilot.press("a")
        await pilot.pause()
        await app.workers.wait_for_complete()
        shown = "\n".join(notes(app))
        assert "Advance refused: Phase 1 soak has 15m00s left" in shown
        assert "waiting for GO from: SRE" in shown
        assert len(kinds(scene)) == before  # a refusal changes nothing


async def test_a_gate_recorded_by_two_owners(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=1, into_soak_min=5)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, GateDialog)
        dialog.query_one("#name", Input).value = "Priya"
        dialog.query_one("#note", Input).value = "UI E2E confirmed on staging+canary"
        await pilot.click("#go")
        await pilot.pause()
        dialog = app.screen  # the decision was returned and recorded: the dialog is open again
        assert isinstance(dialog, GateDialog)
        dialog.query_one("#role", Select).value = "tech_lead"
        dialog.query_one("#name", Input).value = "Tomas"
        await pilot.click("#nogo")
        await pilot.pause()
        await pilot.press("escape")
    gate = scene.engine.state.gates[1].decisions
    assert (gate["po"].decision, gate["po"].name, gate["po"].note) == ("GO", "Priya", "UI E2E confirmed on staging+canary")
    assert (gate["tech_lead"].decision, gate["tech_lead"].name) == ("NO-GO", "Tomas")
    # Partial decisions persist: they are in the journal, so a restart or an observer sees them.
    from cockpit.core.state import fold
    from cockpit.store.journal import Journal

    assert fold(Journal(scene.state_dir, readonly=True).records).gates[1].decisions.keys() == {"po", "tech_lead"}


async def test_after_one_owners_go_the_dialog_moves_to_the_next_owner(tmp_path):
    """Type a name, GO, type the next name, GO: each owner's own decision, none overwritten (the
    lab's captain recorded Tess Lead over Pat Owner's GO when the role stayed put)."""
    scene = await Scene(tmp_path / "s").live(phase=1, into_soak_min=5)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g", *"Pat Owner")
        await pilot.pause()
        assert app.screen.query_one("#role", Select).value == "po"
        await pilot.click("#go")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, GateDialog) and dialog.query_one("#role", Select).value == "tech_lead"
        assert dialog.query_one("#name", Input).value == "" and app.focused is dialog.query_one("#name", Input)
        assert "recorded GO for Product Owner; next: Tech Lead" in text_of(dialog.query_one("#error"))
        await pilot.press(*"Tess Lead")
        await pilot.click("#go")
        await pilot.pause()
        assert "every owner has decided (Escape closes)" in text_of(app.screen.query_one("#error"))
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, GateDialog)
    gate = scene.engine.state.gates[1].decisions
    assert (gate["po"].name, gate["tech_lead"].name) == ("Pat Owner", "Tess Lead")


async def test_the_gate_dialog_opens_on_the_first_owner_still_waiting(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=1, into_soak_min=5)
    assert scene.engine.decide("po", "GO", "Pat").ok
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert app.screen.query_one("#role", Select).value == "tech_lead"


async def test_gate_dialog_refuses_a_decision_without_a_name(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        await pilot.click("#go")
        await pilot.pause()
        assert "a decision needs the name of who decided" in text_of(app.screen.query_one("#error"))
    assert 0 not in scene.engine.state.gates or not scene.engine.state.gates[0].decisions


async def test_typing_the_version_right_after_k_fills_the_field_and_kills(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("K", *"v0.1.0")
        dialog = app.screen
        assert isinstance(dialog, KillDialog)
        assert app.focused is dialog.query_one("#confirm", Input)
        assert dialog.query_one("#confirm", Input).value == "v0.1.0"
        assert not dialog.query_one("#pull", Button).disabled
        await pilot.press("tab", *"p95", "enter")  # Tab to the reason; Enter there pulls
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert kinds(scene)[-3:] == ["kill_requested", "kill_result", "rollback_verified"]
    assert scene.engine.state.kill.reason == "p95" and scene.world.enabled is False


async def test_enter_on_the_right_version_pulls_at_once(tmp_path):
    """In an emergency: k, the version, Enter. Nothing may look done that is not: it is done."""
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("K", *"v0.1.0", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, KillDialog)
    assert kinds(scene)[-3:] == ["kill_requested", "kill_result", "rollback_verified"]
    assert scene.engine.state.kill.reason == "kill switch pulled from the cockpit" and scene.world.enabled is False


async def test_kill_button_is_disabled_until_the_text_matches_exactly(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("K")
        pull = app.screen.query_one("#pull", Button)
        seen = [pull.disabled]
        for key in "v0.1.0":
            await pilot.press(key)
            seen.append(pull.disabled)
        assert seen == [True, True, True, True, True, True, False]
        await pilot.press("backspace")
        assert pull.disabled
        assert app.screen.query_one("#confirm", Input).placeholder == "type the version here"


async def test_a_wrong_version_and_enter_change_nothing_and_say_so_and_escape_cancels(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    before = kinds(scene)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("K", *"v0.1.1", "enter")
        await pilot.pause()
        assert isinstance(app.screen, KillDialog)
        assert "'v0.1.1' is not v0.1.0: nothing was changed" in text_of(app.screen.query_one("#error"))
        await pilot.press("tab", "enter")  # Enter in the reason field: still the wrong version
        await pilot.pause()
        assert isinstance(app.screen, KillDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, KillDialog)
    assert kinds(scene) == before and scene.world.enabled is True


async def test_the_gate_dialog_types_into_the_name_and_enter_records_nothing(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g", *"Sam", "enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, GateDialog)
        assert dialog.query_one("#name", Input).value == "Sam"
        assert 0 not in scene.engine.state.gates or not scene.engine.state.gates[0].decisions
        await pilot.click("#go")
        await pilot.pause()
        assert "Sam (SRE) GO, entered by alice@bastion" in text_of(app.screen.query_one("#summary"))
        await pilot.press("escape")
        await pilot.pause()
        assert "Sam (SRE) GO, entered by alice@bastion" in text_of(app.query_one("#phase"))
    assert scene.engine.state.gates[0].decisions["sre"].by == "alice@bastion"


async def test_kill_with_wrong_text_is_refused_and_right_text_kills_verified(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=1)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("K")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#confirm", Input).value = "v0.1.1"
        dialog.query_one("#reason", Input).value = "p95 regression"
        await pilot.pause()
        assert dialog.query_one("#pull", Button).disabled
        await pilot.click("#pull")  # a disabled button: nothing happens
        await pilot.press("enter")  # Enter in the version field: refused, and said
        await pilot.pause()
        assert isinstance(app.screen, KillDialog)
        assert "'v0.1.1' is not v0.1.0: nothing was changed" in text_of(dialog.query_one("#error"))
        assert "kill_requested" not in kinds(scene)
        dialog.query_one("#confirm", Input).value = "v0.1.0"
        await pilot.pause(0.25)  # a Button ignores a second press within its 0.2 s press effect
        await pilot.click("#pull")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = text_of(app.query_one("#header"))
        assert "ROLLED BACK · KILL VERIFIED" in text_of(app.query_one("#banner")) and "canary 0 %" in header
        assert "KILL VERIFIED" in text_of(app.query_one("#phase"))
    # The gateway's read-back, the channel, then the second proof: canary traffic fell to ~0.
    assert kinds(scene)[-3:] == ["kill_requested", "kill_result", "rollback_verified"]
    assert scene.engine.state.kill.verified.ok
    assert scene.engine.state.kill.reason == "p95 regression"
    assert scene.world.enabled is False


async def test_kill_not_confirmed_is_loud(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    scene.world.gateway_down = True
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("K")
        await pilot.pause()
        app.screen.query_one("#confirm", Input).value = "v0.1.0"
        await pilot.click("#pull")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "KILL NOT CONFIRMED" in text_of(app.query_one("#banner"))
        assert any(n.startswith("KILL NOT CONFIRMED") for n in notes(app))
        assert "▶ Emergency" in text_of(app.query_one("#escalation"))


async def test_keys_keep_flowing_while_the_kill_runs(tmp_path):
    """The kill runs in a worker: the help screen opens while the gateway has not answered yet."""
    scene = await Scene(tmp_path / "s").live(phase=0)
    scene.world.gateway_held = asyncio.Event()  # it answers once the test has looked
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("K")
        await pilot.pause()
        app.screen.query_one("#confirm", Input).value = "v0.1.0"
        await pilot.click("#pull")
        await pilot.pause()
        assert "KILL SENT" in text_of(app.query_one("#header"))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert scene.engine.state.kill is not None and scene.engine.state.kill.result is None  # still in flight
        scene.world.gateway_held.set()
        await app.workers.wait_for_complete()
    assert scene.engine.state.status == "rolled_back"


async def test_start_from_the_keyboard_after_preflight(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, Confirm) and app.focused.id == "cancel"
        await pilot.press("enter")  # a stray Enter lands on Cancel: traffic does not move
        await pilot.pause()
        assert scene.engine.state.status == "preflight" and scene.world.weight == 0
        await pilot.press("s", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert scene.engine.state.phase == 0 and scene.world.weight == 5
        assert "Phase 1 (1/4)" in text_of(app.query_one("#header"))


async def test_sign_off_and_waive_dialogs(tmp_path):
    scene = await Scene(tmp_path / "s").preflight(signed=3)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert app.screen.query_one("#role", Select).value == "sre"  # the first missing sign-off
        app.screen.query_one("#name", Input).value = "Sam"
        await pilot.click("#ok")
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one("#check", Select).value = "cve_status"
        await pilot.click("#ok")
        await pilot.pause()
        assert "required: Reason (journaled)" in text_of(app.screen.query_one("#error"))
        app.screen.query_one("#reason", Input).value = "scanner outage; manual review SEC-42"
        await pilot.pause(0.25)  # a Button ignores a second press within its 0.2 s press effect
        await pilot.click("#ok")
        await pilot.pause()
    assert scene.engine.state.sign_offs["sre"].name == "Sam"
    assert scene.engine.state.checks["cve_status"].waived == "scanner outage; manual review SEC-42"


async def test_chatops_line_is_checked_against_the_plan(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.check_chatops("/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag")
        app.check_chatops("/approve canary v0.2.0 → prod (us-east-1, US-only) steps: 5/50/100 kill-switch:gateway-flag")
        await pilot.pause()
        shown = notes(app)
    assert any(n.startswith("ChatOps approval matches the plan") for n in shown)
    bad = next(n for n in shown if n.startswith("ChatOps line does NOT match"))
    assert "version v0.2.0 ≠ plan v0.1.0" in bad and "region us-east-1 ≠ plan us-west-2" in bad and "steps 5/50/100 ≠ plan 5/25/50/100" in bad
    assert scene.engine.journal.records[-1].payload.text.startswith("ChatOps approval checked")


HELP_KEYS = [  # key as pressed, as shown in help, the action it runs, its full label in help
    ("a", "a", "advance", "Advance to the next phase"), ("g", "g", "gate", "Go/No-Go for the current gate"),
    ("K", "K", "kill", "Pull the kill switch"), ("s", "s", "start", "Start the rollout"),
    ("r", "r", "run_checks", "Run preflight checks"), ("o", "o", "sign_off", "Record a sign-off"),
    ("w", "w", "waive", "Waive a preflight check"), ("n", "n", "note", "Add a note to the journal"),
    ("c", "c", "checklist", "Tick a rollback step"), ("q", "q", "quit_cockpit", "Quit the cockpit"),
    ("J", "J", "journal", "The whole journal"),
]


async def test_help_lists_every_binding(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        bound: dict[str, set[str]] = {}  # every key, whether or not this state offers it (c: by the state)
        for b in app.BINDINGS:
            bound.setdefault(b.key, set()).add(b.action)
        for key, _, action, _ in HELP_KEYS:
            assert action in bound.get(key, set()), f"{key} runs {bound.get(key)}, not {action}"
        await pilot.press("question_mark")
        await pilot.pause()
        lines = text_of(app.screen.query_one("#keys")).splitlines()
        for _, shown, _, label in HELP_KEYS:  # each label on the row of the key that runs it
            row = next((line.split() for line in lines if f" {label}" in line), None)
            assert row is not None and row[0] == shown, f"help shows {label} on {row}, not on {shown}"
        assert "Command palette" in " ".join(lines)
        legend = text_of(app.screen.query_one("#legend"))
        for symbol in ["▲", "✗", "◌", "·", "HOLD", "STALE", "FIRED", "UNGUARDED", "BLIND"]:
            assert f"\n {symbol} " in "\n" + legend or legend.startswith(f" {symbol}") or f"\n{symbol} " in "\n" + legend, symbol
        await pilot.press("escape")


# --- observers ----------------------------------------------------------------------------------

MUTATING_KEYS = ["a", "g", "K", "s", "r", "o", "w", "n"]


async def test_observer_cannot_act_by_key(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.observer_app()
    before = kinds(scene)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "OBSERVER" in text_of(app.query_one("#header"))
        for key in MUTATING_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], f"{key} opened {app.screen}"
        shown = {ab.binding.key for ab in app.screen.active_bindings.values() if ab.enabled and ab.binding.show}
        assert shown and not shown & set(MUTATING_KEYS)  # the footer offers help and quit, nothing that acts
    assert kinds(scene) == before


async def test_observer_palette_offers_no_action_and_direct_calls_are_refused(tmp_path):
    from cockpit.tui.palette import CockpitCommands

    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.observer_app()
    before = kinds(scene)
    async with app.run_test(size=(120, 40)) as pilot:
        provider = CockpitCommands(app.screen)
        offered = [hit.text for hit in [h async for h in provider.discover()]]
        assert offered == ["Help: every key", "Analysis: the canary judged against its baseline",
                           "Rehearse the triggers on history"]  # read-only views
        searched = [str(h.match_display) async for h in provider.search("kill")]
        assert searched == []
        # A button handler or palette hit reaches the method directly: it must refuse too.
        app.action_kill()
        app.action_advance()
        app.action_start()
        app.action_gate()
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert sum("read-only" in n for n in notes(app)) >= 4
        # And the engine under it refuses writes whatever the screen does.
        out = await app.engine.kill("from the observer")
        assert not out.ok and "read-only" in out.reasons[0]
    assert kinds(scene) == before


async def test_observer_follows_the_captain(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.observer_app()
    async with app.run_test(size=(120, 40)) as pilot:
        scene.engine.note("captain: watching p95 closely")
        app._tick()  # what the once-a-second timer does
        await pilot.pause()
        assert "captain: watching p95 closely" in text_of(app.query_one("#timeline"))


async def test_the_palette_offers_the_captains_actions_and_takes_the_chatops_line(tmp_path):
    from cockpit.tui.palette import CockpitCommands

    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app()
    line = "/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag"
    async with app.run_test(size=(120, 40)) as pilot:
        provider = CockpitCommands(app.screen)
        offered = [hit.text for hit in [h async for h in provider.discover()]]
        assert "Start the rollout" in offered
        assert "Pull the kill switch" not in offered and "Advance to the next phase" not in offered  # not in preflight
        # run, waive, sign, start, note, help, analysis, rehearse; and a re-run for each of the six preflight checks
        assert len(offered) == 8 + 6
        (rerun,) = [h async for h in provider.search("Run preflight check: CVE")]
        before = len(scene.engine.journal.records)
        await rerun.command()  # the palette awaits what a hit returns
        await pilot.pause()
        await app.workers.wait_for_complete()
        new = scene.engine.journal.records[before:]
        assert [(r.kind, r.payload.check) for r in new] == [("check_ran", "cve_status")]
        (hit,) = [h async for h in provider.search(line)]
        hit.command()
        await pilot.pause()
        assert any(n.startswith("ChatOps approval matches the plan") for n in notes(app))


async def test_an_allowed_advance_is_confirmed_before_traffic_moves(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=21)  # soaked; the simulated SRE said GO
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        assert "from 5 % to 25 %" in text_of(app.screen.query_one(".explain"))
        await pilot.press("escape")
        await pilot.pause()
        assert scene.engine.state.phase == 0 and scene.world.weight == 5
        await pilot.press("a", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert scene.engine.state.phase == 1 and scene.world.weight == 25


async def test_quitting_a_live_rollout_asks_first(tmp_path):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        explain = text_of(app.screen.query_one(".explain")).replace("\n", " ")
        assert isinstance(app.screen, Confirm) and "Guard 4242@bastion keeps watching the triggers" in explain
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
    scene.clock.advance(181)  # no guard round for three poll intervals: nobody is watching
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        explain = text_of(app.screen.query_one(".explain")).replace("\n", " ")
        assert "NO GUARD is running: triggers are not watched" in explain


@pytest.mark.parametrize("keys", [("ctrl+q",), ("ctrl+p", *"Quit the application", "enter")])
async def test_ctrl_q_and_the_palettes_quit_ask_as_q_does_while_live(tmp_path, keys):
    scene = await Scene(tmp_path / "s").live(phase=0)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*keys[:-1] if len(keys) > 1 else keys)
        for _ in range(300):  # the palette searches in a worker: its hits come when they come
            hits = app.screen.query("CommandList")
            if len(keys) == 1 or (hits and hits.first().option_count and hits.first().highlighted == 0
                                  and "Quit" in str(hits.first().get_option_at_index(0).prompt)):
                # enter takes the highlighted hit: under load the list fills before it highlights one
                break
            await pilot.pause(0.1)
        if len(keys) > 1:
            await pilot.press(keys[-1])
        for i in range(100):  # the palette closes, then the question opens
            if isinstance(app.screen, Confirm):
                break
            hits = app.screen.query("CommandList")
            if len(keys) > 1 and i % 20 == 19 and hits and hits.first().option_count:
                # under load a late search (of a shorter prefix) refilled the list as enter came, and a refilled
                # list highlights nothing: highlight its first hit (as ↓ does) and take it, if it is Quit
                found = hits.first()
                if found.highlighted is None:
                    await pilot.press("down")
                if found.highlighted == 0 and "Quit" in str(found.get_option_at_index(0).prompt):
                    await pilot.press(keys[-1])
            await pilot.pause(0.1)
        assert isinstance(app.screen, Confirm) and app.is_running
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


# --- the headline, and the footer after a rollback ------------------------------------------------------


async def _scene_for(tmp_path, state: str) -> Scene:
    s = Scene(tmp_path / "s", {"breaching": "latency-regression", "rolled-back": "latency-regression", "blind": "no-data"}.get(state, "healthy"))
    if state == "preflight":
        return await s.preflight(signed=3)
    if state == "ready-to-start":
        return await s.preflight()
    if state == "soaking":
        return await s.live(phase=0, into_soak_min=6)
    if state == "ready-to-advance":
        return await s.live(phase=0, into_soak_min=21)
    if state in ("breaching", "blind"):
        return await s.live(phase=1, into_soak_min=6 if state == "breaching" else 3)
    if state == "rolled-back":
        return await s.live(phase=1, into_soak_min=12)
    if state in ("killing", "kill-not-confirmed"):
        await s.live(phase=0)
        s.world.gateway_down = True
        if state == "killing":
            from cockpit.core.events import KillRequested

            s.engine._append(KillRequested(reason="by hand"))  # sent; the gateway has not answered yet
        else:
            await s.engine.kill("by hand")
        return s
    if state == "completed":
        await s.live(phase=3, into_soak_min=21)
        assert (await s.engine.advance()).ok
        return s
    if state == "unguarded":
        await s.live(phase=0)
        s.clock.advance(181)  # no guard round for three poll intervals
        return s
    raise ValueError(state)


HEADLINES = {
    "preflight": "PREFLIGHT: 6/6 checks passed · 3/5 sign-offs",
    "ready-to-start": "READY: preflight passed, press s to start at 5 %",
    "soaking": "SOAKING 14m",
    "ready-to-advance": "READY: GO recorded, press a to advance to 25 %",
    "breaching": "BREACHING: Performance — auto-rollback in 4m00s",
    "blind": "BLIND: 3 triggers without data — holding",
    "killing": "KILL SENT",
    "rolled-back": "ROLLED BACK · KILL VERIFIED · canary traffic ~0",
    "kill-not-confirmed": "KILL NOT CONFIRMED",
    "completed": "COMPLETED",
    "unguarded": "UNGUARDED: no guard round for 3m01s",
}


@pytest.mark.parametrize("state", list(HEADLINES))
async def test_the_headline_for_each_rollout_state(tmp_path, state):
    scene = await _scene_for(tmp_path, state)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        banner = text_of(app.query_one("#banner")).strip()
        assert banner.startswith(HEADLINES[state]), banner


def _offered(app) -> set[str]:
    return {ab.binding.action for ab in app.screen.active_bindings.values() if ab.enabled and ab.binding.show}


async def test_after_a_rollback_the_footer_offers_no_refused_action(tmp_path):
    scene = await _scene_for(tmp_path, "rolled-back")
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        offered = _offered(app)
        assert offered == {"checklist", "note", "journal", "help", "quit_cockpit"}, offered
        before = kinds(scene)
        for key in ("a", "s", "o", "w", "g", "r"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], key
        assert kinds(scene) == before


async def test_the_footer_follows_the_state(tmp_path):
    scene = await _scene_for(tmp_path, "preflight")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert {"start", "run_checks", "sign_off", "waive"} <= _offered(app) and not {"advance", "kill", "gate"} & _offered(app)


async def test_a_rollback_step_is_ticked_by_hand_and_journaled(tmp_path):
    scene = await _scene_for(tmp_path, "rolled-back")
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#step", Select).value = "hotfix branch created"
        await pilot.press(*"hotfix/p95", "enter")
        await pilot.pause()
        assert "hotfix/p95 (alice" in text_of(app.query_one("#phase"))
    note = scene.engine.journal.records[-1]
    assert note.kind == "note" and note.payload.text == "rollback step done: hotfix branch created: hotfix/p95"


async def test_no_contact_channel_or_trigger_name_of_the_seed_plan_is_cut_at_120x40(tmp_path):
    """Read the rendered screen's text: every escalation contact and channel, the kill switch's
    channel and every trigger's name appear whole (an ellipsis would cut them)."""
    scene = await _scene_for(tmp_path, "breaching")
    plan = scene.engine.plan
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = "\n".join(text_of(app.query_one(f"#{pane}")) for pane in ("phase", "escalation", "budget", "banner"))
    from cockpit.core.readmodel import trigger_label

    wanted = [c for lvl in plan.escalation for c in lvl.contacts] + [lvl.channel for lvl in plan.escalation]
    wanted += [plan.kill_switch.notify] + [trigger_label(t.name) for t in plan.triggers]
    missing = [w for w in wanted if w not in screen]
    assert missing == [], missing


async def test_the_footer_shows_the_palette_key_when_there_is_room_and_the_help_says_it_always(tmp_path):
    """At 80 columns the footer leaves ^p out (its labels come first: none is cut); the help
    names ctrl+p at every size; at 120 columns the footer shows it."""
    scene = await _scene_for(tmp_path, "soaking")
    for size, palette_key in (((80, 24), False), ((120, 40), True)):
        app = scene.app()
        async with app.run_test(size=size) as pilot:
            footer = app.query_one("Footer")
            for _ in range(100):  # the footer recomposes once the bindings settle (later under load)
                await pilot.pause(0.05)
                shown = " ".join(str(w.render()) for w in footer.query("FooterKey"))
                if "Note" in shown:
                    break
            assert ("^p" in shown) is palette_key, (size, shown)
            assert "Note" in shown
            await pilot.press("question_mark")
            await pilot.pause()
            assert "ctrl+p" in text_of(app.screen.query_one("#keys"))


async def test_the_demo_says_so_in_its_header(tmp_path):
    from cockpit import demo

    scene = await _scene_for(tmp_path, "soaking")
    app = scene.app(banner=demo.banner(60))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "DEMO · simulated · 60x" in text_of(app.query_one("#header"))
    assert demo.watch_hint(tmp_path) == f"watch it from another terminal: cockpit observe --state-dir {tmp_path}"


async def test_captain_and_observer_fed_the_same_evaluation_render_the_same_panes(tmp_path):
    """The observer reads the guard's published round (guard.json) and the journal; the captain
    its in-process guard: every pane is the same text, only the header's mode badge differs."""
    scene = await _scene_for(tmp_path, "breaching")
    shown = []
    for app in (scene.app(), scene.observer_app()):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            shown.append({p: text_of(app.query_one(f"#{p}")) for p in ("header", "banner", "phase", "preflight", "budget", "escalation", "timeline")})
    captain, observer = shown
    assert "BREACHING: Performance" in captain["banner"]
    for pane in ("banner", "phase", "preflight", "budget", "escalation", "timeline"):
        assert captain[pane] == observer[pane], pane
    assert captain["header"] != observer["header"]
    assert captain["header"].replace("CAPTAIN alice@bastion", "X").split("X")[1:] == observer["header"].replace("DEMO · simulated · OBSERVER", "X").split("X")[1:]


async def test_a_page_is_acknowledged_from_the_screen(tmp_path):
    """`e` on an open incident: the form names the incident, the name is typed, the ack journaled."""
    from cockpit.core import events as ev

    scene = await Scene(tmp_path / "s").live(phase=0, into_soak_min=5)
    scene.engine._append(ev.IncidentOpened(incident="INC-1", level="L1", reason="trigger error_rate fired", trigger="error_rate"))
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one("#incident", Select).value == "INC-1"
        await pilot.press(*"Bob Oncall", "enter")
        await pilot.pause()
        for _ in range(3):
            if scene.engine.state.incidents["INC-1"].acknowledged:
                break
            await pilot.click("#ok")
            await pilot.pause()
    inc = scene.engine.state.incidents["INC-1"]
    assert (inc.acked_by, inc.acked_via) == ("Bob Oncall", "screen")


async def test_the_whole_journal_scrolls_and_filters(tmp_path):
    from cockpit.tui.journal_view import JournalScreen, LongLines

    scene = await Scene(tmp_path / "s", "latency-regression").live(phase=1, into_soak_min=12)  # rolled back
    for i in range(200):
        scene.engine.note(f"watching p95, note {i}")
    records = scene.engine.journal.records
    assert len(records) > 200  # more than the panes keep: the view reads the journal itself
    app = scene.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("J")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JournalScreen) and screen.shown == len(records)
        log = screen.query_one(LongLines)
        assert log.has_focus and log.scroll_y == 0  # newest first, at the top
        await pilot.press("a", "k", "s")  # the cockpit's keys do nothing here: typing filters
        await pilot.pause()
        assert app.screen is screen and not notes(app) and screen.query_one(Input).value == "aks"
        await pilot.press("escape")
        await pilot.pause()
        assert log.has_focus and screen.shown == len(records)
        await pilot.press("pagedown", "down")
        assert log.scroll_y > 1
        await pilot.press("end")
        assert log.scroll_y == log.max_scroll_y
        await pilot.press("home")
        assert log.scroll_y == 0
        await pilot.press("slash", *"trigger_fired")  # a kind, or any words of the line, typed at once
        await pilot.pause()
        fired = [r for r in records if r.kind == "trigger_fired"]
        assert screen.shown == len(fired) == 1  # only the trigger that fired
        await pilot.press("escape")  # clears the filter
        await pilot.pause()
        assert screen.shown == len(records) and isinstance(app.screen, JournalScreen)
        await pilot.press("escape")  # and back to the cockpit
        await pilot.pause()
        assert not isinstance(app.screen, JournalScreen)
    follower = scene.observer_app()
    async with follower.run_test(size=(80, 24)) as pilot:  # read-only, so an observer has it too
        await pilot.press("J")
        await pilot.pause()
        assert isinstance(follower.screen, JournalScreen)


async def test_after_completion_the_post_deployment_plan_shows_what_is_overdue_and_c_ticks_it(tmp_path):
    from datetime import timedelta

    scene = await Scene(tmp_path / "s").live(phase=3, into_soak_min=21)  # final validation soaked, GO given
    out = await scene.engine.advance()
    assert out.ok and scene.engine.state.status == "completed", out.reasons
    scene.clock.advance(timedelta(hours=5))  # past the 0-4 h items
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = text_of(app.query_one("#phase"))
        assert "Post-deployment plan" in shown and "0/12 done" in shown
        assert "✗ Monitor all SLO metrics" in shown and "OVERDUE · due 2026-" in shown and "open · due" in shown  # 24 h items not yet due
        assert app.check_action("post_deploy", ()) and not app.check_action("advance", ())
        await pilot.press("c")
        await pilot.pause()
        first = app.screen.query_one("#item", Select).value
        app.screen.query_one("#name", Input).value = "Sam"
        app.screen.query_one("#note", Input).value = "dashboards green since completion"
        app.screen.query_one("#name", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "1/12 done" in text_of(app.query_one("#phase")) and "(Sam)" in text_of(app.query_one("#phase"))
    done = scene.engine.journal.records[-1]
    assert done.kind == "post_deployment_done" and (done.payload.item, done.payload.name) == (first, "Sam")
    assert not scene.engine.post_deploy_done(first, "Sam").ok  # once is enough: the rule says when it was done


async def test_the_gate_dialog_says_each_criterion_once(tmp_path):
    """Each criterion on one row: its verdict in words once evaluated (which names it), its name
    and "not evaluated yet" before; never the name and then the verdict that repeats it."""
    scene = await Scene(tmp_path / "s").live(phase=1, into_soak_min=21)
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        summary = text_of(app.screen.query_one("#summary"))
    criteria = scene.engine.plan.phases[1].gate.auto
    assert len(criteria) == 2
    rows = [line for line in summary.splitlines() if "throughout" in line]
    assert len(rows) == len(criteria), summary  # one row each, its verdict in words
    for criterion in criteria:
        assert summary.count(criterion.name[:12]) == 1, (criterion.name, summary)
