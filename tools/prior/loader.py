"""Images to backbone features, fast: decoding, panorama views and preprocessing run in a thread
pool (Pillow, OpenCV and numpy release the interpreter lock), in order and with a bounded number
in flight, while the backbone sees full batches."""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from sinoloc.tools.prior.preprocess import Preprocessing

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int,
                window: int = 64) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, results in input order, at most ``window``
    items in flight (so a large set never sits in memory at once)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="prior-load") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class SeenImage(NamedTuple):
    """What one decode tells about an image file."""

    is_panorama: bool
    sha256: str  # of the file's bytes: identical files group together in the split


def look(item: tuple[str, str, bool | None]) -> tuple[str, SeenImage | None, str | None]:
    """Decode ``(key, path, _)`` once: what it is, or why it cannot be read."""
    from sinoloc.tools.images import ImageInputError, load_image

    key, path, _ = item
    try:
        meta = load_image(path).meta
    except (ImageInputError, OSError) as exc:
        return key, None, str(exc)
    return key, SeenImage(meta.is_panorama, meta.sha256), None


class ViewFeatures:
    """Every view's features of a list of images, batched across images."""

    def __init__(self, prep: Preprocessing, encode: Callable[[np.ndarray], torch.Tensor],
                 batch_size: int = 32, workers: int | None = None):
        self.prep, self.encode = prep, encode
        self.batch_size = batch_size
        self.workers = default_workers() if workers is None else workers

    def _load(self, item: tuple[str, str, bool | None]):
        from sinoloc.tools.images import ImageInputError, load_image

        key, path, panorama = item
        try:
            loaded = load_image(path)
        except (ImageInputError, OSError) as exc:
            return key, None, [], str(exc)
        seen = SeenImage(loaded.meta.is_panorama if panorama is None else panorama,
                         loaded.meta.sha256)
        arrays = [self.prep.array(v) for v in self.prep.views(loaded.image, seen.is_panorama)]
        return key, seen, arrays, None

    def run(self, items: list[tuple[str, str, bool | None]], progress: bool = False,
            desc: str = "reading images"):
        """``items`` are (key, image path, panorama flag or None to detect). Returns
        ({key: features (views × width)}, {key: SeenImage}, {key: why unreadable})."""
        import torch
        from tqdm import tqdm

        features: dict = {}
        seen: dict[str, SeenImage] = {}
        failed: dict[str, str] = {}
        arrays: list[np.ndarray] = []
        owners: list[str] = []

        def flush() -> None:
            if not arrays:
                return
            rows = self.encode(np.stack(arrays))
            for key, row in zip(owners, rows, strict=True):
                features.setdefault(key, []).append(row)
            arrays.clear()
            owners.clear()

        loaded = ordered_map(self._load, items, self.workers, window=4 * self.batch_size)
        for key, image, views, error in tqdm(
                loaded, total=len(items), desc=desc, disable=not progress, file=sys.stderr,
                leave=False, dynamic_ncols=True):
            if error is not None:
                failed[key] = error
                continue
            seen[key] = image
            arrays.extend(views)
            owners.extend([key] * len(views))
            if len(arrays) >= self.batch_size:
                flush()
        flush()
        return {k: torch.stack(v) for k, v in features.items()}, seen, failed
