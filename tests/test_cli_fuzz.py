"""Every subcommand and every argument it takes, given hostile values (issue 20): no traceback,
no hang longer than the command's own timeout, and nothing a terminal would act on in what it
prints (control, bidi and invisible characters come out as escapes).

A fixed table: each text argument gets each hostile text, each path argument each hostile path,
one at a time, each command line in its own process (forked from one that imported the cockpit
once, tests/cli_forks.py, killed past its timeout), on its own copy of a rolled-back rollout.
Linux refuses one argv string over 128 KiB (E2BIG), so the 10 MB cases reach a command through
what it reads: a 10 MB plan file, a journal with a 10 MB line, a 10 MB manifest, 10 MB on stdin.
A screen (observe) is started for real with a hostile --theme. Then a small hypothesis run calls
`cli.main` in this process with generated text (NUL and lone surrogates included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.cli import PATH_ARGUMENTS, build_parser, main
from cockpit.clock import SystemClock
from cockpit.config import dump_plan, load_plan
from cockpit.core.events import Actor
from cockpit.core.visible import HIDDEN
from cockpit.engine import Engine
from cockpit.seed import seed_plan
from cockpit.store.journal import Journal
from tests.support import MemoryGateway, passing_runner

PYTHON = sys.executable
VERSION = "v0.1.0"
TIMEOUT_S = 30.0  # per run; the slowest command here (a kill against a closed port, no retry) takes ~1 s
SETUP = Actor(user="setup", host="test", role="captain")

# Hostile texts, as bytes a terminal could send (argv cannot carry NUL: the config, the journal
# and the hypothesis run do). "large" is near the 128 KiB a single argv string may be.
TEXTS = {
    "empty": b"",
    "hostile": b"ok\x1b[s\x1b[2;1H\x1b[2Kstatus   LIVE\x1b[u\r\x07\x08\x7f\xc2\x9b31m "
               + "\u202eevil\u202c zero\u200bwidth \u2066x\u2069 \ufeff".encode() + b" r\xffot \xe9t\xe9 \xc3",
    "large": b"x" * 120_000 + b"\x1b[2J\xff",
}
# Hostile paths: one too long (a 300-byte name in a 6 KB path), one made of hostile characters,
# empty, and a file of 10 MB where a plan, a journal or a manifest is read.
PATHS = {
    "empty": b"",
    "hostile-name": b"fuzz-\x1b[2J\xe2\x80\xae\xff",  # relative: in the case's own directory
    "too-long": b"/tmp/" + b"/".join([b"b" * 300] * 20),
    "10MB-file": b"{big}",
}
# Where a command would wait for a person or run until stopped: refused or bounded here.
SCREENS = {"run", "observe", "replay", "demo"}


def rolled_back(root: Path) -> Path:
    """root/plan.toml and root/state: the seed plan (no secrets, a gateway on a closed loopback
    port, no retries), started and killed. Returns the plan's path."""
    data = dump_plan(seed_plan())
    data["state_dir"] = "state"
    data["gateways"] = {"edge": {"type": "http", "url": "http://127.0.0.1:9/flags", "timeout": "1s"}}
    data["kill_switch"]["retries"] = 0
    data["kill_switch"].pop("verify_query", None)
    data["preflight"] = [{"id": "builds", "name": "Builds", "type": "command", "argv": ["true"]}]
    data["triggers"] = [t for t in data["triggers"] if t.get("query")]
    data.pop("channels", None)
    for level in data["escalation"]:
        level.pop("channel", None)
        level.pop("pages", None)
    for alert in data.get("budget", {}).get("alerts", []):
        alert["channel"] = ""
    data["kill_switch"]["notify"] = ""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "plan.toml"
    config.write_text(tomli_w.dumps(data))
    plan = load_plan(config)
    engine = Engine(plan, Journal(root / "state"), clock=SystemClock(), actor=SETUP, gateway=MemoryGateway(),
                    check_runner=passing_runner())
    engine.ensure_plan()

    async def drive() -> None:
        assert (await engine.run_preflight()).ok
        for role in plan.sign_offs:
            assert engine.sign_off(role, f"{role}-person").ok
        assert (await engine.start()).ok
        assert (await engine.kill("fuzz base")).ok

    asyncio.run(drive())
    engine.journal.close()
    return config


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "base"
    rolled_back(root)
    big = root.parent / "big"
    big.mkdir()
    (big / "plan.toml").write_bytes(b"# " + b"x" * 10_000_000 + b"\n")  # a 10 MB plan file
    (big / "journal.jsonl").write_bytes(b'{"seq": 1, "garbage": "' + b"y" * 10_000_000 + b'"}\n')
    (big / "manifest.json").write_bytes(b'{"files": {"' + b"z" * 10_000_000 + b'": {}}}')
    return root


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The arguments a subcommand takes that carry a value (not flags, not --help)."""
    return [a for a in parser._actions if a.nargs != 0 and a.dest != "help"]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


# A valid value for every argument, so that one hostile argument at a time reaches the command.
VALID = {
    "config": "{case}/plan.toml", "state_dir": "{case}/state", "file": "{case}/new.toml", "evidence": "{case}/state",
    "output": "{case}/report.md", "reason": "fuzzing", "confirm": VERSION, "text": "a note", "name": "Sam",
    "note": "ok", "role": "sre", "check": "builds", "phase": "1", "decision": "go", "line": "/approve x",
    "item": "auto", "incident": "INC-1", "theme": "cockpit-dark", "speed": "1000000", "weight": "5",
    "scenario": "healthy", "format": "md", "to": "etcd", "endpoints": "http://127.0.0.1:9", "prefix": "/cockpit/fuzz/v1",
}
EXTRA = {  # flags that keep a command from waiting: no screen, no rollback wait, no standby
    "kill": ["--no-wait"], "guard": ["--no-wait", "--quiet"], "demo": ["--headless"],
}


ALWAYS = {"confirm", "name", "speed"}  # optional, but without them the command stops before the engine


def argv(command: str, parser: argparse.ArgumentParser, case: Path, big: Path, hostile: tuple[str, bytes | None] | None) -> list:
    """The command line: every needed argument valid, and `hostile` = (dest, value) in place of one."""
    out: list = [command]
    for action in _arguments(parser):
        fuzzed = hostile is not None and hostile[0] == action.dest
        if action.option_strings and not (action.required or action.dest in ALWAYS or fuzzed):
            continue  # an optional argument is given only when it is the one fuzzed
        value = hostile[1] if fuzzed else VALID[action.dest].format(case=case).encode()
        if value is None:
            continue  # left out on purpose (the confirmation then comes from stdin)
        if value == b"{big}":  # the 10 MB file where this argument is read
            value = bytes(_own_big(big, case) if action.dest in ("state_dir", "evidence") else big / "plan.toml")
        out += [*action.option_strings[-1:], value]
    return out + EXTRA.get(command, [])


def _own_big(big: Path, case: Path) -> Path:
    """The 10 MB state dir as this case's own copy: a command that may write repairs a garbage
    journal (moves it aside, journals its plan), and the next case must meet the garbage again."""
    own = case / "big"
    if not own.exists():
        shutil.copytree(big, own, ignore=shutil.ignore_patterns("plan.toml"))
    return own


def cases(base: Path) -> list[tuple[str, tuple, bytes]]:
    """(id, (command, parser, hostile), stdin): every subcommand × every argument × every hostile
    value of its kind, and 10 MB on stdin for each command that asks for a confirmation."""
    table = []
    for command, parser in sorted(subcommands().items()):
        for action in _arguments(parser):
            values = PATHS if action.dest in PATH_ARGUMENTS else TEXTS
            for name, value in values.items():
                if command in SCREENS - {"demo"} and (action.dest not in PATH_ARGUMENTS or name == "empty"):
                    continue  # what opens the screen (a valid plan, and any --theme): the test below
                if action.dest == "output" and name == "10MB-file":
                    continue  # a report written over a file is not a read
                flag = action.option_strings[-1] if action.option_strings else action.dest
                table.append((f"{command} {flag}={name}", (command, parser, (action.dest, value)), b""))
        if any(a.dest == "confirm" for a in _arguments(parser)):  # no terminal: refused, stdin unread
            table.append((f"{command} stdin=10MB", (command, parser, ("confirm", None)), b"v" * 10_000_000))
    return table


def run_cases(tmp_path: Path, base: Path, table: list) -> list[dict]:
    """Each case on its own copy of the base, in a forked `cockpit` (tests/cli_forks.py)."""
    big = base.parent / "big"
    cases = []
    for i, (name, (command, parser, hostile), stdin) in enumerate(table):
        case_dir = tmp_path / f"c{i}"
        shutil.copytree(base, case_dir)
        feed = None
        if stdin:
            feed = tmp_path / f"c{i}.stdin"
            feed.write_bytes(stdin)
        line = argv(command, parser, case_dir, big, hostile)
        cases.append({"id": name, "argv": [(a if isinstance(a, bytes) else a.encode()).hex() for a in line],
                      "cwd": str(case_dir), "stdin": str(feed) if feed else None, "timeout": TIMEOUT_S,
                      "env": {"COLUMNS": "100", "TMPDIR": str(case_dir)},
                      "sleeps": command == "demo"})  # a demo at full speed waits on the wall clock: run beside the rest
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run([PYTHON, Path(__file__).parent / "cli_forks.py", tmp_path / "cases.json", tmp_path / "results.json"],
                   check=True, timeout=300)
    return json.loads((tmp_path / "results.json").read_text())


def test_every_argument_of_every_subcommand_with_hostile_values(base, tmp_path):
    table = cases(base)
    assert {t[0].split()[0] for t in table} == set(subcommands())  # every subcommand is in the table
    assert len(table) > 150
    problems = []
    declared = {name: parser.exit_codes for name, parser in subcommands().items()}  # as each --help says them
    for result in run_cases(tmp_path, base, table):
        name, code, out = result["id"], result["code"], result["out"]
        if code is None:
            problems.append(f"{name}: hung past {TIMEOUT_S:g}s: {out[-300:]}")
        elif "Traceback" in out or code not in (0, 1, 2, 3, 4, 6):
            problems.append(f"{name}: exit {code}: {out[-600:]}")
        elif code not in declared[name.split()[0]]:
            problems.append(f"{name}: exit {code}, which its --help does not list: {out[-300:]}")
        elif found := HIDDEN.search(out.replace("\n", "")):
            problems.append(f"{name}: printed {found.group()!r}: {out[max(0, found.start() - 80):found.start() + 80]!r}")
    assert not problems, "\n".join(problems)


def test_a_screen_given_a_hostile_theme_opens_and_says_it_plainly(base, tmp_path):
    """`observe --theme <hostile>`: the screen opens (no terminal here: it draws to the pipe) and
    stops on SIGTERM; no traceback. The screens share one app (run, replay, demo)."""
    case_dir = tmp_path / "screen"
    shutil.copytree(base, case_dir)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), "COLUMNS": "80", "LINES": "24"}
    hostile = TEXTS["hostile"]
    said = tmp_path / "observer.out"
    with open(said, "wb") as sink:
        proc = subprocess.Popen([PYTHON, "-m", "cockpit", "observe", "--state-dir", case_dir / "state", "--theme", hostile],
                                stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, cwd=case_dir, env=env)
    try:
        deadline = time.monotonic() + 30
        while b"OBSERVER" not in said.read_bytes() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # drawn: it stays open
        if proc.poll() is not None:
            pytest.fail(f"the observer exited by itself ({proc.returncode}): {said.read_bytes()[-600:]!r}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out, err = b"", said.read_bytes()
    assert b"Traceback" not in out + err
    assert b"OBSERVER" in err  # it drew its screen
    assert b"' not found; using" in err and b"ok\\x1b[s" in err  # the theme it could not find, said escaped


# --- hypothesis: generated text through `cli.main`, in this process ------------------------------

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
ANY_PATH = st.text(st.characters(codec=None, exclude_categories=(), exclude_characters="\x00"), max_size=40)  # argv has no NUL


def _in_process(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:  # argparse's usage errors
            code = e.code
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def hypothesis_base(tmp_path_factory) -> Path:
    return rolled_back(tmp_path_factory.mktemp("fuzz-h") / "base")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=ANY_TEXT, path=ANY_PATH,
       which=st.sampled_from(["note", "decide", "done", "ack", "waive", "status-dir", "verify-dir", "check-config"]))
def test_generated_text_never_raises_and_prints_nothing_hidden(hypothesis_base, text, path, which):
    config, state = str(hypothesis_base / "plan.toml"), str(hypothesis_base / "state")
    args = {
        "note": ["note", "--config", config, text],
        "decide": ["decide", text, "sre", "go", "--config", config, "--name", text, "--note", text],
        "done": ["done", text, "--state-dir", state, "--name", text, "--note", text],
        "ack": ["ack", text, "--config", config, "--name", text],
        "waive": ["waive", text, "--config", config, "--reason", text],
        "status-dir": ["status", "--state-dir", path or "."],
        "verify-dir": ["verify", "--state-dir", path or "."],
        "check-config": ["check-config", path or "."],
    }[which]
    code, out = _in_process(args)
    assert code in (0, 1, 2, 3), (args, code, out)
    assert HIDDEN.search(out.replace("\n", "")) is None, (args, out)
