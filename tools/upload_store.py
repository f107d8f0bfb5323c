"""A served graph's upload store: images by content hash in one folder, bounded by the disk space
its files take (blocks, not bytes: ten thousand 20-byte files hold 40 MB of disk), by a number of
files and by age, pruned in O(1) amortised time per upload.

Why not scan the folder per upload: at 100k stored files one ``iterdir`` + ``stat`` pass took
3.6 s, per upload. The store keeps an index (path → last use, disk bytes) in memory, ordered by
last use, with the running total; adding or touching an entry and evicting the oldest are O(1).
The folder is scanned again only after as many additions as it held entries (at least
:data:`RESCAN_MIN`), so the scans cost O(1) per upload amortised, and files another process
added or removed meanwhile are picked up then.

Nothing is stored here that has not been decoded as an image first (the boundary decodes, then
stores): a refused upload never reaches the disk.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

RESCAN_MIN = 256
PART = ".part"
# the sniffed kind's suffix (for people: the decoder sniffs the bytes itself)
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp",
           "TIFF": ".tif", "HEIF": ".heic"}


def disk_bytes(st: os.stat_result) -> int:
    """What a file takes on disk: its allocated blocks (at least its size where the file
    system reports no blocks)."""
    blocks = getattr(st, "st_blocks", None)
    return max(int(blocks) * 512, 0) if blocks is not None else st.st_size


class UploadStore:
    """One folder of uploads (see the module docstring). Thread-safe; share one per folder
    (:func:`upload_store`)."""

    def __init__(self, directory: Path, max_bytes: int, max_age_s: float, max_files: int):
        self.directory = Path(directory)
        self.max_bytes, self.max_age_s, self.max_files = max_bytes, max_age_s, max_files
        self._lock = threading.Lock()
        self._index: OrderedDict[str, tuple[float, int]] = OrderedDict()  # name → (used, disk)
        self._total = 0
        self._added_since_scan = 0
        self._scanned = False

    # ------------------------------------------------------------------ reading
    def name_for(self, data: bytes, kind: str | None) -> str:
        return hashlib.sha256(data).hexdigest() + _SUFFIX.get(kind or "", ".img")

    def holds(self, path: Path) -> bool:
        """Whether ``path`` names an entry of this folder by its content-hash name."""
        return path.parent == self.directory and len(path.stem) == 64 and all(
            c in "0123456789abcdef" for c in path.stem)

    @property
    def disk_total(self) -> int:
        with self._lock:
            self._ensure_scanned()
            return self._total

    def __len__(self) -> int:
        with self._lock:
            self._ensure_scanned()
            return len(self._index)

    # ------------------------------------------------------------------ writing
    def add(self, data: bytes, kind: str | None) -> Path:
        """Store ``data`` (already decoded as an image by the caller) under its hash, or mark
        the stored copy as just used; then evict what is over the limits (never this one)."""
        name = self.name_for(data, kind)
        path = self.directory / name
        with self._lock:
            self._ensure_scanned()
            self.directory.mkdir(parents=True, exist_ok=True)
            now = time.time()
            if name in self._index and path.is_file():
                os.utime(path)
                self._index.move_to_end(name)
                self._index[name] = (now, self._index[name][1])
            else:
                partial = path.with_name(f"{name}.{os.getpid()}.{threading.get_ident()}{PART}")
                partial.write_bytes(data)
                os.replace(partial, path)  # atomic: a concurrent reader never sees half a file
                self._forget(name)
                size = disk_bytes(path.stat())
                self._index[name] = (now, size)
                self._total += size
                self._added_since_scan += 1
            self._evict(now, keep=name)
            if self._added_since_scan >= max(RESCAN_MIN, len(self._index)):
                self._scan()  # amortised: once per as many additions as the store holds
        return path

    def _forget(self, name: str) -> None:
        old = self._index.pop(name, None)
        if old is not None:
            self._total -= old[1]

    def _evict(self, now: float, keep: str | None) -> None:
        """Drop the least recently used entries while over a limit or too old (O(1) each)."""
        while self._index:
            name, (used, size) = next(iter(self._index.items()))
            over = (self._total > self.max_bytes or len(self._index) > self.max_files
                    or now - used > self.max_age_s)
            if not over or name == keep:
                break
            self._index.popitem(last=False)
            self._total -= size
            (self.directory / name).unlink(missing_ok=True)

    def _ensure_scanned(self) -> None:
        if not self._scanned:
            self._scan()

    def _scan(self) -> None:
        """Rebuild the index from the folder (files of other processes included); stale partial
        files are removed."""
        entries = []
        now = time.time()
        for entry in os.scandir(self.directory) if self.directory.is_dir() else ():
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.name.endswith(PART):
                if now - st.st_mtime > 3600:
                    Path(entry.path).unlink(missing_ok=True)
                continue
            if entry.is_file(follow_symlinks=False):
                entries.append((st.st_mtime, entry.name, disk_bytes(st)))
        entries.sort()
        self._index = OrderedDict((name, (mtime, size)) for mtime, name, size in entries)
        self._total = sum(size for _, _, size in entries)
        self._added_since_scan = 0
        self._scanned = True
        self._evict(now, keep=None)


_STORES: dict[Path, UploadStore] = {}
_STORES_LOCK = threading.Lock()


def upload_store(directory: Path, max_bytes: int, max_age_s: float, max_files: int) -> UploadStore:
    """The one store of ``directory`` in this process, with these limits."""
    key = Path(os.path.abspath(directory))
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = UploadStore(key, max_bytes, max_age_s, max_files)
        store.max_bytes, store.max_age_s, store.max_files = max_bytes, max_age_s, max_files
        return store


__all__ = ["UploadStore", "disk_bytes", "upload_store"]
