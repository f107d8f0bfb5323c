"""The rows of an eval run and the append-only JSONL log they live in.

Each finished image is one line, written with a single ``write`` on an ``O_APPEND`` descriptor
and ``fsync``-ed before the next image starts, so a run killed at any moment leaves every
finished row intact and at most one partial last line, which :meth:`ResultsLog.open` cuts off.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .datasets import Truth

Status = Literal["ok", "bad_image", "error", "timeout"]


class ResultRow(BaseModel):
    """One image's outcome: the prediction (a GeoPrediction as JSON) or why there is none."""

    id: str
    status: Status
    error: str | None = None
    seconds: float
    truth: Truth
    attributes: dict[str, str] = Field(default_factory=dict)
    prediction: dict | None = None

    @property
    def answered(self) -> bool:
        return self.status == "ok" and self.prediction is not None


class ResultsLog:
    """An append-only JSONL of records with an ``id`` (``predictions.jsonl`` of a run
    directory, ``cot.jsonl`` of CoT data): fsynced appends, a killed writer's partial last
    line cut off on resume."""

    def __init__(self, path: Path, model: type[BaseModel] | None = None):
        self.path = path
        self.model = model or ResultRow

    def repair(self) -> int:
        """Cut off a partial last line left by a killed run; returns the bytes removed."""
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep == len(data):
            return 0
        with self.path.open("r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        return len(data) - keep

    def read(self) -> list:
        """Every complete row; a later row for an id already seen is ignored."""
        if not self.path.exists():
            return []
        rows, seen = [], set()
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a partial last line (the writer was killed mid-write)
                if not line.strip():
                    continue
                row = self.model.model_validate_json(line)
                if row.id not in seen:
                    seen.add(row.id)
                    rows.append(row)
        return rows

    def append(self, row: BaseModel) -> None:
        line = (json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
