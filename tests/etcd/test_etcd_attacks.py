"""The etcd store tried as an attacker with write access to the prefix and as an unlucky operator would:
junk under the journal's keys, a lying head, garbage in `published`, `captain` and `guard`, an endpoint
that listens and never answers. Each test asserts the safe behaviour: `verify` names the problem by key,
the faces say what they can without a traceback, and the kill still reaches the gateway."""

from __future__ import annotations

import json
import socket
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cockpit.config import dump_plan
from cockpit.exits import Exit
from cockpit.store.etcd_client import EtcdClient, EtcdUnreachable
from cockpit.store.etcd_journal import journal_key
from tests.etcd import test_etcd_store
from tests.etcd.test_etcd_store import PREFIX, _live_on_etcd, cockpit
from tests.integration.flag_server import FlagServer

etcd_roles = test_etcd_store.etcd_roles  # the fixture: captain reads and writes the prefix, observer only reads


@pytest.fixture
def flags():
    server = FlagServer()
    yield server
    server.close()


def gated_plan(tmp_path: Path, plan, endpoints: list[str], flags: FlagServer, name: str = "a") -> Path:
    """A plan on etcd whose gateway is a real HTTP flag API on loopback (the kill is read back from it)."""
    data = dump_plan(plan)
    data["state_dir"] = str(tmp_path / name)
    data["gateways"] = {"edge": {"type": "http", "url": f"{flags.url}/flags", "timeout": "2s"}}
    data["state"] = {"store": "etcd", "endpoints": endpoints, "prefix": PREFIX, "timeout": "1s"}
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def kill(config: Path, version: str, reason: str = "attacked"):
    return cockpit("kill", "--config", str(config), "--reason", reason, "--confirm", version, "--no-wait")


def faces(config: Path) -> dict[str, object]:
    seen = {}
    for argv in (["verify"], ["status"], ["status", "--json"]):
        done = cockpit(*argv, "--config", str(config))
        assert "Traceback" not in done.stderr, (argv, done.stderr)
        seen[" ".join(argv)] = done
    return seen


JUNK = {  # what is put, and what verify must name
    "not utf-8": (lambda top: journal_key(PREFIX, top + 1), b'{"seq": r\xffot}\n', "line 17: garbage"),
    "not a record": (lambda top: journal_key(PREFIX, top + 1), b"hello\n", "line 17: garbage"),
    "key abc": (lambda top: f"{PREFIX}/journal/abc".encode(), b"hello\n", f"stored under {PREFIX}/journal/abc"),
    "seq 99": (lambda top: journal_key(PREFIX, 99), b"hello\n",
               f"stored under {PREFIX}/journal/00000000000000000099"),
}


@pytest.mark.parametrize("junk", JUNK)
def test_junk_under_the_journal_keys_is_named_by_verify_and_the_kill_still_reaches_the_gateway(
        junk, etcd1, tmp_path, plan, flags, monkeypatch):
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", "a-token")
    config = gated_plan(tmp_path, plan, etcd1.endpoints, flags)
    _live_on_etcd(config)
    client = EtcdClient(etcd1.endpoints)
    top = len(client.range(f"{PREFIX}/journal/".encode(), f"{PREFIX}/journal0".encode())[0])
    key, value, named = JUNK[junk]
    assert top == 16
    client.put(key(top), value)
    seen = faces(config)
    assert seen["verify"].returncode == Exit.FAIL and named in seen["verify"].stderr, seen["verify"].stderr
    assert "the first 16 events are intact" in seen["verify"].stderr
    for face in ("status", "status --json"):  # what still reads is shown, the problem named
        assert "Phase 1 soaking at 5 %" in seen["status"].stdout and "line 17" in seen[face].stderr
        assert "moves them aside" not in seen[face].stderr  # before: promised, and never done on etcd
    killed = kill(config, plan.release.version)
    assert killed.returncode == Exit.UNJOURNALED, killed.stderr
    assert flags.flags["canary.enable"] is False and "Traceback" not in killed.stderr
    assert "VERIFIED" in killed.stdout + killed.stderr and "JOURNAL DOES NOT SAY SO YET" in killed.stderr
    kept = (tmp_path / "a" / "unjournaled.jsonl").read_text()
    assert "kill_requested" in kept and "kill_result" in kept  # nothing lost: kept here until the journal is fixed


def test_a_guard_or_captain_key_put_by_hand_with_no_lease_holds_nobody_off(etcd1, tmp_path, plan, flags, monkeypatch):
    """`etcdctl put {prefix}/guard junk` (no lease: no process keeps it, so it never goes) held off every
    guard and every captain command ("captain lock held by ?@?") for good: such a key is nobody's."""
    from cockpit.store.etcd_lease import EtcdGuardLease, guard_key

    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", "a-token")
    config = gated_plan(tmp_path, plan, etcd1.endpoints, flags)
    _live_on_etcd(config)
    client = EtcdClient(etcd1.endpoints)
    stray = {"user": "mallory", "host": "elsewhere", "pid": 1}
    for key, value in ((guard_key(PREFIX), b"\xff not json"), (f"{PREFIX}/captain".encode(), json.dumps(stray).encode())):
        client.put(key, value)
    seen = json.loads(cockpit("status", "--json", "--config", str(config)).stdout)
    assert seen["guard"]["holder"] is None and seen["guard"]["text"] == "UNGUARDED"
    noted = cockpit("note", "--config", str(config), "the captain is not held off")
    assert noted.returncode == Exit.OK, noted.stderr
    assert client.get(f"{PREFIX}/captain".encode()) is None  # taken and released cleanly

    junk_rev = client.get(guard_key(PREFIX)).create_revision
    lease = EtcdGuardLease(client, PREFIX, {"user": "guard", "host": "a", "pid": 2}, ttl_s=5)
    assert lease.try_acquire() and lease.epoch > junk_rev and client.get(guard_key(PREFIX)).lease == lease.lease
    other = EtcdGuardLease(client, PREFIX, {"user": "guard", "host": "b", "pid": 3}, ttl_s=5)
    assert not other.try_acquire() and other.previous["host"] == "a"  # a held key is still held
    lease.release()


def _serve(answer) -> tuple[str, socket.socket]:
    """A loopback endpoint that accepts TCP and then does what `answer(conn)` does."""
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock


def _silent(conn: socket.socket) -> None:
    time.sleep(30)
    conn.close()


def _trickle(conn: socket.socket) -> None:
    """An answer that comes a byte every 0.2 s: no single read ever times out."""
    conn.recv(65536)
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(150):
            conn.sendall(b" ")
            time.sleep(0.2)
    except OSError:
        pass
    conn.close()


def _trickle_headers(conn: socket.socket) -> None:
    """The status line, then header bytes one every 0.2 s: httpx bounds each read, not the headers."""
    conn.recv(65536)
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(150):
            conn.sendall(b"X")
            time.sleep(0.2)
    except OSError:
        pass
    conn.close()


def _big_error(conn: socket.socket) -> None:
    conn.recv(65536)
    body = b'{"error": "' + b"A1b2" * 100_000 + b'", "code": 3}'
    try:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    conn.close()


@pytest.mark.parametrize("answer", [_silent, _trickle, _trickle_headers])
def test_an_endpoint_that_never_answers_or_trickles_is_passed_over_within_the_timeout(answer, etcd1, tmp_path):
    """Before: a member sending its answer a byte at a time held a call for as long as it liked (each
    read came within the timeout), so a guard round waited on it."""
    bad, sock = _serve(answer)
    try:
        alone = EtcdClient([bad], timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(EtcdUnreachable, match=rf"{bad}: timed out after 1 s"):
            alone.get(b"/x")
        assert time.monotonic() - started < 3
        both = EtcdClient([bad, *etcd1.endpoints], timeout_s=1.0)
        started = time.monotonic()
        both.put(b"/x", b"reached")
        assert both.get(b"/x").value == b"reached" and time.monotonic() - started < 3
    finally:
        sock.close()


def test_a_400_kb_error_body_is_cut_and_said_in_one_line_without_waiting(etcd1):
    bad, sock = _serve(_big_error)
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as refused:
            EtcdClient([bad], timeout_s=1.0).get(b"/x")
        said = str(refused.value)
        assert bad in said and len(said) < 600 and "\n" not in said and time.monotonic() - started < 3
    finally:
        sock.close()


def test_a_second_rollout_on_the_same_prefix_is_refused_naming_what_differs(etcd1, tmp_path, plan, monkeypatch):
    """Two plans sharing one prefix: the second is refused by the plan's digest and says what differs
    (before: only two digests), never interleaved into the first one's journal."""
    import tomllib

    from tests.etcd.test_etcd_store import etcd_plan

    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", "a-token")
    first = etcd_plan(tmp_path, "a", plan, etcd1.endpoints)
    _live_on_etcd(first)
    second = etcd_plan(tmp_path, "b", plan, etcd1.endpoints)
    data = tomllib.loads(second.read_text())
    data["phases"][0]["weight"] = 10
    data["release"]["name"] = "Other Service"
    second.write_text(tomli_w.dumps(data))
    before = EtcdClient(etcd1.endpoints).count(f"{PREFIX}/journal/".encode(), f"{PREFIX}/journal0".encode())
    differs = ("phases[0].weight (5 in the journal, 10 here), release.name ('IntelGraph Platform' in the journal, "
               "'Other Service' here)")
    for argv in (["note", "from another rollout"], ["kill", "--confirm", "v0.1.0", "--reason", "r", "--no-wait"]):
        refused = cockpit(*argv, "--config", str(second))
        assert refused.returncode == Exit.REFUSED and differs in refused.stderr, (argv, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert EtcdClient(etcd1.endpoints).count(f"{PREFIX}/journal/".encode(), f"{PREFIX}/journal0".encode()) == before
    assert cockpit("verify", "--config", str(first)).returncode == Exit.OK


def test_a_face_following_from_a_compacted_revision_reads_every_event_by_seq(etcd1, tmp_path, actor):
    """The watch from the face's revision is refused (compacted away): it reads on by seq, missing nothing."""
    from cockpit.core import events as ev
    from cockpit.store.etcd_journal import EtcdJournal
    from tests.conftest import T0

    client = EtcdClient(etcd1.endpoints)
    writer = EtcdJournal(client, PREFIX, tmp_path / "a", actor=actor)
    writer.append(ev.Noted(text="one"), actor=actor, ts=T0)
    face = EtcdJournal(EtcdClient(etcd1.endpoints), PREFIX, readonly=True)
    for text in ("two", "three"):
        writer.append(ev.Noted(text=text), actor=actor, ts=T0)
    client.call("/v3/kv/compaction", {"revision": str(writer.revision), "physical": True}, "compact")
    started = time.monotonic()
    new = face.follow(within_s=2.0)
    assert [r.payload.text for r in new] == ["two", "three"] and time.monotonic() - started < 2.5
    assert [r.seq for r in face.records] == [1, 2, 3]


def test_a_journal_value_near_etcds_request_limit_is_named_and_the_journal_reads_up_to_it(etcd1, tmp_path, actor):
    from cockpit.core import events as ev
    from cockpit.store.etcd_journal import EtcdJournal
    from cockpit.store.etcd_journal import verify as verify_chain
    from tests.conftest import T0

    client = EtcdClient(etcd1.endpoints)
    writer = EtcdJournal(client, PREFIX, tmp_path / "a", actor=actor)
    writer.append(ev.Noted(text="one"), actor=actor, ts=T0)
    client.put(journal_key(PREFIX, 2), b'{"seq": 2, "text": "' + b"x" * 1_400_000 + b'"}\n')
    scan = verify_chain(client, PREFIX)
    assert scan.problem is not None and scan.problem.line == 2 and len(str(scan.problem)) < 2000
    face = EtcdJournal(client, PREFIX, readonly=True, salvage=True)
    assert [r.payload.text for r in face.records] == ["one"] and face.broken and "line 2" in face.broken


def test_a_wrong_etcd_password_is_said_never_shown_and_the_kill_still_reaches_the_gateway(
        etcd_roles, tmp_path, plan, flags, monkeypatch):
    """The password lives in an env var; etcd's own "authentication failed" is shown, the password
    nowhere: not on stderr, not in `status --json`, not in what the kill keeps aside in the state dir."""
    url = etcd_roles.endpoints[0]
    config = gated_plan(tmp_path, plan, [url], flags)
    data = tomllib.loads(config.read_text())
    data["state"] |= {"user": "captain", "password": {"env": "ETCD_CAPTAIN_PW"}}
    config.write_text(tomli_w.dumps(data))
    monkeypatch.setenv("COCKPIT_GATEWAY_TOKEN", "a-token")
    _live_on_etcd(config)
    secret = "Wr0ngButSecretPassw0rd77"
    monkeypatch.setenv("ETCD_CAPTAIN_PW", secret)
    said = ""
    for argv in (["status", "--json"], ["status"], ["verify"], ["note", "x"]):
        done = cockpit(*argv, "--config", str(config))
        assert done.returncode == Exit.REFUSED and "authentication failed" in done.stderr, (argv, done.stderr)
        assert url in done.stderr and "Traceback" not in done.stderr
        said += done.stdout + done.stderr
    killed = kill(config, plan.release.version)
    assert flags.flags["canary.enable"] is False and "Traceback" not in killed.stderr, killed.stderr
    assert killed.returncode == Exit.UNJOURNALED and "authentication failed" in killed.stderr, killed.stderr
    said += killed.stdout + killed.stderr
    kept = "".join(p.read_text(errors="replace") for p in (tmp_path / "a").iterdir() if p.is_file())
    assert "kill_requested" in kept
    for text in (said, kept):
        assert secret not in text and secret[:8] not in text


@pytest.mark.anyio
async def test_a_running_guard_takes_a_stray_guard_key_and_kills_the_breach_through_a_trickling_endpoint(
        etcd1, plan, clock, tmp_path):
    """A guard key put by hand (no lease) and a first endpoint that trickles its answers: the guard takes
    the lease within its wait, each round passes over the trickling member, and the tenant breach three
    minutes in is killed once, journaled on etcd."""
    import asyncio

    from cockpit.adapters.simulator import SimulatedWorld
    from cockpit.store.etcd_lease import guard_key
    from tests.etcd.test_guard_fencing import Bastion, journal, live, verifies

    world = SimulatedWorld("tenant-breach", clock=lambda: clock.now().timestamp())
    await live(plan, clock, world, etcd1.endpoints, tmp_path)
    EtcdClient(etcd1.endpoints).put(guard_key(PREFIX), b'{"user": "mallory", "host": "elsewhere", "pid": 1}')
    bad, sock = _serve(_trickle)
    try:
        began = time.monotonic()  # the guard opens the journal and takes the lease
        a = Bastion("bastion-a", 101, [bad, *etcd1.endpoints], tmp_path, plan, clock, world)
        assert await asyncio.wait_for(a.guard.acquire(wait=True), 10)
        assert time.monotonic() - began < 5  # before: 30 s on the trickling member's first answer
        for _ in range(14):
            clock.advance(15)
            started = time.monotonic()
            await a.guard.round()
            await a.monitor.settle()
            assert time.monotonic() - started < 14  # a round within its 15 s poll, the trickler passed over
    finally:
        sock.close()
    assert world.enabled is False and a.gateway.sent == ["set_enabled False"]
    assert [r.actor.host for r in journal(etcd1.endpoints) if r.kind == "kill_requested"] == ["bastion-a"]
    assert verifies(etcd1.endpoints)
