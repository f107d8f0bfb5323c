"""Which clue files make the corpus: the shipped ones (``data/corpus/*.csv``), the user's own
(``--knowledge`` through :func:`use_user_files`, else ``SINOLOC_KNOWLEDGE_FILES``, os.pathsep-
separated CSV / YAML files; this module is the one that reads it) and the entries promoted from
corrections (``SINOLOC_USER_KNOWLEDGE``, else ``user_knowledge.csv`` in the user data directory)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

USER_FILES_ENV = "SINOLOC_KNOWLEDGE_FILES"  # os.pathsep-separated CSV / YAML files
USER_KNOWLEDGE_ENV = "SINOLOC_USER_KNOWLEDGE"  # the entries promoted from corrections


def shipped_files() -> list[Path]:
    folder = resources.files(__package__).joinpath("data", "corpus")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".csv"))


_chosen_files: tuple[str, ...] | None = None  # set by use_user_files; None: the environment's


def use_user_files(files: Iterable[str | Path]) -> None:
    """Make ``files`` the user's clue files of this process (in place of ``SINOLOC_KNOWLEDGE_FILES``):
    how the CLI's ``--knowledge`` and a batch's workers pass them, without writing the environment."""
    global _chosen_files
    _chosen_files = tuple(str(Path(p).expanduser()) for p in files if str(p).strip())


def promoted_file() -> Path:
    """The user's own entries promoted from corrections (``sinoloc knowledge promote``):
    ``$SINOLOC_USER_KNOWLEDGE`` or ``user_knowledge.csv`` in the user data directory."""
    env = os.environ.get(USER_KNOWLEDGE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("sinoloc")) / "user_knowledge.csv"


def user_files() -> list[Path]:
    """The user's clue files: those given to :func:`use_user_files`, else the files named in
    ``SINOLOC_KNOWLEDGE_FILES`` (this module is the one that reads it); and the promoted
    corrections when there are."""
    if _chosen_files is not None:
        named = [Path(p) for p in _chosen_files]
    else:
        named = [Path(p).expanduser() for p in os.environ.get(USER_FILES_ENV, "").split(os.pathsep)
                 if p.strip()]
    promoted = promoted_file()
    return [*named, promoted] if promoted.is_file() and promoted not in named else named


def user_file_key() -> tuple[str, ...]:
    """The user's files as a hashable key (the corpus is loaded once per distinct key)."""
    return tuple(str(p) for p in user_files())


__all__ = ["USER_FILES_ENV", "USER_KNOWLEDGE_ENV", "promoted_file", "shipped_files", "use_user_files",
           "user_file_key", "user_files"]
