"""cockpit.redact: known secrets and every 8-character piece of them go, before any cut; URLs lose
their credentials; names that carry credentials are recognised."""

from __future__ import annotations

import logging

import pytest

from cockpit import redact
from cockpit.redact import REDACTED

SECRET = "rd-Xw4Pn8Qs2Lk6Vb9Tz3"


@pytest.fixture(autouse=True)
def _known():
    """SECRET is known in each test, and what a test remembers is forgotten after it: the process
    scrubs every log line with what it knows, and later tests' texts must not meet this module's
    secrets ("123456789012" would blank numbers in their logs)."""
    before = redact._known
    redact.remember(SECRET)
    yield
    redact._known = before


@pytest.mark.parametrize("limit", [1, 5, 9, 10, 20, 40, 200])
@pytest.mark.parametrize("before", [0, 3, 11, 25, 190, 199])
def test_a_cut_anywhere_leaves_no_piece_of_a_secret(limit, before):
    text = "." * before + f"Bearer {SECRET}" + "!" * 30
    shown = redact.scrub(text, limit=limit)
    assert len(shown) <= max(limit, 1)
    assert not any(SECRET[i:i + 8] in shown for i in range(len(SECRET) - 7))


@pytest.mark.parametrize("echoed", [SECRET[:8], SECRET[5:17], SECRET[-9:], SECRET.upper()[:3] + SECRET[3:12]])
def test_pieces_of_eight_or_more_are_scrubbed_wherever_they_come_from(echoed):
    """A server that echoes part of a token (its own cut) leaks nothing either."""
    assert echoed[-8:] not in redact.scrub(f"auth failed for {echoed}: denied")


def test_encoded_forms_are_scrubbed():
    redact.remember("pw with/slash&amp")
    assert "slash" not in redact.scrub("GET /?p=pw%20with%2Fslash%26amp")


def test_text_without_secrets_is_left_alone():
    text = "exit 0: verified signature; Basic checks passed; summary.critical = 0 (meets == 0)"
    assert redact.scrub(text) == text


def test_unknown_credentials_in_urls_and_auth_values_are_scrubbed_too():
    shown = redact.scrub("redirect to https://bob:s3cr3t-pass@host/x?token=abc123&page=2; Authorization: Basic Ym9iOnB3MQ==")
    assert "bob" not in shown and "s3cr3t" not in shown and "abc123" not in shown and "Ym9iOnB3MQ" not in shown
    assert "https://host/x?token=<redacted>&page=2" in shown and "page=2" in shown


def test_public_url_drops_user_info_and_secret_query_values():
    url = "https://ops:pa%40ss-word-1@gw.example:8443/api/flags?api_key=k-123456789&format=json#top"
    assert redact.public_url(url) == f"https://gw.example:8443/api/flags?api_key={REDACTED}&format=json"
    assert "pa@ss-word-1" not in redact.scrub("echo pa@ss-word-1")  # remembered, decoded form too


@pytest.mark.parametrize("name, secret", [
    ("Authorization", True), ("Proxy-Authorization", True), ("Cookie", True), ("X-Auth-Token", True),
    ("X-Vault-Token", True), ("X-Api-Key", True), ("api_key", True), ("access_token", True), ("X-Secret", True),
    ("X-Scope-OrgID", False), ("X-Team", False), ("format", False), ("Accept", False), ("monkey", False),
])
def test_secret_names(name, secret):
    assert redact.secret_name(name) is secret


def test_log_records_are_scrubbed_as_they_are_made(caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").info('HTTP Request: %s %s', "PUT", f"http://ops:{SECRET}@gw/flags")
    assert SECRET[:8] not in caplog.text and "http://gw/flags" in caplog.text


def test_a_secret_webhook_url_scrubs_its_tokens_not_its_host_or_words():
    """A Slack webhook URL is a secret, but `https://hooks.slack.com/services/`, a runbook link or a
    channel name in its path are ordinary text: only its token-like parts go, wherever they show."""
    hook = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/xyzXYZ123secretsecret"
    redact.remember(hook, "https://127.0.0.1:9/hooks/security-incidents")
    text = "runbook https://hooks.slack.com/services/ see https://grafana.example.internal/d/x; #security-incidents"
    assert redact.scrub(text) == text
    shown = redact.scrub(f"POST {hook}: 404; echoed {hook[40:60]}")
    assert "T0AAAAAAA" not in shown and "B0BBBBBBB" not in shown and "secretsec" not in shown and "XYZ123" not in shown
    assert shown.startswith("POST https://hooks.slack.com/services/")


# --- a secret URL is a secret as a whole: its tokens go wherever they are, its words stay ------------

TOKEN = "Tok3nFirstSegment9Q8W7E"


def pieces_in(text: str, secret: str = TOKEN) -> list[str]:
    """Every piece of 8 or more characters of `secret` in `text`, also once its escapes are decoded."""
    import json as _json
    from urllib.parse import unquote

    views = [text, unquote(text)]
    try:
        views.append(_json.loads(f'"{text}"'))
    except ValueError:
        pass
    return [secret[i:i + 8] for i in range(len(secret) - 7) if any(secret[i:i + 8] in v for v in views)]


def _every_char_escaped(s: str) -> str:
    return "".join(f"%{ord(c):02X}" for c in s)


SECRET_URLS = {  # where the token sits in a secret URL resolved from the config
    "first segment": f"http://127.0.0.1:8080/{TOKEN}/hook",
    "middle segment": f"https://hooks.example.com/hooks/{TOKEN}/security-incidents",
    "last segment": f"https://hooks.slack.com/services/T0A/B0B/{TOKEN}",
    "only segment": f"https://hooks.example.com/{TOKEN}",
    "query value": f"https://hooks.example.com/hook?channel=ops&k={TOKEN}",
    "fragment": f"https://hooks.example.com/hook#{TOKEN}",
    "user name": f"https://{TOKEN}@hooks.example.com/hook",
    "password": f"https://ops:{TOKEN}@hooks.example.com/hook",
    "matrix parameter": f"https://hooks.example.com/hook;{TOKEN}",
}

ECHOES = {  # how a server (or a log line) shows it again
    "the URL": lambda url: f"POST {url}: HTTP 500",
    "the path echoed": lambda url: "no route for " + url.split("/", 3)[-1],
    "the token alone": lambda url: f"unknown hook {TOKEN} (check the config)",
    "percent-encoded": lambda url: f"GET /x?next={_every_char_escaped(TOKEN)}",
    "partly percent-encoded": lambda url: f"GET /x?next={TOKEN[:5]}%{ord(TOKEN[5]):02x}{TOKEN[6:]}",
    "JSON-escaped": lambda url: '{"path":"\\/' + "".join(f"\\u{ord(c):04x}" if i % 3 else c for i, c in enumerate(TOKEN)) + '\\/hook"}',
    "in JSON with slashes escaped": lambda url: '{"url":"' + url.replace("/", "\\/") + '"}',
    "upper half": lambda url: f"...{TOKEN[len(TOKEN) // 2 - 4:]}",
    "lower half": lambda url: f"{TOKEN[:len(TOKEN) // 2 + 4]}...",
    "in HTML": lambda url: f"<pre>POST /{TOKEN}/hook</pre>",
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
@pytest.mark.parametrize("url", SECRET_URLS.values(), ids=SECRET_URLS.keys())
def test_a_token_in_any_part_of_a_secret_url_never_shows(url, echo):
    redact.remember(url)
    shown = redact.scrub(echo(url))
    assert not pieces_in(shown), shown


@pytest.mark.parametrize("limit", [10, 40, 117, 120, 125, 130, 140])
@pytest.mark.parametrize("pad", [0, 100, 110, 115, 119])
def test_a_cut_inside_the_token_leaves_no_piece_of_it(limit, pad):
    """A body cut where the token is (a snippet of 120 characters of an echoed path)."""
    redact.remember(SECRET_URLS["first segment"])
    shown = redact.scrub("." * pad + f"no route for /{TOKEN}/hook" + "." * 500, limit)
    assert len(shown) <= limit and not pieces_in(shown)


@pytest.mark.parametrize("kept", [1, 3, 7, 8, 12, len(TOKEN) - 1])
def test_a_body_read_only_in_part_shows_no_start_of_a_token_at_its_end(kept):
    """A body read only as far as it is shown may end inside a token: its last characters, which a
    secret could start in, are not shown (`more=True`), not even a prefix shorter than a piece."""
    redact.remember(SECRET_URLS["first segment"])
    text = "x" * 100 + " " + TOKEN[:kept]
    shown = redact.scrub(text, 300, more=True)
    assert TOKEN[: min(kept, 3)] not in shown.replace("x", "") and shown.endswith("…")
    if kept < redact.PIECE:
        assert redact.scrub(text, 300) == text  # read whole, the same text holds no piece of a secret


def test_the_words_host_and_scheme_of_a_secret_url_stay_ordinary_text():
    """The guard.log over-redaction: a channel name, "hooks" or the host in a log line are not secret."""
    redact.remember("https://hooks.example.com/hooks/security-incidents/" + TOKEN, "http://127.0.0.1:8080/services/Zq9xW2eR7tY5/intelgraph-release")
    text = ("NOT SENT to #security-incidents (page INC-1): HTTP 500; hooks at https://hooks.example.com/ "
            "and http://127.0.0.1:8080/services/ are fine; #intelgraph-release told; security incidents")
    assert redact.scrub(text) == text


@pytest.mark.parametrize("segment, secret", [
    ("services", False), ("security-incidents", False), ("hooks", False), ("v2", False), ("Incidents", False),
    ("enqueue", False), ("abcdefghijklmnopqrstuvwxyz", True), ("T0AAAAAAA", True), ("123456789012", True),
    ("xyzXYZ123secretsecret", True), ("hook_a1b2c3d4", True),
])
def test_which_segments_of_a_secret_url_are_tokens(segment, secret):
    redact.remember(f"https://h.example/{segment}/end")
    assert (redact.scrub(f"say {segment} here") != f"say {segment} here") is (secret and len(segment) >= redact.SHORT)


def test_short_tokens_between_slashes_go_in_context():
    """Segments too short to scrub alone (T0A1) still go where they show together, as the URL's path."""
    redact.remember("https://hooks.example.com/services/T0A1/B0B2/x9Z8")
    shown = redact.scrub("POST /services/T0A1/B0B2/x9Z8: HTTP 404")
    assert "T0A1/B0B2" not in shown and "B0B2/x9Z8" not in shown and shown.startswith("POST /services/")


@pytest.mark.parametrize("run", ["a" * 60000, "a." * 30000, "a1" * 30000, "%41" * 20000, "Token " * 10000, "x=" * 30000])
def test_the_second_net_still_catches_credentials_after_a_long_run(run):
    """The patterns that cannot restart inside a run (linear time) still find what follows one."""
    shown = redact.scrub(run + " Authorization: Bearer unkn0wn-t0ken-value; http://bob:pw-Unkn0wn1@h/x?api_key=abc123&page=2")
    assert "unkn0wn-t0ken" not in shown and "pw-Unkn0wn1" not in shown and "abc123" not in shown
    assert shown.endswith("Authorization: Bearer <redacted>; http://h/x?api_key=<redacted>&page=2")


def test_scan_size_covers_the_longest_secret_escaped():
    long = "L0ng-" + "q" * 120
    redact.remember(long)
    assert redact.scan_size(200) >= 200 + 6 * len(long)


@pytest.mark.parametrize("echo", ["percent-encoded", "partly percent-encoded", "JSON-escaped", "in JSON with slashes escaped"])
@pytest.mark.parametrize("around", [0, 40, 6000])
def test_escaped_tokens_are_found_amid_any_amount_of_text(echo, around):
    """Escapes are decoded where they are (a few in a long text) or all at once (escapes everywhere)."""
    url = SECRET_URLS["first segment"]
    redact.remember(url)
    text = "%2F".join(["ok"] * 3) + " " * around + ECHOES[echo](url) + " and" * around + " %41%42 \\u0043"
    shown = redact.scrub(text)
    assert not pieces_in(shown) and REDACTED in shown
    assert shown.endswith(" and" * around + " %41%42 \\u0043") and shown.startswith("ok%2Fok%2Fok")


def test_a_secret_on_a_screenshot_leaves_an_svg_that_still_parses(tmp_path):
    """The evidence screenshot (SVG) and the HTML report are scrubbed as markup: a bare `<redacted>`
    there is read as a tag (the SVG no longer parses, rsvg-convert makes no PNG; HTML hides the word)."""
    import shutil
    import subprocess
    import xml.etree.ElementTree as ET

    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="0" y="20">'
           f"token {SECRET} on screen</text></svg>")
    shown = redact.scrub(svg, markup=True)
    assert SECRET[:8] not in shown and "token &lt;redacted&gt; on screen" in shown
    assert ET.fromstring(shown).find("{http://www.w3.org/2000/svg}text").text == "token <redacted> on screen"
    with pytest.raises(ET.ParseError):
        ET.fromstring(redact.scrub(svg))  # what the bundle wrote before
    if shutil.which("rsvg-convert"):
        (tmp_path / "s.svg").write_text(shown)
        assert subprocess.run(["rsvg-convert", tmp_path / "s.svg", "-o", tmp_path / "s.png"]).returncode == 0


def test_markup_keeps_the_second_nets_words():
    shown = redact.scrub("<p>https://user:pa55w0rd-x@host/x Bearer abc.def-123456</p>", markup=True)
    assert "pa55w0rd" not in shown and "abc.def" not in shown and "<redacted>" not in shown
    assert shown.startswith("<p>https://host/x Bearer &lt;redacted&gt;")
