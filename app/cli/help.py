"""Help text that tells the truth about defaults, for every ``sinoloc`` parser.

argparse's own ``ArgumentDefaultsHelpFormatter`` prints ``(default: None)`` and ``(default:
False)``, which say nothing; this one adds ``(default: X)`` only where X is a real value and the
help does not already say what the default is. :func:`finish_help` applies it to a parser and
all its subcommands (argparse does not pass a formatter down to subparsers), and
:func:`walk_parsers` lets the tests check every option of every command.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator


class DefaultsFormatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default in (None, False, [], argparse.SUPPRESS)
                or not action.option_strings or isinstance(default, bool)):
            return text
        return f"{text} (default: %(default)s)"


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def walk_parsers(parser: argparse.ArgumentParser, prefix: str = "sinoloc"
                 ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``(command path, parser)`` for the parser and every subcommand under it."""
    yield prefix, parser
    for name, sub in _subparsers(parser):
        yield from walk_parsers(sub, f"{prefix} {name}")


def finish_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for _, p in walk_parsers(parser):
        p.formatter_class = DefaultsFormatter
    return parser


__all__ = ["DefaultsFormatter", "finish_help", "walk_parsers"]
