"""The last frame a screen drew, kept so that its next start shows the plan's panes at once.

A screen started from the command line (captain, observer, demo) keeps the rows it drew (header,
panes, tabs) in the user's cache, under a key made of what it loads (the plan file, the state
dir, the demo), the terminal's size, the theme and the code that draws them. The next start of the
same screen shows them in its first frame, under a line that says it is loading and when the rows
were drawn; every action is refused until the plan and the journal are loaded, and then the
screen draws its own. A kept frame is a picture, never read back as a fact.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

VERSION = 1
_CODE = ("tui", "core")  # the packages whose code decides what a frame looks like


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cockpit" / "frames"


def _code_stamp() -> list:
    """Each drawing module's name, size and mtime: a changed module draws another frame."""
    root = Path(__file__).resolve().parent.parent
    stamp = []
    for package in _CODE:
        for path in sorted((root / package).glob("*.py")):
            try:
                st = path.stat()
            except OSError:
                continue
            stamp.append((f"{package}/{path.name}", st.st_size, st.st_mtime_ns))
    return stamp


def key(source: str, size: tuple[int, int], theme: str, no_color: bool) -> str:
    """What a kept frame is filed under: the same source on the same terminal, theme and code."""
    what = json.dumps([VERSION, source, list(size), theme, no_color, _code_stamp()]).encode()
    return f"{zlib.crc32(what):08x}{zlib.adler32(what):08x}"  # a file name, not a secret: no OpenSSL to load


class Frame:
    """Rows by widget id, and the wall time (UTC, HH:MM:SS) they were drawn."""

    def __init__(self, rows: dict[str, list[Strip]], at: str):
        self.rows, self.at = rows, at


def load(name: str) -> Frame | None:
    """The frame kept under `name`, or None (none yet, unreadable, or written by another version)."""
    try:
        data = json.loads((cache_dir() / f"{name}.json").read_text(encoding="utf-8"))
        if data.get("v") != VERSION:
            return None
        styles: dict[str, Style] = {}

        def style(definition: str) -> Style | None:
            if not definition:
                return None
            got = styles.get(definition)
            if got is None:
                got = styles[definition] = Style.parse(definition)
            return got

        rows = {widget: [Strip([Segment(text, style(s)) for text, s in line]) for line in lines]
                for widget, lines in data["rows"].items()}
        return Frame(rows, str(data["at"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a cache: anything wrong is no frame
        return None


def save(name: str, rows: dict[str, list[Strip]], at: str) -> None:
    """Keep `rows` under `name` (the user's own cache: 0700 directory, 0600 file, replaced whole)."""
    data = {"v": VERSION, "at": at, "rows": {
        widget: [[[seg.text, str(seg.style) if seg.style else ""] for seg in strip if not seg.control]
                 for strip in lines]
        for widget, lines in rows.items()}}
    directory = cache_dir()
    tmp = directory / f".{name}.{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, directory / f"{name}.json")
    except OSError:  # a full or read-only home: the next start draws its frame empty, as before
        try:
            tmp.unlink()
        except OSError:
            pass
