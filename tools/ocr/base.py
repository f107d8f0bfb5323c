"""OCR records and the engine interface every backend implements."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field


class RawText(BaseModel):
    """One line as an engine returns it, in the coordinates of the array it was given."""

    text: str
    score: float
    box: list[tuple[float, float]] = Field(default_factory=list)  # 4 corners, clockwise


class OcrSpan(BaseModel):
    """One line of text found in the image, with where it was seen."""

    span_id: str
    text: str
    score: float
    view_id: str
    heading: float | None = None
    box: list[tuple[float, float]] = Field(default_factory=list)  # in the view's pixels
    also_in: list[str] = Field(default_factory=list)  # other views where it was read
    height_px: float = 0.0


class OcrEngine(Protocol):
    name: str

    def recognize(self, rgb: np.ndarray) -> list[RawText]:
        """Text lines in an RGB ``uint8`` array of shape (H, W, 3)."""
        ...


class OcrUnavailable(RuntimeError):
    """The configured OCR backend cannot run (missing package or model files)."""


class LazyEngine:
    """Creates its backend object on first use, exactly once even when threads race (the CLI
    warms the engine up in a thread while the graph is being built)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _create(self) -> Any:
        raise NotImplementedError

    def _get(self) -> Any:
        with self._lock:
            if self._engine is None:
                self._engine = self._create()
            return self._engine
