"""The visual prior: a hierarchical province → city → district classifier over a transformers
vision backbone (trained with ``sinoloc prior train``), or a zero-shot CLIP prior, run by the
``cnn_prior`` tool. torch and transformers are imported only by the modules that need them
(``labels``, ``distribution`` and ``data`` are numpy only)."""

from __future__ import annotations

import os

ENV_CHECKPOINT = "SINOLOC_PRIOR_CHECKPOINT"


def configured_checkpoint(given: str | None = None) -> str | None:
    """The prior checkpoint to use: the one given (--prior, a request's ``prior``), else
    ``$SINOLOC_PRIOR_CHECKPOINT``, else none."""
    return given or os.environ.get(ENV_CHECKPOINT) or None


class PriorUnavailable(RuntimeError):
    """The prior cannot run: no checkpoint, a backbone that cannot be loaded, a bad file."""
