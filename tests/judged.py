"""The example plan with its commented judge switched on: [judge] and a judge criterion in every gate."""

from __future__ import annotations

from pathlib import Path

from cockpit.seed import judged_seed_text
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def judged_example_text() -> str:
    """config.example.toml with the commented [judge] section and the four judge criteria uncommented."""
    return judged_seed_text(EXAMPLE.read_text())


def write_judged_example(path: Path) -> Path:
    path.write_text(judged_example_text())
    return path
