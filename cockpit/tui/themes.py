"""Themes as data files (themes/*.toml), validated and turned into Textual themes.

A broken file is reported and skipped, never fatal: the cockpit must start during an incident.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT = "cockpit-dark"
# The package's themes: cockpit/themes (a link to the repository's themes/ in a checkout, real
# files in an installed wheel).
THEMES_DIR = Path(__file__).parent.parent / "themes"
_HEX = r"^#[0-9a-fA-F]{6}$"


class Roles(BaseModel):
    """The cockpit's semantic colours: what a pass, a breach, a stale gauge and the kill look like."""

    model_config = ConfigDict(extra="forbid")
    pass_: str = Field(alias="pass", pattern=_HEX)
    breach: str = Field(pattern=_HEX)
    stale: str = Field(pattern=_HEX)
    kill: str = Field(pattern=_HEX)
    muted: str = Field(pattern=_HEX)


class ThemeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    dark: bool
    primary: str = Field(pattern=_HEX)
    secondary: str = Field(pattern=_HEX)
    accent: str = Field(pattern=_HEX)
    foreground: str = Field(pattern=_HEX)
    background: str = Field(pattern=_HEX)
    surface: str = Field(pattern=_HEX)
    panel: str = Field(pattern=_HEX)
    success: str = Field(pattern=_HEX)
    warning: str = Field(pattern=_HEX)
    error: str = Field(pattern=_HEX)
    roles: Roles


def load_themes(directory: Path = THEMES_DIR):
    """(list of textual Themes, list of error lines naming file and field)."""
    from textual.theme import Theme

    themes, errors = [], []
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = ThemeFile.model_validate(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as e:
            errors.append(f"{path}: TOML syntax: {e}")
            continue
        except ValidationError as e:
            errors.extend(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            continue
        roles = data.roles.model_dump(by_alias=True)
        themes.append(
            Theme(
                name=data.name,
                dark=data.dark,
                primary=data.primary,
                secondary=data.secondary,
                accent=data.accent,
                foreground=data.foreground,
                background=data.background,
                surface=data.surface,
                panel=data.panel,
                success=data.success,
                warning=data.warning,
                error=data.error,
                variables={f"cockpit-{k}": v for k, v in roles.items()},
            )
        )
    if not themes and not errors:
        errors.append(f"{directory}: no theme files")
    return themes, errors
