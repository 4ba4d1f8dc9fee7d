"""Copying a journal between a state dir and etcd (what `cockpit migrate` runs): verified before, compared after.

The lines are copied byte for byte (each keeps its hash and its link to the one before), so the copy
verifies by the same scan and replays to the same state. Into etcd, the lines go in txns of up to
COPY_OPS events, each moving the head with them and conditional on the head the previous one left:
an interrupted copy is a shorter journal that verifies, and a writer that appears mid-copy stops it.
"""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.core.events import GENESIS
from cockpit.store import verify as file_journal
from cockpit.store.chain import JournalError
from cockpit.store.etcd_client import Compare, EtcdClient, EtcdError, prefix_end, put
from cockpit.store.etcd_journal import head_key, journal_base, journal_key, snapshot, verify
from cockpit.store.head import Head, write_head
from cockpit.store.statedir import SHARED_MODE, StateDirError, make_dir, open_file
from cockpit.store.verify import JOURNAL

COPY_OPS = 100  # events per txn (etcd allows 128 operations in one by default, --max-txn-ops)


def to_etcd(state_dir: Path, client: EtcdClient, prefix: str) -> int:
    """Copy a state dir's journal to an empty prefix on etcd; how many events were copied."""
    state_dir, prefix = Path(state_dir), prefix.rstrip("/")
    where = f"etcd:{prefix}"
    scan = file_journal.verify(state_dir)
    trouble = scan.problem or scan.head
    if trouble is not None:
        raise JournalError(f"{state_dir / JOURNAL}: {trouble}: a journal that does not verify is not copied")
    lines = (state_dir / JOURNAL).read_bytes().splitlines(keepends=True)
    base = journal_base(prefix)
    try:
        if client.count(base, prefix_end(base)) or client.get(head_key(prefix)) is not None:
            raise JournalError(f"{where}: holds a journal already; nothing copied")
        head_rev = 0
        for start in range(0, len(lines), COPY_OPS):
            chunk = lines[start:start + COPY_OPS]
            last = scan.records[start + len(chunk) - 1]
            ops = [put(journal_key(prefix, start + k + 1), line) for k, line in enumerate(chunk)]
            ops.append(put(head_key(prefix), b'{"seq": %d, "hash": "%s"}' % (last.seq, last.hash.encode())))
            res = client.txn([Compare(head_key(prefix), "mod", head_rev)], ops)
            if not res.succeeded:
                raise JournalError(f"{where}: another writer appended while copying; {start} events copied, "
                                   "then stopped")
            head_rev = res.revision
    except EtcdError as e:
        raise JournalError(f"{where}: copying: {e}") from None
    copied = verify(client, prefix)
    if copied.problem or copied.head or copied.records != scan.records:
        raise JournalError(f"{where}: the copy does not read back as the journal it copies "
                           f"({copied.problem or copied.head or 'other events'})")
    return len(lines)


def to_file(client: EtcdClient, prefix: str, state_dir: Path) -> int:
    """Copy a journal on etcd into a state dir that has none; how many events were copied."""
    state_dir, prefix = Path(state_dir), prefix.rstrip("/")
    data, scan = snapshot(client, prefix)
    trouble = scan.problem or scan.head
    if trouble is not None:
        raise JournalError(f"etcd:{prefix}: {trouble}: a journal that does not verify is not copied")
    path = state_dir / JOURNAL
    try:
        make_dir(state_dir)
        fd, created = open_file(path, os.O_WRONLY | os.O_CREAT, SHARED_MODE, "copying the journal")
    except StateDirError as e:
        raise JournalError(f"{e}; nothing copied") from None
    if not created:
        os.close(fd)
        raise JournalError(f"{path}: a journal is there already; nothing copied")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    last = scan.records[-1] if scan.records else None
    write_head(state_dir, Head(last.seq, last.hash) if last else Head(0, GENESIS))
    copied = file_journal.verify(state_dir)
    if copied.problem or copied.head or copied.records != scan.records:
        raise JournalError(f"{path}: the copy does not read back as the journal it copies")
    return len(scan.records)
