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
    redact.remember(SECRET)


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
