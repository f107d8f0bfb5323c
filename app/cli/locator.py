"""The locator the run options describe (``locate``, ``chat``, ``serve``): the options become
:class:`~sinoloc.agent.settings.LocateSettings` and an :class:`~sinoloc.agent.llm.LlmSpec`, and
:func:`sinoloc.agent.build.build_locator` does the rest. The environment's defaults are already
in the options (the parser takes them from :class:`~sinoloc.agent.settings.Environment`)."""

from __future__ import annotations

import argparse


def run_prior(args: argparse.Namespace) -> str | None:
    """``--prior``, else the configured checkpoint (``SINOLOC_PRIOR_CHECKPOINT``)."""
    from sinoloc.tools.prior import configured_checkpoint

    return configured_checkpoint(args.prior)


def run_settings(args: argparse.Namespace, **fields):
    """The settings of every image of this run: the shared run options (budgets, trajectories
    and their selector) and ``fields``."""
    from sinoloc.agent.settings import LocateSettings, is_offline

    return LocateSettings(ocr_backend=args.ocr, max_model_calls=args.max_model_calls,
                          max_tool_calls=args.max_tool_calls, max_seconds=args.max_seconds,
                          samples=args.samples, sample_selector=args.sample_selector,
                          offline=is_offline(args.offline), prior=run_prior(args), **fields)


def model_spec(args: argparse.Namespace):
    """The model spec of ``--llm`` / ``--base-url`` and the model limits."""
    from sinoloc.agent.llm import LlmSpec

    return LlmSpec.parse(args.llm, args.base_url, max_tokens=args.max_tokens,
                         timeout_s=args.model_timeout)


def build_from_args(args: argparse.Namespace, settings):
    """The checked locator for ``settings`` and the options' model spec and clue files; raises
    ValueError with one line (an unusable component, clue file or model)."""
    from sinoloc.agent.build import build_locator
    from sinoloc.app.cli.knowledge import knowledge_files

    return build_locator(settings, model_spec(args), knowledge_files=knowledge_files(args.knowledge))


__all__ = ["build_from_args", "model_spec", "run_prior", "run_settings"]
