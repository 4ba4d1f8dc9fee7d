"""The store on etcd as the commands use it: two bastions (two state dirs, one prefix) share one rollout
and one captain lock; a face reads it from anywhere, an observer's etcd role can only read; etcd out of
reach is said naming the endpoint; the kill's journal keeps events aside while etcd cannot be reached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from cockpit.config import dump_plan, load_plan
from cockpit.core import events as ev
from cockpit.exits import Exit
from cockpit.session import captain, open_store
from cockpit.store.chain import JournalError
from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_store import EtcdStore, UnreachableJournal
from cockpit.store.locks import CaptainLockHeld
from tests.conftest import T0
from tests.etcd.test_etcd_client import OBSERVER_PW, ROOT_PW, _etcdctl

PREFIX = "/cockpit/intelgraph/v0.1.0"
ROOT = Path(__file__).resolve().parents[2]


def etcd_plan(tmp_path: Path, name: str, plan, endpoints: list[str], *, user: str | None = None,
              timeout: str = "2s") -> Path:
    """A plan on etcd for one "bastion": its own state dir, the shared prefix; the password by env."""
    data = dump_plan(plan)
    data["state_dir"] = str(tmp_path / name)
    data["gateways"]["edge"]["url"] = "http://127.0.0.1:9/flags"  # never called in these tests
    data["gateways"]["edge"].pop("read_url", None)
    data["state"] = {"store": "etcd", "endpoints": endpoints, "prefix": PREFIX, "timeout": timeout}
    if user is not None:
        data["state"] |= {"user": user, "password": {"env": f"ETCD_{user.upper()}_PW"}}
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def cockpit(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", *argv], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def test_the_factory_keeps_the_file_store_by_default_and_opens_etcd_when_the_plan_says(tmp_path, plan):
    from cockpit.store import FileStore

    assert isinstance(open_store(plan, tmp_path / "plan.toml"), FileStore)
    config = etcd_plan(tmp_path, "a", plan, ["http://127.0.0.1:9"])
    store = open_store(load_plan(config), config)
    assert isinstance(store, EtcdStore) and store.prefix == PREFIX and store.state_dir == tmp_path / "a"
    assert store.lease_ttl_s == 45  # three of the seed plan's 15 s polls


def test_a_second_captain_on_another_bastion_is_refused_naming_the_holder_and_faces_read_the_same_rollout(
        etcd1, tmp_path, plan):
    bastion_a = etcd_plan(tmp_path, "a", plan, etcd1.endpoints)
    bastion_b = etcd_plan(tmp_path, "b", plan, etcd1.endpoints)
    session = captain(load_plan(bastion_a), bastion_a, needs="journal")
    try:
        session.engine.note("written on bastion a")
        refused = cockpit("note", "--config", str(bastion_b), "from bastion b")
        assert refused.returncode == Exit.LOCKED, refused.stderr
        assert "captain lock held by" in refused.stderr and f"pid {os.getpid()}" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

        seen_a = cockpit("status", "--json", "--config", str(bastion_a))
        seen_b = cockpit("status", "--json", "--config", str(bastion_b))
        assert seen_a.returncode == seen_b.returncode == Exit.OK, seen_b.stderr
        a, b = json.loads(seen_a.stdout), json.loads(seen_b.stdout)
        assert b["headline"] == a["headline"] and b["headline"].startswith("PREFLIGHT")
        assert b["events"] == a["events"] == session.engine.state.seq
        assert b["captain"]["pid"] == os.getpid()
        assert not (tmp_path / "b" / "journal.jsonl").exists()  # bastion b holds no journal: it read etcd's
        text = cockpit("status", "--config", str(bastion_b))
        assert "written on bastion a" in text.stdout and f"pid {os.getpid()}" in text.stdout
    finally:
        session.lock.release()
        session.engine.journal.close()
    after = cockpit("note", "--config", str(bastion_b), "from bastion b, the lock released")
    assert after.returncode == Exit.OK, after.stderr
    assert cockpit("verify", "--config", str(bastion_a)).returncode == Exit.OK


def test_the_captain_lock_on_etcd_names_a_holder_whose_lease_expired(etcd1, tmp_path, plan):
    store = EtcdStore(EtcdClient(etcd1.endpoints), PREFIX, tmp_path / "a", lease_ttl_s=2)
    first = store.captain_lock(user="alice", host="bastion-a", pid=101, since="2026-12-05 13:00:00Z")
    with pytest.raises(CaptainLockHeld, match=r"alice@bastion-a \(pid 101"):
        store.captain_lock(user="bob", host="bastion-b", pid=202, since="2026-12-05 13:01:00Z")
    assert store.captain()["user"] == "alice"
    first._stop.set()  # alice's process froze: nobody keeps her lease alive
    deadline = time.monotonic() + 10
    while store.captain() is not None:
        assert time.monotonic() < deadline, "the captain lock outlived its lease"
        time.sleep(0.2)
    second = store.captain_lock(user="bob", host="bastion-b", pid=202, since="2026-12-05 13:02:00Z")
    assert second.took_over is not None and second.took_over["user"] == "alice"
    second.release()
    third = store.captain_lock(user="carol", host="bastion-a", pid=303, since="2026-12-05 13:03:00Z")
    assert third.took_over is None  # bob released it: nobody to take over from
    third.release()


def test_the_published_round_reads_back_and_its_age_is_etcds_not_the_rounds(etcd1, tmp_path, plan, clock):
    import asyncio

    from tests.rig import Rig
    from tests.test_guard import guard_for

    store = EtcdStore(EtcdClient(etcd1.endpoints), PREFIX, tmp_path / "a", lease_ttl_s=10)
    assert store.published() is None and store.guard_sight(None).round_age_s is None

    async def published():
        rig = Rig(plan, tmp_path / "files", clock, "latency-regression")
        await rig.start()
        await rig.tick(3)
        guard = guard_for(rig, tmp_path / "files", 101)
        guard.store = store
        return guard.publish()

    sent = asyncio.run(published())
    assert store.published() == sent
    feed = store.feed()
    assert feed.latest() == sent
    sight = feed.sight()
    assert sight.round_age_s is not None and sight.round_age_s < 2  # the round says T0, days ago: not believed
    assert store.guard_sight({"pid": 101}).holder_pid == 101
    assert store.guard_sight(None).round_age_s < 2


@pytest.fixture
def etcd_roles(etcd1, monkeypatch):
    """etcd with auth on: `captain` reads and writes the cockpit's prefix, `observer` may only read it."""
    url = etcd1.endpoints[0]
    _etcdctl(url, "user", "add", "root", f"--new-user-password={ROOT_PW}", "--interactive=false")
    _etcdctl(url, "role", "add", "root")
    _etcdctl(url, "user", "grant-role", "root", "root")
    for role, permission, user, pw in (("cockpit-act", "readwrite", "captain", ROOT_PW + "c"),
                                       ("cockpit-watch", "read", "observer", OBSERVER_PW)):
        _etcdctl(url, "role", "add", role)
        _etcdctl(url, "role", "grant-permission", role, permission, "/cockpit/", "--prefix=true")
        _etcdctl(url, "user", "add", user, f"--new-user-password={pw}", "--interactive=false")
        _etcdctl(url, "user", "grant-role", user, role)
        monkeypatch.setenv(f"ETCD_{user.upper()}_PW", pw)
    _etcdctl(url, "auth", "enable")
    return etcd1


def test_an_observer_whose_role_only_reads_sees_the_rollout_and_is_refused_every_write(etcd_roles, tmp_path, plan):
    urls = etcd_roles.endpoints
    captain_plan = etcd_plan(tmp_path, "a", plan, urls, user="captain")
    observer_plan = etcd_plan(tmp_path, "b", plan, urls, user="observer")
    wrote = cockpit("note", "--config", str(captain_plan), "the captain writes")
    assert wrote.returncode == Exit.OK, wrote.stderr

    seen = cockpit("status", "--json", "--config", str(observer_plan))
    assert seen.returncode == Exit.OK, seen.stderr
    assert json.loads(seen.stdout)["events"] >= 2
    assert "the captain writes" in cockpit("status", "--config", str(observer_plan)).stdout
    assert cockpit("verify", "--config", str(observer_plan)).returncode == Exit.OK
    for argv in (["note", "the observer may not"], ["advance", "--confirm", plan.release.version]):
        refused = cockpit(*argv, "--config", str(observer_plan))
        assert refused.returncode == Exit.REFUSED, (argv, refused.stderr)
        assert "permission denied" in refused.stderr and urls[0] in refused.stderr, refused.stderr
        assert OBSERVER_PW not in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
    events = json.loads(cockpit("status", "--json", "--config", str(observer_plan)).stdout)["events"]
    assert events == json.loads(seen.stdout)["events"]  # nothing was written


def test_etcd_out_of_reach_status_says_so_naming_the_endpoint_with_the_tables_code(etcd1, tmp_path, plan):
    config = etcd_plan(tmp_path, "a", plan, etcd1.endpoints)
    assert cockpit("note", "--config", str(config), "before etcd went").returncode == Exit.OK
    etcd1.members[0].kill()
    for argv in (["status"], ["status", "--json"], ["verify"], ["report", "-o", "-"]):
        down = cockpit(*argv, "--config", str(config))
        assert down.returncode == Exit.REFUSED, (argv, down.stderr)
        assert etcd1.endpoints[0] in down.stderr and "Traceback" not in down.stderr, (argv, down.stderr)


def test_a_kill_while_etcd_is_out_of_reach_keeps_its_events_here_and_journals_them_once_it_answers(
        etcd1, tmp_path, actor):
    store = EtcdStore(EtcdClient(etcd1.endpoints, timeout_s=0.5), PREFIX, tmp_path / "a", lease_ttl_s=10)
    store.journal(actor=actor).append(ev.Noted(text="before"), actor=actor, ts=T0)
    member = etcd1.members[0]
    member.stop()  # SIGSTOP: it hangs, as a partition does
    try:
        started = time.monotonic()
        acting = store.acting(salvage=True)
        assert isinstance(acting, UnreachableJournal) and acting.records == []
        assert etcd1.endpoints[0] in acting.broken and time.monotonic() - started < 5
        with pytest.raises(Exception, match="no endpoint answered"):
            acting.append(ev.Noted(text="the kill"), actor=actor, ts=T0)
        aside = acting.keep_aside(ev.Noted(text="the kill"), actor=actor, ts=T0, error="etcd out of reach")
        assert aside.parent == tmp_path / "a" and store.kept()[0][0].payload.text == "the kill"
    finally:
        member.cont()
    deadline = time.monotonic() + 15
    while True:  # the member answers again once it has caught up (bounded: a loaded machine)
        try:
            new = acting.journal_kept()
            break
        except JournalError:
            assert time.monotonic() < deadline, "etcd never answered again"
            time.sleep(0.2)
    noted = [r.payload.text for r in new if isinstance(r.payload, ev.Noted)]
    assert noted == ["before", "the kill"]  # what it could not read at open, then what it kept, journaled late
    assert any(isinstance(r.payload, ev.JournaledLate) for r in new)
    assert store.kept() == ([], 0) and store.verify().problem is None


def test_observe_on_another_bastion_shows_the_captains_rollout_from_etcd(etcd1, tmp_path, plan):
    from cockpit.core.readmodel import headline
    from tests.test_cli_run import _quit_at

    bastion_a = etcd_plan(tmp_path, "a", plan, etcd1.endpoints)
    session = captain(load_plan(bastion_a), bastion_a, needs="journal")
    try:
        engine = session.engine
        said = headline(engine.plan, engine.state, None, engine.clock.now()).text
        code, seen = _quit_at(["observe", "--config", str(etcd_plan(tmp_path, "b", plan, etcd1.endpoints))],
                              b"Sign-offs 0/5")
    finally:
        session.lock.release()
        session.engine.journal.close()
    last = seen.decode(errors="replace").strip().splitlines()[-1]
    assert code == 0
    assert last.endswith(f"IntelGraph Platform v0.1.0: {said}; no guard runs (nothing to watch)"), last


def test_migrate_copies_the_journal_to_etcd_and_back_byte_for_byte_verified_on_both_sides(etcd1, tmp_path, plan):
    from tests.test_cli_run import _config

    on_file = Path(_config(tmp_path, plan))
    for text in ("one", "two", "three"):
        assert cockpit("note", "--config", str(on_file), text).returncode == Exit.OK
    original = (tmp_path / "state" / "journal.jsonl").read_bytes()
    url = etcd1.endpoints[0]

    there = cockpit("migrate", "--config", str(on_file), "--to", "etcd", "--endpoints", url, "--prefix", PREFIX)
    assert there.returncode == Exit.OK, there.stderr
    events = original.count(b"\n")
    assert f"copied {events} events from {tmp_path / 'state' / 'journal.jsonl'} to etcd:{PREFIX}" in there.stdout
    assert f'endpoints = ["{url}"]' in there.stdout and f'prefix = "{PREFIX}"' in there.stdout
    again = cockpit("migrate", "--config", str(on_file), "--to", "etcd", "--endpoints", url, "--prefix", PREFIX)
    assert again.returncode == Exit.REFUSED and "holds a journal already" in again.stderr, again.stderr

    on_etcd = etcd_plan(tmp_path, "b", plan, [url])
    verified = cockpit("verify", "--config", str(on_etcd))
    assert verified.returncode == Exit.OK, verified.stderr
    assert f"{events} events, chain intact" in verified.stdout
    report = cockpit("report", "--config", str(on_etcd), "-o", "-")
    assert report.returncode == Exit.OK and "Rollout report" in report.stdout and "two" in report.stdout, report.stderr
    from cockpit.replaying import load

    records, _ = load(tmp_path / "b", open_store(load_plan(on_etcd), on_etcd))
    assert [r.hash for r in records] == [json.loads(line)["hash"] for line in original.splitlines()]
    back = cockpit("migrate", "--config", str(on_etcd), "--to", "file", "--json")
    assert back.returncode == Exit.OK, back.stderr
    doc = json.loads(back.stdout)
    assert doc["events"] == events and doc["head_hash"] == json.loads(original.splitlines()[-1])["hash"]
    assert (tmp_path / "b" / "journal.jsonl").read_bytes() == original
    assert cockpit("verify", "--state-dir", str(tmp_path / "b")).returncode == Exit.OK
    refused = cockpit("migrate", "--config", str(on_etcd), "--to", "file")
    assert refused.returncode == Exit.REFUSED and "a journal is there already" in refused.stderr, refused.stderr


def test_migrate_refuses_a_journal_that_does_not_verify_with_exit_1(etcd1, tmp_path, plan):
    from tests.test_cli_run import _config

    on_file = Path(_config(tmp_path, plan))
    assert cockpit("note", "--config", str(on_file), "one").returncode == Exit.OK
    journal = tmp_path / "state" / "journal.jsonl"
    journal.write_bytes(journal.read_bytes().replace(b"one", b"0ne"))
    tampered = cockpit("migrate", "--config", str(on_file), "--to", "etcd", "--endpoints", etcd1.endpoints[0])
    assert tampered.returncode == Exit.FAIL and "does not verify" in tampered.stderr, tampered.stderr
    assert EtcdStore(EtcdClient(etcd1.endpoints), "/cockpit/IntelGraph_Platform/v0.1.0", tmp_path,
                     lease_ttl_s=10).started() is False


def _live_on_etcd(config: Path) -> None:
    """The rollout started on etcd (a gateway in memory): live, so the kill is not refused."""
    import asyncio

    from cockpit.clock import SystemClock
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from tests.support import MemoryGateway, passing_runner

    plan = load_plan(config)
    journal = open_store(plan, config).journal()
    engine = Engine(plan, journal, clock=SystemClock(), actor=Actor(user="setup", host="test", role="captain"),
                    gateway=MemoryGateway(), check_runner=passing_runner())
    engine.ensure_plan()

    async def drive() -> None:
        assert (await engine.run_preflight()).ok
        for role in plan.sign_offs:
            assert engine.sign_off(role, f"{role}-person").ok
        assert (await engine.start()).ok

    asyncio.run(drive())
    journal.close()


def test_the_kill_on_etcd_is_journaled_there_and_with_etcd_gone_it_is_kept_here_and_said(etcd1, tmp_path, plan,
                                                                                          monkeypatch):
    """The gateway is a closed port: the kill is tried and not confirmed (1); what it journals is on etcd,
    read from the other bastion. With etcd gone too, the kill still goes to the gateway, its events are
    kept in this host's side file and it says STORE UNREACHABLE (6: not confirmed, kept)."""
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", "a-token")
    here = etcd_plan(tmp_path, "a", plan, etcd1.endpoints, timeout="1s")
    there = etcd_plan(tmp_path, "b", plan, etcd1.endpoints)
    _live_on_etcd(here)
    killed = cockpit("kill", "--config", str(here), "--reason", "p95 on etcd", "--confirm", plan.release.version,
                     "--no-wait")
    assert killed.returncode == Exit.FAIL, killed.stderr
    seen = json.loads(cockpit("status", "--json", "--config", str(there)).stdout)
    assert seen["kill"]["reason"] == "p95 on etcd"

    etcd1.members[0].kill()
    again = cockpit("kill", "--config", str(here), "--reason", "etcd is gone", "--confirm", plan.release.version,
                    "--no-wait")
    assert again.returncode == Exit.FAIL_UNJOURNALED, again.stderr
    assert "STORE UNREACHABLE" in again.stderr and etcd1.endpoints[0] in again.stderr, again.stderr
    kept = (tmp_path / "a" / "unjournaled.jsonl").read_text()
    assert "kill_requested" in kept and "etcd is gone" in kept
