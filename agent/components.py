"""Components a run asks for by name — an OCR backend, a visual prior checkpoint — checked before
any work: one that cannot load is a clear error naming the fix, never a run that quietly goes
on without it. The same check serves the CLI and eval (before the first image: exit 2) and the
graph's ``ingest`` node (so the Python API, ``configurable`` and served graphs refuse alike).

The checks are cheap (an import lookup, a small JSON read) and cached; loading the models
themselves stays lazy (the CLI's warm-up thread, the first tool call).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from sinoloc.agent.settings import is_offline
from sinoloc.tools.ocr import OcrUnavailable, get_engine
from sinoloc.tools.prior import PriorUnavailable, configured_checkpoint


class ComponentUnavailable(ValueError):
    """A component the run asked for cannot be loaded."""


_OCR_PACKAGES = {"rapidocr": ("rapidocr", "pip install rapidocr onnxruntime"),
                 "paddleocr": ("paddleocr", "pip install '.[paddle]' in the sinoloc clone")}


@lru_cache(maxsize=8)
def check_ocr_backend(name: str) -> None:
    """The OCR backend ``name`` is known, installed and configured."""
    package, install = _OCR_PACKAGES.get(name, (None, None))
    if package is None:
        raise ComponentUnavailable(f"unknown OCR backend {name!r}: use rapidocr or paddleocr")
    if importlib.util.find_spec(package) is None:
        raise ComponentUnavailable(f"OCR backend {name}: the {package} package is not installed "
                                   f"({install})")
    try:
        get_engine(name)  # builds the engine object (model directories checked), not the models
    except OcrUnavailable as exc:
        raise ComponentUnavailable(f"OCR backend {name}: {exc}") from exc


def _prior_stamp(path: str) -> tuple[str, float]:
    """The checkpoint's resolved path and its JSON's mtime (a rewritten checkpoint is checked
    again)."""
    from sinoloc.tools.prior.checkpoint import CONFIG_FILE

    config = Path(path).expanduser() / CONFIG_FILE
    try:
        return str(Path(path).expanduser().resolve()), config.stat().st_mtime
    except OSError:
        return str(Path(path).expanduser()), -1.0


@lru_cache(maxsize=8)
def _check_prior(path: str, _mtime: float, offline: bool) -> None:
    from sinoloc.tools.prior.checkpoint import read_checkpoint

    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise ComponentUnavailable(f"visual prior {path}: {' and '.join(missing)} not installed "
                                   "(pip install '.[prior]' in the sinoloc clone)")
    from sinoloc.tools.prior.model import backbone_unreachable, hub_cached, hub_reachable

    try:
        checkpoint = read_checkpoint(path)
    except PriorUnavailable as exc:
        raise ComponentUnavailable(f"visual prior: {exc}") from exc
    backbone = checkpoint.backbone_source(Path(path).expanduser())
    if not Path(backbone).exists() and not hub_cached(backbone) and (
            is_offline(offline) or not hub_reachable()):  # offline: never probe the hub
        raise ComponentUnavailable(f"visual prior {path}: {backbone_unreachable(backbone)}")


def check_prior(given: str | None, offline: bool = False) -> str | None:
    """The prior checkpoint the run uses (``given``, else ``$SINOLOC_PRIOR_CHECKPOINT``), checked
    (its files, torch and transformers, and a backbone that is local, cached or, online,
    downloadable); None when none is configured."""
    path = configured_checkpoint(given)
    if path:
        _check_prior(*_prior_stamp(path), bool(offline))
    return path


def check_components(ocr_backend: str | None = None, prior: str | None = None,
                     offline: bool = False) -> None:
    """Every component a run names can load (raises :class:`ComponentUnavailable`)."""
    if ocr_backend:
        check_ocr_backend(ocr_backend)
    check_prior(prior, offline)


__all__ = ["ComponentUnavailable", "check_components", "check_ocr_backend", "check_prior"]
