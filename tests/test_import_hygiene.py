"""What importing a module loads, seen in a fresh interpreter: the guard boots no Textual (it would take
over the guard's stdout and stderr), the captain's screen loads no adapter before it needs one, and the
evidence screenshot is drawn by a process of its own."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from cockpit.engine import Engine
from cockpit.store.journal import Journal

ROOT = Path(__file__).resolve().parent.parent


def _fresh(code: str, *args: str) -> dict:
    """Run `code` in a new interpreter (this checkout's cockpit); it prints one JSON document."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(*modules: str) -> list[str]:
    return _fresh(LOADED, *modules)


def _under(loaded: list[str], package: str) -> list[str]:
    return [m for m in loaded if m == package or m.startswith(package + ".")]


def test_importing_the_guard_loads_no_textual():
    loaded = _loaded("cockpit.guard")
    assert "cockpit.guard" in loaded and "cockpit.engine" in loaded  # what it imports, it loads
    assert _under(loaded, "textual") == [] and _under(loaded, "cockpit.tui") == []


def test_what_the_guard_runs_on_loads_no_textual():
    loaded = _loaded("cockpit.engine", "cockpit.monitor", "cockpit.session", "cockpit.evidence", "cockpit.store.journal",
                     "cockpit.adapters.factory", "cockpit.adapters.prometheus", "cockpit.adapters.notify")
    assert _under(loaded, "textual") == [] and _under(loaded, "cockpit.tui") == []


def test_importing_the_captains_screen_loads_no_adapter():
    loaded = _loaded("cockpit.tui.app")
    assert "cockpit.tui.app" in loaded and _under(loaded, "textual")  # Textual: the screen's own
    assert _under(loaded, "cockpit.adapters") == []
    assert _under(loaded, "cockpit.engine") == [] and _under(loaded, "cockpit.store") == []


FILE_IO = {"os", "io", "fcntl", "pathlib", "shutil", "tempfile", "mmap"}


def _file_io(source: str) -> set[str]:
    """The file-I/O modules `source` imports, and `open(` if it calls it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names} & FILE_IO
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module.split(".")[0]} & FILE_IO
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.add("open(")
    return found


def test_the_chain_of_lines_is_read_without_a_file():
    """cockpit.store.chain encodes a journal's lines and reads their chain: every store (an etcd
    journal keeps the same lines) verifies with it, so it opens nothing and loads no file store."""
    assert _file_io(Path(ROOT / "cockpit" / "store" / "chain.py").read_text()) == set()
    loaded = _loaded("cockpit.store.chain")
    assert "cockpit.store.chain" in loaded
    assert [m for m in _under(loaded, "cockpit.store") if m not in ("cockpit.store", "cockpit.store.chain")] == []
    assert _file_io("import os\nfrom pathlib import Path\nopen('x')") == {"os", "pathlib", "open("}  # the check can fail


def test_the_check_sees_what_is_loaded():
    """The checks above can fail: an import that pulls Textual in shows up."""
    assert _under(_loaded("cockpit.tui.replay"), "textual")
    assert _under(_loaded("cockpit.session", "cockpit.adapters.factory"), "cockpit.adapters")


CAPTURE = """
import json, sys
from datetime import datetime
from pathlib import Path
from cockpit.evidence import capture_screen
from cockpit.seed import seed_plan

out, err = sys.stdout, sys.stderr
why = capture_screen(seed_plan(), Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), Path(sys.argv[3]),
                     timeout_s=float(sys.argv[4]))
print(json.dumps({"why": why, "textual": sorted(m for m in sys.modules if m.split(".")[0] == "textual"),
                  "streams_kept": sys.stdout is out and sys.stderr is err}))
"""


def _journal(state_dir: Path, plan, clock, actor) -> None:
    engine = Engine(plan, Journal(state_dir), clock=clock, actor=actor)
    engine.ensure_plan()
    engine.journal.close()


def test_the_evidence_screenshot_is_drawn_by_a_process_of_its_own(tmp_path, plan, clock, actor):
    _journal(tmp_path / "state", plan, clock, actor)
    svg = tmp_path / "cockpit_screen.svg"
    said = _fresh(CAPTURE, str(tmp_path / "state"), clock.now().isoformat(), str(svg), "60")
    assert said == {"why": "", "textual": [], "streams_kept": True}
    text = svg.read_text()
    assert text.startswith("<svg") and plan.release.version in text  # the screen, at that moment


def test_a_screenshot_that_cannot_be_drawn_is_a_named_reason_and_no_file(tmp_path, plan, clock, actor):
    _journal(tmp_path / "state", plan, clock, actor)
    svg = tmp_path / "no-such-dir" / "cockpit_screen.svg"
    said = _fresh(CAPTURE, str(tmp_path / "state"), clock.now().isoformat(), str(svg), "60")
    assert str(svg) in said["why"] and said["textual"] == [] and said["streams_kept"] and not svg.exists()

    svg = tmp_path / "cockpit_screen.svg"
    said = _fresh(CAPTURE, str(tmp_path / "state"), clock.now().isoformat(), str(svg), "0.05")
    assert said["why"].startswith("the screen did not render within") and not svg.exists()
