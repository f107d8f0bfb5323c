"""A socket guard for tests of online code: every attempt to resolve a name or open a connection is
counted and refused (what a mock misses fails instead of reaching the network)."""

import socket


class SocketGuard:
    """Every attempt to resolve a name or open a connection is counted and refused."""

    def __init__(self, monkeypatch):
        self.attempts: list[str] = []

        def refuse(name):
            def blocked(*args, **kwargs):
                self.attempts.append(f"{name}{args[1:2] if name == 'connect' else args[:1]}")
                raise OSError(f"network blocked by the test ({name})")
            return blocked

        monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
        monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
