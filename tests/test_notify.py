"""Channels against real HTTP receivers on loopback: the Slack body, PagerDuty Events v2 with a
dedup key per incident, retries on 500 / 429 (Retry-After) / timeouts, a final failure journaled
and said loudly, and no secret in the journal, the log or the output."""

from __future__ import annotations

import logging

import pytest

from cockpit.adapters.notify import Channel, Message, Notifier
from cockpit.config import dump_plan, parse_plan
from cockpit.core import events as ev
from cockpit.core.paging import dedup_key
from cockpit.engine import Engine
from cockpit.narrate import line
from cockpit.store.journal import Journal
from tests.receiver import Answer, Receiver
from tests.rig import ACTOR

pytestmark = pytest.mark.anyio

SLACK_SECRET = "T000SECRET/B000SECRET/slackhooksecretvalue123"
ROUTING_KEY = "R0UT1NGK3Y-pagerduty-0123456789abcdef"


def with_channels(plan, channels: dict, **level_changes):
    data = dump_plan(plan)
    data["channels"] = channels
    for lvl in data["escalation"]:
        lvl["pages"] = []
        lvl.update(level_changes.get(lvl["level"], {}))
    return parse_plan(data)


def slack(url_env: str = "TEST_SLACK_URL", **kw) -> dict:
    return {"type": "slack", "url": {"env": url_env}, "backoff": 0.05, **kw}


def pagerduty(url: str, **kw) -> dict:
    return {"type": "pagerduty", "url": url, "routing_key": {"env": "TEST_PD_KEY"}, "backoff": 0.05, **kw}


def message(channel="#sre-oncall", purpose="page", incident="INC-1", text="IntelGraph v0.1.0: L1 paged") -> Message:
    return Message(channel, purpose, text, incident, "L1", "IntelGraph", "v0.1.0")


async def test_slack_body_is_text_plus_blocks(monkeypatch, plan):
    with Receiver() as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/services/{SLACK_SECRET}")
        cfg = with_channels(plan, {"#sre-oncall": slack()}).channels["#sre-oncall"]
        out = await Channel("#sre-oncall", cfg).send(message())
    assert out.delivered and out.attempts == 1
    body = rx.seen[0].body
    assert rx.seen[0].path == f"/services/{SLACK_SECRET}"
    assert body["text"] == "IntelGraph v0.1.0: L1 paged"
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": "IntelGraph v0.1.0: L1 paged"}}
    assert body["blocks"][1]["type"] == "context" and "INC-1" in body["blocks"][1]["elements"][0]["text"]


async def test_pagerduty_trigger_acknowledge_resolve_share_one_dedup_key(monkeypatch, plan):
    monkeypatch.setenv("TEST_PD_KEY", ROUTING_KEY)
    with Receiver(Answer(202, body='{"status":"success","dedup_key":"x"}')) as rx:
        cfg = with_channels(plan, {"pd": pagerduty(f"{rx.url}/v2/enqueue")}).channels["pd"]
        ch = Channel("pd", cfg)
        for purpose in ("page", "acknowledge", "resolve"):
            assert (await ch.send(message("pd", purpose))).delivered
    trigger, ack, resolve = rx.bodies()
    key = dedup_key("IntelGraph v0.1.0", "INC-1")
    assert [b["event_action"] for b in (trigger, ack, resolve)] == ["trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in (trigger, ack, resolve)} == {key} and key == "cockpit-intelgraph-v0.1.0-INC-1"
    assert all(b["routing_key"] == ROUTING_KEY for b in (trigger, ack, resolve))
    assert trigger["payload"]["summary"] == "IntelGraph v0.1.0: L1 paged"
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["source"] == "cockpit"
    assert "payload" not in ack and "payload" not in resolve
    assert all(s.path == "/v2/enqueue" for s in rx.seen)


async def test_another_incident_is_another_dedup_key(monkeypatch, plan):
    monkeypatch.setenv("TEST_PD_KEY", ROUTING_KEY)
    with Receiver(Answer(202)) as rx:
        ch = Channel("pd", with_channels(plan, {"pd": pagerduty(rx.url)}).channels["pd"])
        await ch.send(message("pd", incident="INC-1"))
        await ch.send(message("pd", incident="INC-2"))
    assert rx.bodies()[0]["dedup_key"] != rx.bodies()[1]["dedup_key"]


async def test_retries_on_500_then_delivers(monkeypatch, plan):
    with Receiver(Answer(500, body="boom"), Answer(503), Answer(200)) as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/hook/{SLACK_SECRET}")
        ch = Channel("#s", with_channels(plan, {"#sre-oncall": slack()}).channels["#sre-oncall"])
        out = await ch.send(message())
    assert out.delivered and out.attempts == 3 and len(rx.seen) == 3
    assert out.tries[:2] == ["HTTP 500", "HTTP 503"] and out.tries[2].startswith("HTTP 200")


async def test_429_waits_for_retry_after(monkeypatch, plan):
    with Receiver(Answer(429, {"Retry-After": "1"}), Answer(200)) as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/hook")
        ch = Channel("#s", with_channels(plan, {"#sre-oncall": slack()}).channels["#sre-oncall"])
        out = await ch.send(message())
    assert out.delivered and out.attempts == 2
    assert out.tries[0] == "HTTP 429, Retry-After 1s"
    assert rx.seen[1].at - rx.seen[0].at >= 0.95  # Retry-After honoured, not the 0.05 s backoff


async def test_a_timeout_is_retried(monkeypatch, plan):
    with Receiver(Answer(200, delay_s=1.0), Answer(200)) as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/hook")
        ch = Channel("#s", with_channels(plan, {"#sre-oncall": slack(timeout=0.3)}).channels["#sre-oncall"])
        out = await ch.send(message())
    assert out.delivered and out.attempts == 2 and out.tries[0] == "timed out after 300ms"


async def test_a_4xx_is_final(monkeypatch, plan):
    with Receiver(Answer(400, body='{"message":"invalid routing key"}')) as rx:
        monkeypatch.setenv("TEST_SLACK_URL", f"{rx.url}/hook")
        ch = Channel("#s", with_channels(plan, {"#sre-oncall": slack()}).channels["#sre-oncall"])
        out = await ch.send(message())
    assert not out.delivered and out.attempts == 1 and len(rx.seen) == 1 and "HTTP 400" in out.error


async def test_webhook_fills_its_body_template_and_sends_the_token(monkeypatch, plan):
    monkeypatch.setenv("TEST_HOOK_TOKEN", "hooktokensecret-42424242")
    with Receiver() as rx:
        cfg = with_channels(plan, {"ops": {"type": "webhook", "url": f"{rx.url}/in", "token": {"env": "TEST_HOOK_TOKEN"},
                                           "headers": {"X-Team": "release"},
                                           "body": {"summary": "{release} {version}: {text}", "tags": ["{level}", "{incident}"]}}}
                            ).channels["ops"]
        assert (await Channel("ops", cfg).send(message("ops"))).delivered
    seen = rx.seen[0]
    assert seen.body == {"summary": "IntelGraph v0.1.0: IntelGraph v0.1.0: L1 paged", "tags": ["L1", "INC-1"]}
    assert seen.headers["Authorization"] == "Bearer hooktokensecret-42424242" and seen.headers["X-Team"] == "release"


async def test_a_final_failure_is_journaled_and_loud_and_no_secret_leaks(monkeypatch, plan, state_dir, clock, caplog, capsys):
    """Through the Notifier (in the background) into the journal, as the guard does."""
    monkeypatch.setenv("TEST_PD_KEY", ROUTING_KEY)
    with Receiver(Answer(500, body=f"upstream said {ROUTING_KEY}")) as pd, Receiver(Answer(500)) as sl:
        monkeypatch.setenv("TEST_SLACK_URL", f"{sl.url}/services/{SLACK_SECRET}")
        p = with_channels(plan, {"#sre-oncall": slack(retries=2), "pd": pagerduty(pd.url, retries=2)})
        engine = Engine(p, Journal(state_dir), clock=clock, actor=ACTOR)
        engine.ensure_plan()
        notifier = Notifier(p, engine.record_delivery)
        caplog.set_level(logging.INFO, logger="cockpit")
        queued = [engine._append(ev.NotificationQueued(channel=c, purpose="page", text="L1 paged", incident="INC-1", level="L1"))
                  for c in ("#sre-oncall", "pd", "#nowhere")]
        assert notifier.submit(queued[0].seq, queued[0].payload) and notifier.submit(queued[1].seq, queued[1].payload)
        assert pd.seen == [] and sl.seen == []  # submit returned before any request went out: it never waits on one
        assert not notifier.submit(queued[2].seq, queued[2].payload)  # no such channel: journaled at once
        await notifier.drain()
        await notifier.close()
    results = {r.payload.channel: r.payload for r in engine.journal.records if r.kind == "notified"}
    assert set(results) == {"#sre-oncall", "pd", "#nowhere"}
    assert all(not n.delivered for n in results.values())
    assert results["pd"].attempts == 3 and results["pd"].tries == ("HTTP 500", "HTTP 500", "HTTP 500")
    assert results["#nowhere"].error == "no channel '#nowhere' configured in [channels]"
    assert len(pd.seen) == 3 and len(sl.seen) == 3
    said = [line(r, engine.state.plan) for r in engine.journal.records if r.kind == "notified"]
    assert all("NOT SENT" in s for s in said)
    assert any("after 3 attempts (HTTP 500, HTTP 500, HTTP 500)" in s for s in said)
    assert any(r.levelname == "ERROR" and "NOT SENT to pd" in r.getMessage() for r in caplog.records)
    print("\n".join(said))
    journal_text = (state_dir / "journal.jsonl").read_text()
    out = capsys.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (ROUTING_KEY, SLACK_SECRET):
        for where in (journal_text, logged, out.out, out.err):
            assert secret not in where
    assert "ROUTING" not in journal_text.upper().replace("ROUTING_KEY", "")  # not even a piece of it


async def test_a_slow_pagerduty_delays_no_round_its_answer_comes_with_the_next(monkeypatch, plan, state_dir, clock):
    """Acknowledgements are polled beside the rounds: a round waits a moment for them, not for a
    PagerDuty that takes seconds; what it said comes back from the next call, and no second poll
    is started while one runs."""
    monkeypatch.setenv("TEST_PD_KEY", ROUTING_KEY)
    monkeypatch.setenv("TEST_PD_API", "pd-api-read-token-77777777")
    acked = '{"incidents":[{"status":"acknowledged","acknowledgements":[{"acknowledger":{"summary":"Alice Oncall"}}]}]}'
    with Receiver(Answer(200, body=acked, delay_s=3.0)) as api:
        p = with_channels(plan, {"pd": pagerduty(api.url, api_token={"env": "TEST_PD_API"}, api_url=api.url)})
        notifier = Notifier(p, lambda *a: None)
        assert await notifier.poll_acknowledgements([("INC-1", "pd")], wait_s=0.1) == {}  # still asking
        assert await notifier.poll_acknowledgements([("INC-1", "pd")], wait_s=0.1) == {}
        assert await notifier.poll_acknowledgements([("INC-1", "pd")], wait_s=30) == {"INC-1": "Alice Oncall"}
        await notifier.close()
    assert len(api.seen) == 1
