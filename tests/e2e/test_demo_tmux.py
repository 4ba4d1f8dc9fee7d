"""End to end: `cockpit demo` in tmux, driven with send-keys and read with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.integration


def _tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        reason = "tmux not on PATH: install the Debian package tmux"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return path


class Terminal:
    """A private tmux server with one 120x40 window running a command."""

    def __init__(self, command: str, size=(120, 40)):
        self.tmux = _tmux()
        self.server = f"cockpit-e2e-{uuid.uuid4().hex[:8]}"
        self._run("new-session", "-d", "-s", "c", "-x", str(size[0]), "-y", str(size[1]), command)
        self._run("set-option", "-t", "c", "remain-on-exit", "on")

    def _run(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-L", self.server, *args], capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "c")

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "c", *keys)

    def wait_for(self, *texts: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"never saw {texts!r} within {timeout}s; the screen was:\n{self.screen()}")

    def dead(self) -> bool:
        return self._run("display-message", "-p", "-t", "c", "#{pane_dead}").strip() == "1"

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.server, "kill-server"], capture_output=True, timeout=10)


def test_demo_start_advance_auto_rollback_quit(tmp_path):
    state = tmp_path / "state"
    # COLUMNS/LINES from the test runner would override the pane size Textual sees.
    command = f"env -u COLUMNS -u LINES {sys.executable} -m cockpit demo --scenario latency-regression --speed 240 --state-dir {state}"
    term = Terminal(command)
    try:
        term.wait_for("READY: preflight passed, press s to start at 5 %", "Sign-offs 5/5", "Staging Success  pass")
        term.keys("s")
        term.wait_for("Start the rollout?")
        term.keys("y")  # traffic moves only after a confirmation
        term.wait_for("Phase 1 (1/4)", "canary 5 %", "SOAKING")
        term.keys("k")  # k scrolls the focused pane, as in vim, k9s and htop: no kill dialog
        time.sleep(1.0)
        assert "PULL THE KILL SWITCH" not in term.screen()
        term.keys("K")  # the kill switch's key, still behind the version typed
        term.wait_for("PULL THE KILL SWITCH", "Type the release version v0.1.0")
        term.keys("Escape")
        deadline = time.monotonic() + 10
        while "PULL THE KILL SWITCH" in term.screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "PULL THE KILL SWITCH" not in term.screen()
        term.wait_for("Sam (SRE) GO, entered by", "READY: GO recorded, press a to advance to 25 %")  # the simulated SRE says GO once the soak and criteria are done
        term.keys("a")
        term.wait_for("Advance to Phase 2?")
        term.keys("y")
        screen = term.wait_for("Phase 2 (2/4)", "canary 25 %")
        assert "▶25%" in screen
        screen = term.wait_for("ROLLED BACK · KILL VERIFIED", "canary 0 %")
        assert "FIRED" in screen and "Performance" in screen
        assert "api_p95_regression" not in screen  # one name per thing: ids only in the journal
        term.keys("q")
        deadline = time.monotonic() + 15
        while not term.dead() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert term.dead(), term.screen()
    finally:
        term.close()
    verify = subprocess.run([sys.executable, "-m", "cockpit", "verify", "--state-dir", str(state)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    status = subprocess.run([sys.executable, "-m", "cockpit", "status", "--state-dir", str(state), "--json"], capture_output=True, text=True, timeout=60)
    assert '"status": "ROLLED BACK"' in status.stdout


def test_keys_and_a_lone_escape_reach_the_screen_and_q_leaves_at_once(tmp_path):
    """Through Textual's own driver, in a real terminal: a key opens a dialog, a lone Esc (an
    escape sequence's prefix until the parser's timeout) closes it, and q leaves at once."""
    command = f"env -u COLUMNS -u LINES {sys.executable} -m cockpit demo --speed 1 --state-dir {tmp_path / 'state'}"
    term = Terminal(command)
    try:
        term.wait_for("READY: preflight passed, press s to start at 5 %")
        for _ in range(2):  # the second time after the thread has slept with nothing pending
            term.keys("s")
            term.wait_for("Start the rollout?")
            term.keys("Escape")
            deadline = time.monotonic() + 10
            while "Start the rollout?" in term.screen() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "Start the rollout?" not in term.screen()
            time.sleep(1.5)
        term.keys("q")  # preflight: nothing live, q leaves without asking
        deadline = time.monotonic() + 10
        while not term.dead() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert term.dead(), term.screen()
        assert "demo journal:" in term.screen()  # what leaving prints, once the screen has ended
    finally:
        term.close()
