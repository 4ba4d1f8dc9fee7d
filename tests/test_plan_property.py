"""check-config never shows a traceback: random TOML, random values put into config.example.toml,
random bytes. Every answer is exit 0 with an `ok` line, or exit 2 with `FILE: ...` lines."""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit import cli
from tests.conftest import ROOT

EXAMPLE = tomllib.loads((ROOT / "config.example.toml").read_text())
SETTINGS = settings(max_examples=int(os.environ.get("COCKPIT_PROPERTY_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(["", " ", "0s", "-1s", "20m", "99999999999h", "1e20", "nan", "canary;disable server be/stable",
                     "http://u:p@h/?api_key=x", "sum(rate(foo[5m]", "L1", "sre", "v0.1.0 ", "Phase 1"]),
    st.datetimes(timezones=st.just(UTC)), st.dates(), st.times(),
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def check_config(text: str) -> None:
    """Run `cockpit check-config` on `text` in this process; fail on anything but a clean answer."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["check-config", str(path)])
            except SystemExit as e:
                code = e.code
        if code == 0:
            assert out.getvalue().startswith(f"{path}: ok: "), out.getvalue()
        else:
            assert code == 2, (code, err.getvalue())
            lines = err.getvalue().splitlines()
            assert lines and all(line.startswith(f"{path}: ") for line in lines), lines


def leaves(node, path=()):
    """Every (path, value) of the plan data, tables and arrays included."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))


PATHS = [p for p, _ in leaves(EXAMPLE) if p]


def mutated(choices: list[tuple[tuple, object, bool]]) -> dict:
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    for path, value, delete in choices:
        node = data
        try:
            for step in path[:-1]:
                node = node[step]
            if isinstance(node, dict) != isinstance(path[-1], str):
                continue  # an earlier mutation replaced a table with an array or back
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this place
    return data


@SETTINGS
@given(st.dictionaries(keys, toml_values, max_size=6))
def test_random_toml_never_shows_a_traceback(doc):
    check_config(tomli_w.dumps(doc))


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(PATHS), toml_values, st.booleans()), min_size=1, max_size=4))
def test_random_values_in_the_example_never_show_a_traceback(choices):
    check_config(tomli_w.dumps(mutated(choices)))


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_shows_a_traceback(text):
    check_config(text)


def test_the_strategies_reach_the_values_that_used_to_crash():
    """Guard against a strategy that quietly stopped producing the dangerous cases."""
    assert any(isinstance(v, float) and math.isinf(v) for v in (float("inf"),))
    assert ("phases", 0, "soak") in PATHS and ("gateways", "edge", "url") in PATHS
    for path, value in ((("phases", 0, "soak"), 1e20), (("phases", 0, "soak"), "99999999999h"),
                        (("triggers", 0, "for"), float("nan")), (("release", "version"), ""),
                        (("phases", 0, "weight"), True), (("gateways", "edge", "token", "env"), ""),
                        (("release", "version"), datetime(2026, 1, 1)), (("phases", 0, "soak"), time(1, 2)),
                        (("budget", "categories", 0, "monthly"), date(2026, 1, 1))):
        check_config(tomli_w.dumps(mutated([(path, value, False)])))
