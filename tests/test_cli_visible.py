"""What a person typed or a server sent, on the command line's faces (issue 20, item 9, and its
minor items): `status`, `status --json`, the report, refusals quoting a server, guard.log; a
Latin-1 byte in `kill --reason`; the paths and files that used to end in a traceback.

Each runs `python -m cockpit` as an operator would, and reads its bytes: a terminal would act on
an ESC or a U+202E in them, so none may be there."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.config import load_plan
from cockpit.core.visible import HIDDEN
from cockpit.store.journal import Journal
from tests.conftest import ROOT
from tests.integration.flag_server import FlagServer
from tests.integration.rollout import engine_on, go_live, plan_data, write_config
from tests.test_cli_fuzz import rolled_back
from tests.test_state_dir_errors import NOBODY

# What the issue typed: a note that, printed raw, repaints `status` of a rolled-back rollout
# as LIVE and healthy (save the cursor, rewrite lines 2 and 3, restore it).
PAINT = (b"ok\x1b[s\x1b[2;1H\x1b[2Kstatus   LIVE   canary weight 5 %\x1b[3;1H\x1b[2Kheadline SOAKING 1m10s left, "
         b"all triggers ok\x1b[u")
BIDI = "\u202eDEKCAB DELLOR\u202c zero\u200bwidth".encode()


def cockpit(*args, cwd: Path = ROOT, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, cwd=cwd, input=stdin,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


def nothing_hidden(data: bytes) -> str:
    text = data.decode("utf-8")  # what is printed is UTF-8, whatever it quotes
    found = HIDDEN.search(text.replace("\n", ""))
    assert found is None, f"{found.group()!r} reaches the terminal: {text[max(0, found.start() - 60):found.start() + 60]!r}"
    return text


@pytest.fixture
def noted(tmp_path) -> Path:
    """A rolled-back rollout whose journal holds the issue's note (journaled by `cockpit note`)."""
    config = rolled_back(tmp_path / "r")
    res = cockpit("note", "--config", config, PAINT + b" " + BIDI + b" caf\xe9")
    assert res.returncode == 0, res
    nothing_hidden(res.stdout + res.stderr)
    return config


def test_a_note_cannot_paint_a_rolled_back_status_live(noted):
    res = cockpit("status", "--config", noted)
    assert res.returncode == 0, res
    text = nothing_hidden(res.stdout + res.stderr)
    lines = text.splitlines()
    assert [ln for ln in lines if ln.startswith("status ")] == ["status   ROLLED BACK   canary weight 0 %"], lines
    assert not [ln for ln in lines if ln.startswith("headline SOAKING")]
    assert ("ok\\x1b[s\\x1b[2;1H\\x1b[2Kstatus   LIVE   canary weight 5 %\\x1b[3;1H\\x1b[2Kheadline SOAKING 1m10s left, "
            "all triggers ok\\x1b[u \\u202eDEKCAB DELLOR\\u202c zero\\u200bwidth caf\\xe9") in text


def test_the_journal_keeps_exactly_what_was_typed(noted):
    """Shown escaped, kept as typed: the ESC, the U+202E; the byte that was not UTF-8 as the
    four characters `\\xe9` (a text argument is decoded so that the journal can hold it)."""
    note = Journal(noted.parent / "state", readonly=True).records[-1].payload.text
    assert note == PAINT.decode() + " " + BIDI.decode() + " caf\\xe9"


def test_status_json_carries_no_raw_control_character(noted):
    res = cockpit("status", "--config", noted, "--json")
    nothing_hidden(res.stdout)
    doc = json.loads(res.stdout)
    assert doc["status"] == "ROLLED BACK"
    assert any("ok\\x1b[s" in line for line in doc["last_events"])  # words for a person: shown escaped


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_report_shows_the_note_escaped(noted, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    res = cockpit("report", "--config", noted, "--format", fmt, "-o", out)
    assert res.returncode == 0, res
    text = nothing_hidden(out.read_bytes())
    assert "ok\\x1b[s\\x1b[2;1H\\x1b[2Kstatus   LIVE" in text
    assert "\\u202eDEKCAB DELLOR\\u202c zero\\u200bwidth" in text


def test_a_servers_error_quoted_in_a_refusal_is_shown_escaped(tmp_path):
    """`reconcile` against a flag API that answers 500 with a body of escapes and a U+202E: the
    gateway's words reach the terminal escaped (and the journal keeps them as sent)."""
    flags = FlagServer()
    try:
        data = plan_data({"type": "http", "url": f"{flags.url}/flags", "timeout": "2s"})
        data["state_dir"] = str(tmp_path / "state")
        config = write_config(tmp_path / "plan.toml", data)
        plan = load_plan(config)

        async def live() -> None:
            from cockpit.clock import SystemClock

            engine = engine_on(plan, Path(plan.state_dir), SystemClock())
            await go_live(engine)
            await engine.gateway.close()
            engine.journal.close()

        asyncio.run(live())
        flags.status, flags.raw_answer = 500, b"\x1b[2J\x1b[1;1Hall good \xe2\x80\xae" + b"x" * 20
        res = cockpit("reconcile", "--config", config)
        assert res.returncode in (1, 2), res
        text = nothing_hidden(res.stdout + res.stderr)
        assert "\\x1b[2J\\x1b[1;1Hall good \\u202e" in text, text
    finally:
        flags.close()


def test_a_latin1_byte_in_a_kill_reason_is_journaled_as_its_escape(tmp_path):
    """`kill --reason $'\\xe9'` from a Latin-1 terminal: the kill is VERIFIED and `kill_requested`
    is journaled with the reason `\\xe9` (four characters), exit 0."""
    flags = FlagServer()
    try:
        data = plan_data({"type": "http", "url": f"{flags.url}/flags", "timeout": "2s"})
        data["state_dir"] = str(tmp_path / "state")
        data["kill_switch"].pop("verify_query", None)
        config = write_config(tmp_path / "plan.toml", data)
        plan = load_plan(config)

        async def live() -> None:
            from cockpit.clock import SystemClock

            engine = engine_on(plan, Path(plan.state_dir), SystemClock())
            await go_live(engine)
            await engine.gateway.close()
            engine.journal.close()

        asyncio.run(live())
        res = cockpit("kill", "--config", config, "--reason", b"caf\xe9 \x1b[2J", "--confirm", "v0.1.0", "--no-wait")
        assert res.returncode == 0, res
        nothing_hidden(res.stdout + res.stderr)
        assert flags.flags["canary.enable"] is False
        kinds = [(r.kind, getattr(r.payload, "reason", None)) for r in Journal(Path(plan.state_dir), readonly=True).records]
        assert ("kill_requested", "caf\\xe9 \x1b[2J") in kinds, kinds
    finally:
        flags.close()


# -- the minor tracebacks: one line naming the path and what to do, exit 2 -----------------------

LONG = "/tmp/" + "/".join(["b" * 300] * 20)


@pytest.mark.parametrize("args", [
    ["status", "--state-dir", LONG], ["replay", "--state-dir", LONG], ["report", "--state-dir", LONG],
    ["observe", "--state-dir", LONG], ["init", LONG], ["done", "auto", "--state-dir", LONG],
    ["status", "--state-dir", "/tmp/" + "a" * 300], ["init", "/tmp/" + "a" * 300],
], ids=lambda a: f"{a[0]}-{len(a[-1])}")
def test_a_path_too_long_is_one_line(args):
    res = cockpit(*args)
    assert res.returncode == 2, res
    err = res.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert args[-1][:300] in err and "File name too long: give a shorter path" in err, err  # the path, or its parent


def test_a_guard_given_a_non_utf8_config_path_says_why_it_cannot_start(tmp_path):
    """The path is given as bytes (a Latin-1 name): the refusal and guard.log show `\\xe9`; nothing
    raises UnicodeEncodeError (the log is written with backslash escapes)."""
    data = plan_data({"type": "http", "url": "http://127.0.0.1:9/flags", "token": {"env": "COCKPIT_FUZZ_UNSET"}})
    data["state_dir"] = str(tmp_path / "state")
    config = write_config(Path(os.fsdecode(bytes(tmp_path) + b"/pl\xe9n.toml")), data)
    res = cockpit("guard", "--config", os.fsencode(config), "--no-wait")
    assert res.returncode == 2, res
    err = nothing_hidden(res.stderr)
    assert "Traceback" not in err and "Logging error" not in err, err
    assert "pl\\xe9n.toml" in err and "COCKPIT_FUZZ_UNSET is not set" in err, err
    log = (tmp_path / "state" / "guard.log").read_text()
    assert "pl\\xe9n.toml" in log and "COCKPIT_FUZZ_UNSET" in log, log


_AS_NOBODY = """
    import os, sys
    import html, re, json, argparse, errno, tomllib, asyncio  # loaded while this interpreter's files are readable
    import cockpit.cli, cockpit.report, cockpit.store.journal, cockpit.store.verify, cockpit.store.head, cockpit.core.state, cockpit.narrate
    import cockpit.redact, cockpit.evidence, cockpit.config
    os.setgroups([])
    os.setgid(int(sys.argv[1]))
    os.setuid(int(sys.argv[1]))
    sys.exit(cockpit.cli.main(sys.argv[2:]))
"""


def test_report_on_a_journal_this_user_cannot_read_is_one_line(tmp_path):
    """A second Unix user (nobody, outside the state dir's group) asks for the report of a
    journal only its owner may read: one line naming it, exit 2."""
    if os.geteuid() != 0:
        pytest.skip("acting as a second Unix user needs root")
    config = rolled_back(tmp_path / "r")
    state = config.parent / "state"
    for p in (tmp_path, tmp_path / "r", state):
        os.chmod(p, 0o755)
    os.chmod(state / "journal.jsonl", 0o600)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(_AS_NOBODY), str(NOBODY), "report", "--state-dir",
                          str(state), "-o", str(tmp_path / "report.md")], capture_output=True, text=True, cwd=ROOT,
                         stdin=subprocess.DEVNULL, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert str(state / "journal.jsonl") in res.stderr, res.stderr


def test_report_on_a_directory_where_the_journal_belongs_is_one_line(tmp_path):
    (tmp_path / "state" / "journal.jsonl").mkdir(parents=True)
    res = cockpit("report", "--state-dir", tmp_path / "state")
    assert res.returncode == 2, res
    err = res.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1 and "is a directory where a file belongs" in err, err


def test_verify_evidence_on_a_deeply_nested_manifest_is_one_line(tmp_path):
    (tmp_path / "manifest.json").write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")
    res = cockpit("verify", "--evidence", tmp_path)
    assert res.returncode == 2, res
    err = res.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert f"{tmp_path / 'manifest.json'}: not a manifest (nested too deeply)" in err, err


def test_evidence_files_carry_no_raw_control_character(noted):
    """The bundle's text files (JSON documents, the screen's SVG) after the issue's note: JSON
    escapes it (\\u001b), the screen shows it as the timeline does (\\x1b)."""
    res = cockpit("evidence", "--config", noted, "--rollback")
    assert res.returncode in (0, 1), res  # 1: incomplete (no Prometheus, no Grafana here)
    files = [p for p in (noted.parent / "evidence").rglob("*") if p.suffix in (".json", ".svg")]
    assert {p.suffix for p in files} == {".json", ".svg"}, files
    for path in files:
        nothing_hidden(path.read_bytes())
    svg = next(p for p in files if p.suffix == ".svg").read_text()
    assert "ok\\x1b[s" in svg.replace("&#160;", " "), "the note, escaped, on the captured screen"


def test_status_watch_clears_the_screen_itself_and_nothing_else_does(noted):
    """`status --watch` sends the one control sequence it means (clear, home) once a second; the
    note's sequences come out escaped."""
    import select
    import signal
    import time

    clear = b"\x1b[H\x1b[2J"
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "status", "--config", noted, "--watch"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out, deadline = b"", time.monotonic() + 30  # two whole screens, however slow the machine is to start it
    while out.count(clear) < 3 and time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            out += os.read(proc.stdout.fileno(), 65536)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=10)
    out += rest
    assert proc.returncode == 0, err
    screens = out.split(clear)
    assert screens[0] == b"" and len(screens) >= 4, out[:200]
    for screen in screens[1:-1]:  # the last one may be cut by the interrupt
        text = nothing_hidden(screen)
        assert "status   ROLLED BACK" in text and "ok\\x1b[s\\x1b[2;1H" in text


def test_a_terminal_without_utf8_gets_backslash_escapes_not_a_traceback(noted):
    """A terminal whose encoding has no `é` or `日` (PYTHONIOENCODING=ascii): what it cannot show
    comes out as backslash escapes; nothing raises UnicodeEncodeError."""
    assert cockpit("note", "--config", noted, "café 日本".encode()).returncode == 0
    res = subprocess.run([sys.executable, "-m", "cockpit", "status", "--config", noted], capture_output=True, cwd=ROOT,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii"})
    assert res.returncode == 0, res
    assert b"Traceback" not in res.stderr
    assert b"caf\\xe9 \\u65e5\\u672c" in res.stdout, res.stdout[-400:]
    res.stdout.decode("ascii")  # nothing but ASCII reached the terminal
