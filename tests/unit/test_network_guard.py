"""The suite's network guard catches a deliberately unmocked call, in the test process and in
the subprocesses tests start (the control for "no test reaches the network")."""

import socket

import pytest
from network_guard import NetworkBlocked  # tests/netguard, on the path from tests/conftest.py

# a name that can never resolve (RFC 6761): were the guard broken, nothing would be sent anyway
NOWHERE = "generativelanguage.invalid"


def test_an_unmocked_http_call_is_blocked():
    import httpx

    with pytest.raises(httpx.ConnectError, match=r"name lookup of 'generativelanguage\.invalid'") \
            as caught:
        httpx.get(f"https://{NOWHERE}/v1beta/models")
    chain, error = [], caught.value
    while error is not None:  # httpx wraps httpcore's error, which wraps the guard's
        chain.append(type(error))
        error = error.__cause__ or error.__context__
    assert NetworkBlocked in chain


def test_a_raw_connect_to_a_public_address_is_blocked():
    with socket.socket() as sock, pytest.raises(NetworkBlocked, match="connect to"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused before any packet


def test_loopback_is_refused_without_the_marker():
    with socket.socket() as sock, pytest.raises(NetworkBlocked, match="loopback"):
        sock.connect(("127.0.0.1", 9))


@pytest.mark.loopback
def test_loopback_is_allowed_with_the_marker():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with server, socket.create_connection(server.getsockname(), timeout=5) as client:
        conn, peer = server.accept()
        conn.close()
        assert peer == client.getsockname()  # the connection really reached the listener
