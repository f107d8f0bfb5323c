"""Options that several commands share, defined once so that their names, metavars, defaults
and help cannot drift apart (``locate``, ``chat`` and ``eval run`` all take the per-image
budgets). Importing this module imports nothing heavy: every ``sinoloc`` command builds its
parser."""

from __future__ import annotations


def add_budget_options(parser) -> None:
    """The per-image budgets of the agent (a parser or an argument group)."""
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="cap on generated tokens per model call (default: the model's)")
    parser.add_argument("--max-model-calls", type=int, default=12, metavar="N",
                        help="model-call budget per image")
    parser.add_argument("--max-tool-calls", type=int, default=24, metavar="N",
                        help="tool-call budget per image")
    parser.add_argument("--max-seconds", type=float, default=300.0, metavar="SECONDS",
                        help="wall-time budget per image (the agent then answers from what it "
                             "has)")


__all__ = ["add_budget_options"]
