"""Fixtures shared by the integration tests."""

import pytest

from tests.integration.haproxy import LoopbackHAProxy, haproxy_or_skip


@pytest.fixture
def haproxy():
    """A fresh haproxy per test (about 0.1 s): stable weight 100, canary 0."""
    rig = LoopbackHAProxy(haproxy_or_skip())
    try:
        rig.start()
        yield rig
    finally:
        rig.close()
