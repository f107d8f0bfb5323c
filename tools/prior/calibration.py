"""Pooling views and fitting the calibration temperature on validation."""

from __future__ import annotations

import numpy as np


def pooled_log_probs(heads, features, owners: list[int], temperature: float) -> np.ndarray:
    """Log of the mean of each image's view distributions (one row per image)."""
    import torch

    joint = heads.log_joint(features, temperature).double()
    owner = torch.tensor(owners, device=joint.device)
    images = int(owner.max()) + 1 if len(owners) else 0
    counts = torch.bincount(owner, minlength=images).to(joint.dtype)
    peak = joint.max()
    sums = torch.zeros((images, joint.shape[1]), dtype=joint.dtype, device=joint.device)
    sums = sums.index_add(0, owner, (joint - peak).exp())
    return ((sums / counts[:, None]).clamp_min(1e-300).log() + peak).cpu().numpy()


def view_owners(rows: list) -> list[int]:
    """For each view row of ``torch.cat(rows)``, the image (position in ``rows``) it shows."""
    return [i for i, r in enumerate(rows) for _ in range(r.shape[0])]


def true_districts(examples, space) -> list[int | None]:
    """Each example's district position in the label space (None outside it)."""
    return [(space.encode(ex.district_adcode) or (None, None, None))[2] for ex in examples]


def temperature_grid() -> np.ndarray:
    return np.exp(np.linspace(np.log(0.05), np.log(20.0), 81))


def fit_temperature(heads, features, owners: list[int], truths: list[int | None]) -> float:
    """The temperature minimising the validation negative log-likelihood of the true district
    (images whose district the space holds); 1.0 when none does. A coarse log-spaced grid,
    then a finer one around its best point."""
    rows = [i for i, t in enumerate(truths) if t is not None]
    if not rows:
        return 1.0
    targets = np.asarray([truths[i] for i in rows])

    def nll(t: float) -> float:
        log_probs = pooled_log_probs(heads, features, owners, float(t))
        return float(-np.mean(log_probs[rows, targets]))

    grid = temperature_grid()
    best = min(grid, key=nll)
    fine = best * np.exp(np.linspace(-0.12, 0.12, 13))
    return round(float(min(fine, key=nll)), 4)
