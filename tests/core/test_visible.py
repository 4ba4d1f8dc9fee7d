"""Text as it may reach a terminal (core/visible.py): every hidden character shown, none dropped (table-driven)."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import namedtuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.core.visible import HIDDEN, escape, visible, visible_fields

ATTACK = "ok\x1b[s\x1b[2;1H\x1b[2Kstatus   LIVE   canary weight 5 %\x1b[u"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("", ""),
        ("plain words, 5 % and ≥ 2 ms — ✓ 日本", "plain words, 5 % and ≥ 2 ms — ✓ 日本"),
        (ATTACK, "ok\\x1b[s\\x1b[2;1H\\x1b[2Kstatus   LIVE   canary weight 5 %\\x1b[u"),
        ("a\x00b", "a\\x00b"),  # NUL
        ("bell\x07", "bell\\x07"),
        ("back\x08space", "back\\x08space"),
        ("tab\there", "tab\\there"),
        ("one\ntwo", "one\\ntwo"),
        ("over\rwrite", "over\\rwrite"),
        ("\x0b\x0c\x1f", "\\x0b\\x0c\\x1f"),
        ("del\x7f", "del\\x7f"),
        ("c1 \x80 \x85 \x9b31m \x9f", "c1 \\x80 \\x85 \\x9b31m \\x9f"),  # C1, CSI among them
        ("\xa0nbsp stays, \xe9 stays", "\xa0nbsp stays, \xe9 stays"),
        ("soft\xadhyphen", "soft\\xadhyphen"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override
        ("\u061c\u200e\u200f\u202a\u202b\u202c\u202d", "\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),  # bidi isolates
        ("zero\u200bwidth\u200c\u200d\u2060\ufeff", "zero\\u200bwidth\\u200c\\u200d\\u2060\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("fill\u3164\u115f\u1160\uffa0", "fill\\u3164\\u115f\\u1160\\uffa0"),  # Hangul fillers: letters that show as nothing
        ("\U000e0041tag", "\\U000e0041tag"),  # a tag character (Cf beyond the BMP)
        ("\U0001d173", "\\U0001d173"),
        ("r\udcffot", "r\\xffot"),  # a byte that was not UTF-8, as Python decodes argv: shown as the byte
        ("\udce9", "\\xe9"),
        ("\ud800 \udc7f \udd00", "\\ud800 \\udc7f \\udd00"),  # other lone surrogates: as code points
        ("\\x1b typed as four characters", "\\x1b typed as four characters"),  # a backslash stays
        ("emoji 🚀 stays", "emoji 🚀 stays"),
    ],
)
def test_visible(text, shown):
    assert visible(text) == shown


@pytest.mark.parametrize(
    "text, shown",
    [
        ("one\ntwo\n", "one\ntwo\n"),
        ("one\r\ntwo", "one\\r\ntwo"),
        ("\x1b[2J\ntab\t", "\\x1b[2J\ntab\\t"),
        ("\u202e\n\x00", "\\u202e\n\\x00"),
        ("", ""),
    ],
)
def test_visible_keeps_line_breaks_when_asked(text, shown):
    assert visible(text, newlines=True) == shown


@pytest.mark.parametrize(
    "ch, escaped",
    [("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "\\x00"), ("\xff", "\\xff"), ("\u0100", "\\u0100"),
     ("\udc7f", "\\udc7f"), ("\udc80", "\\x80"), ("\udcff", "\\xff"), ("\udd00", "\\udd00"), ("\uffff", "\\uffff"),
     ("\U00010000", "\\U00010000"), ("\U0010ffff", "\\U0010ffff")],
)
def test_escape_edges(ch, escaped):
    assert escape(ch) == escaped


def test_the_table_is_every_control_format_separator_and_surrogate_of_this_unicode():
    """HIDDEN holds every Cc, Cf, Zl, Zp and Cs code point of the running Python's Unicode and the
    four Hangul fillers; anything else in it is unassigned here (assigned as Cf in a later Unicode)."""
    every = "".join(map(chr, range(0x110000)))
    hidden = {m.start() for m in HIDDEN.finditer(every)}
    wanted = {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp", "Cs")}
    fillers = {0x115F, 0x1160, 0x3164, 0xFFA0}
    assert wanted | fillers <= hidden
    assert {unicodedata.category(chr(cp)) for cp in hidden - wanted - fillers} <= {"Cn"}


def _unescape(shown: str) -> str:
    return re.sub(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[tnr])",
                  lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m[1]) or chr(int(m[1][1:], 16)), shown)


@given(st.text(alphabet=st.characters(codec=None, exclude_characters="\\", exclude_categories=()).filter(
    lambda ch: not 0xDC80 <= ord(ch) <= 0xDCFF)))
def test_visible_leaves_nothing_hidden_and_drops_nothing(text):
    shown = visible(text)
    assert HIDDEN.search(shown) is None
    assert visible(shown) == shown  # nothing left to escape
    assert _unescape(shown) == text  # every character is there, hidden ones as their escapes


@given(st.text())
def test_visible_with_line_breaks_only_keeps_newlines(text):
    shown = visible(text, newlines=True)
    assert HIDDEN.sub("", shown.replace("\n", "")) == shown.replace("\n", "")
    assert shown.count("\n") == text.count("\n")
    assert shown.replace("\n", "\\n") == visible(text)


# --- visible_fields -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    detail: str
    count: int = 0


@dataclasses.dataclass(frozen=True)
class Model:
    rows: tuple[Row, ...]
    lines: list
    badges: dict
    head: Row | None = None


Pair = namedtuple("Pair", "a b")


def test_visible_fields_escapes_every_text_all_the_way_down():
    model = Model(rows=(Row("ok", "a\x1bb", 3), Row("\u202e", "fine")), lines=["x\u200by", 4],
                  badges={"phase": ("\x07", "alarm")}, head=Row("h\x00", "d"))
    shown = visible_fields(model)
    assert shown == Model(rows=(Row("ok", "a\\x1bb", 3), Row("\\u202e", "fine")), lines=["x\\u200by", 4],
                          badges={"phase": ("\\x07", "alarm")}, head=Row("h\\x00", "d"))
    assert type(shown.lines) is list and type(shown.rows) is tuple


def test_visible_fields_returns_the_same_objects_when_nothing_is_hidden():
    row = Row("ok", "fine", 1)
    model = Model(rows=(row,), lines=["a"], badges={"p": ("✓", "ok")}, head=None)
    assert visible_fields(model) is model
    mixed = Model(rows=(row, Row("\x1b", "")), lines=[], badges={})
    assert visible_fields(mixed).rows[0] is row  # what did not change is not rebuilt


@pytest.mark.parametrize(
    "value, shown",
    [("\x1b", "\\x1b"), (("\x1b", 1), ("\\x1b", 1)), (["a", "\n"], ["a", "\\n"]), ({"k\x1b": "\x1b"}, {"k\x1b": "\\x1b"}),
     (7, 7), (None, None), (frozenset({"\x1b"}), frozenset({"\x1b"})), (Pair("\x1b", "b"), Pair("\x1b", "b")), (Row, Row)],
)
def test_visible_fields_by_kind(value, shown):
    assert visible_fields(value) == shown


def test_visible_fields_escapes_a_kind_of_dataclass_the_first_time_it_is_shown():
    """A face's first frame shows a row kind never shown before: it is escaped from the first value
    on, not only once some earlier frame has met the kind (each call here makes a kind of its own)."""

    @dataclasses.dataclass(frozen=True)
    class Fresh:
        note: str
        count: int = 0

    first = visible_fields(Fresh("a\x1b[2Jb", 2))
    assert first == Fresh("a\\x1b[2Jb", 2)
    assert visible_fields(Fresh("\u202e", 3)) == Fresh("\\u202e", 3)  # and the next value of that kind too
    same = Fresh("plain", 1)
    assert visible_fields(same) is same


def test_visible_fields_leaves_a_kind_that_is_not_a_dataclass_as_it_is():
    """An object of any other kind (not a dataclass, never seen before) comes back the same, whatever
    it holds: only dataclasses, tuples, lists and dicts are looked into."""

    class Opaque:
        def __init__(self, text: str):
            self.text = text

    value = Opaque("\x1b")
    assert visible_fields(value) is value and value.text == "\x1b"
