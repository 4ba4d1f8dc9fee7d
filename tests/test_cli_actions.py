"""Every captain action from the command line (commands.py): success, each refusal in the core's
own words, the captain lock, the confirmation without a terminal, exit codes and `--json`.

The commands run in this process (`cli.main`) on a journal in tmp_path; `start` and `advance`
move a real HTTP flag API on loopback. The guard they start is stood in for by a guard lock this
process holds (a real kernel lock, so `lease.guard_holder` reads it as any guard's)."""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from cockpit.cli import main
from cockpit.clock import SystemClock
from cockpit.config import dump_plan, load_plan
from cockpit.core import rules
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.seed import seed_plan
from cockpit.store.journal import Journal
from cockpit.store.locks import CaptainLock, GuardLease
from tests.integration.flag_server import FlagServer

VERSION = "v0.1.0"
APPROVAL = "/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag"
SETUP = Actor(user="setup", host="test", role="captain")


@pytest.fixture
def flags():
    server = FlagServer()
    yield server
    server.close()


@pytest.fixture
def config(tmp_path, flags) -> Path:
    """The seed plan on the loopback flag API, two command checks (one that fails), no freeze
    window and no soak, so the wall clock never decides a test."""
    data = dump_plan(seed_plan())
    data["state_dir"] = str(tmp_path / "state")
    data["gateways"] = {"edge": {"type": "http", "url": f"{flags.url}/flags", "timeout": "2s"}}
    data["preflight"] = [
        {"id": "builds", "name": "Builds", "type": "command", "argv": ["true"]},
        {"id": "data_plane", "name": "Data Plane", "type": "command", "argv": ["sh", "-c", "echo bucket missing; exit 3"]},
    ]
    data["triggers"] = [t for t in data["triggers"] if t.get("query")]  # no check-backed trigger to run
    for phase in data["phases"]:
        phase["soak"] = "0s"
    path = tmp_path / "plan.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.fixture
def guard(monkeypatch, config):
    """`keep_guarded` starts a stand-in guard: this process takes the guard lock (as host guardhost)."""
    spawned: list[str] = []

    class StandInKeeper:
        def __init__(self, config, state_dir, who):
            self.state_dir, self.process = state_dir, None

        def spawn(self, reason):
            spawned.append(reason)
            lease = GuardLease(self.state_dir, {"pid": os.getpid(), "host": "guardhost"})
            assert lease.try_acquire()
            leases.append(lease)

    leases: list[GuardLease] = []
    monkeypatch.setattr("cockpit.session.GuardKeeper", StandInKeeper)
    yield spawned
    for lease in leases:
        lease.release()


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script: stdin is not a terminal


def cockpit(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys, *args: str) -> tuple[int, dict]:
    code, out, _ = cockpit(capsys, *args, "--json")
    return code, json.loads(out)


def journal(config: Path) -> list:
    return Journal(Path(load_plan(config).state_dir), readonly=True).records


def state(config: Path):
    return Engine(load_plan(config), Journal(Path(load_plan(config).state_dir), readonly=True),
                  clock=SystemClock(), actor=SETUP).state


def ready(capsys, config: Path) -> None:
    """Every check satisfied and every sign-off recorded, from the command line."""
    assert cockpit(capsys, "preflight", "--config", str(config))[0] == 1  # data_plane fails
    assert cockpit(capsys, "waive", "data_plane", "--config", str(config), "--reason", "checked by hand")[0] == 0
    for role in seed_plan().sign_offs:
        assert cockpit(capsys, "sign-off", role, "--config", str(config), "--name", f"{role}-person")[0] == 0


def owners_say_go(capsys, config: Path, phase: int) -> None:
    for role in seed_plan().phases[phase - 1].gate.owners:
        assert cockpit(capsys, "decide", str(phase), role, "go", "--config", str(config), "--name", f"{role}-person")[0] == 0


def criteria_met(config: Path) -> None:
    """What the guard journals at the end of a soak: every criterion of the current gate met."""
    plan = load_plan(config)
    engine = Engine(plan, Journal(Path(plan.state_dir)), clock=SystemClock(), actor=SETUP)
    for c in plan.phases[engine.state.phase].gate.auto:
        engine.observe_criterion(c.id, True, 0.0, f"{c.name}: ok")
    engine.journal.close()


# -- success, with --json -------------------------------------------------------------------------


def test_preflight_journals_each_check_and_says_what_the_start_waits_for(capsys, config):
    code, doc = run_json(capsys, "preflight", "--config", str(config))
    records = journal(config)
    assert code == 1 and doc["outcome"] == "checks failed" and doc["exit_code"] == 1
    assert [r.kind for r in records] == ["plan_loaded", "check_ran", "check_ran"]  # the plan, on first use
    assert doc["written"] == [r.seq for r in records] == [1, 2, 3]
    assert doc["refusals"] == [] and doc["problems"] == ["check data_plane did not pass"]
    assert doc["start_refusals"] == rules.start_refusals(state(config), datetime.now(UTC))
    assert "preflight check data_plane has not passed (fail: exit 3: bucket missing)" in doc["start_refusals"]
    code, doc = run_json(capsys, "preflight", "--config", str(config), "--check", "builds")
    assert code == 0 and doc["outcome"] == "done" and doc["written"] == [4]
    assert journal(config)[-1].payload.check == "builds"


def test_waive_and_sign_offs_until_ready_to_start(capsys, config):
    cockpit(capsys, "preflight", "--config", str(config))
    code, doc = run_json(capsys, "waive", "data_plane", "--config", str(config), "--reason", "checked by hand")
    assert code == 0 and doc["written"] == [4] and journal(config)[-1].payload.reason == "checked by hand"
    for role in seed_plan().sign_offs:
        code, out, err = cockpit(capsys, "sign-off", role, "--config", str(config), "--name", "Dana Ruiz")
        assert code == 0, err
    assert "ready to start: cockpit start" in out
    assert "Dana Ruiz (FinOps) signed off" in out
    signed = [r for r in journal(config) if r.kind == "signed_off"]
    assert [(r.payload.role, r.payload.name, r.actor.role) for r in signed] == \
        [(role, "Dana Ruiz", "captain") for role in seed_plan().sign_offs]


def test_start_advance_decide_and_complete(capsys, config, flags, guard):
    ready(capsys, config)
    code, doc = run_json(capsys, "start", "--config", str(config), "--confirm", VERSION)
    assert code == 0, doc
    kinds = {r.seq: r.kind for r in journal(config)}
    assert [kinds[s] for s in doc["written"]] == \
        ["rollout_started", "traffic_shift_requested", "traffic_shift_result", "phase_started"]
    assert (doc["status"], doc["phase"], doc["weight"], doc["guard"]) == ("LIVE", "Phase 1", 5, f"{os.getpid()}@guardhost")
    assert flags.flags["canary.weight"] == 5 and len(guard) == 1
    for phase in (1, 2, 3, 4):
        criteria_met(config)
        owners_say_go(capsys, config, phase)
        code, out, err = cockpit(capsys, "advance", "--config", str(config), "--confirm", VERSION)
        assert code == 0, err
    assert "COMPLETED: IntelGraph Platform v0.1.0 is the release" in out
    assert state(config).status == "completed" and flags.flags["canary.weight"] == 100
    assert len(guard) == 1  # the one guard kept holding the lock: no second one started


def test_advance_says_who_guards(capsys, config, guard):
    ready(capsys, config)
    code, out, err = cockpit(capsys, "start", "--config", str(config), "--confirm", VERSION)
    assert code == 0, err
    assert "VERIFIED: the gateway reads canary 5 %; Phase 1 soaks for 0s" in out
    assert f"guard {os.getpid()}@guardhost watches the triggers" in out
    assert len(guard) == 1 and guard[0].endswith("'s `cockpit start`: no screen keeps one")


def test_note_and_a_matching_chatops_approval(capsys, config):
    code, doc = run_json(capsys, "approve", APPROVAL, "--config", str(config), "--name", "@product-owner")
    assert code == 0 and doc["refusals"] == []
    record = journal(config)[-1]
    assert doc["written"] == [1, 2] and record.kind == "note"  # the plan, then the approval
    assert record.payload.text == f"ChatOps approval from @product-owner checked against the plan: {APPROVAL}"
    code, doc = run_json(capsys, "note", "bridge call opened", "--config", str(config))
    assert code == 0 and doc["written"] == [3] and journal(config)[-1].payload.text == "bridge call opened"


# -- refusals: the core's words, nothing journaled ------------------------------------------------


def refused(capsys, config, *args) -> list[str]:
    before = len(journal(config))
    code, doc = run_json(capsys, *args, "--config", str(config))
    assert code == 2 and doc["outcome"] == "refused" and doc["written"] == [], doc
    assert len(journal(config)) == before
    return doc["refusals"]


def test_refusals_before_the_start_are_the_cores(capsys, config):
    cockpit(capsys, "note", "plan journaled", "--config", str(config))
    st = state(config)
    assert refused(capsys, config, "sign-off", "cfo", "--name", "x") == rules.sign_off_refusals(st, "cfo") == \
        ["cfo is not a required sign-off (required: po, tech_lead, security, sre, finops)"]
    assert refused(capsys, config, "sign-off", "sre", "--name", " ") == ["a sign-off needs the signer's name"]
    assert refused(capsys, config, "waive", "nope", "--reason", "x") == rules.waive_refusals(st, "nope", "x")
    assert refused(capsys, config, "waive", "builds", "--reason", " ") == ["a waiver needs a reason"]
    assert refused(capsys, config, "preflight", "--check", "nope") == ["no preflight check named nope"]
    assert refused(capsys, config, "start", "--confirm", VERSION) == rules.start_refusals(st, datetime.now(UTC))
    assert refused(capsys, config, "advance", "--confirm", VERSION) == ["the rollout has not started"]
    assert refused(capsys, config, "decide", "1", "sre", "go", "--name", "x") == ["the rollout has not started"]
    assert refused(capsys, config, "note", "  ") == ["an empty note"]


def test_refusals_once_live_are_the_cores(capsys, config, guard):
    ready(capsys, config)
    assert cockpit(capsys, "start", "--config", str(config), "--confirm", VERSION)[0] == 0
    st = state(config)
    assert refused(capsys, config, "decide", "2", "po", "go", "--name", "x") == \
        rules.decide_refusals(st, 1, "po") == ["only the current phase's gate can be decided (Phase 1)"]
    assert refused(capsys, config, "decide", "Phase 1", "po", "go", "--name", "x") == \
        ["Product Owner does not own the Phase 1 gate (owners: SRE)"]
    assert refused(capsys, config, "decide", "7", "sre", "go", "--name", "x") == \
        ["no phase '7': give its number or name: 1 (Phase 1), 2 (Phase 2), 3 (Phase 3), 4 (Phase 4)"]
    reasons = refused(capsys, config, "advance", "--confirm", VERSION)
    assert reasons == rules.advance_refusals(st, datetime.now(UTC))
    assert "waiting for GO from: SRE" in reasons and any(r.startswith("criterion api_p95 not evaluated") for r in reasons)
    assert refused(capsys, config, "sign-off", "sre", "--name", "x") == ["sign-offs are recorded before the rollout starts"]
    assert refused(capsys, config, "waive", "builds", "--reason", "x") == ["checks are waived before the rollout starts"]
    assert refused(capsys, config, "start", "--confirm", VERSION) == ["the rollout already started (LIVE)"]
    assert refused(capsys, config, "preflight") == rules.preflight_refusals(st) == \
        ["preflight checks run before the rollout starts"]  # as the screen, which offers them only before
    code, out, err = cockpit(capsys, "decide", "1", "sre", "no-go", "--config", str(config), "--name", "Sam",
                             "--note", "p95 wobbles")
    assert code == 0 and "Sam (SRE) NO-GO for Phase 1" in out
    assert "NO-GO by SRE (Sam): p95 wobbles" in refused(capsys, config, "advance", "--confirm", VERSION)


def test_a_chatops_line_that_does_not_match_is_refused_field_by_field(capsys, config):
    line = APPROVAL.replace("v0.1.0", "v0.2.0").replace("5/25/50/100", "10/100")
    code, out, err = cockpit(capsys, "approve", line, "--config", str(config), "--name", "@mallory")
    assert code == 2 and err.splitlines()[0] == "refused: the ChatOps line does NOT match the plan"
    assert "refused: version v0.2.0 ≠ plan v0.1.0" in err and "refused: steps 10/100 ≠ plan 5/25/50/100" in err
    assert [r.kind for r in journal(config)] == ["plan_loaded"]  # no approval journaled
    code, doc = run_json(capsys, "approve", "ship it", "--config", str(config))
    assert code == 2 and doc["refusals"][1].startswith("not an approval line: /approve canary VERSION")


# -- the captain lock and the confirmation ---------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["preflight"], ["sign-off", "sre", "--name", "x"], ["waive", "builds", "--reason", "x"],
    ["start", "--confirm", VERSION], ["decide", "1", "sre", "go", "--name", "x"], ["advance", "--confirm", VERSION],
    ["note", "hello"], ["approve", APPROVAL], ["shift", "--weight", "5", "--confirm", VERSION], ["reconcile"],
])
def test_every_captain_action_is_refused_while_a_captain_holds_the_lock(capsys, config, args):
    state_dir = Path(load_plan(config).state_dir)
    lock = CaptainLock(state_dir, user="alice", host="bastion", pid=os.getpid(), since="14:00Z").acquire()
    try:
        code, doc = run_json(capsys, *args, "--config", str(config))
    finally:
        lock.release()
    assert code == 3 and doc["outcome"] == "refused: captain lock held" and doc["written"] == []
    assert doc["refusals"][0].startswith(f"captain lock held by alice@bastion (pid {os.getpid()}, since 14:00Z)")
    assert not (state_dir / "journal.jsonl").exists()


def test_traffic_without_a_terminal_needs_the_version(capsys, config, flags, guard):
    ready(capsys, config)
    before = len(journal(config))
    code, out, err = cockpit(capsys, "start", "--config", str(config))
    assert code == 2 and err.splitlines() == [
        f"refused: no terminal to confirm at; pass --confirm {VERSION} to start IntelGraph Platform {VERSION}: "
        "Phase 1, the canary takes 5 % of traffic", "nothing was changed"]
    code, doc = run_json(capsys, "start", "--config", str(config), "--confirm", "v0.1")
    assert code == 2 and doc["refusals"] == [f"'v0.1' is not the release version {VERSION}"]
    assert len(journal(config)) == before and flags.flags["canary.weight"] == 0 and guard == []


def test_each_subcommand_says_what_it_needs_and_its_exit_codes(capsys):
    for name, confirmation in [("preflight", "none"), ("sign-off", "none"), ("waive", "none"), ("decide", "none"),
                               ("note", "none"), ("approve", "none"), ("start", "--confirm VERSION"),
                               ("advance", "--confirm VERSION"), ("shift", "--confirm VERSION"),
                               ("kill", "--confirm"), ("reconcile", "none")]:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        assert "\nexit codes:\n  0  " in text and "--json" in text and "\nneeds: " in text, name
        said = next(ln for ln in text.splitlines() if ln.startswith("confirmation: "))
        assert confirmation in said, name


def test_only_the_commands_that_move_traffic_load_the_gateway_credential(capsys, config):
    import tomllib

    data = tomllib.loads(config.read_text())
    data["gateways"]["edge"]["token"] = {"env": "COCKPIT_GATEWAY_TOKEN"}  # unset in tests (conftest)
    config.write_text(tomli_w.dumps(data))
    ready(capsys, config)  # preflight, waive, sign-offs: no credential needed
    assert cockpit(capsys, "note", "ready", "--config", str(config))[0] == 0
    code, doc = run_json(capsys, "start", "--config", str(config), "--confirm", VERSION)
    assert code == 2 and doc["refusals"] == [
        "gateways.edge.token: secret: environment variable COCKPIT_GATEWAY_TOKEN is not set"]
    assert state(config).status == "preflight"


def test_a_start_the_gateway_does_not_confirm_exits_1_and_starts_no_phase(capsys, config, flags, guard):
    ready(capsys, config)
    flags.status = 500  # the flag API fails every request
    code, doc = run_json(capsys, "start", "--config", str(config), "--confirm", VERSION)
    assert code == 1 and doc["outcome"] == "not confirmed" and doc["refusals"] == []
    assert doc["problems"][0].startswith(f"traffic shift to 5 % failed: PUT {flags.url}/flags: HTTP 500")
    kinds = {r.seq: r.kind for r in journal(config)}
    assert [kinds[s] for s in doc["written"]] == ["rollout_started", "traffic_shift_requested", "traffic_shift_result"]
    assert state(config).phase is None and state(config).status == "live"  # no phase soaks, the rollout is on
    assert doc["guard"] == f"{os.getpid()}@guardhost" and len(guard) == 1  # so a guard watches, the gateway unsure


def test_preflight_refusals_follow_the_screens_offer(plan):
    """core.rules.preflight_refusals says no exactly where the read model offers no check run."""
    from cockpit.core.readmodel import available_actions
    from cockpit.core.state import RolloutState
    from cockpit.engine import plan_snapshot

    assert rules.preflight_refusals(RolloutState()) == ["no plan loaded in this journal"]
    for status in ("preflight", "live", "killing", "kill_unconfirmed", "rolled_back", "completed"):
        st = RolloutState()
        st.plan, st.status = plan_snapshot(plan), status
        assert (rules.preflight_refusals(st) == []) == ("run_checks" in available_actions(st)), status


def test_a_start_whose_journal_fails_after_the_gateway_moved_exits_4_and_keeps_it_aside(capsys, config, flags, guard, monkeypatch):
    """The flag API moved and read back 5 %, then the journal would not take the result: the start
    is VERIFIED but not journaled (exit 4, as the kill's), its events wait in unjournaled.jsonl and
    the next command journals them, late and in order."""
    from cockpit.store.chain import JournalError
    from cockpit.store.journal import Journal as RealJournal

    ready(capsys, config)
    write = RealJournal._write

    def disk_full_after_the_intent(self, payload, **kw):
        if payload.KIND in ("traffic_shift_result", "phase_started"):
            raise JournalError(f"{self.path}: cannot append: No space left on device [ENOSPC]")
        return write(self, payload, **kw)

    monkeypatch.setattr(RealJournal, "_write", disk_full_after_the_intent)
    code, out, err = cockpit(capsys, "start", "--config", str(config), "--confirm", VERSION, "--json")
    doc = json.loads(out)
    assert "VERIFIED: the gateway reads canary 5 %" in err and "the JOURNAL DOES NOT SAY SO YET" in err
    assert code == 4 and doc["outcome"] == "done, not journaled", doc
    assert flags.flags["canary.weight"] == 5  # the gateway moved
    kinds = {r.seq: r.kind for r in journal(config)}
    assert [kinds[s] for s in doc["written"]] == ["rollout_started", "traffic_shift_requested"]
    assert doc["problems"][0].startswith("JOURNAL NOT WRITTEN (traffic_shift_result): ")
    assert len(guard) == 1  # a guard watches all the same
    monkeypatch.setattr(RealJournal, "_write", write)
    assert cockpit(capsys, "note", "disk freed", "--config", str(config))[0] == 0
    late = [r.kind for r in journal(config)][-4:]
    assert late == ["journaled_late", "traffic_shift_result", "phase_started", "note"]
    assert state(config).phase == 0 and state(config).weight == 5


def test_a_command_ends_with_the_next_step_as_status_says_it(capsys, config):
    """Issue 21: the headless commands say what the rollout waits for in the read model's words, the line
    `cockpit status` prints (the step and the command that takes it)."""
    assert cockpit(capsys, "waive", "data_plane", "--config", str(config), "--reason", "checked by hand")[0] == 0
    code, out, err = cockpit(capsys, "sign-off", "sre", "--config", str(config), "--name", "Sam")
    assert code == 0, err
    said = [ln for ln in out.splitlines() if ln.startswith("next     ")]
    code, shown, err = cockpit(capsys, "status", "--config", str(config))
    assert said and said == [ln for ln in shown.splitlines() if ln.startswith("next     ")], (out, shown)
    assert said[0].startswith("next     run the preflight checks: cockpit preflight --config PLAN")
