import pytest


@pytest.fixture
def anyio_backend():
    """Async tests run on asyncio (anyio's pytest plugin ships with httpx's anyio)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """A screen keeps its last frame in the user's cache (tui/kept.py): each test in its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
