"""Loaded by every Python subprocess of the test suite (``tests/netguard`` is on its
``PYTHONPATH``): the same network guard as the test process, loopback allowed."""

import os

if os.environ.get("SINOLOC_TEST_NETGUARD") == "1":
    from network_guard import install

    install(lambda: True)
