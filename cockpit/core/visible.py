"""Text as it may reach a terminal: every control, bidi and invisible character shown as an escape.

A note, a reason, a name or a server's error body is shown on every face (screen, observer,
`status`, report, evidence, error messages) through `visible`: an ESC cannot move the cursor and
paint a healthy status over a rolled-back one, a U+202E cannot reverse a line, a U+200B cannot
shift a pane's border. Nothing is dropped: an auditor sees `\\x1b`, `\\u202e` where they were.
The journal keeps exactly what was typed; only what is shown is escaped.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TypeVar

# Every character of Unicode categories Cc (C0, DEL, C1), Cf (format: bidi controls, zero-width
# spaces and joiners, the BOM, soft hyphen, tags), Zl and Zp (line and paragraph separators) and
# Cs (lone surrogates: bytes a terminal sent that were not UTF-8), and the Hangul fillers (letters
# that show as nothing). tests/core/test_visible.py checks this table against unicodedata.
HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ud800-\udfff\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
HIDDEN_BUT_NEWLINE = re.compile(HIDDEN.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))
SURROGATE = re.compile("[\ud800-\udfff]")
SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape(ch: str) -> str:
    """One hidden character as the escape a Python string literal would use; a surrogate that
    stands for an undecodable byte (U+DC80..U+DCFF, as Python decodes argv) as that byte."""
    if ch in SHORT:
        return SHORT[ch]
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if 0xDC80 <= cp <= 0xDCFF:
        return f"\\x{cp - 0xDC00:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """`text` with every hidden character shown as its escape (`newlines`: line breaks stay, for
    text of several lines). What comes out has nothing left to escape: visible(visible(t)) is visible(t)."""
    pattern = HIDDEN_BUT_NEWLINE if newlines else HIDDEN
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda m: escape(m.group()), text)


T = TypeVar("T")
_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's field names (none for any other type), by type


def _fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = (tuple(f.name for f in dataclasses.fields(kind))
                                 if dataclasses.is_dataclass(kind) else ())
    return names


def visible_fields(value: T) -> T:
    """`value` with every text in it made visible: a str, and the strs in tuples, lists, dict
    values and (frozen) dataclasses, all the way down. The same object back when nothing in it
    needed escaping, so a face that compares what it shows repaints nothing."""
    kind = type(value)
    if kind is str:
        return visible(value)  # type: ignore[arg-type,return-value]
    if kind is tuple or kind is list:  # a named tuple or other subclass is left as it is
        items = [visible_fields(v) for v in value]  # type: ignore[attr-defined]
        if all(a is b for a, b in zip(items, value, strict=False)):  # type: ignore[call-overload]
            return value
        return kind(items)  # type: ignore[call-arg]
    if kind is dict:
        shown = {k: visible_fields(v) for k, v in value.items()}  # type: ignore[attr-defined]
        return value if all(shown[k] is v for k, v in value.items()) else shown  # type: ignore[attr-defined,return-value]
    names = _fields(kind)
    if not names:
        return value
    changed = {name: new for name in names if (new := visible_fields(old := getattr(value, name))) is not old}
    return dataclasses.replace(value, **changed) if changed else value  # type: ignore[type-var]
