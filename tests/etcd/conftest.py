"""Real etcd for the store's tests: a single member (fast) and a three-member cluster, on loopback."""

from __future__ import annotations

import pytest

from tests.etcd_cluster import Cluster


@pytest.fixture
def etcd1(tmp_path):
    """One etcd member of its own (ports and data dir picked for this test)."""
    cluster = Cluster(tmp_path / "etcd1", n=1)
    for attempt in range(3):  # a port picked free may be taken by another worker before etcd binds it
        try:
            cluster.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
            cluster = Cluster(tmp_path / f"etcd1-{attempt}", n=1)
    yield cluster
    cluster.close()


@pytest.fixture
def etcd3(tmp_path):
    """Three etcd members forming one cluster; stopped (and SIGCONT'd first) at teardown."""
    cluster = Cluster(tmp_path / "etcd3", n=3)
    for attempt in range(3):
        try:
            cluster.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
            cluster = Cluster(tmp_path / f"etcd3-{attempt}", n=3)
    yield cluster
    cluster.close()
