"""`cockpit report`: a golden Markdown report of a fixed journal; HTML with no external assets,
embedding the screen SVGs, opened in a real headless Chromium and screenshotted."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cockpit import report
from cockpit.cli import main

GOLDEN = Path(__file__).with_name("golden")


def _state(tmp_path: Path, journal: str) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(GOLDEN / journal, state / "journal.jsonl")
    return state


def test_markdown_report_of_a_fixed_rollback_journal_is_the_golden_one(tmp_path, capsys):
    """The journal of a simulated latency regression (tests/evidence/golden/rollback.jsonl): a
    phase passed, a trigger fired, the kill confirmed and verified, two bundles journaled.
    Regenerate with: cockpit report --state-dir DIR -o tests/evidence/golden/rollback.md (and read it)."""
    state = _state(tmp_path, "rollback.jsonl")
    out = tmp_path / "report.md"
    assert main(["report", "--state-dir", str(state), "-o", str(out)]) == 0
    assert out.read_text() == (GOLDEN / "rollback.md").read_text()


def test_report_says_a_broken_chain_first(tmp_path):
    state = _state(tmp_path, "rollback.jsonl")
    lines = (state / "journal.jsonl").read_text().splitlines(keepends=True)
    lines[20] = lines[20].replace("GO", "NO-GO", 1) if "GO" in lines[20] else lines[20].replace("1", "2", 1)
    (state / "journal.jsonl").write_text("".join(lines))
    text = report.render(state, "md")
    assert "**JOURNAL PROBLEM**" in text and "line 21" in text and "chain BROKEN" in text


def _rolled_back_with_evidence(tmp_path: Path) -> Path:
    from tests.evidence.test_bundle import run_rollout

    asyncio.run(run_rollout(tmp_path / "state", "latency-regression"))
    return tmp_path / "state"


def test_html_has_no_external_asset_and_embeds_the_screens(tmp_path):
    state = _rolled_back_with_evidence(tmp_path)
    path = report.write_report(state, fmt="html")
    text = path.read_text()
    assert text.count("<svg") == 2  # phase-1 and rollback bundles' screens, inline
    for external in ("http://", "https://", "<link", "<script", "src=", "@import", "@font-face"):
        assert external not in text, external
    assert "| matches" not in text and "<td>matches</td>" in text  # bundles checked against the journal
    assert "@media print" in text


CHROMIUM = shutil.which("chromium")
# Skipped only off CI on a machine without Debian's chromium: .ci/run sets CI=true and `make test` installs it,
# so there a missing browser fails the test instead of skipping it.
needs_chromium = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true",
                                    reason="Debian chromium is not installed (make system-deps installs it)")


def headless_chromium(tmp_path, page: str, *args: str) -> subprocess.CompletedProcess:
    """Debian's chromium, headless, on its own profile, with nothing reaching out to the network."""
    return subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", *args, page],
        capture_output=True, timeout=120,
    )


@needs_chromium
def test_html_report_renders_in_headless_chromium(tmp_path):
    state = _rolled_back_with_evidence(tmp_path)
    html_path = report.write_report(state, fmt="html")
    png = tmp_path / "report.png"
    proc = headless_chromium(tmp_path, html_path.as_uri(), "--hide-scrollbars", "--window-size=1200,2400",
                             f"--screenshot={png}")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # a page with text and tables, not a blank one
    keep = os.environ.get("COCKPIT_KEEP_REPORT_PNG")
    if keep:
        shutil.copy(png, keep)


def test_a_secret_in_a_note_reads_redacted_in_the_html_report_not_as_a_tag(tmp_path):
    """The HTML report is scrubbed as markup: a bare `<redacted>` would be an unknown tag, and the
    reader would see nothing where the secret was (nor know that something was taken out)."""
    from cockpit import redact
    from cockpit.core import events as ev
    from cockpit.store.journal import Journal
    from tests.conftest import T0

    state = _state(tmp_path, "rollback.jsonl")
    secret = "rp-Tq7Wz3Lm9Xk2Vb8Ns4"
    before = redact._known
    try:
        redact.remember(secret)
        j = Journal(state)
        j.append(ev.Noted(text=f"pasted by mistake: {secret}"), actor=ev.Actor(user="bob", host="b"), ts=T0)
        j.close()
        html_text = report.write_report(state, fmt="html", out=tmp_path / "r.html").read_text()
        md_text = report.write_report(state, fmt="md", out=tmp_path / "r.md").read_text()
    finally:
        redact._known = before
    assert secret[:8] not in html_text and "pasted by mistake: &lt;redacted&gt;" in html_text
    assert "<redacted>" not in html_text
    assert "pasted by mistake: <redacted>" in md_text  # Markdown shows it as it is


def test_the_report_of_a_demo_says_simulated_and_the_kill_read_back_the_canary_share(tmp_path):
    """The golden journal is a demo's (its gateway is the simulated one): the title and a line say so,
    and the kill's read-back is the canary's share (0 % with the flag off), not the server's weight 25."""
    state = _state(tmp_path, "rollback.jsonl")
    text = report.to_markdown(report.build(state)[0])
    assert text.startswith("# Rollout report: IntelGraph Platform v0.1.0 — DEMO · simulated\n")
    assert "**DEMO · simulated**: a demo on a simulated service and gateway" in text
    assert "canary share 0 %" in text and "weight read back 25" not in text


def test_the_report_lists_incidents_open_and_resolved(tmp_path):
    """INC-1 paged L1 and was resolved: the report says so, never "Escalations: None"."""
    from datetime import timedelta

    from cockpit.core import events as ev
    from cockpit.store.journal import Journal

    state = _state(tmp_path, "rollback.jsonl")
    journal = Journal(state)
    last = journal.records[-1].ts
    guard = ev.Actor(user="cockpit", host="vm", role="guard")
    journal.append(ev.IncidentOpened(incident="INC-1", level="L1", reason="Performance fired"), actor=guard, ts=last + timedelta(seconds=1))
    journal.append(ev.IncidentAcknowledged(incident="INC-1", name="Sam", via="cli"), actor=guard, ts=last + timedelta(seconds=2))
    journal.append(ev.IncidentResolved(incident="INC-1", reason="the rollback is verified"), actor=guard, ts=last + timedelta(seconds=3))
    text = report.to_markdown(report.build(state)[0])
    section = text.split("## Escalations", 1)[1].split("\n## ", 1)[0]
    assert "None." not in section
    assert "| INC-1 | L1 |" in section and "Sam (cli)" in section and "the rollback is verified" in section


@needs_chromium
def test_the_html_report_of_a_demo_says_simulated_as_headless_chromium_reads_it(tmp_path):
    """Issue 21: a demo's report, as a browser reads it, says simulated in its title, its first line and in
    every screen it embeds (the evidence screenshot is an observer's: DEMO · simulated · OBSERVER)."""
    import html as html_lib
    import re

    state = _rolled_back_with_evidence(tmp_path)
    html_path = report.write_report(state, fmt="html")
    proc = headless_chromium(tmp_path, html_path.as_uri(), "--dump-dom")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    dom = proc.stdout.decode()
    title = re.search(r"<h1[^>]*>(.*?)</h1>", dom, re.S)
    assert title and "DEMO · simulated" in html_lib.unescape(title.group(1)), dom[:2000]
    assert "DEMO · simulated</strong>: a demo on a simulated service and gateway" in html_lib.unescape(dom)
    screens = re.findall(r"<svg.*?</svg>", dom, re.S)
    assert len(screens) == 2
    for svg in screens:  # the badge's words, as the SVG's text runs carry them
        assert "DEMO · simulated · OBSERVER" in html_lib.unescape(svg).replace("\xa0", " "), svg[:500]


def test_a_met_criterion_whose_own_trigger_fired_since_reads_not_now_in_the_report(tmp_path):
    """Issue 21: the report says of a criterion met at its evaluation what the screen says once its own
    trigger (the same query) breaches or fires: ▲ not now, with the trigger's value, in the read model's words."""
    from datetime import timedelta

    from cockpit.core import events as ev
    from cockpit.core import readmodel as rm
    from cockpit.engine import plan_snapshot
    from cockpit.store.journal import Journal
    from tests.conftest import T0, seed_plan
    from tests.core.journal import at_phase

    plan = seed_plan()
    state_dir = tmp_path / "state"
    journal = Journal(state_dir)
    met = ev.CriterionEvaluated(phase=0, criterion="api_p95", passed=True, value=249.0, detail="≤ 350 ms")
    fired = ev.TriggerFired(trigger="api_p95_regression", action="hold", level="L1", value=322.0, threshold=285.0,
                            window_s=600, detail="Performance 322 ms > 285 ms")
    alice = ev.Actor(user="alice", host="bastion")
    for n, payload in enumerate([plan_snapshot(plan), *at_phase(plan), met]):
        journal.append(payload, actor=alice, ts=T0 + timedelta(seconds=n))
    before = report.to_markdown(report.build(state_dir)[0])
    assert "| api_p95 | yes | 249 ms |" in before and "not now" not in before
    journal.append(fired, actor=ev.Actor(user="cockpit", host="vm", role="guard"), ts=T0 + timedelta(minutes=30))
    journal.close()
    after = report.to_markdown(report.build(state_dir)[0])
    state = rm.rollout(Journal(state_dir, readonly=True).records)
    [row] = [r for r in rm.trigger_rows(plan, state, None, T0 + timedelta(minutes=30)) if r.id == "api_p95_regression"]
    assert f"| api_p95 | yes, {rm.WARN} {rm.not_now_text(row)} | 249 ms |" in after
    assert "| api_p95 | yes, ▲ not now: Performance 322 ms FIRED | 249 ms |" in after
    assert "| path_p95 |" not in after  # only the criteria journaled are listed
