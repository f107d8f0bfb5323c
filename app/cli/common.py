"""What every command module shares and nothing else: the exit codes and the bundled demo image.
A leaf: it imports no other command module, so the commands never import each other."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


def demo_image() -> Path:
    """The demo photo shipped with the package (rendered by the project: a shop sign in 杭州)."""
    return Path(str(resources.files("sinoloc.tools").joinpath("assets", "demo_hangzhou.jpg")))


__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "EXIT_OK", "demo_image"]
