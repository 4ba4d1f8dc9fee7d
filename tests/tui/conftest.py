import pytest


@pytest.fixture
def anyio_backend():
    """Async tests run on asyncio (anyio's pytest plugin ships with httpx's anyio)."""
    return "asyncio"
