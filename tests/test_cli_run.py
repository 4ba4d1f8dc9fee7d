"""`cockpit run` and `cockpit observe`: one captain at a time; observers load no credentials."""

from __future__ import annotations

import os
import subprocess
import sys

import tomli_w

from cockpit.config import dump_plan
from cockpit.store.locks import CaptainLock


def _config(tmp_path, plan) -> str:
    data = dump_plan(plan)
    data["state_dir"] = str(tmp_path / "state")
    data["gateways"]["edge"]["url"] = "http://127.0.0.1:9/flags"  # never called in these tests
    data["gateways"]["edge"].pop("read_url", None)
    path = tmp_path / "plan.toml"
    path.write_text(tomli_w.dumps(data))
    return str(path)


def test_a_second_captain_is_refused_with_the_holders_identity(tmp_path, plan):
    config = _config(tmp_path, plan)
    lock = CaptainLock(tmp_path / "state", user="alice", host="bastion", pid=os.getpid(), since="2026-11-26 14:00:00Z").acquire()
    try:
        res = subprocess.run([sys.executable, "-m", "cockpit", "run", "--config", config], capture_output=True, text=True, timeout=60)
    finally:
        lock.release()
    assert res.returncode == 3
    assert "captain lock held by alice@bastion" in res.stderr and f"pid {os.getpid()}" in res.stderr
    assert "cockpit observe" in res.stderr


def test_observe_needs_a_journal_and_says_so(tmp_path, plan):
    config = _config(tmp_path, plan)
    res = subprocess.run([sys.executable, "-m", "cockpit", "observe", "--config", config], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "no journal yet" in res.stderr and "cockpit run" in res.stderr


def test_an_observer_loads_no_credentials_and_takes_the_plan_from_the_journal(tmp_path, plan, monkeypatch, clock, actor):
    from cockpit.config import load_plan
    from cockpit.engine import Engine
    from cockpit.session import observer
    from cockpit.store.journal import Journal

    config = _config(tmp_path, plan)
    captain = Engine(load_plan(config), Journal(tmp_path / "state"), clock=clock, actor=actor)
    captain.ensure_plan()  # the captain has started the journal
    monkeypatch.delenv("COCKPIT_GATEWAY_TOKEN", raising=False)  # a captain would be refused without it

    def no_credentials(*a, **kw):
        raise AssertionError("an observer built an adapter that holds credentials")

    monkeypatch.setattr("cockpit.adapters.factory.build_gateway", no_credentials)
    monkeypatch.setattr("cockpit.adapters.prometheus.build_metrics", no_credentials)
    engine, feed = observer(tmp_path / "state", None)  # no config at all
    assert engine.follower and engine.gateway is None and engine.metrics is None and engine.journal.readonly
    assert engine.actor.role == "observer" and feed.path.parent == tmp_path / "state"
    assert engine.plan.release.version == plan.release.version
    assert [t.name for t in engine.plan.triggers] == [t.name for t in plan.triggers]

    # A local copy of the config that differs (an older edit) does not stop the observer following.
    edited = load_plan(config).model_copy(update={"sign_offs": ["po"]})
    assert observer(tmp_path / "state", edited)[0].plan.sign_offs == plan.sign_offs


def test_a_captain_without_its_gateway_token_is_refused_naming_the_variable(tmp_path, plan):
    config = _config(tmp_path, plan)
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_GATEWAY_TOKEN"}
    res = subprocess.run([sys.executable, "-m", "cockpit", "run", "--config", config], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 2 and "COCKPIT_GATEWAY_TOKEN" in res.stderr


def test_a_bad_plan_is_refused_naming_file_and_field_and_no_screen_without_a_terminal(tmp_path, plan):
    """With no terminal on stderr (a script) the plan loads before any screen: its error alone.
    (On a terminal it loads after the first frame, and is said once the screen has ended.)"""
    data = dump_plan(plan)
    data["phases"][0]["weight"] = 150
    path = tmp_path / "plan.toml"
    path.write_text(tomli_w.dumps(data))
    res = subprocess.run([sys.executable, "-m", "cockpit", "run", "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith(f"{path}: phases.0.weight:") and "\x1b[" not in res.stderr and "Traceback" not in res.stderr


def test_observe_a_state_dir_without_a_journal_is_refused_before_any_screen(tmp_path):
    res = subprocess.run([sys.executable, "-m", "cockpit", "observe", "--state-dir", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr == f"{tmp_path / 'none'}: no journal yet; the captain starts it with `cockpit run`\n"  # no screen drawn


def _quit_at(argv: list[str], marker: bytes, *, signal_: int | None = None) -> tuple[int, bytes]:
    """Run the cockpit on a 120x40 pty, press q once `marker` is on screen (or send it `signal_`); (exit
    code, all it wrote)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "xterm-256color"}
        os.execve(sys.executable, [sys.executable, "-m", "cockpit", *argv], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120x40, as a terminal would say
    seen = b""
    try:
        while marker not in seen:
            ready, _, _ = select.select([fd], [], [], 30)
            assert ready, f"no {marker!r}: {seen[-300:]!r}"
            seen += os.read(fd, 65536)
        if signal_ is None:
            os.write(fd, b"q")
        else:
            os.kill(pid, signal_)
        while True:
            ready, _, _ = select.select([fd], [], [], 30)
            assert ready, f"still running after q: {seen[-300:]!r}"
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end has gone: the process ended
                break
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen


def test_sigterm_ends_a_screen_as_q_does_and_gives_the_terminal_back(tmp_path):
    """`kill PID` of a screen (an admin on the bastion, a session manager): the screen ends through its
    normal exit, leaves the alternate screen and restores the terminal, and says where its journal is."""
    import signal

    code, seen = _quit_at(["demo", "--state-dir", str(tmp_path / "demo")], b"Timeline (journal, newest first)",
                          signal_=signal.SIGTERM)
    assert code == 0, seen[-300:]
    after = seen[seen.rindex(b"Timeline (journal, newest first)"):]
    assert b"\x1b[?1049l" in after  # the alternate screen left: the shell's screen is back
    assert b"demo journal:" in after


def test_q_on_the_loading_frame_ends_the_demo_and_its_journal_is_whole(tmp_path):
    """Quit as soon as the frame is drawn (the plan may still be loading): the process ends (the
    loader's thread does not hold it), says where its journal is, and the journal verifies."""
    code, seen = _quit_at(["demo", "--state-dir", str(tmp_path / "demo")], b"Timeline (journal, newest first)")
    assert code == 0
    assert b"demo journal:" in seen
    verify = subprocess.run([sys.executable, "-m", "cockpit", "verify", "--state-dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode in (0, 2), verify.stderr  # intact, or nothing journaled yet


def test_leaving_the_screen_says_where_the_rollout_stands_and_who_watches(tmp_path, plan, clock, actor):
    """q leaves no blank prompt: the last line is the screen's headline and who guards the rollout."""
    from cockpit.config import load_plan
    from cockpit.engine import Engine
    from cockpit.store.journal import Journal

    config = _config(tmp_path, plan)
    Engine(load_plan(config), Journal(tmp_path / "state"), clock=clock, actor=actor).ensure_plan()
    code, seen = _quit_at(["observe", "--state-dir", str(tmp_path / "state")], b"Sign-offs 0/5")
    last = seen.decode(errors="replace").strip().splitlines()[-1]
    assert code == 0
    assert last.endswith("IntelGraph Platform v0.1.0: PREFLIGHT: 0/6 checks passed · 0/5 sign-offs; no guard runs (nothing to watch)"), last
