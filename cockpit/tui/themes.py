"""Themes as data files (themes/*.toml), validated and turned into Textual themes.

A broken file is reported and skipped, never fatal: the cockpit must start during an incident.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

DEFAULT = "cockpit-dark"
# The package's themes: cockpit/themes (a link to the repository's themes/ in a checkout, real
# files in an installed wheel).
THEMES_DIR = Path(__file__).parent.parent / "themes"
_HEX = r"^#[0-9a-fA-F]{6}$"
# Checked by hand, not with a pydantic model: themes load before the screen's first frame, and
# pydantic's import and model build cost more than that whole frame (issue 12).
COLOURS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "success",
           "warning", "error")
ROLES = ("pass", "breach", "stale", "kill", "muted")  # the cockpit's semantic colours (the [roles] table)


def _problems(data: dict) -> list[str]:
    """`field: what is wrong` for each problem of a theme file's table, in pydantic's words."""
    problems = []

    def table(value: dict, fields: dict[str, str], where: str) -> None:
        for name, pattern in fields.items():
            loc = f"{where}{name}"
            if name not in value:
                problems.append(f"{loc}: Field required")
            elif pattern == "bool":
                if not isinstance(value[name], bool):
                    problems.append(f"{loc}: Input should be a valid boolean, unable to interpret input")
            elif pattern == "table":
                if not isinstance(value[name], dict):
                    problems.append(f"{loc}: Input should be a valid dictionary or instance of Roles")
            elif not isinstance(value[name], str):
                problems.append(f"{loc}: Input should be a valid string")
            elif not re.match(pattern, value[name]):
                problems.append(f"{loc}: String should match pattern '{pattern}'")
        problems.extend(f"{where}{extra}: Extra inputs are not permitted" for extra in value if extra not in fields)

    table(data, {"name": r"^[a-z0-9-]+$", "dark": "bool", **dict.fromkeys(COLOURS, _HEX), "roles": "table"}, "")
    if isinstance(data.get("roles"), dict):
        table(data["roles"], dict.fromkeys(ROLES, _HEX), "roles.")
    return problems


def load_themes(directory: Path = THEMES_DIR):
    """(list of textual Themes, list of error lines naming file and field)."""
    from textual.theme import Theme

    themes, errors = [], []
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            errors.append(f"{path}: TOML syntax: {e}")
            continue
        if problems := _problems(data):
            errors.extend(f"{path}: {problem}" for problem in problems)
            continue
        themes.append(
            Theme(
                name=data["name"],
                dark=data["dark"],
                **{colour: data[colour] for colour in COLOURS},
                variables={f"cockpit-{role}": data["roles"][role] for role in ROLES},
            )
        )
    if not themes and not errors:
        errors.append(f"{directory}: no theme files")
    return themes, errors
