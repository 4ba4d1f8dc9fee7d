"""One suite, both backends: the guard lease as the guard uses it (try_acquire, held, release, who holds it)
holds for the kernel lock on the state dir and for the lease on etcd alike."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from cockpit.store.etcd_client import EtcdClient
from cockpit.store.etcd_lease import EtcdGuardLease
from cockpit.store.locks import GuardLease, guard_holder

PREFIX = "/cockpit/contract/v1"


@dataclass
class Backend:
    lease: Callable[[str], GuardLease | EtcdGuardLease]  # a guard by user name
    holder: Callable[[], dict | None]


@pytest.fixture(params=["file", "etcd"])
def backend(request, tmp_path) -> Backend:
    def who(user: str) -> dict:
        return {"user": user, "host": "bastion", "pid": os.getpid(), "since": "2026-11-26T14:00:00Z"}

    if request.param == "file":
        state = tmp_path / "state"
        return Backend(lambda user: GuardLease(state, who(user)), lambda: guard_holder(state))
    cluster = request.getfixturevalue("etcd1")
    return Backend(lambda user: EtcdGuardLease(EtcdClient(cluster.endpoints), PREFIX, who(user), ttl_s=5),
                   lambda: EtcdGuardLease(EtcdClient(cluster.endpoints), PREFIX, {}).holder())


def test_one_guard_holds_it_and_says_who_it_is(backend):
    a, b = backend.lease("alice"), backend.lease("bob")
    assert backend.holder() is None
    assert a.try_acquire() and a.held
    assert a.try_acquire()  # again: still ours
    assert not b.try_acquire() and not b.held
    holder = backend.holder()
    assert holder is not None and holder["user"] == "alice" and holder["pid"] == os.getpid()


def test_a_release_frees_it_at_once_for_the_next_guard(backend):
    a, b = backend.lease("alice"), backend.lease("bob")
    assert a.try_acquire()
    a.release()
    assert not a.held and backend.holder() is None
    assert b.try_acquire() and b.held
    assert backend.holder()["user"] == "bob"
    b.release()
    a.release()  # twice: nothing happens


def test_what_the_guard_asks_each_round_and_before_a_gateway_call(backend):
    """renew, still_holder, valid_for, holder, fence: a kernel lock needs no renewal and has no epoch
    (held as long as its process lives); etcd's lease has an epoch that only grows."""
    a, b = backend.lease("alice"), backend.lease("bob")
    assert not a.still_holder() and a.valid_for() == 0 and a.fence is None
    assert a.try_acquire()
    assert a.renew() and a.still_holder() and a.valid_for() > 0 and a.lost is None
    assert a.holder()["user"] == "alice"
    if a.epoch is None:  # the kernel lock
        assert a.fence is None and a.valid_for() == float("inf")
    else:
        assert a.fence == (a.key, a.epoch) and a.holder()["epoch"] == a.epoch
    first = a.epoch
    a.release()
    assert not a.still_holder() and a.valid_for() == 0 and a.holder() is None
    assert b.try_acquire() and not a.still_holder()
    assert (b.epoch is None) == (first is None) and (first is None or b.epoch > first)
