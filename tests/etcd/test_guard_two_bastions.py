"""Two guards as two "bastions" on one etcd prefix, as separate `cockpit guard --config plan.toml`
processes with separate local dirs and no shared file, on a real HAProxy, a real Prometheus and a
three-member etcd:

- the holder SIGKILLed during a breach: the standby takes the lease after its TTL and kills at the due
  time; exactly one `kill_requested`, HAProxy read back at weight 0;
- the holder SIGSTOPped past its TTL: the standby takes over and kills; the old holder, SIGCONTed into
  a breach it would still act on, sends nothing to HAProxy, appends nothing, says DEPOSED and exits 9;
- bastion A partitioned from etcd (its only member reached through a TCP relay that is cut): B, on the
  two other members, takes over within the TTL and a poll; A, with no breach, sends nothing to HAProxy
  and appends nothing; when its path heals, it says DEPOSED and exits 9;
- the etcd leader hangs during the guard's rounds, and the next leader is killed as the kill lands:
  no acknowledged event lost, the chain verifies, the guard carries on to the end.

Every command the guards send to HAProxy goes through a recording relay (`Relay`) in this process, so
"sends nothing" is read at the gateway's door, not from the guard's own word.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tomli_w

from cockpit.config import load_plan
from cockpit.core import events as ev
from cockpit.engine import Engine
from cockpit.exits import Exit
from cockpit.session import open_store
from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_journal import EtcdJournal, verify
from tests.conftest import ROOT
from tests.integration.conftest import haproxy  # noqa: F401 - the fixture, for this directory's tests
from tests.integration.rollout import go_live
from tests.integration.test_guard_processes import (
    BAD,
    ERRORS,
    FOR_S,
    HOST,
    STEP_S,
    breach_began,
    guarded_config,
    wait_for,
    watched,
)
from tests.integration.test_kill_torn_journal import canary_weight
from tests.support import passing_runner

pytestmark = pytest.mark.integration

PREFIX = "/cockpit/intelgraph/two-bastions"
POLL_S, TTL_S = 1, 3  # a round a second; the lease renewed each round, lost 3 s after the last renewal
LAND_S = 2.0  # beyond one poll: the round's queries, the kill's runtime-API calls, a busy machine
WRITES = ("set weight", "set server")
CAPTAIN = ev.Actor(user="alice", host="captain-host", role="captain")


class Relay:
    """A unix socket in front of HAProxy's runtime API that passes every connection through and records
    each command with the wall-clock time it came in (HAProxy cannot say who sent what)."""

    def __init__(self, path: Path, target: str):
        self.path, self.target = str(path), target
        self.seen: list[tuple[float, str]] = []
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(self.path)
        self._server.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def writes(self, after: float = 0.0) -> list[str]:
        return [cmd for at, cmd in list(self.seen) if at >= after and cmd.startswith(WRITES)]

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._pass, args=(client,), daemon=True).start()

    def _pass(self, client: socket.socket) -> None:
        with client, socket.socket(socket.AF_UNIX) as upstream:
            upstream.connect(self.target)
            data = b""
            while not data.endswith(b"\n"):
                chunk = client.recv(4096)
                if not chunk:
                    break
                data += chunk
            for line in data.decode(errors="replace").splitlines():
                self.seen.append((time.time(), line.strip()))
            upstream.sendall(data)
            upstream.shutdown(socket.SHUT_WR)
            while chunk := upstream.recv(4096):
                client.sendall(chunk)

    def close(self) -> None:
        self._server.close()


class TcpRelay:
    """A TCP relay on loopback between one bastion and one etcd member, which can be cut like a network
    partition: while cut, whatever either side sends is dropped (connections hang, nothing is refused,
    as a lost route looks from both ends); healed, the connections held through the cut are closed
    (as their TCP would time out) and new ones pass again."""

    def __init__(self, target: str):
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.cut_off = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def cut(self) -> None:
        self.cut_off.set()

    def heal(self) -> None:
        with self._lock:
            held, self._conns = self._conns, []
        for s in held:
            s.close()
        self.cut_off.clear()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                if not self.cut_off.is_set():  # cut: the bytes are lost on the way
                    dst.sendall(chunk)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.heal()
        self._server.close()


class Bastion:
    """One bastion: its own dir with plan.toml (state_dir "state", relative to it: the plan is the same
    byte for byte on both, its state dir is not), and the guard process it runs."""

    def __init__(self, root: Path, name: str, data: dict):
        self.dir = root / name
        self.dir.mkdir()
        self.config = self.dir / "plan.toml"
        self.config.write_text(tomli_w.dumps(data))
        self.state_dir = self.dir / "state"
        self.proc: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "guard", "--config", str(self.config), "--reason", "test", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.dir / "guard.err", "wb"),
            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, start_new_session=True)
        return self.proc

    def log(self) -> str:
        try:
            return (self.state_dir / "guard.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


def two_bastions(tmp_path: Path, haproxy, prom, etcd) -> tuple[Bastion, Bastion, Relay]:  # noqa: F811
    import tomllib

    relay = Relay(tmp_path / "relay.sock", haproxy.socket)
    data = tomllib.loads(guarded_config(tmp_path, haproxy, prom).read_text())
    data["gateways"]["edge"]["socket"] = relay.path
    data["prometheus"]["poll_interval"] = f"{POLL_S}s"
    data["state_dir"] = "state"
    data["state"] = {"store": "etcd", "endpoints": etcd.endpoints, "prefix": PREFIX, "lease_ttl": f"{TTL_S}s",
                     "timeout": "1s"}
    return Bastion(tmp_path, "bastion-a", data), Bastion(tmp_path, "bastion-b", data), relay


def go_live_on_etcd(bastion: Bastion) -> None:
    """The captain (this process) starts the rollout on etcd: the canary at 5 % on HAProxy."""
    from cockpit.adapters.factory import build_gateway
    from cockpit.clock import SystemClock

    plan = load_plan(bastion.config)
    journal = open_store(plan, bastion.config).journal(actor=CAPTAIN)
    engine = Engine(plan, journal, clock=SystemClock(), actor=CAPTAIN, gateway=build_gateway(plan),
                    check_runner=passing_runner())
    engine.ensure_plan()
    asyncio.run(go_live(engine))
    asyncio.run(engine.gateway.close())
    journal.close()


def records(etcd) -> list[ev.Record]:
    return EtcdJournal(EtcdClient(etcd.endpoints), PREFIX, readonly=True).records


def started_by(etcd, pid: int) -> ev.Record | None:
    return next((r for r in records(etcd) if r.kind == "guard_started" and r.payload.pid == pid), None)


def a_holds_b_stands_by(a, b, etcd):
    """A's guard takes the lease, then B's stands by: (A's process, B's process, A's epoch)."""
    holder = a.start()
    wait_for("a holds the lease", lambda: started_by(etcd, holder.pid), 30)
    standby = b.start()
    wait_for("b stands by", lambda: "standby: the guard lock is held by" in b.log(), 30)
    return holder, standby, started_by(etcd, holder.pid).payload.epoch


def first_zero(haproxy, deadline: float) -> float:  # noqa: F811
    while time.time() < deadline:
        if canary_weight(haproxy) == "0":
            return time.time()
        time.sleep(0.1)
    raise AssertionError("the canary weight never read 0")


def verifies(etcd) -> bool:
    scan = verify(EtcdClient(etcd.endpoints), PREFIX)
    return not scan.problems and scan.head is None


def test_the_holder_killed_during_a_breach_the_standby_kills_at_the_due_time_once(
        tmp_path, haproxy, etcd3):  # noqa: F811
    with watched(tmp_path) as (prom, exporter):
        a, b, relay = two_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(a)
            assert canary_weight(haproxy) == "5"
            holder, standby, _ = a_holds_b_stands_by(a, b, etcd3)
            exporter.set(**{ERRORS: BAD})  # the breach begins
            wait_for("a journals the breach", lambda: any(r.kind == "trigger_breached" for r in records(etcd3)), 30)
            holder.send_signal(signal.SIGKILL)  # the bastion dies mid-breach
            killed_at = time.time()
            holder.wait(10)
            landed = first_zero(haproxy, time.time() + FOR_S + TTL_S + 30)
            due = breach_began(prom) + FOR_S
            took = started_by(etcd3, standby.pid)
            assert took is not None
            print(f"standby took over {took.ts.timestamp() - killed_at:.2f} s after the holder's SIGKILL "
                  f"(TTL {TTL_S} s, poll {POLL_S} s); HAProxy at 0 at due {landed - due:+.2f} s")
            assert took.payload.took_over == f"{holder.pid}@{HOST}"
            assert took.payload.epoch > started_by(etcd3, holder.pid).payload.epoch
            assert due - STEP_S <= landed <= max(due, took.ts.timestamp()) + POLL_S + LAND_S, landed - due
            wait_for("b verifies the kill and stops", lambda: standby.poll() is not None, 60)
            assert standby.returncode == Exit.OK, b.log()[-3000:]
        finally:
            a.stop()
            b.stop()
            relay.close()
    journal = records(etcd3)
    kinds = [r.kind for r in journal]
    assert kinds.count("kill_requested") == 1 and kinds.count("kill_result") == 1
    guards = [r.payload.pid for r in journal[:kinds.index("kill_requested")] if r.kind == "guard_started"]
    assert guards == [holder.pid, standby.pid]  # the kill came after the standby's takeover: it is the standby's
    assert canary_weight(haproxy) == "0" and relay.writes()  # the standby's kill went through the relay
    assert verifies(etcd3)
    assert "Traceback" not in a.log() + b.log()


def test_a_holder_paused_past_its_ttl_wakes_deposed_and_sends_nothing(tmp_path, haproxy, etcd3):  # noqa: F811
    with watched(tmp_path) as (prom, exporter):
        a, b, relay = two_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(a)
            holder, standby, mine = a_holds_b_stands_by(a, b, etcd3)
            os.kill(holder.pid, signal.SIGSTOP)  # a frozen VM: a holds the lease no more after its TTL
            stopped_at = time.time()
            exporter.set(**{ERRORS: BAD})  # the breach begins while a is frozen
            took = wait_for("b takes over", lambda: started_by(etcd3, standby.pid), TTL_S + 30)
            print(f"standby took over {took.ts.timestamp() - stopped_at:.2f} s after the holder froze "
                  f"(TTL {TTL_S} s, poll {POLL_S} s)")
            landed = first_zero(haproxy, time.time() + FOR_S + 30)
            journaled = len(records(etcd3))
            woke = time.time()
            os.kill(holder.pid, signal.SIGCONT)  # a wakes into a breach its stale state would still act on
            assert holder.wait(30) == Exit.DEPOSED
            assert relay.writes(after=woke) == []  # nothing from a reached HAProxy (b's kill came before)
            print(f"HAProxy at 0 {landed - stopped_at:.2f} s after the holder froze; the old holder exited "
                  f"{time.time() - woke:.2f} s after SIGCONT")
            wait_for("b verifies the kill and stops", lambda: standby.poll() is not None, 60)
        finally:
            a.stop()
            b.stop()
            relay.close()
    journal = records(etcd3)
    assert [r for r in journal[journaled:] if getattr(r.payload, "pid", None) == holder.pid] == []
    kinds = [r.kind for r in journal]
    for kind in ("trigger_breached", "trigger_fired", "kill_requested", "kill_result"):  # b's alone
        assert kinds.count(kind) == 1, (kind, kinds)
    assert [r.payload.pid for r in journal if r.kind == "guard_started"] == [holder.pid, standby.pid]
    assert canary_weight(haproxy) == "0"
    said = a.log()
    assert "DEPOSED: guard lease lost to " in said and f"(epoch {mine} < {took.payload.epoch}); not acting" in said
    assert "Traceback" not in said + b.log()
    assert verifies(etcd3)


def test_the_etcd_leader_lost_during_the_rounds_and_during_the_kill_loses_no_event(
        tmp_path, haproxy, etcd3):  # noqa: F811
    with watched(tmp_path) as (prom, exporter):
        a, _, relay = two_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(a)
            guard = a.start()
            wait_for("a holds the lease", lambda: started_by(etcd3, guard.pid), 30)
            hung = etcd3.leader()
            hung.stop()  # the leader hangs during the guard's rounds: a new one is elected
            time.sleep(3 * POLL_S)
            hung.cont()
            etcd3.wait_ready()
            exporter.set(**{ERRORS: BAD})
            wait_for("the breach is journaled", lambda: any(r.kind == "trigger_breached" for r in records(etcd3)), 30)
            due = breach_began(prom) + FOR_S
            time.sleep(max(0.0, due - 0.5 - time.time()))
            lost = etcd3.leader()
            lost.kill()  # the leader dies as the kill is pulled
            landed = first_zero(haproxy, time.time() + FOR_S + 30)
            print(f"HAProxy at 0 at due {landed - due:+.2f} s with the etcd leader killed 0.5 s before due")
            assert landed <= due + POLL_S + LAND_S + 2, landed - due
            wait_for("the guard verifies the kill and stops", lambda: guard.poll() is not None, 90)
            assert guard.returncode == Exit.OK, a.log()[-3000:]
        finally:
            a.stop()
            relay.close()
    live = [m for m in etcd3.members if m.alive]
    scan = verify(EtcdClient([m.url for m in live]), PREFIX)
    assert not scan.problems and scan.head is None
    kinds = [r.kind for r in EtcdJournal(EtcdClient([m.url for m in live]), PREFIX, readonly=True).records]
    for kind in ("guard_started", "trigger_breached", "trigger_fired", "kill_requested", "kill_result",
                 "rollback_verified", "guard_stopped"):
        assert kind in kinds, (kind, kinds)
    assert kinds.count("kill_requested") == 1 and kinds[-1] == "guard_stopped"
    said = a.log()
    assert "DEPOSED" not in said and "Traceback" not in said
    assert "NOT KEPT" not in said  # whatever etcd did not take at once was kept aside and journaled late


def test_a_guard_that_loses_every_etcd_member_still_kills_on_a_breach_and_journals_it_late(
        tmp_path, haproxy, etcd3):  # noqa: F811
    """The other side of the trade-off, as a process: every member hangs (SIGSTOP) past the lease's TTL;
    the guard judges on, pulls the kill at the due time (one etcd call late at most), keeps the events
    aside, and journals them late, in order, once etcd answers; the chain verifies."""
    with watched(tmp_path) as (prom, exporter):
        a, _, relay = two_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(a)
            guard = a.start()
            wait_for("a holds the lease", lambda: started_by(etcd3, guard.pid), 30)
            before = len(records(etcd3))
            for m in etcd3.members:
                m.stop()
            try:
                exporter.set(**{ERRORS: BAD})
                landed = first_zero(haproxy, time.time() + FOR_S + 30)
                due = breach_began(prom) + FOR_S
                print(f"HAProxy at 0 at due {landed - due:+.2f} s with every etcd member hanging "
                      f"(one etcd call finding none: 3 x 1 s)")
                assert due - STEP_S <= landed <= due + POLL_S + LAND_S + 3, landed - due
                wait_for("the guard says the store is unreachable", lambda: "STORE UNREACHABLE" in a.log(), 30)
                time.sleep(TTL_S)  # past the lease's TTL, etcd still silent
                assert guard.poll() is None  # it stays: its events are kept on this host only
            finally:
                for m in etcd3.members:
                    m.cont()
            etcd3.wait_ready()
            wait_for("the guard journals late and stops", lambda: guard.poll() is not None, 90)
            assert guard.returncode == Exit.OK, a.log()[-3000:]
        finally:
            a.stop()
            relay.close()
    journal = records(etcd3)
    late = [r.kind for r in journal[before:]]
    assert "journaled_late" in late, late
    for kind in ("trigger_fired", "kill_requested", "kill_result"):
        assert late.count(kind) == 1, (kind, late)
    assert late.index("journaled_late") < late.index("kill_requested") and late[-1] == "guard_stopped"
    assert canary_weight(haproxy) == "0" and verifies(etcd3)
    said = a.log()
    assert "pulling the kill all the same" in said or "acting on the guard lease, ours for" in said
    assert "DEPOSED" not in said and "Traceback" not in said
    assert not (a.state_dir / "unjournaled.jsonl").exists() or not (a.state_dir / "unjournaled.jsonl").read_text()


def split_bastions(tmp_path: Path, haproxy, prom, etcd) -> tuple[Bastion, Bastion, Relay, TcpRelay]:  # noqa: F811
    """Two bastions of one plan, each on its own side of etcd: A names only member 1, reached through
    `route` (a TcpRelay that can be cut); B names members 2 and 3."""
    import tomllib

    route = TcpRelay(etcd.members[0].url)
    relay = Relay(tmp_path / "relay.sock", haproxy.socket)
    data = tomllib.loads(guarded_config(tmp_path, haproxy, prom).read_text())
    data["gateways"]["edge"]["socket"] = relay.path
    data["prometheus"]["poll_interval"] = f"{POLL_S}s"
    data["state_dir"] = "state"
    state = {"store": "etcd", "prefix": PREFIX, "lease_ttl": f"{TTL_S}s", "timeout": "1s"}
    a = Bastion(tmp_path, "bastion-a", {**data, "state": {**state, "endpoints": [route.url]}})
    b = Bastion(tmp_path, "bastion-b", {**data, "state": {**state, "endpoints": etcd.endpoints[1:]}})
    return a, b, relay, route


def test_a_holder_partitioned_from_etcd_stands_down_without_acting_and_the_other_side_takes_over(
        tmp_path, haproxy, etcd3):  # noqa: F811
    """Bastion A's plan names only member 1 (through a relay that is cut like a route), bastion B's the
    two others: one plan (its digest leaves [state] out). With no breach, A cut off sends nothing to
    HAProxy and appends nothing (it keeps nothing aside either); B takes the lease once A's expires;
    healed, A finds the lease another's, says DEPOSED and exits 9."""
    with watched(tmp_path) as (prom, _):
        a, b, relay, route = split_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(b)
            holder, standby, mine = a_holds_b_stands_by(a, b, etcd3)
            journaled = len(records(etcd3))
            seen = len(relay.seen)
            route.cut()  # a's only way to etcd is lost
            cut_at = time.time()
            took = wait_for("b takes over", lambda: started_by(etcd3, standby.pid), TTL_S + 30)
            print(f"b took over {took.ts.timestamp() - cut_at:.2f} s after a was cut off from etcd "
                  f"(TTL {TTL_S} s, poll {POLL_S} s)")
            assert took.ts.timestamp() - cut_at <= TTL_S + POLL_S + LAND_S
            wait_for("a says the store does not answer", lambda: "STORE UNREACHABLE" in a.log(), 30)
            time.sleep(2 * TTL_S)  # a cut off well past its lease, guarding, no breach
            assert holder.poll() is None
            during = [cmd for _, cmd in relay.seen[seen:]]
            assert relay.writes(after=cut_at) == [], during  # nothing set at HAProxy by anyone
            healed_at = time.time()
            route.heal()
            assert holder.wait(30) == Exit.DEPOSED, a.log()[-3000:]
            print(f"a exited DEPOSED {time.time() - healed_at:.2f} s after its route healed; "
                  f"{len(during)} commands at HAProxy's door while it was cut off, none a write: {sorted(set(during))}")
            assert relay.writes(after=cut_at) == []
        finally:
            a.stop()
            b.stop()
            relay.close()
            route.close()
    journal = records(etcd3)
    assert [r for r in journal[journaled:] if getattr(r.payload, "pid", None) == holder.pid] == []
    started = [(r.payload.pid, r.payload.epoch) for r in journal if r.kind == "guard_started"]
    assert started == [(holder.pid, mine), (standby.pid, took.payload.epoch)] and mine < took.payload.epoch
    assert len({epoch for _, epoch in started}) == len(started)  # one guard_started per epoch
    said = a.log()
    assert "DEPOSED: guard lease lost to " in said and f"(epoch {mine} < {took.payload.epoch}); not acting" in said
    assert "Traceback" not in said + b.log()
    kept = list(a.state_dir.glob("unjournaled*"))
    assert all(not f.read_text() for f in kept), kept  # nothing kept aside to journal late: it did nothing
    assert verifies(etcd3)


def test_a_breach_while_a_holder_is_partitioned_both_sides_kill_and_only_the_holders_kill_is_journaled(
        tmp_path, haproxy, etcd3):  # noqa: F811
    """The trade-off's other side across a partition: A, cut off past its lease with no other guard
    visible from where it stands, pulls the kill all the same on a breach; B, the holder now, pulls it
    too. Both kills set the canary to 0 and nothing else (idempotent: harmless twice); the one
    kill_requested journaled is B's; A's, kept aside, is set aside (not journaled) once A finds itself
    deposed, and A exits 9."""
    with watched(tmp_path) as (prom, exporter):
        a, b, relay, route = split_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(b)
            holder, standby, mine = a_holds_b_stands_by(a, b, etcd3)
            route.cut()
            cut_at = time.time()
            took = wait_for("b takes over", lambda: started_by(etcd3, standby.pid), TTL_S + 30)
            # the breach begins with A cut off and B holding the lease; the canary's traffic reads on
            # after the kill, so B's rollback is not verified and B holds the lease until A has healed
            exporter.set(**{ERRORS: BAD, "it_canary_rps": 5.0})
            first_zero(haproxy, time.time() + FOR_S + 30)
            wait_for("a pulls the kill too", lambda: "pulling the kill all the same" in a.log(), 30)
            assert standby.poll() is None and started_by(etcd3, standby.pid)
            route.heal()
            assert holder.wait(30) == Exit.DEPOSED, a.log()[-3000:]
            writes = relay.writes(after=cut_at)
            print(f"{len(writes)} writes at HAProxy's door from both sides: {writes}")
            exporter.set(it_canary_rps=0.0)
        finally:
            a.stop()
            b.stop()
            relay.close()
            route.close()
    kill = {"set weight be_app/canary 0", "set weight be_app/stable 100"}  # the kill, and nothing else, from either side
    assert len(writes) >= 2 * len(kill) and set(writes) == kill, writes
    assert canary_weight(haproxy) == "0"
    journal = records(etcd3)
    kinds = [r.kind for r in journal]
    assert kinds.count("kill_requested") == 1 and kinds.count("kill_result") == 1, kinds
    assert next(r for r in journal if r.kind == "kill_requested").seq > journal.index(took)
    assert [r for r in journal if getattr(r.payload, "pid", None) == holder.pid and r.kind != "guard_started"] == []
    assert [(r.payload.pid, r.payload.epoch) for r in journal if r.kind == "guard_started"] == [
        (holder.pid, mine), (standby.pid, took.payload.epoch)]
    aside = list(a.state_dir.glob("unjournaled.deposed-*.jsonl"))
    assert aside and "kill_requested" in aside[0].read_text(), list(a.state_dir.iterdir())
    said = a.log()
    assert "DEPOSED: guard lease lost to " in said and "Traceback" not in said + b.log()
    assert verifies(etcd3)


def test_a_partitioned_holder_healed_after_the_other_side_finished_finds_the_lease_free_and_stands_down(
        tmp_path, haproxy, etcd3):  # noqa: F811
    """Across the partition both sides kill a breach; B verifies its kill and stops (the lease is free
    again) before A's route heals. A must not take the free lease again and journal what it kept
    aside (its own trigger_fired, kill_requested... after B's guard_stopped): another guard held the
    lease since A's epoch, so A is deposed, exits 9, and its events are set aside, not journaled."""
    with watched(tmp_path) as (prom, exporter):
        a, b, relay, route = split_bastions(tmp_path, haproxy, prom, etcd3)
        try:
            go_live_on_etcd(b)
            holder, standby, _ = a_holds_b_stands_by(a, b, etcd3)
            route.cut()
            wait_for("b takes over", lambda: started_by(etcd3, standby.pid), TTL_S + 30)
            exporter.set(**{ERRORS: BAD})
            wait_for("a pulls the kill too", lambda: "pulling the kill all the same" in a.log(), FOR_S + 30)
            wait_for("b verifies the kill and stops", lambda: standby.poll() is not None, 60)
            assert standby.returncode == Exit.OK, b.log()[-3000:]
            route.heal()
            assert holder.wait(30) == Exit.DEPOSED, a.log()[-3000:]
        finally:
            a.stop()
            b.stop()
            relay.close()
            route.close()
    journal = records(etcd3)
    kinds = [r.kind for r in journal]
    assert kinds.count("kill_requested") == 1 and kinds[-1] == "guard_stopped", kinds
    assert [r.payload.pid for r in journal if r.kind == "guard_started"] == [holder.pid, standby.pid]
    assert "taken again" not in a.log() and "DEPOSED" in a.log()
    aside = list(a.state_dir.glob("unjournaled.deposed-*.jsonl"))
    assert aside and "kill_requested" in aside[0].read_text()
    assert verifies(etcd3)
