"""A real server binary (a Debian package) on a free 127.0.0.1 port: found or skipped, started
with its log in its work dir, waited for on a ready URL, stopped, every wait bounded.

`PromServer`, `VictoriaServer` and `LoopbackAlertmanager` are this with their own arguments;
a missing binary skips the test, and fails it under CI=true (CI installs every package)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


class PortTaken(RuntimeError):
    """Another process bound the port between picking it and the server binding it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(binaries: tuple[str, ...], package: str) -> list[str]:
    """The first path found for each entry (`a|b` tries a, then b), or skip (fail under CI=true)."""
    found = {entry: next((p for p in map(shutil.which, entry.split("|")) if p), None) for entry in binaries}
    missing = [entry.split("|")[0] for entry, path in found.items() if path is None]
    if missing:
        import pytest

        reason = (f"{' and '.join(missing)} not on PATH: install the Debian package `{package}` "
                  f"(apt-get install -y --no-install-recommends {package}; make system-deps)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return [found[entry] for entry in binaries]  # type: ignore[misc]


class LoopbackServer:
    """Subclasses set `name` (the log file's stem) and `ready_path`, and give `argv()`."""

    name = "server"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def launch(self) -> None:
        """Start the process on a fresh port and wait until its ready URL answers 200. A port that
        another test bound between picking and binding is picked afresh (twice at most)."""
        for attempt in range(3):
            try:
                self._launch()
                return
            except PortTaken:
                self.stop()
                if attempt == 2:
                    raise

    def _launch(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._log = open(self.workdir / f"{self.name}.log", "wb")
        self.proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                failure = PortTaken if "address already in use" in self.log_tail().lower() else RuntimeError
                raise failure(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=1) as answer:
                    if answer.status == 200 and self.proc.poll() is None:  # ours answered, not a neighbour's
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {READY_TIMEOUT_S:g}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace")[-800:] if path.exists() else ""

    def kill(self) -> None:
        """Die without warning, as a crashed server would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None
