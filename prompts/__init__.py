"""Prompt texts live as Markdown files beside this module; code only fills them in."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=32)
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.md`` (or of ``prompts/<name>`` when it has a suffix)."""
    filename = name if "." in name else f"{name}.md"
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


def render_prompt(name: str, **values: object) -> str:
    """``load_prompt`` with ``{placeholders}`` filled in."""
    return load_prompt(name).format(**values)
