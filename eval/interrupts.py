"""SIGTERM and SIGINT as one exception, raised only where the runner can stop cleanly.

The runner must never be stopped between appending a row and counting it, nor while it writes
``run.json``: such a stop made ``rows_written`` disagree with the file. A signal that arrives
inside :meth:`Interrupts.critical` is held and raised when the section ends; the first signal
raises :class:`RunInterrupted`, later ones (an impatient second Ctrl-C during clean-up) are
noted and ignored so that the clean-up finishes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# What signal.signal returns and accepts (typeshed keeps its own alias private).
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class RunInterrupted(BaseException):
    """The run was asked to stop. A BaseException, so that no ``except Exception`` inside a
    locator turns it into an image's error row."""

    def __init__(self, signum: int):
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.rows_written = 0  # set by the runner: rows its session wrote before it stopped
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class Interrupts:
    """Installs the handlers for the ``with`` block (main thread only; elsewhere a no-op)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False
        self._depth = 0
        self._saved: dict[int, Handler] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self._depth == 0:
            self._raise()

    def _raise(self) -> None:
        if self.signum is not None and not self.raised:
            self.raised = True
            raise RunInterrupted(self.signum)

    def ignore_further(self) -> None:
        """From now on signals are noted, never raised (the final clean-up has begun)."""
        self.raised = True

    @contextlib.contextmanager
    def critical(self):
        """A section that a signal must not cut in two."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0:
            self._raise()

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()
