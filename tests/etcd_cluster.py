"""Real etcd members on loopback for the tests: one, or a three-member cluster, each with its own ports and data dir.

Debian's etcd-server (3.4) in separate processes; ports are picked free per cluster (each xdist worker
starts its own), heartbeats short so a killed leader is replaced in about half a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
START_S = 10.0  # a member that answers nothing after this did not start


def _free_ports(n: int) -> list[int]:
    """n ports the kernel says are free now (held open together, so they are distinct)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _post(url: str, body: dict, timeout_s: float = 1.0, context: ssl.SSLContext | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s, context=context) as answer:
        return json.loads(answer.read())


class Member:
    def __init__(self, name: str, workdir: Path, client_port: int, peer_port: int, *, scheme: str = "http",
                 context: ssl.SSLContext | None = None):
        self.name = name
        self.client_port, self.peer_port = client_port, peer_port
        self.url = f"{scheme}://127.0.0.1:{client_port}"
        self.context = context  # how the helpers themselves speak TLS to it
        self.peer_url = f"http://127.0.0.1:{peer_port}"
        self.data_dir = workdir / f"{name}.data"
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.stopped = False  # SIGSTOPped

    def start(self, initial_cluster: str, token: str, extra: tuple[str, ...] = ()) -> None:
        cmd = [ETCD, "--name", self.name, "--data-dir", str(self.data_dir),
               "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
               "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
               "--initial-cluster", initial_cluster, "--initial-cluster-state", "new",
               "--initial-cluster-token", token,
               "--heartbeat-interval", "50", "--election-timeout", "500",
               "--logger", "zap", "--log-outputs", str(self.log), *extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def status(self, timeout_s: float = 1.0) -> dict:
        """/v3/maintenance/status: this member's id (header.member_id) and the leader's id it knows."""
        return _post(f"{self.url}/v3/maintenance/status", {}, timeout_s, self.context)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            if self.stopped:
                self.cont()
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        """SIGSTOP: the member answers nothing (connections are accepted by the kernel and hang)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def cont(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


class Cluster:
    """n members forming one cluster (n=1: a single member, for fast tests)."""

    def __init__(self, workdir: Path, n: int = 3, extra: tuple[str, ...] = (), *, scheme: str = "http",
                 context: ssl.SSLContext | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.extra = extra  # more etcd flags for every member (a benchmark's bulk load: --max-txn-ops)
        ports = _free_ports(2 * n)
        self.members = [Member(f"n{i + 1}", workdir, ports[2 * i], ports[2 * i + 1], scheme=scheme, context=context)
                        for i in range(n)]

    @property
    def endpoints(self) -> list[str]:
        return [m.url for m in self.members]

    def start(self) -> Cluster:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        token = f"cockpit-{os.getpid()}-{self.members[0].client_port}"  # one per cluster: members of another never join
        for m in self.members:
            m.start(initial, token, self.extra)
        try:
            self.wait_ready()
        except Exception:
            self.close()
            raise
        return self

    def wait_ready(self, within_s: float = START_S) -> None:
        """Every live member answers status and knows a leader, and a write goes through."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                if all(m.status().get("leader") for m in self.members if m.alive and not m.stopped):
                    lead = self.leader()
                    _post(f"{lead.url}/v3/kv/put", {"key": "cmVhZHk=", "value": ""}, context=lead.context)  # "ready"
                    _post(f"{lead.url}/v3/kv/deleterange", {"key": "cmVhZHk="}, context=lead.context)
                    return
            except OSError:
                pass
            if all(m.proc is not None and m.proc.poll() is not None for m in self.members):
                break  # every member exited (a port taken between picking and binding, a bad flag)
            time.sleep(0.05)
        logs = "\n".join(f"--- {m.name}:\n{m.tail()}" for m in self.members)
        raise RuntimeError(f"etcd cluster not ready within {within_s} s\n{logs}")

    def leader(self) -> Member:
        """The member the live members agree leads (asked through /v3/maintenance/status)."""
        for m in self.members:
            if not m.alive or m.stopped:
                continue
            try:
                st = m.status()
            except OSError:
                continue
            lead = st.get("leader")
            for other in self.members:
                if other.alive and not other.stopped and lead:
                    try:
                        if other.status()["header"]["member_id"] == lead:
                            return other
                    except OSError:
                        continue
        raise RuntimeError("no etcd leader known")

    def followers(self) -> list[Member]:
        lead = self.leader()
        return [m for m in self.members if m is not lead]

    def close(self) -> None:
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                if m.stopped:
                    m.cont()
                m.proc.kill()  # its data dir is thrown away: no need to wait for a graceful stop (5 s in a cluster)
        for m in self.members:
            if m.proc is not None:
                m.proc.wait(5)
