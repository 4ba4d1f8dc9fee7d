"""The etcd client against a real etcd: users and roles (an observer that may only read), TLS with client
certificates, and errors that name the endpoint and the operation but never a password or a token."""

from __future__ import annotations

import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cockpit import redact
from cockpit.core import events as ev
from cockpit.store.chain import JournalError
from cockpit.store.etcd_client import EtcdClient, EtcdError, EtcdRefused, Tls
from cockpit.store.etcd_journal import EtcdJournal
from tests.conftest import T0
from tests.etcd_cluster import Cluster

PREFIX = "/cockpit/intelgraph/v0.1.0"
ROOT_PW = "root-Pw-7f3a91c2"
OBSERVER_PW = "obs-Pw-0b44e8d1"


def _etcdctl(endpoint: str, *args: str) -> None:
    subprocess.run(["etcdctl", f"--endpoints={endpoint}", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def etcd_auth(etcd1):
    """etcd with auth on: root may do anything, `observer` may only read the cockpit's prefix."""
    url = etcd1.endpoints[0]
    _etcdctl(url, "user", "add", "root", f"--new-user-password={ROOT_PW}", "--interactive=false")
    _etcdctl(url, "role", "add", "root")
    _etcdctl(url, "user", "grant-role", "root", "root")
    _etcdctl(url, "role", "add", "reader")
    _etcdctl(url, "role", "grant-permission", "reader", "read", "/cockpit/", "--prefix=true")
    _etcdctl(url, "user", "add", "observer", f"--new-user-password={OBSERVER_PW}", "--interactive=false")
    _etcdctl(url, "user", "grant-role", "observer", "reader")
    _etcdctl(url, "auth", "enable")
    return etcd1


def test_with_auth_on_the_captain_writes_the_observer_only_reads_and_no_password_is_shown(etcd_auth, tmp_path,
                                                                                           actor):
    url = etcd_auth.endpoints[0]
    captain = EtcdJournal(EtcdClient([url], user="root", password=ROOT_PW), PREFIX, tmp_path / "a", actor=actor)
    captain.append(ev.Noted(text="written as root"), actor=actor, ts=T0)

    observer = EtcdClient([url], user="observer", password=OBSERVER_PW)
    face = EtcdJournal(observer, PREFIX, readonly=True)
    assert [r.payload.text for r in face.records] == ["written as root"]
    writer = EtcdJournal(observer, PREFIX, tmp_path / "b", actor=actor)  # opening reads: allowed
    with pytest.raises(JournalError, match="permission denied") as refused:  # noqa
        writer.append(ev.Noted(text="an observer may not write"), actor=actor, ts=T0)
    assert url in str(refused.value) and OBSERVER_PW not in str(refused.value)

    with pytest.raises(EtcdRefused, match="authenticating as root") as wrong:
        EtcdClient([url], user="root", password="not-the-" + ROOT_PW).get(b"/cockpit/x")
    assert ROOT_PW not in str(wrong.value)
    with pytest.raises(EtcdRefused, match="user name is empty"):
        EtcdClient([url]).get(b"/cockpit/x")
    assert redact.scrub(f"said {ROOT_PW} and {OBSERVER_PW}").count("Pw") == 0  # both remembered as secrets


def _certs(d: Path) -> dict[str, Path]:
    """A CA, and one certificate it signed for 127.0.0.1, for the server and as a client's."""
    d.mkdir()

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=cockpit-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=etcd")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "node.crt", "-days", "2", "-extfile", "ext")
    return {"ca": d / "ca.crt", "cert": d / "node.crt", "key": d / "node.key"}


def test_tls_with_client_certificates(tmp_path, actor):
    certs = _certs(tmp_path / "certs")
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    context.load_cert_chain(str(certs["cert"]), str(certs["key"]))
    cluster = Cluster(tmp_path / "etcd", n=1, scheme="https", context=context,
                      extra=("--cert-file", str(certs["cert"]), "--key-file", str(certs["key"]),
                             "--trusted-ca-file", str(certs["ca"]), "--client-cert-auth"))
    cluster.start()
    try:
        url = cluster.endpoints[0]
        assert url.startswith("https://")
        tls = Tls(ca=str(certs["ca"]), cert=str(certs["cert"]), key=str(certs["key"]))
        j = EtcdJournal(EtcdClient([url], tls=tls), PREFIX, tmp_path / "local", actor=actor)
        j.append(ev.Noted(text="over TLS"), actor=actor, ts=T0)
        assert [r.payload.text for r in EtcdJournal(EtcdClient([url], tls=tls), PREFIX, readonly=True).records] == \
            ["over TLS"]
        with pytest.raises(EtcdError, match=f"etcd range: no endpoint answered .*{url}"):
            EtcdClient([url], tls=Tls(ca=str(certs["ca"]))).get(b"x")  # no client certificate: refused
        with pytest.raises(EtcdError, match=url):
            EtcdClient([url]).get(b"x")  # the system's CAs do not know this one
    finally:
        cluster.close()


class _Member(BaseHTTPRequestHandler):
    """An endpoint that answers every call with the status and body its server was given."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client stopped reading: what it must do with a body this big

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def member():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Member)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_member_without_a_leader_is_passed_over_for_the_next(member, etcd1):
    member.answer = (503, b'{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}')
    fake = f"http://127.0.0.1:{member.server_port}"
    client = EtcdClient([fake, *etcd1.endpoints])
    client.put(b"k", b"v")
    assert client.get(b"k").value == b"v"
    with pytest.raises(EtcdError, match=f"etcd put: no endpoint answered \\({fake}: HTTP 503: etcdserver: no leader\\)"):
        EtcdClient([fake]).put(b"k", b"v")


def test_a_huge_error_body_is_read_bounded_shown_in_one_line_and_scrubbed(member):
    token = "tok-" + "9f1c2b7a" * 4
    redact.remember(token)
    member.answer = (500, b'{"error":"' + b"x" * 50 + token.encode() + b"\\n" + b"y" * 4_000_000 + b'"}')
    fake = f"http://127.0.0.1:{member.server_port}"
    with pytest.raises(EtcdRefused) as refused:
        EtcdClient([fake]).txn([], [])
    said = str(refused.value)
    assert said.startswith(f"etcd {fake}: txn: HTTP 500: ")
    assert token not in said and "\n" not in said and len(said) < 400
