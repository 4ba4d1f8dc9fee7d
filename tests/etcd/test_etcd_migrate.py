"""Copying a journal between a state dir and etcd: byte for byte both ways, verified before and after,
refused when the source does not verify or the destination holds a journal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit.core import events as ev
from cockpit.store.chain import JournalError
from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_journal import EtcdJournal, journal_key
from cockpit.store.etcd_journal import verify as etcd_verify
from cockpit.store.etcd_migrate import COPY_OPS, to_etcd, to_file
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL
from cockpit.store.verify import verify as file_verify
from tests.conftest import T0
from tests.etcd.test_etcd_journal import PAYLOADS

PREFIX = "/cockpit/intelgraph/v0.1.0"


def test_a_journal_goes_to_etcd_and_back_byte_for_byte(etcd1, tmp_path, actor):
    source = tmp_path / "bastion-a"
    j = Journal(source)
    n = 2 * COPY_OPS + 37  # three txns, the last one short
    for i in range(n):
        j.append(PAYLOADS[i % len(PAYLOADS)], actor=actor, ts=T0 + timedelta(seconds=i))
    client = EtcdClient(etcd1.endpoints)
    assert to_etcd(source, client, PREFIX) == n
    assert EtcdJournal(client, PREFIX, readonly=True).records == j.records
    scan = etcd_verify(client, PREFIX)
    assert scan.problem is None and scan.head is None

    writer = EtcdJournal(client, PREFIX, tmp_path / "bastion-b", actor=actor)  # goes on from the copy
    writer.append(ev.Noted(text="appended on etcd"), actor=actor, ts=T0)
    back = tmp_path / "bastion-c"
    assert to_file(client, PREFIX, back) == n + 1
    original = (source / JOURNAL).read_bytes()
    assert (back / JOURNAL).read_bytes()[: len(original)] == original
    assert Journal(back).records == writer.records
    assert file_verify(back).problem is None and file_verify(back).head is None

    with pytest.raises(JournalError, match="holds a journal already"):
        to_etcd(source, client, PREFIX)
    with pytest.raises(JournalError, match="a journal is there already"):
        to_file(client, PREFIX, back)


def test_a_journal_that_does_not_verify_is_not_copied(etcd1, tmp_path, actor):
    source = tmp_path / "bastion-a"
    j = Journal(source)
    for i in range(3):
        j.append(ev.Noted(text=f"note {i}"), actor=actor, ts=T0)
    path = source / JOURNAL
    path.write_bytes(path.read_bytes().replace(b"note 1", b"note X"))
    client = EtcdClient(etcd1.endpoints)
    with pytest.raises(JournalError, match="line 2: edited.*not copied"):
        to_etcd(source, client, PREFIX)
    assert client.count(journal_key(PREFIX, 0)[:-20], journal_key(PREFIX, 99)) == 0

    other = "/cockpit/other/v1"
    EtcdJournal(client, other, tmp_path / "local", actor=actor).append(ev.Noted(text="x"), actor=actor, ts=T0)
    client.put(journal_key(other, 1), b"not a line\n")
    with pytest.raises(JournalError, match="line 1: .*not copied"):
        to_file(client, other, tmp_path / "back")
    assert not (tmp_path / "back" / JOURNAL).exists()
