"""What the screen may touch: Textual's public API only (no `textual._*` import, no write to an
attribute Textual keeps for itself), and the rollout only through the desk: nothing in cockpit/tui
imports the engine, the journal or a core rule; from the read model only its types and marks."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import cockpit.tui.app
from cockpit.core import readmodel

TUI = Path(cockpit.tui.app.__file__).parent
RULES = {"cockpit.engine", "cockpit.store", "cockpit.store.journal", "cockpit.core.rules", "cockpit.core.state", "cockpit.core.postdeploy",
         "cockpit.core.guardsight", "cockpit.core.triggers", "cockpit.core.events", "cockpit.narrate",
         "cockpit.commands", "cockpit.session", "cockpit.config"}


def _textual_own_attributes() -> set[str]:
    """The underscored attributes Textual sets on its apps, screens and widgets."""
    from textual.app import App
    from textual.screen import ModalScreen
    from textual.scroll_view import ScrollView
    from textual.widgets import Static

    own: set[str] = set()
    for thing in (App(), ModalScreen(), ScrollView(), Static()):
        own |= {name for name in vars(thing) if name.startswith("_")}
        own |= {name for cls in type(thing).__mro__ if cls.__module__.startswith("textual") for name in vars(cls)
                if name.startswith("_") and not name.startswith("__")}
    return own


def problems(source: str, textual_own: set[str]) -> list[str]:
    """Every private Textual import, use of an attribute Textual keeps for itself (read, written,
    or overridden), and import of the rollout's rules in `source` (a module of cockpit/tui)."""
    found = []
    tree = ast.parse(source)
    for block in ast.walk(tree):  # names imported for type hints alone are not used at run time
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "textual" and (any(p.startswith("_") for p in parts) or any(a.name.startswith("_") for a in node.names)):
                found.append(f"imports {node.module}: {', '.join(a.name for a in node.names)}")
            for alias in node.names:
                if node.module in RULES or f"{node.module}.{alias.name}" in RULES:
                    found.append(f"imports {node.module}.{alias.name}")
                elif node.module == "cockpit.core.readmodel" and inspect.isfunction(getattr(readmodel, alias.name, None)):
                    found.append(f"calls the read model's rule {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if (parts[0] == "textual" and any(p.startswith("_") for p in parts)) or alias.name in RULES:
                    found.append(f"imports {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in textual_own:
            found.append(f"touches {node.attr}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in textual_own:
            found.append(f"overrides {node.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "getattr"):
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and node.args[1].value in textual_own:
                found.append(f"touches {node.args[1].value}")
    return found


def test_the_screen_uses_public_textual_and_reaches_the_rollout_through_the_desk():
    own = _textual_own_attributes()
    assert {"_render_cache", "_dirty_regions"} <= own
    offenders = {path.name: got for path in sorted(TUI.glob("*.py")) if (got := problems(path.read_text(), own))}
    assert offenders == {}


def test_the_check_finds_what_it_forbids():
    own = _textual_own_attributes()
    bad = (
        "from textual._time import get_time\nimport textual._xterm_parser\nfrom textual.widget import _RenderCache\n"
        "from cockpit.core import rules\nfrom cockpit.core.readmodel import read_model, ReadModel, PASS\n"
        "import cockpit.engine\nself._render_cache = None\nself._dirty_regions.clear()\n"
        "setattr(self, '_render_cache', 1)\nself._shown = 1\n"
        "class Pane:\n    def _render_content(self):\n        pass\n"
        "if TYPE_CHECKING:\n    from cockpit.engine import Engine\n"
    )
    assert sorted(problems(bad, own)) == sorted([
        "imports textual._time: get_time", "imports textual._xterm_parser", "imports textual.widget: _RenderCache",
        "imports cockpit.core.rules", "calls the read model's rule read_model", "imports cockpit.engine",
        "touches _render_cache", "touches _dirty_regions", "touches _render_cache", "overrides _render_content",
    ])
