"""Options that several commands share, defined once so that their names, metavars, defaults
and help cannot drift apart (``locate``, ``chat`` and ``eval run`` all take the per-image
budgets). Importing this module imports nothing heavy (the settings module: pydantic only): every
``sinoloc`` command builds its parser."""

from __future__ import annotations


def add_budget_options(parser) -> None:
    """The per-image budgets of the agent (a parser or an argument group), generated from the
    settings (:mod:`sinoloc.agent.settings`): their defaults, bounds and help are the fields'."""
    from sinoloc.agent.settings import bounded, field_default, field_help

    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="cap on generated tokens per model call (default: the model's)")
    for name, metavar in (("max_model_calls", "N"), ("max_tool_calls", "N"),
                          ("max_seconds", "SECONDS")):
        parser.add_argument("--" + name.replace("_", "-"), type=bounded(name),
                            default=field_default(name), metavar=metavar, help=field_help(name))
    parser.add_argument("--samples", type=bounded("samples"), default=field_default("samples"),
                        metavar="K", help=field_help("samples") + " (default 1)")
    parser.add_argument("--sample-selector", choices=["evidence", "verifier"],
                        default=field_default("sample_selector"), help=field_help("sample_selector"))


def sample_options(args) -> dict:
    """The sampling settings the options above parsed (``--samples``, ``--sample-selector``)."""
    return {"samples": args.samples, "sample_selector": args.sample_selector}


__all__ = ["add_budget_options", "sample_options"]
