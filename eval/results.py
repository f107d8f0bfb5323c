"""The rows of an eval run and the append-only JSONL log they live in.

Each finished image is one line of ``predictions.jsonl``, a :class:`~sinoloc.tools.jsonl_log.JsonlLog`
(fsynced appends, damage skipped with a warning and set aside by ``--resume``: read its docstring);
here, what is particular to eval's rows: a row lost to the machine is retried.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from sinoloc.eval.datasets import Truth
from sinoloc.tools.jsonl_log import BadLine, JsonlLog, SetAside, atomic_write

__all__ = ["MAX_ATTEMPTS", "BadLine", "ErrorKind", "ResultRow", "ResultsLog", "SetAside", "Status",
           "atomic_write"]

Status = Literal["ok", "bad_image", "error", "timeout", "replay_miss"]
# image: the image itself (unreadable, not an image), kept; locator: the locator failed or ran out
# of its own time on it, kept; infrastructure: the machine lost the row (a worker killed by the OS,
# a hard timeout beyond the graph's own budget, a full disk), retried by --resume.
ErrorKind = Literal["image", "locator", "infrastructure"]
MAX_ATTEMPTS = 3  # an image that keeps killing its worker is kept as failed after this many tries

log = logging.getLogger(__name__)


class ResultRow(BaseModel):
    """One image's outcome: the prediction (a GeoPrediction as JSON) or why there is none."""

    id: str
    status: Status
    error: str | None = None
    seconds: float
    truth: Truth
    attributes: dict[str, str] = Field(default_factory=dict)
    prediction: dict | None = None
    error_kind: ErrorKind | None = None
    attempt: int = Field(default=1, ge=1, description="1 + earlier rows of this id set aside")
    session: int | None = Field(default=None, description="index of the run.json session")
    replay: dict | None = Field(default=None, description=(
        "a replayed run's hits, misses, live calls and first divergence (agent/records)"))

    @property
    def answered(self) -> bool:
        return self.status == "ok" and self.prediction is not None

    @property
    def retryable(self) -> bool:
        """Lost to the machine, not to the image, and not yet tried too often."""
        return self.error_kind == "infrastructure" and self.attempt < MAX_ATTEMPTS


class ResultsLog(JsonlLog[ResultRow]):
    """``predictions.jsonl`` of a run directory: result rows, warnings to this module's logger,
    and a row lost to the machine (:attr:`ResultRow.retryable`) run again on resume."""

    logger = log

    def __init__(self, path: Path) -> None:
        super().__init__(path, ResultRow)

    def retry_reason(self, row: ResultRow) -> str | None:
        return f"retryable ({row.error_kind}: {row.error})" if row.retryable else None
