"""Installed like a tool: a wheel (what `pip install .` and pipx build) carries everything the
cockpit needs, themes included, and runs from a fresh virtual environment outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


def run(*argv, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_a_wheel_installed_in_a_fresh_venv_runs_the_demo_and_checks_the_example(tmp_path):
    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("cockpit-*.whl")

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py, cockpit = env / "bin" / "python", env / "bin" / "cockpit"
    installed = run(py, "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    where = run(py, "-c", "import cockpit, sys; print(cockpit.__file__)", cwd=tmp_path)
    assert str(env) in where.stdout and str(ROOT) not in where.stdout  # the installed copy, not the checkout
    themes = run(py, "-c", "from cockpit.tui.themes import load_themes; t, e = load_themes(); print(sorted(x.name for x in t), e)", cwd=tmp_path)
    assert "'cockpit-dark'" in themes.stdout and "[]" in themes.stdout, themes.stdout + themes.stderr

    demo = run(cockpit, "demo", "--headless", "--speed", "1800", "--state-dir", tmp_path / "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "DEMO · simulated · 1800x" in demo.stdout
    assert f"cockpit observe --state-dir {tmp_path / 'demo'}" in demo.stdout
    assert "(rolled_back)" in demo.stdout  # the default scenario's auto-rollback ran to its end

    check = run(cockpit, "check-config", ROOT / "config.example.toml", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "ok: IntelGraph Platform v0.1.0" in check.stdout
