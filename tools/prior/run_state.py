"""What a training run keeps in its output directory between sessions: ``train_state.pt``
(written after every epoch, so ``--resume`` continues) and ``features.pt`` (a frozen backbone's
features, computed once). Both are read with ``weights_only``: plain data and tensors only."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

STATE_FILE, FEATURES_FILE = "train_state.pt", "features.pt"


class TrainingError(RuntimeError):
    """The run cannot start or continue (bad data, a mismatched resume, …)."""


def read_state(out: Path, setup: dict, resume: bool,
               echo: Callable[[str], None]) -> dict | None:
    """The saved state to continue from, None to start afresh; refuses to overwrite a run
    without ``resume`` and to resume one whose data or options (``setup``) differ."""
    import torch

    path = out / STATE_FILE
    if not path.is_file():
        if resume:
            echo(f"no saved run in {out}: starting afresh")
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, or not ours (only plain data is ever unpickled)
        raise TrainingError(f"{path} cannot be read ({exc.__class__.__name__}): "
                            "remove it to start afresh, or choose another --out") from exc
    done = f"{state['epoch']}/{state['setup'].get('epochs_planned', '?')}"
    if not resume:
        raise TrainingError(f"{out} holds a training run (epoch {done}); pass "
                            "--resume to continue it, or choose another --out")
    planned = {k: v for k, v in state["setup"].items() if k != "epochs_planned"}
    if planned != setup:
        changed = sorted(k for k in set(planned) | set(setup) if planned.get(k) != setup.get(k))
        raise TrainingError(f"cannot resume {out}: {', '.join(changed)} differ "
                            "from the saved run (the data file or options changed)")
    echo(f"resuming {out} after epoch {state['epoch']}")
    return state


def write_state(out: Path, state: dict) -> None:
    """Atomically: a kill mid-write leaves the previous epoch's state."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    path = out / STATE_FILE
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def write_features(out: Path, setup: dict, features: dict) -> None:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    torch.save({"setup": setup, "features": features}, out / FEATURES_FILE)


def read_features(out: Path, setup: dict) -> dict:
    import torch

    path = out / FEATURES_FILE
    cached = torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None
    if cached is None or cached["setup"] != setup:
        raise TrainingError(f"{path} is missing or was made for another run: start "
                            "afresh in a new --out")
    return cached["features"]
