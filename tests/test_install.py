"""Installed like a tool, as the README says: a wheel (what `pip install .` and pipx build) carries
everything the cockpit needs, themes included, and runs from a fresh virtual environment outside the
checkout; `pipx install .` from a clone puts a working `cockpit` in its bin dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from cockpit import __version__

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
    assert run(cockpit, "--version", cwd=tmp_path).stdout == f"cockpit {__version__}\n"


def clone(to: Path) -> Path:
    """What a clone of this checkout holds: its tracked files, and new ones not ignored (a commit
    away), copied as they are now (symbolic links kept: cockpit/themes is one)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True, timeout=60).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = ROOT / name, to / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in the index
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return to


def test_pipx_install_from_a_clone_gives_a_cockpit_command(tmp_path):
    """The README's `pipx install .`, with pipx itself installed in a fresh venv (from the package
    index pip uses here) and pipx's home, venvs and bin dir under tmp_path."""
    tools = tmp_path / "tools"
    venv.create(tools, with_pip=True)
    got = run(tools / "bin" / "python", "-m", "pip", "install", "-q", "pipx", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    source = clone(tmp_path / "clone")
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    env.pop("PYTHONPATH", None)
    installed = subprocess.run([tools / "bin" / "pipx", "install", "."], cwd=source, env=env, capture_output=True,
                               text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    command = tmp_path / "bin" / "cockpit"
    assert command.exists(), installed.stdout

    version = run(command, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout == f"cockpit {__version__}\n", version.stderr
    where = run(command.resolve().parent / "python", "-c", "import cockpit; print(cockpit.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "pipx" / "venvs" / "cockpit"))  # its own venv, not the clone
    plan = tmp_path / "plan.toml"
    assert run(command, "init", plan, cwd=tmp_path).returncode == 0
    check = run(command, "check-config", plan, "--json", cwd=tmp_path)
    assert check.returncode == 0 and '"outcome": "valid"' in check.stdout, check.stderr
    demo = run(command, "demo", "--headless", "--speed", "1800", "--scenario", "healthy", "--state-dir",
               tmp_path / "demo", cwd=tmp_path)
    assert demo.returncode == 0 and "(completed)" in demo.stdout, demo.stdout[-2000:] + demo.stderr
