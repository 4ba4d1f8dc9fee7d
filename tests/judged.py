"""The example plan with its commented judge switched on: [judge] and a judge criterion in every gate."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def judged_example_text(text: str | None = None) -> str:
    """config.example.toml with the commented [judge] section and the four judge criteria uncommented."""
    lines = (text if text is not None else EXAMPLE.read_text()).splitlines()
    out: list[str] = []
    on = False
    for i, line in enumerate(lines):
        starts = (line == "# [judge]" or
                  (line == "# [[phases.gate.auto]]" and i + 1 < len(lines) and lines[i + 1] == '# id = "judgment"'))
        if starts:
            on = True
        elif on and (not line.startswith("#") or line.startswith("# ---")):
            on = False
        if on and line.startswith("#"):
            out.append(line[2:] if line.startswith("# ") else "")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def write_judged_example(path: Path) -> Path:
    path.write_text(judged_example_text())
    return path
