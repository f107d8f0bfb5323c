import os
import sys
import tempfile
from pathlib import Path

import pytest

GUARD_DIR = Path(__file__).parent / "netguard"
# the helpers every tier imports by bare name (`from imaging import hangzhou_shop`)
SUPPORT_DIR = Path(__file__).parent / "support"
sys.path[:0] = [str(GUARD_DIR), str(SUPPORT_DIR)]

from network_guard import NetworkBlocked, install  # noqa: E402

# every Python subprocess a test starts (the CLI, eval and training workers) loads the guard too,
# and finds the helpers (a worker importing `python:test_x:factory` imports what test_x imports)
os.environ["SINOLOC_TEST_NETGUARD"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(GUARD_DIR), str(SUPPORT_DIR),
     *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])

# the user's own corrections and promoted knowledge entries (agent/corrections.py) never reach a
# test: by default they live in a fresh folder per session (tests that need them set their own)
_USER_FILES = Path(tempfile.mkdtemp(prefix="sinoloc-test-user-"))
os.environ["SINOLOC_CORRECTIONS"] = str(_USER_FILES / "corrections.jsonl")
os.environ["SINOLOC_USER_KNOWLEDGE"] = str(_USER_FILES / "user_knowledge.csv")

# tests/unit, tests/graph, tests/e2e: each test is marked with its tier (`-m unit`, `-m "not e2e"`)
TIERS = ("unit", "graph", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.path)).parent.name
        if tier in TIERS:
            item.add_marker(tier)


_LOOPBACK = {"allowed": False}
install(lambda: _LOOPBACK["allowed"])



@pytest.fixture(autouse=True)
def network_guard(request):
    """No test reaches the network; loopback only for tests that declare their own server."""
    _LOOPBACK["allowed"] = request.node.get_closest_marker("loopback") is not None \
        or "loopback" in request.fixturenames
    yield
    _LOOPBACK["allowed"] = False


@pytest.fixture
def loopback():
    """Declares that the test starts a server on 127.0.0.1 and talks to it."""
    return "127.0.0.1"


@pytest.fixture(scope="session")
def regions():
    from sinoloc.tools.regions import get_region_index

    return get_region_index()


__all__ = ["NetworkBlocked"]
