"""Nothing leaves the machine unless the user configured it: a long-lived sinoloc process on a
fresh HOME, with every proxy variable pointing at a local listener that counts connections,
makes no connection attempt and writes no telemetry device id.

onnxruntime (RapidOCR's runtime) sends usage events through the system proxy from any process
that lives long enough and writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid``;
``import sinoloc`` switches that off (``tools/privacy.py``). The subprocess gets the environment
without the telemetry variables, as a new user's shell has it.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from imaging import hangzhou_shop

from sinoloc.tools.privacy import TELEMETRY_OFF
from sinoloc.tools.regions.index import default_cache_dir

LIVES_S = 30.0
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


class CountingListener:
    """Accepts connections on 127.0.0.1 and keeps the first bytes of each (a proxy CONNECT)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(200))
                except OSError:
                    self.seen.append(b"")

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def listener(loopback):
    counting = CountingListener()
    yield counting
    counting.close()


def fresh_env(home: Path, proxy: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_OFF}
    env.update({name: proxy for name in PROXY_VARS}, NO_PROXY="", no_proxy="", HOME=str(home),
               SINOLOC_CACHE_DIR=str(default_cache_dir()))  # the built region index: no 15 s rebuild
    for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env.pop(name, None)
    return env


LOCATE_FOR_A_WHILE = """
import sys, time
from sinoloc import Geolocator
geolocator = Geolocator()
first = geolocator.locate(sys.argv[1], offline=True)
start, runs = time.time(), 1
while time.time() - start < float(sys.argv[2]):
    geolocator.locate(sys.argv[1], offline=True)
    runs += 1
print(first.district, runs)
"""


@pytest.mark.slow
def test_a_long_lived_process_sends_nothing(tmp_path, listener):
    home = tmp_path / "home"
    home.mkdir()
    photo = tmp_path / "photo.jpg"
    hangzhou_shop(photo)
    start = time.time()
    done = subprocess.run([sys.executable, "-c", LOCATE_FOR_A_WHILE, str(photo), str(LIVES_S)],
                          env=fresh_env(home, listener.url), capture_output=True, text=True,
                          timeout=300)
    lived = time.time() - start
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("西湖区")
    time.sleep(1.0)  # a connection made at exit still reaches the listener
    assert lived >= LIVES_S
    assert listener.seen == [], listener.seen
    assert not (home / ".cache" / "Microsoft").exists()  # no onnxruntime device id


def test_the_listener_counts_what_honours_the_proxy(tmp_path, listener):
    """The control: a request that honours the proxy variables reaches the listener."""
    code = ("import urllib.request\n"
            "try:\n"
            "    urllib.request.urlopen('http://example.invalid/', timeout=3)\n"
            "except Exception:\n"
            "    pass\n")
    subprocess.run([sys.executable, "-c", code], env=fresh_env(tmp_path, listener.url),
                   timeout=60, check=True)
    deadline = time.time() + 5
    while not listener.seen and time.time() < deadline:
        time.sleep(0.05)
    assert listener.seen and b"example.invalid" in listener.seen[0]
