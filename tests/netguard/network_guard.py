"""A socket-level guard: no test reaches the network.

Every connection attempt and name lookup goes through Python's ``socket`` module (httpx,
httpx2, requests, urllib, asyncio all do); the guard refuses any that is not to this machine.
Loopback is refused too unless the current test declared that it starts its own server (the
``loopback`` marker or fixture); UNIX sockets are local and always allowed.

Installed by ``tests/conftest.py`` for the test process and, through ``sitecustomize`` on
``PYTHONPATH``, for every Python subprocess a test starts (CLI runs, eval workers): there
loopback is allowed, since such a process can only reach a server its test started.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkBlocked(OSError):
    """A test tried to reach the network."""


def _loopback_host(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def is_local(address) -> bool:
    """Whether a socket address stays on this machine (loopback or a UNIX socket path)."""
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    if isinstance(address, tuple) and address:
        return _loopback_host(address[0])
    return False


_installed: dict = {}


def install(loopback_allowed: Callable[[], bool]) -> None:
    """Patch ``socket`` so that only allowed destinations can be reached (idempotent)."""
    if _installed:
        _installed["allowed"] = loopback_allowed
        return
    _installed["allowed"] = loopback_allowed
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address, what: str) -> None:
        if is_local(address) and (isinstance(address, (str, bytes))
                                  or _installed["allowed"]()):
            return
        raise NetworkBlocked(f"blocked by the test network guard: {what} {address!r} "
                             "(a test may only reach a server it starts on 127.0.0.1, "
                             "and must declare it with the `loopback` marker or fixture)")

    def connect(self, address):
        check(address, "connect to")
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address, "connect to")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _loopback_host(host):
            raise NetworkBlocked(f"blocked by the test network guard: name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    _installed["real"] = (real_connect, real_connect_ex, real_getaddrinfo)
