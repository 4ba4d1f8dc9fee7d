"""A plan that cannot lie: every class of malformed plan is refused by `cockpit check-config`
with `FILE: field.path: message`, exit 2 and no traceback; the files it cannot read, likewise."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tomllib

import pytest
import tomli_w

from cockpit import cli
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"
HAPROXY = {"type": "haproxy", "socket": "/run/haproxy/admin.sock", "backend": "be"}


def check_config(path) -> tuple[int, str, str]:
    """`cockpit check-config PATH` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(["check-config", str(path)])
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def at(data: dict, path: str, value) -> None:
    """Set `value` at a dotted path (`phases.0.soak`) of the plan data."""
    *parents, last = path.split(".")
    node = data
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def copy_at(src: str, dst: str):
    """A mutation that copies one value of the plan onto another place (to make duplicates)."""
    def mutate(data):
        node = data
        for step in src.split("."):
            node = node[int(step)] if isinstance(node, list) else node[step]
        at(data, dst, node)
    return mutate


def put(path: str, value):
    return lambda data: at(data, path, value)


# (mutation of config.example.toml, the field path the error names, words of its message)
MALFORMED = {
    # non-finite numbers anywhere
    "nan threshold": (put("triggers.2.threshold", float("nan")), "triggers.2.threshold", "finite"),
    "inf above_baseline_pct": (put("triggers.0.above_baseline_pct", float("inf")), "triggers.0.above_baseline_pct", "finite"),
    "nan criterion threshold": (put("phases.0.gate.auto.0.threshold", float("nan")), "phases.0.gate.auto.0.threshold", "finite"),
    "-inf promql check threshold": (put("preflight.5.threshold", float("-inf")), "preflight.5.promql.threshold", "finite"),
    "nan expectation": (put("preflight.2.expect.value", float("nan")), "preflight.2.report.expect.value", "finite"),
    "nan monthly budget": (put("budget.categories.0.monthly", float("nan")), "budget.categories.0.monthly", "finite"),
    "inf projected": (put("budget.categories.1.projected", float("inf")), "budget.categories.1.projected", "finite"),
    "nan alert": (put("budget.alerts.0.at_pct", float("nan")), "budget.alerts.0.at_pct", "finite"),
    # durations: negative, zero where it makes no sense, too large to represent
    "negative soak": (put("phases.0.soak", -5), "phases.0.soak", "0 or more"),
    "negative for": (put("triggers.0.for", -1), "triggers.0.for", "0 or more"),
    "nan for": (put("triggers.0.for", float("nan")), "triggers.0.for", "not a duration"),
    "zero verify_within": (put("kill_switch.verify_within", "0s"), "kill_switch.verify_within", "longer than 0s"),
    "zero poll_interval": (put("prometheus.poll_interval", "0s"), "prometheus.poll_interval", "longer than 0s"),
    "zero step": (put("prometheus.step", 0), "prometheus.step", "longer than 0s"),
    "zero prometheus timeout": (put("prometheus.timeout", "0s"), "prometheus.timeout", "longer than 0s"),
    "zero gateway timeout": (put("gateways.edge.timeout", "0s"), "gateways.edge.http.timeout", "longer than 0s"),
    "zero haproxy timeout": (put("gateways.edge", {**HAPROXY, "timeout": "0s"}), "gateways.edge.haproxy.timeout", "longer than 0s"),
    "zero command timeout": (put("preflight.1.timeout", "0s"), "preflight.1.command.timeout", "longer than 0s"),
    "zero http check timeout": (put("preflight.4.timeout", 0), "preflight.4.http.timeout", "longer than 0s"),
    "zero check interval": (put("triggers.4.interval", "0s"), "triggers.4.interval", "longer than 0s"),
    "soak 1e20": (put("phases.0.soak", 1e20), "phases.0.soak", "longer than 366 days"),
    "soak 99999999999h": (put("phases.0.soak", "99999999999h"), "phases.0.soak", "longer than 366 days"),
    "soak inf": (put("phases.0.soak", float("inf")), "phases.0.soak", "not a duration"),
    # booleans where numbers belong
    "weight = true": (put("phases.0.weight", True), "phases.0.weight", "valid integer"),
    "weight = 5.0": (put("phases.0.weight", 5.0), "phases.0.weight", "valid integer"),
    "retries = true": (put("kill_switch.retries", True), "kill_switch.retries", "valid integer"),
    "threshold = true": (put("triggers.2.threshold", True), "triggers.2.threshold", "valid number"),
    "monthly = true": (put("budget.categories.0.monthly", True), "budget.categories.0.monthly", "valid number"),
    "expect_status = true": (put("preflight.4.expect_status", True), "preflight.4.http.expect_status", "valid integer"),
    "verify_tls = 1": (put("prometheus.verify_tls", 1), "prometheus.verify_tls", "valid boolean"),
    "kill value = 0": (put("kill_switch.value", 0), "kill_switch.value", "valid boolean"),
    # duplicates
    "duplicate phase names": (put("phases.1.name", "Phase 1"), "phases", "duplicate phase names ['Phase 1']"),
    "duplicate criterion ids": (put("phases.0.gate.auto.1.id", "api_p95"), "phases.0.gate.auto", "duplicate criterion ids ['api_p95']"),
    "duplicate gate owners": (put("phases.1.gate.owners", ["po", "po"]), "phases.1.gate.owners", "duplicate roles ['po']"),
    "duplicate escalation levels": (put("escalation.1.level", "L1"), "escalation", "duplicate levels ['L1']"),
    "duplicate budget categories": (put("budget.categories.1.id", "infrastructure"), "budget.categories", "duplicate category ids ['infrastructure']"),
    "duplicate sign-offs": (put("sign_offs", ["po", "sre", "po"]), "sign_offs", "duplicate sign-offs ['po']"),
    "duplicate check ids": (put("preflight.1.id", "freeze_window"), "preflight", "duplicate ids ['freeze_window']"),
    # a plan that delivers sends only to channels it declares
    "escalation channel typo": (put("escalation.0.channel", "#sre-oncal"), "escalation.0.channel", "no channel '#sre-oncal' in [channels] (did you mean '#sre-oncall'?)"),
    "budget alert channel typo": (put("budget.alerts.1.channel", "#finpos"), "budget.alerts.1.channel", "no channel '#finpos' in [channels] (did you mean '#finops'?)"),
    "kill notify typo": (put("kill_switch.notify", "#error-budgte"), "kill_switch.notify", "no channel '#error-budgte' in [channels] (did you mean '#error-budget'?)"),
    # the release version the kill is confirmed with
    "empty version": (put("release.version", ""), "release.version", "must not be empty"),
    "trailing space version": (put("release.version", "v0.1.0 "), "release.version", "whitespace"),
    "leading space version": (put("release.version", " v0.1.0"), "release.version", "whitespace"),
    "control char version": (put("release.version", "v0.1\x070"), "release.version", "control, bidi or invisible character \\x07 at position 5"),
    # names the faces show and people type: plain characters only (a U+202E reverses a line, a NUL ends it)
    "bidi release name": (put("release.name", "Intel\u202eGraph"), "release.name", "character \\u202e at position 6"),
    "NUL release name": (put("release.name", "Intel\x00Graph"), "release.name", "character \\x00 at position 6"),
    "ESC environment": (put("release.environment", "prod\x1b[2J"), "release.environment", "character \\x1b"),
    "zero-width phase name": (put("phases.0.name", "Phase\u200b1"), "phases.0.name", "character \\u200b"),
    "bidi trigger name": (put("triggers.0.name", "\u2066Latency"), "triggers.0.name", "character \\u2066 at position 1"),
    "newline trigger level": (put("triggers.0.level", "L1\nL2"), "triggers.0.level", "character \\n"),
    "C1 role title": (put("roles.po.title", "Product\x9bOwner"), "roles.po.title", "character \\x9b"),
    "BOM check name": (put("preflight.0.name", "\ufeffFreeze"), "preflight.0.freeze_window.name", "character \\ufeff"),
    "NUL state dir": (put("state_dir", "st\x00ate"), "state_dir", "contains a NUL character"),
    "NUL evidence dir": (put("evidence.dir", "ev\x00"), "evidence.dir", "contains a NUL character"),
    "bidi escalation channel": (put("escalation.0.channel", "#ops\u202e"), "escalation.0.channel", "character \\u202e"),
    # PromQL that does not parse, wherever a query lives
    "unclosed trigger query": (put("triggers.2.query", "sum(rate(foo[5m]"), "triggers.2.query", "PromQL does not parse: unclosed left parenthesis"),
    "empty trigger query": (put("triggers.1.query", ""), "triggers.1.query", "empty query"),
    "bad baseline": (put("triggers.0.baseline", "rate(x[5m]) +"), "triggers.0.baseline", "PromQL does not parse"),
    "bad criterion query": (put("phases.0.gate.auto.0.query", "sum by (le (x)"), "phases.0.gate.auto.0.query", "PromQL does not parse"),
    "bad check query": (put("preflight.5.query", "up{"), "preflight.5.query", "PromQL does not parse"),
    "bad verify_query": (put("kill_switch.verify_query", "rate(x[5q])"), "kill_switch.verify_query", "PromQL does not parse"),
    "bad spend_query": (put("budget.categories.0.spend_query", "   "), "budget.categories.0.spend_query", "empty query"),
    "empty query under metricsql": (
        lambda d: (at(d, "prometheus.dialect", "metricsql"), at(d, "triggers.2.query", "")), "triggers.2.query", "empty query"),
    # literal headers that carry secrets
    "X-Auth-Token header": (put("prometheus.headers", {"X-Auth-Token": "abc"}), "prometheus.headers", "carries a secret"),
    "*-Token header": (put("gateways.edge.headers", {"X-Vault-Token": "abc"}), "gateways.edge.http.headers", "carries a secret"),
    "*-Key header": (put("prometheus.headers", {"X-Api-Key": "abc"}), "prometheus.headers", "carries a secret"),
    "Proxy-Authorization header": (put("gateways.edge.headers", {"Proxy-Authorization": "Basic YWJj"}), "gateways.edge.http.headers", "carries a secret"),
    "Cookie header": (put("prometheus.headers", {"Cookie": "session=abc"}), "prometheus.headers", "carries a secret"),
    "a bearer value under an innocent name": (put("prometheus.headers", {"X-Team": "Bearer abc123"}), "prometheus.headers", "carries a secret"),
    "not a header name": (put("prometheus.headers", {"X Team": "release"}), "prometheus.headers", "not a valid header name"),
    "bad token_header": (put("prometheus.token_header", "Auth: x"), "prometheus.token_header", "not a valid header name"),
    # names a runtime-API command is built from
    "injected canary_server": (
        put("gateways.edge", {**HAPROXY, "canary_server": "canary;disable server be/stable"}),
        "gateways.edge.haproxy.canary_server", "not a plain HAProxy name"),
    "newline in backend": (put("gateways.edge", {**HAPROXY, "backend": "be\nshow info"}), "gateways.edge.haproxy.backend", "not a plain HAProxy name"),
    "slash in stable_server": (put("gateways.edge", {**HAPROXY, "stable_server": "be/stable"}), "gateways.edge.haproxy.stable_server", "not a plain HAProxy name"),
    "empty backend": (put("gateways.edge", {**HAPROXY, "backend": ""}), "gateways.edge.haproxy.backend", "not a plain HAProxy name"),
    # secret references that name nothing
    "empty env": (put("gateways.edge.token", {"env": ""}), "gateways.edge.http.token.env", "not an environment variable name"),
    "env with a space": (put("gateways.edge.token", {"env": "MY TOKEN"}), "gateways.edge.http.token.env", "not an environment variable name"),
    "empty file": (put("prometheus.token", {"file": ""}), "prometheus.token.file", "empty path"),
    # credentials in any URL of the plan
    "userinfo in check url": (
        put("preflight.4.url", "https://ops:hunter22@vault.example.internal/v1/sys/health"), "preflight.4.http.url", "token = { env"),
    "api_key in check url": (
        put("preflight.4.url", "https://vault.example.internal/health?api_key=abc123"), "preflight.4.http.url", "api_key"),
    "userinfo in gateway url": (put("gateways.edge.url", "https://u:p@gw.example/flags"), "gateways.edge.http.url", "credentials"),
    "token in read_url": (put("gateways.edge.read_url", "https://gw.example/flags?access_token=x1"), "gateways.edge.http.read_url", "access_token"),
    "userinfo in prometheus url": (put("prometheus.url", "http://admin:admin1@127.0.0.1:9090"), "prometheus.url", "token = { env"),
    "not an http url": (put("prometheus.url", "ftp://127.0.0.1:9090"), "prometheus.url", "not an http(s) URL"),
    "port not a number": (put("gateways.edge.url", "http://gw.example:http/flags"), "gateways.edge.http.url", "not a URL"),
}


def example() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


@pytest.mark.parametrize("name", list(MALFORMED))
def test_check_config_refuses_a_malformed_plan_naming_file_and_field(name, tmp_path):
    mutate, field, words = MALFORMED[name]
    data = example()
    mutate(data)
    plan = tmp_path / "plan.toml"
    plan.write_text(tomli_w.dumps(data))
    code, out, err = check_config(plan)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert any(line.startswith(f"{plan}: {field}: ") and words in line for line in lines), lines


def test_a_metricsql_engine_keeps_its_dialect(tmp_path):
    """MetricsQL's extensions do not parse as PromQL; `dialect = "metricsql"` leaves them to the engine."""
    data = example()
    at(data, "triggers.2.query", 'rate(http_requests_total{code=~"5.."}[5m]) keep_metric_names')
    plan = tmp_path / "plan.toml"
    plan.write_text(tomli_w.dumps(data))
    assert check_config(plan)[0] == 2
    at(data, "prometheus.dialect", "metricsql")
    plan.write_text(tomli_w.dumps(data))
    code, out, err = check_config(plan)
    assert code == 0, err


def test_a_zero_soak_and_a_zero_for_are_allowed(tmp_path):
    """for = "0s" fires on the first breaching sample; a zero soak leaves the decision to the gate."""
    data = example()
    at(data, "phases.0.soak", "0s")
    at(data, "triggers.0.for", 0)
    plan = tmp_path / "plan.toml"
    plan.write_text(tomli_w.dumps(data))
    assert check_config(plan)[0] == 0


def deep_toml(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    return path, "nested too deeply"


def deep_tables(tmp_path):
    path = tmp_path / "deep-tables.toml"
    path.write_text("x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    return path, "nested too deeply"


def huge(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text("# padding\n" * 200_000)
    return path, "larger than 1024 KiB"


def fifo(tmp_path):
    path = tmp_path / "plan.fifo"
    os.mkfifo(path)
    return path, "not a regular file"


def directory(tmp_path):
    return tmp_path, "not a regular file"


def dev_zero(tmp_path):
    return "/dev/zero", "not a regular file"


def binary(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"name = \"\xff\xfe\"\n")
    return path, "not UTF-8 text"


@pytest.mark.parametrize("make", [deep_toml, deep_tables, huge, fifo, directory, dev_zero, binary])
def test_files_that_are_not_plans_get_one_line_and_exit_2(make, tmp_path):
    """Run as a subprocess: a FIFO must not hang it, /dev/zero must not exhaust its memory."""
    path, words = make(tmp_path)
    res = subprocess.run([sys.executable, "-m", "cockpit", "check-config", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [f"{path}: {res.stderr.split(': ', 1)[1].strip()}"]
    assert res.stderr.startswith(f"{path}: ") and words in res.stderr, res.stderr


def test_init_into_a_missing_directory_says_so(tmp_path):
    code_and_err = subprocess.run([sys.executable, "-m", "cockpit", "init", str(tmp_path / "nope" / "plan.toml")],
                                  capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert code_and_err.returncode == 2
    assert code_and_err.stderr.strip() == f"{tmp_path / 'nope' / 'plan.toml'}: no directory {tmp_path / 'nope'}; create it first"


@pytest.mark.parametrize("speed", ["0", "nan", "inf", "-3", "fast"])
def test_demo_refuses_a_speed_that_is_not_one(speed, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--headless", "--speed", speed])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --speed:" in err and "Traceback" not in err


def test_a_channel_the_plan_sends_to_but_does_not_declare_is_a_warning(tmp_path):
    """Declaring only some channels is allowed (the rest are journaled as not delivered), and
    check-config says which; a near miss of a declared name is refused above."""
    data = tomllib.loads(EXAMPLE.read_text())
    del data["channels"]["#finops"]
    path = tmp_path / "plan.toml"
    path.write_text(tomli_w.dumps(data))
    code, out, err = check_config(path)
    assert code == 0 and "ok:" in out
    warned = [line for line in err.splitlines() if "warning" in line]
    assert warned == [f"{path}: warning: budget.alerts.{i}.channel: '#finops' is not in [channels]: "
                      "what goes to it is journaled as not delivered" for i in range(4)], err
