"""Evaluation over TuXun-style labelled sets.

``datasets`` (load and validate CSV / JSONL sets) → ``runner`` (resumable, multi-process runs;
``worker`` locates one image behind the leak guards; ``results`` is the append-only row log) →
``scoring`` and ``metrics`` (per-image scores, summaries, bootstrap intervals, slices) →
``report`` and ``plots`` (Markdown, JSON and PNG; comparisons). ``sinoloc eval`` is
:mod:`sinoloc.app.cli.eval`.

The names below are imported lazily so that ``sinoloc``'s command line stays quick to start.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "load_dataset": "datasets", "validate": "datasets", "LabelledImage": "datasets",
    "RunConfig": "run_config", "run": "runner", "rows_of": "runner",
    "write_report": "report", "write_comparison": "report", "summarize": "scoring",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
