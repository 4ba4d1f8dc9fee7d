"""The core is pure: it imports neither Textual nor anything that does I/O or reads the clock."""

import ast
from pathlib import Path

import cockpit.core

CORE = Path(cockpit.core.__file__).parent
FORBIDDEN = {
    "textual", "rich", "httpx", "requests", "prometheus_api_client", "urllib3", "socket",
    "subprocess", "asyncio", "os", "pathlib", "io", "time", "threading", "fcntl", "shutil",
    "tempfile", "sqlite3", "http", "urllib", "cockpit.store", "cockpit.engine",
    "cockpit.adapters", "cockpit.tui", "cockpit.clock",
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_io_and_no_textual():
    offenders = {}
    for path in sorted(CORE.rglob("*.py")):
        bad = {n for n in _imports(path) if n.split(".")[0] in FORBIDDEN or any(n.startswith(f"{f}.") or n == f for f in FORBIDDEN)}
        if bad:
            offenders[str(path.relative_to(CORE))] = sorted(bad)
    assert offenders == {}


def test_core_never_reads_the_wall_clock():
    for path in sorted(CORE.rglob("*.py")):
        text = path.read_text()
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            assert call not in text, f"{path.name} calls {call}"


def test_the_hygiene_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import textual\nfrom os import path\n")
    assert {"textual", "os"} <= _imports(bad)
