"""Opening files that a person, a dataset row or a client names: regular files only, reads bounded.

Why: ``Path.read_bytes()`` on ``/dev/zero`` reads until memory runs out, and on a FIFO it blocks
forever (a served graph's only worker with it). So every such file is ``stat``-ed before it is
opened (FIFOs, devices, sockets and directories are refused at once, with one line), opened with
``O_NONBLOCK`` and checked again with ``fstat`` on the open descriptor (a file swapped for a FIFO
between the two calls cannot hang the read), and read no further than the size limit (a file that
grows past it while being read is refused too). An optional ``head_check`` sees the first bytes
before the rest is read, so a large file of the wrong kind costs one small read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

HEAD_BYTES = 64
MB = 1024 * 1024
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))


class FileRefusedError(ValueError):
    """A file that is missing, not a regular file, unreadable or over the size limit."""


class MissingFileError(FileRefusedError):
    """No file by that name (or a path through something that is not a directory)."""


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check(st: os.stat_result, label: str, max_bytes: int) -> None:
    kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else _kind(st.st_mode)
    if kind is not None:
        raise FileRefusedError(f"{label}: is {kind}, not a regular file")
    if st.st_size > max_bytes:
        raise FileRefusedError(f"{label}: file is {st.st_size / MB:.0f} MB, over the "
                               f"{max_bytes / MB:.0f} MB limit")


def _os_error(label: str, exc: OSError) -> FileRefusedError:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return MissingFileError(f"{label}: no such file")
    return FileRefusedError(f"{label}: cannot read ({exc.strerror or exc.__class__.__name__})")


def open_regular_file(path: str | os.PathLike, max_bytes: int, *,
                      label: str | None = None, follow_symlinks: bool = True) -> BinaryIO:
    """An open binary file for ``path`` when it is a regular file of at most ``max_bytes``;
    raises :class:`FileRefusedError` (one line, naming ``label`` or the path) otherwise.
    ``follow_symlinks=False`` refuses a symbolic link as the last component too (``O_NOFOLLOW``:
    for files a server finds in a folder someone else may write to)."""
    label = label if label is not None else str(path)
    flags = _OPEN_FLAGS if follow_symlinks else _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0)
    try:
        # a FIFO is refused before open() could block, a link before it is followed
        _check(os.stat(path, follow_symlinks=follow_symlinks), label, max_bytes)
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_error(label, exc) from exc
    try:
        _check(os.fstat(fd), label, max_bytes)  # what was opened, not what the name pointed at
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_bounded(handle: BinaryIO, label: str, max_bytes: int,
                  head_check: Callable[[bytes], None] | None) -> bytes:
    try:
        head = handle.read(min(HEAD_BYTES, max_bytes + 1))
        if head_check is not None:
            head_check(head)
        data = head + handle.read(max_bytes + 1 - len(head))
    except OSError as exc:
        raise _os_error(label, exc) from exc
    if len(data) > max_bytes:  # it grew after the size check
        raise FileRefusedError(f"{label}: over the {max_bytes / MB:.0f} MB limit")
    return data


def read_regular_file(path: str | os.PathLike, max_bytes: int, *, label: str | None = None,
                      head_check: Callable[[bytes], None] | None = None,
                      follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file (see :func:`open_regular_file`); ``head_check`` is called
    with the first bytes before the rest is read and may raise to stop there."""
    label = label if label is not None else str(path)
    with open_regular_file(path, max_bytes, label=label,
                           follow_symlinks=follow_symlinks) as handle:
        return _read_bounded(handle, label, max_bytes, head_check)


def copy_regular_file(source: str | os.PathLike, target: str | os.PathLike, max_bytes: int, *,
                      label: str | None = None,
                      head_check: Callable[[bytes], None] | None = None) -> Path:
    """Copy a regular file to ``target`` without ever writing more than ``max_bytes``."""
    label = label if label is not None else str(source)
    target = Path(target)
    with open_regular_file(source, max_bytes, label=label) as handle:
        try:
            head = handle.read(min(HEAD_BYTES, max_bytes + 1))
            if head_check is not None:
                head_check(head)
            with open(target, "wb") as out:
                out.write(head)
                written = len(head)
                while written <= max_bytes:
                    chunk = handle.read(min(1 << 20, max_bytes + 1 - written))
                    if not chunk:
                        break
                    out.write(chunk)
                    written += len(chunk)
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise _os_error(label, exc) from exc
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    if written > max_bytes:
        target.unlink(missing_ok=True)
        raise FileRefusedError(f"{label}: over the {max_bytes / MB:.0f} MB limit")
    return target


__all__ = ["HEAD_BYTES", "MB", "FileRefusedError", "MissingFileError", "copy_regular_file",
           "open_regular_file", "read_regular_file"]
