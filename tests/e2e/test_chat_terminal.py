"""The real sinoloc chat process on a pseudo-terminal: Ctrl-C at the prompt is a reminder, Ctrl-C
during a turn cancels the turn, not the session."""

import contextlib
import os
import select
import sys
import time
from pathlib import Path

import pytest
from chat_images import chat_images


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return chat_images(tmp_path_factory.mktemp("chat"))


class NotYet(AssertionError):
    """What :meth:`Terminal.expect` waited for did not come in time."""


class Terminal:
    """The real ``sinoloc chat`` process on a pseudo-terminal (Ctrl-C is a real SIGINT)."""

    def __init__(self, argv: list[str], env: dict):
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the CLI
            os.execvpe(argv[0], argv, env)
        self.output, self._mark = b"", 0

    def expect(self, text: str, timeout: float = 120) -> float:
        """Wait for ``text`` after what was matched before; the seconds it took."""
        start, wanted = time.perf_counter(), text.encode()
        while wanted not in self.output[self._mark:]:
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                raise NotYet(f"no {text!r} in {self.output.decode(errors='replace')}")
            if select.select([self.fd], [], [], min(left, 0.5))[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"exited before {text!r}: "
                                         f"{self.output.decode(errors='replace')}")
                self.output += chunk
        self._mark = self.output.index(wanted, self._mark) + len(wanted)
        return time.perf_counter() - start

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def interrupt_at_prompt(self, answer: str, tries: int = 60) -> int:
        """Ctrl-C at the prompt until ``answer`` shows; how many it took. CPython's readline
        notices a SIGINT only while it waits in select(): one sent in the instant between the
        prompt being written and that wait stays pending until the next key, so another Ctrl-C
        (the next key; signals pending together are one) is sent while ``answer`` has not come,
        instead of guessing how long the prompt takes on a loaded machine."""
        for attempt in range(1, tries + 1):
            self.send("\x03")
            try:
                self.expect(answer, timeout=1.0)
                return attempt
            except NotYet:
                continue
        raise AssertionError(f"no {answer!r} after {tries} Ctrl-C")

    def wait(self, timeout: float = 60) -> int:
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.2)[0]:
                with contextlib.suppress(OSError):
                    self.output += os.read(self.fd, 65536)
        os.kill(self.pid, 9)
        raise AssertionError("the chat did not exit")


CLI = Path(sys.executable).with_name("sinoloc")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork") or not CLI.exists(),
                    reason="needs a POSIX pseudo-terminal and the installed CLI")
def test_ctrl_c_cancels_the_turn_not_the_session(tmp_path, images):
    from imaging import panorama_with_side_sign

    shop, _ = images
    panorama = tmp_path / "pano.jpg"
    panorama_with_side_sign(["成都市武侯区"], width=4096).save(panorama)
    env = {**os.environ, "SINOLOC_CHAT_DB": str(tmp_path / "t.sqlite"), "TERM": "dumb"}
    term = Terminal([str(CLI), "chat"], env)
    term.expect("sinoloc› ")
    term.send(f"{shop}\r")
    term.expect("● 浙江省杭州市西湖区")
    term.expect("sinoloc› ")
    term.interrupt_at_prompt("/quit or Ctrl-D leaves")  # a reminder, the session goes on
    term.send(f"{panorama}\r")
    term.expect("→ ocr()")
    term.send("\x03")  # during the turn: the turn ends, the session does not
    term.expect("(cancelled")
    term.expect("sinoloc› ")
    term.send("/candidates\r")
    term.expect("No answer for the current image yet")
    term.send(f"{shop}\r")
    term.expect("● 浙江省杭州市西湖区")
    term.send("/quit\r")
    assert term.wait() == 0
