"""Themes are data files: the four shipped ones load; a broken one is reported, never fatal."""

from __future__ import annotations

import shutil

import pytest

from cockpit.tui.themes import THEMES_DIR, load_themes
from tests.tui.scenes import Scene, text_of

pytestmark = pytest.mark.anyio


def test_the_shipped_themes_load_with_their_semantic_colours():
    themes, errors = load_themes()
    assert errors == []
    assert {t.name for t in themes} == {"cockpit-dark", "cockpit-light", "cockpit-high-contrast", "cockpit-colorblind"}
    for theme in themes:
        assert set(theme.variables) == {"cockpit-pass", "cockpit-breach", "cockpit-stale", "cockpit-kill", "cockpit-muted"}
    blind = next(t for t in themes if t.name == "cockpit-colorblind")
    assert blind.variables["cockpit-pass"] != "#3fb950" and blind.variables["cockpit-breach"] == "#e69f00"  # no red/green pair


def test_a_broken_theme_file_is_reported_by_file_and_field(tmp_path):
    shutil.copy(THEMES_DIR / "cockpit-dark.toml", tmp_path / "ok.toml")
    (tmp_path / "typo.toml").write_text((THEMES_DIR / "cockpit-light.toml").read_text().replace('breach = "#cf222e"', 'breach = "red"'))
    (tmp_path / "syntax.toml").write_text("name = \n")
    themes, errors = load_themes(tmp_path)
    assert [t.name for t in themes] == ["cockpit-dark"]
    assert any(e.startswith(f"{tmp_path / 'typo.toml'}: roles.breach:") for e in errors), errors
    assert any(e.startswith(f"{tmp_path / 'syntax.toml'}: TOML syntax:") for e in errors), errors


async def test_the_app_starts_with_a_broken_theme_dir_and_says_so(tmp_path):
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "bad.toml").write_text("name = 'x'\n")
    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app(themes_dir=tmp_path / "themes", theme="cockpit-light")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = [f"{n.title}: {n.message}" for n in app._notifications]
        assert any("bad.toml" in s for s in shown)
        assert any("theme 'cockpit-light' not found" in s for s in shown)
        assert "CAPTAIN alice@bastion" in text_of(app.query_one("#header"))  # the cockpit is up regardless


async def test_theme_by_name(tmp_path):
    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app(theme="cockpit-high-contrast")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "cockpit-high-contrast"
        assert app.view().colors.breach == "#ff0000"


async def test_no_color_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    scene = await Scene(tmp_path / "s").preflight()
    app = scene.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.no_color
        assert "READY" in text_of(app.query_one("#banner"))  # the headline is always in words, not colour alone
