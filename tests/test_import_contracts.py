"""The import contracts of pyproject.toml hold for cockpit, and each one fails on a module that breaks it."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"  # the venv's (pyproject: the test extra)
VIOLATIONS = Path(__file__).parent / "fixtures" / "import_violations"
CONTRACTS = ("core", "no-textual", "faces", "credentials", "store", "store-journal")


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`lint-imports` on the cockpit package importable from `cwd`, with the contracts of `cwd`'s pyproject."""
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def _verdicts(out: str) -> dict[str, str]:
    """Each contract's name as printed (joined across the report's wrapped lines) -> KEPT or BROKEN."""
    text = " ".join(out.split())
    return {m.group(1): m.group(2) for m in re.finditer(r"((?:The|Faces|Credentials) [^.]*?) (KEPT|BROKEN)", text)}


def test_cockpit_keeps_every_import_contract():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout
    assert len(_verdicts(done.stdout)) == len(CONTRACTS)


@pytest.mark.parametrize(("contract", "fixture", "into"), [
    ("core", "core_opens_the_journal.py", "core"),
    ("no-textual", "adapter_draws_a_screen.py", "adapters"),
    ("faces", "face_applies_a_rule.py", "tui"),
    ("credentials", "command_builds_a_gateway.py", "."),
    ("store", "store_drives_the_engine.py", "store"),
    ("store-journal", "command_opens_the_journal.py", "."),
])
def test_each_contract_fails_on_a_module_that_breaks_it(tmp_path, contract, fixture, into):
    shutil.copytree(ROOT / "cockpit", tmp_path / "cockpit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(VIOLATIONS / fixture, tmp_path / "cockpit" / into / fixture)
    module = "cockpit." + ("" if into == "." else into + ".") + fixture.removesuffix(".py")

    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS) - 1} kept, 1 broken." in done.stdout
    broken = [name for name, verdict in _verdicts(done.stdout).items() if verdict == "BROKEN"]
    assert len(broken) == 1
    assert f"{module} ->" in done.stdout  # the copy was analysed (not the installed cockpit), naming the culprit
    alone = _lint(tmp_path, "--contract", contract)  # the one contract named by its id is the broken one
    assert alone.returncode == 1 and f"{module} ->" in alone.stdout
