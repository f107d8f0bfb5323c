"""How a run fails: :class:`RunError` stops the whole run; :func:`failed_row` and
:func:`timeout_row` are the rows of one image that failed.

Shared by the run's driver (:mod:`.runner`) and both engines that locate its images (the pool of
worker processes, :mod:`.pool`, and the Ray actors, :mod:`.ray_engine`), so that a dead worker, a
lost actor or an image past its time is recorded the same way whichever engine ran it.
"""

from __future__ import annotations

from sinoloc.eval.datasets import LabelledImage
from sinoloc.eval.results import ErrorKind, ResultRow, Status
from sinoloc.eval.run_config import RunConfig


class RunError(RuntimeError):
    """The run cannot start or go on (a config mismatch, a worker that cannot start, a run
    directory held by another run)."""


def failed_row(item: LabelledImage, status: Status, error: str, seconds: float, kind: ErrorKind,
               attempt: int) -> ResultRow:
    return ResultRow(id=item.id, status=status, error=error, error_kind=kind,
                     seconds=round(seconds, 3), truth=item.truth, attributes=item.attributes,
                     attempt=attempt)


def timeout_row(item: LabelledImage, config: RunConfig, elapsed: float,
                attempt: int) -> ResultRow:
    """The row of an image past the hard limit: past the graph's own budget, the machine (or a
    stuck call) held it, retried; within it, the locator's outcome, kept."""
    kind: ErrorKind = "infrastructure" if config.timeout_s > config.max_seconds else "locator"
    return failed_row(item, "timeout", f"no answer within {config.timeout_s:g} s", elapsed, kind,
                      attempt)
