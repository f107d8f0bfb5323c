"""Two spawned processes share the online cache without error or loss."""

import multiprocessing

import pytest
from socket_guard import SocketGuard

from sinoloc.tools.online.store import OnlineStore


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Whatever a mock misses fails here instead of reaching the network."""
    return SocketGuard(monkeypatch)


def _hammer(path: str, worker: int, n: int) -> None:
    store = OnlineStore(path)
    for i in range(n):
        store.put("amap", f"w{worker}-q{i}", {"worker": worker, "i": i})
        store.put("amap", "shared", {"worker": worker, "i": i})
        assert store.get("amap", f"w{worker}-q{i}", ttl_s=0) == {"worker": worker, "i": i}
        store.reserve("nominatim", 0.0)


@pytest.mark.slow
def test_two_processes_share_the_cache_without_error_or_loss(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    OnlineStore(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(path, w, 300)) for w in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0, 0]
    store = OnlineStore(path)
    assert store.count("amap") == 2 * 300 + 1  # every entry, and the shared one once
    assert store.get("amap", "shared", ttl_s=0)["i"] == 299
