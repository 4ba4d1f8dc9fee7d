"""No function in cockpit/ is longer than a screen (issue 21): a long one is several ideas, each wanting a name."""

from __future__ import annotations

import ast
from pathlib import Path

LONGEST = 80  # lines, from `def` to its last line
ROOT = Path(__file__).resolve().parent.parent / "cockpit"


def too_long(root: Path, longest: int = LONGEST) -> list[str]:
    """`path:line name N lines` for every function or method under `root` over `longest` lines."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                n = node.end_lineno - node.lineno + 1
                if n > longest:
                    out.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} {n} lines")
    return out


def test_no_function_in_cockpit_is_over_80_lines():
    assert too_long(ROOT) == []


def test_the_measure_finds_a_long_function(tmp_path):
    """The check itself can fail: an 81-line function is named, an 80-line one is not."""
    body = "\n".join(f"    x{i} = {i}" for i in range(79))
    (tmp_path / "long.py").write_text(f"def eighty():\n{body}\n\n\ndef eighty_one():\n{body}\n    return x0\n")
    assert too_long(tmp_path) == [f"{tmp_path.name}/long.py:{80 + 3} eighty_one 81 lines"]
