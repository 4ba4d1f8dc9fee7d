"""The seed plan (IntelGraph v0.1.0), shipped with the package: `init`'s starter and the demo's plan."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cockpit.config import Plan, load_plan

SEED = Path(__file__).with_name("seed_plan.toml")  # a link to config.example.toml in a checkout


def seed_plan() -> Plan:
    return load_plan(SEED)


def judged_seed_text(text: str | None = None) -> str:
    """The seed plan's text with its commented judge switched on: the [judge] section and the
    judge criterion of every gate uncommented (the judge demos, and what tests check it loads)."""
    lines = (SEED.read_text() if text is None else text).splitlines()
    out: list[str] = []
    on = False
    for i, line in enumerate(lines):
        if line == "# [judge]" or (line == "# [[phases.gate.auto]]" and lines[i + 1:i + 2] == ['# id = "judgment"']):
            on = True
        elif on and (not line.startswith("#") or line.startswith("# ---")):
            on = False
        out.append((line[2:] if line.startswith("# ") else "") if on and line.startswith("#") else line)
    return "\n".join(out) + "\n"


def judged_seed_data() -> dict[str, Any]:
    return tomllib.loads(judged_seed_text())
